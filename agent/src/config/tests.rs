//! Tests of [`load()`] on whole repositories written to a temporary directory:
//! the reference file round-trips into the structs, and each way of getting
//! it wrong gives its message at the right `line:column`.

use std::time::Duration;

use super::*;

/// The reference file; line numbers in the tests below refer to it.
const FULL: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: dataplane }
spec:
  defaults: { timeout: 5m, retry: { attempts: 3, backoff: 10s, max: 5m } }
  namespace: dataplane
  waves:
    - name: prerequisites
      path: waves/00-prerequisites
    - name: operators
      components:
        - name: cnpg
          path: waves/10-operators/cnpg
          skipIf: { exists: { apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: cnpg-manager } }
        - name: vm-operator
          path: waves/10-operators/victoriametrics/
    - name: infrastructure
      requires:
        - crd: clusters.postgresql.cnpg.io
        - storageClass: "{{ .cluster.storageClass }}"
        - object: { apiVersion: v1, kind: Namespace, name: dataplane }
        - deploymentReady: { namespace: cnpg-system, name: cnpg-controller-manager }
        - secret: { name: pg-app, keys: [username, password] }
      path: waves/20-infrastructure
      health:
        - apiVersion: postgresql.cnpg.io/v1
          kind: Cluster
          ready: "self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
          failed: "self.status.phase == 'Failed'"
      timeout: 10m
      retry: { attempts: 5 }
    - name: database
      path: waves/30-database
    - name: apps
      path: ./waves/40-apps
clusters:
  - name: dp-east
    values: clusters/dp-east.yaml
  - name: dp-west
    values: { storageClass: standard, region: N, replicas: 3 }
values:
  storageClass: { required: true }
  replicas: { default: 2 }
  region: {}
"#;

const DP_EAST: &str = "storageClass: fast-ssd\nregion: no\n";

/// A repository with `wavesync` as its root file, the wave directories, and
/// `files` (path, contents) on top.
fn repo(wavesync: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for d in [
        "waves/00-prerequisites",
        "waves/10-operators/cnpg",
        "waves/10-operators/victoriametrics",
        "waves/20-infrastructure",
        "waves/30-database",
        "waves/40-apps",
        "clusters",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("wavesync.yaml"), wavesync).expect("write");
    std::fs::write(root.join("clusters/dp-east.yaml"), DP_EAST).expect("write");
    for (path, text) in files {
        std::fs::write(root.join(path), text).expect("write");
    }
    dir
}

/// `load` on the reference file with `from` replaced by `to`: the error text.
fn error_with(from: &str, to: &str, cluster: Option<&str>) -> String {
    assert!(FULL.contains(from), "{from:?} is not in the reference file");
    let dir = repo(&FULL.replacen(from, to, 1), &[]);
    match load(dir.path(), cluster) {
        Ok(_) => panic!("replacing {from:?} with {to:?} should fail"),
        Err(e) => e.to_string(),
    }
}

