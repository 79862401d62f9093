//! The overlay corpus (tests/overlays/<case>/) rendered by wavesync and by
//! `kubectl kustomize` (kubectl v1.32, kustomize v5.5.0): the same objects,
//! compared as parsed objects, ignoring order.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use wavesync::render::{RenderRequest, render_path, verbatim};

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

fn set(objs: Vec<Value>) -> Vec<String> {
    let mut s: Vec<String> = objs
        .iter()
        .map(|o| serde_json::to_string_pretty(&canonical(o)).expect("json"))
        .collect();
    s.sort();
    s
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

#[test]
fn overlays_render_as_kubectl_kustomize_does() {
    let cases = cases();
    assert!(cases.len() >= 10, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let ours = render_path(&RenderRequest {
            repo_root: case,
            path: ".",
            substitute: &verbatim,
        });
        let ours = match ours {
            Ok(objs) => set(objs.into_iter().map(|o| o.json).collect()),
            Err(e) => {
                failures.push(format!("{}: wavesync failed: {e}", case.display()));
                continue;
            }
        };
        let theirs = set(kubectl(case));
        if ours != theirs {
            let only_ours: Vec<_> = ours.iter().filter(|o| !theirs.contains(o)).collect();
            let only_theirs: Vec<_> = theirs.iter().filter(|o| !ours.contains(o)).collect();
            failures.push(format!(
                "{}: objects differ\n--- wavesync only:\n{}\n--- kubectl only:\n{}",
                case.display(),
                only_ours
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                only_theirs
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
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

fn render(root: &Path, path: &str) -> String {
    render_path(&RenderRequest {
        repo_root: root,
        path,
        substitute: &verbatim,
    })
    .expect_err("must fail")
    .to_string()
}

#[test]
fn unsupported_fields_and_escaping_paths_are_errors() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
    let r = repo(&[
        (
            "o/kustomization.yaml",
            "resources: [a.yaml]\nhelmCharts: []\n",
        ),
        ("o/a.yaml", cm),
        ("e/kustomization.yaml", "resources: [../../x.yaml]\n"),
        (
            "g/kustomization.yaml",
            "configMapGenerator:\n- name: x\n  bogus: 1\n",
        ),
    ]);
    let e = render(r.path(), "o");
    assert!(
        e.contains("o/kustomization.yaml") && e.contains("`helmCharts`"),
        "{e}"
    );
    let e = render(r.path(), "e");
    assert!(e.contains("leaves the repository"), "{e}");
    let e = render(r.path(), "g");
    assert!(
        e.contains("`bogus`") && e.contains("g/kustomization.yaml"),
        "{e}"
    );
}
