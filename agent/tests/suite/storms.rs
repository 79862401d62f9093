//! Fault storms: a share of every request to the simulated API server (every
//! verb and resource, the state ConfigMap, the Lease and discovery included)
//! gets a 429 with Retry-After, a 500, 503 or 504, a dropped connection or
//! +200 ms. Under a 10 % and a 30 % storm a multi-wave sync must still reach
//! Ready with every object right and the record consistent; past the retry
//! budget it must fail as *transient* (never stalled, never `config`), and the
//! CLI must exit non-zero saying so.

use super::{Outcome, Scale};
use crate::common::*;
use kube_sim::{Fault, FaultRule};
use std::process::Command;
use std::time::{Duration, Instant};
use wavesync::error::{Categorized, Category};
use wavesync::state::{Phase, WaveStatus};

/// The faults of a storm, in equal shares.
fn storm_faults() -> Vec<Fault> {
    vec![
        Fault::Status(429),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Status(504),
        Fault::Drop,
        Fault::Latency(Duration::from_millis(200)),
    ]
}

/// Rules that together hit about `rate` of all requests: the rules are
/// tried in order and the first hit wins, so each gets the probability
/// that makes the union `rate`.
fn storm(env: &Env, rate: f64, seed: u64) {
    let faults = storm_faults();
    let each = 1.0 - (1.0 - rate).powf(1.0 / faults.len() as f64);
    let f = env.sim.faults();
    f.seed(seed);
    for fault in faults {
        f.add(FaultRule::new(fault).probability(each));
    }
}

/// The standard repository with a short wave retry backoff, so a wave that
/// does fail transiently under a storm is retried within the test's time.
fn write_repo(repo: &TestRepo) {
    write_standard(repo);
    repo.write(
        "wavesync.yaml",
        &STANDARD_WAVESET.replace(
            "defaults: { timeout: 20s }",
            "defaults: { timeout: 20s, retry: { attempts: 3, backoff: 1s, max: 2s } }",
        ),
    );
}

/// What one storm run measured.
struct Run {
    took: Duration,
    requests: u64,
}

/// Everything a user checks after a Ready sync: the phase, every wave, the
/// objects and their content, the inventory.
async fn check_ready(env: &Env, revision: &str, case: &str, problems: &mut Vec<String>) {
    let record = env.record().await;
    let mut bad = |what: String| problems.push(format!("{case}: {what}"));
    if record.phase != Phase::Ready {
        bad(format!(
            "record phase {:?}: {:?}",
            record.phase, record.message
        ));
    }
    if record.applied_revision.as_deref() != Some(revision) {
        bad(format!(
            "applied revision {:?}, not {revision}",
            record.applied_revision
        ));
    }
    if record.stalled.is_some() {
        bad(format!("record stalled: {:?}", record.stalled));
    }
    let names: Vec<&str> = record.waves.iter().map(|w| w.name.as_str()).collect();
    if names != ["base", "crds", "jobs", "apps"] {
        bad(format!("waves in the record: {names:?}"));
    }
    for w in &record.waves {
        if w.status != WaveStatus::Completed {
            bad(format!(
                "wave {} is {:?}: {:?}",
                w.name, w.status, w.message
            ));
        }
    }
    let inventory: usize = record.inventory.waves.values().map(Vec::len).sum();
    if inventory != 6 {
        bad(format!(
            "{inventory} objects in the inventory, not 6: {:?}",
            record.inventory.waves
        ));
    }
    match env.get("v1", "ConfigMap", "shop", "settings").await {
        Some(cm) if cm["data"]["value"] == "blue" => {}
        other => bad(format!("ConfigMap shop/settings: {other:?}")),
    }
    if !env.exists("apps/v1", "Deployment", "shop", "web").await {
        bad("Deployment shop/web missing".into());
    }
    match env.get("example.com/v1", "Widget", "shop", "w1").await {
        Some(w) if w["spec"]["size"] == 1 => {}
        other => bad(format!("Widget shop/w1: {other:?}")),
    }
    match env.get("batch/v1", "Job", "shop", "migrate").await {
        Some(j) if j.pointer("/status/succeeded").and_then(|v| v.as_u64()) == Some(1) => {}
        other => bad(format!("Job shop/migrate not complete: {other:?}")),
    }
}