fn selector(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectSelector {
    ObjectSelector {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(Into::into),
        name: name.into(),
    }
}

fn component(name: &str, path: &str) -> Component {
    Component {
        name: name.into(),
        path: path.into(),
        chart: None,
        skip_if: None,
        requires: vec![],
        health: vec![],
        drift: Default::default(),
    }
}

#[test]
fn the_reference_file_round_trips_into_the_structs() {
    let dir = repo(FULL, &[]);
    let ws = load(dir.path(), Some("dp-east")).expect("valid");
    let retry = RetryPolicy {
        attempts: 3,
        backoff: Duration::from_secs(10),
        max: Duration::from_secs(300),
    };
    let five_minutes = Duration::from_secs(300);
    let plain = |name: &str, path: &str| Wave {
        name: name.into(),
        components: vec![component(name, path)],
        requires: vec![],
        skip_if: None,
        health: vec![],
        timeout: five_minutes,
        retry,
        drift: Default::default(),
    };
    let expected = WaveSet {
        name: "dataplane".into(),
        namespace: Some("dataplane".into()),
        defaults: Defaults {
            timeout: five_minutes,
            retry,
        },
        waves: vec![
            plain("prerequisites", "waves/00-prerequisites"),
            Wave {
                components: vec![
                    Component {
                        skip_if: Some(SkipRule {
                            exists: selector(
                                "rbac.authorization.k8s.io/v1",
                                "ClusterRole",
                                None,
                                "cnpg-manager",
                            ),
                        }),
                        ..component("cnpg", "waves/10-operators/cnpg")
                    },
                    component("vm-operator", "waves/10-operators/victoriametrics"),
                ],
                ..plain("operators", "unused")
            },
            Wave {
                requires: vec![
                    Requirement::Crd("clusters.postgresql.cnpg.io".into()),
                    Requirement::StorageClass("fast-ssd".into()),
                    Requirement::Object(selector("v1", "Namespace", None, "dataplane")),
                    Requirement::DeploymentReady {
                        namespace: "cnpg-system".into(),
                        name: "cnpg-controller-manager".into(),
                    },
                    // No namespace written: spec.namespace applies.
                    Requirement::Secret {
                        namespace: "dataplane".into(),
                        name: "pg-app".into(),
                        keys: vec!["username".into(), "password".into()],
                    },
                ],
                health: vec![HealthRule {
                    api_version: Some("postgresql.cnpg.io/v1".into()),
                    kind: "Cluster".into(),
                    ready:
                        "self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
                            .into(),
                    failed: Some("self.status.phase == 'Failed'".into()),
                }],
                timeout: Duration::from_secs(600),
                retry: RetryPolicy {
                    attempts: 5,
                    ..retry
                },
                ..plain("infrastructure", "waves/20-infrastructure")
            },
            plain("database", "waves/30-database"),
            plain("apps", "waves/40-apps"),
        ],
        cluster: Some("dp-east".into()),
        values: ws.values.clone(),
        drift: Default::default(),
        heal_limit: Default::default(),
        notifications: vec![],
        prune: Default::default(),
    };
    assert_eq!(ws, expected);
    assert_eq!(ws.wave_index("database"), Some(3));
    assert_eq!(
        ws.values.get("storageClass"),
        Some(&serde_json::json!("fast-ssd"))
    );
    assert_eq!(
        ws.values.get("replicas"),
        Some(&serde_json::json!(2)),
        "the declared default"
    );
    assert_eq!(ws.values.cluster(), Some("dp-east"));
}

#[test]
fn values_files_and_inline_values_read_yaml_1_2_booleans() {
    let dir = repo(FULL, &[]);
    let east = load(dir.path(), Some("dp-east")).expect("valid");
    // YAML 1.1 would make `no` a boolean false.
    assert_eq!(east.values.get("region"), Some(&serde_json::json!("no")));
    let west = load(dir.path(), Some("dp-west")).expect("valid");
    assert_eq!(west.values.get("region"), Some(&serde_json::json!("N")));
    assert_eq!(west.values.get("replicas"), Some(&serde_json::json!(3)));
    assert_eq!(
        west.waves[2].requires[1],
        Requirement::StorageClass("standard".into())
    );
    assert_eq!(west.cluster.as_deref(), Some("dp-west"));
}

#[test]
fn wavesync_yaml_reads_yaml_1_2_booleans() {
    // `name: N` and `on` stay strings; a YAML 1.1 reader would make them booleans.
    let text = FULL
        .replace("- name: dp-west", "- name: \"on\"")
        .replace("region: N", "region: on");
    let text = text.replace("\n  region: {}\n", "\n  region: { default: yes }\n");
    let dir = repo(&text, &[("clusters/dp-east.yaml", "storageClass: x\n")]);
    let east = load(dir.path(), Some("dp-east")).expect("valid");
    assert_eq!(east.values.get("region"), Some(&serde_json::json!("yes")));
    let on = load(dir.path(), Some("on")).expect("valid");
    assert_eq!(on.values.get("region"), Some(&serde_json::json!("on")));
}

#[test]
fn placeholders_are_substituted_in_every_string() {
    let text = FULL
        .replace(
            "metadata: { name: dataplane }",
            "metadata: { name: \"dp-{{ .values.region }}\" }",
        )
        .replace("timeout: 10m", "timeout: '{{.values.waveTimeout}}'")
        .replace("kind: Cluster\n", "kind: \"{{ .values.pgKind }}\"\n")
        .replace(
            "  region: {}\n",
            "  region: {}\n  waveTimeout: { default: 2m }\n  pgKind: { default: Cluster }\n",
        );
    let dir = repo(
        &text,
        &[(
            "clusters/dp-east.yaml",
            "storageClass: fast\nregion: east\n",
        )],
    );
    let ws = load(dir.path(), Some("dp-east")).expect("valid");
    assert_eq!(ws.name, "dp-east");
    assert_eq!(ws.waves[2].timeout, Duration::from_secs(120));
    assert_eq!(ws.waves[2].health[0].kind, "Cluster");
}

#[test]
fn a_single_cluster_is_selected_by_default_and_none_is_fine() {
    let one = FULL.replace(
        "  - name: dp-west\n    values: { storageClass: standard, region: N, replicas: 3 }\n",
        "",
    );
    let dir = repo(&one, &[]);
    assert_eq!(
        load(dir.path(), None).expect("valid").cluster.as_deref(),
        Some("dp-east")
    );

    let none = FULL
        .replace(
            "clusters:\n  - name: dp-east\n    values: clusters/dp-east.yaml\n",
            "",
        )
        .replace(
            "  - name: dp-west\n    values: { storageClass: standard, region: N, replicas: 3 }\n",
            "",
        )
        .replace("{ required: true }", "{ default: gp3 }");
    let dir = repo(&none, &[]);
    let ws = load(dir.path(), None).expect("valid");
    assert_eq!(ws.cluster, None);
    assert_eq!(
        ws.waves[2].requires[1],
        Requirement::StorageClass("gp3".into())
    );
}

#[test]
fn cluster_selection_errors_list_the_known_clusters() {
    let dir = repo(FULL, &[]);
    let err = load(dir.path(), None).expect_err("two clusters");
    assert_eq!(
        err.to_string(),
        "wavesync.yaml:37:3: clusters: 2 clusters are declared (dp-east, dp-west); choose one with --cluster"
    );
    let err = load(dir.path(), Some("dp-north")).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "wavesync.yaml:37:3: clusters: unknown cluster \"dp-north\"; known clusters: dp-east, dp-west"
    );
    assert_eq!(
        error_with("- name: dp-west", "- name: dp-east", Some("dp-east")),
        "wavesync.yaml:39:11: clusters[1].name: duplicate cluster name \"dp-east\" (first used on line 37)"
    );
}

