//! The record's data model and its ConfigMap encoding.
//!
//! The record holds only references, digests, times and messages — never an
//! object's content — so no Secret value can reach it. The inventory is
//! gzip-compressed JSON in `binaryData`: 5,000 object references take about
//! 40 KiB, far under the 1 MiB object limit.

use crate::apply::{Action, ChangeSet};
use crate::model::ObjRef;
use base64::Engine;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// How many past syncs the record keeps.
pub const HISTORY: usize = 20;

/// Overall phase of the WaveSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Phase {
    /// Nothing applied yet.
    #[default]
    Pending,
    /// The first rollout is under way.
    Installing,
    /// Every wave is applied and healthy at the target revision.
    Ready,
    /// A wave failed; later waves did not start.
    Failed,
    /// A new revision is being rolled out over a previously Ready one.
    Upgrading,
    /// Applied, but objects drifted or stopped being healthy.
    Degraded,
}

impl Phase {
    /// The name shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Installing => "Installing",
            Phase::Ready => "Ready",
            Phase::Failed => "Failed",
            Phase::Upgrading => "Upgrading",
            Phase::Degraded => "Degraded",
        }
    }
}

/// Status of one wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WaveStatus {
    /// Not started.
    #[default]
    Pending,
    /// Being applied or waited on.
    InProgress,
    /// Applied and healthy.
    Completed,
    /// Failed (see the message).
    Failed,
    /// Skipped by a `skipIf` rule.
    Skipped,
}

impl WaveStatus {
    /// The name shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            WaveStatus::Pending => "pending",
            WaveStatus::InProgress => "in_progress",
            WaveStatus::Completed => "completed",
            WaveStatus::Failed => "failed",
            WaveStatus::Skipped => "skipped",
        }
    }
}

/// One wave's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WaveRecord {
    /// Wave name.
    pub name: String,
    /// Status.
    pub status: WaveStatus,
    /// Digest of the rendered objects last applied (or being applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Revision the digest belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// When the last attempt started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Attempts at the current digest.
    #[serde(default)]
    pub attempts: u32,
    /// Why it failed or was skipped, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Number of objects in the wave.
    #[serde(default)]
    pub objects: usize,
    /// Components skipped by `skipIf`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_components: Vec<String>,
}

/// One past sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncEntry {
    /// Revision synced.
    pub revision: String,
    /// Start time.
    pub started: String,
    /// End time.
    pub finished: String,
    /// Phase it ended in.
    pub phase: Phase,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many more times the same outcome followed (one entry, not one per retry).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeats: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A config or permission error that holds the WaveSet: the agent does not
/// retry until the revision or the selected cluster change, or a manual
/// `wavesync sync` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stall {
    /// Why (with file:line where the error has one).
    pub reason: String,
    /// The error's category.
    pub category: crate::error::Category,
    /// The revision that failed.
    pub revision: String,
    /// The cluster values selected when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Since when (RFC 3339).
    pub since: String,
    /// The value of [`SYNC_REQUEST_ANNOTATION`] when it stalled: a new value
    /// asks the agent to try again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// Annotation on the state ConfigMap asking the running agent for a pass
/// even though the record is Stalled (any new value, e.g. the time):
/// `kubectl annotate configmap wavesync-state-<waveset> wavesync.io/sync-requested-at="$(date +%s)" --overwrite`.
pub const SYNC_REQUEST_ANNOTATION: &str = "wavesync.io/sync-requested-at";

impl Stall {
    /// Whether this stall still holds for `revision` with `cluster`
    /// selected, and no new sync request (`request`) was made since.
    pub fn holds_for(&self, revision: &str, cluster: Option<&str>, request: Option<&str>) -> bool {
        self.revision == revision
            && self.cluster.as_deref() == cluster
            && self.request.as_deref() == request
    }
}

/// Drift the agent's watches see now: which objects, which fields, who
/// changed them. References, paths and manager names only: never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DriftStatus {
    /// Objects drifted.
    pub objects: usize,
    /// Since when the oldest of them (RFC 3339).
    pub since: String,
    /// The first [`DRIFT_ITEMS`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<DriftItem>,
}

