//! One acting agent per WaveSet: a `coordination.k8s.io` Lease, taken before
//! anything is applied and renewed while working, so two agents started at
//! once never both apply.

use crate::error::{Categorized, Category};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
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

/// The WaveSet's lease.
#[derive(Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    holder: String,
    duration: Duration,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
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
        }
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

    fn body(
        &self,
        acquire: Option<String>,
        transitions: i64,
        rv: Option<String>,
    ) -> Result<Lease, LeaseError> {
        let t = micro(now());
        let v = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "resourceVersion": rv},
            "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration.as_secs(),
                "acquireTime": acquire.unwrap_or_else(|| t.clone()), "renewTime": t, "leaseTransitions": transitions},
        });
        serde_json::from_value(v).map_err(|e| LeaseError::Api {
            name: self.name.clone(),
            source: kube::Error::SerdeError(e).into(),
        })
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
        let Some(current) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.api_err(e))?
        else {
            return match self.api.create(&pp, &self.body(None, 0, None)?).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => Err(self.held_by_unknown()),
                Err(e) => Err(self.api_err(e)),
            };
        };
        let spec = serde_json::to_value(&current.spec).unwrap_or(Value::Null);
        let holder = spec
            .get("holderIdentity")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let renew = spec
            .get("renewTime")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let secs = spec
            .get("leaseDurationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let expires = renew.map(|r| r + jiff::SignedDuration::from_secs(secs));
        let mine = holder == self.holder;
        if !mine && !holder.is_empty() && expires.is_some_and(|e| e > now()) {
            return Err(LeaseError::Held {
                name: self.name.clone(),
                holder,
                expires: expires.map(|e| e.to_string()).unwrap_or_default(),
            });
        }
        let transitions = spec
            .get("leaseTransitions")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + i64::from(!mine);
        let acquire = if mine {
            spec.get("acquireTime")
                .and_then(Value::as_str)
                .map(String::from)
        } else {
            None
        };
        let body = self.body(
            acquire,
            transitions,
            current.metadata.resource_version.clone(),
        )?;
        match self.api.replace(&self.name, &pp, &body).await {
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
        if let Ok(Some(current)) = self.api.get_opt(&self.name).await {
            let holder = current
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.clone())
                .unwrap_or_default();
            if holder == self.holder {
                let mut v = serde_json::to_value(&current).unwrap_or(Value::Null);
                v["spec"]["holderIdentity"] = Value::Null;
                if let Ok(l) = serde_json::from_value::<Lease>(v) {
                    let _ = self
                        .api
                        .replace(&self.name, &PostParams::default(), &l)
                        .await;
                }
            }
        }
    }
}
