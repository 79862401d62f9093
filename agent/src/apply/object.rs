//! Applying one object, writing only what differs (as Flux's SSA manager
//! does): an object this WaveSet applied before is read, sent as a dry-run
//! apply with the revision it carries, and compared with what is live; only
//! when the two differ is it applied for real, with the new revision. An
//! object it never applied is applied at once (one request). A Job whose
//! content changed is deleted and created again, so it re-runs.

use super::changeset::{Action, Change};
use super::jobs;
use super::revision;
use super::ssa::{self, Backoff};
use crate::cluster::Resolver;
use crate::model::Object;
use serde_json::Value;
use std::time::Duration;

/// How one object is applied.
#[derive(Debug, Clone, Copy)]
pub struct Mode<'a> {
    /// The revision stamped on what is written.
    pub revision: Option<&'a str>,
    /// Whether the inventory holds the object (so it likely exists).
    pub known: bool,
    /// Send only dry runs.
    pub dry_run: bool,
    /// Retries of transient failures per request.
    pub backoff: Backoff,
}

/// How long a changed Job's old run may take to go away.
const JOB_DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// Applies `obj` and says what that did; failures are entries too.
pub async fn apply(resolver: &Resolver, obj: &Object, mode: Mode<'_>) -> Change {
    let object = obj.reference();
    let (action, live) = match apply_inner(resolver, obj, mode).await {
        Ok((action, live)) => (action, Some(live)),
        Err(e) => (Action::Failed(e), None),
    };
    Change {
        object,
        action,
        live,
    }
}

async fn apply_inner(
    resolver: &Resolver,
    obj: &Object,
    mode: Mode<'_>,
) -> Result<(Action, Value), super::ApplyError> {
    let mut desired = obj.clone();
    let job = jobs::is_job(obj);
    if job {
        jobs::stamp(&mut desired);
    }
    let stamped = |o: &Object| {
        let mut o = o.clone();
        if let Some(rev) = mode.revision {
            revision::stamp(&mut o, rev);
        }
        o
    };
    let write = |o: Object| async move {
        let since = jiff::Timestamp::now();
        let live = ssa::apply(resolver, &o, mode.dry_run, mode.backoff).await?;
        Ok::<_, super::ApplyError>((super::action::classify(&live, since), live))
    };
    if !mode.known && !job {
        let (action, live) = write(stamped(&desired)).await?;
        return Ok((action.into(), live));
    }
    let (api, live) = ssa::read(resolver, &desired, mode.backoff).await?;
    let Some(live) = live else {
        let (_, after) = write(stamped(&desired)).await?;
        return Ok((Action::Created, after));
    };
    if job && jobs::content_changed(&desired, &live) {
        if mode.dry_run {
            let (_, after) = write(stamped(&desired)).await?;
            return Ok((Action::Recreated, after));
        }
        jobs::delete_and_wait(&api, &desired, JOB_DELETE_TIMEOUT).await?;
        let (_, after) = write(stamped(&desired)).await?;
        return Ok((Action::Recreated, after));
    }
    // What the apply would make of the object if it carried the revision
    // it already has: equal to the live object means nothing to write.
    let would_be = ssa::apply(
        resolver,
        &revision::as_live(&desired, &live),
        true,
        mode.backoff,
    )
    .await?;
    if same(&live, &would_be) {
        return Ok((Action::Unchanged, live));
    }
    let (_, after) = write(stamped(&desired)).await?;
    Ok((Action::Configured, after))
}

impl From<crate::model::ApplyAction> for Action {
    fn from(a: crate::model::ApplyAction) -> Self {
        match a {
            crate::model::ApplyAction::Created => Action::Created,
            crate::model::ApplyAction::Configured => Action::Configured,
            crate::model::ApplyAction::Unchanged => Action::Unchanged,
        }
    }
}

/// Whether a dry-run apply's answer is the live object: everything but the
/// bookkeeping the server changes on any write (managedFields' times,
/// the resourceVersion) compared.
pub fn same(live: &Value, would_be: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
        v
    }
    strip(live) == strip(would_be)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_bookkeeping_differences_count_as_the_same() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "5", "managedFields": [{"time": "t1"}]}, "data": {"k": "v"}});
        let noop = json!({"metadata": {"name": "a", "resourceVersion": "6", "managedFields": [{"time": "t2"}]}, "data": {"k": "v"}});
        let changed =
            json!({"metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "w"}});
        let relabelled =
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "data": {"k": "v"}});
        assert!(same(&live, &noop));
        assert!(!same(&live, &changed));
        assert!(!same(&live, &relabelled));
    }
}
