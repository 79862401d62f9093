//! Create, update, patch and delete through the real `kube` client: AlreadyExists and
//! generateName, optimistic concurrency, merge / JSON / strategic merge patches, finalizers,
//! propagation policies with ownerReferences, namespace deletion, the status subresource,
//! dry-run, rejected input (with kube's messages, and nothing stored changing), and the
//! server's authentication and plain-HTTP options.

mod common;

use common::{
    api_error, configmaps, dynobj, eventually, eventually_gone, resource, setup, setup_with, typed,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use kube_sim::{Sim, SimOptions};
use serde_json::{Value, json};

fn cm(name: &str, data: Value) -> DynamicObject {
    dynobj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}),
    )
}

fn owned_cm(name: &str, owner: &DynamicObject) -> DynamicObject {
    dynobj(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "name": owner.metadata.name, "uid": owner.metadata.uid
        }]},
        "data": {"owned": "yes"}
    }))
}

/// The store's current resourceVersion as a list reports it.
async fn store_rv(api: &Api<DynamicObject>) -> String {
    api.list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion")
}

#[tokio::test(flavor = "multi_thread")]
async fn create_rejects_duplicates_and_generates_names() {
    let (_sim, client) = setup("crud-create").await;
    let api = configmaps(&client, "crud-create");
    let pp = PostParams::default();
    let first = api
        .create(&pp, &cm("one", json!({"v": "1"})))
        .await
        .expect("create");
    assert_eq!(first.metadata.namespace.as_deref(), Some("crud-create"));

    let status = api_error(api.create(&pp, &cm("one", json!({"v": "2"}))).await);
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "AlreadyExists");
    assert_eq!(status.message, r#"configmaps "one" already exists"#);
    assert_eq!(api.get("one").await.expect("get").data["data"]["v"], "1");

    let generated = || {
        dynobj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "job-"}}),
        )
    };
    let a = api
        .create(&pp, &generated())
        .await
        .expect("generateName create");
    let b = api
        .create(&pp, &generated())
        .await
        .expect("generateName create");
    let (a, b) = (
        a.metadata.name.expect("name"),
        b.metadata.name.expect("name"),
    );
    assert!(
        a.starts_with("job-") && a.len() == "job-".len() + 5,
        "generated name {a}"
    );
    assert_ne!(a, b);
    api.get(&a).await.expect("generated object is stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_with_stale_resource_version_conflicts() {
    let (_sim, client) = setup("crud-update").await;
    let api = configmaps(&client, "crud-update");
    api.create(&PostParams::default(), &cm("cfg", json!({"v": "1"})))
        .await
        .expect("create");
    let stale = api.get("cfg").await.expect("get");

    let mut fresh = stale.clone();
    fresh.data["data"]["v"] = "2".into();
    let replaced = api
        .replace("cfg", &PostParams::default(), &fresh)
        .await
        .expect("replace");
    assert_ne!(
        replaced.metadata.resource_version,
        stale.metadata.resource_version
    );

    let mut late = stale.clone();
    late.data["data"]["v"] = "3".into();
    let status = api_error(api.replace("cfg", &PostParams::default(), &late).await);
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        r#"Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again"#
    );
    let now = api.get("cfg").await.expect("get");
    assert_eq!(now.data["data"]["v"], "2");
    assert_eq!(
        now.metadata.resource_version,
        replaced.metadata.resource_version
    );

    // Without a resourceVersion an update is unconditional.
    let mut blind = cm("cfg", json!({"v": "4"}));
    blind.metadata.resource_version = None;
    api.replace("cfg", &PostParams::default(), &blind)
        .await
        .expect("unconditional replace");
    assert_eq!(api.get("cfg").await.expect("get").data["data"]["v"], "4");
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_json_and_strategic_merge_patches() {
    let (_sim, client) = setup("crud-patch").await;
    let api = configmaps(&client, "crud-patch");
    api.create(
        &PostParams::default(),
        &cm("p", json!({"a": "1", "b": "2"})),
    )
    .await
    .expect("create");
    let pp = PatchParams::default();

    let merged = api
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.data["data"], json!({"b": "2", "c": "3"}));

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/data/b", "value": "20"},
        {"op": "add", "path": "/data/d", "value": "4"},
        {"op": "remove", "path": "/data/c"}
    ]))
    .expect("json patch");
    let patched = api
        .patch("p", &pp, &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(patched.data["data"], json!({"b": "20", "d": "4"}));

    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/b", "value": "nope"}, {"op": "remove", "path": "/data/b"}]))
            .expect("json patch");
    let status = api_error(api.patch("p", &pp, &Patch::<()>::Json(failing)).await);
    assert_eq!(status.code, 422);
    let unchanged = api.get("p").await.expect("get");
    assert_eq!(unchanged.data["data"], json!({"b": "20", "d": "4"}));
    assert_eq!(
        unchanged.metadata.resource_version,
        patched.metadata.resource_version
    );

    // Strategic merge merges containers by name; a JSON merge patch replaces the list.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "crud-patch");
    let d: Deployment = typed(json!({
        "metadata": {"name": "web", "annotations": {"sim.wavesync.io/never-ready": "true"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "app", "image": "nginx:1.26"}, {"name": "sidecar", "image": "busybox:1.36"}
            ]}}
        }
    }));
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    let smp = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}});
    let after = deployments
        .patch("web", &pp, &Patch::Strategic(smp.clone()))
        .await
        .expect("strategic patch");
    let containers = after
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers;
    let images: Vec<(String, Option<String>)> = containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone()))
        .collect();
    assert_eq!(
        images,
        [
            ("app".to_string(), Some("nginx:1.27".to_string())),
            ("sidecar".to_string(), Some("busybox:1.36".to_string()))
        ]
    );
    assert_eq!(after.metadata.generation, Some(2));

    let after = deployments
        .patch("web", &pp, &Patch::Merge(smp))
        .await
        .expect("merge patch");
    let containers = after
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers;
    assert_eq!(containers.len(), 1, "a merge patch replaces the whole list");
    assert_eq!(containers[0].name, "app");
}

