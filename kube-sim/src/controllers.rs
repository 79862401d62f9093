//! The controllers a real control plane runs, reduced to what clients observe:
//! CRD establishment and cleanup, namespace termination, garbage collection of
//! dependents, and a kwok-like readiness simulator driven by `sim.wavesync.io/`
//! annotations.

use crate::core::{Core, now};
use crate::fieldpath::FieldSet;
use crate::registry::{self, ResourceType};
use crate::ssa;
use crate::store::{EventType, Key, State};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Annotation: how long this object takes to become ready (`2s`, `500ms`).
pub const READY_AFTER: &str = "sim.wavesync.io/ready-after";
/// Annotation: `"true"` keeps the object from ever becoming ready.
pub const NEVER_READY: &str = "sim.wavesync.io/never-ready";
/// Annotation: `"true"` makes a Job fail instead of completing.
pub const FAIL: &str = "sim.wavesync.io/fail";
/// Annotation: `"true"` makes a custom resource get `Ready=True`.
pub const READY: &str = "sim.wavesync.io/ready";

/// Runs the controllers until shutdown.
pub async fn run(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut seen: HashMap<Key, (i64, Instant)> = HashMap::new();
    let mut idle_at: Option<u64> = None;
    loop {
        // Nothing changed and nothing is waiting to turn ready: skip the scan,
        // which is what keeps a large idle store cheap.
        let rv = core.store.lock().rv;
        if idle_at != Some(rv) {
            let pending = tick(&core, &mut seen);
            idle_at = if pending {
                None
            } else {
                Some(core.store.lock().rv)
            };
        }
        tokio::select! {
            _ = tokio::time::sleep(core.options.tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass of every controller; true when some object is still waiting for its readiness delay.
fn tick(core: &Core, seen: &mut HashMap<Key, (i64, Instant)>) -> bool {
    let (changed, pending) = {
        let mut state = core.store.lock();
        let before = state.rv;
        crds(core, &mut state);
        let terminating = namespaces(core, &mut state);
        garbage_collect(core, &mut state);
        let waiting = readiness(core, &mut state, seen);
        (state.rv != before, waiting || terminating)
    };
    if changed {
        core.store.notify();
    }
    pending || changed
}

fn meta<'a>(o: &'a Value, f: &str) -> Option<&'a str> {
    o.get("metadata")?.get(f)?.as_str()
}

fn annotation<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.pointer("/metadata/annotations")?.get(k)?.as_str()
}

/// Removes an object for good, recording the deletion at a new resourceVersion.
fn remove_now(state: &mut State, key: &Key, mut obj: Value) {
    let rv = state.next_rv();
    obj["metadata"]["resourceVersion"] = rv.to_string().into();
    state.remove(key, obj, rv);
}

fn store_put(state: &mut State, key: Key, mut obj: Value, kind: EventType) {
    let rv = state.next_rv();
    obj["metadata"]["resourceVersion"] = rv.to_string().into();
    state.put(key, obj, rv, kind);
}

/// Writes `status` through the status subresource as `manager`, recording ownership.
fn write_status(
    state: &mut State,
    rt: &ResourceType,
    key: Key,
    old: &Value,
    status: Value,
    manager: &str,
) {
    let mut new = old.clone();
    new["status"] = status;
    if new == *old {
        return;
    }
    let node = crate::write::node_for(rt);
    let ignored = FieldSet::new();
    let now = now();
    let api_version = rt.api_version();
    let t = ssa::Target {
        node,
        manager,
        api_version,
        subresource: Some("status"),
        ignored: &ignored,
        now: &now,
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["metadata"]
            .as_object_mut()
            .map(|m| m.remove("managedFields"));
        v
    };
    let managers = ssa::update(
        Some(&strip(old)),
        &strip(&new),
        ssa::decode_managers(old),
        &t,
    );
    new["metadata"]["managedFields"] = ssa::encode_managers(&managers);
    store_put(state, key, new, EventType::Modified);
}

fn crds(core: &Core, state: &mut State) {
    let crd_key = "apiextensions.k8s.io/customresourcedefinitions";
    let Some(crd_rt) =
        core.registry()
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return;
    };
    let crds: Vec<(Key, Arc<Value>)> = state
        .list(crd_key, None)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut served: HashMap<String, Vec<ResourceType>> = HashMap::new();
    for (key, crd) in crds {
        let name = key.2.clone();
        if crd.pointer("/metadata/deletionTimestamp").is_some() {
            let types = registry::crd_types(&crd);
            let remaining = types
                .first()
                .map_or(0, |t| delete_all(core, state, t, None));
            if remaining == 0 {
                let mut gone = (*crd).clone();
                if let Some(m) = gone["metadata"].as_object_mut() {
                    m.remove("finalizers");
                }
                remove_now(state, &key, gone);
            } else {
                served.insert(name, types);
            }
            continue;
        }
        let established = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        if !established {
            let mut status = crd.get("status").cloned().unwrap_or(json!({}));
            status["acceptedNames"] = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
            let t = now();
            status["conditions"] = json!([
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
            ]);
            write_status(state, &crd_rt, key.clone(), &crd, status, "kube-apiserver");
        }
        served.insert(name, registry::crd_types(&crd));
    }
    let mut reg = core.registry_mut();
    let current: HashSet<String> = reg
        .all()
        .filter(|t| t.crd_schema.is_some())
        .map(|t| format!("{}.{}", t.resource, t.group))
        .collect();
    for gone in current.iter().filter(|n| !served.contains_key(*n)) {
        reg.set_crd(gone, Vec::new());
    }
    for (name, types) in served {
        let same = types.iter().all(|t| {
            reg.get(&t.group, &t.version, &t.resource).is_some_and(|c| {
                c.crd_schema == t.crd_schema
                    && c.namespaced == t.namespaced
                    && c.has_status == t.has_status
            })
        }) && current.contains(&name);
        if !same {
            reg.set_crd(&name, types);
        }
    }
}

