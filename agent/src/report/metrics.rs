//! Prometheus metrics of the agent, served on `/metrics`.
//!
//! Every metric has the `wavesync_` prefix and bounded labels only: WaveSet,
//! wave, phase, error category, apply action and API group — never an object
//! name or an error text, so the series count does not grow with the repo.
//! Most values are fed from sync [`Event`]s through [`MetricsProgress`]; the
//! agent loop records passes, fetches and leadership itself.

use super::progress::{Event, Progress};
use crate::error::Category;
use crate::state::{Phase, WaveStatus};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// Every phase, for the one-hot `wavesync_phase` gauge.
const PHASES: [Phase; 6] = [
    Phase::Pending,
    Phase::Installing,
    Phase::Ready,
    Phase::Failed,
    Phase::Upgrading,
    Phase::Degraded,
];

/// The value of `wavesync_wave_status` for a status (seed 004's step status).
pub fn wave_status_value(s: WaveStatus) -> i64 {
    match s {
        WaveStatus::Pending => 0,
        WaveStatus::InProgress => 1,
        WaveStatus::Completed => 2,
        WaveStatus::Failed => 3,
        WaveStatus::Skipped => 4,
    }
}

/// How a reconcile pass ended, as the `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassResult {
    /// Every wave applied and healthy.
    Success,
    /// A wave or a stage failed.
    Failure,
    /// The revision was already Ready: nothing done.
    UpToDate,
    /// Not attempted: the record is Stalled at this revision.
    Stalled,
    /// Stopped at a safe point (lease lost or shutdown).
    Cancelled,
}

impl PassResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PassResult::Success => "success",
            PassResult::Failure => "failure",
            PassResult::UpToDate => "up_to_date",
            PassResult::Stalled => "stalled",
            PassResult::Cancelled => "cancelled",
        }
    }
}

/// The agent's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconcile_total: IntCounterVec,
    reconcile_duration: HistogramVec,
    wave_status: IntGaugeVec,
    wave_duration: HistogramVec,
    wave_started: GaugeVec,
    wave_timeout: GaugeVec,
    phase: IntGaugeVec,
    phase_transitions: IntCounterVec,
    stalled: IntGaugeVec,
    errors: IntCounterVec,
    objects_applied: IntCounterVec,
    git_fetch: HistogramVec,
    source_info: IntGaugeVec,
    leader: IntGauge,
    last_success: GaugeVec,
    drift_objects: IntGaugeVec,
    drift_detected: IntCounterVec,
    drift_heals: IntCounterVec,
    drift_confirmations: IntCounterVec,
    drift_watch_events: IntCounterVec,
    drift_watches: IntGaugeVec,
    inventory_objects: IntGaugeVec,
    /// The revision now exported by `wavesync_source_info` (one series at a time).
    revision: Mutex<Option<(String, String)>>,
    /// Every family's full name, and whether it is a histogram.
    families: Vec<(String, bool)>,
    /// Push webhook requests by provider and result.
    webhook_requests: IntCounterVec,
    /// 1 while the head commit is refused by signature verification.
    revision_refused: IntGaugeVec,
    notifications_sent: IntCounterVec,
    notification_failures: IntCounterVec,
    notification_queue: IntGaugeVec,
}

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// Builds a metric and registers it; the names are fixed, so a failure is a
/// programming error caught by every test that builds [`Metrics`].
macro_rules! metric {
    ($registry:expr, $families:expr, $ty:ty, $opts:expr, $labels:expr) => {{
        let m = <$ty>::new($opts, $labels).expect("valid metric definition");
        for d in prometheus::core::Collector::desc(&m) {
            $families.push((d.fq_name.clone(), stringify!($ty) == "HistogramVec"));
        }
        $registry
            .register(Box::new(m.clone()))
            .expect("metric registered once");
        m
    }};
}

