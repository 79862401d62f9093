//! Pruning what left Git, its safety rails, no pruning after a render error
//! or an empty render, the mass-deletion guard, removed waves, and failed
//! deletes that fail the wave.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use kube_sim::{Fault, FaultRule};
use std::time::Duration;
use wavesync::error::{Categorized, Category};
use wavesync::reconcile::{SyncError, SyncOptions};
use wavesync::report::Event;
use wavesync::state::{Phase, WaveStatus};

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
    // Six of eight is more than the default half: this test is about the
    // rails, so the guard is opened.
    env.repo.write(
        "wavesync.yaml",
        &ONE_WAVE.replace(
            "  namespace: shop\n",
            "  namespace: shop\n  prune: { maxDeleteShare: 100 }\n",
        ),
    );
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

/// A synced repository: Namespace `shop` in base; four ConfigMaps in apps.
async fn synced_four_configmaps() -> Env {
    let mut env = Env::start().await;
    env.repo.write("wavesync.yaml", ONE_WAVE);
    env.repo
        .write("waves/base/ns-shop.yaml", &namespace("shop", &[]));
    for n in ["a", "b", "c", "d"] {
        env.repo.write(
            &format!("waves/apps/cm-{n}.yaml"),
            &configmap(n, "shop", "1", &[]),
        );
    }
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    env
}

async fn versions(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for n in ["a", "b", "c", "d"] {
        out.push(env.resource_version("v1", "ConfigMap", "shop", n).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_an_empty_render_of_a_wave_prunes_nothing_and_stalls_with_a_config_error() {
    let mut env = synced_four_configmaps().await;
    let before = versions(&env).await;
    // The directory is still there, but renders nothing (a bad merge).
    for n in ["a", "b", "c", "d"] {
        env.repo.remove(&format!("waves/apps/cm-{n}.yaml"));
    }
    env.repo.write("waves/apps/README.md", "nothing here yet\n");
    env.repo.commit("empty the apps wave");
    env.sim.counters().reset();
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("an empty render is refused");
    assert!(matches!(err, SyncError::Guard(_)), "{err:?}");
    assert_eq!(err.category(), Category::Config);
    let text = err.to_string();
    assert!(
        text.contains("wave apps rendered no objects, but 4 applied before would be pruned")
            && text.contains("nothing is pruned"),
        "{text}"
    );
    assert_eq!(versions(&env).await, before, "every object is untouched");
    let c = env.sim.counters();
    assert_eq!(
        c.verb("delete") + c.get("patch", "configmaps"),
        0,
        "{:?}",
        c.snapshot()
    );
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Failed);
    assert!(record.stalled.is_some(), "held until a new commit");
    assert_eq!(
        record.inventory.waves["apps"].len(),
        4,
        "the inventory is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_pass_deleting_more_than_half_the_inventory_prunes_nothing_until_allowed() {
    let mut env = synced_four_configmaps().await;
    let before = versions(&env).await;
    for n in ["b", "c", "d"] {
        env.repo.remove(&format!("waves/apps/cm-{n}.yaml"));
    }
    env.repo.commit("remove three of five objects");
    env.sim.counters().reset();
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("the guard stops the pass").to_string();
    assert!(
        err.starts_with(
            "this revision would prune 3 of the 5 objects wavesync manages (60 %), more than spec.prune.maxDeleteShare (50 %)"
        ) && err.contains("ConfigMap shop/b")
            && err.contains("--allow-mass-prune"),
        "{err}"
    );
    assert_eq!(versions(&env).await, before, "nothing applied or pruned");
    assert_eq!(env.sim.counters().verb("delete"), 0);
    assert_eq!(env.record().await.phase, Phase::Failed);

    // The one-off override lets it through.
    let engine = env.engine_with(SyncOptions {
        allow_mass_prune: true,
        ..Env::options()
    });
    let (_, res) = env.sync(&engine).await;
    assert_eq!(res.expect("allowed").phase, Phase::Ready);
    for n in ["b", "c", "d"] {
        assert!(
            deleted(&env, "v1", "ConfigMap", "shop", n).await,
            "{n} pruned"
        );
    }
    assert!(env.exists("v1", "ConfigMap", "shop", "a").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_wave_removed_from_wavesync_yaml_keeps_its_objects_unless_the_policy_prunes_them()
 {
    let mut env = synced_four_configmaps().await;
    let before = versions(&env).await;
    let without_apps = ONE_WAVE.replace("    - name: apps\n      path: waves/apps\n", "");
    env.repo.write("wavesync.yaml", &without_apps);
    env.repo.commit("drop the apps wave");
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(
        res.expect("a removed wave is not an error").phase,
        Phase::Ready
    );
    assert_eq!(
        versions(&env).await,
        before,
        "the removed wave's objects are kept"
    );
    let held = env
        .events
        .all()
        .into_iter()
        .any(|e| matches!(e, Event::PruneHeld { ref wave, objects: 4 } if wave == "apps"));
    assert!(held, "the progress says they are kept");
    let record = env.record().await;
    assert_eq!(record.held.len(), 1, "{:?}", record.held);
    assert_eq!(
        (record.held[0].wave.as_str(), record.held[0].objects),
        ("apps", 4)
    );
    assert_eq!(record.inventory.waves["apps"].len(), 4, "still wavesync's");

    // Saying so prunes them (four of five is more than half: opened too).
    env.repo.write(
        "wavesync.yaml",
        &without_apps.replace(
            "  namespace: shop\n",
            "  namespace: shop\n  prune: { removedWaves: true, maxDeleteShare: 100 }\n",
        ),
    );
    env.repo.commit("prune the removed wave");
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("pruned").phase, Phase::Ready);
    for n in ["a", "b", "c", "d"] {
        assert!(
            deleted(&env, "v1", "ConfigMap", "shop", n).await,
            "{n} pruned"
        );
    }
    let record = env.record().await;
    assert!(record.held.is_empty() && !record.inventory.waves.contains_key("apps"));
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_refused_prune_fails_the_wave_with_permission_and_stays_in_the_inventory() {
    let mut env = synced_four_configmaps().await;
    env.repo.remove("waves/apps/cm-d.yaml");
    env.repo.commit("remove d");
    env.sim.faults().add(
        FaultRule::new(Fault::Status(403))
            .verb("delete")
            .resource("configmaps")
            .name("d"),
    );
    env.events.clear();
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("a refused delete fails the wave");
    assert_eq!(err.category(), Category::Permission, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("deleting ConfigMap shop/d") && text.contains("403"),
        "{text}"
    );
    assert!(env.exists("v1", "ConfigMap", "shop", "d").await);
    let progress: Vec<Vec<String>> = env
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Pruned { failures, .. } => Some(failures),
            _ => None,
        })
        .collect();
    assert!(
        progress
            .iter()
            .any(|f| f.iter().any(|m| m.contains("ConfigMap shop/d"))),
        "the progress names the failed delete: {progress:?}"
    );
    let record = env.record().await;
    assert_eq!(status(&record, "apps"), WaveStatus::Failed);
    let message = record
        .wave("apps")
        .unwrap()
        .message
        .clone()
        .unwrap_or_default();
    assert!(message.contains("deleting ConfigMap shop/d"), "{message}");
    assert!(record.stalled.is_some(), "a permission error stalls");
    assert!(
        record.inventory.waves["apps"].iter().any(|r| r.name == "d"),
        "kept for the next attempt"
    );

    // Once allowed, the next sync deletes it.
    env.sim.faults().clear();
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("prunes now").phase, Phase::Ready);
    assert!(deleted(&env, "v1", "ConfigMap", "shop", "d").await);
}
