//! The receivers through the axum router (`tower::ServiceExt::oneshot`):
//! each verification, and what reaches the loop's wake channel.

use super::*;
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

const SECRET: &str = "It's a Secret to Everybody";

struct Fixture {
    _dir: tempfile::TempDir,
    files: Secrets,
    wake: mpsc::Receiver<()>,
    role: watch::Sender<Role>,
    router: Router,
    metrics: Arc<Metrics>,
}

fn fixture(tracking: Tracking) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{SECRET}\n")).expect("write");
        Some(p)
    };
    let files = Secrets {
        github: file("github"),
        gitlab: file("gitlab"),
        generic: file("generic"),
    };
    let (tx, wake) = mpsc::channel(1);
    let (role, role_rx) = watch::channel(Role::Leader);
    let metrics = Metrics::new();
    let hooks = Arc::new(Webhooks::new(
        files.clone(),
        tracking,
        tx,
        role_rx,
        metrics.clone(),
    ));
    Fixture {
        _dir: dir,
        files,
        wake,
        role,
        router: hooks.router(),
        metrics,
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn push(reference: &str) -> Vec<u8> {
    serde_json::json!({
        "ref": reference,
        "before": "0000000000000000000000000000000000000000",
        "after": "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
        "repository": {"full_name": "acme/dataplane"},
    })
    .to_string()
    .into_bytes()
}

impl Fixture {
    async fn send(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
        let mut req = HttpRequest::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), BODY_LIMIT)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).to_string())
    }

    async fn github(&self, event: &str, signature: Option<&str>, body: Vec<u8>) -> (u16, String) {
        let mut h = vec![("x-github-event", event)];
        if let Some(s) = signature {
            h.push(("x-hub-signature-256", s));
        }
        self.send("/hooks/github", &h, body).await
    }

    /// Whether a wake is waiting (and takes it).
    fn woken(&mut self) -> bool {
        self.wake.try_recv().is_ok()
    }

    fn count(&self, provider: &str, result: &str) -> f64 {
        let needle = format!(
            "wavesync_webhook_requests_total{{provider=\"{provider}\",result=\"{result}\"}} "
        );
        self.metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&needle).and_then(|v| v.parse().ok()))
            .unwrap_or(0.0)
    }
}

fn main() -> Tracking {
    Tracking::Branch("main".into())
}

#[tokio::test]
async fn a_signed_github_push_to_the_tracked_branch_wakes_the_loop() {
    let mut f = fixture(main());
    let body = push("refs/heads/main");
    let (status, text) = f.github("push", Some(&sign(SECRET, &body)), body).await;
    assert_eq!(status, 202, "{text}");
    assert!(text.contains("\"result\":\"triggered\""), "{text}");
    assert!(f.woken());
    assert_eq!(f.count("github", "triggered"), 1.0);
}

