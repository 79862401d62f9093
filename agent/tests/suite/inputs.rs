//! Area 4: bad inputs. A cluster holds a good sync of a small repository
//! (three waves: plain manifests, a kustomize overlay over a base, plain
//! manifests again; a cluster with a required value). Then each case is a
//! fresh Git repository — the good one plus one defect — run through the
//! real binary's `validate` and `sync`, each with a 30 s limit. A case is
//! *clear* when both exit non-zero, neither panics, hangs or grows past
//! [`MEMORY_LIMIT`], both outputs hold every expected piece (the file, and
//! the line or the field where there is one), and the sync changed nothing
//! in the cluster.
//!
//! What "changed nothing" compares: every object of the kinds listed in
//! [`KINDS`] outside the `wavesync` namespace, by resourceVersion, and that
//! none appeared or vanished. The `wavesync` namespace is left out: it holds
//! the record ConfigMap (a failed sync records its failure there, as it
//! must), the Lease `sync` takes, and Events. Before each case the record
//! is put back as the good sync left it, so that every case starts from the
//! same cluster ("a previous good sync") and the good waves stay verified.

use crate::common::*;
use crate::suite::{Outcome, Scale};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one `validate` or `sync` may take.
const LIMIT: Duration = Duration::from_secs(30);
/// The peak resident size (VmHWM) a run may reach.
const MEMORY_LIMIT: u64 = 1 << 30;
/// The render timeout given to the binary (`--helm-timeout`).
const HELM_TIMEOUT: &str = "5s";
/// Cases run at once, each lane with its own simulated cluster.
const LANES: usize = 2;

const GOOD_WAVESET: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 10s, retry: { attempts: 1 } }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: config
      path: waves/config
    - name: apps
      path: waves/apps
clusters:
  - name: east
    values: clusters/east.yaml
values:
  region: { required: true }
"#;

/// The good waveset with one more wave, `extra`, at the end (`path` or a chart).
fn with_wave(extra: &str) -> String {
    GOOD_WAVESET.replace("clusters:\n", &format!("{extra}clusters:\n"))
}

const EXTRA_PATH_WAVE: &str = "    - name: extra\n      path: waves/extra\n";

fn chart_wave(chart: &str) -> String {
    format!(
        "    - name: extra\n      components:\n        - name: chart\n          chart: {{ path: charts/{chart}, releaseName: {chart}, namespace: shop }}\n"
    )
}

/// The good repository, into `dir`.
fn write_good(dir: &Path) {
    let w = |rel: &str, text: &str| put(dir, rel, text.as_bytes());
    w("wavesync.yaml", GOOD_WAVESET);
    w("clusters/east.yaml", "region: eu-1\n");
    w("waves/base/namespace.yaml", &namespace("shop", &[]));
    w(
        "waves/base/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  region: \"{{ .cluster.region }}\"\n",
    );
    w(
        "waves/config/kustomization.yaml",
        "namespace: shop\nresources:\n  - ../../bases/common\n  - app-config.yaml\n",
    );
    w(
        "waves/config/app-config.yaml",
        &configmap("app-config", "shop", "green", &[]),
    );
    w(
        "bases/common/kustomization.yaml",
        "resources:\n  - common.yaml\n",
    );
    w(
        "bases/common/common.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: common\ndata:\n  tier: gold\n",
    );
    w("waves/apps/web.yaml", &deployment("web", "shop", &[]));
    w(
        "waves/apps/web-config.yaml",
        &configmap("web-config", "shop", "1", &[]),
    );
}

