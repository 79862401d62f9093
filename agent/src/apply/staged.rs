//! Staged apply of one component, as Flux's `ApplyAllStaged`: CRDs and
//! Namespaces first (CRDs waited on until Established, so their custom
//! resources can follow at once), then everything else with bounded
//! concurrency.

use super::error::ApplyError;
use super::jobs;
use super::resolver::Resolver;
use super::ssa::{self, Backoff};
use crate::error::{ApiFailure, Category, category_of_kube};
use crate::model::{ObjRef, Object};
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// What an apply did: the objects now in the cluster, and what failed.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// Objects applied successfully (they belong in the inventory).
    pub applied: Vec<ObjRef>,
    /// The live objects the server returned, so health need not read them again.
    pub live: Vec<(ObjRef, Value)>,
    /// Jobs deleted and recreated because their content changed.
    pub recreated_jobs: Vec<ObjRef>,
    /// Failures, one per object.
    pub errors: Vec<ApplyError>,
}

/// Applies objects for one WaveSet.
#[derive(Clone)]
pub struct Applier {
    resolver: Resolver,
    /// Applies in flight at once within a stage.
    pub concurrency: usize,
    /// Send everything with `dryRun=All`.
    pub dry_run: bool,
    /// Retries of transient failures per object.
    pub backoff: Backoff,
    /// How long to wait for CRDs to be Established.
    pub crd_timeout: Duration,
    /// The source revision stamped on every object as [`REVISION_ANNOTATION`].
    pub revision: Option<String>,
}

/// The Git revision that last applied an object. Stamped at apply time,
/// after the wave digest and a Job's content digest are taken, so that a new
/// commit neither re-runs unchanged waves nor re-creates unchanged Jobs.
pub const REVISION_ANNOTATION: &str = "wavesync.io/revision";

/// `o` with the revision annotation, when there is one to add.
fn stamped<'a>(o: &'a Object, revision: Option<&str>) -> std::borrow::Cow<'a, Object> {
    let Some(revision) = revision else {
        return std::borrow::Cow::Borrowed(o);
    };
    let mut o = o.clone();
    if let Some(meta) = o.json.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(
                REVISION_ANNOTATION.into(),
                Value::String(revision.to_owned()),
            );
        }
    }
    std::borrow::Cow::Owned(o)
}

fn is_first_stage(o: &Object) -> bool {
    let kind = o
        .json
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    matches!(kind, "CustomResourceDefinition" | "Namespace")
}

fn is_crd(o: &Object) -> bool {
    o.json.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
}

impl Applier {
    /// An applier over `resolver` with default settings (16 in flight).
    pub fn new(resolver: Resolver) -> Self {
        Applier {
            resolver,
            concurrency: 16,
            dry_run: false,
            backoff: Backoff::default(),
            crd_timeout: Duration::from_secs(60),
            revision: None,
        }
    }

    /// The resolver.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Applies `objects` (already in apply order) in two stages.
    pub async fn apply(&self, objects: &[Object]) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        let (first, rest): (Vec<&Object>, Vec<&Object>) =
            objects.iter().partition(|o| is_first_stage(o));
        self.prefetch(&first).await;
        // CRDs and Namespaces do not depend on each other: apply them together.
        let first_pending: Vec<_> = first
            .iter()
            .map(|o| async move {
                let o = stamped(o, self.revision.as_deref());
                ssa::apply(&self.resolver, &o, self.dry_run, self.backoff).await
            })
            .collect();
        let first_results = futures::future::join_all(first_pending).await;
        for (o, res) in first.iter().zip(first_results) {
            match res {
                Ok(live) => {
                    out.applied.push(o.reference());
                    out.live.push((o.reference(), live));
                }
                Err(e) => out.errors.push(e),
            }
        }
        if !out.errors.is_empty() {
            return out;
        }
        let crds: Vec<&Object> = first.iter().copied().filter(|o| is_crd(o)).collect();
        if !crds.is_empty()
            && !self.dry_run
            && let Err(e) = self.wait_established(&crds).await
        {
            out.errors.push(e);
            return out;
        }
        self.prefetch(&rest).await;
        // The futures are made before they enter the stream: a closure over
        // `&Object` inside it keeps the future from being provably `Send`
        // (rustc #100013), and `Engine::sync` must be spawnable.
        let pending: Vec<_> = rest
            .into_iter()
            .map(|o| self.apply_second_stage(o))
            .collect();
        let results: Vec<(ObjRef, bool, Result<Value, ApplyError>)> =
            futures::stream::iter(pending)
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        for (r, recreated, res) in results {
            match res {
                Ok(live) => {
                    if recreated {
                        out.recreated_jobs.push(r.clone());
                    }
                    out.live.push((r.clone(), live));
                    out.applied.push(r);
                }
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    /// Resolves each kind once before a concurrent stage, rather than once per
    /// object racing on an empty cache. A kind that fails here fails again, with
    /// its object named, when applied.
    async fn prefetch(&self, objects: &[&Object]) {
        let mut kinds: Vec<(String, String)> = objects
            .iter()
            .map(|o| {
                let r = o.reference();
                (r.api_version, r.kind)
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        for (api_version, kind) in &kinds {
            let _ = self.resolver.resolve(api_version, kind).await;
        }
    }

    async fn apply_second_stage(&self, o: &Object) -> (ObjRef, bool, Result<Value, ApplyError>) {
        let r = o.reference();
        if !jobs::is_job(o) {
            return (
                r,
                false,
                ssa::apply(
                    &self.resolver,
                    &stamped(o, self.revision.as_deref()),
                    self.dry_run,
                    self.backoff,
                )
                .await,
            );
        }
        let mut job = o.clone();
        jobs::stamp(&mut job);
        let recreated = if self.dry_run {
            false
        } else {
            match jobs::replace_if_changed(&self.resolver, &job, Duration::from_secs(60)).await {
                Ok(d) => d,
                Err(e) => return (r, false, Err(e)),
            }
        };
        (
            r,
            recreated,
            ssa::apply(
                &self.resolver,
                &stamped(&job, self.revision.as_deref()),
                self.dry_run,
                self.backoff,
            )
            .await,
        )
    }

    /// Waits until every CRD in `crds` is Established.
    async fn wait_established(&self, crds: &[&Object]) -> Result<(), ApplyError> {
        let start = Instant::now();
        for crd in crds {
            let r = crd.reference();
            let Some(resolved) = self.resolver.resolve(&r.api_version, &r.kind).await? else {
                continue;
            };
            let api = self.resolver.api(&resolved, "");
            let mut last_error = None;
            loop {
                let live = match api.get_opt(&r.name).await {
                    Ok(live) => live,
                    // A 403 or a bad answer does not pass by waiting: say so
                    // now rather than "not Established" at the timeout.
                    Err(e) if category_of_kube(&e) != Category::Transient => {
                        return Err(ApplyError::Read {
                            object: r.clone(),
                            source: Box::new(e.into()),
                        });
                    }
                    Err(e) => {
                        last_error = Some(ApiFailure::from(e));
                        None
                    }
                };
                let established = live
                    .as_ref()
                    .and_then(|l| l.data.pointer("/status/conditions"))
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    });
                if established {
                    break;
                }
                if start.elapsed() > self.crd_timeout {
                    let last = last_error
                        .map(|e| format!(" (last read failed: {e})"))
                        .unwrap_or_default();
                    return Err(ApplyError::Timeout(format!(
                        "{}: {r} was not Established within {:?}{last}",
                        crd.origin, self.crd_timeout
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}