fn namespaces(core: &Core, state: &mut State) -> bool {
    let terminating: Vec<(Key, Arc<Value>)> = state
        .list("/namespaces", None)
        .filter(|(_, v)| v.pointer("/metadata/deletionTimestamp").is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if terminating.is_empty() {
        return false;
    }
    let types: Vec<Arc<ResourceType>> = core
        .registry()
        .all()
        .filter(|t| t.namespaced)
        .cloned()
        .collect();
    for (key, ns) in terminating {
        let remaining: usize = types
            .iter()
            .map(|t| delete_all(core, state, t, Some(&key.2)))
            .sum();
        let user_finalizers = ns
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if remaining == 0 && !user_finalizers {
            remove_now(state, &key, (*ns).clone());
        }
    }
    true
}

/// Deletes every object of a type (in one namespace); returns how many are
/// still there (held by finalizers).
fn delete_all(core: &Core, state: &mut State, t: &ResourceType, namespace: Option<&str>) -> usize {
    let objs: Vec<(Key, Arc<Value>)> = state
        .list(&t.store_key(), namespace)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut remaining = 0;
    for (k, o) in objs {
        // A failed delete leaves the object in place, which the count reports.
        let _ = crate::write::delete_object(core, state, t, (*o).clone(), "Background", false);
        if state.get(&k).is_some() {
            remaining += 1;
        }
    }
    remaining
}

fn garbage_collect(core: &Core, state: &mut State) {
    let uids: HashSet<String> = state
        .objects
        .values()
        .filter_map(|o| meta(o, "uid").map(String::from))
        .collect();
    let foreground: HashSet<String> = state
        .objects
        .values()
        .filter(|o| {
            o.pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"))
                && o.pointer("/metadata/deletionTimestamp").is_some()
        })
        .filter_map(|o| meta(o, "uid").map(String::from))
        .collect();
    let mut doomed = Vec::new();
    let mut has_dependents: HashSet<String> = HashSet::new();
    for (k, o) in &state.objects {
        let Some(refs) = o
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let owners: Vec<&str> = refs.iter().filter_map(|r| r["uid"].as_str()).collect();
        if owners.is_empty() {
            continue;
        }
        for u in &owners {
            has_dependents.insert(u.to_string());
        }
        let orphaned = owners.iter().all(|u| !uids.contains(*u));
        let foreground_owner = owners.iter().any(|u| foreground.contains(*u));
        if (orphaned || foreground_owner) && o.pointer("/metadata/deletionTimestamp").is_none() {
            doomed.push(k.clone());
        }
    }
    let reg = core.registry();
    let types: HashMap<String, Arc<ResourceType>> =
        reg.all().map(|t| (t.store_key(), t.clone())).collect();
    drop(reg);
    for k in doomed {
        if let (Some(o), Some(t)) = (state.get(&k), types.get(&k.0)) {
            let _ = crate::write::delete_object(core, state, t, (*o).clone(), "Background", false);
        }
    }
    for uid in foreground.iter().filter(|u| !has_dependents.contains(*u)) {
        let found = state
            .objects
            .iter()
            .find(|(_, o)| meta(o, "uid") == Some(uid))
            .map(|(k, o)| (k.clone(), o.clone()));
        let Some((key, o)) = found else { continue };
        let mut new = (*o).clone();
        if let Some(f) = new
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            f.retain(|x| x != "foregroundDeletion");
        }
        if new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.is_empty())
        {
            remove_now(state, &key, new);
        } else {
            store_put(state, key, new, EventType::Modified);
        }
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(m) = s.strip_suffix('m') {
        return m
            .parse::<f64>()
            .ok()
            .map(|m| Duration::from_secs_f64(m * 60.0));
    }
    s.strip_suffix('s')
        .unwrap_or(s)
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
}

