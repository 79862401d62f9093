//! From the on-disk format (`schema.rs`) to the resolved types (`types.rs`):
//! placeholders substituted in every string, durations parsed, timeouts and
//! retries resolved against the defaults, paths checked against the
//! repository, and the rules serde cannot express checked, each error at the
//! `line:column` and document path of what it is about.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::duration;
use super::errors::{ConfigError, Position, Site};
use super::paths::{self, Expect};
use super::placeholder;
use super::schema::{self, Text};
use super::types::{
    ChartSource, Component, Defaults, HealthRule, ObjectSelector, Requirement, RetryPolicy,
    SkipRule, Wave,
};
use super::values::Values;
use super::yaml::loc_of;

/// What resolving needs to know: the file and its text (to place errors),
/// the repository root (to check paths) and the values (to substitute).
pub(crate) struct Ctx<'a> {
    /// The file, relative to the repository root (`wavesync.yaml`).
    pub(crate) file: &'a Path,
    /// Its text, to find placeholders inside scalars.
    pub(crate) source: &'a str,
    /// The canonical repository root.
    pub(crate) root: &'a Path,
    /// The selected cluster's values.
    pub(crate) values: &'a Values,
    /// `spec.namespace`, once resolved: the default for requirements.
    pub(crate) namespace: Option<String>,
}

impl Ctx<'_> {
    /// A site in this file.
    pub(crate) fn site(&self, at: Option<(u32, u32)>, path: &str) -> Site {
        Site {
            pos: Position {
                file: self.file.to_path_buf(),
                line_col: at,
            },
            path: path.to_string(),
        }
    }

    /// An [`ConfigError::Invalid`] at `at` / `path`.
    pub(crate) fn invalid(
        &self,
        at: Option<(u32, u32)>,
        path: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            at: self.site(at, path),
            message: message.into(),
        }
    }

    /// The string with its placeholders substituted; errors point at the
    /// placeholder itself, inside the scalar.
    pub(crate) fn text(&self, t: &Text, path: &str) -> Result<String, ConfigError> {
        self.values.expand(&t.value).map_err(|(offset, problem)| {
            // A placeholder in a prerequisite is most often the storageClass
            // of bug 2: dropping the requirement is the other way out.
            let usage = if path.contains(".requires[") {
                "requirement"
            } else {
                "placeholder"
            };
            let at = self.site(Some(self.placeholder_position(t, offset)), path);
            self.values.error(problem, at, usage)
        })
    }

    /// Like [`Ctx::text`], and the result must not be blank.
    pub(crate) fn required(&self, t: &Text, path: &str) -> Result<String, ConfigError> {
        let s = self.text(t, path)?;
        if s.trim().is_empty() {
            return Err(self.invalid(loc_of(t), path, "must not be empty"));
        }
        Ok(s)
    }

    /// A name that ends up in labels: a DNS-1123 label.
    pub(crate) fn name(&self, t: &Text, path: &str) -> Result<String, ConfigError> {
        let s = self.required(t, path)?;
        if !is_dns_label(&s) {
            return Err(self.invalid(
                loc_of(t),
                path,
                format!(
                    "\"{s}\" is not a valid name: use lowercase letters, digits and '-', \
                     at most 63 characters, starting and ending with a letter or digit \
                     (it becomes a label value)"
                ),
            ));
        }
        Ok(s)
    }

    /// A duration.
    pub(crate) fn duration(&self, t: &Text, path: &str) -> Result<Duration, ConfigError> {
        let s = self.text(t, path)?;
        duration::parse(&s).map_err(|problem| ConfigError::Duration {
            at: self.site(loc_of(t), path),
            text: s,
            problem,
        })
    }

    /// A path inside the repository, normalized.
    pub(crate) fn repo_path(
        &self,
        t: &Text,
        path: &str,
        expect: Expect,
    ) -> Result<String, ConfigError> {
        let s = self.text(t, path)?;
        paths::check(self.root, &s, expect).map_err(|problem| ConfigError::RepoPath {
            at: self.site(loc_of(t), path),
            path: s,
            problem,
        })
    }

    /// Where the placeholder at byte `offset` of the scalar's value is in the
    /// file: the same-numbered `{{` after the scalar's start, which holds for
    /// plain, quoted and block scalars alike since escapes never produce `{{`.
    fn placeholder_position(&self, t: &Text, offset: usize) -> (u32, u32) {
        let fallback = loc_of(t).unwrap_or((0, 0));
        let Some(start) = t
            .defined
            .span()
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
        else {
            return fallback;
        };
        let nth = t
            .value
            .get(..offset)
            .map_or(0, |before| before.matches("{{").count());
        match self
            .source
            .get(start..)
            .and_then(|rest| rest.match_indices("{{").nth(nth))
        {
            Some((i, _)) => placeholder::line_col(self.source, start + i),
            None => fallback,
        }
    }
}

