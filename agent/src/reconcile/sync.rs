//! The sync pass: load `wavesync.yaml`, render and plan every wave, then for
//! each wave in order check its gates, apply it, wait until it is healthy and
//! prune what left Git — skipping waves already completed at the same digest
//! (verified healthy first), so a restarted agent resumes where the last one
//! stopped. The record is written at every wave transition.

use super::gates;
use super::guard::{self, Allowed, GuardError};
use super::pass::Pass;
use super::stop::{Stop, StopReason};
use crate::apply::staged::Applier;
use crate::apply::{Action, ApplyError, ChangeSet, Resolver, prune};
use crate::config::{self, ConfigError, WaveSet};
use crate::error::{Categorized, Category};
use crate::health::wait::{WaitError, wait_healthy};
use crate::health::{CompiledRule, HealthError};
use crate::model::{ObjRef, Revision};
use crate::plan::{self, Plan, PlanError, PlannedWave, Scopes, WaveInput};
use crate::render::{self, ChartSpec, Helm, HelmSettings, RenderError, RenderRequest};
use crate::report::{ApplyAction, Event, Progress};
use crate::state::{Phase, Record, StateError, StateStore, WaveStatus};
use std::collections::{BTreeMap, BTreeSet};
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
    applier: Applier,
    progress: Arc<dyn Progress>,
    /// Renders charts, and keeps them rendered across passes.
    helm: Helm,
    /// Asks a pass to stop at its next safe point.
    stop: Stop,
    /// Options.
    pub options: SyncOptions,
}

struct ScopeCache<'a>(&'a Resolver);

impl Scopes for ScopeCache<'_> {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0.cached(api_version, kind).map(|r| r.namespaced)
    }
}

/// What checking a completed wave found.
enum Verified {
    /// Not completed at this digest: it must be applied.
    NotDone,
    /// Completed and still healthy: skip it.
    Healthy,
    /// Completed, but objects are missing or unhealthy (why).
    Drifted(String),
}

/// What a wave's apply did.
#[derive(Default)]
struct Applied {
    /// What was done to each object.
    changes: ChangeSet,
    /// Objects not yet ready in the apply response.
    to_watch: Vec<ObjRef>,
}

/// A wave's failure, before it is recorded.
struct WaveFailure {
    message: String,
    category: Category,
    /// Stopped on request rather than failed: nothing to record.
    stopped: Option<StopReason>,
}

/// How many of a wave's failures its message lists (the count covers all).
const FAILURES_LISTED: usize = 10;

impl WaveFailure {
    /// One failure for several (`doing` names the step): every message up
    /// to [`FAILURES_LISTED`], and the category a retry is least likely to
    /// fix; `None` when there are none.
    fn of_all<E: Categorized + std::fmt::Display>(errors: &[E], doing: &str) -> Option<Self> {
        let category = Category::worst(errors.iter().map(Categorized::category))?;
        let message = match errors {
            [one] => one.to_string(),
            many => {
                let mut lines: Vec<String> = many
                    .iter()
                    .take(FAILURES_LISTED)
                    .map(|e| format!("  - {e}"))
                    .collect();
                if many.len() > FAILURES_LISTED {
                    lines.push(format!("  - and {} more", many.len() - FAILURES_LISTED));
                }
                format!(
                    "{doing} {} objects failed:\n{}",
                    many.len(),
                    lines.join("\n")
                )
            }
        };
        Some(WaveFailure {
            message,
            category,
            stopped: None,
        })
    }
}

impl<E: Categorized + std::fmt::Display> From<E> for WaveFailure {
    fn from(e: E) -> Self {
        WaveFailure {
            message: e.to_string(),
            category: e.category(),
            stopped: None,
        }
    }
}

