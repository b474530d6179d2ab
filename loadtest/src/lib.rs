//! Load generator for Startales: drives the game servers' WebSocket play
//! protocol (and, as they grow, the orchestrator's HTTP API) at set rates
//! and reports latency percentiles.
//!
//! `loadtest game-server --bin target/release/game-server` starts a game
//! server for a 50-player campaign on a fresh data directory, measures its
//! resident memory while idle, then connects the players, has each send one
//! command a second, and reports acknowledgement latency and tick timing.
//! `--narrator slow` puts an OpenAI-compatible server that takes 3 s per
//! answer behind the server, to show narration never holds up the game.
//!
//! `loadtest profiles` and `loadtest logins` drive a running orchestrator:
//! see [`orchestrator`].

pub mod gameserver;
pub mod orchestrator;
pub mod runtime;
pub mod stats;

use clap::{Parser, Subcommand};

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about = "Load generator for Startales")]
pub struct Cli {
    #[command(subcommand)]
    command: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One game server: idle memory, ack latency under play, tick timing.
    GameServer(gameserver::Options),
    /// Authenticated profile reads at a fixed rate against an orchestrator.
    Profiles(orchestrator::ProfileOptions),
    /// Log-in throughput against an orchestrator, beside raw Argon2id.
    Logins(orchestrator::LoginOptions),
    /// Campaign discovery with filters at a fixed rate over many campaigns.
    Browse(orchestrator::BrowseOptions),
    /// Many players joining the same few campaigns at a fixed rate.
    Joins(orchestrator::JoinOptions),
    /// The local runtime: stopped to Joinable from a large snapshot.
    Runtime(runtime::RuntimeOptions),
}

/// Parses the command line, runs the scenario and returns the exit code.
pub fn main_entry() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
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
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Scenario::GameServer(o) => gameserver::run(o).await,
            Scenario::Profiles(o) => orchestrator::profiles(o).await,
            Scenario::Logins(o) => orchestrator::logins(o).await,
            Scenario::Browse(o) => orchestrator::browse(o).await,
            Scenario::Joins(o) => orchestrator::joins(o).await,
            Scenario::Runtime(o) => runtime::run(o).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