/// Whether `s` is an RFC 1123 label, which label values and names accept.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| ok_char(c) || c == '-')
        && s.starts_with(ok_char)
        && s.ends_with(ok_char)
}

/// A wave written with both `path` and `components`.
pub(super) const WAVE_BOTH: &str =
    "a wave has either `path` (plain manifests) or `components`, not both";
/// A wave written with neither `path` nor `components`.
pub(super) const WAVE_NEITHER: &str = "a wave needs `path` (plain manifests) or `components`";
/// A wave whose `components` list is empty.
pub(super) const NO_COMPONENTS: &str = "a wave needs at least one component";
/// A component written with both `path` and `chart`.
pub(super) const COMPONENT_BOTH: &str =
    "a component has either `path` (manifests or an overlay) or `chart`, not both";
/// A component written with neither `path` nor `chart`.
pub(super) const COMPONENT_NEITHER: &str =
    "a component needs `path` (manifests or an overlay) or `chart` (a Helm chart)";

/// Appends a field to a document path.
pub(crate) fn field(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

/// Resolves `spec.defaults` against the built-in ones.
pub(crate) fn defaults(
    ctx: &Ctx<'_>,
    raw: Option<&schema::Defaults>,
) -> Result<Defaults, ConfigError> {
    let builtin = Defaults::default();
    let Some(raw) = raw else { return Ok(builtin) };
    let path = "spec.defaults";
    let timeout = match &raw.timeout {
        Some(t) => positive(ctx, t, &field(path, "timeout"))?,
        None => builtin.timeout,
    };
    let retry = retry(
        ctx,
        raw.retry.as_ref(),
        builtin.retry,
        &field(path, "retry"),
    )?;
    Ok(Defaults { timeout, retry })
}

/// A duration that must be longer than zero (a timeout).
pub(crate) fn positive(ctx: &Ctx<'_>, t: &Text, path: &str) -> Result<Duration, ConfigError> {
    let d = ctx.duration(t, path)?;
    if d.is_zero() {
        return Err(ctx.invalid(loc_of(t), path, "a timeout must be longer than 0s"));
    }
    Ok(d)
}

/// Fills a retry policy field by field from `base`.
pub(super) fn retry(
    ctx: &Ctx<'_>,
    raw: Option<&schema::Retry>,
    base: RetryPolicy,
    path: &str,
) -> Result<RetryPolicy, ConfigError> {
    let Some(raw) = raw else { return Ok(base) };
    let mut policy = base;
    if let Some(attempts) = &raw.attempts {
        if attempts.value == 0 {
            let msg = "attempts must be at least 1 (it counts the first attempt)";
            return Err(ctx.invalid(loc_of(attempts), &field(path, "attempts"), msg));
        }
        policy.attempts = attempts.value;
    }
    if let Some(t) = &raw.backoff {
        policy.backoff = ctx.duration(t, &field(path, "backoff"))?;
    }
    if let Some(t) = &raw.max {
        policy.max = ctx.duration(t, &field(path, "max"))?;
    }
    if policy.backoff > policy.max {
        // Point at whichever of the two is written here; the other came
        // from the defaults.
        let (t, name) = match (&raw.max, &raw.backoff) {
            (Some(t), _) => (t, "max"),
            (None, Some(t)) => (t, "backoff"),
            (None, None) => return Ok(policy),
        };
        let msg = format!(
            "backoff {} is longer than max {}",
            duration::format(policy.backoff),
            duration::format(policy.max)
        );
        return Err(ctx.invalid(loc_of(t), &field(path, name), msg));
    }
    Ok(policy)
}

/// Resolves every wave, checking that names are unique.
pub(crate) fn waves(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Wave>],
    defaults: &Defaults,
) -> Result<Vec<Wave>, ConfigError> {
    let mut seen = Names::new("wave");
    let mut out = Vec::with_capacity(raw.len());
    for (i, w) in raw.iter().enumerate() {
        let path = format!("spec.waves[{i}]");
        let wave = wave(ctx, w, &path, defaults)?;
        seen.insert(ctx, &wave.name, &w.value.name, &field(&path, "name"))?;
        out.push(wave);
    }
    Ok(out)
}

