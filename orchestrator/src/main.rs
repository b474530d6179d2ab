//! The `orchestrator` binary; see [`orchestrator::cli`].

fn main() -> std::process::ExitCode {
    // One TLS provider for the whole process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    orchestrator::cli::main()
}
