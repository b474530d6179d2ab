//! The `campaign-gen` command line: generate a world and print it as JSON,
//! an SVG map, a text report or just its hash.
//!
//! Exit codes: 0 on success, 2 for bad flags or settings (with a message
//! naming the field and the allowed range), 1 when the output cannot be
//! written.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    Difficulty, GalaxySize, GameMode, GeneratorVersion, MAX_PLAYERS, MIN_PLAYERS, Settings,
    SpeciesKind, generate,
};

/// Seeded, reproducible Startales campaign worlds.
#[derive(Debug, Parser)]
#[command(name = "campaign-gen", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a world from a seed and settings.
    Generate(GenerateArgs),
}

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The canonical JSON encoding (the bytes the world hash is taken of).
    Json,
    /// An SVG map.
    Svg,
    /// A readable report.
    Text,
    /// Only the world hash.
    Hash,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// The campaign seed (0 to 18446744073709551615).
    #[arg(long)]
    seed: u64,
    /// Number of players (2-50).
    #[arg(long, default_value = "8", value_parser = parse_players)]
    players: u8,
    /// Galaxy size: small, medium, large, or systems per player (6-24).
    #[arg(long, default_value = "medium", value_parser = parse_named::<GalaxySize>)]
    galaxy: GalaxySize,
    /// Difficulty: story, normal, hard or brutal.
    #[arg(long, default_value = "normal", value_parser = parse_named::<Difficulty>)]
    difficulty: Difficulty,
    /// Game mode: conquest, diplomacy, exploration or survival.
    #[arg(long, default_value = "conquest", value_parser = parse_named::<GameMode>)]
    mode: GameMode,
    /// Species kinds allowed, comma separated (default: all), e.g.
    /// humanoid,avian,lithoid.
    #[arg(long, value_delimiter = ',', value_parser = parse_named::<SpeciesKind>)]
    species: Option<Vec<SpeciesKind>>,
    /// Generator version.
    #[arg(long = "generator", default_value = "v1", value_parser = parse_named::<GeneratorVersion>)]
    generator: GeneratorVersion,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Indent the JSON (not canonical; the hash is of the compact form).
    #[arg(long)]
    pretty: bool,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn parse_players(s: &str) -> Result<u8, String> {
    let range = format!("between {MIN_PLAYERS} and {MAX_PLAYERS}");
    match s.trim().parse::<u32>() {
        Ok(n) if (u32::from(MIN_PLAYERS)..=u32::from(MAX_PLAYERS)).contains(&n) => Ok(n as u8),
        Ok(n) => Err(format!("players must be {range}, got {n}")),
        Err(_) => Err(format!("players must be a whole number {range}")),
    }
}

fn parse_named<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = crate::SettingsError>,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

/// Runs the command line with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints usage errors to stderr and help/version to stdout.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Generate(args) => run_generate(args),
    }
}

fn run_generate(args: GenerateArgs) -> ExitCode {
    let settings = match Settings::new(
        args.players,
        args.galaxy,
        args.difficulty,
        args.mode,
        args.species,
        args.generator,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let world = generate(args.seed, &settings);
    let bytes = match args.format {
        Format::Json if args.pretty => {
            let mut v = serde_json::to_vec_pretty(&world).unwrap_or_default();
            v.push(b'\n');
            v
        }
        Format::Json => {
            let mut v = world.canonical_json();
            v.push(b'\n');
            v
        }
        Format::Svg => crate::svg(&world).into_bytes(),
        Format::Text => crate::text(&world).into_bytes(),
        Format::Hash => format!("{}\n", world.hash()).into_bytes(),
    };
    match &args.output {
        Some(path) => match std::fs::write(path, &bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(1)
            }
        },
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write to standard output: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn players_are_parsed_with_the_range_in_errors() {
        assert_eq!(parse_players("8"), Ok(8));
        assert!(parse_players("1").unwrap_err().contains("between 2 and 50"));
        assert!(parse_players("999").unwrap_err().contains("got 999"));
        assert!(parse_players("many").unwrap_err().contains("whole number"));
    }
}
