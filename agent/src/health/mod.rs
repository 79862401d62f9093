//! Health: deciding from a live object's JSON whether it is ready.
//!
//! Pipeline: source → render → plan → apply (+ prune) → **health** → state →
//! report. After a wave is applied, the waiting loop reads each object back
//! and calls [`assess`]; the wave is done when every object is
//! [`Health::Ready`], fails at the first [`Health::Failed`], and times out on
//! a lasting [`Health::Progressing`] (the last message says why).
//!
//! This module is pure: no client, no clock. Custom rules from
//! `wavesync.yaml` ([`CompiledRule`], CEL, in `cel.rs`) take
//! precedence over the built-in rules for Kubernetes kinds
//! (`rules.rs`). An object not found yet is Progressing, never
//! Failed: the seed installer died on exactly that.

mod cel;
mod fields;
mod rules;
#[cfg(test)]
mod tests;
pub mod wait;

use std::fmt;

use serde_json::Value;

pub use self::cel::CompiledRule;
use crate::error::{Categorized, Category};

/// The readiness of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The object is what the spec asks for.
    Ready,
    /// Not yet; the string says what is awaited (for the state record and the terminal).
    Progressing(String),
    /// It will not get there without a change; the string says why.
    Failed(String),
}

impl Health {
    /// Whether the object is ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Health::Ready)
    }

    /// Whether the object failed (the wave fails without waiting for its timeout).
    pub fn is_failed(&self) -> bool {
        matches!(self, Health::Failed(_))
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Ready => f.write_str("ready"),
            Health::Progressing(why) => write!(f, "progressing: {why}"),
            Health::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Which expression of a custom rule an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    /// The `ready` expression.
    Ready,
    /// The `failed` expression.
    Failed,
}

impl fmt::Display for RuleField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleField::Ready => "ready",
            RuleField::Failed => "failed",
        })
    }
}

/// A custom health rule that cannot be used. All are configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A rule without a kind.
    #[error("health rule without a kind")]
    EmptyKind,
    /// An expression that does not parse.
    #[error("health rule for {target}: the {field} expression {expr:?} is not valid CEL")]
    Compile {
        /// `apiVersion kind` (or just kind) the rule is for.
        target: String,
        /// Which expression.
        field: RuleField,
        /// The expression as written.
        expr: String,
        /// The parser's errors, with positions.
        #[source]
        source: ::cel::ParseErrors,
    },
    /// An expression that names something other than `self` and the CEL
    /// standard functions.
    #[error(
        "health rule for {target}: the {field} expression {expr:?} uses {name:?}, \
         which is not defined (the object is `self`)"
    )]
    Undeclared {
        /// `apiVersion kind` (or just kind) the rule is for.
        target: String,
        /// Which expression.
        field: RuleField,
        /// The expression as written.
        expr: String,
        /// The undefined variable or function.
        name: String,
    },
}

impl Categorized for HealthError {
    fn category(&self) -> Category {
        Category::Config
    }
}

/// Readiness of one live object (None = not found yet, which is
/// "Progressing: not found yet", never a failure).
///
/// The first of `rules` that applies to the object's `apiVersion` and `kind`
/// decides; without one, the built-in rule for its kind does.
pub fn assess(obj: Option<&Value>, rules: &[CompiledRule]) -> Health {
    let Some(obj) = obj else {
        return Health::Progressing("not found yet".to_owned());
    };
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    match rules.iter().find(|r| r.applies_to(api_version, kind)) {
        Some(rule) => rule.assess(obj),
        None => rules::builtin(obj),
    }
}
