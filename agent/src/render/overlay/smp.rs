//! Strategic merge patches, as kustomize (kyaml's `merge2`) applies them.
//!
//! Maps merge key by key (`null` deletes a key); lists are replaced unless
//! the Kubernetes schema gives them a merge key, which only built-in kinds
//! have (a custom resource's lists are always replaced, as in kustomize).
//! The merge keys come from a table of the Kubernetes types patches touch
//! in practice (pod templates, Services, ServiceAccounts, object metadata).
//!
//! The order of a merged list follows kyaml, checked against
//! `kubectl kustomize`: the patch's items first, in the patch's order, then
//! the items only the target has. For the lists keyed by two fields
//! (container and Service ports with `protocol`, topology spread
//! constraints), once either side names the second field, items absent from
//! the target come first, then the target's items in place, and a patch item
//! whose second field differs from the target's item is dropped, as kyaml
//! does.
//!
//! Directives: `$patch: delete` on a list item or a map, `$patch: replace`
//! on a map or as a list item, and `$patch: delete` at the top (the resource
//! is removed). Other `$` keys are refused.

use super::fieldspec::group_version;
use super::scopes::is_builtin;
use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    /// The patch's list replaces the target's.
    Replace,
    /// A list of scalars merged as a set (`finalizers`).
    Primitive,
    /// Items matched by these fields (the first is the merge key).
    Keys(&'static [&'static str]),
}

/// What the merge needs to know about the patched resource.
pub(super) struct Schema {
    /// A built-in kind, whose schema kustomize knows.
    known: bool,
    kind: String,
    /// Where the pod spec sits for this kind.
    pod_spec: &'static [&'static str],
}

impl Schema {
    /// The schema of a resource, from its apiVersion and kind.
    pub(super) fn of(obj: &Value) -> Schema {
        let (group, _) = group_version(obj["apiVersion"].as_str().unwrap_or_default());
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let pod_spec: &'static [&'static str] = match kind.as_str() {
            "Pod" => &["spec"],
            "PodTemplate" => &["template", "spec"],
            "Deployment"
            | "ReplicaSet"
            | "DaemonSet"
            | "StatefulSet"
            | "Job"
            | "ReplicationController" => &["spec", "template", "spec"],
            "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &[],
        };
        Schema {
            known: is_builtin(group, &kind),
            kind,
            pod_spec,
        }
    }

    fn strategy(&self, path: &[&str]) -> Strategy {
        const NAME: &[&str] = &["name"];
        if !self.known {
            return Strategy::Replace;
        }
        if let [before @ .., "metadata", field] = path
            && matches!(
                before.last(),
                None | Some(&"template" | &"jobTemplate" | &"volumeClaimTemplates")
            )
        {
            return match *field {
                "finalizers" => Strategy::Primitive,
                "ownerReferences" => Strategy::Keys(&["uid"]),
                _ => Strategy::Replace,
            };
        }
        if !self.pod_spec.is_empty()
            && let Some(rest) = path.strip_prefix(self.pod_spec)
        {
            let container =
                |c: &str| matches!(c, "containers" | "initContainers" | "ephemeralContainers");
            return match rest {
                [c] if container(c) => Strategy::Keys(NAME),
                ["volumes" | "imagePullSecrets"] => Strategy::Keys(NAME),
                ["hostAliases"] => Strategy::Keys(&["ip"]),
                ["topologySpreadConstraints"] => {
                    Strategy::Keys(&["topologyKey", "whenUnsatisfiable"])
                }
                [c, "ports"] if container(c) => Strategy::Keys(&["containerPort", "protocol"]),
                [c, "env"] if container(c) => Strategy::Keys(NAME),
                [c, "volumeMounts"] if container(c) => Strategy::Keys(&["mountPath"]),
                [c, "volumeDevices"] if container(c) => Strategy::Keys(&["devicePath"]),
                _ => Strategy::Replace,
            };
        }
        match (self.kind.as_str(), path) {
            ("Service", ["spec", "ports"]) => Strategy::Keys(&["port", "protocol"]),
            ("ServiceAccount", ["secrets"]) => Strategy::Keys(NAME),
            _ => Strategy::Replace,
        }
    }
}

/// Applies a strategic-merge patch to a resource; `None` when the patch
/// deletes it (`$patch: delete` at the top).
///
/// # Errors
/// A directive other than `$patch: delete | replace | merge`.
pub(super) fn apply(target: &Value, patch: &Value) -> Result<Option<Value>, String> {
    check_directives(patch)?;
    if directive(patch) == Some("delete") {
        return Ok(None);
    }
    let schema = Schema::of(target);
    let mut out = target.clone();
    merge_value(&mut out, patch, &schema, &mut Vec::new());
    Ok(Some(out))
}

/// Refuses the directives this merge does not implement: kustomize copies
/// `$retainKeys`, `$setElementOrder/…` and `$deleteFromPrimitiveList/…` into
/// the object as if they were fields, which the API server then refuses.
fn check_directives(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match (k.as_str(), child.as_str()) {
                    ("$patch", Some("delete" | "replace" | "merge")) => {}
                    ("$patch", _) => {
                        return Err(format!("unknown patch directive `$patch: {child}`"));
                    }
                    (k, _) if k.starts_with('$') => {
                        return Err(format!("patch directive `{k}` is not supported"));
                    }
                    _ => check_directives(child)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_directives),
        _ => Ok(()),
    }
}

