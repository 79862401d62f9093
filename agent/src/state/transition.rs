//! The record's state machine: every change a sync pass makes to the record
//! (a wave starts, is retried, completes or fails; the pass begins, ends
//! Ready, or fails before a wave started) is one [`Transition`], applied by
//! one pure function over the record with the time given, never read — so
//! the phase and wave rules are tested without a cluster or a clock, and the
//! pass that writes the record only decides *which* transition happened.

use super::record::{Phase, Record, Refusal, Stall, SyncEntry, WaveStatus};
use crate::error::Category;

/// One change of the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A rollout of the pass's revision starts over these waves (in order).
    Begin {
        /// Cluster values selected.
        cluster: Option<String>,
        /// The planned waves, in order; waves no longer planned are dropped.
        waves: Vec<String>,
    },
    /// A wave completed before at this digest is no longer healthy.
    Degraded {
        /// The wave.
        wave: String,
        /// What is missing or unhealthy.
        why: String,
    },
    /// An attempt at a wave starts.
    StartWave {
        /// The wave.
        wave: String,
        /// Its digest.
        digest: String,
        /// Its object count.
        objects: usize,
    },
    /// A wave is tried again after a transient failure.
    RetryWave {
        /// The wave.
        wave: String,
        /// The failure.
        after: String,
    },
    /// A wave is applied and healthy (skipped when every component was).
    CompleteWave {
        /// The wave.
        wave: String,
        /// Components skipped by `skipIf`.
        skipped: Vec<String>,
        /// Components the wave has.
        components: usize,
    },
    /// A wave failed: the pass ends Failed.
    FailWave {
        /// The wave.
        wave: String,
        /// Why.
        message: String,
        /// The error's category (config and permission stall the WaveSet).
        category: Category,
        /// Cluster values selected.
        cluster: Option<String>,
    },
    /// The pass failed outside a wave (config, render, plan, guards, the
    /// prune of removed waves): it ends Failed.
    Failed {
        /// Why.
        message: String,
        /// The error's category (config and permission stall the WaveSet).
        category: Category,
        /// Cluster values selected.
        cluster: Option<String>,
    },
    /// Every wave is applied and healthy: the pass ends Ready.
    Finish,
    /// Commit signature verification refuses the pass's revision.
    Refuse {
        /// Why.
        reason: String,
    },
    /// Another revision is synced: a refusal recorded for an earlier one goes.
    ClearRefusal,
}

/// What a transition is applied with: the pass's revision and times.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The revision the pass rolls out.
    pub revision: &'a str,
    /// When the pass started (RFC 3339).
    pub started: &'a str,
    /// Now (RFC 3339), from the pass's clock.
    pub now: &'a str,
}

/// What a transition did that someone must be told of.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    /// The WaveSet is now held (reason, category).
    pub stalled: Option<(String, Category)>,
}