#[test]
fn schema_errors_give_line_column_path_and_what_was_expected() {
    let cases = [
        (
            "skipIf:",
            "skipIff:",
            "wavesync.yaml:14:11: spec.waves[1].components[0].skipIff: unknown field `skipIff`, \
             expected one of name, path, chart, skipIf, requires, health, drift, ignoreDifferences",
        ),
        (
            "- crd: ",
            "- crds: ",
            "wavesync.yaml:19:11: spec.waves[2].requires[0].crds: unknown variant `crds`, \
             expected one of crd, storageClass, object, deploymentReady, secret",
        ),
        (
            "          kind: Cluster\n",
            "",
            "wavesync.yaml:26:11: spec.waves[2].health[0]: missing field `kind`",
        ),
    ];
    for (from, to, expected) in cases {
        assert_eq!(
            error_with(from, to, Some("dp-east")),
            expected,
            "{from} -> {to}"
        );
    }
    // The parser's wording of type errors may change; location and path may not.
    let err = error_with(
        "retry: { attempts: 5 }",
        "retry: { attempts: five }",
        Some("dp-east"),
    );
    assert!(
        err.starts_with("wavesync.yaml:31:26: spec.waves[2].retry.attempts: "),
        "{err}"
    );
    let err = error_with("  waves:\n", "  waves: [\n", Some("dp-east"));
    assert!(err.starts_with("wavesync.yaml:8:5: "), "{err}");
}

#[test]
fn rule_errors_give_line_column_path_and_what_was_expected() {
    let cases = [
        (
            "apiVersion: wavesync.io/v1alpha1",
            "apiVersion: wavesync.io/v2",
            "wavesync.yaml:1:13: apiVersion: unsupported apiVersion \"wavesync.io/v2\"; expected \"wavesync.io/v1alpha1\"",
        ),
        (
            "    - name: operators\n",
            "    - name: operators\n      path: waves/40-apps\n",
            "wavesync.yaml:10:7: spec.waves[1]: a wave has either `path` (plain manifests) or `components`, not both",
        ),
        (
            "      path: waves/30-database\n",
            "",
            "wavesync.yaml:32:7: spec.waves[3]: a wave needs `path` (plain manifests) or `components`",
        ),
        (
            "name: apps",
            "name: database",
            "wavesync.yaml:34:13: spec.waves[4].name: duplicate wave name \"database\" (first used on line 32)",
        ),
        (
            "name: vm-operator",
            "name: cnpg",
            "wavesync.yaml:15:17: spec.waves[1].components[1].name: duplicate component name \"cnpg\" (first used on line 12)",
        ),
        (
            "name: database",
            "name: Database",
            "wavesync.yaml:32:13: spec.waves[3].name: \"Database\" is not a valid name: use lowercase letters, \
             digits and '-', at most 63 characters, starting and ending with a letter or digit (it becomes a label value)",
        ),
        (
            "timeout: 10m",
            "timeout: 10min",
            "wavesync.yaml:30:16: spec.waves[2].timeout: invalid duration \"10min\": unknown unit \"min\" (use h, m, s, ms) \
             (write e.g. 500ms, 90s, 5m, 1h30m)",
        ),
        (
            "backoff: 10s",
            "backoff: 10",
            "wavesync.yaml:5:59: spec.defaults.retry.backoff: invalid duration \"10\": a number needs a unit (h, m, s, ms) \
             (write e.g. 500ms, 90s, 5m, 1h30m)",
        ),
        (
            "timeout: 10m",
            "timeout: 0s",
            "wavesync.yaml:30:16: spec.waves[2].timeout: a timeout must be longer than 0s",
        ),
        (
            "retry: { attempts: 5 }",
            "retry: { attempts: 0 }",
            "wavesync.yaml:31:26: spec.waves[2].retry.attempts: attempts must be at least 1 (it counts the first attempt)",
        ),
        (
            "retry: { attempts: 5 }",
            "retry: { max: 5s }",
            "wavesync.yaml:31:21: spec.waves[2].retry.max: backoff 10s is longer than max 5s",
        ),
        (
            "crd: clusters.postgresql.cnpg.io",
            "crd: Cluster",
            "wavesync.yaml:19:16: spec.waves[2].requires[0].crd: \"Cluster\" is not a CRD name: write <plural>.<group>, \
             e.g. clusters.postgresql.cnpg.io",
        ),
        (
            "failed: \"self.status.phase == 'Failed'\"",
            "failed: \"  \"",
            "wavesync.yaml:29:19: spec.waves[2].health[0].failed: the CEL expression is empty; write a condition over `self`",
        ),
    ];
    for (from, to, expected) in cases {
        assert_eq!(
            error_with(from, to, Some("dp-east")),
            expected,
            "{from} -> {to}"
        );
    }
    let empty_ready = FULL.replace(
        "ready: \"self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')\"",
        "ready: ''",
    );
    let dir = repo(&empty_ready, &[]);
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("empty CEL")
        .to_string();
    assert_eq!(
        err,
        "wavesync.yaml:28:18: spec.waves[2].health[0].ready: the CEL expression is empty; write a condition over `self`"
    );
}

