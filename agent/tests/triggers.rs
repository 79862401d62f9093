//! Triggers end to end: the real `wavesync` binary against the simulated
//! API server. A signed GitHub push wakes an agent that would otherwise not
//! poll for an hour; a forged one, or one for another branch, does nothing;
//! with commit verification on, an unsigned head is refused and the cluster
//! keeps the previous revision (agent and `wavesync sync`, with signatures
//! made in-process and by git itself with `gpg.format=ssh`).

#![allow(clippy::unwrap_used)]

mod common;

use common::agent::*;
use common::*;
use hmac::{KeyInit, Mac};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey, SshSig};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wavesync::state::{Phase, Record};

const SECRET: &str = "push-secret-for-tests";

/// POST `body` to the agent's `path`: (status, body).
async fn post(port: u16, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn push_body(reference: &str, after: &str) -> Vec<u8> {
    serde_json::json!({"ref": reference, "after": after, "repository": {"full_name": "acme/shop"}})
        .to_string()
        .into_bytes()
}

async fn settings_value(env: &Env) -> Option<String> {
    env.get("v1", "ConfigMap", "shop", "settings")
        .await
        .and_then(|c| c["data"]["value"].as_str().map(String::from))
}

async fn applied(env: &Env, revision: &str) -> Option<Record> {
    try_record(env, WAVESET)
        .await
        .filter(|r| r.phase == Phase::Ready && r.applied_revision.as_deref() == Some(revision))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_github_push_syncs_at_once_and_a_forged_one_or_another_branch_does_nothing() {
    let env = Env::start().await;
    write_standard(&env.repo);
    let first = env.repo.commit("first");
    let secret = env.temp().join("github-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let mut envs = kube_env(&env, &env.repo);
    // Only the webhook can bring the next revision in.
    envs.push(("WAVESYNC_INTERVAL", "1h".into()));
    envs.push((
        "WAVESYNC_WEBHOOK_GITHUB_SECRET_FILE",
        secret.display().to_string(),
    ));
    let agent = AgentProc::start("agent-a", &envs, &[]);
    within(
        &agent,
        Duration::from_secs(60),
        "the first revision Ready",
        || applied(&env, &first),
    )
    .await;

    env.repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    let second = env.repo.commit("green");
    let body = push_body("refs/heads/main", &second);

    // Forged: 401, and nothing moves.
    let forged = github_signature("not the secret", &body);
    let (status, text) = post(
        agent.port,
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", forged),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 401, "{text}");
    // Another branch: answered, ignored.
    let other = push_body("refs/heads/dev", &second);
    let (status, text) = post(
        agent.port,
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", github_signature(SECRET, &other)),
        ],
        &other,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("ignored") && text.contains("branch main"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = try_record(&env, WAVESET).await.unwrap();
    assert_eq!(r.applied_revision.as_deref(), Some(first.as_str()));
    assert_eq!(settings_value(&env).await.as_deref(), Some("blue"));

    // Signed, for the tracked branch: the new revision is applied at once.
    let pushed = Instant::now();
    let (status, text) = post(
        agent.port,
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", github_signature(SECRET, &body)),
            (
                "X-GitHub-Delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            ),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 202, "{text}");
    within(
        &agent,
        Duration::from_secs(10),
        "the pushed revision Ready",
        || applied(&env, &second),
    )
    .await;
    println!(
        "push-to-applied through the webhook: {:.2}s",
        pushed.elapsed().as_secs_f64()
    );
    assert_eq!(settings_value(&env).await.as_deref(), Some("green"));
    let m = agent.metrics().await;
    let count = |result| {
        metric(
            &m,
            "wavesync_webhook_requests_total",
            &[("provider", "github"), ("result", result)],
        )
    };
    assert_eq!(count("triggered"), Some(1.0));
    assert_eq!(count("unauthorized"), Some(1.0));
    assert_eq!(count("ignored"), Some(1.0));
    // Receivers without a secret are off.
    let (status, _) = post(agent.port, "/hooks/gitlab", &[], b"{}").await;
    assert_eq!(status, 404);
    assert!(!agent.log().contains(SECRET), "the secret was logged");
}

// ------------------------------------------------------------ signatures

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

fn allowed_signers(path: &Path, principal: &str, key: &PrivateKey) {
    let public = key.public_key().to_openssh().unwrap();
    std::fs::write(
        path,
        format!("# who may deploy\n{principal} namespaces=\"git\" {public}\n"),
    )
    .unwrap();
}

/// Commits the working tree of `repo`, signed with `key` (namespace git).
fn commit_signed(repo: &TestRepo, message: &str, key: &PrivateKey) -> String {
    let git = git2::Repository::open(repo.path()).unwrap();
    let mut index = git.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("wavesync tests", "tests@wavesync.invalid").unwrap();
    let parent = git.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let buf = git
        .commit_create_buffer(&sig, &sig, message, &tree, &parents)
        .unwrap();
    let content = buf.as_str().unwrap();
    let armored = SshSig::sign(key, "git", HashAlg::Sha512, content.as_bytes())
        .unwrap()
        .to_pem(LineEnding::LF)
        .unwrap();
    let oid = git.commit_signed(content, &armored, None).unwrap();
    git.reference("refs/heads/main", oid, true, "signed commit")
        .unwrap();
    oid.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_refuses_an_unsigned_head_keeps_the_previous_revision_and_says_so() {
    let env = Env::start().await;
    let alice = key(7);
    let signers = env.temp().join("allowed_signers");
    allowed_signers(&signers, "alice@example.com", &alice);
    write_standard(&env.repo);
    let good = commit_signed(&env.repo, "signed", &alice);
    let mut envs = kube_env(&env, &env.repo);
    envs.push((
        "WAVESYNC_VERIFY_COMMITS_ALLOWED_SIGNERS",
        signers.display().to_string(),
    ));
    let agent = AgentProc::start("agent-a", &envs, &[]);
    within(
        &agent,
        Duration::from_secs(60),
        "the signed revision Ready",
        || applied(&env, &good),
    )
    .await;

    env.repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    let unsigned = env.repo.commit("unsigned");
    let r = within(
        &agent,
        Duration::from_secs(20),
        "the refusal in the record",
        || async {
            try_record(&env, WAVESET)
                .await
                .filter(|r| r.refused.is_some())
        },
    )
    .await;
    let refused = r.refused.clone().unwrap();
    assert_eq!(refused.revision, unsigned);
    assert_eq!(refused.reason, "is not signed");
    assert_eq!(r.applied_revision.as_deref(), Some(good.as_str()));
    assert_eq!(r.phase, Phase::Ready);
    assert_eq!(settings_value(&env).await.as_deref(), Some("blue"));
    // One Warning Event, however many polls refuse it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let warnings: Vec<_> = events(&env)
        .await
        .into_iter()
        .filter(|e| e["reason"] == "RevisionRefused")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["type"], "Warning");
    let note = warnings[0]["note"].as_str().unwrap();
    assert_eq!(
        note,
        format!("commit {unsigned} is not signed; it is not deployed")
    );
    assert!(warnings[0].get("series").is_none(), "{warnings:?}");
    let m = agent.metrics().await;
    assert_eq!(
        metric(&m, "wavesync_revision_refused", &[("waveset", WAVESET)]),
        Some(1.0)
    );
    let logged = agent.log();
    assert_eq!(
        logged.matches("refused by signature verification").count(),
        1,
        "{logged}"
    );

    // A signed commit on top: applied, and the refusal is gone.
    let next = commit_signed(&env.repo, "signed again", &alice);
    let r = within(
        &agent,
        Duration::from_secs(30),
        "the next signed revision Ready",
        || applied(&env, &next),
    )
    .await;
    assert_eq!(r.refused, None);
    assert_eq!(settings_value(&env).await.as_deref(), Some("green"));
    let m = agent.metrics().await;
    assert_eq!(
        metric(&m, "wavesync_revision_refused", &[("waveset", WAVESET)]),
        Some(0.0)
    );
}

/// `wavesync sync` with a repository whose commits git signs itself.
fn sync_cli(env: &Env, repo: &Path, signers: &Path) -> std::process::Output {
    let kc = env.temp().join("kubeconfig");
    env.sim.write_kubeconfig(&kc).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavesync"));
    for (k, _) in std::env::vars() {
        if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.args(["sync", "--repo"])
        .arg(format!("file://{}", repo.display()))
        .arg("--verify-commits-allowed-signers")
        .arg(signers)
        .args(["--waveset", WAVESET])
        .env("WAVESYNC_KUBECONFIG", &kc)
        .env("WAVESYNC_CACHE", env.temp().join("cli-cache"))
        .env("WAVESYNC_HELM_ENGINE", "libhelm")
        .output()
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.com",
            "-c",
            "gpg.format=ssh",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn wavesync_sync_deploys_a_commit_git_signed_with_ssh_and_refuses_an_unsigned_one() {
    let tools = ["git", "ssh-keygen"].iter().all(|t| {
        Command::new(t).arg("-V").output().is_ok()
            || Command::new(t).arg("--version").output().is_ok()
    });
    if !tools {
        eprintln!("skipped: git or ssh-keygen is not installed");
        return;
    }
    let env = Env::start().await;
    let work = env.temp().join("signed");
    std::fs::create_dir_all(&work).unwrap();
    // One key of each type ssh-keygen makes; all listed.
    let mut listed = String::from("# deployers\n");
    for t in ["ed25519", "ecdsa", "rsa"] {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", t, "-N", "", "-C", t, "-f"])
            .arg(work.join(t))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = std::fs::read_to_string(work.join(format!("{t}.pub"))).unwrap();
        listed.push_str(&format!("{t}@example.com {public}"));
    }
    let keyfile = work.join("ed25519");
    let signers = work.join("allowed_signers");
    std::fs::write(&signers, listed).unwrap();
    // The repository, committed by git: signed, then not.
    write_standard(&env.repo);
    let dir = env.repo.path();
    git(dir, &["add", "-A"]);
    let signing_key = format!("user.signingkey={}", keyfile.display());
    git(
        dir,
        &[
            "-c",
            &signing_key,
            "commit",
            "-q",
            "-S",
            "-m",
            "signed by git",
        ],
    );
    let good = git(dir, &["rev-parse", "HEAD"]);

    let out = sync_cli(&env, dir, &signers);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.record().await.applied_revision.as_deref(),
        Some(good.as_str())
    );
    // ECDSA and RSA signatures (rsa-sha2-512) made by ssh-keygen verify too.
    for t in ["ecdsa", "rsa"] {
        let key = format!("user.signingkey={}", work.join(t).display());
        git(
            dir,
            &["-c", &key, "commit", "-q", "--allow-empty", "-S", "-m", t],
        );
        let head = git(dir, &["rev-parse", "HEAD"]);
        let out = sync_cli(&env, dir, &signers);
        assert!(
            out.status.success(),
            "{t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            env.record().await.applied_revision.as_deref(),
            Some(head.as_str())
        );
    }
    let good = git(dir, &["rev-parse", "HEAD"]);

    env.repo.write(
        "waves/base/settings.yaml",
        &configmap("settings", "shop", "green", &[]),
    );
    git(dir, &["commit", "-q", "-a", "-m", "unsigned"]);
    let unsigned = git(dir, &["rev-parse", "HEAD"]);
    let out = sync_cli(&env, dir, &signers);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unsigned head was deployed");
    assert!(
        stderr.contains(&format!(
            "commit {unsigned} is not signed; it is not deployed"
        )),
        "{stderr}"
    );
    assert_eq!(settings_value(&env).await.as_deref(), Some("blue"));
    assert_eq!(
        env.record().await.applied_revision.as_deref(),
        Some(good.as_str())
    );

    // Signed by a key the file does not list: refused, naming the key.
    let other = work.join("other");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    let other_key = format!("user.signingkey={}", other.display());
    git(
        dir,
        &[
            "-c",
            &other_key,
            "commit",
            "-q",
            "--allow-empty",
            "-S",
            "-m",
            "someone else",
        ],
    );
    let out = sync_cli(&env, dir, &signers);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is signed by SHA256:") && stderr.contains("does not list"),
        "{stderr}"
    );
    assert_eq!(settings_value(&env).await.as_deref(), Some("blue"));
}
