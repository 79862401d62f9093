//! `wavesync status` as a user runs it: without `--waveset` it lists every
//! record of the namespace (table and JSON), shows the only one in detail,
//! and says where to look when there is none.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Output};
use wavesync::model::Revision;

fn status(env: &Env, args: &[&str]) -> Output {
    let kc = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kc).unwrap();
    Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .arg("status")
        .args(args)
        .env("WAVESYNC_KUBECONFIG", &kc)
        .env_remove("WAVESYNC_WAVESET")
        .env_remove("WAVESYNC_NAMESPACE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A second WaveSet, `infra`, synced from a plain directory.
async fn sync_infra(env: &Env) {
    let dir = env.temp().join("infra");
    std::fs::create_dir_all(dir.join("waves/base")).unwrap();
    std::fs::write(
        dir.join("wavesync.yaml"),
        "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: { name: infra }\nspec:\n  namespace: infra\n  waves:\n    - name: base\n      path: waves/base\n",
    )
    .unwrap();
    std::fs::write(dir.join("waves/base/ns.yaml"), namespace("infra", &[])).unwrap();
    env.engine()
        .sync(&dir, &Revision("1234567890abcdef".into()))
        .await
        .expect("infra syncs");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_without_a_waveset_lists_every_record_or_shows_the_only_one() {
    let mut env = Env::start().await;

    let none = status(&env, &[]);
    assert!(!none.status.success());
    assert!(
        text(&none).contains("no wavesync records in namespace \"wavesync\""),
        "{}",
        text(&none)
    );

    write_standard(&env.repo);
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("shop syncs");

    // One record: shown in detail, as with --waveset.
    let one = status(&env, &[]);
    assert!(one.status.success(), "{}", text(&one));
    let one = text(&one);
    assert!(
        one.contains("WaveSet:  shop") && one.contains("Phase:    Ready") && one.contains("WAVE"),
        "{one}"
    );

    sync_infra(&env).await;
    let many = status(&env, &[]);
    assert!(many.status.success(), "{}", text(&many));
    let many = text(&many);
    assert!(
        many.starts_with("2 WaveSet records in namespace wavesync"),
        "{many}"
    );
    let rows: Vec<&str> = many.lines().skip(2).collect();
    assert!(
        rows[0].starts_with("WAVESET") && rows[0].contains("PHASE"),
        "{many}"
    );
    assert!(
        rows[1].starts_with("infra") && rows[1].contains("Ready") && rows[1].contains("1/1"),
        "{many}"
    );
    assert!(
        rows[2].starts_with("shop") && rows[2].contains("Ready") && rows[2].contains("4/4"),
        "{many}"
    );

    let json = status(&env, &["-o", "json"]);
    assert!(json.status.success(), "{}", text(&json));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["waveset"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["infra", "shop"]);
    assert_eq!(v["records"][1]["phase"], "Ready");

    // --waveset still shows one in detail; a wrong one says where to look.
    let infra = text(&status(&env, &["--waveset", "infra"]));
    assert!(infra.contains("WaveSet:  infra"), "{infra}");
    let wrong = status(&env, &["--waveset", "dataplane"]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("without --waveset lists the records there"),
        "{}",
        text(&wrong)
    );
}
