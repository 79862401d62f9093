//! The resolved configuration the other stages read: a [`WaveSet`] of
//! [`Wave`]s, each of [`Component`]s, with prerequisites, skip rules, health
//! rules, timeouts and retry policies.
//!
//! Plain data, already validated: placeholders are substituted, durations
//! parsed, timeouts and retries resolved against the defaults, paths checked
//! to exist inside the repository. The on-disk format is in `schema.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::ObjRef;

use super::duration;
use super::values::Values;

/// The whole of `wavesync.yaml` for one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveSet {
    /// `metadata.name`: labels applied objects and names the state record.
    pub name: String,
    /// The namespace for namespaced objects that do not name one.
    pub namespace: Option<String>,
    /// The defaults the waves were resolved against.
    pub defaults: Defaults,
    /// The waves, in the order they are applied.
    pub waves: Vec<Wave>,
    /// The selected cluster, when the file declares clusters.
    pub cluster: Option<String>,
    /// The merged values of the selected cluster.
    pub values: Values,
    /// `spec.drift` and `spec.ignoreDifferences`: the WaveSet-wide drift settings.
    pub drift: DriftSettings,
    /// `spec.healLimit`: how often one object may be healed before it is
    /// reported as contested.
    pub heal_limit: HealLimit,
    /// Where alerts go (`spec.notifications`); see docs/notifications.md.
    pub notifications: Vec<NotificationSink>,
    /// `spec.prune`: what pruning may delete in one pass.
    pub prune: PrunePolicy,
}

/// The guards on pruning (`spec.prune`). Pruning deletes what left Git; these
/// keep a broken render, a bad merge or a removed wave from deleting a
/// dataplane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrunePolicy {
    /// A pass that would delete more than this percentage of the inventory
    /// deletes nothing and fails (`maxDeleteShare`, default 50).
    pub max_delete_share: u32,
    /// The objects of a wave removed from wavesync.yaml are pruned
    /// (`removedWaves`, default false: they are kept and reported).
    pub removed_waves: bool,
}

impl Default for PrunePolicy {
    fn default() -> Self {
        PrunePolicy {
            max_delete_share: 50,
            removed_waves: false,
        }
    }
}

impl WaveSet {
    /// The wave called `name` (for the `wavesync.io/wave` annotation).
    pub fn wave(&self, name: &str) -> Option<&Wave> {
        self.waves.iter().find(|w| w.name == name)
    }

    /// The position of the wave called `name` in the apply order.
    pub fn wave_index(&self, name: &str) -> Option<usize> {
        self.waves.iter().position(|w| w.name == name)
    }

    /// The drift settings in force for a component: the policy of the
    /// component, else its wave's, else the WaveSet's (else alert); the
    /// ignore rules of all three.
    pub fn drift_for(&self, wave: &str, component: &str) -> EffectiveDrift {
        let w = self.wave(wave);
        let c = w.and_then(|w| w.components.iter().find(|c| c.name == component));
        let levels = [Some(&self.drift), w.map(|w| &w.drift), c.map(|c| &c.drift)];
        let policy = levels
            .iter()
            .rev()
            .flatten()
            .find_map(|d| d.policy)
            .unwrap_or_default();
        let ignore = levels
            .iter()
            .flatten()
            .flat_map(|d| d.ignore.iter().cloned())
            .collect();
        EffectiveDrift { policy, ignore }
    }
}

/// What the agent does when a live object drifts from Git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftPolicy {
    /// Report it (record, Event, metric, notifications) and leave it.
    #[default]
    Alert,
    /// Report it and apply the object again (never a Job, never a prune).
    Heal,
}

impl DriftPolicy {
    /// The name written in wavesync.yaml.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Alert => "alert",
            DriftPolicy::Heal => "heal",
        }
    }
}

/// One level's drift settings (`drift`, `ignoreDifferences`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DriftSettings {
    /// The policy written at this level, if any.
    pub policy: Option<DriftPolicy>,
    /// The differences that never count as drift, written at this level.
    pub ignore: Vec<IgnoreRule>,
}

/// The drift settings in force for one component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EffectiveDrift {
    /// Alert or heal.
    pub policy: DriftPolicy,
    /// Every rule of the WaveSet, the wave and the component.
    pub ignore: Vec<IgnoreRule>,
}

