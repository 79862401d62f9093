//! Diff: what a change to the specs does, wave by wave, before it merges
//! (`wavesync diff`). It compares two [`Plan`]s — rendered and planned from
//! two revisions, no cluster needed — and says, per wave: objects added,
//! changed (a unified diff of their YAML), removed (to be pruned), whether
//! the wave's digest changes (so the wave re-runs), and which Jobs re-run.
//!
//! Files: `compare.rs` (plans → [`PlanDiff`]), `clean.rs` (noise removed,
//! Secret values masked), `text.rs` (the terminal output).

mod clean;
mod compare;
mod text;

pub use compare::compare;
pub use text::render_text;

use crate::model::ObjRef;

/// The difference between two plans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanDiff {
    /// Every wave of either plan: the head's in order, then waves only the
    /// base has (their objects are all removed).
    pub waves: Vec<WaveDiff>,
}

impl PlanDiff {
    /// Whether anything at all changes (what decides exit code 2).
    pub fn has_changes(&self) -> bool {
        self.waves.iter().any(WaveDiff::has_changes)
    }
}

/// What changes in one wave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaveDiff {
    /// The wave's name.
    pub name: String,
    /// Its digest in the base (`None`: a new wave).
    pub base_digest: Option<String>,
    /// Its digest in the head (`None`: the wave is removed).
    pub head_digest: Option<String>,
    /// Objects only the head has, with their YAML.
    pub added: Vec<(ObjRef, String)>,
    /// Objects whose content changes.
    pub changed: Vec<Changed>,
    /// Objects only the base has: pruned when the head is synced.
    pub removed: Vec<ObjRef>,
    /// Jobs that run again: added, or changed (wavesync re-creates a Job
    /// only when its content changes).
    pub jobs_rerun: Vec<ObjRef>,
}

impl WaveDiff {
    /// Whether the wave's digest changes, so that a sync applies it again.
    pub fn reruns(&self) -> bool {
        self.base_digest != self.head_digest
    }

    /// Whether anything of the wave changes.
    pub fn has_changes(&self) -> bool {
        self.reruns()
            || !self.added.is_empty()
            || !self.changed.is_empty()
            || !self.removed.is_empty()
    }
}

/// One changed object.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The object.
    pub reference: ObjRef,
    /// The wave it was in, when it moves to this one.
    pub moved_from: Option<String>,
    /// A unified diff of its YAML (base → head), noise removed, Secret
    /// values masked. Empty when only the wave changes.
    pub diff: String,
}
