//! Reading a live object's JSON for the health rules, without panicking.
//!
//! Objects come from the cluster, so any field may be missing or have an
//! unexpected type: every accessor returns an `Option`, and a field of the
//! wrong type is treated as absent. Only [`super::rules`] uses these.

use serde_json::Value;

/// The value at `path` (object keys), if every step exists.
pub(crate) fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// The integer at `path`, if present and an integer.
pub(crate) fn int(obj: &Value, path: &[&str]) -> Option<i64> {
    at(obj, path).and_then(Value::as_i64)
}

/// The string at `path`, if present and a string.
pub(crate) fn string<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

/// The API group of an `apiVersion`: `""` for the core group (`v1`).
pub(crate) fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// One entry of `status.conditions`, as the Kubernetes API conventions define it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Condition<'a> {
    /// `True`, `False` or `Unknown`.
    pub(crate) status: &'a str,
    /// A CamelCase machine reason, if set.
    pub(crate) reason: Option<&'a str>,
    /// A human message, if set.
    pub(crate) message: Option<&'a str>,
    /// The generation the controller saw when it set this condition, if it says.
    pub(crate) observed_generation: Option<i64>,
}

impl Condition<'_> {
    /// Whether the condition's status is `True`.
    pub(crate) fn is_true(&self) -> bool {
        self.status == "True"
    }

    /// Whether the condition's status is `False`.
    pub(crate) fn is_false(&self) -> bool {
        self.status == "False"
    }

    /// `reason: message`, or whichever of the two is set, or `no reason given`.
    pub(crate) fn explain(&self) -> String {
        let reason = self.reason.filter(|s| !s.is_empty());
        let message = self.message.filter(|s| !s.is_empty());
        match (reason, message) {
            (Some(r), Some(m)) => format!("{r}: {m}"),
            (Some(s), None) | (None, Some(s)) => s.to_owned(),
            (None, None) => "no reason given".to_owned(),
        }
    }
}

/// The `status.conditions` array, if the object has one.
pub(crate) fn conditions(obj: &Value) -> Option<&Vec<Value>> {
    at(obj, &["status", "conditions"]).and_then(Value::as_array)
}

/// The condition of type `type_` in `status.conditions`, if present.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Condition<'a>> {
    let found = conditions(obj)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    Some(Condition {
        status: found
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("Unknown"),
        reason: found.get("reason").and_then(Value::as_str),
        message: found.get("message").and_then(Value::as_str),
        observed_generation: found.get("observedGeneration").and_then(Value::as_i64),
    })
}

/// Why the controller has not caught up with the latest spec yet, if it has not.
///
/// `status.observedGeneration` below `metadata.generation` means the status
/// describes an older spec, so it proves nothing about the current one. With
/// `required`, a missing `observedGeneration` also means "not yet" (the
/// workload controllers always write it); without, it is accepted (many
/// custom resources never write it).
pub(crate) fn generation_lag(obj: &Value, required: bool) -> Option<String> {
    let generation = int(obj, &["metadata", "generation"]);
    match (generation, int(obj, &["status", "observedGeneration"])) {
        (Some(g), Some(o)) if o < g => Some(format!(
            "waiting for the controller to observe generation {g} (observed {o})"
        )),
        (_, None) if required => Some("waiting for the controller to report status".to_owned()),
        _ => None,
    }
}
