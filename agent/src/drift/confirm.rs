//! The exact half of drift detection, run only for objects the local check
//! flagged: the live object against a server-side apply dry-run of the
//! desired one (`after`: the object as wavesync's apply would leave it,
//! with the server's defaulting and normalization, so `cpu: 1000m` against
//! a live `cpu: "1"` is no drift). Every field wavesync owns in `after`
//! whose live value differs is drift, named with the managers that own it
//! now, unless an ignore rule says otherwise.

use super::fields::{self, display, leaves, owned_tree, resolve, tree_has};
use super::ignore::{self, Field};
use super::{FieldDrift, MASK};
use crate::apply::FIELD_MANAGER;
use crate::config::IgnoreRule;
use crate::model::ObjRef;
use serde_json::Value;

/// What comparing found: the drifted fields, and the differences an ignore
/// rule kept from counting (path, why).
#[derive(Debug, Default, PartialEq)]
pub struct Compared {
    /// Fields that drifted.
    pub drifted: Vec<FieldDrift>,
    /// Differences ignored, with the rule that ignored each.
    pub ignored: Vec<(String, String)>,
}

/// One manager's entry in `managedFields`.
struct Entry<'a> {
    manager: &'a str,
    operation: Option<&'a str>,
    subresource: Option<&'a str>,
    time: Option<&'a str>,
    tree: &'a Value,
}

fn entries(live: &Value) -> Vec<Entry<'_>> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Entry {
                manager: e.get("manager")?.as_str()?,
                operation: e.get("operation").and_then(Value::as_str),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty()),
                time: e.get("time").and_then(Value::as_str),
                tree: e.get("fieldsV1")?,
            })
        })
        .collect()
}

