//! Server-side apply and field ownership, after structured-merge-diff as
//! kube-apiserver v1.32 runs it: field sets of applied configurations, merge of
//! associative lists, pruning of fields a manager stopped applying, conflicts
//! between managers, and the bookkeeping of `managedFields` for updates.

use crate::fieldpath::{self, FieldSet};
use crate::schema::{ListKind, Node, Shape};
use serde_json::{Map, Value};

/// Added, modified and removed paths between two versions of an object.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Paths only in the new version.
    pub added: FieldSet,
    /// Leaves whose value changed.
    pub modified: FieldSet,
    /// Paths only in the old version.
    pub removed: FieldSet,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Manager {
    /// The field manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the fields are expressed in.
    pub api_version: String,
    /// When the manager last changed the object.
    pub time: Option<String>,
    /// `status` for writes through the status subresource.
    pub subresource: Option<String>,
    /// The fields it owns.
    pub fields: FieldSet,
}

impl Manager {
    fn same_identity(&self, name: &str, op: &str, api_version: &str, sub: Option<&str>) -> bool {
        self.manager == name
            && self.operation == op
            && self.subresource.as_deref() == sub
            && (op == "Apply" || self.api_version == api_version)
    }

    /// How conflict messages name this manager.
    pub fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// A conflict: a field another manager owns with a different value.
#[derive(Debug, Clone)]
pub struct Conflict {
    /// The printed manager (`"alpha"`, `"patcher" using v1`).
    pub manager: String,
    /// The field path as kube prints it.
    pub path: String,
}

/// Reads `metadata.managedFields`.
pub fn decode_managers(obj: &Value) -> Vec<Manager> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| Manager {
            manager: str_at(e, "manager"),
            operation: str_at(e, "operation"),
            api_version: str_at(e, "apiVersion"),
            time: e.get("time").and_then(Value::as_str).map(String::from),
            subresource: e
                .get("subresource")
                .and_then(Value::as_str)
                .map(String::from),
            fields: e
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
        .collect()
}

fn str_at(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Writes `managedFields` in kube-apiserver's order (operation, time, manager, version).
pub fn encode_managers(managers: &[Manager]) -> Value {
    let mut sorted: Vec<&Manager> = managers.iter().filter(|m| !m.fields.is_empty()).collect();
    sorted.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    Value::Array(
        sorted
            .into_iter()
            .map(|m| {
                let mut e = Map::new();
                e.insert("apiVersion".into(), m.api_version.clone().into());
                e.insert("fieldsType".into(), "FieldsV1".into());
                e.insert("fieldsV1".into(), m.fields.to_fields_v1());
                e.insert("manager".into(), m.manager.clone().into());
                e.insert("operation".into(), m.operation.clone().into());
                if let Some(s) = &m.subresource {
                    e.insert("subresource".into(), s.clone().into());
                }
                if let Some(t) = &m.time {
                    e.insert("time".into(), t.clone().into());
                }
                Value::Object(e)
            })
            .collect(),
    )
}

/// Paths no manager ever owns (identity and server-managed metadata).
pub fn stripped_fields() -> FieldSet {
    let mut s = FieldSet::new();
    for p in ["apiVersion", "kind", "metadata"] {
        s.insert(&[fieldpath::field(p)]);
    }
    for p in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[fieldpath::field("metadata"), fieldpath::field(p)]);
    }
    s
}

/// Computes the key of a list element, filling omitted key fields with their defaults.
pub fn item_key(item: &Value, kind: &ListKind) -> Option<String> {
    match kind {
        ListKind::Set => Some(fieldpath::value(item)),
        ListKind::Map(keys) => {
            let mut parts = Vec::new();
            for k in keys {
                match item.get(k).filter(|v| !v.is_null()) {
                    Some(v) => parts.push((k.clone(), v.clone())),
                    None => {
                        if let Some(d) = crate::schema::key_default(k) {
                            parts.push((k.clone(), d.clone()));
                        }
                    }
                }
            }
            Some(fieldpath::key(&parts))
        }
        ListKind::Atomic => None,
    }
}

