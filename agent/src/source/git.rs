//! The Git side of the source stage: a bare cache repository, an incremental
//! fetch of exactly the tracked ref, and a checkout of one commit into
//! `cache_dir/trees/<sha>`.
//!
//! A fetch is one connection: read the ref advertisement, and download a pack
//! only when the advertised commit is not in the cache (the same test
//! libgit2's negotiation makes, done before it so that an unchanged remote
//! costs no pack request at all). Refs are written by us, not by
//! `update_tips`, so nothing derived from the URL ends up in the cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::build::CheckoutBuilder;
use git2::{AutotagOption, Direction, ErrorClass, ErrorCode, FetchOptions, Oid, Repository};
use tracing::{debug, info, warn};

use super::auth::{self, CallbackState, HostKeyPolicy};
use super::known_hosts::KnownHosts;
use super::redact::{Redactor, redact_url};
use super::{Auth, Snapshot, SourceError, SourceSpec, Tracking};
use crate::model::Revision;

/// Default limit on one fetch (see [`GitSource::with_timeout`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What the last [`GitSource::sync`] cost on the wire (for tests, logs and
/// the `git fetch duration` metric).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Whether the remote was contacted (`false`: a pinned commit already in
    /// the cache).
    pub contacted: bool,
    /// Whether a pack was requested (`false`: the advertised commit was
    /// already in the cache).
    pub downloaded: bool,
    /// Objects received in that pack.
    pub received_objects: usize,
    /// Bytes received in that pack.
    pub received_bytes: usize,
    /// Wall time of the fetch, connection included.
    pub duration: Duration,
}

/// A Git repository followed at one branch, tag or commit. Holds no open
/// handle between syncs; `Send`, so `sync` can run on a blocking thread.
#[derive(Debug)]
pub struct GitSource {
    spec: SourceSpec,
    display_url: String,
    redactor: Redactor,
    timeout: Duration,
    last: Option<Revision>,
    last_fetch: Option<FetchStats>,
}

/// What a fetch looks for in the advertisement.
enum Want<'a> {
    /// `refs/heads/<b>` or `refs/tags/<t>`, stored locally under `local`.
    Ref {
        remote: String,
        local: String,
        missing: SourceError,
        label: &'a str,
    },
    /// Everything (to find a pinned commit), or just the ref that points to it.
    Commit(&'a str),
}

impl GitSource {
    /// A source for `spec`. Touches nothing on disk or on the network yet.
    pub fn new(mut spec: SourceSpec) -> Self {
        // An absolute cache path keeps clone, fetch and checkout in one place
        // whatever the process's working directory.
        if let Ok(abs) = std::path::absolute(&spec.cache_dir) {
            spec.cache_dir = abs;
        }
        let display_url = redact_url(&spec.url);
        let redactor = Redactor::new(&spec.url, &spec.auth);
        GitSource {
            spec,
            display_url,
            redactor,
            timeout: DEFAULT_TIMEOUT,
            last: None,
            last_fetch: None,
        }
    }

    /// Limits each fetch; a transfer still running after `timeout` is
    /// cancelled with [`SourceError::Timeout`]. The limit is checked in
    /// libgit2's progress callbacks, so a connection that stalls without any
    /// progress is bounded only by the operating system's TCP timeouts.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The spec this source follows.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    /// The URL with credentials redacted, for logs and status.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// What the last successful sync cost on the wire.
    pub fn last_fetch(&self) -> Option<FetchStats> {
        self.last_fetch
    }

