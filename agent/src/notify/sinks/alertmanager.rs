//! The Alertmanager v2 API: `POST <url>/api/v2/alerts` with an array of
//! alerts. This is the one stateful sink: it keeps the alerts that fire,
//! because Alertmanager resolves an alert it is not sent again within its
//! `resolve_timeout`; the worker re-sends [`Alerts::firing`] every
//! `repeatInterval`, and a resolve sends the alert once more with `endsAt`.
//!
//! Alerts: one `WavesyncDrift` per drifted object (resolved by its
//! `DriftResolved`), and per WaveSet `WavesyncSyncFailed`,
//! `WavesyncStalled`, `WavesyncWaveFailed` (per wave) and
//! `WavesyncRevisionRefused`, all resolved when the WaveSet is Ready again
//! (`SyncSucceeded`, or `Notifier::ready`). Labels never carry a revision
//! or a message, so that an alert keeps its identity while it fires.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::describe_field;
use crate::config::NotificationEvent;
use crate::model::ObjRef;
use crate::notify::mask;
use crate::notify::notice::{Notice, NotifyContext};

/// Which alert a notice is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Drift(ObjRef),
    SyncFailed,
    Stalled,
    WaveFailed(String),
    RevisionRefused,
}

impl Key {
    /// The `alertname` label.
    fn alertname(&self) -> &'static str {
        match self {
            Key::Drift(_) => "WavesyncDrift",
            Key::SyncFailed => "WavesyncSyncFailed",
            Key::Stalled => "WavesyncStalled",
            Key::WaveFailed(_) => "WavesyncWaveFailed",
            Key::RevisionRefused => "WavesyncRevisionRefused",
        }
    }

    /// The alert a notice fires, if it fires one.
    fn of(notice: &Notice) -> Option<Key> {
        Some(match notice {
            Notice::DriftDetected(d) => Key::Drift(d.object.clone()),
            Notice::SyncFailed { .. } => Key::SyncFailed,
            Notice::Stalled { .. } => Key::Stalled,
            Notice::WaveFailed { wave, .. } => Key::WaveFailed(wave.clone()),
            Notice::RevisionRefused { .. } => Key::RevisionRefused,
            Notice::DriftResolved(_) | Notice::SyncSucceeded { .. } => return None,
        })
    }
}

/// One alert as Alertmanager gets it.
#[derive(Debug, Clone, PartialEq)]
struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: jiff::Timestamp,
}

impl Alert {
    fn json(&self, ends_at: Option<jiff::Timestamp>) -> Value {
        let mut v = json!({
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at.to_string(),
        });
        if let (Some(end), Some(map)) = (ends_at, v.as_object_mut()) {
            map.insert("endsAt".into(), json!(end.to_string()));
        }
        v
    }
}

/// The alerts of one Alertmanager sink.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    active: BTreeMap<Key, Alert>,
    extra_labels: BTreeMap<String, String>,
    fire: Vec<NotificationEvent>,
}

impl Alerts {
    /// No alerts yet; `extra_labels` go on every alert; only notices of
    /// `fire` raise one (resolves always go through).
    pub fn new(extra_labels: BTreeMap<String, String>, fire: Vec<NotificationEvent>) -> Alerts {
        Alerts {
            active: BTreeMap::new(),
            extra_labels,
            fire,
        }
    }

    /// How many alerts fire.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether none fires.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The alerts to post for `notice`, received at `at`: the one it fires
    /// (new or updated), or those it resolves, with `endsAt`.
    pub fn notice(
        &mut self,
        notice: &Notice,
        ctx: &NotifyContext,
        at: jiff::Timestamp,
    ) -> Vec<Value> {
        match notice {
            Notice::DriftResolved(d) => self
                .active
                .remove(&Key::Drift(d.object.clone()))
                .map(|a| vec![a.json(Some(at))])
                .unwrap_or_default(),
            Notice::SyncSucceeded { .. } => self.ready(at),
            _ if !self.fire.contains(&notice.event()) => Vec::new(),
            _ => {
                let Some(key) = Key::of(notice) else {
                    return Vec::new();
                };
                let starts_at = self.active.get(&key).map_or(at, |a| a.starts_at);
                let alert = Alert {
                    labels: self.labels(&key, notice, ctx),
                    annotations: annotations(notice),
                    starts_at,
                };
                let out = vec![alert.json(None)];
                self.active.insert(key, alert);
                out
            }
        }
    }

