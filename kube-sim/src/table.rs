//! `kubectl get` tables: the columns kube-apiserver prints for the common
//! kinds (and a CRD's additionalPrinterColumns), computed from stored JSON.

use crate::registry::ResourceType;
use serde_json::{Value, json};

type Cell = fn(&Value) -> Value;

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn text(v: &Value, ptr: &str, default: &str) -> Value {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .into()
}

fn ready_of(v: &Value) -> Value {
    format!(
        "{}/{}",
        int(v, "/status/readyReplicas"),
        v.pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
    )
    .into()
}

fn job_status(v: &Value) -> Value {
    let conds = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |t: &str| {
        conds
            .iter()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    if has("Complete") {
        "Complete".into()
    } else if has("Failed") {
        "Failed".into()
    } else if v.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        "Suspended".into()
    } else {
        "Running".into()
    }
}

fn ports(v: &Value) -> Value {
    let ports = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return "<none>".into();
    }
    ports
        .iter()
        .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
        .collect::<Vec<_>>()
        .join(",")
        .into()
}

fn data_count(v: &Value) -> Value {
    let n = |k: &str| v.get(k).and_then(Value::as_object).map_or(0, |m| m.len());
    (n("data") + n("binaryData")).into()
}

fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str, Cell)> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => vec![
            ("Ready", "string", ready_of),
            ("Up-to-date", "integer", |v| {
                int(v, "/status/updatedReplicas").into()
            }),
            ("Available", "integer", |v| {
                int(v, "/status/availableReplicas").into()
            }),
        ],
        ("apps", "StatefulSet") => vec![("Ready", "string", ready_of)],
        ("apps", "ReplicaSet") => vec![
            ("Desired", "integer", |v| {
                v.pointer("/spec/replicas").cloned().unwrap_or(json!(1))
            }),
            ("Current", "integer", |v| int(v, "/status/replicas").into()),
            ("Ready", "integer", |v| {
                int(v, "/status/readyReplicas").into()
            }),
        ],
        ("apps", "DaemonSet") => vec![
            ("Desired", "integer", |v| {
                int(v, "/status/desiredNumberScheduled").into()
            }),
            ("Current", "integer", |v| {
                int(v, "/status/currentNumberScheduled").into()
            }),
            ("Ready", "integer", |v| int(v, "/status/numberReady").into()),
            ("Up-to-date", "integer", |v| {
                int(v, "/status/updatedNumberScheduled").into()
            }),
            ("Available", "integer", |v| {
                int(v, "/status/numberAvailable").into()
            }),
        ],
        ("batch", "Job") => vec![
            ("Status", "string", job_status),
            ("Completions", "string", |v| {
                format!(
                    "{}/{}",
                    int(v, "/status/succeeded"),
                    v.pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )
                .into()
            }),
        ],
        ("", "Service") => vec![
            ("Type", "string", |v| text(v, "/spec/type", "ClusterIP")),
            ("Cluster-IP", "string", |v| {
                text(v, "/spec/clusterIP", "<none>")
            }),
            ("External-IP", "string", |_| "<none>".into()),
            ("Port(s)", "string", ports),
        ],
        ("", "PersistentVolumeClaim") => vec![
            ("Status", "string", |v| text(v, "/status/phase", "Pending")),
            ("Capacity", "string", |v| {
                text(v, "/status/capacity/storage", "")
            }),
            ("StorageClass", "string", |v| {
                text(v, "/spec/storageClassName", "<unset>")
            }),
        ],
        ("", "ConfigMap") => vec![("Data", "integer", data_count)],
        ("", "Secret") => vec![
            ("Type", "string", |v| text(v, "/type", "Opaque")),
            ("Data", "integer", data_count),
        ],
        ("", "Namespace") => vec![("Status", "string", |v| text(v, "/status/phase", "Active"))],
        ("", "Pod") => vec![("Status", "string", |v| text(v, "/status/phase", "Pending"))],
        _ => Vec::new(),
    }
}

/// A `meta.k8s.io/v1` Table of `objs`.
pub fn to_table(rt: &ResourceType, objs: &[Value], meta: Value) -> Value {
    let fixed = columns(rt);
    let printer: Vec<(String, String, String)> = rt
        .printer_columns
        .iter()
        .filter_map(|c| {
            Some((
                c.get("name")?.as_str()?.to_string(),
                c.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("string")
                    .to_string(),
                c.get("jsonPath")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    defs.extend(fixed.iter().map(
        |(n, t, _)| json!({"name": n, "type": t, "format": "", "description": "", "priority": 0}),
    ));
    defs.extend(printer.iter().map(
        |(n, t, _)| json!({"name": n, "type": t, "format": "", "description": "", "priority": 0}),
    ));
    // A CRD that declares its own Age column gets that one, not a second.
    let own_age = printer
        .iter()
        .any(|(n, _, _)| n.eq_ignore_ascii_case("age"));
    if !own_age {
        defs.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
    }
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            cells.extend(fixed.iter().map(|(_, _, f)| f(o)));
            for (_, ty, path) in &printer {
                let ptr = path.trim_start_matches('.').replace('.', "/");
                let v = o.pointer(&format!("/{ptr}")).cloned().unwrap_or(Value::Null);
                // kube-apiserver prints date columns as ages.
                cells.push(if ty == "date" { age(v.as_str()).into() } else { v });
            }
            if !own_age {
                cells.push(age(o.pointer("/metadata/creationTimestamp").and_then(Value::as_str)).into());
            }
            let mut m = o.get("metadata").cloned().unwrap_or(json!({}));
            if let Some(mm) = m.as_object_mut() {
                mm.remove("managedFields");
            }
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

/// How kubectl shows an age: `42s`, `5m`, `3h`, `2d`.
fn age(ts: Option<&str>) -> String {
    let Some(t) = ts.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
