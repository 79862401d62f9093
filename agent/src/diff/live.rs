//! Live diff: the head's plan against the cluster. Every object is sent as
//! a server-side apply dry-run (field manager `wavesync`, first without
//! force to learn about conflicts), and what the server would leave is
//! compared with what is live. Nothing is written: applies and the prune
//! check's deletes all carry `dryRun=All`.

use super::clean::{masked_yaml, unified};
use super::drift::drifted;
use super::{Added, Changed, Conflict, PlanDiff, Rejected, Skipped, WaveDiff};
use crate::apply::Action;
use crate::apply::jobs::{self, JOB_DIGEST, is_job};
use crate::apply::prune::prune;
use crate::apply::revision;
use crate::apply::ssa::{Backoff, describe};
use crate::apply::{ApplyError, FIELD_MANAGER};
use crate::cluster::Resolver;
use crate::config::{self, WaveSet};
use crate::error::{Categorized, Category};
use crate::model::{ObjRef, Object};
use crate::plan::{Plan, PlannedWave};
use crate::reconcile::gates::{self, GateError};
use crate::state::{StateError, StateStore, WaveStatus};
use futures::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;
use std::collections::HashSet;

/// How the live diff runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Dry-run requests in flight at once.
    pub concurrency: usize,
    /// Namespace of the state ConfigMap (which waves completed at which
    /// digest, and the inventory that decides what is pruned).
    pub state_namespace: String,
    /// Retries of transient API failures per request.
    pub backoff: Backoff,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            concurrency: 16,
            state_namespace: "wavesync".into(),
            backoff: Backoff::default(),
        }
    }
}

/// Why a live diff could not be made. An object the server refuses is not
/// an error: it is reported in [`WaveDiff::rejected`].
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Reading the state record failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Discovery, a read, or the prune check failed.
    #[error(transparent)]
    Lookup(Box<ApplyError>),
    /// Reading what `requires` or `skipIf` look at failed.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// The API server kept failing (after retries) or refused access, so
    /// the diff would be incomplete.
    #[error("{object}: {message}")]
    Api {
        /// The object being diffed.
        object: ObjRef,
        /// The server's answer (Secret values masked).
        message: String,
        /// Transient or permission.
        category: Category,
    },
}

impl From<ApplyError> for LiveError {
    fn from(e: ApplyError) -> Self {
        LiveError::Lookup(Box::new(e))
    }
}

impl Categorized for LiveError {
    fn category(&self) -> Category {
        match self {
            LiveError::State(e) => e.category(),
            LiveError::Lookup(e) => e.category(),
            LiveError::Gate(e) => e.category(),
            LiveError::Api { category, .. } => *category,
        }
    }
}

/// What the dry-run says of one object.
enum Verdict {
    /// The apply changes nothing.
    Same,
    /// Not in the cluster: the apply creates it.
    Added,
    /// The apply changes it.
    Changed(Changed),
    /// The server refuses it.
    Rejected(String),
}

struct Probe {
    verdict: Verdict,
    /// A Job the sync deletes and creates again (its content changed), or
    /// creates for the first time.
    job_runs: bool,
    /// The conflict message of the unforced dry-run.
    conflict: Option<String>,
}

/// What the plan itself brings, which the cluster cannot know yet.
struct Ctx<'a> {
    resolver: &'a Resolver,
    /// (group, kind) of every CRD in the plan.
    crds: HashSet<(String, String)>,
    /// Namespaces the plan creates.
    namespaces: HashSet<String>,
    backoff: Backoff,
}