/// A difference that never counts as drift (as Argo CD's
/// `ignoreDifferences` and Flux's `spec.ignore`): on the objects it selects,
/// the fields under these JSON pointers or field paths, and the fields owned
/// by these field managers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IgnoreRule {
    /// The API group (`apps`; empty for core); `None`: any.
    pub group: Option<String>,
    /// The kind; `None`: any.
    pub kind: Option<String>,
    /// The name (`*` matches any run of characters); `None`: any.
    pub name: Option<String>,
    /// The namespace (`*` as in names); `None`: any.
    pub namespace: Option<String>,
    /// RFC 6901 pointers (`/spec/replicas`); a field under one is ignored too.
    pub json_pointers: Vec<String>,
    /// Field paths as wavesync prints them
    /// (`spec.template.spec.containers[name=app].image`), normalized.
    pub field_paths: Vec<String>,
    /// Field managers whose fields never count (`kube-controller-manager`,
    /// an HPA's).
    pub managers: Vec<String>,
}

/// How often one object may be healed in a window before the agent stops
/// and reports it as contested (two controllers fighting over a field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealLimit {
    /// Heals allowed in the window.
    pub heals: u32,
    /// The window.
    pub window: Duration,
}

impl Default for HealLimit {
    /// 3 heals in 10 minutes.
    fn default() -> Self {
        HealLimit {
            heals: 3,
            window: Duration::from_secs(600),
        }
    }
}

/// `spec.defaults`: what a wave gets when it does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// How long a wave may take to become healthy.
    pub timeout: Duration,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
}

impl Default for Defaults {
    /// 5 minutes; 3 attempts, 10 s backoff doubling up to 5 minutes.
    fn default() -> Self {
        Defaults {
            timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// How a wave is retried after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The delay before the second attempt; it doubles after each failure.
    pub backoff: Duration,
    /// The ceiling of the delay (never below `backoff`).
    pub max: Duration,
}

impl RetryPolicy {
    /// The delay before attempt `attempt` (1-based; the first has none):
    /// `backoff * 2^(attempt-2)`, capped at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(attempt - 2).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(10),
            max: Duration::from_secs(300),
        }
    }
}

impl fmt::Display for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} attempts, backoff {} up to {}",
            self.attempts,
            duration::format(self.backoff),
            duration::format(self.max)
        )
    }
}

/// One wave: its components are applied in parallel and must all be healthy
/// before the next wave starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// Unique among the waves; a valid label value.
    pub name: String,
    /// What to apply. A wave written with `path` has one component named
    /// after the wave.
    pub components: Vec<Component>,
    /// Checked before anything of the wave is applied.
    pub requires: Vec<Requirement>,
    /// When it holds, the whole wave is skipped.
    pub skip_if: Option<SkipRule>,
    /// Per-kind readiness rules for the wave's objects.
    pub health: Vec<HealthRule>,
    /// How long the wave may take to become healthy.
    pub timeout: Duration,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// The wave's own drift settings (see [`WaveSet::drift_for`]).
    pub drift: DriftSettings,
}

/// A set of manifests applied as a unit inside a wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Unique within its wave; a valid label value.
    pub name: String,
    /// A directory or file relative to the repository root, normalized
    /// (`/`-separated, no `.` or `..`), known to exist inside the repository.
    /// For a chart, the chart's directory or archive.
    pub path: String,
    /// Set when the component is a Helm chart (at `path`).
    pub chart: Option<ChartSource>,
    /// When it holds, this component is skipped (e.g. an operator that a
    /// control plane sharing the cluster already installed).
    pub skip_if: Option<SkipRule>,
    /// Checked before the component is applied, after the wave's own.
    pub requires: Vec<Requirement>,
    /// Readiness rules for this component's objects, ahead of the wave's.
    pub health: Vec<HealthRule>,
    /// The component's own drift settings (see [`WaveSet::drift_for`]).
    pub drift: DriftSettings,
}

/// How a chart component is rendered (`components[].chart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSource {
    /// `.Release.Name`.
    pub release_name: String,
    /// `.Release.Namespace`; `None`: `spec.namespace`, else `default`.
    pub namespace: Option<String>,
    /// Values files relative to the repository root (checked to exist),
    /// merged in order.
    pub values_files: Vec<String>,
    /// Inline values, placeholders substituted, merged over the files.
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Whether the chart's `crds/` are applied (first in the wave).
    pub include_crds: bool,
}

