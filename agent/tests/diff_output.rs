//! The outputs of `wavesync diff` against golden files: Markdown and JSON
//! of a real two-commit repository (through the binary), and Markdown,
//! JSON and text of a live-mode diff built by hand. Also: colours only when
//! asked or on a terminal, no Secret value in any output, the exit codes of
//! every format, and a comment that stays under GitHub's size limit.
//!
//! Goldens live in tests/golden/. To regenerate them after an intended
//! change of an output, run
//!
//!     UPDATE_GOLDEN=1 cargo nextest run -p wavesync --test diff_output
//!
//! and read every changed golden (`git diff agent/tests/golden`) before
//! keeping it: a golden is only as right as the eye that checked it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestRepo, configmap, job, write_standard};
use std::path::PathBuf;
use std::process::Command;
use wavesync::diff::{
    Added, Changed, Conflict, Drift, Mode, PlanDiff, Rejected, Skipped, Source, WaveDiff,
    render_json, render_markdown, render_text,
};
use wavesync::model::ObjRef;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: shop}\n\
                      stringData: {user: admin, password: s3cr3t-one}\n";

/// A Secret the second commit adds.
const API_KEY: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: api-key, namespace: shop}\n\
                       type: Opaque\nstringData: {key: k3y-v4lue}\n";

/// Every Secret value of [`fixture`]: none may appear in any output.
const SECRET_VALUES: [&str; 6] = [
    "admin",
    "s3cr3t",
    "dG9rZW4",
    "token-value",
    "k3y-v4lue",
    "czNjcjN0",
];

/// A test repository and its two commits. From the first to the second:
/// in `base`, a ConfigMap value changes and the Secret `creds` changes a
/// value and gains a key; `crds` stays as it was; in `jobs`, the Job's image
/// changes (it runs again); in `apps`, a ConfigMap and a Secret are added and
/// a ConfigMap is removed.
fn fixture() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    write_standard(&repo);
    repo.write("waves/base/creds.yaml", SECRET);
    repo.write(
        "waves/apps/legacy.yaml",
        &configmap("legacy", "shop", "old", &[]),
    );
    let first = repo.commit("base");

    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    repo.write(
        "waves/base/creds.yaml",
        &format!(
            "{}data: {{token: dG9rZW4tdmFsdWU=}}\n",
            SECRET.replace("s3cr3t-one", "s3cr3t-two")
        ),
    );
    repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "2.0", &[]),
    );
    repo.write(
        "waves/apps/extra.yaml",
        &configmap("extra", "shop", "x", &[]),
    );
    repo.write("waves/apps/api-key.yaml", API_KEY);
    repo.remove("waves/apps/legacy.yaml");
    let second = repo.commit("change");
    (repo, first, second)
}

/// Runs `wavesync diff --base --head` with more arguments: exit code,
/// stdout, stderr.
fn diff(repo: &TestRepo, base: &str, head: &str, more: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .args(["diff", "--base", base, "--head", head, "--dir"])
        .arg(repo.path())
        .args(more)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Compares `actual` with `tests/golden/<name>`, or writes it there with
/// `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!(
            "{name} differs from tests/golden/{name} (UPDATE_GOLDEN=1 rewrites it; read it before keeping it):\n{diff}"
        );
    }
}

/// The commit ids (whole and shortened) replaced by placeholders: they
/// change with every run (commit times). Digests stay: they depend on the
/// rendered objects only.
fn placeholders(text: &str, first: &str, second: &str) -> String {
    text.replace(first, "<base>")
        .replace(second, "<head>")
        .replace(&first[..12], "<base>")
        .replace(&second[..12], "<head>")
}

#[test]
fn revisions_markdown_and_json_match_their_goldens() {
    let (repo, first, second) = fixture();
    let (code, md, err) = diff(&repo, &first, &second, &["--output", "markdown"]);
    assert_eq!(code, 2, "{md}{err}");
    golden("revisions.md", &placeholders(&md, &first, &second));
    let (code, json, err) = diff(&repo, &first, &second, &["--output", "json"]);
    assert_eq!(code, 2, "{json}{err}");
    serde_json::from_str::<serde_json::Value>(&json).unwrap();
    golden("revisions.json", &placeholders(&json, &first, &second));
}

