//! Whether a kind is namespaced: a built-in table for Kubernetes' own kinds,
//! the CustomResourceDefinitions among the rendered objects, and a fallback
//! the caller supplies (discovery, when a cluster is at hand).

use crate::model::{ObjRef, Object};
use serde_json::Value;
use std::collections::HashMap;

/// Knows whether a kind is namespaced (built-in table for core kinds + CRDs found among the rendered objects + a fallback the caller supplies from discovery).
pub trait Scopes {
    /// `Some(true)` for a namespaced kind, `Some(false)` for a cluster-scoped
    /// one, `None` when unknown.
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool>;
}

/// The kinds Kubernetes serves itself: (group, kind, namespaced).
const BUILTIN: &[(&str, &str, bool)] = &[
    ("", "Namespace", false),
    ("", "Node", false),
    ("", "PersistentVolume", false),
    ("", "ComponentStatus", false),
    ("", "ConfigMap", true),
    ("", "Endpoints", true),
    ("", "Event", true),
    ("", "LimitRange", true),
    ("", "PersistentVolumeClaim", true),
    ("", "Pod", true),
    ("", "PodTemplate", true),
    ("", "ReplicationController", true),
    ("", "ResourceQuota", true),
    ("", "Secret", true),
    ("", "Service", true),
    ("", "ServiceAccount", true),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        false,
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition", false),
    ("apiregistration.k8s.io", "APIService", false),
    ("apps", "ControllerRevision", true),
    ("apps", "DaemonSet", true),
    ("apps", "Deployment", true),
    ("apps", "ReplicaSet", true),
    ("apps", "StatefulSet", true),
    ("autoscaling", "HorizontalPodAutoscaler", true),
    ("batch", "CronJob", true),
    ("batch", "Job", true),
    ("certificates.k8s.io", "CertificateSigningRequest", false),
    ("coordination.k8s.io", "Lease", true),
    ("discovery.k8s.io", "EndpointSlice", true),
    ("events.k8s.io", "Event", true),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema", false),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        false,
    ),
    ("networking.k8s.io", "Ingress", true),
    ("networking.k8s.io", "IngressClass", false),
    ("networking.k8s.io", "NetworkPolicy", true),
    ("node.k8s.io", "RuntimeClass", false),
    ("policy", "PodDisruptionBudget", true),
    ("rbac.authorization.k8s.io", "ClusterRole", false),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", false),
    ("rbac.authorization.k8s.io", "Role", true),
    ("rbac.authorization.k8s.io", "RoleBinding", true),
    ("scheduling.k8s.io", "PriorityClass", false),
    ("storage.k8s.io", "CSIDriver", false),
    ("storage.k8s.io", "CSINode", false),
    ("storage.k8s.io", "CSIStorageCapacity", true),
    ("storage.k8s.io", "StorageClass", false),
    ("storage.k8s.io", "VolumeAttachment", false),
];

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The built-in table: Kubernetes' own kinds, whatever their version.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl Builtin {
    /// Whether the reference's kind is one Kubernetes serves itself.
    pub fn knows(r: &ObjRef) -> bool {
        Builtin.namespaced(&r.api_version, &r.kind).is_some()
    }
}

impl Scopes for Builtin {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        let group = group_of(api_version);
        BUILTIN
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
            .map(|(_, _, ns)| *ns)
    }
}

/// The scopes declared by CustomResourceDefinitions, keyed by (group, kind).
#[derive(Debug, Clone, Default)]
pub(crate) struct CrdScopes(HashMap<(String, String), bool>);

impl CrdScopes {
    /// Records the object if it is a CRD with a group, a kind and a scope;
    /// a malformed CRD is left for the API server to refuse.
    pub(crate) fn add(&mut self, object: &Object) {
        let r = object.reference();
        if r.group() != "apiextensions.k8s.io" || r.kind != "CustomResourceDefinition" {
            return;
        }
        let s = |p: &str| object.json.pointer(p).and_then(Value::as_str);
        if let (Some(group), Some(kind), Some(scope)) =
            (s("/spec/group"), s("/spec/names/kind"), s("/spec/scope"))
        {
            self.0
                .insert((group.to_owned(), kind.to_owned()), scope == "Namespaced");
        }
    }
}

impl Scopes for CrdScopes {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0
            .get(&(group_of(api_version).to_owned(), kind.to_owned()))
            .copied()
    }
}

/// The first answer of several sources, in order.
pub(crate) struct Layered<'a>(pub [&'a dyn Scopes; 3]);

impl Scopes for Layered<'_> {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0.iter().find_map(|s| s.namespaced(api_version, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_kinds_crds_and_the_fallback_are_consulted_in_order() {
        let mut crds = CrdScopes::default();
        crds.add(&Object {
            json: json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "clusters.postgresql.cnpg.io"},
                "spec": {"group": "postgresql.cnpg.io", "names": {"kind": "Cluster"}, "scope": "Namespaced"}}),
            origin: Default::default(),
        });
        struct Discovery;
        impl Scopes for Discovery {
            fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
                (api_version == "example.com/v1" && kind == "Thing").then_some(false)
            }
        }
        let all = Layered([&Builtin, &crds, &Discovery]);
        assert_eq!(all.namespaced("apps/v1", "Deployment"), Some(true));
        assert_eq!(
            all.namespaced("rbac.authorization.k8s.io/v1", "ClusterRole"),
            Some(false)
        );
        assert_eq!(
            all.namespaced("postgresql.cnpg.io/v1", "Cluster"),
            Some(true)
        );
        assert_eq!(all.namespaced("example.com/v1", "Thing"), Some(false));
        assert_eq!(all.namespaced("example.com/v1", "Other"), None);
        assert_eq!(all.namespaced("apps/v1", "Cluster"), None);
    }
}
