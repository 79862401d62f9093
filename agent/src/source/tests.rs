//! End-to-end tests of the source stage on repositories made with git2 in
//! temporary directories, reached as local paths and `file://` URLs, plus a
//! tiny HTTP server for authentication failures.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use git2::{Oid, Repository, RepositoryInitOptions, Signature};
use tempfile::TempDir;

use super::*;
use crate::error::{Categorized, Category};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A non-bare origin repository on branch `main`.
struct Origin {
    dir: TempDir,
    repo: Repository,
}

impl Origin {
    fn new() -> Result<Self, git2::Error> {
        let dir = tempfile::tempdir().map_err(|e| git2::Error::from_str(&e.to_string()))?;
        let mut opts = RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(dir.path(), &opts)?;
        Ok(Origin { dir, repo })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Writes `file` and commits it on the current branch.
    fn commit(&self, file: &str, content: &str) -> Result<Oid, Box<dyn std::error::Error>> {
        std::fs::write(self.dir.path().join(file), content)?;
        let mut index = self.repo.index()?;
        index.add_path(Path::new(file))?;
        index.write()?;
        let tree = self.repo.find_tree(index.write_tree()?)?;
        let sig = Signature::now("t", "t@example.com")?;
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        Ok(self.repo.commit(
            Some("HEAD"),
            &sig,
            &sig,
            &format!("write {file}"),
            &tree,
            &parents,
        )?)
    }

    fn tag(&self, name: &str, target: Oid, annotated: bool) -> Result<(), git2::Error> {
        let obj = self.repo.find_object(target, None)?;
        if annotated {
            let sig = Signature::now("t", "t@example.com")?;
            self.repo.tag(name, &obj, &sig, "release", false)?;
        } else {
            self.repo.tag_lightweight(name, &obj, false)?;
        }
        Ok(())
    }
}

fn spec(url: String, tracking: Tracking, cache: &Path) -> SourceSpec {
    SourceSpec {
        url,
        tracking,
        auth: Auth::None,
        cache_dir: cache.to_path_buf(),
        verify: None,
    }
}

fn packs(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("repo/objects/pack"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
                .count()
        })
        .unwrap_or(0)
}

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| format!("<{e}>"))
}

#[test]
fn clone_then_resync_unchanged_fetches_nothing() -> TestResult {
    let origin = Origin::new()?;
    let first = origin.commit("a.yaml", "kind: A\n")?;
    let cache = tempfile::tempdir()?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Branch("main".into()),
        cache.path(),
    ));

    let s1 = src.sync()?;
    assert!(s1.changed);
    assert_eq!(s1.revision.0, first.to_string());
    assert_eq!(read(&s1.root, "a.yaml"), "kind: A\n");
    assert!(!s1.root.join(".git").exists());
    let clone = src.last_fetch().ok_or("no stats")?;
    assert!(clone.downloaded && clone.received_objects > 0, "{clone:?}");
    let packs_after_clone = packs(cache.path());

    let s2 = src.sync()?;
    assert!(!s2.changed);
    assert_eq!(s2.revision, s1.revision);
    assert_eq!(s2.root, s1.root);
    let again = src.last_fetch().ok_or("no stats")?;
    assert!(again.contacted && !again.downloaded, "{again:?}");
    assert_eq!(again.received_objects, 0);
    assert_eq!(packs(cache.path()), packs_after_clone);
    Ok(())
}

#[test]
fn a_new_commit_is_a_new_snapshot_and_old_trees_are_pruned() -> TestResult {
    let origin = Origin::new()?;
    origin.commit("a.yaml", "v: 1\n")?;
    let cache = tempfile::tempdir()?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Branch("main".into()),
        cache.path(),
    ));
    let s1 = src.sync()?;

    let second = origin.commit("a.yaml", "v: 2\n")?;
    let s2 = src.sync()?;
    assert!(s2.changed);
    assert_eq!(s2.revision.0, second.to_string());
    assert_eq!(read(&s2.root, "a.yaml"), "v: 2\n");
    assert_ne!(s2.root, s1.root);
    let stats = src.last_fetch().ok_or("no stats")?;
    assert!(stats.downloaded && stats.received_objects > 0, "{stats:?}");
    // The previous tree is untouched: a render may still be reading it.
    assert_eq!(read(&s1.root, "a.yaml"), "v: 1\n");

    origin.commit("b.yaml", "b\n")?;
    let s3 = src.sync()?;
    assert!(s3.changed);
    assert_eq!(read(&s3.root, "b.yaml"), "b\n");
    assert!(!s1.root.exists(), "the tree two revisions back is removed");
    assert!(s2.root.exists());
    Ok(())
}

