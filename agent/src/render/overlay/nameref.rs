//! References to renamed objects, updated once at the top as kustomize's
//! name reference transformer does (`api/filters/nameref`).
//!
//! The referring fields are kustomize's ([`super::refs`]): ConfigMaps,
//! Secrets, ServiceAccounts and PersistentVolumeClaims in pod templates,
//! Services in StatefulSets, Ingresses, APIServices and webhooks, Roles and
//! ClusterRoles in bindings, ServiceAccounts in binding subjects, and the
//! rest. A reference is matched to a resource by a name the resource had
//! before being renamed; among several, the one in the referrer's
//! namespace, then the one that went through the same prefixes and
//! suffixes, wins. A resource never renamed is never a match: its
//! references need no update.

use super::fieldspec::{self, group_version};
use super::{Id, Res, effective_ns, is_cluster_scoped, refs};
use serde_json::{Value, json};

/// What the candidates for a reference are known by.
struct Candidate {
    group: String,
    kind: String,
    cluster_scoped: bool,
    cur: Id,
    org: Id,
    prev_names: Vec<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// The referrer a field belongs to.
struct Referrer<'a> {
    json: &'a Value,
    cur_ns: String,
    cluster_scoped: bool,
    prefixes: &'a [String],
    suffixes: &'a [String],
}

