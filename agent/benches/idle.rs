//! The idle agent of issue 10: the real `wavesync run` binary, started as a
//! child process against an in-process `kube_sim::Sim` (over TLS), syncs a
//! repository of 5,000 objects (a Namespace and 4,999 ConfigMaps in five waves)
//! and then idles, polling the unchanged `file://` remote every 10 s. Printed
//! (figures only; nothing here asserts on time or memory):
//!
//! - the cold sync time (start of the process to the record's `phase: Ready`);
//! - the agent's resident memory (`VmRSS`, `VmHWM` from `/proc/<pid>/status`)
//!   10 s after the sync and again after an idle minute. Target: under 40 MiB.
//!   The simulator lives in this process, so its memory is excluded by
//!   construction (its RSS is printed for reference);
//! - the agent's CPU over that idle minute (utime + stime from
//!   `/proc/<pid>/stat`) as a percentage of one core. Target: under 1 %;
//! - the API requests the simulator received during the idle minute, by verb
//!   and resource.
//!
//! Linux only (`/proc`). Takes about 90 s plus the sync. To see where the
//! memory goes, run the agent under a profiler:
//! `WAVESYNC_BENCH_WRAP="valgrind --tool=massif --pages-as-heap=yes" cargo bench -p wavesync --bench idle`
//! (pages, since jemalloc maps its own memory).
//!
//! ```text
//! cargo bench -p wavesync --bench idle
//! ```

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::*;

const WAVES: usize = 5;
/// Objects per wave; wave 0 holds the Namespace and one ConfigMap fewer.
const PER_WAVE: usize = 1_000;
/// ConfigMaps per file (multi-document YAML).
const PER_FILE: usize = 100;
const OBJECTS: usize = WAVES * PER_WAVE;
const IDLE: Duration = Duration::from_secs(60);
const SETTLE: Duration = Duration::from_secs(10);
const WAVESET: &str = "bench";

fn configmap(w: usize, i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{w}-{i:04}"), "namespace": "bench",
            "labels": {"app.kubernetes.io/part-of": "bench", "wave": format!("w{w}")}},
        "data": {"LOG_LEVEL": "info", "LISTEN_ADDR": ":8080",
            "UPSTREAM": format!("http://svc-{i}.bench.svc:8080"),
            "app.yaml": format!("name: svc-{i}\nreplicas: 2\ntimeouts:\n  read: 5s\n")}})
}

/// The repository at `dir`: wavesync.yaml and the objects, one commit on `main`.
fn make_repo(dir: &Path) -> Result<(), Error> {
    let mut ws = format!(
        "apiVersion: wavesync.io/v1alpha1\nkind: WaveSet\nmetadata: {{ name: {WAVESET} }}\nspec:\n  namespace: bench\n  waves:\n"
    );
    for w in 0..WAVES {
        ws.push_str(&format!("    - name: w{w}\n      path: waves/{w}\n"));
        let mut docs = Vec::new();
        if w == 0 {
            docs.push(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}),
            );
        }
        let first = usize::from(w == 0);
        docs.extend((first..PER_WAVE).map(|i| configmap(w, i)));
        let wave_dir = dir.join(format!("waves/{w}"));
        std::fs::create_dir_all(&wave_dir)?;
        for (n, chunk) in docs.chunks(PER_FILE).enumerate() {
            let mut text = String::new();
            for d in chunk {
                text.push_str("---\n");
                text.push_str(&serde_json::to_string_pretty(d)?);
                text.push('\n');
            }
            std::fs::write(wave_dir.join(format!("objects-{n:02}.yaml")), text)?;
        }
    }
    std::fs::write(dir.join("wavesync.yaml"), ws)?;
    wavesync::commands::demo::commit_all(dir, "5,000 objects in five waves")?;
    Ok(())
}

/// The phase in the state record, once there is one.
async fn phase(api: &Api<ConfigMap>) -> Option<String> {
    let cm = api
        .get_opt(&format!("wavesync-state-{WAVESET}"))
        .await
        .ok()??;
    let record: Value = serde_json::from_str(cm.data?.get("record.json")?).ok()?;
    record["phase"].as_str().map(str::to_string)
}

