//! Leader election: one background task holds the `coordination.k8s.io`
//! Lease for as long as the process lives (not per pass), and publishes the
//! replica's role on a watch channel the agent loop follows.
//!
//! client-go's rules, with its defaults: the leader renews every retry
//! period (2 s) and steps down when it could not renew for the renew
//! deadline (10 s); a standby takes over once the lease lapsed, i.e. the
//! holder did not renew for the lease duration (15 s). Expiry is judged on
//! this process's clock from when the holder's renewal was *seen* (never
//! trusting a renewTime ahead of what was observed), with the server's
//! renewTime honoured when it is later — so clock skew can make a standby
//! wait longer, but not take a live lease. On shutdown the leader releases
//! the lease so the standby need not wait.

use crate::reconcile::lease::{Claim, LeaseView, claim, lease_body, release};
use crate::report::Metrics;
use crate::report::events::{EventSink, Note, reason};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// This replica's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not decided yet (the lease was not read).
    Unknown,
    /// Another replica holds the lease.
    Standby,
    /// This replica holds the lease and acts.
    Leader,
}

/// Lease settings.
#[derive(Debug, Clone)]
pub struct ElectorConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
    /// How long the leader keeps acting without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the lease is renewed or checked.
    pub retry_period: Duration,
    /// The time renewals and expiries are read from.
    pub clock: crate::clock::SharedClock,
}

