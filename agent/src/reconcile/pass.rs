//! The record of one sync pass as it moves through the waves: each wave
//! transition is one resourceVersion-checked write of the state ConfigMap.

use crate::model::Revision;
use crate::plan::{Plan, PlannedWave};
use crate::state::store::Loaded;
use crate::state::{Phase, Record, StateError, StateStore, SyncEntry, WaveStatus};

/// The current time as the record writes it.
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The record of a pass in progress, and where it is written.
pub(crate) struct Pass {
    store: StateStore,
    rv: Option<String>,
    /// The record as it stands.
    pub record: Record,
    revision: Revision,
    started: String,
}

impl Pass {
    /// Reads the record (or starts a new one) for a pass of `revision`.
    pub async fn load(
        store: StateStore,
        waveset: &str,
        revision: &Revision,
    ) -> Result<Pass, StateError> {
        let loaded = store.load().await?;
        let rv = loaded.as_ref().map(|l| l.resource_version.clone());
        let record = loaded
            .map(|Loaded { record, .. }| record)
            .unwrap_or_else(|| Record::new(waveset));
        Ok(Pass {
            store,
            rv,
            record,
            revision: revision.clone(),
            started: now(),
        })
    }

    /// Writes the record, expecting nobody else wrote since.
    pub async fn save(&mut self) -> Result<(), StateError> {
        self.rv = Some(self.store.save(&self.record, self.rv.as_deref()).await?);
        Ok(())
    }

    /// Records a pass that failed before any wave started (render, plan, rules).
    pub async fn failed_to_start(&mut self, message: String) -> Result<(), StateError> {
        self.record.phase = Phase::Failed;
        self.record.target_revision = Some(self.revision.0.clone());
        self.record.message = Some(message);
        self.save().await
    }

    /// Starts the rollout of `plan`: target revision, phase, the waves in order.
    pub async fn begin(&mut self, cluster: Option<String>, plan: &Plan) -> Result<(), StateError> {
        let r = &mut self.record;
        r.cluster = cluster;
        r.target_revision = Some(self.revision.0.clone());
        r.phase = if r.applied_revision.is_some() {
            Phase::Upgrading
        } else {
            Phase::Installing
        };
        r.message = None;
        let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
        r.waves.retain(|w| names.contains(&w.name.as_str()));
        for n in &names {
            r.wave_mut(n);
        }
        r.waves
            .sort_by_key(|w| names.iter().position(|n| *n == w.name));
        self.save().await
    }

    /// Records that a wave applied before has drifted or stopped being healthy.
    pub async fn degraded(&mut self, wave: &str, why: &str) -> Result<(), StateError> {
        self.record.phase = Phase::Degraded;
        self.record.message = Some(format!("wave {wave} drifted ({why}); re-applying"));
        self.save().await
    }

    /// Marks `wave` in progress (a new attempt at its digest).
    pub async fn start_wave(&mut self, wave: &PlannedWave) -> Result<(), StateError> {
        let revision = self.revision.0.clone();
        let w = self.record.wave_mut(&wave.name);
        if w.digest.as_deref() != Some(&wave.digest) {
            w.attempts = 0;
        }
        w.status = WaveStatus::InProgress;
        w.digest = Some(wave.digest.clone());
        w.revision = Some(revision);
        w.started = Some(now());
        w.finished = None;
        w.attempts += 1;
        w.message = None;
        w.objects = wave.components.iter().map(|c| c.objects.len()).sum();
        self.save().await
    }

    /// Records another attempt at `wave` after a transient failure.
    pub async fn retry_wave(&mut self, wave: &str, after: &str) -> Result<(), StateError> {
        let w = self.record.wave_mut(wave);
        w.attempts += 1;
        w.message = Some(format!("retrying after: {after}"));
        self.save().await
    }

    /// Marks `wave` completed (or skipped when every component was). Written
    /// with the next wave's start or the final save: one write per transition.
    pub fn complete_wave(&mut self, wave: &PlannedWave, skipped: Vec<String>) {
        let w = self.record.wave_mut(&wave.name);
        w.finished = Some(now());
        w.status = if !skipped.is_empty() && skipped.len() == wave.components.len() {
            WaveStatus::Skipped
        } else {
            WaveStatus::Completed
        };
        w.skipped_components = skipped;
    }

    /// Records `wave`'s failure and ends the pass as Failed.
    pub async fn fail_wave(&mut self, wave: &str, message: &str) -> Result<(), StateError> {
        let w = self.record.wave_mut(wave);
        w.finished = Some(now());
        w.status = WaveStatus::Failed;
        w.message = Some(message.to_string());
        self.record.message = Some(format!("wave {wave} failed: {message}"));
        self.end(Phase::Failed).await
    }

    /// Ends the pass as Ready at this revision.
    pub async fn finish(&mut self) -> Result<(), StateError> {
        self.record.applied_revision = Some(self.revision.0.clone());
        self.end(Phase::Ready).await
    }

    async fn end(&mut self, phase: Phase) -> Result<(), StateError> {
        self.record.phase = phase;
        if phase == Phase::Ready {
            self.record.message = None;
        }
        let message = self.record.message.clone();
        self.record.push_history(SyncEntry {
            revision: self.revision.0.clone(),
            started: self.started.clone(),
            finished: now(),
            phase,
            message: if phase == Phase::Ready { None } else { message },
        });
        self.save().await
    }
}
