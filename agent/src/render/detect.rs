//! Which kind of source a directory holds: plain manifests, an overlay
//! (`kustomization.yaml`) or a Helm chart (`Chart.yaml`).

use super::RenderError;
use std::path::Path;

/// The kind of source found in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// YAML and JSON files, rendered as they are.
    Plain,
    /// A directory with `kustomization.yaml`, `kustomization.yml` or `Kustomization`.
    Overlay,
    /// A directory with `Chart.yaml`.
    Chart,
}

/// File names that make a directory an overlay.
const OVERLAY_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kind of source in `dir` (a file is always [`SourceKind::Plain`]).
pub fn source_kind(dir: &Path) -> SourceKind {
    if OVERLAY_FILES.iter().any(|f| dir.join(f).is_file()) {
        SourceKind::Overlay
    } else if dir.join("Chart.yaml").is_file() {
        SourceKind::Chart
    } else {
        SourceKind::Plain
    }
}

impl SourceKind {
    /// What this kind of source is, in the plural, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Plain => "plain manifests",
            SourceKind::Overlay => "kustomize overlays (kustomization.yaml)",
            SourceKind::Chart => "Helm charts (Chart.yaml)",
        }
    }
}

/// The error for a directory whose kind of source cannot be rendered yet.
pub(crate) fn unsupported(kind: SourceKind, rel: &Path) -> RenderError {
    RenderError::Unsupported {
        path: display(rel),
        what: kind.describe(),
    }
}

/// A repository-relative path for messages (`.` for the root).
pub(crate) fn display(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        rel.display().to_string()
    }
}