/// The set of fields a configuration sets. `Err` names the first undeclared field.
pub fn to_field_set(v: &Value, node: Node) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    walk_set(v, node, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn walk_set(
    v: &Value,
    node: Node,
    path: &mut Vec<String>,
    set: &mut FieldSet,
) -> Result<(), String> {
    match (node.shape(Some(v)), v) {
        (Shape::Object { atomic: false }, Value::Object(m)) => {
            if m.is_empty() && !path.is_empty() {
                set.insert(path);
            }
            for (k, child) in m {
                let Some(cn) = node.child(k) else {
                    return Err(format!("{}.{k}", fieldpath::display_path(path)));
                };
                path.push(fieldpath::field(k));
                walk_set(child, cn, path, set)?;
                if child.is_null() {
                    set.insert(path);
                }
                path.pop();
            }
        }
        (Shape::List(kind @ (ListKind::Map(_) | ListKind::Set)), Value::Array(items)) => {
            let inode = node.items();
            for item in items {
                let Some(k) = item_key(item, &kind) else {
                    continue;
                };
                path.push(k);
                set.insert(path);
                if kind != ListKind::Set {
                    walk_set(item, inode, path, set)?;
                }
                path.pop();
            }
            if items.is_empty() {
                set.insert(path);
            }
        }
        _ => {
            if !path.is_empty() {
                set.insert(path);
            }
        }
    }
    Ok(())
}

/// Compares two versions of an object as structured-merge-diff does.
pub fn compare(lhs: Option<&Value>, rhs: Option<&Value>, node: Node) -> Comparison {
    let mut c = Comparison::default();
    walk_compare(lhs, rhs, node, &mut Vec::new(), &mut c);
    c
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &[String], c: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(a), Some(b)) if a != b => c.modified.insert(path),
        _ => {}
    }
}

fn walk_compare(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Node,
    path: &mut Vec<String>,
    c: &mut Comparison,
) {
    if lhs.is_none() && rhs.is_none() {
        return;
    }
    let shape = node.shape(rhs.or(lhs));
    let both_empty = is_empty_container(lhs) && is_empty_container(rhs);
    match shape {
        Shape::Object { atomic: false } if !both_empty => {
            let empty = Map::new();
            let l = lhs.and_then(Value::as_object).unwrap_or(&empty);
            let r = rhs.and_then(Value::as_object).unwrap_or(&empty);
            for (k, lv) in l {
                let cn = node.child(k).unwrap_or(Node::Deduced);
                path.push(fieldpath::field(k));
                walk_compare(Some(lv), r.get(k), cn, path, c);
                path.pop();
            }
            for (k, rv) in r {
                if l.contains_key(k) {
                    continue;
                }
                let cn = node.child(k).unwrap_or(Node::Deduced);
                path.push(fieldpath::field(k));
                walk_compare(None, Some(rv), cn, path, c);
                path.pop();
            }
        }
        Shape::List(kind @ (ListKind::Map(_) | ListKind::Set)) if !both_empty => {
            let inode = node.items();
            let l = index_items(lhs, &kind);
            let r = index_items(rhs, &kind);
            for (k, lv) in &l {
                path.push(k.clone());
                let rv = r.iter().find(|(rk, _)| rk == k).map(|(_, v)| *v);
                if kind == ListKind::Set {
                    leaf(Some(lv), rv, path, c);
                } else {
                    walk_compare(Some(lv), rv, inode, path, c);
                }
                path.pop();
            }
            for (k, rv) in &r {
                if l.iter().any(|(lk, _)| lk == k) {
                    continue;
                }
                path.push(k.clone());
                if kind == ListKind::Set {
                    leaf(None, Some(rv), path, c);
                } else {
                    walk_compare(None, Some(rv), inode, path, c);
                }
                path.pop();
            }
        }
        _ => {
            leaf(lhs, rhs, path, c);
            return;
        }
    }
    if lhs.is_none() {
        c.added.insert(path);
    } else if rhs.is_none() {
        c.removed.insert(path);
    }
}

fn index_items<'v>(v: Option<&'v Value>, kind: &ListKind) -> Vec<(String, &'v Value)> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| item_key(i, kind).map(|k| (k, i)))
                .collect()
        })
        .unwrap_or_default()
}

