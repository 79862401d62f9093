//! The errors of the pipeline's stages (config, render, plan) as findings:
//! which check each belongs to, and the `file:line` it is about, found with
//! [`locate`](super::locate) where the error knows only the file.

use super::finding::{Check, Finding};
use super::locate::{Files, helm_template};
use crate::config::{Checked, ConfigError, Site};
use crate::plan::PlanError;
use crate::render::{HelmFailure, RenderError};
use std::path::Path;

/// The line of a site (1 when unknown).
pub(crate) fn line_of(site: &Site) -> usize {
    site.pos
        .line_col
        .and_then(|(l, _)| usize::try_from(l).ok())
        .unwrap_or(1)
}

/// A finding for a configuration error (of `wavesync.yaml`, a values file,
/// or a placeholder in any file).
pub(crate) fn config(e: &ConfigError) -> Finding {
    let check = match e {
        ConfigError::RepoPath { .. }
        | ConfigError::UndeclaredValue { .. }
        | ConfigError::NotScalarValue { .. }
        | ConfigError::MalformedPlaceholder { .. }
        | ConfigError::UnknownCluster { .. } => Check::Reference,
        ConfigError::EmptyValue { .. } | ConfigError::UnsetValue { .. } => Check::RequiredValue,
        _ => Check::Schema,
    };
    let text = e.to_string();
    match (e, e.site()) {
        (_, Some(site)) => {
            let message = text
                .strip_prefix(&format!("{}: ", site.pos))
                .unwrap_or(&text);
            Finding::new(&site.pos.file, line_of(site), check, message)
        }
        (ConfigError::NotFound { file }, None) if file == Path::new(crate::config::FILE_NAME) => {
            let message = "not found: --dir must be the directory that holds wavesync.yaml";
            Finding::new(file, 1, check, message)
        }
        (ConfigError::NotFound { file }, None) => Finding::new(file, 1, check, "not found"),
        (ConfigError::Io { file, source }, None) => {
            Finding::new(file, 1, check, &format!("cannot read: {source}"))
        }
        (_, None) => Finding::new(crate::config::FILE_NAME, 1, check, &text),
    }
}

/// Where a component is, for errors about it as a whole.
pub(crate) struct Source<'a> {
    /// The component's source: a path, or a chart's path.
    pub path: &'a str,
    /// Whether it is a chart.
    pub chart: bool,
    /// Its document path in `wavesync.yaml` (`spec.waves[1].components[0]`,
    /// or the wave for a wave written with `path`).
    pub site: &'a str,
}

/// What converting a render error needs: the repository's files and the
/// places in `wavesync.yaml`.
pub(crate) struct Context<'a> {
    /// The repository's files.
    pub files: &'a Files,
    /// `wavesync.yaml` as checked.
    pub checked: &'a Checked,
}

