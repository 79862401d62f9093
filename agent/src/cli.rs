//! The command line: subcommands and their flags.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// wavesync: GitOps for dataplane installs, in ordered waves.
#[derive(Debug, Parser)]
#[command(name = "wavesync", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the simulated Kubernetes API server (for the demo, tests and trying kubectl).
    Sim(SimArgs),
}

/// Flags of `wavesync sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Where to write the kubeconfig for `kubectl --kubeconfig`.
    #[arg(long, default_value = "kube-sim.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Serve plain HTTP instead of TLS.
    #[arg(long)]
    pub insecure_http: bool,
    /// Seconds workloads take to become ready.
    #[arg(long, default_value_t = 0.2)]
    pub ready_after: f64,
    /// Custom resource kinds (`Kind` or `group/Kind`) that get Ready=True conditions.
    #[arg(long = "ready-kind")]
    pub ready_kinds: Vec<String>,
}
