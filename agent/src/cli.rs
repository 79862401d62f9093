//! The command line: subcommands and their flags.

use crate::render::{EngineChoice, HelmSettings};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Parses `30s`, `1m`, `1h30m` or bare seconds (`30`).
fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(secs) = text.trim().parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    crate::config::parse_duration(text).map_err(|e| e.to_string())
}

/// A duration greater than zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// Refuses an empty value (an env var set to "" in a ConfigMap left unedited).
fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(text.to_string())
}

/// How logs are written.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line (for log collectors in a cluster).
    Json,
}

/// wavesync: GitOps for dataplane installs, in ordered waves.
#[derive(Debug, Parser)]
#[command(name = "wavesync", version, about)]
pub struct Cli {
    /// Log format (logs go to stderr; the level comes from RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WAVESYNC_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
// Parsed once at start and moved once: the size of the largest variant
// does not matter, and boxing each in turn only moves the warning along.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: sync, then follow the repository (poll or watch) until SIGTERM.
    Run(RunArgs),
    /// One sync pass of the tracked revision.
    Sync(SyncArgs),
    /// Show the state record: revision, phase and every wave.
    Status(StatusArgs),
    /// Clear the state record (the next sync starts from the first wave).
    Reset(StateArgs),
    /// Print the rendered objects per wave, without a cluster.
    Render(RenderArgs),
    /// What a change does, wave by wave: between two revisions, or against the cluster with --live (exit 0: nothing, 2: changes, 1: error).
    Diff(DiffArgs),
    /// Check a repository without a cluster: schema, renders, references, duplicates, CRD order (exit 0: valid, 1: errors).
    Validate(ValidateArgs),
    /// Print the JSON schema of wavesync.yaml (for editors: yaml-language-server's `# yaml-language-server: $schema=`).
    Schema,
    /// Start the embedded simulated cluster and sync examples-repo into it, showing progress.
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// Run the simulated Kubernetes API server (for the demo, tests and trying kubectl).
    #[cfg(feature = "sim")]
    Sim(SimArgs),
    /// Internal: the process that renders Helm charts with libhelm_c for the agent.
    #[command(hide = true)]
    HelmWorker(HelmWorkerArgs),
}

/// How Helm charts are rendered.
#[derive(Debug, Args, Clone, Default)]
pub struct HelmArgs {
    /// Helm engine: `auto` uses the helm CLI when one is found, else libhelm_c.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto, env = "WAVESYNC_HELM_ENGINE")]
    pub helm_engine: EngineChoice,
    /// The helm binary (default: `helm` on PATH).
    #[arg(long = "helm", env = "WAVESYNC_HELM")]
    pub helm_bin: Option<PathBuf>,
    /// libhelm_c, a file or its directory (default: $HELM_C_LIB, then the
    /// installed helm-python-sdk wheel).
    #[arg(long, env = "WAVESYNC_LIBHELM")]
    pub libhelm: Option<PathBuf>,
    /// How long one chart render may take before it is stopped and fails
    /// (a template that never ends), e.g. `60s` or `2m` [default: 60s].
    #[arg(long, env = "WAVESYNC_HELM_TIMEOUT", value_parser = positive_duration)]
    pub helm_timeout: Option<Duration>,
}

impl HelmArgs {
    /// The settings the renderer takes.
    pub fn settings(&self) -> HelmSettings {
        HelmSettings {
            engine: self.helm_engine,
            helm_bin: self.helm_bin.clone(),
            libhelm: self.libhelm.clone(),
            worker_exe: None,
            timeout: self.helm_timeout,
        }
    }
}

/// `wavesync helm-worker` (started by the agent, not by people).
#[derive(Debug, Args)]
pub struct HelmWorkerArgs {
    /// The libhelm_c shared library to load.
    #[arg(long)]
    pub lib: PathBuf,
}

