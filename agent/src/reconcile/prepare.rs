//! Before a pass applies anything: `wavesync.yaml`'s health rules compiled,
//! every component rendered, kinds resolved (discovery only for kinds
//! neither built in nor defined by the repository's CRDs), and the plan made.
//! Any error here stops the pass with nothing applied.

use super::sync::{Engine, SyncError};
use crate::cluster::Resolver;
use crate::config::{self, WaveSet};
use crate::health::{CompiledRule, HealthError};
use crate::plan::{self, Plan, Scopes, WaveInput};
use crate::render::{self, ChartSpec, Helm, RenderError, RenderRequest};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

struct ScopeCache<'a>(&'a Resolver);

impl Scopes for ScopeCache<'_> {
    fn namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        self.0.cached(api_version, kind).map(|r| r.namespaced)
    }
}

impl Engine {
    /// Renders and plans every wave, and compiles every wave's health rules
    /// (once, before anything is applied, so a typo in a late wave's CEL does
    /// not leave the earlier waves half-rolled).
    pub(super) async fn plan_for(
        &self,
        root: &Path,
        ws: &WaveSet,
    ) -> Result<(Plan, BTreeMap<String, Vec<CompiledRule>>), SyncError> {
        let mut rules = BTreeMap::new();
        for (index, w) in ws.waves.iter().enumerate() {
            let compiled = compile_rules(w).map_err(|(at, source)| SyncError::Rule {
                wave: w.name.clone(),
                field: rule_field(index, &at, &source),
                source,
            })?;
            rules.insert(w.name.clone(), compiled);
        }
        let inputs = render_all(root, ws, &self.helm)?;
        // Built-in kinds and the repository's own CRDs need no discovery; ask
        // the cluster only about kinds neither knows (one pass, then cached).
        if !all_kinds_known(&inputs) {
            self.resolver
                .discover_all()
                .await
                .map_err(SyncError::Discovery)?;
        }
        let unset = ws.namespace.is_none().then(|| inputs.clone());
        let plan = plan::plan(
            &ws.name,
            ws.namespace.as_deref(),
            inputs,
            &ScopeCache(&self.resolver),
        )?;
        if let Some(input) = unset {
            plan::refuse_defaulted_namespaces(&input, &plan)?;
        }
        Ok((plan, rules))
    }
}

/// Whether every rendered kind is a built-in one or defined by a CRD in the repository.
fn all_kinds_known(inputs: &[WaveInput]) -> bool {
    let objects = || {
        inputs
            .iter()
            .flat_map(|w| w.components.iter().flat_map(|(_, objs)| objs.iter()))
    };
    let mut defined = BTreeSet::new();
    for crd in objects().filter_map(|o| crate::kinds::crd(&o.json)) {
        for version in &crd.versions {
            defined.insert((format!("{}/{version}", crd.group), crd.kind.clone()));
        }
    }
    objects().all(|o| {
        let r = o.reference();
        crate::kinds::of_ref(&r).is_some()
            || defined.contains(&(r.api_version.clone(), r.kind.clone()))
    })
}

/// The wave's rules, compiled; else where the first bad one is written
/// (`health[0]`, `components[1].health[0]`) and why.
fn compile_rules(spec: &config::Wave) -> Result<Vec<CompiledRule>, (String, HealthError)> {
    let all = spec
        .health
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("health[{i}]"), r))
        .chain(spec.components.iter().enumerate().flat_map(|(c, comp)| {
            comp.health
                .iter()
                .enumerate()
                .map(move |(i, r)| (format!("components[{c}].health[{i}]"), r))
        }));
    all.map(|(at, r)| {
        CompiledRule::compile(
            r.api_version.as_deref(),
            &r.kind,
            &r.ready,
            r.failed.as_deref(),
        )
        .map_err(|e| (at, e))
    })
    .collect()
}

/// `spec.waves[2].health[0].ready`: the field of a rule that does not compile.
fn rule_field(wave: usize, at: &str, e: &HealthError) -> String {
    let field = match e {
        HealthError::Compile { field, .. } | HealthError::Undeclared { field, .. } => {
            format!(".{field}")
        }
        HealthError::EmptyKind => ".kind".to_owned(),
    };
    format!("spec.waves[{wave}].{at}{field}")
}

/// What Helm renders for a chart component: its release goes to the
/// chart's namespace, else the WaveSet's, else `default`.
pub fn chart_spec<'a>(
    ws: &'a WaveSet,
    component: &'a config::Component,
    chart: &'a config::ChartSource,
) -> ChartSpec<'a> {
    ChartSpec {
        path: &component.path,
        release: &chart.release_name,
        namespace: chart
            .namespace
            .as_deref()
            .or(ws.namespace.as_deref())
            .unwrap_or(crate::plan::DEFAULT_NAMESPACE),
        values_files: &chart.values_files,
        values: &chart.values,
        include_crds: chart.include_crds,
    }
}

/// Renders every component of every wave; any error stops before anything is applied.
///
/// # Errors
/// The first render error (it names the file).
pub fn render_all(root: &Path, ws: &WaveSet, helm: &Helm) -> Result<Vec<WaveInput>, RenderError> {
    let values = ws.values.clone();
    let substitute =
        move |text: &str, file: &Path| values.substitute(text, file).map_err(|e| e.to_string());
    ws.waves
        .iter()
        .map(|w| {
            let components = w
                .components
                .iter()
                .map(|c| {
                    let objects = match &c.chart {
                        Some(chart) => helm.render(root, &chart_spec(ws, c, chart), &substitute),
                        None => render::render_path(&RenderRequest {
                            repo_root: root,
                            path: &c.path,
                            substitute: &substitute,
                        }),
                    };
                    objects.map(|objs| (c.name.clone(), objs))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(WaveInput {
                name: w.name.clone(),
                components,
            })
        })
        .collect()
}
