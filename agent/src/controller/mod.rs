//! The agent as a long-running in-cluster controller (`wavesync run`): on
//! top of the pipeline, it follows the repository, acts only while it holds
//! the Lease, schedules passes by the error policy, and tells the world
//! through metrics, Events and its health endpoints.
//!
//! - [`elector`] holds the Lease for the life of the process;
//! - [`policy`] decides when the next pass runs (backoff, stall);
//! - [`health`] and [`http`] answer `/healthz`, `/readyz`, `/metrics`;
//! - [`webhook`] receives git push events and wakes the loop.
//!
//! A pass is the engine's [`Engine::sync`]; this loop only instruments it,
//! and stops it at a safe point when the lease is lost (at once: no more
//! writes) or on shutdown (within the grace period, then the lease is
//! released).

pub mod alerts;
pub mod elector;
pub mod health;
pub mod http;
pub mod policy;
pub mod webhook;

use crate::drift::detector::{self, Desired, Notice, Report};
use crate::error::{Categorized, Category};
use crate::model::Revision;
use crate::reconcile::stop::{Stop, StopReason};
use crate::reconcile::{Engine, SyncError, SyncReport};
use crate::report::Metrics;
use crate::report::events::{EventSink, Note, note_for_drift, reason};
use crate::report::metrics::PassResult;
use crate::source::{GitSource, Snapshot, SourceError};
use crate::state::StateError;
use elector::{Elector, Role};
use health::Health;
use policy::{Backoff, Outcome, Schedule};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How the loop behaves.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// The WaveSet name (metric labels; the record when wavesync.yaml fails to load).
    pub waveset: String,
    /// Directory inside the checkout holding wavesync.yaml.
    pub path: String,
    /// Time between polls of the remote.
    pub interval: Duration,
    /// Backoff of failed passes.
    pub backoff: Backoff,
    /// How long a pass may go on after SIGTERM before it is dropped.
    pub grace: Duration,
}

/// Builds the Git source anew (after a failed fetch: credentials files may
/// have been rotated).
pub type SourceFactory = Box<dyn Fn() -> GitSource + Send + Sync>;

/// Everything the loop runs with.
pub struct Agent {
    /// Runs the passes.
    pub engine: Engine,
    /// The engine's stop request (the same one the engine was built with).
    pub stop: Stop,
    /// Makes the Git source.
    pub source: SourceFactory,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Liveness and readiness.
    pub health: Arc<Health>,
    /// Wakes the loop early (a local watch, a webhook).
    pub wake: mpsc::Receiver<()>,
    /// Settings.
    pub options: LoopOptions,
    /// The drift detector, when drift detection runs.
    pub drift: Option<DriftParts>,
    /// Where Kubernetes Events go (drift notices and refused revisions).
    pub events: Option<EventSink>,
    /// Notification sinks (flags and `spec.notifications`).
    pub alerts: Option<alerts::Alerts>,
}

/// The controller's ends of the drift detector ([`detector::spawn`]).
pub struct DriftParts {
    /// Hands it the objects to check, or pauses it.
    pub handle: detector::Handle,
    /// Its current findings.
    pub reports: watch::Receiver<Arc<Report>>,
    /// What to tell people.
    pub notices: mpsc::Receiver<Notice>,
}

/// What woke the loop while it waited for the next pass.
enum Woken {
    /// The delay passed, or someone asked for a pass.
    Pass,
    /// The lease changed hands.
    Role,
    /// SIGTERM.
    Shutdown,
    /// The detector has news.
    Notice(Box<Notice>),
    /// The detector's findings changed.
    Report(Arc<Report>),
}

/// The detector's next notice or report (never, without a detector).
async fn from_drift(d: &mut Option<DriftParts>) -> Woken {
    let Some(d) = d else {
        return std::future::pending().await;
    };
    tokio::select! {
        Some(n) = d.notices.recv() => Woken::Notice(Box::new(n)),
        Ok(()) = d.reports.changed() => Woken::Report(d.reports.borrow_and_update().clone()),
        else => std::future::pending().await,
    }
}

