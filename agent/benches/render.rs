//! Rendering examples-repo (issue 4, "Performance"): what a reconcile of an
//! unchanged revision pays before it talks to the cluster — `wavesync.yaml`
//! loaded, every wave rendered (plain manifests, the apps overlay, the
//! operators' Helm charts) and planned with digests. Figures only; nothing
//! here asserts on time.
//!
//! - **cold**: a new [`Helm`] (a restarted agent): the helm worker starts
//!   and every chart is rendered by libhelm_c.
//! - **warm**: the same [`Helm`] again and again (a running agent, unchanged
//!   input): charts come from the cache keyed by chart and values digest.
//!   Target: under 300 ms.
//! - **changed values**: another cluster's values: only the charts whose
//!   values differ are rendered again.
//!
//! ```text
//! cargo bench -p wavesync --bench render
//! ```
//! Needs a Helm engine: `helm` on PATH, or the `helm-python-sdk` wheel.

use std::path::Path;
use std::time::{Duration, Instant};
use wavesync::plan::{self, Builtin};
use wavesync::reconcile::prepare::render_all;
use wavesync::render::{EngineChoice, Helm, HelmSettings};

const WARM_RUNS: usize = 30;

/// One reconcile's render work; returns the number of objects and the digests.
fn reconcile(root: &Path, cluster: &str, helm: &Helm) -> (usize, Vec<String>) {
    let ws = wavesync::config::load(root, Some(cluster)).expect("wavesync.yaml loads");
    let inputs = render_all(root, &ws, helm).expect("examples-repo renders");
    let plan = plan::plan(&ws.name, ws.namespace.as_deref(), inputs, &Builtin).expect("plans");
    let objects = plan
        .waves
        .iter()
        .flat_map(|w| &w.components)
        .map(|c| c.objects.len())
        .sum();
    (
        objects,
        plan.waves.iter().map(|w| w.digest.clone()).collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "render".contains(a.as_str())) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples-repo");
    let settings = HelmSettings {
        engine: EngineChoice::Auto,
        worker_exe: Some(env!("CARGO_BIN_EXE_wavesync").into()),
        ..Default::default()
    };

    let helm = Helm::new(settings.clone());
    let t = Instant::now();
    let (objects, digests) = reconcile(&root, "dp-east", &helm);
    let cold = t.elapsed();
    let cold_renders = helm.renders();
    println!("engine: {}", helm.engine().unwrap_or_else(|e| e));
    println!(
        "examples-repo (dp-east): {objects} objects in {} waves, {cold_renders} chart renders",
        digests.len()
    );
    println!("{:<44} {:>10}", "cold (new engine, worker start)", ms(cold));

    let mut times = Vec::with_capacity(WARM_RUNS);
    for _ in 0..WARM_RUNS {
        let t = Instant::now();
        let (_, again) = reconcile(&root, "dp-east", &helm);
        times.push(t.elapsed());
        assert_eq!(again, digests, "re-render changed a digest");
    }
    times.sort();
    println!(
        "{:<44} {:>10}   (median of {WARM_RUNS}; max {}; target < 300 ms)",
        "warm (same engine, unchanged input)",
        ms(times[WARM_RUNS / 2]),
        ms(times[WARM_RUNS - 1])
    );
    println!(
        "{:<44} {:>10}",
        "chart renders during the warm runs",
        helm.renders() - cold_renders
    );

    let before = helm.renders();
    let t = Instant::now();
    reconcile(&root, "dp-west", &helm);
    println!(
        "{:<44} {:>10}   ({} chart renders)",
        "other cluster's values (dp-west)",
        ms(t.elapsed()),
        helm.renders() - before
    );
}