/// Merges an applied configuration into the live object.
pub fn merge(lhs: &Value, rhs: &Value, node: Node) -> Value {
    match (node.shape(Some(rhs)), lhs, rhs) {
        (Shape::Object { atomic: false }, Value::Object(l), Value::Object(r)) => {
            let mut out = l.clone();
            for (k, rv) in r {
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, rv, node.child(k).unwrap_or(Node::Deduced)),
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (
            Shape::List(kind @ (ListKind::Map(_) | ListKind::Set)),
            Value::Array(_),
            Value::Array(_),
        ) => Value::Array(merge_list(lhs, rhs, &kind, node.items())),
        _ => rhs.clone(),
    }
}

/// Orders merged list items as structured-merge-diff does: live items keep their
/// places, shared items follow the applied order, new items come after the item
/// that precedes them in the configuration.
fn merge_list(lhs: &Value, rhs: &Value, kind: &ListKind, inode: Node) -> Vec<Value> {
    let l = index_items(Some(lhs), kind);
    let r = index_items(Some(rhs), kind);
    let in_l = |k: &str| l.iter().find(|(lk, _)| lk == k).map(|(_, v)| *v);
    let in_r = |k: &str| r.iter().any(|(rk, _)| rk == k);
    let mut shared: std::collections::VecDeque<&String> = r
        .iter()
        .map(|(k, _)| k)
        .filter(|k| in_l(k).is_some())
        .collect();
    let mut next_shared = shared.pop_front();
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let merge_item = |k: &str, rv: &Value| -> Value {
        match in_l(k) {
            Some(lv) if *kind != ListKind::Set => merge(lv, rv, inode),
            _ => rv.clone(),
        }
    };
    let (mut li, mut ri) = (0, 0);
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            let (lk, _) = &l[li];
            if *lk == r[ri].0 {
                out.push(merge_item(lk, r[ri].1));
                done.push(lk);
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if in_r(lk) && next_shared.is_some_and(|n| n != lk) {
                li += 1;
                continue;
            }
        }
        if li < l.len() {
            let (lk, lv) = &l[li];
            if !in_r(lk) {
                out.push((*lv).clone());
                li += 1;
                continue;
            } else if done.contains(&lk.as_str()) {
                li += 1;
                continue;
            }
        }
        if ri < r.len() {
            let (rk, rv) = &r[ri];
            out.push(merge_item(rk, rv));
            done.push(rk);
            ri += 1;
            if next_shared.is_some_and(|n| n == rk) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

/// Removes from `v` what `last` held and no manager (`managed`) holds any more.
pub fn prune(v: &mut Value, last: &FieldSet, managed: &FieldSet, node: Node) {
    match (node.shape(Some(v)), v) {
        (Shape::Object { atomic: false }, Value::Object(m)) => {
            for (elem, lchild) in &last.children {
                let Some(name) = elem.strip_prefix("f:") else {
                    continue;
                };
                if !m.contains_key(name) {
                    continue;
                }
                match managed.child(elem) {
                    None => {
                        m.remove(name);
                    }
                    Some(mchild) => {
                        let cn = node.child(name).unwrap_or(Node::Deduced);
                        if let Some(cv) = m.get_mut(name) {
                            prune(cv, lchild, mchild, cn);
                        }
                    }
                }
            }
        }
        (Shape::List(kind @ (ListKind::Map(_) | ListKind::Set)), Value::Array(items)) => {
            let inode = node.items();
            items.retain_mut(|item| {
                let Some(k) = item_key(item, &kind) else {
                    return true;
                };
                let Some(lchild) = last.child(&k) else {
                    return true;
                };
                match managed.child(&k) {
                    None => false,
                    Some(mchild) => {
                        prune(item, lchild, mchild, inode);
                        true
                    }
                }
            });
        }
        _ => {}
    }
}

/// What an apply or update did to ownership.
pub struct Ownership {
    /// The new `managedFields` entries.
    pub managers: Vec<Manager>,
}

/// Moves ownership after an object changed from `old` to `new` (structured-merge-diff's
/// `update`): other managers lose what changed; without `force`, a changed field
/// another manager owns is a conflict.
fn settle(
    old: Option<&Value>,
    new: &Value,
    node: Node,
    managers: &mut [Manager],
    me: usize,
    force: bool,
    ignored: &FieldSet,
) -> Result<Comparison, Vec<Conflict>> {
    let mut cmp = compare(old, Some(new), node);
    cmp.added = cmp.added.difference(ignored);
    cmp.modified = cmp.modified.difference(ignored);
    cmp.removed = cmp.removed.difference(ignored);
    let mut changed = cmp.modified.clone();
    changed.union_with(&cmp.added);
    let mut conflicts = Vec::new();
    for (i, m) in managers.iter().enumerate() {
        if i == me {
            continue;
        }
        for p in m.fields.intersection(&changed).members() {
            conflicts.push(Conflict {
                manager: m.printed(),
                path: fieldpath::display_path(&p),
            });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (i, m) in managers.iter_mut().enumerate() {
        if i != me {
            m.fields = m.fields.difference(&changed).difference(&cmp.removed);
        }
    }
    Ok(cmp)
}

fn find_or_add(
    managers: &mut Vec<Manager>,
    name: &str,
    op: &str,
    api_version: &str,
    sub: Option<&str>,
) -> usize {
    if let Some(i) = managers
        .iter()
        .position(|m| m.same_identity(name, op, api_version, sub))
    {
        managers[i].api_version = api_version.to_string();
        return i;
    }
    managers.push(Manager {
        manager: name.to_string(),
        operation: op.to_string(),
        api_version: api_version.to_string(),
        time: None,
        subresource: sub.map(String::from),
        fields: FieldSet::new(),
    });
    managers.len() - 1
}

/// Where an apply or update happens.
pub struct Target<'a> {
    /// The schema of the object.
    pub node: Node<'a>,
    /// Field manager name.
    pub manager: &'a str,
    /// API version of the request.
    pub api_version: String,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// Fields this endpoint does not own (status for the main resource, and so on).
    pub ignored: &'a FieldSet,
    /// The current time, RFC 3339.
    pub now: &'a str,
}

/// Result of an apply: the new object (before defaulting) and the new owners.
pub struct Applied {
    /// The merged object.
    pub object: Value,
    /// The new `managedFields`.
    pub managers: Vec<Manager>,
}

/// Applies `config` to `live` (both without managedFields) for `t.manager`.
///
/// # Errors
/// The conflicts, when another manager owns a field the apply changes and `force` is false.
pub fn apply(
    live: &Value,
    mut managers: Vec<Manager>,
    config: &Value,
    t: &Target,
    force: bool,
) -> Result<Applied, Vec<Conflict>> {
    let mut ignored = stripped_fields();
    ignored.union_with(t.ignored);
    let set = to_field_set(config, t.node)
        .unwrap_or_default()
        .difference(&ignored);
    let mut merged = merge(live, config, t.node);
    let me = find_or_add(
        &mut managers,
        t.manager,
        "Apply",
        &t.api_version,
        t.subresource,
    );
    let last = managers[me].fields.difference(&ignored);
    managers[me].fields = set;
    let mut all = FieldSet::new();
    for m in &managers {
        all.union_with(&m.fields);
    }
    prune(&mut merged, &last, &all, t.node);
    settle(
        Some(live),
        &merged,
        t.node,
        &mut managers,
        me,
        force,
        &ignored,
    )?;
    if merged != *live {
        managers[me].time = Some(t.now.to_string());
    }
    managers.retain(|m| !m.fields.is_empty());
    Ok(Applied {
        object: merged,
        managers,
    })
}

/// Records an update (create, PUT, merge/JSON/strategic patch) from `old` to `new` for `t.manager`.
pub fn update(
    old: Option<&Value>,
    new: &Value,
    mut managers: Vec<Manager>,
    t: &Target,
) -> Vec<Manager> {
    let mut ignored = stripped_fields();
    ignored.union_with(t.ignored);
    let placeholder = managers.len();
    let cmp = match settle(old, new, t.node, &mut managers, placeholder, true, &ignored) {
        Ok(c) => c,
        Err(_) => return managers,
    };
    let mut mine = cmp.modified;
    mine.union_with(&cmp.added);
    let mine = mine.difference(&ignored);
    if !mine.is_empty() {
        let i = find_or_add(
            &mut managers,
            t.manager,
            "Update",
            &t.api_version,
            t.subresource,
        );
        managers[i].fields.union_with(&mine);
        managers[i].time = Some(t.now.to_string());
    }
    managers.retain(|m| !m.fields.is_empty());
    managers
}

/// The 409 message kube-apiserver writes for apply conflicts.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.path
        );
    }
    let mut managers: Vec<&String> = conflicts.iter().map(|c| &c.manager).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| &c.manager == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target<'a>(manager: &'a str, ignored: &'a FieldSet) -> Target<'a> {
        Target {
            node: Node::Deduced,
            manager,
            api_version: "v1".into(),
            subresource: None,
            ignored,
            now: "t",
        }
    }

    #[test]
    fn apply_removes_what_the_manager_stopped_applying() {
        let none = FieldSet::new();
        let live = json!({"data": {}});
        let a = apply(
            &live,
            vec![],
            &json!({"data": {"a": "1", "b": "2"}}),
            &target("alpha", &none),
            false,
        )
        .expect("no conflict");
        let b = apply(
            &a.object,
            a.managers,
            &json!({"data": {"a": "1"}}),
            &target("alpha", &none),
            false,
        )
        .expect("no conflict");
        assert_eq!(b.object, json!({"data": {"a": "1"}}));
    }

    #[test]
    fn a_different_value_conflicts_and_an_equal_one_is_shared() {
        let none = FieldSet::new();
        let a = apply(
            &json!({}),
            vec![],
            &json!({"data": {"a": "1"}}),
            &target("alpha", &none),
            false,
        )
        .expect("no conflict");
        let err = apply(
            &a.object,
            a.managers.clone(),
            &json!({"data": {"a": "9"}}),
            &target("beta", &none),
            false,
        )
        .err()
        .expect("conflict");
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"alpha\": .data.a"
        );
        let shared = apply(
            &a.object,
            a.managers,
            &json!({"data": {"a": "1"}}),
            &target("beta", &none),
            false,
        )
        .expect("shared");
        assert_eq!(shared.managers.len(), 2);
        assert_eq!(
            shared.managers[1].time, None,
            "no change, so no time for the new manager"
        );
    }
}
