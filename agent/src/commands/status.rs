//! `wavesync status` and `wavesync reset`.

use crate::cli::{Output, StateArgs, StatusArgs};
use crate::report::status;
use crate::state::StateStore;

/// Prints the record of `--waveset`; without it, lists every record in the
/// namespace, or shows the only one in detail.
pub async fn show(args: StatusArgs) -> anyhow::Result<()> {
    let client = super::cluster::client(&args.cluster).await?;
    let ns = &args.state_namespace;
    let record = match &args.waveset {
        Some(waveset) => {
            let store = StateStore::new(client, ns, waveset);
            let Some(loaded) = store.load().await? else {
                anyhow::bail!(
                    "no record for WaveSet {waveset:?} in namespace {ns:?} (nothing synced yet); `wavesync status` without --waveset lists the records there"
                );
            };
            loaded.record
        }
        None => {
            let mut all = StateStore::list(client, ns).await?;
            match all.len() {
                0 => anyhow::bail!(
                    "no wavesync records in namespace {ns:?} (nothing synced yet, or the agent keeps its state elsewhere: --state-namespace)"
                ),
                1 => all.remove(0).1?,
                _ => {
                    match args.output {
                        Output::Table => print!("{}", status::list_table(ns, &all)),
                        Output::Json => println!(
                            "{}",
                            serde_json::to_string_pretty(&status::list_json(&all)?)?
                        ),
                    }
                    return Ok(());
                }
            }
        }
    };
    match args.output {
        Output::Table => print!("{}", status::table(&record)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&status::json(&record)?)?),
    }
    Ok(())
}

/// Clears the record.
pub async fn reset(args: StateArgs) -> anyhow::Result<()> {
    let client = super::cluster::client(&args.cluster).await?;
    let store = StateStore::new(client, &args.state_namespace, &args.waveset);
    if store.reset().await? {
        println!(
            "record {} deleted; the next sync starts from the first wave",
            store.name()
        );
    } else {
        println!("no record {} to delete", store.name());
    }
    Ok(())
}
