//! The watches behind drift detection: one per kind and namespace scope in
//! use, metadata-only (`managedFields` is all the local check needs), and
//! selected by the WaveSet's label, so the cache holds only our objects and
//! no object content — no Secret value ever enters it. kube-runtime's
//! watcher does the LIST, the WATCH from its resourceVersion, bookmarks,
//! re-listing after 410 Gone and backoff on errors; this module reduces its
//! events to what the detector keeps per object.

use super::fields::owned_tree;
use crate::apply::FIELD_MANAGER;
use crate::cluster::resolver::Resolved;
use crate::model::ObjRef;
use futures::StreamExt;
use kube::api::{DynamicObject, ObjectMeta, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};
use tokio::sync::mpsc;

/// What one watch covers: a kind, in one namespace or in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// One namespace; `None`: cluster-scoped kinds, or every namespace.
    pub namespace: Option<String>,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} in {ns}", self.api_version, self.kind),
            None => write!(f, "{} {}", self.api_version, self.kind),
        }
    }
}

/// What the detector keeps of one live object.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The object.
    pub object: ObjRef,
    /// Its resourceVersion.
    pub resource_version: String,
    /// wavesync's `fieldsV1` tree, if it has an entry.
    pub owned: Option<Value>,
    /// A hash of every manager's entry but status writers', the generation,
    /// labels and annotations: it changes when anyone but the status writers
    /// changes the object.
    pub signature: u64,
    /// Being deleted (a deletionTimestamp is set).
    pub deleting: bool,
}

/// What a watch reports.
#[derive(Debug)]
pub enum Observed {
    /// A complete (re)list: the scope holds exactly these objects.
    Listed {
        /// The watch.
        scope: Scope,
        /// Every object it selects.
        objects: Vec<Seen>,
    },
    /// An object was added or changed.
    Changed {
        /// The watch.
        scope: Scope,
        /// The object now.
        seen: Seen,
    },
    /// An object was deleted.
    Gone {
        /// The watch.
        scope: Scope,
        /// The object.
        object: ObjRef,
    },
    /// The watch failed; it retries with backoff.
    Failed {
        /// The watch.
        scope: Scope,
        /// Why (the server's message).
        error: String,
        /// The server said 403: the agent may not list or watch here.
        forbidden: bool,
    },
}

/// What [`Seen`] is made of: the metadata of a watched object.
pub fn seen(scope: &Scope, meta: &ObjectMeta) -> Seen {
    let m = serde_json::to_value(meta).unwrap_or(Value::Null);
    let owned = owned_tree(&json!({ "metadata": &m }), FIELD_MANAGER);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for e in m
        .get("managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("subresource").and_then(Value::as_str) != Some("status"))
    {
        e.to_string().hash(&mut h);
    }
    // managedFields times have one-second resolution: a second change by the
    // same manager within the second leaves them equal. The generation moves
    // with every spec change (objects without one: any change at all), and
    // labels and annotations are in the metadata.
    match meta.generation {
        Some(g) => g.hash(&mut h),
        None => meta.resource_version.hash(&mut h),
    }
    m.get("labels").map(Value::to_string).hash(&mut h);
    m.get("annotations").map(Value::to_string).hash(&mut h);
    Seen {
        object: ObjRef {
            api_version: scope.api_version.clone(),
            kind: scope.kind.clone(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        },
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        owned,
        signature: h.finish(),
        deleting: meta.deletion_timestamp.is_some(),
    }
}

/// Runs the watch of `scope` (objects labelled `selector`) until the
/// receiver goes away or the task is aborted.
pub fn spawn(
    client: kube::Client,
    resolved: Resolved,
    scope: Scope,
    selector: String,
    tx: mpsc::Sender<Observed>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // `PartialObjectMeta` makes every request of this Api metadata-only.
        let api: kube::Api<PartialObjectMeta<DynamicObject>> =
            match (&scope.namespace, resolved.namespaced) {
                (Some(ns), true) => kube::Api::namespaced_with(client, ns, &resolved.resource),
                _ => kube::Api::all_with(client, &resolved.resource),
            };
        // Metadata is small: one page lists a thousand objects.
        let config = watcher::Config::default().labels(&selector).page_size(5000);
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        let mut listing: Vec<Seen> = Vec::new();
        while let Some(item) = stream.next().await {
            let out = match item {
                Ok(Event::Init) => {
                    listing.clear();
                    continue;
                }
                Ok(Event::InitApply(o)) => {
                    listing.push(seen(&scope, &o.metadata));
                    continue;
                }
                Ok(Event::InitDone) => Observed::Listed {
                    scope: scope.clone(),
                    objects: std::mem::take(&mut listing),
                },
                Ok(Event::Apply(o)) => Observed::Changed {
                    scope: scope.clone(),
                    seen: seen(&scope, &o.metadata),
                },
                Ok(Event::Delete(o)) => Observed::Gone {
                    scope: scope.clone(),
                    object: seen(&scope, &o.metadata).object,
                },
                Err(e) => Observed::Failed {
                    scope: scope.clone(),
                    forbidden: is_forbidden(&e),
                    error: e.to_string(),
                },
            };
            if tx.send(out).await.is_err() {
                return;
            }
        }
    })
}

fn is_forbidden(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 403,
        watcher::Error::WatchError(s) => s.code == 403,
        _ => false,
    }
}
