//! Gates in front of a wave: `requires` prerequisites (a CRD Established, a
//! StorageClass, an object, a ready Deployment, a Secret with given keys) and
//! `skipIf` rules (an operator whose ClusterRole another installer already
//! owns, on a cluster shared with a control plane).

use crate::apply::WAVESET_LABEL;
use crate::cluster::Resolver;
use crate::config::{ObjectSelector, Requirement, SkipRule};
use crate::error::{Categorized, Category};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A prerequisite that does not hold.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The requirement is not met (after the grace period).
    #[error("requirement not met: {0}")]
    Unmet(String),
    /// Reading the cluster failed.
    #[error("checking {what}: {source}")]
    Lookup {
        /// What was checked.
        what: String,
        /// The client error.
        #[source]
        source: crate::error::ApiFailure,
    },
    /// Discovery failed while checking.
    #[error("checking {what}: {source}")]
    Cluster {
        /// What was checked.
        what: String,
        /// The discovery error (boxed: the enum stays small).
        #[source]
        source: Box<crate::apply::ApplyError>,
    },
    /// The object read could not be turned into JSON.
    #[error("checking {what}: the server's answer could not be read: {message}")]
    Unreadable {
        /// What was checked.
        what: String,
        /// The serializer's message.
        message: String,
    },
}

impl Categorized for GateError {
    fn category(&self) -> Category {
        match self {
            // A prerequisite comes from outside Git (a StorageClass, an
            // operator installed by someone else) and may appear later:
            // retried with backoff rather than stalled until a new commit.
            GateError::Unmet(_) => Category::Component,
            GateError::Lookup { source, .. } => source.category,
            GateError::Cluster { source, .. } => source.category(),
            GateError::Unreadable { .. } => Category::Config,
        }
    }
}

async fn get(
    resolver: &Resolver,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, GateError> {
    let what = format!(
        "{kind} {}{name}",
        if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}/")
        }
    );
    // A discovery failure keeps its own category (a 503 is retried, a 403
    // stalls); only "not served" means the prerequisite is missing.
    let resolved = resolver
        .resolve(api_version, kind)
        .await
        .map_err(|e| GateError::Cluster {
            what: what.clone(),
            source: Box::new(e),
        })?;
    let Some(resolved) = resolved else {
        return Ok(None);
    };
    let api = resolver.api(&resolved, namespace);
    match api.get_opt(name).await {
        Ok(None) => Ok(None),
        Ok(Some(o)) => serde_json::to_value(o)
            .map(Some)
            .map_err(|e| GateError::Unreadable {
                what,
                message: e.to_string(),
            }),
        Err(source) => Err(GateError::Lookup {
            what,
            source: source.into(),
        }),
    }
}

fn condition_true(obj: &Value, t: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

/// Checks one requirement once: `Ok(None)` when met, `Ok(Some(why))` when not.
async fn check(
    resolver: &Resolver,
    req: &Requirement,
    default_ns: &str,
) -> Result<Option<String>, GateError> {
    Ok(match req {
        Requirement::Crd(name) => match get(
            resolver,
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            name,
        )
        .await?
        {
            None => Some(format!("CRD {name} does not exist")),
            Some(crd) if !condition_true(&crd, "Established") => {
                Some(format!("CRD {name} is not Established"))
            }
            Some(_) => None,
        },
        Requirement::StorageClass(name) if name.trim().is_empty() => {
            Some("the storage class name is empty".into())
        }
        Requirement::StorageClass(name) => {
            match get(resolver, "storage.k8s.io/v1", "StorageClass", "", name).await? {
                None => Some(format!("StorageClass {name:?} does not exist")),
                Some(_) => None,
            }
        }
        Requirement::Object(sel) => {
            let ns = sel.namespace.clone().unwrap_or_default();
            match get(resolver, &sel.api_version, &sel.kind, &ns, &sel.name).await? {
                None => Some(format!(
                    "{} {} does not exist",
                    sel.kind,
                    qualified(&ns, &sel.name)
                )),
                Some(_) => None,
            }
        }
        Requirement::DeploymentReady { namespace, name } => {
            let ns = if namespace.is_empty() {
                default_ns
            } else {
                namespace
            };
            match get(resolver, "apps/v1", "Deployment", ns, name).await? {
                None => Some(format!("Deployment {ns}/{name} does not exist")),
                Some(d) => match crate::health::assess(Some(&d), &[]) {
                    crate::health::Health::Ready => None,
                    other => Some(format!("Deployment {ns}/{name} is not ready: {other}")),
                },
            }
        }
        Requirement::Secret {
            namespace,
            name,
            keys,
        } => {
            let ns = if namespace.is_empty() {
                default_ns
            } else {
                namespace
            };
            match get(resolver, "v1", "Secret", ns, name).await? {
                None => Some(format!("Secret {ns}/{name} does not exist")),
                Some(s) => {
                    // Only key names are read; values never leave this function.
                    let has = |k: &str| {
                        s.get("data").and_then(|d| d.get(k)).is_some()
                            || s.get("stringData").and_then(|d| d.get(k)).is_some()
                    };
                    let missing: Vec<&str> = keys
                        .iter()
                        .map(String::as_str)
                        .filter(|k| !has(k))
                        .collect();
                    (!missing.is_empty())
                        .then(|| format!("Secret {ns}/{name} lacks keys {}", missing.join(", ")))
                }
            }
        }
    })
}

fn qualified(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

/// Checks every requirement, retrying unmet ones for `grace` (objects made by
/// an earlier wave's operator may take a moment), then fails with all reasons.
///
/// # Errors
/// [`GateError::Unmet`] naming every unmet requirement.
pub async fn check_requirements(
    resolver: &Resolver,
    reqs: &[Requirement],
    default_ns: &str,
    grace: Duration,
) -> Result<(), GateError> {
    let start = Instant::now();
    loop {
        let mut unmet = Vec::new();
        for r in reqs {
            if let Some(why) = check(resolver, r, default_ns).await? {
                unmet.push(why);
            }
        }
        if unmet.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= grace {
            return Err(GateError::Unmet(unmet.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether a `skipIf` rule holds: the object exists and was not applied by
/// this WaveSet (its own objects never make it skip itself).
///
/// # Errors
/// Lookup failures.
pub async fn should_skip(
    resolver: &Resolver,
    rule: &SkipRule,
    waveset: &str,
) -> Result<Option<String>, GateError> {
    let ObjectSelector {
        api_version,
        kind,
        namespace,
        name,
    } = &rule.exists;
    let ns = namespace.clone().unwrap_or_default();
    let Some(obj) = get(resolver, api_version, kind, &ns, name).await? else {
        return Ok(None);
    };
    let owner = obj
        .pointer("/metadata/labels")
        .and_then(|l| l.get(WAVESET_LABEL))
        .and_then(Value::as_str);
    if owner == Some(waveset) {
        return Ok(None);
    }
    let by = owner
        .map(|o| format!("WaveSet {o}"))
        .unwrap_or_else(|| "another installer".into());
    Ok(Some(format!(
        "{kind} {} already exists, managed by {by}",
        qualified(&ns, name)
    )))
}
