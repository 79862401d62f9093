//! Diff: what a change to the specs does, wave by wave, before it merges
//! (`wavesync diff`). Two sources of a diff, one model:
//!
//! - between two revisions ([`compare`]): both rendered and planned, no
//!   cluster needed;
//! - against the cluster (`--live`, [`live`]): the head's plan sent to the
//!   API server as a server-side apply dry-run, compared with what is live,
//!   with drift (and the field manager behind it), conflicts and rejections.
//!
//! Either way the result is a [`PlanDiff`], printed as coloured text
//! ([`render_text`]), a pull-request comment ([`render_markdown`]) or JSON
//! ([`render_json`], schema in docs/pr-review.md).
//!
//! Files: `compare.rs` (plans → diff), `live.rs` (plan + cluster → diff),
//! `drift.rs` (who changed a live field), `clean.rs` (noise removed, Secret
//! values masked), `text.rs`, `markdown.rs`, `json.rs` (the outputs).

mod clean;
mod compare;
mod drift;
mod json;
pub mod live;
mod markdown;
mod text;

pub use compare::compare;
pub use json::{SCHEMA_VERSION, render_json};
pub use markdown::{LIMIT as MARKDOWN_LIMIT, render_markdown, render_markdown_within};
pub use text::render_text;

use crate::model::ObjRef;
use serde::Serialize;
use serde::ser::Serializer;

/// What was compared with what: printed in every output's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// `revisions` (two commits) or `live` (the head against the cluster).
    pub mode: Mode,
    /// The base: a commit id, or the cluster's context name in live mode.
    pub base: String,
    /// The head: a commit id, or `working tree`.
    pub head: String,
    /// The per-cluster values the objects were rendered with.
    pub cluster: Option<String>,
}

/// Which kind of diff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Between two revisions, offline.
    #[default]
    Revisions,
    /// The head against the live cluster (server-side apply dry-run).
    Live,
}

/// The difference between two plans, or between a plan and the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanDiff {
    /// Every wave of either side: the head's in order, then waves only the
    /// base has (their objects are all removed).
    pub waves: Vec<WaveDiff>,
}

impl PlanDiff {
    /// Whether anything at all changes (what decides exit code 2).
    pub fn has_changes(&self) -> bool {
        self.waves.iter().any(WaveDiff::has_changes)
    }

    /// The waves an output shows: those that change or have notes.
    pub fn shown(&self) -> impl Iterator<Item = &WaveDiff> {
        self.waves
            .iter()
            .filter(|w| w.has_changes() || w.has_notes())
    }

    /// The counts over all waves.
    pub fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for w in &self.waves {
            c.add(&w.counts());
        }
        c
    }
}

/// What changes in one wave.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveDiff {
    /// The wave's name.
    pub name: String,
    /// Its digest in the base (`None`: a new wave, or in live mode a wave
    /// the state record has not completed).
    pub base_digest: Option<String>,
    /// Its digest in the head (`None`: the wave is removed).
    pub head_digest: Option<String>,
    /// Objects only the head has (in live mode: not in the cluster).
    pub added: Vec<Added>,
    /// Objects whose content changes.
    pub changed: Vec<Changed>,
    /// Objects only the base has (in live mode: in the state record's
    /// inventory but no longer in Git): pruned when the head is synced.
    #[serde(serialize_with = "refs")]
    pub removed: Vec<ObjRef>,
    /// Jobs that run again: added, or changed (wavesync re-creates a Job
    /// only when its content changes).
    #[serde(serialize_with = "refs")]
    pub jobs_rerun: Vec<ObjRef>,
    /// Live mode: objects another field manager owns fields of, which the
    /// apply takes over (wavesync applies with force; without it the apply
    /// would fail).
    pub conflicts: Vec<Conflict>,
    /// Live mode: objects the API server rejects (the sync would fail here).
    pub rejected: Vec<Rejected>,
    /// Live mode: components whose `skipIf` holds in the cluster; the sync
    /// leaves their objects alone, so they are not diffed.
    pub skipped: Vec<Skipped>,
    /// Live mode: `requires` not met in the cluster now. The sync waits for
    /// them (up to its grace period) before applying the wave, then fails
    /// the wave — unless an earlier wave of the same sync provides them.
    pub unmet: Vec<String>,
}

impl WaveDiff {
    /// Whether the wave's digest changes, so that a sync applies it again.
    pub fn reruns(&self) -> bool {
        self.base_digest != self.head_digest
    }

    /// Whether anything of the wave changes (or would fail).
    pub fn has_changes(&self) -> bool {
        self.reruns()
            || !self.added.is_empty()
            || !self.changed.is_empty()
            || !self.removed.is_empty()
            || !self.conflicts.is_empty()
            || !self.rejected.is_empty()
    }

    /// Whether the live gates have something to say of the wave (skipped
    /// components, requirements not met): shown, but not a change.
    pub fn has_notes(&self) -> bool {
        !self.skipped.is_empty() || !self.unmet.is_empty()
    }