#[test]
fn a_new_process_reuses_the_cache() -> TestResult {
    let origin = Origin::new()?;
    origin.commit("a.yaml", "a\n")?;
    let cache = tempfile::tempdir()?;
    let url = origin.path().display().to_string(); // a plain local path
    GitSource::new(spec(
        url.clone(),
        Tracking::Branch("main".into()),
        cache.path(),
    ))
    .sync()?;
    let mut again = GitSource::new(spec(url, Tracking::Branch("main".into()), cache.path()));
    let s = again.sync()?;
    assert!(s.changed, "the first sync of a process reports a change");
    assert!(!again.last_fetch().ok_or("no stats")?.downloaded);
    Ok(())
}

#[test]
fn tags_are_followed_and_peeled() -> TestResult {
    let origin = Origin::new()?;
    let v1 = origin.commit("a.yaml", "v1\n")?;
    origin.tag("v1", v1, true)?;
    origin.tag("light", v1, false)?;
    origin.commit("a.yaml", "v2\n")?;
    let cache = tempfile::tempdir()?;
    for tag in ["v1", "light"] {
        let mut src = GitSource::new(spec(
            origin.file_url(),
            Tracking::Tag(tag.into()),
            cache.path(),
        ));
        let s = src.sync()?;
        assert_eq!(s.revision.0, v1.to_string(), "{tag}");
        assert_eq!(read(&s.root, "a.yaml"), "v1\n");
    }
    // A moved tag is followed.
    let v3 = origin.commit("a.yaml", "v3\n")?;
    let obj = origin.repo.find_object(v3, None)?;
    origin.repo.tag_lightweight("light", &obj, true)?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Tag("light".into()),
        cache.path(),
    ));
    assert_eq!(src.sync()?.revision.0, v3.to_string());

    let mut missing = GitSource::new(spec(
        origin.file_url(),
        Tracking::Tag("v9".into()),
        cache.path(),
    ));
    let err = missing.sync().err().ok_or("expected an error")?;
    assert!(matches!(err, SourceError::TagNotFound { .. }), "{err}");
    assert_eq!(err.category(), Category::Config);
    Ok(())
}

#[test]
fn a_pinned_commit_is_checked_out_and_then_never_fetched_again() -> TestResult {
    let origin = Origin::new()?;
    let first = origin.commit("a.yaml", "one\n")?;
    origin.commit("a.yaml", "two\n")?;
    let cache = tempfile::tempdir()?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Commit(first.to_string()),
        cache.path(),
    ));
    let s = src.sync()?;
    assert_eq!(s.revision.0, first.to_string());
    assert_eq!(read(&s.root, "a.yaml"), "one\n");
    assert!(!src.sync()?.changed);
    assert!(
        !src.last_fetch().ok_or("no stats")?.contacted,
        "a cached commit needs no network"
    );

    // A prefix works once the commit is known.
    let short = first.to_string()[..10].to_string();
    let mut by_prefix = GitSource::new(spec(
        origin.file_url(),
        Tracking::Commit(short),
        cache.path(),
    ));
    assert_eq!(by_prefix.sync()?.revision.0, first.to_string());
    Ok(())
}

#[test]
fn a_missing_commit_or_branch_is_a_config_error() -> TestResult {
    let origin = Origin::new()?;
    origin.commit("a.yaml", "a\n")?;
    let cache = tempfile::tempdir()?;
    let absent = "0123456789abcdef0123456789abcdef01234567";
    let err = GitSource::new(spec(
        origin.file_url(),
        Tracking::Commit(absent.into()),
        cache.path(),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::CommitNotFound { .. }), "{err}");
    assert_eq!(err.category(), Category::Config);

    let err = GitSource::new(spec(
        origin.file_url(),
        Tracking::Branch("nope".into()),
        cache.path(),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(
        matches!(err, SourceError::BranchNotFound { ref branch, .. } if branch == "nope"),
        "{err}"
    );
    assert_eq!(err.category(), Category::Config);
    assert!(err.to_string().contains("\"nope\""), "{err}");

    let err = GitSource::new(spec(
        origin.file_url(),
        Tracking::Commit("xyz".into()),
        cache.path(),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::InvalidRef { .. }), "{err}");
    let err = GitSource::new(spec(
        origin.file_url(),
        Tracking::Branch("a..b".into()),
        cache.path(),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::InvalidRef { .. }), "{err}");
    Ok(())
}

#[test]
fn a_branch_that_vanishes_is_an_error_and_the_last_tree_stays() -> TestResult {
    let origin = Origin::new()?;
    let first = origin.commit("a.yaml", "a\n")?;
    let obj = origin.repo.find_commit(first)?;
    origin.repo.branch("feature", &obj, false)?;
    let cache = tempfile::tempdir()?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Branch("feature".into()),
        cache.path(),
    ));
    let s = src.sync()?;
    origin
        .repo
        .find_branch("feature", git2::BranchType::Local)?
        .delete()?;
    let err = src.sync().err().ok_or("expected an error")?;
    assert!(matches!(err, SourceError::BranchNotFound { .. }), "{err}");
    assert!(s.root.join("a.yaml").exists());
    Ok(())
}

