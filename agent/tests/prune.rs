//! Pruning what left Git, its safety rails, and no pruning after a render error.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::Duration;
use wavesync::report::Event;
use wavesync::state::Phase;

const ONE_WAVE: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: apps
      path: waves/apps
"#;

fn pvc(name: &str, annotations: &[(&str, &str)]) -> String {
    let ann: Vec<String> = annotations
        .iter()
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations: {{ {} }}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {{ requests: {{ storage: 1Gi }} }}\n",
        ann.join(", ")
    )
}

/// Gone, or on its way out (deletionTimestamp set).
async fn deleted(env: &Env, api: &str, kind: &str, ns: &str, name: &str) -> bool {
    !env.exists(api, kind, ns, name).await
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_removed_from_git_are_pruned_except_volumes_namespaces_and_opted_out_ones() {
    let mut env = Env::start().await;
    env.repo.write("wavesync.yaml", ONE_WAVE);
    env.repo
        .write("waves/base/ns-shop.yaml", &namespace("shop", &[]));
    env.repo
        .write("waves/base/ns-scratch.yaml", &namespace("scratch", &[]));
    env.repo.write(
        "waves/base/ns-temp.yaml",
        &namespace("temp", &[("wavesync.io/prune", "true")]),
    );
    env.repo
        .write("waves/apps/pvc-data.yaml", &pvc("data", &[]));
    env.repo.write(
        "waves/apps/pvc-cache.yaml",
        &pvc("cache", &[("wavesync.io/prune", "true")]),
    );
    env.repo.write(
        "waves/apps/cm-stays.yaml",
        &configmap("stays", "shop", "1", &[]),
    );
    env.repo.write(
        "waves/apps/cm-old.yaml",
        &configmap("old", "shop", "1", &[]),
    );
    env.repo.write(
        "waves/apps/cm-keep.yaml",
        &configmap("keep", "shop", "1", &[("wavesync.io/prune", "false")]),
    );
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    let record = env.record().await;
    assert_eq!(record.inventory.waves["base"].len(), 3);
    assert_eq!(record.inventory.waves["apps"].len(), 5);

    for f in [
        "waves/base/ns-scratch.yaml",
        "waves/base/ns-temp.yaml",
        "waves/apps/pvc-data.yaml",
        "waves/apps/pvc-cache.yaml",
        "waves/apps/cm-old.yaml",
        "waves/apps/cm-keep.yaml",
    ] {
        env.repo.remove(f);
    }
    env.repo.commit("remove six objects");
    env.events.clear();
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("second sync").phase, Phase::Ready);

    // Deleted: the plain ConfigMap, and the PVC and Namespace that opted in.
    eventually(
        Duration::from_secs(5),
        "the pruned objects to go",
        || async {
            (deleted(&env, "v1", "ConfigMap", "shop", "old").await
                && deleted(&env, "v1", "PersistentVolumeClaim", "shop", "cache").await
                && deleted(&env, "v1", "Namespace", "", "temp").await)
                .then_some(())
        },
    )
    .await;
    // Kept: a PVC and a Namespace without the opt-in, and the opted-out ConfigMap.
    assert!(
        env.exists("v1", "PersistentVolumeClaim", "shop", "data")
            .await,
        "PVCs are not pruned by default"
    );
    assert!(
        env.exists("v1", "Namespace", "", "scratch").await,
        "Namespaces are not pruned by default"
    );
    assert!(
        env.exists("v1", "ConfigMap", "shop", "keep").await,
        "prune: \"false\" is honoured"
    );
    assert!(env.exists("v1", "ConfigMap", "shop", "stays").await);
    assert!(env.exists("v1", "Namespace", "", "shop").await);

    let record = env.record().await;
    let names = |wave: &str| -> Vec<String> {
        let mut v: Vec<String> = record.inventory.waves[wave]
            .iter()
            .map(|r| format!("{}/{}", r.kind, r.name))
            .collect();
        v.sort();
        v
    };
    // Kept objects leave the inventory too: they are no longer wavesync's.
    assert_eq!(names("base"), ["Namespace/shop"]);
    assert_eq!(names("apps"), ["ConfigMap/stays"]);
    let pruned: Vec<(String, usize, usize)> = env
        .events
        .all()
        .into_iter()
        .filter_map(|e| {
            if let Event::Pruned {
                wave,
                deleted,
                kept,
                ..
            } = e
            {
                Some((wave, deleted, kept))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        pruned,
        [("base".to_string(), 1, 1), ("apps".to_string(), 2, 2)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_prune_after_a_render_error_and_the_error_names_the_file() {
    let mut env = Env::start().await;
    env.repo.write("wavesync.yaml", ONE_WAVE);
    env.repo
        .write("waves/base/ns-shop.yaml", &namespace("shop", &[]));
    env.repo.write(
        "waves/apps/cm-stays.yaml",
        &configmap("stays", "shop", "1", &[]),
    );
    env.repo.write(
        "waves/apps/cm-old.yaml",
        &configmap("old", "shop", "1", &[]),
    );
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");

    env.repo.remove("waves/apps/cm-old.yaml");
    env.repo.write(
        "waves/apps/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels: [unclosed\n",
    );
    env.repo.commit("remove old, break a file");
    env.sim.counters().reset();
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("a render error fails the sync").to_string();
    assert!(
        err.contains("waves/apps/broken.yaml"),
        "the error names the file: {err}"
    );

    assert!(
        env.exists("v1", "ConfigMap", "shop", "old").await,
        "nothing is pruned after a render error"
    );
    let c = env.sim.counters();
    assert_eq!(
        c.verb("delete") + c.verb("patch"),
        0,
        "nothing applied or deleted: {:?}",
        c.snapshot()
    );
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Failed);
    assert!(
        record
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("broken.yaml"),
        "{:?}",
        record.message
    );
    assert!(
        record.inventory.waves["apps"]
            .iter()
            .any(|r| r.name == "old"),
        "still in the inventory, for a later prune"
    );

    // Fixing the file lets the prune happen.
    env.repo.remove("waves/apps/broken.yaml");
    env.repo.commit("fix");
    env.sync(&env.engine()).await.1.expect("sync after the fix");
    assert!(!env.exists("v1", "ConfigMap", "shop", "old").await);
}
