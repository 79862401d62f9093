//! The diff as JSON, for scripts. The schema is documented in
//! docs/pr-review.md and versioned: fields may be added within a version,
//! never renamed or removed.

use super::{Counts, PlanDiff, Source, WaveDiff, WaveState};
use serde::Serialize;

/// The version of the JSON schema; bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    schema_version: u32,
    #[serde(flatten)]
    source: &'a Source,
    changes: bool,
    totals: Counts,
    waves: Vec<Wave<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wave<'a> {
    state: WaveState,
    reruns: bool,
    counts: Counts,
    #[serde(flatten)]
    wave: &'a WaveDiff,
}

/// The diff as pretty-printed JSON (every wave, changed or not, so a
/// script sees the whole plan), ending in a newline.
pub fn render_json(diff: &PlanDiff, source: &Source) -> String {
    let report = Report {
        schema_version: SCHEMA_VERSION,
        source,
        changes: diff.has_changes(),
        totals: diff.totals(),
        waves: diff
            .waves
            .iter()
            .map(|w| Wave {
                state: w.state(),
                reruns: w.reruns(),
                counts: w.counts(),
                wave: w,
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}
