//! End-to-end tests of the Git source over its network transports:
//!
//! - **HTTPS with a token**: a bare repository served over smart HTTP by
//!   `git http-backend` (as CGI) behind a small rustls server in this file,
//!   with a certificate from a generated CA. The server accepts only
//!   `Authorization: Basic x-access-token:<token>`. libgit2 (OpenSSL) trusts
//!   the CA through `SSL_CERT_FILE`, which must be set before git2's first
//!   TLS use and cannot be set from safe code in-process (the workspace
//!   forbids `unsafe`), so each HTTPS test runs its client half in a child
//!   process (this test binary, re-run on the one test with the variable
//!   set) while the parent serves.
//! - **SSH with a key and known_hosts**: `sshd -D` started from the test on a
//!   free port with generated host and client keys (needs `sshd` and
//!   `ssh-keygen`: packages openssh-server and openssh-client, which
//!   `.ci/run` installs).
//!
//! Missing tools make the tests fail with a message saying what to install;
//! they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use git2::{Oid, Repository, RepositoryInitOptions, Signature};
use tempfile::TempDir;
use wavesync::error::{Categorized, Category};
use wavesync::source::{Auth, GitSource, SourceError, SourceSpec, Tracking};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// A bare repository with branch `main` as HEAD, written to directly.
fn init_bare(path: &Path) -> Repository {
    let mut opts = RepositoryInitOptions::new();
    opts.bare(true).initial_head("main");
    Repository::init_opts(path, &opts).expect("init bare repository")
}

/// Commits `file` = `content` on top of `refs/heads/main` of a bare repository.
fn commit_file(repo: &Repository, file: &str, content: &str) -> Oid {
    let blob = repo.blob(content.as_bytes()).unwrap();
    let parent = repo
        .find_reference("refs/heads/main")
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let base = parent.as_ref().map(|p| p.tree().unwrap());
    let mut tb = repo.treebuilder(base.as_ref()).unwrap();
    tb.insert(file, blob, 0o100_644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = Signature::now("t", "t@example.com").unwrap();
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        &format!("write {file}"),
        &tree,
        &parents,
    )
    .unwrap()
}

fn source(url: String, auth: Auth, cache: &Path) -> GitSource {
    GitSource::new(SourceSpec {
        url,
        tracking: Tracking::Branch("main".into()),
        auth,
        cache_dir: cache.to_path_buf(),
        verify: None,
    })
    .with_timeout(Duration::from_secs(20))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Fails (does not skip) when a required program is missing.
fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "`{program}` is required by this test but cannot be run; install {install} (.ci/run does)"
    );
}

// ---------------------------------------------------------------------------
// HTTPS: git http-backend behind a rustls server
// ---------------------------------------------------------------------------

const TOKEN: &str = "ghp_s3cretT0kenForWavesyncTests";
const CHILD_ENV: &str = "WAVESYNC_TRANSPORT_TEST_CHILD";

