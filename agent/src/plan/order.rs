//! Apply order inside a component, by class:
//!
//! 1. CustomResourceDefinitions;
//! 2. Namespaces;
//! 3. other cluster-scoped built-in kinds (ClusterRoles, ClusterRoleBindings,
//!    StorageClasses, PriorityClasses…);
//! 4. namespaced set-up kinds (ServiceAccounts, Roles, RoleBindings,
//!    ConfigMaps, Secrets, Services, PVCs, quotas, policies);
//! 5. workloads and the other namespaced built-in kinds (Deployments,
//!    StatefulSets, DaemonSets, Jobs…);
//! 6. admission webhooks, admission policies and APIServices, after the
//!    workloads that serve them, as Helm orders them (registered before its
//!    backend runs, a webhook makes the API server refuse what follows);
//! 7. custom resources: any kind not in the built-in table, cluster-scoped or not.
//!
//! Within a class, objects sort by (kind, namespace, name, group). Object
//! references are unique in a plan, so the order depends only on the set of
//! objects, never on the order of files or documents.

use crate::model::Object;

/// Sorts a component's objects into apply order.
pub(crate) fn sort(objects: &mut [Object]) {
    objects.sort_by_cached_key(|o| {
        let r = o.reference();
        (
            crate::kinds::class(&r),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
            r.group().to_owned(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(api_version: &str, kind: &str, namespace: &str, name: &str) -> Object {
        let mut json = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if !namespace.is_empty() {
            json["metadata"]["namespace"] = json!(namespace);
        }
        Object {
            json,
            origin: Default::default(),
        }
    }

    #[test]
    fn crds_namespaces_cluster_scoped_setup_workloads_admission_then_custom_resources() {
        let mut objects = vec![
            obj("postgresql.cnpg.io/v1", "Cluster", "db", "pg"),
            obj("apps/v1", "Deployment", "db", "api"),
            obj("batch/v1", "Job", "db", "migrate"),
            obj(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "",
                "cnpg",
            ),
            obj("v1", "Service", "db", "api"),
            obj("v1", "Secret", "db", "creds"),
            obj("v1", "ServiceAccount", "db", "api"),
            obj("rbac.authorization.k8s.io/v1", "RoleBinding", "db", "api"),
            obj("scheduling.k8s.io/v1", "PriorityClass", "", "high"),
            obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "op"),
            obj("v1", "Namespace", "", "db"),
            obj(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "clusters.postgresql.cnpg.io",
            ),
            obj("v1", "ConfigMap", "b", "x"),
            obj("v1", "ConfigMap", "a", "y"),
            obj("v1", "ConfigMap", "a", "x"),
        ];
        sort(&mut objects);
        let order: Vec<_> = objects.iter().map(|o| o.reference().to_string()).collect();
        assert_eq!(
            order,
            [
                "CustomResourceDefinition.apiextensions.k8s.io/clusters.postgresql.cnpg.io",
                "Namespace/db",
                "ClusterRole.rbac.authorization.k8s.io/op",
                "PriorityClass.scheduling.k8s.io/high",
                "ConfigMap a/x",
                "ConfigMap a/y",
                "ConfigMap b/x",
                "RoleBinding.rbac.authorization.k8s.io db/api",
                "Secret db/creds",
                "Service db/api",
                "ServiceAccount db/api",
                "Deployment.apps db/api",
                "Job.batch db/migrate",
                "ValidatingWebhookConfiguration.admissionregistration.k8s.io/cnpg",
                "Cluster.postgresql.cnpg.io db/pg",
            ]
        );
    }
}
