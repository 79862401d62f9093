//! Shared helpers of the integration tests: a simulated cluster per test, a Git
//! repository in a tempdir, an engine whose progress events are recorded, and
//! small readers of the cluster and the record.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

pub mod agent;

use kube::api::{DynamicObject, PostParams};
use kube_sim::{Sim, SimOptions};
use serde_json::{Value, json};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wavesync::cluster::Resolver;
use wavesync::model::Revision;
use wavesync::reconcile::{Engine, SyncError, SyncOptions, SyncReport};
use wavesync::report::{Event, Progress};
use wavesync::source::{Auth, GitSource, Snapshot, SourceSpec, Tracking};
use wavesync::state::{Record, WaveStatus};

/// The WaveSet name of the standard test repository.
pub const WAVESET: &str = "shop";

/// The simulated operator of the test CRD: `Widget`s become ready with
/// `status.phase: Running`, which the wave's CEL rule checks.
pub fn sim_options() -> SimOptions {
    SimOptions {
        ready_after: Duration::from_millis(100),
        ready_kinds: vec!["example.com/Widget".into()],
        ready_status: vec![("example.com/Widget".into(), json!({"phase": "Running"}))],
        ..Default::default()
    }
}

/// Records every progress event.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        self.events.lock().unwrap().push(e.clone());
    }
}

impl Recorder {
    pub fn all(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }
    /// Waves reported `WaveVerified`.
    pub fn verified(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|e| {
                if let Event::WaveVerified { wave } = e {
                    Some(wave)
                } else {
                    None
                }
            })
            .collect()
    }
    /// Waves reported `WaveStarted`.
    pub fn started(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|e| {
                if let Event::WaveStarted { wave, .. } = e {
                    Some(wave)
                } else {
                    None
                }
            })
            .collect()
    }
    /// (wave, component) of `ComponentSkipped`.
    pub fn skipped(&self) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter_map(|e| {
                if let Event::ComponentSkipped {
                    wave, component, ..
                } = e
                {
                    Some((wave, component))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// A Git repository in a tempdir, on branch `main`.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_opts(
            dir.path(),
            git2::RepositoryInitOptions::new().initial_head("main"),
        )
        .unwrap();
        TestRepo { dir, repo }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Writes a file (creating directories).
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Removes a file or a directory.
    pub fn remove(&self, rel: &str) {
        let p = self.dir.path().join(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap()
        } else {
            std::fs::remove_file(p).unwrap()
        }
    }

    /// Commits the working tree as it is (additions, changes and removals); returns the SHA.
    pub fn commit(&self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("wavesync tests", "tests@wavesync.invalid").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

/// Helm through libhelm_c, in a worker process that is this package's
/// `wavesync` binary (a test binary cannot serve as the worker).
#[allow(dead_code)]
pub fn helm_settings() -> wavesync::render::HelmSettings {
    wavesync::render::HelmSettings {
        engine: wavesync::render::EngineChoice::Libhelm,
        worker_exe: Some(env!("CARGO_BIN_EXE_wavesync").into()),
        ..Default::default()
    }
}

/// One test's world: its own simulated cluster (with the `wavesync`
/// namespace), a Git repository, a Git source fetching it over file://, and
/// the recorded progress of the engines it makes.
pub struct Env {
    pub sim: Sim,
    pub client: kube::Client,
    pub repo: TestRepo,
    pub events: Arc<Recorder>,
    pub resolver: Resolver,
    cache: tempfile::TempDir,
    source: Option<GitSource>,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(sim_options()).await
    }

    pub async fn start_with(options: SimOptions) -> Env {
        let sim = Sim::start_with(options).await.unwrap();
        let client = wavesync::client::client(sim.config().clone()).unwrap();
        let repo = TestRepo::new();
        let cache = tempfile::tempdir().unwrap();
        let source = GitSource::new(SourceSpec {
            url: repo.url(),
            tracking: Tracking::Branch("main".into()),
            auth: Auth::None,
            cache_dir: cache.path().join("cache"),
            verify: None,
        });
        let env = Env {
            resolver: Resolver::new(client.clone()),
            sim,
            client,
            repo,
            events: Arc::new(Recorder::default()),
            cache,
            source: Some(source),
        };
        env.create(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wavesync"}}),
        )
        .await;
        env
    }

    /// The options the tests use: a short `requires` grace.
    pub fn options() -> SyncOptions {
        SyncOptions {
            requires_grace: Duration::from_secs(3),
            helm: helm_settings(),
            ..Default::default()
        }
    }

    /// A new engine (a new agent process, as far as state goes) recording into `events`.
    pub fn engine(&self) -> Engine {
        self.engine_with(Env::options())
    }

    pub fn engine_with(&self, options: SyncOptions) -> Engine {
        Engine::new(self.client.clone(), options, self.events.clone())
    }

    /// Fetches the tip of `main` through `GitSource` (file:// URL).
    pub async fn fetch(&mut self) -> Snapshot {
        let mut src = self.source.take().unwrap();
        let (src, snap) = tokio::task::spawn_blocking(move || {
            let snap = src.sync();
            (src, snap)
        })
        .await
        .unwrap();
        self.source = Some(src);
        snap.unwrap()
    }

    /// Fetch, then one sync pass with `engine`.
    pub async fn sync(&mut self, engine: &Engine) -> (Revision, Result<SyncReport, SyncError>) {
        let snap = self.fetch().await;
        let res = engine.sync(&snap.root, &snap.revision).await;
        (snap.revision, res)
    }

    /// The record of the standard WaveSet.
    pub async fn record(&self) -> Record {
        self.record_of(WAVESET).await
    }

    pub async fn record_of(&self, waveset: &str) -> Record {
        self.engine()
            .store(waveset)
            .load()
            .await
            .unwrap()
            .expect("a record exists")
            .record
    }

    /// A live object, or None when it does not exist.
    pub async fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let resolved = self.resolver.resolve(api_version, kind).await.unwrap()?;
        let api = self.resolver.api(&resolved, ns);
        api.get_opt(name)
            .await
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Whether the object exists and is not being deleted.
    pub async fn exists(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> bool {
        self.get(api_version, kind, ns, name)
            .await
            .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_none())
    }

    pub async fn resource_version(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> String {
        let o = self
            .get(api_version, kind, ns, name)
            .await
            .unwrap_or_else(|| panic!("{kind} {ns}/{name} exists"));
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates an object as someone other than wavesync would.
    pub async fn create(&self, object: Value) {
        let obj: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        let api_version = object["apiVersion"].as_str().unwrap();
        let kind = object["kind"].as_str().unwrap();
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let resolved = self
            .resolver
            .resolve(api_version, kind)
            .await
            .unwrap()
            .unwrap();
        let pp = PostParams {
            field_manager: Some("someone-else".into()),
            ..Default::default()
        };
        self.resolver
            .api(&resolved, ns)
            .create(&pp, &obj)
            .await
            .unwrap();
    }

    /// Requests that wrote to the cluster (create, update, patch, delete, deletecollection).
    pub fn writes(&self) -> u64 {
        let c = self.sim.counters();
        ["create", "update", "patch", "delete", "deletecollection"]
            .iter()
            .map(|v| c.verb(v))
            .sum()
    }

    pub fn temp(&self) -> PathBuf {
        self.cache.path().to_path_buf()
    }
}

/// Polls `f` every 50 ms until it returns Some, failing after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_or(within, what, String::new, f).await
}

/// As [`eventually`], with `context()` added to the failure message.
#[allow(dead_code)]
pub async fn eventually_or<T, F, Fut>(
    within: Duration,
    what: &str,
    context: impl Fn() -> String,
    mut f: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}{}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Status of a wave in a record.
pub fn status(record: &Record, wave: &str) -> WaveStatus {
    record
        .wave(wave)
        .unwrap_or_else(|| panic!("wave {wave} in the record"))
        .status
}

// ---------------------------------------------------------------- manifests

/// A Deployment (one replica, a valid template) with extra annotations.
pub fn deployment(name: &str, ns: &str, annotations: &[(&str, &str)]) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  annotations: {ann}
spec:
  replicas: 1
  selector: {{ matchLabels: {{ app: {name} }} }}
  template:
    metadata: {{ labels: {{ app: {name} }} }}
    spec:
      containers:
        - name: main
          image: registry.example.com/{name}:1.0
"#,
        ann = annotations_flow(annotations)
    )
}

/// A Job that completes (or fails, with `sim.wavesync.io/fail: "true"`).
pub fn job(name: &str, ns: &str, image_tag: &str, annotations: &[(&str, &str)]) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: {ns}
  annotations: {ann}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: registry.example.com/migrate:{image_tag}
"#,
        ann = annotations_flow(annotations)
    )
}

