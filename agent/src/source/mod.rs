//! Pipeline stage 1, **source**: from a Git repository to one commit.
//!
//! `source ──► render ──► plan ──► apply ──► health ──► state/report`
//!
//! The unit of work is a commit SHA. [`GitSource::sync`] turns a
//! [`SourceSpec`] (a URL or local path, a tracked branch, tag or commit, and
//! credentials) into a [`Snapshot`]: that SHA as a [`Revision`] and a
//! read-only checkout of exactly that commit under `cache_dir/trees/<sha>`,
//! which `render` reads. Polling is the caller's loop; [`watch_local`] wakes
//! that loop when a local repository gets a new commit.
//!
//! - **Incremental.** The first sync initialises a bare cache repository in
//!   `cache_dir/repo` and fetches; later syncs connect once, read the ref
//!   advertisement and download a pack only when the tracked ref points to a
//!   commit the cache does not have. An unchanged remote costs one connection
//!   and no checkout; a fixed commit already in the cache costs nothing.
//!   [`GitSource::last_fetch`] says what the last sync cost.
//! - **Stable roots.** A tree is checked out into a temporary directory and
//!   renamed into place, so `trees/<sha>` is always complete and never changes
//!   afterwards. The current and the previous tree are kept, older ones are
//!   removed: a render still reading the previous snapshot is not disturbed.
//!   One `GitSource` per `cache_dir`.
//! - **Credentials** go through git2's `RemoteCallbacks` only: a token is sent
//!   as the password with the username `x-access-token` (or the given one),
//!   basic auth as is, an SSH key from a file. They are never logged and never
//!   part of an error: URLs in errors and tracing fields have their userinfo
//!   replaced ([`redact_url`]), and libgit2 messages are scrubbed of every
//!   configured secret before they are wrapped.
//! - **SSH host keys are always checked; there is no opt-out.** With
//!   `known_hosts: Some(file)` the server's key must match a plain entry of
//!   that file for the host (`host` or `[host]:port`; `*`/`?` patterns and
//!   `@revoked` are honoured; hashed `|1|` entries and `@cert-authority` are
//!   not read). With `known_hosts: None`, libgit2's own check against
//!   `~/.ssh/known_hosts` decides, and an unknown host is rejected there too.
//!   TLS certificates are verified by libgit2/OpenSSL (CA bundle from the
//!   system or `SSL_CERT_FILE`).
//! - **Errors** are [`SourceError`], each with a [`Category`]: unreachable
//!   hosts, timeouts and 5xx are transient; rejected credentials and host keys
//!   are permission errors; bad URLs, missing repositories, branches, tags and
//!   commits are configuration errors.
//! - **Signatures** (opt-in, [`SourceSpec::verify`]): the head commit must
//!   carry a good SSH signature by a key of an allowed_signers file
//!   ([`verify`]); a refused commit is [`SourceError::Unverified`] (config)
//!   and is never checked out.

mod auth;
mod git;
mod known_hosts;
pub mod local;
mod redact;
pub mod verify;
mod watch;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Categorized, Category};
use crate::model::Revision;

pub use git::{DEFAULT_TIMEOUT, FetchStats, GitSource};
pub use redact::{redact_text, redact_url};
pub use verify::VerifyCommits;
pub use watch::{DEBOUNCE, watch_local};

/// What to follow in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracking {
    /// The tip of a branch (`main`, not `refs/heads/main`).
    Branch(String),
    /// The commit a tag points to (annotated tags are peeled); a tag that is
    /// moved on the remote is followed.
    Tag(String),
    /// A fixed commit: a full SHA, or an unambiguous prefix of at least 4
    /// hex digits. Once in the cache it is never fetched again.
    Commit(String),
}

impl fmt::Display for Tracking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tracking::Branch(b) => write!(f, "branch {b}"),
            Tracking::Tag(t) => write!(f, "tag {t}"),
            Tracking::Commit(c) => write!(f, "commit {c}"),
        }
    }
}

