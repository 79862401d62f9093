//! The seed installer's five known failures (../shared/seeds/000_*.txt, "Known
//! Issues"), each shown not to happen with wavesync.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use kube_sim::GeneratedSecret;
use serde_json::json;
use std::time::{Duration, Instant};
use wavesync::health::wait::wait_healthy;
use wavesync::model::ObjRef;
use wavesync::reconcile::{SyncError, SyncOptions};
use wavesync::state::{Phase, WaveStatus};

/// Widgets stand in for an operator's database clusters: once ready, the
/// simulated operator creates their `<name>-app` Secret, as CloudNativePG does.
fn operator_sim() -> kube_sim::SimOptions {
    kube_sim::SimOptions {
        generated_secrets: vec![GeneratedSecret {
            kind: "example.com/Widget".into(),
            name: "{name}-app".into(),
            keys: vec!["username".into(), "password".into()],
        }],
        ..sim_options()
    }
}

const PG_WIDGET_SLOW: &str = r#"apiVersion: example.com/v1
kind: Widget
metadata:
  name: pg
  namespace: shop
  annotations: { "sim.wavesync.io/ready-after": "1500ms" }
spec:
  size: 1
"#;

fn database_waveset(infra_health: &str, secret: &str) -> String {
    format!(
        r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: {{ name: shop }}
spec:
  defaults: {{ timeout: 20s }}
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: infrastructure
      path: waves/infrastructure
      health:
        - apiVersion: example.com/v1
          kind: Widget
          ready: "{infra_health}"
    - name: apps
      requires:
        - secret: {{ name: {secret}, keys: [username, password] }}
      path: waves/apps
"#
    )
}

fn write_database_repo(repo: &TestRepo, infra_health: &str, secret: &str) {
    repo.write("wavesync.yaml", &database_waveset(infra_health, secret));
    repo.write("waves/base/ns.yaml", &namespace("shop", &[]));
    repo.write("waves/infrastructure/crd.yaml", WIDGET_CRD);
    repo.write("waves/infrastructure/pg.yaml", PG_WIDGET_SLOW);
    repo.write("waves/apps/api.yaml", &deployment("api", "shop", &[]));
}

/// Seed bug 1: `wait_infrastructure` gave up on "no matching resources found"
/// (it waited on objects an operator had not created yet).
#[tokio::test(flavor = "multi_thread")]
async fn seed_1_waiting_for_objects_an_operator_has_not_created_yet_does_not_give_up() {
    let mut env = Env::start_with(operator_sim()).await;
    // The infrastructure wave only checks the Widget exists ("true"), so the
    // apps wave starts while the operator has not yet made pg-app (1.5 s).
    write_database_repo(&env.repo, "true", "pg-app");
    env.repo.commit("initial");
    let snap = env.fetch().await;
    let engine = env.engine_with(SyncOptions {
        requires_grace: Duration::from_secs(8),
        ..Env::options()
    });
    let started = Instant::now();
    let watcher = async {
        // While the sync runs, the Secret is observed missing: the wait is on a NotFound object.
        eventually(Duration::from_secs(8), "the apps wave waiting", || async {
            let r = env.engine().store(WAVESET).load().await.ok()??.record;
            (r.wave("apps")?.status == WaveStatus::InProgress).then_some(())
        })
        .await;
        env.get("v1", "Secret", "shop", "pg-app").await.is_none()
    };
    let (res, secret_was_missing) = tokio::join!(engine.sync(&snap.root, &snap.revision), watcher);
    assert_eq!(
        res.expect("the sync waits for the operator's Secret").phase,
        Phase::Ready
    );
    assert!(
        secret_was_missing,
        "the apps wave started before the operator made its Secret"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it waited for the operator"
    );
    assert!(env.exists("v1", "Secret", "shop", "pg-app").await);
    assert!(env.exists("apps/v1", "Deployment", "shop", "api").await);
    assert_eq!(status(&env.record().await, "apps"), WaveStatus::Completed);

    // The health wait itself: pods-like objects that do not exist yet are
    // "not found yet" (Progressing) and are waited for until they appear.
    let later = ObjRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: "shop".into(),
        name: "made-later".into(),
    };
    let objects = [later];
    let creator = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        env.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made-later", "namespace": "shop"}})).await;
    };
    let t = Instant::now();
    let (waited, ()) = tokio::join!(
        wait_healthy(
            &env.resolver,
            &objects,
            &[],
            Duration::from_secs(5),
            &|_, _| {}
        ),
        creator
    );
    waited.expect("NotFound is not a failure");
    assert!(t.elapsed() >= Duration::from_millis(700));
}