/// The head's plan of `ws` against the cluster. Components the sync would
/// skip (`skipIf`) are not diffed; unmet `requires` are reported.
///
/// # Errors
/// Reading the record, discovery, or API failures that are not a verdict on
/// an object: transient failures after retries, and missing permissions.
pub async fn diff_live(
    resolver: &Resolver,
    ws: &WaveSet,
    plan: &Plan,
    options: &LiveOptions,
) -> Result<PlanDiff, LiveError> {
    let waveset = ws.name.as_str();
    let store = StateStore::new(resolver.client().clone(), &options.state_namespace, waveset);
    let record = store.load().await?.map(|l| l.record);
    let mut gated = Vec::new();
    for w in &plan.waves {
        gated.push(gate(resolver, ws, w).await?);
    }
    let every: Vec<&Object> = plan
        .waves
        .iter()
        .flat_map(|w| w.components.iter().flat_map(|c| &c.objects))
        .collect();
    let objects: Vec<&Object> = plan
        .waves
        .iter()
        .zip(&gated)
        .flat_map(|(w, g)| applied_objects(w, g))
        .collect();
    let ctx = Ctx {
        resolver,
        crds: every.iter().filter_map(|o| crd_kind(&o.json)).collect(),
        namespaces: every
            .iter()
            .filter(|o| o.json["kind"] == "Namespace" && o.json["apiVersion"] == "v1")
            .map(|o| o.reference().name)
            .collect(),
        backoff: options.backoff,
    };
    let probes: Vec<Result<Probe, LiveError>> = futures::stream::iter(objects.iter())
        .map(|o| probe(&ctx, o))
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut probes = probes.into_iter();

    let planned: HashSet<ObjRef> = every.iter().map(|o| o.reference()).collect();
    let mut waves = Vec::new();
    for (w, gate) in plan.waves.iter().zip(gated) {
        let recorded = record.as_ref().and_then(|r| r.wave(&w.name));
        let mut wave = WaveDiff {
            name: w.name.clone(),
            base_digest: recorded
                .filter(|r| r.status == WaveStatus::Completed)
                .and_then(|r| r.digest.clone()),
            head_digest: Some(w.digest.clone()),
            ..WaveDiff::default()
        };
        for obj in applied_objects(w, &gate) {
            let reference = obj.reference();
            let Some(p) = probes.next() else { break };
            let p = p?;
            if p.job_runs {
                wave.jobs_rerun.push(reference.clone());
            }
            if let Some(message) = p.conflict {
                wave.conflicts.push(Conflict {
                    reference: reference.clone(),
                    message,
                });
            }
            match p.verdict {
                Verdict::Same => {}
                Verdict::Added => wave.added.push(Added {
                    yaml: masked_yaml(&obj.json),
                    reference,
                }),
                Verdict::Changed(c) => wave.changed.push(c),
                Verdict::Rejected(message) => wave.rejected.push(Rejected {
                    reference,
                    origin: obj.origin.to_string(),
                    message,
                }),
            }
        }
        let inventory = record.as_ref().and_then(|r| r.inventory.waves.get(&w.name));
        // A wave the sync skips entirely prunes nothing either.
        if !gate.skipped.iter().any(|s| s.component == "*") {
            wave.removed = pruned(resolver, waveset, inventory, &planned).await?;
        }
        wave.skipped = gate.skipped;
        wave.unmet = gate.unmet;
        waves.push(wave);
    }
    // Waves the record has and the plan no longer has: their objects go.
    if let Some(record) = &record {
        for (name, refs) in &record.inventory.waves {
            if plan.waves.iter().any(|w| &w.name == name) {
                continue;
            }
            let removed = pruned(resolver, waveset, Some(refs), &planned).await?;
            let digest = record.wave(name).and_then(|r| r.digest.clone());
            if removed.is_empty() && digest.is_none() {
                continue;
            }
            waves.push(WaveDiff {
                name: name.clone(),
                base_digest: digest,
                head_digest: None,
                removed,
                ..WaveDiff::default()
            });
        }
    }
    Ok(PlanDiff { waves })
}

/// What the sync's gates in front of a wave say now.
#[derive(Default)]
struct Gate {
    skipped: Vec<Skipped>,
    unmet: Vec<String>,
}

