//! A chart's rendered files → objects, read as Helm and kubectl read YAML.

use super::super::{RenderError, objects, yaml};
use super::ChartSpec;
use super::protocol::Rendered;
use crate::model::Object;
use crate::render::HelmFailure;
use std::path::{Path, PathBuf};

/// The objects of `rendered` (CRDs first), each with its origin inside the
/// chart (`charts/cnpg/templates/deployment.yaml:12`) and the release's
/// namespace; test hooks are left out, as `helm install` does not install them.
///
/// # Errors
/// A rendered file that is not valid YAML or holds something other than
/// objects, as [`RenderError::Helm`] naming the template.
pub fn objects(
    rendered: &Rendered,
    chart_rel: &Path,
    spec: &ChartSpec,
) -> Result<Vec<Object>, RenderError> {
    let mut out = Vec::new();
    for (name, text) in rendered.crds.iter().chain(&rendered.templates) {
        let file = origin_file(chart_rel, name);
        let template_error = |e: RenderError| RenderError::Helm {
            chart: spec.path.to_owned(),
            failure: HelmFailure::Template,
            message: format!("{name} rendered to invalid manifests: {e}"),
        };
        let docs = yaml::documents(text, &file).map_err(template_error)?;
        let start = out.len();
        for doc in docs {
            objects::collect(doc, &file, &mut out).map_err(template_error)?;
        }
        for o in &mut out[start..] {
            o.origin.release_namespace = Some(spec.namespace.to_owned());
        }
    }
    out.retain(|o| !is_test_hook(o));
    Ok(out)
}

/// `charts/cnpg` + `cnpg/templates/x.yaml` → `charts/cnpg/templates/x.yaml`
/// (Helm names files after the chart, wavesync after the repository).
fn origin_file(chart_rel: &Path, name: &str) -> PathBuf {
    let inside = name.split_once('/').map_or(name, |(_, rest)| rest);
    chart_rel.join(inside)
}

/// `helm.sh/hook: test` (or the older `test-success`/`test-failure`): run by
/// `helm test`, never installed.
fn is_test_hook(o: &Object) -> bool {
    o.annotation("helm.sh/hook")
        .is_some_and(|hooks| hooks.split(',').any(|h| h.trim().starts_with("test")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn crds_come_first_tests_are_dropped_and_origins_point_into_the_chart() {
        let rendered = Rendered {
            crds: vec![(
                "demo/crds/foo.yaml".into(),
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.x.io}\n".into(),
            )],
            templates: vec![
                (
                    "demo/templates/cm.yaml".into(),
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n".into(),
                ),
                (
                    "demo/templates/tests/t.yaml".into(),
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n".into(),
                ),
            ],
        };
        let values = Map::new();
        let spec = ChartSpec {
            path: "charts/demo",
            release: "r",
            namespace: "ns",
            values_files: &[],
            values: &values,
            include_crds: true,
        };
        let objs = objects(&rendered, Path::new("charts/demo"), &spec).expect("objects");
        let names: Vec<_> = objs.iter().map(|o| o.reference().name).collect();
        assert_eq!(names, ["foos.x.io", "a", "b"]);
        assert_eq!(
            objs[2].origin.to_string(),
            "charts/demo/templates/cm.yaml:5"
        );
        assert_eq!(objs[1].origin.release_namespace.as_deref(), Some("ns"));

        let bad = Rendered {
            crds: vec![],
            templates: vec![("demo/templates/x.yaml".into(), "a: [\n".into())],
        };
        let e = objects(&bad, Path::new("charts/demo"), &spec).expect_err("bad yaml");
        assert!(
            e.to_string().starts_with("charts/demo: template failed: demo/templates/x.yaml rendered to invalid manifests: charts/demo/templates/x.yaml:"),
            "{e}"
        );
    }
}