/// Seed bug 2: an empty storageClass reached the cluster.
#[tokio::test(flavor = "multi_thread")]
async fn seed_2_an_empty_storage_class_is_rejected_before_anything_is_applied() {
    let mut env = Env::start().await;
    env.repo.write(
        "wavesync.yaml",
        r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: infrastructure
      requires:
        - storageClass: "{{ .cluster.storageClass }}"
      path: waves/infrastructure
clusters:
  - name: dp-east
    values: { storageClass: "" }
values:
  storageClass: { required: true }
"#,
    );
    env.repo
        .write("waves/base/ns.yaml", &namespace("shop", &[]));
    env.repo.write(
        "waves/infrastructure/pvc.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data, namespace: shop }\nspec:\n  storageClassName: \"{{ .cluster.storageClass }}\"\n  accessModes: [ReadWriteOnce]\n  resources: { requests: { storage: 1Gi } }\n",
    );
    env.repo.commit("empty storage class");
    let snap = env.fetch().await;

    let err =
        wavesync::config::load(&snap.root, Some("dp-east")).expect_err("config::load rejects it");
    assert!(err.to_string().contains("storageClass"), "{err}");

    env.sim.counters().reset();
    let engine = env.engine_with(SyncOptions {
        cluster: Some("dp-east".into()),
        ..Env::options()
    });
    let res = engine.sync(&snap.root, &snap.revision).await;
    match &res {
        Err(SyncError::Config(e)) => assert!(e.to_string().contains("storageClass"), "{e}"),
        other => panic!("a configuration error is expected: {other:?}"),
    }
    // Nothing was applied; the one write is the state record saying why
    // (issue 10: a wavesync.yaml that fails to load is recorded).
    let counts = env.sim.counters().snapshot();
    assert_eq!(
        env.writes(),
        env.sim.counters().get("create", "configmaps"),
        "nothing but the record was written: {counts:?}"
    );
    assert!(env.get("v1", "Namespace", "", "shop").await.is_none());
    let record = env.record_of("dataplane").await;
    assert_eq!(record.phase, wavesync::state::Phase::Failed);
    assert!(
        record
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("storageClass"),
        "{record:?}"
    );
}

/// Seed bug 3: the apps were started with a wrong PostgreSQL Secret name.
#[tokio::test(flavor = "multi_thread")]
async fn seed_3_a_wrong_secret_name_is_caught_by_requires_before_the_apps_wave() {
    let mut env = Env::start_with(operator_sim()).await;
    let health = "has(self.status) && has(self.status.phase) && self.status.phase == 'Running'";
    // The other operator's naming scheme: the operator really creates pg-app.
    write_database_repo(&env.repo, health, "pg-pguser-pg");
    env.repo.commit("wrong secret name");
    let engine = env.engine_with(SyncOptions {
        requires_grace: Duration::from_secs(1),
        ..Env::options()
    });
    let (_, res) = env.sync(&engine).await;
    let err = res.expect_err("the requires check fails").to_string();
    assert!(err.contains("pg-pguser-pg"), "{err}");

    let record = env.record().await;
    assert_eq!(record.phase, Phase::Failed);
    assert_eq!(status(&record, "infrastructure"), WaveStatus::Completed);
    assert_eq!(status(&record, "apps"), WaveStatus::Failed);
    let msg = record
        .wave("apps")
        .unwrap()
        .message
        .clone()
        .unwrap_or_default();
    assert!(
        msg.contains("Secret shop/pg-pguser-pg"),
        "the message names the secret: {msg}"
    );
    assert!(
        env.get("apps/v1", "Deployment", "shop", "api")
            .await
            .is_none(),
        "no app started"
    );
    assert_eq!(env.sim.counters().get("patch", "deployments"), 0);
    assert!(
        env.exists("v1", "Secret", "shop", "pg-app").await,
        "the operator's real Secret is there"
    );

    // With the operator's real name the same repository goes through.
    write_database_repo(&env.repo, health, "pg-app");
    env.repo.commit("the real secret name");
    let (_, res) = env.sync(&engine).await;
    assert_eq!(res.expect("fixed").phase, Phase::Ready);
    assert!(env.exists("apps/v1", "Deployment", "shop", "api").await);
}

