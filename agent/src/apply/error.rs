//! Apply errors: each names the object and the file it came from.

use crate::error::{ApiFailure, Categorized, Category};
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
    /// Asking the cluster which kinds it serves failed (not "not served":
    /// that is [`ApplyError::UnknownKind`], or `None` from the resolver).
    #[error("discovery of {what}: {source}")]
    Discovery {
        /// The kind or group version asked about, or "every API group".
        what: String,
        /// The client error (boxed: the enum stays small).
        #[source]
        source: Box<ApiFailure>,
    },
    /// Reading a live object failed (not "not found": that is `None`).
    #[error("reading {object}: {source}")]
    Read {
        /// The object.
        object: ObjRef,
        /// The client error (boxed: the enum stays small).
        #[source]
        source: Box<ApiFailure>,
    },
    /// Deleting an object failed (a prune, or a Job re-created).
    #[error("deleting {object}: {source}")]
    Delete {
        /// The object.
        object: ObjRef,
        /// The client error (boxed: the enum stays small).
        #[source]
        source: Box<ApiFailure>,
    },
    /// An object the server returned could not be turned into JSON.
    #[error("{object}: the server's answer could not be read: {message}")]
    Decode {
        /// The object.
        object: ObjRef,
        /// The serializer's message.
        message: String,
    },
    /// Waiting for something the apply needs (a CRD to be Established, a Job to be gone) timed out.
    #[error("{0}")]
    Timeout(String),
}

impl Categorized for ApplyError {
    fn category(&self) -> Category {
        match self {
            ApplyError::Api { category, .. } => *category,
            ApplyError::UnknownKind { .. } | ApplyError::Decode { .. } => Category::Config,
            ApplyError::Discovery { source, .. }
            | ApplyError::Read { source, .. }
            | ApplyError::Delete { source, .. } => source.category,
            ApplyError::Timeout(_) => Category::Transient,
        }
    }
}
