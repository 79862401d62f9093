//! Drift: live objects that no longer match what wavesync applied, noticed
//! on its own, within seconds, at almost no API cost.
//!
//! `source → render → plan → apply → health → state`, and then, for every
//! object of the completed waves, **drift**: [`watch`] keeps a
//! metadata-only, label-selected watch per kind and namespace scope in use
//! (one LIST, then a WATCH re-established every few minutes: no polling);
//! on every change [`owned`] checks locally whether wavesync's field
//! manager still owns every field of the desired object (ownership moves to
//! whoever changes a value); only a flagged object costs requests: a GET
//! and a server-side apply dry-run that [`confirm`] compares value by value
//! on the fields wavesync owns, naming the manager behind each change.
//! [`ignore`] rules keep chosen differences from counting; [`heal`] limits
//! how often one object is applied again under `drift: heal`. The
//! [`detector`] runs all of it and publishes the current findings; the
//! controller turns them into the record, Events, metrics and
//! notifications. `fields.rs` is the field-path notation shared with `diff`.

pub mod confirm;
pub mod detector;
pub mod fields;
pub mod heal;
pub mod ignore;
pub mod owned;
pub mod watch;

use crate::model::ObjRef;
use serde::Serialize;
use serde_json::Value;

/// What a Secret's values are shown as.
pub const MASK: &str = "***";

/// One drifted field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDrift {
    /// The field (`spec.template.spec.containers[name=app].image`).
    pub path: String,
    /// The field manager that owns the live value now; `unknown` when none
    /// does (the field was removed).
    pub manager: String,
    /// How it wrote it: `Update` or `Apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Through which subresource (`scale`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// When, as the server recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The value wavesync applied (a Secret's masked).
    pub desired: Option<Value>,
    /// The live value (a Secret's masked); `None`: removed.
    pub live: Option<Value>,
}

impl FieldDrift {
    /// `spec.replicas by kubectl-scale (Update via scale)`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} by {}", self.path, self.manager);
        match (&self.operation, &self.subresource) {
            (Some(op), Some(sub)) => s.push_str(&format!(" ({op} via {sub})")),
            (Some(op), None) => s.push_str(&format!(" ({op})")),
            _ => {}
        }
        s
    }
}

/// What happened to a drifted object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Change {
    /// Fields changed.
    Changed {
        /// The fields.
        fields: Vec<FieldDrift>,
    },
    /// The object was deleted out of band.
    Deleted,
}

/// What the agent does about a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Healing {
    /// `drift: alert`: reported only.
    Alert,
    /// `drift: heal`: applied again this many times.
    Healing {
        /// Heals so far in the window.
        heals: u32,
    },
    /// Healed too often: another controller keeps changing it back.
    Contested {
        /// The manager that keeps changing it.
        by: String,
    },
    /// Not healed, and why (a Job is never re-run).
    NotHealed {
        /// Why.
        why: String,
    },
}

/// One drifted object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The object.
    pub object: ObjRef,
    /// Its wave.
    pub wave: String,
    /// Its component.
    pub component: String,
    /// What changed.
    pub change: Change,
    /// Since when (RFC 3339).
    pub since: String,
    /// What is done about it.
    pub healing: Healing,
}

impl Finding {
    /// One line for logs, Events and the record: the object and who changed what.
    pub fn summary(&self) -> String {
        match &self.change {
            Change::Deleted => format!("{} (wave {}) was deleted", self.object, self.wave),
            Change::Changed { fields } => {
                let shown: Vec<String> = fields.iter().take(5).map(FieldDrift::summary).collect();
                let more = fields.len().saturating_sub(5);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "{} (wave {}): {}{more}",
                    self.object,
                    self.wave,
                    shown.join(", ")
                )
            }
        }
    }

    /// The managers behind the change (for the record and alerts).
    pub fn managers(&self) -> Vec<String> {
        let mut m: Vec<String> = match &self.change {
            Change::Deleted => Vec::new(),
            Change::Changed { fields } => fields.iter().map(|f| f.manager.clone()).collect(),
        };
        m.sort();
        m.dedup();
        m
    }
}
