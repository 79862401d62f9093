//! Server-side apply through the real `kube` client: create and update by apply, removal of
//! fields a manager stops applying, conflicts between managers and forced takeover (as seen
//! in `managedFields`), merging of keyed lists from two managers, no-op applies, dry-run,
//! generation, and typed round trips with the server's defaults filled in.

mod common;

use common::{api_error, as_json, configmaps, dynobj, managed_by, owners_of, setup, typed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn rv(obj: &DynamicObject) -> String {
    obj.metadata
        .resource_version
        .clone()
        .expect("resourceVersion")
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_creates_updates_and_removes_fields_no_longer_applied() {
    let (_sim, client) = setup("ssa-basic").await;
    let api = configmaps(&client, "ssa-basic");
    let pp = PatchParams::apply("alpha");

    let created = api
        .patch(
            "app",
            &pp,
            &Patch::Apply(cm("app", json!({"a": "1", "b": "2"}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(created.data["data"], json!({"a": "1", "b": "2"}));
    let entry = managed_by(&as_json(&created), "alpha").expect("alpha manages the object");
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsV1"]["f:data"], json!({"f:a": {}, "f:b": {}}));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    let updated = api
        .patch(
            "app",
            &pp,
            &Patch::Apply(cm("app", json!({"a": "10", "c": "3"}))),
        )
        .await
        .expect("apply updates");
    assert_eq!(
        updated.data["data"],
        json!({"a": "10", "c": "3"}),
        "b is no longer applied, so it is removed"
    );
    assert_ne!(rv(&updated), rv(&created));
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    let entry = managed_by(&as_json(&updated), "alpha").expect("alpha still manages");
    assert_eq!(entry["fieldsV1"]["f:data"], json!({"f:a": {}, "f:c": {}}));

    let fetched = api.get("app").await.expect("get");
    assert_eq!(fetched.data["data"], updated.data["data"]);
    assert_eq!(rv(&fetched), rv(&updated));
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_managers_get_409_until_forced() {
    let (_sim, client) = setup("ssa-conflict").await;
    let api = configmaps(&client, "ssa-conflict");
    api.patch(
        "shared",
        &PatchParams::apply("alpha"),
        &Patch::Apply(cm("shared", json!({"a": "1", "keep": "x"}))),
    )
    .await
    .expect("alpha applies");

    let status = api_error(
        api.patch(
            "shared",
            &PatchParams::apply("beta"),
            &Patch::Apply(cm("shared", json!({"a": "2"}))),
        )
        .await,
    );
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "alpha": .data.a"#
    );
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, ".data.a");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    let unchanged = api.get("shared").await.expect("get");
    assert_eq!(
        unchanged.data["data"]["a"], "1",
        "a conflicting apply changes nothing"
    );
    assert!(managed_by(&as_json(&unchanged), "beta").is_none());

    // Applying the same value is not a conflict: ownership becomes shared.
    let shared = api
        .patch(
            "shared",
            &PatchParams::apply("gamma"),
            &Patch::Apply(cm("shared", json!({"a": "1"}))),
        )
        .await
        .expect("same value does not conflict");
    let mut owners = owners_of(&as_json(&shared), &["f:data", "f:a"]);
    owners.sort();
    assert_eq!(owners, ["alpha", "gamma"]);

    let forced = api
        .patch(
            "shared",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(cm("shared", json!({"a": "2"}))),
        )
        .await
        .expect("forced apply wins");
    assert_eq!(forced.data["data"], json!({"a": "2", "keep": "x"}));
    let forced_json = as_json(&forced);
    assert_eq!(
        owners_of(&forced_json, &["f:data", "f:a"]),
        ["beta"],
        "beta took .data.a from everyone"
    );
    assert_eq!(owners_of(&forced_json, &["f:data", "f:keep"]), ["alpha"]);
    assert!(
        managed_by(&forced_json, "gamma").is_none(),
        "gamma owned nothing else and is dropped"
    );

    // alpha no longer owns .data.a, so leaving it out of alpha's apply does not remove it.
    let after = api
        .patch(
            "shared",
            &PatchParams::apply("alpha"),
            &Patch::Apply(cm("shared", json!({"keep": "x"}))),
        )
        .await
        .expect("alpha re-applies without a");
    assert_eq!(after.data["data"], json!({"a": "2", "keep": "x"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_conflicts_with_an_update_manager() {
    let (_sim, client) = setup("ssa-update-conflict").await;
    let api = configmaps(&client, "ssa-update-conflict");
    let pp = PostParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    api.create(&pp, &dynobj(cm("edited", json!({"a": "1"}))))
        .await
        .expect("create");
    let status = api_error(
        api.patch(
            "edited",
            &PatchParams::apply("alpha"),
            &Patch::Apply(cm("edited", json!({"a": "2"}))),
        )
        .await,
    );
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "editor" using v1: .data.a"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keyed_lists_from_two_managers_are_merged() {
    let (_sim, client) = setup("ssa-lists").await;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "ssa-lists",
        &kube::api::ApiResource::erase::<Deployment>(&()),
    );
    let team_a = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"sim.wavesync.io/never-ready": "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}]}
            }
        }
    });
    let team_b = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "busybox:1.36"}
        ]}}}
    });
    api.patch("web", &PatchParams::apply("team-a"), &Patch::Apply(&team_a))
        .await
        .expect("team-a applies");
    let merged = api
        .patch("web", &PatchParams::apply("team-b"), &Patch::Apply(&team_b))
        .await
        .expect("team-b applies");

    let check = |obj: &DynamicObject| {
        let containers = obj.data["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .clone();
        let names: Vec<&str> = containers
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["app", "sidecar"]);
        assert_eq!(containers[0]["image"], "nginx:1.27");
        let env: Vec<&str> = containers[0]["env"]
            .as_array()
            .expect("env")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(env, ["A", "B"]);
        assert_eq!(containers[1]["image"], "busybox:1.36");
    };
    check(&merged);

    // team-a re-applying its own configuration keeps team-b's entries.
    let again = api
        .patch("web", &PatchParams::apply("team-a"), &Patch::Apply(&team_a))
        .await
        .expect("team-a re-applies");
    check(&again);
    assert_eq!(
        again.metadata.generation, merged.metadata.generation,
        "nothing in the spec changed"
    );

    // team-b dropping its env entry removes only that entry.
    let team_b2 = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}
    });
    let trimmed = api
        .patch(
            "web",
            &PatchParams::apply("team-b"),
            &Patch::Apply(&team_b2),
        )
        .await
        .expect("team-b trims");
    let containers = trimmed.data["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .clone();
    assert_eq!(containers.len(), 2);
    let env: Vec<&str> = containers[0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(env, ["A"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_apply_keeps_resource_version() {
    let (sim, client) = setup("ssa-noop").await;
    let api = configmaps(&client, "ssa-noop");
    let pp = PatchParams::apply("alpha");
    let first = api
        .patch("same", &pp, &Patch::Apply(cm("same", json!({"k": "v"}))))
        .await
        .expect("apply");
    let count = sim.object_count();
    let second = api
        .patch("same", &pp, &Patch::Apply(cm("same", json!({"k": "v"}))))
        .await
        .expect("re-apply");
    assert_eq!(rv(&second), rv(&first));
    assert_eq!(
        second.metadata.managed_fields,
        first.metadata.managed_fields
    );
    assert_eq!(sim.object_count(), count);
    assert_eq!(rv(&api.get("same").await.expect("get")), rv(&first));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_apply_and_create_leave_nothing_behind() {
    let (sim, client) = setup("ssa-dry").await;
    let api = configmaps(&client, "ssa-dry");
    let before = sim.object_count();

    let would = api
        .patch(
            "ghost",
            &PatchParams::apply("m").dry_run(),
            &Patch::Apply(cm("ghost", json!({"a": "1"}))),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(would.data["data"]["a"], "1");
    assert!(
        managed_by(&as_json(&would), "m").is_some(),
        "the answer shows what would be stored"
    );
    assert!(api.get_opt("ghost").await.expect("get").is_none());

    let dry_post = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api
        .create(&dry_post, &dynobj(cm("ghost2", json!({"b": "2"}))))
        .await
        .expect("dry-run create");
    assert_eq!(would.metadata.name.as_deref(), Some("ghost2"));
    assert!(api.get_opt("ghost2").await.expect("get").is_none());
    assert_eq!(sim.object_count(), before);

    // Dry-run apply to an existing object changes nothing either.
    let real = api
        .patch(
            "real",
            &PatchParams::apply("m"),
            &Patch::Apply(cm("real", json!({"a": "1"}))),
        )
        .await
        .expect("apply");
    let would = api
        .patch(
            "real",
            &PatchParams::apply("m").dry_run(),
            &Patch::Apply(cm("real", json!({"a": "2"}))),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(would.data["data"]["a"], "2");
    let stored = api.get("real").await.expect("get");
    assert_eq!(stored.data["data"]["a"], "1");
    assert_eq!(rv(&stored), rv(&real));
}

#[tokio::test(flavor = "multi_thread")]
async fn generation_bumps_only_on_spec_changes() {
    let (_sim, client) = setup("ssa-gen").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "ssa-gen");
    let deploy = |replicas: i32, label: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "gen", "labels": {"rev": label}, "annotations": {"sim.wavesync.io/never-ready": "true"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "gen"}},
                "template": {"metadata": {"labels": {"app": "gen"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
            }
        })
    };
    let pp = PatchParams::apply("mgr");
    let v1 = api
        .patch("gen", &pp, &Patch::Apply(deploy(1, "one")))
        .await
        .expect("create");
    assert_eq!(v1.metadata.generation, Some(1));
    let v2 = api
        .patch("gen", &pp, &Patch::Apply(deploy(1, "two")))
        .await
        .expect("label change");
    assert_eq!(
        v2.metadata.generation,
        Some(1),
        "metadata changes do not bump generation"
    );
    assert_ne!(v2.metadata.resource_version, v1.metadata.resource_version);
    let v3 = api
        .patch("gen", &pp, &Patch::Apply(deploy(3, "two")))
        .await
        .expect("spec change");
    assert_eq!(v3.metadata.generation, Some(2));
    let status = api
        .patch_status(
            "gen",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3, "observedGeneration": 2}})),
        )
        .await
        .expect("status write");
    assert_eq!(
        status.metadata.generation,
        Some(2),
        "status writes do not bump generation"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_round_trips_fill_in_defaults() {
    let (_sim, client) = setup("ssa-typed").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "ssa-typed");
    let d: Deployment = typed(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "typed", "annotations": {"sim.wavesync.io/never-ready": "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": "typed"}},
            "template": {
                "metadata": {"labels": {"app": "typed"}},
                "spec": {"containers": [
                    {"name": "pinned", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                    {"name": "floating", "image": "nginx"}
                ]}
            }
        }
    }));
    let applied = deployments
        .patch("typed", &PatchParams::apply("typed-mgr"), &Patch::Apply(&d))
        .await
        .expect("typed apply");
    let fetched = deployments.get("typed").await.expect("typed get");
    assert_eq!(as_json(&fetched), as_json(&applied));

    let spec = fetched.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let strategy = as_json(&spec.strategy.expect("strategy"));
    assert_eq!(
        strategy,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    let pinned = &pod.containers[0];
    assert_eq!(pinned.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        pinned.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(pinned.termination_message_policy.as_deref(), Some("File"));
    let ports = pinned.ports.clone().expect("ports");
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(
        pod.containers[1].image_pull_policy.as_deref(),
        Some("Always"),
        "untagged images are pulled always"
    );

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "ssa-typed");
    let c: ConfigMap = typed(json!({
        "metadata": {"name": "typed-cm", "labels": {"x": "y"}},
        "data": {"plain": "text"},
        "binaryData": {"blob": "AAEC/w=="}
    }));
    let created = configmaps
        .create(&PostParams::default(), &c)
        .await
        .expect("typed create");
    let got = configmaps.get("typed-cm").await.expect("typed get");
    assert_eq!(got.data, c.data);
    assert_eq!(got.binary_data, c.binary_data);
    assert_eq!(
        got.binary_data.expect("binary data")["blob"].0,
        vec![0u8, 1, 2, 255]
    );
    assert_eq!(got.metadata.labels, c.metadata.labels);
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_with_a_stale_resource_version_conflicts() {
    let (_sim, client) = setup("ssa-rv").await;
    let api = configmaps(&client, "ssa-rv");
    let pp = PatchParams::apply("alpha");
    let first = api
        .patch("v", &pp, &Patch::Apply(cm("v", json!({"a": "1"}))))
        .await
        .expect("apply");
    let second = api
        .patch("v", &pp, &Patch::Apply(cm("v", json!({"a": "2"}))))
        .await
        .expect("apply");

    let mut stale = cm("v", json!({"a": "3"}));
    stale["metadata"]["resourceVersion"] = rv(&first).into();
    let status = api_error(api.patch("v", &pp, &Patch::Apply(&stale)).await);
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        r#"Operation cannot be fulfilled on configmaps "v": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!(api.get("v").await.expect("get").data["data"]["a"], "2");

    let mut fresh = cm("v", json!({"a": "4"}));
    fresh["metadata"]["resourceVersion"] = rv(&second).into();
    let applied = api
        .patch("v", &pp, &Patch::Apply(&fresh))
        .await
        .expect("apply with the current resourceVersion");
    assert_eq!(applied.data["data"]["a"], "4");
}
