//! One acting agent per WaveSet: a `coordination.k8s.io` Lease, taken before
//! anything is applied and renewed while working, so two agents started at
//! once never both apply.
//!
//! [`claim`] is the decision alone — may this identity take the lease now? —
//! as a pure function over what the lease says and the time, tested without
//! a cluster (as kubert's `Claim::is_current_for`). [`LeaseLock`] is the
//! one-shot use of it by `wavesync sync`; the agent's long-running holder is
//! `controller::elector`.

use crate::clock::SharedClock;
use crate::error::{Categorized, Category};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::Duration;

/// Lease failures.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another agent holds the lease.
    #[error("another agent ({holder}) holds lease {name}; it expires {expires}")]
    Held {
        /// Lease name.
        name: String,
        /// Its holder.
        holder: String,
        /// When it expires unless renewed.
        expires: String,
    },
    /// The API call failed.
    #[error("lease {name}: {source}")]
    Api {
        /// Lease name.
        name: String,
        /// The client error.
        #[source]
        source: crate::error::ApiFailure,
    },
}

impl Categorized for LeaseError {
    fn category(&self) -> Category {
        match self {
            LeaseError::Held { .. } => Category::Transient,
            LeaseError::Api { source, .. } => source.category,
        }
    }
}

/// Who may take a lease, from what it says and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody holds it (no lease, or an empty holder: released).
    Free,
    /// This identity holds it: renew.
    Ours,
    /// Another holder did not renew in time: it may be taken over.
    Expired {
        /// The holder that let it lapse.
        previous: String,
    },
    /// Another holder has it until `expires`.
    Held {
        /// Its identity.
        holder: String,
        /// When it lapses unless renewed.
        expires: jiff::Timestamp,
    },
}

impl Claim {
    /// Whether `me` may write the lease with itself as holder.
    pub fn may_take(&self) -> bool {
        !matches!(self, Claim::Held { .. })
    }
}

/// Decides whether `me` may take a lease held by `holder` that lapses at
/// `expires` (None: no renewal on record, i.e. lapsed), at time `now`.
/// A lease that lapses exactly now is still held: takeover needs `now` past it.
pub fn claim(
    holder: Option<&str>,
    expires: Option<jiff::Timestamp>,
    me: &str,
    now: jiff::Timestamp,
) -> Claim {
    match holder {
        None | Some("") => Claim::Free,
        Some(h) if h == me => Claim::Ours,
        Some(h) => match expires {
            Some(e) if e >= now => Claim::Held {
                holder: h.to_string(),
                expires: e,
            },
            _ => Claim::Expired {
                previous: h.to_string(),
            },
        },
    }
}

/// What a stored lease says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseView {
    /// holderIdentity (None or empty: free).
    pub holder: Option<String>,
    /// renewTime as written.
    pub renew_time: Option<String>,
    /// leaseDurationSeconds.
    pub duration_secs: i64,
    /// acquireTime as written.
    pub acquire_time: Option<String>,
    /// leaseTransitions.
    pub transitions: i64,
    /// resourceVersion, to write against.
    pub resource_version: Option<String>,
}

impl LeaseView {
    /// Reads the spec of `lease`.
    pub fn of(lease: &Lease) -> LeaseView {
        let spec = lease.spec.clone().unwrap_or_default();
        LeaseView {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.map(|t| micro(t.0)),
            duration_secs: i64::from(spec.lease_duration_seconds.unwrap_or(0)),
            acquire_time: spec.acquire_time.map(|t| micro(t.0)),
            transitions: i64::from(spec.lease_transitions.unwrap_or(0)),
            resource_version: lease.metadata.resource_version.clone(),
        }
    }

    /// When the lease lapses by its own renewTime (the server's clock).
    pub fn expires(&self) -> Option<jiff::Timestamp> {
        let renew = self
            .renew_time
            .as_deref()?
            .parse::<jiff::Timestamp>()
            .ok()?;
        Some(renew + jiff::SignedDuration::from_secs(self.duration_secs))
    }
}

