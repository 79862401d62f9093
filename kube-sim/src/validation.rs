//! Create/update validation of built-in objects, reproducing kube-apiserver v1.32's
//! field errors (the `details.causes` of a 422 Status) and its "is invalid" message.
//!
//! Objects arrive as v1 JSON that has already been defaulted. Only the checks a client
//! is likely to trip over are implemented; each mirrors the Go validator named in its
//! doc comment, including the order in which kube reports errors, because the Status
//! message concatenates them.

use crate::names::{
    go_quote, validate_annotations, validate_config_map_key, validate_dns1035_label,
    validate_dns1123_label, validate_dns1123_subdomain, validate_generate_name, validate_labels,
    validate_object_name, validate_port_name, validate_port_num,
};
use crate::selector::{LabelSelector, label_selector_from_object};
use serde_json::{Map, Value};
use std::cell::Cell;

/// One entry of a Status's details.causes, and a line of an "is invalid" message.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The `field.ErrorType`, e.g. `FieldValueInvalid`.
    pub reason: &'static str,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// The `ErrorBody()`, e.g. `Required value` or `Invalid value: "x": detail`.
    pub message: String,
}

fn with_detail(head: String, detail: &str) -> String {
    if detail.is_empty() {
        head
    } else {
        format!("{head}: {detail}")
    }
}

fn required(field: impl Into<String>, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired",
        field: field.into(),
        message: with_detail("Required value".into(), detail),
    }
}

/// `field.Invalid` with an already rendered bad value (see [`go_json`], [`go_quote`]).
fn invalid(field: impl Into<String>, bad: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: with_detail(format!("Invalid value: {bad}"), detail),
    }
}

fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden",
        field: field.into(),
        message: with_detail("Forbidden".into(), detail),
    }
}

fn duplicate(field: impl Into<String>, bad: &str) -> Cause {
    Cause {
        reason: "FieldValueDuplicate",
        field: field.into(),
        message: format!("Duplicate value: {bad}"),
    }
}

fn not_supported(field: impl Into<String>, bad: &str, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    Cause {
        reason: "FieldValueNotSupported",
        field: field.into(),
        message: with_detail(
            format!("Unsupported value: {bad}"),
            &format!("supported values: {}", list.join(", ")),
        ),
    }
}

const FIELD_IMMUTABLE: &str = "field is immutable";

