//! [`load()`]: reading `wavesync.yaml` at the repository root, selecting the
//! cluster, loading its values, and resolving the whole into a [`WaveSet`].
//!
//! The order matters for the messages: a placeholder with an empty value is
//! reported where it is used (the requirement that would have sent an empty
//! storageClass to the cluster), and only then a required value that nothing
//! in `wavesync.yaml` uses, at its declaration.

use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_saphyr::Spanned;

use super::errors::{ConfigError, Position, Site, ValuesOrigin, ValuesSource, join_names};
use super::paths::{Expect, PathProblem};
use super::resolve::{self, Ctx};
use super::schema;
use super::types::WaveSet;
use super::values::{Setting, Values};
use super::yaml::{self, Kind, Node, loc_of};

/// The root file's name.
pub const FILE_NAME: &str = "wavesync.yaml";

/// The only `apiVersion` this agent reads.
pub const API_VERSION: &str = "wavesync.io/v1alpha1";

/// The only `kind`.
pub const KIND: &str = "WaveSet";

/// Reads `wavesync.yaml` at `repo_root`, selects `cluster` (required when
/// the file declares more than one; with exactly one it is the default),
/// loads its values (file paths relative to the repository root, never
/// escaping it), substitutes placeholders in every string of `metadata` and
/// `spec`, and validates everything.
///
/// # Errors
///
/// A [`ConfigError`] naming the file, `line:column` and document path of
/// the first problem; [`ConfigError::Io`] (transient) when a file cannot be
/// read for another reason than its absence.
pub fn load(repo_root: &Path, cluster: Option<&str>) -> Result<WaveSet, ConfigError> {
    let root = repo_root
        .canonicalize()
        .map_err(|e| ConfigError::io(repo_root, e))?;
    let file = Path::new(FILE_NAME);
    let source = read(&root, file)?;
    let raw: schema::File = yaml::parse(&source, file)?;
    let tree = yaml::parse_tree(&source, file)?;
    let here = |at: Option<(u32, u32)>, path: &str| Site {
        pos: Position {
            file: file.to_path_buf(),
            line_col: at,
        },
        path: path.to_string(),
    };
    check_header(&raw, &here)?;

    let selected = select_cluster(&raw, cluster, &here)?;
    let (entries, origin) = match selected {
        Some((index, c)) => cluster_values(&root, &tree, index, c, &here)?,
        None => (Vec::new(), ValuesOrigin::default()),
    };
    let values = Values::build(&raw.values, entries, origin)?;

    let mut ctx = Ctx {
        file,
        source: &source,
        root: &root,
        values: &values,
        namespace: None,
    };
    let spec = &raw.spec.value;
    let name = ctx.name(&raw.metadata.name, "metadata.name")?;
    ctx.namespace = spec
        .namespace
        .as_ref()
        .map(|t| ctx.name(t, "spec.namespace"))
        .transpose()?;
    let defaults = resolve::defaults(&ctx, spec.defaults.as_ref())?;
    if spec.waves.is_empty() {
        let at = tree.location_of("spec.waves").or(loc_of(&raw.spec));
        return Err(ctx.invalid(at, "spec.waves", "declares no waves"));
    }
    let waves = resolve::waves(&ctx, &spec.waves, &defaults)?;
    let mut errors = Vec::new();
    let notifications = super::notifications::notifications(&ctx, &spec.notifications, &mut errors);
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    values.check_required(&raw.values, |key| {
        let path = format!("values.{key}");
        here(tree.location_of(&path), &path)
    })?;

    let drift =
        super::drift::settings(&ctx, spec.drift.as_ref(), &spec.ignore_differences, "spec")?;
    let heal_limit = super::drift::heal_limit(&ctx, spec.heal_limit.as_ref())?;
    let prune = super::prune::policy(&ctx, spec.prune.as_ref())?;
    Ok(WaveSet {
        name,
        namespace: ctx.namespace,
        defaults,
        waves,
        cluster: selected.map(|(_, c)| c.value.name.value.clone()),
        values,
        drift,
        heal_limit,
        notifications,
        prune,
    })
}

/// Reads `rel` under the canonical `root`, refusing a symlink that leads
/// out of the repository (a committed `wavesync.yaml -> /etc/...`).
pub(super) fn read(root: &Path, rel: &Path) -> Result<String, ConfigError> {
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|e| ConfigError::io(rel, e))?;
    if !full.starts_with(root) {
        return Err(ConfigError::RepoPath {
            at: Site {
                pos: Position {
                    file: rel.to_path_buf(),
                    line_col: None,
                },
                path: String::new(),
            },
            path: rel.display().to_string(),
            problem: PathProblem::SymlinkEscapes(full),
        });
    }
    std::fs::read_to_string(&full).map_err(|e| ConfigError::io(rel, e))
}

/// `apiVersion` and `kind` must be ours: another version of the format
/// would be misread field by field.
pub(super) fn check_header(
    raw: &schema::File,
    here: &impl Fn(Option<(u32, u32)>, &str) -> Site,
) -> Result<(), ConfigError> {
    for (t, path, expected) in [
        (&raw.api_version, "apiVersion", API_VERSION),
        (&raw.kind, "kind", KIND),
    ] {
        if t.value != expected {
            let message = format!(
                "unsupported {path} \"{}\"; expected \"{expected}\"",
                t.value
            );
            return Err(ConfigError::Invalid {
                at: here(loc_of(t), path),
                message,
            });
        }
    }
    Ok(())
}

