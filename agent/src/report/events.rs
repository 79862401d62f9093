//! Kubernetes Events (events.k8s.io/v1) about a WaveSet, on its state
//! ConfigMap, reported by controller `wavesync.io/agent`.
//!
//! Aggregated as client-go's EventRecorder does: an event repeated with the
//! same type, reason, action and note bumps `series.count` of the object
//! already written instead of creating another. kube-runtime's `Recorder`
//! would do the series, but its key leaves the note out, so "wave apps
//! failed: A" and, later, "wave apps failed: B" would merge into one object
//! that still says A. Publishing happens on a background task fed through a
//! bounded queue, so a slow or failing API server never holds up a sync; a
//! full queue drops the event (counted in the log, never blocking).

use super::progress::{Event, Progress};
use crate::error::ApiFailure;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The reporting controller of every event wavesync writes.
pub const REPORTING_CONTROLLER: &str = "wavesync.io/agent";

/// Longest note the API server accepts (events.k8s.io/v1 validation).
const NOTE_MAX: usize = 1024;

/// Events waiting to be written before new ones are dropped.
const QUEUE: usize = 256;

/// Event reasons, as constants (they are part of the interface alerts match on).
pub mod reason {
    /// A sync of a revision started.
    pub const SYNC_STARTED: &str = "SyncStarted";
    /// Every wave is applied and healthy.
    pub const SYNC_SUCCEEDED: &str = "SyncSucceeded";
    /// A wave started.
    pub const WAVE_STARTED: &str = "WaveStarted";
    /// A wave is healthy.
    pub const WAVE_COMPLETED: &str = "WaveCompleted";
    /// A wave failed.
    pub const WAVE_FAILED: &str = "WaveFailed";
    /// A completed wave is no longer healthy and is applied again.
    pub const WAVE_DRIFTED: &str = "WaveDrifted";
    /// A component was skipped by its skipIf rule.
    pub const COMPONENT_SKIPPED: &str = "ComponentSkipped";
    /// Objects removed from Git were pruned.
    pub const PRUNED: &str = "Pruned";
    /// The objects of a removed wave are kept by the prune policy.
    pub const PRUNE_HELD: &str = "PruneHeld";
    /// A config or permission error holds the WaveSet until a new commit.
    pub const STALLED: &str = "Stalled";
    /// This replica took the lease.
    pub const LEADER_ACQUIRED: &str = "LeaderAcquired";
    /// This replica lost the lease.
    pub const LEADER_LOST: &str = "LeaderLost";
    /// An object of a completed wave was changed or deleted out of band.
    pub const DRIFT_DETECTED: &str = "DriftDetected";
    /// A drifted object was applied again (`drift: heal`).
    pub const DRIFT_HEALED: &str = "DriftHealed";
    /// A drifted object was healed too often: another controller fights for it.
    pub const DRIFT_CONTESTED: &str = "DriftContested";
    /// A drifted object matches Git again.
    pub const DRIFT_RESOLVED: &str = "DriftResolved";
    /// Commit signature verification refused the tracked head commit.
    pub const REVISION_REFUSED: &str = "RevisionRefused";
}

