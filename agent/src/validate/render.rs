//! Rendering every component of every wave that resolved, component by
//! component (and, for plain manifests, file by file), so that one source
//! that fails does not hide the others.
//!
//! Builds the same requests as `render_all` of the sync pass. Placeholder
//! errors come back from the renderers as text; the substitution here keeps
//! the typed [`ConfigError`] beside it, so that an empty value is grouped
//! with its other uses and every error keeps its line and column.

use super::convert::{Context, Source};
use super::finding::Finding;
use crate::config::{Checked, ConfigError, WaveSet};
use crate::model::Object;
use crate::plan::WaveInput;
use crate::render::{self, Helm, RenderError, RenderRequest};
use std::cell::RefCell;
use std::path::Path;

/// What rendering gave: the objects, per wave and component as the planner
/// takes them, and the problems.
pub(crate) struct Rendered {
    /// One per wave of the WaveSet, in order.
    pub inputs: Vec<WaveInput>,
    /// Sources that did not render.
    pub findings: Vec<Finding>,
    /// Placeholders that failed, with where they are.
    pub substitutions: Vec<ConfigError>,
    /// The CRDs of charts that did not render, read from their `crds/`
    /// (which Helm copies as they are), with their wave: so that a chart
    /// that fails does not also make every custom resource of its kinds an
    /// error.
    pub recovered_crds: Vec<(usize, Object)>,
    /// How many components did not render (or only in part).
    pub failed: usize,
}

/// Renders every component of `ws` in the repository at `root`.
pub(crate) fn render(
    root: &Path,
    ws: &WaveSet,
    checked: &Checked,
    helm: &Helm,
    ctx: &Context<'_>,
) -> Rendered {
    let failed: RefCell<Vec<(String, ConfigError)>> = RefCell::default();
    let substitute = |text: &str, file: &Path| {
        ws.values.substitute(text, file).map_err(|e| {
            let message = e.to_string();
            failed.borrow_mut().push((message.clone(), e));
            message
        })
    };
    let mut out = Rendered {
        inputs: Vec::with_capacity(ws.waves.len()),
        findings: Vec::new(),
        substitutions: Vec::new(),
        recovered_crds: Vec::new(),
        failed: 0,
    };
    for (w, (wave, sites)) in ws.waves.iter().zip(&checked.sites).enumerate() {
        let mut components = Vec::with_capacity(wave.components.len());
        for (c, site) in wave.components.iter().zip(&sites.components) {
            let (objects, errors) = match &c.chart {
                Some(chart) => {
                    let spec = crate::reconcile::prepare::chart_spec(ws, c, chart);
                    match helm.render(root, &spec, &substitute) {
                        Ok(objects) => (objects, Vec::new()),
                        Err(e) => {
                            if chart.include_crds {
                                let crds = chart_crds(root, &c.path);
                                out.recovered_crds.extend(crds.into_iter().map(|o| (w, o)));
                            }
                            (Vec::new(), vec![e])
                        }
                    }
                }
                None => render::render_path_all(&RenderRequest {
                    repo_root: root,
                    path: &c.path,
                    substitute: &substitute,
                }),
            };
            let source = Source {
                path: &c.path,
                chart: c.chart.is_some(),
                site,
            };
            if !errors.is_empty() {
                out.failed += 1;
            }
            for e in errors {
                let typed = match &e {
                    RenderError::Substitute { message, .. } => {
                        let mut failed = failed.borrow_mut();
                        failed
                            .iter()
                            .position(|(m, _)| m == message)
                            .map(|i| failed.remove(i).1)
                    }
                    _ => None,
                };
                match typed {
                    Some(config_error) => out.substitutions.push(config_error),
                    None => out.findings.push(ctx.render(&e, &source)),
                }
            }
            components.push((c.name.clone(), objects));
        }
        out.inputs.push(WaveInput {
            name: wave.name.clone(),
            components,
        });
    }
    out
}

/// The objects of a chart directory's `crds/`, read as plain manifests.
fn chart_crds(root: &Path, chart: &str) -> Vec<Object> {
    let dir = format!("{chart}/crds");
    if !root.join(&dir).is_dir() {
        return Vec::new();
    }
    let (objects, _) = render::render_path_all(&RenderRequest {
        repo_root: root,
        path: &dir,
        substitute: &render::verbatim,
    });
    objects
}
