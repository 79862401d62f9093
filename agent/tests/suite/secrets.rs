//! Area 5: secret values never leak. A Secret with a `data` value and a
//! `stringData` value, in a repository served over HTTP that wants a token;
//! the real binary at `RUST_LOG=trace` through every surface a user or a
//! scraper reads — logs, failures, `diff` (offline and live, every format),
//! `render`, `validate`, `status`, Events, the state ConfigMaps, `/metrics`,
//! notifications and the Git cache — each searched for every planted value,
//! in plain text and in base64.

use crate::common::agent::{free_port, try_record};
use crate::common::*;
use crate::suite::{Outcome, Scale};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wavesync::state::Phase;

/// The Git token the server wants.
const TOKEN: &str = "ghp_PlantedGitTok3nLeakHunt";
/// The plaintext of `data.password` at the first commit.
const DATA_1: &str = "pl4inData-first-LeakHunt";
/// The `stringData.apiKey` of the first commit.
const STRING_1: &str = "str1ngData-first-LeakHunt";
/// The plaintext of `data.password` at the second commit.
const DATA_2: &str = "pl4inData-second-LeakHunt";
/// The `stringData.apiKey` of the second commit.
const STRING_2: &str = "str1ngData-second-LeakHunt";
/// What a person writes into the live Secret by hand (drift).
const DRIFT: &str = "dr1ftByHand-LeakHunt";
/// The plaintext of the Secret the server rejects (third commit).
const REJECTED: &str = "rej3ctedData-LeakHunt";
/// A line without `=` in a secretGenerator's env file (fourth commit).
const ENV_LINE: &str = "envF1leLine-LeakHunt";
/// A `stringData` value with a tag it does not fit (fifth commit).
const TAGGED: &str = "t4ggedValue-LeakHunt";
/// A line inside a multi-line `stringData` value (a config file).
const MULTILINE: &str = "mult1lineSecret-LeakHunt";
/// The secret path segment of the notification webhook's URL (as a Slack
/// or a Teams URL is itself the credential).
const HOOK_SECRET: &str = "h00kUrlSecretPath-LeakHunt";
/// A `secretGenerator` literal of the overlay wave.
const GENERATED: &str = "g3neratedLiteral-LeakHunt";
/// The value on a line that does not parse (fourth commit).
const BROKEN: &str = "br0kenYamlValue-LeakHunt";

/// How long the agent may take for one step.
const STEP: Duration = Duration::from_secs(60);

/// A planted value and the names of its forms, for problems that never print it.
struct Planted {
    /// Which planted value, e.g. `data.password of commit 1 (plaintext)`.
    kind: String,
    /// The value.
    value: String,
}

fn planted() -> Vec<Planted> {
    let mut out = vec![
        Planted {
            kind: "the Git token".into(),
            value: TOKEN.into(),
        },
        Planted {
            kind: "the secret path of the notification URL".into(),
            value: HOOK_SECRET.into(),
        },
    ];
    for (what, v) in [
        ("data.password of commit 1", DATA_1),
        ("stringData.apiKey of commit 1", STRING_1),
        ("data.password of commit 2", DATA_2),
        ("stringData.apiKey of commit 2", STRING_2),
        ("the hand-edited live value (drift)", DRIFT),
        ("data.password of the rejected commit 3", REJECTED),
        ("the secretGenerator literal", GENERATED),
        (
            "the second line of a multi-line stringData value",
            MULTILINE,
        ),
        ("the value on the unparsable line of commit 4", BROKEN),
        ("the malformed env-file line of commit 4", ENV_LINE),
        ("the !!int-tagged stringData value of commit 5", TAGGED),
    ] {
        out.push(Planted {
            kind: format!("{what} (plaintext)"),
            value: v.into(),
        });
        out.push(Planted {
            kind: format!("{what} (base64)"),
            value: STANDARD.encode(v),
        });
    }
    out
}

/// Every place searched and every leak found.
#[derive(Default)]
struct Search {
    places: usize,
    problems: Vec<String>,
}

impl Search {
    /// Searches one place for every planted value.
    fn check(&mut self, place: &str, text: &str) {
        self.check_only(place, text, &planted());
    }