#[test]
fn requirements_need_a_namespace_from_somewhere() {
    let err = error_with("  namespace: dataplane\n", "", Some("dp-east"));
    assert_eq!(
        err,
        "wavesync.yaml:22:11: spec.waves[2].requires[4].secret: `namespace` is required here (or set spec.namespace)"
    );
}

#[test]
fn paths_must_exist_inside_the_repository() {
    let cases = [
        (
            "path: ./waves/40-apps",
            "path: ../outside",
            "\"../outside\" leaves the repository",
        ),
        (
            "path: ./waves/40-apps",
            "path: /etc",
            "\"/etc\" is absolute; write it relative to the repository root",
        ),
        (
            "path: ./waves/40-apps",
            "path: waves/50-nope",
            "\"waves/50-nope\" does not exist in the repository",
        ),
    ];
    for (from, to, problem) in cases {
        let expected = format!("wavesync.yaml:35:13: spec.waves[4].path: path {problem}");
        assert_eq!(error_with(from, to, Some("dp-east")), expected);
    }
    let err = error_with(
        "values: clusters/dp-east.yaml",
        "values: ../dp-east.yaml",
        Some("dp-east"),
    );
    assert_eq!(
        err,
        "wavesync.yaml:38:13: clusters[0].values: path \"../dp-east.yaml\" leaves the repository"
    );
    let err = error_with(
        "values: clusters/dp-east.yaml",
        "values: clusters",
        Some("dp-east"),
    );
    assert_eq!(
        err,
        "wavesync.yaml:38:13: clusters[0].values: path \"clusters\" is not a file"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_that_resolve_outside_the_repository_are_rejected() {
    let outside = tempfile::tempdir().expect("tempdir");
    let dir = repo(
        &FULL.replace("path: ./waves/40-apps", "path: waves/linked"),
        &[],
    );
    std::os::unix::fs::symlink(outside.path(), dir.path().join("waves/linked")).expect("symlink");
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("escapes")
        .to_string();
    let expected = "wavesync.yaml:35:13: spec.waves[4].path: path \"waves/linked\" leaves the repository through a symlink";
    assert!(err.starts_with(expected), "{err}");
}

#[cfg(unix)]
#[test]
fn a_wavesync_yaml_symlinked_out_of_the_repository_is_not_read() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("w.yaml"), FULL).expect("write");
    let dir = repo(FULL, &[]);
    std::fs::remove_file(dir.path().join("wavesync.yaml")).expect("rm");
    std::os::unix::fs::symlink(
        outside.path().join("w.yaml"),
        dir.path().join("wavesync.yaml"),
    )
    .expect("symlink");
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("escapes")
        .to_string();
    assert!(
        err.starts_with(
            "wavesync.yaml: path \"wavesync.yaml\" leaves the repository through a symlink"
        ),
        "{err}"
    );
}

/// Seed installer bug 2: an empty storageClass reached the cluster. Here it
/// is an error at load time, before anything is applied, at the placeholder.
#[test]
fn an_empty_storage_class_is_caught_before_anything_is_applied() {
    for empty in [
        "storageClass: \"\"\n",
        "storageClass:\n",
        "storageClass: '  '\n",
    ] {
        let dir = repo(FULL, &[("clusters/dp-east.yaml", empty)]);
        let err = load(dir.path(), Some("dp-east")).expect_err("empty storageClass");
        assert!(matches!(err, ConfigError::EmptyValue { .. }));
        assert_eq!(
            err.to_string(),
            "wavesync.yaml:20:26: spec.waves[2].requires[1].storageClass: value \"storageClass\" is empty \
             for cluster \"dp-east\" (clusters/dp-east.yaml); set it or drop the requirement"
        );
    }
    let err = error_with(
        "storageClass: standard, ",
        "storageClass: '', ",
        Some("dp-west"),
    );
    assert_eq!(
        err,
        "wavesync.yaml:20:26: spec.waves[2].requires[1].storageClass: value \"storageClass\" is empty \
         for cluster \"dp-west\" (inline values in wavesync.yaml); set it or drop the requirement"
    );
}

