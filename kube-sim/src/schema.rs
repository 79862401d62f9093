//! Structural schema of stored objects: which fields exist and how server-side
//! apply merges each list and map (associative keys, sets, atomic values).
//!
//! Built-in types come from `schema/builtin.json`, generated from k8s-openapi's
//! type definitions by `schema/gen_builtin_schema.py`; custom resources use the
//! `openAPIV3Schema` of their CRD, with `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` as kube-apiserver reads them.

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
struct Builtin {
    kinds: HashMap<String, String>,
    types: HashMap<String, TypeDef>,
    #[serde(rename = "keyDefaults", default)]
    key_defaults: HashMap<String, Value>,
}

/// A built-in struct type.
#[derive(Debug, Deserialize)]
pub struct TypeDef {
    #[serde(default)]
    atomic: bool,
    #[serde(default)]
    fields: HashMap<String, FieldType>,
}

/// A built-in field's type.
#[derive(Debug, Deserialize, Default)]
pub struct FieldType {
    #[serde(default)]
    scalar: Option<String>,
    #[serde(rename = "ref", default)]
    reference: Option<String>,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    keys: Option<Vec<String>>,
    #[serde(default)]
    items: Option<Box<FieldType>>,
    #[serde(default)]
    map: Option<String>,
    #[serde(default)]
    values: Option<Box<FieldType>>,
    #[serde(default)]
    opaque: Option<bool>,
}

fn builtin() -> &'static Builtin {
    static B: OnceLock<Builtin> = OnceLock::new();
    B.get_or_init(|| {
        serde_json::from_str(include_str!("../schema/builtin.json"))
            .expect("schema/builtin.json is generated and checked in")
    })
}

/// How a list merges.
#[derive(Debug, Clone, PartialEq)]
pub enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// Elements are scalars, merged by value.
    Set,
    /// Elements are objects, merged by these key fields.
    Map(Vec<String>),
}

/// The shape of a value at some place in an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A leaf value.
    Scalar,
    /// A struct or map; atomic ones are replaced as a whole.
    Object {
        /// Replaced as a whole.
        atomic: bool,
    },
    /// A list.
    List(ListKind),
}

/// A position in a schema.
#[derive(Debug, Clone, Copy)]
pub enum Node<'a> {
    /// A built-in struct.
    Type(&'a TypeDef),
    /// A built-in field.
    Field(&'a FieldType),
    /// A node of a CRD's OpenAPI v3 schema.
    Crd(&'a Value),
    /// The root of a custom resource.
    CrdRoot(&'a Value),
    /// No schema: the shape is read off the value (maps granular, lists atomic).
    Deduced,
}

/// The schema root for a built-in kind, if the simulator knows its structure.
pub fn builtin_root(group: &str, kind: &str) -> Option<Node<'static>> {
    let b = builtin();
    let name = b.kinds.get(&format!("{group}/{kind}"))?;
    b.types.get(name).map(Node::Type)
}

/// Default values of list keys that a manifest may omit (a port's protocol).
pub fn key_default(name: &str) -> Option<&'static Value> {
    builtin().key_defaults.get(name)
}

fn deduce(v: Option<&Value>) -> Shape {
    match v {
        Some(Value::Object(_)) => Shape::Object { atomic: false },
        Some(Value::Array(_)) => Shape::List(ListKind::Atomic),
        _ => Shape::Scalar,
    }
}

impl<'a> Node<'a> {
    fn resolved(self) -> Node<'a> {
        if let Node::Field(f) = self
            && let Some(r) = &f.reference
            && let Some(t) = builtin().types.get(r)
        {
            // SAFETY of lifetimes: builtin() is 'static, which outlives 'a.
            return Node::Type(t);
        }
        self
    }

    /// The shape of the value here (`v` is consulted only where the schema says nothing).
    pub fn shape(self, v: Option<&Value>) -> Shape {
        match self.resolved() {
            Node::Type(t) => Shape::Object { atomic: t.atomic },
            Node::CrdRoot(_) => Shape::Object { atomic: false },
            Node::Deduced => deduce(v),
            Node::Field(f) => {
                if f.opaque == Some(true) {
                    return deduce(v);
                }
                if let Some(l) = &f.list {
                    return Shape::List(match l.as_str() {
                        "map" => ListKind::Map(f.keys.clone().unwrap_or_default()),
                        "set" => ListKind::Set,
                        _ => ListKind::Atomic,
                    });
                }
                if let Some(m) = &f.map {
                    return Shape::Object {
                        atomic: m == "atomic",
                    };
                }
                if f.scalar.is_some() {
                    return Shape::Scalar;
                }
                deduce(v)
            }
            Node::Crd(s) => crd_shape(s, v),
        }
    }

    /// The node of field or map key `name`; `None` when the schema does not declare it.
    pub fn child(self, name: &str) -> Option<Node<'a>> {
        match self.resolved() {
            Node::Type(t) => t.fields.get(name).map(Node::Field),
            Node::Field(f) => match (&f.values, f.opaque) {
                (_, Some(true)) => Some(Node::Deduced),
                (Some(v), _) => Some(Node::Field(v)),
                _ => None,
            },
            Node::Deduced => Some(Node::Deduced),
            Node::CrdRoot(s) => match name {
                "metadata" => builtin_root("", "ConfigMap")
                    .and_then(|n| n.child("metadata"))
                    .or(Some(Node::Deduced)),
                "apiVersion" | "kind" => Some(Node::Deduced),
                _ => crd_child(s, name),
            },
            Node::Crd(s) => crd_child(s, name),
        }
    }

    /// The node of a list's elements.
    pub fn items(self) -> Node<'a> {
        match self.resolved() {
            Node::Field(f) => match (&f.items, f.opaque) {
                (Some(i), None) | (Some(i), Some(false)) => Node::Field(i),
                _ => Node::Deduced,
            },
            Node::Crd(s) => s.get("items").map(Node::Crd).unwrap_or(Node::Deduced),
            _ => Node::Deduced,
        }
    }

    /// True when this is a schema (built-in or a CRD's) that rejects undeclared fields.
    pub fn is_strict(self) -> bool {
        matches!(
            self.resolved(),
            Node::Type(_) | Node::CrdRoot(_) | Node::Crd(_)
        )
    }

    /// True when an object here has a known set of fields or a typed value schema,
    /// so that its keys can be checked.
    fn declares_fields(self) -> bool {
        match self.resolved() {
            Node::Type(_) | Node::CrdRoot(_) => true,
            Node::Field(f) => f.values.is_some() && f.opaque != Some(true),
            Node::Crd(s) => {
                s.get("x-kubernetes-preserve-unknown-fields")
                    .and_then(Value::as_bool)
                    != Some(true)
                    && (s.get("properties").is_some() || s.get("additionalProperties").is_some())
            }
            Node::Deduced => false,
        }
    }
}

