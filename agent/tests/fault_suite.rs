//! The fault suite at test size: each area fails on any problem it finds
//! (see `tests/suite/`); `cargo bench --bench faults` prints the figures.

#![allow(clippy::unwrap_used)]

mod common;
mod suite;

#[tokio::test(flavor = "multi_thread")]
async fn fault_storms_sync_to_ready_and_past_the_budget_fail_as_transient() {
    suite::storms::run(suite::Scale::Test)
        .await
        .assert_clean();
}