/// How to reach the cluster (as kubectl does).
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account).
    #[arg(long, env = "WAVESYNC_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    #[arg(long, env = "WAVESYNC_CONTEXT")]
    pub context: Option<String>,
    /// The pod's service account (token, ca.crt, namespace), used with
    /// KUBERNETES_SERVICE_HOST/PORT when no kubeconfig is given.
    #[arg(
        long,
        env = "WAVESYNC_SERVICE_ACCOUNT_DIR",
        default_value = "/var/run/secrets/kubernetes.io/serviceaccount"
    )]
    pub service_account_dir: PathBuf,
}

/// Where the record lives.
#[derive(Debug, Args, Clone)]
pub struct StateArgs {
    /// Cluster access.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace of the state ConfigMap and the Lease.
    #[arg(long, default_value = "wavesync", env = "WAVESYNC_NAMESPACE")]
    pub state_namespace: String,
    /// WaveSet name (metadata.name of wavesync.yaml).
    #[arg(long, default_value = "dataplane", env = "WAVESYNC_WAVESET")]
    pub waveset: String,
}

/// The repository to follow.
#[derive(Debug, Args, Clone)]
pub struct RepoArgs {
    /// Git URL (https://, ssh://, git@host:path, file://) or a local repository path.
    #[arg(long, env = "WAVESYNC_REPO", value_parser = non_empty)]
    pub repo: String,
    /// Branch to track.
    #[arg(long, default_value = "main", env = "WAVESYNC_BRANCH")]
    pub branch: String,
    /// Tag to track instead of a branch.
    #[arg(long, conflicts_with = "commit", env = "WAVESYNC_TAG")]
    pub tag: Option<String>,
    /// Fixed commit to deploy instead of a branch.
    #[arg(long, env = "WAVESYNC_COMMIT")]
    pub commit: Option<String>,
    /// Directory inside the repository that holds wavesync.yaml.
    #[arg(long, default_value = ".", env = "WAVESYNC_PATH")]
    pub path: String,
    /// Where clones are cached.
    #[arg(long, default_value = ".wavesync-cache", env = "WAVESYNC_CACHE")]
    pub cache_dir: PathBuf,
    /// HTTPS token (sent as the password; never logged). Prefer the env var or a file.
    #[arg(
        long,
        env = "WAVESYNC_GIT_TOKEN",
        hide_env_values = true,
        conflicts_with = "git_token_file"
    )]
    pub git_token: Option<String>,
    /// A file holding the HTTPS token (a mounted Secret; read again after a failed fetch, so a rotated token is picked up).
    #[arg(long, env = "WAVESYNC_GIT_TOKEN_FILE")]
    pub git_token_file: Option<PathBuf>,
    /// Username sent with the token (default x-access-token; GitLab wants oauth2).
    #[arg(long, env = "WAVESYNC_GIT_USERNAME")]
    pub git_username: Option<String>,
    /// SSH private key for ssh:// and git@ URLs.
    #[arg(long, env = "WAVESYNC_SSH_KEY")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file for SSH (default: ~/.ssh/known_hosts).
    #[arg(long, env = "WAVESYNC_KNOWN_HOSTS")]
    pub known_hosts: Option<PathBuf>,
    /// Per-cluster values to select from wavesync.yaml.
    #[arg(long = "cluster", env = "WAVESYNC_CLUSTER")]
    pub cluster_name: Option<String>,
    /// Deploy only commits with a good SSH signature (git's gpg.format=ssh) by a key
    /// of this allowed_signers file (ssh-keygen's format; read again at every fetch).
    #[arg(long, env = "WAVESYNC_VERIFY_COMMITS_ALLOWED_SIGNERS")]
    pub verify_commits_allowed_signers: Option<PathBuf>,
    /// Deploy only commits with a good PGP signature by a key of this public
    /// keyring (armored or binary; checked with `gpg`; read again at every fetch).
    #[arg(long, env = "WAVESYNC_VERIFY_COMMITS_PGP_KEYS")]
    pub verify_commits_pgp_keys: Option<PathBuf>,
}

