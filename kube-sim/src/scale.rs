//! The `/scale` subresource of Deployments, ReplicaSets and StatefulSets
//! (`kubectl scale`, autoscalers): an `autoscaling/v1` Scale view of
//! `spec.replicas`.

use crate::core::Core;
use crate::route::ResourcePath;
use crate::status::ApiError;
use crate::write::{self, WriteOptions};
use serde_json::{Value, json};

/// The Scale object for a workload.
pub fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

/// GET, PUT or PATCH of `/scale`.
pub fn handle(
    core: &Core,
    rp: &ResourcePath,
    verb: &str,
    opts: &WriteOptions,
    content_type: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let get = || {
        crate::read::get(
            core,
            &ResourcePath {
                sub: None,
                ..rp.clone()
            },
            false,
            false,
        )
    };
    let current = scale_of(&get()?);
    let desired = match verb {
        "get" => return Ok(current),
        "update" => write::decode_body(body, content_type.contains("yaml"))?,
        "patch" => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut s = current.clone();
            match content_type {
                "application/json-patch+json" => {
                    let ops: json_patch::Patch = serde_json::from_value(patch)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    json_patch::patch(&mut s, &ops).map_err(|_| ApiError::unprocessable())?;
                }
                _ => json_patch::merge(&mut s, &patch),
            }
            s
        }
        _ => return Err(ApiError::no_resource()),
    };
    let Some(replicas) = desired.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(ApiError::bad_request("spec.replicas is required"));
    };
    let (_, obj) = write::set_replicas(core, rp, opts, replicas)?;
    Ok(scale_of(&obj))
}
