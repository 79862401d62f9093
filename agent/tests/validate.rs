//! `wavesync validate`, run as users run it (the binary): a corpus of broken
//! repositories under `tests/validate-corpus/`, each with an `expected.txt`
//! listing every finding it must give, in order, as
//! `file:line: [check] fragment` (the fragment, or its pieces separated by
//! ` ... `, must appear in the message); examples-repo validates clean for
//! every cluster; exit codes, `--cluster`, the JSON output, `--live` against
//! the simulated cluster, and Secret values that never show.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/validate-corpus")
        .join(case)
}

fn examples_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo")
}

/// Runs `wavesync validate ARGS`; returns the exit code, stdout and stderr.
fn validate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .arg("validate")
        .args(args)
        // Charts render with libhelm_c, as in the other tests, whatever
        // helm CLI the machine has.
        .env("WAVESYNC_HELM_ENGINE", "libhelm")
        .env_remove("WAVESYNC_HELM")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn validate_dir(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    args.extend(extra);
    validate(&args)
}

/// Checks a corpus case against its `expected.txt`.
fn check_case(case: &str) {
    let dir = corpus(case);
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let expected: Vec<&str> = expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let (code, out, err) = validate_dir(&dir, &[]);
    assert_eq!(code, 1, "{case}: exit code\n{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    let (summary, findings) = lines.split_last().unwrap();
    assert_eq!(
        findings.len(),
        expected.len(),
        "{case}: number of findings\n{out}"
    );
    for (actual, want) in findings.iter().zip(&expected) {
        let (prefix, fragment) = want.split_once("] ").unwrap();
        let prefix = format!("{prefix}] ");
        assert!(
            actual.starts_with(&prefix),
            "{case}: expected `{prefix}…`, got\n{actual}"
        );
        let mut rest = &actual[prefix.len()..];
        for piece in fragment.split(" ... ") {
            let at = rest
                .find(piece)
                .unwrap_or_else(|| panic!("{case}: `{piece}` is not in (the rest of)\n{actual}"));
            rest = &rest[at + piece.len()..];
        }
    }
    let errors = if findings.len() == 1 {
        "1 error in ".to_owned()
    } else {
        format!("{} errors in ", findings.len())
    };
    assert!(summary.starts_with(&errors), "{case}: summary {summary}");
}

macro_rules! corpus_cases {
    ($($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_case($case);
            }
        )*

        /// Every directory of the corpus has its test above.
        #[test]
        fn every_corpus_case_is_tested() {
            let mut listed = vec![$($case),*];
            listed.sort();
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate-corpus");
            let mut found: Vec<String> = std::fs::read_dir(root)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            found.sort();
            assert_eq!(found, listed);
        }
    };
}

corpus_cases! {
    schema_errors_in_three_waves_are_all_reported => "schema-typos",
    errors_in_two_waves_are_both_reported => "two-waves",
    malformed_manifests_point_at_the_line => "malformed-yaml",
    an_overlay_naming_a_missing_file_points_at_the_kustomization => "overlay-missing-file",
    a_chart_template_error_points_into_the_template => "chart-template-error",
    a_custom_resource_before_its_crd_is_a_crd_order_error => "crd-order",
    an_object_declared_twice_is_a_duplicate => "duplicate",
    a_namespaced_object_without_a_namespace_is_an_error => "namespace",
    an_annotation_naming_a_missing_wave_is_a_reference_error => "unknown-wave",
    placeholders_that_do_not_resolve_are_reference_errors => "unknown-placeholder",
    an_empty_storage_class_is_reported_where_it_is_set => "empty-storage-class",
    broken_secrets_are_reported_without_their_values => "secret-leak",
    errors_are_tagged_with_the_cluster_whose_values_cause_them => "multi-cluster",
    health_rules_and_requires_are_checked => "rules-and-requires",
    a_directory_without_wavesync_yaml_is_an_error => "no-wavesync-yaml",
}

#[test]
fn examples_repo_is_valid_for_every_cluster() {
    let (code, out, err) = validate_dir(&examples_repo(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "valid: 5 waves, 26 objects (cluster dp-east)\n\
         valid: 5 waves, 26 objects (cluster dp-west)\n"
    );
    for cluster in ["dp-east", "dp-west"] {
        let (code, out, _) = validate_dir(&examples_repo(), &["--cluster", cluster]);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            format!("valid: 5 waves, 26 objects (cluster {cluster})\n")
        );
    }
}