impl Metrics {
    /// A fresh registry with every metric (no series until something happens).
    #[allow(clippy::expect_used)]
    pub fn new() -> Arc<Self> {
        let r = Registry::new_custom(Some("wavesync".into()), None).expect("valid prefix");
        let secs = [
            0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
        ];
        let hist = |name: &str, help: &str| HistogramOpts::new(name, help).buckets(secs.to_vec());
        let ws = &["waveset"];
        let leader = IntGauge::new("leader", "1 when this replica holds the lease and acts.")
            .expect("valid metric definition");
        r.register(Box::new(leader.clone()))
            .expect("metric registered once");
        let mut f: Vec<(String, bool)> = vec![("leader".into(), false)];
        let webhook_requests = metric!(
            r,
            f,
            IntCounterVec,
            Opts::new(
                "webhook_requests_total",
                "Push webhook requests by provider (github, gitlab, generic) and result (triggered, ignored, unauthorized, invalid, too_large)."
            ),
            &["provider", "result"]
        );
        let revision_refused = metric!(
            r,
            f,
            IntGaugeVec,
            Opts::new(
                "revision_refused",
                "1 while the tracked head commit is refused by commit signature verification (the previous revision stays applied)."
            ),
            ws
        );
        Arc::new(Metrics {
            reconcile_total: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new("reconcile_total", "Sync passes by result."),
                &["waveset", "result"]
            ),
            reconcile_duration: metric!(
                r,
                f,
                HistogramVec,
                hist(
                    "reconcile_duration_seconds",
                    "Duration of sync passes by result."
                ),
                &["waveset", "result"]
            ),
            wave_status: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "wave_status",
                    "Wave status: 0 pending, 1 in_progress, 2 completed, 3 failed, 4 skipped."
                ),
                &["waveset", "wave"]
            ),
            wave_duration: metric!(
                r,
                f,
                HistogramVec,
                hist(
                    "wave_duration_seconds",
                    "Time from a wave's start to healthy (or failed)."
                ),
                &["waveset", "wave"]
            ),
            wave_started: metric!(
                r,
                f,
                GaugeVec,
                Opts::new(
                    "wave_started_timestamp_seconds",
                    "When the wave's current attempt started (unix seconds)."
                ),
                &["waveset", "wave"]
            ),
            wave_timeout: metric!(
                r,
                f,
                GaugeVec,
                Opts::new("wave_timeout_seconds", "The wave's health timeout."),
                &["waveset", "wave"]
            ),
            phase: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "phase",
                    "1 for the WaveSet's current phase, 0 for the others."
                ),
                &["waveset", "phase"]
            ),
            phase_transitions: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new("phase_transitions_total", "Phase changes of the record."),
                &["waveset", "from", "to"]
            ),
            stalled: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "stalled",
                    "1 while a config or permission error holds the WaveSet until the next commit."
                ),
                ws
            ),
            errors: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "errors_total",
                    "Failed passes and fetches by error category."
                ),
                &["waveset", "category"]
            ),
            objects_applied: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "objects_applied_total",
                    "Objects applied by action (created, configured, unchanged, pruned) and API group."
                ),
                &["waveset", "wave", "action", "group"]
            ),
            git_fetch: metric!(
                r,
                f,
                HistogramVec,
                hist(
                    "git_fetch_duration_seconds",
                    "Duration of fetches of the repository by result."
                ),
                &["result"]
            ),
            source_info: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new("source_info", "The revision last fetched (value 1)."),
                &["waveset", "revision"]
            ),
            last_success: metric!(
                r,
                f,
                GaugeVec,
                Opts::new(
                    "last_successful_sync_timestamp_seconds",
                    "When a pass last ended Ready (unix seconds)."
                ),
                ws
            ),
            drift_objects: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "drift_objects",
                    "Objects of completed waves that drifted from Git now (changed or deleted out of band)."
                ),
                ws
            ),
            drift_detected: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "drift_detected_total",
                    "Drift findings (an object changed or deleted out of band), by wave."
                ),
                &["waveset", "wave"]
            ),
            drift_heals: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "drift_heals_total",
                    "Drifted objects applied again under drift: heal, by result (healed, failed, contested)."
                ),
                &["waveset", "result"]
            ),
            drift_confirmations: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "drift_confirmations_total",
                    "Objects compared value by value (a GET and an apply dry-run) after the local ownership check flagged them."
                ),
                &[]
            ),
            drift_watch_events: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "drift_watch_events_total",
                    "Events of the drift watches, by kind (listed, changed, deleted, failed)."
                ),
                &["event"]
            ),
            drift_watches: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "drift_watches",
                    "Metadata-only watches the drift detector keeps open."
                ),
                &[]
            ),
            inventory_objects: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new("inventory_objects", "Objects in the record's inventory."),
                ws
            ),
            notifications_sent: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "notifications_sent_total",
                    "Notifications delivered, by sink and kind (Resend: Alertmanager's firing alerts again)."
                ),
                &["sink", "kind"]
            ),
            notification_failures: metric!(
                r,
                f,
                IntCounterVec,
                Opts::new(
                    "notification_failures_total",
                    "Failed notification attempts by sink and reason (connect, timeout, http_4xx, \
                     rate_limited, http_5xx, http_other), notifications given up (exhausted) and \
                     dropped from a full queue (dropped)."
                ),
                &["sink", "reason"]
            ),
            notification_queue: metric!(
                r,
                f,
                IntGaugeVec,
                Opts::new(
                    "notification_queue_length",
                    "Notifications waiting to be delivered, by sink."
                ),
                &["sink"]
            ),
            leader,
            registry: r,
            revision: Mutex::new(None),
            families: f,
            webhook_requests,
            revision_refused,
        })
    }

    /// Every series name the agent can export (histograms as their
    /// `_bucket`, `_sum` and `_count` series): what dashboards and alerts
    /// may query.
    pub fn series_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, histogram) in &self.families {
            // The registry adds the prefix when it gathers, not to the descs.
            let name = format!("wavesync_{name}");
            if *histogram {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.push(format!("{name}{suffix}"));
                }
            } else {
                out.push(name);
            }
        }
        out.sort();
        out
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding gathered families into a Vec does not fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Records a finished pass.
    pub fn pass(&self, waveset: &str, result: PassResult, took: Duration) {
        let labels = [waveset, result.as_str()];
        self.reconcile_total.with_label_values(&labels).inc();
        self.reconcile_duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
        if matches!(result, PassResult::Success | PassResult::UpToDate) {
            self.last_success
                .with_label_values(&[waveset])
                .set(unix_now());
        }
    }

    /// Counts an error by category.
    pub fn error(&self, waveset: &str, category: Category) {
        self.errors
            .with_label_values(&[waveset, category.as_str()])
            .inc();
    }

    /// Records a fetch of the repository.
    pub fn fetch(&self, ok: bool, took: Duration) {
        self.git_fetch
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .observe(took.as_secs_f64());
    }

    /// The revision last fetched.
    pub fn source(&self, waveset: &str, revision: &str) {
        let mut current = self.revision.lock().unwrap_or_else(|p| p.into_inner());
        let next = (waveset.to_string(), revision.to_string());
        if current.as_ref() == Some(&next) {
            return;
        }
        if let Some((w, r)) = current.take() {
            let _ = self.source_info.remove_label_values(&[&w, &r]);
        }
        self.source_info
            .with_label_values(&[waveset, revision])
            .set(1);
        *current = Some(next);
    }

    /// Whether this replica leads. A replica that stops leading forgets
    /// the WaveSet's gauges: the new leader exports them now, and stale
    /// values here (a Failed phase, a wave in progress) would keep alerts
    /// firing that `max by (waveset)` reads across replicas.
    pub fn set_leader(&self, leader: bool) {
        let was = self.leader.get() == 1;
        self.leader.set(i64::from(leader));
        if was && !leader {
            self.phase.reset();
            self.wave_status.reset();
            self.wave_started.reset();
            self.wave_timeout.reset();
            self.stalled.reset();
            self.drift_objects.reset();
            self.inventory_objects.reset();
            self.revision_refused.reset();
        }
    }

    /// Objects drifted now.
    pub fn drift_objects(&self, waveset: &str, n: usize) {
        self.drift_objects
            .with_label_values(&[waveset])
            .set(n as i64);
    }

    /// A new drift finding in `wave`.
    pub fn drift_detected(&self, waveset: &str, wave: &str) {
        self.drift_detected
            .with_label_values(&[waveset, wave])
            .inc();
    }

    /// A heal attempt and its result (`healed`, `failed`, `contested`).
    pub fn drift_heal(&self, waveset: &str, result: &str) {
        self.drift_heals.with_label_values(&[waveset, result]).inc();
    }

    /// A value-level comparison (a GET and a dry-run).
    pub fn drift_confirmation(&self) {
        self.drift_confirmations
            .with_label_values::<&str>(&[])
            .inc();
    }

    /// An event of a drift watch.
    pub fn drift_watch_event(&self, event: &str) {
        self.drift_watch_events.with_label_values(&[event]).inc();
    }

    /// The number of drift watches open.
    pub fn drift_watches(&self, n: usize) {
        self.drift_watches
            .with_label_values::<&str>(&[])
            .set(n as i64);
    }

    /// Whether the WaveSet is held Stalled.
    pub fn set_stalled(&self, waveset: &str, stalled: bool) {
        self.stalled
            .with_label_values(&[waveset])
            .set(i64::from(stalled));
    }

    fn set_phase(&self, waveset: &str, phase: Phase) {
        for p in PHASES {
            self.phase
                .with_label_values(&[waveset, p.as_str()])
                .set(i64::from(p == phase));
        }
    }

    /// Counts a push webhook request (`result`: triggered, ignored,
    /// unauthorized, invalid, too_large).
    pub fn webhook(&self, provider: &str, result: &str) {
        self.webhook_requests
            .with_label_values(&[provider, result])
            .inc();
    }

    /// Whether the head commit is refused by signature verification.
    pub fn set_refused(&self, waveset: &str, refused: bool) {
        self.revision_refused
            .with_label_values(&[waveset])
            .set(i64::from(refused));
    }

    /// A sink that turns sync events of `waveset` into metrics.
    pub fn progress(self: &Arc<Self>, waveset: &str) -> MetricsProgress {
        MetricsProgress {
            metrics: self.clone(),
            waveset: waveset.to_string(),
        }
    }

    /// A notification delivered to `sink` (`kind`: the notice's event,
    /// `Ready`, or `Resend`).
    pub fn notification_sent(&self, sink: &str, kind: &str) {
        self.notifications_sent
            .with_label_values(&[sink, kind])
            .inc();
    }

    /// A failed notification attempt, or a notification lost, by reason.
    pub fn notification_failed(&self, sink: &str, reason: &str) {
        self.notification_failures
            .with_label_values(&[sink, reason])
            .inc();
    }

    /// How many notifications wait for `sink`.
    pub fn notification_queue(&self, sink: &str, len: usize) {
        self.notification_queue
            .with_label_values(&[sink])
            .set(i64::try_from(len).unwrap_or(i64::MAX));
    }
}

