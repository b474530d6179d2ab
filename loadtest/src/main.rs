//! `loadtest`: see the library.

fn main() -> std::process::ExitCode {
    loadtest::main_entry()
}