/// The API group label of an object (`core` for the core group).
fn group_label(r: &ObjRef) -> String {
    match r.group() {
        "" => "core".to_string(),
        g => g.to_string(),
    }
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
            options,
        }
    }

    /// This engine stopping its passes when `stop` is requested.
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Why to stop, when a stop was requested: the pass ends here.
    fn checkpoint(&self) -> Result<(), StopReason> {
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
        pass.failed_to_start(e.to_string(), e.category(), cluster)
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
        pass.refuse(reason).await?;
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
        pass.clear_refusal().await?;
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
        let (plan, rules) = match self.plan_for(root, &ws).await {
            Ok(p) => p,
            Err(e) => {
                pass.failed_to_start(e.to_string(), e.category(), ws.cluster.clone())
                    .await?;
                return Err(e);
            }
        };
        let allowed =
            match guard::check(&pass.record, &plan, ws.prune, self.options.allow_mass_prune) {
                Ok(a) => a,
                Err(e) => {
                    pass.failed_to_start(e.to_string(), e.category(), ws.cluster.clone())
                        .await?;
                    return Err(e.into());
                }
            };
        self.progress.event(&Event::SyncStarted {
            revision: revision.0.clone(),
            waves: plan.waves.len(),
        });
        pass.begin(ws.cluster.clone(), &plan).await?;
        let planned = planned_refs(&plan);
        // Once a wave is applied, every later wave is applied too: they may
        // depend on what changed (apps on a migration), and re-applying an
        // unchanged object is a no-op for the API server.
        let mut cascade = false;
        for (i, wave) in plan.waves.iter().enumerate() {
            self.checkpoint().map_err(SyncError::Cancelled)?;
            let Some(spec) = ws.wave(&wave.name) else {
                continue;
            };
            let rules = rules.get(&wave.name).map(Vec::as_slice).unwrap_or_default();
            if !self.options.repair && !cascade {
                match self.verify(&pass.record, wave, rules).await {
                    Verified::Healthy => {
                        self.progress.event(&Event::WaveVerified {
                            wave: wave.name.clone(),
                        });
                        report.verified_waves.push(wave.name.clone());
                        continue;
                    }
                    // Applied before at this digest, no longer healthy: the
                    // record says Degraded until the re-apply below heals it.
                    Verified::Drifted(why) => {
                        self.progress.event(&Event::WaveDrifted {
                            wave: wave.name.clone(),
                            why: why.clone(),
                            objects: wave.components.iter().map(|c| c.objects.len()).sum(),
                        });
                        pass.degraded(&wave.name, &why).await?;
                    }
                    Verified::NotDone => {}
                }
            }
            cascade = true;
            self.progress.event(&Event::WaveStarted {
                index: i + 1,
                total: plan.waves.len(),
                wave: wave.name.clone(),
                objects: wave.components.iter().map(|c| c.objects.len()).sum(),
                timeout: spec.timeout,
            });
            let wave_started = Instant::now();
            match self
                .run_wave_with_retries(&ws, spec, rules, wave, &planned, &mut pass)
                .await?
            {
                Ok(skipped) => {
                    pass.complete_wave(wave, skipped);
                    self.progress.event(&Event::WaveCompleted {
                        wave: wave.name.clone(),
                        took: wave_started.elapsed(),
                    });
                    report.applied_waves.push(wave.name.clone());
                }
                // Stopped on request: the wave stays in progress in the
                // record, and the next pass (or agent) resumes it.
                Err(WaveFailure {
                    stopped: Some(reason),
                    ..
                }) => return Err(SyncError::Cancelled(reason)),
                Err(f) => {
                    self.progress.event(&Event::WaveFailed {
                        wave: wave.name.clone(),
                        message: f.message.clone(),
                        took: wave_started.elapsed(),
                    });
                    pass.fail_wave(&wave.name, &f.message, f.category, ws.cluster.clone())
                        .await?;
                    self.progress.event(&Event::SyncFinished {
                        phase: "Failed".into(),
                        took: started.elapsed(),
                    });
                    return Err(SyncError::Wave {
                        wave: wave.name.clone(),
                        message: f.message,
                        category: f.category,
                    });
                }
            }
        }
        self.checkpoint().map_err(SyncError::Cancelled)?;
        if let Err(e) = self
            .prune_removed_waves(&ws, &allowed, &planned, &mut pass.record)
            .await
        {
            pass.failed_to_start(e.to_string(), e.category(), ws.cluster.clone())
                .await?;
            self.progress.event(&Event::SyncFinished {
                phase: "Failed".into(),
                took: started.elapsed(),
            });
            return Err(e);
        }
        pass.finish().await?;
        self.progress.event(&Event::SyncFinished {
            phase: "Ready".into(),
            took: started.elapsed(),
        });
        report.phase = Phase::Ready;
        Ok(report)
    }

    /// Runs a wave, retrying transient failures (429, 5xx, timeouts, conflicts)
    /// with the wave's backoff; configuration and component failures end it.
    /// The outer error is the record failing to save.
    async fn run_wave_with_retries(
        &self,
        ws: &WaveSet,
        spec: &config::Wave,
        rules: &[CompiledRule],
        wave: &PlannedWave,
        planned: &BTreeSet<ObjRef>,
        pass: &mut Pass,
    ) -> Result<Result<Vec<String>, WaveFailure>, StateError> {
        pass.start_wave(wave).await?;
        // The budget is per pass: failures of earlier passes (or agents) do
        // not use it up; the record's counter only tells people.
        let mut attempts = 1;
        loop {
            let result = self
                .run_wave(ws, spec, rules, wave, planned, &mut pass.record)
                .await;
            match result {
                Err(f)
                    if f.stopped.is_none()
                        && f.category == Category::Transient
                        && attempts < spec.retry.attempts =>
                {
                    let delay = spec.retry.delay(attempts + 1);
                    tracing::info!(wave = %wave.name, attempt = attempts + 1, ?delay, error = %f.message, "transient failure; retrying the wave");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.stop.stopped() => {}
                    }
                    if let Some(reason) = self.stop.reason() {
                        return Ok(Err(WaveFailure {
                            stopped: Some(reason),
                            ..f
                        }));
                    }
                    attempts += 1;
                    pass.retry_wave(&wave.name, &f.message).await?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Renders and plans every wave, and compiles every wave's health rules
    /// (once, before anything is applied, so a typo in a late wave's CEL does
    /// not leave the earlier waves half-rolled).
    pub(super) async fn plan_for(
        &self,
        root: &Path,
        ws: &WaveSet,
    ) -> Result<(Plan, BTreeMap<String, Vec<CompiledRule>>), SyncError> {
        let mut rules = BTreeMap::new();
        for (index, w) in ws.waves.iter().enumerate() {
            let compiled = compile_rules(w).map_err(|(at, source)| SyncError::Rule {
                wave: w.name.clone(),
                field: rule_field(index, &at, &source),
                source,
            })?;
            rules.insert(w.name.clone(), compiled);
        }
        let inputs = render_all(root, ws, &self.helm)?;
        // Built-in kinds and the repository's own CRDs need no discovery; ask
        // the cluster only about kinds neither knows (one pass, then cached).
        if !all_kinds_known(&inputs) {
            self.resolver
                .discover_all()
                .await
                .map_err(SyncError::Discovery)?;
        }
        let unset = ws.namespace.is_none().then(|| inputs.clone());
        let plan = plan::plan(
            &ws.name,
            ws.namespace.as_deref(),
            inputs,
            &ScopeCache(&self.resolver),
        )?;
        if let Some(input) = unset {
            plan::refuse_defaulted_namespaces(&input, &plan)?;
        }
        Ok((plan, rules))
    }

    /// A wave completed at this digest is skipped after checking its objects are still there and healthy.
    async fn verify(
        &self,
        record: &Record,
        wave: &PlannedWave,
        rules: &[CompiledRule],
    ) -> Verified {
        let Some(w) = record.wave(&wave.name) else {
            return Verified::NotDone;
        };
        let done = matches!(w.status, WaveStatus::Completed | WaveStatus::Skipped);
        if !done || w.digest.as_deref() != Some(&wave.digest) {
            return Verified::NotDone;
        }
        let refs = record
            .inventory
            .waves
            .get(&wave.name)
            .cloned()
            .unwrap_or_default();
        match wait_healthy(
            &self.resolver,
            &refs,
            rules,
            Duration::from_secs(2),
            &|_, _| {},
        )
        .await
        {
            Ok(()) => Verified::Healthy,
            Err(e) => Verified::Drifted(e.to_string()),
        }
    }

    /// Gates, apply, health, prune for one wave. Returns the skipped components.
    async fn run_wave(
        &self,
        ws: &WaveSet,
        spec: &config::Wave,
        rules: &[CompiledRule],
        wave: &PlannedWave,
        planned: &BTreeSet<ObjRef>,
        record: &mut Record,
    ) -> Result<Vec<String>, WaveFailure> {
        let (skipped, objects) = self.gate(ws, spec, wave).await?;
        if objects.is_empty() && !skipped.is_empty() {
            return Ok(skipped);
        }
        let applied = self
            .apply_components(&wave.name, &objects, rules, record)
            .await?;
        self.settle(ws, spec, wave, &applied, rules, planned, record)
            .await?;
        Ok(skipped)
    }

    /// The wave's and its components' `requires` and `skipIf`: the skipped
    /// components, and the objects of the others.
    async fn gate<'p>(
        &self,
        ws: &WaveSet,
        spec: &config::Wave,
        wave: &'p PlannedWave,
    ) -> Result<(Vec<String>, Vec<&'p [crate::model::Object]>), WaveFailure> {
        let default_ns = ws.namespace.clone().unwrap_or_else(|| "default".into());
        let grace = self.options.requires_grace;
        gates::check_requirements(&self.resolver, &spec.requires, &default_ns, grace).await?;
        let skip_event = |component: &str, reason: String| {
            self.progress.event(&Event::ComponentSkipped {
                wave: wave.name.clone(),
                component: component.into(),
                reason,
            });
        };
        if let Some(rule) = &spec.skip_if
            && let Some(why) = gates::should_skip(&self.resolver, rule, &ws.name).await?
        {
            skip_event("*", why);
            return Ok((
                wave.components.iter().map(|c| c.name.clone()).collect(),
                Vec::new(),
            ));
        }
        let mut skipped = Vec::new();
        let mut objects = Vec::new();
        for c in &wave.components {
            if let Some(cs) = spec.components.iter().find(|s| s.name == c.name) {
                // A skipped component's prerequisites do not matter: check skipIf first.
                if let Some(rule) = &cs.skip_if
                    && let Some(why) = gates::should_skip(&self.resolver, rule, &ws.name).await?
                {
                    skip_event(&c.name, why);
                    skipped.push(c.name.clone());
                    continue;
                }
                gates::check_requirements(&self.resolver, &cs.requires, &default_ns, grace).await?;
            }
            objects.push(c.objects.as_slice());
        }
        Ok((skipped, objects))
    }

    /// Applies the components in parallel. Whatever was applied joins the
    /// inventory even when the wave fails, so nothing applied is forgotten.
    async fn apply_components(
        &self,
        wave: &str,
        objects: &[&[crate::model::Object]],
        rules: &[CompiledRule],
        record: &mut Record,
    ) -> Result<Applied, WaveFailure> {
        let mut applier = self.applier.clone();
        applier.revision = record.target_revision.clone();
        let known = record.inventory.all();
        let outcomes =
            futures::future::join_all(objects.iter().map(|objs| applier.apply(objs, &known))).await;
        let mut out = Applied::default();
        for o in outcomes {
            out.changes.extend(o);
        }
        let mut counts: BTreeMap<(ApplyAction, String), usize> = BTreeMap::new();
        for c in &out.changes.changes {
            let Some(action) = c.action.apply_action() else {
                continue;
            };
            *counts.entry((action, group_label(&c.object))).or_default() += 1;
            // What the apply response already shows ready (ConfigMaps, Services…)
            // need not be read again.
            if !crate::health::assess(c.live.as_ref(), rules).is_ready() {
                out.to_watch.push(c.object.clone());
            }
        }
        record.inventory.record(wave, &out.changes);
        if !counts.is_empty() {
            self.progress.event(&Event::ObjectsApplied {
                wave: wave.to_string(),
                counts,
            });
        }
        if let Some(failure) = WaveFailure::of_all(&out.changes.errors(), "applying") {
            return Err(failure);
        }
        self.progress.event(&Event::WaveApplied {
            wave: wave.to_string(),
            applied: out.changes.applied().count(),
            recreated_jobs: out.changes.count(|a| matches!(a, Action::Recreated)),
        });
        Ok(out)
    }

    /// Waits until the wave is healthy, then prunes what left Git.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        ws: &WaveSet,
        spec: &config::Wave,
        wave: &PlannedWave,
        applied: &Applied,
        rules: &[CompiledRule],
        planned: &BTreeSet<ObjRef>,
        record: &mut Record,
    ) -> Result<(), WaveFailure> {
        let progress = self.progress.clone();
        let name = wave.name.clone();
        let report = move |pending: usize, example: &str| {
            progress.event(&Event::WaveWaiting {
                wave: name.clone(),
                pending,
                example: example.to_string(),
            });
        };
        // Waiting is read-only: a stop request ends it at once.
        tokio::select! {
            r = wait_healthy(&self.resolver, &applied.to_watch, rules, spec.timeout, &report) => {
                r.map_err(|e: WaitError| WaveFailure::from(e))?;
            }
            _ = self.stop.stopped() => {
                return Err(WaveFailure {
                    message: "stopped".into(),
                    category: Category::Transient,
                    stopped: self.stop.reason(),
                });
            }
        }
        if let Some(reason) = self.stop.reason() {
            return Err(WaveFailure {
                message: "stopped".into(),
                category: Category::Transient,
                stopped: Some(reason),
            });
        }
        let stale = record.inventory.stale(&wave.name, planned);
        let mut pruned = ChangeSet::default();
        if !stale.is_empty() {
            pruned = prune::prune(&self.resolver, &ws.name, &stale, false).await;
            self.progress.event(&pruned_event(&wave.name, &pruned));
        }
        // A failed delete stays in the inventory for the next attempt, and
        // fails the wave with its category (a 403 stalls, a 503 is
        // retried): the next wave must not start on a half-pruned one.
        record
            .inventory
            .settle(&wave.name, &applied.changes, &pruned);
        WaveFailure::of_all(&pruned.errors(), "pruning").map_or(Ok(()), Err)
    }

    /// Objects of waves that left wavesync.yaml are pruned once every wave
    /// is healthy, when the policy allows it; otherwise they are kept, stay
    /// in the inventory, and the record says so.
    async fn prune_removed_waves(
        &self,
        ws: &WaveSet,
        allowed: &Allowed,
        planned: &BTreeSet<ObjRef>,
        record: &mut Record,
    ) -> Result<(), SyncError> {
        record.held.clear();
        for h in &allowed.held {
            self.progress.event(&Event::PruneHeld {
                wave: h.wave.clone(),
                objects: h.objects,
            });
            record.held.push(crate::state::HeldPrune {
                wave: h.wave.clone(),
                objects: h.objects,
            });
        }
        let gone: Vec<String> = record
            .inventory
            .waves
            .keys()
            .filter(|k| ws.wave(k).is_none() && !allowed.held.iter().any(|h| &h.wave == *k))
            .cloned()
            .collect();
        let mut changes = ChangeSet::default();
        for wave in gone {
            // Objects planned elsewhere moved to another wave: not pruned,
            // and no longer this one's.
            let moved: Vec<ObjRef> = record
                .inventory
                .wave(&wave)
                .iter()
                .filter(|r| planned.contains(r))
                .cloned()
                .collect();
            let stale = record.inventory.stale(&wave, planned);
            let mut pruned = prune::prune(&self.resolver, &ws.name, &stale, false).await;
            self.progress.event(&pruned_event(&wave, &pruned));
            for r in moved {
                pruned.push(r, Action::Skipped("planned in another wave".into()), None);
            }
            record.inventory.record(&wave, &pruned);
            changes.extend(pruned);
        }
        let errors = changes.errors();
        match WaveFailure::of_all(&errors, "pruning removed waves") {
            Some(f) => Err(SyncError::Prune {
                message: f.message,
                category: f.category,
            }),
            None => Ok(()),
        }
    }
}