/// Picks the cluster: the one named, or the only one declared.
pub(super) fn select_cluster<'a>(
    raw: &'a schema::File,
    wanted: Option<&str>,
    here: &impl Fn(Option<(u32, u32)>, &str) -> Site,
) -> Result<Option<(usize, &'a Spanned<schema::Cluster>)>, ConfigError> {
    let (list, at) = match &raw.clusters {
        Some(list) => (list.value.as_slice(), loc_of(list)),
        None => (&[][..], None),
    };
    let known = join_names(list.iter().map(|c| c.value.name.value.as_str()));
    let mut names = std::collections::HashMap::new();
    for (i, c) in list.iter().enumerate() {
        let name = &c.value.name;
        let path = format!("clusters[{i}].name");
        if name.value.trim().is_empty() {
            let message = "must not be empty".to_string();
            return Err(ConfigError::Invalid {
                at: here(loc_of(name), &path),
                message,
            });
        }
        if let Some(first_line) =
            names.insert(name.value.as_str(), loc_of(name).map_or(0, |(l, _)| l))
        {
            let (what, name) = ("cluster", name.value.clone());
            return Err(ConfigError::Duplicate {
                at: here(loc_of(&c.value.name), &path),
                what,
                name,
                first_line,
            });
        }
    }
    match (wanted, list) {
        (None, []) => Ok(None),
        (None, [only]) => Ok(Some((0, only))),
        (None, _) => Err(ConfigError::ClusterRequired {
            at: here(at, "clusters"),
            count: list.len(),
            known,
        }),
        (Some(name), _) => match list.iter().position(|c| c.value.name.value == name) {
            Some(i) => Ok(list.get(i).map(|c| (i, c))),
            None => {
                let at = if at.is_some() {
                    here(at, "clusters")
                } else {
                    here(None, "")
                };
                Err(ConfigError::UnknownCluster {
                    at,
                    name: name.to_string(),
                    known,
                })
            }
        },
    }
}

/// The selected cluster's values, each key with where it is written.
pub(super) fn cluster_values(
    root: &Path,
    tree: &Node,
    index: usize,
    cluster: &Spanned<schema::Cluster>,
    here: &impl Fn(Option<(u32, u32)>, &str) -> Site,
) -> Result<(Vec<Setting>, ValuesOrigin), ConfigError> {
    let path = format!("clusters[{index}].values");
    let (entries, source) = match cluster.value.values.as_ref().map(|v| (v, &v.value)) {
        None | Some((_, Value::Null)) => (Vec::new(), ValuesSource::None),
        Some((values, Value::String(rel))) => {
            let at = here(loc_of(values), &path);
            let (entries, file) = values_file(root, rel, at)?;
            (entries, ValuesSource::File(file))
        }
        Some((_, Value::Object(_))) => {
            let node = find(tree, &path);
            let entries = node.map(|n| map_entries(n, Path::new(FILE_NAME), &path));
            (
                entries.transpose()?.unwrap_or_default(),
                ValuesSource::Inline,
            )
        }
        Some((values, _)) => {
            let message = "expected a values file (a path) or a map of values".to_string();
            let at = here(loc_of(values), &path);
            return Err(ConfigError::Invalid { at, message });
        }
    };
    let cluster = Some(cluster.value.name.value.clone());
    Ok((entries, ValuesOrigin { cluster, source }))
}

/// Reads a values file named at `at`; returns its settings and its path
/// relative to the repository root.
fn values_file(root: &Path, rel: &str, at: Site) -> Result<(Vec<Setting>, PathBuf), ConfigError> {
    let rel = super::paths::check(root, rel, Expect::File).map_err(|problem| {
        let path = rel.to_string();
        ConfigError::RepoPath { at, path, problem }
    })?;
    let file = PathBuf::from(rel);
    let text = read(root, &file)?;
    let entries = map_entries(&yaml::parse_tree(&text, &file)?, &file, "")?;
    Ok((entries, file))
}

/// The node at `clusters[i].values` in the tree.
fn find<'a>(tree: &'a Node, path: &str) -> Option<&'a Node> {
    let (clusters, rest) = path.split_once('[')?;
    let (index, field) = rest.split_once("].")?;
    let index: usize = index.parse().ok()?;
    let list = entry(tree, clusters)?;
    let Kind::Seq(items) = &list.kind else {
        return None;
    };
    entry(items.get(index)?, field)
}

/// The value of `key` in a map node.
fn entry<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    let Kind::Map(entries) = &node.kind else {
        return None;
    };
    entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
}

/// The top-level entries of a values map, each with its site; `prefix` is
/// the document path of the map (empty for a values file).
fn map_entries(node: &Node, file: &Path, prefix: &str) -> Result<Vec<Setting>, ConfigError> {
    let site = |at: Option<(u32, u32)>, path: String| Site {
        pos: Position {
            file: file.to_path_buf(),
            line_col: at,
        },
        path,
    };
    match &node.kind {
        // An empty file sets nothing; required values are still checked.
        Kind::Scalar(Value::Null) => Ok(Vec::new()),
        Kind::Map(entries) => Ok(entries
            .iter()
            .map(|(key, at, value)| {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                Setting {
                    key: key.clone(),
                    value: value.to_json(),
                    at: site(Some(*at), path),
                }
            })
            .collect()),
        _ => Err(ConfigError::Invalid {
            at: site(node.at, prefix.to_string()),
            message: "expected a map of values (key: value)".to_string(),
        }),
    }
}
