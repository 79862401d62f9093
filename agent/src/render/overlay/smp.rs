//! Strategic merge for the built-in list merge keys, and kustomize's field paths.

use serde_json::{Map, Value};

/// The merge key of a list field, for the built-in Kubernetes types.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().any(|i| i.get(k).is_some());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" | "volumeDevices" => Some("mountPath"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" => Some("port"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// Applies a strategic-merge patch to `target`.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    let (Value::Object(t), Value::Object(p)) = (&mut *target, patch) else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = p.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return;
    }
    for (k, v) in p {
        if k.starts_with("$") {
            continue;
        }
        match v {
            Value::Null => {
                t.shift_remove(k);
            }
            Value::Object(_) if t.get(k).is_some_and(Value::is_object) => {
                if v.get("$patch").and_then(Value::as_str) == Some("delete") {
                    t.shift_remove(k);
                } else if let Some(tv) = t.get_mut(k) {
                    merge(tv, v);
                }
            }
            Value::Array(pi) if t.get(k).is_some_and(Value::is_array) => {
                let Some(Value::Array(ti)) = t.get_mut(k) else {
                    continue;
                };
                let mut all = ti.clone();
                all.extend(pi.iter().cloned());
                match merge_key(k, &all) {
                    Some(key) => merge_list(ti, pi, key),
                    None => *ti = pi.clone(),
                }
            }
            _ => {
                t.insert(k.clone(), strip(v));
            }
        }
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], key: &str) {
    for item in patch {
        let id = item.get(key).cloned();
        let pos = target
            .iter()
            .position(|t| id.is_some() && t.get(key) == id.as_ref());
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                target.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => merge(&mut target[i], item),
            (None, false) => target.push(strip(item)),
        }
    }
}

/// A patch value with its directives removed, for insertion.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Calls `f` on the map at `path` (segments; a segment on an array visits
/// every item), creating missing maps when `create`.
pub(super) fn at_path(
    v: &mut Value,
    path: &[&str],
    create: bool,
    f: &mut dyn FnMut(&mut Map<String, Value>),
) {
    match v {
        Value::Array(items) => {
            for i in items {
                at_path(i, path, create, f);
            }
        }
        Value::Object(m) => {
            let Some((first, rest)) = path.split_first() else {
                f(m);
                return;
            };
            if !m.contains_key(*first) || m.get(*first).is_some_and(Value::is_null) {
                if !create {
                    return;
                }
                m.insert((*first).to_owned(), Value::Object(Map::new()));
            }
            if let Some(next) = m.get_mut(*first) {
                at_path(next, rest, create, f);
            }
        }
        _ => {}
    }
}