fn put(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

// ------------------------------------------------------------------ cases

type Setup = Box<dyn Fn(&Path) + Send + Sync>;

/// One bad input.
struct Case {
    name: String,
    /// What the defect is, for the report.
    what: String,
    /// Pieces that both outputs must hold.
    expect: Vec<String>,
    /// Pieces only `validate` must hold.
    validate_expect: Vec<String>,
    /// Pieces only `sync` must hold.
    sync_expect: Vec<String>,
    setup: Setup,
}

fn case(
    name: &str,
    what: &str,
    expect: &[&str],
    setup: impl Fn(&Path) + Send + Sync + 'static,
) -> Case {
    Case {
        name: name.into(),
        what: what.into(),
        expect: expect.iter().map(|s| s.to_string()).collect(),
        validate_expect: Vec::new(),
        sync_expect: Vec::new(),
        setup: Box::new(setup),
    }
}

impl Case {
    fn validate_also(mut self, pieces: &[&str]) -> Case {
        self.validate_expect
            .extend(pieces.iter().map(|s| s.to_string()));
        self
    }
    fn sync_also(mut self, pieces: &[&str]) -> Case {
        self.sync_expect
            .extend(pieces.iter().map(|s| s.to_string()));
        self
    }
}

/// Writes text.
fn w(dir: &Path, rel: &str, text: &str) {
    put(dir, rel, text.as_bytes());
}

/// A case whose only change is one file, written as `text`.
fn file_case(name: &str, what: &str, rel: &'static str, text: String, expect: &[&str]) -> Case {
    case(name, what, expect, move |d| w(d, rel, &text))
}

/// A case that adds the wave `extra` (plain manifests) with one file.
fn extra_case(name: &str, what: &str, file: &'static str, text: String, expect: &[&str]) -> Case {
    case(name, what, expect, move |d| {
        w(d, "wavesync.yaml", &with_wave(EXTRA_PATH_WAVE));
        w(d, &format!("waves/extra/{file}"), &text);
    })
}

/// A case whose `wavesync.yaml` is `text`.
fn waveset_case(name: &str, what: &str, text: String, expect: &[&str]) -> Case {
    file_case(name, what, "wavesync.yaml", text, expect)
}

/// A chart `charts/<chart>` whose only template is `template`, in the wave `extra`.
fn chart_case(
    name: &str,
    what: &str,
    chart: &'static str,
    template: &'static str,
    expect: &[&str],
) -> Case {
    case(name, what, expect, move |d| {
        w(d, "wavesync.yaml", &with_wave(&chart_wave(chart)));
        w(
            d,
            &format!("charts/{chart}/Chart.yaml"),
            &format!("apiVersion: v2\nname: {chart}\nversion: 0.1.0\n"),
        );
        w(d, &format!("charts/{chart}/values.yaml"), "size: 1\n");
        w(d, &format!("charts/{chart}/templates/cm.yaml"), template);
    })
}

/// A ConfigMap `bad` with `body` after its `metadata` (for syntax cases).
const BAD_HEAD: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: shop\n";

fn cases(scale: Scale) -> Vec<Case> {
    let mut c = vec![
        // ---- YAML syntax, in a manifest
        file_case(
            "malformed-yaml",
            "an unclosed flow sequence",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  a: [x, y\n  b: z\n"),
            &["waves/apps/bad.yaml:8"],
        ),
        file_case(
            "bad-indentation",
            "a key indented deeper than its siblings",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  a: x\n    b: y\n"),
            &["waves/apps/bad.yaml:8"],
        ),
        file_case(
            "tab-indentation",
            "a tab used to indent",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: bad\n".into(),
            &["waves/apps/bad.yaml:4"],
        ),
        // A repeated key in a manifest keeps its last value, as kubectl
        // reads it (docs/repo-format.md); the strict readers refuse one.
        file_case(
            "values-duplicate-key",
            "region written twice in the cluster's values file",
            "clusters/east.yaml",
            "region: eu-1\nregion: eu-2\n".into(),
            &["clusters/east.yaml:2", "region"],
        ),
        file_case(
            "alias-bomb",
            "a billion laughs: nine levels of aliases, ten each",
            "waves/apps/bad.yaml",
            alias_bomb(),
            &["waves/apps/bad.yaml:", "alias"],
        ),
        file_case(
            "undefined-alias",
            "an alias to an anchor never defined",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  a: *nowhere\n"),
            &["waves/apps/bad.yaml:7", "unknown anchor"],
        ),
        file_case(
            "deep-flow-nesting",
            "100,000 nested flow sequences",
            "waves/apps/bad.yaml",
            format!(
                "{BAD_HEAD}data:\n  a: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            &["waves/apps/bad.yaml:7", "recursion limit"],
        ),
        file_case(
            "deep-block-nesting",
            "5,000 nested block mappings",
            "waves/apps/bad.yaml",
            {
                let mut s = format!("{BAD_HEAD}data:\n");
                for i in 0..5_000 {
                    s.push_str(&" ".repeat(i + 1));
                    s.push_str("k:\n");
                }
                s
            },
            &["waves/apps/bad.yaml:", "nesting"],
        ),
        file_case(
            "separator-garbage",
            "text after `---` on its line",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}--- kind: Secret\n"),
            &["waves/apps/bad.yaml:6"],
        ),
        file_case(
            "json-trailing-comma",
            "a JSON manifest with a trailing comma",
            "waves/apps/bad.json",
            "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"name\": \"bad\"},\n}\n".into(),
            &["waves/apps/bad.json:5"],
        ),
        file_case(
            "crlf-malformed",
            "CRLF line ends, an unclosed quote on line 7",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  a: \"x\n").replace('\n', "\r\n"),
            &["waves/apps/bad.yaml:7"],
        ),
        file_case(
            "crlf-missing-kind",
            "CRLF line ends, the second document has no kind",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}---\napiVersion: v1\nmetadata:\n  name: nokind\n")
                .replace('\n', "\r\n"),
            &["waves/apps/bad.yaml:7", "kind"],
        ),
        case(
            "big-file",
            "a 50 MB manifest (one ConfigMap value of 50 MB)",
            &["waves/apps/big.yaml:1", "1.5 MiB"],
            |d| {
                let mut s = format!("{BAD_HEAD}data:\n  blob: \"");
                s.push_str(&"x".repeat(50 << 20));
                s.push_str("\"\n");
                w(d, "waves/apps/big.yaml", &s);
            },
        ),
        case(
            "many-documents",
            "10,000 documents, the last without a kind",
            &["waves/apps/many.yaml:59995", "kind"],
            |d| {
                let mut s = String::new();
                for i in 0..9_999 {
                    s.push_str(&format!(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: many-{i}\ndata: {{}}\n---\n"
                    ));
                }
                // 6 lines per document: the last starts on line 59,995.
                s.push_str("apiVersion: v1\nmetadata:\n  name: last\n");
                w(d, "waves/apps/many.yaml", &s);
            },
        ),
        case(
            "binary-file",
            "a binary file with NUL bytes and a .yaml name",
            &["waves/apps/blob.yaml"],
            |d| {
                let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
                put(d, "waves/apps/blob.yaml", &bytes);
            },
        ),
        case(
            "latin-1",
            "a manifest in Latin-1 (not UTF-8)",
            &["waves/apps/latin.yaml", "UTF-8"],
            |d| {
                let mut b = BAD_HEAD.as_bytes().to_vec();
                b.extend_from_slice(b"data:\n  city: M\xfcnchen\n");
                put(d, "waves/apps/latin.yaml", &b);
            },
        ),
        case(
            "utf-16",
            "a manifest in UTF-16 with its byte-order mark",
            &["waves/apps/utf16.yaml"],
            |d| {
                let mut b = vec![0xff, 0xfe];
                for u in BAD_HEAD.encode_utf16() {
                    b.extend_from_slice(&u.to_le_bytes());
                }
                put(d, "waves/apps/utf16.yaml", &b);
            },
        ),
        // ---- objects
        file_case(
            "scalar-document",
            "a document that is a string",
            "waves/apps/bad.yaml",
            "just some text\n".into(),
            &["waves/apps/bad.yaml:1", "not a mapping"],
        ),
        file_case(
            "sequence-document",
            "a document that is a list",
            "waves/apps/bad.yaml",
            "- apiVersion: v1\n  kind: ConfigMap\n".into(),
            &["waves/apps/bad.yaml:1", "not a mapping"],
        ),
        file_case(
            "missing-apiversion",
            "an object without apiVersion",
            "waves/apps/bad.yaml",
            "kind: ConfigMap\nmetadata:\n  name: bad\n".into(),
            &["waves/apps/bad.yaml:1", "apiVersion"],
        ),
        file_case(
            "missing-kind",
            "an object without kind",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nmetadata:\n  name: bad\n".into(),
            &["waves/apps/bad.yaml:1", "kind"],
        ),
        file_case(
            "missing-name",
            "an object without metadata.name",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: shop\n".into(),
            &["waves/apps/bad.yaml:1", "metadata.name"],
        ),
        file_case(
            "empty-name",
            "metadata.name is an empty string",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"\"\n".into(),
            &["waves/apps/bad.yaml:1", "metadata.name is an empty string"],
        ),
        file_case(
            "number-name",
            "metadata.name is a number",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 42\n".into(),
            &["waves/apps/bad.yaml:1", "metadata.name is a number"],
        ),
        file_case(
            "metadata-list",
            "metadata is a list",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [a, b]\n".into(),
            &["waves/apps/bad.yaml:1", "metadata is a sequence"],
        ),
        file_case(
            "invalid-name",
            "metadata.name with capitals and an underscore",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  namespace: shop\n".into(),
            &["waves/apps/bad.yaml:", "Bad_Name"],
        ),
        file_case(
            "too-long-name",
            "metadata.name of 300 characters",
            "waves/apps/bad.yaml",
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: shop\n",
                "a".repeat(300)
            ),
            &["waves/apps/bad.yaml:", "metadata.name"],
        ),
        file_case(
            "invalid-namespace-name",
            "metadata.namespace that is not a DNS label",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: Shop.Main\n".into(),
            &["waves/apps/bad.yaml:", "Shop.Main"],
        ),
        file_case(
            "namespace-not-string",
            "metadata.namespace is a map",
            "waves/apps/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: {a: b}\n".into(),
            &["waves/apps/bad.yaml:", "metadata.namespace"],
        ),
        case(
            "no-namespace-anywhere",
            "a namespaced object without namespace, and no spec.namespace",
            &["waves/extra/loose.yaml:", "namespace"],
            |d| {
                w(
                    d,
                    "wavesync.yaml",
                    &with_wave(EXTRA_PATH_WAVE).replace("  namespace: shop\n", ""),
                );
                w(
                    d,
                    "waves/extra/loose.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loose\ndata: {}\n",
                );
            },
        ),
        extra_case(
            "unknown-kind",
            "a kind no CRD defines, in a new last wave",
            "gizmo.yaml",
            "apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n  namespace: shop\n".into(),
            &["waves/extra/gizmo.yaml:", "Gizmo"],
        ),
        extra_case(
            "misspelt-core-kind",
            "kind: ConfigMapp",
            "typo.yaml",
            "apiVersion: v1\nkind: ConfigMapp\nmetadata:\n  name: t\n  namespace: shop\n".into(),
            &["waves/extra/typo.yaml:", "ConfigMapp"],
        ),
        extra_case(
            "crd-never-comes",
            "a Widget whose CRD is in no wave and not in the cluster",
            "widget.yaml",
            WIDGET.into(),
            &["waves/extra/widget.yaml:", "Widget"],
        ),
        file_case(
            "same-object-two-waves",
            "ConfigMap settings (wave base) again in wave apps",
            "waves/apps/settings-again.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata: {}\n".into(),
            &["waves/apps/settings-again.yaml:", "waves/base/settings.yaml"],
        ),
        file_case(
            "same-object-one-wave",
            "Deployment web twice in wave apps",
            "waves/apps/web-copy.yaml",
            deployment("web", "shop", &[]),
            &["waves/apps/web-copy.yaml:", "waves/apps/web.yaml"],
        ),
        // ---- paths
        case(
            "symlink-file-escapes",
            "a manifest that is a symlink to /etc/passwd",
            &["waves/apps/evil.yaml", "leaves the repository"],
            |d| std::os::unix::fs::symlink("/etc/passwd", d.join("waves/apps/evil.yaml")).unwrap(),
        ),
        case(
            "symlink-dir-escapes",
            "a directory that is a symlink to /etc",
            &["waves/apps/etc", "leaves the repository"],
            |d| std::os::unix::fs::symlink("/etc", d.join("waves/apps/etc")).unwrap(),
        ),
        case(
            "symlink-relative-escapes",
            "a symlink ../../../.. out of the checkout",
            &["waves/apps/up.yaml", "leaves the repository"],
            |d| {
                std::os::unix::fs::symlink("../../../../outside.yaml", d.join("waves/apps/up.yaml"))
                    .unwrap()
            },
        ),
        waveset_case(
            "wave-path-escapes",
            "a wave path with `..` above the root",
            GOOD_WAVESET.replace("path: waves/apps", "path: ../apps"),
            &["wavesync.yaml:", "spec.waves[2].path", "leaves the repository"],
        ),
        waveset_case(
            "wave-path-absolute",
            "an absolute wave path",
            GOOD_WAVESET.replace("path: waves/apps", "path: /etc"),
            &["wavesync.yaml:", "spec.waves[2].path"],
        ),
        waveset_case(
            "missing-wave-path",
            "a wave path that does not exist",
            GOOD_WAVESET.replace("path: waves/apps", "path: waves/nowhere"),
            &["waves/nowhere"],
        )
        .validate_also(&["wavesync.yaml:", "spec.waves[2].path"]),
        // ---- kustomize
        file_case(
            "kustomize-dotdot",
            "a kustomize resource `../../../outside.yaml` above the root",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources:\n  - ../../bases/common\n  - ../../../outside.yaml\n".into(),
            &["waves/config/kustomization.yaml", "leaves the repository"],
        ),
        file_case(
            "kustomize-absolute",
            "a kustomize resource /etc/passwd",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources:\n  - /etc/passwd\n".into(),
            &["waves/config/kustomization.yaml", "/etc/passwd"],
        ),
        file_case(
            "kustomize-base-cycle",
            "a base that includes the overlay that includes it",
            "bases/common/kustomization.yaml",
            "resources:\n  - common.yaml\n  - ../../waves/config\n".into(),
            &["kustomization.yaml", "cycle"],
        ),
        file_case(
            "kustomize-self-cycle",
            "an overlay that lists itself",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources:\n  - .\n".into(),
            &["waves/config/kustomization.yaml", "cycle"],
        ),
        file_case(
            "kustomize-missing-resource",
            "a resource file that does not exist",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources:\n  - ../../bases/common\n  - missing.yaml\n".into(),
            &["waves/config/kustomization.yaml", "missing.yaml"],
        ),
        file_case(
            "kustomize-unknown-field",
            "a misspelt field `resourcez`",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresourcez:\n  - app-config.yaml\n".into(),
            &["waves/config/kustomization.yaml", "resourcez"],
        ),
        file_case(
            "kustomize-unsupported-field",
            "`helmCharts`, outside the supported subset",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources: [app-config.yaml]\nhelmCharts:\n  - name: x\n".into(),
            &["waves/config/kustomization.yaml", "helmCharts"],
        ),
        file_case(
            "kustomize-malformed",
            "malformed YAML in kustomization.yaml",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources: [app-config.yaml\n".into(),
            &["waves/config/kustomization.yaml:"],
        ),
        file_case(
            "kustomize-duplicate-key",
            "`resources` written twice",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources: [app-config.yaml]\nresources: [app-config.yaml]\n".into(),
            &["waves/config/kustomization.yaml:", "resources"],
        ),
        file_case(
            "kustomize-mistyped",
            "`resources` a string, not a list",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources: app-config.yaml\n".into(),
            &["waves/config/kustomization.yaml", "resources"],
        ),
        file_case(
            "kustomize-patch-no-target",
            "a strategic-merge patch of an object the overlay does not have",
            "waves/config/kustomization.yaml",
            "namespace: shop\nresources: [app-config.yaml]\npatches:\n  - patch: |\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: { name: nobody }\n      data: { a: b }\n".into(),
            &["waves/config/kustomization.yaml", "nobody"],
        ),
        // ---- charts
        chart_case(
            "chart-fail",
            "a template that calls `fail`",
            "failing",
            "{{ fail \"the chart refuses\" }}\n",
            &["charts/failing", "the chart refuses"],
        ),
        chart_case(
            "chart-parse-error",
            "a template that does not parse",
            "unparsable",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.size \n",
            &["charts/unparsable", "cm.yaml"],
        ),
        chart_case(
            "chart-bad-yaml",
            "a template that renders invalid YAML",
            "badyaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n",
            &["charts/badyaml", "cm.yaml"],
        ),
        chart_case(
            "chart-recursion",
            "a template that includes itself",
            "recursive",
            "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}\n",
            &["charts/recursive"],
        ),
        chart_case(
            "chart-never-ends",
            "a template that loops 10^10 times",
            "endless",
            "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
            &["charts/endless", "timed out"],
        ),
        case(
            "chart-no-chart-yaml",
            "a chart directory without Chart.yaml",
            &["charts/nochart"],
            |d| {
                w(d, "wavesync.yaml", &with_wave(&chart_wave("nochart")));
                w(d, "charts/nochart/templates/cm.yaml", "kind: ConfigMap\n");
            },
        ),
        // ---- wavesync.yaml
        waveset_case(
            "waveset-empty",
            "an empty wavesync.yaml",
            String::new(),
            &["wavesync.yaml:1", "empty"],
        ),
        waveset_case(
            "waveset-comment-only",
            "a wavesync.yaml with only a comment",
            "# nothing yet\n".into(),
            &["wavesync.yaml:1", "empty"],
        ),
        case("waveset-missing", "no wavesync.yaml", &["wavesync.yaml"], |d| {
            std::fs::remove_file(d.join("wavesync.yaml")).unwrap()
        }),
        waveset_case(
            "waveset-malformed",
            "malformed YAML in wavesync.yaml",
            GOOD_WAVESET.replace("    - name: config\n", "    - name: [config\n"),
            &["wavesync.yaml:10"],
        ),
        waveset_case(
            "waveset-tabs",
            "a tab indenting wavesync.yaml",
            GOOD_WAVESET.replace("  namespace: shop\n", "\tnamespace: shop\n"),
            &["wavesync.yaml:6"],
        ),
        waveset_case(
            "waveset-duplicate-key",
            "spec.namespace written twice",
            GOOD_WAVESET.replace("  namespace: shop\n", "  namespace: shop\n  namespace: other\n"),
            &["wavesync.yaml:7", "namespace"],
        ),
        waveset_case(
            "waveset-alias-bomb",
            "a billion laughs in wavesync.yaml",
            {
                // Where any YAML is allowed: the defaults of declared values.
                let mut s = GOOD_WAVESET.to_string();
                s.push_str("  b0: { default: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol] }\n");
                for i in 1..9 {
                    let refs = vec![format!("*a{}", i - 1); 10].join(", ");
                    s.push_str(&format!("  b{i}: {{ default: &a{i} [{refs}] }}\n"));
                }
                s
            },
            &["wavesync.yaml:"],
        ),
        case(
            "waveset-non-utf8",
            "a Latin-1 wavesync.yaml",
            &["wavesync.yaml", "UTF-8"],
            |d| {
                let mut b = GOOD_WAVESET.as_bytes().to_vec();
                b.extend_from_slice(b"# M\xfcnchen\n");
                put(d, "wavesync.yaml", &b);
            },
        ),
        waveset_case(
            "waveset-mistyped-waves",
            "spec.waves is a string",
            GOOD_WAVESET
                .split("  waves:\n")
                .next()
                .map(|head| format!("{head}  waves: base\n"))
                .unwrap(),
            &["wavesync.yaml:7", "spec.waves"],
        ),
        waveset_case(
            "waveset-mistyped-timeout",
            "a timeout that is not a duration",
            GOOD_WAVESET.replace("timeout: 10s", "timeout: ten"),
            &["wavesync.yaml:5", "spec.defaults.timeout"],
        ),
        waveset_case(
            "waveset-mistyped-attempts",
            "retry.attempts is a string",
            GOOD_WAVESET.replace("attempts: 1", "attempts: once"),
            &["wavesync.yaml:5", "attempts"],
        ),
        waveset_case(
            "waveset-unknown-top-field",
            "a misspelt top-level field `specs`",
            GOOD_WAVESET.replace("spec:\n", "specs:\n"),
            &["wavesync.yaml:4", "specs"],
        ),
        waveset_case(
            "waveset-unknown-wave-field",
            "a misspelt wave field `pathh`",
            GOOD_WAVESET.replace("      path: waves/apps", "      pathh: waves/apps"),
            &["wavesync.yaml:13", "pathh"],
        ),
        waveset_case(
            "waveset-wrong-apiversion",
            "apiVersion wavesync.io/v2",
            GOOD_WAVESET.replace("wavesync.io/v1alpha1", "wavesync.io/v2"),
            &["wavesync.yaml:1", "apiVersion"],
        ),
        waveset_case(
            "waveset-wrong-kind",
            "kind WaveSets",
            GOOD_WAVESET.replace("kind: WaveSet", "kind: WaveSets"),
            &["wavesync.yaml:2", "kind"],
        ),
        waveset_case(
            "waveset-no-name",
            "metadata without name",
            GOOD_WAVESET.replace("metadata: { name: shop }", "metadata: {}"),
            &["wavesync.yaml:3", "metadata"],
        ),
        waveset_case(
            "duplicate-wave-names",
            "two waves named base",
            GOOD_WAVESET.replace("- name: apps", "- name: base"),
            &["wavesync.yaml:12", "base"],
        ),
        waveset_case(
            "invalid-wave-name",
            "a wave named Apps_Wave",
            GOOD_WAVESET.replace("- name: apps", "- name: Apps_Wave"),
            &["wavesync.yaml:12", "Apps_Wave"],
        ),
        waveset_case(
            "wave-path-and-components",
            "a wave with both path and components",
            GOOD_WAVESET.replace(
                "      path: waves/apps\n",
                "      path: waves/apps\n      components:\n        - name: web\n          path: waves/apps\n",
            ),
            &["wavesync.yaml:12", "spec.waves[2]"],
        ),
        waveset_case(
            "wave-without-source",
            "a wave with neither path nor components",
            GOOD_WAVESET.replace("      path: waves/apps\n", ""),
            &["wavesync.yaml:12", "spec.waves[2]"],
        ),
        waveset_case(
            "no-waves",
            "an empty wave list",
            GOOD_WAVESET
                .split("  waves:\n")
                .next()
                .map(|head| format!("{head}  waves: []\n"))
                .unwrap(),
            &["wavesync.yaml:7", "spec.waves"],
        ),
        waveset_case(
            "bad-health-rule",
            "a CEL health rule that does not compile",
            GOOD_WAVESET.replace(
                "      path: waves/apps\n",
                "      path: waves/apps\n      health:\n        - apiVersion: apps/v1\n          kind: Deployment\n          ready: \"self.status.(\"\n",
            ),
            &["wavesync.yaml", "spec.waves[2].health[0].ready"],
        )
        .validate_also(&["wavesync.yaml:17"]),
        waveset_case(
            "unknown-requirement",
            "a requirement of an unknown type",
            GOOD_WAVESET.replace(
                "      path: waves/apps\n",
                "      path: waves/apps\n      requires:\n        - crdd: widgets.example.com\n",
            ),
            &["wavesync.yaml:15", "crdd"],
        ),
        // ---- values and placeholders
        file_case(
            "empty-required-value",
            "the required value region set to \"\"",
            "clusters/east.yaml",
            "region: \"\"\n".into(),
            &["region"],
        )
        .validate_also(&["clusters/east.yaml"]),
        file_case(
            "missing-required-value",
            "the required value region not set",
            "clusters/east.yaml",
            "{}\n".into(),
            &["region"],
        ),
        file_case(
            "undeclared-value",
            "a cluster value that is not declared (a typo)",
            "clusters/east.yaml",
            "region: eu-1\nregoin: eu-2\n".into(),
            &["clusters/east.yaml", "regoin"],
        ),
        file_case(
            "values-file-malformed",
            "malformed YAML in the cluster's values file",
            "clusters/east.yaml",
            "region: [eu-1\n".into(),
            &["clusters/east.yaml:"],
        ),
        case(
            "values-file-missing",
            "the cluster's values file does not exist",
            &["clusters/east.yaml"],
            |d| std::fs::remove_file(d.join("clusters/east.yaml")).unwrap(),
        ),
        file_case(
            "unknown-placeholder",
            "a placeholder of a value never declared",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  zone: \"{{{{ .cluster.zone }}}}\"\n"),
            &["waves/apps/bad.yaml:7", "zone"],
        ),
        file_case(
            "unclosed-placeholder",
            "a placeholder without its closing braces",
            "waves/apps/bad.yaml",
            format!("{BAD_HEAD}data:\n  zone: \"{{{{ .cluster.region\"\n"),
            &["waves/apps/bad.yaml:7"],
        ),
    ];
    if scale == Scale::Full {
        // The readers once more on larger inputs.
        c.push(case(
            "many-documents-syntax",
            "50,000 documents, the last malformed",
            &["waves/apps/many.yaml:3000"],
            |d| {
                let mut s = String::new();
                for i in 0..50_000 {
                    s.push_str(&format!(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: many-{i}\ndata: {{}}\n---\n"
                    ));
                }
                s.push_str("a: [\n");
                w(d, "waves/apps/many.yaml", &s);
            },
        ));
    }
    if which_helm().is_some() {
        c.push(chart_case(
            "chart-never-ends-cli",
            "a template that loops 10^10 times, with the helm CLI",
            "endless",
            "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
            &["charts/endless", "timed out"],
        ));
    }
    c
}