/// A head commit refused by signature verification, as the loop tracks it.
struct Refused {
    revision: String,
    /// Whether the record says so already (a failed write is tried again).
    recorded: bool,
}

/// How a pass went, as the loop sees it.
struct Ran {
    outcome: Outcome,
    result: PassResult,
}

fn classify(r: &Result<SyncReport, SyncError>) -> Ran {
    match r {
        Ok(rep) if rep.stalled => Ran {
            outcome: Outcome::Stalled,
            result: PassResult::Stalled,
        },
        Ok(rep) if rep.up_to_date => Ran {
            outcome: Outcome::Succeeded,
            result: PassResult::UpToDate,
        },
        Ok(_) => Ran {
            outcome: Outcome::Succeeded,
            result: PassResult::Success,
        },
        Err(SyncError::Cancelled(_) | SyncError::State(StateError::NotLeader { .. })) => Ran {
            outcome: Outcome::Cancelled,
            result: PassResult::Cancelled,
        },
        Err(e) => Ran {
            outcome: Outcome::Failed(e.category()),
            result: PassResult::Failure,
        },
    }
}

/// A fraction in [0, 1) for the backoff's jitter.
fn jitter() -> f64 {
    rand::random::<f64>()
}

/// Fetches on a blocking thread (libgit2 is synchronous).
async fn fetch(src: GitSource) -> (GitSource, Result<Snapshot, SourceError>) {
    match tokio::task::spawn_blocking(move || {
        let mut src = src;
        let snap = src.sync();
        (src, snap)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Agent {
    /// Runs until `shutdown` resolves, then releases the lease held by `elector`.
    pub async fn run(mut self, elector: Elector, shutdown: impl std::future::Future<Output = ()>) {
        let mut role = elector.role();
        tokio::pin!(shutdown);
        let mut src = Some((self.source)());
        let mut schedule = Schedule::default();
        let mut stalled_at: Option<String> = None;
        let mut failing_fetch = false;
        let mut refused: Option<Refused> = None;
        let ws = self.options.waveset.clone();
        // What the drift watches check: the objects of the last revision
        // this replica saw completed.
        let mut watched: Option<Arc<Desired>> = None;
        // Whether this replica led at the last turn of the loop.
        let mut led = false;
        'outer: loop {
            self.health.progress(Instant::now());
            if *role.borrow() != Role::Leader {
                if let Some(d) = &self.drift {
                    d.handle.pause();
                }
                if std::mem::take(&mut led)
                    && let Some(a) = &mut self.alerts
                {
                    a.step_down().await;
                }
                if *role.borrow() == Role::Standby {
                    self.health.saw_lease();
                }
                tokio::select! {
                    _ = role.changed() => continue,
                    // Standbys stay alive while they wait.
                    _ = tokio::time::sleep(self.options.interval) => continue,
                    _ = &mut shutdown => break,
                }
            }
            led = true;
            let started = Instant::now();
            let (next, fetched) = fetch(src.take().unwrap_or_else(|| (self.source)())).await;
            self.metrics.fetch(fetched.is_ok(), started.elapsed());
            let delay = match fetched {
                Err(e) => {
                    self.metrics.error(&ws, e.category());
                    if let SourceError::Unverified { revision, reason } = &e {
                        self.refused(revision, reason, &e, &mut refused).await;
                    } else if !failing_fetch {
                        tracing::warn!(error = %e, category = %e.category(), "fetch failed; backing off");
                        failing_fetch = true;
                    }
                    src = Some((self.source)());
                    schedule.next(
                        Outcome::Failed(e.category()),
                        self.options.interval,
                        self.options.backoff,
                        jitter(),
                    )
                }
                Ok(snapshot) => {
                    failing_fetch = false;
                    if refused.take().is_some() {
                        // The record's refusal is cleared by the pass.
                        self.metrics.set_refused(&ws, false);
                    }
                    src = Some(next);
                    self.metrics.source(&ws, &snapshot.revision.0);
                    let root: PathBuf = snapshot.root.join(&self.options.path);
                    self.stop.clear();
                    if let Some(d) = &self.drift {
                        d.handle.pause();
                    }
                    let pass_started = Instant::now();
                    let result = {
                        let pass = self.engine.sync(&root, &snapshot.revision);
                        tokio::pin!(pass);
                        tokio::select! {
                            r = &mut pass => r,
                            _ = role.wait_for(|r| *r != Role::Leader) => {
                                self.stop.request(StopReason::LeaseLost);
                                // The pass stops at its next safe point; a
                                // write in flight is not cut in half.
                                tokio::time::timeout(Duration::from_secs(2), &mut pass)
                                    .await
                                    .unwrap_or(Err(SyncError::Cancelled(StopReason::LeaseLost)))
                            }
                            _ = &mut shutdown => {
                                tracing::info!(grace = ?self.options.grace, "shutdown requested; stopping the pass at a safe point");
                                self.stop.request(StopReason::Shutdown);
                                if tokio::time::timeout(self.options.grace, &mut pass).await.is_err() {
                                    tracing::warn!("pass still running after the grace period; the next agent resumes from the record");
                                }
                                break 'outer;
                            }
                        }
                    };
                    let ran = classify(&result);
                    self.metrics.pass(&ws, ran.result, pass_started.elapsed());
                    self.report(&result, &snapshot, &mut stalled_at);
                    if ran.outcome != Outcome::Cancelled {
                        self.health.passed();
                    }
                    if let Some(a) = &mut self.alerts {
                        a.pass(&result, &snapshot.revision, pass_started.elapsed());
                    }
                    if ran.outcome == Outcome::Succeeded {
                        self.watch_for_drift(&root, &snapshot, &result, &mut watched)
                            .await;
                        self.configure_alerts(&root, &snapshot.revision).await;
                    }
                    schedule.next(
                        ran.outcome,
                        self.options.interval,
                        self.options.backoff,
                        jitter(),
                    )
                }
            };
            self.health.progress(Instant::now());
            let deadline = tokio::time::Instant::now() + delay;
            loop {
                let woken = tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => Woken::Pass,
                    Some(()) = self.wake.recv() => {
                        tracing::info!("woken: syncing now");
                        Woken::Pass
                    }
                    _ = role.wait_for(|r| *r != Role::Leader) => Woken::Role,
                    _ = &mut shutdown => Woken::Shutdown,
                    w = from_drift(&mut self.drift) => w,
                };
                match woken {
                    Woken::Pass | Woken::Role => break,
                    Woken::Shutdown => break 'outer,
                    Woken::Notice(n) => {
                        if let Some(events) = &self.events {
                            events.publish(note_for_drift(&n));
                        }
                        if let Some(a) = &self.alerts {
                            a.drift(&n, watched.as_ref().map(|w| w.revision.as_str()));
                        }
                    }
                    Woken::Report(r) => self.record_drift(&r).await,
                }
            }
        }
        if let Some(a) = &self.alerts {
            a.shutdown(Duration::from_secs(2)).await;
        }
        elector.shutdown().await;
    }

    /// Builds the notification sinks of the synced revision's wavesync.yaml
    /// again when they changed (read once per revision, not at every poll).
    async fn configure_alerts(&mut self, root: &std::path::Path, revision: &Revision) {
        let Some(a) = &mut self.alerts else { return };
        if !a.new_revision(&revision.0) {
            return;
        }
        match crate::config::load(root, self.engine.options.cluster.as_deref()) {
            Ok(ws) => a.configure(&ws.notifications).await,
            Err(e) => tracing::debug!(error = %e, "notifications: wavesync.yaml did not load"),
        }
    }

    /// After a successful pass: hands the drift detector the objects of the
    /// completed waves (rendered again only when something changed).
    async fn watch_for_drift(
        &self,
        root: &std::path::Path,
        snapshot: &Snapshot,
        result: &Result<SyncReport, SyncError>,
        watched: &mut Option<Arc<Desired>>,
    ) {
        let Some(d) = &self.drift else { return };
        let unchanged = matches!(result, Ok(r) if r.up_to_date || r.stalled)
            && watched
                .as_ref()
                .is_some_and(|w| w.revision == snapshot.revision.0);
        if !unchanged {
            *watched = match self.engine.watched(root, &snapshot.revision).await {
                Ok(w) => w.map(Arc::new),
                Err(e) => {
                    tracing::warn!(error = %e, category = %e.category(), "could not list the objects to watch for drift");
                    None
                }
            };
        }
        if let Some(w) = watched {
            d.handle.watch(w.clone());
        }
    }

    /// Writes the drift the detector sees into the record.
    async fn record_drift(&self, report: &Report) {
        if report.revision.is_empty() {
            return;
        }
        match self
            .engine
            .record_drift(&self.options.waveset, report)
            .await
        {
            Ok(true) => tracing::info!(drifted = report.findings.len(), "drift recorded"),
            Ok(false) => {}
            Err(e) => {
                self.metrics.error(&self.options.waveset, e.category());
                tracing::warn!(error = %e, category = %e.category(), "recording drift failed");
            }
        }
    }

    /// A head commit refused by signature verification: once per commit, a
    /// warning, a Warning Event and the gauge; and the record says so (the
    /// applied revision stays), written while this replica leads.
    async fn refused(
        &self,
        revision: &str,
        reason: &str,
        e: &SourceError,
        state: &mut Option<Refused>,
    ) {
        let known = state.as_ref().filter(|r| r.revision == revision);
        if known.is_some_and(|r| r.recorded) {
            return;
        }
        if known.is_none() {
            if let Some(a) = &self.alerts {
                a.refused(revision, reason);
            }
            tracing::warn!(error = %e, "head commit refused by signature verification; the applied revision stays");
            self.metrics.set_refused(&self.options.waveset, true);
            if let Some(events) = &self.events {
                events.publish(Note {
                    warning: true,
                    reason: reason::REVISION_REFUSED,
                    action: "Verify",
                    note: e.to_string(),
                });
            }
        }
        // Only a leader gets here (the loop fetches while it leads); a stop
        // left over from a lost lease must not hold this write back.
        self.stop.clear();
        let recorded = match self
            .engine
            .refuse(&Revision(revision.to_string()), reason)
            .await
        {
            Ok(()) => true,
            Err(w) => {
                tracing::warn!(error = %w, "cannot record the refused revision; trying again at the next fetch");
                false
            }
        };
        *state = Some(Refused {
            revision: revision.to_string(),
            recorded,
        });
    }

    /// Logs a pass's end once per state, and counts its error.
    fn report(
        &self,
        result: &Result<SyncReport, SyncError>,
        snapshot: &Snapshot,
        stalled_at: &mut Option<String>,
    ) {
        let revision = &snapshot.revision.0;
        match result {
            Ok(r) if r.stalled => {
                if stalled_at.as_deref() != Some(revision.as_str()) {
                    tracing::warn!(revision = %revision, "the record is Stalled at this revision; waiting for a new commit (or a manual `wavesync sync`)");
                    *stalled_at = Some(revision.clone());
                }
            }
            Ok(_) => *stalled_at = None,
            Err(SyncError::Cancelled(reason)) => {
                tracing::info!(?reason, "pass stopped at a safe point");
            }
            Err(SyncError::State(StateError::NotLeader { .. })) => {
                tracing::info!("pass stopped: the lease was lost");
            }
            Err(e) => {
                let category = e.category();
                self.metrics.error(&self.options.waveset, category);
                if matches!(category, Category::Config | Category::Permission) {
                    *stalled_at = Some(revision.clone());
                }
                tracing::warn!(error = %e, category = %category, revision = %revision, "sync failed");
            }
        }
    }
}
