//! The main path against the simulator: full sync, incremental syncs, an
//! unchanged revision, a failing Job, resume after a kill, and `--repair`.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};
use wavesync::reconcile::SyncOptions;
use wavesync::state::{Phase, WaveStatus};

const WAVES: [&str; 4] = ["base", "crds", "jobs", "apps"];

#[tokio::test(flavor = "multi_thread")]
async fn full_sync_of_a_multi_wave_repo_reaches_ready_with_record_and_labels() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    let sha = env.repo.commit("initial");
    let engine = env.engine();
    let started = Instant::now();
    let (rev, res) = env.sync(&engine).await;
    let report = res.expect("sync succeeds");
    assert_eq!(rev.0, sha);
    assert_eq!(report.phase, Phase::Ready);
    assert_eq!(report.applied_waves, WAVES);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    let record = env.record().await;
    assert_eq!(record.phase, Phase::Ready);
    assert_eq!(record.applied_revision.as_deref(), Some(sha.as_str()));
    assert_eq!(record.target_revision.as_deref(), Some(sha.as_str()));
    assert_eq!(
        record
            .waves
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>(),
        WAVES
    );
    for w in &record.waves {
        assert_eq!(w.status, WaveStatus::Completed, "wave {}", w.name);
        let digest = w
            .digest
            .as_deref()
            .unwrap_or_else(|| panic!("wave {} has a digest", w.name));
        assert!(digest.len() >= 16, "digest {digest:?}");
        assert!(
            w.started.is_some() && w.finished.is_some(),
            "wave {} has times",
            w.name
        );
        assert_eq!(w.attempts, 1);
    }
    let digests: std::collections::BTreeSet<_> =
        record.waves.iter().map(|w| w.digest.clone()).collect();
    assert_eq!(digests.len(), 4, "each wave has its own digest");
    assert_eq!([2, 2, 1, 1], [0, 1, 2, 3].map(|i| record.waves[i].objects));
    let names = |wave: &str| -> Vec<String> {
        let mut v: Vec<String> = record.inventory.waves[wave]
            .iter()
            .map(|r| format!("{}/{}", r.kind, r.name))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("base"), ["ConfigMap/settings", "Namespace/shop"]);
    assert_eq!(
        names("crds"),
        ["CustomResourceDefinition/widgets.example.com", "Widget/w1"]
    );
    assert_eq!(names("jobs"), ["Job/migrate"]);
    assert_eq!(names("apps"), ["Deployment/web"]);
    assert_eq!(record.history.len(), 1);
    assert_eq!(record.history[0].phase, Phase::Ready);

    for (api, kind, ns, name, wave) in [
        ("v1", "Namespace", "", "shop", "base"),
        ("v1", "ConfigMap", "shop", "settings", "base"),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "widgets.example.com",
            "crds",
        ),
        ("example.com/v1", "Widget", "shop", "w1", "crds"),
        ("batch/v1", "Job", "shop", "migrate", "jobs"),
        ("apps/v1", "Deployment", "shop", "web", "apps"),
    ] {
        let o = env
            .get(api, kind, ns, name)
            .await
            .unwrap_or_else(|| panic!("{kind} {name} exists"));
        assert_eq!(
            o["metadata"]["labels"]["wavesync.io/waveset"], "shop",
            "{kind} {name}"
        );
        assert_eq!(
            o["metadata"]["labels"]["wavesync.io/wave"], wave,
            "{kind} {name}"
        );
    }
    let widget = env
        .get("example.com/v1", "Widget", "shop", "w1")
        .await
        .unwrap();
    assert_eq!(
        widget["status"]["phase"], "Running",
        "the CEL rule's condition holds"
    );
    let job = env.get("batch/v1", "Job", "shop", "migrate").await.unwrap();
    assert!(
        job["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_changing_one_wave_reapplies_only_that_wave_and_later_ones() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    let engine = env.engine();
    env.sync(&engine).await.1.expect("first sync");
    let before = env.record().await;
    let rv_ns = env.resource_version("v1", "Namespace", "", "shop").await;
    let rv_cm = env
        .resource_version("v1", "ConfigMap", "shop", "settings")
        .await;
    let rv_crd = env
        .resource_version(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "widgets.example.com",
        )
        .await;
    let rv_widget = env
        .resource_version("example.com/v1", "Widget", "shop", "w1")
        .await;
    let job_uid =
        env.get("batch/v1", "Job", "shop", "migrate").await.unwrap()["metadata"]["uid"].clone();

    // Change the jobs wave (a new migration image): crds and base are earlier.
    env.repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "2.0", &[]),
    );
    let sha2 = env.repo.commit("migrate 2.0");
    env.sim.counters().reset();
    env.events.clear();
    let (_, res) = env.sync(&env.engine()).await;
    let report = res.expect("second sync");
    assert_eq!(report.phase, Phase::Ready);
    assert_eq!(report.verified_waves, ["base", "crds"]);
    assert_eq!(report.applied_waves, ["jobs", "apps"]);
    assert_eq!(env.events.verified(), ["base", "crds"]);
    assert_eq!(env.events.started(), ["jobs", "apps"]);

    let c = env.sim.counters();
    for resource in ["namespaces", "customresourcedefinitions", "widgets"] {
        assert_eq!(c.get("patch", resource), 0, "no patch on {resource}");
        assert_eq!(
            c.get("create", resource) + c.get("update", resource) + c.get("delete", resource),
            0,
            "no write on {resource}"
        );
    }
    // ConfigMaps: the only writes are the state record's (create/update), never an apply (patch).
    assert_eq!(
        c.get("patch", "configmaps"),
        0,
        "no apply of the base wave's ConfigMap"
    );
    assert!(c.get("patch", "jobs") >= 1, "the changed Job was applied");
    assert!(
        c.get("delete", "jobs") >= 1,
        "the changed Job was recreated"
    );
    assert!(
        c.get("patch", "deployments") >= 1,
        "the later wave was applied"
    );

    assert_eq!(
        env.resource_version("v1", "Namespace", "", "shop").await,
        rv_ns
    );
    assert_eq!(
        env.resource_version("v1", "ConfigMap", "shop", "settings")
            .await,
        rv_cm
    );
    assert_eq!(
        env.resource_version(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "widgets.example.com"
        )
        .await,
        rv_crd
    );
    assert_eq!(
        env.resource_version("example.com/v1", "Widget", "shop", "w1")
            .await,
        rv_widget
    );
    let job = env.get("batch/v1", "Job", "shop", "migrate").await.unwrap();
    assert_ne!(job["metadata"]["uid"], job_uid, "the Job was recreated");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/migrate:2.0"
    );

    let after = env.record().await;
    assert_eq!(after.applied_revision.as_deref(), Some(sha2.as_str()));
    assert_eq!(
        after.wave("base").unwrap().digest,
        before.wave("base").unwrap().digest
    );
    assert_eq!(
        after.wave("crds").unwrap().finished,
        before.wave("crds").unwrap().finished,
        "earlier waves' records untouched"
    );
    assert_ne!(
        after.wave("jobs").unwrap().digest,
        before.wave("jobs").unwrap().digest
    );
    assert_eq!(
        after.wave("apps").unwrap().digest,
        before.wave("apps").unwrap().digest,
        "apps did not change but was re-applied"
    );
    assert_ne!(
        after.wave("apps").unwrap().finished,
        before.wave("apps").unwrap().finished
    );
    assert_eq!(after.history.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_revision_syncs_without_writes_and_at_most_one_read_per_wave() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");

    for engine in [env.engine(), env.engine()] {
        env.sim.counters().reset();
        env.events.clear();
        let (_, res) = env.sync(&engine).await;
        let report = res.expect("second sync");
        assert!(report.up_to_date);
        assert_eq!(report.phase, Phase::Ready);
        assert!(env.events.started().is_empty());
        let c = env.sim.counters();
        assert_eq!(env.writes(), 0, "no writes: {:?}", c.snapshot());
        let reads = c.verb("get") + c.verb("list") + c.verb("watch");
        assert!(
            reads <= WAVES.len() as u64,
            "{reads} reads for {} waves: {:?}",
            WAVES.len(),
            c.snapshot()
        );
        assert_eq!(c.total(), reads, "nothing but reads: {:?}", c.snapshot());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_fails_the_sync_with_its_reason_and_later_waves_do_not_start() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.write(
        "waves/jobs/migrate.yaml",
        &job(
            "migrate",
            "shop",
            "1.0",
            &[("sim.wavesync.io/fail", "true")],
        ),
    );
    env.repo.commit("a migration that fails");
    let (_, res) = env.sync(&env.engine()).await;
    let err = res.expect_err("the sync fails");
    assert!(err.to_string().contains("jobs"), "{err}");

    let record = env.record().await;
    assert_eq!(record.phase, Phase::Failed);
    assert_eq!(status(&record, "base"), WaveStatus::Completed);
    assert_eq!(status(&record, "crds"), WaveStatus::Completed);
    assert_eq!(status(&record, "jobs"), WaveStatus::Failed);
    assert_eq!(status(&record, "apps"), WaveStatus::Pending);
    let msg = record
        .wave("jobs")
        .unwrap()
        .message
        .clone()
        .unwrap_or_default();
    assert!(
        msg.contains("BackoffLimitExceeded"),
        "the Job's reason is in the wave message: {msg}"
    );
    assert!(msg.contains("migrate"), "the message names the Job: {msg}");
    assert!(
        record
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("jobs"),
        "{:?}",
        record.message
    );
    assert_eq!(record.history[0].phase, Phase::Failed);
    assert!(record.wave("apps").unwrap().started.is_none());
    assert!(!env.events.started().contains(&"apps".to_string()));
    assert!(
        env.get("apps/v1", "Deployment", "shop", "web")
            .await
            .is_none(),
        "the apps wave was not applied"
    );
    assert_eq!(env.sim.counters().get("patch", "deployments"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_mid_wave_resumes_at_that_wave() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.write(
        "waves/apps/web.yaml",
        &deployment("web", "shop", &[("sim.wavesync.io/ready-after", "3s")]),
    );
    let sha = env.repo.commit("a slow deployment");
    let snap = env.fetch().await;
    let first = env.engine();
    let root = snap.root.clone();
    let rev = snap.revision.clone();
    let task = tokio::spawn(async move { first.sync(&root, &rev).await });
    let store = env.engine().store(WAVESET);
    eventually(Duration::from_secs(8), "the apps wave in progress", || {
        let store = store.clone();
        async move {
            let r = store.load().await.ok()??.record;
            (r.wave("apps")?.status == WaveStatus::InProgress).then_some(())
        }
    })
    .await;
    // Let the apply go out, then kill the agent mid-wave (the Deployment is not ready for 3 s).
    eventually(Duration::from_secs(5), "the Deployment applied", || async {
        env.get("apps/v1", "Deployment", "shop", "web")
            .await
            .map(|_| ())
    })
    .await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let killed = env.record().await;
    assert_eq!(
        status(&killed, "apps"),
        WaveStatus::InProgress,
        "the record says where it stopped"
    );
    assert_eq!(killed.phase, Phase::Installing);

    env.events.clear();
    env.sim.counters().reset();
    let started = Instant::now();
    let report = env
        .engine()
        .sync(&snap.root, &snap.revision)
        .await
        .expect("resumed sync");
    assert_eq!(report.phase, Phase::Ready);
    assert_eq!(
        env.events.verified(),
        ["base", "crds", "jobs"],
        "earlier waves verified and skipped"
    );
    assert_eq!(
        env.events.started(),
        ["apps"],
        "work continues at the interrupted wave"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    let c = env.sim.counters();
    for resource in ["namespaces", "customresourcedefinitions", "widgets", "jobs"] {
        assert_eq!(
            c.get("patch", resource) + c.get("delete", resource),
            0,
            "no write on {resource}"
        );
    }
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Ready);
    assert_eq!(record.applied_revision.as_deref(), Some(sha.as_str()));
    assert!(
        record
            .waves
            .iter()
            .all(|w| w.status == WaveStatus::Completed)
    );
    assert_eq!(
        record.wave("apps").unwrap().attempts,
        2,
        "the interrupted attempt counts"
    );
    assert_eq!(record.wave("jobs").unwrap().attempts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn repair_reapplies_and_reverifies_every_wave_of_a_ready_revision() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    let job_uid =
        env.get("batch/v1", "Job", "shop", "migrate").await.unwrap()["metadata"]["uid"].clone();

    // Drift: someone deletes the app's Deployment. A plain sync of the same revision does nothing.
    let deployments = env
        .resolver
        .resolve("apps/v1", "Deployment")
        .await
        .unwrap()
        .unwrap();
    env.resolver
        .api(&deployments, "shop")
        .delete("web", &Default::default())
        .await
        .unwrap();
    let (_, res) = env.sync(&env.engine()).await;
    assert!(res.expect("plain sync").up_to_date);
    assert!(
        env.get("apps/v1", "Deployment", "shop", "web")
            .await
            .is_none()
    );

    env.sim.counters().reset();
    env.events.clear();
    let repair = env.engine_with(SyncOptions {
        repair: true,
        ..Env::options()
    });
    let (_, res) = env.sync(&repair).await;
    let report = res.expect("repair");
    assert!(!report.up_to_date);
    assert_eq!(report.phase, Phase::Ready);
    assert_eq!(report.applied_waves, WAVES);
    assert!(env.events.verified().is_empty());
    assert_eq!(env.events.started(), WAVES);
    let c = env.sim.counters();
    for resource in [
        "namespaces",
        "configmaps",
        "customresourcedefinitions",
        "widgets",
        "jobs",
        "deployments",
    ] {
        assert!(
            c.get("patch", resource) >= 1,
            "{resource} re-applied: {:?}",
            c.snapshot()
        );
    }
    assert!(
        env.get("apps/v1", "Deployment", "shop", "web")
            .await
            .is_some(),
        "the drift is repaired"
    );
    let job = env.get("batch/v1", "Job", "shop", "migrate").await.unwrap();
    assert_eq!(
        job["metadata"]["uid"], job_uid,
        "an unchanged complete Job is not re-run"
    );
    let record = env.record().await;
    // A repair is a new rollout of each completed wave: its attempts count
    // from one again (issue 10: the counter resets once a wave completed, so
    // earlier attempts never use up the retry budget).
    assert!(
        record
            .waves
            .iter()
            .all(|w| w.status == WaveStatus::Completed && w.attempts == 1),
        "{:?}",
        record.waves
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_wave_that_drifted_is_reapplied_instead_of_skipped() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    env.sync(&env.engine()).await.1.expect("first sync");
    // Someone deletes an object of the first wave out of band…
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.sim.client().expect("client"), "shop");
    cms.delete("settings", &Default::default())
        .await
        .expect("delete");
    // …and a later wave changes: the next pass finds the first wave drifted.
    env.repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "2.0", &[]),
    );
    env.repo.commit("migrate 2.0");
    env.events.clear();
    let report = env.sync(&env.engine()).await.1.expect("second sync");
    assert_eq!(report.phase, Phase::Ready);
    assert!(
        !report.verified_waves.contains(&"base".to_string()),
        "base was not skipped: {report:?}"
    );
    assert_eq!(
        env.events.started().first().map(String::as_str),
        Some("base")
    );
    let drifted: Vec<String> = env
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            wavesync::report::Event::WaveDrifted { wave, why, .. } => {
                Some(format!("{wave}: {why}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert!(
        drifted[0].starts_with("base: ") && drifted[0].contains("settings"),
        "{drifted:?}"
    );
    assert!(
        env.exists("v1", "ConfigMap", "shop", "settings").await,
        "the deleted object is back"
    );
    let record = env.record().await;
    assert_eq!(record.phase, Phase::Ready);
    assert_eq!(
        record.message, None,
        "the drift message is cleared once healed"
    );
}

/// Issue 13: a commit that changes one object of the first wave re-runs
/// every wave, but only that object is written: the others are compared
/// with a dry run and left as they are (their revision included), and the
/// unchanged Job does not re-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_the_first_wave_rewrites_only_the_changed_object() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    let first = env.repo.commit("initial");
    let engine = env.engine();
    env.sync(&engine).await.1.expect("first sync");
    let job_uid = env
        .get("batch/v1", "Job", "shop", "migrate")
        .await
        .expect("job")["metadata"]["uid"]
        .clone();
    let rv_web = env
        .resource_version("apps/v1", "Deployment", "shop", "web")
        .await;
    let rv_widget = env
        .resource_version("example.com/v1", "Widget", "shop", "w1")
        .await;

    env.repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    let second = env.repo.commit("settings: green");
    env.sim.counters().reset();
    env.events.clear();
    let report = env.sync(&engine).await.1.expect("second sync");
    assert_eq!(report.applied_waves.len(), 4, "{:?}", report.applied_waves);

    let c = env.sim.counters();
    assert_eq!(
        c.object("patch", "configmaps", Some("shop"), "settings"),
        1,
        "the changed object is applied once"
    );
    for (resource, ns, name) in [
        ("namespaces", None, "shop"),
        ("customresourcedefinitions", None, "widgets.example.com"),
        ("widgets", Some("shop"), "w1"),
        ("jobs", Some("shop"), "migrate"),
        ("deployments", Some("shop"), "web"),
    ] {
        assert_eq!(
            c.object("patch", resource, ns, name),
            0,
            "{resource} {name} is not rewritten"
        );
    }
    assert_eq!(
        c.get("delete", "jobs"),
        0,
        "the unchanged Job is not re-created"
    );
    let revision = |o: &serde_json::Value| {
        o["metadata"]["annotations"]["wavesync.io/revision"]
            .as_str()
            .map(str::to_owned)
    };
    let settings = env
        .get("v1", "ConfigMap", "shop", "settings")
        .await
        .expect("settings");
    assert_eq!(settings["data"]["value"], "green");
    assert_eq!(revision(&settings).as_deref(), Some(second.as_str()));
    let web = env
        .get("apps/v1", "Deployment", "shop", "web")
        .await
        .expect("web");
    assert_eq!(
        revision(&web).as_deref(),
        Some(first.as_str()),
        "an unchanged object keeps the revision that last changed it"
    );
    assert_eq!(
        env.resource_version("apps/v1", "Deployment", "shop", "web")
            .await,
        rv_web
    );
    assert_eq!(
        env.resource_version("example.com/v1", "Widget", "shop", "w1")
            .await,
        rv_widget
    );
    let job = env
        .get("batch/v1", "Job", "shop", "migrate")
        .await
        .expect("job");
    assert_eq!(job["metadata"]["uid"], job_uid, "the Job did not re-run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_carry_the_revision_that_last_applied_them() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    let first = env.repo.commit("initial");
    let engine = env.engine();
    env.sync(&engine).await.1.expect("first sync");
    let revision = |o: Option<serde_json::Value>| {
        o.expect("object")["metadata"]["annotations"]["wavesync.io/revision"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(
        revision(env.get("v1", "ConfigMap", "shop", "settings").await).as_deref(),
        Some(first.as_str())
    );

    // Only the last wave changes: the earlier waves are verified, not
    // re-applied, so their objects still name the first commit.
    env.repo.write(
        "waves/apps/web.yaml",
        &deployment("web", "shop", &[("team", "checkout")]),
    );
    let second = env.repo.commit("annotate web");
    env.sync(&engine).await.1.expect("second sync");
    let web = env.get("apps/v1", "Deployment", "shop", "web").await;
    assert_eq!(revision(web.clone()).as_deref(), Some(second.as_str()));
    assert_eq!(web.unwrap()["metadata"]["annotations"]["team"], "checkout");
    assert_eq!(
        revision(env.get("v1", "ConfigMap", "shop", "settings").await).as_deref(),
        Some(first.as_str())
    );
    assert_eq!(
        revision(env.get("batch/v1", "Job", "shop", "migrate").await).as_deref(),
        Some(first.as_str())
    );
}

/// Issue 13: the record's times come from the engine's clock, so a test
/// states them instead of bounding the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_is_written_with_the_engines_clock() {
    let mut env = Env::start().await;
    write_standard(&env.repo);
    env.repo.commit("initial");
    let clock = wavesync::clock::ManualClock::at("2030-01-02T03:04:05Z".parse().expect("time"));
    let engine = env.engine().with_clock(clock.clone());
    env.sync(&engine).await.1.expect("sync");
    let record = env.record().await;
    let at = "2030-01-02T03:04:05.000Z";
    assert_eq!(record.history[0].started, at);
    assert_eq!(record.history[0].finished, at);
    assert_eq!(record.updated.as_deref(), Some("2030-01-02T03:04:05Z"));
    for w in &record.waves {
        assert_eq!(w.started.as_deref(), Some(at), "{}", w.name);
        assert_eq!(w.finished.as_deref(), Some(at), "{}", w.name);
    }
    assert!(
        record
            .conditions
            .iter()
            .all(|c| c.last_transition_time == at),
        "{:?}",
        record.conditions
    );
}