fn crd_shape(s: &Value, v: Option<&Value>) -> Shape {
    match s.get("type").and_then(Value::as_str) {
        Some("object") => Shape::Object {
            atomic: s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
        },
        Some("array") => Shape::List(
            match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => ListKind::Map(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Some("set") => ListKind::Set,
                _ => ListKind::Atomic,
            },
        ),
        Some(_) => Shape::Scalar,
        None if s.get("x-kubernetes-int-or-string").is_some() => Shape::Scalar,
        None => deduce(v),
    }
}

/// A CRD schema's field: `None` when a structural schema does not declare it
/// (kube-apiserver prunes such fields, and server-side apply rejects them).
fn crd_child<'a>(s: &'a Value, name: &str) -> Option<Node<'a>> {
    if let Some(p) = s.get("properties").and_then(|p| p.get(name)) {
        return Some(Node::Crd(p));
    }
    match s.get("additionalProperties") {
        Some(ap @ Value::Object(_)) => return Some(Node::Crd(ap)),
        Some(Value::Bool(true)) => return Some(Node::Deduced),
        _ => {}
    }
    let preserved = s
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    let structural =
        s.get("properties").is_some() || s.get("type").and_then(Value::as_str) == Some("object");
    if preserved || !structural {
        Some(Node::Deduced)
    } else {
        None
    }
}

/// Removes fields the schema does not declare, returning their paths as
/// kube's strict decoder names them (`spec.replicaz`, `spec.containers[0].x`).
pub fn prune_unknown(v: &mut Value, node: Node) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(v, node, "", &mut out);
    out
}