/// Resolves one wave.
fn wave(
    ctx: &Ctx<'_>,
    w: &Spanned<schema::Wave>,
    path: &str,
    defaults: &Defaults,
) -> Result<Wave, ConfigError> {
    let raw = &w.value;
    let name = ctx.name(&raw.name, &field(path, "name"))?;
    let components = match (&raw.path, &raw.components) {
        (Some(p), None) => vec![Component {
            name: name.clone(),
            path: ctx.repo_path(p, &field(path, "path"), Expect::FileOrDir)?,
            chart: None,
            skip_if: None,
            requires: Vec::new(),
            health: Vec::new(),
            drift: Default::default(),
        }],
        (None, Some(list)) => components(ctx, list, &field(path, "components"))?,
        (Some(_), Some(_)) => return Err(ctx.invalid(loc_of(w), path, WAVE_BOTH)),
        (None, None) => return Err(ctx.invalid(loc_of(w), path, WAVE_NEITHER)),
    };
    let timeout = match &raw.timeout {
        Some(t) => positive(ctx, t, &field(path, "timeout"))?,
        None => defaults.timeout,
    };
    Ok(Wave {
        name,
        components,
        requires: requirements(ctx, &raw.requires, &field(path, "requires"))?,
        skip_if: raw
            .skip_if
            .as_ref()
            .map(|s| skip_if(ctx, s, &field(path, "skipIf")))
            .transpose()?,
        health: health(ctx, &raw.health, &field(path, "health"))?,
        timeout,
        retry: retry(
            ctx,
            raw.retry.as_ref(),
            defaults.retry,
            &field(path, "retry"),
        )?,
        drift: super::drift::settings(ctx, raw.drift.as_ref(), &raw.ignore_differences, path)?,
    })
}

/// Resolves a wave's components, checking that names are unique in it.
fn components(
    ctx: &Ctx<'_>,
    list: &Spanned<Vec<Spanned<schema::Component>>>,
    path: &str,
) -> Result<Vec<Component>, ConfigError> {
    if list.value.is_empty() {
        return Err(ctx.invalid(loc_of(list), path, NO_COMPONENTS));
    }
    let mut seen = Names::new("component");
    let mut out = Vec::with_capacity(list.value.len());
    for (i, c) in list.value.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let raw = &c.value;
        let name = ctx.name(&raw.name, &field(&path, "name"))?;
        let (source_path, chart) = match (&raw.path, &raw.chart) {
            (Some(p), None) => (
                ctx.repo_path(p, &field(&path, "path"), Expect::FileOrDir)?,
                None,
            ),
            (None, Some(ch)) => {
                let (p, source) = chart(ctx, ch, &field(&path, "chart"), &name)?;
                (p, Some(source))
            }
            (Some(_), Some(_)) => return Err(ctx.invalid(loc_of(c), &path, COMPONENT_BOTH)),
            (None, None) => return Err(ctx.invalid(loc_of(c), &path, COMPONENT_NEITHER)),
        };
        let component = Component {
            name,
            path: source_path,
            chart,
            skip_if: raw
                .skip_if
                .as_ref()
                .map(|s| skip_if(ctx, s, &field(&path, "skipIf")))
                .transpose()?,
            requires: requirements(ctx, &raw.requires, &field(&path, "requires"))?,
            health: health(ctx, &raw.health, &field(&path, "health"))?,
            drift: super::drift::settings(ctx, raw.drift.as_ref(), &raw.ignore_differences, &path)?,
        };
        seen.insert(ctx, &component.name, &raw.name, &field(&path, "name"))?;
        out.push(component);
    }
    Ok(out)
}

