//! Checks of what `wavesync.yaml` asks of the cluster: health rules that
//! compile (a sync compiles them only when it starts), and `requires` that
//! can be met — a requirement is checked before anything of its wave is
//! applied, so one on an object this repository creates in the same or a
//! later wave never holds on a new cluster.

use super::convert::line_of;
use super::finding::{Check, Finding};
use super::live::Live;
use super::objects::Index;
use crate::config::{Checked, HealthRule, Requirement, WaveSet};
use crate::health::{CompiledRule, HealthError, RuleField};
use crate::model::ObjRef;

/// Findings for health rules whose CEL does not compile.
pub(crate) fn health(ws: &WaveSet, checked: &Checked) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (wave, sites) in ws.waves.iter().zip(&checked.sites) {
        let component_rules = wave
            .components
            .iter()
            .zip(&sites.component_health)
            .flat_map(|(c, s)| c.health.iter().zip(s));
        for (rule, site) in wave.health.iter().zip(&sites.health).chain(component_rules) {
            if let Err(e) = compile(rule) {
                let field = match &e {
                    HealthError::Compile { field, .. } | HealthError::Undeclared { field, .. } => {
                        *field
                    }
                    HealthError::EmptyKind => RuleField::Ready,
                };
                let path = format!("{site}.{field}");
                let at = checked.site(&path);
                let mut message = format!("{path}: {e}");
                if let HealthError::Compile { source, .. } = &e {
                    // The parser's first line says what and where; the rest
                    // is a drawing of the expression and the list of tokens
                    // it expected.
                    let text = source.to_string();
                    let first = text.lines().next().unwrap_or_default();
                    let first = first.split(" expecting {").next().unwrap_or(first);
                    let first = first
                        .trim_start_matches("ERROR: ")
                        .trim_start_matches("<input>:");
                    message = format!("{message}: {first}");
                }
                findings.push(Finding::new(
                    &at.pos.file,
                    line_of(&at),
                    Check::HealthRule,
                    &message,
                ));
            }
        }
    }
    findings
}

fn compile(rule: &HealthRule) -> Result<CompiledRule, HealthError> {
    CompiledRule::compile(
        rule.api_version.as_deref(),
        &rule.kind,
        &rule.ready,
        rule.failed.as_deref(),
    )
}

/// Findings for requirements on objects this repository creates in the
/// same or a later wave, and (with `--live`) on CRDs that neither the
/// repository nor the cluster has.
pub(crate) fn requires(
    ws: &WaveSet,
    checked: &Checked,
    index: &Index,
    live: Option<&dyn Live>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (w, (wave, sites)) in ws.waves.iter().zip(&checked.sites).enumerate() {
        let component_requires = wave
            .components
            .iter()
            .zip(&sites.component_requires)
            .flat_map(|(c, s)| c.requires.iter().zip(s));
        for (req, site) in wave
            .requires
            .iter()
            .zip(&sites.requires)
            .chain(component_requires)
        {
            let r = reference(req);
            // A CRD the cluster already has meets the requirement, whatever
            // wave installs it from the repository.
            let in_cluster = match (req, live) {
                (Requirement::Crd(name), Some(live)) => live.has_crd(name),
                _ => false,
            };
            let problem = match index.get(&r) {
                Some((created, origin)) if *created >= w && !in_cluster => {
                    let when = if *created == w {
                        format!("the same wave \"{}\"", wave.name)
                    } else {
                        format!("the later wave \"{}\"", ws.waves[*created].name)
                    };
                    Some(format!(
                        "requirement \"{req}\" never holds on a new cluster: this repository \
                         creates it in {when} ({origin}), and requirements are checked before \
                         anything of their wave is applied; create it in an earlier wave"
                    ))
                }
                Some(_) => None,
                None => match (req, live) {
                    (Requirement::Crd(name), Some(_)) if !in_cluster => Some(format!(
                        "requirement \"{req}\": neither the repository nor the cluster has CRD {name}"
                    )),
                    _ => None,
                },
            };
            if let Some(message) = problem {
                let at = checked.site(site);
                let message = format!("{site}: {message}");
                findings.push(Finding::new(
                    &at.pos.file,
                    line_of(&at),
                    Check::Reference,
                    &message,
                ));
            }
        }
    }
    findings
}

/// The object a requirement is about, as the index keys objects.
fn reference(req: &Requirement) -> ObjRef {
    let of = |api_version: &str, kind: &str, namespace: &str, name: &str| ObjRef {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    match req {
        Requirement::Crd(name) => of(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            name,
        ),
        Requirement::StorageClass(name) => of("storage.k8s.io/v1", "StorageClass", "", name),
        Requirement::Object(sel) => sel.reference(),
        Requirement::DeploymentReady { namespace, name } => {
            of("apps/v1", "Deployment", namespace, name)
        }
        Requirement::Secret {
            namespace, name, ..
        } => of("v1", "Secret", namespace, name),
    }
}