/// How many drifted objects the record lists (the count covers them all).
pub const DRIFT_ITEMS: usize = 50;

/// One drifted object in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DriftItem {
    /// The object (`Deployment.apps shop/web`).
    pub object: String,
    /// Its wave.
    pub wave: String,
    /// `deleted`, or the changed fields with their managers
    /// (`spec.replicas by kubectl-scale (Update via scale)`).
    pub fields: Vec<String>,
    /// `alert`, `healing`, `contested by X`, or why it is not healed.
    pub policy: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// What wavesync applied, per wave: the base of pruning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Inventory {
    /// Object references by wave name.
    pub waves: BTreeMap<String, Vec<ObjRef>>,
}

impl Inventory {
    /// Number of objects in all waves.
    pub fn len(&self) -> usize {
        self.waves.values().map(Vec::len).sum()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects recorded for `wave`.
    pub fn wave(&self, wave: &str) -> &[ObjRef] {
        self.waves.get(wave).map(Vec::as_slice).unwrap_or_default()
    }

    /// Every object recorded, in any wave.
    pub fn all(&self) -> BTreeSet<ObjRef> {
        self.waves.values().flatten().cloned().collect()
    }

    /// The objects of `wave` that `planned` (every object the plan holds,
    /// across waves) no longer has: what pruning would delete.
    pub fn stale(&self, wave: &str, planned: &BTreeSet<ObjRef>) -> Vec<ObjRef> {
        self.wave(wave)
            .iter()
            .filter(|r| !planned.contains(r))
            .cloned()
            .collect()
    }

    /// Merges what `changes` did into `wave`: applied objects join it,
    /// deleted and kept-on-purpose ones leave it, failed ones stay as they
    /// were — so nothing applied is forgotten, and a failed delete is tried
    /// again. A wave left empty is dropped.
    pub fn record(&mut self, wave: &str, changes: &ChangeSet) {
        let mut set: BTreeSet<ObjRef> = self.wave(wave).iter().cloned().collect();
        for c in &changes.changes {
            match &c.action {
                a if a.is_applied() => {
                    set.insert(c.object.clone());
                }
                Action::Deleted | Action::Gone | Action::Skipped(_) => {
                    set.remove(&c.object);
                }
                _ => {}
            }
        }
        self.put(wave, set);
    }

    /// After a wave is applied, healthy and pruned: it holds exactly what
    /// `applied` applied, and the objects whose delete failed in `pruned`.
    /// Objects it held that moved to another wave or into a skipped
    /// component are no longer its own.
    pub fn settle(&mut self, wave: &str, applied: &ChangeSet, pruned: &ChangeSet) {
        let set: BTreeSet<ObjRef> = applied
            .applied()
            .chain(
                pruned
                    .with(|a| matches!(a, Action::Failed(_)))
                    .map(|c| &c.object),
            )
            .cloned()
            .collect();
        self.put(wave, set);
    }

    fn put(&mut self, wave: &str, set: BTreeSet<ObjRef>) {
        if set.is_empty() {
            self.waves.remove(wave);
        } else {
            self.waves
                .insert(wave.to_string(), set.into_iter().collect());
        }
    }
}

/// The whole record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// WaveSet name.
    pub waveset: String,
    /// Cluster values selected (`--cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Revision being rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    /// Last revision that reached Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_revision: Option<String>,
    /// Overall phase.
    pub phase: Phase,
    /// Why the phase is what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per wave, in order.
    pub waves: Vec<WaveRecord>,
    /// Last write (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The last syncs, newest first.
    #[serde(default)]
    pub history: Vec<SyncEntry>,
    /// Set while a config or permission error holds the WaveSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stall>,
    /// Set while objects drifted from Git (found by the agent's watches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftStatus>,
    /// Ready, Progressing, Stalled, Degraded (see [`super::conditions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<super::conditions::Condition>,
    /// Applied objects (stored compressed, apart from the JSON).
    #[serde(skip)]
    pub inventory: Inventory,
    /// The sync request annotation of the ConfigMap (kept as it was found).
    #[serde(skip)]
    pub sync_request: Option<String>,
    /// Set while commit signature verification refuses the tracked head:
    /// the applied revision stays; cleared when a verified revision syncs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// Waves removed from wavesync.yaml whose objects are kept, not pruned
    /// (`spec.prune.removedWaves` is false); they stay in the inventory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldPrune>,
}

