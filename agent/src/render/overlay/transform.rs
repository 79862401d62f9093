//! Patches, namespace, prefix/suffix, labels, annotations, replicas, images,
//! in kustomize's order; then references to renamed objects.

use super::smp::{at_path, merge};
use super::{Res, err, join, name, read_text};
use crate::render::{RenderError, RenderRequest, yaml};
use serde_json::{Map, Value, json};
use std::path::Path;

const CLUSTER_SCOPED: [&str; 14] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "IngressClass",
    "CSIDriver",
    "RuntimeClass",
    "Node",
];
const WORKLOADS: [&str; 6] = [
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "ReplicationController",
];

fn kind(r: &Res) -> &str {
    r.json["kind"].as_str().unwrap_or_default()
}

pub(super) fn run(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    k: &Map<String, Value>,
    out: &mut [Res],
) -> Result<(), RenderError> {
    // patchesStrategicMerge
    for p in super::strings(k, "patchesStrategicMerge", file)? {
        let v = load_patch(req, dir, file, &p)?;
        apply_patch(out, &v, None, file)?;
    }
    // patches
    if let Some(list) = k.get("patches").and_then(Value::as_array) {
        for p in list {
            for key in p
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if !["path", "patch", "target", "options"].contains(&key.as_str()) {
                    return Err(err(
                        file,
                        format!("`patches` field `{key}` is not supported by wavesync"),
                    ));
                }
            }
            let v = patch_body(req, dir, file, p)?;
            apply_patch(out, &v, p.get("target"), file)?;
        }
    }
    if let Some(ns) = k.get("namespace").and_then(Value::as_str) {
        for r in out.iter_mut() {
            if CLUSTER_SCOPED.contains(&kind(r)) {
                if matches!(kind(r), "ClusterRoleBinding") {
                    subjects_ns(r, ns);
                }
                continue;
            }
            r.json["metadata"]["namespace"] = json!(ns);
            if kind(r) == "RoleBinding" {
                subjects_ns(r, ns);
            }
        }
    }
    let prefix = k
        .get("namePrefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let suffix = k
        .get("nameSuffix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !prefix.is_empty() || !suffix.is_empty() {
        for r in out.iter_mut() {
            if matches!(kind(r), "Namespace" | "CustomResourceDefinition") {
                continue;
            }
            let n = name(&r.json);
            r.json["metadata"]["name"] = json!(format!("{prefix}{n}{suffix}"));
        }
    }
    if let Some(m) = k.get("commonLabels").and_then(Value::as_object) {
        for r in out.iter_mut() {
            labels(r, m, true, true);
        }
    }
    if let Some(list) = k.get("labels").and_then(Value::as_array) {
        for l in list {
            let m = l
                .get("pairs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let sel = l
                .get("includeSelectors")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let tpl = l
                .get("includeTemplates")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if l.get("fields").is_some() {
                return Err(err(
                    file,
                    "`labels` field `fields` is not supported by wavesync",
                ));
            }
            for r in out.iter_mut() {
                labels(r, &m, sel, sel || tpl);
            }
        }
    }
    if let Some(m) = k.get("commonAnnotations").and_then(Value::as_object) {
        for r in out.iter_mut() {
            let wl = WORKLOADS.contains(&kind(r));
            let cj = kind(r) == "CronJob";
            let mut paths: Vec<&[&str]> = vec![&["metadata", "annotations"]];
            if wl {
                paths.push(&["spec", "template", "metadata", "annotations"]);
            }
            if cj {
                paths.push(&["spec", "jobTemplate", "metadata", "annotations"]);
                paths.push(&[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "metadata",
                    "annotations",
                ]);
            }
            for p in paths {
                at_path(&mut r.json, p, true, &mut |t| put(t, m));
            }
        }
    }
    if let Some(list) = k.get("patchesJson6902").and_then(Value::as_array) {
        for p in list {
            let v = patch_body(req, dir, file, p)?;
            if !v.is_array() {
                return Err(err(
                    file,
                    "a patchesJson6902 patch must be a list of operations",
                ));
            }
            apply_patch(out, &v, p.get("target"), file)?;
        }
    }
    if let Some(list) = k.get("replicas").and_then(Value::as_array) {
        for rep in list {
            let n = rep.get("name").and_then(Value::as_str).unwrap_or_default();
            let c = rep.get("count").cloned().unwrap_or(json!(0));
            for r in out.iter_mut() {
                if (r.orig_name == n || name(&r.json) == n)
                    && matches!(
                        kind(r),
                        "Deployment" | "ReplicaSet" | "StatefulSet" | "ReplicationController"
                    )
                {
                    r.json["spec"]["replicas"] = c.clone();
                }
            }
        }
    }
    if let Some(list) = k.get("images").and_then(Value::as_array) {
        for img in list {
            for key in img
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if !["name", "newName", "newTag", "digest"].contains(&key.as_str()) {
                    return Err(err(
                        file,
                        format!("`images` field `{key}` is not supported by wavesync"),
                    ));
                }
            }
            for r in out.iter_mut() {
                images(&mut r.json, img);
            }
        }
    }
    Ok(())
}

