//! Tests of the whole plan stage: waves, overrides, duplicates, namespaces, digests.

use super::*;
use crate::error::{Categorized, Category};
use serde_json::{Value, json};

fn obj(file: &str, json: Value) -> Object {
    Object {
        json,
        origin: Origin {
            file: file.into(),
            doc: 0,
            line: Some(1),
            release_namespace: None,
        },
    }
}

fn cm(file: &str, name: &str) -> Object {
    obj(
        file,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}),
    )
}

fn crd(file: &str) -> Object {
    obj(
        file,
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusters.postgresql.cnpg.io"},
        "spec": {"group": "postgresql.cnpg.io", "names": {"kind": "Cluster", "plural": "clusters"}, "scope": "Namespaced"}}),
    )
}

fn pg(file: &str) -> Object {
    obj(
        file,
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"}}),
    )
}

fn wave(name: &str, components: Vec<(&str, Vec<Object>)>) -> WaveInput {
    WaveInput {
        name: name.into(),
        components: components.into_iter().map(|(c, o)| (c.into(), o)).collect(),
    }
}

fn names(p: &Plan) -> Vec<(String, String, Vec<String>)> {
    p.waves
        .iter()
        .flat_map(|w| {
            w.components.iter().map(|c| {
                (
                    w.name.clone(),
                    c.name.clone(),
                    c.objects
                        .iter()
                        .map(|o| o.reference().to_string())
                        .collect(),
                )
            })
        })
        .collect()
}

fn sample() -> Vec<WaveInput> {
    vec![
        wave(
            "prerequisites",
            vec![(
                "prerequisites",
                vec![
                    cm("w/00/cm.yaml", "settings"),
                    obj(
                        "w/00/ns.yaml",
                        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db", "namespace": "ignored"}}),
                    ),
                ],
            )],
        ),
        wave(
            "operators",
            vec![(
                "cnpg",
                vec![
                    obj(
                        "w/10/dep.yaml",
                        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cnpg", "namespace": "cnpg-system"}}),
                    ),
                    crd("w/10/crd.yaml"),
                ],
            )],
        ),
        wave(
            "infrastructure",
            vec![("infrastructure", vec![pg("w/20/pg.yaml")])],
        ),
    ]
}

#[test]
fn waves_are_ordered_labelled_and_namespaced() {
    let p = plan("dataplane", Some("apps"), sample(), &Builtin).expect("plans");
    assert_eq!(
        names(&p),
        [
            (
                "prerequisites".into(),
                "prerequisites".into(),
                vec!["Namespace/db".into(), "ConfigMap apps/settings".into()]
            ),
            (
                "operators".into(),
                "cnpg".into(),
                vec![
                    "CustomResourceDefinition.apiextensions.k8s.io/clusters.postgresql.cnpg.io"
                        .into(),
                    "Deployment.apps cnpg-system/cnpg".into(),
                ]
            ),
            (
                "infrastructure".into(),
                "infrastructure".into(),
                vec!["Cluster.postgresql.cnpg.io apps/pg".into()]
            ),
        ]
    );
    let ns = &p.waves[0].components[0].objects[0].json;
    assert_eq!(
        ns["metadata"],
        json!({"name": "db", "labels": {
        "wavesync.io/waveset": "dataplane", "wavesync.io/wave": "prerequisites", "wavesync.io/component": "prerequisites"}})
    );
    let settings = &p.waves[0].components[0].objects[1].json;
    assert_eq!(settings["data"], json!({"k": "v"}));
    let p = plan("dataplane", None, sample(), &Builtin).expect("plans");
    assert_eq!(
        p.waves[0].components[0].objects[1].json["metadata"]["namespace"],
        "default"
    );
}

