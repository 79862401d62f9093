//! Conformance replay: the simulator against request/response pairs recorded from a real
//! kube-apiserver v1.32.13.
//!
//! The cases and discovery documents are vendored in `tests/conformance/` together with the
//! recorder's reference checker `replay.py`, whose replay, normalization and comparison this
//! test reproduces (see `tests/conformance/README.md`). It prints every mismatch as
//! replay.py does (`MISMATCH case / step: ...`), then `N/M steps match`, and fails unless
//! all match.
//!
//! Run it against the simulator:
//!
//! ```text
//! cargo test -p kube-sim --test conformance -- --nocapture
//! ```
//!
//! Run the same comparison against a real cluster by naming its kubeconfig (the cases create
//! namespaces `conf-*` and a CRD there and expect them not to exist yet, so use a fresh one):
//!
//! ```text
//! KUBE_SIM_CONFORMANCE_KUBECONFIG=~/.kube/config cargo test -p kube-sim --test conformance -- --nocapture
//! ```
//!
//! The reference checker prints the same lines against any server:
//! `python3 tests/conformance/replay.py KUBECONFIG tests/conformance/cases`.

#[path = "conformance/compare.rs"]
mod compare;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use compare::{Norm, canon, diff, diff_at, short};
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Deserialize;
use serde_json::{Value, json};

/// Names a kubeconfig to replay against instead of a fresh simulator.
const KUBECONFIG_ENV: &str = "KUBE_SIM_CONFORMANCE_KUBECONFIG";

/// The recorder's User-Agent. kube-apiserver defaults the field manager of an update to the
/// User-Agent up to its first '/', so the recorded managers of Update operations are
/// "Python-urllib".
const RECORDER_USER_AGENT: &str = "Python-urllib/3.11";

/// How long a GET is retried until it matches (the recorded server took a moment to
/// establish a CRD, and to remove it), and how long to wait between tries.
const GET_RETRY_FOR: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// replay.py's per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// replay.py prints at most this many differences per step.
const DIFFS_PER_STEP: usize = 4;

/// One recorded case: a namespace of its own and steps run in order.
#[derive(Deserialize)]
struct Case {
    name: String,
    namespace: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    title: String,
    request: RecordedRequest,
    response: RecordedResponse,
}

#[derive(Deserialize)]
struct RecordedRequest {
    method: String,
    path: String,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    /// A string is sent as is, null as no body, anything else as JSON.
    #[serde(default)]
    body: Value,
}

/// Status and normalized body; replay.py ignores the recorded `warnings`.
#[derive(Deserialize)]
struct RecordedResponse {
    status: u16,
    #[serde(default)]
    body: Value,
}

/// An answer: status (0 where the request failed) and body, as JSON where it parses and as
/// a string otherwise (`404 page not found`).
struct Reply {
    status: u16,
    body: Value,
}

/// The server under test: a fresh simulator, kept alive as long as this, or the cluster of
/// the kubeconfig named by [`KUBECONFIG_ENV`].
struct Server {
    client: Client,
    _sim: Option<kube_sim::Sim>,
}

async fn connect() -> Server {
    match std::env::var_os(KUBECONFIG_ENV).filter(|path| !path.is_empty()) {
        Some(path) => Server {
            client: client_from_kubeconfig(Path::new(&path)).await,
            _sim: None,
        },
        None => {
            let sim = kube_sim::Sim::start()
                .await
                .unwrap_or_else(|e| panic!("starting the simulator failed: {e}"));
            let client = sim
                .client()
                .unwrap_or_else(|e| panic!("no client for the simulator: {e}"));
            Server {
                client,
                _sim: Some(sim),
            }
        }
    }
}

async fn client_from_kubeconfig(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("{KUBECONFIG_ENV}={}: cannot read it: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{KUBECONFIG_ENV}={}: unusable: {e}", path.display()));
    Client::try_from(config).unwrap_or_else(|e| panic!("no client for {}: {e}", path.display()))
}

