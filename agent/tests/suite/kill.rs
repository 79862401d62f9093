//! Area 1: `kill -9` of `wavesync sync` in the middle of a 5-wave sync of
//! examples-repo, then a rerun.
//!
//! The kill lands while a chosen request is in flight: a kube-sim
//! [`Fault::Hook`] kills the agent when that request arrives, and the server
//! then performs it, so the agent dies not knowing whether its write
//! happened. The points are request indices drawn from a seeded RNG over the
//! request count of a clean run, plus three set up on purpose: during a
//! prune's DELETE, during a write of the record, and during a Job's
//! re-creation (between its delete and its create).
//!
//! After each kill the rerun must reach Ready at the revision with every
//! planned object present, prune only what left Git, send no apply to the
//! objects of waves the record said were completed, and run no completed
//! Job again.

use super::{Outcome, Scale};
use crate::common::{Env, TestRepo, helm_settings};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Patch, PatchParams};
use kube_sim::faults::{Call, Hook};
use kube_sim::{Fault, FaultRule, SimOptions};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wavesync::model::ObjRef;
use wavesync::plan::{self, Builtin};
use wavesync::reconcile::prepare::render_all;
use wavesync::render::Helm;
use wavesync::state::{Phase, Record, WaveStatus};

/// The WaveSet of examples-repo.
pub const WAVESET: &str = "dataplane";
/// The cluster of examples-repo the suite installs.
pub const CLUSTER: &str = "dp-east";
/// The seed of the kill points: a failure names its point, and the same
/// seed gives the same points again.
const SEED: u64 = 0x6b69_6c6c;
/// How long a sync may take before it counts as hung.
const HANG: Duration = Duration::from_secs(120);
/// How many points run at once (each has its own simulator and agent).
const PARALLEL: usize = 3;

/// The simulator of examples-repo: its operators, quick to become ready.
pub fn sim_options() -> SimOptions {
    wavesync::commands::demo::sim_options(0.1)
}

/// examples-repo, copied into the Git repository of a fresh `Env`, with the
/// StorageClass its infrastructure wave requires; returns the commit.
pub async fn examples_env() -> (Env, String) {
    let env = Env::start_with(sim_options()).await;
    env.create(
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "gp3"}, "provisioner": "simulated.wavesync.io"}),
    )
    .await;
    copy_dir(&examples_dir(), env.repo.path());
    let head = env.repo.commit("examples-repo");
    (env, head)
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// One wave of a plan: its name, digest and objects.
#[derive(Debug, Clone)]
pub struct PlannedWave {
    /// Wave name.
    pub name: String,
    /// Digest of its rendered objects.
    pub digest: String,
    /// Its objects.
    pub objects: Vec<ObjRef>,
    /// Its Jobs' content digests (what the agent stamps), by name.
    pub jobs: BTreeMap<String, String>,
}

