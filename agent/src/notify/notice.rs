//! Notices: what happened, as plain data that the drift detector, the sync
//! engine and the source hand the notifier. The sinks turn them into their
//! payloads; nothing here knows about HTTP.
//!
//! Values in [`FieldChange::old`] and [`FieldChange::new`] arrive masked by
//! their producer; the sinks mask a Secret's values once more (see
//! `mask.rs`).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::config::NotificationEvent;
use crate::error::Category;
use crate::model::{ObjRef, Revision};

/// Who sends the notices: the same for every notice of one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyContext {
    /// `metadata.name` of `wavesync.yaml`.
    pub waveset: String,
    /// The selected cluster (`--cluster`), if any.
    pub cluster: Option<String>,
    /// The agent's identity (in a pod: its name).
    pub identity: String,
    /// The agent's namespace (the state namespace).
    pub namespace: String,
}

/// Something a person may want to know about.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Live state moved away from Git.
    DriftDetected(DriftDetected),
    /// A drifted object is back as Git has it.
    DriftResolved(DriftResolved),
    /// A sync pass failed.
    SyncFailed {
        /// The revision being synced.
        revision: Revision,
        /// Why, as far as retrying goes.
        category: Category,
        /// What went wrong.
        message: String,
    },
    /// A config or permission error holds the WaveSet until the next commit.
    Stalled {
        /// The revision held.
        revision: Revision,
        /// Why.
        reason: String,
        /// Config or permission.
        category: Category,
    },
    /// A wave failed.
    WaveFailed {
        /// The wave.
        wave: String,
        /// The revision being synced.
        revision: Revision,
        /// What went wrong.
        message: String,
    },
    /// A sync pass ended Ready (sent only to sinks that ask for it).
    SyncSucceeded {
        /// The revision now applied.
        revision: Revision,
        /// How long the pass took.
        took: Duration,
    },
    /// A commit was refused (unsigned, or signed by a key not allowed); the
    /// previous revision stays applied.
    RevisionRefused {
        /// The refused commit.
        revision: Revision,
        /// Why.
        reason: String,
    },
}

/// An object that drifted.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftDetected {
    /// The object.
    pub object: ObjRef,
    /// Its wave.
    pub wave: String,
    /// The revision applied, when known.
    pub revision: Option<Revision>,
    /// The fields that changed (empty when the object was deleted).
    pub fields: Vec<FieldChange>,
    /// The object was deleted out of band.
    pub deleted: bool,
    /// What the agent does about it.
    pub policy: DriftPolicy,
    /// Healing backed off: another manager keeps changing the object.
    pub contested_by: Option<String>,
}

/// One changed field of a drifted object, and who changed it (from
/// `managedFields`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The field, e.g. `spec.replicas`.
    pub path: String,
    /// The field manager that owns it now (`kubectl-edit`, `hpa-controller`).
    pub manager: Option<String>,
    /// `Apply` or `Update`.
    pub operation: Option<String>,
    /// `status`, `scale`, when the change came through one.
    pub subresource: Option<String>,
    /// When the manager last wrote.
    pub time: Option<jiff::Timestamp>,
    /// What Git has (masked for Secrets).
    pub old: Option<Value>,
    /// What the cluster has (masked for Secrets).
    pub new: Option<Value>,
}

/// What the agent does about drift (`drift:` in wavesync.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftPolicy {
    /// Report only.
    Alert,
    /// Re-apply the drifted objects.
    Heal,
}

impl DriftPolicy {
    /// `alert` or `heal`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Alert => "alert",
            DriftPolicy::Heal => "heal",
        }
    }
}

/// A drifted object that no longer drifts.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftResolved {
    /// The object.
    pub object: ObjRef,
    /// Its wave.
    pub wave: String,
    /// The revision applied, when known.
    pub revision: Option<Revision>,
    /// How it came back.
    pub how: Resolution,
}