const OPERATORS: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s }
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
"#;

const CLUSTER_ROLE: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: widget-manager }
rules:
  - apiGroups: [example.com]
    resources: [widgets]
    verbs: [get, list, watch]
"#;

fn write_operators_repo(repo: &TestRepo, setting: &str) {
    repo.write("wavesync.yaml", OPERATORS);
    repo.write("waves/base/ns.yaml", &namespace("shop", &[]));
    repo.write("waves/operators/widget/clusterrole.yaml", CLUSTER_ROLE);
    repo.write(
        "waves/operators/widget/deployment.yaml",
        &deployment("widget-operator", "shop", &[]),
    );
    repo.write(
        "waves/operators/settings/cm.yaml",
        &configmap("operator-settings", "shop", setting, &[]),
    );
}

/// Seed bug 4: an operator installed a second time on a cluster shared with a control plane.
#[tokio::test(flavor = "multi_thread")]
async fn seed_4_an_operator_already_installed_by_someone_else_is_skipped() {
    let mut env = Env::start().await;
    env.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widget-manager"}, "rules": []}),
    )
    .await;
    let rv = env
        .resource_version(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "",
            "widget-manager",
        )
        .await;
    write_operators_repo(&env.repo, "1");
    env.repo.commit("initial");
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("sync").phase, Phase::Ready);

    let record = env.record().await;
    let w = record.wave("operators").unwrap();
    assert_eq!(w.status, WaveStatus::Completed);
    assert_eq!(w.skipped_components, ["widget-operator"]);
    assert_eq!(
        env.events.skipped(),
        [("operators".to_string(), "widget-operator".to_string())]
    );
    assert!(
        env.get("apps/v1", "Deployment", "shop", "widget-operator")
            .await
            .is_none(),
        "no second operator"
    );
    assert_eq!(
        env.resource_version(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "",
            "widget-manager"
        )
        .await,
        rv,
        "the other installer's ClusterRole is untouched"
    );
    assert_eq!(env.sim.counters().get("patch", "clusterroles"), 0);
    assert!(
        env.exists("v1", "ConfigMap", "shop", "operator-settings")
            .await,
        "the other component is applied"
    );
}

