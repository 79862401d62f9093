//! The drift detector: a background task that keeps the watches of the
//! objects wavesync applied, checks every change, confirms and heals, and
//! publishes the current findings.
//!
//! It acts only while it has a [`Desired`] set: the controller hands it
//! the objects of the completed waves after every pass it ran as leader,
//! and takes them back (pauses it) while a pass runs — a sync applying and
//! pruning is not drift — and while this replica does not lead. The
//! watches keep running while it is paused, so resuming costs no request.

use super::confirm::{Compared, compare};
use super::heal::{Ledger, Verdict};
use super::watch::{self, Observed, Scope, Seen};
use super::{Change, Finding, Healing, owned};
use crate::apply::jobs::is_job;
use crate::apply::revision;
use crate::apply::ssa::{self, Backoff};
use crate::apply::{ApplyError, WAVESET_LABEL};
use crate::cluster::Resolver;
use crate::config::{DriftPolicy, EffectiveDrift, HealLimit};
use crate::error::Categorized;
use crate::model::{ObjRef, Object};
use crate::report::Metrics;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch as channel};
use tokio::task::JoinHandle;

/// Watches per kind beyond which one cluster-wide watch replaces the
/// per-namespace ones.
const NAMESPACES_PER_KIND: usize = 3;

/// How long changes are gathered before they are checked: a `kubectl
/// apply` of many objects is checked once.
const COALESCE: Duration = Duration::from_millis(50);

/// How often contested objects and failed confirmations are looked at again.
const RETRY_TICK: Duration = Duration::from_secs(5);

/// One object to watch, as wavesync applies it.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The object as the apply sends it (a Job with its content digest).
    pub object: Object,
    /// Its wave.
    pub wave: String,
    /// Its component.
    pub component: String,
    /// The drift settings in force for its component.
    pub drift: EffectiveDrift,
}

/// The objects of the completed waves at one revision.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    /// The WaveSet (its label selects the watched objects).
    pub waveset: String,
    /// The revision they were applied at.
    pub revision: String,
    /// How often one object may be healed.
    pub heal_limit: HealLimit,
    /// The objects.
    pub objects: Vec<Watched>,
}

/// What the detector publishes after every check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The drifted objects, by reference.
    pub findings: Vec<Finding>,
    /// Objects watched.
    pub watched: usize,
    /// Watches running.
    pub watches: usize,
    /// Every watch has listed once: a missing object is known to be missing.
    pub synced: bool,
    /// The revision the findings are about.
    pub revision: String,
}

/// Something to tell people about.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// An object drifted (or drifted further).
    Detected(Finding),
    /// It was applied again.
    Healed(Finding),
    /// It was healed too often: someone keeps changing it back.
    Contested(Finding),
    /// It matches Git again.
    Resolved {
        /// The finding that ended.
        finding: Finding,
        /// `healed`, `reverted` (changed back by someone), or
        /// `re-applied by a sync`.
        how: &'static str,
    },
}

/// The controller's side of the detector.
#[derive(Clone)]
pub struct Handle {
    desired: channel::Sender<Option<Arc<Desired>>>,
}

impl Handle {
    /// Starts (or resumes) checking `desired`.
    pub fn watch(&self, desired: Arc<Desired>) {
        let _ = self.desired.send(Some(desired));
    }

    /// Stops checking (a pass runs, or this replica does not lead); the
    /// watches keep the cache warm.
    pub fn pause(&self) {
        self.desired.send_if_modified(|d| d.take().is_some());
    }
}

/// Starts the detector over `resolver`'s client. Returns its handle, its
/// current report, and its notices (a bounded queue: when the controller
/// falls behind, notices are dropped, never the detection).
pub fn spawn(
    resolver: Resolver,
    metrics: Arc<Metrics>,
) -> (
    Handle,
    channel::Receiver<Arc<Report>>,
    mpsc::Receiver<Notice>,
) {
    let (desired_tx, desired_rx) = channel::channel(None);
    let (report_tx, report_rx) = channel::channel(Arc::new(Report::default()));
    let (notice_tx, notice_rx) = mpsc::channel(256);
    let (observed_tx, observed_rx) = mpsc::channel(1024);
    let task = Task {
        resolver,
        metrics,
        desired: None,
        index: HashMap::new(),
        digests: Vec::new(),
        watches: BTreeMap::new(),
        cache: HashMap::new(),
        memo: HashMap::new(),
        findings: BTreeMap::new(),
        dirty: BTreeSet::new(),
        retry: HashMap::new(),
        ledger: Ledger::default(),
        healed: BTreeSet::new(),
        per_namespace: BTreeSet::new(),
        observed_tx,
        notices: notice_tx,
        report: report_tx,
    };
    tokio::spawn(task.run(desired_rx, observed_rx));
    (
        Handle {
            desired: desired_tx,
        },
        report_rx,
        notice_rx,
    )
}

