//! The one table of Kubernetes' own kinds and what wavesync does with each:
//! its scope, where it goes in a component's apply order, how the API server
//! checks its name, whether pruning needs an opt-in, and whether it runs to
//! completion (a Job). Planning, apply, prune and validate read it here, so a
//! kind is added or changed in one place. (kustomize's own idea of scope,
//! frozen at its built-in OpenAPI data, is `render::overlay::scopes`: it
//! mirrors another program, not wavesync.)

use crate::model::ObjRef;

/// Where a kind goes in a component's apply order (lowest first). Custom
/// resources, which are not in the table, come last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// CustomResourceDefinitions: their resources may follow in the same component.
    Crd,
    /// Namespaces: everything namespaced needs one.
    Namespace,
    /// Other cluster-scoped kinds (ClusterRoles, StorageClasses…).
    ClusterSetup,
    /// Namespaced set-up (ServiceAccounts, ConfigMaps, Secrets, Services…).
    Setup,
    /// Workloads and the other namespaced kinds.
    Workload,
    /// Admission webhooks and policies, APIServices: after the workloads
    /// that serve them, as Helm orders them (registered before its backend
    /// runs, a webhook makes the API server refuse what follows).
    Admission,
    /// Custom resources.
    Custom,
}

/// How the API server checks a kind's `metadata.name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// An RFC 1123 DNS subdomain.
    Subdomain,
    /// An RFC 1123 DNS label.
    Label,
    /// Any path segment (no `/`, `%`, not `.` or `..`).
    Segment,
}

/// One built-in kind.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// API group (empty for core).
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Apply order class.
    pub class: Class,
    /// Name check.
    pub names: NameRule,
    /// Pruned only when annotated `wavesync.io/prune: "true"` (data lives in it).
    pub prune_opt_in: bool,
    /// Runs to completion and is immutable once created: re-created when
    /// its content changes, never re-run when it does not.
    pub job: bool,
}

const fn k(group: &'static str, kind: &'static str, namespaced: bool, class: Class) -> Kind {
    Kind {
        group,
        kind,
        namespaced,
        class,
        names: NameRule::Segment,
        prune_opt_in: false,
        job: false,
    }
}

const fn named(mut kind: Kind, names: NameRule) -> Kind {
    kind.names = names;
    kind
}

const fn opt_in(mut kind: Kind) -> Kind {
    kind.prune_opt_in = true;
    kind
}

use Class::{Admission, ClusterSetup, Crd, Setup, Workload};
use NameRule::{Label, Subdomain};

/// The kinds Kubernetes serves itself.
pub const BUILTIN: &[Kind] = &[
    opt_in(named(k("", "Namespace", false, Class::Namespace), Label)),
    k("", "Node", false, ClusterSetup),
    named(k("", "PersistentVolume", false, ClusterSetup), Subdomain),
    k("", "ComponentStatus", false, ClusterSetup),
    named(k("", "ConfigMap", true, Setup), Subdomain),
    k("", "Endpoints", true, Setup),
    k("", "Event", true, Workload),
    named(k("", "LimitRange", true, Setup), Subdomain),
    opt_in(named(
        k("", "PersistentVolumeClaim", true, Setup),
        Subdomain,
    )),
    named(k("", "Pod", true, Workload), Subdomain),
    k("", "PodTemplate", true, Workload),
    k("", "ReplicationController", true, Workload),
    named(k("", "ResourceQuota", true, Setup), Subdomain),
    named(k("", "Secret", true, Setup), Subdomain),
    named(k("", "Service", true, Setup), Label),
    named(k("", "ServiceAccount", true, Setup), Subdomain),
    k(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        false,
        Admission,
    ),
    k(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        false,
        Admission,
    ),
    k(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        false,
        Admission,
    ),
    k(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        false,
        Admission,
    ),
    named(
        k(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            false,
            Crd,
        ),
        Subdomain,
    ),
    k("apiregistration.k8s.io", "APIService", false, Admission),
    k("apps", "ControllerRevision", true, Workload),
    named(k("apps", "DaemonSet", true, Workload), Subdomain),
    named(k("apps", "Deployment", true, Workload), Subdomain),
    named(k("apps", "ReplicaSet", true, Workload), Subdomain),
    named(k("apps", "StatefulSet", true, Workload), Subdomain),
    named(
        k("autoscaling", "HorizontalPodAutoscaler", true, Workload),
        Subdomain,
    ),
    named(k("batch", "CronJob", true, Workload), Subdomain),
    Kind {
        job: true,
        ..named(k("batch", "Job", true, Workload), Subdomain)
    },
    k(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        false,
        ClusterSetup,
    ),
    k("coordination.k8s.io", "Lease", true, Workload),
    k("discovery.k8s.io", "EndpointSlice", true, Setup),
    k("events.k8s.io", "Event", true, Workload),
    k(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        false,
        ClusterSetup,
    ),
    k(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        false,
        ClusterSetup,
    ),
    named(k("networking.k8s.io", "Ingress", true, Workload), Subdomain),
    named(
        k("networking.k8s.io", "IngressClass", false, ClusterSetup),
        Subdomain,
    ),
    named(
        k("networking.k8s.io", "NetworkPolicy", true, Setup),
        Subdomain,
    ),
    k("node.k8s.io", "RuntimeClass", false, ClusterSetup),
    named(k("policy", "PodDisruptionBudget", true, Setup), Subdomain),
    k(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        false,
        ClusterSetup,
    ),
    k(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        false,
        ClusterSetup,
    ),
    k("rbac.authorization.k8s.io", "Role", true, Setup),
    k("rbac.authorization.k8s.io", "RoleBinding", true, Setup),
    named(
        k("scheduling.k8s.io", "PriorityClass", false, ClusterSetup),
        Subdomain,
    ),
    k("storage.k8s.io", "CSIDriver", false, ClusterSetup),
    k("storage.k8s.io", "CSINode", false, ClusterSetup),
    k("storage.k8s.io", "CSIStorageCapacity", true, Workload),
    named(
        k("storage.k8s.io", "StorageClass", false, ClusterSetup),
        Subdomain,
    ),
    k("storage.k8s.io", "VolumeAttachment", false, ClusterSetup),
];

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The built-in kind `kind` of `group`, whatever its version.
pub fn builtin(group: &str, kind: &str) -> Option<&'static Kind> {
    BUILTIN.iter().find(|k| k.group == group && k.kind == kind)
}

