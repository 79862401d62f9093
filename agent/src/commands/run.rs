//! `wavesync run`: the agent as a long-running controller. Builds the
//! pieces from the flags — cluster client (kubeconfig or in-cluster), Git
//! source, engine, metrics, Events, health, the HTTP listener and the lease
//! holder — and hands them to [`crate::controller::Agent`] until SIGTERM.

use super::sync::{options, source};
use crate::cli::RunArgs;
use crate::controller::elector::{self, ElectorConfig};
use crate::controller::health::Health;
use crate::controller::policy::Backoff;
use crate::controller::{Agent, LoopOptions, http, webhook};
use crate::reconcile::Engine;
use crate::reconcile::lease::LeaseLock;
use crate::reconcile::stop::Stop;
use crate::report::progress::LogProgress;
use crate::report::{Fanout, Metrics, Progress, events};
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Resolves on SIGTERM or Ctrl-C.
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
    anyhow::ensure!(
        args.lease_renew_deadline < args.lease_duration,
        "--lease-renew-deadline ({:?}) must be shorter than --lease-duration ({:?})",
        args.lease_renew_deadline,
        args.lease_duration
    );
    // Checked now so a bad credentials mount fails the pod at start.
    let tracking = source(&args.sync.repo)?.spec().tracking.clone();
    let secrets = webhook::Secrets {
        github: args.webhook_github_secret_file.clone(),
        gitlab: args.webhook_gitlab_token_file.clone(),
        generic: args.webhook_generic_secret_file.clone(),
    };
    secrets.check().map_err(anyhow::Error::msg)?;
    let state = &args.sync.state;
    let client = super::cluster::client(&state.cluster).await?;
    super::cluster::ensure_namespace(&client, &state.state_namespace).await?;
    let waveset = state.waveset.clone();
    let identity = args.identity.clone().unwrap_or_else(LeaseLock::identity);

    let metrics = Metrics::new();
    let wedged = (args.interval * args.wedged_after_intervals).max(Duration::from_secs(120));
    let health = Arc::new(Health::new(wedged, Instant::now()));
    let events = events::spawn(
        client.clone(),
        &state.state_namespace,
        &format!("wavesync-state-{waveset}"),
        &identity,
    );
    let (wake_tx, wake) = mpsc::channel::<()>(1);
    let _watcher = if args.watch {
        Some(crate::source::watch_local(
            std::path::Path::new(&args.sync.repo.repo),
            wake_tx.clone(),
        )?)
    } else {
        None
    };
    // One clock for the record and the lease.
    let clock = crate::clock::system();
    // The webhooks answer by role: the elector starts before the listener.
    let elector = elector::spawn(
        client.clone(),
        ElectorConfig {
            namespace: state.state_namespace.clone(),
            name: args
                .lease_name
                .clone()
                .unwrap_or_else(|| format!("wavesync-{waveset}")),
            identity: identity.clone(),
            duration: args.lease_duration,
            renew_deadline: args.lease_renew_deadline,
            retry_period: args.lease_retry_period,
            clock: clock.clone(),
        },
        metrics.clone(),
        Some(events.clone()),
    );
    let (stop_http, stopped_http) = watch::channel(false);
    let shared = http::Shared {
        metrics: metrics.clone(),
        health: health.clone(),
        webhooks: secrets.any().then(|| {
            Arc::new(webhook::Webhooks::new(
                secrets.clone(),
                tracking,
                wake_tx.clone(),
                elector.role(),
                metrics.clone(),
            ))
        }),
    };
    let mut stopped = stopped_http.clone();
    let served = http::serve(args.listen, shared, async move {
        let _ = stopped.wait_for(|s| *s).await;
    })
    .await;
    let (bound, server) = match served {
        Ok(s) => s,
        Err(e) => {
            // Give a lease already taken back rather than leave it to expire.
            elector.shutdown().await;
            return Err(e).with_context(|| format!("listening on {}", args.listen));
        }
    };
    tracing::info!(address = %bound, "serving /healthz, /readyz and /metrics");
    for (route, on) in [
        ("/hooks/github", secrets.github.is_some()),
        ("/hooks/gitlab", secrets.gitlab.is_some()),
        ("/hooks/generic", secrets.generic.is_some()),
    ] {
        if on {
            tracing::info!(route, "serving a push webhook");
        }
    }

    let progress: Arc<dyn Progress> = Arc::new(Fanout(vec![
        Arc::new(LogProgress),
        Arc::new(metrics.progress(&waveset)),
        Arc::new(events.clone()),
        health.clone(),
    ]));
    let stop = Stop::default();
    let mut sync_options = options(&args.sync);
    // The agent honours a stall; `wavesync sync` by hand does not.
    sync_options.force = false;
    // A standing override would disarm the guard for every future commit.
    sync_options.allow_mass_prune = false;
    let engine = Engine::new(client.clone(), sync_options, progress)
        .with_stop(stop.clone())
        .with_clock(clock.clone());
    let drift = args.drift_detection.then(|| {
        let (handle, reports, notices) =
            crate::drift::detector::spawn(engine.resolver().clone(), metrics.clone());
        crate::controller::DriftParts {
            handle,
            reports,
            notices,
        }
    });

    let alerts = crate::controller::alerts::Alerts::start(
        args.notify.sinks(),
        client.clone(),
        crate::notify::NotifyContext {
            waveset: waveset.clone(),
            cluster: engine.options.cluster.clone(),
            identity: identity.clone(),
            namespace: state.state_namespace.clone(),
        },
        metrics.clone(),
    )
    .await;
    let repo = args.sync.repo.clone();
    let agent = Agent {
        engine,
        stop,
        source: Box::new(move || match source(&repo) {
            Ok(s) => s,
            Err(e) => {
                // The token file vanished after start: go on without a token,
                // and let the fetch fail with a permission error.
                tracing::warn!(error = %e, "reading git credentials failed");
                let mut anonymous = repo.clone();
                anonymous.git_token_file = None;
                source(&anonymous).unwrap_or_else(|_| unreachable!("no file to read"))
            }
        }),
        metrics,
        health,
        wake,
        options: LoopOptions {
            waveset,
            path: args.sync.repo.path.clone(),
            interval: args.interval,
            backoff: Backoff {
                base: args.retry_backoff,
                max: args.max_backoff,
            },
            grace: args.shutdown_grace,
        },
        drift,
        events: Some(events),
        alerts: Some(alerts),
    };
    agent.run(elector, shutdown_signal()).await;
    let _ = stop_http.send(true);
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}
