//! Field paths, the one notation for "which field" across wavesync: the
//! steps of a `managedFields` `fieldsV1` tree (`f:`, `k:`, `v:`, `i:`),
//! resolving them in an object, printing them as people read them
//! (`spec.template.spec.containers[name=app].image`) and reading that
//! notation back (ignore rules are written in it).

use serde_json::{Map, Value};

/// One step into an object, as `fieldsV1` spells them.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `f:name`: a field of a map.
    Field(String),
    /// `k:{"name":"app"}`: the list item whose keys have these values.
    Key(Map<String, Value>),
    /// `v:"value"`: the item of a set-like list with this value.
    Value(Value),
    /// `i:0`: the list item at this index.
    Index(usize),
}

/// A path: the steps from the object's root.
pub type Path = Vec<Step>;

/// The `fieldsV1` tree of `manager`'s entry (any operation except status
/// writes) in an object's `managedFields`, if it has one. Several entries of
/// one manager (an Apply and an Update) are merged.
pub fn owned_tree(object: &Value, manager: &str) -> Option<Value> {
    let entries = object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .filter(|e| e["manager"] == manager && e["subresource"].as_str().unwrap_or("").is_empty());
    let mut merged: Option<Value> = None;
    for e in entries {
        let Some(f) = e.get("fieldsV1") else { continue };
        match &mut merged {
            None => merged = Some(f.clone()),
            Some(m) => merge_trees(m, f),
        }
    }
    merged
}