    /// Searches one place for some of the planted values.
    fn check_only(&mut self, place: &str, text: &str, values: &[Planted]) {
        self.places += 1;
        if text.trim().is_empty() {
            // An empty output proves nothing: the surface was not exercised.
            self.problems
                .push(format!("{place}: nothing to search (empty)"));
            return;
        }
        for p in values {
            if text.contains(&p.value) {
                self.problems.push(format!("{place}: holds {}", p.kind));
            }
        }
    }

    /// A step that did not happen as the user would see it.
    fn fail(&mut self, what: String) {
        self.problems.push(what);
    }
}

// ------------------------------------------------------------------ the repo

const WAVESET_YAML: &str = r#"apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: shop }
spec:
  defaults: { timeout: 20s }
  namespace: shop
  waves:
    - name: base
      path: waves/base
    - name: secrets
      path: waves/secrets
    - name: generated
      path: waves/generated
"#;

/// The Secret `creds`: `data.password` = base64 of `data`, `stringData.apiKey`
/// = `string_data`, and a config file whose second line is [`MULTILINE`].
/// From the second commit on: a last wave whose health rule on Secrets is
/// wrong (a string minus an integer), so that the rule's error, which reads
/// the Secret's `data`, becomes the wave's failure message.
const RULES_WAVE: &str = r#"    - name: rules
      path: waves/rules
      health:
        - apiVersion: v1
          kind: Secret
          ready: "self.data.password - 1 > 0"
"#;

fn secret(kind: &str, data: &str, string_data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: shop\ntype: {kind}\ndata:\n  password: {}\nstringData:\n  apiKey: {string_data}\n  app.ini: |\n    [db]\n    password = {MULTILINE}\n    user = {string_data}\n",
        STANDARD.encode(data)
    )
}

// ------------------------------------------------------- HTTP Git + receiver

/// A plain-HTTP server: smart Git (`git http-backend`) for the repositories
/// under `root`, only with `Basic x-access-token:<TOKEN>`; any other path
/// is a notification receiver that records each request.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("x-access-token:{TOKEN}"))
        );
        let (stop2, received2) = (Arc::clone(&stop), Arc::clone(&received));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let (root, expected, received) =
                    (root.clone(), expected.clone(), Arc::clone(&received2));
                std::thread::spawn(move || {
                    let _ = serve(tcp, &root, &expected, &received);
                });
            }
        });
        Server {
            addr,
            stop,
            received,
        }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// One request per connection.
fn serve(
    mut tcp: TcpStream,
    root: &Path,
    expected_auth: &str,
    received: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(tcp.try_clone()?);
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let request_line = line.trim_end().to_string();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = header("content-length") {
        body.resize(n.parse().map_err(std::io::Error::other)?, 0);
        r.read_exact(&mut body)?;
    }
    let (status, resp_headers, resp_body) = if target.starts_with("/hook") {
        // What the agent wrote, without the URL it was told to send to.
        let mut text = String::new();
        for (k, v) in &headers {
            text.push_str(&format!("{k}: {v}\n"));
        }
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&body));
        // A refusal, so that the agent logs a failed delivery with its URL.
        let status = if text.contains("SyncSucceeded") {
            "400 Bad Request"
        } else {
            "200 OK"
        };
        received.lock().unwrap().push(text);
        (status.to_string(), Vec::new(), b"ok".to_vec())
    } else if header("authorization").as_deref() != Some(expected_auth) {
        (
            "401 Unauthorized".to_string(),
            vec!["WWW-Authenticate: Basic realm=\"git\"".to_string()],
            b"authentication required\n".to_vec(),
        )
    } else {
        cgi(root, &method, &target, &header, body)?
    };
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for h in &resp_headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp_body.len()
    ));
    tcp.write_all(out.as_bytes())?;
    tcp.write_all(&resp_body)?;
    tcp.flush()
}

/// Runs `git http-backend` for one request.
fn cgi(
    root: &Path,
    method: &str,
    target: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: Vec<u8>,
) -> std::io::Result<(String, Vec<String>, Vec<u8>)> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (h, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = header(h) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    let _ = writer.join();
    let out = output.stdout;
    let (head, body) = match out.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&out[..i], &out[i + 4..]),
        None => match out.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&out[..i], &out[i + 2..]),
            None => (&out[..0], &out[..]),
        },
    };
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for l in String::from_utf8_lossy(head).lines() {
        match l.trim_end().split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => headers.push(l.trim_end().to_string()),
            None => {}
        }
    }
    Ok((status, headers, body.to_vec()))
}

