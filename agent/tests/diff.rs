//! `wavesync diff` between two commits of a test repository, as a reviewer
//! runs it: additions, changes, removals, wave digests, Jobs that re-run, a
//! Secret whose change is shown without its values, and the exit codes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestRepo, configmap, job, write_standard};
use std::process::Command;

fn diff(repo: &TestRepo, base: &str, head: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .args(["diff", "--base", base, "--head", head, "--dir"])
        .arg(repo.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
    )
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: shop}\n\
                      stringData: {user: admin, password: s3cr3t-one}\n";

#[test]
fn a_reviewer_sees_each_waves_changes_and_no_secret_value() {
    let repo = TestRepo::new();
    write_standard(&repo);
    repo.write("waves/base/creds.yaml", SECRET);
    let first = repo.commit("base");

    // A change in base (a value and a Secret), a removal in base, the Job's
    // image, an addition to apps; the crds wave stays as it was.
    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    repo.write(
        "waves/base/creds.yaml",
        &SECRET.replace("s3cr3t-one", "s3cr3t-two"),
    );
    repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "2.0", &[]),
    );
    repo.write(
        "waves/apps/extra.yaml",
        &configmap("extra", "shop", "x", &[]),
    );
    let second = repo.commit("change");

    let (code, out) = diff(&repo, &first, &second);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("wave base: re-runs (digest "), "{out}");
    assert!(out.contains("; 0 added, 2 changed, 0 removed"), "{out}");
    assert!(
        out.contains("-  value: blue\n") || out.contains("-  value: \"blue\""),
        "{out}"
    );
    assert!(out.contains("~ Secret shop/creds"), "{out}");
    assert!(out.contains("+  password: (masked, changed)"), "{out}");
    assert!(out.contains("   user: (masked)"), "{out}");
    assert!(
        !out.contains("s3cr3t") && !out.contains("admin"),
        "a Secret value leaked:\n{out}"
    );
    assert!(
        !out.contains("wave crds"),
        "unchanged waves are not listed:\n{out}"
    );
    assert!(out.contains("↻ Job migrate runs again"), "{out}");
    assert!(out.contains("+ ConfigMap shop/extra"), "{out}");

    // Back again: the removal side.
    let (code, out) = diff(&repo, &second, &first);
    assert_eq!(code, 2);
    assert!(out.contains("- ConfigMap shop/extra (pruned)"), "{out}");

    // The same revision on both sides: nothing, exit 0.
    let (code, out) = diff(&repo, &first, &first);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no changes"), "{out}");

    // A revision that does not exist: exit 1 with its name.
    let (code, out) = diff(&repo, "no-such-branch", &first);
    assert_eq!(code, 1);
    assert!(
        out.contains("revision \"no-such-branch\" not found"),
        "{out}"
    );
}

#[test]
fn the_pull_request_that_adds_wavesync_yaml_shows_everything_added() {
    let repo = TestRepo::new();
    repo.write("README.md", "specs\n");
    let empty = repo.commit("before wavesync");
    write_standard(&repo);
    let first = repo.commit("wavesync.yaml added");
    let (code, out) = diff(&repo, &empty, &first);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("wave base: new wave; 2 added"), "{out}");
    assert!(out.contains("↻ Job migrate runs again"), "{out}");
    // And the one that removes it: everything is pruned.
    let (code, out) = diff(&repo, &first, &empty);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("wave apps: wave removed; 0 added, 0 changed, 1 removed"),
        "{out}"
    );
}

#[test]
fn a_directory_without_wavesync_yaml_on_either_side_is_an_error() {
    let repo = TestRepo::new();
    write_standard(&repo);
    let first = repo.commit("first");
    repo.write(
        "waves/apps/extra.yaml",
        &configmap("extra", "shop", "x", &[]),
    );
    let second = repo.commit("second");
    let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .args(["diff", "--base", &first, "--head", &second, "--dir"])
        .arg(repo.path().join("waves"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no wavesync.yaml in"), "{err}");
}
