//! kustomize's default output order ("legacy"), so that an overlay renders
//! in the order `kubectl kustomize` prints it: some kinds first (Namespaces,
//! then what others depend on), webhook configurations last, everything else
//! in between; ties by group, version and kind, then namespace and name.

use super::Res;
use super::fieldspec::group_version;
use std::cmp::Ordering;

/// Kinds printed first, in this order.
const FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds printed last, in this order.
const LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn rank(kind: &str) -> i32 {
    // kustomize ranks by kind alone, whatever the group.
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        return i as i32 - 1000;
    }
    LAST.iter()
        .position(|k| *k == kind)
        .map_or(0, |i| i as i32 + 1)
}

/// `group_version_kind`, with kustomize's markers for an empty part (`~G`
/// sorts after any group).
fn gvk_key(r: &Res) -> String {
    let (g, v) = group_version(r.api_version());
    let or = |s: &str, none: &str| {
        if s.is_empty() {
            none.to_owned()
        } else {
            s.to_owned()
        }
    };
    format!("{}_{}_{}", or(g, "~G"), or(v, "~V"), or(r.kind(), "~K"))
}

/// Namespace then name, with kustomize's marker for an empty namespace.
fn id_key(r: &Res) -> String {
    let id = r.cur_id();
    let or = |s: String, none: &str| if s.is_empty() { none.to_owned() } else { s };
    format!("{}|{}", or(id.namespace, "~X"), or(id.name, "~N"))
}

fn compare(a: &Res, b: &Res) -> Ordering {
    let (ga, gb) = (gvk_key(a), gvk_key(b));
    if ga != gb {
        let (ra, rb) = (rank(a.kind()), rank(b.kind()));
        if ra != rb {
            return ra.cmp(&rb);
        }
        // kustomize puts the core Namespace before Namespaces of other groups.
        let core = |r: &Res| group_version(r.api_version()).0.is_empty();
        if a.kind() == "Namespace" && b.kind() == "Namespace" && (core(a) || core(b)) {
            return gb.cmp(&ga);
        }
        return ga.cmp(&gb);
    }
    id_key(a).cmp(&id_key(b))
}

/// Sorts the resources in kustomize's legacy order.
pub(super) fn legacy_sort(res: &mut [Res]) {
    res.sort_by(compare);
}