/// Compares `live` with `after` on the fields wavesync owns in `after`.
pub fn compare(r: &ObjRef, live: &Value, after: &Value, rules: &[IgnoreRule]) -> Compared {
    let mut out = Compared::default();
    let Some(tree) = owned_tree(after, FIELD_MANAGER) else {
        return out;
    };
    let others: Vec<Entry<'_>> = entries(live)
        .into_iter()
        .filter(|e| e.manager != FIELD_MANAGER)
        .collect();
    let secret = r.kind == "Secret" && r.group().is_empty();
    for mut path in leaves(&tree) {
        if path.first() == Some(&fields::Step::Field("status".into())) {
            continue;
        }
        // `stringData` is write-only: the server stores it in `data`, where
        // others change it.
        if secret && path.first() == Some(&fields::Step::Field("stringData".into())) {
            path[0] = fields::Step::Field("data".into());
        }
        let (lv, av) = (resolve(live, &path), resolve(after, &path));
        if lv == av {
            continue;
        }
        let owners: Vec<&Entry<'_>> = others.iter().filter(|e| tree_has(e.tree, &path)).collect();
        let managers: Vec<String> = owners.iter().map(|e| e.manager.to_owned()).collect();
        let shown = display(&path);
        let pointer = fields::pointer(after, &path).or_else(|| fields::pointer(live, &path));
        let f = Field {
            path: &shown,
            pointer: pointer.as_deref(),
            managers: &managers,
        };
        if let Some(why) = ignore::ignored_by(rules, r, f) {
            out.ignored.push((shown, why));
            continue;
        }
        let mask = |v: Option<&Value>| {
            v.map(|v| {
                let under_data = matches!(
                    path.first(),
                    Some(fields::Step::Field(f)) if f == "data" || f == "stringData"
                );
                if secret && under_data {
                    Value::String(MASK.into())
                } else {
                    v.clone()
                }
            })
        };
        // The latest writer among the owners (several may share a field).
        let owner = owners.iter().max_by_key(|e| e.time.unwrap_or(""));
        out.drifted.push(FieldDrift {
            path: shown,
            manager: owner.map_or_else(|| "unknown".to_owned(), |e| e.manager.to_owned()),
            operation: owner.and_then(|e| e.operation.map(str::to_owned)),
            subresource: owner.and_then(|e| e.subresource.map(str::to_owned)),
            time: owner.and_then(|e| e.time.map(str::to_owned)),
            desired: mask(av),
            live: mask(lv),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> ObjRef {
        ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    fn secret() -> ObjRef {
        ObjRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "shop".into(),
            name: "db".into(),
        }
    }

    fn after() -> Value {
        json!({"metadata": {"name": "web", "labels": {"app": "web"}, "managedFields": [
                {"manager": "wavesync", "operation": "Apply", "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}}]},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}}}})
    }

    fn live() -> Value {
        json!({"metadata": {"name": "web", "labels": {}, "managedFields": [
                {"manager": "wavesync", "operation": "Apply", "fieldsV1": {
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"app\"}": {".": {}, "f:name": {}}}}}}}},
                {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale",
                 "time": "2026-12-02T10:00:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-02T10:01:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {"f:image": {}}}}}}}}]},
               "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "app:hotfix"}]}}},
               "status": {"replicas": 5}})
    }

    #[test]
    fn each_field_names_its_manager_and_both_values() {
        let c = compare(&deploy(), &live(), &after(), &[]);
        let got: Vec<(&str, &str, Option<&Value>, Option<&Value>)> = c
            .drifted
            .iter()
            .map(|d| {
                (
                    d.path.as_str(),
                    d.manager.as_str(),
                    d.desired.as_ref(),
                    d.live.as_ref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("metadata.labels.app", "unknown", Some(&json!("web")), None),
                (
                    "spec.replicas",
                    "kubectl-scale",
                    Some(&json!(2)),
                    Some(&json!(5))
                ),
                (
                    "spec.template.spec.containers[name=app].image",
                    "kubectl-edit",
                    Some(&json!("app:1")),
                    Some(&json!("app:hotfix"))
                ),
            ]
        );
        assert_eq!(c.drifted[1].subresource.as_deref(), Some("scale"));
        assert_eq!(c.drifted[1].time.as_deref(), Some("2026-12-02T10:00:00Z"));
    }

    #[test]
    fn ignore_rules_keep_fields_from_counting_and_say_why() {
        let rules = [
            IgnoreRule {
                managers: vec!["kubectl-scale".into()],
                ..Default::default()
            },
            IgnoreRule {
                json_pointers: vec!["/metadata/labels".into()],
                ..Default::default()
            },
        ];
        let c = compare(&deploy(), &live(), &after(), &rules);
        assert_eq!(c.drifted.len(), 1);
        assert_eq!(c.drifted[0].manager, "kubectl-edit");
        assert_eq!(
            c.ignored,
            [
                (
                    "metadata.labels.app".to_string(),
                    "jsonPointer /metadata/labels".to_string()
                ),
                (
                    "spec.replicas".to_string(),
                    "owned by kubectl-scale".to_string()
                )
            ]
        );
    }

    #[test]
    fn equal_values_and_status_are_never_drift() {
        assert_eq!(
            compare(&deploy(), &after(), &after(), &[]),
            Compared::default()
        );
    }

    #[test]
    fn a_secret_applied_as_string_data_is_compared_in_data() {
        let r = secret();
        let after = json!({"metadata": {"managedFields": [{"manager": "wavesync", "operation": "Apply",
            "fieldsV1": {"f:stringData": {"f:password": {}}}}]}, "data": {"password": "czNjcjN0"}});
        let live = json!({"metadata": {"managedFields": [{"manager": "kubectl-patch", "operation": "Update",
            "fieldsV1": {"f:data": {"f:password": {}}}}]}, "data": {"password": "aGFja2Vk"}});
        let c = compare(&r, &live, &after, &[]);
        assert_eq!(c.drifted.len(), 1);
        assert_eq!(
            c.drifted[0].summary(),
            "data.password by kubectl-patch (Update)"
        );
        assert_eq!(c.drifted[0].desired, Some(json!(MASK)));
        assert!(compare(&r, &after, &after, &[]).drifted.is_empty());
    }

    #[test]
    fn secret_values_are_masked() {
        let r = secret();
        let after = json!({"metadata": {"managedFields": [{"manager": "wavesync", "operation": "Apply",
            "fieldsV1": {"f:data": {"f:password": {}}}}]}, "data": {"password": "czNjcjN0"}});
        let live = json!({"metadata": {"managedFields": [{"manager": "kubectl-edit", "operation": "Update",
            "fieldsV1": {"f:data": {"f:password": {}}}}]}, "data": {"password": "aGFja2Vk"}});
        let c = compare(&r, &live, &after, &[]);
        assert_eq!(c.drifted.len(), 1);
        let shown = serde_json::to_string(&c.drifted).unwrap_or_default();
        assert!(
            !shown.contains("czNjcjN0") && !shown.contains("aGFja2Vk"),
            "{shown}"
        );
        assert_eq!(c.drifted[0].live, Some(json!(MASK)));
    }
}