// ------------------------------------------------------------------ the agent

/// `wavesync run` with stdout and stderr both kept.
struct Agent {
    child: Child,
    port: u16,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Agent {
    fn start(dir: &Path, envs: &[(&str, String)], args: &[String]) -> Agent {
        let port = free_port();
        let (stdout, stderr) = (dir.join("agent.out"), dir.join("agent.err"));
        let mut cmd = wavesync_cmd();
        cmd.arg("run")
            .args(args)
            .env("WAVESYNC_LISTEN", format!("127.0.0.1:{port}"))
            .env("WAVESYNC_IDENTITY", "leak-hunter")
            .env("WAVESYNC_HELM_ENGINE", "libhelm")
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Agent {
            child: cmd.spawn().unwrap(),
            port,
            stdout,
            stderr,
        }
    }

    /// SIGTERM, as Kubernetes stops a pod (the Lease is released), then waits.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn output(&self) -> String {
        let mut s = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(&self.stderr).unwrap_or_default());
        s
    }

    async fn metrics(&self) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        let req = "GET /metrics HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).to_string();
        text.starts_with("HTTP/1.1 200")
            .then(|| text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()))?
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary, with nothing of this process's WAVESYNC_* or cluster
/// variables, logging everything.
fn wavesync_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
    for (k, _) in std::env::vars() {
        if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "trace").env("NO_COLOR", "1");
    cmd
}

/// Runs a one-shot command: (exit code, stdout + stderr).
async fn cli(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = wavesync_cmd().args(&args).output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).to_string();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

// ------------------------------------------------------------------ the area

