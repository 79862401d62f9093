//! The readiness simulator and fault injection, seen through the real `kube` client:
//! Deployments, StatefulSets and DaemonSets turn ready after their configured delay (and again
//! after a spec change), `never-ready` workloads stay unready, Jobs complete or fail, PVCs get
//! Bound, custom resources of configured kinds get `Ready=True`; injected 429 (with
//! Retry-After) / 500 / 503 / 504 errors, rules that expire after `times(n)`, probability,
//! latency and dropped connections; and the per-verb, per-resource request counters.

mod common;

use std::time::{Duration, Instant};

use common::{
    api_error, configmaps, crd_json, dynobj, eventually, install_crd, no_retry_client, resource,
    setup, setup_with, typed,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube_sim::{Fault, FaultRule, SimOptions};
use serde_json::{Value, json};

fn pod_template(app: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
}

fn deployment(name: &str, replicas: i32, annotations: Value) -> Deployment {
    typed(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": pod_template(name)}
    }))
}

fn is_ready(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    s.observed_generation == d.metadata.generation
        && s.ready_replicas == Some(want)
        && s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Available" && c.status == "True")
}

fn cm(name: &str) -> DynamicObject {
    dynobj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_becomes_ready_after_its_delay_and_again_after_a_change() {
    let (_sim, client) = setup("rf-deploy").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "rf-deploy");
    let start = Instant::now();
    api.create(
        &PostParams::default(),
        &deployment("web", 2, json!({"sim.wavesync.io/ready-after": "500ms"})),
    )
    .await
    .expect("create");
    let fresh = api.get("web").await.expect("get");
    assert!(!is_ready(&fresh), "not ready right after creation");

    let ready = eventually("the deployment to become ready", || async {
        let d = api.get("web").await.expect("get");
        is_ready(&d).then_some(d)
    })
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "ready only after the configured delay"
    );
    let status = ready.status.expect("status");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.available_replicas,
            status.updated_replicas
        ),
        (Some(2), Some(2), Some(2), Some(2))
    );
    let available = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .expect("Available");
    assert_eq!(
        available.reason.as_deref(),
        Some("MinimumReplicasAvailable")
    );

    let scaled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(
        scaled.status.as_ref().and_then(|s| s.observed_generation),
        Some(1),
        "the new generation is not observed yet"
    );
    assert!(!is_ready(&scaled));
    let ready = eventually("the new generation to become ready", || async {
        let d = api.get("web").await.expect("get");
        is_ready(&d).then_some(d)
    })
    .await;
    assert_eq!(ready.status.and_then(|s| s.ready_replicas), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn statefulset_and_daemonset_become_ready() {
    let options = SimOptions {
        ready_after: Duration::from_millis(300),
        ..Default::default()
    };
    let (_sim, client) = setup_with(options, "rf-sets").await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "rf-sets");
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), "rf-sets");
    let start = Instant::now();
    sts.create(
        &PostParams::default(),
        &typed(json!({
            "metadata": {"name": "db"},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": pod_template("db")}
        })),
    )
    .await
    .expect("create statefulset");
    ds.create(
        &PostParams::default(),
        &typed(json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": pod_template("agent")}})),
    )
    .await
    .expect("create daemonset");

    let s = eventually("the statefulset to become ready", || async {
        let s = sts.get("db").await.expect("get");
        let st = s.status.clone()?;
        (st.observed_generation == Some(1) && st.ready_replicas == Some(3)).then_some(st)
    })
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "SimOptions::ready_after is honoured"
    );
    assert_eq!(
        (s.replicas, s.current_replicas, s.updated_replicas),
        (3, Some(3), Some(3))
    );

    let d = eventually("the daemonset to become ready", || async {
        let d = ds.get("agent").await.expect("get");
        let st = d.status.clone()?;
        (st.observed_generation == Some(1)
            && st.number_ready == st.desired_number_scheduled
            && st.number_ready > 0)
            .then_some(st)
    })
    .await;
    assert_eq!(d.number_available, Some(d.desired_number_scheduled));
}

