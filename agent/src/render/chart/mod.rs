//! Helm charts, rendered by the real Helm engine: the `helm` CLI
//! (`helm template`), or `libhelm_c` (Helm's Go SDK behind a C ABI, from the
//! PyPI wheel `helm-python-sdk`) driven in a worker process. Never a
//! home-made Go-template engine: charts use all of Sprig, `tpl`, `lookup`
//! stubs and Helm's own quirks, and only Helm gives what `helm install` gives.
//!
//! Files, one job each: `protocol.rs` (job and reply, both engines),
//! `cli.rs` (`helm template`), `worker.rs` (the worker process and its
//! client), `ffi.rs` (the library calls: wavesync's only `unsafe`),
//! `locate.rs` (finding an engine), `values.rs` (values files and inline
//! values), `cache.rs` (renders per chart and values digest),
//! `output.rs` (rendered files → objects).

mod cache;
mod cli;
pub mod ffi;
mod locate;
mod output;
pub mod protocol;
mod values;
pub mod worker;

use super::RenderError;
use super::error::HelmFailure;
use super::paths;
use crate::model::Object;
use protocol::{Failed, Job, Reply};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use worker::WorkerClient;

/// Which Helm engine renders charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// The `helm` CLI when one is configured or on `PATH`, else `libhelm_c`.
    #[default]
    Auto,
    /// The `helm` CLI (`helm template`).
    Cli,
    /// `libhelm_c` in a worker process.
    Libhelm,
}

/// How to find the Helm engine.
#[derive(Debug, Clone, Default)]
pub struct HelmSettings {
    /// Which engine.
    pub engine: EngineChoice,
    /// The `helm` binary (default: `helm` on `PATH`).
    pub helm_bin: Option<PathBuf>,
    /// `libhelm_c` (a file or its directory; default: `HELM_C_LIB`, then
    /// the installed `helm-python-sdk` wheel).
    pub libhelm: Option<PathBuf>,
    /// The executable run as the worker (`<exe> helm-worker`); default: the
    /// running executable, which is `wavesync`.
    pub worker_exe: Option<PathBuf>,
    /// How long one chart render may take before the engine (the worker
    /// process or `helm template`) is killed and the render fails (a
    /// template that never ends); default [`DEFAULT_RENDER_TIMEOUT`].
    pub timeout: Option<Duration>,
}

/// How long a chart render may take when [`HelmSettings::timeout`] is unset.
pub const DEFAULT_RENDER_TIMEOUT: Duration = Duration::from_secs(60);

impl HelmSettings {
    /// The render timeout in force.
    pub fn render_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_RENDER_TIMEOUT)
    }
}

/// One chart component to render.
#[derive(Debug, Clone, Copy)]
pub struct ChartSpec<'a> {
    /// The chart's directory or `.tgz`, relative to the repository root.
    pub path: &'a str,
    /// `.Release.Name`.
    pub release: &'a str,
    /// `.Release.Namespace`, and the namespace of namespaced objects that
    /// name none.
    pub namespace: &'a str,
    /// Values files relative to the repository root, merged in order.
    pub values_files: &'a [String],
    /// Inline values, merged over the files.
    pub values: &'a Map<String, Value>,
    /// Whether the chart's `crds/` are installed (first in the wave).
    pub include_crds: bool,
}

/// The Helm engine with its render cache; cheap to clone (shared). The
/// engine is found on the first chart rendered, so repositories without
/// charts never look for one.
#[derive(Clone, Default)]
pub struct Helm {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: HelmSettings,
    backend: OnceLock<Result<Backend, String>>,
    cache: cache::Cache,
    renders: AtomicU64,
}

enum Backend {
    Cli {
        bin: PathBuf,
        version: String,
        timeout: Duration,
    },
    Lib {
        worker: WorkerClient,
        version: String,
    },
}

impl Backend {
    fn version(&self) -> &str {
        match self {
            Backend::Cli { version, .. } | Backend::Lib { version, .. } => version,
        }
    }

    fn render(&self, job: &Job) -> Reply {
        match self {
            Backend::Cli { bin, timeout, .. } => cli::render(bin, job, *timeout),
            Backend::Lib { worker, .. } => worker.render(job),
        }
    }
}