/// The plan of the checkout at `root`, as the agent makes it.
pub fn plan_of(root: &Path) -> Vec<PlannedWave> {
    let helm = Helm::new(helm_settings());
    let ws = wavesync::config::load(root, Some(CLUSTER)).unwrap();
    let inputs = render_all(root, &ws, &helm).unwrap();
    let plan = plan::plan(&ws.name, ws.namespace.as_deref(), inputs, &Builtin).unwrap();
    plan.waves
        .iter()
        .map(|w| {
            let objects: Vec<&wavesync::model::Object> =
                w.components.iter().flat_map(|c| &c.objects).collect();
            let jobs = objects
                .iter()
                .filter(|o| wavesync::apply::jobs::is_job(o))
                .map(|o| {
                    let mut j = (*o).clone();
                    wavesync::apply::jobs::stamp(&mut j);
                    (
                        j.reference().name,
                        j.annotation(wavesync::apply::jobs::JOB_DIGEST)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            PlannedWave {
                name: w.name.clone(),
                digest: w.digest.clone(),
                objects: objects.iter().map(|o| o.reference()).collect(),
                jobs,
            }
        })
        .collect()
}

/// A `wavesync sync` process, shared with the hook that may kill it.
#[derive(Clone)]
pub struct SyncProc {
    child: Arc<Mutex<Option<Child>>>,
    /// Its log (stderr).
    pub log: PathBuf,
}

impl SyncProc {
    /// Starts `wavesync sync` of `env`'s repository, caching clones in `cache`.
    pub fn start(env: &Env, cache: &Path, log: PathBuf) -> SyncProc {
        let kc = env.temp().join("kubeconfig");
        env.sim.write_kubeconfig(&kc).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
        for (k, _) in std::env::vars() {
            if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("sync")
            .env("WAVESYNC_KUBECONFIG", &kc)
            .env("WAVESYNC_REPO", env.repo.url())
            .env("WAVESYNC_WAVESET", WAVESET)
            .env("WAVESYNC_CLUSTER", CLUSTER)
            .env("WAVESYNC_CACHE", cache)
            .env("WAVESYNC_HELM_ENGINE", "libhelm")
            .env("RUST_LOG", "warn,wavesync=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        SyncProc {
            child: Arc::new(Mutex::new(Some(cmd.spawn().unwrap()))),
            log,
        }
    }

    /// SIGKILL, and reaped: when this returns the process is gone.
    pub fn kill(&self) {
        let mut c = self.child.lock().unwrap();
        if let Some(child) = c.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status once it ended; None when it ran past `limit` (then it is killed).
    pub async fn wait(&self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self
                .child
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().unwrap())
            {
                return Some(s);
            }
            if Instant::now() > deadline {
                self.kill();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of its log, for a problem report.
    pub fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n    ")
    }
}

impl Drop for SyncProc {
    fn drop(&mut self) {
        if Arc::strong_count(&self.child) == 1 {
            self.kill();
        }
    }
}

/// Which request of the sync the agent is killed at.
#[derive(Clone)]
enum Point {
    /// The n-th request the simulator receives (from 1).
    Nth(u64),
    /// The DELETE of the pruned PriorityClass, after a second commit removed it.
    Prune,
    /// The n-th write of the state ConfigMap.
    RecordWrite(u64),
    /// The first request on db-migrate after its DELETE, after a second commit changed it.
    JobRecreate,
}

impl Point {
    fn name(&self) -> String {
        match self {
            Point::Nth(n) => format!("request #{n}"),
            Point::Prune => "prune DELETE".into(),
            Point::RecordWrite(n) => format!("record write #{n}"),
            Point::JobRecreate => "Job re-creation".into(),
        }
    }
}

/// What one point found.
#[derive(Default)]
struct Found {
    resumed: bool,
    reapplied: usize,
    duplicate_jobs: usize,
    problems: Vec<String>,
}

const PRIORITY_CLASS: &str = "dataplane-critical";
const STATE_CM: &str = "wavesync-state-dataplane";

/// Writes the second commit a point needs (a removed object, a changed
/// Job); returns the revision to sync after the first one.
fn second_commit(repo: &TestRepo, point: &Point) -> Option<String> {
    match point {
        Point::Prune => {
            repo.remove("waves/00-prerequisites/priorityclass.yaml");
            let api = repo.path().join("waves/40-apps/base/api.yaml");
            let text = std::fs::read_to_string(&api).unwrap();
            let text: String = text
                .lines()
                .filter(|l| !l.contains("priorityClassName"))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&api, text).unwrap();
            Some(repo.commit("drop the priority class"))
        }
        Point::JobRecreate => {
            let p = repo.path().join("waves/30-database/db-migrate.yaml");
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.contains("dataplane-api:1.4.2"));
            std::fs::write(
                &p,
                text.replace("dataplane-api:1.4.2", "dataplane-api:1.4.3"),
            )
            .unwrap();
            Some(repo.commit("migrate to 1.4.3"))
        }
        _ => None,
    }
}

/// The kill hook of a point: it kills `agent` when the point's request arrives.
fn kill_rule(point: &Point, agent: SyncProc, at: Arc<Mutex<Option<String>>>) -> FaultRule {
    let seen = AtomicU64::new(0);
    let deleted = std::sync::atomic::AtomicBool::new(false);
    let p = point.clone();
    let hook = Hook::new(move |c: &Call<'_>| {
        if at.lock().unwrap().is_some() {
            return;
        }
        let fire = match &p {
            Point::Nth(n) => seen.fetch_add(1, Ordering::SeqCst) + 1 == *n,
            Point::Prune => {
                c.verb == "delete"
                    && !c.dry_run
                    && c.resource == "priorityclasses"
                    && c.name == Some(PRIORITY_CLASS)
            }
            Point::RecordWrite(n) => {
                ["update", "patch", "create"].contains(&c.verb)
                    && c.resource == "configmaps"
                    && c.namespace == Some("wavesync")
                    && (c.name == Some(STATE_CM) || c.name.is_none())
                    && !c.dry_run
                    && seen.fetch_add(1, Ordering::SeqCst) + 1 == *n
            }
            Point::JobRecreate => {
                if c.resource != "jobs" || c.name != Some("db-migrate") || c.dry_run {
                    false
                } else if c.verb == "delete" {
                    deleted.store(true, Ordering::SeqCst);
                    false
                } else {
                    deleted.load(Ordering::SeqCst)
                }
            }
        };
        if fire {
            // Named before the kill: the test reads it as soon as the
            // process is gone.
            *at.lock().unwrap() = Some(format!(
                "{} {}{}",
                c.verb,
                c.resource,
                c.name.map(|n| format!("/{n}")).unwrap_or_default()
            ));
            agent.kill();
        }
    });
    let rule = FaultRule::new(Fault::Hook(hook));
    // A creating POST names no object: record writes are matched on the resource.
    match point {
        Point::RecordWrite(_) => rule.resource("configmaps"),
        _ => rule,
    }
}

/// The planned object `r`'s resource and namespace, as the counters key them.
async fn counter_key(env: &Env, r: &ObjRef) -> (String, Option<String>) {
    let resolved = env
        .resolver
        .resolve(&r.api_version, &r.kind)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{} is served", r.kind));
    let ns = (!r.namespace.is_empty()).then(|| r.namespace.clone());
    (resolved.resource.plural, ns)
}

/// Writes (not dry runs) to `r` so far.
async fn writes_to(env: &Env, r: &ObjRef) -> u64 {
    let (resource, ns) = counter_key(env, r).await;
    ["patch", "update", "delete"]
        .iter()
        .map(|v| {
            env.sim
                .counters()
                .object(v, &resource, ns.as_deref(), &r.name)
        })
        .sum()
}

/// The waves the record says are done at this revision, up to the first
/// that is not: a rerun verifies these and must not apply them.
fn completed_prefix<'p>(
    record: Option<&Record>,
    plan: &'p [PlannedWave],
    revision: &str,
) -> Vec<&'p PlannedWave> {
    let Some(record) = record else {
        return Vec::new();
    };
    if record.target_revision.as_deref() != Some(revision) {
        return Vec::new();
    }
    plan.iter()
        .take_while(|w| {
            record.wave(&w.name).is_some_and(|r| {
                matches!(r.status, WaveStatus::Completed | WaveStatus::Skipped)
                    && r.digest.as_deref() == Some(w.digest.as_str())
            })
        })
        .collect()
}