/// The objects of a removed wave, kept in the cluster by the prune policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldPrune {
    /// The wave, no longer in wavesync.yaml.
    pub wave: String,
    /// Its objects kept.
    pub objects: usize,
}

/// A head commit refused by signature verification (never a key or a
/// signature: the commit, the reason with the key's fingerprint, the time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// The refused commit (full SHA).
    pub revision: String,
    /// Why ("is not signed", "is signed by SHA256:… which … does not list").
    pub reason: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// Errors decoding a stored record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `record.json` is not a record.
    #[error("record.json: {0}")]
    Record(#[source] serde_json::Error),
    /// The inventory could not be decoded.
    #[error("inventory: {0}")]
    Inventory(String),
    /// The ConfigMap has no `record.json`.
    #[error("it has no {RECORD_KEY}")]
    Missing,
}

/// Errors encoding a record for the ConfigMap. Never written as an empty
/// record or inventory instead: an empty inventory would mean nothing is
/// ever pruned again.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The record could not be serialized.
    #[error("record.json: {0}")]
    Record(#[source] serde_json::Error),
    /// The inventory could not be serialized or compressed.
    #[error("inventory: {0}")]
    Inventory(String),
}

/// ConfigMap data key of the record.
pub const RECORD_KEY: &str = "record.json";
/// ConfigMap binaryData key of the inventory.
pub const INVENTORY_KEY: &str = "inventory.json.gz";

impl Record {
    /// A fresh record for `waveset`.
    pub fn new(waveset: &str) -> Self {
        Record {
            waveset: waveset.to_string(),
            ..Default::default()
        }
    }

    /// The wave record named `name`, created (pending) if missing.
    pub fn wave_mut(&mut self, name: &str) -> &mut WaveRecord {
        if let Some(i) = self.waves.iter().position(|w| w.name == name) {
            return &mut self.waves[i];
        }
        self.waves.push(WaveRecord {
            name: name.to_string(),
            ..Default::default()
        });
        let last = self.waves.len() - 1;
        &mut self.waves[last]
    }

    /// The wave record named `name`.
    pub fn wave(&self, name: &str) -> Option<&WaveRecord> {
        self.waves.iter().find(|w| w.name == name)
    }

    /// Adds a sync to the history, keeping the newest [`HISTORY`]. The same
    /// outcome as the newest entry (revision, phase, message) bumps its
    /// `repeats` instead, so a failure retried with backoff is one entry.
    pub fn push_history(&mut self, entry: SyncEntry) {
        if let Some(last) = self.history.first_mut()
            && last.revision == entry.revision
            && last.phase == entry.phase
            && last.message == entry.message
            && entry.phase != Phase::Ready
        {
            last.repeats += 1;
            last.finished = entry.finished;
            return;
        }
        self.history.insert(0, entry);
        self.history.truncate(HISTORY);
    }

    /// Sets what the drift watches see now: Degraded with the drift while
    /// there is some, Ready again once it is healed or reverted. Only a
    /// settled record (Ready or Degraded by drift, nothing rolling out)
    /// changes; returns whether it did.
    pub fn set_drift(&mut self, drift: Option<DriftStatus>) -> bool {
        let settled = self.target_revision == self.applied_revision
            && (self.phase == Phase::Ready
                || (self.phase == Phase::Degraded && self.drift.is_some()));
        if !settled {
            return false;
        }
        let drift = drift.filter(|d| d.objects > 0);
        let before = (self.phase, self.message.clone(), self.drift.clone());
        match &drift {
            Some(d) => {
                self.phase = Phase::Degraded;
                let first = d
                    .items
                    .first()
                    .map(|i| format!(": {} {}", i.object, i.fields.join(", ")))
                    .unwrap_or_default();
                self.message = Some(format!(
                    "{} object{} drifted from revision {}{first}",
                    d.objects,
                    if d.objects == 1 { "" } else { "s" },
                    self.applied_revision.as_deref().unwrap_or("-"),
                ));
            }
            None => {
                self.phase = Phase::Ready;
                self.message = None;
            }
        }
        self.drift = drift;
        before != (self.phase, self.message.clone(), self.drift.clone())
    }