/// A watch and whether it has listed once.
struct Running {
    task: JoinHandle<()>,
    listed: bool,
}

/// A confirmation remembered: while nobody but status writers touches the
/// object and its desired state is the same, the answer is the same.
struct Memo {
    signature: u64,
    digest: u64,
    compared: Compared,
}

struct Task {
    resolver: Resolver,
    metrics: Arc<Metrics>,
    desired: Option<Arc<Desired>>,
    /// Desired object by reference: its position in `desired.objects`.
    index: HashMap<ObjRef, usize>,
    /// A hash of each desired object, by position.
    digests: Vec<u64>,
    watches: BTreeMap<Scope, Running>,
    cache: HashMap<ObjRef, (Scope, Seen)>,
    memo: HashMap<ObjRef, Memo>,
    findings: BTreeMap<ObjRef, Finding>,
    dirty: BTreeSet<ObjRef>,
    /// Objects to look at again, and when.
    retry: HashMap<ObjRef, Instant>,
    ledger: Ledger,
    /// Objects applied again by a heal whose finding has not ended yet.
    healed: BTreeSet<ObjRef>,
    /// Kinds the agent may not watch across namespaces (a namespaced
    /// install): watched namespace by namespace whatever their number.
    per_namespace: BTreeSet<(String, String)>,
    observed_tx: mpsc::Sender<Observed>,
    notices: mpsc::Sender<Notice>,
    report: channel::Sender<Arc<Report>>,
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn hash_of(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

impl Task {
    async fn run(
        mut self,
        mut desired_rx: channel::Receiver<Option<Arc<Desired>>>,
        mut observed_rx: mpsc::Receiver<Observed>,
    ) {
        let mut due: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(RETRY_TICK);
        loop {
            tokio::select! {
                changed = desired_rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let d = desired_rx.borrow_and_update().clone();
                    self.set_desired(d).await;
                }
                Some(o) = observed_rx.recv() => {
                    if self.observe(o) {
                        let d = self.desired.clone();
                        self.set_desired(d).await;
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let ready: Vec<ObjRef> = self.retry.iter().filter(|(_, t)| **t <= now).map(|(r, _)| r.clone()).collect();
                    for r in ready {
                        self.retry.remove(&r);
                        self.dirty.insert(r);
                    }
                }
                _ = async { tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)).await }, if due.is_some() => {
                    due = None;
                    self.check().await;
                    self.publish();
                }
            }
            if due.is_none() && self.desired.is_some() && !self.dirty.is_empty() {
                due = Some(tokio::time::Instant::now() + COALESCE);
            }
        }
        for (_, w) in std::mem::take(&mut self.watches) {
            w.task.abort();
        }
    }

    /// A new desired set (or a pause): start the watches it needs, stop the
    /// others, and check everything again.
    async fn set_desired(&mut self, desired: Option<Arc<Desired>>) {
        let Some(d) = desired else {
            self.desired = None;
            return;
        };
        self.index = d
            .objects
            .iter()
            .enumerate()
            .map(|(i, w)| (w.object.reference(), i))
            .collect();
        self.digests = d.objects.iter().map(|w| hash_of(&w.object.json)).collect();
        let scopes = self.scopes(&d).await;
        let stale: Vec<Scope> = self
            .watches
            .keys()
            .filter(|s| !scopes.contains_key(*s))
            .cloned()
            .collect();
        for s in stale {
            if let Some(w) = self.watches.remove(&s) {
                w.task.abort();
            }
            self.cache.retain(|_, (scope, _)| *scope != s);
        }
        let selector = format!("{WAVESET_LABEL}={}", d.waveset);
        for (scope, resolved) in scopes {
            if self.watches.contains_key(&scope) {
                continue;
            }
            let task = watch::spawn(
                self.resolver.client().clone(),
                resolved,
                scope.clone(),
                selector.clone(),
                self.observed_tx.clone(),
            );
            self.watches.insert(
                scope,
                Running {
                    task,
                    listed: false,
                },
            );
        }
        // Findings about objects no longer desired ended with the pass
        // that removed or re-applied them.
        let gone: Vec<ObjRef> = self
            .findings
            .keys()
            .filter(|r| !self.index.contains_key(*r))
            .cloned()
            .collect();
        for r in gone {
            if let Some(f) = self.findings.remove(&r) {
                self.notice(Notice::Resolved {
                    finding: f,
                    how: "re-applied by a sync",
                });
            }
        }
        self.memo.retain(|r, _| self.index.contains_key(r));
        let index = &self.index;
        self.ledger.retain(|r| index.contains_key(r));
        self.dirty = self.index.keys().cloned().collect();
        self.desired = Some(d);
        self.metrics.drift_watches(self.watches.len());
        self.publish();
    }

