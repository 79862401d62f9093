//! Notifications delivered to a local HTTP receiver, as a user's webhook,
//! Alertmanager and Slack would get them: payloads and headers, retries of
//! 5xx and 429 (with `Retry-After`), no retry of a 4xx, failure counters
//! when the receiver is down, a full queue that drops and counts, the
//! Alertmanager alert that fires, is sent again and resolves; a URL read
//! from a Secret of the simulated cluster; `wavesync validate` on a bad
//! `notifications` section.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use wavesync::config::{NotificationEvent, NotificationSink, SinkType, UrlSource};
use wavesync::error::Category;
use wavesync::model::{ObjRef, Revision};
use wavesync::notify::{
    DeliveryOptions, DriftDetected, DriftPolicy, DriftResolved, FieldChange, FlagSinks, Notice,
    Notifier, NotifyContext, Resolution, ResolvedSink, Retry, build_sinks, signature,
};
use wavesync::report::Metrics;

// ---------------------------------------------------------------- receiver

/// How the receiver answers one request.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
}

/// One request as received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Received>>,
    /// The answers to give, in order; 200 once they are used up.
    script: Mutex<VecDeque<Reply>>,
    /// When set, each answer waits for a permit.
    hold: Option<Arc<Semaphore>>,
    arrived: Notify,
}

/// A tiny HTTP server on 127.0.0.1 that records every request.
struct Receiver {
    addr: SocketAddr,
    rec: Arc<Recorder>,
}

async fn record(
    State(rec): State<Arc<Recorder>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rec.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    rec.arrived.notify_waiters();
    if let Some(hold) = &rec.hold {
        hold.acquire().await.unwrap().forget();
    }
    let reply = rec
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::RetryAfter(code, secs) => (
            StatusCode::from_u16(code).unwrap(),
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
    }
}

impl Receiver {
    async fn start(script: &[Reply]) -> Receiver {
        Self::start_with(script, None).await
    }

    async fn start_with(script: &[Reply], hold: Option<Arc<Semaphore>>) -> Receiver {
        let rec = Arc::new(Recorder {
            script: Mutex::new(script.iter().copied().collect()),
            hold,
            ..Recorder::default()
        });
        let app = axum::Router::new().fallback(record).with_state(rec.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, rec }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.rec.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (failing the test after 20 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.rec.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {}",
                got.len()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
        }
    }
}

// ----------------------------------------------------------------- helpers

fn context() -> NotifyContext {
    NotifyContext {
        waveset: "dataplane".into(),
        cluster: Some("dp-east".into()),
        identity: "wavesync-0".into(),
        namespace: "wavesync".into(),
    }
}

/// Fast retries, so that the tests do not wait on backoff.
fn fast() -> DeliveryOptions {
    DeliveryOptions {
        retry: Retry {
            attempts: 4,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        ..DeliveryOptions::default()
    }
}

fn revision(n: u8) -> Revision {
    Revision(format!("{n:02x}").repeat(20))
}

fn failed(n: u8) -> Notice {
    Notice::SyncFailed {
        revision: revision(n),
        category: Category::Transient,
        message: format!("attempt {n} timed out"),
    }
}

fn deployment() -> ObjRef {
    ObjRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: "shop".into(),
        name: "web".into(),
    }
}

fn drift(object: ObjRef, path: &str, old: Value, new: Value) -> Notice {
    Notice::DriftDetected(DriftDetected {
        object,
        wave: "apps".into(),
        revision: Some(revision(1)),
        fields: vec![FieldChange {
            path: path.into(),
            manager: Some("kubectl-edit".into()),
            operation: Some("Update".into()),
            subresource: None,
            time: None,
            old: Some(old),
            new: Some(new),
        }],
        deleted: false,
        policy: DriftPolicy::Alert,
        contested_by: None,
    })
}

/// A metric's value in `Metrics::render()` output, labels in any order.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
        if n != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ------------------------------------------------------------------- tests

