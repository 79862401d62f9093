//! Objects that do not exist yet: `requires` waits for them within its grace
//! period, and the health wait treats NotFound as "not yet".

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use wavesync::health::wait::wait_healthy;
use wavesync::health::{Health, assess};
use wavesync::model::ObjRef;
use wavesync::reconcile::SyncOptions;
use wavesync::state::{Phase, WaveStatus};

const WAVESET_WITH_SECRET: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: apps
      requires:
        - secret: { name: db-creds, keys: [password] }
      path: waves/apps
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_required_secret_created_a_second_after_the_sync_starts_lets_the_wave_proceed() {
    let mut env = Env::start().await;
    env.repo.write("wavesync.yaml", WAVESET_WITH_SECRET);
    env.repo
        .write("waves/base/ns.yaml", &namespace("shop", &[]));
    env.repo.write(
        "waves/apps/app.yaml",
        &configmap("app", "shop", "uses db-creds", &[]),
    );
    env.repo.commit("initial");
    let snap = env.fetch().await;
    let engine = env.engine_with(SyncOptions {
        requires_grace: Duration::from_secs(6),
        ..Env::options()
    });
    let started = Instant::now();
    let creator = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        eventually(Duration::from_secs(5), "namespace shop", || async {
            env.exists("v1", "Namespace", "", "shop")
                .await
                .then_some(())
        })
        .await;
        let r = env.record().await;
        assert_eq!(
            status(&r, "apps"),
            WaveStatus::InProgress,
            "the apps wave is waiting for its prerequisite"
        );
        assert!(
            !env.exists("v1", "ConfigMap", "shop", "app").await,
            "nothing of the wave is applied before the Secret exists"
        );
        env.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds", "namespace": "shop"},
            "stringData": {"password": "s3cret-value"}}))
        .await;
    };
    let (res, ()) = tokio::join!(engine.sync(&snap.root, &snap.revision), creator);
    assert_eq!(
        res.expect("the sync proceeds once the Secret exists").phase,
        Phase::Ready
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(env.exists("v1", "ConfigMap", "shop", "app").await);
    let record = env.record().await;
    assert_eq!(status(&record, "apps"), WaveStatus::Completed);
    assert!(
        !record.to_json().unwrap().contains("s3cret-value"),
        "no Secret value in the record"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_wait_treats_a_not_yet_existing_object_as_progressing() {
    let env = Env::start().await;
    env.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .await;
    assert!(matches!(assess(None, &[]), Health::Progressing(_)));
    let late = ObjRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: "shop".into(),
        name: "late".into(),
    };
    let started = Instant::now();
    let creator = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let d: serde_json::Value =
            serde_saphyr::from_str(&deployment("late", "shop", &[])).unwrap();
        env.create(d).await;
    };
    let objects = [late];
    let (res, ()) = tokio::join!(
        wait_healthy(
            &env.resolver,
            &objects,
            &[],
            Duration::from_secs(8),
            &|_, _| {}
        ),
        creator
    );
    res.expect("the wait outlives NotFound and ends when the object is ready");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it did not return before the object existed"
    );
    assert!(
        env.sim.counters().get("get", "deployments") >= 2,
        "it asked again after NotFound"
    );

    // And an object that never appears is a timeout naming it as not found, not a failure.
    let never = ObjRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: "shop".into(),
        name: "never".into(),
    };
    let err = wait_healthy(
        &env.resolver,
        &[never],
        &[],
        Duration::from_millis(600),
        &|_, _| {},
    )
    .await
    .expect_err("times out");
    let msg = err.to_string();
    assert!(
        msg.contains("timed out") && msg.contains("never") && msg.contains("not found"),
        "{msg}"
    );
}
