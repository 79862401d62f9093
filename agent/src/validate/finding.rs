//! What validation reports: one [`Finding`] per problem, at `file:line`,
//! with the [`Check`] that found it.

use serde::Serialize;
use std::fmt;

/// The check that found a problem: a stable short id, for people reading
/// the output and for scripts filtering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// `wavesync.yaml` does not fit the format (unknown field, wrong type,
    /// invalid name or duration, duplicate wave name...).
    Schema,
    /// A source does not render: malformed YAML or JSON, an overlay or a
    /// chart that fails.
    Render,
    /// A rendered object lacks `apiVersion`, `kind` or `metadata.name`, or
    /// its metadata has the wrong shape.
    Identity,
    /// The same object is rendered twice.
    Duplicate,
    /// A namespaced object has no namespace and nothing gives it one.
    Namespace,
    /// A reference does not resolve: a path, a wave named by the
    /// `wavesync.io/wave` annotation, a value named by a placeholder, a
    /// cluster, a CRD named by `requires`.
    Reference,
    /// A value that must be set is unset or empty (the seed installer's
    /// bug 2: an empty storageClass).
    RequiredValue,
    /// A custom resource whose CRD is not in the same or an earlier wave
    /// (nor, with `--live`, served by the cluster).
    CrdOrder,
    /// A health rule's CEL expression does not compile.
    HealthRule,
}

impl Check {
    /// The id as printed: `schema`, `crd-order`...
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Schema => "schema",
            Check::Render => "render",
            Check::Identity => "identity",
            Check::Duplicate => "duplicate",
            Check::Namespace => "namespace",
            Check::Reference => "reference",
            Check::RequiredValue => "required-value",
            Check::CrdOrder => "crd-order",
            Check::HealthRule => "health-rule",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in the repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Finding {
    /// The file, relative to the validated directory, `/`-separated.
    pub file: String,
    /// The line in that file (1-based); 1 when only the file is known.
    pub line: usize,
    /// What found it.
    pub check: Check,
    /// The object it is about (`ConfigMap team-a/settings`), when there is one.
    pub object: Option<String>,
    /// The cluster whose values it appears with; `None` when it appears
    /// with every cluster validated, or when the repository declares none.
    pub cluster: Option<String>,
    /// What is wrong, on one line; never a Secret's value.
    pub message: String,
}

impl Finding {
    /// A finding at `file:line`, with its message made one line.
    pub fn new(
        file: impl AsRef<std::path::Path>,
        line: usize,
        check: Check,
        message: &str,
    ) -> Self {
        Finding {
            file: slashes(file.as_ref()),
            line: line.max(1),
            check,
            object: None,
            cluster: None,
            message: one_line(message),
        }
    }

    /// The same finding about `object`.
    pub fn about(mut self, object: impl ToString) -> Self {
        self.object = Some(object.to_string());
        self
    }
}

/// A path as printed: `/`-separated on every platform.
fn slashes(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text.into_owned()
    }
}

/// Messages of Helm and CEL span several lines; output has one per finding.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_one_line_with_slash_paths() {
        let f = Finding::new(
            std::path::Path::new("charts").join("x/templates/a.yaml"),
            0,
            Check::Render,
            "template failed:\n  executing \"x\"",
        );
        assert_eq!(f.file, "charts/x/templates/a.yaml");
        assert_eq!(f.line, 1);
        assert_eq!(f.message, "template failed: executing \"x\"");
        assert_eq!(Check::CrdOrder.to_string(), "crd-order");
        assert_eq!(
            serde_json::to_value(Check::RequiredValue).expect("json"),
            "required-value"
        );
    }
}