fn subjects_ns(r: &mut Res, ns: &str) {
    if let Some(Value::Array(subs)) = r.json.get_mut("subjects") {
        for s in subs {
            if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                && matches!(
                    s.get("namespace").and_then(Value::as_str),
                    None | Some("default") | Some("")
                )
            {
                s["namespace"] = json!(ns);
            }
        }
    }
}

fn put(t: &mut Map<String, Value>, m: &Map<String, Value>) {
    for (k, v) in m {
        let v = match v {
            Value::String(_) => v.clone(),
            Value::Null => json!(""),
            other => Value::String(other.to_string()),
        };
        t.insert(k.clone(), v);
    }
}

fn labels(r: &mut Res, m: &Map<String, Value>, selectors: bool, templates: bool) {
    let k = kind(r).to_owned();
    let j = &mut r.json;
    at_path(j, &["metadata", "labels"], true, &mut |t| put(t, m));
    let wl = matches!(
        k.as_str(),
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
    );
    if templates {
        if wl || k == "Job" || k == "ReplicationController" {
            at_path(
                j,
                &["spec", "template", "metadata", "labels"],
                true,
                &mut |t| put(t, m),
            );
        }
        if k == "CronJob" {
            at_path(
                j,
                &["spec", "jobTemplate", "metadata", "labels"],
                true,
                &mut |t| put(t, m),
            );
            at_path(
                j,
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "metadata",
                    "labels",
                ],
                true,
                &mut |t| put(t, m),
            );
        }
        if k == "StatefulSet" && selectors {
            at_path(
                j,
                &["spec", "volumeClaimTemplates", "metadata", "labels"],
                true,
                &mut |t| put(t, m),
            );
        }
    }
    if !selectors {
        return;
    }
    match k.as_str() {
        "Service" | "ReplicationController" => {
            at_path(j, &["spec", "selector"], true, &mut |t| put(t, m))
        }
        _ if wl => at_path(j, &["spec", "selector", "matchLabels"], true, &mut |t| {
            put(t, m)
        }),
        "Job" => at_path(j, &["spec", "selector", "matchLabels"], false, &mut |t| {
            put(t, m)
        }),
        "CronJob" => at_path(
            j,
            &["spec", "jobTemplate", "spec", "selector", "matchLabels"],
            false,
            &mut |t| put(t, m),
        ),
        "PodDisruptionBudget" => {
            at_path(j, &["spec", "selector", "matchLabels"], false, &mut |t| {
                put(t, m)
            })
        }
        "NetworkPolicy" => {
            at_path(
                j,
                &["spec", "podSelector", "matchLabels"],
                false,
                &mut |t| put(t, m),
            );
            at_path(
                j,
                &["spec", "ingress", "from", "podSelector", "matchLabels"],
                false,
                &mut |t| put(t, m),
            );
            at_path(
                j,
                &["spec", "egress", "to", "podSelector", "matchLabels"],
                false,
                &mut |t| put(t, m),
            );
        }
        _ => {}
    }
}

