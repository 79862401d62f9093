//! Error categories: what decides whether a failure is retried.
//!
//! Every module has its own `thiserror` enum; each error maps to one
//! [`Category`], which decides retry versus fail-fast and labels metrics,
//! Events and the state record.

use std::fmt;

/// Why something failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Worth retrying with backoff: 429, 5xx, timeouts, connection resets.
    Transient,
    /// The specs are wrong (invalid object, unknown kind, failed prerequisite): fail fast.
    Config,
    /// The agent lacks rights (401/403): fail fast, someone must grant them.
    Permission,
    /// A component did not become healthy (a failed Job, a timeout waiting).
    Component,
}

impl Category {
    /// Whether an error of this category is retried automatically.
    pub fn retryable(self) -> bool {
        matches!(self, Category::Transient)
    }

    /// The label value used in metrics and the state record.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transient => "transient",
            Category::Config => "config",
            Category::Permission => "permission",
            Category::Component => "component",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors that know their category.
pub trait Categorized {
    /// The error's category.
    fn category(&self) -> Category;
}

/// The category of a Kubernetes API error by HTTP code.
pub fn category_of_status(code: u16) -> Category {
    match code {
        401 | 403 => Category::Permission,
        408 | 425 | 429 | 500..=599 => Category::Transient,
        _ => Category::Config,
    }
}

/// The category of a `kube` client error.
pub fn category_of_kube(e: &kube::Error) -> Category {
    match e {
        kube::Error::Api(s) => category_of_status(s.code),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Category::Transient
        }
        _ => Category::Transient,
    }
}

/// A Kubernetes API failure reduced to what people need: the server's message,
/// code and reason (not the client's debug dump), and its category.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    /// What went wrong, in the server's words.
    pub message: String,
    /// HTTP code when the server answered.
    pub code: Option<u16>,
    /// Retry category.
    pub category: Category,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

impl From<kube::Error> for ApiFailure {
    fn from(e: kube::Error) -> Self {
        let category = category_of_kube(&e);
        match e {
            kube::Error::Api(s) => ApiFailure {
                message: format!("{} ({} {})", s.message, s.code, s.reason),
                code: Some(s.code),
                category,
            },
            other => ApiFailure {
                message: other.to_string(),
                code: None,
                category,
            },
        }
    }
}
