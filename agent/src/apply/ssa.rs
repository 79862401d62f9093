//! Server-side apply of one object, with retries of transient failures and
//! Secret values kept out of every error message.

use super::FIELD_MANAGER;
use super::error::ApplyError;
use crate::cluster::Resolver;
use crate::error::{Category, category_of_status};
use crate::model::Object;
use crate::retry;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;
use std::time::Duration;

/// How transient failures are retried inside one apply.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts in all.
    pub attempts: u32,
    /// First delay; doubles each time.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 6,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay before attempt `n` (1-based retries).
    pub fn delay(&self, n: u32) -> Duration {
        let d = self
            .initial
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)));
        d.min(self.max)
    }
}

/// Applies `obj` (forcing ownership) and returns the live object.
///
/// # Errors
/// [`ApplyError::UnknownKind`] when the cluster does not serve the kind,
/// [`ApplyError::Api`] when the server rejects it (after retrying transient failures).
pub async fn apply(
    resolver: &Resolver,
    obj: &Object,
    dry_run: bool,
    backoff: Backoff,
) -> Result<Value, ApplyError> {
    let r = obj.reference();
    let Some(resolved) = resolver.resolve(&r.api_version, &r.kind).await? else {
        return Err(unknown_kind(obj));
    };
    let api = resolver.api(&resolved, &r.namespace);
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    let what = if dry_run { "dry-run apply" } else { "apply" };
    let patch = Patch::Apply(&obj.json);
    match retry::transient(what, backoff, || api.patch(&r.name, &params, &patch)).await {
        Ok(live) => serde_json::to_value(live).map_err(|e| ApplyError::Decode {
            object: r.clone(),
            message: e.to_string(),
        }),
        Err(e) => {
            let (message, category) = describe(&e, obj);
            Err(ApplyError::Api {
                object: r,
                origin: obj.origin.clone(),
                message,
                category,
            })
        }
    }
}

/// The live object `obj` names (`None` when it does not exist), with the
/// API to act on it, transient failures retried.
///
/// # Errors
/// [`ApplyError::UnknownKind`] when the cluster does not serve the kind;
/// discovery and read failures.
pub async fn read(
    resolver: &Resolver,
    obj: &Object,
    backoff: Backoff,
) -> Result<(kube::Api<DynamicObject>, Option<Value>), ApplyError> {
    let r = obj.reference();
    let Some(resolved) = resolver.resolve(&r.api_version, &r.kind).await? else {
        return Err(unknown_kind(obj));
    };
    let api = resolver.api(&resolved, &r.namespace);
    let live = retry::transient("read before apply", backoff, || api.get_opt(&r.name))
        .await
        .map_err(|source| ApplyError::Read {
            object: r.clone(),
            source: Box::new(source.into()),
        })?;
    let live = live
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApplyError::Decode {
            object: r.clone(),
            message: e.to_string(),
        })?;
    Ok((api, live))
}

fn unknown_kind(obj: &Object) -> ApplyError {
    let r = obj.reference();
    ApplyError::UnknownKind {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        object: r,
        origin: obj.origin.clone(),
    }
}

/// The message and category of a client error, Secret values masked.
pub fn describe(e: &kube::Error, obj: &Object) -> (String, Category) {
    let (message, category) = match e {
        kube::Error::Api(s) => (
            format!("{} ({} {})", s.message, s.code, s.reason),
            category_of_status(s.code),
        ),
        other => (other.to_string(), crate::error::category_of_kube(other)),
    };
    (redact_secret_values(&message, &obj.json), category)
}

/// Replaces any value of a Secret's `data`/`stringData` found in `message`
/// by `***` ([`crate::secrets`]' policy).
pub fn redact_secret_values(message: &str, obj: &Value) -> String {
    crate::secrets::SecretValues::of(obj).redact(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_never_reach_messages() {
        let s = json!({"kind": "Secret", "stringData": {"password": "hunter22"}, "data": {"token": "c2VjcmV0"}});
        let m = redact_secret_values("invalid value \"hunter22\" and c2VjcmV0", &s);
        assert_eq!(m, "invalid value \"***\" and ***");
        let cm = json!({"kind": "ConfigMap", "data": {"a": "hunter22"}});
        assert_eq!(redact_secret_values("hunter22", &cm), "hunter22");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            attempts: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(3), Duration::from_millis(300));
    }
}