fn images(v: &mut Value, img: &Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
                    if let Value::Array(cs) = child {
                        for c in cs {
                            if let Some(Value::String(s)) = c.get_mut("image") {
                                *s = retag(s, img);
                            }
                        }
                    }
                } else {
                    images(child, img);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| images(c, img)),
        _ => {}
    }
}

fn retag(image: &str, img: &Value) -> String {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_owned())),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].find(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_owned())),
        None => (rest, None),
    };
    let want = img.get("name").and_then(Value::as_str).unwrap_or_default();
    if name != want {
        return image.to_owned();
    }
    let mut name = name.to_owned();
    let (mut tag, mut digest) = (tag, digest);
    if let Some(n) = img.get("newName").and_then(Value::as_str) {
        name = n.to_owned();
    }
    if let Some(t) = img.get("newTag") {
        tag = Some(t.as_str().map_or_else(|| t.to_string(), str::to_owned));
        digest = None;
    }
    if let Some(d) = img.get("digest").and_then(Value::as_str) {
        digest = Some(d.to_owned());
        tag = None;
    }
    let mut s = name;
    if let Some(t) = tag {
        s = format!("{s}:{t}");
    }
    if let Some(d) = digest {
        s = format!("{s}@{d}");
    }
    s
}

fn load_patch(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    path: &str,
) -> Result<Value, RenderError> {
    let p = join(req, dir, path, file)?;
    let text = read_text(req, &p.rel)?;
    parse_patch(&text, &p.rel)
}

fn parse_patch(text: &str, file: &Path) -> Result<Value, RenderError> {
    let docs = yaml::documents(text, file)?;
    docs.into_iter()
        .map(|d| d.value)
        .find(|v| !v.is_null())
        .ok_or_else(|| err(file, "empty patch"))
}

fn patch_body(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    p: &Value,
) -> Result<Value, RenderError> {
    if let Some(text) = p.get("patch").and_then(Value::as_str) {
        parse_patch(text, file)
    } else if let Some(path) = p.get("path").and_then(Value::as_str) {
        load_patch(req, dir, file, path)
    } else {
        Err(err(file, "a patch needs `patch` or `path`"))
    }
}

fn matches_str(pattern: &str, value: &str) -> bool {
    // kustomize anchors the target fields as regular expressions; exact names and `.*` are supported here.
    pattern == value
        || pattern == ".*"
        || pattern
            .strip_suffix(".*")
            .is_some_and(|p| value.starts_with(p))
}

