//! The fault suite at test size: each area fails on any problem it finds
//! (see `tests/suite/`); `cargo bench --bench faults` prints the figures.

#![allow(clippy::unwrap_used)]

mod common;
mod suite;

use suite::Scale;

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_20_points_of_a_sync_each_rerun_resumes() {
    suite::kill::run(Scale::Test).await.assert_clean();
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_one_acts_takeover_resumes_and_api_restarts_are_survived() {
    suite::agents::run(Scale::Test).await.assert_clean();
}
