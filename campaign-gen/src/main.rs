//! The `campaign-gen` preview command; see [`campaign_gen::cli`].

fn main() -> std::process::ExitCode {
    campaign_gen::cli::main()
}