/// The wave's and its components' `skipIf` and `requires`, checked once
/// (no grace period: the diff reports, it does not wait), in the order the
/// sync checks them.
async fn gate(resolver: &Resolver, ws: &WaveSet, wave: &PlannedWave) -> Result<Gate, LiveError> {
    let mut out = Gate::default();
    let Some(spec) = ws.waves.iter().find(|s| s.name == wave.name) else {
        return Ok(out);
    };
    if let Some(rule) = &spec.skip_if
        && let Some(reason) = gates::should_skip(resolver, rule, &ws.name).await?
    {
        out.skipped.push(Skipped {
            component: "*".into(),
            reason,
        });
        return Ok(out);
    }
    let default_ns = ws.namespace.as_deref().unwrap_or("default");
    unmet(resolver, &spec.requires, default_ns, &mut out.unmet).await?;
    for c in &wave.components {
        let Some(cs) = spec.components.iter().find(|s| s.name == c.name) else {
            continue;
        };
        if let Some(rule) = &cs.skip_if
            && let Some(reason) = gates::should_skip(resolver, rule, &ws.name).await?
        {
            out.skipped.push(Skipped {
                component: c.name.clone(),
                reason,
            });
            continue;
        }
        unmet(resolver, &cs.requires, default_ns, &mut out.unmet).await?;
    }
    Ok(out)
}

/// Adds the requirements not met now to `out`.
async fn unmet(
    resolver: &Resolver,
    reqs: &[config::Requirement],
    default_ns: &str,
    out: &mut Vec<String>,
) -> Result<(), LiveError> {
    match gates::check_requirements(resolver, reqs, default_ns, std::time::Duration::ZERO).await {
        Ok(()) => Ok(()),
        Err(GateError::Unmet(why)) => {
            out.push(why);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The objects of the components the sync applies.
fn applied_objects<'p>(wave: &'p PlannedWave, gate: &Gate) -> impl Iterator<Item = &'p Object> {
    let skipped: HashSet<String> = gate.skipped.iter().map(|s| s.component.clone()).collect();
    let all = skipped.contains("*");
    wave.components
        .iter()
        .filter(move |c| !all && !skipped.contains(&c.name))
        .flat_map(|c| &c.objects)
}

/// The inventory's objects that the plan no longer has and a sync would
/// delete: still in the cluster, and not kept by the prune rails (asked
/// with a dry-run delete, so the server's own checks run too).
async fn pruned(
    resolver: &Resolver,
    waveset: &str,
    inventory: Option<&Vec<ObjRef>>,
    planned: &HashSet<ObjRef>,
) -> Result<Vec<ObjRef>, LiveError> {
    let stale: Vec<ObjRef> = inventory
        .into_iter()
        .flatten()
        .filter(|r| !planned.contains(r))
        .cloned()
        .collect();
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let outcome = prune(resolver, waveset, &stale, true).await;
    // Objects already gone have nothing to show.
    let deleted = outcome
        .with(|a| matches!(a, Action::Deleted))
        .map(|c| c.object.clone())
        .collect();
    match outcome.changes.into_iter().find_map(|c| match c.action {
        Action::Failed(e) => Some(e),
        _ => None,
    }) {
        Some(e) => Err(e.into()),
        None => Ok(deleted),
    }
}

/// (group, kind) a CRD defines.
fn crd_kind(v: &Value) -> Option<(String, String)> {
    crate::kinds::crd(v).map(|c| (c.group, c.kind))
}

async fn probe(ctx: &Ctx<'_>, obj: &Object) -> Result<Probe, LiveError> {
    let r = obj.reference();
    let mut desired = obj.clone();
    let job = is_job(obj);
    if job {
        jobs::stamp(&mut desired);
    }
    let verdict = |verdict| Probe {
        verdict,
        job_runs: false,
        conflict: None,
    };
    let Some(resolved) = ctx.resolver.resolve(&r.api_version, &r.kind).await? else {
        if ctx.crds.contains(&(r.group().to_owned(), r.kind.clone())) {
            // Its CRD comes with this sync: the server cannot check it yet.
            return Ok(Probe {
                job_runs: job,
                ..verdict(Verdict::Added)
            });
        }
        return Ok(verdict(Verdict::Rejected(format!(
            "the cluster does not serve {} {} and no CRD in this plan defines it",
            r.api_version, r.kind
        ))));
    };
    let api = ctx.resolver.api(&resolved, &r.namespace);
    let live = with_retries(ctx.backoff, || api.get_opt(&r.name))
        .await
        .map_err(|e| fatal(&e, obj))?;
    let Some(live) = live else {
        return Ok(match dry_run(ctx, &api, &desired, false).await {
            Ok(_) => Probe {
                job_runs: job,
                ..verdict(Verdict::Added)
            },
            // Its namespace comes with this sync: nothing to check against yet.
            Err(kube::Error::Api(s)) if s.code == 404 && ctx.namespaces.contains(&r.namespace) => {
                Probe {
                    job_runs: job,
                    ..verdict(Verdict::Added)
                }
            }
            Err(e) => verdict(rejected(&e, obj)?),
        });
    };
    let live = serde_json::to_value(&live).unwrap_or(Value::Null);
    // The revision as it is live: a sync stamps the new commit only on
    // what changes, and a reviewer wants to see what else changes.
    desired = revision::as_live(&desired, &live);

    if job
        && live
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(JOB_DIGEST))
            != desired
                .json
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(JOB_DIGEST))
    {
        // A Job is immutable: the sync deletes it and creates it again, so
        // the new one is compared with the old as a whole.
        return Ok(Probe {
            job_runs: true,
            ..verdict(Verdict::Changed(Changed {
                diff: unified(&live, &desired.json, ("live", "after sync")),
                reference: r,
                moved_from: None,
                drift: Vec::new(),
            }))
        });
    }

    let mut conflict = None;
    let after = match dry_run(ctx, &api, &desired, false).await {
        Ok(after) => after,
        Err(kube::Error::Api(s)) if s.code == 409 => {
            conflict = Some(describe(&kube::Error::Api(s), obj).0);
            match dry_run(ctx, &api, &desired, true).await {
                Ok(after) => after,
                Err(e) => {
                    return Ok(Probe {
                        conflict,
                        ..verdict(rejected(&e, obj)?)
                    });
                }
            }
        }
        Err(e) => return Ok(verdict(rejected(&e, obj)?)),
    };
    let after = serde_json::to_value(&after).unwrap_or(Value::Null);
    let diff = unified(&live, &after, ("live", "after sync"));
    let verdict = if diff.is_empty() {
        Verdict::Same
    } else {
        Verdict::Changed(Changed {
            reference: r,
            moved_from: None,
            diff,
            drift: drifted(&live, &after),
        })
    };
    Ok(Probe {
        verdict,
        job_runs: false,
        conflict,
    })
}

