//! `kube-sim`: an in-memory Kubernetes API server for wavesync's tests,
//! benchmarks and demo.
//!
//! It speaks the real wire protocol over TLS, so the real `kube` client and the
//! real `kubectl` use it unchanged: discovery, get/list/watch, create, update,
//! merge/JSON/strategic patches, server-side apply with `managedFields` and
//! conflicts, dry-run, the status subresource, CRDs that become served types,
//! finalizers, owner references and namespace deletion. Around that it adds what
//! tests need and a cluster does not have: a readiness simulator (see
//! [`controllers`]), fault injection ([`faults`]), request counters
//! ([`metrics`]) and restarts ([`Sim::restart`]).
//!
//! Its yardstick is the set of cases recorded from kube-apiserver v1.32 in
//! `tests/conformance/`; `tests/conformance.rs` replays them. Known deviations
//! from kube-apiserver are listed in `kube-sim/README.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_sim::SimError> {
//! let sim = kube_sim::Sim::start().await?;
//! let client = sim.client()?;
//! sim.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod controllers;
pub mod core;
pub mod defaults;
pub mod faults;
pub mod fieldpath;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod protobuf;
pub mod read;
pub mod registry;
pub mod route;
pub mod scale;
pub mod schema;
pub mod selector;
pub mod server;
pub mod smp;
pub mod ssa;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod validation;
pub mod write;
pub mod yaml;

pub use crate::core::{GeneratedSecret, SimOptions};
pub use faults::{Fault, FaultRule};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding or writing files failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Certificates could not be made.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The generated kubeconfig could not be turned into a client.
    #[error("client configuration: {0}")]
    Client(String),
}

/// A running simulated API server. Dropping it stops the server.
pub struct Sim {
    core: Arc<core::Core>,
    url: String,
    kubeconfig: String,
    config: kube::Config,
    shutdown: watch::Sender<bool>,
    port: u16,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
}

/// What an API server restart ([`Sim::restart`]) keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// etcd survived: every object, resourceVersions and served CRDs are
    /// as they were (watch history too).
    Kept,
    /// etcd was lost: the server comes back empty but for the default
    /// namespaces; request counters and fault rules start anew as well.
    Lost,
}

impl Sim {
    /// Starts a server with default options (TLS, token auth, a free port).
    ///
    /// # Errors
    /// When the port cannot be bound or certificates cannot be generated.
    pub async fn start() -> Result<Sim, SimError> {
        Self::start_with(SimOptions::default()).await
    }

    /// Starts a server with `options`.
    ///
    /// # Errors
    /// When the port cannot be bound or certificates cannot be generated.
    pub async fn start_with(options: SimOptions) -> Result<Sim, SimError> {
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
        let port = listener.local_addr()?.port();
        let (tls, scheme) = if options.tls {
            let t = tls::generate()?;
            (Some(t), "https")
        } else {
            (None, "http")
        };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let kubeconfig = kubeconfig_yaml(
            &url,
            tls.as_ref().map(|t| t.ca_pem.as_str()),
            options.token.as_deref(),
        );
        let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig)
            .map_err(|e| SimError::Client(e.to_string()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| SimError::Client(e.to_string()))?;
        let core = Arc::new(core::Core::new(options));
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let shutdown = Self::serve(listener, &core, &acceptor);
        let sim = Sim {
            core,
            url,
            kubeconfig,
            config,
            shutdown,
            port,
            acceptor,
        };
        if sim.core.options.default_namespaces {
            sim.create_default_namespaces();
        }
        Ok(sim)
    }

    fn serve(
        listener: TcpListener,
        core: &Arc<core::Core>,
        acceptor: &Option<tokio_rustls::TlsAcceptor>,
    ) -> watch::Sender<bool> {
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(server::serve(
            listener,
            core.clone(),
            acceptor.clone(),
            rx.clone(),
        ));
        tokio::spawn(controllers::run(core.clone(), rx));
        shutdown
    }

    /// Restarts the API server, as when kube-apiserver's process dies and
    /// comes back: every open connection (watches included) is closed,
    /// nothing listens for `downtime`, then a new server listens on the
    /// same port with the same CA, serving certificate and token, so
    /// clients (this one's [`Sim::client`], kubeconfigs written before)
    /// work again once they reconnect. `storage` says whether the objects
    /// survive.
    ///
    /// # Errors
    /// When the port cannot be bound again within a few seconds.
    pub async fn restart(&mut self, storage: Storage, downtime: Duration) -> Result<(), SimError> {
        self.shutdown();
        tokio::time::sleep(downtime).await;
        // The old listener goes when its task sees the shutdown; give it a moment.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if storage == Storage::Lost {
            self.core = Arc::new(core::Core::new(self.core.options.clone()));
        }
        self.shutdown = Self::serve(listener, &self.core, &self.acceptor);
        if storage == Storage::Lost && self.core.options.default_namespaces {
            self.create_default_namespaces();
        }
        Ok(())
    }

    fn create_default_namespaces(&self) {
        let Some(rt) = self.core.registry().get("", "v1", "namespaces") else {
            return;
        };
        let rp = route::ResourcePath {
            rt,
            namespace: None,
            name: None,
            sub: None,
            watch_prefix: false,
        };
        let opts = write::WriteOptions {
            field_manager: Some("kube-apiserver".into()),
            ..Default::default()
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Err(e) = write::create(&self.core, &rp, &opts, body) {
                tracing::warn!(namespace = ns, error = %e.message, "could not create default namespace");
            }
        }
    }

    /// The server URL (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A `kube` client for this server.
    ///
    /// # Errors
    /// When the client cannot be built (it needs a Tokio runtime).
    pub fn client(&self) -> Result<kube::Client, SimError> {
        kube::Client::try_from(self.config.clone()).map_err(|e| SimError::Client(e.to_string()))
    }

    /// The client configuration.
    pub fn config(&self) -> &kube::Config {
        &self.config
    }

    /// A kubeconfig document for this server (context `kube-sim`).
    pub fn kubeconfig_yaml(&self) -> &str {
        &self.kubeconfig
    }

    /// Writes the kubeconfig to `path`, for `kubectl --kubeconfig`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimError> {
        std::fs::write(path, &self.kubeconfig)?;
        Ok(())
    }

    /// Fault injection rules.
    pub fn faults(&self) -> &faults::Faults {
        &self.core.faults
    }

    /// Request counters.
    pub fn counters(&self) -> &metrics::Counters {
        &self.core.counters
    }

    /// Drops all watch history, so that watches from an older resourceVersion get 410 Gone.
    pub fn compact(&self) {
        self.core.store.lock().compact();
    }

    /// Number of stored objects.
    pub fn object_count(&self) -> usize {
        self.core.store.lock().objects.len()
    }

    /// Stops the server.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn kubeconfig_yaml(url: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    use base64::Engine;
    let ca = ca_pem
        .map(|p| {
            format!(
                "\n    certificate-authority-data: {}",
                base64::engine::general_purpose::STANDARD.encode(p)
            )
        })
        .unwrap_or_default();
    let user = token
        .map(|t| format!("\n    token: {t}"))
        .unwrap_or_else(|| " {}".into());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim\n  user:{user}\n"
    )
}
