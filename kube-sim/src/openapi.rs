//! A minimal OpenAPI v3 surface: the index and one document per group
//! version, listing each resource's PATCH operation with its query parameters
//! and `x-kubernetes-group-version-kind`. That is what kubectl reads to learn
//! that the server validates fields itself (`--validate=strict`, its default),
//! so kubectl works against the simulator with its default flags. Schemas are
//! not served (`kubectl explain` needs them; see the crate README).

use crate::registry::Registry;
use serde_json::{Map, Value, json};

/// `/openapi/v3`: the group-version index.
pub fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<String> = reg.all().map(|t| t.api_version()).collect();
    gvs.sort();
    gvs.dedup();
    for gv in gvs {
        let p = if gv.contains('/') {
            format!("apis/{gv}")
        } else {
            format!("api/{gv}")
        };
        let hash = crate::registry::storage_version_hash(&gv, "openapi", "v3")
            .replace(['+', '/', '='], "");
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    if !reg.serves(group, version) {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let params: Vec<Value> = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]
        .iter()
        .map(|n| json!({"name": n, "in": "query", "schema": {"type": if *n == "force" { "boolean" } else { "string" }, "uniqueItems": true}}))
        .collect();
    let mut paths = Map::new();
    for t in reg
        .all()
        .filter(|t| t.group == group && t.version == version)
    {
        let path = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.resource)
        } else {
            format!("{prefix}/{}/{{name}}", t.resource)
        };
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        paths.insert(
            path,
            json!({"patch": {
                "operationId": format!("patch{}", t.kind),
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.13"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