/// Nine levels of ten aliases each: 10^9 strings once expanded.
fn alias_bomb() -> String {
    let mut s = format!(
        "{BAD_HEAD}data:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    );
    for i in 1..9 {
        let p = format!("*a{}", i - 1);
        let items = [p.as_str(); 10].join(",");
        s.push_str(&format!("  a{i}: &a{i} [{items}]\n"));
    }
    s
}

/// The helm CLI on PATH, if any.
fn which_helm() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("helm"))
            .find(|f| f.is_file())
    })
}

// ------------------------------------------------------------------ running

/// One run of the binary.
struct Run {
    /// The exit code; None when killed (by us at the limit, or by a signal).
    code: Option<i32>,
    out: String,
    hung: bool,
    /// Peak resident size in bytes.
    peak: u64,
    took: Duration,
}

fn wavesync_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
    for (k, _) in std::env::vars() {
        if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1")
        .env("RUST_LOG", "warn,wavesync=info");
    cmd
}

/// Runs the binary with `args` and `envs`, killed at [`LIMIT`], watching its VmHWM.
fn run_binary(args: &[String], envs: &[(&str, String)], dir: &Path, tag: &str) -> Run {
    let (out_path, err_path) = (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    );
    let mut cmd = wavesync_cmd();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let (code, hung) = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), false);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = std::fs::read_to_string(&out_path).unwrap_or_default();
    out.push_str(&String::from_utf8_lossy(
        &std::fs::read(&err_path).unwrap_or_default(),
    ));
    Run {
        code,
        out,
        hung,
        peak,
        took: start.elapsed(),
    }
}

