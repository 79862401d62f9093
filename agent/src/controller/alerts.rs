//! The loop's notifications: the sinks of the flags and of the synced
//! revision's `spec.notifications`, rebuilt when that section changes, and
//! what the loop and the drift detector tell them.

use crate::config::NotificationSink;
use crate::drift::detector::Notice as DriftNotice;
use crate::drift::{Change, Finding, Healing};
use crate::error::Categorized;
use crate::model::Revision;
use crate::notify::{self, FlagSinks, Notice, Notifier, NotifyContext};
use crate::reconcile::{SyncError, SyncReport};
use crate::report::Metrics;
use std::sync::Arc;
use std::time::Duration;

/// The notifier and what it is built from.
pub struct Alerts {
    notifier: Notifier,
    flags: FlagSinks,
    client: kube::Client,
    context: NotifyContext,
    metrics: Arc<Metrics>,
    /// The repository's sinks the notifier was built with.
    config: Option<Vec<NotificationSink>>,
    /// The last failure told (a failure retried with backoff is told once).
    told: Option<String>,
    /// The revision whose `spec.notifications` was read last.
    read_at: Option<String>,
}

impl Alerts {
    /// Starts with the sinks of the flags (the repository's come after the
    /// first pass).
    pub async fn start(
        flags: FlagSinks,
        client: kube::Client,
        context: NotifyContext,
        metrics: Arc<Metrics>,
    ) -> Alerts {
        let notifier = build(&[], &flags, &client, &context, &metrics).await;
        Alerts {
            notifier,
            flags,
            client,
            context,
            metrics,
            // Flags only: the same as a repository without notifications.
            config: Some(Vec::new()),
            told: None,
            read_at: None,
        }
    }

    /// True once per revision: when its `spec.notifications` should be read.
    pub fn new_revision(&mut self, revision: &str) -> bool {
        if self.read_at.as_deref() == Some(revision) {
            return false;
        }
        self.read_at = Some(revision.to_string());
        true
    }

    /// Rebuilds the sinks when the repository's `spec.notifications` changed.
    pub async fn configure(&mut self, sinks: &[NotificationSink]) {
        if self.config.as_deref() == Some(sinks) {
            return;
        }
        let next = build(
            sinks,
            &self.flags,
            &self.client,
            &self.context,
            &self.metrics,
        )
        .await;
        let old = std::mem::replace(&mut self.notifier, next);
        old.shutdown(Duration::from_secs(2)).await;
        self.config = Some(sinks.to_vec());
    }

    /// This replica stopped leading: the notifier is started afresh, so its
    /// firing alerts are no longer sent again (the new leader fires what it
    /// finds; the rest resolve in Alertmanager on their own).
    pub async fn step_down(&mut self) {
        let sinks = self.config.clone().unwrap_or_default();
        self.config = None;
        self.read_at = None;
        self.told = None;
        self.configure(&sinks).await;
    }

    /// What a pass's end tells the sinks.
    pub fn pass(
        &mut self,
        result: &Result<SyncReport, SyncError>,
        revision: &Revision,
        took: Duration,
    ) {
        if let Err(e) = result
            && !matches!(e, SyncError::Cancelled(_))
        {
            let key = format!("{revision} {e}");
            if self.told.as_deref() == Some(key.as_str()) {
                return;
            }
            self.told = Some(key);
        }
        match result {
            Ok(r) if r.stalled || r.up_to_date => {}
            Ok(_) => {
                self.told = None;
                self.notifier.notify(Notice::SyncSucceeded {
                    revision: revision.clone(),
                    took,
                });
                self.notifier.ready();
            }
            Err(SyncError::Cancelled(_)) => {}
            Err(SyncError::Wave {
                wave,
                message,
                category,
            }) => {
                self.notifier.notify(Notice::WaveFailed {
                    wave: wave.clone(),
                    revision: revision.clone(),
                    message: message.clone(),
                });
                self.failed(
                    revision,
                    *category,
                    &format!("wave {wave} failed: {message}"),
                );
            }
            Err(e) => self.failed(revision, e.category(), &e.to_string()),
        }
    }

    fn failed(&self, revision: &Revision, category: crate::error::Category, message: &str) {
        self.notifier.notify(Notice::SyncFailed {
            revision: revision.clone(),
            category,
            message: message.to_string(),
        });
        if matches!(
            category,
            crate::error::Category::Config | crate::error::Category::Permission
        ) {
            self.notifier.notify(Notice::Stalled {
                revision: revision.clone(),
                reason: message.to_string(),
                category,
            });
        }
    }

    /// A refused head commit.
    pub fn refused(&self, revision: &str, reason: &str) {
        self.notifier.notify(Notice::RevisionRefused {
            revision: Revision(revision.to_string()),
            reason: reason.to_string(),
        });
    }

    /// A drift notice.
    pub fn drift(&self, n: &DriftNotice, revision: Option<&str>) {
        let revision = revision.map(|r| Revision(r.to_string()));
        let notice = match n {
            DriftNotice::Detected(f) | DriftNotice::Contested(f) => {
                Notice::DriftDetected(detected(f, revision))
            }
            // A heal is followed by the resolve once the watch sees it.
            DriftNotice::Healed(_) => return,
            DriftNotice::Resolved { finding, how } => {
                Notice::DriftResolved(notify::DriftResolved {
                    object: finding.object.clone(),
                    wave: finding.wave.clone(),
                    revision,
                    how: match *how {
                        "healed" => notify::Resolution::Healed,
                        "reverted" => notify::Resolution::Reverted,
                        _ => notify::Resolution::Resynced,
                    },
                })
            }
        };
        self.notifier.notify(notice);
    }

    /// Delivers what is queued, within `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.notifier.shutdown(grace).await;
    }
}

fn detected(f: &Finding, revision: Option<Revision>) -> notify::DriftDetected {
    let fields = match &f.change {
        Change::Deleted => Vec::new(),
        Change::Changed { fields } => fields
            .iter()
            .map(|d| notify::FieldChange {
                path: d.path.clone(),
                manager: Some(d.manager.clone()),
                operation: d.operation.clone(),
                subresource: d.subresource.clone(),
                time: d.time.as_deref().and_then(|t| t.parse().ok()),
                old: d.desired.clone(),
                new: d.live.clone(),
            })
            .collect(),
    };
    notify::DriftDetected {
        object: f.object.clone(),
        wave: f.wave.clone(),
        revision,
        deleted: f.change == Change::Deleted,
        fields,
        policy: match f.healing {
            Healing::Alert => notify::DriftPolicy::Alert,
            _ => notify::DriftPolicy::Heal,
        },
        contested_by: match &f.healing {
            Healing::Contested { by } => Some(by.clone()),
            _ => None,
        },
    }
}

async fn build(
    config: &[NotificationSink],
    flags: &FlagSinks,
    client: &kube::Client,
    context: &NotifyContext,
    metrics: &Arc<Metrics>,
) -> Notifier {
    let built = notify::build_sinks(config, flags, Some(client), &context.namespace).await;
    for e in &built.errors {
        tracing::warn!(error = %e, category = %e.category(), "a notification sink is left out");
    }
    if !built.sinks.is_empty() {
        let names: Vec<&str> = built.sinks.iter().map(|s| s.name()).collect();
        tracing::info!(sinks = ?names, "notifications");
    }
    Notifier::start(built.sinks, context.clone(), metrics.clone())
}
