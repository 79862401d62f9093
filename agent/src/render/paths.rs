//! Files to render: a requested path checked to stay inside the repository,
//! then the manifest files under it, in a deterministic order.

use super::RenderError;
use super::detect::{SourceKind, display, source_kind, unsupported};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// A file or directory inside the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoPath {
    /// Canonical absolute path (symlinks resolved).
    pub abs: PathBuf,
    /// Path relative to the repository root, as the user wrote it (normalized).
    pub rel: PathBuf,
}

/// Extensions of manifest files picked up when walking a directory.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Resolves `path` inside the repository whose root is `repo_root`.
///
/// # Errors
/// [`RenderError::OutsideRepo`] for an absolute path, a `..` that climbs out,
/// or a symlink that resolves outside; [`RenderError::Missing`] when nothing is
/// there; [`RenderError::Io`] when the root itself cannot be resolved.
pub(crate) fn resolve(repo_root: &Path, path: &str) -> Result<(PathBuf, RepoPath), RenderError> {
    let outside = || RenderError::OutsideRepo {
        path: path.to_owned(),
        listed_in: None,
    };
    let mut rel = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(c) => rel.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                if !rel.pop() {
                    return Err(outside());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    let root = repo_root.canonicalize().map_err(|source| RenderError::Io {
        path: repo_root.to_path_buf(),
        source,
    })?;
    let abs = canonical_inside(&root, &root.join(&rel), &rel).map_err(|e| match e {
        RenderError::OutsideRepo { .. } => outside(),
        RenderError::Missing { .. } => RenderError::Missing {
            path: path.to_owned(),
            listed_in: None,
        },
        other => other,
    })?;
    Ok((root, RepoPath { abs, rel }))
}

/// Canonicalizes `path` and checks that it stays under `root`.
fn canonical_inside(root: &Path, path: &Path, rel: &Path) -> Result<PathBuf, RenderError> {
    let abs = path.canonicalize().map_err(|source| match source.kind() {
        // A symlink to nothing is outside when where it points is.
        std::io::ErrorKind::NotFound if dangles_outside(root, path) => RenderError::OutsideRepo {
            path: display(rel),
            listed_in: None,
        },
        std::io::ErrorKind::NotFound => RenderError::Missing {
            path: display(rel),
            listed_in: None,
        },
        _ => RenderError::Io {
            path: rel.to_path_buf(),
            source,
        },
    })?;
    if abs.starts_with(root) {
        Ok(abs)
    } else {
        Err(RenderError::OutsideRepo {
            path: display(rel),
            listed_in: None,
        })
    }
}

/// Whether `path` is a symbolic link (or lies under one) whose target, read
/// without the filesystem (it does not exist), is not under `root`.
fn dangles_outside(root: &Path, path: &Path) -> bool {
    // The deepest existing ancestor resolves; the first missing step below
    // it may be a link to read.
    let mut existing = path;
    while existing.symlink_metadata().is_err() {
        let Some(parent) = existing.parent() else {
            return false;
        };
        existing = parent;
    }
    let Ok(meta) = existing.symlink_metadata() else {
        return false;
    };
    if !meta.file_type().is_symlink() {
        return false;
    }
    let (Ok(target), Some(parent)) = (std::fs::read_link(existing), existing.parent()) else {
        return false;
    };
    let Ok(parent) = parent.canonicalize() else {
        return false;
    };
    let mut at = parent;
    for c in target.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => at = PathBuf::from("/"),
            Component::ParentDir => {
                at.pop();
            }
            Component::CurDir => {}
            Component::Normal(n) => at.push(n),
        }
    }
    !at.starts_with(root)
}

/// The manifest files at `target`: the file itself, or every `*.yaml`,
/// `*.yml` and `*.json` file below the directory, sorted by relative path
/// (byte order).
///
/// Entries whose name starts with `.` (such as `.git`) are skipped. Symlinks
/// are followed when they resolve inside the repository (a directory reached
/// twice is read once).
///
/// # Errors
/// [`RenderError::OutsideRepo`] for a symlink resolving outside,
/// [`RenderError::Unsupported`] for a subdirectory holding an overlay or a
/// chart, [`RenderError::Io`] when a directory cannot be read.
pub(crate) fn manifest_files(root: &Path, target: &RepoPath) -> Result<Vec<RepoPath>, RenderError> {
    if !target.abs.is_dir() {
        return Ok(vec![target.clone()]);
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    walk(root, target, &mut seen, &mut files)?;
    files.sort_by(|a, b| {
        a.rel
            .as_os_str()
            .as_encoded_bytes()
            .cmp(b.rel.as_os_str().as_encoded_bytes())
    });
    Ok(files)
}

fn walk(
    root: &Path,
    dir: &RepoPath,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<RepoPath>,
) -> Result<(), RenderError> {
    if !seen.insert(dir.abs.clone()) {
        return Ok(());
    }
    let kind = source_kind(&dir.abs);
    if kind != SourceKind::Plain {
        return Err(unsupported(kind, &dir.rel));
    }
    let io = |source| RenderError::Io {
        path: dir.rel.clone(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir.abs).map_err(io)? {
        names.push(entry.map_err(io)?.file_name());
    }
    // Sorted so that the walk, and which path reaches a directory first, is deterministic.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let rel = dir.rel.join(&name);
        let abs = canonical_inside(root, &dir.abs.join(&name), &rel)?;
        let path = RepoPath { abs, rel };
        if path.abs.is_dir() {
            walk(root, &path, seen, out)?;
        } else if Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}