pub fn configmap(name: &str, ns: &str, value: &str, annotations: &[(&str, &str)]) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations: {}\ndata:\n  value: {value:?}\n",
        annotations_flow(annotations)
    )
}

pub fn namespace(name: &str, annotations: &[(&str, &str)]) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  annotations: {}\n",
        annotations_flow(annotations)
    )
}

fn annotations_flow(annotations: &[(&str, &str)]) -> String {
    let parts: Vec<String> = annotations
        .iter()
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

pub const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget, listKind: WidgetList }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

pub const WIDGET: &str = r#"apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: shop
spec:
  size: 1
"#;

/// `wavesync.yaml` of the standard repository: four waves.
pub const STANDARD_WAVESET: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: crds
      path: waves/crds
      health:
        - apiVersion: example.com/v1
          kind: Widget
          ready: "has(self.status) && has(self.status.phase) && self.status.phase == 'Running'"
    - name: jobs
      path: waves/jobs
    - name: apps
      path: waves/apps
"#;

/// The standard repository: `base` (Namespace shop, ConfigMap settings),
/// `crds` (CRD widgets.example.com and Widget w1, with a CEL health rule),
/// `jobs` (Job migrate), `apps` (Deployment web).
pub fn write_standard(repo: &TestRepo) {
    repo.write("wavesync.yaml", STANDARD_WAVESET);
    repo.write("waves/base/namespace.yaml", &namespace("shop", &[]));
    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "blue", &[]),
    );
    repo.write("waves/crds/crd.yaml", WIDGET_CRD);
    repo.write("waves/crds/widget.yaml", WIDGET);
    repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "1.0", &[]),
    );
    repo.write("waves/apps/web.yaml", &deployment("web", "shop", &[]));
}
