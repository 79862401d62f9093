//! Push webhooks on the agent's listener: a git host tells the agent about
//! a push, and a push to the tracked branch (or tag) wakes the loop at once
//! instead of at the next poll.
//!
//! - `POST /hooks/github`: `X-Hub-Signature-256: sha256=<hex>`, the
//!   HMAC-SHA256 of the raw body under the secret; events `push` (others,
//!   and `ping`, are answered and ignored).
//! - `POST /hooks/gitlab`: `X-Gitlab-Token` equal to the secret; events
//!   `Push Hook` and `Tag Push Hook`.
//! - `POST /hooks/generic`: `X-Wavesync-Signature-256: sha256=<hex>` as
//!   GitHub's; body `{"ref": "refs/heads/main", "after": "<sha>"}`, or a body
//!   without `ref` (empty, `{}`) for "sync now".
//!
//! A receiver is mounted only when its secret file is configured (else the
//! route answers 404). Secrets are read from their files at every request,
//! so a rotated Secret applies at once; they are compared in constant time
//! and never logged, nor are signatures. The body is read up to
//! [`BODY_LIMIT`] (413 past it) and authenticated before anything in it is
//! looked at: a missing or wrong signature is 401 and nothing else happens.
//! A wake is a `try_send` on the loop's one-slot channel, so a burst or a
//! replay of deliveries is one pass, and a pass of a revision already
//! synced does nothing. Deliveries (`X-GitHub-Delivery`,
//! `X-Gitlab-Event-UUID`) that already triggered are ignored for
//! [`DEDUPE_FOR`]. Only the replica holding the lease syncs: a standby
//! answers 503 (the leader's next poll picks the commit up).
//!
//! | answer | result label | meaning |
//! |---|---|---|
//! | 202 | `triggered` | a push of the tracked ref (or sync now): a pass starts |
//! | 200 | `ignored` | a ping, another event, another branch or tag, a repeated delivery |
//! | 400 | `invalid` | authentic, but not JSON or not a push payload |
//! | 401 | `unauthorized` | signature or token missing, malformed or wrong |
//! | 413 | `too_large` | body over 1 MiB |
//! | 503 | `ignored` | a standby replica, or the secret file is unreadable |

use super::elector::Role;
use crate::report::Metrics;
use crate::source::Tracking;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The largest body read (GitHub caps payloads at 25 MB, but a push of a
/// few commits is a few KiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How long a delivery that triggered a pass is remembered.
pub const DEDUPE_FOR: Duration = Duration::from_secs(300);

/// Deliveries remembered at most (older ones are forgotten first).
const DEDUPE_MAX: usize = 4096;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A git host's webhook flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// GitHub (and GitHub Enterprise, Gitea/Forgejo in GitHub mode).
    GitHub,
    /// GitLab.
    GitLab,
    /// Anything that can sign a small JSON body.
    Generic,
}

impl Provider {
    /// The metric label and route name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Generic => "generic",
        }
    }
}

/// How a request ended, as the metric's `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Triggered,
    Ignored,
    Unauthorized,
    Invalid,
    TooLarge,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Triggered => "triggered",
            Outcome::Ignored => "ignored",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too_large",
        }
    }
}

/// The secret files of the receivers; `None` turns a receiver off.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// GitHub's webhook secret.
    pub github: Option<PathBuf>,
    /// GitLab's secret token.
    pub gitlab: Option<PathBuf>,
    /// The generic receiver's HMAC key.
    pub generic: Option<PathBuf>,
}

impl Secrets {
    /// Whether any receiver is on.
    pub fn any(&self) -> bool {
        self.github.is_some() || self.gitlab.is_some() || self.generic.is_some()
    }

    fn of(&self, p: Provider) -> Option<&PathBuf> {
        match p {
            Provider::GitHub => self.github.as_ref(),
            Provider::GitLab => self.gitlab.as_ref(),
            Provider::Generic => self.generic.as_ref(),
        }
    }

