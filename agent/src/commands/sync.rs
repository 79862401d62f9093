//! `wavesync sync`: fetch the tracked revision, take the Lease, run one sync pass.

use crate::cli::{RepoArgs, SyncArgs};
use crate::reconcile::lease::LeaseLock;
use crate::reconcile::{Engine, SyncOptions};
use crate::report::{Progress, TerminalProgress};
use crate::source::{Auth, GitSource, Snapshot, SourceSpec, Tracking};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The Git source the flags describe.
pub fn source(args: &RepoArgs) -> GitSource {
    let tracking = match (&args.tag, &args.commit) {
        (Some(t), _) => Tracking::Tag(t.clone()),
        (None, Some(c)) => Tracking::Commit(c.clone()),
        _ => Tracking::Branch(args.branch.clone()),
    };
    let auth = match (&args.git_token, &args.ssh_key) {
        (Some(token), _) => Auth::Token {
            username: None,
            token: token.clone(),
        },
        (None, Some(key)) => Auth::SshKey {
            private_key: key.clone(),
            passphrase: None,
            known_hosts: args.known_hosts.clone(),
        },
        _ => Auth::None,
    };
    GitSource::new(SourceSpec {
        url: args.repo.clone(),
        tracking,
        auth,
        cache_dir: args.cache_dir.clone(),
    })
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

/// The sync options the flags describe.
pub fn options(args: &SyncArgs) -> SyncOptions {
    SyncOptions {
        cluster: args.repo.cluster_name.clone(),
        state_namespace: args.state.state_namespace.clone(),
        repair: args.repair,
        concurrency: args.concurrency.max(1),
        helm: args.helm.settings(),
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
    let (_, snapshot) = fetch(source(&args.repo)).await?;
    let progress: Arc<dyn Progress> = Arc::new(TerminalProgress::default());
    let engine = Engine::new(client.clone(), options(&args), progress);
    let root = root(&snapshot, &args.repo.path);
    let ws = crate::config::load(&root, args.repo.cluster_name.as_deref())?;
    super::cluster::ensure_namespace(&client, &args.state.state_namespace).await?;
    let lease = LeaseLock::new(
        client,
        &args.state.state_namespace,
        &ws.name,
        &LeaseLock::identity(),
        Duration::from_secs(60),
    );
    // A previous agent killed mid-pass holds the lease until it expires.
    lease.acquire_waiting(Duration::from_secs(90)).await?;
    let result = lease.hold(engine.sync(&root, &snapshot.revision)).await;
    lease.release().await;
    result??;
    Ok(())
}
