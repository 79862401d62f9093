//! Area 3: agents. Two `wavesync run` agents on the same WaveSet, of which
//! only one may act; the leader killed with SIGKILL mid-wave, so the
//! standby takes over once the Lease lapses and resumes; and the API server
//! restarted mid-sync (a new server on the same port), once with its store
//! kept and once with it lost.
//!
//! Mid-wave is made certain rather than hoped for: the first apply of the
//! PostgreSQL `Cluster` (infrastructure wave) is held for a few seconds by
//! injected latency, and the test acts while the agent waits on it.

use super::kill::{PlannedWave, WAVESET, examples_env, plan_of};
use super::{Outcome, Scale};
use crate::common::Env;
use crate::common::agent::{AgentProc, metric, try_record};
use kube_sim::{Fault, FaultRule, Storage};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use wavesync::model::ObjRef;
use wavesync::state::{Phase, Record, WaveStatus};

/// How long the held apply lasts: the window the test acts in.
const HOLD: Duration = Duration::from_secs(4);
/// A generous bound for reaching Ready: more means a hang.
const READY: Duration = Duration::from_secs(90);

/// The agent's environment: examples-repo for dp-east, short intervals and
/// a 6 s lease so that a takeover is quick.
fn agent_env(env: &Env) -> Vec<(&'static str, String)> {
    let kc = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kc).unwrap();
    vec![
        ("WAVESYNC_KUBECONFIG", kc.display().to_string()),
        ("WAVESYNC_REPO", env.repo.url()),
        ("WAVESYNC_WAVESET", WAVESET.into()),
        ("WAVESYNC_CLUSTER", super::kill::CLUSTER.into()),
        ("WAVESYNC_INTERVAL", "1s".into()),
        ("WAVESYNC_LEASE_DURATION", "6s".into()),
        ("WAVESYNC_LEASE_RENEW_DEADLINE", "4s".into()),
        ("WAVESYNC_LEASE_RETRY_PERIOD", "1s".into()),
        ("WAVESYNC_RETRY_BACKOFF", "1s".into()),
        ("WAVESYNC_MAX_BACKOFF", "3s".into()),
    ]
}

/// Holds the first apply of the infrastructure wave's `Cluster`.
fn hold_infrastructure(env: &Env) {
    env.sim.faults().add(
        FaultRule::new(Fault::Latency(HOLD))
            .verb("patch")
            .resource("clusters")
            .name("pg")
            .times(1),
    );
}

/// Some(record) once the infrastructure wave is in progress.
async fn in_infrastructure(env: &Env) -> Option<Record> {
    let r = try_record(env, WAVESET).await?;
    (r.wave("infrastructure")?.status == WaveStatus::InProgress).then_some(r)
}

async fn wait_for<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Ready at `head`, every planned object present: None when it is so,
/// else what is wrong.
async fn ready_and_whole(env: &Env, head: &str, plan: &[PlannedWave]) -> Option<String> {
    let ready = wait_for(READY, || async {
        try_record(env, WAVESET)
            .await
            .filter(|r| r.phase == Phase::Ready && r.applied_revision.as_deref() == Some(head))
    })
    .await;
    if ready.is_none() {
        return Some(format!(
            "not Ready at {head} within {READY:?}: {:?}",
            try_record(env, WAVESET).await.map(|r| (r.phase, r.message))
        ));
    }
    let mut lost = Vec::new();
    for r in plan.iter().flat_map(|w| &w.objects) {
        if !env
            .exists(&r.api_version, &r.kind, &r.namespace, &r.name)
            .await
        {
            lost.push(r.to_string());
        }
    }
    (!lost.is_empty()).then(|| format!("objects lost: {lost:?}"))
}

/// Writes (not dry runs) to each object of the waves completed in `record`.
async fn completed_writes(
    env: &Env,
    record: &Record,
    plan: &[PlannedWave],
) -> BTreeMap<ObjRef, u64> {
    let mut out = BTreeMap::new();
    let done = plan.iter().take_while(|w| {
        record.wave(&w.name).is_some_and(|r| {
            r.status == WaveStatus::Completed && r.digest.as_deref() == Some(w.digest.as_str())
        })
    });
    for w in done {
        for r in &w.objects {
            let resolved = env
                .resolver
                .resolve(&r.api_version, &r.kind)
                .await
                .unwrap()
                .unwrap();
            let ns = (!r.namespace.is_empty()).then_some(r.namespace.as_str());
            let n: u64 = ["patch", "update", "delete"]
                .iter()
                .map(|v| {
                    env.sim
                        .counters()
                        .object(v, &resolved.resource.plural, ns, &r.name)
                })
                .sum();
            out.insert(r.clone(), n);
        }
    }
    out
}

/// Job DELETEs (not dry runs): a Job runs twice only if it is deleted and made again.
fn job_deletes(env: &Env) -> u64 {
    env.sim
        .counters()
        .objects()
        .iter()
        .filter(|(k, _)| k.verb == "delete" && k.resource == "jobs" && !k.dry_run)
        .map(|(_, n)| n)
        .sum()
}

