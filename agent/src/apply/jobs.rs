//! Jobs (database init, migrations) are immutable once created: wavesync marks
//! each with the digest of its rendered content, recreates it when that
//! changes, and leaves an unchanged (complete) Job alone, so it never re-runs.

use super::error::ApplyError;
use crate::error::{Category, category_of_kube};
use crate::model::{ObjRef, Object};
use kube::api::{DeleteParams, DynamicObject, PropagationPolicy};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Annotation holding the digest of a Job's rendered content.
pub const JOB_DIGEST: &str = "wavesync.io/job-digest";

/// Whether an object is a batch Job (see [`crate::kinds::Kind::job`]).
pub fn is_job(obj: &Object) -> bool {
    crate::kinds::of_ref(&obj.reference()).is_some_and(|k| k.job)
}

/// Adds the content digest annotation to a Job.
pub fn stamp(obj: &mut Object) {
    // Canonical JSON (keys sorted), so reordering keys in the file does not re-run the Job.
    let mut canonical = String::new();
    crate::plan::digest::canonical(&obj.json, &mut canonical);
    let digest = crate::plan::digest::hex(&Sha256::digest(canonical.as_bytes()));
    let meta = &mut obj.json["metadata"];
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta["annotations"] = serde_json::json!({});
    }
    meta["annotations"][JOB_DIGEST] = Value::String(digest[..16].to_string());
}

/// Whether the live Job was made from other content than `obj` (stamped).
pub fn content_changed(obj: &Object, live: &Value) -> bool {
    let have = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(JOB_DIGEST))
        .and_then(Value::as_str);
    obj.annotation(JOB_DIGEST) != have
}

/// Deletes the live Job `r` and waits until it is gone, so that the apply
/// that follows creates it again (and it re-runs).
///
/// # Errors
/// The delete failing, or the old Job not going away within `timeout`.
pub async fn delete_and_wait(
    api: &kube::Api<DynamicObject>,
    obj: &Object,
    timeout: Duration,
) -> Result<(), ApplyError> {
    let r: ObjRef = obj.reference();
    tracing::info!(job = %r, "job content changed; recreating it");
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(&r.name, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(source) => {
            return Err(ApplyError::Delete {
                object: r.clone(),
                source: Box::new(source.into()),
            });
        }
    }
    let start = Instant::now();
    while start.elapsed() < timeout {
        match api.get_opt(&r.name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            // A refusal will not pass by waiting; a blip may.
            Err(e) if category_of_kube(&e) != Category::Transient => {
                return Err(ApplyError::Read {
                    object: r.clone(),
                    source: Box::new(e.into()),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err(ApplyError::Timeout(format!(
        "{}: old {r} was not deleted within {timeout:?}",
        obj.origin
    )))
}
