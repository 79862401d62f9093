//! Whether a kind is namespaced: a built-in table for Kubernetes' own kinds,
//! the CustomResourceDefinitions among the rendered objects, and a fallback
//! the caller supplies (discovery, when a cluster is at hand).

use crate::model::{ObjRef, Object};
use std::collections::HashMap;

/// Knows whether a kind is namespaced (built-in table for core kinds + CRDs found among the rendered objects + a fallback the caller supplies from discovery).
pub trait Scopes {
    /// `Some(true)` for a namespaced kind, `Some(false)` for a cluster-scoped
    /// one, `None` when unknown.
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool>;
}

/// The built-in table ([`crate::kinds`]): Kubernetes' own kinds, whatever their version.
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
        crate::kinds::of(api_version, kind).map(|k| k.namespaced)
    }
}

/// The scopes declared by CustomResourceDefinitions, keyed by (group, kind).
#[derive(Debug, Clone, Default)]
pub(crate) struct CrdScopes(HashMap<(String, String), bool>);

impl CrdScopes {
    /// Records the object if it is a CRD with a group, a kind and a scope;
    /// a malformed CRD is left for the API server to refuse.
    pub(crate) fn add(&mut self, object: &Object) {
        if let Some(crd) = crate::kinds::crd(&object.json)
            && object.json.pointer("/spec/scope").is_some()
        {
            self.0.insert((crd.group, crd.kind), crd.namespaced);
        }
    }
}

impl Scopes for CrdScopes {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0
            .get(&(
                crate::kinds::group_of(api_version).to_owned(),
                kind.to_owned(),
            ))
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
