//! Seeded, reproducible campaign worlds for Startales.
//!
//! [`generate`] turns a seed and [`Settings`] into a [`World`]: a galaxy of
//! named star systems joined by hyperlanes, eight species, one faction per
//! player plus NPC empires, NPC characters, a backstory, objectives and fair
//! starting positions. It is a pure function: no I/O, no clock, no threads,
//! no floating point. The same seed, settings and generator version give a
//! byte-identical [`World::canonical_json`] on every platform and in every
//! later release; [`World::hash`] is its SHA-256.
//!
//! ```
//! use campaign_gen::{generate, Settings};
//!
//! let settings = Settings::builder().players(4).build()?;
//! let world = generate(42, &settings);
//! assert_eq!(world.player_factions().count(), 4);
//! assert_eq!(world.hash(), generate(42, &settings).hash());
//! # Ok::<(), campaign_gen::SettingsError>(())
//! ```

pub mod cli;
mod render;
mod rng;
mod settings;
mod v1;
mod world;

pub use render::{svg, text};
pub use settings::{
    Difficulty, GalaxySize, GameMode, GeneratorVersion, MAX_PLAYERS, MAX_SYSTEMS_PER_PLAYER,
    MIN_PLAYERS, MIN_SYSTEMS_PER_PLAYER, Settings, SettingsBuilder, SettingsError, SpeciesKind,
};
pub use v1::{FAIR_RADIUS_HOPS, MAX_LANES_PER_SYSTEM, MIN_HOME_HOPS, SPECIES_COUNT};
pub use world::*;

/// Generates the world for `seed` with the generator version named in
/// `settings`.
pub fn generate(seed: u64, settings: &Settings) -> World {
    match settings.generator_version() {
        GeneratorVersion::V1 => v1::generate(seed, settings),
    }
}