/// Sends one request as replay.py's `call` does.
async fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    ctype: Option<&str>,
) -> Reply {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, RECORDER_USER_AGENT);
    if body.is_some() {
        request = request.header(CONTENT_TYPE, ctype.unwrap_or("application/json"));
    }
    let request = request
        .body(kube::client::Body::from(body.unwrap_or_default().to_vec()))
        .unwrap_or_else(|e| panic!("cannot build request {method} {path}: {e}"));
    match tokio::time::timeout(REQUEST_TIMEOUT, send(client, request)).await {
        Ok(Ok((status, raw))) => Reply {
            status,
            body: parse_body(&raw),
        },
        Ok(Err(e)) => connection_error(e),
        Err(_) => connection_error(format!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

async fn send(
    client: &Client,
    request: http::Request<kube::client::Body>,
) -> Result<(u16, Vec<u8>), kube::Error> {
    let response = client.send(request).await?;
    let status = response.status().as_u16();
    let raw = response.into_body().collect_bytes().await?;
    Ok((status, raw.to_vec()))
}

fn connection_error(error: impl std::fmt::Display) -> Reply {
    Reply {
        status: 0,
        body: Value::String(format!("<connection error: {error}>")),
    }
}

/// An empty body is null, JSON is parsed, anything else is kept as text.
fn parse_body(raw: &[u8]) -> Value {
    if raw.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into_owned()))
}

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// The `*.json` files of a folder of the vendored data, sorted by name.
fn json_files(folder: &str) -> Vec<PathBuf> {
    let dir = conformance_dir().join(folder);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no recorded documents in {}",
        dir.display()
    );
    files
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

fn load_cases() -> Vec<Case> {
    json_files("cases")
        .iter()
        .map(|path| read_json(path))
        .collect()
}

/// Creates the case's namespace; like replay.py, whatever the answer (409 if it exists).
async fn create_namespace(client: &Client, name: &str) {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let reply = call(
        client,
        "POST",
        "/api/v1/namespaces",
        Some(body.to_string().as_bytes()),
        None,
    )
    .await;
    if !matches!(reply.status, 201 | 409) {
        println!(
            "note: creating namespace {name} answered {}: {}",
            reply.status,
            short(&reply.body, 200)
        );
    }
}

/// The bytes to send for a recorded request body, uid tokens turned into this server's uids.
fn request_body(recorded: &Value, norm: &Norm) -> Option<Vec<u8>> {
    match recorded {
        Value::Null => None,
        Value::String(text) => Some(text.clone().into_bytes()),
        other => Some(norm.unwalk(other).to_string().into_bytes()),
    }
}

/// The differences between a reply and the recorded response: status, then body.
fn compare_reply(want: &RecordedResponse, reply: &Reply, norm: &mut Norm) -> Vec<String> {
    let got = canon(&norm.walk(&reply.body));
    let mut problems = Vec::new();
    if reply.status != want.status {
        problems.push(format!(
            "status: expected {} got {}",
            want.status, reply.status
        ));
    }
    problems.extend(diff(&canon(&want.body), &got));
    problems
}