/// The built-in kind of an `apiVersion` and kind.
pub fn of(api_version: &str, kind: &str) -> Option<&'static Kind> {
    builtin(group_of(api_version), kind)
}

/// The built-in kind a reference names.
pub fn of_ref(r: &ObjRef) -> Option<&'static Kind> {
    builtin(r.group(), &r.kind)
}

/// The apply-order class of a reference (custom resources last).
pub fn class(r: &ObjRef) -> Class {
    of_ref(r).map_or(Class::Custom, |k| k.class)
}

/// What a CustomResourceDefinition defines, read from its JSON: the one
/// reader of CRDs (planning's scopes, apply's discovery shortcut, validate's
/// CRD-order check and the live diff all use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdDef {
    /// `spec.group`.
    pub group: String,
    /// `spec.names.kind`.
    pub kind: String,
    /// `spec.scope` is `Namespaced`.
    pub namespaced: bool,
    /// The versions it serves (`served` not false), in order.
    pub versions: Vec<String>,
}

/// The definition `object` holds, when it is a CRD with a group and a kind;
/// a malformed CRD gives `None` and is left for the API server to refuse.
pub fn crd(object: &serde_json::Value) -> Option<CrdDef> {
    let api_version = object.get("apiVersion")?.as_str()?;
    if group_of(api_version) != "apiextensions.k8s.io"
        || object.get("kind")?.as_str()? != "CustomResourceDefinition"
    {
        return None;
    }
    let s = |p: &str| object.pointer(p).and_then(serde_json::Value::as_str);
    let versions = object
        .pointer("/spec/versions")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("served").and_then(serde_json::Value::as_bool) != Some(false))
        .filter_map(|v| {
            v.get("name")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    Some(CrdDef {
        group: s("/spec/group")?.to_owned(),
        kind: s("/spec/names/kind")?.to_owned(),
        namespaced: s("/spec/scope") == Some("Namespaced"),
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_cluster_scoped_setup_is_cluster_scoped() {
        for (i, a) in BUILTIN.iter().enumerate() {
            assert!(
                !BUILTIN[i + 1..]
                    .iter()
                    .any(|b| b.group == a.group && b.kind == a.kind),
                "{}/{} twice",
                a.group,
                a.kind
            );
            match a.class {
                Class::ClusterSetup | Class::Admission | Class::Crd | Class::Namespace => {
                    assert!(!a.namespaced, "{} is cluster-scoped", a.kind)
                }
                Class::Setup | Class::Workload => assert!(a.namespaced, "{} is namespaced", a.kind),
                Class::Custom => panic!("{} is built in", a.kind),
            }
        }
    }

    #[test]
    fn a_crd_is_read_for_its_group_kind_scope_and_served_versions() {
        let crd = super::crd(&serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": true}, {"name": "v0", "served": false}, {"name": "v2"}]}
        }))
        .expect("a CRD");
        assert_eq!(
            (crd.group.as_str(), crd.kind.as_str(), crd.namespaced),
            ("example.com", "Widget", true)
        );
        assert_eq!(crd.versions, ["v1", "v2"]);
        assert!(
            super::crd(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_none()
        );
        assert!(
            super::crd(&serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": {}})).is_none(),
            "no group or kind: the server's to refuse"
        );
    }

    #[test]
    fn lookups_go_by_group_whatever_the_version() {
        assert_eq!(of("batch/v1", "Job").map(|k| k.job), Some(true));
        assert!(
            of("example.com/v1", "Job").is_none(),
            "a custom Job is not a Job"
        );
        assert_eq!(
            of("v1", "PersistentVolumeClaim").map(|k| k.prune_opt_in),
            Some(true)
        );
        assert_eq!(
            of("apps/v1beta2", "Deployment").map(|k| k.class),
            Some(Class::Workload)
        );
        assert_eq!(
            group_of("rbac.authorization.k8s.io/v1"),
            "rbac.authorization.k8s.io"
        );
    }
}
