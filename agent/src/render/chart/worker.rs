//! The helm worker: a child process (`wavesync helm-worker --lib PATH`) that
//! loads `libhelm_c` and renders charts for the agent, one JSON line in, one
//! JSON line out.
//!
//! Why a process and not a library call in the agent: the Go runtime inside
//! `libhelm_c` installs its own signal handlers and threads, and a Go panic
//! or fatal error aborts the whole process. In a child, such a crash fails
//! one render with a message (and the next render starts a fresh worker);
//! the agent, its lease and its state record are not affected.

use super::ffi::{self, LibHelm};
use super::protocol::{Failed, Hello, Job, Rendered, Reply};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves render jobs on stdin/stdout until stdin closes (the worker's main).
///
/// # Errors
/// Only I/O errors on stdout; a library that cannot be loaded is reported to
/// the agent as [`Hello::Fatal`].
pub fn serve(lib_path: &Path) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let lib = match LibHelm::open(lib_path) {
        Ok(lib) => lib,
        Err(message) => return write_line(&mut out, &Hello::Fatal(message)),
    };
    write_line(&mut out, &Hello::Ready(lib.describe()))?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let reply = match serde_json::from_str::<Job>(&line) {
            Ok(job) => render(&lib, &job),
            Err(e) => Reply::Err {
                failed: Failed::Engine,
                message: format!("bad request from the agent: {e}"),
            },
        };
        write_line(&mut out, &reply)?;
    }
    Ok(())
}

fn write_line(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Renders one job with the library, as `helm template` would
/// (`.Release.IsInstall` true, revision 1, no cluster).
fn render(lib: &LibHelm, job: &Job) -> Reply {
    let failed = |e: ffi::LibError| Reply::Err {
        failed: match e.code {
            ffi::code::CHART_LOAD | ffi::code::CHART_INVALID | ffi::code::NOT_FOUND | -8 => {
                Failed::Load
            }
            ffi::code::VALUES => Failed::Values,
            ffi::code::RENDER => Failed::Template,
            _ => Failed::Engine,
        },
        message: e.message,
    };
    let chart = match lib.load_chart(&job.chart) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let options = serde_json::json!({
        "name": job.release,
        "namespace": job.namespace,
        "revision": 1,
        "is_install": true,
    });
    let templates = match chart.render(&job.values.to_string(), &options.to_string()) {
        Ok(json) => json,
        Err(e) => return failed(e),
    };
    let templates: Vec<(String, String)> =
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&templates) {
            Ok(map) => map
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect(),
            Err(e) => return engine_error(format!("unreadable render result: {e}")),
        };
    let mut crds = Vec::new();
    if job.include_crds {
        let listed = match chart.crds() {
            Ok(json) => json,
            Err(e) => return failed(e),
        };
        #[derive(serde::Deserialize)]
        struct CrdFile {
            filename: String,
            data: String,
        }
        match serde_json::from_str::<Option<Vec<CrdFile>>>(&listed) {
            Ok(files) => crds.extend(
                files
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| (f.filename, f.data)),
            ),
            Err(e) => return engine_error(format!("unreadable CRD list: {e}")),
        }
    }
    Reply::Ok(Rendered { crds, templates }.normalize())
}

fn engine_error(message: String) -> Reply {
    Reply::Err {
        failed: Failed::Engine,
        message,
    }
}

/// The agent's side: a worker process started on first use and reused for
/// every render after (the Go runtime's start-up is paid once), restarted
/// after a crash. A render that takes longer than the timeout (a template
/// that never ends) kills the worker; the next render starts a fresh one.
pub struct WorkerClient {
    exe: PathBuf,
    lib: PathBuf,
    timeout: Duration,
    running: Mutex<Option<Running>>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    /// The worker's stdout, line by line, from a reader thread (so that a
    /// wait for an answer can time out).
    stdout: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    version: String,
}

/// Why an exchange with the worker gave no answer.
enum NoAnswer {
    /// It did not answer within the timeout (it is killed).
    TimedOut,
    /// It died, or spoke nonsense.
    Failed(String),
}

/// Lines of the worker's stderr kept for the message when it crashes.
const STDERR_TAIL: usize = 20;

impl WorkerClient {
    /// A client that runs `exe helm-worker --lib lib`.
    pub fn new(exe: PathBuf, lib: PathBuf) -> WorkerClient {
        WorkerClient {
            exe,
            lib,
            timeout: super::DEFAULT_RENDER_TIMEOUT,
            running: Mutex::new(None),
        }
    }

