//! Cluster access as kubectl does it: a kubeconfig file and context, the
//! KUBECONFIG variable, `~/.kube/config`, or the in-cluster service account.

use crate::cli::ClusterArgs;
use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A client for the cluster the flags name.
pub async fn client(args: &ClusterArgs) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match &args.kubeconfig {
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
    kube::Client::try_from(config).context("building the Kubernetes client")
}

/// Creates the agent's namespace (for the record and the Lease) when it does not exist yet.
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    if api
        .get_opt(name)
        .await
        .map_err(crate::error::ApiFailure::from)?
        .is_some()
    {
        return Ok(());
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
