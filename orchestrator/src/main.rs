//! The `orchestrator` binary; see [`orchestrator::cli`].

// Listings and joins allocate many small rows per request; glibc's
// allocator spent a seventh of a busy server's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