#[test]
fn cluster_selects_one_clusters_values_and_an_unknown_one_is_an_error() {
    let dir = corpus("multi-cluster");
    let (code, out, _) = validate_dir(&dir, &["--cluster", "west"]);
    assert_eq!(code, 1);
    assert!(
        !out.contains("clusters/east.yaml"),
        "only west's values:\n{out}"
    );
    assert!(out.contains("storgeClass"), "{out}");
    // One cluster validated: no cluster tag on the lines.
    assert!(!out.contains("(cluster west)"), "{out}");

    let (code, out, _) = validate_dir(&examples_repo(), &["--cluster", "dp-north"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "wavesync.yaml:94: [reference] clusters: unknown cluster \"dp-north\"; known clusters: dp-east, dp-west\n"
        ),
        "{out}"
    );
}

#[test]
fn json_output_has_the_documented_fields() {
    let (code, out, _) = validate_dir(&corpus("multi-cluster"), &["-o", "json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["summary"], "3 errors in 2 files");
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    for e in errors {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["file", "line", "check", "object", "cluster", "message"]
        );
    }
    assert_eq!(errors[0]["file"], "clusters/east.yaml");
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[0]["check"], "required-value");
    assert_eq!(errors[0]["cluster"], "east");
    assert_eq!(
        errors[1]["cluster"],
        Value::Null,
        "found with every cluster"
    );
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0]["name"], "east");
    assert_eq!(clusters[0]["valid"], false);

    let (code, out, _) = validate_dir(&corpus("duplicate"), &["--output", "json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["errors"][0]["object"], "ConfigMap demo/settings");

    let (code, out, _) = validate_dir(&examples_repo(), &["-o", "json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["errors"], serde_json::json!([]));
    assert_eq!(
        doc["clusters"][1],
        serde_json::json!({"name": "dp-west", "valid": true, "waves": 5, "objects": 26})
    );
}

#[test]
fn secret_values_never_appear_in_the_output() {
    let secrets = [
        "hunter2-TOP-SECRET",
        "s3cr3t-t0ken-value",
        "YXBpLWtleS1wbGFpbnRleHQ=",
        "api-key-plaintext",
    ];
    for output in ["text", "json"] {
        let (code, out, err) = validate_dir(&corpus("secret-leak"), &["-o", output]);
        assert_eq!(code, 1);
        for secret in secrets {
            assert!(!out.contains(secret), "{secret} in {output} output:\n{out}");
            assert!(!err.contains(secret), "{secret} on stderr:\n{err}");
        }
    }
}

#[test]
fn a_missing_directory_is_an_error_not_a_finding() {
    let (code, out, err) = validate(&["--dir", "/nonexistent/wavesync-repo"]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("not a directory"), "{err}");
}

mod live {
    use super::*;
    use kube::api::{Api, DynamicObject, PostParams};
    use serde_json::json;

    fn crd(plural: &str, kind: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))
        .unwrap()
    }

    /// Creates a CRD and waits until the cluster serves its kind (the
    /// simulator establishes CRDs asynchronously, as API servers do).
    async fn install(client: &kube::Client, crds: &Api<DynamicObject>, plural: &str, kind: &str) {
        crds.create(&PostParams::default(), &crd(plural, kind))
            .await
            .unwrap();
        let gvk = kube::core::GroupVersionKind::gvk("example.com", "v1", kind);
        for _ in 0..100 {
            if kube::discovery::oneshot::pinned_kind(client, &gvk)
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{kind} is never served");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_kinds_served_by_the_cluster_are_not_crd_order_errors() {
        let sim = kube_sim::Sim::start().await.unwrap();
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        sim.write_kubeconfig(kubeconfig.path()).unwrap();
        let client = sim.client().unwrap();
        let ar = kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        );
        let crds: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        install(&client, &crds, "widgets", "Widget").await;
        let kc = kubeconfig.path().to_str().unwrap().to_owned();
        let dir = corpus("crd-order");
        let run = |dir: PathBuf, kc: String| {
            tokio::task::spawn_blocking(move || {
                validate_dir(&dir, &["--live", "--kubeconfig", &kc])
            })
        };

        // Widget is served: its CRD being in a later wave is fine on this
        // cluster. Gadget is served by nothing.
        let (code, out, err) = run(dir.clone(), kc.clone()).await.unwrap();
        assert_eq!(code, 1, "{out}{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with("waves/apps/widgets.yaml:12: [crd-order] Gadget.example.com/second: no CRD defines Gadget (example.com/v1): none in the repository, and the cluster does not serve it"),
            "{out}"
        );

        install(&client, &crds, "gadgets", "Gadget").await;
        let (code, out, err) = run(dir, kc).await.unwrap();
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(out, "valid: 3 waves, 5 objects\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_without_a_reachable_cluster_is_an_error() {
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            kubeconfig.path(),
            "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n\
             users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
        )
        .unwrap();
        let kc = kubeconfig.path().to_str().unwrap().to_owned();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            validate_dir(&examples_repo(), &["--live", "--kubeconfig", &kc])
        })
        .await
        .unwrap();
        assert_eq!(code, 1);
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("--live"), "{err}");
    }
}