/// Resolves `chart`: its path (a directory with `Chart.yaml`, or a `.tgz`),
/// values files and inline values (placeholders substituted; a string that
/// is one whole placeholder takes the value's type, as in manifests).
pub(super) fn chart(
    ctx: &Ctx<'_>,
    ch: &Spanned<schema::Chart>,
    path: &str,
    component: &str,
) -> Result<(String, ChartSource), ConfigError> {
    let raw = &ch.value;
    let chart_path = ctx.repo_path(&raw.path, &field(path, "path"), Expect::FileOrDir)?;
    let is_chart = ctx.root.join(&chart_path).join("Chart.yaml").is_file()
        || (chart_path.ends_with(".tgz") && ctx.root.join(&chart_path).is_file());
    if !is_chart {
        return Err(ctx.invalid(
            loc_of(&raw.path),
            &field(path, "path"),
            format!("{chart_path} is not a Helm chart (no Chart.yaml there, and not a .tgz)"),
        ));
    }
    let values_files = raw
        .values_files
        .iter()
        .enumerate()
        .map(|(i, f)| ctx.repo_path(f, &format!("{path}.valuesFiles[{i}]"), Expect::File))
        .collect::<Result<Vec<_>, _>>()?;
    let values = match &raw.values {
        None => serde_json::Map::new(),
        Some(v) => {
            let at = loc_of(v);
            let vpath = field(path, "values");
            match substitute_json(ctx, &v.value, at, &vpath)? {
                serde_json::Value::Object(m) => m,
                serde_json::Value::Null => serde_json::Map::new(),
                _ => return Err(ctx.invalid(at, &vpath, "values must be a mapping")),
            }
        }
    };
    let release_name = match &raw.release_name {
        Some(t) => ctx.name(t, &field(path, "releaseName"))?,
        None => component.to_owned(),
    };
    let namespace = raw
        .namespace
        .as_ref()
        .map(|t| ctx.name(t, &field(path, "namespace")))
        .transpose()?;
    Ok((
        chart_path,
        ChartSource {
            release_name,
            namespace,
            values_files,
            values,
            include_crds: raw.include_crds.unwrap_or(true),
        },
    ))
}

/// Substitutes placeholders in every string of an inline values tree.
fn substitute_json(
    ctx: &Ctx<'_>,
    v: &serde_json::Value,
    at: Option<(u32, u32)>,
    path: &str,
) -> Result<serde_json::Value, ConfigError> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => {
            let expanded = ctx.values.expand(s).map_err(|(_, problem)| {
                ctx.values.error(problem, ctx.site(at, path), "placeholder")
            })?;
            match placeholder::scan(s).ok().as_deref() {
                Some([placeholder::Piece::Value { key, .. }]) => ctx
                    .values
                    .get(key)
                    .cloned()
                    .unwrap_or(Value::String(expanded)),
                _ => Value::String(expanded),
            }
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_json(ctx, v, at, &field(path, k))?)))
                .collect::<Result<_, ConfigError>>()?,
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| substitute_json(ctx, v, at, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Resolves `requires`.
fn requirements(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Requirement>],
    path: &str,
) -> Result<Vec<Requirement>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| requirement(ctx, r, &format!("{path}[{i}]")))
        .collect()
}

/// Resolves one requirement.
pub(super) fn requirement(
    ctx: &Ctx<'_>,
    r: &Spanned<schema::Requirement>,
    path: &str,
) -> Result<Requirement, ConfigError> {
    Ok(match &r.value {
        schema::Requirement::Crd(t) => {
            let path = field(path, "crd");
            let name = ctx.required(t, &path)?;
            // People write the kind (`Cluster`); a CRD is named plural.group.
            if !name.contains('.') {
                let msg = format!(
                    "\"{name}\" is not a CRD name: write <plural>.<group>, e.g. clusters.postgresql.cnpg.io"
                );
                return Err(ctx.invalid(loc_of(t), &path, msg));
            }
            Requirement::Crd(name)
        }
        schema::Requirement::StorageClass(t) => {
            Requirement::StorageClass(ctx.required(t, &field(path, "storageClass"))?)
        }
        schema::Requirement::Object(sel) => {
            Requirement::Object(selector(ctx, sel, &field(path, "object"))?)
        }
        schema::Requirement::DeploymentReady(n) => {
            let path = field(path, "deploymentReady");
            Requirement::DeploymentReady {
                namespace: namespace(ctx, n.namespace.as_ref(), loc_of(r), &path)?,
                name: ctx.required(&n.name, &field(&path, "name"))?,
            }
        }
        schema::Requirement::Secret(s) => {
            let path = field(path, "secret");
            let keys = s.keys.iter().enumerate();
            Requirement::Secret {
                namespace: namespace(ctx, s.namespace.as_ref(), loc_of(r), &path)?,
                name: ctx.required(&s.name, &field(&path, "name"))?,
                keys: keys
                    .map(|(i, k)| ctx.required(k, &format!("{path}.keys[{i}]")))
                    .collect::<Result<_, _>>()?,
            }
        }
    })
}