/// The Jobs that exist and completed, with their uid and content digest.
async fn completed_jobs(env: &Env) -> BTreeMap<String, (String, String)> {
    let jobs: kube::Api<Job> = kube::Api::namespaced(env.client.clone(), "dataplane");
    let Ok(list) = jobs.list(&Default::default()).await else {
        return BTreeMap::new();
    };
    list.items
        .into_iter()
        .filter(|j| j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0)
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .map(|j| {
            let digest = j
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(wavesync::apply::jobs::JOB_DIGEST))
                .cloned()
                .unwrap_or_default();
            (
                j.metadata.name.clone().unwrap_or_default(),
                (j.metadata.uid.clone().unwrap_or_default(), digest),
            )
        })
        .collect()
}

/// Lets the Lease of the killed agent lapse at once, as it would after its
/// duration (60 s for `wavesync sync`): the rerun takes it over as a
/// successor would, without the test waiting that long.
async fn expire_lease(env: &Env) {
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(env.client.clone(), "wavesync");
    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(300))
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    // No Lease when the kill came before it was taken: nothing to expire.
    let _ = leases
        .patch(
            &format!("wavesync-{WAVESET}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"renewTime": past}})),
        )
        .await;
}

/// Runs a sync to its end (no kill): Ok(requests it made) or why not.
async fn clean_sync(env: &Env, cache: &Path, log: PathBuf) -> Result<u64, String> {
    let before = env.sim.counters().total();
    let p = SyncProc::start(env, cache, log);
    match p.wait(HANG).await {
        Some(s) if s.success() => Ok(env.sim.counters().total() - before),
        Some(s) => Err(format!("exited {s}:\n    {}", p.tail())),
        None => Err(format!("hung for {HANG:?}:\n    {}", p.tail())),
    }
}