#[tokio::test]
async fn a_webhook_gets_the_documented_payload_signed_with_its_token_and_no_secret_value() {
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let flags = FlagSinks {
        webhook_url_file: Some(write(dir.path(), "url", &receiver.url("/hooks/wavesync\n"))),
        webhook_token_file: Some(write(dir.path(), "token", "t0ken-for-the-hook\n")),
        webhook_hmac_secret_file: Some(write(dir.path(), "hmac", "hmac-key-of-the-hook")),
        ..FlagSinks::default()
    };
    let built = build_sinks(&[], &flags, None, "wavesync").await;
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let metrics = Metrics::new();
    let notifier = Notifier::start_with(built.sinks, context(), metrics.clone(), fast());
    let secret = ObjRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: "shop".into(),
        name: "db".into(),
    };
    // Opt-in only: not sent.
    notifier.notify(Notice::SyncSucceeded {
        revision: revision(1),
        took: Duration::from_secs(3),
    });
    notifier.notify(drift(
        secret,
        "data.password",
        json!("aHVudGVyMg=="),
        json!("c2VjcmV0"),
    ));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let got = receiver.received();
    assert_eq!(got.len(), 1, "SyncSucceeded is opt-in");
    let r = &got[0];
    assert_eq!(r.path, "/hooks/wavesync");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer t0ken-for-the-hook"));
    assert_eq!(
        r.header("x-wavesync-signature-256"),
        Some(signature(b"hmac-key-of-the-hook", &r.body).as_str())
    );
    let body = r.json();
    assert_eq!(body["version"], json!("wavesync.io/notification/v1"));
    assert_eq!(body["kind"], json!("DriftDetected"));
    assert_eq!(body["waveset"], json!("dataplane"));
    assert_eq!(body["cluster"], json!("dp-east"));
    assert_eq!(body["severity"], json!("warning"));
    assert_eq!(
        body["objects"][0]["fields"][0],
        json!({
            "path": "data.password",
            "manager": "kubectl-edit",
            "operation": "Update",
            "subresource": null,
            "time": null,
            "old": "***",
            "new": "***",
        })
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    for secret in [
        "aHVudGVyMg==",
        "c2VjcmV0",
        "t0ken-for-the-hook",
        "hmac-key-of-the-hook",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let m = metrics.render();
    assert_eq!(
        metric(
            &m,
            "wavesync_notifications_sent_total",
            &[("sink", "cli-webhook"), ("kind", "DriftDetected")]
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered_and_counted() {
    let receiver =
        Receiver::start(&[Reply::Status(500), Reply::Status(502), Reply::Status(503)]).await;
    let sink = ResolvedSink::new("hook", SinkType::Webhook, &receiver.url("/")).unwrap();
    let metrics = Metrics::new();
    let notifier = Notifier::start_with(vec![sink], context(), metrics.clone(), fast());
    notifier.notify(failed(1));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let got = receiver.received();
    assert_eq!(got.len(), 4, "three failures, then delivered");
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same body each time"
    );
    let m = metrics.render();
    let failures = |reason| {
        metric(
            &m,
            "wavesync_notification_failures_total",
            &[("sink", "hook"), ("reason", reason)],
        )
    };
    assert_eq!(failures("http_5xx"), Some(3.0), "{m}");
    assert_eq!(failures("exhausted"), None, "{m}");
    assert_eq!(
        metric(
            &m,
            "wavesync_notifications_sent_total",
            &[("sink", "hook"), ("kind", "SyncFailed")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_retry_after_says() {
    let receiver = Receiver::start(&[Reply::RetryAfter(429, 1)]).await;
    let sink = ResolvedSink::new("hook", SinkType::Webhook, &receiver.url("/")).unwrap();
    let metrics = Metrics::new();
    // The backoff alone would retry after 5 ms.
    let notifier = Notifier::start_with(vec![sink], context(), metrics.clone(), fast());
    notifier.notify(failed(1));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, not the 1 s asked for"
    );
    let m = metrics.render();
    assert_eq!(
        metric(
            &m,
            "wavesync_notification_failures_total",
            &[("sink", "hook"), ("reason", "rate_limited")]
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_the_next_notice_still_goes() {
    let receiver = Receiver::start(&[Reply::Status(400)]).await;
    let sink = ResolvedSink::new("hook", SinkType::Webhook, &receiver.url("/")).unwrap();
    let metrics = Metrics::new();
    let notifier = Notifier::start_with(vec![sink], context(), metrics.clone(), fast());
    notifier.notify(failed(1));
    notifier.notify(failed(2));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let got = receiver.received();
    let revisions: Vec<Value> = got.iter().map(|r| r.json()["revision"].clone()).collect();
    assert_eq!(
        revisions,
        [json!(revision(1).0), json!(revision(2).0)],
        "no retry of the first"
    );
    let m = metrics.render();
    assert_eq!(
        metric(
            &m,
            "wavesync_notification_failures_total",
            &[("sink", "hook"), ("reason", "http_4xx")]
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_shows_in_the_failure_counters() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let sink = ResolvedSink::new("down", SinkType::Webhook, &format!("http://{closed}/")).unwrap();
    let metrics = Metrics::new();
    let notifier = Notifier::start_with(vec![sink], context(), metrics.clone(), fast());
    notifier.notify(failed(1));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let m = metrics.render();
    let failures = |reason| {
        metric(
            &m,
            "wavesync_notification_failures_total",
            &[("sink", "down"), ("reason", reason)],
        )
    };
    assert_eq!(failures("connect"), Some(4.0), "every attempt: {m}");
    assert_eq!(failures("exhausted"), Some(1.0), "then given up: {m}");
    assert_eq!(
        metric(&m, "wavesync_notifications_sent_total", &[("sink", "down")]),
        None
    );
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_notices_and_counts_them() {
    let gate = Arc::new(Semaphore::new(0));
    let receiver = Receiver::start_with(&[], Some(gate.clone())).await;
    let sink = ResolvedSink::new("slow", SinkType::Webhook, &receiver.url("/")).unwrap();
    let metrics = Metrics::new();
    let options = DeliveryOptions {
        queue_capacity: 2,
        ..fast()
    };
    let notifier = Notifier::start_with(vec![sink], context(), metrics.clone(), options);
    notifier.notify(failed(1));
    // The first is being delivered (its answer held): the queue is empty.
    receiver.wait_for(1).await;
    for n in 2..=6 {
        notifier.notify(failed(n));
    }
    let m = metrics.render();
    assert_eq!(
        metric(
            &m,
            "wavesync_notification_failures_total",
            &[("sink", "slow"), ("reason", "dropped")]
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "wavesync_notification_queue_length",
            &[("sink", "slow")]
        ),
        Some(2.0),
        "{m}"
    );
    gate.add_permits(10);
    assert!(notifier.shutdown(Duration::from_secs(20)).await);
    let revisions: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.json()["revision"].clone())
        .collect();
    assert_eq!(
        revisions,
        [
            json!(revision(1).0),
            json!(revision(5).0),
            json!(revision(6).0)
        ],
        "the newest are kept"
    );
}

#[tokio::test]
async fn alertmanager_gets_the_firing_alert_again_until_it_resolves_with_ends_at() {
    let receiver = Receiver::start(&[]).await;
    let labels = BTreeMap::from([("team".to_string(), "platform".to_string())]);
    let sink = ResolvedSink::new("am", SinkType::Alertmanager, &receiver.url(""))
        .unwrap()
        .with_labels(labels)
        .with_repeat_interval(Duration::from_millis(50));
    let notifier = Notifier::start_with(vec![sink], context(), Metrics::new(), fast());
    notifier.notify(drift(deployment(), "spec.replicas", json!(3), json!(5)));
    // The alert, then at least two re-sends.
    let got = receiver.wait_for(3).await;
    assert!(got.iter().all(|r| r.path == "/api/v2/alerts"));
    let first = got[0].json();
    let alert = &first[0];
    assert_eq!(
        alert["labels"],
        json!({
            "alertname": "WavesyncDrift",
            "waveset": "dataplane",
            "cluster": "dp-east",
            "wave": "apps",
            "severity": "warning",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
            "team": "platform",
        })
    );
    assert!(alert.get("endsAt").is_none(), "firing: {alert}");
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("spec.replicas: 3 → 5 (by kubectl-edit, Update)")
    );
    for again in &got[1..3] {
        assert_eq!(again.json(), first, "sent again unchanged");
    }

    notifier.notify(Notice::DriftResolved(DriftResolved {
        object: deployment(),
        wave: "apps".into(),
        revision: None,
        how: Resolution::Healed,
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    let resolved_at = loop {
        let got = receiver.wait_for(receiver.received().len() + 1).await;
        if let Some(i) = got.iter().position(|r| r.json()[0].get("endsAt").is_some()) {
            break i;
        }
        assert!(Instant::now() < deadline, "no resolve");
    };
    let resolve = receiver.received()[resolved_at].json();
    assert_eq!(resolve[0]["labels"], alert["labels"]);
    assert_eq!(resolve[0]["startsAt"], alert["startsAt"]);

    // A WaveSet alert, resolved by ready().
    notifier.notify(failed(7));
    let n = receiver.wait_for(resolved_at + 2).await.len();
    notifier.ready();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(notifier.shutdown(Duration::from_secs(20)).await);
    let after: Vec<Value> = receiver.received()[resolved_at + 1..]
        .iter()
        .map(Received::json)
        .collect();
    assert!(
        after
            .iter()
            .flat_map(|b| b.as_array().unwrap().iter())
            .all(|a| a["labels"]["alertname"] != json!("WavesyncDrift")),
        "a resolved alert is not sent again: {after:#?}"
    );
    let sync_failed: Vec<&Value> = after
        .iter()
        .flat_map(|b| b.as_array().unwrap().iter())
        .filter(|a| a["labels"]["alertname"] == json!("WavesyncSyncFailed"))
        .collect();
    assert!(sync_failed.len() >= 2, "{after:#?} ({n} requests)");
    assert!(sync_failed[0].get("endsAt").is_none());
    let last = sync_failed.last().unwrap();
    assert!(
        last.get("endsAt").is_some(),
        "ready() resolves it: {after:#?}"
    );
    assert_eq!(last["annotations"]["revision"], json!(revision(7).0));
}

#[tokio::test]
async fn slack_gets_a_message_readable_in_a_channel() {
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let flags = FlagSinks {
        slack_url_file: Some(write(
            dir.path(),
            "slack",
            &receiver.url("/services/T000/B000/XXXXXXXX"),
        )),
        events: vec![NotificationEvent::DriftDetected],
        ..FlagSinks::default()
    };
    let built = build_sinks(&[], &flags, None, "wavesync").await;
    let notifier = Notifier::start_with(built.sinks, context(), Metrics::new(), fast());
    notifier.notify(failed(1));
    notifier.notify(drift(
        deployment(),
        "spec.template.spec.containers[name=web].image",
        json!("web:1.0"),
        json!("web:1.1"),
    ));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);

    let got = receiver.received();
    assert_eq!(got.len(), 1, "only the events asked for");
    let body = got[0].json();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("Drift detected in dataplane on dp-east"),
        "{text}"
    );
    let blocks = body["blocks"].to_string();
    for part in [
        "Deployment.apps shop/web",
        "*Wave*\\n`apps`",
        "*Revision*\\n`010101010101`",
        "`spec.template.spec.containers[name=web].image` by *kubectl-edit* (Update): `\\\"web:1.0\\\"` → `\\\"web:1.1\\\"`",
    ] {
        assert!(blocks.contains(part), "{part} not in {blocks}");
    }
    assert!(
        !got[0].body.windows(8).any(|w| w == b"XXXXXXXX"),
        "the URL's secret path never shows"
    );
}

#[tokio::test]
async fn a_url_secret_ref_is_read_from_the_agents_namespace() {
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    use kube::api::{Api, PostParams};
    let sim = kube_sim::Sim::start().await.unwrap();
    let client = sim.client().unwrap();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "wavesync"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let receiver = Receiver::start(&[]).await;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "wavesync-notify", "namespace": "wavesync"},
        "stringData": {"slack-url": receiver.url("/services/T1/B1/ZZZZZZZZ")},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), "wavesync")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let sink = |key: &str| NotificationSink {
        name: format!("chat-{key}"),
        kind: SinkType::Slack,
        url: UrlSource::SecretRef {
            name: "wavesync-notify".into(),
            key: key.into(),
        },
        token_file: None,
        token_header: None,
        hmac_secret_file: None,
        headers: BTreeMap::new(),
        labels: BTreeMap::new(),
        events: NotificationEvent::defaults(),
        repeat_interval: Duration::from_secs(60),
    };
    let config = [sink("slack-url"), sink("nope")];
    let built = build_sinks(&config, &FlagSinks::default(), Some(&client), "wavesync").await;
    assert_eq!(built.errors.len(), 1);
    assert_eq!(
        built.errors[0].to_string(),
        "notification sink chat-nope: Secret wavesync/wavesync-notify has no key \"nope\""
    );
    assert!(!format!("{:?}", built.sinks).contains("ZZZZZZZZ"));
    let notifier = Notifier::start_with(built.sinks, context(), Metrics::new(), fast());
    notifier.notify(failed(1));
    assert!(notifier.shutdown(Duration::from_secs(20)).await);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/services/T1/B1/ZZZZZZZZ");
}

#[test]
fn wavesync_validate_reports_a_bad_notifications_section() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::write(
        dir.path().join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: shop }\n",
    )
    .unwrap();
    let yaml = "\
apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  waves:
    - name: apps
      path: apps
  notifications:
    - name: pager
      type: pagerduty
      url: https://events.example.com/x
    - name: chat
      type: slack
      url: https://hooks.slack.com/services/T0/B0/SECRETPART
      events: [DriftDetected, Drifted]
";
    std::fs::write(dir.path().join("wavesync.yaml"), yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wavesync"))
        .args(["validate", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "wavesync.yaml:10: [schema] spec.notifications[0].type: unknown type `pagerduty`"
        ),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(
            "wavesync.yaml:14: [schema] spec.notifications[1].url: a Slack webhook URL is a secret"
        ),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with(
            "wavesync.yaml:15: [schema] spec.notifications[1].events[1]: unknown event `Drifted`"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("SECRETPART"), "{stdout}");
}