    /// The same client, with `timeout` for the worker's start and each render.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> WorkerClient {
        self.timeout = timeout;
        self
    }

    /// The library's version (starting the worker if it is not running).
    ///
    /// # Errors
    /// Why the worker could not start or load the library.
    pub fn version(&self) -> Result<String, String> {
        let mut guard = self.lock();
        Ok(self.running(&mut guard)?.version.clone())
    }

    /// Sends `job` and waits for its reply. Jobs are served one at a time.
    pub fn render(&self, job: &Job) -> Reply {
        let mut guard = self.lock();
        let running = match self.running(&mut guard) {
            Ok(r) => r,
            Err(message) => return engine_error(message),
        };
        match running.exchange(job, self.timeout) {
            Ok(reply) => reply,
            Err(NoAnswer::TimedOut) => {
                // Dropping the worker kills it; the next render starts a fresh one.
                *guard = None;
                Reply::Err {
                    failed: Failed::Timeout,
                    message: timed_out(self.timeout),
                }
            }
            Err(NoAnswer::Failed(why)) => {
                // The worker died mid-job (a Go panic, a signal): report it
                // with what it printed, and start a fresh one next time.
                let message = running.crash_report(&why);
                *guard = None;
                engine_error(message)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running worker, started first if there is none.
    fn running<'g>(&self, slot: &'g mut Option<Running>) -> Result<&'g mut Running, String> {
        if slot.is_none() {
            *slot = Some(self.start()?);
        }
        slot.as_mut()
            .ok_or_else(|| "helm worker not running".to_owned())
    }

    fn start(&self) -> Result<Running, String> {
        let mut child = Command::new(&self.exe)
            .arg("helm-worker")
            .arg("--lib")
            .arg(&self.lib)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the helm worker {}: {e}", self.exe.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("helm worker started without pipes".into());
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        spawn_stderr_reader(stderr, tail.clone());
        let mut running = Running {
            child,
            stdin,
            stdout: spawn_stdout_reader(stdout),
            stderr: tail,
            version: String::new(),
        };
        let hello: Hello = match running.read_line(self.timeout) {
            Ok(hello) => hello,
            Err(NoAnswer::TimedOut) => {
                return Err(format!(
                    "the helm worker did not start within {}",
                    seconds(self.timeout)
                ));
            }
            Err(NoAnswer::Failed(why)) => return Err(running.crash_report(&why)),
        };
        match hello {
            Hello::Ready(version) => {
                running.version = version;
                Ok(running)
            }
            Hello::Fatal(message) => Err(message),
        }
    }
}

impl Running {
    fn exchange(&mut self, job: &Job, timeout: Duration) -> Result<Reply, NoAnswer> {
        let line = serde_json::to_string(job).map_err(|e| NoAnswer::Failed(e.to_string()))?;
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush())
            .map_err(|e| NoAnswer::Failed(format!("cannot write to the helm worker: {e}")))?;
        self.read_line(timeout)
    }

    /// The next line the worker writes, within `timeout` (else it is killed).
    fn read_line<T: serde::de::DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, NoAnswer> {
        match self.stdout.recv_timeout(timeout) {
            Ok(Ok(line)) => serde_json::from_str(&line).map_err(|e| {
                NoAnswer::Failed(format!("unreadable answer from the helm worker: {e}"))
            }),
            Ok(Err(e)) => Err(NoAnswer::Failed(format!(
                "cannot read from the helm worker: {e}"
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(NoAnswer::Failed("the helm worker exited".into()))
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(NoAnswer::TimedOut)
            }
        }
    }

    fn crash_report(&mut self, why: &str) -> String {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        // Give the stderr reader a moment to drain the last lines.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let tail: Vec<String> = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        if tail.is_empty() {
            format!("{why} ({status})")
        } else {
            format!("{why} ({status}); it printed:\n{}", tail.join("\n"))
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Closing stdin ends the worker's loop; kill covers a stuck one.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The message of a render stopped by the timeout (the chart is named by
/// the caller).
pub(super) fn timed_out(timeout: Duration) -> String {
    format!(
        "the chart did not render within {} (a template that never ends?); \
         the render was stopped (the limit is --helm-timeout)",
        seconds(timeout)
    )
}

/// `60s`, `1.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Forwards the worker's stdout line by line; ends at its end (or an error).
fn spawn_stdout_reader(stdout: impl Read + Send + 'static) -> Receiver<std::io::Result<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if tx.send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

fn spawn_stderr_reader(stderr: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() == STDERR_TAIL {
                t.pop_front();
            }
            t.push_back(line);
        }
    });
}
