//! `kind: Status` error responses, shaped as kube-apiserver writes them.

use crate::validation::Cause;
use serde_json::{Map, Value, json};

/// An API error: HTTP code, reason, message and optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Status reason (`NotFound`, `Conflict`, ...); empty for internal errors.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details`, when the real server sends them.
    pub details: Option<Box<Value>>,
    /// Extra response headers (Retry-After).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(
        code: u16,
        reason: &'static str,
        message: impl Into<String>,
        details: Option<Value>,
    ) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: details.map(Box::new),
            headers: Vec::new(),
        }
    }

    /// 422 Invalid for request options (`PatchOptions.meta.k8s.io "" is invalid: ...`).
    pub fn invalid_options(kind: &str, field: &str, message: &str, reason: &'static str) -> Self {
        let details = json!({"group": "meta.k8s.io", "kind": kind, "causes": [{"reason": reason, "message": message, "field": field}]});
        Self::new(
            422,
            "Invalid",
            format!("{kind}.meta.k8s.io \"\" is invalid: {field}: {message}"),
            Some(details),
        )
    }

    /// 400 BadRequest, without details.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message, None)
    }

    /// 404 for an object that does not exist.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let mut d = Map::new();
        d.insert("name".into(), name.into());
        if !group.is_empty() {
            d.insert("group".into(), group.into());
        }
        d.insert("kind".into(), resource.into());
        Self::new(
            404,
            "NotFound",
            format!("{qualified} \"{name}\" not found"),
            Some(Value::Object(d)),
        )
    }

    /// 404 for a path that names no served resource.
    pub fn no_resource() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Some(json!({})),
        )
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            ),
            Some(json!({})),
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let mut e = Self::not_found(group, resource, name);
        e.code = 409;
        e.reason = "AlreadyExists";
        e.message = e.message.replace("not found", "already exists");
        e
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let mut e = Self::not_found(group, resource, name);
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        e.code = 409;
        e.reason = "Conflict";
        e.message = format!("Operation cannot be fulfilled on {qualified} \"{name}\": {why}");
        e
    }

    /// 422 Invalid, with causes.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: &[Cause]) -> Self {
        let mut d = Map::new();
        d.insert("name".into(), name.into());
        if !group.is_empty() {
            d.insert("group".into(), group.into());
        }
        d.insert("kind".into(), kind.into());
        d.insert(
            "causes".into(),
            causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        );
        let message = crate::validation::invalid_message(group, kind, name, causes);
        Self::new(422, "Invalid", message, Some(Value::Object(d)))
    }

    /// 422 with the generic message kube uses for a failed JSON patch.
    pub fn unprocessable() -> Self {
        Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            Some(json!({})),
        )
    }

    /// 409 for server-side apply conflicts.
    pub fn apply_conflict(conflicts: &[crate::ssa::Conflict]) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.path}))
            .collect();
        Self::new(
            409,
            "Conflict",
            crate::ssa::conflict_message(conflicts),
            Some(json!({"causes": causes})),
        )
    }

    /// 500 without a reason.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "", message, None)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>, details: Option<Value>) -> Self {
        Self::new(403, "Forbidden", message, details)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized", None)
    }

    /// 410 Expired (resourceVersion too old).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message, None)
    }

    /// 415 for an unsupported content type.
    pub fn unsupported_media_type(ct: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct})"
            ),
            Some(json!({})),
        )
    }

    /// An injected failure (429/5xx) with the reason kube would give.
    pub fn injected(code: u16) -> Self {
        let (reason, msg): (&'static str, &str) = match code {
            429 => (
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            503 => (
                "ServiceUnavailable",
                "The server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "The server was unable to return a response in the time allotted, but may still be processing the request",
            ),
            _ => ("InternalError", "Internal error occurred: injected fault"),
        };
        let mut e = Self::new(code, reason, msg, Some(json!({"retryAfterSeconds": 1})));
        if code == 429 || code == 503 {
            e.headers.push(("Retry-After", "1".into()));
        }
        e
    }

    /// The Status body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), "Status".into());
        m.insert("apiVersion".into(), "v1".into());
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), "Failure".into());
        m.insert("message".into(), self.message.clone().into());
        if !self.reason.is_empty() {
            m.insert("reason".into(), self.reason.into());
        }
        if let Some(d) = &self.details {
            m.insert("details".into(), (**d).clone());
        }
        m.insert("code".into(), self.code.into());
        Value::Object(m)
    }
}
