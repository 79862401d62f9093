//! The fault suite at test size: each area fails on any problem it finds
//! (see `tests/suite/`); `cargo bench --bench faults` prints the figures.

#![allow(clippy::unwrap_used)]

mod common;
mod suite;

/// Area 5 of issue 12: no planted secret (Secret `data` and `stringData`
/// values, plain and base64, and the Git token) in any output of the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leak() {
    suite::secrets::run(suite::Scale::Test).await.assert_clean();
}

/// Area 4 of issue 12: ≥ 50 bad inputs, each through `validate` and `sync`
/// against a cluster holding a good sync: a clear error naming the file
/// (and the line or field) within 30 s, a non-zero exit, no panic, bounded
/// memory, and nothing already applied changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_clearly() {
    suite::inputs::run(suite::Scale::Test).await.assert_clean();
}
