//! Opening a repository on the local filesystem — a working tree for
//! `wavesync diff`, the repository a `file://` source watches — the one way:
//! from any directory inside it (as git does), with an error that names the
//! path.

use super::SourceError;
use std::path::{Path, PathBuf};

/// The repository `path` (a directory, or a `file://` URL) is in.
///
/// # Errors
/// [`SourceError::NotARepository`] when it is not inside a Git repository.
pub fn open(path: &Path) -> Result<git2::Repository, SourceError> {
    let path = local_path(path);
    git2::Repository::discover(&path).map_err(|e| SourceError::NotARepository {
        path,
        message: e.message().to_string(),
    })
}

/// A path, or the path of a `file://` URL.
pub(crate) fn local_path(path: &Path) -> PathBuf {
    match path.to_str().and_then(|s| s.strip_prefix("file://")) {
        Some(rest) => PathBuf::from(rest),
        None => path.to_path_buf(),
    }
}