    /// How a reviewer reads the wave's digests in one word.
    pub fn state(&self) -> WaveState {
        match (&self.base_digest, &self.head_digest) {
            (None, Some(_)) => WaveState::New,
            (Some(_), None) => WaveState::Removed,
            (Some(b), Some(h)) if b != h => WaveState::Reruns,
            _ => WaveState::Unchanged,
        }
    }

    /// This wave's counts.
    pub fn counts(&self) -> Counts {
        Counts {
            added: self.added.len(),
            changed: self.changed.len(),
            removed: self.removed.len(),
            jobs_rerun: self.jobs_rerun.len(),
            drifted: self.changed.iter().filter(|c| !c.drift.is_empty()).count(),
            conflicts: self.conflicts.len(),
            rejected: self.rejected.len(),
        }
    }
}

/// A wave's digests in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaveState {
    /// Only the head has the wave (live: never completed at any digest).
    New,
    /// Only the base has the wave.
    Removed,
    /// The digest changes: a sync applies the wave again.
    Reruns,
    /// Same digest: a sync skips the wave.
    Unchanged,
}

impl WaveState {
    /// The word as printed (`new`, `removed`, `reruns`, `unchanged`).
    pub fn as_str(self) -> &'static str {
        match self {
            WaveState::New => "new",
            WaveState::Removed => "removed",
            WaveState::Reruns => "reruns",
            WaveState::Unchanged => "unchanged",
        }
    }
}

/// Counts of one wave, or of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Objects added.
    pub added: usize,
    /// Objects changed.
    pub changed: usize,
    /// Objects removed (pruned).
    pub removed: usize,
    /// Jobs that run again.
    pub jobs_rerun: usize,
    /// Changed objects whose live values were changed out of band.
    pub drifted: usize,
    /// Objects with fields another manager owns.
    pub conflicts: usize,
    /// Objects the API server rejects.
    pub rejected: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.added += o.added;
        self.changed += o.changed;
        self.removed += o.removed;
        self.jobs_rerun += o.jobs_rerun;
        self.drifted += o.drifted;
        self.conflicts += o.conflicts;
        self.rejected += o.rejected;
    }
}

/// One added object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// The object.
    #[serde(flatten, serialize_with = "one_ref")]
    pub reference: ObjRef,
    /// Its YAML, noise removed, Secret values masked.
    pub yaml: String,
}

/// One changed object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    /// The object.
    #[serde(flatten, serialize_with = "one_ref")]
    pub reference: ObjRef,
    /// The wave it was in, when it moves to this one.
    pub moved_from: Option<String>,
    /// A unified diff of its YAML (base → head, or live → after the sync),
    /// noise removed, Secret values masked. Empty when only the wave
    /// changes.
    pub diff: String,
    /// Live mode: fields whose live value was changed out of band, with
    /// who changed them. The sync sets them back when it applies the wave:
    /// when its digest changes, or with `wavesync sync --repair`.
    pub drift: Vec<Drift>,
}

/// A component the sync skips.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// The component (`*`: the whole wave).
    pub component: String,
    /// Why: the `skipIf` object found, and who manages it.
    pub reason: String,
}

/// A live field that differs from Git because something else changed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The field, as a path (`spec.replicas`,
    /// `spec.template.spec.containers[name=app].image`).
    pub path: String,
    /// The field manager that owns the live value (`kubectl-edit`,
    /// `kubectl-scale`, …); `unknown` when no manager claims it.
    pub manager: String,
    /// How it was written: `Apply` or `Update`.
    pub operation: String,
    /// The subresource it was written through (`scale`), if any.
    pub subresource: Option<String>,
    /// When, as the server recorded it.
    pub time: Option<String>,
}

/// Fields another manager owns that the apply would change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The object.
    #[serde(flatten, serialize_with = "one_ref")]
    pub reference: ObjRef,
    /// The server's conflict message (which fields, which managers).
    pub message: String,
}

/// An object the API server would not accept.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// The object.
    #[serde(flatten, serialize_with = "one_ref")]
    pub reference: ObjRef,
    /// Where it comes from (`file:line`).
    pub origin: String,
    /// The server's answer (Secret values masked).
    pub message: String,
}

/// An object reference as the JSON schema has it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefJson<'a> {
    api_version: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    namespace: &'a str,
    name: &'a str,
}

impl<'a> From<&'a ObjRef> for RefJson<'a> {
    fn from(r: &'a ObjRef) -> Self {
        RefJson {
            api_version: &r.api_version,
            kind: &r.kind,
            namespace: &r.namespace,
            name: &r.name,
        }
    }
}

fn one_ref<S: Serializer>(r: &ObjRef, s: S) -> Result<S::Ok, S::Error> {
    RefJson::from(r).serialize(s)
}

fn refs<S: Serializer>(v: &[ObjRef], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(RefJson::from))
}
