//! CustomResourceDefinitions through the real `kube` client: a CRD becomes Established and its
//! custom resources are served (namespaced and cluster-scoped), `x-kubernetes-list-type: map`
//! lists merge by key under server-side apply while atomic lists conflict, the status
//! subresource of custom resources, and deleting a CRD deletes its objects before the type
//! stops being served.

mod common;

use common::{
    api_error, as_json, crd_json, dynobj, eventually, install_crd, owners_of, resource, setup,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn widgets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &resource("example.com", "v1", "Widget", "widgets"),
    )
}

fn widget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec})
}

fn widget_crd() -> Value {
    crd_json(
        "example.com",
        "Widget",
        "widgets",
        "Namespaced",
        json!({
            "size": {"type": "integer"},
            "color": {"type": "string"},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "port": {"type": "integer"}
                }}
            },
            "tags": {"type": "array", "items": {"type": "string"}}
        }),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn crd_is_established_and_serves_namespaced_resources() {
    let (_sim, client) = setup("crd-ns").await;
    let api = widgets(&client, "crd-ns");
    let status = api_error(api.list(&ListParams::default()).await);
    assert_eq!(
        status.code, 404,
        "the type is not served before its CRD exists"
    );

    let crd = install_crd(&client, widget_crd()).await;
    let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    let cond = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| c.status.clone())
    };
    assert_eq!(cond("Established").as_deref(), Some("True"));
    assert_eq!(cond("NamesAccepted").as_deref(), Some("True"));

    let pp = PostParams::default();
    let created = api
        .create(
            &pp,
            &dynobj(widget("w1", json!({"size": 3, "color": "red"}))),
        )
        .await
        .expect("create widget");
    assert_eq!(created.metadata.namespace.as_deref(), Some("crd-ns"));
    assert_eq!(created.metadata.generation, Some(1));
    let got = api.get("w1").await.expect("get widget");
    assert_eq!(got.data["spec"], json!({"size": 3, "color": "red"}));
    api.create(&pp, &dynobj(widget("w2", json!({"size": 1}))))
        .await
        .expect("create widget");
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["w1", "w2"]);

    let patched = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.data["spec"]["size"], 4);
    assert_eq!(patched.metadata.generation, Some(2));
    let status = api_error(
        api.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 5}})),
        )
        .await,
    );
    assert_eq!(
        status.code, 415,
        "custom resources do not support strategic merge patch"
    );

    let status = api_error(api.create(&pp, &dynobj(widget("w1", json!({})))).await);
    assert_eq!(status.code, 409);
    assert_eq!(status.message, r#"widgets.example.com "w1" already exists"#);

    api.delete("w2", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(api.get_opt("w2").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_scoped_custom_resources() {
    let (_sim, client) = setup("crd-cluster").await;
    let mut crd = crd_json(
        "example.com",
        "Gadget",
        "gadgets",
        "Cluster",
        json!({"mode": {"type": "string"}}),
    );
    crd["spec"]["versions"][0]
        .as_object_mut()
        .expect("version")
        .remove("subresources");
    install_crd(&client, crd).await;
    let ar = resource("example.com", "v1", "Gadget", "gadgets");
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let g = dynobj(
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"mode": "on"}}),
    );
    let created = api
        .create(&PostParams::default(), &g)
        .await
        .expect("create gadget");
    assert!(
        created.metadata.namespace.is_none(),
        "cluster-scoped objects have no namespace"
    );
    let applied = api
        .patch("g2", &PatchParams::apply("mgr"), &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g2"}, "spec": {"mode": "off"}})))
        .await
        .expect("apply gadget");
    assert_eq!(applied.data["spec"]["mode"], "off");
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["g1", "g2"]);
    // Without a status subresource, status is an ordinary part of the object.
    let with_status = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Up"}})),
        )
        .await
        .expect("patch");
    assert_eq!(with_status.data["status"]["phase"], "Up");
    assert_eq!(
        with_status.metadata.generation,
        Some(2),
        "without a status subresource a status change bumps generation"
    );
    let labelled = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("patch");
    assert_eq!(
        labelled.metadata.generation,
        Some(2),
        "metadata changes never bump generation"
    );
    let status = api_error(
        api.patch_status(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Down"}})),
        )
        .await,
    );
    assert_eq!(status.code, 404, "no status subresource is served");

    let namespaced: Api<DynamicObject> = Api::namespaced_with(client.clone(), "crd-cluster", &ar);
    let status = api_error(namespaced.get("g1").await);
    assert_eq!(
        status.code, 404,
        "a cluster-scoped type is not served under a namespace"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn map_lists_merge_by_key_and_atomic_lists_conflict() {
    let (_sim, client) = setup("crd-lists").await;
    install_crd(&client, widget_crd()).await;
    let api = widgets(&client, "crd-lists");

    api.patch(
        "w",
        &PatchParams::apply("web"),
        &Patch::Apply(widget(
            "w",
            json!({"ports": [{"name": "http", "port": 80}], "tags": ["a"]}),
        )),
    )
    .await
    .expect("web applies");
    let both = api
        .patch(
            "w",
            &PatchParams::apply("metrics"),
            &Patch::Apply(widget(
                "w",
                json!({"ports": [{"name": "metrics", "port": 9090}]}),
            )),
        )
        .await
        .expect("metrics applies");
    assert_eq!(
        both.data["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}])
    );
    assert_eq!(
        owners_of(
            &as_json(&both),
            &["f:spec", "f:ports", r#"k:{"name":"metrics"}"#]
        ),
        ["metrics"]
    );
    assert_eq!(
        owners_of(
            &as_json(&both),
            &["f:spec", "f:ports", r#"k:{"name":"http"}"#]
        ),
        ["web"]
    );

    let changed = api
        .patch(
            "w",
            &PatchParams::apply("web"),
            &Patch::Apply(widget(
                "w",
                json!({"ports": [{"name": "http", "port": 8080}], "tags": ["a"]}),
            )),
        )
        .await
        .expect("web changes its entry");
    assert_eq!(
        changed.data["spec"]["ports"],
        json!([{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}])
    );

    // An atomic list belongs to one manager as a whole.
    let status = api_error(
        api.patch(
            "w",
            &PatchParams::apply("metrics"),
            &Patch::Apply(widget("w", json!({"tags": ["b"]}))),
        )
        .await,
    );
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "web": .spec.tags"#
    );

    let dropped = api
        .patch(
            "w",
            &PatchParams::apply("metrics"),
            &Patch::Apply(widget("w", json!({}))),
        )
        .await
        .expect("metrics stops applying its port");
    assert_eq!(
        dropped.data["spec"]["ports"],
        json!([{"name": "http", "port": 8080}])
    );
    assert_eq!(dropped.data["spec"]["tags"], json!(["a"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_resource_status_subresource() {
    let (_sim, client) = setup("crd-status").await;
    install_crd(&client, widget_crd()).await;
    let api = widgets(&client, "crd-status");
    let mut body = widget("s", json!({"size": 1}));
    body["status"] = json!({"phase": "Ignored"});
    let created = api
        .create(&PostParams::default(), &dynobj(body))
        .await
        .expect("create");
    assert!(
        created.data.get("status").is_none(),
        "status in a create body is dropped"
    );

    let patcher = PatchParams {
        field_manager: Some("status-patcher".into()),
        ..Default::default()
    };
    let st = api
        .patch_status(
            "s",
            &patcher,
            &Patch::Merge(json!({"spec": {"size": 9}, "status": {"phase": "Running"}})),
        )
        .await
        .expect("status patch");
    assert_eq!(st.data["status"]["phase"], "Running");
    assert_eq!(
        st.data["spec"]["size"], 1,
        "a status write does not change spec"
    );
    assert_eq!(st.metadata.generation, Some(1));

    let main = api
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"phase": "Hacked"}})),
        )
        .await
        .expect("main patch");
    assert_eq!(main.data["spec"]["size"], 2);
    assert_eq!(
        main.data["status"]["phase"], "Running",
        "a main write does not change status"
    );
    assert_eq!(main.metadata.generation, Some(2));

    let status_config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"}, "status": {"phase": "Done"}});
    let status = api_error(
        api.patch_status(
            "s",
            &PatchParams::apply("status-writer"),
            &Patch::Apply(&status_config),
        )
        .await,
    );
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "status-patcher" with subresource "status" using example.com/v1: .status.phase"#
    );
    let applied = api
        .patch_status(
            "s",
            &PatchParams::apply("status-writer").force(),
            &Patch::Apply(&status_config),
        )
        .await
        .expect("forced status apply");
    assert_eq!(applied.data["status"]["phase"], "Done");
    let entry =
        common::managed_by(&as_json(&applied), "status-writer").expect("status-writer entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        api.get_status("s").await.expect("get status").data["status"]["phase"],
        "Done"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_crd_deletes_its_objects_and_the_type() {
    let (_sim, client) = setup("crd-delete").await;
    install_crd(&client, widget_crd()).await;
    let api = widgets(&client, "crd-delete");
    let pp = PostParams::default();
    for n in ["a", "b"] {
        api.create(&pp, &dynobj(widget(n, json!({}))))
            .await
            .expect("create");
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let res = crds
        .delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete CRD");
    let terminating = res
        .left()
        .expect("the CRD is returned while its objects are cleaned up");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert!(
        terminating
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"customresourcecleanup.apiextensions.k8s.io".to_string())
    );

    eventually("the CRD to disappear", || async {
        crds.get_opt("widgets.example.com")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    let status = api_error(api.list(&ListParams::default()).await);
    assert_eq!(status.code, 404);
    let status = api_error(api.get("a").await);
    assert_eq!(status.code, 404);

    // Re-creating the CRD serves the type again, without the old objects.
    install_crd(&client, widget_crd()).await;
    let items = eventually("the type to be served again", || async {
        api.list(&ListParams::default()).await.ok()
    })
    .await;
    assert!(
        items.items.is_empty(),
        "objects of the deleted CRD do not come back"
    );
}

/// Issue 14 point 8: an explicit `null` where the CRD declares an object is
/// refused under server-side apply (422, as kube-apiserver v1.32 does), and
/// pruned by plain create and update unless the field is nullable.
#[tokio::test(flavor = "multi_thread")]
async fn a_null_for_a_declared_object_is_refused_by_apply_and_pruned_by_create() {
    let (_sim, client) = setup("nulls").await;
    install_crd(
        &client,
        crd_json(
            "db.example.com",
            "Cluster",
            "clusters",
            "Namespaced",
            json!({
                "instances": {"type": "integer"},
                "backup": {"type": "object", "properties": {"schedule": {"type": "string"}}},
                "monitoring": {"type": "object", "nullable": true},
            }),
        ),
    )
    .await;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "nulls",
        &resource("db.example.com", "v1", "Cluster", "clusters"),
    );
    let obj = |name: &str| {
        json!({"apiVersion": "db.example.com/v1", "kind": "Cluster",
          "metadata": {"name": name, "namespace": "nulls"},
          "spec": {"instances": 3, "backup": null, "monitoring": null}})
    };
    let refused = api_error(
        api.patch(
            "pg",
            &PatchParams::apply("chart").force(),
            &Patch::Apply(&obj("pg")),
        )
        .await,
    );
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(
        refused
            .message
            .contains("spec.backup: Invalid value: \"null\": spec.backup in body must be of type object: \"null\""),
        "{}",
        refused.message
    );
    assert!(
        !refused.message.contains("monitoring"),
        "nullable: {}",
        refused.message
    );

    let created = api
        .create(&PostParams::default(), &dynobj(obj("made")))
        .await
        .expect("a plain create prunes the null");
    let spec = &as_json(&created)["spec"];
    assert!(spec.get("backup").is_none(), "{spec}");
    assert_eq!(
        spec["monitoring"],
        Value::Null,
        "a nullable field keeps its null"
    );
    assert!(
        spec.as_object()
            .is_some_and(|m| m.contains_key("monitoring"))
    );
}
