//! Unknown fields, as kube-apiserver's field validation handles them: a POST
//! with `fieldValidation=Strict` is rejected, `Warn` (the default) drops the
//! field with a `Warning` header, `Ignore` drops it silently; server-side apply
//! of an undeclared field fails for built-in types and custom resources alike,
//! and a custom resource's undeclared fields are pruned on create.

mod common;

use common::*;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

async fn post(client: &kube::Client, path: &str, body: &Value) -> (u16, Vec<String>, Value) {
    let req = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("json"))
        .expect("request");
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("send");
    let code = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        code,
        warnings,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "replicaz": 3, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "x:1", "colour": "red"}]}}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_follow_the_field_validation_directive() {
    let (_sim, client) = setup("fv").await;
    let base = "/apis/apps/v1/namespaces/fv/deployments";

    let (code, _, body) = post(
        &client,
        &format!("{base}?fieldValidation=Strict"),
        &deployment("strict"),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "strict decoding error: unknown field \"spec.replicaz\", unknown field \"spec.template.spec.containers[0].colour\""
    );

    let (code, warnings, body) = post(&client, base, &deployment("warned")).await;
    assert_eq!(code, 201);
    assert_eq!(
        warnings,
        vec![
            "299 - \"unknown field \\\"spec.replicaz\\\"\"".to_string(),
            "299 - \"unknown field \\\"spec.template.spec.containers[0].colour\\\"\"".to_string(),
        ]
    );
    assert!(
        body["spec"].get("replicaz").is_none(),
        "the unknown field is dropped: {body}"
    );

    let (code, warnings, body) = post(
        &client,
        &format!("{base}?fieldValidation=Ignore"),
        &deployment("ignored"),
    )
    .await;
    assert_eq!((code, warnings.len()), (201, 0));
    assert!(body["spec"].get("replicaz").is_none());

    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "fv",
        &resource("apps", "v1", "Deployment", "deployments"),
    );
    let status = api_error(
        api.patch(
            "applied",
            &PatchParams::apply("m"),
            &Patch::Apply(deployment("applied")),
        )
        .await,
    );
    assert_eq!(status.code, 500);
    assert_eq!(
        status.message,
        "failed to create typed patch object (/applied; apps/v1, Kind=Deployment): .spec.replicaz: field not declared in schema"
    );
    assert!(
        api.get_opt("applied").await.expect("get").is_none(),
        "a failed apply stores nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_resources_prune_and_reject_undeclared_fields() {
    let (_sim, client) = setup("fv-crd").await;
    install_crd(
        &client,
        crd_json(
            "fv.example.org",
            "Gadget",
            "gadgets",
            "Namespaced",
            json!({"size": {"type": "integer"}}),
        ),
    )
    .await;
    let ar = resource("fv.example.org", "v1", "Gadget", "gadgets");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "fv-crd", &ar);
    let obj = |name: &str| {
        dynobj(json!({"apiVersion": "fv.example.org/v1", "kind": "Gadget",
        "metadata": {"name": name}, "spec": {"size": 2, "shape": "round"}}))
    };

    let created = api
        .create(&PostParams::default(), &obj("g1"))
        .await
        .expect("create");
    assert_eq!(
        as_json(&created)["spec"],
        json!({"size": 2}),
        "undeclared fields are pruned"
    );

    let status = api_error(
        api.patch("g2", &PatchParams::apply("m"), &Patch::Apply(obj("g2")))
            .await,
    );
    assert_eq!(status.code, 500);
    assert!(
        status
            .message
            .ends_with(".spec.shape: field not declared in schema"),
        "{}",
        status.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scalars_of_the_wrong_type_are_refused_not_coerced() {
    let (_sim, client) = setup("fv-types").await;
    let mut d = deployment("typed");
    d["spec"].as_object_mut().map(|m| m.remove("replicaz"));
    d["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .map(|m| m.remove("colour"));
    d["spec"]["replicas"] = json!("3");
    let (code, _, body) = post(&client, "/apis/apps/v1/namespaces/fv-types/deployments", &d).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.replicas")),
        "{body}"
    );

    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "fv-types",
        &resource("apps", "v1", "Deployment", "deployments"),
    );
    let status = api_error(
        api.patch("typed", &PatchParams::apply("m"), &Patch::Apply(d))
            .await,
    );
    assert_eq!(status.code, 500);
    assert!(
        status
            .message
            .ends_with(".spec.replicas: expected numeric (int or float), got string"),
        "{}",
        status.message
    );

    install_crd(
        &client,
        crd_json(
            "fvt.example.org",
            "Gauge",
            "gauges",
            "Namespaced",
            json!({"size": {"type": "integer"}}),
        ),
    )
    .await;
    let gauges: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "fv-types",
        &resource("fvt.example.org", "v1", "Gauge", "gauges"),
    );
    let g = dynobj(
        json!({"apiVersion": "fvt.example.org/v1", "kind": "Gauge", "metadata": {"name": "g"}, "spec": {"size": "big"}}),
    );
    let status = api_error(gauges.create(&PostParams::default(), &g).await);
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("spec.size in body must be of type integer"),
        "{}",
        status.message
    );
}