/// One sync of the standard repository under a storm of `rate`, in-process.
async fn storm_run(rate: f64, seed: u64, problems: &mut Vec<String>) -> Option<Run> {
    let case = format!("storm {:.0} % seed {seed}", rate * 100.0);
    let mut env = Env::start().await;
    write_repo(&env.repo);
    env.repo.commit("initial");
    let snap = env.fetch().await;
    env.sim.counters().reset();
    storm(&env, rate, seed);
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(90),
        env.engine().sync(&snap.root, &snap.revision),
    )
    .await;
    let took = started.elapsed();
    let requests: u64 = env.sim.counters().snapshot().values().sum();
    env.sim.faults().clear();
    match res {
        Err(_) => {
            problems.push(format!("{case}: the sync hung for 90 s"));
            return None;
        }
        Ok(Err(e)) => {
            problems.push(format!(
                "{case}: the sync failed ({}): {e}",
                e.category().as_str()
            ));
            return None;
        }
        Ok(Ok(r)) if r.phase != Phase::Ready => {
            problems.push(format!("{case}: the sync ended {:?}", r.phase));
        }
        Ok(Ok(_)) => {}
    }
    check_ready(&env, &snap.revision.0, &case, problems).await;
    Some(Run { took, requests })
}

/// A storm past the budget, in-process: every apply of the base wave's
/// ConfigMap gets a 503, and the wave's retries cannot help.
async fn past_budget_engine(problems: &mut Vec<String>) -> bool {
    let case = "past budget (engine, 503 on every ConfigMap apply)";
    let mut env = Env::start().await;
    write_repo(&env.repo);
    env.repo.commit("initial");
    let snap = env.fetch().await;
    env.sim.faults().add(
        FaultRule::new(Fault::Status(503))
            .verb("patch")
            .resource("configmaps"),
    );
    let res = tokio::time::timeout(
        Duration::from_secs(90),
        env.engine().sync(&snap.root, &snap.revision),
    )
    .await;
    env.sim.faults().clear();
    let before = problems.len();
    match res {
        Err(_) => problems.push(format!("{case}: the sync hung for 90 s")),
        Ok(Ok(r)) => problems.push(format!("{case}: the sync succeeded ({:?})", r.phase)),
        Ok(Err(e)) => {
            if e.category() != Category::Transient {
                problems.push(format!(
                    "{case}: category {}, not transient: {e}",
                    e.category().as_str()
                ));
            }
            if !e.to_string().contains("503") {
                problems.push(format!("{case}: the error does not name the 503: {e}"));
            }
        }
    }
    check_failed(&env, "base", case, problems).await;
    problems.len() == before
}

/// The record after a transient failure of `wave`: Failed, the wave's
/// message naming the API failure, not stalled.
async fn check_failed(env: &Env, wave: &str, case: &str, problems: &mut Vec<String>) {
    let record = env.record().await;
    if record.phase != Phase::Failed {
        problems.push(format!("{case}: record phase {:?}", record.phase));
    }
    match record.wave(wave) {
        Some(w) if w.status == WaveStatus::Failed => {
            let m = w.message.clone().unwrap_or_default();
            if !m.contains("503") {
                problems.push(format!(
                    "{case}: wave {wave}'s message does not name the 503: {m:?}"
                ));
            }
        }
        other => problems.push(format!("{case}: wave {wave} in the record: {other:?}")),
    }
    if let Some(s) = &record.stalled {
        problems.push(format!(
            "{case}: a transient failure stalled the WaveSet ({}): {}",
            s.category.as_str(),
            s.reason
        ));
    }
}