fn directive(v: &Value) -> Option<&str> {
    v.get("$patch").and_then(Value::as_str)
}

/// Merges `patch` into `target` (which may be `null` for a missing field).
fn merge_value(target: &mut Value, patch: &Value, schema: &Schema, path: &mut Vec<String>) {
    match patch {
        Value::Object(p) => {
            if directive(patch) == Some("replace") {
                let mut fresh = Value::Object(Map::new());
                let mut p = p.clone();
                p.shift_remove("$patch");
                merge_value(&mut fresh, &Value::Object(p), schema, path);
                *target = fresh;
                return;
            }
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(t) = target else { return };
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() || (v.is_object() && directive(v) == Some("delete")) {
                    t.shift_remove(k);
                    continue;
                }
                path.push(k.clone());
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                merge_value(slot, v, schema, path);
                path.pop();
            }
        }
        Value::Array(items) => {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            let strategy = schema.strategy(&p);
            let current = match target {
                Value::Array(a) => std::mem::take(a),
                _ => Vec::new(),
            };
            *target = Value::Array(merge_list(current, items, strategy, schema, path));
        }
        scalar => *target = scalar.clone(),
    }
}

/// A list item's value for a key, as text (kyaml compares scalars as written).
fn key_text(item: &Value, key: &str) -> Option<String> {
    match item.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn merge_list(
    target: Vec<Value>,
    patch: &[Value],
    strategy: Strategy,
    schema: &Schema,
    path: &mut Vec<String>,
) -> Vec<Value> {
    // `- $patch: replace` as an item: the patch's other items are the list.
    let replace = patch
        .iter()
        .any(|i| directive(i) == Some("replace") && i.as_object().is_some_and(|m| m.len() == 1));
    let patch: Vec<&Value> = patch
        .iter()
        .filter(|i| {
            !(directive(i) == Some("replace") && i.as_object().is_some_and(|m| m.len() == 1))
        })
        .collect();
    let fresh = |item: &Value, path: &mut Vec<String>| -> Value {
        let mut v = Value::Null;
        merge_value(&mut v, item, schema, path);
        v
    };
    match strategy {
        _ if replace => patch
            .iter()
            .filter(|i| directive(i) != Some("delete"))
            .map(|i| fresh(i, path))
            .collect(),
        Strategy::Replace => patch.iter().map(|i| fresh(i, path)).collect(),
        Strategy::Primitive => {
            let mut out: Vec<Value> = Vec::new();
            for v in patch.iter().copied().chain(target.iter()) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        }
        Strategy::Keys(keys) => {
            let secondary = keys.get(1).is_some_and(|k| {
                patch
                    .iter()
                    .copied()
                    .chain(target.iter())
                    .any(|i| key_text(i, k).is_some())
            });
            if secondary {
                merge_two_keys(target, &patch, keys, schema, path)
            } else {
                merge_by_key(target, &patch, keys[0], schema, path)
            }
        }
    }
}

/// Patch items first (merged with the target's item of the same key), then
/// the target's other items; `$patch: delete` removes the target's item.
fn merge_by_key(
    mut target: Vec<Value>,
    patch: &[&Value],
    key: &str,
    schema: &Schema,
    path: &mut Vec<String>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for item in patch {
        let id = key_text(item, key);
        let pos = id.as_ref().and_then(|id| {
            target
                .iter()
                .position(|t| key_text(t, key).as_ref() == Some(id))
        });
        let mut base = pos.map(|i| target.remove(i)).unwrap_or(Value::Null);
        if directive(item) == Some("delete") {
            continue;
        }
        merge_value(&mut base, item, schema, path);
        out.push(base);
    }
    out.extend(target);
    out
}

/// The two-key variant (see the module documentation).
fn merge_two_keys(
    mut target: Vec<Value>,
    patch: &[&Value],
    keys: &[&str],
    schema: &Schema,
    path: &mut Vec<String>,
) -> Vec<Value> {
    let tuple = |v: &Value| -> Vec<String> {
        keys.iter()
            .map(|k| key_text(v, k).unwrap_or_default())
            .collect()
    };
    let mut new = Vec::new();
    for item in patch {
        let primary = key_text(item, keys[0]);
        let same_primary = target
            .iter()
            .any(|t| primary.is_some() && key_text(t, keys[0]) == primary);
        if !same_primary {
            if directive(item) != Some("delete") {
                let mut v = Value::Null;
                merge_value(&mut v, item, schema, path);
                new.push(v);
            }
            continue;
        }
        if let Some(pos) = target.iter().position(|t| tuple(t) == tuple(item)) {
            if directive(item) == Some("delete") {
                target.remove(pos);
            } else {
                merge_value(&mut target[pos], item, schema, path);
            }
        }
    }
    new.extend(target);
    new
}
