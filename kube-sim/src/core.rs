//! The simulator's shared state: store, served types, faults, counters, options.

use crate::faults::Faults;
use crate::metrics::Counters;
use crate::registry::Registry;
use crate::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Serve TLS with a generated CA (like a real cluster); plain HTTP when false.
    pub tls: bool,
    /// Bearer token clients must send; `None` accepts any request.
    pub token: Option<String>,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// How long workloads take to become ready (per object: annotation `sim.wavesync.io/ready-after`).
    pub ready_after: Duration,
    /// Custom resource kinds (`group/Kind` or `Kind`) that get `Ready=True` conditions.
    pub ready_kinds: Vec<String>,
    /// Extra status fields a ready custom resource of a kind (`group/Kind` or
    /// `Kind`) gets, as its operator would write them (`{"phase": "..."}`).
    pub ready_status: Vec<(String, serde_json::Value)>,
    /// Secrets an operator creates for its custom resources once they are ready.
    pub generated_secrets: Vec<GeneratedSecret>,
    /// How often the built-in controllers run.
    pub tick: Duration,
    /// Create the `default`, `kube-system`, `kube-public` and `kube-node-lease` namespaces.
    pub default_namespaces: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            tls: true,
            token: Some(crate::tls::random_token()),
            port: 0,
            ready_after: Duration::from_millis(200),
            ready_kinds: Vec::new(),
            ready_status: Vec::new(),
            generated_secrets: Vec::new(),
            tick: Duration::from_millis(50),
            default_namespaces: true,
        }
    }
}

/// A Secret a simulated operator creates next to a ready custom resource, as
/// CloudNativePG creates `<cluster>-app` for a `Cluster`.
#[derive(Debug, Clone)]
pub struct GeneratedSecret {
    /// The custom resource's kind (`group/Kind` or `Kind`).
    pub kind: String,
    /// The Secret's name; `{name}` stands for the custom resource's name.
    pub name: String,
    /// Keys of the Secret; each gets a placeholder value.
    pub keys: Vec<String>,
}

/// Everything request handlers and controllers share.
#[derive(Debug)]
pub struct Core {
    /// Objects.
    pub store: Store,
    registry: RwLock<Registry>,
    /// Fault injection rules.
    pub faults: Faults,
    /// Request counters.
    pub counters: Counters,
    /// Options.
    pub options: SimOptions,
    next_ip: AtomicU32,
}

impl Core {
    /// A fresh core.
    pub fn new(options: SimOptions) -> Self {
        Core {
            store: Store::new(),
            registry: RwLock::new(Registry::new()),
            faults: Faults::default(),
            counters: Counters::default(),
            options,
            next_ip: AtomicU32::new(1),
        }
    }

    /// The served types.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The served types, for changes.
    pub fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Allocates a ClusterIP from 10.96.0.0/12.
    pub fn next_cluster_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }
}

/// The current time as kube writes it (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
