//! Apply errors: each names the object and the file it came from.

use crate::error::{Categorized, Category};
use crate::model::{ObjRef, Origin};

/// A failed apply, prune or lookup.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The API server rejected or failed the apply.
    #[error("{origin}: applying {object}: {message}")]
    Api {
        /// The object.
        object: ObjRef,
        /// Where it came from.
        origin: Origin,
        /// The server's message (Secret values redacted).
        message: String,
        /// The category from the HTTP status.
        category: Category,
    },
    /// The kind is not served by the cluster.
    #[error(
        "{origin}: {object}: the cluster does not serve {api_version} {kind} (is its CRD installed in an earlier wave?)"
    )]
    UnknownKind {
        /// The object.
        object: ObjRef,
        /// Where it came from.
        origin: Origin,
        /// apiVersion.
        api_version: String,
        /// Kind.
        kind: String,
    },
    /// A lookup (discovery, get) failed.
    #[error("{what}: {source}")]
    Lookup {
        /// What was looked up.
        what: String,
        /// The client error.
        #[source]
        source: crate::error::ApiFailure,
    },
    /// Waiting for something the apply needs (a CRD to be Established, a Job to be gone) timed out.
    #[error("{0}")]
    Timeout(String),
}

impl Categorized for ApplyError {
    fn category(&self) -> Category {
        match self {
            ApplyError::Api { category, .. } => *category,
            ApplyError::UnknownKind { .. } => Category::Config,
            ApplyError::Lookup { source, .. } => source.category,
            ApplyError::Timeout(_) => Category::Transient,
        }
    }
}
