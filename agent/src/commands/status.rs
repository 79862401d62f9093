//! `wavesync status` and `wavesync reset`.

use crate::cli::{Output, StateArgs, StatusArgs};
use crate::report::status;
use crate::state::StateStore;

/// Prints the record.
pub async fn show(args: StatusArgs) -> anyhow::Result<()> {
    let client = super::cluster::client(&args.state.cluster).await?;
    let store = StateStore::new(client, &args.state.state_namespace, &args.state.waveset);
    let Some(loaded) = store.load().await? else {
        anyhow::bail!(
            "no record for WaveSet {:?} in namespace {:?} (nothing synced yet)",
            args.state.waveset,
            args.state.state_namespace
        );
    };
    match args.output {
        Output::Table => print!("{}", status::table(&loaded.record)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status::json(&loaded.record))?
        ),
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
