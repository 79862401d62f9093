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

    /// The category that decides for several failures at once: the one a
    /// retry is least likely to fix (permission, then config, then
    /// component, then transient), so one bad object among transient
    /// failures is not retried for nothing.
    pub fn worst(categories: impl IntoIterator<Item = Category>) -> Option<Category> {
        categories.into_iter().max_by_key(|c| match c {
            Category::Transient => 0,
            Category::Component => 1,
            Category::Config => 2,
            Category::Permission => 3,
        })
    }

    /// What happens next and what to do, as the CLI prints it after an
    /// error (docs/troubleshooting.md says more).
    pub fn advice(self) -> &'static str {
        match self {
            Category::Transient => {
                "it may pass by itself: `wavesync run` retries it with backoff; `wavesync sync` again retries it now"
            }
            Category::Config => {
                "fix the repository: the agent holds this revision (Stalled) until a new commit or a manual `wavesync sync`"
            }
            Category::Permission => {
                "grant the agent the access named above: the agent holds this revision (Stalled) until a new commit or a manual `wavesync sync`"
            }
            Category::Component => {
                "an object did not become healthy: look at its status and events; `wavesync run` retries with backoff"
            }
        }
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

impl<T: Categorized + ?Sized> Categorized for &T {
    fn category(&self) -> Category {
        (**self).category()
    }
}

/// The category of a Kubernetes API error by HTTP code.
pub fn category_of_status(code: u16) -> Category {
    match code {
        401 | 403 => Category::Permission,
        408 | 425 | 429 | 500..=599 => Category::Transient,
        _ => Category::Config,
    }
}

/// The category of a `kube` client error. Only what may pass by itself is
/// transient: the server's 429/5xx and the connection failing (refused,
/// reset, timed out); credentials the client cannot load or use are a
/// permission problem; a request it cannot build, a response it cannot read
/// and a client it cannot configure do not get better by retrying.
pub fn category_of_kube(e: &kube::Error) -> Category {
    match e {
        kube::Error::Api(s) => category_of_status(s.code),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Category::Transient
        }
        kube::Error::Auth(_) => Category::Permission,
        _ => Category::Config,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "y").with_code(code),
        ))
    }

    #[test]
    fn kube_errors_are_transient_only_when_they_may_pass_by_themselves() {
        assert_eq!(category_of_kube(&api(503)), Category::Transient);
        assert_eq!(category_of_kube(&api(429)), Category::Transient);
        assert_eq!(category_of_kube(&api(403)), Category::Permission);
        assert_eq!(category_of_kube(&api(422)), Category::Config);
        let bad_json = serde_json::from_str::<serde_json::Value>("{").expect_err("not JSON");
        assert_eq!(
            category_of_kube(&kube::Error::SerdeError(bad_json)),
            Category::Config,
            "a response the client cannot read is not retried"
        );
        let auth = kube::client::AuthError::ExecPluginFailed;
        assert_eq!(
            category_of_kube(&kube::Error::Auth(auth)),
            Category::Permission,
            "credentials the client cannot use are not retried"
        );
        let discovery = kube::error::DiscoveryError::MissingKind("Widget".into());
        assert_eq!(
            category_of_kube(&kube::Error::Discovery(discovery)),
            Category::Config
        );
    }

    #[test]
    fn the_worst_category_decides_for_several_failures() {
        use Category::*;
        assert_eq!(
            Category::worst([Transient, Config, Transient]),
            Some(Config)
        );
        assert_eq!(
            Category::worst([Transient, Permission, Config]),
            Some(Permission)
        );
        assert_eq!(Category::worst([Transient, Component]), Some(Component));
        assert_eq!(Category::worst([]), None);
    }
}