async fn run() -> Result<(), Error> {
    let options = kube_sim::SimOptions {
        ready_after: Duration::from_millis(50),
        ..Default::default()
    };
    let sim = kube_sim::Sim::start_with(options).await?;
    let client = sim.client()?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "wavesync"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let work = tempfile::tempdir()?;
    let kubeconfig = work.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let repo = work.path().join("repo");
    make_repo(&repo)?;
    let log = work.path().join("agent.log");
    let states: Api<ConfigMap> = Api::namespaced(client.clone(), "wavesync");

    let t0 = Instant::now();
    let (mut child, _port) = start_agent(
        work.path(),
        &kubeconfig,
        &repo,
        &log,
        WAVESET,
        &[("WAVESYNC_INTERVAL", "10s")],
    )?;
    let pid = child.id();
    let synced = loop {
        if phase(&states).await.as_deref() == Some("Ready") {
            break t0.elapsed();
        }
        let exited = child.try_wait()?;
        if exited.is_some() || t0.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            let _ = child.wait();
            let what = exited.map_or("not Ready after 10 min".into(), |s| format!("exited ({s})"));
            return Err(format!("the agent {what}; it logged:\n{}", log_tail(&log)).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let idling = (SETTLE + IDLE).as_secs();
    println!(
        "Ready after {:.2} s; idling {idling} s",
        synced.as_secs_f64()
    );

    let cms = Api::<ConfigMap>::namespaced(client, "bench")
        .list(&Default::default())
        .await?;
    let live = cms.items.len() + 1; // and the Namespace
    tokio::time::sleep(SETTLE).await;
    let [rss_synced, ..] = memory(&pid.to_string())?;
    sim.counters().reset();
    let ticks0 = cpu_ticks(pid)?;
    let idle_start = Instant::now();
    tokio::time::sleep(IDLE).await;
    let ticks = cpu_ticks(pid)? - ticks0;
    let idle_took = idle_start.elapsed();
    let requests = sim.counters().snapshot();
    let total = sim.counters().total();
    let [rss_idle, hwm, anon, file] = memory(&pid.to_string())?;
    let [sim_rss, ..] = memory("self")?;
    let cpu = ticks as f64 / clk_tck() as f64 / idle_took.as_secs_f64() * 100.0;

    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let status = child.wait()?;

    let under_40 = |kib: u64| ("< 40 MiB", Some(kib < 40 * 1024));
    let none = ("", None);
    #[rustfmt::skip]
    let mut rows = vec![
        ("objects in the repo / live".into(), format!("{OBJECTS} / {live}"), none),
        ("cold sync (start to Ready)".into(), format!("{:.2} s", synced.as_secs_f64()), none),
        ("RSS 10 s after the sync".into(), mib(rss_synced), under_40(rss_synced)),
        ("RSS after the idle minute".into(), mib(rss_idle), under_40(rss_idle)),
        ("    anonymous + file-backed".into(), format!("{} + {}", mib(anon), mib(file)), none),
        ("peak RSS (VmHWM, includes the sync)".into(), mib(hwm), none),
        (format!("CPU over {} s idle ({ticks} ticks)", idle_took.as_secs()), format!("{cpu:.2} %"), ("< 1 %", Some(cpu < 1.0))),
        ("API requests in the idle minute".into(), total.to_string(), none),
    ];
    for ((verb, resource), n) in &requests {
        let r = if resource.is_empty() {
            "(non-resource)"
        } else {
            resource
        };
        rows.push((format!("    {verb} {r}"), n.to_string(), none));
    }
    rows.push((
        "simulator + bench RSS (excluded)".into(),
        mib(sim_rss),
        none,
    ));
    println!("\nwavesync idle benchmark (`wavesync run`, interval 10s, kube-sim over TLS)");
    print_rows(rows, 44, 12);
    println!("agent exit after SIGTERM: {status}");
    if std::fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
        println!("agent log (last lines):\n{}", log_tail(&log));
    }
    sim.shutdown();
    Ok(())
}

fn main() -> Result<(), Error> {
    run_bench("idle", run)
}
