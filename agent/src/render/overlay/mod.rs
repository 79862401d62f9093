//! Overlays: a directory holding `kustomization.yaml`, rendered as
//! `kustomize build` (v5.5.0, inside kubectl v1.32) renders it, for a subset
//! of its fields. Any other field is an error naming it.
//!
//! Each kustomization is built as kustomize builds it: its resources (files,
//! and directories built recursively), then its generators, then its
//! transformers in kustomize's fixed order. Once, at the top, the generated
//! names get their content hash, references to renamed objects are updated,
//! and the objects are sorted in kustomize's default ("legacy") order.

mod fieldspec;
mod generate;
mod nameref;
mod order;
mod patch;
mod refs;
mod regex;
mod scopes;
mod select;
mod smp;
mod transform;

use super::detect::display;
use super::paths::{self, RepoPath};
use super::{Plain, RenderError, RenderRequest, Renderer, yaml};
use crate::model::{Object, Origin};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use scopes::is_cluster_scoped;

/// The kustomization fields this renderer implements.
const FIELDS: [&str; 19] = [
    "apiVersion",
    "kind",
    "metadata",
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
];

/// Renders directories holding `kustomization.yaml` (or `.yml`, `Kustomization`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overlay;

/// A name and namespace a resource has, or had before a transformer renamed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, empty when unset.
    pub namespace: String,
}

/// A resource being built, with what kustomize tracks beside it.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    /// The object as built so far.
    pub json: Value,
    /// The file it was read from (the kustomization file for generated ones).
    pub origin: Origin,
    /// Its ids before each namespace, prefix, suffix or hash change, oldest
    /// first (kustomize's "previous ids"): references are matched on them.
    pub prev: Vec<Id>,
    /// The non-empty name prefixes and suffixes applied so far, innermost
    /// first: they tell apart copies of a base used by sibling overlays.
    pub prefixes: Vec<String>,
    /// As `prefixes`, for suffixes.
    pub suffixes: Vec<String>,
    /// Made by a generator whose name gets the content-hash suffix.
    pub hash: bool,
}

impl Res {
    fn new(json: Value, origin: Origin) -> Self {
        Res {
            json,
            origin,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            hash: false,
        }
    }

    /// The kind, or empty.
    pub(crate) fn kind(&self) -> &str {
        self.json["kind"].as_str().unwrap_or_default()
    }

    /// The apiVersion, or empty.
    pub(crate) fn api_version(&self) -> &str {
        self.json["apiVersion"].as_str().unwrap_or_default()
    }

    /// The current name and namespace.
    pub(crate) fn cur_id(&self) -> Id {
        Id {
            name: name(&self.json),
            namespace: namespace(&self.json),
        }
    }

    /// The name and namespace it was declared with.
    pub(crate) fn org_id(&self) -> Id {
        self.prev.first().cloned().unwrap_or_else(|| self.cur_id())
    }

    /// Its previous ids and its current one.
    pub(crate) fn all_ids(&self) -> Vec<Id> {
        let mut ids = self.prev.clone();
        ids.push(self.cur_id());
        ids
    }

    /// Records the current id before a transformer changes it.
    pub(crate) fn store_prev(&mut self) {
        let id = self.cur_id();
        self.prev.push(id);
    }

    /// Whether `id` (with the same apiVersion and kind) names this resource
    /// now or named it before, comparing namespaces as kustomize does.
    pub(crate) fn has_id(&self, api_version: &str, kind: &str, id: &Id) -> bool {
        self.api_version() == api_version
            && self.kind() == kind
            && self.all_ids().iter().any(|own| {
                own.name == id.name
                    && effective_ns(&self.json, &own.namespace)
                        == effective_ns(&self.json, &id.namespace)
            })
    }
}

