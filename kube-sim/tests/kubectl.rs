//! The simulator against the real `kubectl` binary.
//!
//! Starts a [`kube_sim::Sim`] in-process, writes its kubeconfig to a temporary file and
//! runs `kubectl --kubeconfig FILE ...` with kubectl's default flags (including
//! `--validate=strict`), asserting on exit codes and output. It covers:
//!
//! - `kubectl get ns` listing `default` and `kube-system`;
//! - `kubectl apply --server-side` of a Deployment, of a CRD and, after
//!   `kubectl wait --for condition=established crd/NAME`, of a custom resource of it;
//! - `kubectl get -o yaml --show-managed-fields` showing manager `kubectl`, operation `Apply`;
//! - a second field manager (`--field-manager=other`) applying a conflicting
//!   `.spec.replicas`: refused with `Apply failed with 1 conflict: conflict with "kubectl":
//!   .spec.replicas`, then accepted with `--force-conflicts`;
//! - `kubectl get -w` seeing a `kubectl label` made by a second kubectl process;
//! - client-side `kubectl apply` (create, then a strategic-merge-patch update) and
//!   `kubectl create -f` (and its AlreadyExists error);
//! - `kubectl delete`, after which `kubectl get` reports NotFound.
//!
//! kubectl must be on `PATH` (CI installs it); without it the test fails rather than
//! passing silently. Set `KUBECTL` to use another binary.
//!
//! kubectl's generator subcommands send protobuf bodies; the simulator decodes them
//! for Namespace, ConfigMap, Secret and ServiceAccount only (`kubectl create
//! deployment …` is refused with 415), so this test creates the rest from YAML
//! manifests (`-f`), which kubectl sends as JSON.
//!
//! ```text
//! cargo test -p kube-sim --test kubectl -- --nocapture
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest any single kubectl invocation may take.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the watch may take to show the change.
const WATCH_TIMEOUT: Duration = Duration::from_secs(10);

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
"#;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
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
              size:
                type: integer
              color:
                type: string
"#;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: default
spec:
  size: 3
  color: blue
