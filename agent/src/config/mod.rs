//! Configuration: `wavesync.yaml`, the repository's root file, and the
//! per-cluster values, read into typed, validated structs. It sits before the
//! pipeline (source → render → plan → apply → health → state → report): the
//! source stage hands it a checkout, and every later stage reads the
//! [`WaveSet`] it returns; the renderer also uses [`Values::substitute`] on
//! plain manifests.
//!
//! The YAML crate is serde-saphyr 2: serde_yaml is archived upstream and
//! serde_yml is a deprecated shim, while serde-saphyr is maintained, already
//! in our dependency tree through kube 5, and reports `line:column` for
//! every error and, through `Spanned`, for every value. Our own files are
//! read with YAML 1.2 booleans only (`strict_booleans`), so that `name: N`
//! or `region: no` stay strings; kubectl's YAML 1.1 reading of manifests is
//! the renderer's concern.
//!
//! Every error names the file, `line:column`, the path in the document
//! (`spec.waves[2].requires[0]`) and what was expected; the format rejects
//! unknown fields everywhere, so a typo is an error and not a silently
//! ignored setting.
//!
//! Files, one job each: `schema.rs` (the on-disk format), `types.rs` (the
//! resolved types), `load.rs` ([`load()`]), `check.rs` ([`check()`]: every
//! error at once, for `wavesync validate`), `resolve.rs` (format → types,
//! validation), `values.rs` ([`Values`], merging and substitution),
//! `placeholder.rs` (finding placeholders), `duration.rs` (`1h30m`),
//! `paths.rs` (paths that stay inside the repository), `yaml.rs` (parsing
//! with locations), `errors.rs` ([`ConfigError`]), `notifications.rs`
//! (`spec.notifications`: where alerts go), `prune.rs` (`spec.prune`: the
//! guards on pruning).

mod check;
mod drift;
mod duration;
mod errors;
mod load;
mod notifications;
mod paths;
mod placeholder;
mod prune;
mod resolve;
mod schema;
mod types;
mod values;
mod yaml;

#[cfg(test)]
mod tests;

pub use check::{Checked, WaveSites, check, cluster_names};
pub use duration::{DurationError, format as format_duration, parse as parse_duration};
pub use errors::{ConfigError, Position, Site, ValuesOrigin, ValuesSource};
pub use load::{API_VERSION, FILE_NAME, KIND, load};
pub(crate) use notifications::url_problem;
pub use paths::PathProblem;
pub use types::{
    ChartSource, Component, Defaults, DriftPolicy, DriftSettings, EffectiveDrift, HealLimit,
    HealthRule, IgnoreRule, NotificationEvent, NotificationSink, ObjectSelector, PrunePolicy,
    Requirement, RetryPolicy, SinkType, SkipRule, UrlSource, Wave, WaveSet,
};
pub use values::Values;

/// The JSON schema of `wavesync.yaml`, derived from the structs that read it
/// (so it cannot fall behind them); `docs/wavesync.schema.json` is this,
/// regenerated and compared by CI.
pub fn json_schema() -> serde_json::Value {
    serde_json::Value::from(schemars::schema_for!(schema::File))
}
pub(crate) use values::merge as merge_values;
