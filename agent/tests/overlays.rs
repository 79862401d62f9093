//! The overlay corpus (tests/overlays/<case>/) rendered by wavesync and by
//! `kubectl kustomize` (kubectl v1.32, kustomize v5.5.0): the same objects,
//! compared as parsed objects (key order aside), in the same order.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use wavesync::render::{RenderError, RenderRequest, render_path, verbatim};

/// Keys sorted recursively, so that objects compare and sort independently of key order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn kubectl(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("`kubectl kustomize` is required for this test (kubectl v1.32 on PATH): {e}")
        });
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // Read kubectl's output with wavesync's plain reader (it reads YAML as kubectl does).
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("out.yaml"), &out.stdout).expect("write");
    render_path(&RenderRequest {
        repo_root: tmp.path(),
        path: "out.yaml",
        substitute: &verbatim,
    })
    .expect("kubectl output parses")
    .into_iter()
    .map(|o| o.json)
    .collect()
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/overlays");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/overlays")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// Each object as canonical JSON, in the order given.
fn listed(objs: Vec<Value>) -> Vec<String> {
    objs.iter()
        .map(|o| serde_json::to_string_pretty(&canonical(o)).expect("json"))
        .collect()
}

/// The kind and name of a canonical object, for order reports.
fn label(o: &str) -> String {
    let v: Value = serde_json::from_str(o).expect("json");
    format!(
        "{} {}/{}",
        v["kind"].as_str().unwrap_or_default(),
        v["metadata"]["namespace"].as_str().unwrap_or_default(),
        v["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Compares one case; `None` when wavesync renders it as kubectl does,
/// same objects in the same order.
fn compare(case: &Path) -> Option<String> {
    let ours = render_path(&RenderRequest {
        repo_root: case,
        path: ".",
        substitute: &verbatim,
    });
    let ours = match ours {
        Ok(objs) => listed(objs.into_iter().map(|o| o.json).collect()),
        Err(e) => return Some(format!("{}: wavesync failed: {e}", case.display())),
    };
    let theirs = listed(kubectl(case));
    if ours == theirs {
        return None;
    }
    let (mut a, mut b) = (ours.clone(), theirs.clone());
    a.sort();
    b.sort();
    if a == b {
        return Some(format!(
            "{}: same objects, different order\n--- wavesync:\n{}\n--- kubectl:\n{}",
            case.display(),
            ours.iter().map(|o| label(o)).collect::<Vec<_>>().join("\n"),
            theirs
                .iter()
                .map(|o| label(o))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    let only_ours: Vec<&str> = a
        .iter()
        .filter(|o| !b.contains(o))
        .map(String::as_str)
        .collect();
    let only_theirs: Vec<&str> = b
        .iter()
        .filter(|o| !a.contains(o))
        .map(String::as_str)
        .collect();
    Some(format!(
        "{}: objects differ\n--- wavesync only:\n{}\n--- kubectl only:\n{}",
        case.display(),
        only_ours.join("\n"),
        only_theirs.join("\n"),
    ))
}

#[test]
fn overlays_render_as_kubectl_kustomize_does() {
    let cases = cases();
    let failures: Vec<String> = cases.iter().filter_map(|c| compare(c)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(cases.len() >= 27, "corpus too small: {}", cases.len());
}

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

fn render_err(root: &Path, path: &str) -> RenderError {
    render_path(&RenderRequest {
        repo_root: root,
        path,
        substitute: &verbatim,
    })
    .expect_err("must fail")
}

fn render(root: &Path, path: &str) -> String {
    render_err(root, path).to_string()
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";

#[test]
fn unsupported_fields_are_errors_naming_the_field_and_the_file() {
    let cases: &[(&str, &str)] = &[
        ("resources: [a.yaml]\nhelmCharts: []\n", "helmCharts"),
        ("resources: [a.yaml]\nreplacements: []\n", "replacements"),
        ("resources: [a.yaml]\ncomponents: [../c]\n", "components"),
        ("resources: [a.yaml]\nvars: []\n", "vars"),
        (
            "resources: [a.yaml]\nsortOptions: {order: fifo}\n",
            "sortOptions",
        ),
        ("kind: Component\nresources: [a.yaml]\n", "kind: Component"),
        (
            "resources: [a.yaml]\npatches:\n- path: p.yaml\n  options: {allowNameChange: true}\n",
            "patches[0].options",
        ),
        (
            "resources: [a.yaml]\npatches:\n- path: p.yaml\n  target: {kind: ConfigMap, fieldPath: x}\n",
            "patches[0].target.fieldPath",
        ),
        (
            "resources: [a.yaml]\nlabels:\n- pairs: {a: b}\n  fields: [{path: spec/x}]\n",
            "labels[0].fields",
        ),
        (
            "configMapGenerator:\n- name: x\n  bogus: 1\n",
            "configMapGenerator[0].bogus",
        ),
        (
            "configMapGenerator:\n- name: x\n  type: Opaque\n",
            "configMapGenerator[0].type",
        ),
        (
            "secretGenerator:\n- name: x\n  options: {labelz: {}}\n",
            "secretGenerator[0].options.labelz",
        ),
        ("generatorOptions: {prefix: x}\n", "generatorOptions.prefix"),
        (
            "resources: [a.yaml]\nimages:\n- {name: nginx, tagSuffix: x}\n",
            "images[0].tagSuffix",
        ),
        (
            "resources: [a.yaml]\nreplicas:\n- {name: a, count: 1, kind: Deployment}\n",
            "replicas[0].kind",
        ),
    ];
    for (kustomization, field) in cases {
        let r = repo(&[
            ("base/kustomization.yaml", kustomization),
            ("base/a.yaml", CM),
            ("base/p.yaml", CM),
            ("o/kustomization.yaml", "resources: [../base]\n"),
        ]);
        // Named in the base's file, even when rendered through an overlay.
        match render_err(r.path(), "o") {
            RenderError::UnsupportedField { file, field: f } => {
                assert_eq!(file, Path::new("base/kustomization.yaml"), "{field}");
                assert_eq!(&f, field);
            }
            other => panic!("{field}: expected UnsupportedField, got {other}"),
        }
        let e = render(r.path(), "base");
        assert!(
            e.contains("base/kustomization.yaml") && e.contains(field),
            "{e}"
        );
    }
}

#[test]
fn paths_leaving_the_repository_are_errors() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("resources: [../../x.yaml]\n", &[]),
        ("resources: [/etc/hostname]\n", &[]),
        ("resources: [a.yaml]\npatches:\n- path: ../../p.yaml\n", &[]),
        ("patchesStrategicMerge: [../../../p.yaml]\n", &[]),
        (
            "configMapGenerator:\n- name: x\n  files: [../../secret.txt]\n",
            &[],
        ),
        (
            "configMapGenerator:\n- name: x\n  files: [key=/etc/hostname]\n",
            &[],
        ),
        ("secretGenerator:\n- name: x\n  envs: [../../.env]\n", &[]),
    ];
    for (kustomization, _) in cases {
        let r = repo(&[("o/kustomization.yaml", kustomization), ("o/a.yaml", CM)]);
        match render_err(r.path(), "o") {
            RenderError::OutsideRepo { .. } => {}
            other => panic!("{kustomization}: expected OutsideRepo, got {other}"),
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_repository_is_an_error() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("cm.yaml"), CM).expect("write");
    let r = repo(&[("o/kustomization.yaml", "resources: [link.yaml]\n")]);
    std::os::unix::fs::symlink(outside.path().join("cm.yaml"), r.path().join("o/link.yaml"))
        .expect("symlink");
    let e = render_err(r.path(), "o");
    assert!(matches!(e, RenderError::OutsideRepo { .. }), "{e}");
}

/// Found by the fault suite's secrets area: a malformed secretGenerator
/// literal or env-file line was quoted whole in the error, which reaches
/// the record, `status`, Events and notifications.
#[test]
fn a_malformed_generator_value_is_not_quoted_in_the_error() {
    let planted = "hunter2-planted-value";
    for (kustomization, said) in [
        (
            format!("secretGenerator:\n- name: s\n  literals: [a=b, {planted}]\n"),
            "`secretGenerator[0].literals[1]` is not key=value",
        ),
        (
            format!("secretGenerator:\n- name: s\n  literals: [\"={planted}\"]\n"),
            "`secretGenerator[0].literals[0]` is not key=value",
        ),
        (
            "secretGenerator:\n- name: s\n  envs: [db.env]\n".to_string(),
            "o/db.env:3:1: the line has no `=`",
        ),
    ] {
        let dir = repo(&[
            ("o/kustomization.yaml", &kustomization),
            (
                "o/db.env",
                &format!("# the database\nUSER=app\n{planted}\n"),
            ),
        ]);
        let e = render(dir.path(), "o");
        assert!(!e.contains(planted), "the value is in: {e}");
        assert!(e.contains(said), "{e} does not say {said}");
    }
}

#[test]
fn kustomize_build_errors_are_errors_too() {
    let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n";
    let cases: &[(&str, &str)] = &[
        // A patch must find its resource, replicas their workload.
        (
            "resources: [a.yaml]\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: nope}\n",
            "matches no resource",
        ),
        (
            "resources: [a.yaml]\nreplicas: [{name: a, count: 2}]\n",
            "no Deployment",
        ),
        // Generators: no second object of an id, no merge without a base.
        (
            "resources: [a.yaml]\nconfigMapGenerator:\n- name: a\n",
            "already exists",
        ),
        (
            "configMapGenerator:\n- name: a\n  behavior: merge\n",
            "no ConfigMap `a`",
        ),
        (
            "configMapGenerator:\n- name: a\n  literals: [k=1, k=2]\n",
            "repeats the key `k`",
        ),
        ("resources: [a.yaml, a.yaml]\n", "declared twice"),
        (
            "resources: [https://github.com/acme/base]\n",
            "remote resource",
        ),
        ("resources: [.]\n", "cycle"),
        (
            "resources: [a.yaml]\npatches:\n- patch: '[{op: add, path: /x, value: 1}]'\n",
            "needs a `target`",
        ),
        (
            "resources: [a.yaml]\npatches:\n- target: {name: '(a'}\n  patch: '[]'\n",
            "patches[0].target.name",
        ),
        (
            "resources: [a.yaml]\nimages: [{name: nginx, newTag: 1.25}]\n",
            "quote it",
        ),
        (
            "resources: [a.yaml]\ncommonLabels: {version: 2}\n",
            "`commonLabels.version` must be a string",
        ),
        // kustomize would copy these into the object as fields.
        (
            "resources: [d.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec:\n      $retainKeys: [replicas]\n",
            "`$retainKeys` is not supported",
        ),
    ];
    for (kustomization, message) in cases {
        let r = repo(&[
            ("o/kustomization.yaml", kustomization),
            ("o/a.yaml", CM),
            ("o/d.yaml", dep),
        ]);
        let e = render(r.path(), "o");
        assert!(e.contains(message), "{kustomization}: {e}");
    }
}

#[test]
fn two_kustomization_files_in_one_directory_are_an_error() {
    let r = repo(&[
        ("o/kustomization.yaml", "resources: []\n"),
        ("o/kustomization.yml", "resources: []\n"),
    ]);
    let e = render(r.path(), "o");
    assert!(e.contains("more than one kustomization file"), "{e}");
}

#[test]
fn files_outside_the_kustomization_directory_are_errors_as_in_kustomize() {
    for kustomization in [
        "resources: [../shared/a.yaml]\n",
        "resources: [a.yaml]\npatches:\n- path: ../shared/p.yaml\n",
        "configMapGenerator:\n- name: x\n  files: [../shared/a.yaml]\n",
        "configMapGenerator:\n- name: x\n  envs: [../shared/x.env]\n",
    ] {
        let r = repo(&[
            ("o/kustomization.yaml", kustomization),
            ("o/a.yaml", CM),
            ("shared/a.yaml", CM),
            ("shared/p.yaml", CM),
            ("shared/x.env", "A=1\n"),
        ]);
        let e = render(r.path(), "o");
        assert!(e.contains("is not in or below o"), "{kustomization}: {e}");
    }
    #[cfg(unix)]
    {
        // A link inside the directory to a file elsewhere in the repository.
        let r = repo(&[
            ("o/kustomization.yaml", "resources: [link.yaml]\n"),
            ("shared/a.yaml", CM),
        ]);
        std::os::unix::fs::symlink("../shared/a.yaml", r.path().join("o/link.yaml"))
            .expect("symlink");
        let e = render(r.path(), "o");
        assert!(e.contains("is not in or below o"), "{e}");
    }
}

#[test]
fn placeholders_are_filled_in_patch_files_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| std::fs::write(tmp.path().join(rel), text).expect("write");
    write(
        "kustomization.yaml",
        "resources: [deploy.yaml]\npatches:\n  - path: replicas.yaml\n",
    );
    write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 1\n",
    );
    write(
        "replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: {{ .cluster.replicas }}\n",
    );
    let substitute = |text: &str, _: &Path| Ok(text.replace("{{ .cluster.replicas }}", "3"));
    let objs = render_path(&RenderRequest {
        repo_root: tmp.path(),
        path: ".",
        substitute: &substitute,
    })
    .expect("renders");
    assert_eq!(objs[0].json["spec"]["replicas"], 3);
}