/// One point: sync (after a first clean sync for the prune and Job points)
/// until the kill, rerun, and check what the rerun did.
async fn run_point(point: Point, base_plan: Arc<Vec<PlannedWave>>) -> Found {
    let name = point.name();
    let mut found = Found::default();
    let (env, head) = examples_env().await;
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let (mut revision, mut plan) = (head, base_plan);
    let jobs_before_upgrade = if matches!(point, Point::Prune | Point::JobRecreate) {
        if let Err(e) = clean_sync(&env, &cache, work.path().join("first.log")).await {
            found
                .problems
                .push(format!("{name}: the first sync failed: {e}"));
            return found;
        }
        revision = second_commit(&env.repo, &point).unwrap();
        plan = Arc::new(plan_of(env.repo.path()));
        completed_jobs(&env).await
    } else {
        BTreeMap::new()
    };

    // The run that is killed.
    let at: Arc<Mutex<Option<String>>> = Arc::default();
    let agent = SyncProc::start(&env, &cache, work.path().join("killed.log"));
    env.sim
        .faults()
        .add(kill_rule(&point, agent.clone(), at.clone()));
    let status = agent.wait(HANG).await;
    env.sim.faults().clear();
    let Some(killed_at) = at.lock().unwrap().clone() else {
        found.problems.push(format!(
            "{name}: the sync ended ({status:?}) before the kill point:\n    {}",
            agent.tail()
        ));
        return found;
    };
    let record = crate::common::agent::try_record(&env, WAVESET).await;
    let done = completed_prefix(record.as_ref(), &plan, &revision);
    let mut writes_before = BTreeMap::new();
    for w in &done {
        for r in &w.objects {
            writes_before.insert(r.clone(), writes_to(&env, r).await);
        }
    }
    let jobs_at_kill = completed_jobs(&env).await;
    eprintln!(
        "{name}: killed at {killed_at}; completed waves {:?}; completed Jobs {:?}",
        done.iter().map(|w| &w.name).collect::<Vec<_>>(),
        jobs_at_kill.keys().collect::<Vec<_>>()
    );
    let job_deletes_before = job_deletes(&env);
    expire_lease(&env).await;

    // The rerun.
    let rerun = SyncProc::start(&env, &cache, work.path().join("rerun.log"));
    let mut fail = |p: String| {
        found
            .problems
            .push(format!("{name} (killed at {killed_at}): {p}"))
    };
    match rerun.wait(HANG).await {
        Some(s) if s.success() => {}
        Some(s) => {
            fail(format!("the rerun exited {s}:\n    {}", rerun.tail()));
            return found;
        }
        None => {
            fail(format!(
                "the rerun hung for {HANG:?}:\n    {}",
                rerun.tail()
            ));
            return found;
        }
    }
    let mut problems = Vec::new();
    match crate::common::agent::try_record(&env, WAVESET).await {
        Some(r) if r.phase == Phase::Ready && r.applied_revision.as_deref() == Some(&revision) => {}
        other => problems.push(format!(
            "the record after the rerun is not Ready at {revision}: {:?}",
            other.map(|r| (r.phase, r.applied_revision, r.message))
        )),
    }
    for r in plan.iter().flat_map(|w| &w.objects) {
        if !env
            .exists(&r.api_version, &r.kind, &r.namespace, &r.name)
            .await
        {
            problems.push(format!("{r} is lost"));
        }
    }
    if matches!(point, Point::Prune)
        && env
            .exists("scheduling.k8s.io/v1", "PriorityClass", "", PRIORITY_CLASS)
            .await
    {
        problems.push(format!(
            "PriorityClass {PRIORITY_CLASS} left Git but was not pruned"
        ));
    }
    for (r, before) in &writes_before {
        let now = writes_to(&env, r).await;
        if now != *before {
            found.reapplied += 1;
            problems.push(format!(
                "{r} of a wave the record said was completed was written {} more time(s)",
                now - before
            ));
        }
    }
    // A completed Job with the planned content must keep running once: the
    // same Job object (uid) after the rerun, never deleted by it.
    let planned_jobs: BTreeMap<&String, &String> = plan.iter().flat_map(|w| &w.jobs).collect();
    let jobs_after = completed_jobs(&env).await;
    let mut completed = jobs_before_upgrade;
    completed.extend(jobs_at_kill);
    for (job, (uid, digest)) in &completed {
        if planned_jobs.get(job) != Some(&digest) {
            continue;
        }
        if jobs_after.get(job).map(|(u, _)| u) != Some(uid) {
            found.duplicate_jobs += 1;
            problems.push(format!("Job {job} had completed but was run again"));
        }
    }
    let deletes = job_deletes(&env) - job_deletes_before;
    if deletes > 0 {
        found.duplicate_jobs += 1;
        problems.push(format!(
            "the rerun deleted (and re-ran) Jobs {deletes} time(s)"
        ));
    }
    for job in planned_jobs.keys() {
        if !jobs_after.contains_key(*job) {
            problems.push(format!("Job {job} did not complete"));
        }
    }
    found.resumed = problems.is_empty();
    for p in problems {
        fail(p);
    }
    found
}