/// Whether the object's current generation has waited long enough to turn ready.
fn due(core: &Core, seen: &mut HashMap<Key, (i64, Instant)>, key: &Key, obj: &Value) -> bool {
    if annotation(obj, NEVER_READY) == Some("true")
        || obj.pointer("/metadata/deletionTimestamp").is_some()
    {
        return false;
    }
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let delay = annotation(obj, READY_AFTER)
        .and_then(parse_duration)
        .unwrap_or(core.options.ready_after);
    let entry = seen
        .entry(key.clone())
        .or_insert((generation, Instant::now()));
    if entry.0 != generation {
        *entry = (generation, Instant::now());
    }
    entry.1.elapsed() >= delay
}

fn readiness(core: &Core, state: &mut State, seen: &mut HashMap<Key, (i64, Instant)>) -> bool {
    let reg = core.registry();
    let mut work: Vec<(Arc<ResourceType>, Key, Arc<Value>)> = Vec::new();
    for t in reg.all() {
        let wanted = match (t.group.as_str(), t.kind.as_str()) {
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job")
            | ("", "PersistentVolumeClaim") => true,
            _ => t.crd_schema.is_some() && t.has_status,
        };
        if wanted {
            for (k, o) in state.list(&t.store_key(), None) {
                work.push((t.clone(), k.clone(), o.clone()));
            }
        }
    }
    drop(reg);
    seen.retain(|k, _| state.objects.contains_key(k));
    let mut waiting = false;
    for (t, key, obj) in work {
        let status = match (t.group.as_str(), t.kind.as_str()) {
            ("apps", _) => workload_status(&t.kind, &obj),
            ("batch", "Job") => job_status(&obj),
            ("", "PersistentVolumeClaim") => pvc_status(&obj),
            _ => custom_status(core, &t, &obj),
        };
        let Some(status) = status else { continue };
        if obj.get("status") == Some(&status) {
            continue;
        }
        if !due(core, seen, &key, &obj) {
            waiting |= annotation(&obj, NEVER_READY) != Some("true")
                && obj.pointer("/metadata/deletionTimestamp").is_none();
            continue;
        }
        if t.crd_schema.is_some() {
            generate_secrets(core, state, &t, &obj);
        }
        write_status(state, &t, key, &obj, status, "kube-controller-manager");
    }
    waiting
}

fn workload_status(kind: &str, obj: &Value) -> Option<Value> {
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let replicas = if kind == "DaemonSet" {
        1
    } else {
        obj.pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
    };
    let t = obj
        .pointer("/status/conditions/0/lastTransitionTime")
        .cloned()
        .unwrap_or_else(|| now().into());
    let mut s = if kind == "DaemonSet" {
        json!({"observedGeneration": generation, "currentNumberScheduled": replicas, "desiredNumberScheduled": replicas,
            "numberAvailable": replicas, "numberReady": replicas, "updatedNumberScheduled": replicas, "numberMisscheduled": 0})
    } else {
        json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas, "updatedReplicas": replicas})
    };
    if kind == "StatefulSet" {
        s["currentReplicas"] = replicas.into();
    }
    if kind == "Deployment" {
        let name = meta(obj, "name").unwrap_or_default();
        s["conditions"] = json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastTransitionTime": t, "lastUpdateTime": t},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{name}\" has successfully progressed."), "lastTransitionTime": t, "lastUpdateTime": t},
        ]);
    }
    if replicas == 0 {
        for k in ["readyReplicas", "availableReplicas", "updatedReplicas"] {
            s.as_object_mut().map(|m| m.remove(k));
        }
    }
    Some(s)
}