fn selected(r: &Res, t: &Value, file: &Path) -> Result<bool, RenderError> {
    let j = &r.json;
    let (group, version) = match j["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .rsplit_once('/')
    {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            j["apiVersion"].as_str().unwrap_or_default().to_owned(),
        ),
    };
    let Some(t) = t.as_object() else {
        return Ok(false);
    };
    for (k, v) in t {
        let v = v.as_str().unwrap_or_default();
        let ok = match k.as_str() {
            "kind" => matches_str(v, j["kind"].as_str().unwrap_or_default()),
            "name" => matches_str(v, &name(j)) || matches_str(v, &r.orig_name),
            "namespace" => matches_str(
                v,
                j.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            "group" => matches_str(v, &group),
            "version" => matches_str(v, &version),
            "labelSelector" | "annotationSelector" => {
                let what = if k == "labelSelector" {
                    "labels"
                } else {
                    "annotations"
                };
                v.split(',').all(|term| {
                    let have = j.pointer(&format!("/metadata/{what}"));
                    match term.split_once("!=") {
                        Some((a, b)) => {
                            have.and_then(|h| h.get(a.trim())).and_then(Value::as_str)
                                != Some(b.trim())
                        }
                        None => match term.split_once('=') {
                            Some((a, b)) => {
                                have.and_then(|h| h.get(a.trim())).and_then(Value::as_str)
                                    == Some(b.trim_start_matches('=').trim())
                            }
                            None => have.and_then(|h| h.get(term.trim())).is_some(),
                        },
                    }
                })
            }
            other => {
                return Err(err(
                    file,
                    format!("patch target field `{other}` is not supported by wavesync"),
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn apply_patch(
    out: &mut [Res],
    patch: &Value,
    target: Option<&Value>,
    file: &Path,
) -> Result<(), RenderError> {
    let mut hits = 0;
    for r in out.iter_mut() {
        let hit = match target {
            Some(t) => selected(r, t, file)?,
            None => {
                let pn = name(patch);
                patch["kind"] == r.json["kind"] && (pn == name(&r.json) || pn == r.orig_name)
            }
        };
        if !hit {
            continue;
        }
        hits += 1;
        if patch.is_array() {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| err(file, format!("invalid JSON 6902 patch: {e}")))?;
            json_patch::patch(&mut r.json, &ops).map_err(|e| {
                err(
                    file,
                    format!("JSON 6902 patch failed on {}: {e}", name(&r.json)),
                )
            })?;
        } else {
            let mut p = patch.clone();
            if target.is_some() {
                // A targeted patch's own name and kind do not rename the target.
                if let Some(m) = p.as_object_mut() {
                    m.shift_remove("apiVersion");
                    m.shift_remove("kind");
                    if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                        md.shift_remove("name");
                        md.shift_remove("namespace");
                    }
                }
            }
            merge(&mut r.json, &p);
        }
    }
    if hits == 0 && target.is_none() {
        return Err(err(
            file,
            format!(
                "patch for {} `{}` matches no resource",
                patch["kind"].as_str().unwrap_or("?"),
                name(patch)
            ),
        ));
    }
    Ok(())
}

/// Rewrites references to renamed ConfigMaps, Secrets and ServiceAccounts.
pub(super) fn fix_references(res: &mut [Res]) {
    let renames: Vec<(String, String, String)> = res
        .iter()
        .filter(|r| {
            matches!(kind(r), "ConfigMap" | "Secret" | "ServiceAccount")
                && name(&r.json) != r.orig_name
        })
        .map(|r| (kind(r).to_owned(), r.orig_name.clone(), name(&r.json)))
        .collect();
    if renames.is_empty() {
        return;
    }
    let find = |k: &str, n: &str| {
        renames
            .iter()
            .find(|(rk, o, _)| rk == k && o == n)
            .map(|(_, _, new)| new.clone())
    };
    for r in res.iter_mut() {
        walk(&mut r.json, "", &find);
        if matches!(kind(r), "RoleBinding" | "ClusterRoleBinding")
            && let Some(Value::Array(subs)) = r.json.get_mut("subjects")
        {
            for s in subs {
                if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    && let Some(new) = s
                        .get("name")
                        .and_then(Value::as_str)
                        .and_then(|n| find("ServiceAccount", n))
                {
                    s["name"] = json!(new);
                }
            }
        }
    }
}

fn walk(v: &mut Value, parent: &str, find: &dyn Fn(&str, &str) -> Option<String>) {
    match v {
        Value::Object(m) => {
            let target = match parent {
                "configMapRef" | "configMapKeyRef" | "configMap" => Some(("ConfigMap", "name")),
                "secretRef" | "secretKeyRef" | "imagePullSecrets" => Some(("Secret", "name")),
                "secret" => Some(("Secret", "secretName")),
                _ => None,
            };
            if let Some((k, field)) = target
                && let Some(new) = m
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(|n| find(k, n))
            {
                m.insert(field.to_owned(), json!(new));
            }
            for key in ["serviceAccountName", "serviceAccount"] {
                if let Some(new) = m
                    .get(key)
                    .and_then(Value::as_str)
                    .and_then(|n| find("ServiceAccount", n))
                {
                    m.insert(key.to_owned(), json!(new));
                }
            }
            for (k, child) in m.iter_mut() {
                walk(child, k, find);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| walk(c, parent, find)),
        _ => {}
    }
}
