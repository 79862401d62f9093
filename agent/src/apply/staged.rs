//! Staged apply of one component, as Flux's `ApplyAllStaged`: CRDs and
//! Namespaces first (CRDs waited on until Established, so their custom
//! resources can follow at once), then everything else with bounded
//! concurrency.

use super::changeset::{Action, Change, ChangeSet};
use super::error::ApplyError;
use super::object::{self, Mode};
use super::ssa::Backoff;
use crate::cluster::Resolver;
use crate::error::{ApiFailure, Category, category_of_kube};
use crate::kinds::Class;
use crate::model::{ObjRef, Object};
use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Applies objects for one WaveSet.
#[derive(Clone)]
pub struct Applier {
    resolver: Resolver,
    /// Applies in flight at once within a stage.
    pub concurrency: usize,
    /// Send everything with `dryRun=All`.
    pub dry_run: bool,
    /// Retries of transient failures per request.
    pub backoff: Backoff,
    /// How long to wait for CRDs to be Established.
    pub crd_timeout: Duration,
    /// The source revision stamped on what is written, as
    /// [`super::revision::REVISION_ANNOTATION`].
    pub revision: Option<String>,
}

/// CRDs and Namespaces: applied first, the rest needs them.
fn is_first_stage(o: &Object) -> bool {
    matches!(
        crate::kinds::class(&o.reference()),
        Class::Crd | Class::Namespace
    )
}

fn is_crd(o: &Object) -> bool {
    crate::kinds::class(&o.reference()) == Class::Crd
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

    /// Applies `objects` (already in apply order) in two stages. `known`
    /// is what the inventory holds: those objects are compared with what is
    /// live and written only when they differ.
    pub async fn apply(&self, objects: &[Object], known: &BTreeSet<ObjRef>) -> ChangeSet {
        let mut out = ChangeSet::default();
        let (first, rest): (Vec<&Object>, Vec<&Object>) =
            objects.iter().partition(|o| is_first_stage(o));
        self.prefetch(&first).await;
        // CRDs and Namespaces do not depend on each other: apply them together.
        let first_pending: Vec<_> = first.iter().map(|o| self.apply_one(o, known)).collect();
        for change in futures::future::join_all(first_pending).await {
            out.changes.push(change);
        }
        if out.worst_failure().is_some() {
            return out;
        }
        let crds: Vec<&Object> = first.iter().copied().filter(|o| is_crd(o)).collect();
        if !crds.is_empty()
            && !self.dry_run
            && let Err(e) = self.wait_established(&crds).await
        {
            // Not one object's failure: the stage's. It is listed against
            // the first CRD so the wave's account names it.
            out.push(crds[0].reference(), Action::Failed(e), None);
            return out;
        }
        self.prefetch(&rest).await;
        // The futures are made before they enter the stream: a closure over
        // `&Object` inside it keeps the future from being provably `Send`
        // (rustc #100013), and `Engine::sync` must be spawnable.
        let pending: Vec<_> = rest.into_iter().map(|o| self.apply_one(o, known)).collect();
        let changes: Vec<Change> = futures::stream::iter(pending)
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        out.changes.extend(changes);
        out
    }

    fn apply_one<'a>(
        &'a self,
        o: &'a Object,
        known: &'a BTreeSet<ObjRef>,
    ) -> impl std::future::Future<Output = Change> + Send + 'a {
        let mode = Mode {
            revision: self.revision.as_deref(),
            known: known.contains(&o.reference()),
            dry_run: self.dry_run,
            backoff: self.backoff,
        };
        object::apply(&self.resolver, o, mode)
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