#[test]
fn required_values_are_checked_even_when_nothing_uses_them() {
    // The placeholder is where the problem shows first...
    let dir = repo(FULL, &[("clusters/dp-east.yaml", "region: x\n")]);
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("unset")
        .to_string();
    assert_eq!(
        err,
        "wavesync.yaml:20:26: spec.waves[2].requires[1].storageClass: value \"storageClass\" is not set \
         for cluster \"dp-east\" (clusters/dp-east.yaml); set it or give it a default under `values`"
    );
    // ...and the declaration when no placeholder uses it.
    let text = FULL.replace(
        "        - storageClass: \"{{ .cluster.storageClass }}\"\n",
        "",
    );
    let dir = repo(&text, &[("clusters/dp-east.yaml", "region: x\n")]);
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("unset")
        .to_string();
    assert_eq!(
        err,
        "wavesync.yaml:41:3: values.storageClass: value \"storageClass\" is not set \
         for cluster \"dp-east\" (clusters/dp-east.yaml); set it or give it a default under `values`"
    );
}

#[test]
fn undeclared_values_are_typos() {
    let err = error_with(
        "{{ .cluster.storageClass }}",
        "{{ .cluster.storgeClass }}",
        Some("dp-east"),
    );
    assert_eq!(
        err,
        "wavesync.yaml:20:26: spec.waves[2].requires[1].storageClass: value \"storgeClass\" is not declared; \
         declared values: region, replicas, storageClass"
    );
    let dir = repo(
        FULL,
        &[("clusters/dp-east.yaml", "storageClass: x\nreplica: 3\n")],
    );
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("typo")
        .to_string();
    assert_eq!(
        err,
        "clusters/dp-east.yaml:2:1: replica: value \"replica\" is not declared; declared values: region, replicas, storageClass"
    );
    let err = error_with("replicas: 3 }", "replica: 3 }", Some("dp-west"));
    assert_eq!(
        err,
        "wavesync.yaml:40:50: clusters[1].values.replica: value \"replica\" is not declared; \
         declared values: region, replicas, storageClass"
    );
}

#[test]
fn values_files_must_be_maps_and_valid_yaml() {
    let dir = repo(FULL, &[("clusters/dp-east.yaml", "- a\n- b\n")]);
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("a list")
        .to_string();
    assert_eq!(
        err,
        "clusters/dp-east.yaml:1:1: expected a map of values (key: value)"
    );
    let dir = repo(FULL, &[("clusters/dp-east.yaml", "storageClass: [\n")]);
    let err = load(dir.path(), Some("dp-east"))
        .expect_err("syntax")
        .to_string();
    assert!(err.starts_with("clusters/dp-east.yaml:1:"), "{err}");
    let err = error_with(
        "values: clusters/dp-east.yaml",
        "values: 3",
        Some("dp-east"),
    );
    assert_eq!(
        err,
        "wavesync.yaml:38:13: clusters[0].values: expected a values file (a path) or a map of values"
    );
}

#[test]
fn a_missing_wavesync_yaml_is_a_config_error() {
    use crate::error::{Categorized, Category};
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load(dir.path(), None).expect_err("no file");
    assert_eq!(err.to_string(), "wavesync.yaml: not found");
    assert_eq!(err.category(), Category::Config);
    let err = load(&dir.path().join("nope"), None).expect_err("no root");
    assert!(matches!(err, ConfigError::NotFound { .. }));
}

const DRIFT: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: dataplane }
spec:
  drift: heal
  healLimit: { heals: 5, window: 2m }
  ignoreDifferences:
    - { kind: Deployment, jsonPointers: [/spec/replicas] }
  waves:
    - name: apps
      drift: alert
      ignoreDifferences:
        - { group: apps, name: "web-*", managedFieldsManagers: [hpa-controller] }
      components:
        - name: web
          path: waves/40-apps
          drift: heal
          ignoreDifferences:
            - fieldPaths: ['metadata.annotations["team"]', "spec.template.spec.containers[name=app].image"]
        - name: api
          path: waves/30-database
"#;

