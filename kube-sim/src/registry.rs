//! The served API types: every built-in resource of the recorded discovery
//! documents, plus the custom resources of established CRDs, and the discovery
//! documents built from them.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One served resource (a plural name in a group/version).
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name, as in URLs.
    pub resource: String,
    /// Kind.
    pub kind: String,
    /// Lower-case singular name.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs from discovery.
    pub verbs: Vec<String>,
    /// Short names (`cm`, `deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether a `/status` subresource exists (status then only changes there).
    pub has_status: bool,
    /// Whether a `/scale` subresource exists.
    pub has_scale: bool,
    /// The CRD's schema for a custom resource.
    pub crd_schema: Option<Arc<Value>>,
    /// Printer columns of a custom resource.
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` or `configmaps`, as error messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// Storage key prefix shared by all versions of the resource.
    pub fn store_key(&self) -> String {
        format!("{}/{}", self.group, self.resource)
    }

    /// Whether kube-apiserver tracks `metadata.generation` for this resource.
    pub fn tracks_generation(&self) -> bool {
        self.crd_schema.is_some() || crate::defaults::tracks_generation(&self.group, &self.kind)
    }

    fn discovery_entry(&self) -> Value {
        let mut e = json!({
            "name": self.resource, "singularName": self.singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": self.verbs,
            "storageVersionHash": storage_version_hash(&self.group, &self.version, &self.kind),
        });
        if !self.short_names.is_empty() {
            e["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            e["categories"] = json!(self.categories);
        }
        e
    }
}

/// The storage version hash discovery advertises.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// The served discovery documents. Recorded from kube-apiserver v1.32,
/// except admissionregistration, apiregistration, autoscaling/v2 and
/// discovery.k8s.io: written from the Kubernetes source (names, scope, short
/// names, categories, subresources, verbs) for the kinds charts ship.
const DISCOVERY: &[(&str, &str)] = &[
    ("v1", include_str!("../discovery/api-v1.json")),
    (
        "admissionregistration.k8s.io/v1",
        include_str!("../discovery/apis-admissionregistration.k8s.io-v1.json"),
    ),
    (
        "apiregistration.k8s.io/v1",
        include_str!("../discovery/apis-apiregistration.k8s.io-v1.json"),
    ),
    (
        "autoscaling/v2",
        include_str!("../discovery/apis-autoscaling-v2.json"),
    ),
    (
        "discovery.k8s.io/v1",
        include_str!("../discovery/apis-discovery.k8s.io-v1.json"),
    ),
    (
        "apiextensions.k8s.io/v1",
        include_str!("../discovery/apis-apiextensions-v1.json"),
    ),
    ("apps/v1", include_str!("../discovery/apis-apps-v1.json")),
    ("batch/v1", include_str!("../discovery/apis-batch-v1.json")),
    (
        "coordination.k8s.io/v1",
        include_str!("../discovery/apis-coordination-v1.json"),
    ),
    (
        "events.k8s.io/v1",
        include_str!("../discovery/apis-events-v1.json"),
    ),
    (
        "networking.k8s.io/v1",
        include_str!("../discovery/apis-networking-v1.json"),
    ),
    (
        "policy/v1",
        include_str!("../discovery/apis-policy-v1.json"),
    ),
    (
        "rbac.authorization.k8s.io/v1",
        include_str!("../discovery/apis-rbac.authorization-v1.json"),
    ),
    (
        "scheduling.k8s.io/v1",
        include_str!("../discovery/apis-scheduling-v1.json"),
    ),
    (
        "storage.k8s.io/v1",
        include_str!("../discovery/apis-storage-v1.json"),
    ),
];

/// The recorded `/version` document.
pub const VERSION: &str = include_str!("../discovery/version.json");
/// The recorded `/api` document.
pub const API_VERSIONS: &str = include_str!("../discovery/api.json");
const API_GROUPS: &str = include_str!("../discovery/apis.json");

/// All served types, keyed by "group/version" then plural.
#[derive(Debug, Clone)]
pub struct Registry {
    builtin_docs: BTreeMap<String, Value>,
    types: BTreeMap<String, BTreeMap<String, Arc<ResourceType>>>,
    crd_groups: BTreeMap<String, Vec<String>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The built-in types.
    pub fn new() -> Self {
        let mut r = Registry {
            builtin_docs: BTreeMap::new(),
            types: BTreeMap::new(),
            crd_groups: BTreeMap::new(),
        };
        for (gv, doc) in DISCOVERY {
            let doc: Value =
                serde_json::from_str(doc).expect("vendored discovery documents are JSON");
            let (group, version) = split_gv(gv);
            let resources = doc["resources"].as_array().cloned().unwrap_or_default();
            let subs: Vec<&str> = resources
                .iter()
                .filter_map(|x| x["name"].as_str())
                .collect();
            for res in &resources {
                let name = res["name"].as_str().unwrap_or_default();
                if name.contains('/') {
                    continue;
                }
                let t = ResourceType {
                    group: group.to_string(),
                    version: version.to_string(),
                    resource: name.to_string(),
                    kind: res["kind"].as_str().unwrap_or_default().to_string(),
                    singular: res["singularName"].as_str().unwrap_or_default().to_string(),
                    namespaced: res["namespaced"].as_bool().unwrap_or(true),
                    verbs: strings(&res["verbs"]),
                    short_names: strings(&res["shortNames"]),
                    categories: strings(&res["categories"]),
                    has_status: subs.contains(&format!("{name}/status").as_str()),
                    has_scale: subs.contains(&format!("{name}/scale").as_str()),
                    crd_schema: None,
                    printer_columns: Vec::new(),
                };
                r.types
                    .entry(gv.to_string())
                    .or_default()
                    .insert(name.to_string(), Arc::new(t));
            }
            r.builtin_docs.insert(gv.to_string(), doc);
        }
        r
    }

    /// The type served at group/version/resource.
    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceType>> {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        self.types.get(&gv)?.get(resource).cloned()
    }

    /// Whether the group/version is served at all.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        self.types.contains_key(&gv)
    }

    /// Every type in group (any version) with this kind.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .values()
            .flat_map(|m| m.values())
            .find(|t| t.group == group && t.kind == kind)
            .cloned()
    }

    /// All types (one entry per group/version/resource).
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values().flat_map(|m| m.values())
    }

    /// Replaces the custom resource types served for CRD `name` (empty `types` removes them).
    pub fn set_crd(&mut self, name: &str, types: Vec<ResourceType>) {
        for gv_map in self.types.values_mut() {
            gv_map.retain(|_, t| {
                !(t.crd_schema.is_some() && format!("{}.{}", t.resource, t.group) == name)
            });
        }
        self.types
            .retain(|gv, m| !m.is_empty() || self.builtin_docs.contains_key(gv));
        for t in types {
            self.types
                .entry(t.api_version())
                .or_default()
                .insert(t.resource.clone(), Arc::new(t));
        }
        self.crd_groups.clear();
        for t in self
            .types
            .values()
            .flat_map(|m| m.values())
            .filter(|t| t.crd_schema.is_some())
        {
            let vs = self.crd_groups.entry(t.group.clone()).or_default();
            if !vs.contains(&t.version) {
                vs.push(t.version.clone());
            }
        }
    }

    /// `/apis`: the recorded groups plus those of established CRDs.
    pub fn api_groups(&self) -> Value {
        let mut doc: Value = serde_json::from_str(API_GROUPS).expect("vendored apis.json is JSON");
        if let Some(groups) = doc["groups"].as_array_mut() {
            for (g, versions) in &self.crd_groups {
                let vs: Vec<Value> = versions
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                groups.push(json!({"name": g, "versions": vs, "preferredVersion": vs[0]}));
            }
        }
        doc
    }

    /// `/api/v1` or `/apis/{group}/{version}`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        if let Some(doc) = self.builtin_docs.get(&gv) {
            return Some(doc.clone());
        }
        let types = self.types.get(&gv)?;
        let mut resources = Vec::new();
        for t in types.values() {
            resources.push(t.discovery_entry());
            if t.has_status {
                resources.push(json!({"name": format!("{}/status", t.resource), "singularName": "",
                    "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
            }
        }
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }
}

/// Splits "apps/v1" or "v1".
pub fn split_gv(gv: &str) -> (&str, &str) {
    match gv.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", gv),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The custom resource types a CRD object declares (served versions only).
pub fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let singular = names["singular"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        let schema = v
            .pointer("/schema/openAPIV3Schema")
            .cloned()
            .unwrap_or(json!({}));
        out.push(ResourceType {
            group: group.into(),
            version: v["name"].as_str().unwrap_or_default().into(),
            resource: plural.into(),
            kind: kind.into(),
            singular: singular.clone(),
            namespaced,
            verbs: [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ]
            .map(String::from)
            .to_vec(),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            has_status: v.pointer("/subresources/status").is_some(),
            has_scale: false,
            crd_schema: Some(Arc::new(schema)),
            printer_columns: v["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_version_hash_matches_the_real_server() {
        assert_eq!(
            storage_version_hash("conformance.example.org", "v1", "Gizmo"),
            "t1NYnl+AfnM="
        );
    }

    #[test]
    fn built_in_types_come_from_discovery() {
        let r = Registry::new();
        let d = r.get("apps", "v1", "deployments").expect("deployments");
        assert!(d.namespaced && d.has_status);
        assert!(!r.get("", "v1", "namespaces").expect("ns").namespaced);
        assert!(!r.get("", "v1", "configmaps").expect("cm").has_status);
    }
}