#[tokio::test(flavor = "multi_thread")]
async fn finalizers_hold_deletion_until_removed() {
    let (_sim, client) = setup("crud-final").await;
    let api = configmaps(&client, "crud-final");
    let mut obj = cm("held", json!({"a": "1"}));
    obj.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");

    let deleted = api
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = deleted
        .left()
        .expect("the object is returned while finalizers remain");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let still = api.get("held").await.expect("still there");
    assert!(still.metadata.deletion_timestamp.is_some());
    assert_eq!(
        still.metadata.finalizers.as_deref(),
        Some(&["example.com/hold".to_string()][..])
    );

    // Deleting again changes nothing.
    let again = api
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete again");
    assert_eq!(
        again.left().expect("object").metadata.resource_version,
        still.metadata.resource_version
    );

    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizer");
    assert!(
        api.get_opt("held").await.expect("get").is_none(),
        "removing the last finalizer deletes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn background_propagation_deletes_dependents() {
    let (_sim, client) = setup("crud-bg").await;
    let api = configmaps(&client, "crud-bg");
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &cm("owner", json!({})))
        .await
        .expect("owner");
    api.create(&pp, &owned_cm("dep-1", &owner))
        .await
        .expect("dependent");
    api.create(&pp, &owned_cm("dep-2", &owner))
        .await
        .expect("dependent");
    api.create(&pp, &cm("bystander", json!({})))
        .await
        .expect("unrelated");

    let res = api
        .delete("owner", &DeleteParams::background())
        .await
        .expect("delete");
    assert!(res.is_right(), "the owner is deleted at once");
    assert!(api.get_opt("owner").await.expect("get").is_none());
    eventually_gone(&api, "dep-1").await;
    eventually_gone(&api, "dep-2").await;
    api.get("bystander").await.expect("unrelated objects stay");
}

