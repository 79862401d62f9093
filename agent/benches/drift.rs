//! Drift detection at 1,000 managed objects (issue 11): the real
//! `wavesync run` binary against an in-process `kube_sim::Sim`, a
//! repository of 600 ConfigMaps, 200 Deployments and 200 Services (and
//! their Namespace). Printed (figures only; nothing asserts on time):
//!
//! - the API requests drift detection makes over a window with no change
//!   (default 5 minutes; `WAVESYNC_BENCH_DRIFT_WINDOW=60` for a quick run).
//!   The agent polls Git hourly here, so the only other traffic is the
//!   Lease renewals, which are shown apart. Target: only the initial LISTs
//!   and watch re-establishments, ≤ 20 requests;
//! - the time from an out-of-band change (an Update of a Deployment's image
//!   by another field manager) to the finding in the state record, over 10
//!   changes. Target: < 2 s;
//! - the memory the drift caches add: the agent's resident memory after the
//!   sync with `--drift-detection=false`, then in a fresh agent with it on
//!   (the watches listed, the desired objects held);
//! - push to applied through the GitHub webhook: a commit changing one
//!   ConfigMap, a signed push event, until the record says the commit is
//!   applied; the pass's own time (from the record) is shown apart. Target:
//!   < 1 s plus the apply time.
//!
//! ```text
//! cargo bench -p wavesync --bench drift
//! ```

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use support::*;

const WAVESET: &str = "bench";
const CONFIGMAPS: usize = 600;
const DEPLOYMENTS: usize = 200;
const CHANGES: usize = 10;

const SECRET: &str = "bench-webhook-secret";

fn git(dir: &Path, args: &[&str]) -> Result<(), Error> {
    if !Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()?
        .success()
    {
        return Err(format!("git {args:?} failed").into());
    }
    Ok(())
}

/// POSTs a GitHub push event signed with [`SECRET`]; the HTTP status.
async fn post_push(port: u16, body: &str) -> Result<u16, Error> {
    use hmac::{KeyInit, Mac};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes())?;
    mac.update(body.as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let req = format!(
        "POST /hooks/github HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

fn make_repo(dir: &Path) -> Result<(), Error> {
    let ws = format!(
        "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: {{ name: {WAVESET} }}\nspec:\n  namespace: bench\n  waves:\n    - name: base\n      path: waves/base\n    - name: apps\n      path: waves/apps\n"
    );
    let mut base =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})];
    base.extend((0..CONFIGMAPS).map(|i| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i:04}"), "labels": {"app": format!("svc-{}", i % DEPLOYMENTS)}},
            "data": {"LOG_LEVEL": "info", "UPSTREAM": format!("http://svc-{i}.bench.svc:8080")}})
    }));
    let mut apps = Vec::new();
    for i in 0..DEPLOYMENTS {
        let name = format!("svc-{i:03}");
        apps.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{name}:1.0"),
                        "ports": [{"containerPort": 8080}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}));
        apps.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}));
    }
    for (wave, docs) in [("base", base), ("apps", apps)] {
        let d = dir.join(format!("waves/{wave}"));
        std::fs::create_dir_all(&d)?;
        for (n, chunk) in docs.chunks(100).enumerate() {
            let text: String = chunk
                .iter()
                .map(|o| {
                    format!(
                        "---\n{}\n",
                        serde_json::to_string_pretty(o).unwrap_or_default()
                    )
                })
                .collect();
            std::fs::write(d.join(format!("objects-{n:02}.yaml")), text)?;
        }
    }
    std::fs::write(dir.join("wavesync.yaml"), ws)?;
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec![
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.invalid",
            "commit",
            "-q",
            "-m",
            "bench",
        ],
    ] {
        let ok = Command::new("git")
            .args(&args)
            .current_dir(dir)
            .status()?
            .success();
        if !ok {
            return Err(format!("git {args:?} failed").into());
        }
    }
    Ok(())
}

