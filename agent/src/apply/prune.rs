//! Pruning: objects wavesync applied before (the inventory) that are no longer
//! in Git are deleted — only after their wave rendered completely and without
//! error (the caller's duty), never PersistentVolumeClaims or Namespaces unless
//! annotated `wavesync.io/prune: "true"`, never an object annotated
//! `wavesync.io/prune: "false"`, and never an object another WaveSet took over.

use super::error::ApplyError;
use super::resolver::Resolver;
use super::{PRUNE_ANNOTATION, WAVESET_LABEL};
use crate::model::ObjRef;
use kube::api::{DeleteParams, PropagationPolicy};

/// What pruning did.
#[derive(Debug, Default)]
pub struct PruneOutcome {
    /// Deleted (or already gone).
    pub deleted: Vec<ObjRef>,
    /// Of those, the ones that were already gone: nothing was deleted.
    pub gone: Vec<ObjRef>,
    /// Left in the cluster on purpose, with the reason; no longer managed.
    pub kept: Vec<(ObjRef, String)>,
    /// Deletes that failed: these stay in the inventory for the next attempt.
    pub failed: Vec<(ObjRef, ApplyError)>,
}

/// Why an object must not be deleted, if it must not.
pub fn protected(
    r: &ObjRef,
    annotation: Option<&str>,
    owner: Option<&str>,
    waveset: &str,
) -> Option<String> {
    if annotation == Some("false") {
        return Some(format!("annotated {PRUNE_ANNOTATION}: \"false\""));
    }
    if owner.is_some_and(|o| o != waveset) {
        return Some(format!(
            "now managed by WaveSet {:?}",
            owner.unwrap_or_default()
        ));
    }
    let guarded = matches!(
        (r.group(), r.kind.as_str()),
        ("", "PersistentVolumeClaim") | ("", "Namespace")
    );
    if guarded && annotation != Some("true") {
        return Some(format!(
            "{} objects are only pruned when annotated {PRUNE_ANNOTATION}: \"true\"",
            r.kind
        ));
    }
    None
}

/// Deletes `stale` objects, with the safety rails above.
pub async fn prune(
    resolver: &Resolver,
    waveset: &str,
    stale: &[ObjRef],
    dry_run: bool,
) -> PruneOutcome {
    let mut out = PruneOutcome::default();
    for r in stale {
        match prune_one(resolver, waveset, r, dry_run).await {
            Ok(Pruned::Deleted) => out.deleted.push(r.clone()),
            Ok(Pruned::Gone) => {
                out.deleted.push(r.clone());
                out.gone.push(r.clone());
            }
            Ok(Pruned::Kept(why)) => out.kept.push((r.clone(), why)),
            Err(e) => out.failed.push((r.clone(), e)),
        }
    }
    out
}

/// What became of one stale object.
enum Pruned {
    Deleted,
    /// Not there any more (or its kind is no longer served).
    Gone,
    /// Protected, with the reason.
    Kept(String),
}

async fn prune_one(
    resolver: &Resolver,
    waveset: &str,
    r: &ObjRef,
    dry_run: bool,
) -> Result<Pruned, ApplyError> {
    // A kind no longer served (its CRD was removed) or an object already gone: nothing to do.
    let Some((api, Some(live))) = resolver.get(r).await? else {
        return Ok(Pruned::Gone);
    };
    let annotation = live
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PRUNE_ANNOTATION))
        .map(String::as_str);
    let owner = live
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(WAVESET_LABEL))
        .map(String::as_str);
    if let Some(why) = protected(r, annotation, owner, waveset) {
        return Ok(Pruned::Kept(why));
    }
    let mut dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    dp.dry_run = dry_run;
    match api.delete(&r.name, &dp).await {
        Ok(_) => Ok(Pruned::Deleted),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Pruned::Gone),
        Err(source) => Err(ApplyError::Delete {
            object: r.clone(),
            source: Box::new(source.into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str) -> ObjRef {
        ObjRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: "ns".into(),
            name: "x".into(),
        }
    }

    #[test]
    fn protects_volumes_namespaces_opted_out_and_foreign_objects() {
        assert!(protected(&r("PersistentVolumeClaim"), None, Some("ws"), "ws").is_some());
        assert!(protected(&r("PersistentVolumeClaim"), Some("true"), Some("ws"), "ws").is_none());
        assert!(protected(&r("Namespace"), None, None, "ws").is_some());
        assert!(protected(&r("ConfigMap"), Some("false"), Some("ws"), "ws").is_some());
        assert!(protected(&r("ConfigMap"), None, Some("other"), "ws").is_some());
        assert!(protected(&r("ConfigMap"), None, Some("ws"), "ws").is_none());
    }
}