/// Seed bug 4, the other side: wavesync's own ClusterRole never makes it skip its own operator.
#[tokio::test(flavor = "multi_thread")]
async fn seed_4_a_cluster_role_wavesync_applied_itself_does_not_make_it_skip() {
    let mut env = Env::start().await;
    write_operators_repo(&env.repo, "1");
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    let role = env
        .get(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "",
            "widget-manager",
        )
        .await
        .expect("applied");
    assert_eq!(role["metadata"]["labels"]["wavesync.io/waveset"], "shop");
    assert!(
        env.record()
            .await
            .wave("operators")
            .unwrap()
            .skipped_components
            .is_empty()
    );

    // A change in the operators wave makes the next sync evaluate skipIf again.
    write_operators_repo(&env.repo, "2");
    env.repo.commit("change the wave");
    env.events.clear();
    env.sim.counters().reset();
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("second sync").phase, Phase::Ready);
    assert!(env.events.started().contains(&"operators".to_string()));
    assert!(
        env.events.skipped().is_empty(),
        "{:?}",
        env.events.skipped()
    );
    let record = env.record().await;
    assert!(
        record
            .wave("operators")
            .unwrap()
            .skipped_components
            .is_empty()
    );
    assert!(
        env.exists("apps/v1", "Deployment", "shop", "widget-operator")
            .await
    );
    assert!(
        env.sim.counters().get("patch", "clusterroles") >= 1,
        "the operator was applied, not skipped"
    );
    assert!(
        record.inventory.waves["operators"]
            .iter()
            .any(|r| r.name == "widget-operator")
    );
}

/// Seed bug 5: a legacy component (`primus-lens-jobs`) kept running after it left the repository.
#[tokio::test(flavor = "multi_thread")]
async fn seed_5_a_legacy_component_removed_from_git_is_pruned() {
    let mut env = Env::start().await;
    let waveset = |with_legacy: bool, with_old_wave: bool| {
        let legacy = if with_legacy {
            "        - name: lens-jobs\n          path: waves/lens/jobs\n"
        } else {
            ""
        };
        let old = if with_old_wave {
            "    - name: legacy\n      path: waves/legacy\n"
        } else {
            ""
        };
        format!(
            "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: {{ name: shop }}\nspec:\n  defaults: {{ timeout: 20s }}\n  namespace: shop\n  waves:\n    - name: base\n      path: waves/base\n    - name: lens\n      components:\n        - name: api\n          path: waves/lens/api\n{legacy}{old}"
        )
    };
    env.repo.write("wavesync.yaml", &waveset(true, true));
    env.repo
        .write("waves/base/ns.yaml", &namespace("shop", &[]));
    env.repo.write(
        "waves/lens/api/api.yaml",
        &deployment("lens-api", "shop", &[]),
    );
    env.repo.write(
        "waves/lens/jobs/jobs.yaml",
        &deployment("primus-lens-jobs", "shop", &[]),
    );
    env.repo.write(
        "waves/legacy/old.yaml",
        &configmap("legacy-settings", "shop", "1", &[]),
    );
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    assert!(
        env.exists("apps/v1", "Deployment", "shop", "primus-lens-jobs")
            .await
    );

    // The component leaves Git.
    env.repo.write("wavesync.yaml", &waveset(false, true));
    env.repo.remove("waves/lens/jobs");
    env.repo.commit("remove the legacy component");
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("second sync").phase, Phase::Ready);
    assert!(
        !env.exists("apps/v1", "Deployment", "shop", "primus-lens-jobs")
            .await,
        "the legacy component is pruned"
    );
    assert!(
        env.exists("apps/v1", "Deployment", "shop", "lens-api")
            .await
    );
    let record = env.record().await;
    assert!(
        !record.inventory.waves["lens"]
            .iter()
            .any(|r| r.name == "primus-lens-jobs")
    );

    // A whole wave leaves Git on purpose (spec.prune.removedWaves says so):
    // its objects go too, and so does its inventory entry.
    env.repo.write(
        "wavesync.yaml",
        &waveset(false, false).replace(
            "  namespace: shop\n",
            "  namespace: shop\n  prune: { removedWaves: true }\n",
        ),
    );
    env.repo.remove("waves/legacy");
    env.repo.commit("remove the legacy wave");
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("third sync").phase, Phase::Ready);
    assert!(
        !env.exists("v1", "ConfigMap", "shop", "legacy-settings")
            .await,
        "the removed wave's objects are pruned"
    );
    let record = env.record().await;
    assert!(!record.inventory.waves.contains_key("legacy"));
    assert!(record.wave("legacy").is_none());
    assert!(
        env.exists("apps/v1", "Deployment", "shop", "lens-api")
            .await
    );
}
