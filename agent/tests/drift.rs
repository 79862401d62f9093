//! Drift detection as a user sees it: the real `wavesync run` against the
//! simulated API server, objects changed with the real `kubectl`, and the
//! findings read where people read them — the state record, `/metrics`
//! and the Events.

#![allow(clippy::unwrap_used)]

mod common;

use common::agent::*;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use wavesync::state::{Phase, Record};

/// How long a finding may take to show (the target is under two seconds;
/// the test leaves room for a loaded machine).
const BOUND: Duration = Duration::from_secs(10);

const CRD_WITH_DEFAULTS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer, default: 3 }
                color: { type: string, default: blue }
                name: { type: string }
"#;

const APPS: &str = r#"apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  selector: { app: web }
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Secret
metadata: { name: web-db, namespace: shop }
stringData: { password: hunter2-planted-secret }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations: { owner: team-a }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: app
          image: registry.example.com/web:1.0
          ports: [{ containerPort: 8080 }]
          resources: { requests: { cpu: 1000m, memory: 64Mi } }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: cache, namespace: shop }
spec:
  serviceName: cache
  replicas: 1
  selector: { matchLabels: { app: cache } }
  template:
    metadata: { labels: { app: cache } }
    spec:
      containers:
        - name: cache
          image: registry.example.com/cache:1.0
---
apiVersion: example.com/v1
kind: Gadget
metadata: { name: g1, namespace: shop }
spec: { name: first }
"#;

fn waveset(apps_drift: &str) -> String {
    format!(
        r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: {{ name: shop }}
spec:
  defaults: {{ timeout: 30s }}
  namespace: shop
  healLimit: {{ heals: 3, window: 10m }}
  ignoreDifferences:
    - {{ kind: Deployment, name: web, jsonPointers: [/metadata/annotations/owner] }}
  waves:
    - name: base
      path: waves/base
    - name: jobs
      path: waves/jobs
    - name: apps
      path: waves/apps
      drift: {apps_drift}
      ignoreDifferences:
        - {{ kind: StatefulSet, managedFieldsManagers: [hpa-sim] }}
"#
    )
}

fn write_repo(repo: &TestRepo, apps_drift: &str) {
    repo.write("wavesync.yaml", &waveset(apps_drift));
    repo.write("waves/base/namespace.yaml", &namespace("shop", &[]));
    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "blue", &[]),
    );
    repo.write("waves/base/crd.yaml", CRD_WITH_DEFAULTS);
    repo.write(
        "waves/jobs/migrate.yaml",
        &job("migrate", "shop", "1.0", &[]),
    );
    repo.write("waves/apps/apps.yaml", APPS);
    repo.commit("shop");
}

/// Runs the real kubectl against the simulator.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

struct World {
    env: Env,
    agent: AgentProc,
    kubeconfig: PathBuf,
}

async fn start(apps_drift: &str) -> World {
    start_with(apps_drift, |_| Vec::new()).await
}

