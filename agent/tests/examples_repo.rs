//! examples-repo, as the demo and the docs use it: it renders for both of its
//! clusters with all three kinds of source, the apps wave is what
//! `kubectl kustomize` gives for the cluster's overlay, and the clusters
//! differ only where their values say.

#![allow(clippy::unwrap_used)]

mod common;

use common::helm_settings;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use wavesync::plan::{self, Builtin, Plan};
use wavesync::reconcile::prepare::render_all;
use wavesync::render::{Helm, RenderRequest, render_path, verbatim};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples-repo"))
}

fn planned(cluster: &str, helm: &Helm) -> Plan {
    let ws = wavesync::config::load(root(), Some(cluster)).unwrap();
    plan::plan(
        &ws.name,
        ws.namespace.as_deref(),
        render_all(root(), &ws, helm).unwrap(),
        &Builtin,
    )
    .unwrap()
}

fn without_wavesync_labels(mut v: Value) -> Value {
    if let Some(labels) = v["metadata"]["labels"].as_object_mut() {
        labels.retain(|k, _| !k.starts_with("wavesync.io/"));
    }
    v
}

#[test]
fn both_clusters_render_and_the_apps_wave_is_what_kubectl_kustomize_gives() {
    let helm = Helm::new(helm_settings());
    for (cluster, overlay) in [("dp-east", "prod-east"), ("dp-west", "prod")] {
        let plan = planned(cluster, &helm);
        let wave = |name: &str| plan.waves.iter().find(|w| w.name == name).unwrap();
        // The operators come from charts: their CRDs (from crds/) and Deployments.
        let operators: Vec<String> = wave("operators")
            .components
            .iter()
            .flat_map(|c| &c.objects)
            .map(|o| format!("{}", o.origin.file.display()))
            .collect();
        assert!(
            operators
                .iter()
                .any(|f| f.starts_with("charts/cloudnative-pg/crds/")),
            "{operators:?}"
        );
        assert!(
            operators
                .iter()
                .any(|f| f.starts_with("charts/victoria-metrics-operator/templates/"))
        );

        let apps: Vec<Value> = wave("apps").components[0]
            .objects
            .iter()
            .map(|o| without_wavesync_labels(o.json.clone()))
            .collect();
        let dir = root().join("waves/40-apps/overlays").join(overlay);
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("out.yaml"), &out.stdout).unwrap();
        let mut expected: Vec<Value> = render_path(&RenderRequest {
            repo_root: tmp.path(),
            path: "out.yaml",
            substitute: &verbatim,
        })
        .unwrap()
        .into_iter()
        .map(|o| o.json)
        .collect();
        let mut got = apps.clone();
        let key = |v: &Value| format!("{}/{}", v["kind"], v["metadata"]["name"]);
        expected.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(got, expected, "cluster {cluster}, overlay {overlay}");
        // The generated Secret's hashed name reached the Deployments.
        let secret = got.iter().find(|o| o["kind"] == "Secret").unwrap();
        let name = secret["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("api-credentials-"), "{name}");
        let api = got
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "api")
            .unwrap();
        assert!(api.to_string().contains(name));
    }
}

#[test]
fn the_clusters_differ_in_their_values_only() {
    let helm = Helm::new(helm_settings());
    let (east, west) = (planned("dp-east", &helm), planned("dp-west", &helm));
    let digests = |p: &Plan| {
        p.waves
            .iter()
            .map(|w| (w.name.clone(), w.digest.clone()))
            .collect::<Vec<_>>()
    };
    let (de, dw) = (digests(&east), digests(&west));
    // prerequisites carry no per-cluster value; every other wave does.
    assert_eq!(de[0], dw[0]);
    for (e, w) in de.iter().zip(&dw).skip(1) {
        assert_ne!(e, w, "wave {}", e.0);
    }
    let image = |p: &Plan, name: &str| {
        p.waves
            .iter()
            .flat_map(|w| &w.components)
            .flat_map(|c| &c.objects)
            .find(|o| o.json["kind"] == "Deployment" && o.json["metadata"]["name"] == name)
            .map(|o| o.json["spec"]["template"]["spec"]["containers"][0]["image"].clone())
            .unwrap()
    };
    assert_eq!(
        image(&east, "cnpg-controller-manager"),
        "registry.east.example.com/ghcr/cloudnative-pg/cloudnative-pg:1.27.0"
    );
    assert_eq!(
        image(&west, "cnpg-controller-manager"),
        "ghcr.io/cloudnative-pg/cloudnative-pg:1.27.0"
    );
}