fn merge_trees(into: &mut Value, from: &Value) {
    let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (k, v) in from {
        match into.get_mut(k) {
            Some(existing) => merge_trees(existing, v),
            None => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The owned leaves of a `fieldsV1` tree: nodes with no children but `.`
/// (which stands for the node itself, and adds nothing to compare).
pub fn leaves(tree: &Value) -> Vec<Path> {
    let mut out = Vec::new();
    collect_leaves(tree, &mut Vec::new(), &mut out);
    out
}

fn collect_leaves(node: &Value, path: &mut Path, out: &mut Vec<Path>) {
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

/// One `fieldsV1` key as a step.
pub fn parse_step(key: &str) -> Option<Step> {
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

/// Whether `tree` (a `fieldsV1` tree) holds `path`, or an ancestor of it
/// that is a leaf (an atomic list or map owned as a whole).
pub fn tree_has(tree: &Value, path: &[Step]) -> bool {
    let mut node = tree;
    for step in path {
        let Some(children) = node.as_object() else {
            return false;
        };
        if children.is_empty() {
            // Owned as a whole (`{".": {}}` owns only what it lists).
            return true;
        }
        let Some(next) = children
            .iter()
            .find(|(k, _)| parse_step(k).is_some_and(|s| s == *step))
            .map(|(_, v)| v)
        else {
            return false;
        };
        node = next;
    }
    true
}

/// The value at `path` in `object`, if there is one.
pub fn resolve<'a>(object: &'a Value, path: &[Step]) -> Option<&'a Value> {
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

/// `path` as an RFC 6901 pointer into `object` (list items by their index
/// there), when every step resolves.
pub fn pointer(object: &Value, path: &[Step]) -> Option<String> {
    let mut out = String::new();
    let mut at = object;
    for step in path {
        let (token, next) = match step {
            Step::Field(name) => (name.replace('~', "~0").replace('/', "~1"), at.get(name)?),
            Step::Index(i) => (i.to_string(), at.get(*i)?),
            Step::Value(v) => {
                let i = at.as_array()?.iter().position(|item| item == v)?;
                (i.to_string(), &at[i])
            }
            Step::Key(keys) => {
                let i = at
                    .as_array()?
                    .iter()
                    .position(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))?;
                (i.to_string(), &at[i])
            }
        };
        out.push('/');
        out.push_str(&token);
        at = next;
    }
    Some(out)
}

/// A path as a reviewer reads it:
/// `spec.template.spec.containers[name=app].image`,
/// `metadata.annotations["example.com/x"]`.
pub fn display(path: &[Step]) -> String {
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

/// Reads the notation [`display`] prints back into steps. Key values that
/// read as JSON numbers or booleans (`[containerPort=80,protocol=TCP]`)
/// become those.
///
/// # Errors
/// A description of what is wrong and where.
pub fn parse(text: &str) -> Result<Path, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    if text.trim().is_empty() {
        return Err("an empty field path".into());
    }
    while i < b.len() {
        match b[i] {
            b'.' if !out.is_empty() => {
                i += 1;
                let start = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                if start == i {
                    return Err(format!("an empty field name at character {}", start + 1));
                }
                out.push(Step::Field(text[start..i].to_owned()));
            }
            b'[' => {
                let Some(end) = text[i..].find(']').map(|e| i + e) else {
                    return Err(format!("'[' at character {} is never closed", i + 1));
                };
                let inner = &text[i + 1..end];
                out.push(bracket(inner).map_err(|e| format!("[{inner}]: {e}"))?);
                i = end + 1;
            }
            _ if out.is_empty() => {
                let start = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                out.push(Step::Field(text[start..i].to_owned()));
            }
            c => {
                return Err(format!(
                    "unexpected '{}' at character {} (expected '.' or '[')",
                    c as char,
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

fn bracket(inner: &str) -> Result<Step, String> {
    if inner.starts_with('"') {
        return serde_json::from_str::<String>(inner)
            .map(Step::Field)
            .map_err(|e| format!("not a JSON string: {e}"));
    }
    if let Some(v) = inner.strip_prefix('=') {
        return Ok(Step::Value(scalar(v)));
    }
    if !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_digit()) {
        return inner
            .parse()
            .map(Step::Index)
            .map_err(|e| format!("not an index: {e}"));
    }
    let mut keys = Map::new();
    for part in inner.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err("expected an index, \"name\", =value or key=value pairs".into());
        };
        if k.is_empty() {
            return Err("a key without a name".into());
        }
        keys.insert(k.to_owned(), scalar(v));
    }
    Ok(Step::Key(keys))
}

fn scalar(v: &str) -> Value {
    match serde_json::from_str::<Value>(v) {
        Ok(j @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => j,
        _ => Value::String(v.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_with_dots_are_quoted_and_read_back() {
        let path = vec![
            Step::Field("metadata".into()),
            Step::Field("annotations".into()),
            Step::Field("example.com/owner".into()),
        ];
        let text = display(&path);
        assert_eq!(text, "metadata.annotations[\"example.com/owner\"]");
        assert_eq!(parse(&text).expect("parses"), path);
    }

    #[test]
    fn keyed_items_indexes_and_values_read_back() {
        for text in [
            "spec.template.spec.containers[name=app].image",
            "spec.ports[port=80,protocol=TCP].targetPort",
            "spec.args[2]",
            "metadata.finalizers[=\"x\"]",
        ] {
            let p = parse(text).expect(text);
            assert_eq!(display(&p), text);
        }
        let p = parse("spec.ports[port=80,protocol=TCP]").expect("parses");
        assert_eq!(
            p[2],
            Step::Key(
                json!({"port": 80, "protocol": "TCP"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            )
        );
    }

    #[test]
    fn malformed_paths_say_where() {
        assert!(parse("spec..replicas").unwrap_err().contains("character 6"));
        assert!(
            parse("spec.containers[name=app")
                .unwrap_err()
                .contains("never closed")
        );
        assert!(parse("").is_err());
        assert!(parse("spec[x]").unwrap_err().contains("[x]"));
    }

    #[test]
    fn pointers_resolve_keys_to_indexes() {
        let o = json!({"spec": {"containers": [{"name": "side"}, {"name": "app", "image": "a"}]},
                       "metadata": {"annotations": {"a/b": "x"}}});
        let p = parse("spec.containers[name=app].image").expect("parses");
        assert_eq!(pointer(&o, &p).as_deref(), Some("/spec/containers/1/image"));
        let p = parse("metadata.annotations[\"a/b\"]").expect("parses");
        assert_eq!(
            pointer(&o, &p).as_deref(),
            Some("/metadata/annotations/a~1b")
        );
    }

    #[test]
    fn a_leaf_owns_everything_under_it() {
        let tree = json!({"f:spec": {"f:args": {}, "f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}});
        assert!(tree_has(&tree, &parse("spec.args[3]").expect("parses")));
        assert!(tree_has(
            &tree,
            &parse("spec.containers[name=app].image").expect("parses")
        ));
        assert!(!tree_has(
            &tree,
            &parse("spec.containers[name=app].command").expect("parses")
        ));
        assert!(!tree_has(&tree, &parse("spec.replicas").expect("parses")));
    }
}
