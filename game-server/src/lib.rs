//! The Startales game server: one process per campaign.
//!
//! It generates (or restores) a campaign world, runs the deterministic
//! simulation ([`sim`]) over a command log kept in SQLite ([`store`],
//! [`engine`]), lets players in over a WebSocket with signed join tokens
//! ([`protocol`], [`auth`], [`http`]), narrates beside the game
//! ([`narrator`]) and snapshots its database to an object store
//! ([`snapshot`]). [`server`] ties these into the lifecycle
//! Starting → Restoring | Generating → Warming → Joinable → Draining → Stopped.

pub mod auth;
pub mod config;
pub mod engine;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod narrator;
pub mod protocol;
pub mod replay;
pub mod server;
pub mod sim;
pub mod snapshot;
pub mod store;
pub mod warm;

use clap::Parser as _;

/// Entry point of the binary: parses the command line and runs it.
/// Returns the process exit code.
pub fn main_entry() -> std::process::ExitCode {
    main_with_args(std::env::args_os())
}

/// Like [`main_entry`] with the given arguments (the first is the program
/// name), for binaries that embed the game server as a subcommand.
pub fn main_with_args<I, T>(args: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match config::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    // One TLS crypto provider for the process (object_store, async-openai).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        config::CliCommand::Replay { path } => replay::replay_path(&path).map(|r| {
            println!("campaign={}", r.campaign_id);
            println!("ticks={}", r.ticks);
            println!("commands={}", r.commands);
            println!("state_hash={}", r.state_hash);
        }),
        config::CliCommand::Warm(config) => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => match rt.block_on(warm::wait(&config)) {
                #[cfg(unix)]
                Ok(assignment) => {
                    drop(rt);
                    Err(warm::become_server(&assignment))
                }
                #[cfg(not(unix))]
                Ok(_) => Err(anyhow::anyhow!("warm mode needs a Unix host")),
                Err(e) => Err(e),
            },
            Err(e) => Err(anyhow::Error::new(e).context("starting the runtime")),
        },
        config::CliCommand::Serve(config) => {
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(server::serve(*config)),
                Err(e) => Err(anyhow::Error::new(e).context("starting the runtime")),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