/// Runs area 5. `Scale` changes nothing: every surface is searched once.
pub async fn run(_scale: Scale) -> Outcome {
    let env = Env::start().await;
    let mut search = Search::default();
    let work = env.temp();
    let repo = &env.repo;
    repo.write("wavesync.yaml", WAVESET_YAML);
    repo.write("waves/base/namespace.yaml", &namespace("shop", &[]));
    repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "blue", &[]),
    );
    repo.write(
        "waves/secrets/creds.yaml",
        &secret("Opaque", DATA_1, STRING_1),
    );
    repo.write("waves/generated/kustomization.yaml", &format!(
        "namespace: shop\nresources: [settings.yaml]\nsecretGenerator:\n- name: gen\n  literals: [token={GENERATED}]\n"
    ));
    repo.write(
        "waves/generated/settings.yaml",
        &configmap("generated-settings", "shop", "green", &[]),
    );
    let first = repo.commit("first");
    let dir = repo.path().display().to_string();

    // Offline surfaces of the first commit.
    for o in ["text", "json"] {
        let (_, out) = cli(strings(&["validate", "--dir", &dir, "--output", o])).await;
        search.check(&format!("validate -o {o}"), &out);
    }
    let (code, out) = cli(strings(&[
        "render",
        "--dir",
        &dir,
        "--helm-engine",
        "libhelm",
    ]))
    .await;
    if code != 0 {
        search.fail(format!("render exited {code}"));
    }
    search.check("render", &out);

    // The agent, fetching over HTTP with the token.
    let server = Server::start(repo.path().parent().unwrap().to_path_buf());
    let name = repo.path().file_name().unwrap().to_string_lossy();
    let url = format!("http://127.0.0.1:{}/{name}", server.addr.port());
    let hook_file = work.join("hook-url");
    std::fs::write(
        &hook_file,
        format!("http://127.0.0.1:{}/hook/{HOOK_SECRET}", server.addr.port()),
    )
    .unwrap();
    let cache = work.join("agent-cache");
    let mut envs = crate::common::agent::kube_env(&env, repo);
    envs.retain(|(k, _)| *k != "WAVESYNC_REPO");
    envs.push(("WAVESYNC_REPO", url.clone()));
    envs.push(("WAVESYNC_GIT_TOKEN", TOKEN.into()));
    envs.push(("WAVESYNC_CACHE", cache.display().to_string()));
    // The failed rule wave is retried: soon, so that the next commit is too.
    envs.push(("WAVESYNC_RETRY_BACKOFF", "1s".into()));
    envs.push(("WAVESYNC_MAX_BACKOFF", "2s".into()));
    let args = vec![
        "--notify-webhook-url-file".to_string(),
        hook_file.display().to_string(),
        "--notify-events".into(),
        "DriftDetected,DriftResolved,SyncFailed,Stalled,WaveFailed,SyncSucceeded".into(),
    ];
    let mut agent = Agent::start(&work, &envs, &args);
    let kubeconfig = work.join("kubeconfig");
    let applied = |rev: String| {
        let env = &env;
        async move {
            let r = try_record(env, WAVESET).await?;
            (r.phase == Phase::Ready && r.applied_revision.as_deref() == Some(rev.as_str()))
                .then_some(())
        }
    };
    if !wait(STEP, || applied(first.clone())).await {
        search.fail(format!(
            "the agent did not apply the first commit over HTTP with the token; it logged:\n{}",
            tail(&agent.output())
        ));
        return outcome(search);
    }

    // Drift on the Secret, by hand.
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "shop",
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    // As `kubectl apply` leaves it: the whole object, values included, in an annotation.
    let last_applied = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "shop"},
        "data": {"password": STANDARD.encode(DRIFT)},
    });
    let patch = serde_json::json!({
        "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": last_applied.to_string(),
        }},
        "data": {"password": STANDARD.encode(DRIFT)},
    });
    secrets
        .patch("creds", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let drift_seen = wait(STEP, || async {
        let r = try_record(&env, WAVESET).await?;
        let noted = server
            .received()
            .iter()
            .any(|n| n.contains("DriftDetected"));
        (r.drift.is_some() && noted).then_some(())
    })
    .await;
    if !drift_seen {
        search.fail("the drift on the Secret was not recorded and notified".into());
    }

    // Live surfaces: the repo (commit 1) against the drifted cluster.
    let kc = kubeconfig.display().to_string();
    for o in ["text", "markdown", "json"] {
        let (code, out) = cli(strings(&[
            "diff",
            "--live",
            "--dir",
            &dir,
            "--kubeconfig",
            &kc,
            "--helm-engine",
            "libhelm",
            "--output",
            o,
            "--color",
            "never",
        ]))
        .await;
        if code != 2 {
            search.fail(format!(
                "diff --live -o {o} exited {code}, not 2 (the drift)"
            ));
        }
        search.check(&format!("diff --live -o {o}"), &out);
    }
    let (_, out) = cli(strings(&[
        "validate",
        "--live",
        "--dir",
        &dir,
        "--kubeconfig",
        &kc,
    ]))
    .await;
    search.check("validate --live", &out);

    // The second commit changes both values: diff must mask both sides.
    repo.write(
        "waves/secrets/creds.yaml",
        &secret("Opaque", DATA_2, STRING_2),
    );
    repo.write("wavesync.yaml", &format!("{WAVESET_YAML}{RULES_WAVE}"));
    repo.write(
        "waves/rules/probe.yaml",
        &secret("Opaque", DATA_2, STRING_2).replace("name: creds", "name: probe"),
    );
    let second = repo.commit("second");
    for o in ["text", "markdown", "json"] {
        let (code, out) = cli(strings(&[
            "diff", "--base", &first, "--head", &second, "--dir", &dir, "--output", o, "--color",
            "never",
        ]))
        .await;
        if code != 2 {
            search.fail(format!("diff --base --head -o {o} exited {code}, not 2"));
        }
        search.check(&format!("diff (offline) -o {o}"), &out);
    }
    let rule_failed = wait(STEP, || async {
        let r = try_record(&env, WAVESET).await?;
        let w = r.wave("rules")?;
        (r.target_revision.as_deref() == Some(second.as_str())
            && w.status == wavesync::state::WaveStatus::Failed
            && r.wave("secrets")?.status == wavesync::state::WaveStatus::Completed)
            .then_some(())
    })
    .await;
    if !rule_failed {
        search.fail("the wrong health rule on Secrets did not fail its wave".into());
    }

    // A third commit the server rejects: the Secret's type is immutable.
    repo.write(
        "waves/secrets/creds.yaml",
        &secret("kubernetes.io/tls", REJECTED, STRING_2),
    );
    let third = repo.commit("third");
    let failed = wait(STEP, || async {
        let r = try_record(&env, WAVESET).await?;
        (r.target_revision.as_deref() == Some(third.as_str()) && r.phase == Phase::Failed)
            .then_some(())
    })
    .await;
    if !failed {
        search.fail("the rejected Secret did not fail the sync".into());
    }
    let noted = wait(Duration::from_secs(20), || async {
        server
            .received()
            .iter()
            .any(|n| n.contains("SyncFailed") || n.contains("WaveFailed"))
            .then_some(())
    })
    .await;
    if !noted {
        search.fail("no SyncFailed or WaveFailed notification for the rejected Secret".into());
    }
    for (base, head, what) in [(&first, &third, "1..3"), (&second, &third, "2..3")] {
        let (_, out) = cli(strings(&[
            "diff", "--base", base, "--head", head, "--dir", &dir, "--output", "text", "--color",
            "never",
        ]))
        .await;
        search.check(&format!("diff (offline) {what}"), &out);
    }

    // A fourth commit that does not parse, on the line of a value.
    repo.write(
        "waves/secrets/creds.yaml",
        &secret("Opaque", DATA_2, STRING_2).replace(
            &format!("apiKey: {STRING_2}"),
            &format!("apiKey: {BROKEN}: [x"),
        ),
    );
    repo.write(
        "waves/generated/kustomization.yaml",
        "namespace: shop\nresources: [settings.yaml]\nsecretGenerator:\n- name: gen\n  envs: [db.env]\n",
    );
    repo.write("waves/generated/db.env", &format!("USER=app\n{ENV_LINE}\n"));
    let fourth = repo.commit("fourth");
    for o in ["text", "json"] {
        let (code, out) = cli(strings(&["validate", "--dir", &dir, "--output", o])).await;
        if code != 1 {
            search.fail(format!(
                "validate -o {o} of the unparsable commit exited {code}, not 1"
            ));
        }
        search.check(&format!("validate -o {o} (unparsable Secret)"), &out);
    }
    let (_, out) = cli(strings(&[
        "render",
        "--dir",
        &dir,
        "--helm-engine",
        "libhelm",
    ]))
    .await;
    search.check("render (unparsable Secret)", &out);
    for o in ["text", "markdown", "json"] {
        let (code, out) = cli(strings(&[
            "diff", "--base", &third, "--head", &fourth, "--dir", &dir, "--output", o, "--color",
            "never",
        ]))
        .await;
        if code != 1 {
            search.fail(format!(
                "diff -o {o} to the unparsable commit exited {code}, not 1"
            ));
        }
        search.check(&format!("diff (offline, unparsable head) -o {o}"), &out);
    }
    let failed = wait(STEP, || async {
        let r = try_record(&env, WAVESET).await?;
        (r.target_revision.as_deref() == Some(fourth.as_str()) && r.phase == Phase::Failed)
            .then_some(())
    })
    .await;
    if !failed {
        search.fail("the unparsable commit did not fail the sync".into());
    }

    // A fifth commit whose only error is a value with a tag it does not fit.
    repo.write(
        "waves/secrets/creds.yaml",
        &secret("Opaque", DATA_2, STRING_2).replace(
            &format!("apiKey: {STRING_2}"),
            &format!("apiKey: !!int {TAGGED}"),
        ),
    );
    repo.write(
        "waves/generated/kustomization.yaml",
        "namespace: shop\nresources: [settings.yaml]\n",
    );
    let fifth = repo.commit("fifth");
    let (_, out) = cli(strings(&[
        "render",
        "--dir",
        &dir,
        "--helm-engine",
        "libhelm",
    ]))
    .await;
    search.check("render (a tag that does not fit)", &out);
    let (_, out) = cli(strings(&[
        "diff", "--base", &fourth, "--head", &fifth, "--dir", &dir,
    ]))
    .await;
    search.check("diff (offline, a tag that does not fit)", &out);
    let failed = wait(STEP, || async {
        let r = try_record(&env, WAVESET).await?;
        (r.target_revision.as_deref() == Some(fifth.as_str()) && r.phase == Phase::Failed)
            .then_some(())
    })
    .await;
    if !failed {
        search.fail("the commit with a tag that does not fit did not fail the sync".into());
    }

    // Where the user reads the outcome.
    let state = [
        "--kubeconfig",
        &kc,
        "--state-namespace",
        "wavesync",
        "--waveset",
        WAVESET,
    ];
    for (o, label) in [("table", "status"), ("json", "status -o json")] {
        let mut a = strings(&["status", "--output", o]);
        a.extend(strings(&state));
        let (_, out) = cli(a).await;
        search.check(label, &out);
    }
    match agent.metrics().await {
        Some(m) => search.check("/metrics of wavesync run", &m),
        None => search.fail("/metrics of wavesync run did not answer".into()),
    }
    search.check(
        "Kubernetes Events",
        &serde_json::to_string(&all_events(&env).await).unwrap(),
    );
    let cms: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "wavesync",
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let cms = cms.list(&Default::default()).await.unwrap().items;
    search.check(
        "the state ConfigMaps",
        &serde_json::to_string(&cms).unwrap(),
    );
    search.check("notifications", &server.received().join("\n---\n"));
    agent.stop();
    search.check(
        "the agent's log (stdout and stderr, trace)",
        &agent.output(),
    );
    check_cache(&mut search, &cache);

    // The token in the URL instead: the one-shot sync, and its cache.
    let cache = work.join("sync-cache");
    let with_userinfo = url.replace("http://", &format!("http://x-access-token:{TOKEN}@"));
    let mut a = strings(&["sync", "--repo", &with_userinfo, "--cache-dir"]);
    a.push(cache.display().to_string());
    a.extend(strings(&state));
    a.extend(strings(&["--helm-engine", "libhelm"]));
    let (code, out) = cli(a).await;
    if code == 0 {
        search.fail("sync of the unparsable commit succeeded".into());
    }
    search.check("sync (token in the URL), its output at trace", &out);
    check_cache(&mut search, &cache);
    outcome(search)
}