/// Replays one step, retrying a GET until it matches or [`GET_RETRY_FOR`] has passed;
/// tokens assigned by a failed try are forgotten. Returns the differences of the last try.
async fn replay_step(client: &Client, norm: &mut Norm, step: &Step) -> Vec<String> {
    let request = &step.request;
    let body = request_body(&request.body, norm);
    let retry_for = if request.method == "GET" {
        GET_RETRY_FOR
    } else {
        Duration::ZERO
    };
    let deadline = Instant::now() + retry_for;
    loop {
        let reply = call(
            client,
            &request.method,
            &request.path,
            body.as_deref(),
            request.content_type.as_deref(),
        )
        .await;
        let before = norm.clone();
        let problems = compare_reply(&step.response, &reply, norm);
        if problems.is_empty() || Instant::now() > deadline {
            return problems;
        }
        *norm = before;
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Replays every case, printing each mismatch; returns (matching steps, steps).
async fn replay_cases(client: &Client, cases: &[Case]) -> (usize, usize) {
    let (mut ok, mut total) = (0, 0);
    for case in cases {
        create_namespace(client, &case.namespace).await;
        let mut norm = Norm::default();
        for step in &case.steps {
            let problems = replay_step(client, &mut norm, step).await;
            total += 1;
            if problems.is_empty() {
                ok += 1;
            } else {
                let shown = &problems[..problems.len().min(DIFFS_PER_STEP)];
                println!(
                    "MISMATCH {} / {}: {}",
                    case.name,
                    step.title,
                    shown.join("; ")
                );
            }
        }
    }
    (ok, total)
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_cases_replay() {
    let server = connect().await;
    let (ok, total) = replay_cases(&server.client, &load_cases()).await;
    println!("{ok}/{total} steps match");
    assert_eq!(
        ok,
        total,
        "{} of {total} recorded steps do not match (see MISMATCH lines)",
        total - ok
    );
}

// ---------------------------------------------------------------------------------------
// Discovery

/// The path a recorded discovery document was served at.
fn discovery_path(file: &Path, doc: &Value) -> String {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    match stem {
        "version" => "/version".to_owned(),
        "api" => "/api".to_owned(),
        "apis" => "/apis".to_owned(),
        _ => {
            let group_version = doc["groupVersion"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no groupVersion to tell its path", file.display()));
            let root = if group_version.contains('/') {
                "/apis"
            } else {
                "/api"
            };
            format!("{root}/{group_version}")
        }
    }
}

/// /version: major and minor equal, gitVersion of the same minor release.
fn compare_version(want: &Value, got: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["major", "minor"] {
        diff_at(&want[key], &got[key], &format!("/{key}"), &mut problems);
    }
    let release = format!(
        "v{}.{}",
        want["major"].as_str().unwrap_or("?"),
        want["minor"].as_str().unwrap_or("?")
    );
    if !got["gitVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with(&release))
    {
        problems.push(format!(
            "/gitVersion: expected {release}.* got {}",
            short(&got["gitVersion"], 80)
        ));
    }
    problems
}

/// Compares a document whose `list_key` array holds entries named by `name`: each recorded
/// entry must be served equal, in any order; extra entries are reported unless `allow_extra`.
/// The other keys compare exactly.
fn compare_named_list(want: &Value, got: &Value, list_key: &str, allow_extra: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let (Some(want_items), Some(got_items)) = (want[list_key].as_array(), got[list_key].as_array())
    else {
        diff_at(want, got, "", &mut problems);
        return problems;
    };
    diff_at(
        &without(want, list_key),
        &without(got, list_key),
        "",
        &mut problems,
    );
    for item in want_items {
        let name = &item["name"];
        let at = format!("/{list_key}/{}", name.as_str().unwrap_or("?"));
        match got_items.iter().find(|g| &g["name"] == name) {
            Some(served) => diff_at(item, served, &at, &mut problems),
            None => problems.push(format!("{at}: missing")),
        }
    }
    if !allow_extra {
        for served in got_items
            .iter()
            .filter(|g| !want_items.iter().any(|w| w["name"] == g["name"]))
        {
            problems.push(format!("/{list_key}: unexpected {}", short(served, 60)));
        }
    }
    problems
}

/// A copy of an object without one key.
fn without(value: &Value, key: &str) -> Value {
    let mut copy = value.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove(key);
    }
    copy
}

/// Compares a served discovery document with the recorded one: /apis and /apis/{g}/{v} on
/// the recorded groups and resources only (a simulator may serve more, such as a CRD's
/// group), /api/v1 on exactly the recorded resources, /version on the release.
fn compare_discovery(path: &str, want: &Value, got: &Value) -> Vec<String> {
    match path {
        "/version" => compare_version(want, got),
        "/apis" => compare_named_list(want, got, "groups", true),
        "/api" => diff(want, got),
        _ if path.starts_with("/apis/") => compare_named_list(want, got, "resources", true),
        _ => compare_named_list(want, got, "resources", false),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_matches_recorded_documents() {
    let server = connect().await;
    let files = json_files("discovery");
    let mut ok = 0;
    for file in &files {
        let want: Value = read_json(file);
        let path = discovery_path(file, &want);
        let reply = call(&server.client, "GET", &path, None, None).await;
        let mut problems = Vec::new();
        if reply.status != 200 {
            problems.push(format!("status: expected 200 got {}", reply.status));
        }
        problems.extend(compare_discovery(&path, &want, &reply.body));
        if problems.is_empty() {
            ok += 1;
        } else {
            println!("MISMATCH discovery / {path}: {}", problems.join("; "));
        }
    }
    println!("{ok}/{} discovery documents match", files.len());
    assert_eq!(
        ok,
        files.len(),
        "discovery documents differ (see MISMATCH lines)"
    );
}

// ---------------------------------------------------------------------------------------
// Offline checks of the replay itself

/// Puts made-up server values in place of the tokens of a recorded body.
fn denormalize(recorded: &Value) -> Value {
    let mut text = recorded.to_string();
    text = text.replace("<time>", "2025-01-01T00:00:00Z");
    text = text.replace("<generated>", "x7k2q");
    text = text.replace("<continue>", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
    for n in (1..100).rev() {
        text = text.replace(&format!("<rv{n}>"), &format!("{}", 1000 + n));
        text = text.replace(
            &format!("<uid{n}>"),
            &format!("00000000-0000-4000-8000-{n:012}"),
        );
        text = text.replace(&format!("<ip{n}>"), &format!("10.96.0.{n}"));
    }
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("denormalized body no longer parses: {e}"));
    uid_first(value)
}

/// Moves each object's `uid` to the front, as a real server writes `metadata.uid` before
/// `labels` (the recordings are stored with sorted keys). It matters: a uid inside a string
/// only becomes a token once the `uid` key holding it has been walked.
fn uid_first(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let (uid, rest): (Vec<_>, Vec<_>) = map.into_iter().partition(|(k, _)| k == "uid");
            Value::Object(
                uid.into_iter()
                    .chain(rest)
                    .map(|(k, v)| (k, uid_first(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(uid_first).collect()),
        other => other,
    }
}

/// A server answering exactly what was recorded, with real-looking values, matches every
/// step: the normalization reproduces each recorded body, and every uid token of a request
/// body is known by then.
#[test]
fn recorded_bodies_survive_a_round_trip() {
    for case in load_cases() {
        let mut norm = Norm::default();
        for step in &case.steps {
            if let Some(body) = request_body(&step.request.body, &norm) {
                let body = String::from_utf8_lossy(&body).into_owned();
                assert!(
                    !body.contains("<uid"),
                    "{} / {}: unknown uid token in {body}",
                    case.name,
                    step.title
                );
            }
            let reply = Reply {
                status: step.response.status,
                body: denormalize(&step.response.body),
            };
            let problems = compare_reply(&step.response, &reply, &mut norm);
            assert!(
                problems.is_empty(),
                "{} / {}: {problems:?}",
                case.name,
                step.title
            );
        }
    }
}

#[test]
fn discovery_paths_follow_the_documents() {
    let paths: Vec<String> = json_files("discovery")
        .iter()
        .map(|file| discovery_path(file, &read_json(file)))
        .collect();
    for path in [
        "/version",
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps/v1",
        "/apis/apiextensions.k8s.io/v1",
    ] {
        assert!(
            paths.iter().any(|p| p == path),
            "{path} not among {paths:?}"
        );
    }
}
