//! Progress of a sync, wave by wave: printed for people on a terminal and
//! logged through `tracing` for everyone else.

use crate::error::Category;
use crate::state::{Phase, WaveStatus};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub use crate::model::ApplyAction;

/// Something that happened during a sync.
#[derive(Debug, Clone)]
pub enum Event {
    /// A sync of `revision` started.
    SyncStarted {
        /// Revision.
        revision: String,
        /// Number of waves.
        waves: usize,
    },
    /// The revision is already applied and healthy: nothing to do.
    UpToDate {
        /// Revision.
        revision: String,
    },
    /// A wave was verified (same digest, still healthy) and skipped.
    WaveVerified {
        /// Wave name.
        wave: String,
    },
    /// A wave completed before is no longer healthy (objects missing or
    /// unhealthy): the record says Degraded and the wave is applied again.
    WaveDrifted {
        /// Wave name.
        wave: String,
        /// What was found.
        why: String,
        /// Objects in the wave.
        objects: usize,
    },
    /// A wave started.
    WaveStarted {
        /// 1-based position.
        index: usize,
        /// Number of waves.
        total: usize,
        /// Wave name.
        wave: String,
        /// Objects to apply.
        objects: usize,
        /// How long it may take to become healthy.
        timeout: Duration,
    },
    /// A component was skipped by its `skipIf` rule.
    ComponentSkipped {
        /// Wave name.
        wave: String,
        /// Component name.
        component: String,
        /// Why.
        reason: String,
    },
    /// A wave's objects were applied.
    WaveApplied {
        /// Wave name.
        wave: String,
        /// Objects applied.
        applied: usize,
        /// Jobs recreated because their content changed.
        recreated_jobs: usize,
    },
    /// What the apply did to the wave's objects, by action and API group.
    ObjectsApplied {
        /// Wave name.
        wave: String,
        /// Object counts by (action, API group; `core` for the core group).
        counts: BTreeMap<(ApplyAction, String), usize>,
    },
    /// Still waiting for objects to become healthy.
    WaveWaiting {
        /// Wave name.
        wave: String,
        /// Objects not ready yet.
        pending: usize,
        /// The first one's reason.
        example: String,
    },
    /// Objects removed from Git were pruned.
    Pruned {
        /// Wave name.
        wave: String,
        /// How many.
        deleted: usize,
        /// How many were kept by the safety rails.
        kept: usize,
        /// How many deletes failed (they stay in the inventory).
        failed: usize,
        /// The first failed deletes, each with its error.
        failures: Vec<String>,
        /// Deleted objects by API group.
        groups: BTreeMap<String, usize>,
    },
    /// A wave left wavesync.yaml and its objects are kept, not pruned
    /// (`spec.prune.removedWaves` is false).
    PruneHeld {
        /// The removed wave.
        wave: String,
        /// Its objects kept.
        objects: usize,
    },
    /// A wave is healthy.
    WaveCompleted {
        /// Wave name.
        wave: String,
        /// How long it took.
        took: Duration,
    },
    /// A wave failed.
    WaveFailed {
        /// Wave name.
        wave: String,
        /// Why.
        message: String,
        /// How long it ran.
        took: Duration,
    },
    /// The record's phase changed.
    PhaseChanged {
        /// Before.
        from: Phase,
        /// After.
        to: Phase,
    },
    /// The record was written (what the metrics gauges show).
    Recorded {
        /// Phase.
        phase: Phase,
        /// Every wave's status, in order.
        waves: Vec<(String, WaveStatus)>,
        /// Objects in the inventory.
        inventory: usize,
        /// Held until the next commit by a config or permission error.
        stalled: bool,
    },
    /// A config or permission error holds the WaveSet until the revision,
    /// the values or wavesync.yaml change (or a manual `wavesync sync`).
    Stalled {
        /// Why.
        reason: String,
        /// The error's category.
        category: Category,
    },
    /// The sync ended.
    SyncFinished {
        /// Final phase.
        phase: String,
        /// How long it took.
        took: Duration,
    },
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    /// Records one event.
    fn event(&self, e: &Event);
}