#[tokio::test(flavor = "multi_thread")]
async fn never_ready_workloads_stay_unready() {
    let (_sim, client) = setup("rf-never").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "rf-never");
    let pp = PostParams::default();
    api.create(
        &pp,
        &deployment("stuck", 1, json!({"sim.wavesync.io/never-ready": "true"})),
    )
    .await
    .expect("create");
    api.create(
        &pp,
        &deployment(
            "slow-sibling",
            1,
            json!({"sim.wavesync.io/ready-after": "400ms"}),
        ),
    )
    .await
    .expect("create");
    eventually("the sibling to become ready", || async {
        is_ready(&api.get("slow-sibling").await.expect("get")).then_some(())
    })
    .await;
    let stuck = api.get("stuck").await.expect("get");
    assert!(!is_ready(&stuck));
    assert!(
        stuck.status.and_then(|s| s.ready_replicas).is_none(),
        "no replicas are ready"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_complete_or_fail() {
    let (_sim, client) = setup("rf-jobs").await;
    let api: Api<Job> = Api::namespaced(client.clone(), "rf-jobs");
    let job = |name: &str, annotations: Value| -> Job {
        typed(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}
        }))
    };
    let pp = PostParams::default();
    api.create(&pp, &job("ok", json!({})))
        .await
        .expect("create");
    api.create(&pp, &job("bad", json!({"sim.wavesync.io/fail": "true"})))
        .await
        .expect("create");

    let done = tokio::time::timeout(
        common::DEADLINE,
        await_condition(api.clone(), "ok", conditions::is_job_completed()),
    )
    .await
    .expect("job completes in time")
    .expect("watch")
    .expect("job exists");
    let status = done.status.expect("status");
    assert_eq!(status.succeeded, Some(1));
    assert!(status.completion_time.is_some() && status.start_time.is_some());

    let failed = eventually("the failing job to fail", || async {
        let j = api.get("bad").await.expect("get");
        let conds = j.status.clone()?.conditions?;
        conds
            .into_iter()
            .find(|c| c.type_ == "Failed" && c.status == "True")
    })
    .await;
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    let bad = api.get("bad").await.expect("get").status.expect("status");
    assert_eq!(bad.failed, Some(3));
    assert!(bad.succeeded.unwrap_or(0) == 0);
    assert!(
        !bad.conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Complete")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pvc_becomes_bound() {
    let (_sim, client) = setup("rf-pvc").await;
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "rf-pvc");
    api.create(
        &PostParams::default(),
        &typed(json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
    )
    .await
    .expect("create");
    let status = eventually("the claim to be bound", || async {
        let s = api.get("data").await.expect("get").status?;
        (s.phase.as_deref() == Some("Bound")).then_some(s)
    })
    .await;
    assert_eq!(status.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(status.capacity.expect("capacity")["storage"].0, "1Gi");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_resources_of_configured_kinds_get_ready() {
    let options = SimOptions {
        ready_kinds: vec!["example.com/Widget".into()],
        ..Default::default()
    };
    let (_sim, client) = setup_with(options, "rf-custom").await;
    install_crd(
        &client,
        crd_json(
            "example.com",
            "Widget",
            "widgets",
            "Namespaced",
            json!({"size": {"type": "integer"}}),
        ),
    )
    .await;
    install_crd(
        &client,
        crd_json(
            "example.com",
            "Gadget",
            "gadgets",
            "Namespaced",
            json!({"size": {"type": "integer"}}),
        ),
    )
    .await;
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "rf-custom",
        &resource("example.com", "v1", "Widget", "widgets"),
    );
    let gadgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "rf-custom",
        &resource("example.com", "v1", "Gadget", "gadgets"),
    );
    let pp = PostParams::default();
    let obj = |kind: &str, name: &str, annotations: Value| {
        dynobj(
            json!({"apiVersion": "example.com/v1", "kind": kind, "metadata": {"name": name, "annotations": annotations}, "spec": {"size": 1}}),
        )
    };
    gadgets
        .create(&pp, &obj("Gadget", "plain", json!({})))
        .await
        .expect("create");
    gadgets
        .create(
            &pp,
            &obj(
                "Gadget",
                "opted-in",
                json!({"sim.wavesync.io/ready": "true"}),
            ),
        )
        .await
        .expect("create");
    widgets
        .create(&pp, &obj("Widget", "w", json!({})))
        .await
        .expect("create");

    let ready = |o: &DynamicObject| {
        o.data["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    };
    let w = eventually("the configured kind to get Ready", || async {
        let o = widgets.get("w").await.expect("get");
        ready(&o).then_some(o)
    })
    .await;
    assert_eq!(w.data["status"]["observedGeneration"], 1);
    eventually("the annotated object to get Ready", || async {
        ready(&gadgets.get("opted-in").await.expect("get")).then_some(())
    })
    .await;
    let plain = gadgets.get("plain").await.expect("get");
    assert!(
        plain.data.get("status").is_none(),
        "other kinds are left alone: {:?}",
        plain.data.get("status")
    );

    let bumped = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .expect("patch");
    assert_eq!(bumped.metadata.generation, Some(2));
    eventually("the new generation to be observed", || async {
        let o = widgets.get("w").await.expect("get");
        (o.data["status"]["observedGeneration"] == 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_429_carries_retry_after_and_the_default_client_retries() {
    let (sim, client) = setup("rf-429").await;
    let raw = no_retry_client(&sim);
    configmaps(&client, "rf-429")
        .create(&PostParams::default(), &cm("x"))
        .await
        .expect("create");

    sim.faults().add(
        FaultRule::new(Fault::Status(429))
            .verb("get")
            .resource("configmaps")
            .name("x")
            .times(1),
    );
    let req = http::Request::get("/api/v1/namespaces/rf-429/configmaps/x")
        .body(Vec::new())
        .expect("request");
    let res = raw
        .send(req.map(kube::client::Body::from))
        .await
        .expect("a response");
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );

    sim.faults().add(
        FaultRule::new(Fault::Status(429))
            .verb("get")
            .resource("configmaps")
            .name("x")
            .times(1),
    );
    let status = api_error(configmaps(&raw, "rf-429").get("x").await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert_eq!(status.details.map(|d| d.retry_after_seconds), Some(1));
    configmaps(&raw, "rf-429")
        .get("x")
        .await
        .expect("the rule has expired");

    // kube's default client retries a 429 after Retry-After and succeeds.
    sim.faults().add(
        FaultRule::new(Fault::Status(429))
            .verb("get")
            .resource("configmaps")
            .name("x")
            .times(1),
    );
    sim.counters().reset();
    let got = configmaps(&client, "rf-429")
        .get("x")
        .await
        .expect("retried get succeeds");
    assert_eq!(got.data["data"]["k"], "v");
    assert_eq!(
        sim.counters().get("get", "configmaps"),
        2,
        "one rejected request and one retry"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_server_errors_and_expiring_rules() {
    let (sim, _client) = setup("rf-5xx").await;
    let raw = no_retry_client(&sim);
    let api = configmaps(&raw, "rf-5xx");
    api.create(&PostParams::default(), &cm("x"))
        .await
        .expect("create");

    for (code, reason) in [
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (504, "Timeout"),
    ] {
        sim.faults().add(
            FaultRule::new(Fault::Status(code))
                .verb("list")
                .resource("configmaps")
                .times(1),
        );
        let status = api_error(api.list(&ListParams::default()).await);
        assert_eq!((status.code, status.reason.as_str()), (code, reason));
        api.list(&ListParams::default())
            .await
            .expect("the one-shot rule has expired");
    }

    sim.faults().add(
        FaultRule::new(Fault::Status(500))
            .verb("get")
            .resource("configmaps")
            .name("x")
            .times(2),
    );
    let other = api
        .create(&PostParams::default(), &cm("y"))
        .await
        .expect("creates are not affected");
    assert_eq!(other.metadata.name.as_deref(), Some("y"));
    api.get("y").await.expect("other names are not affected");
    assert_eq!(api_error(api.get("x").await).code, 500);
    assert_eq!(api_error(api.get("x").await).code, 500);
    api.get("x")
        .await
        .expect("after two failures the rule is gone");

    sim.faults().add(
        FaultRule::new(Fault::Status(503))
            .verb("get")
            .probability(0.0),
    );
    for _ in 0..5 {
        api.get("x").await.expect("probability 0 never fires");
    }
    sim.faults().clear();
    sim.faults().add(
        FaultRule::new(Fault::Status(503))
            .verb("get")
            .probability(1.0),
    );
    for _ in 0..3 {
        assert_eq!(
            api_error(api.get("x").await).code,
            503,
            "probability 1 always fires"
        );
    }
    sim.faults().clear();
    api.get("x").await.expect("clear removes all rules");

    // A failed write stores nothing.
    sim.faults()
        .add(FaultRule::new(Fault::Status(500)).verb("create").times(1));
    assert_eq!(
        api_error(api.create(&PostParams::default(), &cm("z")).await).code,
        500
    );
    assert!(api.get_opt("z").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_delays_matching_requests() {
    let (sim, client) = setup("rf-latency").await;
    let api = configmaps(&client, "rf-latency");
    api.create(&PostParams::default(), &cm("slow"))
        .await
        .expect("create");
    sim.faults().add(
        FaultRule::new(Fault::Latency(Duration::from_millis(300)))
            .verb("get")
            .name("slow")
            .times(1),
    );
    let start = Instant::now();
    let got = api
        .get("slow")
        .await
        .expect("a delayed request still succeeds");
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "delayed by the injected latency"
    );
    assert_eq!(got.data["data"]["k"], "v");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_are_transport_errors() {
    let (sim, client) = setup("rf-drop").await;
    let api = configmaps(&client, "rf-drop");
    api.create(&PostParams::default(), &cm("x"))
        .await
        .expect("create");
    sim.faults().add(
        FaultRule::new(Fault::Drop)
            .verb("get")
            .resource("configmaps")
            .name("x"),
    );
    match api.get("x").await {
        Err(kube::Error::Api(s)) => panic!("expected a connection error, got an API error {s:?}"),
        Err(_) => {}
        Ok(_) => panic!("expected a connection error, got the object"),
    }
    api.list(&ListParams::default())
        .await
        .expect("other requests still work");
    sim.faults().clear();
    api.get("x").await.expect("works again after clear");
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_count_requests_per_verb_and_resource() {
    let (sim, client) = setup("rf-counters").await;
    let api = configmaps(&client, "rf-counters");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "rf-counters");
    sim.counters().reset();
    let pp = PostParams::default();
    api.create(&pp, &cm("a")).await.expect("create");
    api.create(&pp, &cm("b")).await.expect("create");
    api.get("a").await.expect("get");
    api.get_opt("missing").await.expect("get");
    api.list(&ListParams::default()).await.expect("list");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "y"}})),
    )
    .await
    .expect("patch");
    api.patch(
        "c",
        &PatchParams::apply("m"),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})),
    )
    .await
    .expect("apply");
    api.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    deployments
        .list(&ListParams::default())
        .await
        .expect("list deployments");
    let _ = api_error(deployments.get("nope").await);

    let c = sim.counters();
    assert_eq!(c.get("create", "configmaps"), 2);
    assert_eq!(c.get("get", "configmaps"), 2, "a 404 is still a request");
    assert_eq!(c.get("list", "configmaps"), 1);
    assert_eq!(
        c.get("patch", "configmaps"),
        2,
        "server-side apply is a patch"
    );
    assert_eq!(c.get("delete", "configmaps"), 1);
    assert_eq!(c.get("list", "deployments"), 1);
    assert_eq!(c.get("get", "deployments"), 1);
    assert_eq!(c.get("update", "configmaps"), 0);
    assert_eq!(c.verb("get"), 3);
    assert_eq!(c.verb("list"), 2);
    assert_eq!(c.total(), 10);
    sim.counters().reset();
    assert_eq!(sim.counters().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn simulated_operators_write_their_status_and_secrets() {
    let options = SimOptions {
        ready_kinds: vec!["example.com/Database".into()],
        ready_status: vec![(
            "Database".into(),
            json!({"phase": "Cluster in healthy state"}),
        )],
        generated_secrets: vec![kube_sim::GeneratedSecret {
            kind: "example.com/Database".into(),
            name: "{name}-app".into(),
            keys: vec!["username".into(), "password".into()],
        }],
        ..Default::default()
    };
    let (_sim, client) = setup_with(options, "rf-operator").await;
    install_crd(
        &client,
        crd_json(
            "example.com",
            "Database",
            "databases",
            "Namespaced",
            json!({"size": {"type": "integer"}}),
        ),
    )
    .await;
    let dbs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "rf-operator",
        &resource("example.com", "v1", "Database", "databases"),
    );
    dbs.create(
        &PostParams::default(),
        &dynobj(json!({"apiVersion": "example.com/v1", "kind": "Database", "metadata": {"name": "pg"}, "spec": {"size": 1}})),
    )
    .await
    .expect("create");
    let status = eventually("the database to be ready", || async {
        let db = dbs.get("pg").await.expect("get");
        db.data
            .get("status")
            .filter(|s| s["phase"] == "Cluster in healthy state")
            .cloned()
    })
    .await;
    assert_eq!(status["conditions"][0]["type"], "Ready");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "rf-operator");
    let secret = secrets
        .get("pg-app")
        .await
        .expect("the operator's secret exists once the database is ready");
    let keys: Vec<&String> = secret.data.as_ref().expect("data").keys().collect();
    assert_eq!(keys, vec!["password", "username"]);
    assert_eq!(
        secret.metadata.owner_references.expect("owned")[0].name,
        "pg"
    );
}
