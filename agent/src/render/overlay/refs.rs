//! The fields that refer to other objects by name: kustomize's default name
//! reference table (`api/konfig/builtinpluginconsts/namereference.go`),
//! copied so that references follow renames exactly where kustomize makes
//! them follow. Quirks are kept: ReplicationController is not listed for
//! ConfigMaps and Secrets, ReplicaSet not for ServiceAccounts, and
//! IngressClass references are never updated (kustomize's entry for them
//! has a group that matches no object).

use super::fieldspec::FieldSpec;
use serde_json::Value;

/// One referring field: objects of the target group and kind are referred
/// to at `path` of objects of the referrer group, version and kind (empty
/// for any).
pub(super) struct RefField {
    pub target_group: &'static str,
    pub target_kind: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    pub path: String,
}

impl RefField {
    /// Whether `obj` is a referrer of this field.
    pub(super) fn selects(&self, obj: &Value) -> bool {
        FieldSpec {
            group: self.group,
            version: self.version,
            kind: self.kind,
            path: "",
            create: false,
        }
        .selects(obj)
    }
}

/// The kinds holding a pod spec, and where (version, kind, path).
const POD_SPECS: &[(&str, &str, &str)] = &[
    ("v1", "Pod", "spec"),
    ("", "PodTemplate", "template/spec"),
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// ConfigMap references in a pod spec.
const CONFIGMAP_IN_POD: &[&str] = &[
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
];

/// Secret references in a pod spec.
const SECRET_IN_POD: &[&str] = &[
    "volumes/secret/secretName",
    "containers/env/valueFrom/secretKeyRef/name",
    "initContainers/env/valueFrom/secretKeyRef/name",
    "containers/envFrom/secretRef/name",
    "initContainers/envFrom/secretRef/name",
    "imagePullSecrets/name",
    "volumes/projected/sources/secret/name",
];

/// Kinds whose pod spec names a ServiceAccount, a PersistentVolumeClaim and
/// a PriorityClass, and where the pod spec is.
const POD_FIELD_OWNERS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
];

const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";

/// The other referring fields: (target group, target kind, referrer group,
/// referrer version, referrer kind, path).
#[rustfmt::skip]
const OTHER_REFS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("apps", "Deployment", "", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ("", "ReplicationController", "", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ("apps", "ReplicaSet", "", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ("apps", "StatefulSet", "", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ("", "ConfigMap", "", "", "Node", "spec/configSource/configMap"),
    ("", "ConfigMap", "", "", "Role", "rules/resourceNames"),
    ("", "ConfigMap", "", "", "ClusterRole", "rules/resourceNames"),
    ("", "ConfigMap", "", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap"),
    ("", "Secret", "", "", "Ingress", "spec/tls/secretName"),
    ("", "Secret", "", "", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
    ("", "Secret", "", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
    ("", "Secret", "", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"),
    ("", "Secret", "", "", "ServiceAccount", "imagePullSecrets/name"),
    ("", "Secret", "", "", "StorageClass", "parameters/secretName"),
    ("", "Secret", "", "", "StorageClass", "parameters/adminSecretName"),
    ("", "Secret", "", "", "StorageClass", "parameters/userSecretName"),
    ("", "Secret", "", "", "StorageClass", "parameters/secretRef"),
    ("", "Secret", "", "", "Role", "rules/resourceNames"),
    ("", "Secret", "", "", "ClusterRole", "rules/resourceNames"),
    ("", "Secret", "serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
    ("", "Secret", "", "", "PersistentVolume", "spec/azureFile/secretName"),
    ("", "Service", "apps", "", "StatefulSet", "spec/serviceName"),
    ("", "Service", "", "", "Ingress", "spec/rules/http/paths/backend/serviceName"),
    ("", "Service", "", "", "Ingress", "spec/backend/serviceName"),
    ("", "Service", "", "", "Ingress", "spec/rules/http/paths/backend/service/name"),
    ("", "Service", "", "", "Ingress", "spec/defaultBackend/service/name"),
    ("", "Service", "apiregistration.k8s.io", "", "APIService", "spec/service/name"),
    ("", "Service", ADMISSION, "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service"),
    ("", "Service", ADMISSION, "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service"),
    ("", "Service", "", "", "HTTPRoute", "spec/rules/backendRefs/name"),
    (RBAC, "Role", RBAC, "", "RoleBinding", "roleRef/name"),
    (RBAC, "ClusterRole", RBAC, "", "RoleBinding", "roleRef/name"),
    (RBAC, "ClusterRole", RBAC, "", "ClusterRoleBinding", "roleRef/name"),
    ("", "ServiceAccount", RBAC, "", "RoleBinding", "subjects"),
    ("", "ServiceAccount", RBAC, "", "ClusterRoleBinding", "subjects"),
    ("", "PersistentVolume", "", "", "PersistentVolumeClaim", "spec/volumeName"),
    ("", "PersistentVolume", "", "", "ClusterRole", "rules/resourceNames"),
    ("storage.k8s.io", "StorageClass", "", "", "PersistentVolume", "spec/storageClassName"),
    ("storage.k8s.io", "StorageClass", "", "", "PersistentVolumeClaim", "spec/storageClassName"),
    ("storage.k8s.io", "StorageClass", "", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
];

/// Every referring field: the pod spec ones expanded per kind, then the others.
pub(super) fn all() -> Vec<RefField> {
    let mut out = Vec::new();
    let mut add = |target_group, target_kind, version, kind, path: String| {
        out.push(RefField {
            target_group,
            target_kind,
            group: "",
            version,
            kind,
            path,
        });
    };
    for (version, kind, prefix) in POD_SPECS {
        for p in CONFIGMAP_IN_POD {
            add("", "ConfigMap", version, kind, format!("{prefix}/{p}"));
        }
        for p in SECRET_IN_POD {
            add("", "Secret", version, kind, format!("{prefix}/{p}"));
        }
    }
    for (kind, prefix) in POD_FIELD_OWNERS {
        let field = |f: &str| format!("{prefix}/{f}");
        add("", "ServiceAccount", "", kind, field("serviceAccountName"));
        add(
            "",
            "PersistentVolumeClaim",
            "",
            kind,
            field("volumes/persistentVolumeClaim/claimName"),
        );
        add(
            "scheduling.k8s.io",
            "PriorityClass",
            "",
            kind,
            field("priorityClassName"),
        );
    }
    for &(target_group, target_kind, group, version, kind, path) in OTHER_REFS {
        out.push(RefField {
            target_group,
            target_kind,
            group,
            version,
            kind,
            path: path.to_owned(),
        });
    }
    out
}
