//! Errors of the notifier: building a sink (reading its URL, token and key
//! from files or a Secret) and delivering to it.
//!
//! No message ever holds a URL beyond `scheme://host/…`, a token, a key or
//! the contents of a file or Secret: only where they were read from.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ApiFailure, Categorized, Category, category_of_status};

/// Building a sink from its configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A file the sink reads (its URL, token or HMAC key) cannot be read.
    #[error("notification sink {sink}: cannot read the {what} file {}: {source}", path.display())]
    ReadFile {
        /// The sink.
        sink: String,
        /// `URL`, `token`, `HMAC key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file or Secret key that holds nothing.
    #[error("notification sink {sink}: the {what} in {from} is empty")]
    Empty {
        /// The sink.
        sink: String,
        /// `URL`, `token`, `HMAC key`.
        what: &'static str,
        /// The file, or `Secret ns/name key k`.
        from: String,
    },

    /// A file named in `wavesync.yaml` that is not under `--notify-files-dir`:
    /// a repository may not make the agent send any file it can read (its
    /// service account token, the Git credentials).
    #[error(
        "notification sink {sink}: the {what} file {} is not under {} \
         (files named in wavesync.yaml must be there: see --notify-files-dir)",
        path.display(), dir.display()
    )]
    OutsideFilesDir {
        /// The sink.
        sink: String,
        /// `URL`, `token`, `HMAC key`.
        what: &'static str,
        /// The file, as written.
        path: PathBuf,
        /// The allowed directory.
        dir: PathBuf,
    },

    /// The URL read is not an http(s) URL (the message does not quote it).
    #[error("notification sink {sink}: the URL from {from} is not usable: {problem}")]
    InvalidUrl {
        /// The sink.
        sink: String,
        /// Where it came from (`wavesync.yaml`, a file, a Secret).
        from: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A token or header that cannot be sent as an HTTP header value.
    #[error("notification sink {sink}: the {what} is not a valid HTTP header")]
    InvalidHeader {
        /// The sink.
        sink: String,
        /// `token`, `header X-Team`.
        what: String,
    },

    /// The Secret of `urlSecretRef` could not be read.
    #[error("notification sink {sink}: reading Secret {namespace}/{name}: {source}")]
    SecretRead {
        /// The sink.
        sink: String,
        /// The agent's namespace.
        namespace: String,
        /// The Secret.
        name: String,
        /// What the API server said.
        #[source]
        source: ApiFailure,
    },

    /// The Secret exists but lacks the key.
    #[error("notification sink {sink}: Secret {namespace}/{name} has no key {key:?}")]
    SecretKey {
        /// The sink.
        sink: String,
        /// The agent's namespace.
        namespace: String,
        /// The Secret.
        name: String,
        /// The missing key.
        key: String,
    },

    /// `urlSecretRef` without cluster access.
    #[error("notification sink {sink}: urlSecretRef needs cluster access, and there is none")]
    NoCluster {
        /// The sink.
        sink: String,
    },

    /// Two sinks share a name (one from wavesync.yaml, one from the flags).
    #[error(
        "notification sink {sink}: the name is used twice (the sinks of the flags are named \
         cli-webhook, cli-alertmanager and cli-slack)"
    )]
    Duplicate {
        /// The name.
        sink: String,
    },
}

impl Categorized for NotifyError {
    fn category(&self) -> Category {
        match self {
            NotifyError::ReadFile { source, .. }
                if source.kind() != std::io::ErrorKind::NotFound =>
            {
                Category::Transient
            }
            NotifyError::SecretRead { source, .. } => source.category,
            _ => Category::Config,
        }
    }
}

/// One delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// No connection, a TLS failure, or the connection broke.
    #[error("connection failed: {detail}")]
    Connect {
        /// The client's words (no URL).
        detail: String,
    },

    /// No complete answer in time.
    #[error("no answer within {}", crate::config::format_duration(*.0))]
    Timeout(Duration),

    /// The receiver answered with an error status.
    #[error("the receiver answered {code}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The HTTP status.
        code: u16,
        /// `Retry-After`, when given (429, 503).
        retry_after: Option<Duration>,
        /// The start of the answer's body, for the log.
        body: String,
    },
}

impl DeliveryError {
    /// Whether another attempt may succeed: connection errors, timeouts,
    /// 408, 429 and 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Connect { .. } | DeliveryError::Timeout(_) => true,
            DeliveryError::Status { code, .. } => matches!(code, 408 | 429 | 500..=599),
        }
    }

    /// The `reason` label of `wavesync_notification_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            DeliveryError::Connect { .. } => "connect",
            DeliveryError::Timeout(_) => "timeout",
            DeliveryError::Status { code: 429, .. } => "rate_limited",
            DeliveryError::Status {
                code: 500..=599, ..
            } => "http_5xx",
            DeliveryError::Status {
                code: 400..=499, ..
            } => "http_4xx",
            DeliveryError::Status { .. } => "http_other",
        }
    }
}

impl Categorized for DeliveryError {
    fn category(&self) -> Category {
        match self {
            DeliveryError::Connect { .. } | DeliveryError::Timeout(_) => Category::Transient,
            DeliveryError::Status { code, .. } => category_of_status(*code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        let status = |code| DeliveryError::Status {
            code,
            retry_after: None,
            body: String::new(),
        };
        for code in [408, 429, 500, 502, 503] {
            assert!(status(code).retryable(), "{code}");
            assert_eq!(status(code).category(), Category::Transient, "{code}");
        }
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(!status(code).retryable(), "{code}");
        }
        assert_eq!(status(403).category(), Category::Permission);
        assert_eq!(status(404).reason(), "http_4xx");
        assert_eq!(status(429).reason(), "rate_limited");
        assert_eq!(status(503).reason(), "http_5xx");
        assert!(DeliveryError::Timeout(Duration::from_secs(1)).retryable());
        assert_eq!(status(302).reason(), "http_other");
        assert!(!status(302).retryable(), "a redirect is not followed");
        assert_eq!(status(418).to_string(), "the receiver answered 418");
    }
}
