//! `wavesync sim`: the simulated API server on its own, for kubectl.

use crate::cli::SimArgs;
use anyhow::Context;
use std::time::Duration;

/// Runs the simulator until Ctrl-C.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let options = kube_sim::SimOptions {
        tls: !args.insecure_http,
        port: args.port,
        ready_after: Duration::from_secs_f64(args.ready_after.max(0.0)),
        ready_kinds: args.ready_kinds,
        ..Default::default()
    };
    let sim = kube_sim::Sim::start_with(options)
        .await
        .context("starting the simulated API server")?;
    sim.write_kubeconfig(&args.kubeconfig)
        .with_context(|| format!("writing the kubeconfig to {}", args.kubeconfig.display()))?;
    println!("kube-sim listening on {}", sim.url());
    println!("kubeconfig written to {}", args.kubeconfig.display());
    println!(
        "try: kubectl --kubeconfig {} get namespaces",
        args.kubeconfig.display()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown();
    Ok(())
}
