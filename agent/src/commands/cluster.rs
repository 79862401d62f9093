//! Cluster access as kubectl does it: a kubeconfig file and context, the
//! KUBECONFIG variable, `~/.kube/config`, or the in-cluster service account
//! (KUBERNETES_SERVICE_HOST/PORT with the token and CA mounted in the pod,
//! from `--service-account-dir`; the token file is read again as the kubelet
//! rotates it).

use crate::cli::ClusterArgs;
use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;

/// The in-cluster kubeconfig: the API server from the service environment,
/// the service account's CA and token files from `dir`. None outside a pod.
fn in_cluster(dir: &Path) -> Option<Kubeconfig> {
    let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").ok()?;
    let token = dir.join("token");
    if !token.is_file() {
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let kc = serde_json::json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {
            "server": format!("https://{host}:{port}"),
            "certificate-authority": dir.join("ca.crt"),
        }}],
        "users": [{"name": "in-cluster", "user": {"tokenFile": token}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "in-cluster"}}],
        "current-context": "in-cluster",
    });
    serde_json::from_value(kc).ok()
}

/// A client for the cluster the flags name.
pub async fn client(args: &ClusterArgs) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let pod = if args.kubeconfig.is_none() && args.context.is_none() {
        in_cluster(&args.service_account_dir)
    } else {
        None
    };
    let config = match &args.kubeconfig {
        None if pod.is_some() => {
            let kc = pod.unwrap_or_default();
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| {
                    format!(
                        "loading the in-cluster service account from {}",
                        args.service_account_dir.display()
                    )
                })?
        }
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .context("loading the kubeconfig")?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .context("loading the kubeconfig")?,
        None => kube::Config::infer()
            .await
            .context("finding cluster credentials (kubeconfig or in-cluster)")?,
    };
    crate::client::client(config).context("building the Kubernetes client")
}

/// Creates the agent's namespace (for the record and the Lease) when it does not exist yet.
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    match api.get_opt(name).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        // A namespaced install may not read Namespaces: its own exists.
        Err(kube::Error::Api(s)) if s.code == 403 => return Ok(()),
        Err(e) => return Err(crate::error::ApiFailure::from(e).into()),
    }
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    match api.create(&kube::api::PostParams::default(), &ns).await {
        Ok(_) => {
            tracing::info!(namespace = name, "created the state namespace");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(crate::error::ApiFailure::from(e))
            .with_context(|| format!("creating namespace {name} for the state record")),
    }
}