#[test]
fn a_custom_resource_needs_its_crd_in_this_or_an_earlier_wave_or_discovery() {
    let early = vec![
        wave("a", vec![("a", vec![pg("pg.yaml")])]),
        wave("b", vec![("b", vec![crd("crd.yaml")])]),
    ];
    let e = plan("ws", None, early.clone(), &Builtin).expect_err("CRD comes later");
    assert!(
        matches!(e, PlanError::UnknownKind { ref kind, .. } if kind == "Cluster"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("in file pg.yaml:1; is its CRD in this or an earlier wave?"),
        "{e}"
    );
    struct Discovery;
    impl Scopes for Discovery {
        fn namespaced(&self, _: &str, kind: &str) -> Option<bool> {
            (kind == "Cluster").then_some(true)
        }
    }
    assert!(plan("ws", None, early, &Discovery).is_ok());
}

#[test]
fn the_wave_annotation_moves_an_object_to_a_component_named_after_that_wave() {
    let mut late = cm("w/00/late.yaml", "late");
    late.json["metadata"]["annotations"] = json!({"wavesync.io/wave": "apps"});
    let mut same = cm("w/00/same.yaml", "same");
    same.json["metadata"]["annotations"] = json!({"wavesync.io/wave": "prerequisites"});
    let input = vec![
        wave("prerequisites", vec![("base", vec![late, same])]),
        wave("apps", vec![("web", vec![cm("w/40/web.yaml", "web")])]),
    ];
    let p = plan("ws", None, input, &Builtin).expect("plans");
    assert_eq!(
        names(&p),
        [
            (
                "prerequisites".into(),
                "base".into(),
                vec!["ConfigMap default/same".into()]
            ),
            (
                "apps".into(),
                "web".into(),
                vec!["ConfigMap default/web".into()]
            ),
            (
                "apps".into(),
                "apps".into(),
                vec!["ConfigMap default/late".into()]
            ),
        ]
    );
    let moved = &p.waves[1].components[1].objects[0].json["metadata"];
    assert_eq!(moved["labels"]["wavesync.io/wave"], "apps");
    assert_eq!(moved["labels"]["wavesync.io/component"], "apps");
    assert_eq!(moved["annotations"]["wavesync.io/wave"], "apps");
}

#[test]
fn an_unknown_wave_in_the_annotation_names_the_object_and_file() {
    let mut o = cm("w/00/a.yaml", "a");
    o.json["metadata"]["annotations"] = json!({"wavesync.io/wave": "ap"});
    let e = plan(
        "ws",
        None,
        vec![wave("apps", vec![("apps", vec![o])])],
        &Builtin,
    )
    .expect_err("unknown wave");
    assert_eq!(
        e.to_string(),
        "w/00/a.yaml:1: ConfigMap/a asks for wave \"ap\" (annotation wavesync.io/wave), which is not declared; the waves are: apps"
    );
    assert_eq!(e.category(), Category::Config);
}

#[test]
fn an_object_declared_twice_names_both_files() {
    let mut explicit = cm("w/40/b.yaml", "a");
    explicit.json["metadata"]["namespace"] = json!("default");
    let input = vec![
        wave("one", vec![("one", vec![cm("w/00/a.yaml", "a")])]),
        wave("two", vec![("two", vec![explicit])]),
    ];
    let e = plan("ws", None, input, &Builtin).expect_err("duplicate");
    assert_eq!(
        e.to_string(),
        "ConfigMap default/a is declared twice: in w/00/a.yaml:1 and in w/40/b.yaml:1"
    );
    // A different API version of the same object is the same object.
    let mut v2 = obj(
        "y.yaml",
        json!({"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "d"}}),
    );
    let v1 = obj(
        "x.yaml",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
    );
    v2.json["metadata"]["namespace"] = json!("default");
    assert!(matches!(
        plan(
            "ws",
            None,
            vec![wave("w", vec![("c", vec![v1, v2])])],
            &Builtin
        ),
        Err(PlanError::Duplicate { .. })
    ));
}

#[test]
fn invalid_names_are_refused() {
    let e = plan(
        "ws",
        None,
        vec![wave("a", vec![]), wave("a", vec![])],
        &Builtin,
    )
    .expect_err("duplicate wave");
    assert!(matches!(e, PlanError::DuplicateWave { .. }), "{e}");
    let e = plan(
        "ws",
        None,
        vec![wave("a", vec![("c", vec![]), ("c", vec![])])],
        &Builtin,
    )
    .expect_err("duplicate component");
    assert!(matches!(e, PlanError::DuplicateComponent { .. }), "{e}");
    let e = plan("ws", None, vec![wave("bad name", vec![])], &Builtin).expect_err("label value");
    assert!(
        matches!(e, PlanError::InvalidName { what: "wave", .. }),
        "{e}"
    );
}

#[test]
fn digests_are_stable_and_change_with_any_character() {
    let a = plan("dataplane", None, sample(), &Builtin).expect("plans");
    let b = plan("dataplane", None, sample(), &Builtin).expect("plans");
    let digests = |p: &Plan| p.waves.iter().map(|w| w.digest.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&a), digests(&b));
    assert!(
        digests(&a)
            .iter()
            .all(|d| d.len() == 64 && d.bytes().all(|c| c.is_ascii_hexdigit()))
    );
    assert_eq!(digests(&a).len(), 3);
    assert_ne!(a.waves[0].digest, a.waves[1].digest);

    let mut changed = sample();
    changed[0].components[0].1[0].json["data"]["k"] = json!("w");
    let c = plan("dataplane", None, changed, &Builtin).expect("plans");
    assert_ne!(c.waves[0].digest, a.waves[0].digest);
    assert_eq!(c.waves[1..], a.waves[1..]);

    let other_waveset = plan("dataplan", None, sample(), &Builtin).expect("plans");
    assert_ne!(other_waveset.waves[0].digest, a.waves[0].digest);
}

#[test]
fn digests_ignore_file_order_and_origins_but_not_components() {
    let a = plan("ws", None, sample(), &Builtin).expect("plans");
    let mut shuffled = sample();
    shuffled[0].components[0].1.reverse();
    shuffled[0].components[0].1[0].origin.file = "elsewhere.yaml".into();
    let b = plan("ws", None, shuffled, &Builtin).expect("plans");
    assert_eq!(a.waves[0].digest, b.waves[0].digest);

    let mut renamed = sample();
    renamed[1].components[0].0 = "pgo".into();
    let c = plan("ws", None, renamed, &Builtin).expect("plans");
    assert_ne!(a.waves[1].digest, c.waves[1].digest);
}