    /// The WaveSet is Ready: every alert but drift resolves.
    pub fn ready(&mut self, at: jiff::Timestamp) -> Vec<Value> {
        let (drift, resolved): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|(k, _)| matches!(k, Key::Drift(_)));
        self.active = drift;
        resolved.values().map(|a| a.json(Some(at))).collect()
    }

    /// Every firing alert, to send again.
    pub fn firing(&self) -> Vec<Value> {
        self.active.values().map(|a| a.json(None)).collect()
    }

    fn labels(&self, key: &Key, notice: &Notice, ctx: &NotifyContext) -> BTreeMap<String, String> {
        let mut labels = self.extra_labels.clone();
        let mut set = |k: &str, v: &str| {
            labels.insert(k.to_string(), v.to_string());
        };
        set("alertname", key.alertname());
        set("waveset", &ctx.waveset);
        if let Some(c) = &ctx.cluster {
            set("cluster", c);
        }
        set("severity", notice.severity().as_str());
        if let Some(w) = notice.wave() {
            set("wave", w);
        }
        if let Key::Drift(o) = key {
            set("kind", &o.kind);
            if !o.namespace.is_empty() {
                set("namespace", &o.namespace);
            }
            set("name", &o.name);
        }
        labels
    }
}

/// `summary`, `description` and, when known, `revision`.
fn annotations(notice: &Notice) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("summary".to_string(), notice.summary());
    let description = match notice {
        Notice::DriftDetected(d) if d.deleted => {
            format!(
                "{} was deleted out of band (policy {}).",
                d.object,
                d.policy.as_str()
            )
        }
        Notice::DriftDetected(d) => {
            let mut lines: Vec<String> = mask::fields(&d.object, &d.fields)
                .iter()
                .map(describe_field)
                .collect();
            lines.push(format!("policy: {}", d.policy.as_str()));
            if let Some(m) = &d.contested_by {
                lines.push(format!("contested by {m}: healing backed off"));
            }
            lines.join("\n")
        }
        other => other.detail().unwrap_or_default().to_string(),
    };
    a.insert(
        "description".to_string(),
        super::truncate(&description, 4000),
    );
    if let Some(r) = notice.revision() {
        a.insert("revision".to_string(), r.0.clone());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Category;
    use crate::notify::notice::fixtures::*;
    use crate::notify::notice::{DriftResolved, Resolution};

    fn alerts() -> Alerts {
        let labels = BTreeMap::from([("team".to_string(), "platform".to_string())]);
        Alerts::new(labels, NotificationEvent::defaults())
    }

    fn later() -> jiff::Timestamp {
        "2025-03-04T05:16:07Z".parse().expect("a timestamp")
    }

    #[test]
    fn a_drifted_object_fires_one_alert_with_its_labels() {
        let mut a = alerts();
        let posted = a.notice(&scaled(), &context(), at());
        let expected = json!([{
            "labels": {
                "alertname": "WavesyncDrift",
                "waveset": "dataplane",
                "cluster": "dp-east",
                "severity": "warning",
                "wave": "apps",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "team": "platform",
            },
            "annotations": {
                "summary": "Deployment.apps shop/web (wave apps) drifted: spec.replicas changed by kubectl",
                "description": "spec.replicas: 3 → 5 (by kubectl, Update, subresource scale, at 2025-03-04T05:06:07Z)\npolicy: alert",
                "revision": "0123456789abcdef0123456789abcdef01234567",
            },
            "startsAt": "2025-03-04T05:06:07Z",
        }]);
        assert_eq!(Value::Array(posted), expected);
        assert_eq!(a.len(), 1);
        // Seen again later: the same alert, still from its first time.
        let again = a.notice(&scaled(), &context(), later());
        assert_eq!(again[0]["startsAt"], json!("2025-03-04T05:06:07Z"));
        assert_eq!(Value::Array(a.firing()), expected);
    }

    #[test]
    fn a_resolve_sends_the_alert_once_more_with_ends_at() {
        let mut a = alerts();
        let fired = a.notice(&scaled(), &context(), at());
        let resolved = Notice::DriftResolved(DriftResolved {
            object: deployment(),
            wave: "apps".into(),
            revision: None,
            how: Resolution::Healed,
        });
        let posted = a.notice(&resolved, &context(), later());
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0]["labels"], fired[0]["labels"], "the same alert");
        assert_eq!(posted[0]["startsAt"], json!("2025-03-04T05:06:07Z"));
        assert_eq!(posted[0]["endsAt"], json!("2025-03-04T05:16:07Z"));
        assert!(a.is_empty());
        assert!(a.firing().is_empty(), "nothing left to send again");
        assert!(
            a.notice(&resolved, &context(), later()).is_empty(),
            "a resolve of nothing sends nothing"
        );
    }

    #[test]
    fn ready_resolves_the_wavesets_alerts_but_not_drift() {
        let mut a = alerts();
        let rev = revision();
        a.notice(&scaled(), &context(), at());
        for n in [
            Notice::SyncFailed {
                revision: rev.clone(),
                category: Category::Transient,
                message: "timed out".into(),
            },
            Notice::WaveFailed {
                wave: "database".into(),
                revision: rev.clone(),
                message: "Job migrate failed".into(),
            },
            Notice::Stalled {
                revision: rev.clone(),
                reason: "bad path".into(),
                category: Category::Config,
            },
            Notice::RevisionRefused {
                revision: rev.clone(),
                reason: "unsigned".into(),
            },
        ] {
            let posted = a.notice(&n, &context(), at());
            assert_eq!(posted.len(), 1, "{n:?}");
            assert!(posted[0].get("endsAt").is_none());
        }
        assert_eq!(a.len(), 5);
        let names = |v: &[Value]| -> Vec<String> {
            let mut n: Vec<String> = v
                .iter()
                .map(|a| {
                    a["labels"]["alertname"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            n.sort();
            n
        };
        let firing = a.firing();
        let wave_failed = firing
            .iter()
            .find(|f| f["labels"]["alertname"] == json!("WavesyncWaveFailed"))
            .expect("fires");
        assert_eq!(wave_failed["labels"]["wave"], json!("database"));
        assert_eq!(wave_failed["labels"]["severity"], json!("warning"));
        assert_eq!(
            wave_failed["annotations"]["description"],
            json!("Job migrate failed")
        );
        let ok = Notice::SyncSucceeded {
            revision: rev,
            took: std::time::Duration::from_secs(3),
        };
        let resolved = a.notice(&ok, &context(), later());
        assert_eq!(
            names(&resolved),
            [
                "WavesyncRevisionRefused",
                "WavesyncStalled",
                "WavesyncSyncFailed",
                "WavesyncWaveFailed"
            ]
        );
        assert!(
            resolved
                .iter()
                .all(|r| r["endsAt"] == json!("2025-03-04T05:16:07Z"))
        );
        assert_eq!(names(&a.firing()), ["WavesyncDrift"]);
        assert!(a.ready(later()).is_empty());
    }

    #[test]
    fn events_left_out_fire_nothing_but_resolves_still_go_through() {
        let mut a = Alerts::new(BTreeMap::new(), vec![NotificationEvent::Stalled]);
        assert!(a.notice(&scaled(), &context(), at()).is_empty());
        let stalled = Notice::Stalled {
            revision: revision(),
            reason: "r".into(),
            category: Category::Permission,
        };
        assert_eq!(a.notice(&stalled, &context(), at()).len(), 1);
        let posted = a.ready(later());
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0]["labels"]["severity"], json!("critical"));
        assert!(posted[0]["labels"].get("cluster").is_some());
    }

    #[test]
    fn a_secrets_values_never_reach_the_description() {
        let Notice::DriftDetected(mut d) = scaled() else {
            unreachable!()
        };
        d.object.kind = "Secret".into();
        d.object.api_version = "v1".into();
        d.fields[0].path = "data.password".into();
        d.fields[0].old = Some(json!("aHVudGVyMg=="));
        d.fields[0].new = Some(json!("c2VjcmV0Cg=="));
        let mut a = alerts();
        let text = serde_json::to_string(&a.notice(&Notice::DriftDetected(d), &context(), at()))
            .expect("json");
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(!text.contains("c2VjcmV0Cg=="), "{text}");
        assert!(
            text.contains("data.password: \\\"***\\\" → \\\"***\\\""),
            "{text}"
        );
    }
}
