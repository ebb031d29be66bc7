//! `callvault`: a call-recording server that speaks the NICE Uptivity API.

mod admin;
mod app;
mod capture_sources;
mod cli_export;
mod commands;
mod config;
mod events_listener;
mod http;
mod metrics;
mod packaging;
mod purge;
mod render;
mod socket;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "callvault",
    version,
    about = "A call-recording server that speaks the NICE Uptivity API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: WebAPI, socket API, capture replay and recording.
    Serve(config::ServeArgs),
    /// Export recordings to a file, from the data directory or from a running server.
    Export(cli_export::ExportArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let (command, result) = match cli.command {
        Command::Serve(args) => ("serve", serve(args)),
        Command::Export(args) => ("export", cli_export::run(args)),
    };
    // One line with every cause, and exit status 1.
    if let Err(e) = result {
        eprintln!("callvault {command}: {e:#}");
        std::process::exit(1);
    }
}

fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    let config = config::Config::load(args)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(app::serve(config))
}