#[tokio::test]
async fn a_forged_missing_or_malformed_github_signature_is_401_and_does_nothing() {
    let mut f = fixture(main());
    let body = push("refs/heads/main");
    let forged = sign("another secret", &body);
    let good = sign(SECRET, &body);
    let sha1 = good.replace("sha256=", "sha1=");
    let short = &good[..good.len() - 2];
    let not_hex = format!("sha256={}", "zz".repeat(32));
    for sig in [
        Some(forged.as_str()),
        None,
        Some(sha1.as_str()),
        Some(short),
        Some(not_hex.as_str()),
        Some(""),
    ] {
        let (status, text) = f.github("push", sig, body.clone()).await;
        assert_eq!(status, 401, "{sig:?}: {text}");
        assert!(!text.contains(SECRET), "{text}");
        assert!(!f.woken(), "{sig:?} woke the loop");
    }
    // The body is what is signed: a good signature of another body fails.
    let (status, _) = f
        .github("push", Some(&good), push("refs/heads/main-evil"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(f.count("github", "unauthorized"), 7.0);
    assert_eq!(f.count("github", "triggered"), 0.0);
}

#[tokio::test]
async fn a_github_ping_is_answered_and_nothing_else() {
    let mut f = fixture(main());
    let body = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#.to_vec();
    let (status, text) = f.github("ping", Some(&sign(SECRET, &body)), body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("pong"), "{text}");
    assert!(!f.woken());
    // An unsigned ping is refused like anything else.
    let (status, _) = f.github("ping", None, b"{}".to_vec()).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_push_to_another_branch_or_a_tag_is_ignored_with_a_reason() {
    let mut f = fixture(main());
    for reference in ["refs/heads/dev", "refs/tags/main", "refs/heads/main2"] {
        let body = push(reference);
        let (status, text) = f.github("push", Some(&sign(SECRET, &body)), body).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"result\":\"ignored\""), "{text}");
        assert!(text.contains("the agent tracks branch main"), "{text}");
        assert!(!f.woken());
    }
    let body = br#"{"action": "opened"}"#.to_vec();
    let (status, text) = f.github("issues", Some(&sign(SECRET, &body)), body).await;
    assert_eq!(
        (status, text.contains("is not a push")),
        (200, true),
        "{text}"
    );
    assert_eq!(f.count("github", "ignored"), 4.0);
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let mut f = fixture(main());
    let body = vec![b' '; BODY_LIMIT + 1];
    let (status, text) = f.github("push", Some(&sign(SECRET, &body)), body).await;
    assert_eq!(status, 413, "{text}");
    assert!(!f.woken());
    assert_eq!(f.count("github", "too_large"), 1.0);
}

#[tokio::test]
async fn an_authentic_body_that_is_not_a_json_push_is_400() {
    let mut f = fixture(main());
    let form = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D".to_vec();
    let (status, text) = f.github("push", Some(&sign(SECRET, &form)), form).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("application/json"), "{text}");
    let no_ref = br#"{"after": "abc"}"#.to_vec();
    let (status, _) = f.github("push", Some(&sign(SECRET, &no_ref)), no_ref).await;
    assert_eq!(status, 400);
    assert!(!f.woken());
    assert_eq!(f.count("github", "invalid"), 2.0);
}

#[tokio::test]
async fn gitlab_compares_the_token_and_reads_push_and_tag_push_hooks() {
    let mut f = fixture(Tracking::Tag("v1".into()));
    let send = |token: Option<&'static str>, event: &'static str, body: Vec<u8>| {
        let mut h = vec![("x-gitlab-event", event)];
        if let Some(t) = token {
            h.push(("x-gitlab-token", t));
        }
        (h, body)
    };
    let mut tag = push("refs/tags/v1");
    let (h, b) = send(Some(SECRET), "Tag Push Hook", tag.clone());
    let (status, text) = f.send("/hooks/gitlab", &h, b).await;
    assert_eq!(status, 202, "{text}");
    assert!(f.woken());
    for token in [None, Some("It's a secret to everybody"), Some("")] {
        let (h, b) = send(token, "Tag Push Hook", tag.clone());
        assert_eq!(f.send("/hooks/gitlab", &h, b).await.0, 401, "{token:?}");
        assert!(!f.woken());
    }
    // A GitLab payload's checkout_sha; a branch push while a tag is tracked.
    tag = br#"{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"abc"}"#.to_vec();
    let (h, b) = send(Some(SECRET), "Push Hook", tag);
    let (status, text) = f.send("/hooks/gitlab", &h, b).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("the agent tracks tag v1"), "{text}");
    let (h, b) = send(Some(SECRET), "Merge Request Hook", b"{}".to_vec());
    assert_eq!(f.send("/hooks/gitlab", &h, b).await.0, 200);
    assert!(!f.woken());
    // A GitHub-style signature is not a GitLab token.
    let body = push("refs/tags/v1");
    let h = [
        ("x-gitlab-event", "Tag Push Hook"),
        ("x-hub-signature-256", "sha256=00"),
    ];
    assert_eq!(f.send("/hooks/gitlab", &h, body).await.0, 401);
}