/// How to authenticate to the remote. `Debug` never prints a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anonymous access (public repositories, local paths, `file://`).
    None,
    /// An HTTPS access token, sent as the password of basic auth with the
    /// username `x-access-token` unless another one is given (GitLab wants
    /// `oauth2`, Bitbucket `x-token-auth`).
    Token {
        /// Username to send with the token; `x-access-token` when `None`.
        username: Option<String>,
        /// The token.
        token: String,
    },
    /// HTTPS basic auth.
    Basic {
        /// Username.
        username: String,
        /// Password.
        password: String,
    },
    /// An SSH private key file. The username comes from the URL
    /// (`git@host:path`), `git` when the URL has none.
    SshKey {
        /// Path of the private key (OpenSSH or PEM format).
        private_key: PathBuf,
        /// Passphrase of the key, if it is encrypted.
        passphrase: Option<String>,
        /// A known_hosts file the server's host key must be listed in; `None`
        /// means `~/.ssh/known_hosts`, checked by libgit2. Unknown hosts are
        /// rejected either way.
        known_hosts: Option<PathBuf>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token { username, .. } => f
                .debug_struct("Token")
                .field("username", username)
                .field("token", &"***")
                .finish(),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            Auth::SshKey {
                private_key,
                passphrase,
                known_hosts,
            } => f
                .debug_struct("SshKey")
                .field("private_key", private_key)
                .field("passphrase", &passphrase.as_ref().map(|_| "***"))
                .field("known_hosts", known_hosts)
                .finish(),
        }
    }
}

/// Where the desired state lives and how to get it.
#[derive(Clone)]
pub struct SourceSpec {
    /// `https://…`, `http://…`, `ssh://…`, `git@host:path`, `file://…` or a
    /// local path. Userinfo in the URL is accepted but redacted everywhere.
    pub url: String,
    /// The branch, tag or commit to follow.
    pub tracking: Tracking,
    /// Credentials.
    pub auth: Auth,
    /// Directory owned by this source: `repo/` (the bare cache) and
    /// `trees/<sha>` (checkouts). Created when missing.
    pub cache_dir: PathBuf,
    /// Verify the head commit's signature before handing it out (`None`: no
    /// verification). A refused commit is [`SourceError::Unverified`].
    pub verify: Option<VerifyCommits>,
}

impl fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceSpec")
            .field("url", &redact_url(&self.url))
            .field("tracking", &self.tracking)
            .field("auth", &self.auth)
            .field("cache_dir", &self.cache_dir)
            .field("verify", &self.verify)
            .finish()
    }
}

/// The result of one sync: a commit and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The full SHA of the commit (for a tag, the commit it points to).
    pub revision: Revision,
    /// A checked-out tree of exactly that commit (no `.git` inside). It does
    /// not change while it exists; it is removed two changed syncs later.
    pub root: PathBuf,
    /// `false` when the revision equals the previous sync's of this
    /// `GitSource`; the first sync of a process always reports `true`.
    pub changed: bool,
}