impl Helm {
    /// A Helm engine found according to `settings`.
    pub fn new(settings: HelmSettings) -> Helm {
        Helm {
            inner: Arc::new(Inner {
                settings,
                ..Inner::default()
            }),
        }
    }

    /// The engine in use, e.g. `libhelm_c 0.2.2 (Helm v4.2.3)`.
    ///
    /// # Errors
    /// Why no engine could be started.
    pub fn engine(&self) -> Result<String, String> {
        self.backend().map(|b| b.version().to_owned())
    }

    /// How many times Helm was really called (renders not served from the cache).
    pub fn renders(&self) -> u64 {
        self.inner.renders.load(Ordering::Relaxed)
    }

    fn backend(&self) -> Result<&Backend, String> {
        self.inner
            .backend
            .get_or_init(|| start(&self.inner.settings))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Renders a chart of the repository at `repo_root` into objects: the
    /// files of `crds/` first (when included), then the templates, each in
    /// Helm's file-name order; objects that Helm does not install with the
    /// release (test hooks) are left out.
    ///
    /// # Errors
    /// [`RenderError::Helm`] naming the chart and the failed step (a
    /// template error names the template and line); the path errors of
    /// plain rendering; errors of the values files.
    pub fn render(
        &self,
        repo_root: &Path,
        spec: &ChartSpec,
        substitute: &dyn Fn(&str, &Path) -> Result<String, String>,
    ) -> Result<Vec<Object>, RenderError> {
        let (_, target) = paths::resolve(repo_root, spec.path)?;
        let helm_error = |failure, message| RenderError::Helm {
            chart: spec.path.to_owned(),
            failure,
            message,
        };
        let job = Job {
            chart: target.abs.clone(),
            release: spec.release.to_owned(),
            namespace: spec.namespace.to_owned(),
            values: values::layered(repo_root, spec.values_files, spec.values, substitute)?,
            include_crds: spec.include_crds,
        };
        let backend = self
            .backend()
            .map_err(|m| helm_error(HelmFailure::Engine, m))?;
        let key = cache::key(backend.version(), &job).map_err(|source| RenderError::Io {
            path: target.rel.clone(),
            source,
        })?;
        let rendered = match self.inner.cache.get(&key) {
            Some(hit) => hit,
            None => {
                self.inner.renders.fetch_add(1, Ordering::Relaxed);
                match backend.render(&job) {
                    Reply::Ok(r) => {
                        let r = Arc::new(r);
                        self.inner.cache.put(key, r.clone());
                        r
                    }
                    Reply::Err { failed, message } => {
                        return Err(helm_error(failure_of(failed), message));
                    }
                }
            }
        };
        output::objects(&rendered, &target.rel, spec)
    }
}

fn failure_of(failed: Failed) -> HelmFailure {
    match failed {
        Failed::Load => HelmFailure::Load,
        Failed::Values => HelmFailure::Values,
        Failed::Template => HelmFailure::Template,
        Failed::Engine => HelmFailure::Engine,
        Failed::Timeout => HelmFailure::Timeout,
    }
}

/// Finds and starts the engine `settings` ask for.
fn start(settings: &HelmSettings) -> Result<Backend, String> {
    let cli = settings
        .helm_bin
        .clone()
        .or_else(|| locate::on_path("helm"));
    match (settings.engine, cli) {
        (EngineChoice::Cli | EngineChoice::Auto, Some(bin)) => {
            let version = cli::version(&bin)?;
            Ok(Backend::Cli {
                bin,
                version,
                timeout: settings.render_timeout(),
            })
        }
        (EngineChoice::Cli, None) => {
            Err("the helm CLI engine was asked for, but `helm` is not on PATH".into())
        }
        (EngineChoice::Libhelm | EngineChoice::Auto, _) => {
            let lib = locate::libhelm(settings.libhelm.as_deref())?;
            let exe = match &settings.worker_exe {
                Some(exe) => exe.clone(),
                None => std::env::current_exe()
                    .map_err(|e| format!("cannot find the wavesync executable: {e}"))?,
            };
            let worker = WorkerClient::new(exe, lib).with_timeout(settings.render_timeout());
            let version = worker.version()?;
            Ok(Backend::Lib { worker, version })
        }
    }
}
