//! Transient API answers (429, 503) are retried and the sync still reaches Ready.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use kube_sim::{Fault, FaultRule};
use wavesync::state::{Phase, WaveStatus};

#[tokio::test(flavor = "multi_thread")]
async fn answers_429_and_503_are_retried_and_the_sync_reaches_ready() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    let snap = env.fetch().await;
    env.sim.counters().reset();
    let faults = env.sim.faults();
    faults.add(
        FaultRule::new(Fault::Status(429))
            .verb("patch")
            .resource("configmaps")
            .times(2),
    );
    faults.add(
        FaultRule::new(Fault::Status(503))
            .verb("patch")
            .resource("deployments")
            .times(1),
    );
    faults.add(
        FaultRule::new(Fault::Status(503))
            .verb("get")
            .resource("deployments")
            .times(2),
    );

    let report = env
        .engine()
        .sync(&snap.root, &snap.revision)
        .await
        .expect("the sync survives transient failures");
    assert_eq!(report.phase, Phase::Ready);

    let c = env.sim.counters();
    // One ConfigMap and one Deployment are applied: every request beyond one is a retry.
    assert_eq!(
        c.get("patch", "configmaps"),
        3,
        "two 429s, then the apply: {:?}",
        c.snapshot()
    );
    assert_eq!(
        c.get("patch", "deployments"),
        2,
        "one 503, then the apply: {:?}",
        c.snapshot()
    );
    assert!(
        c.get("get", "deployments") >= 3,
        "two 503s on reads, then a successful one: {:?}",
        c.snapshot()
    );
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Ready);
    assert!(
        record
            .waves
            .iter()
            .all(|w| w.status == WaveStatus::Completed)
    );
    assert!(env.exists("apps/v1", "Deployment", "shop", "web").await);
    assert_eq!(
        env.get("v1", "ConfigMap", "shop", "settings")
            .await
            .unwrap()["data"]["value"],
        "blue"
    );
}