#[tokio::test(flavor = "multi_thread")]
async fn foreground_propagation_waits_for_dependents() {
    let (_sim, client) = setup("crud-fg").await;
    let api = configmaps(&client, "crud-fg");
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &cm("owner", json!({})))
        .await
        .expect("owner");
    api.create(&pp, &owned_cm("dep-free", &owner))
        .await
        .expect("dependent");
    let mut held = owned_cm("dep-held", &owner);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&pp, &held).await.expect("held dependent");

    let res = api
        .delete("owner", &DeleteParams::foreground())
        .await
        .expect("delete");
    let marked = res.left().expect("the owner stays while dependents exist");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(
        marked
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string())
    );

    eventually_gone(&api, "dep-free").await;
    let held = eventually("the held dependent to be marked for deletion", || async {
        let o = api.get("dep-held").await.expect("held dependent");
        o.metadata.deletion_timestamp.is_some().then_some(o)
    })
    .await;
    assert!(held.metadata.deletion_timestamp.is_some());
    let owner_now = api
        .get("owner")
        .await
        .expect("owner waits for the held dependent");
    assert!(owner_now.metadata.deletion_timestamp.is_some());

    api.patch(
        "dep-held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release dependent");
    eventually_gone(&api, "dep-held").await;
    eventually_gone(&api, "owner").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_propagation_keeps_dependents_without_the_reference() {
    let (_sim, client) = setup("crud-orphan").await;
    let api = configmaps(&client, "crud-orphan");
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &cm("owner", json!({})))
        .await
        .expect("owner");
    let other_owner = api
        .create(&pp, &cm("other-owner", json!({})))
        .await
        .expect("other owner");
    api.create(&pp, &owned_cm("dep", &owner))
        .await
        .expect("dependent");
    let mut two = owned_cm("dep-two-owners", &owner);
    let mut refs = two.metadata.owner_references.clone().expect("refs");
    refs.extend(
        owned_cm("x", &other_owner)
            .metadata
            .owner_references
            .expect("refs"),
    );
    two.metadata.owner_references = Some(refs);
    api.create(&pp, &two)
        .await
        .expect("dependent with two owners");

    api.delete("owner", &DeleteParams::orphan())
        .await
        .expect("delete");
    eventually_gone(&api, "owner").await;
    // Give the garbage collector several ticks to (wrongly) act on the dependents.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let dep = api.get("dep").await.expect("orphaned dependent stays");
    assert!(
        dep.metadata.owner_references.is_none(),
        "the ownerReference is removed: {:?}",
        dep.metadata.owner_references
    );
    let two = api.get("dep-two-owners").await.expect("dependent stays");
    let remaining: Vec<String> = two
        .metadata
        .owner_references
        .expect("one reference remains")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(remaining, ["other-owner"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_namespace_removes_its_contents_then_itself() {
    let (_sim, client) = setup("crud-ns-keep").await;
    common::create_namespace(&client, "crud-ns-doomed").await;
    let api = configmaps(&client, "crud-ns-doomed");
    let pp = PostParams::default();
    api.create(&pp, &cm("plain", json!({}))).await.expect("cm");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&pp, &held).await.expect("held cm");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "crud-ns-doomed");
    secrets
        .create(
            &pp,
            &typed(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}})),
        )
        .await
        .expect("secret");
    let keep = configmaps(&client, "crud-ns-keep");
    keep.create(&pp, &cm("survivor", json!({})))
        .await
        .expect("cm elsewhere");

    let nss: Api<Namespace> = Api::all(client.clone());
    let res = nss
        .delete("crud-ns-doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let ns = res
        .left()
        .expect("the namespace is returned while terminating");
    assert!(ns.metadata.deletion_timestamp.is_some());
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );

    eventually_gone(&api, "plain").await;
    assert!(secrets.get_opt("s").await.expect("get").is_none());
    let status = api_error(api.create(&pp, &cm("late", json!({}))).await);
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert_eq!(
        status.message,
        r#"configmaps "late" is forbidden: unable to create new content in namespace crud-ns-doomed because it is being terminated"#
    );
    assert!(
        nss.get_opt("crud-ns-doomed").await.expect("get").is_some(),
        "the held object keeps the namespace"
    );

    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually("the namespace to disappear", || async {
        nss.get_opt("crud-ns-doomed")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    keep.get("survivor")
        .await
        .expect("other namespaces are untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_subresource_is_written_separately() {
    let (_sim, client) = setup("crud-status").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "crud-status");
    let d: Deployment = typed(json!({
        "metadata": {"name": "s", "annotations": {"sim.wavesync.io/never-ready": "true"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "s"}},
            "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        },
        "status": {"replicas": 99}
    }));
    let created = api
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    assert!(
        created.status.as_ref().and_then(|s| s.replicas).is_none(),
        "status in a create body is ignored"
    );

    let pp = PatchParams::default();
    let st = api
        .patch_status(
            "s",
            &pp,
            &Patch::Merge(
                json!({"spec": {"replicas": 7}, "status": {"replicas": 2, "readyReplicas": 1}}),
            ),
        )
        .await
        .expect("patch status");
    assert_eq!(st.status.as_ref().and_then(|s| s.ready_replicas), Some(1));
    assert_eq!(
        st.spec.as_ref().and_then(|s| s.replicas),
        Some(2),
        "a status write does not change spec"
    );
    assert_eq!(st.metadata.generation, Some(1));

    let main = api
        .patch(
            "s",
            &pp,
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 3}})),
        )
        .await
        .expect("patch main resource");
    assert_eq!(main.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        main.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1),
        "a main write does not change status"
    );
    assert_eq!(main.metadata.generation, Some(2));

    let mut current = api.get("s").await.expect("get");
    current.spec.as_mut().expect("spec").replicas = Some(9);
    current.status.as_mut().expect("status").ready_replicas = Some(2);
    let replaced = api
        .replace_status("s", &PostParams::default(), &current)
        .await
        .expect("replace status");
    assert_eq!(
        replaced.status.as_ref().and_then(|s| s.ready_replicas),
        Some(2)
    );
    assert_eq!(replaced.spec.as_ref().and_then(|s| s.replicas), Some(3));

    let mut current = api.get("s").await.expect("get");
    current.status.as_mut().expect("status").ready_replicas = Some(0);
    current.spec.as_mut().expect("spec").replicas = Some(4);
    let replaced = api
        .replace("s", &PostParams::default(), &current)
        .await
        .expect("replace");
    assert_eq!(replaced.spec.as_ref().and_then(|s| s.replicas), Some(4));
    assert_eq!(
        replaced.status.as_ref().and_then(|s| s.ready_replicas),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_create_update_and_delete_store_nothing() {
    let (sim, client) = setup("crud-dry").await;
    let api = configmaps(&client, "crud-dry");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let count = sim.object_count();
    let would = api
        .create(&dry, &cm("ghost", json!({"a": "1"})))
        .await
        .expect("dry-run create");
    assert_eq!(would.data["data"]["a"], "1");
    assert!(api.get_opt("ghost").await.expect("get").is_none());
    assert_eq!(sim.object_count(), count);

    let real = api
        .create(&PostParams::default(), &cm("real", json!({"a": "1"})))
        .await
        .expect("create");
    let mut changed = real.clone();
    changed.data["data"]["a"] = "2".into();
    let would = api
        .replace("real", &dry, &changed)
        .await
        .expect("dry-run replace");
    assert_eq!(would.data["data"]["a"], "2");
    let merged = api
        .patch(
            "real",
            &PatchParams {
                dry_run: true,
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await
        .expect("dry-run patch");
    assert_eq!(merged.data["data"]["b"], "3");

    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    api.delete("real", &dp).await.expect("dry-run delete");
    let stored = api.get("real").await.expect("still stored");
    assert_eq!(stored.data["data"], json!({"a": "1"}));
    assert_eq!(
        stored.metadata.resource_version,
        real.metadata.resource_version
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_rejected_and_changes_nothing() {
    let (sim, client) = setup("crud-bad").await;
    let api = configmaps(&client, "crud-bad");
    api.create(&PostParams::default(), &cm("a", json!({"v": "1"})))
        .await
        .expect("create");
    let count = sim.object_count();
    let rv = store_rv(&api).await;
    let pp = PostParams::default();

    let status = api_error(api.create(&pp, &cm("Bad_Name", json!({}))).await);
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert_eq!(
        status.message,
        r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    );
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(
        causes.first().map(|c| c.field.as_str()),
        Some("metadata.name")
    );

    let mut renamed = api.get("a").await.expect("get");
    renamed.metadata.name = Some("b".into());
    let status = api_error(api.replace("a", &pp, &renamed).await);
    assert_eq!(status.code, 400);
    assert_eq!(status.reason, "BadRequest");
    assert_eq!(
        status.message,
        "the name of the object (b) does not match the name on the URL (a)"
    );

    let missing_ns = configmaps(&client, "no-such-namespace");
    let status = api_error(missing_ns.create(&pp, &cm("x", json!({}))).await);
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert_eq!(
        status.message,
        r#"namespaces "no-such-namespace" not found"#
    );

    let status = api_error(api.get("nothing-here").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, r#"configmaps "nothing-here" not found"#);

    let frobs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "crud-bad",
        &resource("", "v1", "Frob", "frobs"),
    );
    let status = api_error(frobs.list(&ListParams::default()).await);
    assert_eq!(status.code, 404);
    assert_eq!(
        status.message,
        "the server could not find the requested resource"
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "crud-bad",
        &resource("example.com", "v1", "Widget", "widgets"),
    );
    let status = api_error(widgets.create(&pp, &dynobj(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}))).await);
    assert_eq!(status.code, 404);

    let status = api_error(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"v": "2"}})),
        )
        .await,
    );
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
    );

    let status = api_error(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"name": "other"}})),
        )
        .await,
    );
    assert_eq!(status.code, 400);

    assert_eq!(sim.object_count(), count);
    assert_eq!(store_rv(&api).await, rv, "no bad request wrote anything");
    assert_eq!(api.get("a").await.expect("get").data["data"]["v"], "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_is_unauthorized() {
    let sim = Sim::start().await.expect("sim");
    let yaml = sim.kubeconfig_yaml().replace("token: ", "token: wrong-");
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    let bad = Client::try_from(config).expect("client");
    let status = api_error(
        Api::<Namespace>::all(bad)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
    let good = sim.client().expect("client");
    assert!(
        !Api::<Namespace>::all(good)
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_without_token_serves_requests() {
    let options = SimOptions {
        tls: false,
        token: None,
        default_namespaces: false,
        ..Default::default()
    };
    let (sim, client) = setup_with(options, "crud-plain").await;
    assert!(sim.url().starts_with("http://"));
    let nss: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = nss
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["crud-plain"], "no default namespaces were created");
    configmaps(&client, "crud-plain")
        .create(&PostParams::default(), &cm("x", json!({})))
        .await
        .expect("create");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_collection_deletes_only_selected_objects() {
    let (_sim, client) = setup("crud-collection").await;
    let api = configmaps(&client, "crud-collection");
    for (name, tier) in [("a1", "x"), ("a2", "x"), ("b", "y")] {
        let mut o = cm(name, json!({}));
        o.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        api.create(&PostParams::default(), &o)
            .await
            .expect("create");
    }
    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=x"),
        )
        .await
        .expect("delete collection");
    let names: Vec<String> = deleted
        .left()
        .expect("list of deleted objects")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["a1", "a2"]);
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(left, ["b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_delete_collection_keeps_objects() {
    let (_sim, client) = setup("crud-collection-dry").await;
    let api = configmaps(&client, "crud-collection-dry");
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("create");
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    api.delete_collection(&dp, &ListParams::default())
        .await
        .expect("dry-run delete collection");
    assert!(
        api.get_opt("a").await.expect("get").is_some(),
        "a dry-run deletecollection must not delete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn patches_carrying_a_stale_resource_version_conflict() {
    let (_sim, client) = setup("crud-patch-rv").await;
    let api = configmaps(&client, "crud-patch-rv");
    let first = api
        .create(&PostParams::default(), &cm("p", json!({"k": "1"})))
        .await
        .expect("create");
    let old_rv = first.metadata.resource_version.clone().expect("rv");
    let current = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "2"}})),
        )
        .await
        .expect("patch");
    let current_rv = current.metadata.resource_version.clone().expect("rv");

    let stale = json!({"metadata": {"resourceVersion": old_rv}, "data": {"k": "3"}});
    let status = api_error(
        api.patch("p", &PatchParams::default(), &Patch::Merge(stale))
            .await,
    );
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        r#"Operation cannot be fulfilled on configmaps "p": the object has been modified; please apply your changes to the latest version and try again"#
    );
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/metadata/resourceVersion", "value": old_rv},
        {"op": "replace", "path": "/data/k", "value": "4"}
    ]))
    .expect("json patch");
    assert_eq!(
        api_error(
            api.patch("p", &PatchParams::default(), &Patch::<()>::Json(ops))
                .await
        )
        .code,
        409
    );
    let stored = api.get("p").await.expect("get");
    assert_eq!(stored.data["data"]["k"], "2");
    assert_eq!(
        stored.metadata.resource_version.as_deref(),
        Some(current_rv.as_str())
    );

    // The current resourceVersion makes the patch conditional and it succeeds.
    let fresh = json!({"metadata": {"resourceVersion": current_rv}, "data": {"k": "5"}});
    let done = api
        .patch("p", &PatchParams::default(), &Patch::Merge(fresh))
        .await
        .expect("conditional patch");
    assert_eq!(done.data["data"]["k"], "5");
}
