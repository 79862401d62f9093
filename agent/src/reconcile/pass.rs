//! The record of one sync pass as it moves through the waves: each wave
//! transition ([`Transition`], a pure function over the record) is one
//! resourceVersion-checked write of the state ConfigMap, and a write that
//! would change nothing (timestamps aside) is not sent.

use super::stop::{Stop, StopReason};
use crate::clock::SharedClock;
use crate::model::Revision;
use crate::report::{Event, Progress};
use crate::state::store::Loaded;
use crate::state::transition::{self, Context};
use crate::state::{Record, Stall, StateError, StateStore, Transition, conditions};
use std::sync::Arc;

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
    clock: SharedClock,
    progress: Arc<dyn Progress>,
    stop: Stop,
}

impl Pass {
    /// Reads the record (or starts a new one) for a pass of `revision`.
    pub async fn load(
        store: StateStore,
        waveset: &str,
        revision: &Revision,
        clock: SharedClock,
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
            started: clock.stamp(),
            clock,
            progress,
            stop,
        })
    }

    /// The revision this pass rolls out.
    pub fn revision(&self) -> &Revision {
        &self.revision
    }

    /// Applies `t` to the record (no write).
    pub fn apply(&mut self, t: Transition) {
        let now = self.clock.stamp();
        let ctx = Context {
            revision: &self.revision.0,
            started: &self.started,
            now: &now,
        };
        let effects = transition::apply(&mut self.record, t, ctx);
        if let Some((reason, category)) = effects.stalled {
            self.progress.event(&Event::Stalled { reason, category });
        }
    }

    /// Applies `t` and writes the record.
    pub async fn step(&mut self, t: Transition) -> Result<(), StateError> {
        self.apply(t);
        self.save().await
    }

    /// Writes the record, expecting nobody else wrote since; skipped when
    /// nothing changed. Refused once the lease is lost: another agent acts.
    pub async fn save(&mut self) -> Result<(), StateError> {
        if self.stop.reason() == Some(StopReason::LeaseLost) {
            return Err(StateError::NotLeader {
                name: self.store.name().to_string(),
            });
        }
        conditions::update(&mut self.record, &self.clock.stamp());
        if self.rv.is_some() && self.written.as_ref() == Some(&self.record) {
            return Ok(());
        }
        self.record.updated = Some(self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
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

    /// Whether a config or permission error holds this revision.
    pub fn stalled_at(&self, cluster: Option<&str>) -> Option<&Stall> {
        let request = self.record.sync_request.as_deref();
        self.record
            .stalled
            .as_ref()
            .filter(|s| s.holds_for(&self.revision.0, cluster, request))
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
}
