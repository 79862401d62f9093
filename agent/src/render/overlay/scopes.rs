//! Which kinds kustomize knows, and which of those are cluster-scoped.
//!
//! kustomize decides from its built-in OpenAPI data (Kubernetes v1.21): a
//! kind it does not know, such as a custom resource or a kind added to
//! Kubernetes later (ValidatingAdmissionPolicy), is namespaced for it and
//! gets the overlay's namespace. This table copies that data by group and
//! kind, so that overlays render as `kustomize build` renders them; the plan
//! stage then drops the namespace of cluster-scoped objects anyway.

use super::fieldspec::group_version;
use serde_json::Value;

/// (group, kind, namespaced) for the kinds of kustomize's OpenAPI data.
const KINDS: &[(&str, &str, bool)] = &[
    ("", "ComponentStatus", false),
    ("", "ConfigMap", true),
    ("", "Endpoints", true),
    ("", "Event", true),
    ("", "LimitRange", true),
    ("", "Namespace", false),
    ("", "Node", false),
    ("", "PersistentVolume", false),
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
    ("extensions", "Ingress", true),
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
    ("policy", "PodSecurityPolicy", false),
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

/// Whether kustomize has a schema for the kind (its lists can merge by key).
pub(super) fn is_builtin(group: &str, kind: &str) -> bool {
    KINDS.iter().any(|(g, k, _)| *g == group && *k == kind)
}

/// Whether kustomize takes the object for cluster-scoped.
pub(super) fn is_cluster_scoped(obj: &Value) -> bool {
    let (group, _) = group_version(obj["apiVersion"].as_str().unwrap_or_default());
    let kind = obj["kind"].as_str().unwrap_or_default();
    KINDS
        .iter()
        .any(|(g, k, namespaced)| *g == group && *k == kind && !namespaced)
}