#[tokio::test]
async fn the_generic_receiver_takes_a_signed_ref_or_a_bare_sync_now() {
    let mut f = fixture(main());
    let generic = |body: &[u8]| {
        let sig = sign(SECRET, body);
        (
            vec![("x-wavesync-signature-256".to_string(), sig)],
            body.to_vec(),
        )
    };
    for (body, want) in [
        (&br#"{"ref": "refs/heads/main", "after": "abc"}"#[..], 202),
        (&b""[..], 202),
        (&b"{}"[..], 202),
        (&br#"{"reason": "manual"}"#[..], 202),
        (&br#"{"ref": "refs/heads/dev"}"#[..], 200),
        (&b"not json"[..], 400),
    ] {
        let (h, b) = generic(body);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, text) = f.send("/hooks/generic", &h, b).await;
        assert_eq!(status, want, "{}: {text}", String::from_utf8_lossy(body));
        assert_eq!(f.woken(), want == 202);
    }
    let (status, _) = f.send("/hooks/generic", &[], b"{}".to_vec()).await;
    assert_eq!(status, 401);
    assert!(!f.woken());
}

#[tokio::test]
async fn bursts_and_replays_coalesce_into_one_wake() {
    let mut f = fixture(main());
    let body = push("refs/heads/main");
    let sig = sign(SECRET, &body);
    for id in ["d-1", "d-2", "d-3"] {
        let h = [
            ("x-github-event", "push"),
            ("x-hub-signature-256", sig.as_str()),
            ("x-github-delivery", id),
        ];
        assert_eq!(f.send("/hooks/github", &h, body.clone()).await.0, 202);
    }
    assert!(f.woken());
    assert!(!f.woken(), "one pass for the burst");
    // The same delivery again (a redelivery) is answered and ignored.
    let h = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", sig.as_str()),
        ("x-github-delivery", "d-2"),
    ];
    let (status, text) = f.send("/hooks/github", &h, body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("already triggered"), "{text}");
    assert!(!f.woken());
}

#[tokio::test]
async fn a_standby_answers_503_and_does_not_wake() {
    let mut f = fixture(main());
    f.role.send_replace(Role::Standby);
    let body = push("refs/heads/main");
    let (status, text) = f.github("push", Some(&sign(SECRET, &body)), body).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("standby"), "{text}");
    assert!(!f.woken());
}

#[tokio::test]
async fn a_rotated_secret_applies_at_the_next_request() {
    let mut f = fixture(main());
    let body = push("refs/heads/main");
    let path = f.files.github.clone().expect("configured");
    std::fs::write(&path, "rotated").expect("write");
    let (status, _) = f
        .github("push", Some(&sign(SECRET, &body)), body.clone())
        .await;
    assert_eq!(status, 401);
    let (status, _) = f
        .github("push", Some(&sign("rotated", &body)), body.clone())
        .await;
    assert_eq!(status, 202);
    assert!(f.woken());
    std::fs::remove_file(&path).expect("remove");
    let (status, text) = f.github("push", Some(&sign("rotated", &body)), body).await;
    assert_eq!(status, 503, "{text}");
    assert!(!f.woken());
}

#[tokio::test]
async fn an_unconfigured_receiver_is_404_and_secrets_are_checked_at_start() {
    let (tx, _rx) = mpsc::channel(1);
    let (_role, role_rx) = watch::channel(Role::Leader);
    let dir = tempfile::tempdir().expect("tempdir");
    let gh = dir.path().join("gh");
    std::fs::write(&gh, "s").expect("write");
    let secrets = Secrets {
        github: Some(gh),
        ..Default::default()
    };
    assert!(secrets.check().is_ok());
    let router: Router =
        Arc::new(Webhooks::new(secrets, main(), tx, role_rx, Metrics::new())).router();
    for path in ["/hooks/gitlab", "/hooks/generic"] {
        let req = HttpRequest::builder()
            .method("POST")
            .uri(path)
            .body(Body::from("{}"))
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").expect("write");
    let bad = Secrets {
        gitlab: Some(empty),
        generic: Some(dir.path().join("missing")),
        ..Default::default()
    };
    let e = bad.check().expect_err("empty and missing files");
    assert!(
        e.contains("gitlab webhook secret file") && e.contains("empty"),
        "{e}"
    );
}

#[test]
fn refs_match_only_what_is_tracked() {
    let (tx, _rx) = mpsc::channel(1);
    let (_r, role) = watch::channel(Role::Leader);
    let w = Webhooks::new(
        Secrets::default(),
        Tracking::Commit("abcd".into()),
        tx,
        role,
        Metrics::new(),
    );
    assert!(
        w.tracked("refs/heads/main")
            .is_err_and(|e| e.contains("fixed commit"))
    );
}
