//! What the agent and a Helm engine exchange: one render job in, the
//! rendered templates (or a failure) out. The same types serve both engines,
//! and are the JSON lines spoken with the helm worker process.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One chart to render.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    /// The chart: a directory with `Chart.yaml`, or a `.tgz` archive (absolute).
    pub chart: PathBuf,
    /// `.Release.Name`.
    pub release: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// User values (the chart's own `values.yaml` is merged by Helm).
    pub values: serde_json::Value,
    /// Whether the files of `crds/` are returned.
    pub include_crds: bool,
}

/// A chart's output, each file keyed by Helm's name for it
/// (`<chart>/templates/deployment.yaml`, `<chart>/crds/foo.yaml`), sorted by
/// that name so that both engines give the same order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rendered {
    /// The files of `crds/` (empty unless asked for).
    pub crds: Vec<(String, String)>,
    /// The rendered templates (without `NOTES.txt` and partials).
    pub templates: Vec<(String, String)>,
}

/// Which step failed, as the engine reports it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Failed {
    /// Loading the chart.
    Load,
    /// The values (malformed, or against `values.schema.json`).
    Values,
    /// A template.
    Template,
    /// The engine itself.
    Engine,
    /// The render did not finish within the render timeout (the engine
    /// was killed; set by the agent's side, never by the worker).
    Timeout,
}

/// The answer to a [`Job`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// The chart rendered.
    Ok(Rendered),
    /// It did not: which step, and Helm's message.
    Err {
        /// Which step failed.
        failed: Failed,
        /// Helm's message.
        message: String,
    },
}

/// The first line the worker writes: the engine it loaded, or why it could not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Hello {
    /// Loaded; the library's version.
    Ready(String),
    /// The library could not be loaded.
    Fatal(String),
}

impl Rendered {
    /// Sorts both lists by name and drops what Helm does not install:
    /// `NOTES.txt` and files that rendered to nothing but whitespace.
    pub fn normalize(mut self) -> Rendered {
        for list in [&mut self.crds, &mut self.templates] {
            list.retain(|(name, text)| !name.ends_with("NOTES.txt") && !text.trim().is_empty());
            // `helm template` drops the blank lines a template starts with
            // (its `{{- if }}` leftovers); so do we for libhelm, so that
            // both engines give the same text and the same origin lines.
            for (_, text) in list.iter_mut() {
                let blank = text
                    .split_inclusive('\n')
                    .take_while(|l| l.trim().is_empty())
                    .map(str::len)
                    .sum::<usize>();
                text.drain(..blank);
            }
            list.sort_by(|a, b| a.0.cmp(&b.0));
        }
        self
    }
}
