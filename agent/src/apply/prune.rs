//! Pruning: objects wavesync applied before (the inventory) that are no longer
//! in Git are deleted — only after their wave rendered completely and without
//! error (the caller's duty), never PersistentVolumeClaims or Namespaces unless
//! annotated `wavesync.io/prune: "true"`, never an object annotated
//! `wavesync.io/prune: "false"`, and never an object another WaveSet took over.

use super::changeset::{Action, ChangeSet};
use super::error::ApplyError;
use super::{PRUNE_ANNOTATION, WAVESET_LABEL};
use crate::cluster::Resolver;
use crate::model::ObjRef;
use kube::api::{DeleteParams, PropagationPolicy};

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
    let guarded = crate::kinds::of_ref(r).is_some_and(|k| k.prune_opt_in);
    if guarded && annotation != Some("true") {
        return Some(format!(
            "{} objects are only pruned when annotated {PRUNE_ANNOTATION}: \"true\"",
            r.kind
        ));
    }
    None
}

/// Deletes `stale` objects, with the safety rails above: each becomes
/// [`Action::Deleted`], [`Action::Gone`], [`Action::Skipped`] (kept, with
/// why) or [`Action::Failed`] (it stays in the inventory for the next attempt).
pub async fn prune(
    resolver: &Resolver,
    waveset: &str,
    stale: &[ObjRef],
    dry_run: bool,
) -> ChangeSet {
    let mut out = ChangeSet::default();
    for r in stale {
        let action = match prune_one(resolver, waveset, r, dry_run).await {
            Ok(action) => action,
            Err(e) => Action::Failed(e),
        };
        out.push(r.clone(), action, None);
    }
    out
}

async fn prune_one(
    resolver: &Resolver,
    waveset: &str,
    r: &ObjRef,
    dry_run: bool,
) -> Result<Action, ApplyError> {
    // A kind no longer served (its CRD was removed) or an object already gone: nothing to do.
    let Some((api, Some(live))) = resolver.get(r).await? else {
        return Ok(Action::Gone);
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
        return Ok(Action::Skipped(why));
    }
    let mut dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    dp.dry_run = dry_run;
    match api.delete(&r.name, &dp).await {
        Ok(_) => Ok(Action::Deleted),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::Gone),
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
