//! `wavesync run`: the agent loop. Sync, then poll the remote every interval
//! (and watch a local repository when asked), syncing each new revision; only
//! the Lease holder acts. On SIGTERM or Ctrl-C the current pass may finish its
//! wave for a grace period, then the agent exits; the record lets the next
//! agent resume.

use super::sync::{fetch, options, root, source};
use crate::cli::RunArgs;
use crate::error::Categorized;
use crate::reconcile::Engine;
use crate::reconcile::lease::LeaseLock;
use crate::report::Progress;
use crate::report::progress::LogProgress;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a pass in flight may go on after SIGTERM.
const GRACE: Duration = Duration::from_secs(25);

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the agent until a shutdown signal.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = super::cluster::client(&args.sync.state.cluster).await?;
    super::cluster::ensure_namespace(&client, &args.sync.state.state_namespace).await?;
    let progress: Arc<dyn Progress> = Arc::new(LogProgress);
    let engine = Engine::new(client.clone(), options(&args.sync), progress);
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let _watcher = if args.watch {
        Some(crate::source::watch_local(
            std::path::Path::new(&args.sync.repo.repo),
            tx,
        )?)
    } else {
        None
    };
    let mut src = source(&args.sync.repo);
    let identity = LeaseLock::identity();
    // The lease of the WaveSet last synced, released on the way out so the
    // next agent need not wait for it to expire.
    let held: std::sync::Mutex<Option<LeaseLock>> = std::sync::Mutex::new(None);
    let release = || async {
        let lease = held.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(lease) = lease {
            lease.release().await;
        }
    };
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (next, snapshot) = match fetch(src).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "fetch failed; retrying at the next interval");
                src = source(&args.sync.repo);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(args.interval)) => continue,
                    _ = rx.recv() => continue,
                    _ = &mut shutdown => {
                        release().await;
                        return Ok(());
                    }
                }
            }
        };
        src = next;
        let root = root(&snapshot, &args.sync.repo.path);
        let pass = async {
            let ws = crate::config::load(&root, args.sync.repo.cluster_name.as_deref())?;
            let lease = LeaseLock::new(
                client.clone(),
                &args.sync.state.state_namespace,
                &ws.name,
                &identity,
                Duration::from_secs(60),
            );
            lease.acquire().await?;
            *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease.clone());
            let result = lease.hold(engine.sync(&root, &snapshot.revision)).await?;
            if let Err(e) = &result {
                tracing::warn!(error = %e, category = %e.category(), "sync failed");
            }
            anyhow::Ok(())
        };
        tokio::pin!(pass);
        tokio::select! {
            r = &mut pass => if let Err(e) = r { tracing::warn!(error = %e, "sync pass did not run") },
            _ = &mut shutdown => {
                tracing::info!(grace = ?GRACE, "shutdown requested; letting the current pass finish");
                if tokio::time::timeout(GRACE, &mut pass).await.is_err() {
                    tracing::warn!("pass still running after the grace period; the next agent resumes from the record");
                }
                release().await;
                return Ok(());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = rx.recv() => tracing::info!("new local commit"),
            _ = &mut shutdown => {
                release().await;
                return Ok(());
            }
        }
    }
}
