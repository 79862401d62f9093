//! `--live`: what the cluster serves, for the kinds and CRDs the repository
//! does not define itself. Asked once, before the checks (which are
//! synchronous): one discovery pass and one list of the CRDs.

use crate::apply::ApplyError;
use crate::cluster::Resolver;
use crate::plan::Scopes;
use std::collections::BTreeSet;

/// What the cluster serves, as the checks ask it.
pub trait Live {
    /// Whether the cluster serves this kind: `Some(true)` namespaced,
    /// `Some(false)` cluster-scoped, `None` not served.
    fn scope(&self, api_version: &str, kind: &str) -> Option<bool>;
    /// Whether the cluster has the CustomResourceDefinition `name`
    /// (`widgets.example.com`).
    fn has_crd(&self, name: &str) -> bool;
}

/// Why the cluster could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Discovery failed.
    #[error("asking the cluster which kinds it serves: {0}")]
    Discovery(#[source] ApplyError),
    /// Listing the CRDs failed.
    #[error("listing the cluster's CustomResourceDefinitions: {0}")]
    Crds(#[source] crate::error::ApiFailure),
}

/// A cluster as discovery found it.
pub struct LiveCluster {
    resolver: Resolver,
    crds: BTreeSet<String>,
}

impl LiveCluster {
    /// Runs discovery and lists the CRDs of the cluster `client` talks to.
    ///
    /// # Errors
    /// [`LiveError`] when the cluster cannot be reached or refuses.
    pub async fn discover(client: kube::Client) -> Result<LiveCluster, LiveError> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let resolver = Resolver::new(client.clone());
        resolver
            .discover_all()
            .await
            .map_err(LiveError::Discovery)?;
        let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client);
        let list = api
            .list_metadata(&kube::api::ListParams::default())
            .await
            .map_err(|e| LiveError::Crds(e.into()))?;
        let crds = list
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        Ok(LiveCluster { resolver, crds })
    }
}

impl Live for LiveCluster {
    fn scope(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.resolver
            .cached(api_version, kind)
            .map(|r| r.namespaced)
    }

    fn has_crd(&self, name: &str) -> bool {
        self.crds.contains(name)
    }
}

/// The cluster as the planner's last source of scopes.
pub(crate) struct LiveScopes<'a>(pub &'a dyn Live);

impl Scopes for LiveScopes<'_> {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0.scope(api_version, kind)
    }
}
