//! The `orchestrator` binary; see [`orchestrator::cli`].

fn main() -> std::process::ExitCode {
    // `orchestrator game-server ...` is the game server itself, so the
    // local runtime needs no second binary.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "game-server")
    {
        return game_server::main_with_args(std::env::args_os().skip(1));
    }
    // One TLS provider for the whole process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    orchestrator::cli::main()
}
