//! `wavesync demo`: the embedded simulated cluster, with simulated CloudNativePG
//! and VictoriaMetrics operators, and examples-repo committed into a fresh Git
//! repository and synced into it wave by wave, then the status table.

use crate::cli::DemoArgs;
use crate::reconcile::{Engine, SyncOptions};
use crate::render::{EngineChoice, Helm, HelmSettings};
use crate::report::{Progress, TerminalProgress, status};
use crate::source::{Auth, GitSource, SourceSpec, Tracking};
use anyhow::Context;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the simulated operators do, standing in for the real ones.
pub fn sim_options(ready_after: f64) -> kube_sim::SimOptions {
    kube_sim::SimOptions {
        ready_after: Duration::from_secs_f64(ready_after.max(0.0)),
        ready_kinds: vec![
            "postgresql.cnpg.io/Cluster".into(),
            "operator.victoriametrics.com/VMSingle".into(),
        ],
        ready_status: vec![
            (
                "postgresql.cnpg.io/Cluster".into(),
                json!({"phase": "Cluster in healthy state"}),
            ),
            (
                "operator.victoriametrics.com/VMSingle".into(),
                json!({"updateStatus": "operational"}),
            ),
        ],
        generated_secrets: vec![kube_sim::GeneratedSecret {
            kind: "postgresql.cnpg.io/Cluster".into(),
            name: "{name}-app".into(),
            keys: ["username", "password", "host", "port", "dbname", "uri"]
                .map(String::from)
                .to_vec(),
        }],
        ..Default::default()
    }
}

/// Copies `dir` into a new Git repository with one commit; returns its path.
pub fn commit_copy(dir: &Path, into: &Path) -> anyhow::Result<()> {
    copy_dir(dir, into)?;
    commit_all(into, "examples-repo")?;
    Ok(())
}

/// Makes `dir` a Git repository on branch `main` whose one commit holds
/// every file in it (the demo's and the benchmarks' scratch repositories).
///
/// # Errors
/// libgit2's, when the repository cannot be made.
pub fn commit_all(dir: &Path, message: &str) -> Result<(), git2::Error> {
    let repo =
        git2::Repository::init_opts(dir, git2::RepositoryInitOptions::new().initial_head("main"))?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = git2::Signature::now("wavesync", "wavesync@wavesync.invalid")?;
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[])?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Where the demo installs libhelm_c when the machine has no Helm engine.
const DEMO_WHEEL_DIR: &str = ".wavesync-cache/helm-python-sdk-0.2.2";

/// The Helm engine for the examples-repo charts. A newcomer's machine may have
/// neither a helm CLI nor the helm-python-sdk wheel: then the wheel is
/// installed once from PyPI into wavesync's cache directory (not into the
/// system), and libhelm_c is loaded from there.
fn helm_engine(args: &DemoArgs) -> anyhow::Result<Helm> {
    let settings = args.helm.settings();
    // The probe starts the engine; when it works, the sync uses it as it is.
    let probe = Helm::new(settings.clone());
    if settings.engine == EngineChoice::Cli || probe.engine().is_ok() {
        return Ok(probe);
    }
    let target = PathBuf::from(DEMO_WHEEL_DIR);
    let lib = target.join("helm_python").join("lib");
    if !lib.is_dir() {
        println!(
            "no Helm engine on this machine: installing helm-python-sdk 0.2.2 (libhelm_c, Helm's Go SDK) from PyPI into {}",
            target.display()
        );
        let status = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&target)
            .arg("helm-python-sdk==0.2.2")
            .status()
            .context("running python3 -m pip")?;
        if !status.success() {
            anyhow::bail!(
                "could not install helm-python-sdk: install the helm CLI, or run \
                 `python3 -m pip install helm-python-sdk`, and run the demo again"
            );
        }
    }
    Ok(Helm::new(HelmSettings {
        libhelm: Some(lib),
        ..settings
    }))
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!("wavesync-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    // The scratch repository goes whatever happens, errors included.
    let result = demo(&args, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn demo(args: &DemoArgs, work: &Path) -> anyhow::Result<()> {
    let repo_dir = work.join("repo");
    commit_copy(&args.dir, &repo_dir)
        .with_context(|| format!("making a Git repository of {}", args.dir.display()))?;
    let ws = crate::config::load(&repo_dir, Some(&args.cluster_name))?;

    println!(
        "starting the simulated cluster (simulated CloudNativePG and VictoriaMetrics operators)"
    );
    let sim = kube_sim::Sim::start_with(sim_options(args.ready_after)).await?;
    let client = sim.client()?;
    prepare_cluster(&client, &ws).await?;

    let mut src = GitSource::new(SourceSpec {
        url: format!("file://{}", repo_dir.display()),
        tracking: Tracking::Branch("main".into()),
        auth: Auth::None,
        cache_dir: work.join("cache"),
        verify: None,
    });
    let snapshot = tokio::task::spawn_blocking(move || src.sync()).await??;
    println!(
        "repository {} at {}",
        args.dir.display(),
        snapshot.revision.short()
    );
    let progress: Arc<dyn Progress> = Arc::new(TerminalProgress::default());
    let options = SyncOptions {
        cluster: Some(args.cluster_name.clone()),
        ..Default::default()
    };
    let engine = Engine::new(client.clone(), options, progress).with_helm(helm_engine(args)?);
    let result = engine.sync(&snapshot.root, &snapshot.revision).await;
    if let Some(loaded) = engine.store(&ws.name).load().await? {
        println!();
        print!("{}", status::table(&loaded.record));
    }
    if let Some(path) = &args.keep {
        sim.write_kubeconfig(path)?;
        println!(
            "\nthe simulated cluster keeps running: kubectl --kubeconfig {} get all -A  (Ctrl-C to stop)",
            path.display()
        );
        println!(
            "change something by hand (kubectl scale, edit), then see the drift: wavesync diff --live --kubeconfig {} --dir {} --cluster {}",
            path.display(),
            args.dir.display(),
            args.cluster_name
        );
        tokio::signal::ctrl_c().await?;
    }
    result?;
    Ok(())
}

/// What a cluster admin provides before wavesync runs: the agent's namespace
/// and the storage class the cluster's values name.
async fn prepare_cluster(client: &kube::Client, ws: &crate::config::WaveSet) -> anyhow::Result<()> {
    let pp = PostParams::default();
    super::cluster::ensure_namespace(client, "wavesync").await?;
    if let Some(class) = ws.values.get("storageClass").and_then(|v| v.as_str()) {
        let sc: StorageClass = serde_json::from_value(
            json!({"metadata": {"name": class}, "provisioner": "simulated.wavesync.io"}),
        )?;
        Api::<StorageClass>::all(client.clone())
            .create(&pp, &sc)
            .await
            .context("creating the storage class")?;
    }
    Ok(())
}