/// An HTTPS smart-HTTP Git server for the repositories under `root`.
struct HttpsGit {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpsGit {
    fn start(config: Arc<rustls::ServerConfig>, root: PathBuf, token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("x-access-token:{token}"))
        );
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let (config, root, expected) =
                    (Arc::clone(&config), root.clone(), expected.clone());
                std::thread::spawn(move || {
                    if let Err(e) = serve(tcp, config, &root, &expected) {
                        eprintln!("https test server: {e}");
                    }
                });
            }
        });
        HttpsGit {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpsGit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request per connection (`Connection: close`).
fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    root: &Path,
    expected_auth: &str,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let (method, target, headers, body) = {
        let mut r = BufReader::new(&mut tls);
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
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
            let n: usize = n.parse().map_err(std::io::Error::other)?;
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        (method, target, headers, body)
    };
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());

    let (status, resp_headers, resp_body) =
        if header("authorization").as_deref() != Some(expected_auth) {
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
    tls.write_all(out.as_bytes())?;
    tls.write_all(&resp_body)?;
    tls.conn.send_close_notify();
    tls.flush()?;
    Ok(())
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
    if let Some(ct) = header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(ce) = header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", ce);
    }
    if let Some(p) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", p);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
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
        let l = l.trim_end();
        match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => headers.push(l.to_string()),
            None => {}
        }
    }
    if !output.status.success() && out.is_empty() {
        status = "500 Internal Server Error".into();
        eprintln!(
            "git http-backend failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((status, headers, body.to_vec()))
}

/// What the client half of an HTTPS test gets from the parent.
struct HttpsCtx {
    url: String,
    repo: Repository,
}

/// Runs `body` in a child process that trusts the test CA through
/// `SSL_CERT_FILE`, while this process serves `repo.git` over HTTPS.
/// `name` must be the calling test's name.
fn https_case(name: &str, setup: impl FnOnce(&Repository), body: impl FnOnce(HttpsCtx)) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        let url = std::env::var("WAVESYNC_TEST_HTTPS_URL").unwrap();
        let repo =
            Repository::open_bare(std::env::var("WAVESYNC_TEST_HTTPS_REPO").unwrap()).unwrap();
        body(HttpsCtx { url, repo });
        return;
    }
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .unwrap_or_else(|e| panic!("`git` is required by the HTTPS tests (git http-backend serves the repository) but cannot be run: {e}; install git"));
    let exec_path = String::from_utf8_lossy(&exec_path.stdout)
        .trim()
        .to_string();
    assert!(
        Path::new(&exec_path).join("git-http-backend").exists(),
        "`git http-backend` is required by the HTTPS tests but is not in {exec_path}; install a full git"
    );

    let dir = TempDir::new().unwrap();
    let root = dir.path().join("srv");
    let repo = init_bare(&root.join("repo.git"));
    setup(&repo);
    let tls = kube_sim::tls::generate().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem).unwrap();
    let mut config = (*tls.config).clone();
    config.alpn_protocols.clear();
    let server = HttpsGit::start(Arc::new(config), root.clone(), TOKEN);
    let url = format!("https://127.0.0.1:{}/repo.git", server.addr.port());

    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .env("SSL_CERT_FILE", &ca_file)
        .env("WAVESYNC_TEST_HTTPS_URL", &url)
        .env("WAVESYNC_TEST_HTTPS_REPO", root.join("repo.git"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the HTTPS client process for {name} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    print!("{out}");
    eprint!("{err}");
    assert!(
        status.success(),
        "the HTTPS client half of {name} failed ({status}); its output is above"
    );
    assert!(
        out.contains("1 passed"),
        "the child process did not run {name}: {out}"
    );
    drop(server);
}

#[test]
fn https_token_clone_then_incremental_fetches() {
    https_case(
        "https_token_clone_then_incremental_fetches",
        |repo| {
            commit_file(repo, "app.yaml", "v: 1\n");
        },
        |ctx| {
            let cache = TempDir::new().unwrap();
            let auth = Auth::Token {
                username: None,
                token: TOKEN.into(),
            };
            let head = ctx.repo.refname_to_id("refs/heads/main").unwrap();
            let mut src = source(ctx.url.clone(), auth, cache.path());

            let started = Instant::now();
            let snap = src.sync().expect("clone over HTTPS with the token");
            assert_eq!(snap.revision.0, head.to_string());
            assert!(snap.changed);
            assert_eq!(
                std::fs::read_to_string(snap.root.join("app.yaml")).unwrap(),
                "v: 1\n"
            );
            let first = src.last_fetch().unwrap();
            assert!(first.contacted && first.downloaded && first.received_objects > 0);

            // Unchanged remote: one connection, no pack.
            let snap2 = src.sync().unwrap();
            assert!(!snap2.changed);
            assert_eq!(snap2.revision, snap.revision);
            let stats = src.last_fetch().unwrap();
            assert!(stats.contacted, "{stats:?}");
            assert!(!stats.downloaded, "{stats:?}");
            assert_eq!(stats.received_objects, 0, "{stats:?}");

            // A new commit is fetched incrementally.
            let next = commit_file(&ctx.repo, "app.yaml", "v: 2\n");
            let snap3 = src.sync().unwrap();
            assert!(snap3.changed);
            assert_eq!(snap3.revision.0, next.to_string());
            assert_eq!(
                std::fs::read_to_string(snap3.root.join("app.yaml")).unwrap(),
                "v: 2\n"
            );
            let stats = src.last_fetch().unwrap();
            assert!(stats.downloaded && stats.received_objects > 0, "{stats:?}");
            // Only the new commit, its tree and blob, not the history.
            assert!(stats.received_objects <= 3, "{stats:?}");
            assert!(started.elapsed() < Duration::from_secs(10));
        },
    );
}

fn assert_permission_without_secret(err: &SourceError, secret: &str) {
    assert_eq!(err.category(), Category::Permission, "{err}");
    let display = err.to_string();
    let debug = format!("{err:?}");
    assert!(!display.contains(secret), "token in Display: {display}");
    assert!(!debug.contains(secret), "token in Debug: {debug}");
}

#[test]
fn https_wrong_or_missing_token_is_a_permission_error_without_the_token() {
    https_case(
        "https_wrong_or_missing_token_is_a_permission_error_without_the_token",
        |repo| {
            commit_file(repo, "app.yaml", "v: 1\n");
        },
        |ctx| {
            let wrong = "ghp_wrongTokenThatMustNotLeak42";
            let cache = TempDir::new().unwrap();
            let auth = Auth::Token {
                username: None,
                token: wrong.into(),
            };
            let err = source(ctx.url.clone(), auth, cache.path())
                .sync()
                .expect_err("a wrong token must be rejected");
            assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
            assert_permission_without_secret(&err, wrong);
            println!("wrong token: {err}");

            // The token in the URL's userinfo, wrong: redacted too.
            let cache = TempDir::new().unwrap();
            let in_url = ctx
                .url
                .replace("https://", &format!("https://x-access-token:{wrong}@"));
            let err = source(in_url, Auth::None, cache.path())
                .sync()
                .expect_err("a wrong token in the URL must be rejected");
            assert_permission_without_secret(&err, wrong);

            // No credentials at all.
            let cache = TempDir::new().unwrap();
            let err = source(ctx.url.clone(), Auth::None, cache.path())
                .sync()
                .expect_err("credentials are required");
            assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
            assert_eq!(err.category(), Category::Permission);
        },
    );
}

#[test]
fn https_untrusted_certificate_is_a_permission_error() {
    // Runs in this process, which does not trust the test CA.
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("srv");
    let repo = init_bare(&root.join("repo.git"));
    commit_file(&repo, "a", "a");
    let tls = kube_sim::tls::generate().unwrap();
    let mut config = (*tls.config).clone();
    config.alpn_protocols.clear();
    let server = HttpsGit::start(Arc::new(config), root, TOKEN);
    let url = format!("https://127.0.0.1:{}/repo.git", server.addr.port());
    let cache = TempDir::new().unwrap();
    let auth = Auth::Token {
        username: None,
        token: TOKEN.into(),
    };
    let err = source(url, auth, cache.path())
        .sync()
        .expect_err("an untrusted certificate must be rejected");
    assert!(matches!(err, SourceError::Certificate { .. }), "{err:?}");
    assert_permission_without_secret(&err, TOKEN);
}

// ---------------------------------------------------------------------------
// SSH: sshd with generated keys
// ---------------------------------------------------------------------------

fn ssh_keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "wavesync-test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("`ssh-keygen` is required by the SSH tests: {e}; install openssh-client")
        });
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_sshd() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    let out = Command::new("sh")
        .args(["-c", "command -v sshd"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match out {
        Some(p) if !p.is_empty() => p.into(),
        _ => panic!(
            "`sshd` is required by the SSH tests but is not installed; install openssh-server (.ci/run does)"
        ),
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `[127.0.0.1]:port <type> <base64>` for a `.pub` file.
fn known_hosts_line(port: u16, pub_file: &Path) -> String {
    let text = std::fs::read_to_string(pub_file).unwrap();
    let mut f = text.split_whitespace();
    let (kind, key) = (f.next().unwrap(), f.next().unwrap());
    format!("[127.0.0.1]:{port} {kind} {key}\n")
}

/// An `sshd -D` on a free port that lets the current user in with one
/// generated client key. Killed on drop.
struct Sshd {
    dir: TempDir,
    child: Child,
    port: u16,
    user: String,
}

impl Sshd {
    fn start() -> Self {
        require("ssh-keygen", &["-V"], "openssh-client");
        let sshd = find_sshd();
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        ssh_keygen(&d.join("host_key"));
        ssh_keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // Debian's sshd needs its privilege separation directory (normally
        // created by the service unit).
        let privsep = Path::new("/run/sshd");
        if !privsep.exists() {
            let _ = std::fs::create_dir_all(privsep);
        }
        let user = current_user();
        let path = std::env::var("PATH").unwrap_or_default();
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let config = format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {host_key}\n\
                 PidFile none\n\
                 AuthorizedKeysFile {auth_keys}\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 AllowUsers {user}\n\
                 SetEnv PATH={path}\n\
                 LogLevel VERBOSE\n",
                host_key = d.join("host_key").display(),
                auth_keys = d.join("authorized_keys").display(),
            );
            let config_file = d.join("sshd_config");
            std::fs::write(&config_file, config).unwrap();
            let log = std::fs::File::create(d.join("sshd.log")).unwrap();
            let mut child = Command::new(&sshd)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config_file)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", sshd.display()));
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    last_err = format!(
                        "sshd exited ({status}): {}",
                        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
                    );
                    break;
                }
                if banner(port) {
                    return Sshd {
                        dir,
                        child,
                        port,
                        user,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = "sshd did not answer within 5 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("cannot start sshd: {last_err}");
    }

    fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.display()
        )
    }

    fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A known_hosts file listing the server's real host key.
    fn known_hosts(&self) -> PathBuf {
        let p = self.dir.path().join("known_hosts");
        std::fs::write(
            &p,
            known_hosts_line(self.port, &self.dir.path().join("host_key.pub")),
        )
        .unwrap();
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether an SSH server answers on `port` with its banner.
fn banner(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

/// A served bare repository with one commit.
fn ssh_repo() -> (TempDir, PathBuf, Oid) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("repo.git");
    let repo = init_bare(&path);
    let oid = commit_file(&repo, "app.yaml", "v: 1\n");
    (dir, path, oid)
}

#[test]
fn ssh_key_with_known_hosts_clones_and_fetches() {
    let sshd = Sshd::start();
    let (_d, path, oid) = ssh_repo();
    let cache = TempDir::new().unwrap();
    let auth = Auth::SshKey {
        private_key: sshd.client_key(),
        passphrase: None,
        known_hosts: Some(sshd.known_hosts()),
    };
    let started = Instant::now();
    let mut src = source(sshd.url(&path), auth, cache.path());
    let snap = src
        .sync()
        .unwrap_or_else(|e| panic!("clone over SSH: {e}\nsshd log:\n{}", sshd.log()));
    assert_eq!(snap.revision.0, oid.to_string());
    assert!(snap.changed);
    assert_eq!(
        std::fs::read_to_string(snap.root.join("app.yaml")).unwrap(),
        "v: 1\n"
    );

    let snap2 = src.sync().unwrap();
    assert!(!snap2.changed);
    let stats = src.last_fetch().unwrap();
    assert!(stats.contacted && !stats.downloaded, "{stats:?}");

    let repo = Repository::open_bare(&path).unwrap();
    let next = commit_file(&repo, "app.yaml", "v: 2\n");
    let snap3 = src.sync().unwrap();
    assert!(snap3.changed);
    assert_eq!(snap3.revision.0, next.to_string());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ssh_with_a_different_host_key_is_rejected() {
    let sshd = Sshd::start();
    let (_d, path, _) = ssh_repo();
    let other = TempDir::new().unwrap();
    ssh_keygen(&other.path().join("impostor"));
    let known_hosts = other.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        known_hosts_line(sshd.port, &other.path().join("impostor.pub")),
    )
    .unwrap();
    let cache = TempDir::new().unwrap();
    let auth = Auth::SshKey {
        private_key: sshd.client_key(),
        passphrase: None,
        known_hosts: Some(known_hosts),
    };
    let err = source(sshd.url(&path), auth, cache.path())
        .sync()
        .expect_err("a different host key must be rejected");
    assert!(matches!(err, SourceError::HostKey { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Permission);
    let msg = err.to_string();
    assert!(msg.contains("host key"), "{msg}");
    assert!(msg.contains("differs"), "{msg}");
    // Nothing was written to the cache beyond an empty repository.
    assert!(!cache.path().join("trees").exists());
}

#[test]
fn ssh_host_not_in_known_hosts_is_rejected() {
    let sshd = Sshd::start();
    let (_d, path, _) = ssh_repo();
    let other = TempDir::new().unwrap();
    let known_hosts = other.path().join("known_hosts");
    std::fs::write(&known_hosts, "# empty\n").unwrap();
    let cache = TempDir::new().unwrap();
    let auth = Auth::SshKey {
        private_key: sshd.client_key(),
        passphrase: None,
        known_hosts: Some(known_hosts),
    };
    let err = source(sshd.url(&path), auth, cache.path())
        .sync()
        .expect_err("an unknown host must be rejected");
    assert!(matches!(err, SourceError::HostKey { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Permission);
}

#[test]
fn ssh_without_a_key_or_with_an_unauthorized_key_is_a_permission_error() {
    let sshd = Sshd::start();
    let (_d, path, _) = ssh_repo();

    // No key configured.
    let cache = TempDir::new().unwrap();
    let err = source(sshd.url(&path), Auth::None, cache.path())
        .sync()
        .expect_err("no key configured");
    // Without `Auth::SshKey` there is no known_hosts file to give, so
    // libgit2 checks ~/.ssh/known_hosts first and rejects the unknown host
    // (if the host were known there, the credentials callback would refuse).
    assert!(
        matches!(err, SourceError::HostKey { .. } | SourceError::Auth { .. }),
        "{err:?}"
    );
    assert_eq!(err.category(), Category::Permission, "{err:?}");
    println!("no key: {err}");

    // A key the server does not know.
    let other = TempDir::new().unwrap();
    ssh_keygen(&other.path().join("stranger"));
    let cache = TempDir::new().unwrap();
    let auth = Auth::SshKey {
        private_key: other.path().join("stranger"),
        passphrase: None,
        known_hosts: Some(sshd.known_hosts()),
    };
    let err = source(sshd.url(&path), auth, cache.path())
        .sync()
        .expect_err("an unauthorized key must be rejected");
    assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Permission);
}
