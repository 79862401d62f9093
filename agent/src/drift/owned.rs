//! The cheap, local half of drift detection, run on every watch event: does
//! wavesync's field manager still own every field of the desired object?
//!
//! Server-side apply moves the ownership of a field to whoever changes its
//! value — `kubectl edit` and `kubectl patch` (Update), `kubectl scale`
//! (through the scale subresource), another applier forcing it — and drops
//! it when the field is removed. So a field of the desired object that
//! `wavesync` no longer owns has been changed by someone else, and a field
//! it still owns has the value it applied. This needs only the object's
//! metadata (`managedFields`), never its content: the watches are
//! metadata-only, and values are compared only when a candidate is confirmed
//! (`confirm.rs`).
//!
//! Fields the server defaults, status, and fields wavesync never applied
//! are not in the desired object, so they never count here.

use super::fields::{Path, Step, parse_step};
use serde_json::Value;

/// Top-level metadata the server owns or that identifies the object:
/// never in a field manager's set.
const IDENTITY: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// The highest fields of `desired` that the `owned` tree (wavesync's
/// `fieldsV1`) does not hold. `None` for `owned` (no entry at all) leaves
/// every field unowned.
pub fn unowned(desired: &Value, owned: Option<&Value>) -> Vec<Path> {
    let mut out = Vec::new();
    let Some(top) = desired.as_object() else {
        return out;
    };
    for (k, v) in top {
        if matches!(k.as_str(), "apiVersion" | "kind" | "status") || v.is_null() {
            continue;
        }
        let child = owned.and_then(|o| child(o, &Step::Field(k.clone())));
        let mut path = vec![Step::Field(k.clone())];
        if k == "metadata" {
            let Some(meta) = v.as_object() else { continue };
            for (mk, mv) in meta {
                if IDENTITY.contains(&mk.as_str()) || mv.is_null() {
                    continue;
                }
                let step = Step::Field(mk.clone());
                let grandchild = child.and_then(|c| self::child(c, &step));
                path.push(step);
                walk(mv, grandchild, &mut path, &mut out);
                path.pop();
            }
            continue;
        }
        walk(v, child, &mut path, &mut out);
    }
    out
}

fn walk(desired: &Value, node: Option<&Value>, path: &mut Path, out: &mut Vec<Path>) {
    let Some(node) = node else {
        out.push(path.clone());
        return;
    };
    if is_leaf(node) {
        // A scalar, or a map or list owned as a whole.
        return;
    }
    match desired {
        Value::Object(m) => {
            for (k, v) in m {
                if v.is_null() {
                    continue;
                }
                let step = Step::Field(k.clone());
                let c = child(node, &step);
                path.push(step);
                walk(v, c, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item_step(node, item, i) {
                    Some((step, c)) => {
                        path.push(step);
                        walk(item, Some(c), path, out);
                        path.pop();
                    }
                    None => {
                        path.push(Step::Index(i));
                        out.push(path.clone());
                        path.pop();
                    }
                }
            }
        }
        _ => {}
    }
}

/// An empty node is a field owned as a whole (a scalar, an atomic map or
/// list). `{".": {}}` is not: it owns the map or item itself, and only the
/// children it lists.
fn is_leaf(node: &Value) -> bool {
    node.as_object().is_none_or(|m| m.is_empty())
}

fn child<'a>(node: &'a Value, step: &Step) -> Option<&'a Value> {
    node.as_object()?
        .iter()
        .find(|(k, _)| parse_step(k).is_some_and(|s| s == *step))
        .map(|(_, v)| v)
}

/// The step of `node` (a list's `fieldsV1`) that stands for `item`, the
/// `i`-th item of the desired list: the keyed entry whose keys `item`
/// has, the set entry equal to it, or its index.
fn item_step<'a>(node: &'a Value, item: &Value, i: usize) -> Option<(Step, &'a Value)> {
    let children = node.as_object()?;
    let mut by_index = None;
    for (k, v) in children {
        match parse_step(k) {
            Some(Step::Key(keys)) if keys.iter().all(|(kk, kv)| same(item.get(kk), kv)) => {
                return Some((Step::Key(keys), v));
            }
            Some(Step::Value(val)) if val == *item => return Some((Step::Value(val), v)),
            Some(Step::Index(n)) if n == i => by_index = Some((Step::Index(n), v)),
            _ => {}
        }
    }
    by_index
}

/// A key value as written in Git and as the server keyed it: ports written
/// as strings in a manifest are numbers once stored.
fn same(desired: Option<&Value>, stored: &Value) -> bool {
    match (desired, stored) {
        (Some(d), s) if d == s => true,
        (Some(Value::String(d)), Value::Number(n)) => d == &n.to_string(),
        // A key the manifest leaves out, defaulted by the server
        // (`protocol: TCP` of a port).
        (None, _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::fields::display;
    use serde_json::json;

    fn desired() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": null,
                         "labels": {"app": "web"}, "annotations": {"team": "a"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [
                        {"name": "app", "image": "app:1", "args": ["--x", "--y"],
                         "ports": [{"containerPort": 8080}]}]}}}
        })
    }

    fn owned() -> Value {
        json!({"f:metadata": {"f:labels": {"f:app": {}}, "f:annotations": {"f:team": {}}},
               "f:spec": {"f:replicas": {}, "f:selector": {},
                 "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                    "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})
    }

    fn shown(paths: &[Path]) -> Vec<String> {
        paths.iter().map(|p| display(p)).collect()
    }

    #[test]
    fn everything_owned_is_clean_whatever_the_server_added() {
        assert!(unowned(&desired(), Some(&owned())).is_empty());
    }

    #[test]
    fn fields_taken_by_another_manager_are_named() {
        let mut o = owned();
        o["f:spec"].as_object_mut().map(|m| m.remove("f:replicas"));
        o["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]
            .as_object_mut()
            .map(|m| m.remove("f:image"));
        assert_eq!(
            shown(&unowned(&desired(), Some(&o))),
            [
                "spec.replicas",
                "spec.template.spec.containers[name=app].image"
            ]
        );
    }

    #[test]
    fn a_removed_label_and_a_missing_entry_count() {
        let mut o = owned();
        o["f:metadata"]["f:labels"] = json!({".": {}});
        assert_eq!(
            shown(&unowned(&desired(), Some(&o))),
            ["metadata.labels.app"]
        );
        let all = unowned(&desired(), None);
        assert_eq!(
            shown(&all),
            ["metadata.labels", "metadata.annotations", "spec"]
        );
    }

    #[test]
    fn list_items_match_by_key_even_with_defaulted_keys() {
        let mut o = owned();
        o["f:spec"]["f:template"]["f:spec"]["f:containers"] = json!({"k:{\"name\":\"other\"}": {}});
        assert_eq!(
            shown(&unowned(&desired(), Some(&o))),
            ["spec.template.spec.containers[0]"]
        );
    }
}