/// The Git cache: the token in no file (the checkout holds the Secret's
/// manifests by design, and Git objects are compressed, so only the token
/// is searched there), and `.git/config` without any planted value.
fn check_cache(search: &mut Search, cache: &Path) {
    let mut files = Vec::new();
    walk(cache, &mut files);
    let mut configs = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let rel = f.strip_prefix(cache).unwrap_or(f).display().to_string();
        if f.file_name().is_some_and(|n| n == "config") {
            configs += 1;
            search.check(&format!("the cache's {rel}"), &text);
        } else if text.contains(TOKEN) {
            search
                .problems
                .push(format!("the cache's {rel}: holds the Git token"));
        }
    }
    // Every file counts as one place, the configs already did.
    search.places += files.len() - configs;
    if configs == 0 {
        search.fail("the Git cache has no config file to search".into());
    }
    // The control: the checkout holds the manifests in plaintext, so a search
    // that misses them there would miss a leak anywhere.
    let seen = files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| t.contains(&format!("user = {STRING_2}")))
    });
    if !seen {
        search.fail(format!(
            "the control failed: no file of {} holds the checked-out Secret manifest",
            cache.display()
        ));
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Events of every namespace, both APIs.
async fn all_events(env: &Env) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (group, version) in [("events.k8s.io", "v1"), ("", "v1")] {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let api: Api<DynamicObject> = Api::all_with(
            env.client.clone(),
            &ApiResource {
                group: group.into(),
                version: version.into(),
                api_version,
                kind: "Event".into(),
                plural: "events".into(),
            },
        );
        if let Ok(list) = api.list(&Default::default()).await {
            out.extend(
                list.items
                    .into_iter()
                    .map(|e| serde_json::to_value(e).unwrap()),
            );
        }
    }
    out
}

/// Polls `f` every 100 ms until it returns Some; false after `within`.
async fn wait<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if f().await.is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The end of a log, for a failure message (never holds a planted value:
/// a problem message must not print a secret, so lines holding one are cut).
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("wavesync") && !planted().iter().any(|p| l.contains(&p.value)))
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn outcome(search: Search) -> Outcome {
    let leaks = search
        .problems
        .iter()
        .filter(|p| p.contains(": holds "))
        .count();
    Outcome {
        line: format!("secrets: {leaks} leaks in {} places", search.places),
        problems: search.problems,
    }
}
