//! The on-disk format of `wavesync.yaml`, exactly as written: serde structs
//! with `deny_unknown_fields` everywhere (a typo is an error whose message
//! lists the expected fields) and a location on every string, so that the
//! checks that serde cannot do point at the right `line:column`.
//!
//! Strings stay strings here: placeholders are substituted, durations parsed
//! and defaults applied when `resolve.rs` turns this into `types.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A string with where it is written.
pub(crate) type Text = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(
    title = "wavesync.yaml",
    description = "A WaveSet: the waves wavesync rolls out, in order (docs/repo-format.md)."
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct File {
    /// `wavesync.io/v1alpha1`.
    #[schemars(with = "String")]
    pub(crate) api_version: Text,
    /// `WaveSet`.
    #[schemars(with = "String")]
    pub(crate) kind: Text,
    /// Its name.
    pub(crate) metadata: Metadata,
    /// The waves.
    #[schemars(with = "Spec")]
    pub(crate) spec: Spanned<Spec>,
    /// The clusters this repository serves, each with its values.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Cluster>>")]
    pub(crate) clusters: Option<Spanned<Vec<Spanned<Cluster>>>>,
    /// Declarations of the values shared by all clusters.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Declaration>")]
    pub(crate) values: BTreeMap<String, Spanned<Declaration>>,
}

/// `metadata`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    /// The WaveSet's name.
    #[schemars(with = "String")]
    pub(crate) name: Text,
}

/// `spec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    /// Defaults for every wave.
    #[serde(default)]
    pub(crate) defaults: Option<Defaults>,
    /// Default namespace for namespaced objects that do not name one.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// The waves in order.
    #[schemars(with = "Vec<Wave>")]
    pub(crate) waves: Vec<Spanned<Wave>>,
    /// `alert` or `heal`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) drift: Option<Text>,
    /// Differences that never count as drift.
    #[serde(default, rename = "ignoreDifferences")]
    #[schemars(with = "Vec<Ignore>")]
    pub(crate) ignore_differences: Vec<Spanned<Ignore>>,
    /// How often one object may be healed before it is reported contested.
    #[serde(default, rename = "healLimit")]
    #[schemars(with = "Option<HealLimit>")]
    pub(crate) heal_limit: Option<Spanned<HealLimit>>,
    /// Where alerts go.
    #[serde(default)]
    #[schemars(with = "Vec<Notification>")]
    pub(crate) notifications: Vec<Spanned<Notification>>,
    /// What pruning may delete in one pass.
    #[serde(default)]
    #[schemars(with = "Option<Prune>")]
    pub(crate) prune: Option<Spanned<Prune>>,
}

/// `spec.prune`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Prune {
    /// A percentage of the inventory, 1 to 100.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) max_delete_share: Option<Spanned<u32>>,
    /// Prune the objects of waves removed from the file.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub(crate) removed_waves: Option<Spanned<bool>>,
}

/// `ignoreDifferences[]`: which objects, and which of their differences.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Ignore {
    /// API group (empty for core).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) group: Option<Text>,
    /// Kind.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) kind: Option<Text>,
    /// Name (`*` wildcards).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) name: Option<Text>,
    /// Namespace (`*` wildcards).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// RFC 6901 pointers.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) json_pointers: Vec<Text>,
    /// Field paths (`spec.template.spec.containers[name=app].image`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) field_paths: Vec<Text>,
    /// Field managers whose fields never count.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) managed_fields_managers: Vec<Text>,
}

/// `spec.healLimit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealLimit {
    /// Heals allowed in the window.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) heals: Option<Spanned<u32>>,
    /// A duration.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) window: Option<Text>,
}

/// `spec.defaults`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// A duration.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) timeout: Option<Text>,
    /// Retry settings.
    #[serde(default)]
    pub(crate) retry: Option<Retry>,
}

/// `retry`: every field optional, filled from the defaults.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Retry {
    /// Attempts in all.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) attempts: Option<Spanned<u32>>,
    /// A duration.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) backoff: Option<Text>,
    /// A duration.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) max: Option<Text>,
}

/// `spec.waves[]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Wave {
    /// The wave's name.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// Plain manifests: one component named after the wave.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) path: Option<Text>,
    /// Or components applied in parallel.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Component>>")]
    pub(crate) components: Option<Spanned<Vec<Spanned<Component>>>>,
    /// Prerequisites.
    #[serde(default)]
    #[schemars(with = "Vec<Requirement>")]
    pub(crate) requires: Vec<Spanned<Requirement>>,
    /// Skip the wave when this holds.
    #[serde(default)]
    pub(crate) skip_if: Option<SkipIf>,
    /// Health rules.
    #[serde(default)]
    #[schemars(with = "Vec<Health>")]
    pub(crate) health: Vec<Spanned<Health>>,
    /// A duration.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) timeout: Option<Text>,
    /// Retry settings.
    #[serde(default)]
    pub(crate) retry: Option<Retry>,
    /// `alert` or `heal`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) drift: Option<Text>,
    /// Differences that never count as drift.
    #[serde(default)]
    #[schemars(with = "Vec<Ignore>")]
    pub(crate) ignore_differences: Vec<Spanned<Ignore>>,
}