/// The lease body that makes `holder` the holder, renewed now.
pub(crate) fn lease_body(
    name: &str,
    holder: Option<&str>,
    duration: Duration,
    previous: Option<&LeaseView>,
    now: jiff::Timestamp,
) -> Result<Lease, serde_json::Error> {
    let t = micro(now);
    let ours = previous.is_some_and(|p| p.holder.as_deref() == holder && holder.is_some());
    let acquire = if ours {
        previous.and_then(|p| p.acquire_time.clone())
    } else {
        None
    };
    let transitions = previous.map(|p| p.transitions).unwrap_or(0)
        + i64::from(previous.is_some_and(|p| p.holder.is_some()) && !ours && holder.is_some());
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "resourceVersion": previous.and_then(|p| p.resource_version.clone())},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration.as_secs().max(1),
            "acquireTime": acquire.unwrap_or_else(|| t.clone()), "renewTime": t, "leaseTransitions": transitions},
    }))
}

/// The WaveSet's lease.
#[derive(Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    holder: String,
    duration: Duration,
    clock: SharedClock,
}

fn micro(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl LeaseLock {
    /// The lease `wavesync-<waveset>` in `namespace`, held as `holder`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        waveset: &str,
        holder: &str,
        duration: Duration,
    ) -> Self {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            name: format!("wavesync-{waveset}"),
            holder: holder.to_string(),
            duration,
            clock: crate::clock::system(),
        }
    }

    /// This lock reading renew and expiry times from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// A holder identity for this process.
    pub fn identity() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "wavesync".into());
        format!("{host}-{}", std::process::id())
    }

    fn api_err(&self, source: kube::Error) -> LeaseError {
        LeaseError::Api {
            name: self.name.clone(),
            source: source.into(),
        }
    }

    /// Takes or renews the lease.
    ///
    /// # Errors
    /// [`LeaseError::Held`] while another live holder has it.
    pub async fn acquire(&self) -> Result<(), LeaseError> {
        let pp = PostParams {
            field_manager: Some("wavesync".into()),
            ..Default::default()
        };
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.api_err(e))?;
        let view = current.as_ref().map(LeaseView::of);
        if let Some(v) = &view
            && let Claim::Held { holder, expires } = claim(
                v.holder.as_deref(),
                v.expires(),
                &self.holder,
                self.clock.now(),
            )
        {
            return Err(LeaseError::Held {
                name: self.name.clone(),
                holder,
                expires: expires.to_string(),
            });
        }
        let body = lease_body(
            &self.name,
            Some(&self.holder),
            self.duration,
            view.as_ref(),
            self.clock.now(),
        )
        .map_err(|e| self.api_err(kube::Error::SerdeError(e)))?;
        let written = match view {
            None => self.api.create(&pp, &body).await,
            Some(_) => self.api.replace(&self.name, &pp, &body).await,
        };
        match written {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(self.held_by_unknown()),
            Err(e) => Err(self.api_err(e)),
        }
    }

    fn held_by_unknown(&self) -> LeaseError {
        LeaseError::Held {
            name: self.name.clone(),
            holder: "another agent".into(),
            expires: "soon".into(),
        }
    }

    /// Takes the lease, waiting up to `max` while another holder has it (an
    /// agent killed mid-pass leaves it held until it expires).
    ///
    /// # Errors
    /// [`LeaseError::Held`] when it is still held after `max`.
    pub async fn acquire_waiting(&self, max: Duration) -> Result<(), LeaseError> {
        let start = std::time::Instant::now();
        let mut told = false;
        loop {
            match self.acquire().await {
                Err(e @ LeaseError::Held { .. }) if start.elapsed() < max => {
                    if !told {
                        tracing::warn!(error = %e, "waiting for the lease");
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => return other,
            }
        }
    }

    /// Runs `work` while renewing the lease every third of its duration; stops
    /// (dropping `work`) if another agent took the lease meanwhile, so two
    /// agents never act at once even when a pass outlives the lease.
    ///
    /// # Errors
    /// [`LeaseError::Held`] when the lease was lost.
    pub async fn hold<F: std::future::Future>(&self, work: F) -> Result<F::Output, LeaseError> {
        tokio::pin!(work);
        let mut tick = tokio::time::interval(self.duration / 3);
        tick.tick().await;
        loop {
            tokio::select! {
                out = &mut work => return Ok(out),
                _ = tick.tick() => match self.acquire().await {
                    Ok(()) => {}
                    Err(e @ LeaseError::Held { .. }) => return Err(e),
                    Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
                },
            }
        }
    }

    /// Gives the lease up (best effort) so the next agent need not wait for it to expire.
    pub async fn release(&self) {
        release(&self.api, &self.name, &self.holder, self.clock.now()).await;
    }
}

/// Empties the holder of lease `name` if `holder` still holds it (best
/// effort: a failure only means the next agent waits for the expiry).
pub(crate) async fn release(api: &Api<Lease>, name: &str, holder: &str, now: jiff::Timestamp) {
    let Ok(Some(current)) = api.get_opt(name).await else {
        return;
    };
    let view = LeaseView::of(&current);
    if view.holder.as_deref() != Some(holder) {
        return;
    }
    let Ok(body) = lease_body(name, None, Duration::from_secs(1), Some(&view), now) else {
        return;
    };
    if let Err(e) = api.replace(name, &PostParams::default(), &body).await {
        tracing::debug!(error = %e, lease = name, "releasing the lease failed; it lapses on its own");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_live_lease_of_another_holder_is_held_until_it_lapses() {
        let now = t("2026-12-02T10:00:00Z");
        let expires = Some(t("2026-12-02T10:00:05Z"));
        assert_eq!(
            claim(Some("b"), expires, "a", now),
            Claim::Held {
                holder: "b".into(),
                expires: t("2026-12-02T10:00:05Z")
            }
        );
        // Exactly at the expiry it is still held; a moment later it is not.
        assert!(!claim(Some("b"), expires, "a", t("2026-12-02T10:00:05Z")).may_take());
        assert_eq!(
            claim(Some("b"), expires, "a", t("2026-12-02T10:00:05.001Z")),
            Claim::Expired {
                previous: "b".into()
            }
        );
    }

    #[test]
    fn free_ours_and_never_renewed_leases_may_be_taken() {
        let now = t("2026-12-02T10:00:00Z");
        assert_eq!(claim(None, None, "a", now), Claim::Free);
        assert_eq!(claim(Some(""), None, "a", now), Claim::Free);
        // Our own lease is ours even when it lapsed: renewing it is no takeover.
        assert_eq!(
            claim(Some("a"), Some(t("2026-12-02T09:00:00Z")), "a", now),
            Claim::Ours
        );
        assert!(claim(Some("b"), None, "a", now).may_take());
    }

    #[test]
    fn a_takeover_counts_a_transition_and_a_renewal_does_not() {
        let prev = LeaseView {
            holder: Some("b".into()),
            renew_time: Some("2026-12-02T09:00:00.000000Z".into()),
            duration_secs: 15,
            acquire_time: Some("2026-12-02T08:00:00.000000Z".into()),
            transitions: 3,
            resource_version: Some("7".into()),
        };
        let took = lease_body(
            "l",
            Some("a"),
            Duration::from_secs(15),
            Some(&prev),
            t("2026-12-02T10:00:00Z"),
        )
        .expect("body");
        let spec = took.spec.expect("spec");
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(took.metadata.resource_version.as_deref(), Some("7"));
        let renewed = lease_body(
            "l",
            Some("b"),
            Duration::from_secs(15),
            Some(&prev),
            t("2026-12-02T10:00:00Z"),
        )
        .expect("body");
        let spec = renewed.spec.expect("spec");
        assert_eq!(spec.lease_transitions, Some(3));
        assert_eq!(
            spec.acquire_time.map(|t| micro(t.0)).as_deref(),
            Some("2026-12-02T08:00:00.000000Z"),
            "a renewal keeps the acquire time"
        );
    }
}