/// `wavesync sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Repository.
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Record location and cluster access.
    #[command(flatten)]
    pub state: StateArgs,
    /// Re-apply and re-verify every wave, even those completed at the same digest.
    #[arg(long)]
    pub repair: bool,
    /// Applies in flight at once inside a wave.
    #[arg(long, default_value_t = 16, env = "WAVESYNC_CONCURRENCY")]
    pub concurrency: usize,
    /// Let this sync prune more than spec.prune.maxDeleteShare of the
    /// inventory (a one-off, after reading what the refusal listed; the
    /// agent `wavesync run` ignores it).
    #[arg(long)]
    pub allow_mass_prune: bool,
    /// Helm engine.
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// `wavesync run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Sync settings.
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Time between polls of the remote (`30s`, `1m`, or seconds).
    #[arg(long, default_value = "30s", value_parser = duration, env = "WAVESYNC_INTERVAL")]
    pub interval: Duration,
    /// Also watch a local repository and sync within a second of a new commit.
    #[arg(long, env = "WAVESYNC_WATCH")]
    pub watch: bool,
    /// The HTTP listener for /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080", env = "WAVESYNC_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// Leader-election identity (in a pod: its name, from the downward API).
    #[arg(long, env = "WAVESYNC_IDENTITY")]
    pub identity: Option<String>,
    /// Lease name (default: wavesync-<waveset>, the lease `wavesync sync` takes too).
    #[arg(long, env = "WAVESYNC_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// How long the lease lasts without renewal: a standby takes over this long after the leader died.
    #[arg(long, default_value = "15s", value_parser = duration, env = "WAVESYNC_LEASE_DURATION")]
    pub lease_duration: Duration,
    /// How long the leader keeps acting when it cannot renew (less than the lease duration).
    #[arg(long, default_value = "10s", value_parser = duration, env = "WAVESYNC_LEASE_RENEW_DEADLINE")]
    pub lease_renew_deadline: Duration,
    /// How often the lease is renewed, or checked by a standby.
    #[arg(long, default_value = "2s", value_parser = duration, env = "WAVESYNC_LEASE_RETRY_PERIOD")]
    pub lease_retry_period: Duration,
    /// First delay after a transient failure; doubles with each further one.
    #[arg(long, default_value = "5s", value_parser = duration, env = "WAVESYNC_RETRY_BACKOFF")]
    pub retry_backoff: Duration,
    /// Longest delay between retries of transient failures.
    #[arg(long, default_value = "5m", value_parser = duration, env = "WAVESYNC_MAX_BACKOFF")]
    pub max_backoff: Duration,
    /// How long a pass may go on after SIGTERM before the agent exits.
    #[arg(long, default_value = "25s", value_parser = duration, env = "WAVESYNC_SHUTDOWN_GRACE")]
    pub shutdown_grace: Duration,
    /// /healthz fails when the loop made no progress for this many intervals (at least 2 minutes).
    #[arg(long, default_value_t = 10, env = "WAVESYNC_WEDGED_AFTER_INTERVALS")]
    pub wedged_after_intervals: u32,
    /// Watch the applied objects for drift (metadata-only watches; `false`
    /// turns drift detection, and so `drift: heal`, off).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "WAVESYNC_DRIFT_DETECTION")]
    pub drift_detection: bool,
    /// Serve POST /hooks/github with the webhook secret in this file (read at every request).
    #[arg(long, env = "WAVESYNC_WEBHOOK_GITHUB_SECRET_FILE")]
    pub webhook_github_secret_file: Option<PathBuf>,
    /// Serve POST /hooks/gitlab with the secret token in this file (read at every request).
    #[arg(long, env = "WAVESYNC_WEBHOOK_GITLAB_TOKEN_FILE")]
    pub webhook_gitlab_token_file: Option<PathBuf>,
    /// Serve POST /hooks/generic with the HMAC key in this file (read at every request).
    #[arg(long, env = "WAVESYNC_WEBHOOK_GENERIC_SECRET_FILE")]
    pub webhook_generic_secret_file: Option<PathBuf>,
    /// Notification sinks given on the command line.
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Notification sinks of `wavesync run` (docs/notifications.md); they add
/// to those of `spec.notifications` in wavesync.yaml.
#[derive(Debug, Args, Clone)]
pub struct NotifyArgs {
    /// A file holding the URL of a generic JSON webhook (sink `cli-webhook`).
    #[arg(long, env = "WAVESYNC_NOTIFY_WEBHOOK_URL_FILE")]
    pub notify_webhook_url_file: Option<PathBuf>,
    /// A file holding a bearer token for the `cli-webhook` sink.
    #[arg(
        long,
        env = "WAVESYNC_NOTIFY_WEBHOOK_TOKEN_FILE",
        requires = "notify_webhook_url_file"
    )]
    pub notify_webhook_token_file: Option<PathBuf>,
    /// A file holding the HMAC key that signs `cli-webhook` bodies (X-Wavesync-Signature-256).
    #[arg(
        long,
        env = "WAVESYNC_NOTIFY_WEBHOOK_HMAC_SECRET_FILE",
        requires = "notify_webhook_url_file"
    )]
    pub notify_webhook_hmac_secret_file: Option<PathBuf>,
    /// Alertmanager's base URL, e.g. http://alertmanager.monitoring:9093 (sink `cli-alertmanager`; never logged beyond its host).
    #[arg(long, env = "WAVESYNC_NOTIFY_ALERTMANAGER_URL", hide_env_values = true, value_parser = non_empty)]
    pub notify_alertmanager_url: Option<String>,
    /// A file holding a Slack incoming-webhook URL (sink `cli-slack`).
    #[arg(long, env = "WAVESYNC_NOTIFY_SLACK_URL_FILE")]
    pub notify_slack_url_file: Option<PathBuf>,
    /// What the sinks of these flags are sent, comma-separated (default: every event but SyncSucceeded).
    #[arg(long, env = "WAVESYNC_NOTIFY_EVENTS", value_delimiter = ',')]
    pub notify_events: Vec<crate::config::NotificationEvent>,
    /// The directory that files named in wavesync.yaml (urlFile, tokenFile, hmacSecretFile) must be in.
    #[arg(long, env = "WAVESYNC_NOTIFY_FILES_DIR", default_value = crate::notify::DEFAULT_FILES_DIR)]
    pub notify_files_dir: PathBuf,
}

