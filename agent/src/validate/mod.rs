//! `wavesync validate`: every check that needs no cluster, over the whole
//! repository, with every problem reported at once at its `file:line`.
//!
//! For each cluster `wavesync.yaml` declares (or the one asked for, or the
//! defaults when it declares none): `wavesync.yaml` is read collecting every
//! error ([`config::check`]), every component is rendered on its own (plain
//! manifests file by file), and the rendered objects are checked as the
//! planner would, but all of them: identity, the wave an annotation asks
//! for, kinds and the wave of their CRD, namespaces, duplicates; then the
//! health rules are compiled and the `requires` checked against what the
//! repository creates. Only a repository without findings is planned, as the
//! last check and for the summary.
//!
//! Files, one job each: `finding.rs` ([`Finding`], [`Check`]),
//! `convert.rs` (stage errors → findings), `locate.rs` (lines the errors do
//! not know), `render.rs` (rendering), `objects.rs` and `crds.rs` (the
//! object checks), `rules.rs` (health rules, requires), `values.rs` (unset
//! and empty values), `redact.rs` (Secret values out of messages),
//! `live.rs` (`--live`), `output.rs` (text and JSON).

mod convert;
mod crds;
mod finding;
mod live;
mod locate;
mod objects;
mod output;
mod render;
mod rules;
mod values;

pub use finding::{Check, Finding};
pub use live::{Live, LiveCluster, LiveError};
pub use output::{json, text};

use crate::config;
use crate::plan::{self, Builtin, Scopes};
use crate::render::Helm;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// What to validate, and with what.
pub struct Options<'a> {
    /// Only this cluster's values (`--cluster`); `None`: every cluster
    /// declared, or the defaults when none is.
    pub cluster: Option<&'a str>,
    /// Renders the charts.
    pub helm: &'a Helm,
    /// The cluster to ask about kinds and CRDs the repository does not
    /// define (`--live`).
    pub live: Option<&'a dyn Live>,
}

/// The outcome for one cluster's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterResult {
    /// The cluster; `None` when the repository declares none.
    pub name: Option<String>,
    /// Whether it has no finding.
    pub valid: bool,
    /// The waves planned, when valid.
    pub waves: Option<usize>,
    /// The objects planned, when valid.
    pub objects: Option<usize>,
}

/// Everything validation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every problem, sorted by file, line and check. A problem found with
    /// every cluster's values is listed once, without a cluster.
    pub findings: Vec<Finding>,
    /// One entry per cluster validated.
    pub clusters: Vec<ClusterResult>,
}

impl Report {
    /// Whether nothing was found.
    pub fn valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Validates the repository at `root`.
pub fn validate(root: &Path, options: &Options<'_>) -> Report {
    let names: Vec<Option<String>> = match options.cluster {
        Some(name) => vec![Some(name.to_owned())],
        None => {
            let mut seen = std::collections::HashSet::new();
            let mut names = config::cluster_names(root);
            names.retain(|n| seen.insert(n.clone()));
            if names.is_empty() {
                vec![None]
            } else {
                names.into_iter().map(Some).collect()
            }
        }
    };
    let results: Vec<(Vec<Finding>, ClusterResult)> = names
        .iter()
        .map(|name| validate_cluster(root, name.as_deref(), options))
        .collect();
    merge(results)
}

/// Lists a finding that every cluster gives once, without a cluster; tags
/// the others with theirs.
fn merge(mut results: Vec<(Vec<Finding>, ClusterResult)>) -> Report {
    let clusters = results.len();
    for (findings, _) in &mut results {
        findings.sort();
        findings.dedup();
    }
    let mut seen: HashMap<Finding, usize> = HashMap::new();
    for (findings, _) in &results {
        for f in findings {
            *seen.entry(f.clone()).or_default() += 1;
        }
    }
    let mut findings = Vec::new();
    let mut summaries = Vec::new();
    for (list, summary) in results {
        for mut f in list {
            match seen.get(&f) {
                Some(&n) if n == clusters && clusters > 1 => {
                    seen.remove(&f);
                    findings.push(f);
                }
                Some(_) => {
                    f.cluster = summary.name.clone();
                    findings.push(f);
                }
                None => {}
            }
        }
        summaries.push(summary);
    }
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.check, &a.message, &a.cluster)
            .cmp(&(&b.file, b.line, b.check, &b.message, &b.cluster))
    });
    findings.dedup();
    Report {
        findings,
        clusters: summaries,
    }
}

