//! `wavesync diff --live` against the simulated cluster: after a sync and an
//! out-of-band edit, the diff shows what the next sync would change, the
//! drift with the field manager behind it, the conflict the forced apply
//! resolves, what would be pruned, which Jobs re-run and which objects the
//! server rejects — and it writes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, configmap, job, write_standard};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use std::process::Command;
use wavesync::diff::live::{LiveOptions, diff_live};
use wavesync::diff::{PlanDiff, WaveDiff, WaveState};

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: shop}\n\
                      stringData: {user: admin, password: s3cr3t-one}\n";

/// Edits an object as a person with kubectl would (an Update by `manager`).
async fn edit(env: &Env, api_version: &str, kind: &str, name: &str, manager: &str, patch: Value) {
    let resolved = env
        .resolver
        .resolve(api_version, kind)
        .await
        .unwrap()
        .unwrap();
    let pp = PatchParams {
        field_manager: Some(manager.into()),
        ..Default::default()
    };
    env.resolver
        .api(&resolved, "shop")
        .patch(name, &pp, &Patch::Merge(&patch))
        .await
        .unwrap();
}

fn wave<'a>(diff: &'a PlanDiff, name: &str) -> &'a WaveDiff {
    diff.waves.iter().find(|w| w.name == name).unwrap()
}