impl NotifyArgs {
    /// The sinks these flags describe, for [`crate::notify::build_sinks`].
    pub fn sinks(&self) -> crate::notify::FlagSinks {
        crate::notify::FlagSinks {
            webhook_url_file: self.notify_webhook_url_file.clone(),
            webhook_token_file: self.notify_webhook_token_file.clone(),
            webhook_hmac_secret_file: self.notify_webhook_hmac_secret_file.clone(),
            alertmanager_url: self.notify_alertmanager_url.clone(),
            slack_url_file: self.notify_slack_url_file.clone(),
            events: self.notify_events.clone(),
            files_dir: self.notify_files_dir.clone(),
        }
    }
}

/// Output format of `status`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Output {
    /// A table for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

/// `wavesync status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Cluster access.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace of the state ConfigMaps.
    #[arg(long, default_value = "wavesync", env = "WAVESYNC_NAMESPACE")]
    pub state_namespace: String,
    /// The WaveSet to show in detail; without it, every record in the
    /// namespace is listed (and shown in detail when there is only one).
    #[arg(long, env = "WAVESYNC_WAVESET")]
    pub waveset: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `wavesync render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A directory holding wavesync.yaml (a checkout; no Git needed).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Per-cluster values to select.
    #[arg(long = "cluster")]
    pub cluster_name: Option<String>,
    /// Helm engine.
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// Output format of `diff`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum DiffOutput {
    /// Wave by wave for a terminal (coloured when it is one).
    #[default]
    Text,
    /// A pull-request comment: a summary table, then a collapsible section per wave.
    Markdown,
    /// JSON for scripts (schema in docs/pr-review.md).
    Json,
}

/// When to colour text output.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `wavesync diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The directory holding wavesync.yaml, inside a Git working tree.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The base revision (default: the merge-base of HEAD with the default branch).
    #[arg(long, conflicts_with = "live")]
    pub base: Option<String>,
    /// The head revision (default: the working tree as it is on disk).
    #[arg(long)]
    pub head: Option<String>,
    /// Diff the head against the cluster (server-side apply dry-run; never writes).
    #[arg(long)]
    pub live: bool,
    /// Per-cluster values to select.
    #[arg(long = "cluster")]
    pub cluster_name: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = DiffOutput::Text)]
    pub output: DiffOutput,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Markdown: leave diffs out past this many characters (GitHub caps a
    /// comment at 65,536; give each cluster a share when several go in one).
    #[arg(long, default_value_t = crate::diff::MARKDOWN_LIMIT, value_name = "CHARS")]
    pub markdown_limit: usize,
    /// Cluster access (with --live).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace of the state ConfigMap (with --live: which waves completed, what to prune).
    #[arg(long, default_value = "wavesync", env = "WAVESYNC_NAMESPACE")]
    pub state_namespace: String,
    /// Dry-run requests in flight at once (with --live).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Helm engine.
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// `wavesync validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The directory holding wavesync.yaml (a checkout; no Git needed).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Validate with this cluster's values only (default: every cluster
    /// wavesync.yaml defines, or the defaults when it defines none).
    #[arg(long = "cluster")]
    pub cluster_name: Option<String>,
    /// Also look up custom resource kinds in the cluster (a CRD installed
    /// there counts, as well as one in an earlier or the same wave).
    #[arg(long)]
    pub live: bool,
    /// Cluster access (with --live).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ValidateOutput::Text)]
    pub output: ValidateOutput,
    /// Helm engine.
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum ValidateOutput {
    /// One line per error: `file:line: message`.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
}

/// `wavesync demo`.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The example repository to sync.
    #[arg(long, default_value = "examples-repo")]
    pub dir: PathBuf,
    /// Which cluster's values to use.
    #[arg(long = "cluster", default_value = "dp-east")]
    pub cluster_name: String,
    /// Seconds simulated workloads take to become ready.
    #[arg(long, default_value_t = 0.5)]
    pub ready_after: f64,
    /// Also write the simulator's kubeconfig here, and keep it running after the sync until Ctrl-C.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Helm engine.
    #[command(flatten)]
    pub helm: HelmArgs,
}