/// Applies `t` to `record`.
pub fn apply(record: &mut Record, t: Transition, ctx: Context<'_>) -> Effects {
    let mut effects = Effects::default();
    match t {
        Transition::Begin { cluster, waves } => {
            record.cluster = cluster;
            record.target_revision = Some(ctx.revision.to_string());
            record.stalled = None;
            // The rollout applies the drifted objects too; the watches
            // report again once it is done.
            record.drift = None;
            record.phase = if record.applied_revision.is_some() {
                Phase::Upgrading
            } else {
                Phase::Installing
            };
            record.message = None;
            record.waves.retain(|w| waves.contains(&w.name));
            for n in &waves {
                record.wave_mut(n);
            }
            record
                .waves
                .sort_by_key(|w| waves.iter().position(|n| *n == w.name));
        }
        Transition::Degraded { wave, why } => {
            record.phase = Phase::Degraded;
            record.message = Some(format!("wave {wave} drifted ({why}); re-applying"));
        }
        Transition::StartWave {
            wave,
            digest,
            objects,
        } => {
            let w = record.wave_mut(&wave);
            // A new rollout of the wave (another digest, or after it
            // completed) counts from one again: only an interrupted or
            // failed attempt at the same digest carries on.
            let done = matches!(w.status, WaveStatus::Completed | WaveStatus::Skipped);
            if done || w.digest.as_deref() != Some(&digest) {
                w.attempts = 0;
            }
            w.status = WaveStatus::InProgress;
            w.digest = Some(digest);
            w.revision = Some(ctx.revision.to_string());
            w.started = Some(ctx.now.to_string());
            w.finished = None;
            w.attempts += 1;
            w.message = None;
            w.objects = objects;
            record.message = Some(format!("wave {wave} in progress"));
        }
        Transition::RetryWave { wave, after } => {
            let w = record.wave_mut(&wave);
            w.attempts += 1;
            w.message = Some(format!("retrying after: {after}"));
        }
        Transition::CompleteWave {
            wave,
            skipped,
            components,
        } => {
            let w = record.wave_mut(&wave);
            w.finished = Some(ctx.now.to_string());
            w.message = None;
            w.status = if !skipped.is_empty() && skipped.len() == components {
                WaveStatus::Skipped
            } else {
                WaveStatus::Completed
            };
            w.skipped_components = skipped;
        }
        Transition::FailWave {
            wave,
            message,
            category,
            cluster,
        } => {
            let w = record.wave_mut(&wave);
            w.finished = Some(ctx.now.to_string());
            w.status = WaveStatus::Failed;
            w.message = Some(message.clone());
            let summary = format!("wave {wave} failed: {message}");
            record.message = Some(summary.clone());
            effects.stalled = stall(record, summary, category, cluster, ctx);
            end(record, Phase::Failed, ctx);
        }
        Transition::Failed {
            message,
            category,
            cluster,
        } => {
            record.target_revision = Some(ctx.revision.to_string());
            record.message = Some(message.clone());
            effects.stalled = stall(record, message, category, cluster, ctx);
            end(record, Phase::Failed, ctx);
        }
        Transition::Finish => {
            record.applied_revision = Some(ctx.revision.to_string());
            end(record, Phase::Ready, ctx);
        }
        Transition::Refuse { reason } => {
            // The time of a refusal already recorded for it is kept.
            let same = record
                .refused
                .as_ref()
                .is_some_and(|r| r.revision == ctx.revision && r.reason == reason);
            if !same {
                record.refused = Some(Refusal {
                    revision: ctx.revision.to_string(),
                    reason,
                    since: ctx.now.to_string(),
                });
            }
        }
        Transition::ClearRefusal => {
            if record
                .refused
                .as_ref()
                .is_some_and(|r| r.revision != ctx.revision)
            {
                record.refused = None;
            }
        }
    }
    effects
}

/// Config and permission errors hold the WaveSet until the revision or the
/// cluster change, or a sync is asked for; other errors are retried.
fn stall(
    record: &mut Record,
    reason: String,
    category: Category,
    cluster: Option<String>,
    ctx: Context<'_>,
) -> Option<(String, Category)> {
    if !matches!(category, Category::Config | Category::Permission) {
        return None;
    }
    record.stalled = Some(Stall {
        reason: reason.clone(),
        category,
        revision: ctx.revision.to_string(),
        cluster,
        since: ctx.now.to_string(),
        request: record.sync_request.clone(),
    });
    Some((reason, category))
}