/// How drift went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The agent re-applied the object (`drift: heal`).
    Healed,
    /// Someone changed it back.
    Reverted,
    /// A sync applied it again.
    Resynced,
}

impl Resolution {
    /// For messages and the webhook payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Healed => "healed",
            Resolution::Reverted => "reverted",
            Resolution::Resynced => "re-applied by a sync",
        }
    }
}

/// How urgent a notice is (the `severity` label and field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Good news, or a resolve.
    Info,
    /// Someone should look.
    Warning,
    /// Deployments are held until someone acts.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl Notice {
    /// Which event it is (what sinks filter on).
    pub fn event(&self) -> NotificationEvent {
        match self {
            Notice::DriftDetected(_) => NotificationEvent::DriftDetected,
            Notice::DriftResolved(_) => NotificationEvent::DriftResolved,
            Notice::SyncFailed { .. } => NotificationEvent::SyncFailed,
            Notice::Stalled { .. } => NotificationEvent::Stalled,
            Notice::WaveFailed { .. } => NotificationEvent::WaveFailed,
            Notice::SyncSucceeded { .. } => NotificationEvent::SyncSucceeded,
            Notice::RevisionRefused { .. } => NotificationEvent::RevisionRefused,
        }
    }

    /// Fixed per event, so that an alert keeps its labels.
    pub fn severity(&self) -> Severity {
        match self {
            Notice::DriftDetected(_) | Notice::SyncFailed { .. } | Notice::WaveFailed { .. } => {
                Severity::Warning
            }
            Notice::Stalled { .. } | Notice::RevisionRefused { .. } => Severity::Critical,
            Notice::DriftResolved(_) | Notice::SyncSucceeded { .. } => Severity::Info,
        }
    }

    /// The revision it is about, when known.
    pub fn revision(&self) -> Option<&Revision> {
        match self {
            Notice::DriftDetected(d) => d.revision.as_ref(),
            Notice::DriftResolved(d) => d.revision.as_ref(),
            Notice::SyncFailed { revision, .. }
            | Notice::Stalled { revision, .. }
            | Notice::WaveFailed { revision, .. }
            | Notice::SyncSucceeded { revision, .. }
            | Notice::RevisionRefused { revision, .. } => Some(revision),
        }
    }

    /// The wave it is about, when one.
    pub fn wave(&self) -> Option<&str> {
        match self {
            Notice::DriftDetected(d) => Some(&d.wave),
            Notice::DriftResolved(d) => Some(&d.wave),
            Notice::WaveFailed { wave, .. } => Some(wave),
            _ => None,
        }
    }

    /// The object it is about, when one.
    pub fn object(&self) -> Option<&ObjRef> {
        match self {
            Notice::DriftDetected(d) => Some(&d.object),
            Notice::DriftResolved(d) => Some(&d.object),
            _ => None,
        }
    }

    /// One line for people: what happened, to what. Never a field value.
    pub fn summary(&self) -> String {
        let short = |r: &Revision| r.short().to_string();
        match self {
            Notice::DriftDetected(d) if d.deleted => {
                format!("{} (wave {}) was deleted out of band", d.object, d.wave)
            }
            Notice::DriftDetected(d) => {
                let mut s = format!("{} (wave {}) drifted: ", d.object, d.wave);
                match d.fields.as_slice() {
                    [] => s.push_str("it differs from Git"),
                    [f] => {
                        let _ = write!(s, "{} changed", f.path);
                        if let Some(m) = &f.manager {
                            let _ = write!(s, " by {m}");
                        }
                    }
                    fields => {
                        let mut managers: Vec<&str> =
                            fields.iter().filter_map(|f| f.manager.as_deref()).collect();
                        managers.sort_unstable();
                        managers.dedup();
                        let _ = write!(s, "{} fields changed", fields.len());
                        if !managers.is_empty() {
                            let _ = write!(s, " by {}", managers.join(", "));
                        }
                    }
                }
                if let Some(m) = &d.contested_by {
                    let _ = write!(s, "; contested by {m}, healing backed off");
                }
                s
            }
            Notice::DriftResolved(d) => {
                format!(
                    "{} (wave {}) matches Git again: {}",
                    d.object,
                    d.wave,
                    d.how.as_str()
                )
            }
            Notice::SyncFailed {
                revision, category, ..
            } => format!("sync of {} failed ({category})", short(revision)),
            Notice::Stalled {
                revision, category, ..
            } => format!(
                "stalled at {} by a {category} error until the next commit",
                short(revision)
            ),
            Notice::WaveFailed { wave, revision, .. } => {
                format!("wave {wave} failed at {}", short(revision))
            }
            Notice::SyncSucceeded { revision, took } => format!(
                "{} synced in {}",
                short(revision),
                crate::config::format_duration(Duration::from_secs(took.as_secs()))
            ),
            Notice::RevisionRefused { revision, .. } => format!(
                "revision {} refused; the previous revision stays applied",
                short(revision)
            ),
        }
    }

    /// The longer text of failures (the error, the reason), if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Notice::SyncFailed { message, .. } | Notice::WaveFailed { message, .. } => {
                Some(message)
            }
            Notice::Stalled { reason, .. } | Notice::RevisionRefused { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Notices of every kind, for the payload tests.

    use super::*;

    /// A Deployment of wave `apps`.
    pub(crate) fn deployment() -> ObjRef {
        ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    /// The revision of every fixture.
    pub(crate) fn revision() -> Revision {
        Revision("0123456789abcdef0123456789abcdef01234567".into())
    }

    /// A fixed time.
    pub(crate) fn at() -> jiff::Timestamp {
        "2025-03-04T05:06:07Z".parse().expect("a timestamp")
    }

    /// `kubectl scale` moved `spec.replicas` from 3 to 5.
    pub(crate) fn scaled() -> Notice {
        Notice::DriftDetected(DriftDetected {
            object: deployment(),
            wave: "apps".into(),
            revision: Some(revision()),
            fields: vec![FieldChange {
                path: "spec.replicas".into(),
                manager: Some("kubectl".into()),
                operation: Some("Update".into()),
                subresource: Some("scale".into()),
                time: Some(at()),
                old: Some(3.into()),
                new: Some(5.into()),
            }],
            deleted: false,
            policy: DriftPolicy::Alert,
            contested_by: None,
        })
    }

    /// The context of every fixture.
    pub(crate) fn context() -> NotifyContext {
        NotifyContext {
            waveset: "dataplane".into(),
            cluster: Some("dp-east".into()),
            identity: "wavesync-7d9f-abcde".into(),
            namespace: "wavesync".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn summaries_name_the_object_the_field_and_the_manager() {
        assert_eq!(
            scaled().summary(),
            "Deployment.apps shop/web (wave apps) drifted: spec.replicas changed by kubectl"
        );
        let Notice::DriftDetected(mut d) = scaled() else {
            unreachable!()
        };
        d.fields.push(FieldChange {
            path: "spec.template.spec.containers[name=web].image".into(),
            manager: Some("kubectl-edit".into()),
            ..d.fields[0].clone()
        });
        d.contested_by = Some("kubectl-edit".into());
        assert_eq!(
            Notice::DriftDetected(d.clone()).summary(),
            "Deployment.apps shop/web (wave apps) drifted: 2 fields changed by kubectl, \
             kubectl-edit; contested by kubectl-edit, healing backed off"
        );
        d.deleted = true;
        assert_eq!(
            Notice::DriftDetected(d).summary(),
            "Deployment.apps shop/web (wave apps) was deleted out of band"
        );
        let ok = Notice::SyncSucceeded {
            revision: revision(),
            took: Duration::from_millis(72_400),
        };
        assert_eq!(ok.summary(), "0123456789ab synced in 1m12s");
        assert_eq!(ok.severity(), Severity::Info);
        assert_eq!(ok.event(), NotificationEvent::SyncSucceeded);
    }
}