#[test]
fn drift_settings_are_inherited_component_over_wave_over_waveset() {
    let dir = repo(DRIFT, &[]);
    let ws = load(dir.path(), None).expect("valid");
    assert_eq!(
        ws.heal_limit,
        HealLimit {
            heals: 5,
            window: Duration::from_secs(120)
        }
    );
    let web = ws.drift_for("apps", "web");
    assert_eq!(web.policy, DriftPolicy::Heal, "the component's own");
    assert_eq!(web.ignore.len(), 3, "the WaveSet's, the wave's and its own");
    assert_eq!(
        web.ignore[2].field_paths,
        [
            "metadata.annotations.team",
            "spec.template.spec.containers[name=app].image"
        ]
    );
    let api = ws.drift_for("apps", "api");
    assert_eq!(api.policy, DriftPolicy::Alert, "the wave's");
    assert_eq!(api.ignore.len(), 2);
    assert_eq!(api.ignore[1].managers, ["hpa-controller"]);
    assert_eq!(api.ignore[1].name.as_deref(), Some("web-*"));
    let none = load(repo(FULL, &[]).path(), Some("dp-east")).expect("valid");
    assert_eq!(
        none.drift_for("apps", "apps").policy,
        DriftPolicy::Alert,
        "the default"
    );
}

#[test]
fn drift_setting_errors_name_line_path_and_problem() {
    let cases = [
        (
            "drift: heal",
            "drift: repair",
            "wavesync.yaml:5:10: spec.drift: unknown drift policy \"repair\": expected alert or heal",
        ),
        (
            "[/spec/replicas]",
            "[spec/replicas]",
            "wavesync.yaml:8:42: spec.ignoreDifferences[0].jsonPointers[0]: \"spec/replicas\" is not a JSON pointer: it must start with '/'",
        ),
        (
            "spec.template.spec.containers[name=app].image",
            "spec.template..image",
            "wavesync.yaml:19:60: spec.waves[0].components[0].ignoreDifferences[0].fieldPaths[1]: \"spec.template..image\" is not a field path: an empty field name at character 15",
        ),
        (
            "heals: 5",
            "heals: 0",
            "wavesync.yaml:6:23: spec.healLimit.heals: heals must be at least 1 (use drift: alert to never heal)",
        ),
        (
            "{ group: apps, name: \"web-*\", managedFieldsManagers: [hpa-controller] }",
            "{ group: apps }",
            "wavesync.yaml:13:11: spec.waves[0].ignoreDifferences[0]: ignores nothing: give jsonPointers, fieldPaths or managedFieldsManagers",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(DRIFT.contains(from), "{from}");
        let dir = repo(&DRIFT.replacen(from, to, 1), &[]);
        let err = load(dir.path(), None).expect_err(to).to_string();
        assert_eq!(err, expected);
        let checked = check(dir.path(), None);
        assert!(
            checked.errors.iter().any(|e| e.to_string() == expected),
            "validate reports it too: {:?}",
            checked
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }
    let dir = repo(&DRIFT.replacen("jsonPointers", "jsonPointer", 1), &[]);
    let err = load(dir.path(), None)
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("unknown field `jsonPointer`"), "{err}");
    assert!(
        err.contains("jsonPointers"),
        "lists the expected fields: {err}"
    );
}

/// A file with every kind of notification sink; line numbers in the tests
/// below refer to it.
const NOTIFY: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: dataplane }
spec:
  waves:
    - name: apps
      path: waves/40-apps
  notifications:
    - name: team-webhook
      type: webhook
      url: https://hooks.example.com/wavesync
      tokenFile: /etc/wavesync/notify/token
      hmacSecretFile: /etc/wavesync/notify/hmac
      headers: { X-Team: platform }
      events: [DriftDetected, SyncFailed]
    - name: alertmanager
      type: alertmanager
      url: http://alertmanager.monitoring:9093
      labels: { team: platform, region: "{{ .cluster.region }}" }
      repeatInterval: 30s
    - name: chat
      type: slack
      urlSecretRef: { name: wavesync-notify, key: slack-url }
    - name: oncall
      type: slack
      urlFile: /etc/wavesync/notify/slack-url
      events: [SyncSucceeded]
clusters:
  - name: dp-east
    values: { region: east }
values:
  region: {}
"#;

