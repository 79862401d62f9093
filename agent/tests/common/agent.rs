//! Running the real `wavesync run` binary against the simulator: the
//! process, its listener, its metrics, and what it writes.

use super::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `wavesync run` process and the port of its HTTP listener.
pub struct AgentProc {
    /// The process.
    pub child: Child,
    /// Its HTTP listener port.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl AgentProc {
    /// Starts `wavesync run` with `envs` (and nothing else from this process's
    /// WAVESYNC_* or KUBECONFIG variables).
    pub fn start(identity: &str, envs: &[(&str, String)], args: &[&str]) -> AgentProc {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("agent.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
        for (k, _) in std::env::vars() {
            if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("run")
            .args(args)
            .env("WAVESYNC_LISTEN", format!("127.0.0.1:{port}"))
            .env("WAVESYNC_IDENTITY", identity)
            .env("WAVESYNC_CACHE", dir.path().join("cache"))
            .env("WAVESYNC_HELM_ENGINE", "libhelm")
            .env("RUST_LOG", "warn,wavesync=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        AgentProc {
            child: cmd.spawn().unwrap(),
            port,
            log,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` on the agent's listener: (status, body); None while it is not listening.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
        Some((status, body))
    }

    /// The metrics, as `name{labels}` → value.
    pub async fn metrics(&self) -> BTreeMap<String, f64> {
        let Some((200, body)) = self.get("/metrics").await else {
            return BTreeMap::new();
        };
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    pub fn terminate(&self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first series of `name` whose labels contain every one of `labels`.
pub fn metric(m: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m.iter()
        .find(|(k, _)| {
            k.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

/// The service account files of a pod, for the simulator: token and CA.
pub fn service_account(env: &Env, dir: &Path) {
    let kc = kube::config::Kubeconfig::from_yaml(env.sim.kubeconfig_yaml()).unwrap();
    let cluster = kc.clusters[0].cluster.clone().unwrap();
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority_data.unwrap())
        .unwrap();
    let user = serde_json::to_value(&kc.auth_infos[0]).unwrap();
    let token = user["user"]["token"].as_str().unwrap().to_string();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca.crt"), ca).unwrap();
    std::fs::write(dir.join("token"), token).unwrap();
    std::fs::write(dir.join("namespace"), "wavesync").unwrap();
}

/// The environment of a pod: the API server's service address and the mounted service account.
pub fn pod_env(env: &Env, sa: &Path, repo: &str) -> Vec<(&'static str, String)> {
    let port = env.sim.url().rsplit(':').next().unwrap().to_string();
    vec![
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1".into()),
        ("KUBERNETES_SERVICE_PORT", port),
        ("WAVESYNC_SERVICE_ACCOUNT_DIR", sa.display().to_string()),
        ("WAVESYNC_REPO", repo.into()),
        ("WAVESYNC_NAMESPACE", "wavesync".into()),
    ]
}

pub async fn events(env: &Env) -> Vec<Value> {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        env.client.clone(),
        "wavesync",
        &kube::api::ApiResource {
            group: "events.k8s.io".into(),
            version: "v1".into(),
            api_version: "events.k8s.io/v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
        },
    );
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

/// As `eventually`, with the agent's log in the failure message.
pub async fn within<T, F, Fut>(agent: &AgentProc, limit: Duration, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_or(
        limit,
        what,
        || format!("; the agent logged:\n{}", agent.log()),
        f,
    )
    .await
}

/// The record, once there is one.
pub async fn try_record(env: &Env, waveset: &str) -> Option<wavesync::state::Record> {
    env.engine()
        .store(waveset)
        .load()
        .await
        .unwrap()
        .map(|l| l.record)
}

/// Writes other than the lease renewals and Events (what a pass would write).
pub fn sync_writes(env: &Env) -> u64 {
    env.sim
        .counters()
        .snapshot()
        .into_iter()
        .filter(|((verb, resource), _)| {
            ["create", "update", "patch", "delete", "deletecollection"].contains(&verb.as_str())
                && resource != "leases"
                && resource != "events"
        })
        .map(|(_, n)| n)
        .sum()
}

pub async fn lease(env: &Env, name: &str) -> Option<Value> {
    env.get("coordination.k8s.io/v1", "Lease", "wavesync", name)
        .await
}

pub fn kube_env(env: &Env, repo: &TestRepo) -> Vec<(&'static str, String)> {
    let kc = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kc).unwrap();
    vec![
        ("WAVESYNC_KUBECONFIG", kc.display().to_string()),
        ("WAVESYNC_REPO", repo.url()),
        ("WAVESYNC_WAVESET", WAVESET.into()),
        ("WAVESYNC_INTERVAL", "1s".into()),
        ("WAVESYNC_LEASE_DURATION", "6s".into()),
        ("WAVESYNC_LEASE_RENEW_DEADLINE", "4s".into()),
        ("WAVESYNC_LEASE_RETRY_PERIOD", "1s".into()),
    ]
}