/// `spec.waves[].components[]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Component {
    /// The component's name.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// Its manifests (plain or an overlay).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) path: Option<Text>,
    /// Or a Helm chart.
    #[serde(default)]
    #[schemars(with = "Option<Chart>")]
    pub(crate) chart: Option<Spanned<Chart>>,
    /// Skip the component when this holds.
    #[serde(default)]
    pub(crate) skip_if: Option<SkipIf>,
    /// Prerequisites.
    #[serde(default)]
    #[schemars(with = "Vec<Requirement>")]
    pub(crate) requires: Vec<Spanned<Requirement>>,
    /// Health rules.
    #[serde(default)]
    #[schemars(with = "Vec<Health>")]
    pub(crate) health: Vec<Spanned<Health>>,
    /// `alert` or `heal`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) drift: Option<Text>,
    /// Differences that never count as drift.
    #[serde(default)]
    #[schemars(with = "Vec<Ignore>")]
    pub(crate) ignore_differences: Vec<Spanned<Ignore>>,
}

/// `components[].chart`: a Helm chart in the repository.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Chart {
    /// The chart directory or `.tgz`.
    #[schemars(with = "String")]
    pub(crate) path: Text,
    /// `.Release.Name` (default: the component's name).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) release_name: Option<Text>,
    /// `.Release.Namespace` (default: `spec.namespace`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// Values files, merged in order.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) values_files: Vec<Text>,
    /// Inline values, merged over the files.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub(crate) values: Option<Spanned<serde_json::Value>>,
    /// Whether `crds/` is installed (default true).
    #[serde(default, rename = "includeCRDs")]
    pub(crate) include_crds: Option<bool>,
}

/// One entry of `requires`: a single-key map whose key is the type, so that
/// an unknown type is an `unknown variant` error listing the known ones.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Requirement {
    /// `crd: <plural>.<group>`.
    Crd(#[schemars(with = "String")] Text),
    /// `storageClass: NAME`.
    StorageClass(#[schemars(with = "String")] Text),
    /// `object: { apiVersion, kind, namespace?, name }`.
    Object(Selector),
    /// `deploymentReady: { namespace?, name }`.
    DeploymentReady(Named),
    /// `secret: { namespace?, name, keys? }`.
    Secret(Secret),
}

/// An object's coordinates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Selector {
    /// `apiVersion`.
    #[schemars(with = "String")]
    pub(crate) api_version: Text,
    /// `kind`.
    #[schemars(with = "String")]
    pub(crate) kind: Text,
    /// Absent for cluster-scoped objects.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// `name`.
    #[schemars(with = "String")]
    pub(crate) name: Text,
}

/// A namespaced object of a known kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Named {
    /// Defaults to `spec.namespace`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// `name`.
    #[schemars(with = "String")]
    pub(crate) name: Text,
}

/// `secret:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Secret {
    /// Defaults to `spec.namespace`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) namespace: Option<Text>,
    /// `name`.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// Keys that must be present.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(crate) keys: Vec<Text>,
}

/// `skipIf`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkipIf {
    /// Skip when this object exists.
    pub(crate) exists: Selector,
}

/// `health[]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Health {
    /// Optional API version.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) api_version: Option<Text>,
    /// The kind.
    #[schemars(with = "String")]
    pub(crate) kind: Text,
    /// CEL: ready.
    #[schemars(with = "String")]
    pub(crate) ready: Text,
    /// CEL: failed for good.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) failed: Option<Text>,
}

/// `clusters[]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cluster {
    /// The name `--cluster` selects.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// A values file (a string) or an inline map.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub(crate) values: Option<Spanned<serde_json::Value>>,
}

/// `values.KEY`: a value every cluster shares or must set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Declaration {
    /// Every cluster must set it, to something non-empty.
    #[serde(default)]
    pub(crate) required: bool,
    /// The value when a cluster does not set it.
    #[serde(default)]
    pub(crate) default: Option<serde_json::Value>,
    /// What it is for (documentation only).
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) description: Option<String>,
}

/// `spec.notifications[]`: a sink notifications are sent to. `type` and
/// `events` are strings here, checked in `notifications.rs`, so that the
/// names are listed once (in `types.rs`) for the file and the flags.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Notification {
    /// The sink's name.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// `webhook`, `alertmanager` or `slack`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub(crate) kind: Text,
    /// The URL, when it is not a secret.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) url: Option<Text>,
    /// A file on the agent's filesystem holding the URL.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) url_file: Option<Text>,
    /// A Secret key in the agent's namespace holding the URL.
    #[serde(default)]
    #[schemars(with = "Option<SecretKeyRef>")]
    pub(crate) url_secret_ref: Option<Spanned<SecretKeyRef>>,
    /// A file holding a bearer token.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) token_file: Option<Text>,
    /// The header the token goes in (default `Authorization: Bearer`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) token_header: Option<Text>,
    /// A file holding the HMAC key of the signature header.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) hmac_secret_file: Option<Text>,
    /// Extra request headers.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub(crate) headers: Option<Spanned<BTreeMap<String, Text>>>,
    /// Extra alert labels (Alertmanager).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub(crate) labels: Option<Spanned<BTreeMap<String, Text>>>,
    /// Which events are sent.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub(crate) events: Option<Spanned<Vec<Text>>>,
    /// A duration: how often active alerts are sent again (Alertmanager).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) repeat_interval: Option<Text>,
}

/// `urlSecretRef`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// The key in its data.
    #[schemars(with = "String")]
    pub(crate) key: Text,
}