/// The world with more agent settings (`extra` may write files in the env's tempdir).
async fn start_with(
    apps_drift: &str,
    extra: impl FnOnce(&Env) -> Vec<(&'static str, String)>,
) -> World {
    let env = Env::start().await;
    write_repo(&env.repo, apps_drift);
    let kubeconfig = env.temp().join("kubeconfig-kubectl");
    env.sim.write_kubeconfig(&kubeconfig).unwrap();
    let mut envs = kube_env(&env, &env.repo);
    envs.extend(extra(&env));
    let agent = AgentProc::start("agent-a", &envs, &[]);
    within(
        &agent,
        Duration::from_secs(60),
        "the first sync and its watches",
        || async {
            let r = try_record(&env, WAVESET).await?;
            let m = agent.metrics().await;
            (r.phase == Phase::Ready && metric(&m, "wavesync_drift_watches", &[])? >= 1.0)
                .then_some(())
        },
    )
    .await;
    World {
        env,
        agent,
        kubeconfig,
    }
}

impl World {
    async fn record(&self) -> Record {
        try_record(&self.env, WAVESET).await.unwrap()
    }

    /// Waits until the record's drift satisfies `f`.
    async fn drift_where(&self, what: &str, f: impl Fn(&Record) -> bool) -> Record {
        within(&self.agent, BOUND, what, || async {
            let r = try_record(&self.env, WAVESET).await?;
            f(&r).then_some(r)
        })
        .await
    }

    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig, args)
    }

    /// Notes of the Events with `reason`.
    async fn notes(&self, reason: &str) -> Vec<String> {
        events(&self.env)
            .await
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .filter_map(|e| e["note"].as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts for `quiet` that the record shows no drift.
    async fn stays_clean(&self, quiet: Duration, why: &str) {
        let until = std::time::Instant::now() + quiet;
        while std::time::Instant::now() < until {
            let r = self.record().await;
            assert!(
                r.drift.is_none() && r.phase == Phase::Ready,
                "{why}: the record says {:?} {:?}; the agent logged:\n{}",
                r.phase,
                r.drift,
                self.agent.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn fields_of(r: &Record) -> Vec<String> {
    r.drift
        .iter()
        .flat_map(|d| d.items.iter())
        .flat_map(|i| i.fields.iter().map(move |f| format!("{}: {f}", i.object)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_band_changes_are_found_with_their_manager_and_harmless_ones_are_not() {
    let w = start("alert").await;

    // Defaults, status, normalized quantities and controller writes are not drift.
    w.stays_clean(Duration::from_secs(3), "right after the sync")
        .await;
    let m = w.agent.metrics().await;
    assert_eq!(
        metric(&m, "wavesync_drift_objects", &[("waveset", WAVESET)]),
        Some(0.0)
    );

    // A field wavesync does not own: not drift.
    w.kubectl(&[
        "annotate",
        "-n",
        "shop",
        "deployment/web",
        "example.com/note=hello",
    ]);
    w.kubectl(&["label", "-n", "shop", "service/web", "team=payments"]);
    // A field covered by an ignore rule (a JSON pointer): not drift.
    w.kubectl(&[
        "annotate",
        "--overwrite",
        "-n",
        "shop",
        "deployment/web",
        "owner=team-b",
    ]);
    // A field owned by a manager an ignore rule names (an HPA-like writer).
    let sts_api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        w.env.client.clone(),
        "shop",
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::StatefulSet>(&()),
    );
    sts_api
        .patch(
            "cache",
            &kube::api::PatchParams::apply("hpa-sim").force(),
            &kube::api::Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "cache"}, "spec": {"replicas": 4}}),
            ),
        )
        .await
        .unwrap();
    w.stays_clean(Duration::from_secs(3), "after changes that do not count")
        .await;

    // kubectl scale of a field wavesync owns.
    w.kubectl(&["scale", "-n", "shop", "deployment/web", "--replicas=5"]);
    let r = w
        .drift_where("the scale is found", |r| r.phase == Phase::Degraded)
        .await;
    let d = r.drift.clone().unwrap();
    assert_eq!(d.objects, 1, "{:?}", fields_of(&r));
    let item = &d.items[0];
    assert_eq!(item.object, "Deployment.apps shop/web");
    assert_eq!(item.wave, "apps");
    assert!(
        item.fields.len() == 1 && item.fields[0].starts_with("spec.replicas by kubectl"),
        "{:?}",
        item.fields
    );
    assert!(item.fields[0].contains("via scale"), "{:?}", item.fields);
    assert!(
        r.message.as_deref().unwrap().contains("1 object drifted"),
        "{:?}",
        r.message
    );
    let m = w.agent.metrics().await;
    assert_eq!(
        metric(&m, "wavesync_drift_objects", &[("waveset", WAVESET)]),
        Some(1.0)
    );
    let notes = w.notes("DriftDetected").await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("shop/web") && n.contains("spec.replicas by kubectl")),
        "{notes:?}"
    );

    // kubectl patch of the image: a second field, named with its manager.
    w.kubectl(&[
        "patch", "-n", "shop", "deployment/web", "--type=json",
        "-p", r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example.com/web:hotfix"}]"#,
    ]);
    let r = w
        .drift_where("the patched image is found", |r| fields_of(r).len() == 2)
        .await;
    let f = fields_of(&r);
    assert!(
        f.iter()
            .any(|f| f.contains("spec.template.spec.containers[name=app].image by kubectl-patch")),
        "{f:?}"
    );

    // kubectl edit of a ConfigMap value (the editor is a sed script).
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&w.kubeconfig)
        .args(["edit", "-n", "shop", "configmap/settings"])
        .env("KUBE_EDITOR", "sed -i s/blue/red/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = w
        .drift_where("the edit is found", |r| {
            fields_of(r)
                .iter()
                .any(|f| f.starts_with("ConfigMap shop/settings: data.value by kubectl-edit"))
        })
        .await;
    assert_eq!(r.drift.as_ref().unwrap().objects, 2);
    w.kubectl(&[
        "patch",
        "-n",
        "shop",
        "configmap/settings",
        "--type=merge",
        "-p",
        r#"{"data":{"value":"blue"}}"#,
    ]);

    // Reverting both by hand ends the finding.
    w.kubectl(&["scale", "-n", "shop", "deployment/web", "--replicas=2"]);
    w.kubectl(&[
        "set",
        "image",
        "-n",
        "shop",
        "deployment/web",
        "app=registry.example.com/web:1.0",
    ]);
    let r = w
        .drift_where("the revert is seen", |r| r.drift.is_none())
        .await;
    assert_eq!(r.phase, Phase::Ready);
    let notes = w.notes("DriftResolved").await;
    assert!(notes.iter().any(|n| n.contains("reverted")), "{notes:?}");

    // A Secret's value edited: found, and its values appear nowhere.
    w.kubectl(&[
        "patch",
        "-n",
        "shop",
        "secret/web-db",
        "--type=merge",
        "-p",
        r#"{"stringData":{"password":"changed-by-hand-value"}}"#,
    ]);
    let r = w
        .drift_where("the Secret edit is found", |r| r.drift.is_some())
        .await;
    let f = fields_of(&r);
    assert!(
        f.iter()
            .any(|f| f.starts_with("Secret shop/web-db: data.password by kubectl-patch")),
        "{f:?}"
    );
    let record_text = serde_json::to_string(&r).unwrap();
    let notes = w.notes("DriftDetected").await.join("\n");
    for secret in [
        "hunter2-planted-secret",
        "changed-by-hand-value",
        "aHVudGVy",
        "Y2hhbmdl",
    ] {
        assert!(!record_text.contains(secret), "the record holds {secret}");
        assert!(!notes.contains(secret), "an Event holds {secret}");
        assert!(!w.agent.log().contains(secret), "the log holds {secret}");
    }

    // Deleting a managed object is drift too.
    w.kubectl(&["delete", "-n", "shop", "configmap/settings"]);
    let r = w
        .drift_where("the deletion is found", |r| {
            fields_of(r)
                .iter()
                .any(|f| f == "ConfigMap shop/settings: deleted")
        })
        .await;
    assert_eq!(r.drift.as_ref().unwrap().objects, 2);

    // The detection is cheap: the comparisons ran only for the flagged objects.
    let m = w.agent.metrics().await;
    let confirmations = metric(&m, "wavesync_drift_confirmations_total", &[]).unwrap_or(0.0);
    assert!(confirmations <= 12.0, "{confirmations} value comparisons");
}

#[tokio::test(flavor = "multi_thread")]
async fn heal_reverts_a_change_and_a_fighting_controller_is_reported_as_contested() {
    let w = start("heal").await;
    w.kubectl(&[
        "patch", "-n", "shop", "deployment/web", "--type=json",
        "-p", r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example.com/web:hotfix"}]"#,
    ]);
    let image = || async {
        w.env
            .get("apps/v1", "Deployment", "shop", "web")
            .await
            .and_then(|d| d.pointer("/spec/template/spec/containers/0/image").cloned())
    };
    within(&w.agent, BOUND, "the heal puts the image back", || async {
        (image().await == Some(json!("registry.example.com/web:1.0"))).then_some(())
    })
    .await;
    let r = w
        .drift_where("the record is Ready again", |r| {
            r.drift.is_none() && r.phase == Phase::Ready
        })
        .await;
    assert!(
        r.history.len() <= 2,
        "a heal is not a sync: {:?}",
        r.history
    );
    within(&w.agent, BOUND, "Events of the heal", || async {
        let healed = w.notes("DriftHealed").await;
        let resolved = w.notes("DriftResolved").await;
        (healed.iter().any(|n| n.contains("shop/web"))
            && resolved.iter().any(|n| n.contains("healed")))
        .then_some(())
    })
    .await;
    // The Job was not run again by anything of this.
    let job = w
        .env
        .get("batch/v1", "Job", "shop", "migrate")
        .await
        .unwrap();
    assert_eq!(job["metadata"]["generation"], json!(1));

    // Another controller keeps setting its own image.
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        w.env.client.clone(),
        "shop",
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let fight = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": format!("registry.example.com/web:fighter-{i}")}]}}}});
                let _ = api
                    .patch(
                        "web",
                        &kube::api::PatchParams {
                            field_manager: Some("fighter".into()),
                            ..Default::default()
                        },
                        &kube::api::Patch::Strategic(patch),
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        })
    };
    let r = w
        .drift_where("the fight is reported", |r| {
            r.drift
                .iter()
                .flat_map(|d| d.items.iter())
                .any(|i| i.policy == "contested by fighter")
        })
        .await;
    assert_eq!(r.phase, Phase::Degraded);
    let notes = w.notes("DriftContested").await;
    assert!(
        notes.iter().any(|n| n.contains("contested by fighter")),
        "{notes:?}"
    );
    let m = w.agent.metrics().await;
    let healed = metric(&m, "wavesync_drift_heals_total", &[("result", "healed")]).unwrap_or(0.0);
    assert!(
        (3.0..=4.0).contains(&healed),
        "healed {healed} times: the limit is 3 in the window"
    );
    fight.abort();
}