/// (a) + (b): two agents at once; the leader killed mid-wave.
async fn two_agents(plan: &[PlannedWave], problems: &mut Vec<String>) -> (bool, bool) {
    let (env, head) = examples_env().await;
    hold_infrastructure(&env);
    let envs = agent_env(&env);
    let mut agents = vec![
        AgentProc::start("agent-a", &envs, &[]),
        AgentProc::start("agent-b", &envs, &[]),
    ];
    let Some(before) = wait_for(READY, || in_infrastructure(&env)).await else {
        problems.push(format!(
            "two agents: the infrastructure wave never started; agent-a logged:\n{}",
            agents[0].log()
        ));
        return (false, false);
    };
    // One holder, one acting agent: the other ran no pass at all.
    let holder = crate::common::agent::lease(&env, &format!("wavesync-{WAVESET}"))
        .await
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(String::from))
        .unwrap_or_default();
    let (leader, standby) = match holder.as_str() {
        "agent-a" => (0, 1),
        "agent-b" => (1, 0),
        other => {
            problems.push(format!("two agents: the lease is held by {other:?}"));
            return (false, false);
        }
    };
    let mut one_actor = true;
    let ms = agents[standby].metrics().await;
    if metric(&ms, "wavesync_leader", &[]) != Some(0.0)
        || metric(&ms, "wavesync_reconcile_total", &[]).is_some()
    {
        one_actor = false;
        problems.push(format!(
            "two agents: the standby acts too (leader {:?}, passes {:?})",
            metric(&ms, "wavesync_leader", &[]),
            metric(&ms, "wavesync_reconcile_total", &[])
        ));
    }
    let ml = agents[leader].metrics().await;
    if metric(&ml, "wavesync_leader", &[]) != Some(1.0) {
        one_actor = false;
        problems.push("two agents: the lease holder does not say it leads".into());
    }
    let writers: Vec<String> = crate::common::agent::events(&env)
        .await
        .iter()
        .filter(|e| e["reason"] == "SyncStarted" || e["reason"] == "WaveStarted")
        .filter_map(|e| e["reportingInstance"].as_str().map(String::from))
        .collect();
    if writers.iter().any(|w| *w != holder) {
        one_actor = false;
        problems.push(format!(
            "two agents: syncs reported by {writers:?}, not only {holder}"
        ));
    }

    // (b) SIGKILL the leader while it waits on the held apply.
    let writes = completed_writes(&env, &before, plan).await;
    let done_waves: Vec<&str> = before
        .waves
        .iter()
        .filter(|w| w.status == WaveStatus::Completed)
        .map(|w| w.name.as_str())
        .collect();
    if done_waves.len() < 2 {
        problems.push(format!(
            "two agents: expected prerequisites and operators completed before the kill: {done_waves:?}"
        ));
    }
    agents[leader].child.kill().unwrap();
    let _ = agents[leader].child.wait();
    let mut resumed = true;
    if let Some(p) = ready_and_whole(&env, &head, plan).await {
        resumed = false;
        problems.push(format!(
            "takeover: {p}; the standby logged:\n{}",
            agents[standby].log()
        ));
    }
    let now = crate::common::agent::lease(&env, &format!("wavesync-{WAVESET}"))
        .await
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(String::from));
    let other = if leader == 0 { "agent-b" } else { "agent-a" };
    if now.as_deref() != Some(other) {
        resumed = false;
        problems.push(format!(
            "takeover: the lease is held by {now:?}, not {other}"
        ));
    }
    for (r, n) in completed_writes(&env, &before, plan).await {
        if writes.get(&r) != Some(&n) {
            resumed = false;
            problems.push(format!(
                "takeover: {r} of a wave completed before the kill was applied again"
            ));
        }
    }
    if job_deletes(&env) > 0 {
        problems.push("two agents: a Job was deleted and run again".into());
    }
    agents.clear();
    (one_actor, resumed)
}

/// (c) The API server restarted while the agent waits on the held apply.
async fn api_restart(storage: Storage, plan: &[PlannedWave], problems: &mut Vec<String>) -> bool {
    let what = match storage {
        Storage::Kept => "api restart (store kept)",
        Storage::Lost => "api restart (store lost)",
    };
    let (mut env, head) = examples_env().await;
    hold_infrastructure(&env);
    let agent = AgentProc::start("agent-a", &agent_env(&env), &[]);
    if wait_for(READY, || in_infrastructure(&env)).await.is_none() {
        problems.push(format!(
            "{what}: the infrastructure wave never started:\n{}",
            agent.log()
        ));
        return false;
    }
    env.sim
        .restart(storage, Duration::from_secs(1))
        .await
        .unwrap();
    if storage == Storage::Lost {
        // The cluster's own StorageClass, which the cluster's admins (not
        // wavesync) provide; everything wavesync made is for it to redo.
        env.create(
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "gp3"}, "provisioner": "simulated.wavesync.io"}),
        )
        .await;
    }
    match ready_and_whole(&env, &head, plan).await {
        None => true,
        Some(p) => {
            problems.push(format!(
                "{what}: {p}; the agent logged:\n{}",
                tail(&agent.log())
            ));
            false
        }
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Area 3: `agents: one actor, takeover resumed, api restart (kept, lost) resumed, 0 duplicate Job runs`.
pub async fn run(scale: Scale) -> Outcome {
    let started = Instant::now();
    let plan = plan_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo"));
    let mut problems = Vec::new();
    let rounds = match scale {
        Scale::Test => 1,
        Scale::Full => 3,
    };
    let (mut actors, mut takeovers, mut kept, mut lost) = (0, 0, 0, 0);
    for _ in 0..rounds {
        let (one, resumed) = two_agents(&plan, &mut problems).await;
        actors += usize::from(one);
        takeovers += usize::from(resumed);
        kept += usize::from(api_restart(Storage::Kept, &plan, &mut problems).await);
        lost += usize::from(api_restart(Storage::Lost, &plan, &mut problems).await);
    }
    let duplicates = problems.iter().filter(|p| p.contains("run again")).count();
    Outcome {
        line: format!(
            "agents: one actor {actors}/{rounds}, takeover resumed {takeovers}/{rounds}, \
             api restart resumed (kept {kept}/{rounds}, lost {lost}/{rounds}), \
             {duplicates} duplicate Job runs; {:.0?}",
            started.elapsed()
        ),
        problems,
    }
}