    /// Brings the cache up to date and returns the tracked commit, checked out.
    ///
    /// The first call initialises `cache_dir/repo` (bare) and fetches; later
    /// calls fetch incrementally (one connection and no pack when nothing
    /// changed; no network at all for a pinned commit already cached) and
    /// reuse the existing checkout of an unchanged commit.
    ///
    /// # Errors
    ///
    /// [`SourceError`]: `BranchNotFound`, `TagNotFound`, `CommitNotFound`,
    /// `RepositoryNotFound`, `InvalidUrl`, `InvalidRef` (config); `Auth`,
    /// `HostKey`, `Certificate` (permission); `Network`, `Timeout`, `Cache`,
    /// `Checkout` (transient); with verification on, `Unverified` and
    /// `AllowedSigners` (config). None of them contains a credential.
    pub fn sync(&mut self) -> Result<Snapshot, SourceError> {
        let span = tracing::info_span!("git_sync", url = %self.display_url, tracking = %self.spec.tracking);
        let _entered = span.enter();
        self.check_url()?;
        let host_keys = self.host_key_policy()?;
        let repo = self.open_cache()?;
        let (oid, stats) = self.resolve(&repo, &host_keys)?;
        if let Some(how) = &self.spec.verify {
            // Before the checkout: a refused commit is never written out.
            let good = super::verify::verify(&repo, oid, how)?;
            debug!(revision = %oid, principals = %good.principals, key = %good.fingerprint, "good signature");
        }
        let revision = Revision(oid.to_string());
        let root = self.checkout(&repo, oid)?;
        let changed = self.last.as_ref() != Some(&revision);
        if changed {
            let previous = self.last.as_ref().map(|r| r.0.as_str());
            self.prune_trees(&revision.0, previous);
            info!(revision = %revision.short(), received_objects = stats.received_objects, "new revision");
        } else {
            debug!(revision = %revision.short(), contacted = stats.contacted, "unchanged");
        }
        self.last = Some(revision.clone());
        self.last_fetch = Some(stats);
        Ok(Snapshot {
            revision,
            root,
            changed,
        })
    }

    fn repo_dir(&self) -> PathBuf {
        self.spec.cache_dir.join("repo")
    }

    fn trees_dir(&self) -> PathBuf {
        self.spec.cache_dir.join("trees")
    }

