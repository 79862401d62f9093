//! Render: the second stage of the pipeline (source → **render** → plan →
//! apply → health → state → report).
//!
//! Turns a path of the checked-out repository into the list of objects it
//! declares. Rendering is pure: the same files and values give the same
//! objects, in the same order. Plain manifests are read as kubectl reads them
//! (YAML 1.1 scalars, `kind: List` expansion); overlays and Helm charts plug
//! in behind the same [`Renderer`] interface.

pub mod chart;
mod detect;
mod error;
mod json;
mod objects;
mod overlay;
mod paths;
mod plain;
mod scalar;
mod yaml;

pub use chart::{ChartSpec, EngineChoice, Helm, HelmSettings};
pub use detect::{SourceKind, source_kind};
pub use error::{HelmFailure, RenderError};
pub use overlay::Overlay;
pub use plain::Plain;

use crate::model::Object;
use std::path::Path;

/// What to render: a path inside the repository, with the values placeholders refer to.
pub struct RenderRequest<'a> {
    /// The repository's root directory (the checkout).
    pub repo_root: &'a Path,
    /// The file or directory to render, relative to `repo_root`.
    pub path: &'a str,
    /// Replaces placeholders (`{{ .cluster.storageClass }}`) in a file's text
    /// before it is parsed. It is given the text and the file's path relative
    /// to the repository root, and returns the new text or an error message.
    pub substitute: &'a dyn Fn(&str, &Path) -> Result<String, String>,
}

/// A substitution that leaves the text as it is.
pub fn verbatim(text: &str, _file: &Path) -> Result<String, String> {
    Ok(text.to_owned())
}

/// One interface for every kind of source, so that overlays (kustomization.yaml) and Helm charts can be added later.
pub trait Renderer {
    /// Renders the request's path into objects, in a deterministic order,
    /// each with its [`Origin`](crate::model::Origin).
    ///
    /// # Errors
    /// A [`RenderError`] naming the file (and line, column, field where known).
    fn render(&self, req: &RenderRequest) -> Result<Vec<Object>, RenderError>;
}

/// Picks the renderer for a path: plain manifests, or [`Overlay`] for a
/// directory holding `kustomization.yaml`; a directory holding `Chart.yaml`
/// gives [`RenderError::Unsupported`].
///
/// # Errors
/// Whatever the chosen renderer returns; [`RenderError::OutsideRepo`] and
/// [`RenderError::Missing`] for a path that leaves the repository or is not there.
pub fn render_path(req: &RenderRequest) -> Result<Vec<Object>, RenderError> {
    let (_, target) = paths::resolve(req.repo_root, req.path)?;
    let kind = if target.abs.is_dir() {
        source_kind(&target.abs)
    } else {
        SourceKind::Plain
    };
    match kind {
        SourceKind::Plain => Plain.render(req),
        SourceKind::Overlay => Overlay.render(req),
        SourceKind::Chart => Err(detect::unsupported(kind, &target.rel)),
    }
}

/// Like [`render_path`], but plain manifests keep going after a broken file
/// or document: every object that renders, and every error, so that
/// `wavesync validate` reports them all. An overlay is built as a whole and
/// stops at its first error, as with [`render_path`].
pub fn render_path_all(req: &RenderRequest) -> (Vec<Object>, Vec<RenderError>) {
    let target = match paths::resolve(req.repo_root, req.path) {
        Ok((_, target)) => target,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let kind = if target.abs.is_dir() {
        source_kind(&target.abs)
    } else {
        SourceKind::Plain
    };
    match kind {
        SourceKind::Plain => plain::render_all(req),
        SourceKind::Overlay => match Overlay.render(req) {
            Ok(objects) => (objects, Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        },
        SourceKind::Chart => (Vec::new(), vec![detect::unsupported(kind, &target.rel)]),
    }
}