async fn dry_run(
    ctx: &Ctx<'_>,
    api: &kube::Api<DynamicObject>,
    obj: &Object,
    force: bool,
) -> Result<DynamicObject, kube::Error> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    params.dry_run = true;
    let name = obj.reference().name;
    let patch = Patch::Apply(&obj.json);
    with_retries(ctx.backoff, || api.patch(&name, &params, &patch)).await
}

/// Runs `call` again on transient failures, with backoff.
async fn with_retries<T, F, Fut>(backoff: Backoff, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(e)
                if crate::error::category_of_kube(&e) == Category::Transient
                    && attempt < backoff.attempts =>
            {
                tokio::time::sleep(backoff.delay(attempt)).await;
            }
            other => return other,
        }
    }
}

/// The server's refusal as a verdict (a `forbidden` too: the sync, with
/// the same credentials, would fail there); transient failures that
/// outlast the retries end the diff instead, which would be incomplete.
fn rejected(e: &kube::Error, obj: &Object) -> Result<Verdict, LiveError> {
    let (message, category) = describe(e, obj);
    match category {
        Category::Transient => Err(LiveError::Api {
            object: obj.reference(),
            message,
            category,
        }),
        _ => Ok(Verdict::Rejected(message)),
    }
}

fn fatal(e: &kube::Error, obj: &Object) -> LiveError {
    let (message, category) = describe(e, obj);
    LiveError::Api {
        object: obj.reference(),
        message,
        category,
    }
}
