//! One wave of a pass: its gates (`requires`, `skipIf`), the apply of its
//! components, the wait until it is healthy, and the prune of what left Git
//! — each stage handing the next a [`ChangeSet`] — with transient failures
//! retried under the wave's budget. The objects of waves removed from
//! wavesync.yaml are pruned here too, once every wave is healthy.

use super::gates;
use super::guard::Allowed;
use super::pass::Pass;
use super::stop::StopReason;
use super::sync::{Engine, SyncError};
use crate::apply::{Action, ChangeSet, prune};
use crate::config::{self, WaveSet};
use crate::error::{Categorized, Category};
use crate::health::CompiledRule;
use crate::health::wait::{WaitError, wait_healthy};
use crate::model::ObjRef;
use crate::plan::PlannedWave;
use crate::report::{ApplyAction, Event};
use crate::state::{Record, StateError, Transition, WaveStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What checking a completed wave found.
pub(super) enum Verified {
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
pub(super) struct WaveFailure {
    /// Why.
    pub message: String,
    /// The category of the cause.
    pub category: Category,
    /// Stopped on request rather than failed: nothing to record.
    pub stopped: Option<StopReason>,
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
    /// Runs a wave, retrying transient failures (429, 5xx, timeouts, conflicts)
    /// with the wave's backoff; configuration and component failures end it.
    /// The outer error is the record failing to save.
    pub(super) async fn run_wave_with_retries(
        &self,
        ws: &WaveSet,
        spec: &config::Wave,
        rules: &[CompiledRule],
        wave: &PlannedWave,
        planned: &BTreeSet<ObjRef>,
        pass: &mut Pass,
    ) -> Result<Result<Vec<String>, WaveFailure>, StateError> {
        pass.step(Transition::StartWave {
            wave: wave.name.clone(),
            digest: wave.digest.clone(),
            objects: wave.object_count(),
        })
        .await?;
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
                    pass.step(Transition::RetryWave {
                        wave: wave.name.clone(),
                        after: f.message.clone(),
                    })
                    .await?;
                }
                other => return Ok(other),
            }
        }
    }

    /// A wave completed at this digest is skipped after checking its objects are still there and healthy.
    pub(super) async fn verify(
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
    pub(super) async fn prune_removed_waves(
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