/// Only logs (the in-cluster agent).
pub struct LogProgress;

impl Progress for LogProgress {
    fn event(&self, e: &Event) {
        // Bookkeeping events (Recorded, ObjectsApplied) have no line.
        let Some(l) = line(e) else { return };
        match e {
            Event::WaveFailed { .. } | Event::Stalled { .. } | Event::WaveDrifted { .. } => {
                tracing::warn!("{}", l.trim_start());
            }
            _ => tracing::info!("{}", l.trim_start()),
        }
    }
}

/// Sends every event to each of several sinks (log, metrics, Kubernetes Events).
pub struct Fanout(pub Vec<std::sync::Arc<dyn Progress>>);

impl Progress for Fanout {
    fn event(&self, e: &Event) {
        for p in &self.0 {
            p.event(e);
        }
    }
}

/// Prints one line per event, for people watching a terminal.
pub struct TerminalProgress {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Default for TerminalProgress {
    fn default() -> Self {
        TerminalProgress {
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }
}

impl TerminalProgress {
    /// Prints to `out` instead of stdout.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        TerminalProgress {
            out: Mutex::new(out),
        }
    }
}

/// The line printed for an event (None: nothing to print).
pub fn line(e: &Event) -> Option<String> {
    Some(match e {
        Event::SyncStarted { revision, waves } => {
            format!(
                "syncing revision {} ({waves} waves)",
                &revision[..revision.len().min(12)]
            )
        }
        Event::UpToDate { revision } => format!(
            "revision {} is applied and Ready: nothing to do",
            &revision[..revision.len().min(12)]
        ),
        Event::WaveVerified { wave } => format!("  ✓ {wave}: unchanged and healthy, skipped"),
        Event::WaveDrifted { wave, why, .. } => {
            format!("  ! {wave}: drifted ({why}); applying it again")
        }
        Event::WaveStarted {
            index,
            total,
            wave,
            objects,
            ..
        } => format!("▶ wave {index}/{total} {wave}: applying {objects} objects"),
        Event::ComponentSkipped {
            wave,
            component,
            reason,
        } => format!("  ↷ {wave}/{component} skipped: {reason}"),
        Event::WaveApplied {
            wave,
            applied,
            recreated_jobs,
        } => {
            let jobs = if *recreated_jobs > 0 {
                format!(", {recreated_jobs} Job(s) recreated")
            } else {
                String::new()
            };
            format!("  · {wave}: {applied} applied{jobs}; waiting for health")
        }
        Event::WaveWaiting {
            wave,
            pending,
            example,
        } => format!("  … {wave}: {pending} not ready yet ({example})"),
        Event::Pruned {
            wave,
            deleted,
            kept,
            failed,
            failures,
            ..
        } => {
            let failed = if *failed > 0 {
                format!(
                    ", {failed} failed (kept in the inventory): {}",
                    failures.join("; ")
                )
            } else {
                String::new()
            };
            format!("  − {wave}: pruned {deleted}, kept {kept}{failed}")
        }
        Event::PruneHeld { wave, objects } => format!(
            "  ! wave {wave} is no longer in wavesync.yaml: its {objects} object(s) are kept, not pruned (set spec.prune.removedWaves: true to prune them)"
        ),
        Event::WaveCompleted { wave, took } => {
            format!("  ✓ {wave} healthy in {:.1}s", took.as_secs_f64())
        }
        Event::WaveFailed { wave, message, .. } => format!("  ✗ {wave} failed: {message}"),
        Event::Stalled { reason, category } => format!(
            "stalled ({category} error): {reason}; not retried until a new commit or a manual sync"
        ),
        Event::PhaseChanged { .. } | Event::Recorded { .. } | Event::ObjectsApplied { .. } => {
            return None;
        }
        Event::SyncFinished { phase, took } => {
            format!("phase {phase} after {:.1}s", took.as_secs_f64())
        }
    })
}

impl Progress for TerminalProgress {
    fn event(&self, e: &Event) {
        if let Some(l) = line(e) {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(out, "{l}");
            let _ = out.flush();
        }
    }
}