/// The progress event of a prune: counts, deletions by API group, and the
/// first failures.
fn pruned_event(wave: &str, pruned: &ChangeSet) -> Event {
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for c in pruned.with(|a| matches!(a, Action::Deleted)) {
        *groups.entry(group_label(&c.object)).or_default() += 1;
    }
    let errors = pruned.errors();
    Event::Pruned {
        wave: wave.to_string(),
        deleted: pruned.count(|a| matches!(a, Action::Deleted | Action::Gone)),
        kept: pruned.count(|a| matches!(a, Action::Skipped(_))),
        failed: errors.len(),
        failures: errors
            .iter()
            .take(FAILURES_LISTED)
            .map(|e| e.to_string())
            .collect(),
        groups,
    }
}

/// Whether every rendered kind is a built-in one or defined by a CRD in the repository.
fn all_kinds_known(inputs: &[WaveInput]) -> bool {
    let objects = || {
        inputs
            .iter()
            .flat_map(|w| w.components.iter().flat_map(|(_, objs)| objs.iter()))
    };
    let mut defined = BTreeSet::new();
    for o in objects().filter(|o| o.json["kind"] == "CustomResourceDefinition") {
        let group = o
            .json
            .pointer("/spec/group")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let kind = o
            .json
            .pointer("/spec/names/kind")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        for v in o
            .json
            .pointer("/spec/versions")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let version = v.get("name").and_then(|n| n.as_str()).unwrap_or_default();
            defined.insert((format!("{group}/{version}"), kind.to_string()));
        }
    }
    objects().all(|o| {
        let r = o.reference();
        plan::Builtin.namespaced(&r.api_version, &r.kind).is_some()
            || defined.contains(&(r.api_version.clone(), r.kind.clone()))
    })
}

