//! Helpers shared by the integration tests that drive the simulator through the real `kube`
//! client: starting a simulator with a namespace of its own, dynamic APIs, error
//! extraction and polling with a deadline.

#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::core::Status;
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use kube_sim::{Sim, SimOptions};
use serde_json::{Value, json};

/// How long any wait for a controller may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Starts a simulator with default options and creates namespace `ns`.
pub async fn setup(ns: &str) -> (Sim, Client) {
    setup_with(SimOptions::default(), ns).await
}

/// Starts a simulator with `options` and creates namespace `ns`.
pub async fn setup_with(options: SimOptions, ns: &str) -> (Sim, Client) {
    let sim = Sim::start_with(options).await.expect("simulator starts");
    let client = sim.client().expect("client for the simulator");
    create_namespace(&client, ns).await;
    (sim, client)
}

/// Creates a namespace.
pub async fn create_namespace(client: &Client, ns: &str) {
    let nss: Api<Namespace> = Api::all(client.clone());
    let body: Namespace =
        serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
    nss.create(&PostParams::default(), &body)
        .await
        .expect("namespace is created");
}

/// A client that does not retry 429/503/504, so that injected errors reach the caller.
pub fn no_retry_client(sim: &Sim) -> Client {
    let mut config = sim.config().clone();
    config.default_retry = false;
    Client::try_from(config).expect("client without retries")
}

/// The API error of a failed call; panics on success or on a transport error.
pub fn api_error<T: Debug>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        Err(other) => panic!("expected an API error, got {other:?}"),
        Ok(v) => panic!("expected an API error, got success: {v:?}"),
    }
}

/// `Api<DynamicObject>` for ConfigMaps in `ns`.
pub fn configmaps(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<ConfigMap>(&()))
}

/// The ApiResource of a group/version/kind with the given plural.
pub fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// A dynamic object from JSON.
pub fn dynobj(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("a valid object")
}

/// A typed object from JSON.
pub fn typed<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("a valid typed object")
}

/// The whole object as JSON.
pub fn as_json<K: serde::Serialize>(obj: &K) -> Value {
    serde_json::to_value(obj).expect("serializable")
}

/// Calls `f` until it returns `Some`, every 25 ms, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `get(name)` answers 404.
pub async fn eventually_gone(api: &Api<DynamicObject>, name: &str) {
    eventually(&format!("{name} to be deleted"), || async {
        match api.get_opt(name).await.expect("get") {
            None => Some(()),
            Some(_) => None,
        }
    })
    .await;
}

/// The managedFields entry of `manager` (operation, fieldsV1, subresource), if any.
pub fn managed_by(obj: &Value, manager: &str) -> Option<Value> {
    obj.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|m| m["manager"] == manager)
        .cloned()
}

/// Managers whose fieldsV1 reaches `path` (a list of `f:` keys).
pub fn owners_of(obj: &Value, path: &[&str]) -> Vec<String> {
    let Some(entries) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|m| {
            let mut cur = &m["fieldsV1"];
            for p in path {
                cur = &cur[*p];
            }
            !cur.is_null()
        })
        .filter_map(|m| m["manager"].as_str().map(String::from))
        .collect()
}

/// A namespaced CRD `<plural>.<group>` (version v1) with an open spec, a status subresource
/// and the given extra spec properties.
pub fn crd_json(group: &str, kind: &str, plural: &str, scope: &str, spec_props: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": spec_props},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

/// Creates a CRD and waits until it is Established.
pub async fn install_crd(client: &Client, crd: Value) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = typed(crd);
    let name = crd.metadata.name.clone().expect("CRD name");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("CRD is created");
    let established = tokio::time::timeout(
        DEADLINE,
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD is established in time")
    .expect("watching the CRD");
    established.expect("CRD exists")
}