/// Why a sync or a watch failed. Messages name the (redacted) URL and the
/// ref; they never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The URL is malformed or its scheme is not supported.
    #[error("invalid source URL {url}: {message}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What libgit2 said, redacted.
        message: String,
    },
    /// Nothing answers as a Git repository there (missing path, HTTP 404).
    #[error(
        "no Git repository at {url} (check the URL; a private repository may also answer like this without credentials): {message}"
    )]
    RepositoryNotFound {
        /// The URL, redacted.
        url: String,
        /// What libgit2 said, redacted.
        message: String,
    },
    /// The tracked branch, tag or commit is not a valid name or SHA.
    #[error("invalid {tracking}: {message}")]
    InvalidRef {
        /// The tracking as given.
        tracking: String,
        /// Why it is invalid.
        message: String,
    },
    /// The tracked branch does not exist on the remote (or vanished).
    #[error("branch {branch:?} does not exist in {url}")]
    BranchNotFound {
        /// The URL, redacted.
        url: String,
        /// The branch.
        branch: String,
    },
    /// The tracked tag does not exist on the remote.
    #[error("tag {tag:?} does not exist in {url}")]
    TagNotFound {
        /// The URL, redacted.
        url: String,
        /// The tag.
        tag: String,
    },
    /// The pinned commit is not in the repository.
    #[error("commit {commit} not found in {url} (it must be reachable from a branch or tag)")]
    CommitNotFound {
        /// The URL, redacted.
        url: String,
        /// The commit as given.
        commit: String,
    },
    /// The tracked ref points to something that is not a commit.
    #[error("{reference} in {url} does not point to a commit: {message}")]
    NotACommit {
        /// The URL, redacted.
        url: String,
        /// The branch, tag or commit.
        reference: String,
        /// What libgit2 said.
        message: String,
    },
    /// The remote could not be reached or broke off (DNS, refused, reset, 5xx).
    #[error("cannot fetch from {url}: {message}")]
    Network {
        /// The URL, redacted.
        url: String,
        /// What libgit2 said, redacted.
        message: String,
    },
    /// The fetch took longer than the configured timeout.
    #[error("fetch from {url} timed out after {after:?}")]
    Timeout {
        /// The URL, redacted.
        url: String,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The server rejected the credentials, or asked for some and none fit.
    #[error("authentication to {url} failed: {message}")]
    Auth {
        /// The URL, redacted.
        url: String,
        /// Why, without the credentials.
        message: String,
    },
    /// The SSH server's host key is unknown, differs or is revoked.
    #[error("SSH host key of {host} rejected: {reason}")]
    HostKey {
        /// The host as libgit2 connected to it.
        host: String,
        /// Unknown, mismatch, revoked.
        reason: String,
    },
    /// The server's TLS certificate did not verify.
    #[error("TLS certificate of {url} rejected: {message}")]
    Certificate {
        /// The URL, redacted.
        url: String,
        /// What libgit2 said.
        message: String,
    },
    /// The SSH key or known_hosts file could not be read.
    #[error("cannot read the {what} {path}: {source}")]
    CredentialFile {
        /// `SSH private key` or `known_hosts file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The cache directory could not be created, opened or written.
    #[error("Git cache {path}: {message}")]
    Cache {
        /// The directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The commit could not be written out as a tree.
    #[error("checkout of {revision} into {path} failed: {message}")]
    Checkout {
        /// The commit.
        revision: String,
        /// The target directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A local path (watched, or diffed) is not inside a Git repository.
    #[error("{} is not inside a Git repository: {message}", path.display())]
    NotARepository {
        /// The path.
        path: PathBuf,
        /// What libgit2 said.
        message: String,
    },
    /// The file watcher could not be set up (e.g. the inotify watch limit).
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The notify error.
        #[source]
        source: notify::Error,
    },
    /// Commit verification is on and the head commit is not signed, or not
    /// by a listed key: it is not checked out, the applied revision stays.
    #[error("commit {revision} {reason}; it is not deployed")]
    Unverified {
        /// The full SHA of the refused commit.
        revision: String,
        /// Why, after "commit <sha> " ("is not signed", "is signed by SHA256:… which … does not list").
        reason: String,
    },
    /// A line of the allowed_signers file is wrong.
    #[error("allowed_signers file {path}, line {line}: {message}")]
    AllowedSigners {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Categorized for SourceError {
    fn category(&self) -> Category {
        match self {
            SourceError::Network { .. }
            | SourceError::Timeout { .. }
            | SourceError::Cache { .. }
            | SourceError::Checkout { .. } => Category::Transient,
            SourceError::Auth { .. }
            | SourceError::HostKey { .. }
            | SourceError::Certificate { .. } => Category::Permission,
            SourceError::InvalidUrl { .. }
            | SourceError::RepositoryNotFound { .. }
            | SourceError::InvalidRef { .. }
            | SourceError::BranchNotFound { .. }
            | SourceError::TagNotFound { .. }
            | SourceError::CommitNotFound { .. }
            | SourceError::NotACommit { .. }
            | SourceError::CredentialFile { .. }
            | SourceError::NotARepository { .. }
            | SourceError::Watch { .. }
            | SourceError::Unverified { .. }
            | SourceError::AllowedSigners { .. } => Category::Config,
        }
    }
}
