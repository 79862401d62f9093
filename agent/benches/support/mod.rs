//! What the benchmarks that run the real agent share: starting it, reading
//! its memory and CPU from `/proc`, and its log.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The benchmarks' error type.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// [VmRSS, VmHWM, RssAnon, RssFile] of `pid` in KiB.
pub fn memory(pid: &str) -> Result<[u64; 4], Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64, Error> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or(format!("no {name}"))?;
        Ok(line.split_whitespace().nth(1).ok_or("bad line")?.parse()?)
    };
    Ok([
        field("VmRSS:")?,
        field("VmHWM:")?,
        field("RssAnon:")?,
        field("RssFile:")?,
    ])
}

/// utime + stime of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After "pid (comm) ", fields start at 3 (state): utime is 14, stime 15.
    let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f.get(11).ok_or("no utime")?.parse::<u64>()?
        + f.get(12).ok_or("no stime")?.parse::<u64>()?)
}

pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The last 40 lines of a log file.
pub fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts `wavesync run` for `waveset` (the agent's own port; `envs` on top).
pub fn start_agent(
    work: &Path,
    kubeconfig: &Path,
    repo: &Path,
    log: &Path,
    waveset: &str,
    envs: &[(&str, &str)],
) -> Result<(Child, u16), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // WAVESYNC_BENCH_WRAP runs the agent under a profiler, e.g.
    // "valgrind --tool=massif --massif-out-file=/tmp/massif.out".
    let wrap = std::env::var("WAVESYNC_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(env!("CARGO_BIN_EXE_wavesync"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_wavesync")),
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("WAVESYNC_") || k == "KUBECONFIG" || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("run")
        .env("WAVESYNC_KUBECONFIG", kubeconfig)
        .env("WAVESYNC_REPO", format!("file://{}", repo.display()))
        .env("WAVESYNC_WAVESET", waveset)
        .env("WAVESYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env("WAVESYNC_CACHE", work.join("cache"))
        .env("WAVESYNC_IDENTITY", "bench-0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Ok((cmd.spawn()?, port))
}

/// The agent's metrics (`name{labels}` → value), read from its listener.
pub async fn metrics(port: u16) -> std::collections::BTreeMap<String, f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return Default::default();
    };
    let req = "GET /metrics HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return Default::default();
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Runs the benchmark `name` on a multi-threaded runtime, unless `cargo
/// bench` was given a filter that does not name it (`--bench` is passed
/// to every target).
pub fn run_bench<F>(name: &str, run: impl FnOnce() -> F) -> Result<(), Error>
where
    F: std::future::Future<Output = Result<(), Error>>,
{
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| name.contains(a.as_str())) {
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// A printed figure: name, value, (target, met).
pub type Row = (String, String, (&'static str, Option<bool>));

/// Prints figures as a table: figure, value, target and PASS/MISS when the
/// figure has a target.
pub fn print_rows(rows: Vec<Row>, figure_width: usize, value_width: usize) {
    println!(
        "{:<figure_width$} {:>value_width$} {:>8}  result\n{}",
        "figure",
        "value",
        "target",
        "-".repeat(figure_width + value_width + 18)
    );
    for (figure, value, (target, ok)) in rows {
        let result = ok.map_or("", |ok| if ok { "PASS" } else { "MISS" });
        println!("{figure:<figure_width$} {value:>value_width$} {target:>8}  {result}");
    }
}
