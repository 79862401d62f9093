//! Who changed a live field: the object's `managedFields` record, per field
//! manager, the fields it owns (`fieldsV1`). A field another manager owns
//! whose live value differs from what the apply would leave is drift, and
//! that manager is who drifted it.

use super::Drift;
use crate::apply::FIELD_MANAGER;
use serde_json::{Map, Value};

/// One step into an object, as `fieldsV1` spells them.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `f:name`: a field of a map.
    Field(String),
    /// `k:{"name":"app"}`: the list item whose keys have these values.
    Key(Map<String, Value>),
    /// `v:"value"`: the item of a set-like list with this value.
    Value(Value),
    /// `i:0`: the list item at this index.
    Index(usize),
}

/// The fields of `live` that other managers own and `after` (the object as
/// the apply would leave it) sets to another value.
pub fn drifted(live: &Value, after: &Value) -> Vec<Drift> {
    let mut out = Vec::new();
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for entry in entries {
        let manager = entry["manager"].as_str().unwrap_or("unknown");
        if manager == FIELD_MANAGER {
            continue;
        }
        let Some(fields) = entry.get("fieldsV1") else {
            continue;
        };
        let mut leaves = Vec::new();
        collect_leaves(fields, &mut Vec::new(), &mut leaves);
        for path in leaves {
            if path.first() == Some(&Step::Field("status".into())) {
                continue;
            }
            if resolve(live, &path) != resolve(after, &path) {
                out.push(Drift {
                    path: display(&path),
                    manager: manager.to_owned(),
                    operation: entry["operation"].as_str().unwrap_or_default().to_owned(),
                    subresource: entry["subresource"].as_str().map(str::to_owned),
                    time: entry["time"].as_str().map(str::to_owned),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.path, &a.manager).cmp(&(&b.path, &b.manager)));
    out.dedup();
    out
}

/// The owned leaves of a `fieldsV1` tree: nodes with no children but `.`
/// (which stands for the node itself, and adds nothing to compare).
fn collect_leaves(node: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    let children: Vec<(&String, &Value)> = node
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != ".")
        .collect();
    if children.is_empty() {
        if !path.is_empty() {
            out.push(path.clone());
        }
        return;
    }
    for (key, child) in children {
        let Some(step) = parse_step(key) else {
            continue;
        };
        path.push(step);
        collect_leaves(child, path, out);
        path.pop();
    }
}

fn parse_step(key: &str) -> Option<Step> {
    let (prefix, rest) = key.split_once(':')?;
    match prefix {
        "f" => Some(Step::Field(rest.to_owned())),
        "k" => serde_json::from_str::<Map<String, Value>>(rest)
            .ok()
            .map(Step::Key),
        "v" => serde_json::from_str(rest).ok().map(Step::Value),
        "i" => rest.parse().ok().map(Step::Index),
        _ => None,
    }
}

/// The value at `path` in `object`, if there is one.
fn resolve<'a>(object: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut at = object;
    for step in path {
        at = match step {
            Step::Field(name) => at.get(name)?,
            Step::Index(i) => at.get(*i)?,
            Step::Value(v) => at.as_array()?.iter().find(|item| *item == v)?,
            Step::Key(keys) => at
                .as_array()?
                .iter()
                .find(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))?,
        };
    }
    Some(at)
}

/// A path as a reviewer reads it:
/// `spec.template.spec.containers[name=app].image`,
/// `metadata.annotations["example.com/x"]`.
fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) if is_plain(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Field(name) => {
                out.push_str(&format!("[{}]", Value::String(name.clone())));
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Value(v) => out.push_str(&format!("[={v}]")),
            Step::Key(keys) => {
                let parts: Vec<String> = keys
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
        }
    }
    out
}

fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({
            "metadata": {
                "name": "web",
                "annotations": {"example.com/owner": "ops"},
                "managedFields": [
                    {"manager": "wavesync", "operation": "Apply",
                     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"app\"}": {".": {}, "f:name": {}}}}}}}},
                    {"manager": "kubectl-scale", "operation": "Update", "time": "2026-11-25T07:00:00Z",
                     "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                    {"manager": "kubectl-edit", "operation": "Update",
                     "fieldsV1": {
                        "f:metadata": {"f:annotations": {"f:example.com/owner": {}}},
                        "f:spec": {"f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"app\"}": {"f:image": {}}}}}}}},
                    {"manager": "kube-controller-manager", "operation": "Update",
                     "subresource": "status", "fieldsV1": {"f:status": {"f:replicas": {}}}}
                ]
            },
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "sidecar", "image": "s:1"}, {"name": "app", "image": "app:hotfix"}]}}},
            "status": {"replicas": 5}
        })
    }

    #[test]
    fn fields_others_changed_are_drift_with_their_manager() {
        let mut after = live();
        after["spec"]["replicas"] = json!(2);
        after["spec"]["template"]["spec"]["containers"][1]["image"] = json!("app:1.0");
        after["status"]["replicas"] = json!(2);
        let d = drifted(&live(), &after);
        let got: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.manager.as_str(), d.operation.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("spec.replicas", "kubectl-scale", "Update"),
                (
                    "spec.template.spec.containers[name=app].image",
                    "kubectl-edit",
                    "Update"
                ),
            ]
        );
        assert_eq!(d[0].time.as_deref(), Some("2026-11-25T07:00:00Z"));
        assert_eq!(d[0].subresource.as_deref(), Some("scale"));
        assert_eq!(d[1].subresource, None);
    }

    #[test]
    fn fields_the_apply_leaves_alone_are_not_drift() {
        // Another manager owns the annotation, but Git does not set it: the
        // apply keeps the live value, so nothing drifted back.
        assert!(drifted(&live(), &live()).is_empty());
    }

    #[test]
    fn paths_with_dots_are_quoted() {
        let path = vec![
            Step::Field("metadata".into()),
            Step::Field("annotations".into()),
            Step::Field("example.com/owner".into()),
        ];
        assert_eq!(
            display(&path),
            "metadata.annotations[\"example.com/owner\"]"
        );
    }
}
