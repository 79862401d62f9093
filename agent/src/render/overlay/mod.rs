//! Overlays: a directory holding `kustomization.yaml`, rendered as
//! `kustomize build` (v5.5.0, inside kubectl v1.32) renders it, for a subset
//! of its fields. Any other field is an error naming it.

mod generate;
mod smp;
mod transform;

use super::detect::display;
use super::paths::{self, RepoPath};
use super::{Plain, RenderError, RenderRequest, Renderer, yaml};
use crate::model::{Object, Origin};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The kustomization fields this renderer implements.
const FIELDS: [&str; 19] = [
    "apiVersion",
    "kind",
    "resources",
    "bases",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "metadata",
];

/// Renders directories holding `kustomization.yaml` (or `.yml`, `Kustomization`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overlay;

/// A resource being built, with what kustomize tracks beside it.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    pub json: Value,
    pub origin: Origin,
    /// The name it was declared with, before prefixes, suffixes and hashes.
    pub orig_name: String,
    /// Made by a generator whose name gets the content-hash suffix.
    pub hash: bool,
}

impl Renderer for Overlay {
    fn render(&self, req: &RenderRequest) -> Result<Vec<Object>, RenderError> {
        let (_, target) = paths::resolve(req.repo_root, req.path)?;
        let mut stack = Vec::new();
        let mut res = build(req, &target, &mut stack)?;
        generate::add_hashes(&mut res)?;
        transform::fix_references(&mut res);
        Ok(res
            .into_iter()
            .map(|r| Object {
                json: r.json,
                origin: r.origin,
            })
            .collect())
    }
}

/// An error about a kustomization file.
pub(crate) fn err(file: &Path, message: impl Into<String>) -> RenderError {
    RenderError::Syntax {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message: message.into(),
    }
}

fn kustomization_file(dir: &RepoPath) -> Option<PathBuf> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .find(|f| dir.abs.join(f).is_file())
        .map(|f| dir.rel.join(f))
}

/// Reads a repository file (relative path) as text.
pub(crate) fn read_text(req: &RenderRequest, rel: &Path) -> Result<String, RenderError> {
    let (_, p) = paths::resolve(req.repo_root, &rel.to_string_lossy())?;
    let bytes = std::fs::read(&p.abs).map_err(|source| RenderError::Io {
        path: p.rel.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| RenderError::NotUtf8 { file: p.rel })
}

/// A path written in the kustomization at `dir`, relative to the repository root.
pub(crate) fn join(
    req: &RenderRequest,
    dir: &Path,
    path: &str,
    file: &Path,
) -> Result<RepoPath, RenderError> {
    if path.contains("://") || path.starts_with("github.com/") {
        return Err(err(
            file,
            format!("remote resource `{path}` is not supported"),
        ));
    }
    let joined = dir.join(path);
    paths::resolve(req.repo_root, &joined.to_string_lossy()).map(|(_, p)| p)
}

fn build(
    req: &RenderRequest,
    dir: &RepoPath,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<Res>, RenderError> {
    let Some(kfile) = kustomization_file(dir) else {
        return Err(RenderError::Missing {
            path: format!("{}/kustomization.yaml", display(&dir.rel)),
        });
    };
    if stack.contains(&dir.abs) {
        return Err(err(&kfile, "cycle in resources"));
    }
    stack.push(dir.abs.clone());
    let text = read_text(req, &kfile)?;
    let text = (req.substitute)(&text, &kfile).map_err(|message| RenderError::Substitute {
        file: kfile.clone(),
        message,
    })?;
    let docs = yaml::documents(&text, &kfile)?;
    let k = match docs.into_iter().next().map(|d| d.value) {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(err(&kfile, "a kustomization must be a mapping")),
    };
    for key in k.keys() {
        if !FIELDS.contains(&key.as_str()) {
            return Err(err(
                &kfile,
                format!("kustomization field `{key}` is not supported by wavesync"),
            ));
        }
    }
    let mut out: Vec<Res> = Vec::new();
    for field in ["resources", "bases"] {
        for entry in strings(&k, field, &kfile)? {
            let p = join(req, &dir.rel, &entry, &kfile)?;
            if p.abs.is_dir() {
                out.extend(build(req, &p, stack)?);
            } else {
                let objs = Plain.render(&RenderRequest {
                    repo_root: req.repo_root,
                    path: &p.rel.to_string_lossy(),
                    substitute: req.substitute,
                })?;
                for o in objs {
                    let orig_name = name(&o.json);
                    out.push(Res {
                        json: o.json,
                        origin: o.origin,
                        orig_name,
                        hash: false,
                    });
                }
            }
        }
    }
    generate::run(req, &dir.rel, &kfile, &k, &mut out)?;
    transform::run(req, &dir.rel, &kfile, &k, &mut out)?;
    stack.pop();
    Ok(out)
}

/// A list of strings field.
pub(crate) fn strings(
    k: &Map<String, Value>,
    field: &str,
    file: &Path,
) -> Result<Vec<String>, RenderError> {
    match k.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(file, format!("`{field}` must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(err(file, format!("`{field}` must be a list"))),
    }
}

pub(crate) fn name(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
