//! The payload of each kind of sink, as pure functions of a notice, the
//! context and the time ([`webhook`], [`slack`]), or a small state machine
//! of the alerts that fire ([`alertmanager`]). [`Format`] is what a
//! delivery worker holds: it turns queued items into request bodies.

pub mod alertmanager;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::notice::{FieldChange, Notice, NotifyContext};
use crate::config::{NotificationEvent, SinkType};

/// What the notifier queues for a sink.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A notice, and when it was given.
    Notice {
        /// The notice, shared by every sink.
        notice: Arc<Notice>,
        /// When `notify` was called.
        at: jiff::Timestamp,
    },
    /// The WaveSet is Ready (resolves Alertmanager's WaveSet alerts).
    Ready {
        /// When `ready` was called.
        at: jiff::Timestamp,
    },
}

/// How one sink turns items into bodies.
#[derive(Debug)]
pub(crate) enum Format {
    /// One JSON document per notice.
    Webhook,
    /// One message per notice.
    Slack,
    /// The alerts that fire.
    Alertmanager(alertmanager::Alerts),
}

impl Format {
    /// The format of a sink of `kind`.
    pub(crate) fn new(
        kind: SinkType,
        labels: BTreeMap<String, String>,
        events: Vec<NotificationEvent>,
    ) -> Format {
        match kind {
            SinkType::Webhook => Format::Webhook,
            SinkType::Slack => Format::Slack,
            SinkType::Alertmanager => {
                Format::Alertmanager(alertmanager::Alerts::new(labels, events))
            }
        }
    }

    /// The body for `item` and the `kind` label it is counted under;
    /// `None` when there is nothing to send.
    pub(crate) fn render(
        &mut self,
        item: &Item,
        ctx: &NotifyContext,
    ) -> Option<(Value, &'static str)> {
        match (self, item) {
            (Format::Webhook, Item::Notice { notice, at }) => {
                Some((webhook::body(notice, ctx, *at), notice.event().as_str()))
            }
            (Format::Slack, Item::Notice { notice, at }) => {
                Some((slack::body(notice, ctx, *at), notice.event().as_str()))
            }
            (Format::Alertmanager(alerts), Item::Notice { notice, at }) => {
                let posted = alerts.notice(notice, ctx, *at);
                (!posted.is_empty()).then(|| (Value::Array(posted), notice.event().as_str()))
            }
            (Format::Alertmanager(alerts), Item::Ready { at }) => {
                let posted = alerts.ready(*at);
                (!posted.is_empty()).then_some((Value::Array(posted), "Ready"))
            }
            (_, Item::Ready { .. }) => None,
        }
    }

    /// What is sent again every `repeatInterval`: Alertmanager's firing
    /// alerts; `None` when nothing fires.
    pub(crate) fn resend(&self) -> Option<Value> {
        match self {
            Format::Alertmanager(alerts) if !alerts.is_empty() => {
                Some(Value::Array(alerts.firing()))
            }
            _ => None,
        }
    }
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A field value for text: compact JSON, cut at 120 characters.
pub(crate) fn value_text(v: Option<&Value>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(v) => truncate(&v.to_string(), 120),
    }
}

/// `spec.replicas: 3 → 5 (by kubectl, Update, subresource scale, at …)`.
pub(crate) fn describe_field(f: &FieldChange) -> String {
    let mut s = format!(
        "{}: {} → {}",
        f.path,
        value_text(f.old.as_ref()),
        value_text(f.new.as_ref())
    );
    let mut how = Vec::new();
    if let Some(m) = &f.manager {
        how.push(format!("by {m}"));
    }
    if let Some(o) = &f.operation {
        how.push(o.clone());
    }
    if let Some(sub) = &f.subresource {
        how.push(format!("subresource {sub}"));
    }
    if let Some(t) = f.time {
        how.push(format!("at {t}"));
    }
    if !how.is_empty() {
        s.push_str(&format!(" ({})", how.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notice::fixtures::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("", 3), "");
    }

    #[test]
    fn only_alertmanager_sends_again_and_reacts_to_ready() {
        let ctx = context();
        let ready = Item::Ready { at: at() };
        let notice = Item::Notice {
            notice: Arc::new(scaled()),
            at: at(),
        };
        for kind in [SinkType::Webhook, SinkType::Slack] {
            let mut f = Format::new(kind, BTreeMap::new(), NotificationEvent::defaults());
            assert!(f.render(&ready, &ctx).is_none());
            assert_eq!(
                f.render(&notice, &ctx).map(|(_, k)| k),
                Some("DriftDetected")
            );
            assert!(f.resend().is_none());
        }
        let mut am = Format::new(
            SinkType::Alertmanager,
            BTreeMap::new(),
            NotificationEvent::defaults(),
        );
        assert!(am.resend().is_none(), "nothing fires yet");
        assert!(am.render(&notice, &ctx).is_some());
        assert_eq!(
            am.resend().and_then(|v| v.as_array().map(Vec::len)),
            Some(1)
        );
        assert!(
            am.render(&ready, &ctx).is_none(),
            "ready leaves drift firing"
        );
    }
}