/// Every object the plan holds, across waves (what must not be pruned).
fn planned_refs(plan: &Plan) -> BTreeSet<ObjRef> {
    plan.waves
        .iter()
        .flat_map(|w| {
            w.components
                .iter()
                .flat_map(|c| c.objects.iter().map(|o| o.reference()))
        })
        .collect()
}

fn is_done(record: &Record, revision: &Revision, cluster: Option<&str>) -> bool {
    // Drift is the watches' business (alert or heal), not a reason to roll
    // the revision out again on every poll.
    (record.phase == Phase::Ready || (record.phase == Phase::Degraded && record.drift.is_some()))
        && record.cluster.as_deref() == cluster
        && record.applied_revision.as_deref() == Some(revision.0.as_str())
        && record.target_revision.as_deref() == Some(revision.0.as_str())
}

/// The wave's rules, compiled; else where the first bad one is written
/// (`health[0]`, `components[1].health[0]`) and why.
fn compile_rules(spec: &config::Wave) -> Result<Vec<CompiledRule>, (String, HealthError)> {
    let all = spec
        .health
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("health[{i}]"), r))
        .chain(spec.components.iter().enumerate().flat_map(|(c, comp)| {
            comp.health
                .iter()
                .enumerate()
                .map(move |(i, r)| (format!("components[{c}].health[{i}]"), r))
        }));
    all.map(|(at, r)| {
        CompiledRule::compile(
            r.api_version.as_deref(),
            &r.kind,
            &r.ready,
            r.failed.as_deref(),
        )
        .map_err(|e| (at, e))
    })
    .collect()
}