/// Feeds [`Metrics`] from the events of one WaveSet's syncs.
pub struct MetricsProgress {
    metrics: Arc<Metrics>,
    waveset: String,
}

impl Progress for MetricsProgress {
    fn event(&self, e: &Event) {
        let m = &self.metrics;
        let ws = self.waveset.as_str();
        match e {
            Event::WaveStarted { wave, timeout, .. } => {
                m.wave_status.with_label_values(&[ws, wave]).set(1);
                m.wave_started
                    .with_label_values(&[ws, wave])
                    .set(unix_now());
                m.wave_timeout
                    .with_label_values(&[ws, wave])
                    .set(timeout.as_secs_f64());
            }
            Event::ObjectsApplied { wave, counts } => {
                for ((action, group), n) in counts {
                    m.objects_applied
                        .with_label_values(&[ws, wave, action.as_str(), group])
                        .inc_by(*n as u64);
                }
            }
            Event::Pruned { wave, groups, .. } => {
                for (group, n) in groups {
                    m.objects_applied
                        .with_label_values(&[ws, wave, "pruned", group])
                        .inc_by(*n as u64);
                }
            }
            Event::WaveCompleted { wave, took } | Event::WaveFailed { wave, took, .. } => {
                m.wave_duration
                    .with_label_values(&[ws, wave])
                    .observe(took.as_secs_f64());
            }
            Event::PhaseChanged { from, to } => {
                m.phase_transitions
                    .with_label_values(&[ws, from.as_str(), to.as_str()])
                    .inc();
            }
            Event::Recorded {
                phase,
                waves,
                inventory,
                stalled,
            } => {
                m.set_phase(ws, *phase);
                for (wave, status) in waves {
                    m.wave_status
                        .with_label_values(&[ws, wave])
                        .set(wave_status_value(*status));
                }
                m.inventory_objects
                    .with_label_values(&[ws])
                    .set(*inventory as i64);
                m.set_stalled(ws, *stalled);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_the_prefix_and_no_object_names() {
        let m = Metrics::new();
        let p = m.progress("dataplane");
        p.event(&Event::WaveStarted {
            index: 1,
            total: 1,
            wave: "apps".into(),
            objects: 3,
            timeout: Duration::from_secs(300),
        });
        p.event(&Event::Recorded {
            phase: Phase::Installing,
            waves: vec![("apps".into(), WaveStatus::InProgress)],
            inventory: 3,
            stalled: false,
        });
        m.pass("dataplane", PassResult::Success, Duration::from_millis(20));
        m.source("dataplane", "abc");
        m.source("dataplane", "def");
        let text = m.render();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("wavesync_"), "{line}");
        }
        assert!(
            text.contains("wavesync_wave_status{wave=\"apps\",waveset=\"dataplane\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("wavesync_phase{phase=\"Installing\",waveset=\"dataplane\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("wavesync_phase{phase=\"Ready\",waveset=\"dataplane\"} 0"),
            "{text}"
        );
        assert!(text.contains("revision=\"def\""), "{text}");
        assert!(
            !text.contains("revision=\"abc\""),
            "one revision series at a time: {text}"
        );
        m.set_leader(true);
        m.set_leader(false);
        let after = m.render();
        assert!(
            !after.contains("wavesync_phase{"),
            "a standby exports no phase: {after}"
        );
        assert!(!after.contains("wavesync_wave_status{"), "{after}");
        assert!(
            after.contains("wavesync_reconcile_total{"),
            "counters stay: {after}"
        );
        let names = m.series_names();
        assert_eq!(names.len(), 24 + 3 * 3, "{names:?}");
        assert!(names.contains(&"wavesync_webhook_requests_total".to_string()));
        assert!(names.contains(&"wavesync_revision_refused".to_string()));
        assert!(names.contains(&"wavesync_wave_duration_seconds_bucket".to_string()));
        assert!(names.contains(&"wavesync_leader".to_string()));
    }
}
