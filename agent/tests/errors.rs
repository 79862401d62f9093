//! Errors are kept, named and categorized: every apply error of a wave, a
//! refused read while waiting for a CRD, discovery failures in gates and in
//! health waits, and a retry budget that earlier passes do not use up.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use kube_sim::{Fault, FaultRule};
use std::time::{Duration, Instant};
use wavesync::apply::staged::Applier;
use wavesync::cluster::Resolver;
use wavesync::config::Requirement;
use wavesync::error::{Categorized, Category};
use wavesync::health::wait::wait_healthy;
use wavesync::model::ObjRef;
use wavesync::reconcile::gates;
use wavesync::state::{Phase, WaveStatus};

const TWO_WAVES: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s, retry: { attempts: 2, backoff: 100ms, max: 200ms } }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: apps
      path: waves/apps
"#;

/// A resolver over the client the agent uses.
fn resolver(env: &Env) -> Resolver {
    Resolver::new(wavesync::client::client(env.sim.config().clone()).unwrap())
}

/// Tries of one apply within one wave attempt (`Backoff::default()`).
const OBJECT_ATTEMPTS: u32 = 6;

fn two_waves(env: &Env, value: &str) {
    env.repo.write("wavesync.yaml", TWO_WAVES);
    env.repo
        .write("waves/base/ns.yaml", &namespace("shop", &[]));
    env.repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", value, &[]),
    );
    for n in ["a", "b", "c"] {
        env.repo.write(
            &format!("waves/apps/cm-{n}.yaml"),
            &configmap(n, "shop", "1", &[]),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_every_apply_error_of_a_wave_is_reported_with_the_worst_category() {
    let mut env = Env::start().await;
    two_waves(&env, "1");
    env.repo.commit("initial");
    for (name, code) in [("a", 422), ("b", 500), ("c", 422)] {
        env.sim.faults().add(
            FaultRule::new(Fault::Status(code))
                .verb("patch")
                .resource("configmaps")
                .name(name),
        );
    }
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("the wave fails");
    // One config error among transient ones is not retried for nothing.
    assert_eq!(err.category(), Category::Config, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("applying 3 objects failed:")
            && text.contains("ConfigMap shop/a")
            && text.contains("ConfigMap shop/b")
            && text.contains("ConfigMap shop/c"),
        "every failure is named: {text}"
    );
    let record = env.record().await;
    let message = record.wave("apps").unwrap().message.clone().unwrap();
    assert!(
        message.contains("ConfigMap shop/a") && message.contains("ConfigMap shop/c"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_earlier_failures_and_cascades_do_not_use_up_a_waves_retry_budget() {
    let mut env = Env::start().await;
    two_waves(&env, "1");
    env.repo.commit("initial");
    // 500: transient for wavesync, and not retried inside the client.
    let fail_apps = |times: u32| {
        FaultRule::new(Fault::Status(500))
            .verb("patch")
            .resource("configmaps")
            .name("a")
            .times(times)
    };
    // Pass 1: a lasting 500 uses the budget of two attempts.
    env.sim.faults().add(fail_apps(u32::MAX));
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(
        res.expect_err("budget spent").category(),
        Category::Transient
    );
    let record = env.record().await;
    assert_eq!(status(&record, "apps"), WaveStatus::Failed);
    assert_eq!(record.wave("apps").unwrap().attempts, 2);
    assert!(
        record.stalled.is_none(),
        "a transient failure does not stall"
    );

    // Pass 2, same revision: one failed attempt (every per-object retry of
    // it) is retried within this pass's own budget.
    env.sim.faults().clear();
    env.sim.faults().add(fail_apps(OBJECT_ATTEMPTS));
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("the budget is per pass").phase, Phase::Ready);

    // Pass 3: a change in base re-applies apps (cascade); its count starts again.
    two_waves(&env, "2");
    env.repo.commit("change base");
    env.sim.faults().add(fail_apps(OBJECT_ATTEMPTS));
    let (_, res) = env.sync(&env.engine()).await;
    assert_eq!(res.expect("retried once").phase, Phase::Ready);
    let record = env.record().await;
    assert_eq!(
        record.wave("apps").unwrap().attempts,
        2,
        "a new rollout counts from one: the first attempt and its retry"
    );
    assert_eq!(record.wave("base").unwrap().attempts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_forbidden_read_while_waiting_for_a_crd_fails_at_once_as_permission() {
    let env = Env::start().await;
    let resolver = resolver(&env);
    env.sim.faults().add(
        FaultRule::new(Fault::Status(403))
            .verb("get")
            .resource("customresourcedefinitions"),
    );
    let crd = wavesync::model::Object {
        json: yaml_to_json(WIDGET_CRD),
        origin: Default::default(),
    };
    let started = Instant::now();
    let out = Applier::new(resolver)
        .apply(&[crd], &Default::default())
        .await;
    let errors = out.errors();
    let err = errors.first().expect("the wait fails");
    assert_eq!(err.category(), Category::Permission, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("reading CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com")
            && text.contains("403")
            && !text.contains("not Established"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not held until the 60 s CRD timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_discovery_failure_in_a_gate_keeps_its_category() {
    let env = Env::start().await;
    let resolver = resolver(&env);
    let reqs = [Requirement::Crd("widgets.example.com".into())];
    // Discovery requests have no resource.
    env.sim
        .faults()
        .add(FaultRule::new(Fault::Status(503)).verb("list").resource(""));
    let err = gates::check_requirements(&resolver, &reqs, "shop", Duration::from_millis(300))
        .await
        .expect_err("discovery fails");
    assert_eq!(err.category(), Category::Transient, "{err}");
    assert!(
        err.to_string()
            .starts_with("checking CustomResourceDefinition widgets.example.com: discovery of"),
        "{err}"
    );
    env.sim.faults().clear();
    env.sim
        .faults()
        .add(FaultRule::new(Fault::Status(403)).verb("list").resource(""));
    let err = gates::check_requirements(&resolver, &reqs, "shop", Duration::from_millis(300))
        .await
        .expect_err("discovery refused");
    assert_eq!(err.category(), Category::Permission, "{err}");
    // Without faults the gate reads "does not exist", not a lookup failure.
    env.sim.faults().clear();
    let err = gates::check_requirements(&resolver, &reqs, "shop", Duration::from_millis(300))
        .await
        .expect_err("no such CRD");
    assert_eq!(err.category(), Category::Component);
    assert!(
        err.to_string()
            .contains("CRD widgets.example.com does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_refused_discovery_in_a_health_wait_is_not_read_as_not_found_yet() {
    let env = Env::start().await;
    let resolver = resolver(&env);
    let widget = ObjRef {
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        namespace: "shop".into(),
        name: "w1".into(),
    };
    env.sim
        .faults()
        .add(FaultRule::new(Fault::Status(403)).verb("list").resource(""));
    let started = Instant::now();
    let err = wait_healthy(
        &resolver,
        &[widget],
        &[],
        Duration::from_secs(20),
        &|_, _| {},
    )
    .await
    .expect_err("refused");
    assert_eq!(err.category(), Category::Permission, "{err}");
    assert!(
        err.to_string()
            .contains("discovery of example.com/v1 Widget"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "not held until the timeout"
    );
}

/// A YAML document as JSON.
fn yaml_to_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_lasting_503_fails_a_request_after_a_few_retries_not_minutes() {
    let env = Env::start().await;
    let resolver = resolver(&env);
    let settings = ObjRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: "default".into(),
        name: "settings".into(),
    };
    resolver.get(&settings).await.expect("discovery warms up");
    env.sim.counters().reset();
    env.sim.faults().add(
        FaultRule::new(Fault::Status(503))
            .verb("get")
            .resource("configmaps"),
    );
    let started = Instant::now();
    let err = resolver.get(&settings).await.expect_err("still 503");
    assert_eq!(err.category(), Category::Transient, "{err}");
    assert_eq!(
        env.sim.counters().get("get", "configmaps"),
        1 + u64::from(wavesync::client::REQUEST_RETRIES),
        "the request and its retries"
    );
    // kube's default policy would still be retrying (15 times, up to 1,000 s apart).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_names_the_category_of_a_failed_sync_and_what_to_do() {
    let mut env = Env::start().await;
    two_waves(&env, "1");
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    // Three of five objects removed: the mass-deletion guard says no.
    for n in ["a", "b", "c"] {
        env.repo.remove(&format!("waves/apps/cm-{n}.yaml"));
    }
    env.repo
        .write("waves/apps/cm-d.yaml", &configmap("d", "shop", "1", &[]));
    env.repo.commit("remove three");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .arg("sync")
        .envs(common::agent::kube_env(&env, &env.repo))
        .env("WAVESYNC_CACHE", env.temp().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("would prune 3 of the 5 objects")
            && stderr.contains("category: config: fix the repository"),
        "{stderr}"
    );
    assert!(
        env.exists("v1", "ConfigMap", "shop", "a").await,
        "nothing pruned"
    );
}
