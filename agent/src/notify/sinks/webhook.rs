//! The generic webhook: one JSON document per notice, in the versioned
//! schema `wavesync.io/notification/v1` documented in
//! docs/notifications.md. Fields are only ever added within a version.

use serde_json::{Map, Value, json};

use crate::notify::mask;
use crate::notify::notice::{FieldChange, Notice, NotifyContext};

/// The `version` of every payload.
pub const SCHEMA_VERSION: &str = "wavesync.io/notification/v1";

/// The payload of `notice`, sent at `at`.
pub fn body(notice: &Notice, ctx: &NotifyContext, at: jiff::Timestamp) -> Value {
    json!({
        "version": SCHEMA_VERSION,
        "kind": notice.event().as_str(),
        "waveset": ctx.waveset,
        "cluster": ctx.cluster,
        "agent": { "identity": ctx.identity, "namespace": ctx.namespace },
        "revision": notice.revision().map(|r| r.0.as_str()),
        "wave": notice.wave(),
        "severity": notice.severity().as_str(),
        "summary": notice.summary(),
        "objects": objects(notice),
        "details": details(notice),
        "time": at.to_string(),
    })
}

/// `objects`: the drifted (or resolved) object; empty for the others.
fn objects(notice: &Notice) -> Value {
    let Some(object) = notice.object() else {
        return json!([]);
    };
    let mut entry = Map::new();
    entry.insert("apiVersion".into(), json!(object.api_version));
    entry.insert("kind".into(), json!(object.kind));
    let namespace = (!object.namespace.is_empty()).then_some(object.namespace.as_str());
    entry.insert("namespace".into(), json!(namespace));
    entry.insert("name".into(), json!(object.name));
    if let Notice::DriftDetected(d) = notice {
        entry.insert("deleted".into(), json!(d.deleted));
        let fields: Vec<Value> = mask::fields(object, &d.fields).iter().map(field).collect();
        entry.insert("fields".into(), Value::Array(fields));
    }
    json!([entry])
}

/// One changed field.
pub(crate) fn field(f: &FieldChange) -> Value {
    json!({
        "path": f.path,
        "manager": f.manager,
        "operation": f.operation,
        "subresource": f.subresource,
        "time": f.time.map(|t| t.to_string()),
        "old": f.old,
        "new": f.new,
    })
}

/// `details`: what only this kind of notice has.
fn details(notice: &Notice) -> Value {
    match notice {
        Notice::DriftDetected(d) => json!({
            "policy": d.policy.as_str(),
            "contestedBy": d.contested_by,
        }),
        Notice::DriftResolved(d) => json!({ "how": d.how.as_str() }),
        Notice::SyncFailed {
            category, message, ..
        } => json!({ "category": category.as_str(), "message": message }),
        Notice::Stalled {
            category, reason, ..
        } => json!({ "category": category.as_str(), "reason": reason }),
        Notice::WaveFailed { message, .. } => json!({ "message": message }),
        Notice::SyncSucceeded { took, .. } => json!({ "tookSeconds": took.as_secs_f64() }),
        Notice::RevisionRefused { reason, .. } => json!({ "reason": reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Category;
    use crate::notify::notice::fixtures::*;
    use crate::notify::notice::{DriftResolved, Resolution};
    use std::time::Duration;

    #[test]
    fn a_drift_payload_has_the_documented_shape() {
        let got = body(&scaled(), &context(), at());
        let expected = json!({
            "version": "wavesync.io/notification/v1",
            "kind": "DriftDetected",
            "waveset": "dataplane",
            "cluster": "dp-east",
            "agent": { "identity": "wavesync-7d9f-abcde", "namespace": "wavesync" },
            "revision": "0123456789abcdef0123456789abcdef01234567",
            "wave": "apps",
            "severity": "warning",
            "summary": "Deployment.apps shop/web (wave apps) drifted: spec.replicas changed by kubectl",
            "objects": [{
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "deleted": false,
                "fields": [{
                    "path": "spec.replicas",
                    "manager": "kubectl",
                    "operation": "Update",
                    "subresource": "scale",
                    "time": "2025-03-04T05:06:07Z",
                    "old": 3,
                    "new": 5,
                }],
            }],
            "details": { "policy": "alert", "contestedBy": null },
            "time": "2025-03-04T05:06:07Z",
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn every_other_kind_has_its_details() {
        let ctx = NotifyContext {
            cluster: None,
            ..context()
        };
        let cases = [
            (
                Notice::DriftResolved(DriftResolved {
                    object: deployment(),
                    wave: "apps".into(),
                    revision: None,
                    how: Resolution::Healed,
                }),
                json!({ "how": "healed" }),
                "info",
            ),
            (
                Notice::SyncFailed {
                    revision: revision(),
                    category: Category::Transient,
                    message: "apply timed out".into(),
                },
                json!({ "category": "transient", "message": "apply timed out" }),
                "warning",
            ),
            (
                Notice::Stalled {
                    revision: revision(),
                    reason: "spec.waves[0].path: not found".into(),
                    category: Category::Config,
                },
                json!({ "category": "config", "reason": "spec.waves[0].path: not found" }),
                "critical",
            ),
            (
                Notice::WaveFailed {
                    wave: "database".into(),
                    revision: revision(),
                    message: "Job migrate failed".into(),
                },
                json!({ "message": "Job migrate failed" }),
                "warning",
            ),
            (
                Notice::SyncSucceeded {
                    revision: revision(),
                    took: Duration::from_millis(1500),
                },
                json!({ "tookSeconds": 1.5 }),
                "info",
            ),
            (
                Notice::RevisionRefused {
                    revision: revision(),
                    reason: "not signed".into(),
                },
                json!({ "reason": "not signed" }),
                "critical",
            ),
        ];
        for (notice, details, severity) in cases {
            let got = body(&notice, &ctx, at());
            assert_eq!(got["kind"], json!(notice.event().as_str()));
            assert_eq!(got["details"], details, "{notice:?}");
            assert_eq!(got["severity"], json!(severity), "{notice:?}");
            assert_eq!(got["cluster"], Value::Null);
            assert_eq!(got["summary"], json!(notice.summary()));
            let objects = got["objects"].as_array().expect("objects");
            assert_eq!(objects.len(), usize::from(notice.object().is_some()));
        }
        let resolved = Notice::DriftResolved(DriftResolved {
            object: deployment(),
            wave: "apps".into(),
            revision: None,
            how: Resolution::Reverted,
        });
        assert_eq!(
            body(&resolved, &ctx, at())["objects"],
            json!([{ "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web" }])
        );
        let keys: Vec<String> = body(&resolved, &ctx, at())
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "version", "kind", "waveset", "cluster", "agent", "revision", "wave", "severity",
                "summary", "objects", "details", "time"
            ]
        );
    }
}