#[test]
fn a_markdown_limit_gives_a_smaller_comment_with_the_same_table() {
    let (repo, first, second) = fixture();
    let (_, full, _) = diff(&repo, &first, &second, &["--output", "markdown"]);
    let (code, small, err) = diff(
        &repo,
        &first,
        &second,
        &["--output", "markdown", "--markdown-limit", "2000"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        small.len() < full.len(),
        "{} vs {}",
        small.len(),
        full.len()
    );
    assert!(small.contains("diffs are left out"), "{small}");
    let table = |md: &str| {
        md.lines()
            .filter(|l| l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&small), table(&full));
    assert!(
        small.contains("`ConfigMap shop/legacy`"),
        "every object is still listed:\n{small}"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let (repo, first, second) = fixture();
    let (code, coloured, _) = diff(&repo, &first, &second, &["--color", "always"]);
    assert_eq!(code, 2);
    assert!(coloured.contains("\x1b["), "{coloured}");
    // Piped, as here, stdout is not a terminal.
    let (code, plain, _) = diff(&repo, &first, &second, &[]);
    assert_eq!(code, 2);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("wave base: re-runs (digest "), "{plain}");
    // The same text, less the escapes.
    assert_eq!(strip_ansi(&coloured), plain);
    let (_, never, _) = diff(&repo, &first, &second, &["--color", "never"]);
    assert_eq!(never, plain);
}

#[test]
fn no_secret_value_in_any_output() {
    let (repo, first, second) = fixture();
    for output in ["text", "markdown", "json"] {
        // Both ways, so that the Secrets are added, changed and removed.
        for (base, head) in [(&first, &second), (&second, &first)] {
            let (code, out, err) = diff(&repo, base, head, &["--output", output]);
            assert_eq!(code, 2, "{out}{err}");
            for value in SECRET_VALUES {
                assert!(
                    !out.contains(value),
                    "{value} leaked in the {output} output:\n{out}"
                );
            }
            // The change itself is shown, only not the values.
            assert!(out.contains("creds"), "{out}");
            assert!(
                out.contains("(masked, changed)") || out.contains("(masked)"),
                "{out}"
            );
        }
    }
}

#[test]
fn exit_codes_are_the_same_in_every_format() {
    let (repo, first, second) = fixture();
    for output in ["text", "markdown", "json"] {
        let (code, out, err) = diff(&repo, &first, &second, &["--output", output]);
        assert_eq!(code, 2, "{output}: {out}{err}");
        let (code, out, err) = diff(&repo, &first, &first, &["--output", output]);
        assert_eq!(code, 0, "{output}: {out}{err}");
        match output {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(v["changes"], false, "{out}");
            }
            _ => assert!(out.to_lowercase().contains("no changes"), "{out}"),
        }
        let (code, out, err) = diff(&repo, "no-such-branch", &first, &["--output", output]);
        assert_eq!(code, 1, "{output}: {out}{err}");
        assert!(out.is_empty(), "nothing on stdout on error: {out}");
    }
}

// ------------------------------------------------------------ live mode

