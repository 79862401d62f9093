//! The sync pass: load `wavesync.yaml`, render and plan every wave, then for
//! each wave in order check its gates, apply it, wait until it is healthy and
//! prune what left Git — skipping waves already completed at the same digest
//! (verified healthy first), so a restarted agent resumes where the last one
//! stopped. The record is written at every wave transition ([`Transition`]);
//! a failure is recorded in one place, [`Engine::sync`]'s end, whatever
//! stage it came from. The stages are in [`super::prepare`] (rules, render,
//! plan) and [`super::wave`] (gates, apply, health, prune).

use super::guard::{self, GuardError};
use super::pass::Pass;
use super::stop::{Stop, StopReason};
use super::wave::WaveFailure;
use crate::apply::ApplyError;
use crate::apply::staged::Applier;
use crate::clock::{self, SharedClock};
use crate::cluster::Resolver;
use crate::config::{self, ConfigError, WaveSet};
use crate::error::{Categorized, Category};
use crate::health::HealthError;
use crate::model::Revision;
use crate::plan::{Plan, PlanError};
use crate::render::{Helm, HelmSettings, RenderError};
use crate::report::{Event, Progress};
use crate::state::{Phase, Record, StateError, StateStore, Transition};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a sync behaves.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Cluster values to select (`--cluster`).
    pub cluster: Option<String>,
    /// Namespace of the state ConfigMap and the Lease.
    pub state_namespace: String,
    /// Re-apply and re-verify every wave, even completed ones.
    pub repair: bool,
    /// Applies in flight at once inside a wave.
    pub concurrency: usize,
    /// How long unmet `requires` are re-checked before the wave fails.
    pub requires_grace: Duration,
    /// How Helm charts are rendered.
    pub helm: HelmSettings,
    /// The WaveSet's record to write when wavesync.yaml itself does not load
    /// (and so cannot name it).
    pub waveset: String,
    /// Run even when the record is Stalled at this revision (a manual sync).
    pub force: bool,
    /// Let this pass prune more than `spec.prune.maxDeleteShare` of the
    /// inventory (`--allow-mass-prune`).
    pub allow_mass_prune: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            cluster: None,
            state_namespace: "wavesync".into(),
            repair: false,
            concurrency: 16,
            requires_grace: Duration::from_secs(10),
            helm: HelmSettings::default(),
            waveset: "dataplane".into(),
            force: true,
            allow_mass_prune: false,
        }
    }
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// `wavesync.yaml` is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A source did not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Planning failed (duplicates, unknown kinds…).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A health rule does not compile.
    #[error("{}: {field}: wave {wave}: {source}", crate::config::FILE_NAME)]
    Rule {
        /// Wave.
        wave: String,
        /// Where the rule is written in `wavesync.yaml`
        /// (`spec.waves[2].health[0].ready`).
        field: String,
        /// The compile error.
        #[source]
        source: HealthError,
    },
    /// Reading or writing the record failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Discovery failed.
    #[error(transparent)]
    Discovery(ApplyError),
    /// The prune guards stopped the pass before anything was applied.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// Pruning the objects of waves removed from wavesync.yaml failed.
    #[error("{message}")]
    Prune {
        /// Which objects, and why.
        message: String,
        /// Category of the cause.
        category: Category,
    },
    /// The pass stopped at a safe point (shutdown, or the lease was lost).
    #[error("sync stopped: {}", match .0 { StopReason::Shutdown => "shutting down", StopReason::LeaseLost => "the lease was lost" })]
    Cancelled(StopReason),
    /// A wave failed.
    #[error("wave {wave} failed: {message}")]
    Wave {
        /// Wave.
        wave: String,
        /// Why.
        message: String,
        /// Category of the cause.
        category: Category,
    },
}

