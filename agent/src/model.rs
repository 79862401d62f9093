//! Domain types the stages hand each other: objects with their origin,
//! object references, revisions. Plain data, no cluster access.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// Where a rendered object came from, for error messages that name the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Origin {
    /// Path relative to the repository root.
    pub file: PathBuf,
    /// Index of the YAML document within the file (0-based).
    pub doc: usize,
    /// The first line of that document (1-based), when known.
    pub line: Option<usize>,
    /// For an object rendered from a Helm chart: the release's namespace,
    /// which namespaced objects that name none are installed into (as
    /// `helm install --namespace` does), instead of the WaveSet's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_namespace: Option<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{} (document {})", self.file.display(), self.doc + 1),
        }
    }
}

/// A Kubernetes object as rendered from Git.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// The object as JSON.
    pub json: Value,
    /// Where it came from.
    pub origin: Origin,
}

impl Object {
    /// Its reference (kind, namespace, name).
    pub fn reference(&self) -> ObjRef {
        ObjRef::of(&self.json)
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.json
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
    }
}

/// Identifies an object in the cluster. Equality ignores the API version, so
/// that an object moved from v1beta1 to v1 stays the same object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjRef {
    /// `apps/v1`, `v1`.
    #[serde(rename = "v")]
    pub api_version: String,
    /// `Deployment`.
    #[serde(rename = "k")]
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(rename = "ns", default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    #[serde(rename = "n")]
    pub name: String,
}

impl ObjRef {
    /// The reference of a JSON object.
    pub fn of(v: &Value) -> ObjRef {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ObjRef {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
        }
    }

    /// The API group (`apps`; empty for core).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    /// The API version without group (`v1`).
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    fn identity(&self) -> (&str, &str, &str, &str) {
        (self.group(), &self.kind, &self.namespace, &self.name)
    }
}

impl PartialEq for ObjRef {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for ObjRef {}

impl std::hash::Hash for ObjRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl PartialOrd for ObjRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group().is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group())
        };
        if self.namespace.is_empty() {
            write!(f, "{kind}/{}", self.name)
        } else {
            write!(f, "{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// A Git commit SHA: the unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Revision(pub String);

impl Revision {
    /// The first 12 characters, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What server-side apply did to one object, as far as the response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApplyAction {
    /// The object did not exist.
    Created,
    /// The object existed and changed.
    Configured,
    /// The apply changed nothing.
    Unchanged,
}

impl ApplyAction {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_ignore_the_api_version() {
        let a = ObjRef::of(
            &json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}}),
        );
        let b = ObjRef::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}}),
        );
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "Deployment.apps n/x");
    }
}