/// Validates with one cluster's values.
fn validate_cluster(
    root: &Path,
    cluster: Option<&str>,
    options: &Options<'_>,
) -> (Vec<Finding>, ClusterResult) {
    let mut checked = config::check(root, cluster);
    let files = locate::Files::new(root);
    let mut values = values::ValueProblems::default();
    let mut findings = Vec::new();
    for e in std::mem::take(&mut checked.errors) {
        if let Some(e) = values.take(e, false) {
            findings.push(convert::config(&e));
        }
    }
    for e in std::mem::take(&mut checked.required) {
        if let Some(e) = values.take(e, true) {
            findings.push(convert::config(&e));
        }
    }
    let mut result = ClusterResult {
        name: cluster.map(str::to_owned),
        valid: false,
        waves: None,
        objects: None,
    };
    let Some(ws) = checked.waveset.as_ref() else {
        findings.extend(values.findings(&checked));
        return (findings, result);
    };
    let ctx = convert::Context {
        files: &files,
        checked: &checked,
    };
    let rendered = render::render(root, ws, &checked, options.helm, &ctx);
    findings.extend(rendered.findings);
    for e in rendered.substitutions {
        if let Some(e) = values.take(e, false) {
            findings.push(convert::config(&e));
        }
    }
    findings.extend(rules::health(ws, &checked));
    let objects = objects::Objects {
        ws,
        files: &files,
        live: options.live,
        incomplete: rendered.failed,
    };
    let (placed, placing) = objects.place(&rendered.inputs);
    findings.extend(placing);
    let mut crds = crds::Crds::collect(&placed);
    for (wave, crd) in &rendered.recovered_crds {
        crds.add(crd, *wave);
    }
    let (checking, index) = objects.check(&placed, &crds);
    findings.extend(checking);
    findings.extend(rules::requires(ws, &checked, &index, options.live));
    findings.extend(values.findings(&checked));
    redact(&mut findings, &rendered.inputs, &files);

    if findings.is_empty() {
        let live = options.live.map(live::LiveScopes);
        let scopes: &dyn Scopes = match &live {
            Some(l) => l,
            None => &Builtin,
        };
        match plan::plan(&ws.name, ws.namespace.as_deref(), rendered.inputs, scopes) {
            Ok(plan) => {
                result.valid = true;
                result.waves = Some(plan.waves.len());
                result.objects = Some(
                    plan.waves
                        .iter()
                        .flat_map(|w| &w.components)
                        .map(|c| c.objects.len())
                        .sum(),
                );
            }
            Err(e) => findings.push(convert::plan(&e)),
        }
    }
    (findings, result)
}

/// Masks every Secret value the repository holds in every message.
fn redact(findings: &mut [Finding], inputs: &[plan::WaveInput], files: &locate::Files) {
    let mut secrets = crate::secrets::SecretValues::default();
    secrets.add_objects(
        inputs
            .iter()
            .flat_map(|w| &w.components)
            .flat_map(|(_, objects)| objects),
    );
    let mut with_secret = std::collections::HashSet::new();
    for f in findings.iter() {
        if let Some(text) = files.text(Path::new(&f.file)) {
            secrets.add_text(&text);
            if crate::secrets::declares_secret(&text) {
                with_secret.insert(f.file.clone());
            }
        }
    }
    for f in findings.iter_mut() {
        f.message = secrets.redact(&f.message);
        if f.check == Check::Render && with_secret.contains(&f.file) {
            f.message = crate::secrets::mask_quoted(&f.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster that serves `Widget` and has the CRD `gadgets.example.com`.
    struct FakeCluster;

    impl Live for FakeCluster {
        fn scope(&self, api_version: &str, kind: &str) -> Option<bool> {
            (api_version == "example.com/v1" && kind == "Widget").then_some(true)
        }
        fn has_crd(&self, name: &str) -> bool {
            name == "gadgets.example.com"
        }
    }

    fn repo() -> tempfile::TempDir {
        let files = [
            (
                "wavesync.yaml",
                "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: {name: d}\nspec:\n  \
                 namespace: d\n  waves:\n    - name: a\n      requires: [{crd: gadgets.example.com}]\n      \
                 path: a\n    - name: b\n      path: b\n",
            ),
            (
                "a/w.yaml",
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
            ),
            (
                "b/crd.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  \
                 name: gadgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  \
                 names: {kind: Gadget, plural: gadgets}\n  versions: [{name: v1, served: true}]\n",
            ),
        ];
        crate::test_support::write_tree(&files)
    }

    #[test]
    fn the_cluster_serves_what_the_repository_defines_too_late() {
        let r = repo();
        let helm = Helm::default();
        let offline = validate(
            r.path(),
            &Options {
                cluster: None,
                helm: &helm,
                live: None,
            },
        );
        let found: Vec<(String, usize, Check)> = offline
            .findings
            .iter()
            .map(|f| (f.file.clone(), f.line, f.check))
            .collect();
        assert_eq!(
            found,
            [
                ("a/w.yaml".to_owned(), 2, Check::CrdOrder),
                ("wavesync.yaml".to_owned(), 8, Check::Reference),
            ],
            "{offline:#?}"
        );
        let live = validate(
            r.path(),
            &Options {
                cluster: None,
                helm: &helm,
                live: Some(&FakeCluster),
            },
        );
        assert!(live.valid(), "{live:#?}");
        assert_eq!(live.clusters[0].objects, Some(2));
    }
}