/// VmHWM of a /proc status file, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

// ------------------------------------------------------------------ the cluster

/// Kinds compared before and after each case.
const KINDS: &[(&str, &str, &str)] = &[
    ("", "v1", "Namespace"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "Service"),
    ("", "v1", "ServiceAccount"),
    ("apps", "v1", "Deployment"),
    ("batch", "v1", "Job"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
];

fn api_resource(group: &str, version: &str, kind: &str) -> ApiResource {
    let plural = match kind {
        "Namespace" => "namespaces".into(),
        "ConfigMap" => "configmaps".into(),
        other => format!("{}s", other.to_lowercase()),
    };
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural,
    }
}

/// `Kind ns/name` → resourceVersion, of every object of [`KINDS`] outside `wavesync`.
async fn snapshot(client: &kube::Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (g, v, k) in KINDS {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(g, v, k));
        for o in api.list(&Default::default()).await.unwrap().items {
            let ns = o.metadata.namespace.clone().unwrap_or_default();
            if ns == "wavesync"
                || (*k == "Namespace" && o.metadata.name.as_deref() == Some("wavesync"))
            {
                continue;
            }
            out.insert(
                format!("{k} {ns}/{}", o.metadata.name.clone().unwrap_or_default()),
                o.metadata.resource_version.clone().unwrap_or_default(),
            );
        }
    }
    out
}