fn walk_unknown(v: &mut Value, node: Node, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if node.declares_fields() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match node.child(&k) {
                    None => {
                        m.shift_remove(&k);
                        out.push(p);
                    }
                    Some(c) => {
                        if let Some(child) = m.get_mut(&k) {
                            walk_unknown(child, c, &p, out);
                        }
                    }
                }
            }
        }
        Value::Array(items) if matches!(node.shape(None), Shape::List(_)) => {
            let inode = node.items();
            for (i, item) in items.iter_mut().enumerate() {
                walk_unknown(item, inode, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_list_types_follow_the_openapi_extensions() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object"}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "atomic": {"type": "array", "items": {"type": "string"}}}}}});
        let root = Node::CrdRoot(&s);
        let spec = root.child("spec").expect("spec");
        assert_eq!(
            spec.child("items").map(|n| n.shape(None)),
            Some(Shape::List(ListKind::Map(vec!["name".into()])))
        );
        assert_eq!(
            spec.child("tags").map(|n| n.shape(None)),
            Some(Shape::List(ListKind::Set))
        );
        assert_eq!(
            spec.child("atomic").map(|n| n.shape(None)),
            Some(Shape::List(ListKind::Atomic))
        );
    }
}

/// A scalar whose JSON type is not the one its schema declares.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeMismatch {
    /// Path as kube prints it in validation messages (`spec.replicas`).
    pub path: String,
    /// The declared type (`integer`, `number`, `string`, `boolean`).
    pub expected: &'static str,
    /// The JSON type found (`string`, `number`, …).
    pub found: &'static str,
    /// The value found, as JSON.
    pub value: Value,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Node<'_> {
    /// The scalar type the schema declares here, if it declares one.
    fn scalar_type(self) -> Option<&'static str> {
        let t = match self.resolved() {
            Node::Field(f) => f.scalar.as_deref()?,
            Node::Crd(s) => {
                if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
                    return None;
                }
                s.get("type").and_then(Value::as_str)?
            }
            _ => return None,
        };
        match t {
            "integer" => Some("integer"),
            "number" => Some("number"),
            "string" => Some("string"),
            "boolean" => Some("boolean"),
            _ => None,
        }
    }
}

/// Paths (`spec.backup`) where a custom resource holds an explicit `null`
/// for a field its CRD declares as a non-nullable object: server-side apply
/// refuses those (422, "must be of type object").
pub fn null_objects(v: &Value, node: Node) -> Vec<String> {
    let mut out = Vec::new();
    walk_nulls(v, node, "", &mut |path, schema, _| {
        if schema.get("type").and_then(Value::as_str) == Some("object") {
            out.push(path.to_string());
        }
    });
    out
}

/// Removes the `null`s a custom resource holds for fields its CRD declares
/// without `nullable: true` or a `default`, as kube-apiserver does on create
/// and update (a nullable field keeps its `null`).
pub fn prune_nulls(v: &mut Value, node: Node) {
    let mut drop = Vec::new();
    walk_nulls(v, node, "", &mut |_, _, pointer| {
        drop.push(pointer.to_string())
    });
    // Deepest first, so that a parent's pointer stays valid.
    for pointer in drop.iter().rev() {
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            continue;
        };
        if let Some(m) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
            m.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
    }
}

/// Calls `f(path, schema, json_pointer)` for each `null` of an object
/// field whose CRD schema node is neither nullable nor defaulted.
fn walk_nulls(v: &Value, node: Node, path: &str, f: &mut dyn FnMut(&str, &Value, &str)) {
    fn go(v: &Value, node: Node, path: &str, pointer: &str, f: &mut dyn FnMut(&str, &Value, &str)) {
        let Value::Object(m) = v else {
            return;
        };
        if !node.declares_fields() {
            return;
        }
        for (k, child) in m {
            let Some(c) = node.child(k) else { continue };
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            let ptr = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            match (child, c) {
                (Value::Null, Node::Crd(schema)) => {
                    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
                    if !nullable && schema.get("default").is_none() {
                        f(&p, schema, &ptr);
                    }
                }
                (Value::Object(_), _) => go(child, c, &p, &ptr, f),
                _ => {}
            }
        }
    }
    go(v, node, path, "", f);
}

/// Scalars of the wrong JSON type (a string where an integer is declared),
/// which kube-apiserver refuses rather than coerces.
pub fn type_mismatches(v: &Value, node: Node) -> Vec<TypeMismatch> {
    let mut out = Vec::new();
    walk_types(v, node, "", &mut out);
    out
}

fn walk_types(v: &Value, node: Node, path: &str, out: &mut Vec<TypeMismatch>) {
    match v {
        Value::Object(m) if node.declares_fields() => {
            for (k, child) in m {
                if let Some(c) = node.child(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk_types(child, c, &p, out);
                }
            }
        }
        Value::Array(items) if matches!(node.shape(None), Shape::List(_)) => {
            let inode = node.items();
            for (i, item) in items.iter().enumerate() {
                walk_types(item, inode, &format!("{path}[{i}]"), out);
            }
        }
        Value::Null => {}
        scalar => {
            let Some(expected) = node.scalar_type() else {
                return;
            };
            let found = json_type(scalar);
            let ok = match expected {
                "number" => matches!(found, "integer" | "number"),
                "integer" => {
                    found == "integer" || scalar.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                other => other == found,
            };
            if !ok {
                out.push(TypeMismatch {
                    path: path.to_string(),
                    expected,
                    found,
                    value: scalar.clone(),
                });
            }
        }
    }
}
