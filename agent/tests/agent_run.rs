//! `wavesync run` as it runs in a pod: the real binary, started the way the
//! kubelet starts it, against the simulated API server. Each test watches
//! what a user would: the state record, `/metrics`, `/healthz`, `/readyz`,
//! the Lease and the Events.

#![allow(clippy::unwrap_used)]

mod common;

use common::agent::*;
use common::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use wavesync::state::{Phase, WaveStatus};

#[tokio::test(flavor = "multi_thread")]
async fn in_pod_agent_syncs_examples_repo_to_ready_with_metrics_events_and_probes() {
    let env = Env::start_with(wavesync::commands::demo::sim_options(0.3)).await;
    let repo = tempfile::tempdir().unwrap();
    wavesync::commands::demo::commit_copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo"),
        &repo.path().join("r"),
    )
    .unwrap();
    let head = git2::Repository::open(repo.path().join("r"))
        .unwrap()
        .head()
        .unwrap()
        .target()
        .unwrap()
        .to_string();
    // The cluster's own StorageClass, which the infrastructure wave requires.
    env.create(
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "gp3"}, "provisioner": "simulated.wavesync.io"}),
    )
    .await;
    let sa = env.temp().join("serviceaccount");
    service_account(&env, &sa);
    let mut envs = pod_env(
        &env,
        &sa,
        &format!("file://{}", repo.path().join("r").display()),
    );
    envs.push(("WAVESYNC_CLUSTER", "dp-east".into()));
    envs.push(("WAVESYNC_INTERVAL", "2s".into()));
    let agent = AgentProc::start("wavesync-0", &envs, &[]);

    // Not ready before its first pass; alive from the start.
    let (code, _) = eventually(Duration::from_secs(20), "the listener", || async {
        agent.get("/healthz").await
    })
    .await;
    assert_eq!(code, 200);

    // During the sync: some wave is in progress, and the gauges say so.
    let during = eventually(
        Duration::from_secs(60),
        "a wave in progress in /metrics",
        || async {
            let m = agent.metrics().await;
            metric(&m, "wavesync_wave_status", &[("waveset", "dataplane")])
                .is_some()
                .then(|| m.clone())
                .filter(|m| {
                    m.iter()
                        .any(|(k, v)| k.starts_with("wavesync_wave_status{") && *v == 1.0)
                })
        },
    )
    .await;
    assert_eq!(metric(&during, "wavesync_leader", &[]), Some(1.0));
    assert!(
        [Phase::Installing, Phase::Upgrading].iter().any(|p| metric(
            &during,
            "wavesync_phase",
            &[("phase", p.as_str())]
        ) == Some(1.0)),
        "{during:?}"
    );

    let record = within(
        &agent,
        Duration::from_secs(120),
        "the record Ready",
        || async {
            try_record(&env, "dataplane")
                .await
                .filter(|r| r.phase == Phase::Ready)
        },
    )
    .await;
    assert_eq!(record.applied_revision.as_deref(), Some(head.as_str()));
    assert!(
        record
            .waves
            .iter()
            .all(|w| w.status == WaveStatus::Completed),
        "{:?}",
        record.waves
    );
    let ready = record
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Succeeded")
    );
    assert_eq!(ready.observed_revision.as_deref(), Some(head.as_str()));

    // After: what a user alerts on.
    let m = eventually(
        Duration::from_secs(10),
        "metrics after the pass",
        || async {
            let m = agent.metrics().await;
            metric(&m, "wavesync_reconcile_total", &[("result", "success")]).map(|_| m)
        },
    )
    .await;
    assert_eq!(
        metric(&m, "wavesync_phase", &[("phase", "Ready")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "wavesync_phase", &[("phase", "Failed")]),
        Some(0.0)
    );
    for w in &record.waves {
        assert_eq!(
            metric(&m, "wavesync_wave_status", &[("wave", &w.name)]),
            Some(2.0),
            "{}",
            w.name
        );
        assert!(
            metric(
                &m,
                "wavesync_wave_duration_seconds_count",
                &[("wave", &w.name)]
            )
            .unwrap()
                >= 1.0
        );
    }
    assert_eq!(
        metric(&m, "wavesync_source_info", &[("revision", &head)]),
        Some(1.0)
    );
    assert_eq!(metric(&m, "wavesync_stalled", &[]), Some(0.0));
    assert!(metric(&m, "wavesync_last_successful_sync_timestamp_seconds", &[]).unwrap() > 1.7e9);
    let created: f64 = m
        .iter()
        .filter(|(k, _)| {
            k.starts_with("wavesync_objects_applied_total{") && k.contains("action=\"created\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(created as usize, record.inventory.len(), "{m:?}");
    assert!(
        metric(
            &m,
            "wavesync_objects_applied_total",
            &[("group", "apps"), ("action", "created")]
        )
        .is_some()
    );
    assert!(
        metric(
            &m,
            "wavesync_git_fetch_duration_seconds_count",
            &[("result", "success")]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        metric(&m, "wavesync_inventory_objects", &[]),
        Some(record.inventory.len() as f64)
    );
    assert!(
        metric(
            &m,
            "wavesync_phase_transitions_total",
            &[("from", "Installing"), ("to", "Ready")]
        )
        .is_some()
    );
    for k in m.keys() {
        assert!(
            !k.contains("cnpg-") && !k.contains("name=\""),
            "object names stay out of labels: {k}"
        );
    }
    assert_eq!(agent.get("/readyz").await.map(|r| r.0), Some(200));

    // Later polls of the unchanged remote are up to date and write nothing.
    let writes = sync_writes(&env);
    eventually(Duration::from_secs(15), "an up-to-date pass", || async {
        metric(
            &agent.metrics().await,
            "wavesync_reconcile_total",
            &[("result", "up_to_date")],
        )
    })
    .await;
    assert_eq!(
        sync_writes(&env),
        writes,
        "an up-to-date pass writes nothing"
    );

    // Events on the record's ConfigMap, from the agent.
    let evs = events(&env).await;
    let reasons: Vec<&str> = evs.iter().filter_map(|e| e["reason"].as_str()).collect();
    for r in [
        "LeaderAcquired",
        "SyncStarted",
        "WaveStarted",
        "WaveCompleted",
        "SyncSucceeded",
    ] {
        assert!(reasons.contains(&r), "{r} missing from {reasons:?}");
    }
    for e in &evs {
        assert_eq!(e["reportingController"], "wavesync.io/agent");
        assert_eq!(e["reportingInstance"], "wavesync-0");
        assert_eq!(e["regarding"]["name"], "wavesync-state-dataplane");
        assert_eq!(e["regarding"]["kind"], "ConfigMap");
    }
    let completed = evs
        .iter()
        .filter(|e| e["reason"] == "WaveCompleted")
        .count();
    assert_eq!(completed, record.waves.len(), "one event per wave");

    // SIGTERM: exits 0 and gives the lease up for the next agent.
    let mut agent = agent;
    agent.terminate();
    let status = eventually(Duration::from_secs(30), "the agent to exit", || {
        let s = agent.child.try_wait().unwrap();
        async move { s }
    })
    .await;
    assert!(status.success(), "{status:?}\n{}", agent.log());
    let l = lease(&env, "wavesync-dataplane").await.unwrap();
    assert!(l["spec"]["holderIdentity"].is_null(), "released: {l}");
}

/// A repository whose `slow` wave takes a while to become healthy.
fn slow_repo(repo: &TestRepo) {
    repo.write(
        "wavesync.yaml",
        r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 60s }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: slow
      path: waves/slow
    - name: apps
      path: waves/apps
"#,
    );
    repo.write("waves/base/namespace.yaml", &namespace("shop", &[]));
    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "blue", &[]),
    );
    repo.write(
        "waves/slow/web.yaml",
        &deployment("web", "shop", &[("sim.wavesync.io/ready-after", "8s")]),
    );
    repo.write(
        "waves/apps/app.yaml",
        &configmap("app", "shop", "green", &[]),
    );
    repo.commit("slow");
}

/// Some when the slow wave is being applied or waited on.
async fn slow_in_progress(env: &Env) -> Option<()> {
    let r = try_record(env, WAVESET).await?;
    (status(&r, "slow") == WaveStatus::InProgress).then_some(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_one_acts_and_the_standby_takes_over_from_a_killed_leader() {
    let env = Env::start().await;
    slow_repo(&env.repo);
    let envs = kube_env(&env, &env.repo);
    let mut a = AgentProc::start("agent-a", &envs, &[]);
    eventually(Duration::from_secs(20), "agent-a to lead", || async {
        (metric(&a.metrics().await, "wavesync_leader", &[]) == Some(1.0)).then_some(())
    })
    .await;
    let b = AgentProc::start("agent-b", &envs, &[]);
    // The standby is ready once it has seen the lease, and does nothing.
    eventually(
        Duration::from_secs(20),
        "agent-b ready as a standby",
        || async { (b.get("/readyz").await.map(|r| r.0) == Some(200)).then_some(()) },
    )
    .await;
    let mb = b.metrics().await;
    assert_eq!(metric(&mb, "wavesync_leader", &[]), Some(0.0));
    assert_eq!(
        metric(&mb, "wavesync_reconcile_total", &[]),
        None,
        "the standby ran no pass"
    );

    // Kill the leader in the middle of the slow wave.
    eventually(Duration::from_secs(30), "the slow wave in progress", || {
        slow_in_progress(&env)
    })
    .await;
    let before = env.record().await;
    let base_rv = env
        .resource_version("v1", "ConfigMap", "shop", "settings")
        .await;
    a.child.kill().unwrap();
    let killed = Instant::now();
    eventually(Duration::from_secs(15), "agent-b to lead", || async {
        (metric(&b.metrics().await, "wavesync_leader", &[]) == Some(1.0)).then_some(())
    })
    .await;
    let took = killed.elapsed();
    // The lease lapses at most 6 s after the kill (the last renewal came
    // before it); one retry period of slack covers a loaded CI machine.
    assert!(
        took <= Duration::from_secs(7),
        "took over after {took:?}, lease duration 6s"
    );
    eprintln!("standby took over {took:?} after the leader was killed (lease duration 6s)");

    let after = eventually(Duration::from_secs(60), "Ready under agent-b", || async {
        let r = env.record().await;
        (r.phase == Phase::Ready).then_some(r)
    })
    .await;
    // The completed wave was verified, not applied again.
    assert_eq!(
        after.wave("base").unwrap().started,
        before.wave("base").unwrap().started
    );
    assert_eq!(
        env.resource_version("v1", "ConfigMap", "shop", "settings")
            .await,
        base_rv
    );
    let l = lease(&env, "wavesync-shop").await.unwrap();
    assert_eq!(l["spec"]["holderIdentity"], "agent-b");
    assert!(l["spec"]["leaseTransitions"].as_i64().unwrap() >= 1, "{l}");
    let log = b.log();
    assert_eq!(
        log.matches("standing by").count(),
        1,
        "a standby says so once:\n{log}"
    );
    let evs = events(&env).await;
    assert!(
        evs.iter()
            .any(|e| e["reason"] == "LeaderAcquired" && e["reportingInstance"] == "agent-b")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_wavesync_yaml_stalls_once_and_the_next_good_commit_recovers() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("good");
    let envs = kube_env(&env, &env.repo);
    let agent = AgentProc::start("agent-a", &envs, &[]);
    eventually(Duration::from_secs(60), "Ready", || async {
        try_record(&env, WAVESET)
            .await
            .filter(|r| r.phase == Phase::Ready)
            .map(|_| ())
    })
    .await;

    env.repo.write(
        "wavesync.yaml",
        &STANDARD_WAVESET.replace(
            "  namespace: shop\n",
            "  namespace: shop\n  namspace: typo\n",
        ),
    );
    let bad = env.repo.commit("typo in wavesync.yaml");
    let r = eventually(Duration::from_secs(20), "the record Stalled", || async {
        let r = env.record().await;
        r.stalled.is_some().then_some(r)
    })
    .await;
    let stall = r.stalled.clone().unwrap();
    assert_eq!(r.phase, Phase::Failed);
    assert_eq!(stall.revision, bad);
    assert!(
        stall.reason.contains("wavesync.yaml:7"),
        "file:line in {stall:?}"
    );
    assert!(stall.reason.contains("namspace"), "{stall:?}");
    let cond = r.conditions.iter().find(|c| c.type_ == "Stalled").unwrap();
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("True", "ConfigError")
    );
    let history = r.history.len();

    // Several intervals later: not retried, nothing written, one history entry.
    let writes = sync_writes(&env);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let m = agent.metrics().await;
    assert!(
        metric(&m, "wavesync_reconcile_total", &[("result", "stalled")]).unwrap() >= 3.0,
        "{m:?}"
    );
    assert_eq!(metric(&m, "wavesync_stalled", &[]), Some(1.0));
    assert_eq!(
        metric(&m, "wavesync_errors_total", &[("category", "config")]),
        Some(1.0)
    );
    assert_eq!(
        sync_writes(&env),
        writes,
        "a stalled WaveSet is not retried"
    );
    let r = env.record().await;
    assert_eq!(r.history.len(), history);
    assert_eq!(r.history[0].revision, bad);
    assert_eq!(r.history[0].repeats, 0);
    let log = agent.log();
    assert_eq!(
        log.matches("stalled (config error)").count(),
        1,
        "said once:\n{log}"
    );
    assert_eq!(log.matches("sync failed").count(), 1, "said once:\n{log}");

    // Asked by hand (the annotation a manual retry sets): tried once more,
    // failing the same way — one history entry, counted as a repeat.
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), "wavesync");
    cms.patch(
        "wavesync-state-shop",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"annotations": {
            wavesync::state::SYNC_REQUEST_ANNOTATION: "1"}}})),
    )
    .await
    .unwrap();
    let r = eventually(Duration::from_secs(20), "the requested retry", || async {
        let r = env.record().await;
        (r.history[0].repeats == 1).then_some(r)
    })
    .await;
    assert_eq!(r.history.len(), history);
    assert_eq!(
        r.stalled.as_ref().and_then(|s| s.request.as_deref()),
        Some("1")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.record().await.history[0].repeats,
        1,
        "one retry per request"
    );
    assert_eq!(
        metric(
            &agent.metrics().await,
            "wavesync_errors_total",
            &[("category", "config")]
        ),
        Some(2.0)
    );

    // The fix: the next commit is synced and the stall is gone.
    env.repo.write("wavesync.yaml", STANDARD_WAVESET);
    let fixed = env.repo.commit("fix");
    let r = eventually(Duration::from_secs(60), "Ready at the fix", || async {
        let r = env.record().await;
        (r.phase == Phase::Ready && r.applied_revision.as_deref() == Some(fixed.as_str()))
            .then_some(r)
    })
    .await;
    assert!(r.stalled.is_none());
    assert_eq!(
        metric(&agent.metrics().await, "wavesync_stalled", &[]),
        Some(0.0)
    );
    let _ = env.fetch().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_events_are_aggregated_into_one_object_with_a_count() {
    let env = Env::start().await;
    let sink = wavesync::report::events::spawn(
        env.client.clone(),
        "wavesync",
        "wavesync-state-shop",
        "pod-0",
    );
    let note = |n: &str| wavesync::report::events::Note {
        warning: true,
        reason: "WaveFailed",
        action: "Apply",
        note: n.to_string(),
    };
    for _ in 0..3 {
        sink.publish(note("wave apps failed: Job migrate failed"));
    }
    sink.publish(note("wave apps failed: timeout"));
    let evs = eventually(Duration::from_secs(10), "two events", || async {
        let e = events(&env).await;
        (e.len() == 2 && e.iter().any(|e| e["series"]["count"] == 3)).then_some(e)
    })
    .await;
    let repeated = evs
        .iter()
        .find(|e| e["note"] == "wave apps failed: Job migrate failed")
        .unwrap();
    assert_eq!(repeated["series"]["count"], 3);
    assert_eq!(repeated["type"], "Warning");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_that_loses_the_lease_stops_acting_at_once() {
    let env = Env::start().await;
    slow_repo(&env.repo);
    let envs = kube_env(&env, &env.repo);
    let a = AgentProc::start("agent-a", &envs, &[]);
    within(
        &a,
        Duration::from_secs(30),
        "the slow wave in progress",
        || slow_in_progress(&env),
    )
    .await;

    // Another holder takes the lease over (an operator, or a replica that
    // judged it lapsed): the leader must stop before its pass goes on.
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(env.client.clone(), "wavesync");
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    leases
        .patch(
            "wavesync-shop",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {
                "holderIdentity": "intruder", "renewTime": now, "leaseDurationSeconds": 60}})),
        )
        .await
        .unwrap();
    let taken = Instant::now();
    within(
        &a,
        Duration::from_secs(5),
        "agent-a to step down",
        || async {
            (metric(&a.metrics().await, "wavesync_leader", &[]) == Some(0.0)).then_some(())
        },
    )
    .await;
    assert!(
        taken.elapsed() < Duration::from_secs(3),
        "stepped down after {:?}",
        taken.elapsed()
    );
    let rv = env
        .resource_version("v1", "ConfigMap", "wavesync", "wavesync-state-shop")
        .await;
    let writes = sync_writes(&env);

    // Long past the moment the slow wave turns healthy: nothing more written.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        sync_writes(&env),
        writes,
        "a leader without the lease writes nothing"
    );
    assert_eq!(
        env.resource_version("v1", "ConfigMap", "wavesync", "wavesync-state-shop")
            .await,
        rv
    );
    let r = env.record().await;
    assert_eq!(
        status(&r, "slow"),
        WaveStatus::InProgress,
        "left for the next leader to resume"
    );
    assert!(
        env.get("v1", "ConfigMap", "shop", "app").await.is_none(),
        "the next wave never started"
    );
    let m = a.metrics().await;
    assert_eq!(
        metric(&m, "wavesync_reconcile_total", &[("result", "cancelled")]),
        Some(1.0),
        "{m:?}"
    );
    assert_eq!(
        metric(&m, "wavesync_wave_status", &[]),
        None,
        "a replica that no longer leads exports no stale WaveSet gauges"
    );
    assert!(a.log().contains("lost the lease"), "{}", a.log());
    let evs = events(&env).await;
    assert!(
        evs.iter()
            .any(|e| e["reason"] == "LeaderLost" && e["type"] == "Warning")
    );
}