impl Context<'_> {
    /// `wavesync.yaml` at a document path (the first that is written).
    fn in_config(&self, paths: &[String], check: Check, message: &str) -> Finding {
        let site = paths
            .iter()
            .find(|p| self.checked.location(p).is_some())
            .map_or_else(|| self.checked.site(""), |p| self.checked.site(p));
        let message = if site.path.is_empty() {
            message.to_owned()
        } else {
            format!("{}: {message}", site.path)
        };
        Finding::new(&site.pos.file, line_of(&site), check, &message)
    }

    /// The finding for a render error of `source` (substitution errors are
    /// handled before, with their typed error).
    pub(crate) fn render(&self, e: &RenderError, source: &Source) -> Finding {
        let text = e.to_string();
        match e {
            RenderError::OutsideRepo { path, listed_in }
            | RenderError::Missing { path, listed_in } => {
                let named = self.files.kustomization_naming(path).or_else(|| {
                    // A path written as is (absolute, or climbing out): the
                    // kustomization that lists it, at its `resources`.
                    listed_in.as_ref().map(|file| {
                        let line = self
                            .files
                            .text(file)
                            .and_then(|t| t.lines().position(|l| l.contains(path.as_str())))
                            .map(|i| i + 1)
                            .or_else(|| self.files.key_line(file, "resources"))
                            .unwrap_or(1);
                        (file.clone(), line)
                    })
                });
                match named {
                    Some((file, line)) => Finding::new(file, line, Check::Reference, &text),
                    None => self.in_config(&[self.source_path(source)], Check::Reference, &text),
                }
            }
            RenderError::Io { path, source } => {
                Finding::new(path, 1, Check::Render, &format!("cannot read: {source}"))
            }
            RenderError::NotUtf8 { file } => Finding::new(file, 1, Check::Render, "not UTF-8 text"),
            RenderError::Substitute { file, message } => {
                Finding::new(file, 1, Check::Reference, message)
            }
            RenderError::Syntax {
                file,
                line,
                column,
                message,
            } => {
                // serde_json's messages already end with `at line L column C`;
                // 1:1 is where overlays put errors about a whole field.
                let message = match message.contains(" column ") || (*line, *column) == (1, 1) {
                    true => message.clone(),
                    false => format!("{message} (column {column})"),
                };
                // Overlays report a bad kustomization field at 1:1; the
                // message names the field in backticks.
                let line = match (*line, *column) {
                    (1, 1) => message
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .find_map(|field| self.files.key_line(file, field))
                        .unwrap_or(1),
                    _ => *line,
                };
                Finding::new(file, line, Check::Render, &message)
            }
            RenderError::NotAMapping { file, line, .. } => {
                Finding::new(file, *line, Check::Render, strip(&text, file, Some(*line)))
            }
            RenderError::TooLarge { file, line, .. } => {
                Finding::new(file, *line, Check::Render, strip(&text, file, Some(*line)))
            }
            RenderError::MissingField { file, line, .. } => Finding::new(
                file,
                *line,
                Check::Identity,
                strip(&text, file, Some(*line)),
            ),
            RenderError::UnsupportedField { file, field } => {
                let key = field.split(['.', '[', ':']).next().unwrap_or(field).trim();
                let line = self.files.key_line(file, key).unwrap_or(1);
                Finding::new(file, line, Check::Render, strip(&text, file, None))
            }
            RenderError::Helm {
                chart,
                failure,
                message,
            } => self.helm(chart, *failure, message, source),
            RenderError::Unsupported { path, .. } => {
                if path == source.path {
                    return self.in_config(&[self.source_path(source)], Check::Render, &text);
                }
                let dir = Path::new(path);
                let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                    .iter()
                    .chain(&["Chart.yaml"])
                    .map(|f| dir.join(f))
                    .find(|f| self.files.text(f).is_some())
                    .unwrap_or_else(|| dir.to_path_buf());
                Finding::new(file, 1, Check::Render, &text)
            }
        }
    }

    /// The document path of a component's `path` or `chart` key.
    fn source_path(&self, source: &Source) -> String {
        let key = if source.chart { "chart" } else { "path" };
        format!("{}.{key}", source.site)
    }

    fn helm(&self, chart: &str, failure: HelmFailure, message: &str, source: &Source) -> Finding {
        let text = format!("{failure}: {message}");
        match failure {
            HelmFailure::Template => match helm_template(message, chart) {
                Some((file, line)) => Finding::new(file, line, Check::Render, &text),
                None => Finding::new(chart_file(chart), 1, Check::Render, &text),
            },
            // Which template loops is unknown: the chart's Chart.yaml.
            HelmFailure::Load | HelmFailure::Timeout => {
                Finding::new(chart_file(chart), 1, Check::Render, &text)
            }
            HelmFailure::Values => {
                let values = format!("{}.chart.values", source.site);
                let chart_key = format!("{}.chart", source.site);
                self.in_config(&[values, chart_key], Check::Render, &text)
            }
            HelmFailure::Engine => {
                self.in_config(&[self.source_path(source)], Check::Render, &text)
            }
        }
    }
}

/// A chart's `Chart.yaml`, or the archive itself.
fn chart_file(chart: &str) -> std::path::PathBuf {
    if chart.ends_with(".tgz") {
        chart.into()
    } else {
        Path::new(chart).join("Chart.yaml")
    }
}

/// `text` without the `file:line: ` (or `file: `) it starts with.
fn strip<'a>(text: &'a str, file: &Path, line: Option<usize>) -> &'a str {
    let prefix = match line {
        Some(l) => format!("{}:{l}: ", file.display()),
        None => format!("{}: ", file.display()),
    };
    text.strip_prefix(&prefix).unwrap_or(text)
}

/// A finding for an error of the final plan (what the per-object checks
/// did not already report).
pub(crate) fn plan(e: &PlanError) -> Finding {
    let text = e.to_string();
    let (check, origin, object) = match e {
        PlanError::UnknownWave { origin, object, .. } => {
            (Check::Reference, Some(origin), Some(object))
        }
        PlanError::Duplicate { second, object, .. } => {
            (Check::Duplicate, Some(second), Some(object))
        }
        PlanError::UnknownKind { origin, .. } => (Check::CrdOrder, Some(origin), None),
        PlanError::NoNamespace { origin, object } => (Check::Namespace, Some(origin), Some(object)),
        PlanError::InvalidField { origin, object, .. }
        | PlanError::InvalidObjectName { origin, object, .. } => {
            (Check::Identity, Some(origin), Some(object))
        }
        PlanError::DuplicateWave { .. }
        | PlanError::DuplicateComponent { .. }
        | PlanError::InvalidName { .. } => (Check::Schema, None, None),
    };
    let finding = match origin {
        Some(o) => {
            let prefix = format!("{o}: ");
            let message = text.strip_prefix(&prefix).unwrap_or(&text);
            Finding::new(&o.file, o.line.unwrap_or(1), check, message)
        }
        None => Finding::new(crate::config::FILE_NAME, 1, check, &text),
    };
    match object {
        Some(object) => finding.about(object),
        None => finding,
    }
}
