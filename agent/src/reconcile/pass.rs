//! The record of one sync pass as it moves through the waves: each wave
//! transition is one resourceVersion-checked write of the state ConfigMap,
//! and a write that would change nothing (timestamps aside) is not sent.

use super::stop::{Stop, StopReason};
use crate::error::Category;
use crate::model::Revision;
use crate::plan::{Plan, PlannedWave};
use crate::report::{Event, Progress};
use crate::state::record::Refusal;
use crate::state::store::Loaded;
use crate::state::{
    Phase, Record, Stall, StateError, StateStore, SyncEntry, WaveStatus, conditions,
};
use std::sync::Arc;

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
    /// The record as last written (or read): what a save compares with.
    written: Option<Record>,
    revision: Revision,
    started: String,
    progress: Arc<dyn Progress>,
    stop: Stop,
}

impl Pass {
    /// Reads the record (or starts a new one) for a pass of `revision`.
    pub async fn load(
        store: StateStore,
        waveset: &str,
        revision: &Revision,
        progress: Arc<dyn Progress>,
        stop: Stop,
    ) -> Result<Pass, StateError> {
        let loaded = store.load().await?;
        let rv = loaded.as_ref().map(|l| l.resource_version.clone());
        let record = loaded
            .map(|Loaded { record, .. }| record)
            .unwrap_or_else(|| Record::new(waveset));
        Ok(Pass {
            store,
            written: rv.as_ref().map(|_| record.clone()),
            rv,
            record,
            revision: revision.clone(),
            started: now(),
            progress,
            stop,
        })
    }

    /// Writes the record, expecting nobody else wrote since; skipped when
    /// nothing changed. Refused once the lease is lost: another agent acts.
    pub async fn save(&mut self) -> Result<(), StateError> {
        if self.stop.reason() == Some(StopReason::LeaseLost) {
            return Err(StateError::NotLeader {
                name: self.store.name().to_string(),
            });
        }
        conditions::update(&mut self.record, &now());
        if self.rv.is_some() && self.written.as_ref() == Some(&self.record) {
            return Ok(());
        }
        self.rv = Some(self.store.save(&self.record, self.rv.as_deref()).await?);
        let before = self.written.as_ref().map(|r| r.phase);
        if let Some(from) = before
            && from != self.record.phase
        {
            self.progress.event(&Event::PhaseChanged {
                from,
                to: self.record.phase,
            });
        }
        self.progress.event(&Event::Recorded {
            phase: self.record.phase,
            waves: self
                .record
                .waves
                .iter()
                .map(|w| (w.name.clone(), w.status))
                .collect(),
            inventory: self.record.inventory.len(),
            stalled: self.record.stalled.is_some(),
        });
        self.written = Some(self.record.clone());
        Ok(())
    }

    /// Records that signature verification refuses this pass's revision
    /// (the time of a refusal already recorded for it is kept).
    pub async fn refuse(&mut self, reason: &str) -> Result<(), StateError> {
        let same = self
            .record
            .refused
            .as_ref()
            .is_some_and(|r| r.revision == self.revision.0 && r.reason == reason);
        if !same {
            self.record.refused = Some(Refusal {
                revision: self.revision.0.clone(),
                reason: reason.to_string(),
                since: now(),
            });
        }
        self.save().await
    }

    /// Forgets a refused revision once another one is synced.
    pub async fn clear_refusal(&mut self) -> Result<(), StateError> {
        if self
            .record
            .refused
            .as_ref()
            .is_some_and(|r| r.revision != self.revision.0)
        {
            self.record.refused = None;
            self.save().await?;
        }
        Ok(())
    }

    /// Whether a config or permission error holds this revision.
    pub fn stalled_at(&self, cluster: Option<&str>) -> Option<&Stall> {
        let request = self.record.sync_request.as_deref();
        self.record
            .stalled
            .as_ref()
            .filter(|s| s.holds_for(&self.revision.0, cluster, request))
    }

    /// Records a pass that failed before any wave started (config, render,
    /// plan, rules). Config and permission errors stall the WaveSet.
    pub async fn failed_to_start(
        &mut self,
        message: String,
        category: Category,
        cluster: Option<String>,
    ) -> Result<(), StateError> {
        self.record.target_revision = Some(self.revision.0.clone());
        self.record.message = Some(message.clone());
        self.stall(message, category, cluster);
        self.end(Phase::Failed).await
    }

    fn stall(&mut self, reason: String, category: Category, cluster: Option<String>) {
        if !matches!(category, Category::Config | Category::Permission) {
            return;
        }
        self.progress.event(&Event::Stalled {
            reason: reason.clone(),
            category,
        });
        self.record.stalled = Some(Stall {
            reason,
            category,
            revision: self.revision.0.clone(),
            cluster,
            since: now(),
            request: self.record.sync_request.clone(),
        });
    }

    /// Starts the rollout of `plan`: target revision, phase, the waves in order.
    pub async fn begin(&mut self, cluster: Option<String>, plan: &Plan) -> Result<(), StateError> {
        let r = &mut self.record;
        r.cluster = cluster;
        r.target_revision = Some(self.revision.0.clone());
        r.stalled = None;
        // The rollout applies the drifted objects too; the watches report
        // again once it is done.
        r.drift = None;
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

    /// Records the drift the watches see now (see [`Record::set_drift`]);
    /// true when the record changed.
    pub async fn drift(
        &mut self,
        drift: Option<crate::state::DriftStatus>,
    ) -> Result<bool, StateError> {
        if !self.record.set_drift(drift) {
            return Ok(false);
        }
        self.save().await?;
        Ok(true)
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
        // A new rollout of the wave (another digest, or after it completed)
        // counts from one again: only an interrupted or failed attempt at
        // the same digest carries on.
        let done = matches!(w.status, WaveStatus::Completed | WaveStatus::Skipped);
        if done || w.digest.as_deref() != Some(&wave.digest) {
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
        self.record.message = Some(format!("wave {} in progress", wave.name));
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
    /// The attempt counter keeps saying how many attempts it took; the next
    /// start of the wave resets it.
    pub fn complete_wave(&mut self, wave: &PlannedWave, skipped: Vec<String>) {
        let w = self.record.wave_mut(&wave.name);
        w.finished = Some(now());
        w.message = None;
        w.status = if !skipped.is_empty() && skipped.len() == wave.components.len() {
            WaveStatus::Skipped
        } else {
            WaveStatus::Completed
        };
        w.skipped_components = skipped;
    }

    /// Records `wave`'s failure and ends the pass as Failed.
    pub async fn fail_wave(
        &mut self,
        wave: &str,
        message: &str,
        category: Category,
        cluster: Option<String>,
    ) -> Result<(), StateError> {
        let w = self.record.wave_mut(wave);
        w.finished = Some(now());
        w.status = WaveStatus::Failed;
        w.message = Some(message.to_string());
        let summary = format!("wave {wave} failed: {message}");
        self.record.message = Some(summary.clone());
        self.stall(summary, category, cluster);
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
            repeats: 0,
        });
        self.save().await
    }
}