/// A storm past the budget through the real binary: `wavesync sync` with
/// every Deployment apply answered 503 must exit non-zero and say the
/// failure is transient.
async fn past_budget_cli(problems: &mut Vec<String>) -> bool {
    let case = "past budget (wavesync sync, 503 on every Deployment apply)";
    let env = Env::start().await;
    write_repo(&env.repo);
    env.repo.commit("initial");
    let kubeconfig = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    env.sim.faults().add(
        FaultRule::new(Fault::Status(503))
            .verb("patch")
            .resource("deployments"),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
    for (k, _) in std::env::vars() {
        if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("sync")
        .env("WAVESYNC_KUBECONFIG", &kubeconfig)
        .env("WAVESYNC_REPO", env.repo.url())
        .env("WAVESYNC_WAVESET", WAVESET)
        .env("WAVESYNC_CACHE", env.temp().join("cli-cache"))
        .env("WAVESYNC_HELM_ENGINE", "libhelm")
        .env("RUST_LOG", "warn");
    let out = match output_within(cmd, Duration::from_secs(120)).await {
        Some(out) => out,
        None => {
            problems.push(format!("{case}: wavesync sync hung for 120 s"));
            env.sim.faults().clear();
            return false;
        }
    };
    env.sim.faults().clear();
    let before = problems.len();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let error: String = stderr
        .lines()
        .skip_while(|l| !l.starts_with("Error:"))
        .collect::<Vec<_>>()
        .join("\n");
    if out.status.success() {
        problems.push(format!("{case}: exited 0"));
    }
    if !error.contains("503") {
        problems.push(format!(
            "{case}: the error does not name the 503: {error:?}"
        ));
    }
    let lower = error.to_lowercase();
    if !lower.contains("transient") && !lower.contains("retried") {
        problems.push(format!(
            "{case}: the error does not say it is transient or will be retried: {error:?}"
        ));
    }
    check_failed(&env, "apps", case, problems).await;
    problems.len() == before
}

/// Runs `cmd` to its end, its output captured; None (and the process
/// killed) when it runs past `limit`.
async fn output_within(mut cmd: Command, limit: Duration) -> Option<std::process::Output> {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Some(std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[v.len() / 2]
}

/// Runs the storms and the past-budget cases.
pub async fn run(scale: Scale) -> Outcome {
    let reps = match scale {
        Scale::Test => 3,
        Scale::Full => 10,
    };
    let mut problems = Vec::new();
    let mut parts = Vec::new();
    for rate in [0.1, 0.3] {
        let mut runs = Vec::new();
        for rep in 0..reps {
            let seed = 1000 * (rate * 100.0) as u64 + rep;
            if let Some(r) = storm_run(rate, seed, &mut problems).await {
                runs.push(r);
            }
        }
        let ready = runs.len();
        let took = median(runs.iter().map(|r| r.took).collect());
        let mut reqs: Vec<u64> = runs.iter().map(|r| r.requests).collect();
        reqs.sort_unstable();
        let req = reqs.get(reqs.len() / 2).copied().unwrap_or(0);
        parts.push(format!(
            "{:.0} % {ready}/{reps} Ready (median {:.1} s, {req} requests)",
            rate * 100.0,
            took.as_secs_f64()
        ));
    }
    let mut transient = 0;
    let mut config = 0;
    let past = [
        past_budget_engine(&mut problems).await,
        past_budget_cli(&mut problems).await,
    ];
    for ok in past {
        if ok {
            transient += 1;
        }
    }
    config += problems
        .iter()
        .filter(|p| p.contains("category config"))
        .count();
    parts.push(format!(
        "past budget {transient}/{} transient ({config} config)",
        past.len()
    ));
    Outcome {
        line: format!("faults: {}", parts.join(", ")),
        problems,
    }
}
