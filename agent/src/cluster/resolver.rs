//! Maps apiVersion + kind to the served resource (plural, scope) through
//! discovery, cached; a miss re-discovers that group version, so CRDs applied
//! a moment ago are found.

use crate::apply::ApplyError;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Scope, oneshot};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A resolved kind.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The resource.
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// Resolved kinds by (apiVersion, kind); `None` remembers "not served".
type Cache = HashMap<(String, String), Option<Resolved>>;

/// The discovery cache.
#[derive(Clone)]
pub struct Resolver {
    client: kube::Client,
    cache: Arc<RwLock<Cache>>,
}

impl Resolver {
    /// An empty cache over `client`.
    pub fn new(client: kube::Client) -> Self {
        Resolver {
            client,
            cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Loads every served kind at once (one discovery pass), for planning.
    ///
    /// # Errors
    /// When discovery fails.
    pub async fn discover_all(&self) -> Result<(), ApplyError> {
        let discovery = kube::Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|source| ApplyError::Discovery {
                what: "every API group".into(),
                source: Box::new(source.into()),
            })?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        for group in discovery.groups() {
            for (ar, caps) in group.resources_by_stability() {
                let key = (ar.api_version.clone(), ar.kind.clone());
                cache.insert(
                    key,
                    Some(Resolved {
                        namespaced: caps.scope == Scope::Namespaced,
                        resource: ar,
                    }),
                );
            }
            // Non-preferred versions are served too.
            for v in group.versions() {
                for (ar, caps) in group.versioned_resources(v) {
                    let key = (ar.api_version.clone(), ar.kind.clone());
                    cache.entry(key).or_insert(Some(Resolved {
                        namespaced: caps.scope == Scope::Namespaced,
                        resource: ar,
                    }));
                }
            }
        }
        Ok(())
    }

    /// A cached answer only (for planning, which is synchronous).
    pub fn cached(&self, api_version: &str, kind: &str) -> Option<Resolved> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
            .flatten()
    }

    /// Resolves a kind, asking the server when the cache has no answer.
    ///
    /// # Errors
    /// Discovery failures other than "not served" (which is `Ok(None)`).
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resolved>, ApplyError> {
        if let Some(r) = self.cached(api_version, kind) {
            return Ok(Some(r));
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = match oneshot::pinned_kind(&self.client, &gvk).await {
            Ok((ar, caps)) => Some(Resolved {
                resource: ar,
                namespaced: caps.scope == Scope::Namespaced,
            }),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(kube::Error::Discovery(_)) => None,
            Err(source) => {
                return Err(ApplyError::Discovery {
                    what: format!("{api_version} {kind}"),
                    source: Box::new(source.into()),
                });
            }
        };
        if found.is_some() {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            cache.insert((api_version.to_string(), kind.to_string()), found.clone());
        }
        Ok(found)
    }

    /// The dynamic API for an object of this kind in `namespace`.
    pub fn api(&self, r: &Resolved, namespace: &str) -> kube::Api<kube::api::DynamicObject> {
        if r.namespaced {
            kube::Api::namespaced_with(self.client.clone(), namespace, &r.resource)
        } else {
            kube::Api::all_with(self.client.clone(), &r.resource)
        }
    }

    /// The live object `r` names, with the API to act on it; `Ok(None)` when
    /// the cluster does not serve its kind at all.
    ///
    /// # Errors
    /// Discovery or read failures.
    pub async fn get(
        &self,
        r: &crate::model::ObjRef,
    ) -> Result<
        Option<(
            kube::Api<kube::api::DynamicObject>,
            Option<kube::api::DynamicObject>,
        )>,
        ApplyError,
    > {
        let Some(resolved) = self.resolve(&r.api_version, &r.kind).await? else {
            return Ok(None);
        };
        let api = self.api(&resolved, &r.namespace);
        let live = api
            .get_opt(&r.name)
            .await
            .map_err(|source| ApplyError::Read {
                object: r.clone(),
                source: Box::new(source.into()),
            })?;
        Ok(Some((api, live)))
    }
}