/// A requirement's namespace, or `spec.namespace`.
fn namespace(
    ctx: &Ctx<'_>,
    raw: Option<&Text>,
    at: Option<(u32, u32)>,
    path: &str,
) -> Result<String, ConfigError> {
    match (raw, &ctx.namespace) {
        (Some(t), _) => ctx.name(t, &field(path, "namespace")),
        (None, Some(ns)) => Ok(ns.clone()),
        (None, None) => Err(ctx.invalid(
            at,
            path,
            "`namespace` is required here (or set spec.namespace)",
        )),
    }
}

/// Resolves an object selector.
fn selector(
    ctx: &Ctx<'_>,
    s: &schema::Selector,
    path: &str,
) -> Result<ObjectSelector, ConfigError> {
    Ok(ObjectSelector {
        api_version: ctx.required(&s.api_version, &field(path, "apiVersion"))?,
        kind: ctx.required(&s.kind, &field(path, "kind"))?,
        namespace: s
            .namespace
            .as_ref()
            .map(|t| ctx.name(t, &field(path, "namespace")))
            .transpose()?,
        name: ctx.required(&s.name, &field(path, "name"))?,
    })
}

/// Resolves `skipIf`.
pub(super) fn skip_if(
    ctx: &Ctx<'_>,
    s: &schema::SkipIf,
    path: &str,
) -> Result<SkipRule, ConfigError> {
    Ok(SkipRule {
        exists: selector(ctx, &s.exists, &field(path, "exists"))?,
    })
}

/// Resolves health rules; a CEL expression must not be empty (an empty one
/// would make every object of the kind count as never ready).
fn health(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Health>],
    path: &str,
) -> Result<Vec<HealthRule>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, h)| health_rule(ctx, h, &format!("{path}[{i}]")))
        .collect()
}

/// Resolves one health rule written at `path` (`spec.waves[2].health[0]`).
pub(super) fn health_rule(
    ctx: &Ctx<'_>,
    h: &Spanned<schema::Health>,
    path: &str,
) -> Result<HealthRule, ConfigError> {
    let cel = |t: &Text, path: String| -> Result<String, ConfigError> {
        let expr = ctx.text(t, &path)?;
        if expr.trim().is_empty() {
            return Err(ctx.invalid(
                loc_of(t),
                &path,
                "the CEL expression is empty; write a condition over `self`",
            ));
        }
        Ok(expr)
    };
    let h = &h.value;
    Ok(HealthRule {
        api_version: h
            .api_version
            .as_ref()
            .map(|t| ctx.required(t, &field(path, "apiVersion")))
            .transpose()?,
        kind: ctx.required(&h.kind, &field(path, "kind"))?,
        ready: cel(&h.ready, field(path, "ready"))?,
        failed: h
            .failed
            .as_ref()
            .map(|t| cel(t, field(path, "failed")))
            .transpose()?,
    })
}

/// Names seen so far, with the line of their first use.
pub(crate) struct Names {
    what: &'static str,
    seen: HashMap<String, u32>,
}

impl Names {
    /// An empty set of `what` names (`wave`, `component`, `cluster`).
    pub(crate) fn new(what: &'static str) -> Names {
        Names {
            what,
            seen: HashMap::new(),
        }
    }

    /// Records `name`, written at `t`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Duplicate`] when it was seen before.
    pub(crate) fn insert(
        &mut self,
        ctx: &Ctx<'_>,
        name: &str,
        t: &Text,
        path: &str,
    ) -> Result<(), ConfigError> {
        let line = loc_of(t).map_or(0, |(l, _)| l);
        match self.seen.get(name) {
            Some(&first_line) => Err(ConfigError::Duplicate {
                at: ctx.site(loc_of(t), path),
                what: self.what,
                name: name.to_string(),
                first_line,
            }),
            None => {
                self.seen.insert(name.to_string(), line);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "dp-east", "00-prerequisites", "x1"] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }
}