/// `spec.waves[2].health[0].ready`: the field of a rule that does not compile.
fn rule_field(wave: usize, at: &str, e: &HealthError) -> String {
    let field = match e {
        HealthError::Compile { field, .. } | HealthError::Undeclared { field, .. } => {
            format!(".{field}")
        }
        HealthError::EmptyKind => ".kind".to_owned(),
    };
    format!("spec.waves[{wave}].{at}{field}")
}

/// What Helm renders for a chart component: its release goes to the
/// chart's namespace, else the WaveSet's, else `default`.
pub fn chart_spec<'a>(
    ws: &'a WaveSet,
    component: &'a config::Component,
    chart: &'a config::ChartSource,
) -> ChartSpec<'a> {
    ChartSpec {
        path: &component.path,
        release: &chart.release_name,
        namespace: chart
            .namespace
            .as_deref()
            .or(ws.namespace.as_deref())
            .unwrap_or(crate::plan::DEFAULT_NAMESPACE),
        values_files: &chart.values_files,
        values: &chart.values,
        include_crds: chart.include_crds,
    }
}

/// Renders every component of every wave; any error stops before anything is applied.
///
/// # Errors
/// The first render error (it names the file).
pub fn render_all(root: &Path, ws: &WaveSet, helm: &Helm) -> Result<Vec<WaveInput>, RenderError> {
    let values = ws.values.clone();
    let substitute =
        move |text: &str, file: &Path| values.substitute(text, file).map_err(|e| e.to_string());
    ws.waves
        .iter()
        .map(|w| {
            let components = w
                .components
                .iter()
                .map(|c| {
                    let objects = match &c.chart {
                        Some(chart) => helm.render(root, &chart_spec(ws, c, chart), &substitute),
                        None => render::render_path(&RenderRequest {
                            repo_root: root,
                            path: &c.path,
                            substitute: &substitute,
                        }),
                    };
                    objects.map(|objs| (c.name.clone(), objs))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(WaveInput {
                name: w.name.clone(),
                components,
            })
        })
        .collect()
}