/// DELETEs of Jobs (not dry runs) so far.
fn job_deletes(env: &Env) -> u64 {
    env.sim
        .counters()
        .objects()
        .iter()
        .filter(|(k, _)| k.verb == "delete" && k.resource == "jobs" && !k.dry_run)
        .map(|(_, n)| n)
        .sum()
}

/// Area 1: `kill -9: N/N resumed`.
pub async fn run(scale: Scale) -> Outcome {
    let started = Instant::now();
    let plan = Arc::new(plan_of(&examples_dir()));
    let mut out = Outcome::default();
    // The request count of a clean run spreads the points over the whole sync.
    let (env, _) = examples_env().await;
    let work = tempfile::tempdir().unwrap();
    env.sim.counters().reset();
    let requests = match clean_sync(
        &env,
        &work.path().join("cache"),
        work.path().join("clean.log"),
    )
    .await
    {
        Ok(n) => n,
        Err(e) => {
            out.line = "kill -9: the clean run failed".into();
            out.problems.push(format!("clean run: {e}"));
            return out;
        }
    };
    let record_writes = env
        .sim
        .counters()
        .objects()
        .iter()
        .filter(|(k, _)| k.resource == "configmaps" && k.name == STATE_CM && !k.dry_run)
        .filter(|(k, _)| k.verb == "update" || k.verb == "patch")
        .map(|(_, n)| n)
        .sum::<u64>()
        + 1;
    drop(env);
    let random = match scale {
        Scale::Test => 17,
        Scale::Full => 60,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    // Requests of a rerun-free sync vary a little with timing (health polls):
    // the last tenth is left out so that every point is reached.
    let last = (requests * 9 / 10).max(2);
    let mut indices: BTreeSet<u64> = BTreeSet::new();
    while indices.len() < random {
        indices.insert(rng.random_range(1..=last));
    }
    let mut points: Vec<Point> = indices.into_iter().map(Point::Nth).collect();
    points.push(Point::Prune);
    points.push(Point::RecordWrite(record_writes.div_ceil(2).max(2)));
    points.push(Point::JobRecreate);
    let total = points.len();
    let results: Vec<Found> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(points.into_iter().map(|p| run_point(p, plan.clone()))),
        PARALLEL,
    ))
    .await;
    let resumed = results.iter().filter(|f| f.resumed).count();
    let reapplied: usize = results.iter().map(|f| f.reapplied).sum();
    let duplicates: usize = results.iter().map(|f| f.duplicate_jobs).sum();
    out.problems = results.into_iter().flat_map(|f| f.problems).collect();
    out.line = format!(
        "kill -9: {resumed}/{total} resumed (points over {requests} requests, seed {SEED:#x}, \
         incl. prune DELETE, record write, Job re-creation); objects of completed waves re-applied: {reapplied}; \
         duplicate Job runs: {duplicates}; {:.0?}",
        started.elapsed()
    );
    out
}
