//! `wavesync diff` and `wavesync validate` (issue 5, "Performance"). Figures
//! only; nothing here asserts on time.
//!
//! - **validate**: `wavesync validate --dir examples-repo` (both clusters,
//!   Helm engine started each time), as a pre-commit hook runs it.
//! - **offline**: `wavesync diff --base A --head B --output json` on a copy
//!   of examples-repo with two commits (a chart value, the apps overlay's
//!   replicas, a new ConfigMap), run as a reviewer runs it: one process,
//!   both revisions exported from Git, rendered (two Helm charts each) and
//!   planned. Target: under 500 ms.
//! - **live**: the head of a 1,000-object repository diffed against the
//!   simulator after a sync, 50 changes in Git and 20 out-of-band edits:
//!   plan, then a server-side apply dry-run per object (16 in flight).
//!   Target: under 5 s. Shown twice: as the simulator answers, and with a
//!   real API server's latency injected (+10 ms per patch, +1 ms per get).
//!
//! ```text
//! cargo bench -p wavesync --bench diff
//! ```
//! Needs a Helm engine for the offline part: `helm` on PATH, or the
//! `helm-python-sdk` wheel.

#![allow(clippy::unwrap_used)]

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wavesync::diff::live::{LiveOptions, diff_live};
use wavesync::model::Revision;
use wavesync::reconcile::{Engine, SyncOptions};

const RUNS: usize = 7;
const WAVES: usize = 4;
const PER_WAVE: usize = 250;

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Median and best of `runs`.
fn summary(mut runs: Vec<Duration>) -> String {
    runs.sort();
    format!(
        "median {}, best {} ({} runs)",
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        runs.len()
    )
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
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

fn validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo");
    let mut runs = Vec::new();
    let mut code = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
            .args(["validate", "--dir"])
            .arg(&root)
            .output()
            .unwrap();
        runs.push(start.elapsed());
        code = out.status.code();
    }
    println!(
        "validate examples-repo, both clusters (exit {}): {}",
        code.unwrap_or(-1),
        summary(runs)
    );
}

fn offline() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo"),
        &repo,
    );
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let ws = repo.join("wavesync.yaml");
    let text = std::fs::read_to_string(&ws).unwrap();
    std::fs::write(
        &ws,
        text.replacen("replicas: { default: 2", "replicas: { default: 3", 1),
    )
    .unwrap();
    std::fs::write(
        repo.join("waves/40-apps/base/bench-extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bench-extra}\ndata: {a: b}\n",
    )
    .unwrap();
    let kustomization = repo.join("waves/40-apps/base/kustomization.yaml");
    let k = std::fs::read_to_string(&kustomization).unwrap();
    std::fs::write(
        &kustomization,
        k.replacen("resources:\n", "resources:\n  - bench-extra.yaml\n", 1),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "head"]);

    let mut runs = Vec::new();
    let mut code = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
            .args([
                "diff",
                "--base",
                "HEAD~1",
                "--head",
                "HEAD",
                "--output",
                "json",
                "--cluster",
                "dp-east",
                "--dir",
            ])
            .arg(&repo)
            .output()
            .unwrap();
        runs.push(start.elapsed());
        code = out.status.code();
        if code != Some(2) {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    println!(
        "offline diff of examples-repo, two revisions (exit {}): {}  [target < 500 ms]",
        code.unwrap_or(-1),
        summary(runs)
    );
}

/// A wave of `PER_WAVE` objects: ConfigMaps, Services and Deployments.
fn object(wave: usize, i: usize, value: &str) -> String {
    let name = format!("w{wave}-o{i}");
    match i % 4 {
        0 | 1 => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{value: \"{value}\"}}\n"
        ),
        2 => format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: {name}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
        ),
        _ => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: app, image: \"registry.example.com/app:{value}\"}}]\n"
        ),
    }
}

fn write_repo(root: &Path, changed: usize) {
    let mut waves = String::new();
    for w in 0..WAVES {
        waves.push_str(&format!("    - name: w{w}\n      path: waves/w{w}\n"));
        let dir = root.join(format!("waves/w{w}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..PER_WAVE {
            let n = w * PER_WAVE + i;
            let value = if n.is_multiple_of(20) && n / 20 < changed {
                "2"
            } else {
                "1"
            };
            std::fs::write(dir.join(format!("o{i}.yaml")), object(w, i, value)).unwrap();
        }
    }
    std::fs::write(
        root.join("wavesync.yaml"),
        format!(
            "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: {{name: bench}}\nspec:\n  namespace: bench\n  defaults: {{timeout: 120s}}\n  waves:\n    - name: ns\n      path: waves/ns\n{waves}"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("waves/ns")).unwrap();
    std::fs::write(
        root.join("waves/ns/ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n",
    )
    .unwrap();
}

async fn live() {
    let sim = Arc::new(
        kube_sim::Sim::start_with(kube_sim::SimOptions {
            ready_after: Duration::ZERO,
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let client = sim.client().unwrap();
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "wavesync"}})).unwrap();
    Api::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_repo(root, 0);
    let engine = Engine::new(
        client.clone(),
        SyncOptions::default(),
        Arc::new(wavesync::report::progress::LogProgress),
    );
    let synced = Instant::now();
    engine
        .sync(root, &Revision("bench-1".into()))
        .await
        .expect("the 1,000 objects sync");
    let synced = synced.elapsed();
    write_repo(root, 50);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "bench");
    for k in 0..20 {
        let name = format!("w{}-o{}", k % WAVES, 3 + 4 * k);
        let pp = PatchParams {
            field_manager: Some("kubectl-scale".into()),
            ..Default::default()
        };
        deployments
            .patch(&name, &pp, &Patch::Merge(json!({"spec": {"replicas": 3}})))
            .await
            .unwrap();
    }
    let measure = |label: &'static str| {
        let engine = engine.clone();
        let root = root.to_path_buf();
        async move {
            let mut runs = Vec::new();
            let mut counts = None;
            for _ in 0..RUNS {
                let start = Instant::now();
                let (ws, plan) = engine.plan(&root).await.unwrap();
                let diff = diff_live(engine.resolver(), &ws, &plan, &LiveOptions::default())
                    .await
                    .unwrap();
                runs.push(start.elapsed());
                counts = Some(diff.totals());
            }
            let c = counts.unwrap();
            println!(
                "live diff, {} objects, {label}: {}  [target < 5 s]\n    found {} changed ({} drifted), {} added, {} removed, {} conflicts",
                WAVES * PER_WAVE + 1,
                summary(runs),
                c.changed,
                c.drifted,
                c.added,
                c.removed,
                c.conflicts
            );
        }
    };
    println!(
        "(setup: the first sync of the 1,000 objects took {})",
        ms(synced)
    );
    measure("simulator as is").await;
    sim.faults().add(
        kube_sim::FaultRule::new(kube_sim::Fault::Latency(Duration::from_millis(10))).verb("patch"),
    );
    sim.faults().add(
        kube_sim::FaultRule::new(kube_sim::Fault::Latency(Duration::from_millis(1))).verb("get"),
    );
    measure("+10 ms per patch, +1 ms per get").await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "diff".contains(a.as_str())) {
        return;
    }
    validate();
    offline();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(live());
}
