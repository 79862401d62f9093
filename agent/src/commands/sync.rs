//! `wavesync sync`: fetch the tracked revision, take the Lease, run one sync pass.

use crate::cli::{RepoArgs, SyncArgs};
use crate::reconcile::lease::LeaseLock;
use crate::reconcile::{Engine, SyncOptions};
use crate::report::{Progress, TerminalProgress};
use crate::source::{Auth, GitSource, Snapshot, SourceSpec, Tracking, VerifyCommits};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The HTTPS token: the flag or env var, else the token file (read now, so
/// a rotated Secret is picked up whenever the source is made anew).
fn token(args: &RepoArgs) -> anyhow::Result<Option<String>> {
    if let Some(t) = &args.git_token {
        return Ok(Some(t.clone()));
    }
    let Some(path) = &args.git_token_file else {
        return Ok(None);
    };
    let t = std::fs::read_to_string(path)
        .with_context(|| format!("reading the git token file {}", path.display()))?;
    let t = t.trim().to_string();
    if t.is_empty() {
        anyhow::bail!("the git token file {} is empty", path.display());
    }
    Ok(Some(t))
}

/// The Git source the flags describe.
///
/// # Errors
/// When the token file cannot be read.
pub fn source(args: &RepoArgs) -> anyhow::Result<GitSource> {
    let tracking = match (&args.tag, &args.commit) {
        (Some(t), _) => Tracking::Tag(t.clone()),
        (None, Some(c)) => Tracking::Commit(c.clone()),
        _ => Tracking::Branch(args.branch.clone()),
    };
    let auth = match (token(args)?, &args.ssh_key) {
        (Some(token), _) => Auth::Token {
            username: args.git_username.clone(),
            token,
        },
        (None, Some(key)) => Auth::SshKey {
            private_key: key.clone(),
            passphrase: None,
            known_hosts: args.known_hosts.clone(),
        },
        _ => Auth::None,
    };
    Ok(GitSource::new(SourceSpec {
        url: args.repo.clone(),
        tracking,
        auth,
        cache_dir: args.cache_dir.clone(),
        verify: verification(args)?,
    }))
}

/// The commit verification the flags ask for.
///
/// # Errors
/// None today; kept fallible for checks of the files at start.
fn verification(args: &RepoArgs) -> anyhow::Result<Option<VerifyCommits>> {
    Ok(
        match (
            args.verify_commits_allowed_signers.clone(),
            args.verify_commits_pgp_keys.clone(),
        ) {
            (Some(allowed_signers), Some(pgp_keys)) => Some(VerifyCommits::Either {
                allowed_signers,
                pgp_keys,
            }),
            (Some(a), None) => Some(VerifyCommits::AllowedSigners(a)),
            (None, Some(k)) => Some(VerifyCommits::PgpKeys(k)),
            (None, None) => None,
        },
    )
}

/// Fetches on a blocking thread (libgit2 is synchronous).
pub async fn fetch(src: GitSource) -> anyhow::Result<(GitSource, Snapshot)> {
    tokio::task::spawn_blocking(move || {
        let mut src = src;
        let snap = src.sync();
        (src, snap)
    })
    .await
    .context("the fetch task panicked")
    .and_then(|(src, snap)| Ok((src, snap.context("fetching the repository")?)))
}

/// The cluster whose values to use; an empty value (a ConfigMap entry left
/// blank) means none.
fn cluster(args: &RepoArgs) -> Option<String> {
    args.cluster_name.clone().filter(|c| !c.trim().is_empty())
}

/// The sync options the flags describe.
pub fn options(args: &SyncArgs) -> SyncOptions {
    SyncOptions {
        cluster: cluster(&args.repo),
        state_namespace: args.state.state_namespace.clone(),
        repair: args.repair,
        concurrency: args.concurrency.max(1),
        helm: args.helm.settings(),
        waveset: args.state.waveset.clone(),
        // A sync asked for by hand runs even when the record is Stalled.
        force: true,
        allow_mass_prune: args.allow_mass_prune,
        ..Default::default()
    }
}

/// Where wavesync.yaml is in the checkout.
pub fn root(snapshot: &Snapshot, path: &str) -> PathBuf {
    snapshot.root.join(path)
}

/// Runs `wavesync sync`.
pub async fn run(args: SyncArgs) -> anyhow::Result<()> {
    let client = super::cluster::client(&args.state.cluster).await?;
    let (_, snapshot) = fetch(source(&args.repo)?).await?;
    let progress: Arc<dyn Progress> = Arc::new(TerminalProgress::default());
    let engine = Engine::new(client.clone(), options(&args), progress);
    let root = root(&snapshot, &args.repo.path);
    let ws = crate::config::load(&root, cluster(&args.repo).as_deref())?;
    super::cluster::ensure_namespace(&client, &args.state.state_namespace).await?;
    let lease = LeaseLock::new(
        client,
        &args.state.state_namespace,
        &ws.name,
        &LeaseLock::identity(),
        Duration::from_secs(60),
    );
    // A previous agent killed mid-pass holds the lease until it expires.
    lease
        .acquire_waiting(Duration::from_secs(90))
        .await
        .with_context(|| {
            format!(
                "a running agent holds the lease; to make it try a Stalled revision again: \
                 kubectl -n {ns} annotate configmap wavesync-state-{ws} {key}=\"$(date +%s)\" --overwrite",
                ns = args.state.state_namespace,
                ws = ws.name,
                key = crate::state::SYNC_REQUEST_ANNOTATION,
            )
        })?;
    let result = lease.hold(engine.sync(&root, &snapshot.revision)).await;
    lease.release().await;
    result??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(token_file: Option<PathBuf>) -> RepoArgs {
        RepoArgs {
            repo: "https://git.example.com/r.git".into(),
            branch: "main".into(),
            tag: None,
            commit: None,
            path: ".".into(),
            cache_dir: ".wavesync-cache".into(),
            git_token: None,
            git_token_file: token_file,
            git_username: Some("oauth2".into()),
            ssh_key: None,
            known_hosts: None,
            cluster_name: None,
            verify_commits_allowed_signers: None,
            verify_commits_pgp_keys: None,
        }
    }

    #[test]
    fn a_mounted_token_file_is_read_trimmed_and_an_empty_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token\n").expect("write");
        assert_eq!(
            token(&args(Some(file.clone()))).expect("read").as_deref(),
            Some("s3cret-token")
        );
        std::fs::write(&file, "\n").expect("write");
        let e = token(&args(Some(file.clone()))).expect_err("empty");
        assert!(e.to_string().contains("is empty"), "{e}");
        let missing = dir.path().join("nope");
        let Err(e) = source(&args(Some(missing))) else {
            panic!("a missing token file is an error");
        };
        assert!(e.to_string().contains("reading the git token file"), "{e}");
        assert!(token(&args(None)).expect("none").is_none());
    }

    #[test]
    fn the_verification_flags_choose_ssh_pgp_or_either() {
        let mut a = args(None);
        a.verify_commits_pgp_keys = Some("/etc/wavesync/keys.asc".into());
        let src = source(&a).expect("a PGP keyring is fine");
        assert_eq!(
            src.spec().verify,
            Some(VerifyCommits::PgpKeys("/etc/wavesync/keys.asc".into()))
        );
        a.verify_commits_allowed_signers = Some("/etc/wavesync/allowed_signers".into());
        assert!(matches!(
            source(&a).expect("both").spec().verify,
            Some(VerifyCommits::Either { .. })
        ));
        let mut a = args(None);
        a.verify_commits_allowed_signers = Some("/etc/wavesync/allowed_signers".into());
        let src = source(&a).expect("an allowed_signers file is fine");
        assert_eq!(
            src.spec().verify,
            Some(VerifyCommits::AllowedSigners(
                "/etc/wavesync/allowed_signers".into()
            ))
        );
    }
}