fn job_status(obj: &Value) -> Option<Value> {
    if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    if let Some(conds) = obj.pointer("/status/conditions").and_then(Value::as_array)
        && conds
            .iter()
            .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
    {
        return obj.get("status").cloned();
    }
    let t = now();
    let start = obj
        .pointer("/status/startTime")
        .cloned()
        .unwrap_or_else(|| t.clone().into());
    if annotation(obj, FAIL) == Some("true") {
        let backoff = obj
            .pointer("/spec/backoffLimit")
            .and_then(Value::as_i64)
            .unwrap_or(6);
        return Some(
            json!({"startTime": start, "failed": backoff + 1, "active": 0, "ready": 0, "terminating": 0,
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t}]}),
        );
    }
    let completions = obj
        .pointer("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    Some(
        json!({"startTime": start, "completionTime": t, "succeeded": completions, "active": 0, "ready": 0, "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t}]}),
    )
}

fn pvc_status(obj: &Value) -> Option<Value> {
    let mut s = obj.get("status").cloned().unwrap_or(json!({}));
    s["phase"] = "Bound".into();
    s["accessModes"] = obj
        .pointer("/spec/accessModes")
        .cloned()
        .unwrap_or(json!(["ReadWriteOnce"]));
    if let Some(req) = obj.pointer("/spec/resources/requests") {
        s["capacity"] = req.clone();
    }
    Some(s)
}

fn kind_matches(pattern: &str, t: &ResourceType) -> bool {
    pattern == t.kind || pattern == format!("{}/{}", t.group, t.kind)
}

fn custom_status(core: &Core, t: &ResourceType, obj: &Value) -> Option<Value> {
    let configured = core.options.ready_kinds.iter().any(|k| kind_matches(k, t));
    if !configured && annotation(obj, READY) != Some("true") {
        return None;
    }
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut s = obj.get("status").cloned().unwrap_or(json!({}));
    let since = obj
        .pointer("/status/conditions/0/lastTransitionTime")
        .cloned()
        .unwrap_or_else(|| now().into());
    s["observedGeneration"] = generation.into();
    s["conditions"] = json!([{"type": "Ready", "status": "True", "reason": "Simulated", "message": "ready (simulated)",
        "observedGeneration": generation, "lastTransitionTime": since}]);
    for (_, extra) in core
        .options
        .ready_status
        .iter()
        .filter(|(k, _)| kind_matches(k, t))
    {
        if let (Some(s), Some(extra)) = (s.as_object_mut(), extra.as_object()) {
            for (f, v) in extra {
                s.insert(f.clone(), v.clone());
            }
        }
    }
    Some(s)
}

/// Creates the Secrets a simulated operator makes for a ready custom resource.
fn generate_secrets(core: &Core, state: &mut State, t: &ResourceType, obj: &Value) {
    let Some(secrets) = core.registry().get("", "v1", "secrets") else {
        return;
    };
    for g in core
        .options
        .generated_secrets
        .iter()
        .filter(|g| kind_matches(&g.kind, t))
    {
        let owner = meta(obj, "name").unwrap_or_default();
        let ns = meta(obj, "namespace").unwrap_or_default();
        let name = g.name.replace("{name}", owner);
        let key: Key = (secrets.store_key(), ns.to_string(), name.clone());
        if state.get(&key).is_some() {
            continue;
        }
        let data: serde_json::Map<String, Value> = g
            .keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    Value::String(base64_encode(format!("simulated-{k}").as_bytes())),
                )
            })
            .collect();
        let uid = uuid::Uuid::new_v4().to_string();
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": ns, "uid": uid, "creationTimestamp": now(),
                "ownerReferences": [{"apiVersion": t.api_version(), "kind": t.kind, "name": owner,
                    "uid": meta(obj, "uid").unwrap_or_default(), "controller": true, "blockOwnerDeletion": true}]},
            "data": data,
        });
        store_put(state, key, secret, EventType::Added);
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