/// What differs between two snapshots.
fn changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("{k} deleted")),
            Some(a) if a != v => out.push(format!("{k} changed (resourceVersion {v} → {a})")),
            _ => {}
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            out.push(format!("{k} created"));
        }
    }
    out
}

const RECORD: &str = "wavesync-state-shop";

/// One simulated cluster holding the good sync, and what it held after it.
struct Lane {
    env: Env,
    kubeconfig: PathBuf,
    work: PathBuf,
    record: ConfigMap,
    objects: BTreeMap<String, String>,
}

impl Lane {
    async fn start(index: usize) -> Result<Lane, String> {
        let env = Env::start().await;
        let work = env.temp().join(format!("lane-{index}"));
        std::fs::create_dir_all(&work).unwrap();
        let kubeconfig = work.join("kubeconfig");
        env.sim.write_kubeconfig(&kubeconfig).unwrap();
        let good = TestRepo::new();
        write_good(good.path());
        good.commit("good");
        let mut lane = Lane {
            env,
            kubeconfig,
            work,
            record: ConfigMap::default(),
            objects: BTreeMap::new(),
        };
        let run = lane.sync(good.url(), "good").await;
        if run.code != Some(0) {
            return Err(format!("the good sync exited {:?}:\n{}", run.code, run.out));
        }
        let cms: Api<ConfigMap> = Api::namespaced(lane.env.client.clone(), "wavesync");
        lane.record = cms.get(RECORD).await.map_err(|e| e.to_string())?;
        lane.objects = snapshot(&lane.env.client).await;
        Ok(lane)
    }