/// Updates every reference to a renamed object.
///
/// # Errors
/// A reference that several renamed objects could answer, as kustomize refuses it.
pub(super) fn fix(res: &mut [Res]) -> Result<(), String> {
    let candidates: Vec<Candidate> = res
        .iter()
        .map(|r| Candidate {
            group: group_version(r.api_version()).0.to_owned(),
            kind: r.kind().to_owned(),
            cluster_scoped: is_cluster_scoped(&r.json),
            cur: r.cur_id(),
            org: r.org_id(),
            prev_names: r.prev.iter().map(|id| id.name.clone()).collect(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    let table = refs::all();
    for r in res.iter_mut() {
        let snapshot = r.json.clone();
        let referrer = Referrer {
            json: &snapshot,
            cur_ns: effective_ns(&snapshot, &super::namespace(&snapshot)),
            cluster_scoped: is_cluster_scoped(&snapshot),
            prefixes: &r.prefixes,
            suffixes: &r.suffixes,
        };
        let reachable = reachable(&referrer, &candidates);
        let mut failure = None;
        for field in &table {
            if !field.selects(&snapshot) {
                continue;
            }
            let targets: Vec<&Candidate> = reachable
                .iter()
                .copied()
                .filter(|c| c.group == field.target_group && c.kind == field.target_kind)
                .collect();
            if targets.is_empty() {
                continue;
            }
            let segments = fieldspec::split(&field.path);
            fieldspec::visit(&mut r.json, &segments, false, &mut |node| {
                if let Err(e) = update(node, &targets, &referrer, &field.path) {
                    failure.get_or_insert(e);
                }
            });
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

/// The candidates a referrer may refer to: its own namespace's, cluster-scoped
/// ones, and for a RoleBinding the ServiceAccounts its subjects name.
fn reachable<'a>(referrer: &Referrer, all: &'a [Candidate]) -> Vec<&'a Candidate> {
    if referrer.cluster_scoped {
        return all.iter().collect();
    }
    let mut subject_ns = Vec::new();
    if referrer.json["kind"] == "RoleBinding"
        && let Some(subjects) = referrer.json["subjects"].as_array()
    {
        for s in subjects {
            if s["kind"] == "ServiceAccount"
                && let Some(ns) = s["namespace"].as_str()
            {
                subject_ns.push(ns.to_owned());
            }
        }
    }
    all.iter()
        .filter(|c| {
            c.cluster_scoped
                || eff(c, &c.cur.namespace) == referrer.cur_ns
                || subject_ns.contains(&c.cur.namespace)
        })
        .collect()
}

fn eff(c: &Candidate, ns: &str) -> String {
    if c.cluster_scoped {
        String::new()
    } else if ns.is_empty() {
        "default".to_owned()
    } else {
        ns.to_owned()
    }
}

fn update(
    node: &mut Value,
    targets: &[&Candidate],
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    match node {
        Value::String(_) => set_scalar(node, targets, referrer, path),
        Value::Object(_) => set_mapping(node, targets, referrer, path),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(_) => set_scalar(item, targets, referrer, path)?,
                    Value::Object(_) => set_mapping(item, targets, referrer, path)?,
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn set_scalar(
    node: &mut Value,
    targets: &[&Candidate],
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    let Some(old) = node.as_str().map(str::to_owned) else {
        return Ok(());
    };
    let Some(found) = select(&old, targets.to_vec(), referrer, path, false)? else {
        return Ok(());
    };
    if found.cur.name != old {
        *node = json!(found.cur.name);
    }
    Ok(())
}

/// A `{name, namespace}` reference (binding subjects, webhook services).
fn set_mapping(
    node: &mut Value,
    targets: &[&Candidate],
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    let Some(old) = node.get("name").and_then(Value::as_str).map(str::to_owned) else {
        return Ok(());
    };
    // A reference naming a namespace picks among the candidates declared in
    // it, or else among those now in it.
    let candidates: Vec<&Candidate> = match node.get("namespace").and_then(Value::as_str) {
        None => targets.to_vec(),
        Some(ns) => {
            let by_org: Vec<&Candidate> = targets
                .iter()
                .copied()
                .filter(|c| !c.cluster_scoped && eff(c, &c.org.namespace) == ns)
                .collect();
            if by_org.is_empty() {
                targets
                    .iter()
                    .copied()
                    .filter(|c| !c.cluster_scoped && eff(c, &c.cur.namespace) == ns)
                    .collect()
            } else {
                by_org
            }
        }
    };
    let Some(found) = select(&old, candidates, referrer, path, true)? else {
        return Ok(());
    };
    if found.cur.name == old && found.cur.namespace.is_empty() {
        return Ok(());
    }
    node["name"] = json!(found.cur.name);
    if !found.cur.namespace.is_empty() {
        node["namespace"] = json!(found.cur.namespace);
    }
    Ok(())
}

/// kustomize's `selectReferral`.
fn select<'a>(
    old: &str,
    candidates: Vec<&'a Candidate>,
    referrer: &Referrer,
    path: &str,
    with_namespace: bool,
) -> Result<Option<&'a Candidate>, String> {
    let role_ref = path.ends_with("roleRef/name").then(|| {
        let rr = &referrer.json["roleRef"];
        (
            rr["apiGroup"].as_str().unwrap_or_default().to_owned(),
            rr["kind"].as_str().unwrap_or_default().to_owned(),
        )
    });
    let list: Vec<&Candidate> = candidates
        .into_iter()
        .filter(|c| c.prev_names.iter().any(|n| n == old))
        .filter(|c| {
            role_ref
                .as_ref()
                .is_none_or(|(g, k)| &c.group == g && &c.kind == k)
        })
        .filter(|c| {
            referrer.cluster_scoped
                || c.cluster_scoped
                || c.kind == "ServiceAccount"
                || eff(c, &c.cur.namespace) == referrer.cur_ns
        })
        .collect();
    if list.len() == 1 {
        return Ok(list.first().copied());
    }
    let list: Vec<&Candidate> = list
        .into_iter()
        .filter(|c| {
            same_ending(&c.prefixes, referrer.prefixes)
                && same_ending(&c.suffixes, referrer.suffixes)
        })
        .collect();
    match list.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] => {
            let same = rest.iter().all(|c| {
                c.cur.name == first.cur.name
                    && (!with_namespace || c.cur.namespace == first.cur.namespace)
            });
            if same {
                Ok(Some(first))
            } else {
                let names: Vec<String> = list
                    .iter()
                    .map(|c| format!("{} {}/{}", c.kind, c.cur.namespace, c.cur.name))
                    .collect();
                Err(format!(
                    "the reference `{old}` in {} {} could be any of: {}",
                    referrer.json["kind"].as_str().unwrap_or_default(),
                    super::name(referrer.json),
                    names.join(", ")
                ))
            }
        }
    }
}

/// kustomize's `SameEndingSubSlice`: one list ends with the other (two empty lists too).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}
