//! Strategic merge patch for the built-in types: lists the schema keys merge
//! item by item on their first key, with the `$patch`, `$setElementOrder`,
//! `$retainKeys` and `$deleteFromPrimitiveList` directives kubectl sends.

use crate::schema::{ListKind, Node, Shape};
use serde_json::{Map, Value};

/// Applies a strategic merge patch to `target`.
pub fn apply(target: &Value, patch: &Value, node: Node) -> Result<Value, String> {
    merge_value(Some(target), patch, node)
}

fn merge_value(target: Option<&Value>, patch: &Value, node: Node) -> Result<Value, String> {
    match (target, patch) {
        (Some(Value::Object(t)), Value::Object(p)) => merge_map(t, p, node).map(Value::Object),
        (_, Value::Object(p)) => merge_map(&Map::new(), p, node).map(Value::Object),
        (_, other) => Ok(other.clone()),
    }
}

fn merge_map(
    target: &Map<String, Value>,
    patch: &Map<String, Value>,
    node: Node,
) -> Result<Map<String, Value>, String> {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = patch.clone();
        p.remove("$patch");
        return Ok(p);
    }
    let mut out = target.clone();
    for (k, pv) in patch {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (out.get_mut(field), pv.as_array()) {
                list.retain(|v| !del.contains(v));
            }
            continue;
        }
        let child = node.child(k).unwrap_or(Node::Deduced);
        if pv.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (child.shape(Some(pv)), out.get(k), pv) {
            (Shape::List(kind), Some(Value::Array(t)), Value::Array(p)) => {
                merge_list(t, p, &kind, child.items())?
            }
            (Shape::Object { atomic: false }, cur, _) => merge_value(cur, pv, child)?,
            _ => pv.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Ok(out)
}

fn merge_list(
    target: &[Value],
    patch: &[Value],
    kind: &ListKind,
    inode: Node,
) -> Result<Value, String> {
    match kind {
        ListKind::Map(keys) => {
            let Some(key) = keys.first() else {
                return Ok(Value::Array(patch.to_vec()));
            };
            let mut out: Vec<Value> = target.to_vec();
            for item in patch {
                let directive = item.get("$patch").and_then(Value::as_str);
                let kv = item.get(key).cloned().unwrap_or(Value::Null);
                let pos = out.iter().position(|t| t.get(key) == Some(&kv));
                match (directive, pos) {
                    (Some("delete"), Some(i)) => {
                        out.remove(i);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(i)) => out[i] = merge_value(Some(&out[i]), item, inode)?,
                    (_, None) => out.push(merge_value(None, item, inode)?),
                }
            }
            Ok(Value::Array(out))
        }
        ListKind::Set => {
            let mut out: Vec<Value> = target.to_vec();
            for v in patch {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        ListKind::Atomic => Ok(Value::Array(patch.to_vec())),
    }
}