fn obj(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjRef {
    ObjRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn digest(c: char) -> Option<String> {
    Some(c.to_string().repeat(64))
}

/// A live diff with every kind of finding: a wave not yet completed, one
/// at an older digest, one at the head's digest but drifted, one unchanged,
/// one removed from Git; drift with and without a time, conflicts on one
/// line and on several, a rejection.
fn live_diff() -> (PlanDiff, Source) {
    let web = obj("apps/v1", "Deployment", "shop", "web");
    let waves = vec![
        WaveDiff {
            name: "base".into(),
            base_digest: digest('a'),
            head_digest: digest('a'),
            changed: vec![Changed {
                reference: obj("v1", "ConfigMap", "shop", "settings"),
                moved_from: None,
                diff: "--- live\n+++ after sync\n@@ -5,3 +5,3 @@\n data:\n-  level: debug\n+  level: info\n   mode: fast\n".into(),
                drift: vec![Drift {
                    path: "data.level".into(),
                    manager: "kubectl-edit".into(),
                    operation: "Update".into(),
                    subresource: None,
                    time: None,
                }],
            }],
            ..WaveDiff::default()
        },
        WaveDiff {
            name: "crds".into(),
            base_digest: digest('b'),
            head_digest: digest('b'),
            skipped: vec![Skipped {
                component: "widget-operator".into(),
                reason: "ClusterRole widget-manager already exists, managed by another installer"
                    .into(),
            }],
            ..WaveDiff::default()
        },
        WaveDiff {
            name: "apps".into(),
            base_digest: digest('c'),
            head_digest: digest('d'),
            added: vec![Added {
                reference: obj("v1", "Service", "shop", "web"),
                yaml: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ports:\n  - port: 80\n".into(),
            }],
            changed: vec![Changed {
                reference: web.clone(),
                moved_from: None,
                diff: "--- live\n+++ after sync\n@@ -7,7 +7,7 @@\n spec:\n-  replicas: 5\n+  replicas: 2\n   template:\n     spec:\n       containers:\n       - name: main\n-        image: registry.example.com/web:1.0-hotfix\n+        image: registry.example.com/web:1.1\n".into(),
                drift: vec![
                    Drift {
                        path: "spec.replicas".into(),
                        manager: "kubectl".into(),
                        operation: "Update".into(),
                        subresource: Some("scale".into()),
                        time: Some("2025-03-14T09:26:53Z".into()),
                    },
                    Drift {
                        path: "spec.template.spec.containers[name=main].image".into(),
                        manager: "kubectl-set".into(),
                        operation: "Update".into(),
                        subresource: None,
                        time: Some("2025-03-14T10:02:11Z".into()),
                    },
                ],
            }],
            conflicts: vec![
                Conflict {
                    reference: web,
                    message: "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas".into(),
                },
                Conflict {
                    reference: obj("v1", "ConfigMap", "shop", "tuning"),
                    message: "Apply failed with 2 conflicts: conflicts with \"helm\" using v1:\n- .data.mode\n- .data.level".into(),
                },
            ],
            ..WaveDiff::default()
        },
        WaveDiff {
            name: "jobs".into(),
            base_digest: None,
            head_digest: digest('e'),
            added: vec![Added {
                reference: obj("batch/v1", "Job", "shop", "migrate"),
                yaml: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: shop\n".into(),
            }],
            jobs_rerun: vec![obj("batch/v1", "Job", "shop", "migrate")],
            unmet: vec!["Secret shop/db-creds does not exist".into()],
            rejected: vec![Rejected {
                reference: obj("apps/v1", "Deployment", "shop", "worker"),
                origin: "waves/jobs/worker.yaml:1".into(),
                message: "Deployment.apps \"worker\" is invalid: spec.template.spec.containers[0].image: Required value".into(),
            }],
            ..WaveDiff::default()
        },
        WaveDiff {
            name: "legacy".into(),
            base_digest: digest('f'),
            head_digest: None,
            removed: vec![obj("v1", "ConfigMap", "shop", "old")],
            ..WaveDiff::default()
        },
    ];
    let source = Source {
        mode: Mode::Live,
        base: "kind-dev".into(),
        head: "working tree".into(),
        cluster: Some("dev".into()),
    };
    (PlanDiff { waves }, source)
}

#[test]
fn live_outputs_match_their_goldens() {
    let (diff, source) = live_diff();
    golden("live.md", &render_markdown(&diff, &source));
    golden("live.json", &render_json(&diff, &source));
    let text = render_text(&diff, &source, false);
    assert!(!text.contains('\x1b'), "{text}");
    golden("live.txt", &text);
    let coloured = render_text(&diff, &source, true);
    assert!(coloured.contains("\x1b["), "{coloured}");
    assert_eq!(strip_ansi(&coloured), text);
}

/// Between a commit and the working tree.
fn revisions() -> Source {
    Source {
        mode: Mode::Revisions,
        base: "0123456789abcdef0123456789abcdef01234567".into(),
        head: "working tree".into(),
        cluster: None,
    }
}

#[test]
fn no_changes_is_short_in_every_output() {
    let source = revisions();
    let diff = PlanDiff {
        waves: vec![WaveDiff {
            name: "base".into(),
            base_digest: digest('a'),
            head_digest: digest('a'),
            ..WaveDiff::default()
        }],
    };
    assert_eq!(
        render_text(&diff, &source, true),
        "diff base 0123456789ab → head working tree\n\
         no changes: every wave renders the same objects\n"
    );
    assert_eq!(
        render_markdown(&diff, &source),
        "### wavesync diff\n\nBase `0123456789ab` → head the working tree\n\n\
         No changes: every wave renders the same objects.\n"
    );
}

// ------------------------------------------------------------ markdown limits

/// A wave of `n` changed ConfigMaps, each with a diff of `lines` lines.
fn big_wave(n: usize, lines: usize) -> WaveDiff {
    let changed = (0..n)
        .map(|i| Changed {
            reference: obj("v1", "ConfigMap", "shop", &format!("cm-{i:04}")),
            moved_from: None,
            diff: format!(
                "--- base\n+++ head\n@@ -1,{lines} +1,{lines} @@\n{}",
                "-  key: a value that changes in every line of this diff\n".repeat(lines)
            ),
            drift: Vec::new(),
        })
        .collect();
    WaveDiff {
        name: "big".into(),
        base_digest: digest('a'),
        head_digest: digest('b'),
        changed,
        ..WaveDiff::default()
    }
}

#[test]
fn a_long_comment_leaves_diffs_out_but_keeps_the_table_and_every_object() {
    let source = revisions();
    let small = WaveDiff {
        name: "small".into(),
        base_digest: digest('c'),
        head_digest: digest('d'),
        removed: vec![obj("v1", "ConfigMap", "shop", "gone")],
        ..WaveDiff::default()
    };
    let diff = PlanDiff {
        waves: vec![big_wave(40, 60), small],
    };
    let md = render_markdown(&diff, &source);
    assert!(md.len() < 65_536, "{} characters", md.len());
    assert!(md.contains("| big | reruns | 0 | 40 | 0 | 0 |"), "{md}");
    assert!(md.contains("| small | reruns | 0 | 0 | 1 | 0 |"), "{md}");
    assert!(md.contains("diffs are left out"), "{md}");
    for i in 0..40 {
        assert!(md.contains(&format!("`ConfigMap shop/cm-{i:04}`")), "{md}");
    }
    assert!(md.contains("`ConfigMap shop/gone`"), "{md}");
    // The first diffs fit, the rest say they were left out.
    assert!(
        md.contains("- `ConfigMap shop/cm-0000`\n  ```diff\n"),
        "{md}"
    );
    assert!(
        md.contains("- `ConfigMap shop/cm-0039` *(diff left out: comment size limit)*\n"),
        "{md}"
    );
    assert!(md.trim_end().ends_with("</details>"), "{md}");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );

    // So many objects that even the list does not fit.
    let diff = PlanDiff {
        waves: vec![big_wave(5_000, 1)],
    };
    let md = render_markdown(&diff, &source);
    assert!(md.len() < 65_536, "{} characters", md.len());
    assert!(md.contains("| big | reruns | 0 | 5000 | 0 | 0 |"), "{md}");
    assert!(md.contains("objects are not listed"), "{md}");
    assert!(md.contains("- … and "), "{md}");
    // Every diff is left out: the note says so once, not each entry.
    assert!(!md.contains("diff left out"), "{md}");
    assert!(md.trim_end().ends_with("</details>"), "{md}");
}

#[test]
fn markdown_survives_backticks_and_pipes_in_content() {
    let source = revisions();
    let diff = PlanDiff {
        waves: vec![WaveDiff {
            name: "a|b".into(),
            base_digest: None,
            head_digest: digest('a'),
            added: vec![Added {
                reference: obj("v1", "ConfigMap", "shop", "docs"),
                yaml: "data:\n  readme: |\n    ```\n    not the end\n    ````\n".into(),
            }],
            ..WaveDiff::default()
        }],
    };
    let md = render_markdown(&diff, &source);
    assert!(md.contains("| a\\|b | new |"), "{md}");
    // Longer than the longest run of backticks inside.
    assert!(md.contains("  `````yaml\n"), "{md}");
    assert!(md.contains("\n  `````\n"), "{md}");
    assert!(md.contains("<summary><b>a|b</b>"), "{md}");
}

/// `s` without ANSI SGR escapes (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