fn end(record: &mut Record, phase: Phase, ctx: Context<'_>) {
    record.phase = phase;
    if phase == Phase::Ready {
        record.message = None;
    }
    let message = record.message.clone();
    record.push_history(SyncEntry {
        revision: ctx.revision.to_string(),
        started: ctx.started.to_string(),
        finished: ctx.now.to_string(),
        phase,
        message: if phase == Phase::Ready { None } else { message },
        repeats: 0,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: &str) -> Context<'_> {
        Context {
            revision: "rev2",
            started: "2026-12-03T10:00:00.000Z",
            now,
        }
    }

    fn begin(r: &mut Record) {
        apply(
            r,
            Transition::Begin {
                cluster: None,
                waves: vec!["crds".into(), "apps".into()],
            },
            at("2026-12-03T10:00:00.100Z"),
        );
    }

    fn start(r: &mut Record, wave: &str, digest: &str) {
        apply(
            r,
            Transition::StartWave {
                wave: wave.into(),
                digest: digest.into(),
                objects: 3,
            },
            at("2026-12-03T10:00:01.000Z"),
        );
    }

    #[test]
    fn a_rollout_over_a_ready_revision_upgrades_and_ends_ready_with_history() {
        let mut r = Record::new("dataplane");
        r.applied_revision = Some("rev1".into());
        r.waves.push(super::super::WaveRecord {
            name: "removed".into(),
            ..Default::default()
        });
        begin(&mut r);
        assert_eq!(r.phase, Phase::Upgrading);
        let names: Vec<&str> = r.waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["crds", "apps"], "planned waves, in order");
        start(&mut r, "crds", "d1");
        assert_eq!(
            r.wave("crds").map(|w| w.status),
            Some(WaveStatus::InProgress)
        );
        assert_eq!(
            r.wave("crds").and_then(|w| w.started.as_deref()),
            Some("2026-12-03T10:00:01.000Z")
        );
        apply(
            &mut r,
            Transition::CompleteWave {
                wave: "crds".into(),
                skipped: vec![],
                components: 1,
            },
            at("2026-12-03T10:00:02.000Z"),
        );
        apply(&mut r, Transition::Finish, at("2026-12-03T10:00:03.000Z"));
        assert_eq!(r.phase, Phase::Ready);
        assert_eq!(r.applied_revision.as_deref(), Some("rev2"));
        assert_eq!(r.history[0].finished, "2026-12-03T10:00:03.000Z");
        assert_eq!(r.history[0].started, "2026-12-03T10:00:00.000Z");
    }

    #[test]
    fn attempts_count_per_digest_and_start_again_after_success() {
        let mut r = Record::new("dataplane");
        begin(&mut r);
        start(&mut r, "apps", "d1");
        apply(
            &mut r,
            Transition::RetryWave {
                wave: "apps".into(),
                after: "503".into(),
            },
            at("2026-12-03T10:00:02.000Z"),
        );
        assert_eq!(r.wave("apps").map(|w| w.attempts), Some(2));
        // Interrupted and resumed at the same digest: the count carries on.
        start(&mut r, "apps", "d1");
        assert_eq!(r.wave("apps").map(|w| w.attempts), Some(3));
        apply(
            &mut r,
            Transition::CompleteWave {
                wave: "apps".into(),
                skipped: vec![],
                components: 1,
            },
            at("2026-12-03T10:00:03.000Z"),
        );
        // Completed, then started again (a cascade): from one.
        start(&mut r, "apps", "d1");
        assert_eq!(r.wave("apps").map(|w| w.attempts), Some(1));
        // Another digest: from one as well.
        start(&mut r, "apps", "d2");
        assert_eq!(r.wave("apps").map(|w| w.attempts), Some(1));
    }

    #[test]
    fn config_and_permission_failures_stall_and_transient_ones_do_not() {
        for (category, stalls) in [
            (Category::Config, true),
            (Category::Permission, true),
            (Category::Transient, false),
            (Category::Component, false),
        ] {
            let mut r = Record::new("dataplane");
            begin(&mut r);
            start(&mut r, "apps", "d1");
            let effects = apply(
                &mut r,
                Transition::FailWave {
                    wave: "apps".into(),
                    message: "boom".into(),
                    category,
                    cluster: None,
                },
                at("2026-12-03T10:00:05.000Z"),
            );
            assert_eq!(r.phase, Phase::Failed);
            assert_eq!(r.wave("apps").map(|w| w.status), Some(WaveStatus::Failed));
            assert_eq!(r.message.as_deref(), Some("wave apps failed: boom"));
            assert_eq!(r.stalled.is_some(), stalls, "{category:?}");
            assert_eq!(effects.stalled.is_some(), stalls, "{category:?}");
            if let Some(s) = &r.stalled {
                assert_eq!(
                    (s.revision.as_str(), s.since.as_str()),
                    ("rev2", "2026-12-03T10:00:05.000Z")
                );
            }
        }
    }

    #[test]
    fn a_wave_whose_every_component_was_skipped_is_skipped() {
        let mut r = Record::new("dataplane");
        begin(&mut r);
        start(&mut r, "apps", "d1");
        apply(
            &mut r,
            Transition::CompleteWave {
                wave: "apps".into(),
                skipped: vec!["a".into(), "b".into()],
                components: 2,
            },
            at("2026-12-03T10:00:02.000Z"),
        );
        assert_eq!(r.wave("apps").map(|w| w.status), Some(WaveStatus::Skipped));
        start(&mut r, "crds", "d1");
        apply(
            &mut r,
            Transition::CompleteWave {
                wave: "crds".into(),
                skipped: vec!["a".into()],
                components: 2,
            },
            at("2026-12-03T10:00:02.000Z"),
        );
        assert_eq!(
            r.wave("crds").map(|w| w.status),
            Some(WaveStatus::Completed)
        );
    }

    #[test]
    fn a_refusal_keeps_its_time_and_goes_when_another_revision_syncs() {
        let mut r = Record::new("dataplane");
        let refuse = |r: &mut Record, now| {
            apply(
                r,
                Transition::Refuse {
                    reason: "is not signed".into(),
                },
                at(now),
            );
        };
        refuse(&mut r, "2026-12-03T10:00:00.000Z");
        refuse(&mut r, "2026-12-03T11:00:00.000Z");
        assert_eq!(
            r.refused.as_ref().map(|x| x.since.as_str()),
            Some("2026-12-03T10:00:00.000Z")
        );
        apply(
            &mut r,
            Transition::ClearRefusal,
            at("2026-12-03T11:00:00.000Z"),
        );
        assert!(r.refused.is_some(), "the same revision: still refused");
        let other = Context {
            revision: "rev3",
            ..at("2026-12-03T12:00:00.000Z")
        };
        apply(&mut r, Transition::ClearRefusal, other);
        assert!(r.refused.is_none());
    }
}
