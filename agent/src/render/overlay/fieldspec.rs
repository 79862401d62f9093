//! Field specs: where kustomize's built-in transformers write, by kind.
//!
//! The tables copy kustomize's defaults (`api/konfig/builtinpluginconsts`),
//! so that labels and annotations land exactly where `kustomize build` puts
//! them. A path is a list of field names separated by `/`; a list met on the
//! way is walked item by item (`[]` after a name only says so).

use serde_json::{Map, Value};

/// Where a transformer writes, for the resources it selects.
#[derive(Debug, Clone, Copy)]
pub(super) struct FieldSpec {
    /// API group the resource must have (`""` for any).
    pub group: &'static str,
    /// API version the resource must have (`""` for any).
    pub version: &'static str,
    /// Kind the resource must have (`""` for any).
    pub kind: &'static str,
    /// The path, `/`-separated; `\/` is a `/` inside a name.
    pub path: &'static str,
    /// Whether missing maps on the way are created.
    pub create: bool,
}

const fn fs(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec {
    FieldSpec {
        group,
        version,
        kind,
        path,
        create,
    }
}

/// kustomize's `metadataLabelsFieldSpecs`: object labels and pod/job template labels.
#[rustfmt::skip]
pub(super) const METADATA_LABELS: &[FieldSpec] = &[
    fs("", "", "", "metadata/labels", true),
    fs("", "v1", "ReplicationController", "spec/template/metadata/labels", true),
    fs("", "", "Deployment", "spec/template/metadata/labels", true),
    fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
    fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
    fs("apps", "", "StatefulSet", "spec/template/metadata/labels", true),
    fs("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true),
    fs("batch", "", "Job", "spec/template/metadata/labels", true),
    fs("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", true),
    fs("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
];

/// The selectors kustomize's `commonLabels` field specs add to [`METADATA_LABELS`].
#[rustfmt::skip]
pub(super) const SELECTOR_LABELS: &[FieldSpec] = &[
    fs("", "v1", "Service", "spec/selector", true),
    fs("", "v1", "ReplicationController", "spec/selector", true),
    fs("", "", "Deployment", "spec/selector/matchLabels", true),
    fs("apps", "", "Deployment", AFFINITY[0], false),
    fs("apps", "", "Deployment", AFFINITY[1], false),
    fs("apps", "", "Deployment", AFFINITY[2], false),
    fs("apps", "", "Deployment", AFFINITY[3], false),
    fs("apps", "", "Deployment", AFFINITY[4], false),
    fs("", "", "ReplicaSet", "spec/selector/matchLabels", true),
    fs("", "", "DaemonSet", "spec/selector/matchLabels", true),
    fs("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
    fs("apps", "", "StatefulSet", AFFINITY[0], false),
    fs("apps", "", "StatefulSet", AFFINITY[1], false),
    fs("apps", "", "StatefulSet", AFFINITY[2], false),
    fs("apps", "", "StatefulSet", AFFINITY[3], false),
    fs("apps", "", "StatefulSet", AFFINITY[4], false),
    fs("batch", "", "Job", "spec/selector/matchLabels", false),
    fs("batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    fs("policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    fs("networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    fs("networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
    fs("networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
];

/// Pod (anti-)affinity and topology spread selectors of a pod template.
const AFFINITY: [&str; 5] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
];

/// kustomize's `commonAnnotations` field specs.
#[rustfmt::skip]
pub(super) const ANNOTATIONS: &[FieldSpec] = &[
    fs("", "", "", "metadata/annotations", true),
    fs("", "v1", "ReplicationController", "spec/template/metadata/annotations", true),
    fs("", "", "Deployment", "spec/template/metadata/annotations", true),
    fs("", "", "ReplicaSet", "spec/template/metadata/annotations", true),
    fs("", "", "DaemonSet", "spec/template/metadata/annotations", true),
    fs("apps", "", "StatefulSet", "spec/template/metadata/annotations", true),
    fs("batch", "", "Job", "spec/template/metadata/annotations", true),
    fs("batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", true),
    fs("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
];

/// kustomize's `replicas` field specs.
pub(super) const REPLICAS: &[FieldSpec] = &[
    fs("", "", "Deployment", "spec/replicas", true),
    fs("", "", "ReplicationController", "spec/replicas", true),
    fs("", "", "ReplicaSet", "spec/replicas", true),
    fs("", "", "StatefulSet", "spec/replicas", true),
];

/// The group and version of an `apiVersion` (`apps/v1` → `apps`, `v1`).
pub(super) fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl FieldSpec {
    /// Whether the spec applies to `obj` (by its apiVersion and kind).
    pub(super) fn selects(&self, obj: &Value) -> bool {
        let (group, version) = group_version(obj["apiVersion"].as_str().unwrap_or_default());
        let kind = obj["kind"].as_str().unwrap_or_default();
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }

    /// Calls `f` on every value at the path of `obj` (creating missing maps
    /// when the spec says so; a created leaf is `null` for `f` to fill).
    pub(super) fn visit(&self, obj: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        let segments = split(self.path);
        visit(obj, &segments, self.create, f);
    }
}

/// Splits a field spec path on `/`, honouring `\/` and dropping `[]`.
pub(super) fn split(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.strip_suffix("[]").map(str::to_owned).unwrap_or(s))
        .collect()
}

/// Walks `segments` from `v`, calling `f` at the end.
pub(super) fn visit(
    v: &mut Value,
    segments: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value),
) {
    let Some((first, rest)) = segments.split_first() else {
        f(v);
        return;
    };
    match v {
        Value::Array(items) => {
            for item in items {
                visit(item, segments, create, f);
            }
        }
        Value::Object(m) => {
            if m.get(first).is_none_or(Value::is_null) {
                if !create {
                    return;
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                m.insert(first.clone(), fresh);
            }
            if let Some(next) = m.get_mut(first) {
                visit(next, rest, create, f);
            }
        }
        _ => {}
    }
}

/// Adds `pairs` to the string map at `v` (made a map if it is not one).
pub(super) fn put_all(v: &mut Value, pairs: &Map<String, Value>) {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    if let Value::Object(m) = v {
        for (k, val) in pairs {
            m.insert(k.clone(), Value::String(scalar_text(val)));
        }
    }
}

/// A scalar as kustomize holds it in a string map (numbers and booleans as written).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