"#;

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("kube-sim-kubectl-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kubectl_bin() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// Fails the test with a clear message when kubectl cannot be run.
fn require_kubectl() {
    let bin = kubectl_bin();
    match Command::new(&bin).args(["version", "--client"]).output() {
        Ok(out) if out.status.success() => {
            eprintln!(
                "using {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
            );
        }
        Ok(out) => panic!(
            "`{bin} version --client` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "this test needs the kubectl binary on PATH (or KUBECTL=/path/to/kubectl), \
             but `{bin}` could not be run: {e}. Install kubectl v1.32 (CI does)."
        ),
    }
}

/// Runs kubectl against the simulator.
struct Kubectl {
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_bin());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env("NO_PROXY", "127.0.0.1,localhost");
        cmd
    }

    /// Runs `kubectl ARGS` with `stdin` as its input and waits (at most [`KUBECTL_TIMEOUT`]).
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let started = Instant::now();
        let mut child = self
            .command(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .expect("writing kubectl's stdin");
        }
        // Read the pipes on threads so that a full pipe cannot block the child.
        let read = |r: Option<Box<dyn std::io::Read + Send>>| {
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
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        );
        let err = read(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        );
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for kubectl") {
                break status;
            }
            if started.elapsed() > KUBECTL_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kubectl {args:?} did not finish within {KUBECTL_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let output = Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        };
        eprintln!(
            "$ kubectl {} ({} ms, {})\n{}{}",
            args.join(" "),
            started.elapsed().as_millis(),
            output.status,
            indent(&String::from_utf8_lossy(&output.stdout)),
            indent(&String::from_utf8_lossy(&output.stderr)),
        );
        output
    }

    /// Runs kubectl and asserts that it succeeds; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl and asserts that it fails; returns stderr.
    fn fails_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed but succeeded:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// A long-running `kubectl get -w` whose stdout lines arrive on a channel.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(k: &Kubectl, args: &[&str]) -> Watch {
        let mut child = k
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("  [watch] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a line satisfies `pred`; panics with everything seen after `timeout`.
    fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "`kubectl get -w` did not show {what} within {timeout:?}; it printed:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "`kubectl get -w` exited ({status:?}) before showing {what}; it printed:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kubectl script; blocking, so it runs off the runtime's worker threads.
fn script(k: &Kubectl) {
    // Namespaces created at start-up.
    let ns = k.ok(&["get", "ns"]);
    for name in ["default", "kube-system"] {
        assert!(
            ns.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "`get ns` lacks {name}:\n{ns}"
        );
    }

    // Generator commands send protobuf bodies, decoded for these kinds.
    k.ok(&["create", "namespace", "gen"]);
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "gen",
        "--from-literal=mode=fast",
    ]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "gen",
        "--from-literal=password=pw",
    ]);
    assert_eq!(
        k.ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "gen",
            "-o",
            "jsonpath={.data.mode}"
        ])
        .trim(),
        "fast"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "secret",
            "creds",
            "-n",
            "gen",
            "-o",
            "jsonpath={.data.password}"
        ])
        .trim(),
        "cHc="
    );

    // Server-side apply of a Deployment.
    let out = k.ok_with(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "unexpected apply output: {out}"
    );
    let yaml = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(yaml.contains("managedFields:"), "no managedFields:\n{yaml}");
    assert!(
        yaml.contains("manager: kubectl"),
        "no manager kubectl:\n{yaml}"
    );
    assert!(
        yaml.contains("operation: Apply"),
        "no operation Apply:\n{yaml}"
    );
    assert!(
        yaml.contains("f:replicas: {}"),
        "kubectl's fields lack f:replicas:\n{yaml}"
    );
    // Without the flag, kubectl hides them.
    let yaml = k.ok(&["get", "deployment", "web", "-o", "yaml"]);
    assert!(
        !yaml.contains("managedFields:"),
        "managedFields shown without --show-managed-fields:\n{yaml}"
    );
    // Reapplying unchanged is fine.
    k.ok_with(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    // kubectl's default --validate=strict: an unknown field in an apply is refused.
    let bad = DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replicaz: 2");
    let stderr = k.fails_with(&["apply", "--server-side", "-f", "-"], Some(&bad));
    assert!(
        stderr.contains(".spec.replicaz: field not declared in schema"),
        "unexpected error:\n{stderr}"
    );

    // A second manager changing replicas conflicts with kubectl's ownership.
    let other = DEPLOYMENT.replace("replicas: 2", "replicas: 3");
    let stderr = k.fails_with(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&other),
    );
    assert!(
        stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#),
        "unexpected conflict message:\n{stderr}"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .trim(),
        "2"
    );
    let out = k.ok_with(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&other),
    );
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "unexpected apply output: {out}"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .trim(),
        "3"
    );
    let yaml = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        yaml.contains("manager: other"),
        "no manager other after --force-conflicts:\n{yaml}"
    );

    // `get -w` sees a change made by another kubectl.
    let mut watch = Watch::start(k, &["get", "deployment", "web", "-w", "--show-labels"]);
    watch.wait_for("the initial row", WATCH_TIMEOUT, |l| l.starts_with("web "));
    let out = k.ok(&["label", "deployment", "web", "tier=frontend"]);
    assert!(
        out.contains("deployment.apps/web labeled"),
        "unexpected label output: {out}"
    );
    let line = watch.wait_for("the new label", WATCH_TIMEOUT, |l| {
        l.starts_with("web ") && l.contains("tier=frontend")
    });
    assert!(
        line.contains("app=web"),
        "the watched row lost a label: {line}"
    );
    drop(watch);

    // A CRD, established, then a custom resource of it.
    let out = k.ok_with(&["apply", "--server-side", "-f", "-"], Some(CRD));
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied"
        ),
        "{out}"
    );
    // kubectl 1.32 gives up on `conditions: null`, which a real API server
    // also returns for a CRD its establishing controller has not reached yet:
    // a client scripting this against any cluster retries, and so do we.
    let wait = [
        "wait",
        "--for",
        "condition=established",
        "--timeout=15s",
        "crd/widgets.example.com",
    ];
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let o = k.run_with(&wait, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() && stderr.contains("accessor error") && attempts < 20 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        assert!(o.status.success(), "kubectl {wait:?} failed: {stderr}");
        break String::from_utf8_lossy(&o.stdout).into_owned();
    };
    assert!(
        out.contains("condition met"),
        "unexpected wait output: {out}"
    );
    let out = k.ok_with(&["apply", "--server-side", "-f", "-"], Some(WIDGET));
    assert!(
        out.contains("widget.example.com/w1 serverside-applied"),
        "unexpected apply output: {out}"
    );
    assert_eq!(
        k.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"])
            .trim(),
        "3"
    );
    let list = k.ok(&["get", "widgets"]);
    assert!(
        list.lines().any(|l| l.starts_with("w1 ")),
        "`get widgets` lacks w1:\n{list}"
    );
    let yaml = k.ok(&[
        "get",
        "widget.example.com",
        "w1",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"),
        "{yaml}"
    );

    // Client-side apply: create, then update (a strategic merge patch).
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-csa\n  namespace: default\ndata:\n  a: \"1\"\n";
    let out = k.ok_with(&["apply", "-f", "-"], Some(cm));
    assert!(
        out.contains("configmap/cm-csa created"),
        "unexpected apply output: {out}"
    );
    let out = k.ok_with(
        &["apply", "-f", "-"],
        Some(&cm.replace("a: \"1\"", "a: \"2\"\n  b: \"3\"")),
    );
    assert!(
        out.contains("configmap/cm-csa configured"),
        "unexpected apply output: {out}"
    );
    let out = k.ok_with(
        &["apply", "-f", "-"],
        Some(&cm.replace("a: \"1\"", "a: \"2\"\n  b: \"3\"")),
    );
    assert!(
        out.contains("configmap/cm-csa unchanged"),
        "unexpected apply output: {out}"
    );
    let json = k.ok(&["get", "configmap", "cm-csa", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("kubectl -o json prints JSON");
    assert_eq!(v["data"], serde_json::json!({"a": "2", "b": "3"}), "{json}");
    assert!(
        v["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "no last-applied-configuration annotation: {json}"
    );
    // Client-side apply of a custom resource (a JSON merge patch).
    let out = k.ok_with(&["apply", "-f", "-"], Some(&WIDGET.replace("w1", "w2")));
    assert!(
        out.contains("widget.example.com/w2 created"),
        "unexpected apply output: {out}"
    );
    let out = k.ok_with(
        &["apply", "-f", "-"],
        Some(&WIDGET.replace("w1", "w2").replace("size: 3", "size: 5")),
    );
    assert!(
        out.contains("widget.example.com/w2 configured"),
        "unexpected apply output: {out}"
    );
    assert_eq!(
        k.ok(&["get", "widget", "w2", "-o", "jsonpath={.spec.size}"])
            .trim(),
        "5"
    );

    // kubectl create -f, twice.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-create\ndata:\n  k: v\n";
    let out = k.ok_with(&["create", "-f", "-"], Some(cm));
    assert!(
        out.contains("configmap/cm-create created"),
        "unexpected create output: {out}"
    );
    assert_eq!(
        k.ok(&["get", "configmap", "cm-create", "-o", "jsonpath={.data.k}"])
            .trim(),
        "v"
    );
    let stderr = k.fails_with(&["create", "-f", "-"], Some(cm));
    assert!(
        stderr.contains("AlreadyExists"),
        "unexpected error: {stderr}"
    );

    // kubectl delete, then NotFound.
    for (kind, name) in [
        ("configmap", "cm-create"),
        ("deployment", "web"),
        ("widget", "w1"),
    ] {
        let out = k.ok(&["delete", kind, name]);
        assert!(
            out.contains(&format!("\"{name}\" deleted")),
            "unexpected delete output: {out}"
        );
        let stderr = k.fails_with(&["get", kind, name], None);
        assert!(
            stderr.contains("(NotFound)") && stderr.contains(&format!("\"{name}\" not found")),
            "unexpected error: {stderr}"
        );
    }
    let stderr = k.fails_with(&["delete", "configmap", "cm-create"], None);
    assert!(stderr.contains("(NotFound)"), "unexpected error: {stderr}");
    // Deleting by file.
    let out = k.ok_with(&["delete", "-f", "-"], Some(&WIDGET.replace("w1", "w2")));
    assert!(
        out.contains("\"w2\" deleted"),
        "unexpected delete output: {out}"
    );
    let list = k.ok(&["get", "configmaps", "-o", "name"]);
    assert!(
        list.contains("configmap/cm-csa") && !list.contains("cm-create"),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_against_sim() {
    require_kubectl();
    let started = Instant::now();
    let sim = kube_sim::Sim::start()
        .await
        .expect("starting the simulator");
    let dir = TempDir::new();
    let kubeconfig = dir.0.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)
        .expect("writing the kubeconfig");
    let k = Kubectl {
        kubeconfig,
        cache_dir: dir.0.join("cache"),
    };
    let result = tokio::task::spawn_blocking(move || script(&k)).await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the kubectl script did not finish: {e}"),
        }
    }
    eprintln!("kubectl script took {:?}", started.elapsed());
    drop(dir);
}