async fn record(api: &Api<ConfigMap>) -> Option<Value> {
    let cm = api
        .get_opt(&format!("wavesync-state-{WAVESET}"))
        .await
        .ok()??;
    serde_json::from_str(cm.data?.get("record.json")?).ok()
}

async fn wait_for(
    what: &str,
    child: &mut Child,
    log: &Path,
    limit: Duration,
    mut f: impl AsyncFnMut() -> bool,
) -> Result<Duration, Error> {
    let t0 = Instant::now();
    loop {
        if f().await {
            return Ok(t0.elapsed());
        }
        if child.try_wait()?.is_some() || t0.elapsed() > limit {
            let _ = child.kill();
            return Err(format!(
                "{what}: not within {limit:?}; the agent logged:\n{}",
                log_tail(log)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stop(child: &mut Child) -> Result<(), Error> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

async fn run() -> Result<(), Error> {
    let window = Duration::from_secs(
        std::env::var("WAVESYNC_BENCH_DRIFT_WINDOW")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );
    let sim = kube_sim::Sim::start_with(kube_sim::SimOptions {
        ready_after: Duration::from_millis(50),
        ..Default::default()
    })
    .await?;
    let client = sim.client()?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "wavesync"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let work = tempfile::tempdir()?;
    let kubeconfig = work.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let repo = work.path().join("repo");
    make_repo(&repo)?;
    let states: Api<ConfigMap> = Api::namespaced(client.clone(), "wavesync");
    let objects = 1 + CONFIGMAPS + 2 * DEPLOYMENTS;

    // 1. Without drift detection: the baseline memory.
    let log = work.path().join("agent-off.log");
    let (mut off, _) = start_agent(
        work.path(),
        &kubeconfig,
        &repo,
        &log,
        WAVESET,
        &[
            ("WAVESYNC_INTERVAL", "1h"),
            ("WAVESYNC_DRIFT_DETECTION", "false"),
        ],
    )?;
    let synced = wait_for(
        "Ready",
        &mut off,
        &log,
        Duration::from_secs(600),
        async || record(&states).await.is_some_and(|r| r["phase"] == "Ready"),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let [rss_off, ..] = memory(&off.id().to_string())?;
    stop(&mut off)?;

    // 2. With it: the watches of the synced revision.
    let log = work.path().join("agent-on.log");
    let secret_file = work.path().join("github-secret");
    std::fs::write(&secret_file, SECRET)?;
    let secret_path = secret_file.display().to_string();
    let (mut on, port) = start_agent(
        work.path(),
        &kubeconfig,
        &repo,
        &log,
        WAVESET,
        &[
            ("WAVESYNC_INTERVAL", "1h"),
            ("WAVESYNC_WEBHOOK_GITHUB_SECRET_FILE", &secret_path),
        ],
    )?;
    let watching = wait_for(
        "the watches",
        &mut on,
        &log,
        Duration::from_secs(120),
        async || {
            let m = metrics(port).await;
            m.get("wavesync_drift_watches").is_some_and(|n| *n >= 4.0)
                && m.get("wavesync_drift_watch_events_total{event=\"listed\"}")
                    .is_some_and(|n| *n >= 4.0)
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let [rss_on, ..] = memory(&on.id().to_string())?;

    // 3. A window without change.
    sim.counters().reset();
    tokio::time::sleep(window).await;
    let requests = sim.counters().snapshot();
    let drift_requests: Vec<((String, String), u64)> = requests
        .iter()
        .filter(|((_, resource), _)| resource != "leases" && resource != "events")
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let lease_requests: u64 = requests
        .iter()
        .filter(|((_, resource), _)| resource == "leases")
        .map(|(_, n)| *n)
        .sum();
    let drift_total: u64 = drift_requests.iter().map(|(_, n)| n).sum();

    // 4. Out-of-band changes, one at a time, to the finding in the record.
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "bench",
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let mut latencies = Vec::new();
    for i in 0..CHANGES {
        let name = format!("svc-{:03}", i * 7);
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{name}:hotfix")}]}}}});
        let t0 = Instant::now();
        deployments
            .patch(
                &name,
                &PatchParams {
                    field_manager: Some("kubectl-edit".into()),
                    ..Default::default()
                },
                &Patch::Strategic(patch),
            )
            .await?;
        wait_for(
            "the finding",
            &mut on,
            &log,
            Duration::from_secs(30),
            async || {
                record(&states)
                    .await
                    .and_then(|r| r["drift"]["objects"].as_u64())
                    .is_some_and(|n| n as usize > i)
            },
        )
        .await?;
        latencies.push(t0.elapsed());
    }

    // 5. A one-object commit, brought in by a signed GitHub push.
    let cm = repo.join("waves/base/objects-00.yaml");
    let text = std::fs::read_to_string(&cm)?.replacen("\"info\"", "\"debug\"", 1);
    std::fs::write(&cm, text)?;
    git(
        &repo,
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.invalid",
            "commit",
            "-q",
            "-am",
            "one object",
        ],
    )?;
    let sha = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&repo)
            .output()?
            .stdout,
    )?
    .trim()
    .to_string();
    let body = json!({"ref": "refs/heads/main", "after": sha}).to_string();
    let status = post_push(port, &body).await?;
    let pushed = wait_for(
        "the pushed commit applied",
        &mut on,
        &log,
        Duration::from_secs(120),
        async || {
            record(&states)
                .await
                .is_some_and(|r| r["phase"] == "Ready" && r["appliedRevision"] == sha.as_str())
        },
    )
    .await?;
    let pass = record(&states)
        .await
        .and_then(|r| {
            let h = &r["history"][0];
            let t = |k: &str| h[k].as_str()?.parse::<jiff::Timestamp>().ok();
            (t("finished")? - t("started")?)
                .total(jiff::Unit::Millisecond)
                .ok()
        })
        .unwrap_or(f64::NAN);
    stop(&mut on)?;
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];

    let none = ("", None);
    #[rustfmt::skip]
    let mut rows: Vec<Row> = vec![
        ("managed objects".into(), objects.to_string(), none),
        ("first sync (start to Ready)".into(), format!("{:.2} s", synced.as_secs_f64()), none),
        ("agent start to watches listed".into(), format!("{:.2} s", watching.as_secs_f64()), none),
        (format!("drift requests in {} s without change", window.as_secs()), drift_total.to_string(), ("<= 20", Some(drift_total <= 20))),
    ];
    for ((verb, resource), n) in &drift_requests {
        rows.push((format!("    {verb} {resource}"), n.to_string(), none));
    }
    #[rustfmt::skip]
    rows.extend([
        ("    (lease renewals, not drift)".into(), lease_requests.to_string(), none),
        (format!("change to finding, median of {CHANGES}"), format!("{:.0} ms", median.as_secs_f64() * 1000.0), ("< 2 s", Some(median < Duration::from_secs(2)))),
        ("change to finding, slowest".into(), format!("{:.0} ms", max.as_secs_f64() * 1000.0), ("< 2 s", Some(max < Duration::from_secs(2)))),
        ("RSS after the sync, detection off".into(), mib(rss_off), none),
        ("RSS with the watches, detection on".into(), mib(rss_on), none),
        ("memory the drift caches add".into(), mib(rss_on.saturating_sub(rss_off)), none),
        (format!("push to applied via webhook (HTTP {status})"), format!("{:.0} ms", pushed.as_secs_f64() * 1000.0), none),
        ("    of which the sync pass (record)".into(), format!("{pass:.0} ms"), none),
        ("    trigger overhead (push to applied - pass)".into(), format!("{:.0} ms", pushed.as_secs_f64() * 1000.0 - pass), ("< 1 s", Some(pushed.as_secs_f64() * 1000.0 - pass < 1000.0))),
    ]);
    println!("\nwavesync drift benchmark (`wavesync run`, {objects} objects, kube-sim over TLS)");
    print_rows(rows, 48, 10);
    sim.shutdown();
    Ok(())
}

fn main() -> Result<(), Error> {
    run_bench("drift", run)
}