/// The namespace kustomize compares: none is `default`; cluster-scoped objects have none.
pub(crate) fn effective_ns(obj: &Value, ns: &str) -> String {
    if is_cluster_scoped(obj) {
        String::new()
    } else if ns.is_empty() {
        "default".to_owned()
    } else {
        ns.to_owned()
    }
}

impl Renderer for Overlay {
    fn render(&self, req: &RenderRequest) -> Result<Vec<Object>, RenderError> {
        let (_, target) = paths::resolve(req.repo_root, req.path)?;
        let mut stack = Vec::new();
        let mut res = build(req, &target, &mut stack)?;
        generate::add_hashes(&mut res);
        nameref::fix(&mut res).map_err(|message| RenderError::Syntax {
            file: kustomization_file(&target).unwrap_or_else(|| target.rel.clone()),
            line: 1,
            column: 1,
            message,
        })?;
        order::legacy_sort(&mut res);
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

/// A kustomization field (or a field inside one, `patches[0].options`)
/// outside the supported subset.
pub(crate) fn unsupported(file: &Path, field: impl Into<String>) -> RenderError {
    RenderError::UnsupportedField {
        file: file.to_path_buf(),
        field: field.into(),
    }
}

/// Refuses any key of `m` not in `allowed`; `at` names the mapping (`images[0]`).
pub(crate) fn check_keys(
    m: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
    file: &Path,
) -> Result<(), RenderError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(unsupported(file, format!("{at}.{k}"))),
        None => Ok(()),
    }
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn kustomization_file(dir: &RepoPath) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .find(|f| dir.abs.join(f).is_file())
        .map(|f| dir.rel.join(f))
}

/// Reads a repository file (relative path) as bytes.
pub(crate) fn read_bytes(req: &RenderRequest, rel: &Path) -> Result<Vec<u8>, RenderError> {
    let (_, p) = paths::resolve(req.repo_root, &rel.to_string_lossy())?;
    std::fs::read(&p.abs).map_err(|source| RenderError::Io {
        path: p.rel,
        source,
    })
}

/// Reads a repository file (relative path) as text.
pub(crate) fn read_text(req: &RenderRequest, rel: &Path) -> Result<String, RenderError> {
    String::from_utf8(read_bytes(req, rel)?).map_err(|_| RenderError::NotUtf8 {
        file: rel.to_path_buf(),
    })
}

/// A path written in the kustomization at `dir`, relative to the repository root.
pub(crate) fn join(
    req: &RenderRequest,
    dir: &Path,
    path: &str,
    file: &Path,
) -> Result<RepoPath, RenderError> {
    if path.contains("://") || path.starts_with("github.com/") || path.starts_with("git@") {
        return Err(err(
            file,
            format!("remote resource `{path}` is not supported by wavesync overlays"),
        ));
    }
    let joined = dir.join(path);
    paths::resolve(req.repo_root, &joined.to_string_lossy()).map(|(_, p)| p)
}

/// A file named in the kustomization at `dir` (a resource, patch or
/// generator file): like kustomize's default load restrictor, it must be in
/// or below that directory once symbolic links are resolved. Only bases and
/// overlays (directories) may be elsewhere in the repository.
pub(crate) fn join_file(
    req: &RenderRequest,
    dir: &Path,
    path: &str,
    file: &Path,
) -> Result<RepoPath, RenderError> {
    let p = join(req, dir, path, file)?;
    let (_, d) = paths::resolve(req.repo_root, &dir.to_string_lossy())?;
    if !p.abs.starts_with(&d.abs) {
        return Err(err(
            file,
            format!(
                "`{path}` is not in or below {}: kustomize reads files only there (a directory with its own kustomization may be anywhere in the repository)",
                if dir.as_os_str().is_empty() {
                    ".".to_owned()
                } else {
                    display(dir)
                }
            ),
        ));
    }
    Ok(p)
}