    /// The record's JSON (without the inventory).
    ///
    /// # Errors
    /// When serialization fails.
    pub fn to_json(&self) -> Result<String, EncodeError> {
        serde_json::to_string_pretty(self).map_err(EncodeError::Record)
    }

    /// The inventory, gzip-compressed, as `binaryData` holds it.
    ///
    /// # Errors
    /// When serialization or compression fails.
    pub fn inventory_gzip(&self) -> Result<Vec<u8>, EncodeError> {
        let json = serde_json::to_vec(&self.inventory)
            .map_err(|e| EncodeError::Inventory(e.to_string()))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&json)
            .map_err(|e| EncodeError::Inventory(e.to_string()))?;
        gz.finish()
            .map_err(|e| EncodeError::Inventory(e.to_string()))
    }

    /// The inventory, gzip-compressed and base64-encoded (as `kubectl get -o
    /// yaml` shows `binaryData`).
    ///
    /// # Errors
    /// See [`Record::inventory_gzip`].
    pub fn encode_inventory(&self) -> Result<String, EncodeError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.inventory_gzip()?))
    }

    /// Decodes a record and its inventory from ConfigMap data.
    ///
    /// # Errors
    /// When either part is not what [`Record::to_json`] and [`Record::encode_inventory`] wrote.
    pub fn decode(record_json: &str, inventory_b64: Option<&str>) -> Result<Record, DecodeError> {
        let mut r: Record = serde_json::from_str(record_json).map_err(DecodeError::Record)?;
        if let Some(b64) = inventory_b64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| DecodeError::Inventory(e.to_string()))?;
            let mut json = Vec::new();
            GzDecoder::new(&bytes[..])
                .read_to_end(&mut json)
                .map_err(|e| DecodeError::Inventory(e.to_string()))?;
            r.inventory =
                serde_json::from_slice(&json).map_err(|e| DecodeError::Inventory(e.to_string()))?;
        }
        Ok(r)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn objref(i: usize) -> ObjRef {
        ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: format!("team-{}", i % 50),
            name: format!("service-number-{i:05}-with-a-longish-name"),
        }
    }

    #[test]
    fn the_inventory_keeps_what_was_applied_and_what_failed_to_delete() {
        use crate::apply::ApplyError;
        let mut inv = Inventory::default();
        let mut applied = ChangeSet::default();
        for i in 0..3 {
            applied.push(objref(i), Action::Created, None);
        }
        inv.record("apps", &applied);
        assert_eq!(inv.wave("apps").len(), 3);
        // Object 0 left Git, 1 moved to another wave, 2 stays.
        let planned: BTreeSet<ObjRef> = [objref(1), objref(2)].into_iter().collect();
        assert_eq!(inv.stale("apps", &planned), [objref(0)]);
        // A failed apply does not forget an object already recorded.
        let mut failed_apply = ChangeSet::default();
        failed_apply.push(
            objref(2),
            Action::Failed(ApplyError::Timeout("x".into())),
            None,
        );
        inv.record("apps", &failed_apply);
        assert_eq!(inv.wave("apps").len(), 3);
        // The wave settles: 2 applied again, 0's delete failed (kept for the
        // next try), 1 is no longer this wave's.
        let mut again = ChangeSet::default();
        again.push(objref(2), Action::Unchanged, None);
        let mut pruned = ChangeSet::default();
        pruned.push(
            objref(0),
            Action::Failed(ApplyError::Timeout("403".into())),
            None,
        );
        inv.settle("apps", &again, &pruned);
        assert_eq!(inv.wave("apps"), [objref(0), objref(2)]);
        // Deleted or kept-on-purpose objects leave; an empty wave goes.
        let mut pruned = ChangeSet::default();
        pruned.push(objref(0), Action::Deleted, None);
        pruned.push(objref(2), Action::Skipped("annotated".into()), None);
        inv.record("apps", &pruned);
        assert!(!inv.waves.contains_key("apps"));
    }

    #[test]
    fn drift_makes_a_settled_record_degraded_and_its_end_ready_again() {
        let mut r = Record::new("dataplane");
        r.phase = Phase::Ready;
        r.applied_revision = Some("abc".into());
        r.target_revision = Some("abc".into());
        let drift = DriftStatus {
            objects: 1,
            since: "t".into(),
            items: vec![DriftItem {
                object: "Deployment.apps shop/web".into(),
                wave: "apps".into(),
                fields: vec!["spec.replicas by kubectl-scale".into()],
                policy: "alert".into(),
                since: "t".into(),
            }],
        };
        assert!(r.set_drift(Some(drift.clone())));
        assert_eq!(r.phase, Phase::Degraded);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "1 object drifted from revision abc: Deployment.apps shop/web spec.replicas by kubectl-scale"
            )
        );
        assert!(
            !r.set_drift(Some(drift.clone())),
            "the same drift again writes nothing"
        );
        assert!(r.set_drift(None));
        assert_eq!((r.phase, r.drift.as_ref()), (Phase::Ready, None));
        // A rollout in progress or a failed one is not overwritten.
        r.target_revision = Some("def".into());
        r.phase = Phase::Upgrading;
        assert!(!r.set_drift(Some(drift)));
        assert_eq!(r.phase, Phase::Upgrading);
    }

    #[test]
    fn round_trips_with_inventory() {
        let mut r = Record::new("dataplane");
        r.phase = Phase::Installing;
        r.wave_mut("apps").status = WaveStatus::InProgress;
        r.inventory
            .waves
            .insert("apps".into(), vec![objref(1), objref(2)]);
        let back = Record::decode(&r.to_json().unwrap(), Some(&r.encode_inventory().unwrap()))
            .expect("decodes");
        assert_eq!(back, r);
    }

    #[test]
    fn the_same_failure_again_is_one_history_entry() {
        let mut r = Record::new("dataplane");
        let failed = |finished: &str, message: &str| SyncEntry {
            revision: "abc".into(),
            started: "t0".into(),
            finished: finished.into(),
            phase: Phase::Failed,
            message: Some(message.into()),
            repeats: 0,
        };
        r.push_history(failed("t1", "503"));
        r.push_history(failed("t2", "503"));
        r.push_history(failed("t3", "503"));
        assert_eq!(r.history.len(), 1);
        assert_eq!(r.history[0].repeats, 2);
        assert_eq!(r.history[0].finished, "t3");
        r.push_history(failed("t4", "another error"));
        assert_eq!(r.history.len(), 2);
    }

    #[test]
    fn five_thousand_objects_fit_far_under_the_object_limit() {
        let mut r = Record::new("dataplane");
        for w in 0..5 {
            r.inventory.waves.insert(
                format!("wave-{w}"),
                (0..1000).map(|i| objref(w * 1000 + i)).collect(),
            );
            r.wave_mut(&format!("wave-{w}")).objects = 1000;
        }
        for i in 0..30 {
            r.push_history(SyncEntry {
                revision: format!("{i:040}"),
                started: "2026-01-01T00:00:00Z".into(),
                finished: "2026-01-01T00:01:00Z".into(),
                phase: Phase::Ready,
                message: None,
                repeats: 0,
            });
        }
        assert_eq!(r.history.len(), HISTORY);
        let size = r.to_json().unwrap().len() + r.encode_inventory().unwrap().len();
        assert!(
            size < 256 * 1024,
            "record of 5,000 objects takes {size} bytes"
        );
        assert_eq!(
            Record::decode(&r.to_json().unwrap(), Some(&r.encode_inventory().unwrap()))
                .expect("decodes")
                .inventory
                .len(),
            5000
        );
    }
}
