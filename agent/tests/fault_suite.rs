//! The fault suite at test size: each area fails on any problem it finds
//! (see `tests/suite/`); `cargo bench --bench faults` prints the figures.

#![allow(clippy::unwrap_used)]

mod common;
mod suite;

use suite::Scale;

/// Area 1 of issue 12: `kill -9` of the agent at 20 points of a 5-wave
/// sync; every rerun resumes to Ready without re-applying completed waves.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_20_points_of_a_sync_each_rerun_resumes() {
    suite::kill::run(Scale::Test).await.assert_clean();
}

/// Area 2 of issue 12: storms of 429, 5xx, dropped connections and latency
/// at 10 % and 30 %; past the retry budget a sync fails as transient.
#[tokio::test(flavor = "multi_thread")]
async fn fault_storms_sync_to_ready_and_past_the_budget_fail_as_transient() {
    suite::storms::run(Scale::Test).await.assert_clean();
}

/// Area 3 of issue 12: two agents, a killed leader and API server restarts.
#[tokio::test(flavor = "multi_thread")]
async fn agents_one_acts_takeover_resumes_and_api_restarts_are_survived() {
    suite::agents::run(Scale::Test).await.assert_clean();
}

/// Area 5 of issue 12: no planted secret (Secret `data` and `stringData`
/// values, plain and base64, and the Git token) in any output of the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leak() {
    suite::secrets::run(Scale::Test).await.assert_clean();
}

/// Area 4 of issue 12: ≥ 50 bad inputs, each through `validate` and `sync`
/// against a cluster holding a good sync: a clear error naming the file
/// (and the line or field) within 30 s, a non-zero exit, no panic, bounded
/// memory, and nothing already applied changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_clearly() {
    suite::inputs::run(Scale::Test).await.assert_clean();
}