/// `load` on [`NOTIFY`] with `from` replaced by `to`: the error text.
fn notify_error(from: &str, to: &str) -> String {
    assert!(NOTIFY.contains(from), "{from:?} is not in the file");
    let dir = repo(&NOTIFY.replacen(from, to, 1), &[]);
    match load(dir.path(), None) {
        Ok(_) => panic!("replacing {from:?} with {to:?} should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_notifications_section_resolves_with_its_defaults() {
    let dir = repo(NOTIFY, &[]);
    let ws = load(dir.path(), None).expect("valid");
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let base = NotificationSink {
        name: String::new(),
        kind: SinkType::Webhook,
        url: UrlSource::Inline(String::new()),
        token_file: None,
        token_header: None,
        hmac_secret_file: None,
        headers: map(&[]),
        labels: map(&[]),
        events: NotificationEvent::defaults(),
        repeat_interval: Duration::from_secs(60),
    };
    let expected = vec![
        NotificationSink {
            name: "team-webhook".into(),
            url: UrlSource::Inline("https://hooks.example.com/wavesync".into()),
            token_file: Some("/etc/wavesync/notify/token".into()),
            hmac_secret_file: Some("/etc/wavesync/notify/hmac".into()),
            headers: map(&[("X-Team", "platform")]),
            events: vec![
                NotificationEvent::DriftDetected,
                NotificationEvent::SyncFailed,
            ],
            ..base.clone()
        },
        NotificationSink {
            name: "alertmanager".into(),
            kind: SinkType::Alertmanager,
            url: UrlSource::Inline("http://alertmanager.monitoring:9093".into()),
            labels: map(&[("team", "platform"), ("region", "east")]),
            repeat_interval: Duration::from_secs(30),
            ..base.clone()
        },
        NotificationSink {
            name: "chat".into(),
            kind: SinkType::Slack,
            url: UrlSource::SecretRef {
                name: "wavesync-notify".into(),
                key: "slack-url".into(),
            },
            ..base.clone()
        },
        NotificationSink {
            name: "oncall".into(),
            kind: SinkType::Slack,
            url: UrlSource::File("/etc/wavesync/notify/slack-url".into()),
            events: vec![NotificationEvent::SyncSucceeded],
            ..base
        },
    ];
    assert_eq!(ws.notifications, expected);
    assert!(
        !NotificationEvent::defaults().contains(&NotificationEvent::SyncSucceeded),
        "SyncSucceeded is opt-in"
    );
    assert_eq!(NotificationEvent::defaults().len(), 6);
    // The URL itself never shows in a debug print of the config.
    assert!(!format!("{ws:?}").contains("hooks.example.com"));
}

#[test]
fn notification_errors_give_line_column_field_and_what_was_expected() {
    let cases = [
        (
            "      tokenFile: /etc",
            "      tokenFlie: /etc",
            "wavesync.yaml:12:7: spec.notifications[0].tokenFlie: unknown field `tokenFlie`, \
             expected one of name, type, url, urlFile, urlSecretRef, tokenFile, tokenHeader, \
             hmacSecretFile, headers, labels, events, repeatInterval",
        ),
        (
            "type: alertmanager",
            "type: pagerduty",
            "wavesync.yaml:17:13: spec.notifications[1].type: unknown type `pagerduty`, \
             expected one of webhook, alertmanager, slack",
        ),
        (
            "      url: https://hooks.example.com/wavesync\n",
            "",
            "wavesync.yaml:9:7: spec.notifications[0]: missing field `url`: write `urlFile` \
             (a file, e.g. a mounted Secret), `urlSecretRef` (a Secret in the agent's namespace) \
             or, for a URL that is not a secret, `url`",
        ),
        (
            "events: [DriftDetected, SyncFailed]",
            "events: [DriftDetected, SyncFailled]",
            "wavesync.yaml:15:31: spec.notifications[0].events[1]: unknown event `SyncFailled`, \
             expected one of DriftDetected, DriftResolved, SyncFailed, Stalled, WaveFailed, \
             SyncSucceeded, RevisionRefused",
        ),
        (
            "      urlSecretRef: { name: wavesync-notify, key: slack-url }",
            "      url: https://hooks.slack.com/services/T0/B0/XXXX",
            "wavesync.yaml:23:12: spec.notifications[2].url: a Slack webhook URL is a secret \
             (anyone who has it can post): do not write it in Git; use `urlFile` or `urlSecretRef`",
        ),
        (
            "url: http://alertmanager.monitoring:9093",
            "url: http://admin:hunter2@alertmanager.monitoring:9093",
            "wavesync.yaml:18:12: spec.notifications[1].url: credentials in a URL in Git are not \
             secret: put the token in `tokenFile` (or the whole URL in `urlFile` or `urlSecretRef`)",
        ),
        (
            "headers: { X-Team: platform }",
            "headers: { Authorization: Bearer-abc }",
            "wavesync.yaml:14:33: spec.notifications[0].headers.Authorization: an Authorization \
             header in Git is not secret: put the token in `tokenFile`",
        ),
        (
            "labels: { team: platform,",
            "labels: { severity: platform,",
            "wavesync.yaml:19:27: spec.notifications[1].labels.severity: the label `severity` is \
             set by wavesync",
        ),
        (
            "      repeatInterval: 30s",
            "      repeatInterval: 0s",
            "wavesync.yaml:20:23: spec.notifications[1].repeatInterval: must be longer than 0s",
        ),
        (
            "urlFile: /etc/wavesync/notify/slack-url",
            "urlFile: notify/slack-url",
            "wavesync.yaml:26:16: spec.notifications[3].urlFile: must be an absolute path on the \
             agent's filesystem, without `..` (a mounted Secret, e.g. /etc/wavesync/notify/token)",
        ),
        (
            "      urlFile: /etc/wavesync/notify/slack-url\n",
            "      urlFile: /etc/wavesync/notify/slack-url\n      tokenFile: /t\n",
            "wavesync.yaml:27:18: spec.notifications[3].tokenFile: `tokenFile` is only for type \
             webhook and alertmanager (a Slack URL is its own credential)",
        ),
        (
            "      repeatInterval: 30s\n",
            "      repeatInterval: 30s\n      hmacSecretFile: /k\n",
            "wavesync.yaml:21:23: spec.notifications[1].hmacSecretFile: `hmacSecretFile` is only \
             for type webhook",
        ),
        (
            "- name: oncall",
            "- name: chat",
            "wavesync.yaml:24:13: spec.notifications[3].name: duplicate notification name \
             \"chat\" (first used on line 21)",
        ),
        (
            "      urlFile: /etc/wavesync/notify/slack-url\n",
            "      urlFile: /etc/wavesync/notify/slack-url\n      urlSecretRef: { name: a, key: b }\n",
            "wavesync.yaml:27:21: spec.notifications[3].urlSecretRef: `url`, `urlFile` and \
             `urlSecretRef` exclude each other: write one",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(from, to, expected)| {
            let got = notify_error(from, to);
            (got != *expected).then(|| format!("{from} -> {to}\n  got:  {got}\n  want: {expected}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let err = notify_error("events: [SyncSucceeded]", "events: []");
    assert!(
        err.starts_with("wavesync.yaml:27:15: spec.notifications[3].events: lists no events"),
        "{err}"
    );
}

#[test]
fn check_reports_every_notification_error_and_keeps_the_good_sinks() {
    let text = NOTIFY
        .replacen("type: alertmanager", "type: pagerduty", 1)
        .replacen("[SyncSucceeded]", "[SyncSucceded]", 1);
    let dir = repo(&text, &[]);
    let checked = check(dir.path(), None);
    let errors: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("wavesync.yaml:17:13: spec.notifications[1].type: unknown type"));
    assert!(
        errors[1]
            .starts_with("wavesync.yaml:27:16: spec.notifications[3].events[0]: unknown event")
    );
    let ws = checked.waveset.expect("partial waveset");
    let names: Vec<&str> = ws.notifications.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["team-webhook", "chat"]);
}

#[test]
fn prune_guards_default_to_half_the_inventory_and_keeping_removed_waves() {
    let dir = repo(DRIFT, &[]);
    let ws = load(dir.path(), None).expect("valid");
    assert_eq!(ws.prune.max_delete_share, 50);
    assert!(!ws.prune.removed_waves);
    let text = DRIFT.replacen(
        "  drift: heal\n",
        "  drift: heal\n  prune: { maxDeleteShare: 80, removedWaves: true }\n",
        1,
    );
    let dir = repo(&text, &[]);
    let ws = load(dir.path(), None).expect("valid");
    assert_eq!(ws.prune.max_delete_share, 80);
    assert!(ws.prune.removed_waves);
}

#[test]
fn a_prune_share_outside_one_to_a_hundred_names_line_and_field() {
    let err = |prune: &str| {
        let text = DRIFT.replacen("  drift: heal\n", &format!("  drift: heal\n  {prune}\n"), 1);
        let dir = repo(&text, &[]);
        load(dir.path(), None).expect_err("invalid").to_string()
    };
    assert_eq!(
        err("prune: { maxDeleteShare: 0 }"),
        "wavesync.yaml:6:28: spec.prune.maxDeleteShare: maxDeleteShare is a percentage of the inventory from 1 to 100 (100 turns the guard off)"
    );
    let typo = err("prune: { maxDeleteShares: 10 }");
    assert!(
        typo.starts_with("wavesync.yaml:6:") && typo.contains("maxDeleteShares"),
        "{typo}"
    );
}

/// `docs/wavesync.schema.json` is what `wavesync schema` prints (CI
/// regenerates it too); a field added to the reader shows up in it.
#[test]
fn the_published_json_schema_is_the_one_the_reader_derives() {
    let published = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/wavesync.schema.json"
    ))
    .expect("docs/wavesync.schema.json");
    let published: serde_json::Value = serde_json::from_str(&published).expect("json");
    let schema = super::json_schema();
    assert_eq!(
        published, schema,
        "run `cargo run -p wavesync -- schema > docs/wavesync.schema.json`"
    );
    let wave = &schema["$defs"]["Wave"]["properties"];
    for field in [
        "name",
        "path",
        "components",
        "requires",
        "skipIf",
        "health",
        "timeout",
        "retry",
    ] {
        assert!(
            wave.get(field).is_some(),
            "waves[].{field} is in the schema"
        );
    }
    assert_eq!(
        schema["$defs"]["Wave"]["additionalProperties"], false,
        "unknown fields are refused, as by the reader"
    );
}
