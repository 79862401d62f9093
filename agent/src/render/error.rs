//! Errors of the render stage: each names the file (and where it can, the
//! line, column and field) so that a user can fix the repository.

use crate::error::{Categorized, Category};
use std::path::PathBuf;

/// Why a path could not be rendered into objects.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The path is absolute, uses `..` to climb out, or is (or contains) a
    /// symlink that resolves outside the repository.
    #[error("{path}: path leaves the repository{}", listed(listed_in.as_deref()))]
    OutsideRepo {
        /// The path as written (or as found while walking).
        path: String,
        /// The kustomization file that lists the path, when one does.
        listed_in: Option<PathBuf>,
    },
    /// The path does not exist in the repository.
    #[error("{path}: no such file or directory in the repository{}", listed(listed_in.as_deref()))]
    Missing {
        /// The path as written.
        path: String,
        /// The kustomization file that lists the path, when one does.
        listed_in: Option<PathBuf>,
    },
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory, relative to the repository root when known.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8 text.
    #[error("{}: not UTF-8 text", file.display())]
    NotUtf8 {
        /// The file, relative to the repository root.
        file: PathBuf,
    },
    /// The placeholder substitution refused the file's text.
    #[error("{}: substitution failed: {message}", file.display())]
    Substitute {
        /// The file, relative to the repository root.
        file: PathBuf,
        /// What the substitution said.
        message: String,
    },
    /// Malformed YAML or JSON (or a value JSON cannot hold, as kubectl refuses it too).
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The file, relative to the repository root.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A document is a scalar or a sequence where an object was expected.
    #[error("{}:{line}: document {} is {found}, not a mapping (an object)", file.display(), doc + 1)]
    NotAMapping {
        /// The file, relative to the repository root.
        file: PathBuf,
        /// The document's first line.
        line: usize,
        /// The document's index in the file (0-based).
        doc: usize,
        /// What was found instead (`a sequence`, `a string`…).
        found: &'static str,
    },
    /// An object lacks `apiVersion`, `kind` or `metadata.name` (or it is not a
    /// non-empty string).
    #[error("{}:{line}: {}", file.display(), missing(field, *found))]
    MissingField {
        /// The file, relative to the repository root.
        file: PathBuf,
        /// The document's first line.
        line: usize,
        /// `apiVersion`, `kind` or `metadata.name` (or `metadata`, when it
        /// is not a mapping).
        field: &'static str,
        /// What is there instead (`a number`, `an empty string`), when
        /// something is.
        found: Option<&'static str>,
    },
    /// An object larger than the 1.5 MiB an API server stores.
    #[error("{}:{line}: object is {} as JSON, more than the 1.5 MiB an API server stores (etcd's request limit); split it, or keep the data out of the object", file.display(), mib(*bytes))]
    TooLarge {
        /// The file, relative to the repository root.
        file: PathBuf,
        /// The document's first line.
        line: usize,
        /// Its size as JSON.
        bytes: usize,
    },
    /// A `kustomization.yaml` field outside the supported subset: refused
    /// rather than silently ignored, since ignoring it would apply something
    /// other than what `kustomize build` gives.
    #[error("{}: field {field} is not supported by wavesync overlays (docs/repo-format.md lists the supported fields)", file.display())]
    UnsupportedField {
        /// The kustomization file, relative to the repository root.
        file: PathBuf,
        /// The field as written (`helmCharts`, `replacements`…).
        field: String,
    },
    /// Helm could not load, validate or render a chart.
    #[error("{chart}: {failure}: {message}")]
    Helm {
        /// The chart's path relative to the repository root.
        chart: String,
        /// Which step failed.
        failure: HelmFailure,
        /// Helm's own message (it names the template, line and column for
        /// template errors, and the value's path for schema violations).
        message: String,
    },
    /// The path holds a source format that is not implemented yet.
    #[error("{path}: {what} are not supported yet (overlays arrive with issue 4)")]
    Unsupported {
        /// The directory, relative to the repository root.
        path: String,
        /// `kustomize overlays (kustomization.yaml)` or `Helm charts (Chart.yaml)`.
        what: &'static str,
    },
}

/// `object has no kind (…)`, or `metadata.name is a number; …`.
fn missing(field: &str, found: Option<&str>) -> String {
    let wanted = if field == "metadata" {
        "a mapping"
    } else {
        "a non-empty string"
    };
    match found {
        None => format!("object has no {field} ({wanted} is required)"),
        Some(found) => format!("{field} is {found}; {wanted} is required"),
    }
}

/// ` (listed in o/kustomization.yaml)`, or nothing.
fn listed(file: Option<&std::path::Path>) -> String {
    file.map(|f| format!(" (listed in {})", f.display()))
        .unwrap_or_default()
}

/// `52.4 MiB`.
fn mib(bytes: usize) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.1} MiB")
}

/// The step of a Helm render that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmFailure {
    /// The chart could not be loaded (bad `Chart.yaml`, unreadable archive).
    Load,
    /// The values are malformed or violate the chart's `values.schema.json`.
    Values,
    /// A template failed to execute or produced invalid YAML.
    Template,
    /// No Helm engine could be started (no `helm` CLI, no `libhelm_c`), or
    /// it crashed.
    Engine,
    /// The render did not finish within the render timeout (`--helm-timeout`;
    /// a template that never ends), and the engine was killed.
    Timeout,
}

impl std::fmt::Display for HelmFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HelmFailure::Load => "chart cannot be loaded",
            HelmFailure::Values => "values rejected",
            HelmFailure::Template => "template failed",
            HelmFailure::Engine => "helm engine unavailable",
            HelmFailure::Timeout => "render timed out",
        })
    }
}

impl Categorized for RenderError {
    fn category(&self) -> Category {
        match self {
            RenderError::Io { .. } => Category::Transient,
            // A crashed engine may well render the next time; a missing one
            // is not the repository's fault either.
            RenderError::Helm {
                failure: HelmFailure::Engine,
                ..
            } => Category::Transient,
            _ => Category::Config,
        }
    }
}
