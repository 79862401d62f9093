//! Who changed a live field: the object's `managedFields` record, per field
//! manager, the fields it owns (`fieldsV1`). A field another manager owns
//! whose live value differs from what the apply would leave is drift, and
//! that manager is who drifted it.

use super::Drift;
use crate::apply::FIELD_MANAGER;
use crate::drift::fields::{Step, display, leaves, resolve};
use serde_json::Value;

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
        for path in leaves(fields) {
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
}