    /// Rejects unsupported schemes and missing local paths before libgit2
    /// gives a vaguer message (it treats an unknown scheme as a host name).
    fn check_url(&self) -> Result<(), SourceError> {
        let url = &self.spec.url;
        let invalid = |message: &str| SourceError::InvalidUrl {
            url: self.display_url.clone(),
            message: message.into(),
        };
        if url.trim().is_empty() {
            return Err(invalid("the URL is empty"));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "http" | "https" | "ssh" | "git+ssh" | "ssh+git" | "git" | "file" => Ok(()),
                _ => Err(invalid(
                    "unsupported scheme (use https://, ssh://, git@host:path, file:// or a path)",
                )),
            };
        }
        if auth::ssh_host_port(url).is_none() && !Path::new(url).exists() {
            return Err(SourceError::RepositoryNotFound {
                url: self.display_url.clone(),
                message: "no such local path".into(),
            });
        }
        Ok(())
    }

    /// Reads the SSH key and known_hosts files up front, for a clear error.
    fn host_key_policy(&self) -> Result<HostKeyPolicy, SourceError> {
        let Auth::SshKey {
            private_key,
            known_hosts,
            ..
        } = &self.spec.auth
        else {
            return Ok(HostKeyPolicy::Libgit2);
        };
        fs::metadata(private_key).map_err(|source| SourceError::CredentialFile {
            what: "SSH private key",
            path: private_key.clone(),
            source,
        })?;
        let Some(path) = known_hosts else {
            return Ok(HostKeyPolicy::Libgit2);
        };
        let text = fs::read_to_string(path).map_err(|source| SourceError::CredentialFile {
            what: "known_hosts file",
            path: path.clone(),
            source,
        })?;
        let port = auth::ssh_host_port(&self.spec.url).map_or(22, |(_, port)| port);
        Ok(HostKeyPolicy::File {
            path: path.clone(),
            hosts: KnownHosts::parse(&text),
            port,
        })
    }

    /// Opens the bare cache, creating it (or recreating it when corrupt).
    fn open_cache(&self) -> Result<Repository, SourceError> {
        let dir = self.repo_dir();
        let cache_err = |message: String| SourceError::Cache {
            path: dir.clone(),
            message,
        };
        if dir.exists() {
            match Repository::open_bare(&dir) {
                Ok(repo) => return Ok(repo),
                Err(e) => {
                    warn!(path = %dir.display(), error = %e.message(), "Git cache unreadable; recreating it");
                    fs::remove_dir_all(&dir).map_err(|e| cache_err(e.to_string()))?;
                }
            }
        }
        fs::create_dir_all(&self.spec.cache_dir).map_err(|e| cache_err(e.to_string()))?;
        Repository::init_bare(&dir).map_err(|e| cache_err(e.message().to_string()))
    }

    /// The commit the tracking points to, fetching what is missing.
    fn resolve(
        &self,
        repo: &Repository,
        keys: &HostKeyPolicy,
    ) -> Result<(Oid, FetchStats), SourceError> {
        let url = self.display_url.clone();
        let want = match &self.spec.tracking {
            Tracking::Branch(b) => {
                self.check_ref_name(&format!("refs/heads/{b}"))?;
                Want::Ref {
                    remote: format!("refs/heads/{b}"),
                    local: format!("refs/remotes/origin/{b}"),
                    missing: SourceError::BranchNotFound {
                        url,
                        branch: b.clone(),
                    },
                    label: b,
                }
            }
            Tracking::Tag(t) => {
                self.check_ref_name(&format!("refs/tags/{t}"))?;
                Want::Ref {
                    remote: format!("refs/tags/{t}"),
                    local: format!("refs/tags/{t}"),
                    missing: SourceError::TagNotFound {
                        url,
                        tag: t.clone(),
                    },
                    label: t,
                }
            }
            Tracking::Commit(c) => {
                self.check_commit_id(c)?;
                if let Some(oid) = self.local_commit(repo, c)? {
                    return Ok((oid, FetchStats::default()));
                }
                Want::Commit(c)
            }
        };
        let (oid, stats) = self.fetch(repo, keys, want)?;
        Ok((oid, stats))
    }

    fn check_ref_name(&self, name: &str) -> Result<(), SourceError> {
        if git2::Reference::is_valid_name(name) {
            Ok(())
        } else {
            Err(SourceError::InvalidRef {
                tracking: self.spec.tracking.to_string(),
                message: format!("{name:?} is not a valid Git ref name"),
            })
        }
    }

    fn check_commit_id(&self, c: &str) -> Result<(), SourceError> {
        if (4..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(SourceError::InvalidRef {
                tracking: self.spec.tracking.to_string(),
                message: "a commit is given as a SHA (at least 4 hex digits)".into(),
            })
        }
    }

    /// A pinned commit from the cache: `Ok(None)` when absent.
    fn local_commit(&self, repo: &Repository, c: &str) -> Result<Option<Oid>, SourceError> {
        let found = if c.len() == 40 || c.len() == 64 {
            Oid::from_str(c).and_then(|oid| repo.find_object(oid, None))
        } else {
            repo.find_object_by_prefix(c, None)
        };
        match found {
            Ok(obj) => obj
                .peel_to_commit()
                .map(|commit| Some(commit.id()))
                .map_err(|e| SourceError::NotACommit {
                    url: self.display_url.clone(),
                    reference: self.spec.tracking.to_string(),
                    message: e.message().to_string(),
                }),
            Err(e) if e.code() == ErrorCode::Ambiguous => Err(SourceError::InvalidRef {
                tracking: self.spec.tracking.to_string(),
                message: "the prefix matches several objects; give more digits".into(),
            }),
            Err(_) => Ok(None),
        }
    }

    /// One connection: list the remote's refs, download when needed, record
    /// the ref locally, peel to the commit.
    fn fetch(
        &self,
        repo: &Repository,
        keys: &HostKeyPolicy,
        want: Want<'_>,
    ) -> Result<(Oid, FetchStats), SourceError> {
        let started = Instant::now();
        let state = CallbackState::new(Some(started + self.timeout));
        let fail = |e: git2::Error| self.classify(&e, &state);
        let mut remote = repo.remote_anonymous(&self.spec.url).map_err(fail)?;
        let mut conn = remote
            .connect_auth(
                Direction::Fetch,
                Some(auth::callbacks(&self.spec.auth, keys, &state)),
                None,
            )
            .map_err(fail)?;
        let heads: Vec<(String, Oid)> = conn
            .list()
            .map_err(fail)?
            .iter()
            .map(|h| (h.name().to_string(), h.oid()))
            .collect();
        let (refspecs, target) = match &want {
            Want::Ref { remote, .. } => match heads.iter().find(|(name, _)| name == remote) {
                Some((_, oid)) => (vec![format!("+{remote}:{remote}")], Some(*oid)),
                None => return Err(self.missing(want)),
            },
            Want::Commit(c) => match heads.iter().find(|(_, oid)| oid.to_string() == *c) {
                // `refs/tags/v1^{}` (a peeled tag) is fetched as `refs/tags/v1`.
                Some((name, oid)) => (vec![name.trim_end_matches("^{}").to_string()], Some(*oid)),
                None => (
                    vec![
                        "+refs/heads/*:refs/heads/*".into(),
                        "+refs/tags/*:refs/tags/*".into(),
                    ],
                    None,
                ),
            },
        };
        let odb = repo.odb().map_err(|e| self.cache_error(&e))?;
        let needed = match target {
            Some(oid) => !odb.exists(oid),
            None => heads
                .iter()
                .any(|(name, oid)| !name.ends_with("^{}") && !odb.exists(*oid)),
        };
        let mut stats = FetchStats {
            contacted: true,
            downloaded: needed,
            ..FetchStats::default()
        };
        if needed {
            let mut opts = FetchOptions::new();
            opts.remote_callbacks(auth::callbacks(&self.spec.auth, keys, &state))
                .download_tags(AutotagOption::None)
                .update_fetchhead(false);
            let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
            conn.remote()
                .download(&specs, Some(&mut opts))
                .map_err(fail)?;
            let progress = conn.remote().stats();
            stats.received_objects = progress.received_objects();
            stats.received_bytes = progress.received_bytes();
        }
        drop(conn);
        stats.duration = started.elapsed();
        let oid = self.record(repo, &want, target)?;
        Ok((oid, stats))
    }

    /// Writes the tracked ref and peels it to its commit.
    fn record(
        &self,
        repo: &Repository,
        want: &Want<'_>,
        target: Option<Oid>,
    ) -> Result<Oid, SourceError> {
        match (want, target) {
            (Want::Ref { local, label, .. }, Some(oid)) => {
                let not_commit = |e: git2::Error| SourceError::NotACommit {
                    url: self.display_url.clone(),
                    reference: label.to_string(),
                    message: e.message().to_string(),
                };
                let commit = repo
                    .find_object(oid, None)
                    .and_then(|o| o.peel_to_commit())
                    .map_err(not_commit)?;
                repo.reference(local, oid, true, "wavesync: fetch")
                    .map_err(|e| self.cache_error(&e))?;
                Ok(commit.id())
            }
            (Want::Commit(c), _) => {
                self.local_commit(repo, c)?
                    .ok_or_else(|| SourceError::CommitNotFound {
                        url: self.display_url.clone(),
                        commit: c.to_string(),
                    })
            }
            (Want::Ref { .. }, None) => Err(self.cache_error(&git2::Error::from_str("no target"))),
        }
    }

    fn missing(&self, want: Want<'_>) -> SourceError {
        match want {
            Want::Ref { missing, .. } => missing,
            Want::Commit(c) => SourceError::CommitNotFound {
                url: self.display_url.clone(),
                commit: c.to_string(),
            },
        }
    }

    fn cache_error(&self, e: &git2::Error) -> SourceError {
        SourceError::Cache {
            path: self.repo_dir(),
            message: self.redactor.redact(e.message()),
        }
    }

    /// Turns a libgit2 failure into a categorised, redacted error.
    fn classify(&self, e: &git2::Error, state: &CallbackState) -> SourceError {
        let url = self.display_url.clone();
        let message = self.redactor.redact(e.message());
        if state.timed_out.get() {
            return SourceError::Timeout {
                url,
                after: self.timeout,
            };
        }
        if let Some((host, reason)) = state.host_key_problem.borrow_mut().take() {
            return SourceError::HostKey { host, reason };
        }
        if let Some(message) = state.auth_problem.borrow_mut().take() {
            return SourceError::Auth { url, message };
        }
        let lower = message.to_ascii_lowercase();
        let status = |codes: &[&str]| {
            codes
                .iter()
                .any(|c| lower.contains(&format!("status code: {c}")))
        };
        match e.code() {
            ErrorCode::Auth => return SourceError::Auth { url, message },
            ErrorCode::Certificate => {
                return match auth::ssh_host_port(&self.spec.url) {
                    Some((host, _)) => SourceError::HostKey {
                        host,
                        reason: format!(
                            "{message} (checked against ~/.ssh/known_hosts; configure a known_hosts file)"
                        ),
                    },
                    None => SourceError::Certificate { url, message },
                };
            }
            _ => {}
        }
        // With the certificate callback passing through, libgit2 (OpenSSL)
        // reports an unverifiable TLS certificate as a generic SSL-class
        // error, not as `ErrorCode::Certificate`.
        if e.class() == ErrorClass::Ssl && lower.contains("certificate") {
            return SourceError::Certificate { url, message };
        }
        if status(&["401", "403"]) {
            SourceError::Auth { url, message }
        } else if status(&["404"])
            || lower.contains("could not find repository")
            || lower.contains("failed to resolve path")
            || lower.contains("not a git repository")
            || lower.contains("repository not found")
            || lower.contains("does not appear to be a git repository")
        {
            SourceError::RepositoryNotFound { url, message }
        } else if lower.contains("unsupported url protocol")
            || lower.contains("malformed url")
            || lower.contains("invalid url")
            || e.class() == ErrorClass::Invalid
        {
            SourceError::InvalidUrl { url, message }
        } else {
            SourceError::Network { url, message }
        }
    }

    /// `cache_dir/trees/<sha>`, written once: into a temporary directory,
    /// then renamed into place.
    fn checkout(&self, repo: &Repository, oid: Oid) -> Result<PathBuf, SourceError> {
        let trees = self.trees_dir();
        let dest = trees.join(oid.to_string());
        if dest.is_dir() {
            return Ok(dest);
        }
        let fail = |path: &Path, message: String| SourceError::Checkout {
            revision: oid.to_string(),
            path: path.to_path_buf(),
            message,
        };
        let tmp = trees.join(format!(".tmp-{oid}"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| fail(&tmp, e.to_string()))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| fail(&tmp, e.to_string()))?;
        let commit = repo
            .find_commit(oid)
            .map_err(|e| fail(&tmp, e.message().to_string()))?;
        let mut opts = CheckoutBuilder::new();
        opts.target_dir(&tmp)
            .force()
            .update_index(false)
            .recreate_missing(true);
        repo.checkout_tree(commit.as_object(), Some(&mut opts))
            .map_err(|e| fail(&tmp, e.message().to_string()))?;
        fs::rename(&tmp, &dest).map_err(|e| fail(&dest, e.to_string()))?;
        debug!(path = %dest.display(), "checked out");
        Ok(dest)
    }

    /// Removes every tree but the current and the previous one. Failures are
    /// logged, not returned: a stale tree costs disk, not correctness.
    fn prune_trees(&self, current: &str, previous: Option<&str>) {
        let Ok(entries) = fs::read_dir(self.trees_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == current || Some(name.as_ref()) == previous {
                continue;
            }
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                warn!(path = %entry.path().display(), error = %e, "cannot remove an old checkout");
            }
        }
    }
}
