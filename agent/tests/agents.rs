//! Two agents against one cluster.
//!
//! Two mechanisms keep them apart, and each test says which it shows:
//! - the **Lease** (`wavesync-<waveset>`, taken by `wavesync sync`/`run` before
//!   anything is applied): only one agent acts at a time;
//! - the **resourceVersion-guarded record**: an agent that did get to work
//!   never overwrites a record another agent wrote since it read it.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::Duration;
use wavesync::reconcile::SyncError;
use wavesync::reconcile::lease::{LeaseError, LeaseLock};
use wavesync::state::{Phase, StateError, WaveStatus};

/// Mechanism: the Lease.
#[tokio::test(flavor = "multi_thread")]
async fn lease_two_agents_started_at_once_only_one_acquires() {
    let env = Env::start().await;
    let a = LeaseLock::new(
        env.client.clone(),
        "wavesync",
        WAVESET,
        "agent-a",
        Duration::from_secs(30),
    );
    let b = LeaseLock::new(
        env.client.clone(),
        "wavesync",
        WAVESET,
        "agent-b",
        Duration::from_secs(30),
    );
    // Both at once: both see no Lease and both try to create it; one wins.
    let (ra, rb) = tokio::join!(a.acquire(), b.acquire());
    let winners = [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(
        winners, 1,
        "exactly one agent holds the lease: {ra:?} {rb:?}"
    );
    let (winner, loser, loser_res) = if ra.is_ok() {
        (&a, &b, rb)
    } else {
        (&b, &a, ra)
    };
    assert!(
        matches!(loser_res, Err(LeaseError::Held { .. })),
        "{loser_res:?}"
    );

    // Later attempts of the loser are refused while the winner holds it; the winner renews.
    let again = loser.acquire().await;
    match &again {
        Err(LeaseError::Held { holder, .. }) => {
            assert!(holder == "agent-a" || holder == "agent-b", "{holder}")
        }
        other => panic!("the second agent must not get the lease: {other:?}"),
    }
    winner.acquire().await.expect("the holder renews");
    // Once released, the other agent takes it.
    winner.release().await;
    loser
        .acquire()
        .await
        .expect("the lease is free after release");
    assert!(matches!(
        winner.acquire().await,
        Err(LeaseError::Held { .. })
    ));
}

/// Mechanism: the resourceVersion-guarded record (no Lease taken here).
#[tokio::test(flavor = "multi_thread")]
async fn record_racing_writers_the_loser_gets_a_conflict_instead_of_overwriting() {
    let env = Env::start().await;
    let store_a = env.engine().store(WAVESET);
    let store_b = env.engine().store(WAVESET);
    let r = wavesync::state::Record::new(WAVESET);
    let rv0 = store_a.save(&r, None).await.expect("created");
    // Creating it twice is a conflict too.
    assert!(matches!(
        store_b.save(&r, None).await,
        Err(StateError::Conflict { .. })
    ));

    let mut seen_a = store_a.load().await.unwrap().unwrap();
    let mut seen_b = store_b.load().await.unwrap().unwrap();
    assert_eq!(seen_a.resource_version, rv0);
    seen_a.record.message = Some("written by a".into());
    store_a
        .save(&seen_a.record, Some(&seen_a.resource_version))
        .await
        .expect("a writes first");
    seen_b.record.message = Some("written by b".into());
    let lost = store_b
        .save(&seen_b.record, Some(&seen_b.resource_version))
        .await;
    assert!(matches!(lost, Err(StateError::Conflict { .. })), "{lost:?}");
    let now = store_a.load().await.unwrap().unwrap().record;
    assert_eq!(
        now.message.as_deref(),
        Some("written by a"),
        "b did not overwrite a"
    );
}

/// Mechanism: the resourceVersion-guarded record, through two engines syncing
/// the same revision with no Lease: the one whose record went stale stops
/// with `StateError::Conflict` at its next write.
#[tokio::test(flavor = "multi_thread")]
async fn record_two_racing_syncs_the_stale_one_stops_with_a_conflict() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.write(
        "waves/apps/web.yaml",
        &deployment("web", "shop", &[("sim.wavesync.io/ready-after", "2s")]),
    );
    env.repo.commit("initial");
    let snap = env.fetch().await;
    let first = env.engine();
    let second = env.engine();
    let store = env.engine().store(WAVESET);
    let b = async {
        // B starts while A waits for the slow apps wave, and writes the record.
        eventually(Duration::from_secs(8), "A in the apps wave", || {
            let store = store.clone();
            async move {
                (store.load().await.ok()??.record.wave("apps")?.status == WaveStatus::InProgress)
                    .then_some(())
            }
        })
        .await;
        second.sync(&snap.root, &snap.revision).await
    };
    let (ra, rb) = tokio::join!(first.sync(&snap.root, &snap.revision), b);
    match ra {
        Err(SyncError::State(StateError::Conflict { .. })) => {}
        other => panic!("the agent whose record went stale must stop with a conflict: {other:?}"),
    }
    assert_eq!(rb.expect("the other agent finishes").phase, Phase::Ready);
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Ready);
    assert_eq!(
        record.history.len(),
        1,
        "one finished sync recorded, not two interleaved: {:?}",
        record.history
    );
}
