//! Paths inside the repository: wave and component paths, values files.
//!
//! A path in `wavesync.yaml` must stay inside the repository: a `../x` or an
//! absolute path would let a repository make the agent read files of the host
//! it runs on. Checking the text is not enough, because a symlink committed
//! to Git can point anywhere, so the path is also canonicalized and compared
//! with the canonical repository root.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// What is wrong with a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// Nothing was written.
    Empty,
    /// `/etc/x`: paths are relative to the repository root.
    Absolute,
    /// `../x`: the path climbs above the repository root.
    Escapes,
    /// A symlink on the way resolves outside the repository.
    SymlinkEscapes(PathBuf),
    /// Nothing exists there.
    NotFound,
    /// It exists but is not a file where a file is needed.
    NotAFile,
    /// It could not be inspected (permissions, I/O).
    Unreadable(String),
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("is empty"),
            PathProblem::Absolute => {
                f.write_str("is absolute; write it relative to the repository root")
            }
            PathProblem::Escapes => f.write_str("leaves the repository"),
            PathProblem::SymlinkEscapes(target) => write!(
                f,
                "leaves the repository through a symlink (it resolves to {})",
                target.display()
            ),
            PathProblem::NotFound => f.write_str("does not exist in the repository"),
            PathProblem::NotAFile => f.write_str("is not a file"),
            PathProblem::Unreadable(why) => write!(f, "cannot be read: {why}"),
        }
    }
}

/// What the path must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A file or a directory (manifests).
    FileOrDir,
    /// A file (a values file).
    File,
}

/// Checks that `rel` names something inside the repository whose canonical
/// root is `root`, and returns it normalized: `/`-separated, without `.`,
/// inner `..` or trailing slashes, so that `./waves/a/` and `waves/a` are the
/// same wave path (digests and messages stay stable).
///
/// # Errors
///
/// A [`PathProblem`] when the path is empty, absolute, climbs out of the
/// repository (also through a symlink), does not exist, or is not a file
/// where a file is expected.
pub(crate) fn check(root: &Path, rel: &str, expect: Expect) -> Result<String, PathProblem> {
    if rel.trim().is_empty() {
        return Err(PathProblem::Empty);
    }
    let normalized = normalize(rel)?;
    let full = root.join(&normalized);
    // Canonicalizing resolves every symlink on the way; a path that exists
    // only as a dangling link fails here too, which is what we want.
    let canonical = full.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PathProblem::NotFound,
        _ => PathProblem::Unreadable(e.to_string()),
    })?;
    if !canonical.starts_with(root) {
        return Err(PathProblem::SymlinkEscapes(canonical));
    }
    if expect == Expect::File && !canonical.is_file() {
        return Err(PathProblem::NotAFile);
    }
    Ok(if normalized.is_empty() {
        ".".to_string()
    } else {
        normalized
    })
}

/// Lexical normalization: rejects absolute paths and any `..` that would
/// climb above the root, even when a later component comes back down
/// (`../repo/x` depends on what the checkout directory is called).
fn normalize(rel: &str) -> Result<String, PathProblem> {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(rel).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(PathProblem::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes);
                }
            }
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                // Input came from a &str, so every component is UTF-8.
                None => return Err(PathProblem::Unreadable("not UTF-8".into())),
            },
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("waves/a")).expect("mkdir");
        std::fs::write(root.join("waves/a/x.yaml"), "").expect("write");
        let root = root.canonicalize().expect("canonical");
        (dir, root)
    }

    #[test]
    fn normalizes_paths_inside_the_repository() {
        let (_dir, root) = repo();
        assert_eq!(
            check(&root, "waves/a", Expect::FileOrDir),
            Ok("waves/a".into())
        );
        assert_eq!(
            check(&root, "./waves/a/", Expect::FileOrDir),
            Ok("waves/a".into())
        );
        assert_eq!(
            check(&root, "waves/../waves/a/x.yaml", Expect::File),
            Ok("waves/a/x.yaml".into())
        );
        assert_eq!(check(&root, ".", Expect::FileOrDir), Ok(".".into()));
    }

    #[test]
    fn rejects_paths_that_leave_or_miss() {
        let (_dir, root) = repo();
        assert_eq!(check(&root, "", Expect::FileOrDir), Err(PathProblem::Empty));
        assert_eq!(
            check(&root, "/etc/passwd", Expect::File),
            Err(PathProblem::Absolute)
        );
        assert_eq!(
            check(&root, "../x", Expect::FileOrDir),
            Err(PathProblem::Escapes)
        );
        assert_eq!(
            check(&root, "waves/../../repo/waves", Expect::FileOrDir),
            Err(PathProblem::Escapes)
        );
        assert_eq!(
            check(&root, "waves/b", Expect::FileOrDir),
            Err(PathProblem::NotFound)
        );
        assert_eq!(
            check(&root, "waves/a", Expect::File),
            Err(PathProblem::NotAFile)
        );
    }

    #[cfg(unix)]
    #[test]
    fn rejects_symlinks_that_resolve_outside() {
        let (dir, root) = repo();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, root.join("waves/link")).expect("symlink");
        std::os::unix::fs::symlink(root.join("waves/a"), root.join("waves/inner"))
            .expect("symlink");
        match check(&root, "waves/link", Expect::FileOrDir) {
            Err(PathProblem::SymlinkEscapes(target)) => assert!(target.ends_with("outside")),
            other => panic!("expected a symlink escape, got {other:?}"),
        }
        assert_eq!(
            check(&root, "waves/inner", Expect::FileOrDir),
            Ok("waves/inner".into())
        );
    }
}