    fn sync_args(&self, url: &str, tag: &str) -> Vec<String> {
        [
            "sync",
            "--repo",
            url,
            "--cache-dir",
            &self.work.join(format!("cache-{tag}")).display().to_string(),
            "--kubeconfig",
            &self.kubeconfig.display().to_string(),
            "--state-namespace",
            "wavesync",
            "--waveset",
            "shop",
            "--helm-engine",
            "libhelm",
            "--helm-timeout",
            HELM_TIMEOUT,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    async fn sync(&mut self, url: String, tag: &str) -> Run {
        let args = self.sync_args(&url, tag);
        let work = self.work.clone();
        let tag = format!("sync-{tag}");
        tokio::task::spawn_blocking(move || run_binary(&args, &[], &work, &tag))
            .await
            .unwrap()
    }

    /// Puts the record back as the good sync left it.
    async fn restore_record(&mut self) {
        let cms: Api<ConfigMap> = Api::namespaced(self.env.client.clone(), "wavesync");
        let mut now = cms.get(RECORD).await.unwrap();
        now.data = self.record.data.clone();
        now.binary_data = self.record.binary_data.clone();
        now.metadata.annotations = self.record.metadata.annotations.clone();
        cms.replace(RECORD, &PostParams::default(), &now)
            .await
            .unwrap();
    }

    /// Runs one case: (its verdict, problems).
    async fn run(&mut self, case: &Case, helm_cli: Option<&Path>) -> Verdict {
        let repo = TestRepo::new();
        write_good(repo.path());
        (case.setup)(repo.path());
        repo.commit(&case.name);
        self.restore_record().await;
        let tag = case.name.clone();
        let helm = |mut args: Vec<String>| {
            if let Some(bin) = helm_cli {
                let i = args.iter().position(|a| a == "libhelm").unwrap();
                args[i] = "cli".into();
                args.extend(["--helm".to_string(), bin.display().to_string()]);
            }
            args
        };
        let validate_args = helm(
            [
                "validate",
                "--dir",
                &repo.path().display().to_string(),
                "--helm-engine",
                "libhelm",
                "--helm-timeout",
                HELM_TIMEOUT,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        );
        let work = self.work.clone();
        let t = format!("validate-{tag}");
        let validate =
            tokio::task::spawn_blocking(move || run_binary(&validate_args, &[], &work, &t))
                .await
                .unwrap();
        let sync_args = helm(self.sync_args(&repo.url(), &tag));
        let work = self.work.clone();
        let t = format!("sync-{tag}");
        let sync = tokio::task::spawn_blocking(move || run_binary(&sync_args, &[], &work, &t))
            .await
            .unwrap();
        if std::env::var_os("WAVESYNC_SUITE_SHOW").is_some() {
            // What a user reads, case by case (for reviewing the messages).
            println!(
                "{}:\n  validate: {}\n  sync: {}",
                case.name,
                first_error(&validate.out),
                first_error(&sync.out)
            );
        }
        let after = snapshot(&self.env.client).await;
        let changed = changes(&self.objects, &after);
        if !changed.is_empty() {
            // Later cases of this lane compare with what is there now.
            self.objects = after;
        }
        let mut v = Verdict {
            name: case.name.clone(),
            ..Verdict::default()
        };
        for (what, run, extra) in [
            ("validate", &validate, &case.validate_expect),
            ("sync", &sync, &case.sync_expect),
        ] {
            v.judge(what, run, case.expect.iter().chain(extra.iter()));
        }
        if !changed.is_empty() {
            v.changed = true;
            v.problems.push(format!(
                "{}: sync changed the cluster: {}",
                case.name,
                changed.join(", ")
            ));
        }
        v
    }
}

/// What one case gave.
#[derive(Default)]
struct Verdict {
    name: String,
    /// The largest peak of its two runs, in bytes.
    peak: u64,
    /// The longer of its two runs.
    took: Duration,
    unclear: bool,
    panicked: bool,
    hung: bool,
    changed: bool,
    problems: Vec<String>,
}

impl Verdict {
    fn judge<'a>(&mut self, what: &str, run: &Run, expect: impl Iterator<Item = &'a String>) {
        self.peak = self.peak.max(run.peak);
        self.took = self.took.max(run.took);
        let name = &self.name;
        let short = excerpt(&run.out);
        if run.hung {
            self.hung = true;
            self.problems.push(format!(
                "{name}: {what} did not end within {}s; it printed:\n{short}",
                LIMIT.as_secs()
            ));
            return;
        }
        if run.code == Some(101) || run.out.contains("panicked") || run.code.is_none() {
            self.panicked = true;
            self.problems.push(format!(
                "{name}: {what} panicked or crashed (exit {:?}):\n{short}",
                run.code
            ));
            return;
        }
        if run.code == Some(0) {
            self.unclear = true;
            self.problems.push(format!(
                "{name}: {what} accepted the bad input (exit 0):\n{short}"
            ));
            return;
        }
        let missing: Vec<&String> = expect.filter(|p| !run.out.contains(p.as_str())).collect();
        if !missing.is_empty() {
            self.unclear = true;
            self.problems.push(format!(
                "{name}: {what} (exit {:?}) does not name {missing:?}:\n{short}",
                run.code
            ));
        }
        if run.peak > MEMORY_LIMIT {
            self.unclear = true;
            self.problems.push(format!(
                "{name}: {what} peaked at {} MiB (limit {} MiB)",
                run.peak >> 20,
                MEMORY_LIMIT >> 20
            ));
        }
    }
}

/// The line of an output that tells the error (`Error: …`, or a finding).
fn first_error(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("Error: ") || l.contains(": ["))
        .unwrap_or("(none)")
        .chars()
        .take(400)
        .collect()
}

/// The last lines of an output, each cut to 300 characters.
fn excerpt(out: &str) -> String {
    let lines: Vec<String> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect())
        .collect();
    format!(
        "    {}",
        lines[lines.len().saturating_sub(12)..].join("\n    ")
    )
}