fn build(
    req: &RenderRequest,
    dir: &RepoPath,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<Res>, RenderError> {
    let Some(kfile) = kustomization_file(dir) else {
        return Err(RenderError::Missing {
            path: format!("{}/kustomization.yaml", display(&dir.rel)),
            listed_in: None,
        });
    };
    // kustomize refuses a directory with two of them rather than pick one.
    if KUSTOMIZATION_FILES
        .iter()
        .filter(|f| dir.abs.join(f).is_file())
        .count()
        > 1
    {
        return Err(err(
            &kfile,
            "the directory holds more than one kustomization file",
        ));
    }
    if stack.contains(&dir.abs) {
        return Err(err(&kfile, "cycle in resources"));
    }
    stack.push(dir.abs.clone());
    let text = read_text(req, &kfile)?;
    let text = (req.substitute)(&text, &kfile).map_err(|message| RenderError::Substitute {
        file: kfile.clone(),
        message,
    })?;
    let docs = yaml::documents_unique_keys(&text, &kfile)?;
    let k = match docs.into_iter().next().map(|d| d.value) {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(err(&kfile, "a kustomization must be a mapping")),
    };
    if let Some(key) = k.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(unsupported(&kfile, key.clone()));
    }
    match k.get("kind").and_then(Value::as_str) {
        None | Some("Kustomization") => {}
        // A Component is only meaningful under `components`, which is not supported.
        Some(other) => return Err(unsupported(&kfile, format!("kind: {other}"))),
    }
    let mut out: Vec<Res> = Vec::new();
    // kustomize appends the deprecated `bases` to `resources`.
    for field in ["resources", "bases"] {
        for entry in strings(&k, field, &kfile)? {
            let p = join(req, &dir.rel, &entry, &kfile).map_err(|e| entry_error(e, &kfile))?;
            let added = if p.abs.is_dir() {
                build(req, &p, stack)?
            } else {
                let p =
                    join_file(req, &dir.rel, &entry, &kfile).map_err(|e| entry_error(e, &kfile))?;
                Plain
                    .render(&RenderRequest {
                        repo_root: req.repo_root,
                        path: &p.rel.to_string_lossy(),
                        substitute: req.substitute,
                    })?
                    .into_iter()
                    .map(|o| Res::new(o.json, o.origin))
                    .collect()
            };
            for r in added {
                append(&mut out, r, &kfile)?;
            }
        }
    }
    generate::run(req, &dir.rel, &kfile, &k, &mut out)?;
    transform::run(req, &dir.rel, &kfile, &k, &mut out)?;
    stack.pop();
    Ok(out)
}

/// A path error of an entry of `field` (`resources`), with the
/// kustomization that lists it: the file to fix is that one.
fn entry_error(e: RenderError, kfile: &Path) -> RenderError {
    match e {
        RenderError::OutsideRepo {
            path,
            listed_in: None,
        } => RenderError::OutsideRepo {
            path,
            listed_in: Some(kfile.to_path_buf()),
        },
        RenderError::Missing {
            path,
            listed_in: None,
        } => RenderError::Missing {
            path,
            listed_in: Some(kfile.to_path_buf()),
        },
        other => other,
    }
}

/// Adds a resource, refusing a second one with the same current id (as kustomize does).
fn append(out: &mut Vec<Res>, r: Res, file: &Path) -> Result<(), RenderError> {
    let id = r.cur_id();
    if out.iter().any(|o| {
        o.api_version() == r.api_version()
            && o.kind() == r.kind()
            && o.cur_id().name == id.name
            && effective_ns(&o.json, &o.cur_id().namespace) == effective_ns(&r.json, &id.namespace)
    }) {
        return Err(err(
            file,
            format!(
                "{} {} is declared twice (kustomize refuses an id it already has)",
                r.kind(),
                id.name
            ),
        ));
    }
    out.push(r);
    Ok(())
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

/// `metadata.name`, or empty.
pub(crate) fn name(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `metadata.namespace`, or empty.
pub(crate) fn namespace(v: &Value) -> String {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