/// Every live object's resourceVersion, to prove nothing was written.
async fn versions(env: &Env) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (v, k, n) in [
        ("v1", "ConfigMap", "settings"),
        ("v1", "ConfigMap", "extra"),
        ("v1", "Secret", "creds"),
        ("apps/v1", "Deployment", "web"),
        ("batch/v1", "Job", "migrate"),
        ("apps/v1", "Deployment", "no-selector"),
    ] {
        let rv = env.get(v, k, "shop", n).await.map(|o| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        out.push((format!("{k}/{n}"), rv));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_diff_shows_drift_and_its_manager_and_writes_nothing() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.write("waves/base/creds.yaml", SECRET);
    env.repo.write(
        "waves/apps/extra.yaml",
        &configmap("extra", "shop", "x", &[]),
    );
    env.repo.commit("first");
    let engine = env.engine();
    let (_, res) = env.sync(&engine).await;
    res.unwrap();

    // Out of band: someone scales the Deployment and edits the ConfigMap.
    edit(
        &env,
        "apps/v1",
        "Deployment",
        "web",
        "kubectl-scale",
        json!({"spec": {"replicas": 5}}),
    )
    .await;
    edit(
        &env,
        "v1",
        "ConfigMap",
        "settings",
        "kubectl-edit",
        json!({"data": {"value": "hotfix"}}),
    )
    .await;

    // The pull request: a new password, a new Job image, `extra` removed,
    // and an object the API server will refuse.
    env.repo.write(
        "waves/base/creds.yaml",
        &SECRET.replace("s3cr3t-one", "s3cr3t-two"),
    );
    env.repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "2.0", &[]),
    );
    env.repo.remove("waves/apps/extra.yaml");
    env.repo.write(
        "waves/apps/bad.yaml",
        // (A name the server refuses is refused before, by the plan.)
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: no-selector, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: main, image: x}]}\n",
    );

    let before = versions(&env).await;
    let (ws, plan) = engine.plan(env.repo.path()).await.unwrap();
    let diff = diff_live(&env.resolver, &ws, &plan, &LiveOptions::default())
        .await
        .unwrap();
    assert_eq!(versions(&env).await, before, "a live diff must not write");
    assert!(diff.has_changes());

    // The crds wave is as Git has it and completed at this digest.
    let crds = wave(&diff, "crds");
    assert_eq!(crds.state(), WaveState::Unchanged);
    assert!(!crds.has_changes(), "{crds:#?}");

    // base: the drifted ConfigMap goes back, and says who changed it; the
    // Secret's change is shown without its values.
    let base = wave(&diff, "base");
    assert_eq!(base.state(), WaveState::Reruns);
    let settings = base
        .changed
        .iter()
        .find(|c| c.reference.name == "settings")
        .unwrap();
    assert!(
        settings.diff.contains("-  value: hotfix"),
        "{}",
        settings.diff
    );
    assert!(
        settings.diff.contains("+  value: blue"),
        "{}",
        settings.diff
    );
    assert_eq!(settings.drift.len(), 1, "{:?}", settings.drift);
    assert_eq!(settings.drift[0].path, "data.value");
    assert_eq!(settings.drift[0].manager, "kubectl-edit");
    assert_eq!(settings.drift[0].operation, "Update");
    assert!(
        base.conflicts
            .iter()
            .any(|c| c.reference.name == "settings"),
        "the unforced apply conflicts with kubectl-edit: {:?}",
        base.conflicts
    );
    let creds = base
        .changed
        .iter()
        .find(|c| c.reference.name == "creds")
        .unwrap();
    assert!(
        creds.diff.contains("password: (masked, changed)"),
        "{}",
        creds.diff
    );
    assert!(creds.diff.contains("user: (masked)"), "{}", creds.diff);
    let everything = format!("{diff:?}");
    for secret in ["s3cr3t", "admin", "czNjcjN0", "YWRtaW4"] {
        assert!(
            !everything.contains(secret),
            "a Secret value leaked: {secret}"
        );
    }

    // jobs: the Job's content changed, so the sync re-creates it.
    let jobs = wave(&diff, "jobs");
    assert_eq!(jobs.jobs_rerun.len(), 1);
    assert_eq!(jobs.jobs_rerun[0].name, "migrate");
    assert!(
        jobs.changed[0].diff.contains("+        image: "),
        "{}",
        jobs.changed[0].diff
    );

    // apps: the scaled Deployment, `extra` to be pruned, and the rejected object.
    let apps = wave(&diff, "apps");
    let web = apps
        .changed
        .iter()
        .find(|c| c.reference.name == "web")
        .unwrap();
    assert!(web.diff.contains("-  replicas: 5"), "{}", web.diff);
    assert_eq!(web.drift[0].path, "spec.replicas");
    assert_eq!(web.drift[0].manager, "kubectl-scale");
    assert_eq!(apps.removed.len(), 1);
    assert_eq!(apps.removed[0].name, "extra");
    assert_eq!(apps.rejected.len(), 1, "{:?}", apps.rejected);
    assert_eq!(apps.rejected[0].reference.name, "no-selector");
    assert_eq!(apps.rejected[0].origin, "waves/apps/bad.yaml:1");
    assert!(
        apps.rejected[0].message.contains("422"),
        "{}",
        apps.rejected[0].message
    );

    // Right after a sync of the same tree, nothing is left to change.
    env.repo.remove("waves/apps/bad.yaml");
    env.repo.commit("second");
    let (_, res) = env.sync(&engine).await;
    res.unwrap();
    let (ws, plan) = engine.plan(env.repo.path()).await.unwrap();
    let diff = diff_live(&env.resolver, &ws, &plan, &LiveOptions::default())
        .await
        .unwrap();
    assert!(!diff.has_changes(), "{diff:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_diffs_a_fresh_cluster_and_exits_2() {
    let env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("first");
    let kubeconfig = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    let repo = env.repo.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_wavesync"))
            .args([
                "diff",
                "--live",
                "--output",
                "json",
                "--helm-engine",
                "libhelm",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .arg("--dir")
            .arg(&repo)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["mode"], "live");
    // Nothing is installed: every wave is new and every object added —
    // including the Widget, whose CRD comes in the same wave, and the
    // objects of namespace shop, which the sync creates first.
    for w in report["waves"].as_array().unwrap() {
        assert_eq!(w["state"], "new", "{w}");
        assert!(w["rejected"].as_array().unwrap().is_empty(), "{w}");
    }
    assert_eq!(report["totals"]["added"], 6, "{report:#}");
    assert_eq!(report["totals"]["jobsRerun"], 1);
    assert!(
        env.get("v1", "Namespace", "", "shop").await.is_none(),
        "nothing was written"
    );
}

const GATED: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: operators
      components:
        - name: widget-operator
          path: waves/operators/widget
          skipIf: { exists: { apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: widget-manager } }
        - name: settings
          path: waves/operators/settings
    - name: apps
      requires:
        - secret: { name: db-creds, keys: [password] }
      path: waves/apps
"#;

/// The live diff checks the sync's gates: a component whose `skipIf` holds
/// is not diffed (the sync leaves it alone) and a `requires` not met is
/// reported, as the sync would wait on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_components_are_not_diffed_and_unmet_requirements_are_shown() {
    let env = Env::start().await;
    env.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widget-manager"}, "rules": []}),
    )
    .await;
    env.repo.write("wavesync.yaml", GATED);
    env.repo
        .write("waves/base/ns.yaml", &common::namespace("shop", &[]));
    env.repo.write(
        "waves/operators/widget/clusterrole.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: widget-manager}\nrules: []\n",
    );
    env.repo.write(
        "waves/operators/settings/cm.yaml",
        &configmap("operator-settings", "shop", "1", &[]),
    );
    env.repo
        .write("waves/apps/cm.yaml", &configmap("app", "shop", "1", &[]));
    env.repo.commit("gated");

    let (ws, plan) = env.engine().plan(env.repo.path()).await.unwrap();
    let diff = diff_live(&env.resolver, &ws, &plan, &LiveOptions::default())
        .await
        .unwrap();
    let operators = wave(&diff, "operators");
    assert_eq!(operators.skipped.len(), 1, "{operators:#?}");
    assert_eq!(operators.skipped[0].component, "widget-operator");
    assert!(
        operators.skipped[0]
            .reason
            .contains("ClusterRole widget-manager already exists"),
        "{}",
        operators.skipped[0].reason
    );
    let names: Vec<&str> = operators
        .added
        .iter()
        .map(|a| a.reference.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["operator-settings"],
        "the skipped component's ClusterRole is left alone"
    );
    assert!(operators.conflicts.is_empty() && operators.changed.is_empty());

    let apps = wave(&diff, "apps");
    assert_eq!(apps.unmet.len(), 1, "{apps:#?}");
    assert!(apps.unmet[0].contains("db-creds"), "{}", apps.unmet[0]);

    let text = wavesync::diff::render_text(&diff, &Default::default(), false);
    assert!(
        text.contains("  » component widget-operator is skipped (skipIf): ClusterRole widget-manager already exists"),
        "{text}"
    );
    assert!(text.contains("  ⧗ requires not met yet: "), "{text}");
}