// ------------------------------------------------------------------ the area

/// Runs area 4: every case on [`LANES`] clusters at once.
pub async fn run(scale: Scale) -> Outcome {
    let cases = cases(scale);
    let total = cases.len();
    let cli_case = which_helm();
    let cases = Arc::new(cases);
    // The lanes run side by side on this task (the simulator's Env is not
    // Send); each run of the binary is on a blocking thread.
    let lanes = (0..LANES).map(|lane_index| {
        let cases = Arc::clone(&cases);
        let cli_case = cli_case.clone();
        async move {
            let mut lane = Lane::start(lane_index)
                .await
                .map_err(|e| format!("lane {lane_index}: {e}"))?;
            let mut verdicts = Vec::new();
            for case in cases.iter().skip(lane_index).step_by(LANES) {
                let cli = (case.name == "chart-never-ends-cli")
                    .then(|| cli_case.clone())
                    .flatten();
                verdicts.push(lane.run(case, cli.as_deref()).await);
            }
            Ok::<_, String>(verdicts)
        }
    });
    let mut problems = Vec::new();
    let mut verdicts = Vec::new();
    for r in futures::future::join_all(lanes).await {
        match r {
            Ok(v) => verdicts.extend(v),
            Err(e) => problems.push(e),
        }
    }
    let count = |f: fn(&Verdict) -> bool| verdicts.iter().filter(|v| f(v)).count();
    let clear = count(|v| v.problems.is_empty());
    let unclear = count(|v| v.unclear);
    let panics = count(|v| v.panicked);
    let hangs = count(|v| v.hung);
    let changed = count(|v| v.changed);
    if let (Some(big), Some(slow)) = (
        verdicts.iter().max_by_key(|v| v.peak),
        verdicts.iter().max_by_key(|v| v.took),
    ) {
        println!(
            "bad inputs: {} cases; largest peak {} MiB ({}), slowest {:.1}s ({})",
            verdicts.len(),
            big.peak >> 20,
            big.name,
            slow.took.as_secs_f64(),
            slow.name
        );
    }
    if verdicts.len() != total {
        problems.push(format!("only {} of {total} cases ran", verdicts.len()));
    }
    for v in verdicts {
        problems.extend(v.problems);
    }
    Outcome {
        line: format!(
            "bad inputs: {clear} clear / {unclear} unclear / {panics} panics / {hangs} hangs / {changed} changed"
        ),
        problems,
    }
}