    /// The watches `d` needs: per kind, one per namespace in use, or one
    /// across all namespaces when it spans many.
    async fn scopes(&self, d: &Desired) -> BTreeMap<Scope, crate::cluster::resolver::Resolved> {
        let mut by_kind: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for w in &d.objects {
            let r = w.object.reference();
            by_kind
                .entry((r.api_version.clone(), r.kind.clone()))
                .or_default()
                .insert(r.namespace.clone());
        }
        let mut out = BTreeMap::new();
        for ((api_version, kind), namespaces) in by_kind {
            let resolved = match self.resolver.resolve(&api_version, &kind).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    tracing::warn!(%api_version, %kind, "the cluster does not serve this kind: its objects are not watched for drift");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%api_version, %kind, error = %e, category = %e.category(), "discovery failed: this kind is not watched for drift");
                    continue;
                }
            };
            let scope = |namespace| Scope {
                api_version: api_version.clone(),
                kind: kind.clone(),
                namespace,
            };
            let many = namespaces.len() > NAMESPACES_PER_KIND
                && !self
                    .per_namespace
                    .contains(&(api_version.clone(), kind.clone()));
            if !resolved.namespaced || many {
                out.insert(scope(None), resolved);
            } else {
                for ns in namespaces {
                    out.insert(scope(Some(ns)), resolved.clone());
                }
            }
        }
        out
    }

    /// Takes in one watch report; true when the watches must be set up
    /// again (a cluster-wide watch was forbidden).
    fn observe(&mut self, o: Observed) -> bool {
        match o {
            Observed::Listed { scope, objects } => {
                if let Some(w) = self.watches.get_mut(&scope) {
                    w.listed = true;
                }
                let listed: BTreeSet<ObjRef> = objects.iter().map(|s| s.object.clone()).collect();
                let dropped: Vec<ObjRef> = self
                    .cache
                    .iter()
                    .filter(|(r, (s, _))| *s == scope && !listed.contains(*r))
                    .map(|(r, _)| r.clone())
                    .collect();
                for r in dropped {
                    self.cache.remove(&r);
                    self.dirty.insert(r);
                }
                for seen in objects {
                    self.dirty.insert(seen.object.clone());
                    self.cache
                        .insert(seen.object.clone(), (scope.clone(), seen));
                }
                // Objects of this scope that the list did not return.
                for r in self.index.keys() {
                    if scope_covers(&scope, r) {
                        self.dirty.insert(r.clone());
                    }
                }
                self.metrics.drift_watch_event("listed");
            }
            Observed::Changed { scope, seen } => {
                let r = seen.object.clone();
                let unchanged = self.cache.get(&r).is_some_and(|(_, old)| {
                    old.signature == seen.signature
                        && old.owned == seen.owned
                        && old.deleting == seen.deleting
                });
                self.cache.insert(r.clone(), (scope, seen));
                // A status update changes nothing wavesync owns.
                if !unchanged {
                    self.dirty.insert(r);
                }
                self.metrics.drift_watch_event("changed");
            }
            Observed::Gone { object, .. } => {
                self.cache.remove(&object);
                self.dirty.insert(object);
                self.metrics.drift_watch_event("deleted");
            }
            Observed::Failed {
                scope,
                error,
                forbidden,
            } => {
                self.metrics.drift_watch_event("failed");
                if forbidden && scope.namespace.is_none() {
                    let kind = (scope.api_version.clone(), scope.kind.clone());
                    if self.per_namespace.insert(kind) {
                        tracing::info!(watch = %scope, "watching across namespaces is forbidden; watching namespace by namespace");
                        return true;
                    }
                }
                tracing::warn!(watch = %scope, %error, "drift watch failed; retrying with backoff");
            }
        }
        false
    }

    /// Checks every dirty object.
    async fn check(&mut self) {
        let Some(d) = self.desired.clone() else {
            return;
        };
        let dirty = std::mem::take(&mut self.dirty);
        for r in dirty {
            let Some(&i) = self.index.get(&r) else {
                continue;
            };
            let w = &d.objects[i];
            let listed = self
                .watches
                .iter()
                .any(|(s, run)| run.listed && scope_covers(s, &r));
            let verdict = match self.cache.get(&r) {
                None if !listed => continue,
                None => Some(Change::Deleted),
                Some((_, seen)) if seen.deleting => Some(Change::Deleted),
                Some((_, seen)) => {
                    if owned::unowned(&w.object.json, seen.owned.as_ref()).is_empty()
                        && !write_only(&w.object)
                    {
                        None
                    } else {
                        let seen = seen.clone();
                        match self.confirm(&r, w, &seen, self.digests[i]).await {
                            Ok(Some(c)) if c.drifted.is_empty() => None,
                            Ok(Some(c)) => Some(Change::Changed { fields: c.drifted }),
                            Ok(None) => Some(Change::Deleted),
                            Err(e) => {
                                tracing::warn!(object = %r, error = %e, category = %e.category(), "could not confirm drift; trying again shortly");
                                self.retry.insert(r.clone(), Instant::now() + RETRY_TICK);
                                continue;
                            }
                        }
                    }
                }
            };
            match verdict {
                None => self.clean(&r),
                Some(change) => self.drifted(w, change, &d).await,
            }
        }
    }

    /// The value-level comparison, remembered per signature.
    async fn confirm(
        &mut self,
        r: &ObjRef,
        w: &Watched,
        seen: &Seen,
        digest: u64,
    ) -> Result<Option<Compared>, ApplyError> {
        if let Some(m) = self.memo.get(r)
            && m.signature == seen.signature
            && m.digest == digest
        {
            return Ok(Some(Compared {
                drifted: m.compared.drifted.clone(),
                ignored: m.compared.ignored.clone(),
            }));
        }
        self.metrics.drift_confirmation();
        let Some((_, live)) = self.resolver.get(r).await? else {
            return Ok(None);
        };
        let Some(live) = live else {
            return Ok(None);
        };
        let live = serde_json::to_value(live).map_err(|e| ApplyError::Decode {
            object: r.clone(),
            message: e.to_string(),
        })?;
        let desired = revision::as_live(&w.object, &live);
        let after = ssa::apply(&self.resolver, &desired, true, Backoff::default()).await?;
        let compared = compare(r, &live, &after, &w.drift.ignore);
        if !compared.ignored.is_empty() {
            tracing::debug!(object = %r, ignored = ?compared.ignored, "differences ignored by rules");
        }
        self.memo.insert(
            r.clone(),
            Memo {
                signature: seen.signature,
                digest,
                compared: Compared {
                    drifted: compared.drifted.clone(),
                    ignored: compared.ignored.clone(),
                },
            },
        );
        Ok(Some(compared))
    }

    fn clean(&mut self, r: &ObjRef) {
        if let Some(f) = self.findings.remove(r) {
            let how = if self.healed.remove(r) {
                "healed"
            } else {
                "reverted"
            };
            tracing::info!(object = %r, how, "drift resolved");
            self.notice(Notice::Resolved { finding: f, how });
        }
    }

    async fn drifted(&mut self, w: &Watched, change: Change, d: &Desired) {
        let r = w.object.reference();
        let previous = self.findings.get(&r).cloned();
        let mut finding = Finding {
            object: r.clone(),
            wave: w.wave.clone(),
            component: w.component.clone(),
            since: previous.as_ref().map_or_else(now, |p| p.since.clone()),
            healing: Healing::Alert,
            change,
        };
        let fresh = previous.as_ref().is_none_or(|p| p.change != finding.change);
        if fresh {
            tracing::warn!(finding = %finding.summary(), "drift");
            self.metrics.drift_detected(&d.waveset, &w.wave);
            self.notice(Notice::Detected(finding.clone()));
        }
        if w.drift.policy == DriftPolicy::Heal {
            finding.healing = self.heal(w, &finding, d).await;
        }
        self.findings.insert(r, finding);
    }

    /// Applies the object again, within the heal limit.
    async fn heal(&mut self, w: &Watched, finding: &Finding, d: &Desired) -> Healing {
        let r = &finding.object;
        if is_job(&w.object) && finding.change == Change::Deleted {
            return Healing::NotHealed {
                why: "a deleted Job is not created again by a heal (it would run again): \
                      run `wavesync sync --repair` to run it"
                    .into(),
            };
        }
        let by = finding
            .managers()
            .into_iter()
            .next()
            .unwrap_or_else(|| "unknown".into());
        match self.ledger.decide(r, Instant::now(), d.heal_limit) {
            Verdict::Contested { retry_in } => {
                let healing = Healing::Contested { by };
                let was = self.findings.get(r).map(|f| f.healing.clone());
                if was.as_ref() != Some(&healing) {
                    tracing::warn!(object = %r, manager = ?healing, ?retry_in, "drift contested: healed too often; backing off");
                    self.metrics.drift_heal(&d.waveset, "contested");
                    let mut f = finding.clone();
                    f.healing = healing.clone();
                    self.notice(Notice::Contested(f));
                }
                self.retry.insert(r.clone(), Instant::now() + retry_in);
                healing
            }
            Verdict::Heal(n) => {
                // A failed read is a failed heal, not "the object is gone":
                // applying then would stamp the wrong revision on it.
                let heal = async {
                    let live = match self.resolver.get(r).await? {
                        Some((_, Some(l))) => {
                            serde_json::to_value(l).map_err(|e| ApplyError::Decode {
                                object: r.clone(),
                                message: e.to_string(),
                            })?
                        }
                        _ => Value::Null,
                    };
                    let mut object = revision::as_live(&w.object, &live);
                    if live.is_null() {
                        revision::stamp(&mut object, &d.revision);
                    }
                    ssa::apply(&self.resolver, &object, false, Backoff::default()).await
                };
                match heal.await {
                    Ok(_) => {
                        tracing::info!(object = %r, heal = n, "drift healed: applied again");
                        self.metrics.drift_heal(&d.waveset, "healed");
                        self.healed.insert(r.clone());
                        let mut f = finding.clone();
                        f.healing = Healing::Healing { heals: n };
                        self.notice(Notice::Healed(f));
                        Healing::Healing { heals: n }
                    }
                    Err(e) => {
                        tracing::warn!(object = %r, error = %e, category = %e.category(), "heal failed");
                        self.metrics.drift_heal(&d.waveset, "failed");
                        self.retry.insert(r.clone(), Instant::now() + RETRY_TICK);
                        Healing::NotHealed {
                            why: format!("the heal failed ({}): {e}", e.category()),
                        }
                    }
                }
            }
        }
    }

    fn notice(&self, n: Notice) {
        if self.notices.try_send(n).is_err() {
            tracing::debug!("drift notice dropped: the controller is behind");
        }
    }

    fn publish(&self) {
        let Some(d) = &self.desired else { return };
        let report = Report {
            findings: self.findings.values().cloned().collect(),
            watched: d.objects.len(),
            watches: self.watches.len(),
            synced: self.watches.values().all(|w| w.listed),
            revision: d.revision.clone(),
        };
        self.metrics
            .drift_objects(&d.waveset, report.findings.len());
        self.report.send_if_modified(|old| {
            if **old == report {
                false
            } else {
                *old = Arc::new(report);
                true
            }
        });
    }
}

/// A Secret applied with `stringData`: the server moves it to `data`, so
/// wavesync's ownership of it says nothing about the live value; every
/// change of the object is compared by value (once per change).
fn write_only(o: &Object) -> bool {
    o.json["kind"] == "Secret"
        && o.json
            .get("stringData")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
}

fn scope_covers(s: &Scope, r: &ObjRef) -> bool {
    s.kind == r.kind
        && ObjRef {
            api_version: s.api_version.clone(),
            kind: s.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        } == *r
        && s.namespace.as_deref().is_none_or(|ns| ns == r.namespace)
}
