//! Cluster access as kubectl does it: a kubeconfig file and context, the
//! KUBECONFIG variable, `~/.kube/config`, or the in-cluster service account.

use crate::cli::ClusterArgs;
use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A client for the cluster the flags name.
pub async fn client(args: &ClusterArgs) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await.context("loading the kubeconfig")?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options).await.context("loading the kubeconfig")?,
        None => kube::Config::infer().await.context("finding cluster credentials (kubeconfig or in-cluster)")?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}