impl Categorized for SyncError {
    fn category(&self) -> Category {
        match self {
            SyncError::Config(e) => e.category(),
            SyncError::Render(e) => e.category(),
            SyncError::Plan(e) => e.category(),
            SyncError::Rule { .. } => Category::Config,
            SyncError::State(e) => e.category(),
            SyncError::Discovery(e) => e.category(),
            SyncError::Guard(e) => e.category(),
            SyncError::Prune { category, .. } => *category,
            SyncError::Wave { category, .. } => *category,
            SyncError::Cancelled(_) => Category::Transient,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// Final phase.
    pub phase: Phase,
    /// Waves applied in this pass.
    pub applied_waves: Vec<String>,
    /// Waves verified and skipped.
    pub verified_waves: Vec<String>,
    /// The revision was already Ready: nothing was done.
    pub up_to_date: bool,
    /// The record is Stalled at this revision: nothing was tried.
    pub stalled: bool,
}

impl SyncReport {
    fn nothing(phase: Phase) -> Self {
        SyncReport {
            phase,
            applied_waves: vec![],
            verified_waves: vec![],
            up_to_date: false,
            stalled: false,
        }
    }
}

/// Runs syncs against one cluster.
#[derive(Clone)]
pub struct Engine {
    pub(super) resolver: Resolver,
    pub(super) applier: Applier,
    pub(super) progress: Arc<dyn Progress>,
    /// Renders charts, and keeps them rendered across passes.
    pub(super) helm: Helm,
    /// Asks a pass to stop at its next safe point.
    pub(super) stop: Stop,
    /// The time the record is written with.
    pub(super) clock: SharedClock,
    /// Options.
    pub options: SyncOptions,
}

impl Engine {
    /// An engine over `client`.
    pub fn new(client: kube::Client, options: SyncOptions, progress: Arc<dyn Progress>) -> Self {
        let resolver = Resolver::new(client);
        let mut applier = Applier::new(resolver.clone());
        applier.concurrency = options.concurrency;
        Engine {
            resolver,
            applier,
            progress,
            helm: Helm::new(options.helm.clone()),
            stop: Stop::default(),
            clock: clock::system(),
            options,
        }
    }

    /// This engine writing the record with the times of `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// This engine stopping its passes when `stop` is requested.
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Why to stop, when a stop was requested: the pass ends here.
    pub(super) fn checkpoint(&self) -> Result<(), StopReason> {
        match self.stop.reason() {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    pub(super) async fn load_pass(
        &self,
        waveset: &str,
        revision: &Revision,
    ) -> Result<Pass, StateError> {
        Pass::load(
            self.store(waveset),
            waveset,
            revision,
            self.clock.clone(),
            self.progress.clone(),
            self.stop.clone(),
        )
        .await
    }

    /// wavesync.yaml did not load, so it cannot name its record: the
    /// failure goes to the record of the configured WaveSet name, and stalls
    /// it (unless the error may pass on a retry).
    async fn config_failed(
        &self,
        revision: &Revision,
        e: ConfigError,
    ) -> Result<SyncReport, SyncError> {
        let cluster = self.options.cluster.clone();
        let mut pass = self.load_pass(&self.options.waveset, revision).await?;
        if !self.options.force && pass.stalled_at(cluster.as_deref()).is_some() {
            return Ok(SyncReport {
                stalled: true,
                ..SyncReport::nothing(Phase::Failed)
            });
        }
        pass.step(Transition::Failed {
            message: e.to_string(),
            category: e.category(),
            cluster,
        })
        .await?;
        Err(e.into())
    }

    /// Records in the configured WaveSet's record that commit signature
    /// verification refuses `revision` (`reason` after "commit <sha> ").
    /// Written through the pass's lease-checked save; nothing else changes.
    ///
    /// # Errors
    /// Reading or writing the record.
    pub async fn refuse(&self, revision: &Revision, reason: &str) -> Result<(), SyncError> {
        let mut pass = self.load_pass(&self.options.waveset, revision).await?;
        pass.step(Transition::Refuse {
            reason: reason.to_string(),
        })
        .await?;
        Ok(())
    }

    /// This engine rendering charts with `helm` (an engine already started,
    /// with its cache) instead of one made from the options.
    pub fn with_helm(mut self, helm: Helm) -> Self {
        self.helm = helm;
        self
    }

    /// The discovery cache, filled by [`Engine::plan`] and kept for what
    /// follows it (a live diff).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The state store of a WaveSet.
    pub fn store(&self, waveset: &str) -> StateStore {
        StateStore::new(
            self.resolver.client().clone(),
            &self.options.state_namespace,
            waveset,
        )
    }

    /// Renders and plans `root` without applying anything (discovery only).
    ///
    /// # Errors
    /// Configuration, render, plan and health-rule errors.
    pub async fn plan(&self, root: &Path) -> Result<(WaveSet, Plan), SyncError> {
        let ws = config::load(root, self.options.cluster.as_deref())?;
        let (plan, _) = self.plan_for(root, &ws).await?;
        Ok((ws, plan))
    }

    /// One sync pass of the checked-out `revision` at `root`.
    ///
    /// # Errors
    /// The first failure; the record says the same.
    pub async fn sync(&self, root: &Path, revision: &Revision) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        let ws = match config::load(root, self.options.cluster.as_deref()) {
            Ok(ws) => ws,
            Err(e) => return self.config_failed(revision, e).await,
        };
        let mut pass = self.load_pass(&ws.name, revision).await?;
        if pass.record.refused.is_some() {
            pass.step(Transition::ClearRefusal).await?;
        }
        let mut report = SyncReport::nothing(Phase::Installing);
        if !self.options.force && pass.stalled_at(ws.cluster.as_deref()).is_some() {
            report.phase = pass.record.phase;
            report.stalled = true;
            return Ok(report);
        }
        if !self.options.repair && is_done(&pass.record, revision, ws.cluster.as_deref()) {
            self.progress.event(&Event::UpToDate {
                revision: revision.0.clone(),
            });
            report.phase = Phase::Ready;
            report.up_to_date = true;
            return Ok(report);
        }
        let mut begun = false;
        let outcome = self
            .run(root, &ws, &mut pass, &mut report, &mut begun)
            .await;
        // The one place a pass's end is recorded, whichever stage it came from.
        let (transition, result) = match outcome {
            Ok(()) => (Transition::Finish, Ok(())),
            // The record could not be written: nothing more can be recorded.
            Err(PassFailure::State(e)) => return Err(e.into()),
            // Stopped on request: a wave stays in progress in the record,
            // and the next pass (or agent) resumes it.
            Err(PassFailure::Stopped(reason)) => return Err(SyncError::Cancelled(reason)),
            Err(PassFailure::Wave { wave, failure }) => (
                Transition::FailWave {
                    wave: wave.clone(),
                    message: failure.message.clone(),
                    category: failure.category,
                    cluster: ws.cluster.clone(),
                },
                Err(SyncError::Wave {
                    wave,
                    message: failure.message,
                    category: failure.category,
                }),
            ),
            Err(PassFailure::Pass(e)) => (
                Transition::Failed {
                    message: e.to_string(),
                    category: e.category(),
                    cluster: ws.cluster.clone(),
                },
                Err(e),
            ),
        };
        pass.step(transition).await?;
        if begun {
            self.progress.event(&Event::SyncFinished {
                phase: pass.record.phase.as_str().into(),
                took: started.elapsed(),
            });
        }
        result?;
        report.phase = Phase::Ready;
        Ok(report)
    }

    /// The pass's stages, in order, until one fails: prepare, guard, every
    /// wave, the prune of removed waves. `begun` is set once the rollout
    /// starts (a [`Event::SyncStarted`] was sent).
    async fn run(
        &self,
        root: &Path,
        ws: &WaveSet,
        pass: &mut Pass,
        report: &mut SyncReport,
        begun: &mut bool,
    ) -> Result<(), PassFailure> {
        let (plan, rules) = self.plan_for(root, ws).await?;
        let allowed = guard::check(&pass.record, &plan, ws.prune, self.options.allow_mass_prune)
            .map_err(SyncError::from)?;
        self.progress.event(&Event::SyncStarted {
            revision: pass.revision().0.clone(),
            waves: plan.waves.len(),
        });
        *begun = true;
        pass.step(Transition::Begin {
            cluster: ws.cluster.clone(),
            waves: plan.waves.iter().map(|w| w.name.clone()).collect(),
        })
        .await?;
        let planned = plan.references();
        // Once a wave is applied, every later wave is applied too: they may
        // depend on what changed (apps on a migration); the objects that did
        // not change are compared, not rewritten.
        let mut cascade = false;
        for (i, wave) in plan.waves.iter().enumerate() {
            self.checkpoint().map_err(PassFailure::Stopped)?;
            let Some(spec) = ws.wave(&wave.name) else {
                continue;
            };
            let rules = rules.get(&wave.name).map(Vec::as_slice).unwrap_or_default();
            if !self.options.repair && !cascade {
                match self.verify(&pass.record, wave, rules).await {
                    super::wave::Verified::Healthy => {
                        self.progress.event(&Event::WaveVerified {
                            wave: wave.name.clone(),
                        });
                        report.verified_waves.push(wave.name.clone());
                        continue;
                    }
                    // Applied before at this digest, no longer healthy: the
                    // record says Degraded until the re-apply below heals it.
                    super::wave::Verified::Drifted(why) => {
                        self.progress.event(&Event::WaveDrifted {
                            wave: wave.name.clone(),
                            why: why.clone(),
                            objects: wave.object_count(),
                        });
                        pass.step(Transition::Degraded {
                            wave: wave.name.clone(),
                            why,
                        })
                        .await?;
                    }
                    super::wave::Verified::NotDone => {}
                }
            }
            cascade = true;
            self.progress.event(&Event::WaveStarted {
                index: i + 1,
                total: plan.waves.len(),
                wave: wave.name.clone(),
                objects: wave.object_count(),
                timeout: spec.timeout,
            });
            let wave_started = Instant::now();
            match self
                .run_wave_with_retries(ws, spec, rules, wave, &planned, pass)
                .await?
            {
                Ok(skipped) => {
                    // Written with the next wave's start or the final save:
                    // one write per transition.
                    pass.apply(Transition::CompleteWave {
                        wave: wave.name.clone(),
                        skipped,
                        components: wave.components.len(),
                    });
                    self.progress.event(&Event::WaveCompleted {
                        wave: wave.name.clone(),
                        took: wave_started.elapsed(),
                    });
                    report.applied_waves.push(wave.name.clone());
                }
                Err(WaveFailure {
                    stopped: Some(reason),
                    ..
                }) => return Err(PassFailure::Stopped(reason)),
                Err(failure) => {
                    self.progress.event(&Event::WaveFailed {
                        wave: wave.name.clone(),
                        message: failure.message.clone(),
                        took: wave_started.elapsed(),
                    });
                    return Err(PassFailure::Wave {
                        wave: wave.name.clone(),
                        failure,
                    });
                }
            }
        }
        self.checkpoint().map_err(PassFailure::Stopped)?;
        self.prune_removed_waves(ws, &allowed, &planned, &mut pass.record)
            .await?;
        Ok(())
    }
}

/// How a pass ended early, before it is recorded.
enum PassFailure {
    /// Outside a wave.
    Pass(SyncError),
    /// In a wave.
    Wave {
        /// The wave.
        wave: String,
        /// Why.
        failure: WaveFailure,
    },
    /// Stopped on request.
    Stopped(StopReason),
    /// Writing the record failed.
    State(StateError),
}

impl From<SyncError> for PassFailure {
    fn from(e: SyncError) -> Self {
        PassFailure::Pass(e)
    }
}

impl From<StateError> for PassFailure {
    fn from(e: StateError) -> Self {
        PassFailure::State(e)
    }
}

fn is_done(record: &Record, revision: &Revision, cluster: Option<&str>) -> bool {
    // Drift is the watches' business (alert or heal), not a reason to roll
    // the revision out again on every poll.
    (record.phase == Phase::Ready || (record.phase == Phase::Degraded && record.drift.is_some()))
        && record.cluster.as_deref() == cluster
        && record.applied_revision.as_deref() == Some(revision.0.as_str())
        && record.target_revision.as_deref() == Some(revision.0.as_str())
}