/// A local receiver of notifications: every POST body, by path.
#[derive(Clone, Default)]
struct Inbox(std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>);

impl Inbox {
    async fn start() -> (Inbox, String) {
        let inbox = Inbox::default();
        let keep = inbox.clone();
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    keep.0.lock().unwrap().push((uri.path().to_string(), v));
                    "ok"
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (inbox, url)
    }

    fn got(&self) -> Vec<(String, serde_json::Value)> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_reaches_alertmanager_and_a_webhook_and_resolves_there() {
    let (inbox, url) = Inbox::start().await;
    let w = start_with("alert", |env| {
        let url_file = env.temp().join("webhook-url");
        std::fs::write(&url_file, format!("{url}/hook\n")).unwrap();
        vec![
            ("WAVESYNC_NOTIFY_ALERTMANAGER_URL", url.clone()),
            (
                "WAVESYNC_NOTIFY_WEBHOOK_URL_FILE",
                url_file.display().to_string(),
            ),
        ]
    })
    .await;
    let (agent, kubeconfig) = (&w.agent, &w.kubeconfig);

    kubectl(
        kubeconfig,
        &["scale", "-n", "shop", "deployment/web", "--replicas=4"],
    );
    let alert = within(agent, BOUND, "the drift alert in Alertmanager", || async {
        inbox.got().into_iter().find_map(|(path, body)| {
            let a = body
                .as_array()?
                .iter()
                .find(|a| a["labels"]["alertname"] == "WavesyncDrift")?
                .clone();
            (path == "/api/v2/alerts").then_some(a)
        })
    })
    .await;
    assert_eq!(alert["labels"]["waveset"], WAVESET);
    assert_eq!(alert["labels"]["name"], "web");
    assert!(alert.get("endsAt").is_none_or(|e| e.is_null()), "{alert}");
    let hook = within(agent, BOUND, "the drift webhook", || async {
        inbox
            .got()
            .into_iter()
            .find(|(path, body)| path == "/hook" && body["kind"] == "DriftDetected")
            .map(|(_, b)| b)
    })
    .await;
    let text = hook.to_string();
    assert!(
        text.contains("spec.replicas") && text.contains("kubectl"),
        "{text}"
    );

    kubectl(
        kubeconfig,
        &["scale", "-n", "shop", "deployment/web", "--replicas=2"],
    );
    within(
        agent,
        BOUND,
        "the resolve in Alertmanager and the webhook",
        || async {
            let got = inbox.got();
            let resolved = got.iter().any(|(path, body)| {
                path == "/api/v2/alerts"
                    && body.as_array().is_some_and(|a| {
                        a.iter().any(|a| {
                            a["labels"]["alertname"] == "WavesyncDrift" && a["endsAt"].is_string()
                        })
                    })
            });
            let hook = got
                .iter()
                .any(|(path, body)| path == "/hook" && body["kind"] == "DriftResolved");
            (resolved && hook).then_some(())
        },
    )
    .await;
}
