//! Standard status conditions of the record (Ready, Progressing, Stalled,
//! Degraded), derived from its phase and stall as a pure function, the way
//! kstatus-aware tools (Flux, kubectl wait) read them. A condition's
//! `lastTransitionTime` moves only when its status flips, so an unchanged
//! record compares equal and is not written again.

use super::record::{Phase, Record};
use serde::{Deserialize, Serialize};

/// Condition types.
pub mod kind {
    /// Every wave applied and healthy at the target revision.
    pub const READY: &str = "Ready";
    /// A rollout is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// A config or permission error holds the WaveSet until a new commit.
    pub const STALLED: &str = "Stalled";
    /// Applied, but objects drifted or stopped being healthy.
    pub const DEGRADED: &str = "Degraded";
}

/// Condition reasons.
pub mod reason {
    /// The last pass applied every wave.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A pass is applying waves.
    pub const PROGRESSING: &str = "Progressing";
    /// The last pass failed.
    pub const FAILED: &str = "Failed";
    /// Nothing applied yet.
    pub const PENDING: &str = "Pending";
    /// Held by a configuration error.
    pub const CONFIG_ERROR: &str = "ConfigError";
    /// Held by missing rights.
    pub const PERMISSION_ERROR: &str = "PermissionError";
    /// Not held.
    pub const NOT_STALLED: &str = "NotStalled";
    /// Objects of completed waves are missing or unhealthy.
    pub const DRIFTED: &str = "Drifted";
    /// Objects match what was applied.
    pub const IN_SYNC: &str = "InSync";
}

/// One condition, as Kubernetes' `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// One of [`kind`].
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One of [`reason`].
    pub reason: String,
    /// For people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The revision the condition speaks of (observedGeneration's role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_revision: Option<String>,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
}

fn status(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The conditions `record` should carry: `(type, status, reason, message)`.
fn wanted(record: &Record) -> [(&'static str, bool, &'static str, String); 4] {
    let message = record.message.clone().unwrap_or_default();
    let phase = record.phase;
    let progressing = matches!(phase, Phase::Installing | Phase::Upgrading);
    let ready_reason = match phase {
        Phase::Ready => reason::SUCCEEDED,
        Phase::Installing | Phase::Upgrading => reason::PROGRESSING,
        Phase::Failed => reason::FAILED,
        Phase::Degraded => reason::DRIFTED,
        Phase::Pending => reason::PENDING,
    };
    let ready_message = match phase {
        Phase::Ready => format!(
            "revision {} applied and healthy",
            record.applied_revision.as_deref().unwrap_or("-")
        ),
        _ => message.clone(),
    };
    let (stalled, stall_reason, stall_message) = match &record.stalled {
        Some(s) => (
            true,
            match s.category {
                crate::error::Category::Permission => reason::PERMISSION_ERROR,
                _ => reason::CONFIG_ERROR,
            },
            s.reason.clone(),
        ),
        None => (false, reason::NOT_STALLED, String::new()),
    };
    [
        (
            kind::READY,
            phase == Phase::Ready,
            ready_reason,
            ready_message,
        ),
        (
            kind::PROGRESSING,
            progressing,
            if progressing {
                reason::PROGRESSING
            } else {
                ready_reason
            },
            if progressing {
                message.clone()
            } else {
                String::new()
            },
        ),
        (kind::STALLED, stalled, stall_reason, stall_message),
        (
            kind::DEGRADED,
            phase == Phase::Degraded,
            if phase == Phase::Degraded {
                reason::DRIFTED
            } else {
                reason::IN_SYNC
            },
            if phase == Phase::Degraded {
                message
            } else {
                String::new()
            },
        ),
    ]
}

/// Brings `record.conditions` in line with its phase and stall; `now` is
/// the transition time of a condition whose status flips.
pub fn update(record: &mut Record, now: &str) {
    let observed = record.target_revision.clone();
    let next: Vec<Condition> = wanted(record)
        .into_iter()
        .map(|(type_, value, reason, message)| {
            let status = status(value).to_string();
            let previous = record.conditions.iter().find(|c| c.type_ == type_);
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.to_string(),
            };
            Condition {
                type_: type_.to_string(),
                status,
                reason: reason.to_string(),
                message,
                observed_revision: observed.clone(),
                last_transition_time,
            }
        })
        .collect();
    record.conditions = next;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Category;
    use crate::state::record::Stall;

    fn get<'a>(r: &'a Record, t: &str) -> &'a Condition {
        r.conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition present")
    }

    #[test]
    fn ready_record_is_ready_and_nothing_else() {
        let mut r = Record::new("dataplane");
        r.phase = Phase::Ready;
        r.applied_revision = Some("abc".into());
        r.target_revision = Some("abc".into());
        update(&mut r, "t1");
        assert_eq!(get(&r, kind::READY).status, "True");
        assert_eq!(get(&r, kind::READY).reason, reason::SUCCEEDED);
        assert_eq!(
            get(&r, kind::READY).observed_revision.as_deref(),
            Some("abc")
        );
        for t in [kind::PROGRESSING, kind::STALLED, kind::DEGRADED] {
            assert_eq!(get(&r, t).status, "False", "{t}");
        }
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let mut r = Record::new("dataplane");
        r.phase = Phase::Installing;
        update(&mut r, "t1");
        r.message = Some("wave apps".into());
        update(&mut r, "t2");
        assert_eq!(get(&r, kind::PROGRESSING).last_transition_time, "t1");
        r.phase = Phase::Failed;
        r.stalled = Some(Stall {
            reason: "wavesync.yaml:3:1: unknown field".into(),
            category: Category::Config,
            revision: "abc".into(),
            cluster: None,
            since: "t3".into(),
            request: None,
        });
        update(&mut r, "t3");
        assert_eq!(get(&r, kind::PROGRESSING).status, "False");
        assert_eq!(get(&r, kind::PROGRESSING).last_transition_time, "t3");
        assert_eq!(get(&r, kind::STALLED).status, "True");
        assert_eq!(get(&r, kind::STALLED).reason, reason::CONFIG_ERROR);
        assert!(get(&r, kind::STALLED).message.contains("wavesync.yaml:3"));
        assert_eq!(get(&r, kind::READY).last_transition_time, "t1");
    }
}
