//! Delivery: the [`Notifier`] handle and one background task per sink.
//!
//! `notify` never blocks: it queues the notice for each sink that wants it
//! (a bounded queue per sink that drops its oldest item when full, counted
//! as `dropped`). Each sink's task renders and posts one item at a time,
//! retrying transient failures with backoff and jitter, honouring
//! `Retry-After`, not retrying other 4xx (logged once), and — for
//! Alertmanager — sending the firing alerts again every `repeatInterval`.
//! [`Notifier::shutdown`] lets the tasks finish what is queued, for a
//! bounded time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Bytes;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::backoff::Retry;
use super::build::ResolvedSink;
use super::http::{HttpClient, Target};
use super::mask::Scrubber;
use super::notice::{Notice, NotifyContext};
use super::queue::{Pushed, Queue};
use super::sinks::{Format, Item};
use crate::config::SinkType;
use crate::report::Metrics;

/// How deliveries are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Items waiting per sink, at most; the oldest is dropped beyond.
    pub queue_capacity: usize,
    /// How failed posts are retried.
    pub retry: Retry,
    /// How long one post may take, answer included.
    pub timeout: Duration,
}

impl Default for DeliveryOptions {
    /// 256 items per sink, [`Retry::default`], 10 s per request.
    fn default() -> Self {
        DeliveryOptions {
            queue_capacity: 256,
            retry: Retry::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Sends notices to the sinks, in the background. Cheap to clone; every
/// clone feeds the same tasks.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: Vec<Handle>,
    metrics: Arc<Metrics>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// The notifier's side of one sink.
struct Handle {
    sink: ResolvedSink,
    queue: Arc<Queue<Item>>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.sinks.iter().map(|h| h.sink.name()).collect();
        f.debug_struct("Notifier").field("sinks", &names).finish()
    }
}

impl Notifier {
    /// Starts one task per sink with the default [`DeliveryOptions`].
    /// Must be called inside a tokio runtime.
    pub fn start(
        sinks: Vec<ResolvedSink>,
        context: NotifyContext,
        metrics: Arc<Metrics>,
    ) -> Notifier {
        Self::start_with(sinks, context, metrics, DeliveryOptions::default())
    }

    /// Starts one task per sink. A sink whose URL or headers do not make a
    /// request (they were checked when it was built) is logged and left out.
    pub fn start_with(
        sinks: Vec<ResolvedSink>,
        context: NotifyContext,
        metrics: Arc<Metrics>,
        options: DeliveryOptions,
    ) -> Notifier {
        let client = (!sinks.is_empty()).then(HttpClient::new);
        let mut handles = Vec::new();
        let mut tasks = Vec::new();
        for sink in sinks {
            let Some(client) = client.clone() else {
                continue;
            };
            let target = match sink.target() {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "notification sink left out");
                    continue;
                }
            };
            let queue = Arc::new(Queue::new(options.queue_capacity));
            let worker = Worker {
                name: sink.name().to_string(),
                url: sink.redacted_url(),
                format: Format::new(sink.kind(), sink.labels().clone(), sink.events().to_vec()),
                repeat: (sink.kind() == SinkType::Alertmanager).then(|| sink.repeat_interval()),
                scrubber: sink.scrubber(),
                target,
                client,
                queue: queue.clone(),
                context: context.clone(),
                metrics: metrics.clone(),
                options,
            };
            tracing::info!(sink = sink.name(), kind = %sink.kind(), url = %sink.redacted_url(), "notification sink started");
            metrics.notification_queue(sink.name(), 0);
            tasks.push(tokio::spawn(worker.run()));
            handles.push(Handle {
                sink,
                queue,
                dropped: AtomicU64::new(0),
            });
        }
        Notifier {
            inner: Arc::new(Inner {
                sinks: handles,
                metrics,
                tasks: std::sync::Mutex::new(tasks),
            }),
        }
    }

    /// A notifier with no sinks: every call does nothing.
    pub fn disabled(metrics: Arc<Metrics>) -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                sinks: Vec::new(),
                metrics,
                tasks: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// The names of the sinks it sends to.
    pub fn sinks(&self) -> Vec<String> {
        self.inner
            .sinks
            .iter()
            .map(|h| h.sink.name().to_string())
            .collect()
    }

    /// Queues `notice` for every sink that wants it; never waits.
    pub fn notify(&self, notice: Notice) {
        let event = notice.event();
        let notice = Arc::new(notice);
        let at = jiff::Timestamp::now();
        for h in self.inner.sinks.iter().filter(|h| h.sink.wants(event)) {
            self.push(
                h,
                Item::Notice {
                    notice: notice.clone(),
                    at,
                },
            );
        }
    }

    /// Says the WaveSet is Ready at the tracked head: Alertmanager's
    /// `WavesyncSyncFailed`, `WavesyncStalled`, `WavesyncWaveFailed` and
    /// `WavesyncRevisionRefused` alerts resolve (a `SyncSucceeded` notice
    /// does the same). Drift alerts stay until their `DriftResolved`.
    pub fn ready(&self) {
        let at = jiff::Timestamp::now();
        for h in self
            .inner
            .sinks
            .iter()
            .filter(|h| h.sink.kind() == SinkType::Alertmanager)
        {
            self.push(h, Item::Ready { at });
        }
    }