/// A prerequisite checked before a wave or component is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A CustomResourceDefinition (`<plural>.<group>`) exists and is Established.
    Crd(String),
    /// A StorageClass of that name exists.
    StorageClass(String),
    /// An object exists.
    Object(ObjectSelector),
    /// A Deployment exists and is ready (all replicas updated and available).
    DeploymentReady {
        /// Its namespace (`spec.namespace` when not written).
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A Secret exists and has these keys in its data.
    Secret {
        /// Its namespace (`spec.namespace` when not written).
        namespace: String,
        /// Its name.
        name: String,
        /// Keys that must be present (none: existence is enough).
        keys: Vec<String>,
    },
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Crd(name) => write!(f, "CRD {name} Established"),
            Requirement::StorageClass(name) => write!(f, "StorageClass {name}"),
            Requirement::Object(sel) => write!(f, "{sel}"),
            Requirement::DeploymentReady { namespace, name } => {
                write!(f, "Deployment {namespace}/{name} ready")
            }
            Requirement::Secret {
                namespace,
                name,
                keys,
            } if keys.is_empty() => {
                write!(f, "Secret {namespace}/{name}")
            }
            Requirement::Secret {
                namespace,
                name,
                keys,
            } => {
                write!(f, "Secret {namespace}/{name} with keys {}", keys.join(", "))
            }
        }
    }
}

/// Names one object in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSelector {
    /// `rbac.authorization.k8s.io/v1`.
    pub api_version: String,
    /// `ClusterRole`.
    pub kind: String,
    /// Its namespace; `None` for cluster-scoped objects. Not defaulted from
    /// `spec.namespace`, since only the cluster knows the kind's scope.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl ObjectSelector {
    /// The object's reference, as the other stages key objects.
    pub fn reference(&self) -> ObjRef {
        ObjRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reference())
    }
}

/// Skips a wave or component when a condition holds in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRule {
    /// Skip when this object exists.
    pub exists: ObjectSelector,
}

/// A readiness rule for one kind, as CEL expressions over `self` (the object),
/// like Flux's `healthCheckExprs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRule {
    /// Restricts the rule to one API version (`postgresql.cnpg.io/v1`);
    /// `None` matches the kind in any group.
    pub api_version: Option<String>,
    /// The kind it applies to.
    pub kind: String,
    /// True when the object is ready. Never empty.
    pub ready: String,
    /// True when the object has failed for good (the wave fails at once
    /// instead of waiting for its timeout). Never empty when present.
    pub failed: Option<String>,
}

impl HealthRule {
    /// Whether the rule applies to an object of this `apiVersion` and `kind`.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.kind == kind && self.api_version.as_deref().is_none_or(|v| v == api_version)
    }
}

/// A place notifications are sent to (`spec.notifications[]`).
///
/// Secrets (a Slack URL, a token, an HMAC key) are never in this struct:
/// only where to read them, when the notifier starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSink {
    /// Unique among the sinks; a DNS label (it labels metrics).
    pub name: String,
    /// What the receiver speaks.
    pub kind: SinkType,
    /// Where the URL comes from.
    pub url: UrlSource,
    /// A file on the agent's filesystem holding a token, sent as
    /// `Authorization: Bearer <token>` (or in `token_header`).
    pub token_file: Option<PathBuf>,
    /// The header the token goes in, as it is (no `Bearer `), instead of
    /// `Authorization`.
    pub token_header: Option<String>,
    /// A file holding the key of the `X-Wavesync-Signature-256` HMAC.
    pub hmac_secret_file: Option<PathBuf>,
    /// Extra request headers (not secrets: they are in Git).
    pub headers: BTreeMap<String, String>,
    /// Extra labels of every alert (Alertmanager only).
    pub labels: BTreeMap<String, String>,
    /// What is sent; never empty (the default: everything but `SyncSucceeded`).
    pub events: Vec<NotificationEvent>,
    /// How often active alerts are sent again (Alertmanager only).
    pub repeat_interval: Duration,
}

impl NotificationSink {
    /// How often Alertmanager alerts are sent again when not written: well
    /// under Alertmanager's default `resolve_timeout` of 5 minutes.
    pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(60);
}

/// The protocol of a notification sink (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SinkType {
    /// JSON of the documented `wavesync.io/notification/v1` schema.
    Webhook,
    /// The Alertmanager v2 API (`POST /api/v2/alerts`).
    Alertmanager,
    /// A Slack-compatible incoming webhook.
    Slack,
}

impl SinkType {
    /// Every type, in the order the docs list them.
    pub const ALL: [SinkType; 3] = [SinkType::Webhook, SinkType::Alertmanager, SinkType::Slack];

