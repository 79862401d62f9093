//! The `wavesync` binary: parses the command line and dispatches.

use clap::Parser;
use wavesync::cli::{Cli, Command, LogFormat};
use wavesync::commands;

// The agent idles for months between commits: an allocator that returns
// freed memory to the OS keeps its resident size near what it uses.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            // Printed by hand: anyhow's Debug output would add a backtrace
            // whenever RUST_BACKTRACE is set, which buries the message.
            eprintln!("Error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(category) = category(&e) {
                eprintln!("  category: {category}: {}", category.advice());
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// The category of the first categorized error in the chain.
fn category(e: &anyhow::Error) -> Option<wavesync::error::Category> {
    use wavesync::error::Categorized;
    e.chain().find_map(|c| {
        if let Some(e) = c.downcast_ref::<wavesync::reconcile::SyncError>() {
            Some(e.category())
        } else if let Some(e) = c.downcast_ref::<wavesync::config::ConfigError>() {
            Some(e.category())
        } else if let Some(e) = c.downcast_ref::<wavesync::state::StateError>() {
            Some(e.category())
        } else if let Some(e) = c.downcast_ref::<wavesync::source::SourceError>() {
            Some(e.category())
        } else {
            c.downcast_ref::<wavesync::render::RenderError>()
                .map(Categorized::category)
        }
    })
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // The helm worker talks JSON lines on stdio and needs no runtime, no
    // logging set-up and none of the agent's threads.
    if let Command::HelmWorker(a) = &cli.command {
        wavesync::render::chart::worker::serve(&a.lib)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // `diff` exits 2 when something changes, as `diff` and `kubectl diff` do.
    if let Command::Diff(a) = cli.command {
        let changed = commands::diff::run(a)?;
        return Ok(std::process::ExitCode::from(if changed { 2 } else { 0 }));
    }
    // `validate` exits 1 when it finds errors, having printed them all.
    if let Command::Validate(a) = cli.command {
        let valid = commands::validate::run(a)?;
        return Ok(std::process::ExitCode::from(if valid { 0 } else { 1 }));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(dispatch(cli))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,wavesync=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match cli.command {
        Command::Run(a) => commands::run::run(a).await,
        Command::Sync(a) => commands::sync::run(a).await,
        Command::Status(a) => commands::status::show(a).await,
        Command::Reset(a) => commands::status::reset(a).await,
        Command::Render(a) => commands::render::run(a),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&wavesync::config::json_schema())?
            );
            Ok(())
        }
        #[cfg(feature = "sim")]
        Command::Demo(a) => commands::demo::run(a).await,
        #[cfg(feature = "sim")]
        Command::Sim(a) => commands::sim::run(a).await,
        Command::HelmWorker(_) | Command::Diff(_) | Command::Validate(_) => {
            unreachable!("served before the runtime starts")
        }
    }
}
