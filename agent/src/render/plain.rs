//! The plain renderer: YAML and JSON files, read as kubectl reads them.

use super::paths::{self, RepoPath};
use super::{RenderError, RenderRequest, Renderer, json, objects, yaml};
use crate::model::Object;
use std::path::Path;

/// Plain manifests: a file, or a directory walked recursively for `*.yaml`,
/// `*.yml` and `*.json` files (sorted by relative path, byte order; entries
/// starting with `.` skipped). Each file's text goes through the request's
/// substitution, then is split into documents (`---` for YAML, concatenated
/// values for `*.json`); empty and comment-only documents are skipped and
/// lists are expanded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Renderer for Plain {
    fn render(&self, req: &RenderRequest) -> Result<Vec<Object>, RenderError> {
        let (root, target) = paths::resolve(req.repo_root, req.path)?;
        let mut out = Vec::new();
        for file in paths::manifest_files(&root, &target)? {
            render_file(&file, req.substitute, &mut out)?;
        }
        Ok(out)
    }
}

/// Renders every file and document at the request's path that it can,
/// returning the objects and every error: a broken file or document does not
/// hide the next (for `wavesync validate`; [`Plain`] stops at the first).
pub(crate) fn render_all(req: &RenderRequest) -> (Vec<Object>, Vec<RenderError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let files = paths::resolve(req.repo_root, req.path)
        .and_then(|(root, t)| paths::manifest_files(&root, &t));
    match files {
        Ok(files) => {
            for file in files {
                match documents(&file, req.substitute) {
                    Ok(docs) => {
                        for doc in docs {
                            if let Err(e) = objects::collect(doc, &file.rel, &mut out) {
                                errors.push(e);
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    (out, errors)
}

/// Appends the objects of one file to `out`.
fn render_file(
    file: &RepoPath,
    substitute: &dyn Fn(&str, &Path) -> Result<String, String>,
    out: &mut Vec<Object>,
) -> Result<(), RenderError> {
    for doc in documents(file, substitute)? {
        objects::collect(doc, &file.rel, out)?;
    }
    Ok(())
}

/// The documents of one file: read, substituted, parsed.
fn documents(
    file: &RepoPath,
    substitute: &dyn Fn(&str, &Path) -> Result<String, String>,
) -> Result<Vec<yaml::Document>, RenderError> {
    let bytes = std::fs::read(&file.abs).map_err(|source| RenderError::Io {
        path: file.rel.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| RenderError::NotUtf8 {
        file: file.rel.clone(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = substitute(text, &file.rel).map_err(|message| RenderError::Substitute {
        file: file.rel.clone(),
        message,
    })?;
    let is_json = file.rel.extension().is_some_and(|e| e == "json");
    if is_json {
        json::documents(&text, &file.rel)
    } else {
        yaml::documents(&text, &file.rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Categorized, Category};
    use crate::render::{render_path, verbatim};
    use serde_json::{Value, json};
    use std::fs;
    use std::path::PathBuf;

    use crate::test_support::write_tree as repo;

    fn render(root: &Path, path: &str) -> Result<Vec<Object>, RenderError> {
        render_path(&RenderRequest {
            repo_root: root,
            path,
            substitute: &verbatim,
        })
    }

    fn cm(name: &str) -> String {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
    }

    #[test]
    fn a_directory_renders_in_sorted_path_order_with_origins() {
        let multi = format!(
            "# leading comment\n---\n{}---\n# only a comment\n---\n{}",
            cm("b1"),
            cm("b2")
        );
        let r = repo(&[
            ("w/b.yaml", &multi),
            ("w/a.yml", &cm("a")),
            (
                "w/sub/c.json",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
            ),
            ("w/a-z.yaml", &cm("az")),
            ("w/notes.txt", "not a manifest"),
            ("w/.hidden/h.yaml", &cm("hidden")),
            ("other/o.yaml", &cm("o")),
        ]);
        let objs = render(r.path(), "w").expect("renders");
        let names: Vec<_> = objs.iter().map(|o| o.reference().name).collect();
        assert_eq!(names, ["az", "a", "b1", "b2", "c"]);
        let b2 = &objs[3].origin;
        assert_eq!(b2.file, PathBuf::from("w/b.yaml"));
        assert_eq!(b2.line, Some(10));
        assert!(b2.doc > objs[2].origin.doc);
        assert_eq!(objs[4].origin.file, PathBuf::from("w/sub/c.json"));
        // Same input, same output.
        assert_eq!(render(r.path(), "w").expect("renders"), objs);
        assert_eq!(
            render(r.path(), "./w/../w/b.yaml").expect("renders"),
            objs[2..4].to_vec()
        );
    }

    /// Unquoted YAML 1.1 booleans in keys and values (`name: N`, `on: x`, `yes`).
    const KUBECTL_FIXTURE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {enabled: "yes"}
spec:
  paused: yes
  template:
    spec:
      containers:
      - name: web
        env:
        - name: N
          value: "N"
        - name: FLAG
          value: off
        - name: "y"
          value: Yes
        - name: yEs
          value: on
      nodeSelector:
        on: x
        Y: "1"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags}
data:
  enabled: yes
  quoted: "yes"
  mode: 0755
  when: 2024-01-01
  ratio: 1.0
"#;

    #[test]
    fn yaml_1_1_scalars_give_what_kubectl_gives() {
        let r = repo(&[("m.yaml", KUBECTL_FIXTURE)]);
        let objs = render(r.path(), "m.yaml").expect("renders");
        // `kubectl label --local -f m.yaml x=y -o json` (kubectl v1.32.4), label removed.
        let kubectl: [Value; 2] = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"annotations": {"enabled": "yes"}, "name": "web"},
                "spec": {"paused": true, "template": {"spec": {"containers": [{"env": [
                    {"name": false, "value": "N"}, {"name": "FLAG", "value": false},
                    {"name": "y", "value": true}, {"name": "yEs", "value": true}], "name": "web"}],
                    "nodeSelector": {"true": "1"}}}}}),
            json!({"apiVersion": "v1", "data": {"enabled": true, "mode": 493, "quoted": "yes", "ratio": 1, "when": "2024-01-01"},
                "kind": "ConfigMap", "metadata": {"name": "flags"}}),
        ];
        assert_eq!(
            objs.iter().map(|o| o.json.clone()).collect::<Vec<_>>(),
            kubectl
        );
    }

    #[test]
    fn substitution_runs_before_parsing() {
        let r = repo(&[(
            "sc.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {storageClassName: \"{{ .cluster.storageClass }}\"}\n",
        )]);
        let sub = |text: &str, file: &Path| -> Result<String, String> {
            assert_eq!(file, Path::new("sc.yaml"));
            Ok(text.replace("{{ .cluster.storageClass }}", "fast"))
        };
        let objs = render_path(&RenderRequest {
            repo_root: r.path(),
            path: ".",
            substitute: &sub,
        })
        .expect("renders");
        assert_eq!(
            objs[0].json.pointer("/spec/storageClassName"),
            Some(&json!("fast"))
        );
        let fail = |_: &str, _: &Path| -> Result<String, String> {
            Err("no value for .cluster.storageClass".into())
        };
        let e = render_path(&RenderRequest {
            repo_root: r.path(),
            path: ".",
            substitute: &fail,
        })
        .expect_err("fails");
        assert_eq!(
            e.to_string(),
            "sc.yaml: substitution failed: no value for .cluster.storageClass"
        );
    }

    #[test]
    fn list_documents_are_expanded() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n\
- apiVersion: v1\n  kind: Secret\n  metadata: {name: two}\n";
        let r = repo(&[("l.yaml", list)]);
        let objs = render(r.path(), ".").expect("renders");
        let refs: Vec<_> = objs.iter().map(|o| o.reference().to_string()).collect();
        assert_eq!(refs, ["ConfigMap/one", "Secret/two"]);
    }

    #[test]
    fn bad_documents_are_named_with_file_line_and_field() {
        let r = repo(&[
            (
                "bad/syntax.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
            ),
            ("scalar/s.yaml", &format!("{}---\njust a string\n", cm("a"))),
            (
                "noname/n.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            ),
            ("nokind/n.yaml", "apiVersion: v1\nmetadata: {name: a}\n"),
            (
                "noversion/n.json",
                r#"{"kind":"ConfigMap","metadata":{"name":"a"}}"#,
            ),
        ]);
        let e = render(r.path(), "bad").expect_err("syntax");
        assert!(
            matches!(
                e,
                RenderError::Syntax { line: 5, .. } | RenderError::Syntax { line: 4, .. }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("bad/syntax.yaml:"), "{e}");
        let e = render(r.path(), "scalar").expect_err("scalar");
        assert_eq!(
            e.to_string(),
            "scalar/s.yaml:6: document 2 is a string, not a mapping (an object)"
        );
        let e = render(r.path(), "noname").expect_err("no name");
        assert_eq!(
            e.to_string(),
            "noname/n.yaml:1: object has no metadata.name (a non-empty string is required)"
        );
        let e = render(r.path(), "nokind").expect_err("no kind");
        assert!(
            matches!(e, RenderError::MissingField { field: "kind", .. }),
            "{e}"
        );
        let e = render(r.path(), "noversion").expect_err("no apiVersion");
        assert!(
            matches!(
                e,
                RenderError::MissingField {
                    field: "apiVersion",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.category(), Category::Config);
    }

    #[test]
    fn render_all_keeps_going_after_a_broken_file_or_document() {
        let r = repo(&[
            (
                "w/a.yaml",
                &format!(
                    "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{}}\n---\n{}",
                    cm("a1"),
                    cm("a2")
                ),
            ),
            ("w/b.yaml", "apiVersion: v1\nkind: [\n"),
            ("w/c.yaml", &cm("c")),
        ]);
        let (objs, errors) = crate::render::render_path_all(&RenderRequest {
            repo_root: r.path(),
            path: "w",
            substitute: &verbatim,
        });
        let names: Vec<_> = objs.iter().map(|o| o.reference().name).collect();
        assert_eq!(names, ["a1", "a2", "c"]);
        let errors: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0],
            "w/a.yaml:6: object has no metadata.name (a non-empty string is required)"
        );
        assert!(errors[1].starts_with("w/b.yaml:"), "{errors:?}");
    }

    #[test]
    fn paths_must_stay_inside_the_repository() {
        let outside = repo(&[("secret.yaml", &cm("secret"))]);
        let r = repo(&[("w/a.yaml", &cm("a"))]);
        for path in ["..", "w/../..", "/etc", "../x"] {
            let e = render(r.path(), path).expect_err(path);
            assert!(matches!(e, RenderError::OutsideRepo { .. }), "{path}: {e}");
            assert_eq!(e.category(), Category::Config);
        }
        let e = render(r.path(), "nope").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "nope: no such file or directory in the repository"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), r.path().join("w/link")).expect("symlink");
            let e = render(r.path(), "w").expect_err("symlinked dir");
            assert!(
                matches!(e, RenderError::OutsideRepo { ref path, .. } if path == "w/link"),
                "{e}"
            );
            let e = render(r.path(), "w/link/secret.yaml").expect_err("through symlink");
            assert!(matches!(e, RenderError::OutsideRepo { .. }), "{e}");
            fs::remove_file(r.path().join("w/link")).expect("rm");
            std::os::unix::fs::symlink(r.path().join("w"), r.path().join("w/loop"))
                .expect("symlink");
            let objs = render(r.path(), "w").expect("a loop inside the repo is read once");
            assert_eq!(objs.len(), 1);
        }
    }

    #[test]
    fn overlays_and_charts_are_not_supported_yet() {
        let r = repo(&[
            ("o/kustomization.yaml", "resources: [a.yaml]\n"),
            ("c/Chart.yaml", "name: c\n"),
            ("p/a.yaml", &cm("a")),
            ("p/nested/kustomization.yaml", "resources: []\n"),
        ]);
        // Overlays are rendered by the overlay renderer now (here: a missing resource).
        let e = render(r.path(), "o").expect_err("overlay");
        assert!(matches!(e, RenderError::Missing { .. }), "{e}");
        let e = render(r.path(), "c").expect_err("chart");
        assert!(
            matches!(
                e,
                RenderError::Unsupported {
                    what: "Helm charts (Chart.yaml)",
                    ..
                }
            ),
            "{e}"
        );
        let e = render(r.path(), "p").expect_err("nested overlay");
        assert!(
            matches!(e, RenderError::Unsupported { ref path, .. } if path == "p/nested"),
            "{e}"
        );
    }
}