    /// The name written in `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkType::Webhook => "webhook",
            SinkType::Alertmanager => "alertmanager",
            SinkType::Slack => "slack",
        }
    }

    /// The type written `name`, if there is one.
    pub fn parse(name: &str) -> Option<SinkType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for SinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a sink's URL is read.
#[derive(Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Written in `wavesync.yaml` (for URLs that are not secrets).
    Inline(String),
    /// A file on the agent's filesystem (a mounted Secret).
    File(PathBuf),
    /// A key of a Secret in the agent's namespace.
    SecretRef {
        /// The Secret.
        name: String,
        /// The key in its data.
        key: String,
    },
}

impl fmt::Debug for UrlSource {
    /// Never the URL itself: even an inline one may be a secret by mistake.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::Inline(_) => f.write_str("Inline(..)"),
            UrlSource::File(p) => f.debug_tuple("File").field(p).finish(),
            UrlSource::SecretRef { name, key } => f
                .debug_struct("SecretRef")
                .field("name", name)
                .field("key", key)
                .finish(),
        }
    }
}

/// What a sink may be sent (`events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationEvent {
    /// Live state moved away from Git.
    DriftDetected,
    /// A drifted object is back as Git has it.
    DriftResolved,
    /// A sync pass failed.
    SyncFailed,
    /// A config or permission error holds the WaveSet until the next commit.
    Stalled,
    /// A wave failed (applied but not healthy, or not applied).
    WaveFailed,
    /// A sync pass ended Ready (opt-in: it is sent for every new revision).
    SyncSucceeded,
    /// A commit was refused: unsigned, or signed by a key not allowed.
    RevisionRefused,
}

impl NotificationEvent {
    /// Every event, in the order the docs list them.
    pub const ALL: [NotificationEvent; 7] = [
        NotificationEvent::DriftDetected,
        NotificationEvent::DriftResolved,
        NotificationEvent::SyncFailed,
        NotificationEvent::Stalled,
        NotificationEvent::WaveFailed,
        NotificationEvent::SyncSucceeded,
        NotificationEvent::RevisionRefused,
    ];

    /// What a sink gets when it does not say: everything but `SyncSucceeded`.
    pub fn defaults() -> Vec<NotificationEvent> {
        Self::ALL
            .into_iter()
            .filter(|e| *e != NotificationEvent::SyncSucceeded)
            .collect()
    }

    /// The name written in `events` (and the `kind` of a webhook payload).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::DriftDetected => "DriftDetected",
            NotificationEvent::DriftResolved => "DriftResolved",
            NotificationEvent::SyncFailed => "SyncFailed",
            NotificationEvent::Stalled => "Stalled",
            NotificationEvent::WaveFailed => "WaveFailed",
            NotificationEvent::SyncSucceeded => "SyncSucceeded",
            NotificationEvent::RevisionRefused => "RevisionRefused",
        }
    }

    /// The event written `name`, if there is one.
    pub fn parse(name: &str) -> Option<NotificationEvent> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(NotificationEvent::as_str).join(", ")
    }
}

impl fmt::Display for NotificationEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for NotificationEvent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotificationEvent::parse(s.trim()).ok_or_else(|| {
            format!(
                "unknown event `{}`, expected one of {}",
                s.trim(),
                NotificationEvent::names()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_ceiling() {
        let p = RetryPolicy {
            attempts: 6,
            backoff: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=6).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 60, 60]);
        assert_eq!(p.delay(200), Duration::from_secs(60));
    }

    #[test]
    fn requirements_read_well_in_messages() {
        let r = Requirement::Secret {
            namespace: "dp".into(),
            name: "pg-app".into(),
            keys: vec!["username".into()],
        };
        assert_eq!(r.to_string(), "Secret dp/pg-app with keys username");
        let sel = ObjectSelector {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "cnpg-manager".into(),
        };
        assert_eq!(
            Requirement::Object(sel).to_string(),
            "ClusterRole.rbac.authorization.k8s.io/cnpg-manager"
        );
    }

    #[test]
    fn health_rules_match_on_kind_and_optional_version() {
        let rule = HealthRule {
            api_version: None,
            kind: "Cluster".into(),
            ready: "true".into(),
            failed: None,
        };
        assert!(rule.matches("postgresql.cnpg.io/v1", "Cluster"));
        let rule = HealthRule {
            api_version: Some("postgresql.cnpg.io/v1".into()),
            ..rule
        };
        assert!(!rule.matches("postgresql.cnpg.io/v2", "Cluster"));
        assert!(!rule.matches("postgresql.cnpg.io/v1", "Pooler"));
    }
}