/// The running elector.
pub struct Elector {
    role: watch::Receiver<Role>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Elector {
    /// The role channel.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Stops renewing and releases the lease if held.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// What was last seen of the holder, and when (this process's clock).
struct Seen {
    key: (Option<String>, Option<String>),
    at: jiff::Timestamp,
}

struct Task {
    api: Api<Lease>,
    cfg: ElectorConfig,
    metrics: Arc<Metrics>,
    events: Option<EventSink>,
    role: watch::Sender<Role>,
    seen: Option<Seen>,
    last_renew: Option<jiff::Timestamp>,
    told_standby: bool,
    told_error: bool,
}

/// Starts the elector.
pub fn spawn(
    client: kube::Client,
    cfg: ElectorConfig,
    metrics: Arc<Metrics>,
    events: Option<EventSink>,
) -> Elector {
    let (role_tx, role_rx) = watch::channel(Role::Unknown);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let mut t = Task {
        api: Api::namespaced(client, &cfg.namespace),
        cfg,
        metrics,
        events,
        role: role_tx,
        seen: None,
        last_renew: None,
        told_standby: false,
        told_error: false,
    };
    let task = tokio::spawn(async move {
        loop {
            let wait = t.step().await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop_rx.wait_for(|s| *s) => break,
            }
        }
        if *t.role.borrow() == Role::Leader {
            release(&t.api, &t.cfg.name, &t.cfg.identity, t.cfg.clock.now()).await;
            // Given up on purpose: no LeaderLost warning for a normal stop.
            t.role.send_replace(Role::Standby);
            t.metrics.set_leader(false);
            tracing::info!(lease = %t.cfg.name, "released the lease on shutdown");
        }
    });
    Elector {
        role: role_rx,
        stop: stop_tx,
        task,
    }
}

fn span(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

impl Task {
    fn leading(&self) -> bool {
        *self.role.borrow() == Role::Leader
    }

    fn set_role(&mut self, role: Role, why: &str) {
        let before = *self.role.borrow();
        if before == role {
            return;
        }
        self.role.send_replace(role);
        self.metrics.set_leader(role == Role::Leader);
        let lease = &self.cfg.name;
        match (before, role) {
            (_, Role::Leader) => {
                tracing::info!(lease = %lease, identity = %self.cfg.identity, "acquired the lease ({why}); acting");
                self.told_standby = false;
                self.event(
                    false,
                    reason::LEADER_ACQUIRED,
                    format!("{} acquired lease {lease} ({why})", self.cfg.identity),
                );
            }
            (Role::Leader, _) => {
                tracing::warn!(lease = %lease, "lost the lease ({why}); stopping at once");
                self.event(
                    true,
                    reason::LEADER_LOST,
                    format!("{} lost lease {lease} ({why})", self.cfg.identity),
                );
            }
            _ => {}
        }
    }

    fn event(&self, warning: bool, reason: &'static str, note: String) {
        if let Some(e) = &self.events {
            e.publish(Note {
                warning,
                reason,
                action: "LeaderElection",
                note,
            });
        }
    }

    /// Steps down when the last renewal is older than the renew deadline.
    fn check_deadline(&mut self, now: jiff::Timestamp, why: &str) {
        if self.leading()
            && self
                .last_renew
                .is_none_or(|r| now.duration_since(r) > span(self.cfg.renew_deadline))
        {
            self.set_role(Role::Standby, why);
        }
    }

    /// When the lease in `view` lapses, as this process judges it.
    fn expiry(&mut self, view: &LeaseView, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let key = (view.holder.clone(), view.renew_time.clone());
        if self.seen.as_ref().is_none_or(|s| s.key != key) {
            self.seen = Some(Seen { key, at: now });
        }
        let seen = self.seen.as_ref()?.at - span(self.cfg.retry_period);
        let renewed = view
            .renew_time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .filter(|r| *r <= now)
            .map_or(seen, |r| r.max(seen));
        let secs = if view.duration_secs > 0 {
            jiff::SignedDuration::from_secs(view.duration_secs)
        } else {
            span(self.cfg.duration)
        };
        Some(renewed + secs)
    }

    /// One look at the lease; returns how long to wait before the next.
    async fn step(&mut self) -> Duration {
        let retry = self.cfg.retry_period;
        let now = self.cfg.clock.now();
        let read = tokio::time::timeout(retry * 2, self.api.get_opt(&self.cfg.name)).await;
        let current = match read {
            Ok(Ok(c)) => {
                self.told_error = false;
                c
            }
            Ok(Err(e)) => {
                self.api_error(&e.to_string());
                self.check_deadline(now, "could not renew within the renew deadline");
                return retry;
            }
            Err(_) => {
                self.api_error("reading the lease timed out");
                self.check_deadline(now, "could not renew within the renew deadline");
                return retry;
            }
        };
        let view = current.as_ref().map(LeaseView::of);
        let expires = match &view {
            Some(v) if v.holder.is_some() => self.expiry(v, now),
            _ => None,
        };
        let c = claim(
            view.as_ref().and_then(|v| v.holder.as_deref()),
            expires,
            &self.cfg.identity,
            now,
        );
        if let Claim::Held { holder, expires } = c {
            self.set_role(Role::Standby, &format!("now held by {holder}"));
            if !self.told_standby {
                tracing::info!(lease = %self.cfg.name, holder = %holder, "standing by: another replica holds the lease");
                self.told_standby = true;
            }
            let until = expires.duration_since(now).as_millis().max(0) as u64 + 10;
            return retry.min(Duration::from_millis(until));
        }
        self.write(view.as_ref(), &c, now).await
    }

    async fn write(
        &mut self,
        view: Option<&LeaseView>,
        c: &Claim,
        now: jiff::Timestamp,
    ) -> Duration {
        let retry = self.cfg.retry_period;
        let body = match lease_body(
            &self.cfg.name,
            Some(&self.cfg.identity),
            self.cfg.duration,
            view,
            now,
        ) {
            Ok(b) => b,
            Err(e) => {
                self.api_error(&e.to_string());
                return retry;
            }
        };
        let pp = PostParams {
            field_manager: Some("wavesync".into()),
            ..Default::default()
        };
        let write = async {
            match view {
                None => self.api.create(&pp, &body).await,
                Some(_) => self.api.replace(&self.cfg.name, &pp, &body).await,
            }
        };
        match tokio::time::timeout(retry * 2, write).await {
            Ok(Ok(_)) => {
                self.last_renew = Some(now);
                let why = match c {
                    Claim::Free => "it was free".to_string(),
                    Claim::Expired { previous } => format!("{previous} let it lapse"),
                    _ => "renewed".to_string(),
                };
                self.set_role(Role::Leader, &why);
                retry
            }
            // Another replica wrote first; the next read says who holds it.
            Ok(Err(kube::Error::Api(s))) if s.code == 409 => Duration::from_millis(50),
            // Creating the Lease finds no namespace: it was deleted, or the
            // cluster lost its store. Made again as at start, or no replica
            // would ever lead again.
            Ok(Err(kube::Error::Api(s))) if s.code == 404 && view.is_none() => {
                let client = self.api.clone().into_client();
                if let Err(e) =
                    crate::commands::cluster::ensure_namespace(&client, &self.cfg.namespace).await
                {
                    self.api_error(&format!("{e:#}"));
                }
                self.check_deadline(now, "could not renew within the renew deadline");
                retry
            }
            Ok(Err(e)) => {
                self.api_error(&e.to_string());
                self.check_deadline(now, "could not renew within the renew deadline");
                retry
            }
            Err(_) => {
                self.api_error("writing the lease timed out");
                self.check_deadline(now, "could not renew within the renew deadline");
                retry
            }
        }
    }

    /// Logged once per run of failures, not every retry period.
    fn api_error(&mut self, e: &str) {
        if !self.told_error {
            tracing::warn!(lease = %self.cfg.name, error = %e, "lease request failed; retrying");
            self.told_error = true;
        }
    }
}