/// Flags of `wavesync sim`.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Where to write the kubeconfig for `kubectl --kubeconfig`.
    #[arg(long, default_value = "kube-sim.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Serve plain HTTP instead of TLS.
    #[arg(long)]
    pub insecure_http: bool,
    /// Seconds workloads take to become ready.
    #[arg(long, default_value_t = 0.2)]
    pub ready_after: f64,
    /// Custom resource kinds (`Kind` or `group/Kind`) that get Ready=True conditions.
    #[arg(long = "ready-kind")]
    pub ready_kinds: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NotificationEvent;

    fn run(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = ["wavesync", "run", "--repo", "file:///r"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            Command::Run(a) => Ok(a),
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn notification_flags_become_sinks() {
        let a = run(&[
            "--notify-alertmanager-url",
            "http://am:9093",
            "--notify-slack-url-file",
            "/etc/wavesync/notify/slack",
            "--notify-events",
            "DriftDetected,Stalled",
        ])
        .expect("valid");
        let sinks = a.notify.sinks();
        assert_eq!(sinks.alertmanager_url.as_deref(), Some("http://am:9093"));
        assert_eq!(
            sinks.slack_url_file.as_deref(),
            Some(std::path::Path::new("/etc/wavesync/notify/slack"))
        );
        assert_eq!(
            sinks.events,
            [NotificationEvent::DriftDetected, NotificationEvent::Stalled]
        );
        assert_eq!(
            sinks.files_dir,
            std::path::Path::new("/etc/wavesync/notify")
        );
        let none = run(&[]).expect("valid").notify.sinks();
        assert_eq!(none, crate::notify::FlagSinks::default());
    }

    #[test]
    fn a_bad_event_or_a_token_without_its_webhook_is_refused() {
        let err = run(&["--notify-events", "DriftDetected,Drift"]).expect_err("unknown");
        assert!(err.to_string().contains("unknown event `Drift`"), "{err}");
        let err = run(&["--notify-webhook-token-file", "/t"]).expect_err("needs the URL");
        assert!(
            err.to_string().contains("--notify-webhook-url-file"),
            "{err}"
        );
    }
}