/// The event a drift notice becomes.
pub fn note_for_drift(n: &crate::drift::detector::Notice) -> Note {
    use crate::drift::detector::Notice;
    match n {
        Notice::Detected(f) => Note {
            warning: true,
            reason: reason::DRIFT_DETECTED,
            action: "Drift",
            note: format!("drift: {}", f.summary()),
        },
        Notice::Healed(f) => Note {
            warning: false,
            reason: reason::DRIFT_HEALED,
            action: "Heal",
            note: format!("applied {} again (drift: heal)", f.object),
        },
        Notice::Contested(f) => Note {
            warning: true,
            reason: reason::DRIFT_CONTESTED,
            action: "Heal",
            note: format!(
                "{} is contested by {}: healed too often, not healed again for now",
                f.object,
                f.managers().join(", ")
            ),
        },
        Notice::Resolved { finding, how } => Note {
            warning: false,
            reason: reason::DRIFT_RESOLVED,
            action: "Drift",
            note: format!("{} matches Git again ({how})", finding.object),
        },
    }
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Note {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// Machine-readable reason (see [`reason`]).
    pub reason: &'static str,
    /// What was done: `Sync`, `Apply`, `Prune`, `LeaderElection`.
    pub action: &'static str,
    /// For people.
    pub note: String,
}

/// The event a sync event becomes, if any.
pub fn note_for(e: &Event) -> Option<Note> {
    let n = |warning, reason, action, note: String| {
        Some(Note {
            warning,
            reason,
            action,
            note,
        })
    };
    match e {
        Event::SyncStarted { revision, waves } => n(
            false,
            reason::SYNC_STARTED,
            "Sync",
            format!("sync of revision {revision} started ({waves} waves)"),
        ),
        Event::WaveStarted { wave, objects, .. } => n(
            false,
            reason::WAVE_STARTED,
            "Apply",
            format!("wave {wave} started: applying {objects} objects"),
        ),
        Event::WaveCompleted { wave, took } => n(
            false,
            reason::WAVE_COMPLETED,
            "Apply",
            format!("wave {wave} is healthy ({:.1}s)", took.as_secs_f64()),
        ),
        Event::WaveFailed { wave, message, .. } => n(
            true,
            reason::WAVE_FAILED,
            "Apply",
            format!("wave {wave} failed: {message}"),
        ),
        Event::WaveDrifted { wave, why, .. } => n(
            true,
            reason::WAVE_DRIFTED,
            "Verify",
            format!("wave {wave} drifted ({why}); applying it again"),
        ),
        Event::ComponentSkipped {
            wave,
            component,
            reason: why,
        } => n(
            false,
            reason::COMPONENT_SKIPPED,
            "Skip",
            format!("{wave}/{component} skipped: {why}"),
        ),
        Event::Pruned {
            wave,
            deleted,
            kept,
            failed,
            failures,
            ..
        } => n(
            *failed > 0,
            reason::PRUNED,
            "Prune",
            if failures.is_empty() {
                format!("wave {wave}: pruned {deleted}, kept {kept}, failed {failed}")
            } else {
                format!(
                    "wave {wave}: pruned {deleted}, kept {kept}, failed {failed}: {}",
                    failures.join("; ")
                )
            },
        ),
        Event::PruneHeld { wave, objects } => n(
            true,
            reason::PRUNE_HELD,
            "Prune",
            format!(
                "wave {wave} left wavesync.yaml: its {objects} object(s) are kept, not pruned (spec.prune.removedWaves is false)"
            ),
        ),
        Event::Stalled {
            reason: why,
            category,
        } => n(
            true,
            reason::STALLED,
            "Sync",
            format!("{category} error, not retried until a new commit or a manual sync: {why}"),
        ),
        Event::SyncFinished { phase, took } if phase == "Ready" => n(
            false,
            reason::SYNC_SUCCEEDED,
            "Sync",
            format!(
                "every wave applied and healthy ({:.1}s)",
                took.as_secs_f64()
            ),
        ),
        _ => None,
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Where events go: the sending half of the recorder's queue. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Note>,
}

impl EventSink {
    /// Queues an event; drops it when the queue is full (never blocks).
    pub fn publish(&self, note: Note) {
        if self.tx.try_send(note).is_err() {
            tracing::debug!("event queue full or closed; event dropped");
        }
    }
}

impl Progress for EventSink {
    fn event(&self, e: &Event) {
        if let Some(n) = note_for(e) {
            self.publish(n);
        }
    }
}

/// An event already written: its name and how often it was seen.
struct Written {
    name: String,
    count: i32,
}

/// Writes events for one regarding object.
struct Recorder {
    api: Api<K8sEvent>,
    regarding: ObjectReference,
    instance: String,
    written: HashMap<Note, Written>,
}

impl Recorder {
    async fn record(&mut self, note: Note) -> Result<(), ApiFailure> {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            k8s_openapi::jiff::Timestamp::now(),
        );
        if let Some(w) = self.written.get_mut(&note) {
            w.count += 1;
            let patch = json!({"series": {"count": w.count, "lastObservedTime": now}});
            match self
                .api
                .patch(&w.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // Expired (events live an hour by default): write it anew.
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    self.written.remove(&note);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let base = self.regarding.name.clone().unwrap_or_default();
        let name = format!("{base}.{:x}", now.0.as_nanosecond());
        let event = K8sEvent {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                namespace: self.regarding.namespace.clone(),
                ..Default::default()
            },
            event_time: Some(now),
            action: Some(note.action.to_string()),
            reason: Some(note.reason.to_string()),
            note: Some(truncate(note.note.clone(), NOTE_MAX)),
            type_: Some(if note.warning { "Warning" } else { "Normal" }.to_string()),
            regarding: Some(self.regarding.clone()),
            reporting_controller: Some(REPORTING_CONTROLLER.to_string()),
            reporting_instance: Some(truncate(self.instance.clone(), 128)),
            ..Default::default()
        };
        self.api.create(&PostParams::default(), &event).await?;
        // Bounded: old keys are forgotten (a repeat then writes a new object).
        if self.written.len() > 512 {
            self.written.clear();
        }
        self.written.insert(note, Written { name, count: 1 });
        Ok(())
    }
}

/// Starts the recorder of events about the state ConfigMap `configmap` in
/// `namespace`, reported by `instance` (the pod). Returns where to send them.
pub fn spawn(client: kube::Client, namespace: &str, configmap: &str, instance: &str) -> EventSink {
    let (tx, mut rx) = mpsc::channel::<Note>(QUEUE);
    let mut recorder = Recorder {
        api: Api::namespaced(client, namespace),
        regarding: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
            name: Some(configmap.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        instance: instance.to_string(),
        written: HashMap::new(),
    };
    tokio::spawn(async move {
        let mut failing = false;
        while let Some(note) = rx.recv().await {
            match recorder.record(note).await {
                Ok(()) => failing = false,
                // Said once per run of failures: a missing RBAC rule for
                // events must not flood the log.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, category = %e.category, "writing a Kubernetes Event failed");
                }
                Err(_) => {}
            }
        }
    });
    EventSink { tx }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wave_failures_are_warnings_and_repeats_share_a_key() {
        let e = Event::WaveFailed {
            wave: "apps".into(),
            message: "Job failed".into(),
            took: Duration::from_secs(1),
        };
        let a = note_for(&e).expect("an event");
        assert!(a.warning);
        assert_eq!(a.reason, reason::WAVE_FAILED);
        assert_eq!(
            note_for(&e),
            Some(a.clone()),
            "the same event twice has the same key"
        );
        let other = Event::WaveFailed {
            wave: "apps".into(),
            message: "timeout".into(),
            took: Duration::from_secs(1),
        };
        assert_ne!(
            note_for(&other),
            Some(a),
            "another message is another event"
        );
    }

    #[test]
    fn notes_are_cut_to_what_the_server_accepts() {
        let long = "é".repeat(2000);
        let t = truncate(long, NOTE_MAX);
        assert!(t.len() <= NOTE_MAX && t.ends_with("..."));
    }
}
