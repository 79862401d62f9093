//! Errors of the plan stage: every one is a problem in the repository (or in
//! the wave declarations), so every one is a configuration error.

use crate::error::{Categorized, Category};
use crate::model::Origin;

/// Why the rendered objects could not be planned into waves.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Two waves have the same name.
    #[error("wave {wave:?} is declared twice")]
    DuplicateWave {
        /// The wave's name.
        wave: String,
    },
    /// Two components of one wave have the same name.
    #[error("wave {wave:?}: component {component:?} is declared twice")]
    DuplicateComponent {
        /// The wave's name.
        wave: String,
        /// The component's name.
        component: String,
    },
    /// A WaveSet, wave or component name cannot be a label value.
    #[error(
        "{what} name {name:?} cannot be used as a label value (at most 63 letters, digits, \
         '-', '_' or '.', beginning and ending with a letter or digit)"
    )]
    InvalidName {
        /// `WaveSet`, `wave` or `component`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The `wavesync.io/wave` annotation names a wave that is not declared.
    #[error(
        "{origin}: {object} asks for wave {wave:?} (annotation wavesync.io/wave), which is not declared; the waves are: {known}"
    )]
    UnknownWave {
        /// The object.
        object: String,
        /// Where it was rendered from.
        origin: Box<Origin>,
        /// The wave it asks for.
        wave: String,
        /// The declared waves, comma-separated.
        known: String,
    },
    /// The same object (group, kind, namespace, name) is rendered twice.
    #[error("{object} is declared twice: in {first} and in {second}")]
    Duplicate {
        /// The object.
        object: String,
        /// Where it was first rendered from.
        first: Box<Origin>,
        /// Where it was rendered from again.
        second: Box<Origin>,
    },
    /// Neither the built-in table, nor the CRDs of this or an earlier wave,
    /// nor discovery know whether the kind is namespaced.
    #[error(
        "unknown kind {kind} ({api_version}) in file {origin}; is its CRD in this or an earlier wave?"
    )]
    UnknownKind {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
        /// Where it was rendered from.
        origin: Box<Origin>,
    },
    /// `metadata.name` or `metadata.namespace` is not a name the API server takes.
    #[error("{origin}: {object}: {field} {value:?} is not valid: it must be {rule}")]
    InvalidObjectName {
        /// The object (`ConfigMap Bad_Name`).
        object: String,
        /// Where it was rendered from.
        origin: Box<Origin>,
        /// `metadata.name` or `metadata.namespace`.
        field: &'static str,
        /// The value (cut when long).
        value: String,
        /// What the API server wants.
        rule: &'static str,
    },
    /// A namespaced object names no namespace, and wavesync.yaml sets no
    /// `spec.namespace` (it would silently go to `default`).
    #[error(
        "{origin}: {object}: namespaced, but it sets no metadata.namespace and wavesync.yaml \
         sets no spec.namespace (it would go to \"default\"); set one of them"
    )]
    NoNamespace {
        /// The object.
        object: String,
        /// Where it was rendered from.
        origin: Box<Origin>,
    },
    /// A metadata field wavesync must read or write has the wrong type.
    #[error("{origin}: {object}: {field} must be {expected}")]
    InvalidField {
        /// The object.
        object: String,
        /// Where it was rendered from.
        origin: Box<Origin>,
        /// `metadata`, `metadata.labels`, `metadata.namespace`, or the annotation.
        field: &'static str,
        /// `a mapping`, `a string`.
        expected: &'static str,
    },
}

impl Categorized for PlanError {
    fn category(&self) -> Category {
        Category::Config
    }
}