    /// Reads every configured secret once (at start: a bad mount fails the pod).
    ///
    /// # Errors
    /// A file that cannot be read or holds only whitespace, named.
    pub fn check(&self) -> Result<(), String> {
        for p in [Provider::GitHub, Provider::GitLab, Provider::Generic] {
            if let Some(path) = self.of(p) {
                read_secret(path).map_err(|e| {
                    format!(
                        "the {} webhook secret file {}: {e}",
                        p.as_str(),
                        path.display()
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// The secret in `path`, without surrounding whitespace (a trailing newline
/// of `echo` or an editor is not part of it).
fn read_secret(path: &PathBuf) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| e.to_string())?;
    let secret = raw.trim_ascii().to_vec();
    if secret.is_empty() {
        return Err("it is empty".into());
    }
    Ok(secret)
}

/// The receivers and what they act on.
pub struct Webhooks {
    secrets: Secrets,
    tracking: Tracking,
    wake: mpsc::Sender<()>,
    role: watch::Receiver<Role>,
    metrics: Arc<Metrics>,
    /// Deliveries that triggered a pass, and when.
    seen: Mutex<HashMap<String, Instant>>,
}

/// What an authentic request asks for.
enum Request {
    /// A push of `reference` (`refs/heads/…`, `refs/tags/…`) to `after`.
    Push { reference: String, after: String },
    /// Sync now, whatever the ref (the generic receiver without `ref`).
    SyncNow,
    /// Answered, not acted on (a ping, another event): why.
    Ignore(String),
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks `sha256=<64 hex>` against the HMAC of `body` in constant time.
fn hmac_ok(secret: &[u8], signature: Option<&str>, body: &[u8]) -> Result<(), &'static str> {
    let sig = signature.ok_or("no signature header")?;
    let hex = sig
        .trim()
        .strip_prefix("sha256=")
        .ok_or("the signature is not sha256=<hex>")?;
    let bytes = decode_hex(hex).ok_or("the signature is not sha256=<hex>")?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| "unusable secret")?;
    mac.update(body);
    mac.verify_slice(&bytes)
        .map_err(|_| "the signature does not match")
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares a token with the secret in constant time (of the secret's
/// length, which HMACs of both hide).
fn token_ok(secret: &[u8], token: Option<&str>) -> Result<(), &'static str> {
    let token = token.ok_or("no X-Gitlab-Token header")?;
    let digest = |b: &[u8]| {
        let mut m = HmacSha256::new_from_slice(b"wavesync gitlab token").ok()?;
        m.update(b);
        Some(m)
    };
    let (Some(given), Some(want)) = (digest(token.as_bytes()), digest(secret)) else {
        return Err("unusable secret");
    };
    given
        .verify_slice(&want.finalize().into_bytes())
        .map_err(|_| "the token does not match")
}

/// `ref` and `after` (or GitLab's `checkout_sha`) of a push payload.
fn push_of(body: &[u8]) -> Result<Request, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not JSON ({e}); configure the webhook with content type application/json"
        )
    })?;
    let Some(reference) = v.get("ref").and_then(Value::as_str) else {
        return Err("the push payload has no \"ref\"".into());
    };
    let after = ["checkout_sha", "after"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    Ok(Request::Push {
        reference: reference.to_string(),
        after: after.to_string(),
    })
}

impl Webhooks {
    /// Receivers for the secrets configured, waking the loop through
    /// `wake` for pushes of `tracking`, while `role` says this replica leads.
    pub fn new(
        secrets: Secrets,
        tracking: Tracking,
        wake: mpsc::Sender<()>,
        role: watch::Receiver<Role>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Webhooks {
            secrets,
            tracking,
            wake,
            role,
            metrics,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The routes of the configured receivers (to merge into the listener's).
    pub fn router<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        let mut r = Router::new();
        if self.secrets.github.is_some() {
            r = r.route("/hooks/github", post(github));
        }
        if self.secrets.gitlab.is_some() {
            r = r.route("/hooks/gitlab", post(gitlab));
        }
        if self.secrets.generic.is_some() {
            r = r.route("/hooks/generic", post(generic));
        }
        r.with_state(self)
    }

    fn reply(&self, p: Provider, status: StatusCode, outcome: Outcome, message: &str) -> Response {
        self.metrics.webhook(p.as_str(), outcome.as_str());
        let level_info = matches!(outcome, Outcome::Triggered);
        if level_info {
            tracing::info!(provider = p.as_str(), message, "webhook: syncing now");
        } else {
            tracing::debug!(
                provider = p.as_str(),
                result = outcome.as_str(),
                message,
                "webhook"
            );
        }
        let body = serde_json::json!({"result": outcome.as_str(), "message": message});
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{body}\n"),
        )
            .into_response()
    }

    /// Authenticates the request and says what it asks for.
    fn read(
        &self,
        p: Provider,
        secret: &[u8],
        h: &HeaderMap,
        body: &[u8],
    ) -> Result<Request, (Outcome, String)> {
        let unauthorized = |why: &str| (Outcome::Unauthorized, why.to_string());
        match p {
            Provider::GitHub => {
                hmac_ok(secret, header(h, "x-hub-signature-256"), body).map_err(unauthorized)?;
                match header(h, "x-github-event") {
                    Some("push") => push_of(body).map_err(|e| (Outcome::Invalid, e)),
                    Some("ping") => Ok(Request::Ignore("pong".into())),
                    Some(other) => Ok(Request::Ignore(format!("event {other:?} is not a push"))),
                    None => Err((Outcome::Invalid, "no X-GitHub-Event header".into())),
                }
            }
            Provider::GitLab => {
                token_ok(secret, header(h, "x-gitlab-token")).map_err(unauthorized)?;
                match header(h, "x-gitlab-event") {
                    Some("Push Hook" | "Tag Push Hook") => {
                        push_of(body).map_err(|e| (Outcome::Invalid, e))
                    }
                    Some(other) => Ok(Request::Ignore(format!("event {other:?} is not a push"))),
                    None => Err((Outcome::Invalid, "no X-Gitlab-Event header".into())),
                }
            }
            Provider::Generic => {
                hmac_ok(secret, header(h, "x-wavesync-signature-256"), body)
                    .map_err(unauthorized)?;
                if body.trim_ascii().is_empty() {
                    return Ok(Request::SyncNow);
                }
                let v: Value = serde_json::from_slice(body)
                    .map_err(|e| (Outcome::Invalid, format!("the body is not JSON: {e}")))?;
                match v.get("ref") {
                    None | Some(Value::Null) => Ok(Request::SyncNow),
                    Some(_) => push_of(body).map_err(|e| (Outcome::Invalid, e)),
                }
            }
        }
    }

    /// Whether a push of `reference` concerns what the agent follows: `Err` says why not.
    fn tracked(&self, reference: &str) -> Result<(), String> {
        let (want, what) = match &self.tracking {
            Tracking::Branch(b) => (format!("refs/heads/{b}"), format!("branch {b}")),
            Tracking::Tag(t) => (format!("refs/tags/{t}"), format!("tag {t}")),
            Tracking::Commit(c) => {
                return Err(format!(
                    "the agent deploys the fixed commit {c}; pushes do not change it"
                ));
            }
        };
        if reference == want {
            Ok(())
        } else {
            Err(format!("push to {reference}; the agent tracks {what}"))
        }
    }

    /// Remembers a delivery that triggers; false when it already did.
    fn first_delivery(&self, id: Option<&str>) -> bool {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return true;
        };
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now.duration_since(*at) < DEDUPE_FOR);
        if seen.contains_key(id) {
            return false;
        }
        if seen.len() >= DEDUPE_MAX {
            seen.clear();
        }
        seen.insert(id.to_string(), now);
        true
    }

    async fn handle(&self, p: Provider, headers: HeaderMap, body: Body) -> Response {
        let Ok(body): Result<Bytes, _> = axum::body::to_bytes(body, BODY_LIMIT).await else {
            return self.reply(
                p,
                StatusCode::PAYLOAD_TOO_LARGE,
                Outcome::TooLarge,
                "the body is larger than 1 MiB (or broke off)",
            );
        };
        let Some(path) = self.secrets.of(p) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let secret = match read_secret(path) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(provider = p.as_str(), file = %path.display(), error = %e, "cannot read the webhook secret");
                return self.reply(
                    p,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Outcome::Ignored,
                    "the receiver's secret is unavailable",
                );
            }
        };
        let request = match self.read(p, &secret, &headers, &body) {
            Ok(r) => r,
            Err((outcome, why)) => {
                let status = match outcome {
                    Outcome::Unauthorized => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::BAD_REQUEST,
                };
                return self.reply(p, status, outcome, &why);
            }
        };
        let message = match request {
            Request::Ignore(why) => return self.reply(p, StatusCode::OK, Outcome::Ignored, &why),
            Request::SyncNow => "sync requested".to_string(),
            Request::Push { reference, after } => {
                if let Err(why) = self.tracked(&reference) {
                    return self.reply(p, StatusCode::OK, Outcome::Ignored, &why);
                }
                format!("push to {reference} ({after})")
            }
        };
        if *self.role.borrow() != Role::Leader {
            return self.reply(
                p,
                StatusCode::SERVICE_UNAVAILABLE,
                Outcome::Ignored,
                "this replica is a standby (it does not hold the lease); the leader's next poll picks the commit up",
            );
        }
        let delivery =
            header(&headers, "x-github-delivery").or(header(&headers, "x-gitlab-event-uuid"));
        if !self.first_delivery(delivery) {
            return self.reply(
                p,
                StatusCode::OK,
                Outcome::Ignored,
                "this delivery already triggered a sync",
            );
        }
        match self.wake.try_send(()) {
            // Full: a wake is pending already, and that pass fetches this push too.
            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {
                self.reply(p, StatusCode::ACCEPTED, Outcome::Triggered, &message)
            }
            Err(mpsc::error::TrySendError::Closed(())) => self.reply(
                p,
                StatusCode::SERVICE_UNAVAILABLE,
                Outcome::Ignored,
                "the agent is shutting down",
            ),
        }
    }
}

async fn github(State(w): State<Arc<Webhooks>>, headers: HeaderMap, body: Body) -> Response {
    w.handle(Provider::GitHub, headers, body).await
}

async fn gitlab(State(w): State<Arc<Webhooks>>, headers: HeaderMap, body: Body) -> Response {
    w.handle(Provider::GitLab, headers, body).await
}

async fn generic(State(w): State<Arc<Webhooks>>, headers: HeaderMap, body: Body) -> Response {
    w.handle(Provider::Generic, headers, body).await
}

#[cfg(test)]
mod tests;
