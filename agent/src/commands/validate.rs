//! `wavesync validate`: every check that needs no cluster, all errors at
//! once, each at file:line; with `--live`, kinds and CRDs the repository
//! does not define are looked up in the cluster.

use crate::cli::{ValidateArgs, ValidateOutput};
use crate::render::Helm;
use crate::validate::{self, LiveCluster, Options};
use anyhow::Context;

/// Prints what is wrong; returns whether the repository is valid.
pub fn run(args: ValidateArgs) -> anyhow::Result<bool> {
    if !args.dir.is_dir() {
        anyhow::bail!("{}: not a directory", args.dir.display());
    }
    // The runtime outlives the checks: the discovered client belongs to it.
    let live = if args.live {
        Some(discover(&args)?)
    } else {
        None
    };
    let helm = Helm::new(args.helm.settings());
    let report = validate::validate(
        &args.dir,
        &Options {
            cluster: args.cluster_name.as_deref(),
            helm: &helm,
            live: live.as_ref().map(|(_, l)| l as &dyn validate::Live),
        },
    );
    let out = match args.output {
        ValidateOutput::Text => validate::text(&report),
        ValidateOutput::Json => validate::json(&report),
    };
    print!("{out}");
    Ok(report.valid())
}

/// Asks the cluster once what it serves. `validate` runs before any
/// runtime exists, so this one is made here, and returned with the answer.
fn discover(args: &ValidateArgs) -> anyhow::Result<(tokio::runtime::Runtime, LiveCluster)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let live = runtime.block_on(async {
        let client = super::cluster::client(&args.cluster).await?;
        LiveCluster::discover(client)
            .await
            .context("--live: the cluster could not be asked")
    })?;
    Ok((runtime, live))
}
