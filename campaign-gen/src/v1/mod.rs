//! Generator version 1. Frozen: any change to what this module produces
//! belongs in a new version module, so campaigns created with v1 regenerate
//! byte for byte forever. Golden tests pin its output.

mod characters;
mod factions;
mod graph;
mod map;
mod names;
mod objectives;
mod planets;
mod species;
mod story;

pub use factions::{FAIR_RADIUS_HOPS, MIN_HOME_HOPS};
pub use map::MAX_LANES_PER_SYSTEM;
pub use species::SPECIES_COUNT;

use crate::rng::{Concern, Stream};
use crate::settings::Settings;
use crate::world::{Backstory, Galaxy, Lane, StarSystem, SystemId, World, adjacency};

use names::{NameBook, STARS};

/// The tag mixed into every stream key of this version.
const TAG: &str = "v1";

/// Extra systems per NPC empire, on top of the players' share.
const SYSTEMS_PER_EMPIRE: u32 = 4;

/// Suffixes of galaxy names.
const GALAXY_SUFFIXES: &[&str] = &[
    "Expanse", "Reach", "Spiral", "Drift", "Veil", "Crown", "Deep", "Cluster",
];

/// Generates a world with version 1 of the generator.
pub(crate) fn generate(seed: u64, settings: &Settings) -> World {
    let stream = |concern| Stream::new(seed, TAG, concern);
    let mut map_rng = stream(Concern::Map);
    let mut planet_rng = stream(Concern::Planets);
    let mut name_rng = stream(Concern::Names);
    let mut species_rng = stream(Concern::Species);
    let mut faction_rng = stream(Concern::Factions);
    let mut character_rng = stream(Concern::Characters);
    let mut story_rng = stream(Concern::Story);
    let mut objective_rng = stream(Concern::Objectives);
    let mut names = NameBook::default();

    let galaxy_name = format!(
        "the {} {}",
        names.fresh(&STARS, &mut name_rng),
        name_rng.pick_str(GALAXY_SUFFIXES)
    );

    let empires = factions::npc_empire_count(settings);
    let count = u32::from(settings.players()) * u32::from(settings.galaxy().systems_per_player())
        + empires * SYSTEMS_PER_EMPIRE;
    let layout = map::layout(count, &mut map_rng);
    let lane_pairs = map::hyperlanes(&layout.points, layout.radius, &mut map_rng);

    let mut systems: Vec<StarSystem> = layout
        .points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let name = names.fresh(&STARS, &mut name_rng);
            let star = planets::star(&mut planet_rng);
            let planets = planets::planets(&name, star, settings.difficulty(), &mut planet_rng);
            let feature = planets::feature(settings.mode(), &mut planet_rng);
            StarSystem {
                id: SystemId(i as u32),
                name,
                x,
                y,
                star,
                planets,
                feature,
                owner: None,
            }
        })
        .collect();
    let lanes: Vec<Lane> = lane_pairs
        .iter()
        .map(|&(a, b)| Lane {
            a: SystemId(a as u32),
            b: SystemId(b as u32),
            length: map::lane_length(layout.points[a], layout.points[b]),
        })
        .collect();
    let mut graph = graph::Graph::new(&adjacency(systems.len(), &lanes));

    let species = species::generate(settings, &mut names, &mut name_rng, &mut species_rng);
    let placement = factions::generate(
        settings,
        &mut systems,
        &mut graph,
        &species,
        &mut names,
        &mut name_rng,
        &mut faction_rng,
    );
    let factions = placement.factions;
    let history = story::history(
        &mut systems,
        &factions,
        &mut names,
        &mut name_rng,
        &mut story_rng,
    );
    let characters = characters::generate(
        settings,
        &systems,
        &species,
        &factions,
        &history.events,
        &mut names,
        &mut name_rng,
        &mut character_rng,
    );
    let backstory: Backstory = story::backstory(
        &story::Facts {
            galaxy_name: &galaxy_name,
            settings,
            systems: &systems,
            species: &species,
            factions: &factions,
            characters: &characters,
            history: &history,
        },
        &mut story_rng,
    );
    let objectives = objectives::generate(
        &objectives::Board {
            settings,
            systems: &systems,
            factions: &factions,
            characters: &characters,
        },
        &mut graph,
        &mut objective_rng,
    );
    World {
        generator_version: settings.generator_version(),
        seed,
        settings: settings.clone(),
        name: galaxy_name,
        galaxy: Galaxy {
            shape: layout.shape,
            radius: layout.radius,
            systems,
            lanes,
        },
        species,
        factions,
        characters,
        history: history.events,
        backstory,
        objectives,
    }
}
