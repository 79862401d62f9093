//! Field sets as server-side apply tracks them, and their `FieldsV1` wire form.
//!
//! A set is a tree keyed by the encoded path elements kube-apiserver uses in
//! `managedFields` (`f:name`, `k:{"name":"app"}`, `v:"x"`, `i:0`), so that
//! decoding and encoding `FieldsV1` is a direct walk and sets compare cheaply.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A set of field paths; `member` says whether the path leading here is itself in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// The path to this node is a member of the set.
    pub member: bool,
    /// Children by encoded path element.
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no path is a member.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// The child node for `elem`, if any path goes through it.
    pub fn child(&self, elem: &str) -> Option<&FieldSet> {
        self.children.get(elem)
    }

    /// Inserts a path (a sequence of encoded elements) as a member.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for elem in path {
            node = node.children.entry(elem.clone()).or_default();
        }
        node.member = true;
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, v) in &other.children {
            self.children.entry(k.clone()).or_default().union_with(v);
        }
    }

    /// Members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (k, v) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => v.difference(o),
                None => v.clone(),
            };
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, v) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = v.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Removes `path` and everything below it.
    pub fn remove_subtree(&mut self, path: &[&str]) {
        match path {
            [] => {}
            [last] => {
                self.children.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(c) = self.children.get_mut(*first) {
                    c.remove_subtree(rest);
                    if c.is_empty() {
                        self.children.remove(*first);
                    }
                }
            }
        }
    }

    /// Every member path, depth first, in encoded form.
    pub fn members(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, v) in &self.children {
            prefix.push(k.clone());
            v.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON form.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, v) in &self.children {
            if v.is_empty() {
                continue;
            }
            m.insert(k.clone(), v.to_fields_v1());
        }
        Value::Object(m)
    }

    /// Parses the `FieldsV1` JSON form; anything malformed is skipped.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = FieldSet::new();
        let Some(obj) = v.as_object() else { return out };
        for (k, child) in obj {
            if k == "." {
                out.member = true;
                continue;
            }
            let mut c = FieldSet::from_fields_v1(child);
            if child.as_object().is_some_and(|o| o.is_empty()) {
                c.member = true;
            }
            out.children.insert(k.clone(), c);
        }
        out
    }
}

/// Encodes a struct or map field name.
pub fn field(name: &str) -> String {
    format!("f:{name}")
}

/// Encodes an associative-list key; `keys` must be in the order the list declares.
pub fn key(keys: &[(String, Value)]) -> String {
    let mut sorted: Vec<&(String, Value)> = keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut m = Map::new();
    for (k, v) in sorted {
        m.insert(k.clone(), v.clone());
    }
    format!("k:{}", Value::Object(m))
}

/// Encodes a set element.
pub fn value(v: &Value) -> String {
    format!("v:{v}")
}

/// Encodes a list index (atomic lists never need it; kept for completeness).
pub fn index(i: usize) -> String {
    format!("i:{i}")
}

/// The path as kube-apiserver prints it in conflict messages: `.spec.containers[name="app"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for elem in path {
        if let Some(f) = elem.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = elem.strip_prefix("k:") {
            let parsed: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let parts: Vec<String> = parsed
                .as_object()
                .map(|o| o.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            s.push('[');
            s.push_str(&parts.join(","));
            s.push(']');
        } else if let Some(v) = elem.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = elem.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_fields_v1_with_member_markers() {
        let v = json!({"f:data": {".": {}, "f:a": {}}, "f:spec": {"f:c": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}}}}});
        let s = FieldSet::from_fields_v1(&v);
        assert_eq!(s.to_fields_v1(), v);
        assert_eq!(s.members().len(), 4);
    }

    #[test]
    fn difference_drops_shared_members_and_empty_parents() {
        let a = FieldSet::from_fields_v1(&json!({"f:data": {"f:a": {}, "f:b": {}}}));
        let b = FieldSet::from_fields_v1(&json!({"f:data": {"f:a": {}}}));
        assert_eq!(
            a.difference(&b).to_fields_v1(),
            json!({"f:data": {"f:b": {}}})
        );
        assert!(b.difference(&a).is_empty());
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:data": {"f:a": {}}})
        );
    }

    #[test]
    fn displays_paths_like_kube_apiserver() {
        let p = vec![
            field("spec"),
            field("ports"),
            key(&[
                ("protocol".into(), json!("TCP")),
                ("containerPort".into(), json!(80)),
            ]),
            field("name"),
        ];
        assert_eq!(
            display_path(&p),
            ".spec.ports[containerPort=80,protocol=\"TCP\"].name"
        );
        assert_eq!(
            display_path(&[field("tags"), value(&json!("x"))]),
            ".tags[=\"x\"]"
        );
    }
}