#[test]
fn bad_urls_and_missing_repositories_are_config_errors() -> TestResult {
    let cache = tempfile::tempdir()?;
    let nowhere = cache.path().join("does-not-exist");
    let err = GitSource::new(spec(
        format!("file://{}", nowhere.display()),
        Tracking::Branch("main".into()),
        &cache.path().join("c1"),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(
        matches!(err, SourceError::RepositoryNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(err.category(), Category::Config);

    let err = GitSource::new(spec(
        "gopher://h/r".into(),
        Tracking::Branch("main".into()),
        &cache.path().join("c2"),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::InvalidUrl { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Config);

    let missing_path = nowhere.display().to_string();
    let err = GitSource::new(spec(
        missing_path,
        Tracking::Branch("main".into()),
        &cache.path().join("c3"),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(
        matches!(err, SourceError::RepositoryNotFound { .. }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn an_unreachable_host_is_transient() -> TestResult {
    // A port nobody listens on: bind, learn the port, close.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let cache = tempfile::tempdir()?;
    let err = GitSource::new(spec(
        format!("http://127.0.0.1:{port}/r.git"),
        Tracking::Branch("main".into()),
        cache.path(),
    ))
    .sync()
    .err()
    .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::Network { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Transient);
    Ok(())
}

/// Request heads seen by [`http_server`].
type Recording = Arc<Mutex<Vec<String>>>;

/// An HTTP server answering every request with `status`, recording the
/// request heads. Returns its base URL (no userinfo) and the recording.
fn http_server(status: &'static str) -> Result<(String, Recording), std::io::Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("127.0.0.1:{}", listener.local_addr()?.port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                head.push_str(&line);
                line.clear();
            }
            if let Ok(mut seen) = record.lock() {
                seen.push(head);
            }
            let response = format!(
                "HTTP/1.1 {status}\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = (&stream).write_all(response.as_bytes());
        }
    });
    Ok((base, seen))
}

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn rejected_credentials_are_a_permission_error_without_secrets() -> TestResult {
    let (base, seen) = http_server("401 Unauthorized")?;
    let cache = tempfile::tempdir()?;
    let mut s = spec(
        format!("http://alice:url-s3cret@{base}/r.git"),
        Tracking::Branch("main".into()),
        cache.path(),
    );
    s.auth = Auth::Token {
        username: None,
        token: "tok-123456".into(),
    };
    let debug_spec = format!("{s:?}");

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let err = tracing::subscriber::with_default(subscriber, || {
        let mut src = GitSource::new(s);
        tracing::info!(url = %src.display_url(), "syncing");
        src.sync().err()
    })
    .ok_or("expected an error")?;

    assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Permission);
    let logs = String::from_utf8(logs.0.lock().map_err(|_| "poisoned")?.clone())?;
    for text in [
        err.to_string(),
        format!("{err:?}"),
        logs.clone(),
        debug_spec,
    ] {
        assert!(!text.contains("tok-123456"), "token leaked: {text}");
        assert!(!text.contains("url-s3cret"), "URL password leaked: {text}");
    }
    assert!(
        err.to_string()
            .contains(&format!("http://***@{base}/r.git")),
        "{err}"
    );
    assert!(logs.contains("***@"), "{logs}");
    // The token went out as the password of x-access-token (on the wire only).
    let heads = seen.lock().map_err(|_| "poisoned")?.join("\n");
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "x-access-token:tok-123456",
    );
    assert!(heads.contains(&format!("Basic {expected}")), "{heads}");
    Ok(())
}

#[test]
fn a_fetch_past_its_deadline_is_a_transient_timeout() -> TestResult {
    let (base, _) = http_server("401 Unauthorized")?;
    let cache = tempfile::tempdir()?;
    let mut s = spec(
        format!("http://{base}/r.git"),
        Tracking::Branch("main".into()),
        cache.path(),
    );
    s.auth = Auth::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let err = GitSource::new(s)
        .with_timeout(Duration::ZERO)
        .sync()
        .err()
        .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Transient);
    Ok(())
}

#[test]
fn a_commit_pointed_to_by_an_annotated_tag_is_fetched_by_the_tag() -> TestResult {
    let origin = Origin::new()?;
    let tagged = origin.commit("a.yaml", "tagged\n")?;
    origin.tag("v1", tagged, true)?;
    // Move main away, so that only the tag's peeled entry advertises `tagged`.
    origin
        .repo
        .reference("refs/heads/main", tagged, true, "test")?;
    origin.commit("a.yaml", "later\n")?;
    let cache = tempfile::tempdir()?;
    let mut src = GitSource::new(spec(
        origin.file_url(),
        Tracking::Commit(tagged.to_string()),
        cache.path(),
    ));
    let s = src.sync()?;
    assert_eq!(read(&s.root, "a.yaml"), "tagged\n");
    Ok(())
}

#[test]
fn server_errors_are_transient_and_not_found_is_config() -> TestResult {
    for (status, category) in [
        ("503 Service Unavailable", Category::Transient),
        ("404 Not Found", Category::Config),
    ] {
        let (base, _) = http_server(status)?;
        let cache = tempfile::tempdir()?;
        let err = GitSource::new(spec(
            format!("http://{base}/r.git"),
            Tracking::Branch("main".into()),
            cache.path(),
        ))
        .sync()
        .err()
        .ok_or("expected an error")?;
        assert_eq!(err.category(), category, "{status}: {err:?}");
    }
    Ok(())
}

#[test]
fn a_missing_ssh_key_is_a_config_error_before_any_connection() -> TestResult {
    let cache = tempfile::tempdir()?;
    let mut s = spec(
        "git@example.invalid:o/r.git".into(),
        Tracking::Branch("main".into()),
        cache.path(),
    );
    s.auth = Auth::SshKey {
        private_key: PathBuf::from("/nonexistent/id_ed25519"),
        passphrase: Some("pp-secret".into()),
        known_hosts: None,
    };
    assert!(!format!("{s:?}").contains("pp-secret"));
    let err = GitSource::new(s).sync().err().ok_or("expected an error")?;
    assert!(matches!(err, SourceError::CredentialFile { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Config);
    Ok(())
}

async fn expect_signal(rx: &mut tokio::sync::mpsc::Receiver<()>) -> TestResult {
    tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await?
        .ok_or("channel closed")?;
    Ok(())
}

#[tokio::test]
async fn watch_local_sees_a_commit_within_a_second() -> TestResult {
    let origin = Origin::new()?;
    origin.commit("a.yaml", "a\n")?;
    for target in [
        origin.path().to_path_buf(),
        PathBuf::from(origin.file_url()),
    ] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let _watcher = watch_local(&target, tx)?;
        origin.commit("a.yaml", &format!("{}\n", target.display()))?;
        expect_signal(&mut rx).await?;
        // Quiet afterwards: one burst, one message.
        assert!(
            tokio::time::timeout(Duration::from_millis(400), rx.recv())
                .await
                .is_err()
        );
    }
    Ok(())
}

#[tokio::test]
async fn watch_local_sees_new_branches_and_packed_refs() -> TestResult {
    let origin = Origin::new()?;
    let c = origin.commit("a.yaml", "a\n")?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let _watcher = watch_local(origin.path(), tx)?;
    let commit = origin.repo.find_commit(c)?;
    origin.repo.branch("topic/x", &commit, false)?; // a new subdirectory of refs/heads
    expect_signal(&mut rx).await?;
    origin.commit("b.yaml", "b\n")?;
    expect_signal(&mut rx).await?;
    Ok(())
}

#[test]
fn watch_local_rejects_a_non_repository() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let _guard = rt.enter();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let err = watch_local(dir.path(), tx)
        .err()
        .ok_or("expected an error")?;
    assert!(matches!(err, SourceError::NotARepository { .. }), "{err}");
    Ok(())
}