/// Renders a JSON value as Go's `json.Marshal` of a map-typed value would: compact,
/// object keys sorted, and `<`, `>`, `&` escaped.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(&Value::String((*k).clone()), out);
                out.push(':');
                if let Some(x) = m.get(*k) {
                    write_go_json(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(x, out);
            }
            out.push(']');
        }
        Value::String(s) => {
            let enc = Value::String(s.clone()).to_string();
            out.push_str(
                &enc.replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026"),
            );
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A `metav1.LabelSelector` as Go marshals the struct: matchLabels before
/// matchExpressions, empty ones omitted, `null` for a nil pointer.
fn selector_json(sel: Option<&Value>) -> String {
    let Some(obj) = sel.and_then(Value::as_object) else {
        return "null".into();
    };
    let mut parts = Vec::new();
    if let Some(ml) = obj
        .get("matchLabels")
        .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
    {
        parts.push(format!("\"matchLabels\":{}", go_json(ml)));
    }
    if let Some(me) = obj
        .get("matchExpressions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        let exprs: Vec<String> = me
            .iter()
            .map(|e| {
                let mut s = format!(
                    "{{\"key\":{},\"operator\":{}",
                    go_json(e.get("key").unwrap_or(&Value::String(String::new()))),
                    go_json(e.get("operator").unwrap_or(&Value::String(String::new())))
                );
                if let Some(v) = e
                    .get("values")
                    .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                {
                    s.push_str(&format!(",\"values\":{}", go_json(v)));
                }
                s.push('}');
                s
            })
            .collect();
        parts.push(format!("\"matchExpressions\":[{}]", exprs.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

/// The full "is invalid" message as apimachinery's `NewInvalid` formats it:
/// `Kind.group "name" is invalid: field: message`, bracketed and comma-joined when there
/// are several (duplicates dropped), plain `Kind "name"` for the core group.
pub fn invalid_message(group: &str, kind: &str, name: &str, causes: &[Cause]) -> String {
    let gk = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut lines: Vec<String> = Vec::new();
    for c in causes {
        let line = format!("{}: {}", c.field, c.message);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    match lines.len() {
        0 => format!("{gk} {} is invalid", go_quote(name)),
        1 => format!("{gk} {} is invalid: {}", go_quote(name), lines[0]),
        _ => format!("{gk} {} is invalid: [{}]", go_quote(name), lines.join(", ")),
    }
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or_default()
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

/// `ValidateObjectMeta`: generateName, name, labels, annotations.
fn validate_meta(group: &str, kind: &str, obj: &Value, crd_name: Option<&str>) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = s(obj, &["metadata", "name"]);
    let gen_name = s(obj, &["metadata", "generateName"]);
    out.extend(validate_generate_name(group, kind, gen_name));
    if let Some(required) = crd_name.filter(|_| !gen_name.is_empty())
        && gen_name != required
    {
        out.push(invalid(
            "metadata.generateName",
            &go_quote(gen_name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    out.extend(validate_object_name(group, kind, name));
    if let Some(required) = crd_name
        && !name.is_empty()
        && name != required
    {
        out.push(invalid(
            "metadata.name",
            &go_quote(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    out.extend(validate_meta_maps(obj));
    out
}

fn validate_meta_maps(obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    if let Some(l) = get(obj, &["metadata", "labels"]) {
        out.extend(validate_labels(l, "metadata.labels"));
    }
    if let Some(a) = get(obj, &["metadata", "annotations"]) {
        out.extend(validate_annotations(a, "metadata.annotations"));
    }
    out
}

/// Validates an object about to be created; an empty result means it is valid.
pub fn validate_create(group: &str, kind: &str, obj: &Value) -> Vec<Cause> {
    let crd_name =
        (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition").then(|| {
            format!(
                "{}.{}",
                s(obj, &["spec", "names", "plural"]),
                s(obj, &["spec", "group"])
            )
        });
    let mut out = validate_meta(group, kind, obj, crd_name.as_deref());
    out.extend(validate_kind(group, kind, obj, None));
    out
}

/// Validates an update of `old` to `new`; an empty result means it is allowed.
/// The name is not revalidated (it cannot change), matching `ValidateObjectMetaUpdate`.
pub fn validate_update(group: &str, kind: &str, old: &Value, new: &Value) -> Vec<Cause> {
    let mut out = validate_meta_maps(new);
    out.extend(validate_kind(group, kind, new, Some(old)));
    out
}

fn validate_kind(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    match (group, kind) {
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            // ReplicaSet validation reuses Deployment's wording for an empty selector.
            let mut out = validate_replicated_spec(obj, "deployment");
            out.extend(selector_immutable(obj, old));
            out
        }
        ("apps", "DaemonSet") => {
            let mut out = validate_daemon_set_spec(obj);
            out.extend(selector_immutable(obj, old));
            out
        }
        ("apps", "StatefulSet") => validate_stateful_set(obj, old),
        ("batch", "Job") => validate_job(obj, old),
        ("batch", "CronJob") => validate_cron_job(obj, old),
        ("", "Pod") => validate_pod_spec(get(obj, &["spec"]), "spec"),
        ("", "Service") => validate_service(obj),
        ("", "ConfigMap") => validate_config_map(obj, old),
        ("", "Secret") => validate_secret(obj, old),
        ("scheduling.k8s.io", "PriorityClass") => validate_priority_class(obj, old),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => validate_crd(obj, old),
        _ => Vec::new(),
    }
}

/// Compiles `spec.selector`; `Err` carries kube's message for an unusable selector.
fn spec_selector(obj: &Value) -> Result<LabelSelector, String> {
    match get(obj, &["spec", "selector"]) {
        None => Ok(LabelSelector::nothing()),
        Some(sel) => label_selector_from_object(sel),
    }
}

fn template_labels(obj: &Value) -> Option<&Map<String, Value>> {
    get(obj, &["spec", "template", "metadata", "labels"]).and_then(Value::as_object)
}

fn labels_json(obj: &Value) -> String {
    get(obj, &["spec", "template", "metadata", "labels"]).map_or_else(|| "null".into(), go_json)
}

fn selector_mismatch(obj: &Value) -> Cause {
    invalid(
        "spec.template.metadata.labels",
        &labels_json(obj),
        "`selector` does not match template `labels`",
    )
}

/// The `selector` required / non-empty checks shared by Deployment, ReplicaSet, StatefulSet.
fn selector_required(obj: &Value, what: &str) -> Vec<Cause> {
    match get(obj, &["spec", "selector"]) {
        None => vec![required("spec.selector", "")],
        Some(sel) => {
            let n = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .map_or(0, Map::len)
                + arr(sel, &["matchExpressions"]).len();
            if n == 0 {
                vec![invalid(
                    "spec.selector",
                    &selector_json(Some(sel)),
                    &format!("empty selector is invalid for {what}"),
                )]
            } else {
                Vec::new()
            }
        }
    }
}

fn nonnegative(obj: &Value, path: &[&str], field: &str) -> Vec<Cause> {
    match int(get(obj, path)) {
        Some(n) if n < 0 => vec![invalid(
            field,
            &n.to_string(),
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// `ValidateDeploymentSpec` / `ValidateReplicaSetSpec` with `ValidatePodTemplateSpecForReplicaSet`.
fn validate_replicated_spec(obj: &Value, what: &str) -> Vec<Cause> {
    let mut out = nonnegative(obj, &["spec", "replicas"], "spec.replicas");
    out.extend(selector_required(obj, what));
    match spec_selector(obj) {
        Err(_) => out.push(invalid(
            "spec.selector",
            &selector_json(get(obj, &["spec", "selector"])),
            "invalid label selector",
        )),
        Ok(sel) => {
            if !sel.is_empty() && !sel.matches(template_labels(obj)) {
                out.push(selector_mismatch(obj));
            }
            out.extend(validate_pod_template(
                get(obj, &["spec", "template"]),
                "spec.template",
            ));
            out.extend(restart_policy_always(obj));
        }
    }
    out.extend(nonnegative(
        obj,
        &["spec", "minReadySeconds"],
        "spec.minReadySeconds",
    ));
    out
}

fn restart_policy_always(obj: &Value) -> Vec<Cause> {
    let rp = s(obj, &["spec", "template", "spec", "restartPolicy"]);
    if rp != "Always" && !rp.is_empty() {
        vec![not_supported(
            "spec.template.spec.restartPolicy",
            &go_quote(rp),
            &["Always"],
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateDaemonSetSpec`: no Required for a missing selector, but it then matches nothing.
fn validate_daemon_set_spec(obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    if let Ok(sel) = spec_selector(obj)
        && !sel.matches(template_labels(obj))
    {
        out.push(selector_mismatch(obj));
    }
    if let Some(sel) = get(obj, &["spec", "selector"]) {
        let n = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .map_or(0, Map::len)
            + arr(sel, &["matchExpressions"]).len();
        if n == 0 {
            out.push(invalid(
                "spec.selector",
                &selector_json(Some(sel)),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    out.extend(validate_pod_template(
        get(obj, &["spec", "template"]),
        "spec.template",
    ));
    out.extend(restart_policy_always(obj));
    out
}

/// Deployment, ReplicaSet and DaemonSet strategies forbid changing `spec.selector`.
fn selector_immutable(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let Some(old) = old else { return Vec::new() };
    let new_sel = get(obj, &["spec", "selector"]);
    if new_sel != get(old, &["spec", "selector"]) {
        vec![invalid(
            "spec.selector",
            &selector_json(new_sel),
            FIELD_IMMUTABLE,
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateStatefulSetSpec` (which does not validate the pod spec's containers) and,
/// on update, the ban on changing anything but a few spec fields.
fn validate_stateful_set(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let pmp = s(obj, &["spec", "podManagementPolicy"]);
    match pmp {
        "" => out.push(required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => out.push(invalid(
            "spec.podManagementPolicy",
            &go_quote(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    out.extend(nonnegative(obj, &["spec", "replicas"], "spec.replicas"));
    out.extend(nonnegative(
        obj,
        &["spec", "minReadySeconds"],
        "spec.minReadySeconds",
    ));
    out.extend(selector_required(obj, "statefulset"));
    match spec_selector(obj) {
        Err(_) => out.push(invalid(
            "spec.selector",
            &selector_json(get(obj, &["spec", "selector"])),
            "",
        )),
        Ok(sel) => {
            if !sel.is_empty() && !sel.matches(template_labels(obj)) {
                out.push(selector_mismatch(obj));
            }
            if let Some(l) = get(obj, &["spec", "template", "metadata", "labels"]) {
                out.extend(validate_labels(l, "spec.template.labels"));
            }
            if let Some(a) = get(obj, &["spec", "template", "metadata", "annotations"]) {
                out.extend(validate_annotations(a, "spec.template.annotations"));
            }
        }
    }
    out.extend(restart_policy_always(obj));
    if let Some(old) = old {
        let strip = |v: &Value| -> Value {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(m) = spec.as_object_mut() {
                for k in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ] {
                    m.remove(k);
                }
            }
            spec
        };
        if strip(obj) != strip(old) {
            out.push(forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    out
}

/// `ValidateJob` / `ValidateJobSpecUpdate`.
fn validate_job(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    for (k, f) in [
        ("parallelism", "spec.parallelism"),
        ("completions", "spec.completions"),
        ("backoffLimit", "spec.backoffLimit"),
    ] {
        out.extend(nonnegative(obj, &["spec", k], f));
    }
    out.extend(validate_pod_template(
        get(obj, &["spec", "template"]),
        "spec.template",
    ));
    let rp = s(obj, &["spec", "template", "spec", "restartPolicy"]);
    if rp != "OnFailure" && rp != "Never" {
        out.push(not_supported(
            "spec.template.spec.restartPolicy",
            &go_quote(rp),
            &["OnFailure", "Never"],
        ));
    }
    if get(obj, &["spec", "selector"]).is_none() {
        out.push(required("spec.selector", ""));
    }
    if let Ok(sel) = spec_selector(obj)
        && !sel.matches(template_labels(obj))
    {
        out.push(selector_mismatch(obj));
    }
    if let Some(old) = old {
        let new_sel = get(obj, &["spec", "selector"]);
        if new_sel != get(old, &["spec", "selector"]) {
            out.push(invalid(
                "spec.selector",
                &selector_json(new_sel),
                FIELD_IMMUTABLE,
            ));
        }
        let new_t = obj
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        let mut old_t = old
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        // A suspended Job that never started may change its scheduling directives.
        let suspended = obj
            .pointer("/spec/suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if suspended && old.pointer("/status/startTime").is_none() {
            for p in [
                "/metadata/labels",
                "/metadata/annotations",
                "/spec/nodeSelector",
                "/spec/affinity",
                "/spec/tolerations",
                "/spec/schedulingGates",
            ] {
                set_pointer(&mut old_t, p, new_t.pointer(p).cloned());
            }
        }
        if new_t != old_t {
            out.push(invalid(
                "spec.template",
                &go_dump_pod_template(&new_t),
                FIELD_IMMUTABLE,
            ));
        }
        for (k, f) in [
            ("completionMode", "spec.completionMode"),
            ("podFailurePolicy", "spec.podFailurePolicy"),
        ] {
            let (n, o) = (get(obj, &["spec", k]), get(old, &["spec", k]));
            if n != o {
                let bad = n.map_or_else(
                    || "null".into(),
                    |v| v.as_str().map_or_else(|| go_json(v), go_quote),
                );
                out.push(invalid(f, &bad, FIELD_IMMUTABLE));
            }
        }
    }
    out
}

fn set_pointer(target: &mut Value, pointer: &str, value: Option<Value>) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if target.pointer(parent).is_none() && value.is_some() {
        let mut cur = &mut *target;
        for seg in parent.split('/').filter(|s| !s.is_empty()) {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let Some(m) = cur.as_object_mut() else { return };
            cur = m
                .entry(seg.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    if let Some(m) = target.pointer_mut(parent).and_then(Value::as_object_mut) {
        match value {
            Some(v) => {
                m.insert(key.to_string(), v);
            }
            None => {
                m.remove(key);
            }
        }
    }
}

/// `ValidateCronJobCreate`: the name leaves room for the 11-character Job suffix.
fn validate_cron_job(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = s(obj, &["metadata", "name"]);
    if old.is_none() && name.len() > 52 {
        out.push(invalid(
            "metadata.name",
            &go_quote(name),
            "must be no more than 52 characters",
        ));
    }
    if s(obj, &["spec", "schedule"]).is_empty() {
        out.push(required("spec.schedule", ""));
    }
    let tmpl = get(obj, &["spec", "jobTemplate", "spec", "template"]);
    out.extend(validate_pod_template(
        tmpl,
        "spec.jobTemplate.spec.template",
    ));
    out
}

/// `ValidatePodTemplateSpec`: template labels/annotations (reported at
/// `<path>.labels`, not `.metadata.labels`) and the pod spec.
fn validate_pod_template(tmpl: Option<&Value>, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let Some(t) = tmpl else {
        return validate_pod_spec(None, &format!("{path}.spec"));
    };
    if let Some(l) = get(t, &["metadata", "labels"]) {
        out.extend(validate_labels(l, &format!("{path}.labels")));
    }
    if let Some(a) = get(t, &["metadata", "annotations"]) {
        out.extend(validate_annotations(a, &format!("{path}.annotations")));
    }
    out.extend(validate_pod_spec(
        get(t, &["spec"]),
        &format!("{path}.spec"),
    ));
    out
}

/// The parts of `ValidatePodSpec` that concern containers.
fn validate_pod_spec(spec: Option<&Value>, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let empty = Value::Null;
    let spec = spec.unwrap_or(&empty);
    let containers = arr(spec, &["containers"]);
    let mut names: Vec<&str> = Vec::new();
    if containers.is_empty() {
        out.push(required(format!("{path}.containers"), ""));
    } else {
        for (i, c) in containers.iter().enumerate() {
            let p = format!("{path}.containers[{i}]");
            out.extend(validate_container(c, &p));
            let n = s(c, &["name"]);
            if names.contains(&n) {
                out.push(duplicate(format!("{p}.name"), &go_quote(n)));
            } else {
                names.push(n);
            }
        }
    }
    for (i, c) in arr(spec, &["initContainers"]).iter().enumerate() {
        let p = format!("{path}.initContainers[{i}]");
        out.extend(validate_container(c, &p));
        let n = s(c, &["name"]);
        if names.contains(&n) {
            out.push(duplicate(format!("{p}.name"), &go_quote(n)));
        } else {
            names.push(n);
        }
    }
    out
}

/// `validateContainerCommon`: name, image, ports, env names.
fn validate_container(c: &Value, p: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = s(c, &["name"]);
    if name.is_empty() {
        out.push(required(format!("{p}.name"), ""));
    } else {
        for m in validate_dns1123_label(name) {
            out.push(invalid(format!("{p}.name"), &go_quote(name), &m));
        }
    }
    if s(c, &["image"]).is_empty() {
        out.push(required(format!("{p}.image"), ""));
    }
    let mut port_names: Vec<&str> = Vec::new();
    for (i, port) in arr(c, &["ports"]).iter().enumerate() {
        let pp = format!("{p}.ports[{i}]");
        let pn = s(port, &["name"]);
        if !pn.is_empty() {
            let msgs = validate_port_name(pn);
            if !msgs.is_empty() {
                for m in msgs {
                    out.push(invalid(format!("{pp}.name"), &go_quote(pn), &m));
                }
            } else if port_names.contains(&pn) {
                out.push(duplicate(format!("{pp}.name"), &go_quote(pn)));
            } else {
                port_names.push(pn);
            }
        }
        match int(port.get("containerPort")) {
            None | Some(0) => out.push(required(format!("{pp}.containerPort"), "")),
            Some(n) => {
                for m in validate_port_num(n) {
                    out.push(invalid(format!("{pp}.containerPort"), &n.to_string(), &m));
                }
            }
        }
        if let Some(h) = int(port.get("hostPort")).filter(|h| *h != 0) {
            for m in validate_port_num(h) {
                out.push(invalid(format!("{pp}.hostPort"), &h.to_string(), &m));
            }
        }
        out.extend(protocol(port, &format!("{pp}.protocol")));
    }
    for (i, e) in arr(c, &["env"]).iter().enumerate() {
        let n = s(e, &["name"]);
        let f = format!("{p}.env[{i}].name");
        if n.is_empty() {
            out.push(required(f, ""));
        } else if n
            .chars()
            .any(|ch| !ch.is_ascii() || ch.is_ascii_control() || ch == '=')
        {
            out.push(invalid(f, &go_quote(n), "a valid environment variable name must consist only of printable ASCII characters other than '='"));
        }
    }
    out
}

fn protocol(port: &Value, field: &str) -> Vec<Cause> {
    match s(port, &["protocol"]) {
        "" => vec![required(field, "")],
        "TCP" | "UDP" | "SCTP" => Vec::new(),
        other => vec![not_supported(
            field,
            &go_quote(other),
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

/// `ValidateService`: ports (required unless headless or ExternalName), port ranges,
/// names, protocols, target ports, type, selector labels.
fn validate_service(obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let ty = s(obj, &["spec", "type"]);
    let cluster_ip = arr(obj, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(obj, &["spec", "clusterIP"]));
    let headless = (ty == "ClusterIP" || ty.is_empty()) && cluster_ip == "None";
    let ports = arr(obj, &["spec", "ports"]);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        out.push(required("spec.ports", ""));
    }
    if ty == "ExternalName" {
        let cname = s(obj, &["spec", "externalName"]).trim_end_matches('.');
        if cname.is_empty() {
            out.push(required("spec.externalName", ""));
        } else {
            for m in validate_dns1123_subdomain(cname) {
                out.push(invalid("spec.externalName", &go_quote(cname), &m));
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, sp) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        let name = s(sp, &["name"]);
        if ports.len() > 1 && name.is_empty() {
            out.push(required(format!("{pp}.name"), ""));
        } else if !name.is_empty() {
            for m in validate_dns1123_label(name) {
                out.push(invalid(format!("{pp}.name"), &go_quote(name), &m));
            }
            if names.contains(&name) {
                out.push(duplicate(format!("{pp}.name"), &go_quote(name)));
            } else {
                names.push(name);
            }
        }
        let port = int(sp.get("port")).unwrap_or(0);
        for m in validate_port_num(port) {
            out.push(invalid(format!("{pp}.port"), &port.to_string(), &m));
        }
        out.extend(protocol(sp, &format!("{pp}.protocol")));
        match sp.get("targetPort") {
            Some(Value::Number(n)) => {
                let t = n.as_i64().unwrap_or(0);
                for m in validate_port_num(t) {
                    out.push(invalid(format!("{pp}.targetPort"), &t.to_string(), &m));
                }
            }
            Some(Value::String(t)) => {
                for m in validate_port_name(t) {
                    out.push(invalid(format!("{pp}.targetPort"), &go_quote(t), &m));
                }
            }
            _ => {}
        }
    }
    if let Some(sel) = get(obj, &["spec", "selector"]) {
        out.extend(validate_labels(sel, "spec.selector"));
    }
    match ty {
        "" => out.push(required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => out.push(not_supported(
            "spec.type",
            &go_quote(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    let mut seen: Vec<(String, i64)> = Vec::new();
    for (i, sp) in ports.iter().enumerate() {
        let key = (
            s(sp, &["protocol"]).to_string(),
            int(sp.get("port")).unwrap_or(0),
        );
        if seen.contains(&key) {
            // Go marshals the internal core.ServicePort, whose fields carry no json tags.
            let bad = format!(
                "{{\"Name\":\"\",\"Protocol\":{},\"AppProtocol\":null,\"Port\":{},\"TargetPort\":0,\"NodePort\":0}}",
                go_quote(&key.0),
                key.1
            );
            out.push(duplicate(format!("spec.ports[{i}]"), &bad));
        } else {
            seen.push(key);
        }
    }
    out
}

fn immutable_flag(obj: &Value) -> bool {
    obj.get("immutable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `ValidateConfigMap` (+ `ValidateConfigMapUpdate`'s `immutable` rules).
fn validate_config_map(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let data = obj.get("data").and_then(Value::as_object);
    let binary = obj.get("binaryData").and_then(Value::as_object);
    for (bag, m) in [("data", data), ("binaryData", binary)] {
        let Some(m) = m else { continue };
        for key in m.keys() {
            for msg in validate_config_map_key(key) {
                out.push(invalid(format!("{bag}[{key}]"), &go_quote(key), &msg));
            }
            if bag == "data" && binary.is_some_and(|b| b.contains_key(key)) {
                out.push(invalid(
                    format!("data[{key}]"),
                    &go_quote(key),
                    "duplicate of key present in binaryData",
                ));
            }
        }
    }
    if let Some(old) = old
        && immutable_flag(old)
    {
        if !immutable_flag(obj) {
            out.push(forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        if obj.get("data") != old.get("data") {
            out.push(forbidden(
                "data",
                "field is immutable when `immutable` is set",
            ));
        }
        if obj.get("binaryData") != old.get("binaryData") {
            out.push(forbidden(
                "binaryData",
                "field is immutable when `immutable` is set",
            ));
        }
    }
    out
}

/// `ValidateSecret` (+ update rules). stringData is merged into data before kube
/// validates, so its keys are reported under `data[...]` too.
fn validate_secret(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = Vec::new();
    for bag in ["data", "stringData"] {
        if let Some(m) = obj.get(bag).and_then(Value::as_object) {
            keys.extend(m.keys().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
        }
    }
    for key in &keys {
        for msg in validate_config_map_key(key) {
            out.push(invalid(format!("data[{key}]"), &go_quote(key), &msg));
        }
    }
    let has = |k: &str| keys.iter().any(|x| x.as_str() == k);
    match s(obj, &["type"]) {
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    out.push(required(format!("data[{k}]"), ""));
                }
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            out.push(required("data[.dockercfg]", ""))
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            out.push(required("data[.dockerconfigjson]", ""))
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            out.push(required("data[ssh-privatekey]", ""))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            out.push(required("data[username]", ""));
            out.push(required("data[password]", ""));
        }
        _ => {}
    }
    if let Some(old) = old {
        let (nt, ot) = (s(obj, &["type"]), s(old, &["type"]));
        if nt != ot {
            out.push(invalid("type", &go_quote(nt), FIELD_IMMUTABLE));
        }
        if immutable_flag(old) {
            if !immutable_flag(obj) {
                out.push(forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if obj.get("data") != old.get("data") || obj.get("stringData").is_some() {
                out.push(forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    out
}

/// `ValidatePriorityClass` / `ValidatePriorityClassUpdate`. Note kube does not require
/// `value`: a missing one decodes as 0.
fn validate_priority_class(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = s(obj, &["metadata", "name"]);
    let value = int(obj.get("value")).unwrap_or(0);
    if old.is_none() {
        if let Some(rest) = name.strip_prefix("system-") {
            let known = match rest {
                "cluster-critical" => Some(2_000_000_000),
                "node-critical" => Some(2_000_001_000),
                _ => None,
            };
            let err = match known {
                None => Some(format!("{name} is not a known system priority class")),
                Some(v) if v != value => Some(format!("value of {name} PriorityClass must be {v}")),
                Some(_)
                    if obj
                        .get("globalDefault")
                        .and_then(Value::as_bool)
                        .unwrap_or(false) =>
                {
                    Some(format!(
                        "globalDefault of {name} PriorityClass must be false"
                    ))
                }
                Some(_) => None,
            };
            if let Some(e) = err {
                out.push(forbidden(
                    "metadata.name",
                    &format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
                ));
            }
        } else if value > 1_000_000_000 {
            out.push(forbidden(
                "value",
                "maximum allowed value of a user defined priority is 1000000000",
            ));
        }
    }
    if let Some(pp) = get(obj, &["preemptionPolicy"]).and_then(Value::as_str)
        && pp != "Never"
        && pp != "PreemptLowerPriority"
    {
        out.push(not_supported(
            "preemptionPolicy",
            &go_quote(pp),
            &["Never", "PreemptLowerPriority"],
        ));
    }
    if let Some(old) = old {
        if value != int(old.get("value")).unwrap_or(0) {
            out.push(forbidden("value", "may not be changed in an update."));
        }
        let (np, op) = (
            get(obj, &["preemptionPolicy"]),
            get(old, &["preemptionPolicy"]),
        );
        if np != op {
            let bad = np
                .and_then(Value::as_str)
                .map_or_else(|| "null".into(), go_quote);
            out.push(invalid("preemptionPolicy", &bad, FIELD_IMMUTABLE));
        }
    }
    out
}

/// Go's `json.Marshal` of the internal `[]apiextensions.CustomResourceDefinitionVersion`,
/// whose fields have no json tags (only the leading fields matter for comparison).
fn crd_versions_json(versions: &[Value]) -> String {
    let items: Vec<String> = versions
        .iter()
        .map(|v| {
            let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            let schema = v
                .get("schema")
                .and_then(|s| s.get("openAPIV3Schema"))
                .map_or_else(|| "null".into(), |s| format!("{{\"OpenAPIV3Schema\":{}}}", go_json(s)));
            format!(
                "{{\"Name\":{},\"Served\":{},\"Storage\":{},\"Deprecated\":{},\"DeprecationWarning\":{},\"Schema\":{schema},\"Subresources\":{},\"AdditionalPrinterColumns\":{},\"SelectableFields\":{}}}",
                go_quote(s(v, &["name"])),
                b("served"),
                b("storage"),
                b("deprecated"),
                v.get("deprecationWarning").and_then(Value::as_str).map_or_else(|| "null".into(), go_quote),
                v.get("subresources").map_or_else(|| "null".into(), go_json),
                v.get("additionalPrinterColumns").map_or_else(|| "null".into(), go_json),
                v.get("selectableFields").map_or_else(|| "null".into(), go_json),
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// `validateCustomResourceDefinitionSpec`'s basic checks and `ValidateCustomResourceDefinitionNames`.
fn validate_crd(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let group = s(obj, &["spec", "group"]);
    if group.is_empty() {
        out.push(required("spec.group", ""));
    } else {
        let errs = validate_dns1123_subdomain(group);
        if !errs.is_empty() {
            out.push(invalid("spec.group", &go_quote(group), &errs.join(",")));
        } else if !group.contains('.') {
            out.push(invalid(
                "spec.group",
                &go_quote(group),
                "should be a domain with at least one dot",
            ));
        }
    }
    match s(obj, &["spec", "scope"]) {
        "" => out.push(required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => out.push(not_supported(
            "spec.scope",
            &go_quote(other),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = arr(obj, &["spec", "versions"]);
    let mut storage = 0;
    let mut seen: Vec<&str> = Vec::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        if v.get("storage").and_then(Value::as_bool).unwrap_or(false) {
            storage += 1;
        }
        let name = s(v, &["name"]);
        if seen.contains(&name) {
            unique = false;
        } else {
            seen.push(name);
        }
        let errs = validate_dns1035_label(name);
        if !errs.is_empty() {
            out.push(invalid(
                format!("spec.versions[{i}].name"),
                &go_quote(name),
                &errs.join(","),
            ));
        }
    }
    if !unique {
        out.push(invalid(
            "spec.versions",
            &crd_versions_json(versions),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        out.push(invalid(
            "spec.versions",
            &crd_versions_json(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    for k in ["plural", "singular", "kind", "listKind"] {
        if s(obj, &["spec", "names", k]).is_empty() {
            out.push(required(format!("spec.names.{k}"), ""));
        }
    }
    for (k, mixed) in [
        ("plural", false),
        ("singular", false),
        ("kind", true),
        ("listKind", true),
    ] {
        let v = s(obj, &["spec", "names", k]);
        if v.is_empty() {
            continue;
        }
        let errs = validate_dns1035_label(&if mixed {
            v.to_lowercase()
        } else {
            v.to_string()
        });
        if !errs.is_empty() {
            let detail = if mixed {
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                )
            } else {
                errs.join(",")
            };
            out.push(invalid(format!("spec.names.{k}"), &go_quote(v), &detail));
        }
    }
    for (i, sn) in arr(obj, &["spec", "names", "shortNames"])
        .iter()
        .enumerate()
    {
        let sn = sn.as_str().unwrap_or_default();
        let errs = validate_dns1035_label(sn);
        if !errs.is_empty() {
            out.push(invalid(
                format!("spec.names.shortNames[{i}]"),
                &go_quote(sn),
                &errs.join(","),
            ));
        }
    }
    let (kind, list_kind) = (
        s(obj, &["spec", "names", "kind"]),
        s(obj, &["spec", "names", "listKind"]),
    );
    if !kind.is_empty() && kind == list_kind {
        out.push(invalid(
            "spec.names.listKind",
            &go_quote(list_kind),
            "kind and listKind may not be the same",
        ));
    }
    if let Some(old) = old {
        let (ns, os) = (s(obj, &["spec", "scope"]), s(old, &["spec", "scope"]));
        if ns != os {
            out.push(invalid("spec.scope", &go_quote(ns), FIELD_IMMUTABLE));
        }
    }
    out
}

// ---- Go `%#v` rendering of the internal core.PodTemplateSpec (Job template errors) ----

thread_local! {
    static FAKE_ADDR: Cell<u64> = const { Cell::new(0x00c0_001a_2b00) };
}

/// A plausible heap address for a non-nil pointer, as `%#v` prints one.
fn fake_addr() -> String {
    FAKE_ADDR.with(|a| {
        let v = a.get();
        a.set(v + 0x18);
        format!("0x{v:x}")
    })
}

fn d_str(v: &Value, k: &str) -> String {
    go_quote(v.get(k).and_then(Value::as_str).unwrap_or_default())
}

fn d_strs(v: &Value, k: &str) -> String {
    match v.get(k).and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            let items: Vec<String> = a
                .iter()
                .map(|x| go_quote(x.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
        _ => "[]string(nil)".into(),
    }
}

fn d_map(v: &Value, k: &str, ty: &str) -> String {
    match v.get(k).and_then(Value::as_object) {
        Some(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|key| {
                    let val = m.get(*key).map_or_else(String::new, |x| match x {
                        Value::String(s) => go_quote(s),
                        other => go_quote(&other.to_string()),
                    });
                    format!("{}:{val}", go_quote(key))
                })
                .collect();
            format!("{ty}{{{}}}", items.join(", "))
        }
        _ => format!("{ty}(nil)"),
    }
}

fn d_ptr(v: &Value, k: &str, ty: &str) -> String {
    if v.get(k).is_some_and(|x| !x.is_null()) {
        format!("(*{ty})({})", fake_addr())
    } else {
        format!("(*{ty})(nil)")
    }
}

fn d_bool(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn d_int(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_i64).unwrap_or(0).to_string()
}

/// A slice of structs whose layout we do not spell out: element fields rendered generically.
fn d_slice(v: &Value, k: &str, elem: &str) -> String {
    match v.get(k).and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            let items: Vec<String> = a
                .iter()
                .map(|x| format!("{elem}{}", d_generic(x)))
                .collect();
            format!("[]{elem}{{{}}}", items.join(", "))
        }
        _ => format!("[]{elem}(nil)"),
    }
}

fn d_generic(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, x)| {
                    let mut name: String = k.chars().take(1).flat_map(char::to_uppercase).collect();
                    name.push_str(&k.chars().skip(1).collect::<String>());
                    format!("{name}:{}", d_generic(x))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter().map(d_generic).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

fn d_resource_list(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        Some(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| {
                    let q = m.get(*k).map_or_else(String::new, |x| x.as_str().map_or_else(|| x.to_string(), str::to_string));
                    format!("{}:resource.Quantity{{i:resource.int64Amount{{value:0, scale:0}}, d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:{}, Format:\"DecimalSI\"}}", go_quote(k), go_quote(&q))
                })
                .collect();
            format!("core.ResourceList{{{}}}", items.join(", "))
        }
        _ => "core.ResourceList(nil)".into(),
    }
}

fn d_container(c: &Value) -> String {
    let ports = match c.get("ports").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            let items: Vec<String> = a
                .iter()
                .map(|p| {
                    format!(
                        "core.ContainerPort{{Name:{}, HostPort:{}, ContainerPort:{}, Protocol:{}, HostIP:{}}}",
                        d_str(p, "name"),
                        d_int(p, "hostPort"),
                        d_int(p, "containerPort"),
                        d_str(p, "protocol"),
                        d_str(p, "hostIP")
                    )
                })
                .collect();
            format!("[]core.ContainerPort{{{}}}", items.join(", "))
        }
        _ => "[]core.ContainerPort(nil)".into(),
    };
    let env = match c.get("env").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            let items: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "core.EnvVar{{Name:{}, Value:{}, ValueFrom:{}}}",
                        d_str(e, "name"),
                        d_str(e, "value"),
                        d_ptr(e, "valueFrom", "core.EnvVarSource")
                    )
                })
                .collect();
            format!("[]core.EnvVar{{{}}}", items.join(", "))
        }
        _ => "[]core.EnvVar(nil)".into(),
    };
    let res = c.get("resources").cloned().unwrap_or(Value::Null);
    format!(
        "core.Container{{Name:{}, Image:{}, Command:{}, Args:{}, WorkingDir:{}, Ports:{ports}, EnvFrom:{}, Env:{env}, Resources:core.ResourceRequirements{{Limits:{}, Requests:{}, Claims:{}}}, ResizePolicy:{}, RestartPolicy:{}, VolumeMounts:{}, VolumeDevices:{}, LivenessProbe:{}, ReadinessProbe:{}, StartupProbe:{}, Lifecycle:{}, TerminationMessagePath:{}, TerminationMessagePolicy:{}, ImagePullPolicy:{}, SecurityContext:{}, Stdin:{}, StdinOnce:{}, TTY:{}}}",
        d_str(c, "name"),
        d_str(c, "image"),
        d_strs(c, "command"),
        d_strs(c, "args"),
        d_str(c, "workingDir"),
        d_slice(c, "envFrom", "core.EnvFromSource"),
        d_resource_list(res.get("limits")),
        d_resource_list(res.get("requests")),
        d_slice(&res, "claims", "core.ResourceClaim"),
        d_slice(c, "resizePolicy", "core.ContainerResizePolicy"),
        d_ptr(c, "restartPolicy", "core.ContainerRestartPolicy"),
        d_slice(c, "volumeMounts", "core.VolumeMount"),
        d_slice(c, "volumeDevices", "core.VolumeDevice"),
        d_ptr(c, "livenessProbe", "core.Probe"),
        d_ptr(c, "readinessProbe", "core.Probe"),
        d_ptr(c, "startupProbe", "core.Probe"),
        d_ptr(c, "lifecycle", "core.Lifecycle"),
        d_str(c, "terminationMessagePath"),
        d_str(c, "terminationMessagePolicy"),
        d_str(c, "imagePullPolicy"),
        d_ptr(c, "securityContext", "core.SecurityContext"),
        d_bool(c, "stdin"),
        d_bool(c, "stdinOnce"),
        d_bool(c, "tty"),
    )
}

fn d_containers(v: &Value, k: &str) -> String {
    match v.get(k).and_then(Value::as_array) {
        Some(a) if !a.is_empty() => format!(
            "[]core.Container{{{}}}",
            a.iter().map(d_container).collect::<Vec<_>>().join(", ")
        ),
        _ => "[]core.Container(nil)".into(),
    }
}

/// Renders a v1 pod template the way Go's `%#v` prints the internal `core.PodTemplateSpec`
/// kube embeds in "field is immutable" errors (pointer addresses are invented).
pub fn go_dump_pod_template(t: &Value) -> String {
    let empty = Value::Null;
    let m = t.get("metadata").unwrap_or(&empty);
    let sp = t.get("spec").unwrap_or(&empty);
    let meta = format!(
        "v1.ObjectMeta{{Name:{}, GenerateName:{}, Namespace:{}, SelfLink:\"\", UID:\"\", ResourceVersion:\"\", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:{}, Annotations:{}, OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string(nil), ManagedFields:[]v1.ManagedFieldsEntry(nil)}}",
        d_str(m, "name"),
        d_str(m, "generateName"),
        d_str(m, "namespace"),
        d_map(m, "labels", "map[string]string"),
        d_map(m, "annotations", "map[string]string"),
    );
    let spec = format!(
        "core.PodSpec{{Volumes:{}, InitContainers:{}, Containers:{}, EphemeralContainers:{}, RestartPolicy:{}, TerminationGracePeriodSeconds:{}, ActiveDeadlineSeconds:{}, DNSPolicy:{}, NodeSelector:{}, ServiceAccountName:{}, AutomountServiceAccountToken:{}, NodeName:{}, SecurityContext:(*core.PodSecurityContext)({}), ImagePullSecrets:{}, Hostname:{}, Subdomain:{}, SetHostnameAsFQDN:{}, Affinity:{}, SchedulerName:{}, Tolerations:{}, HostAliases:{}, PriorityClassName:{}, Priority:{}, PreemptionPolicy:{}, DNSConfig:{}, ReadinessGates:{}, RuntimeClassName:{}, Overhead:{}, EnableServiceLinks:{}, TopologySpreadConstraints:{}, OS:{}, SchedulingGates:{}, ResourceClaims:{}, Resources:{}}}",
        d_slice(sp, "volumes", "core.Volume"),
        d_containers(sp, "initContainers"),
        d_containers(sp, "containers"),
        d_slice(sp, "ephemeralContainers", "core.EphemeralContainer"),
        d_str(sp, "restartPolicy"),
        d_ptr(sp, "terminationGracePeriodSeconds", "int64"),
        d_ptr(sp, "activeDeadlineSeconds", "int64"),
        d_str(sp, "dnsPolicy"),
        d_map(sp, "nodeSelector", "map[string]string"),
        d_str(sp, "serviceAccountName"),
        d_ptr(sp, "automountServiceAccountToken", "bool"),
        d_str(sp, "nodeName"),
        // The internal type always carries a security context (host namespaces live there).
        fake_addr(),
        d_slice(sp, "imagePullSecrets", "core.LocalObjectReference"),
        d_str(sp, "hostname"),
        d_str(sp, "subdomain"),
        d_ptr(sp, "setHostnameAsFQDN", "bool"),
        d_ptr(sp, "affinity", "core.Affinity"),
        d_str(sp, "schedulerName"),
        d_slice(sp, "tolerations", "core.Toleration"),
        d_slice(sp, "hostAliases", "core.HostAlias"),
        d_str(sp, "priorityClassName"),
        d_ptr(sp, "priority", "int32"),
        d_ptr(sp, "preemptionPolicy", "core.PreemptionPolicy"),
        d_ptr(sp, "dnsConfig", "core.PodDNSConfig"),
        d_slice(sp, "readinessGates", "core.PodReadinessGate"),
        d_ptr(sp, "runtimeClassName", "string"),
        d_resource_list(sp.get("overhead")),
        d_ptr(sp, "enableServiceLinks", "bool"),
        d_slice(
            sp,
            "topologySpreadConstraints",
            "core.TopologySpreadConstraint"
        ),
        d_ptr(sp, "os", "core.PodOS"),
        d_slice(sp, "schedulingGates", "core.PodSchedulingGate"),
        d_slice(sp, "resourceClaims", "core.PodResourceClaim"),
        d_ptr(sp, "resources", "core.ResourceRequirements"),
    );
    format!("core.PodTemplateSpec{{ObjectMeta:{meta}, Spec:{spec}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(sel: Value, labels: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": sel,
                "template": {"metadata": {"labels": labels},
                    "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "nginx"}]}}}
        })
    }

    #[test]
    fn recorded_invalid_name_message() {
        let obj = json!({"metadata": {"name": "Bad_Name"}});
        let causes = validate_create("", "ConfigMap", &obj);
        assert_eq!(
            invalid_message("", "ConfigMap", "Bad_Name", &causes),
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn message_aggregation() {
        let a = required("spec.a", "");
        let b = invalid("spec.b", "1", "bad");
        assert_eq!(
            invalid_message("apps", "Deployment", "x", &[a.clone(), b, a]),
            "Deployment.apps \"x\" is invalid: [spec.a: Required value, spec.b: Invalid value: 1: bad]"
        );
    }

    #[test]
    fn deployment_selector_checks() {
        assert!(
            validate_create(
                "apps",
                "Deployment",
                &deployment(
                    json!({"matchLabels": {"app": "web"}}),
                    json!({"app": "web"})
                )
            )
            .is_empty()
        );
        let c = validate_create(
            "apps",
            "Deployment",
            &deployment(json!({"matchLabels": {"app": "x"}}), json!({"app": "web"})),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "spec.template.metadata.labels");
        assert_eq!(
            c[0].message,
            "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
        );
        let mut no_sel = deployment(Value::Null, json!({"app": "web"}));
        if let Some(spec) = no_sel.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("selector");
        }
        let c = validate_create("apps", "Deployment", &no_sel);
        assert_eq!(c[0].message, "Required value");
        assert_eq!(c[1].field, "spec.template.metadata.labels");
        let c = validate_create(
            "apps",
            "Deployment",
            &deployment(json!({}), json!({"app": "web"})),
        );
        assert_eq!(
            c[0].message,
            "Invalid value: {}: empty selector is invalid for deployment"
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web", "v": "2"}),
        );
        let new = deployment(
            json!({"matchLabels": {"app": "web", "v": "2"}}),
            json!({"app": "web", "v": "2"}),
        );
        let c = validate_update("apps", "Deployment", &old, &new);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].message,
            "Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable"
        );
    }

    #[test]
    fn container_checks() {
        let mut d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        if let Some(t) = d.pointer_mut("/spec/template/spec/containers") {
            *t = json!([{"name": "Bad"}, {"name": "", "image": "x"}, {"name": "Bad", "image": "y", "ports": [{"containerPort": 70000, "protocol": "TCP"}]}]);
        }
        let c = validate_create("apps", "Deployment", &d);
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.template.spec.containers[0].name",
                "spec.template.spec.containers[0].image",
                "spec.template.spec.containers[1].name",
                "spec.template.spec.containers[2].name",
                "spec.template.spec.containers[2].ports[0].containerPort",
                "spec.template.spec.containers[2].name",
            ]
        );
        assert_eq!(c[5].message, "Duplicate value: \"Bad\"");
        assert_eq!(
            c[4].message,
            "Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        let mut d2 = d.clone();
        if let Some(t) = d2.pointer_mut("/spec/template/spec/containers") {
            *t = json!([]);
        }
        assert_eq!(
            validate_create("apps", "Deployment", &d2)[0].field,
            "spec.template.spec.containers"
        );
    }

    #[test]
    fn recorded_job_template_immutable() {
        let tmpl = |image: &str| {
            json!({"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "uid1", "batch.kubernetes.io/job-name": "migrate", "controller-uid": "uid1", "job-name": "migrate"}},
                   "spec": {"containers": [{"name": "m", "image": image, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent", "resources": {}}],
                            "restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"}})
        };
        let job = |image: &str| json!({"metadata": {"name": "migrate"}, "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid1"}}, "template": tmpl(image)}});
        let c = validate_update(
            "batch",
            "Job",
            &job("example.org/migrate:1"),
            &job("example.org/migrate:2"),
        );
        assert_eq!(c.len(), 1, "{c:#?}");
        assert_eq!(c[0].field, "spec.template");
        let recorded = "Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:\"\", GenerateName:\"\", Namespace:\"\", SelfLink:\"\", UID:\"\", ResourceVersion:\"\", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"uid1\", \"batch.kubernetes.io/job-name\":\"migrate\", \"controller-uid\":\"uid1\", \"job-name\":\"migrate\"}, Annotations:map[string]string(nil), OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string(nil), ManagedFields:[]v1.ManagedFieldsEntry(nil)}, Spec:core.PodSpec{Volumes:[]core.Volume(nil), InitContainers:[]core.Container(nil), Containers:[]core.Container{core.Container{Name:\"m\", Image:\"example.org/migrate:2\", Command:[]string(nil), Args:[]string(nil), WorkingDir:\"\", Ports:[]core.ContainerPort(nil), EnvFrom:[]core.EnvFromSource(nil), Env:[]core.EnvVar(nil), Resources:core.ResourceRequirements{Limits:core.ResourceList(nil), Requests:core.ResourceList(nil), Claims:[]core.ResourceClaim(nil)}, ResizePolicy:[]core.ContainerResizePolicy(nil), RestartPolicy:(*core.ContainerRestartPolicy)(nil), VolumeMounts:[]core.VolumeMount(nil), VolumeDevices:[]core.VolumeDevice(nil), LivenessProbe:(*core.Probe)(nil), ReadinessProbe:(*core.Probe)(nil), StartupProbe:(*core.Probe)(nil), Lifecycle:(*core.Lifecycle)(nil), TerminationMessagePath:\"/dev/termination-log\", TerminationMessagePolicy:\"File\", ImagePullPolicy:\"IfNotPresent\", SecurityContext:(*core.SecurityContext)(nil), Stdin:false, StdinOnce:false, TTY:false}}, EphemeralContainers:[]core.EphemeralContainer(nil), RestartPolicy:\"Never\", TerminationGracePeriodSeconds:(*int64)(";
        assert!(c[0].message.starts_with(recorded), "{}", c[0].message);
        assert!(c[0].message.ends_with("}: field is immutable"));
        assert!(c[0].message.len() > 300);
        let msg = invalid_message("batch", "Job", "migrate", &c);
        assert!(msg.starts_with("Job.batch \"migrate\" is invalid: spec.template: Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:\"\", GenerateName:\"\""));
        // Unchanged template: no error.
        assert!(validate_update("batch", "Job", &job("a"), &job("a")).is_empty());
    }

    #[test]
    fn service_checks() {
        let svc = |spec: Value| json!({"metadata": {"name": "api"}, "spec": spec});
        assert_eq!(
            validate_create(
                "",
                "Service",
                &svc(json!({"type": "ClusterIP", "clusterIP": "10.0.0.1"}))
            )[0]
            .field,
            "spec.ports"
        );
        assert!(
            validate_create(
                "",
                "Service",
                &svc(json!({"type": "ClusterIP", "clusterIP": "None"}))
            )
            .is_empty()
        );
        let c = validate_create(
            "",
            "Service",
            &svc(
                json!({"type": "ClusterIP", "ports": [{"port": 0, "protocol": "TCP", "targetPort": 0}]}),
            ),
        );
        assert_eq!(
            c[0].message,
            "Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        assert_eq!(c[1].field, "spec.ports[0].targetPort");
        assert_eq!(validate_create("", "Service", &json!({"metadata": {"name": "1api"}, "spec": {"type": "ExternalName", "externalName": "x.com"}}))[0].field, "metadata.name");
    }

    #[test]
    fn config_and_secret_keys() {
        let c = validate_create(
            "",
            "ConfigMap",
            &json!({"metadata": {"name": "c"}, "data": {"bad key": "v", "ok": "v"}}),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "data[bad key]");
        assert!(c[0].message.starts_with("Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
        let c = validate_create(
            "",
            "Secret",
            &json!({"metadata": {"name": "s"}, "stringData": {"a/b": "v"}}),
        );
        assert_eq!(c[0].field, "data[a/b]");
        let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            validate_update("", "ConfigMap", &old, &new)[0].message,
            "Forbidden: field is immutable when `immutable` is set"
        );
    }

    #[test]
    fn priority_class() {
        assert!(
            validate_create(
                "scheduling.k8s.io",
                "PriorityClass",
                &json!({"metadata": {"name": "high"}, "value": 1000})
            )
            .is_empty()
        );
        let c = validate_create(
            "scheduling.k8s.io",
            "PriorityClass",
            &json!({"metadata": {"name": "high"}, "value": 2_000_000_000}),
        );
        assert_eq!(
            c[0].message,
            "Forbidden: maximum allowed value of a user defined priority is 1000000000"
        );
        let c = validate_update(
            "scheduling.k8s.io",
            "PriorityClass",
            &json!({"metadata": {"name": "high"}, "value": 1}),
            &json!({"metadata": {"name": "high"}, "value": 2}),
        );
        assert_eq!(c[0].message, "Forbidden: may not be changed in an update.");
    }

    #[test]
    fn crd_checks() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
        assert!(
            validate_create("apiextensions.k8s.io", "CustomResourceDefinition", &crd).is_empty()
        );
        let mut bad = crd.clone();
        if let Some(m) = bad.pointer_mut("/metadata/name") {
            *m = json!("gadgets.example.com");
        }
        if let Some(m) = bad.pointer_mut("/spec/scope") {
            *m = json!("Global");
        }
        if let Some(m) = bad.pointer_mut("/spec/versions/0/storage") {
            *m = json!(false);
        }
        let c = validate_create("apiextensions.k8s.io", "CustomResourceDefinition", &bad);
        let msgs: Vec<String> = c
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(
            msgs[0],
            "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"
        );
        assert_eq!(
            msgs[1],
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""
        );
        assert!(msgs[2].starts_with(
            "spec.versions: Invalid value: [{\"Name\":\"v1\",\"Served\":true,\"Storage\":false"
        ));
        assert!(msgs[2].ends_with("must have exactly one version marked as storage version"));
    }

    #[test]
    fn metadata_label_errors() {
        let c = validate_create(
            "",
            "ConfigMap",
            &json!({"metadata": {"name": "c", "labels": {"a": "-"}}}),
        );
        assert_eq!(c[0].field, "metadata.labels");
        let c = validate_create(
            "apps",
            "StatefulSet",
            &json!({"metadata": {"name": "a.b"}, "spec": {"podManagementPolicy": "OrderedReady", "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Always"}}}}),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].message,
            "Invalid value: \"a.b\": must not contain dots"
        );
    }
}