    fn push(&self, h: &Handle, item: Item) {
        let name = h.sink.name();
        match h.queue.push(item) {
            Pushed::Queued => {}
            Pushed::DroppedOldest(_) => {
                self.inner.metrics.notification_failed(name, "dropped");
                let n = h.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(100) {
                    tracing::warn!(
                        sink = name,
                        dropped = n,
                        "notification queue full: the oldest notifications were dropped"
                    );
                }
            }
            Pushed::Closed(_) => {
                self.inner.metrics.notification_failed(name, "dropped");
                tracing::debug!(sink = name, "notifier shut down: notification dropped");
            }
        }
        self.inner.metrics.notification_queue(name, h.queue.len());
    }

    /// Stops taking notices and waits at most `timeout` for the queued
    /// ones to be delivered (or given up); what is left then is abandoned.
    /// Returns whether everything queued was dealt with.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        for h in &self.inner.sinks {
            h.queue.close();
        }
        let tasks: Vec<JoinHandle<()>> = {
            let mut guard = self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *guard)
        };
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures::future::join_all(tasks);
        match tokio::time::timeout(timeout, all).await {
            Ok(_) => true,
            Err(_) => {
                aborts.iter().for_each(tokio::task::AbortHandle::abort);
                let left: usize = self.inner.sinks.iter().map(|h| h.queue.len()).sum();
                tracing::warn!(left, "notifications not delivered before shutdown");
                false
            }
        }
    }
}

/// The task of one sink.
struct Worker {
    name: String,
    url: String,
    format: Format,
    repeat: Option<Duration>,
    scrubber: Scrubber,
    target: Target,
    client: HttpClient,
    queue: Arc<Queue<Item>>,
    context: NotifyContext,
    metrics: Arc<Metrics>,
    options: DeliveryOptions,
}

impl Worker {
    async fn run(mut self) {
        let mut ticker: Option<Interval> = self.repeat.map(|every| {
            let mut t = tokio::time::interval_at(Instant::now() + every, every);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
        loop {
            let item = tokio::select! {
                item = self.queue.pop() => match item {
                    Some(item) => Some(item),
                    None => break,
                },
                () = tick(&mut ticker) => None,
            };
            self.metrics
                .notification_queue(&self.name, self.queue.len());
            let work = match &item {
                Some(item) => self.format.render(item, &self.context),
                None => self.format.resend().map(|body| (body, "Resend")),
            };
            if let Some((body, kind)) = work {
                self.send(body, kind).await;
            }
        }
        tracing::debug!(sink = %self.name, "notification sink stopped");
    }

    /// Posts `body`, retrying as [`Retry`] says.
    async fn send(&self, mut body: Value, kind: &'static str) {
        self.scrubber.json(&mut body);
        let bytes = match serde_json::to_vec(&body) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "notification payload not encoded");
                return;
            }
        };
        let mut failures = 0;
        loop {
            let result = self
                .client
                .post(&self.target, bytes.clone(), self.options.timeout)
                .await;
            let e = match result {
                Ok(status) => {
                    self.metrics.notification_sent(&self.name, kind);
                    tracing::debug!(sink = %self.name, kind, status, "notification sent");
                    return;
                }
                Err(e) => e,
            };
            failures += 1;
            self.metrics.notification_failed(&self.name, e.reason());
            let error = self.scrubber.text(&e.to_string());
            match self.options.retry.next(&e, failures, rand::random::<f64>()) {
                Some(delay) => {
                    tracing::debug!(sink = %self.name, url = %self.url, kind, attempt = failures, error, retry_in = ?delay, "notification failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None if e.retryable() => {
                    self.metrics.notification_failed(&self.name, "exhausted");
                    tracing::warn!(sink = %self.name, url = %self.url, kind, attempts = failures, error, "notification not delivered: every attempt failed");
                    return;
                }
                None => {
                    tracing::warn!(sink = %self.name, url = %self.url, kind, error, "notification refused by the receiver; not retried");
                    return;
                }
            }
        }
    }
}

/// The next tick, or never.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notice::fixtures::{context, scaled};

    #[test]
    fn the_handle_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<Notifier>();
    }

    #[tokio::test]
    async fn a_notifier_without_sinks_takes_everything_and_sends_nothing() {
        let metrics = Metrics::new();
        let off = Notifier::disabled(metrics.clone());
        off.notify(scaled());
        off.ready();
        assert!(off.sinks().is_empty());
        assert!(off.shutdown(Duration::from_secs(1)).await);
        let started = Notifier::start(Vec::new(), context(), metrics.clone());
        started.notify(scaled());
        assert!(started.shutdown(Duration::from_secs(1)).await);
        assert!(!metrics.render().contains("wavesync_notification"));
    }

    #[tokio::test]
    async fn notices_after_shutdown_are_counted_as_dropped() {
        let metrics = Metrics::new();
        let sink =
            ResolvedSink::new("hook", SinkType::Webhook, "http://127.0.0.1:9/").expect("valid");
        let n = Notifier::start(vec![sink], context(), metrics.clone());
        assert!(
            n.shutdown(Duration::from_secs(5)).await,
            "nothing was queued"
        );
        n.notify(scaled());
        let text = metrics.render();
        assert!(
            text.contains(
                "wavesync_notification_failures_total{reason=\"dropped\",sink=\"hook\"} 1"
            ),
            "{text}"
        );
    }
}
