//! Between passes: what the drift watches check, and what they found,
//! written to the record.
//!
//! The watched objects are those of every wave the record says completed
//! at the digest this revision renders (so a wave still rolling out, failed
//! or skipped is not watched), as the apply sends them.

use super::sync::{Engine, SyncError};
use crate::apply::jobs;
use crate::config;
use crate::drift::detector::{Desired, Report, Watched};
use crate::drift::{Change, Finding, Healing};
use crate::model::Revision;
use crate::state::{DRIFT_ITEMS, DriftItem, DriftStatus, StateError, WaveStatus};
use std::path::Path;

impl Engine {
    /// The objects of `revision` (checked out at `root`) for the drift
    /// watches; `None` when the record has nothing completed at it.
    ///
    /// # Errors
    /// Configuration, render and plan errors, and the record not loading.
    pub async fn watched(
        &self,
        root: &Path,
        revision: &Revision,
    ) -> Result<Option<Desired>, SyncError> {
        let ws = config::load(root, self.options.cluster.as_deref())?;
        let Some(loaded) = self.store(&ws.name).load().await? else {
            return Ok(None);
        };
        let record = loaded.record;
        if record.applied_revision.as_deref() != Some(revision.0.as_str()) {
            return Ok(None);
        }
        let (plan, _) = self.plan_for(root, &ws).await?;
        let mut objects = Vec::new();
        for wave in &plan.waves {
            let Some(w) = record.wave(&wave.name) else {
                continue;
            };
            if w.status != WaveStatus::Completed || w.digest.as_deref() != Some(&wave.digest) {
                continue;
            }
            for c in &wave.components {
                if w.skipped_components.contains(&c.name) {
                    continue;
                }
                let drift = ws.drift_for(&wave.name, &c.name);
                for o in &c.objects {
                    let mut object = o.clone();
                    if jobs::is_job(&object) {
                        jobs::stamp(&mut object);
                    }
                    objects.push(Watched {
                        object,
                        wave: wave.name.clone(),
                        component: c.name.clone(),
                        drift: drift.clone(),
                    });
                }
            }
        }
        Ok(Some(Desired {
            waveset: ws.name.clone(),
            revision: revision.0.clone(),
            heal_limit: ws.heal_limit,
            objects,
        }))
    }

    /// Writes what the watches found into the record of `waveset`: phase
    /// Degraded with the drift while there is some, Ready again after.
    /// Returns whether the record changed.
    ///
    /// # Errors
    /// The record not loading or saving.
    pub async fn record_drift(&self, waveset: &str, report: &Report) -> Result<bool, StateError> {
        let mut pass = self
            .load_pass(waveset, &Revision(report.revision.clone()))
            .await?;
        if pass.record.applied_revision.as_deref() != Some(report.revision.as_str()) {
            // Another revision was applied since: its own watch report follows.
            return Ok(false);
        }
        pass.drift(status(report)).await
    }
}

/// The record's view of a report: references, paths and managers only.
pub fn status(report: &Report) -> Option<DriftStatus> {
    if report.findings.is_empty() {
        return None;
    }
    let since = report
        .findings
        .iter()
        .map(|f| f.since.clone())
        .min()
        .unwrap_or_default();
    Some(DriftStatus {
        objects: report.findings.len(),
        since,
        items: report.findings.iter().take(DRIFT_ITEMS).map(item).collect(),
    })
}

fn item(f: &Finding) -> DriftItem {
    DriftItem {
        object: f.object.to_string(),
        wave: f.wave.clone(),
        fields: match &f.change {
            Change::Deleted => vec!["deleted".into()],
            Change::Changed { fields } => fields.iter().map(|d| d.summary()).collect(),
        },
        policy: match &f.healing {
            Healing::Alert => "alert".into(),
            Healing::Healing { heals } => format!("heal ({heals} in the window)"),
            Healing::Contested { by } => format!("contested by {by}"),
            Healing::NotHealed { why } => format!("heal: not healed: {why}"),
        },
        since: f.since.clone(),
    }
}
