//! Fuzzing the readers of what a repository holds (issue 12, area 4): the
//! manifest reader (plain YAML and JSON), the kustomization reader and the
//! `wavesync.yaml` reader, each fed generated text — token soup, and good
//! files with bytes inserted, removed or replaced. Whatever the input, a
//! reader returns (no panic, no stack overflow, no hang: each input is
//! bounded in size and the whole run in case count), and an error names the
//! file it is about.
//!
//! A proptest corpus run in CI: the case counts keep the file well under a
//! minute on CI's two cores. `PROPTEST_CASES` raises them for a longer run.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::path::Path;
use wavesync::render::{RenderRequest, render_path, render_path_all, verbatim};

/// Pieces that YAML readers trip over, and the words of manifests.
const TOKENS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "data",
    "resources",
    "patches",
    "namespace: shop",
    "v1",
    "ConfigMap",
    "List",
    "items",
    ": ",
    ":",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a",
    "*a",
    "&b",
    "*b",
    "<<: *a",
    "!!binary",
    "!!int",
    "!!str",
    "!foo",
    "? ",
    "|",
    ">-",
    "'",
    "\"",
    "\\",
    "#",
    "---",
    "...",
    "%YAML 1.2",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\t",
    "  ",
    "    ",
    " ",
    "é",
    "\u{feff}",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "0x1F",
    "0755",
    "1e999",
    ".inf",
    ".nan",
    "~",
    "null",
    "yes",
    "on",
    "2024-01-01",
    "{{ .cluster.region }}",
    "{{",
    "}}",
    "../",
    "/etc/passwd",
    "kustomization.yaml",
    "x",
];

/// A good manifest, kustomization and wavesync.yaml, as seeds for mutation.
const MANIFEST: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n  labels: &l { app: web }\ndata:\n  a: \"1\"\n  b: [x, y]\n---\napiVersion: v1\nkind: List\nitems:\n  - kind: ConfigMap\n    metadata: { name: other, labels: *l }\n";
const KUSTOMIZATION: &str = "namespace: shop\nnamePrefix: p-\nresources:\n  - cm.yaml\ncommonLabels: { app: web }\nconfigMapGenerator:\n  - name: gen\n    literals: [a=b]\npatches:\n  - patch: |\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: { name: cm }\n      data: { c: d }\n";
const WAVESET: &str = "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: { name: shop }\nspec:\n  defaults: { timeout: 10s, retry: { attempts: 2 } }\n  namespace: shop\n  waves:\n    - name: base\n      path: waves/base\n      health:\n        - { apiVersion: v1, kind: ConfigMap, ready: \"true\" }\nclusters:\n  - name: east\n    values: { region: eu }\nvalues:\n  region: { required: true }\n";

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(500),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Token soup: up to 80 tokens.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat().into_bytes())
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Replace(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(at, t)| Edit::Insert(at, t.as_bytes().to_vec())),
        (any::<usize>(), 1usize..12).prop_map(|(at, n)| Edit::Remove(at, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
    ]
}

/// `seed` with up to 8 edits.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(edit(), 1..8).prop_map(move |edits| {
        let mut b = seed.as_bytes().to_vec();
        for e in edits {
            match e {
                Edit::Insert(at, t) => {
                    let at = at % (b.len() + 1);
                    b.splice(at..at, t);
                }
                Edit::Remove(at, n) if !b.is_empty() => {
                    let at = at % b.len();
                    let end = (at + n).min(b.len());
                    b.drain(at..end);
                }
                Edit::Remove(..) => {}
                Edit::Replace(at, byte) if !b.is_empty() => {
                    let at = at % b.len();
                    b[at] = byte;
                }
                Edit::Replace(..) => {}
            }
        }
        b
    })
}

fn input(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![soup(), mutated(seed)]
}

fn repo_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, bytes) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

fn render(root: &Path, path: &str) -> (Result<usize, String>, Vec<String>) {
    let req = RenderRequest {
        repo_root: root,
        path,
        substitute: &verbatim,
    };
    let one = render_path(&req)
        .map(|o| o.len())
        .map_err(|e| e.to_string());
    let (_, all) = render_path_all(&req);
    (one, all.iter().map(ToString::to_string).collect())
}

proptest! {
    #![proptest_config(config())]

    /// Plain manifests: every error names the file.
    #[test]
    fn manifest_reader_never_panics(text in input(MANIFEST), json in any::<bool>()) {
        let file = if json { "waves/app/fuzzed.json" } else { "waves/app/fuzzed.yaml" };
        let dir = repo_with(&[(file, &text)]);
        let (one, all) = render(dir.path(), "waves/app");
        if let Err(e) = one {
            prop_assert!(e.contains(file), "the error does not name {file}: {e}");
        }
        for e in all {
            prop_assert!(e.contains(file), "the error does not name {file}: {e}");
        }
    }

    /// kustomization.yaml: every error names a file of the overlay.
    #[test]
    fn kustomization_reader_never_panics(text in input(KUSTOMIZATION)) {
        let dir = repo_with(&[
            ("waves/app/kustomization.yaml", &text),
            ("waves/app/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
        ]);
        let (one, _) = render(dir.path(), "waves/app");
        if let Err(e) = one {
            prop_assert!(e.contains("waves/app/"), "the error names no file of the overlay: {e}");
        }
    }

    /// wavesync.yaml: every error names the file.
    #[test]
    fn waveset_reader_never_panics(text in input(WAVESET)) {
        let dir = repo_with(&[
            ("wavesync.yaml", &text),
            ("waves/base/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
        ]);
        if let Err(e) = wavesync::config::load(dir.path(), None) {
            let e = e.to_string();
            prop_assert!(e.contains("wavesync.yaml"), "the error does not name wavesync.yaml: {e}");
        }
    }
}
