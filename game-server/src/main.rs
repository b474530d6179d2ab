//! The game-server binary: see the library for everything it does.

fn main() -> std::process::ExitCode {
    game_server::main_entry()
}
