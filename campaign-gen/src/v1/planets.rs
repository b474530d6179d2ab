//! Stars, planets, resources and system features.

use crate::rng::Stream;
use crate::settings::{Difficulty, GameMode};
use crate::world::{Feature, Planet, PlanetKind, Resources, StarClass};

use super::names::roman;

const STAR_WEIGHTS: [(StarClass, u32); 10] = [
    (StarClass::M, 30),
    (StarClass::K, 22),
    (StarClass::G, 16),
    (StarClass::F, 10),
    (StarClass::A, 6),
    (StarClass::B, 3),
    (StarClass::O, 1),
    (StarClass::WhiteDwarf, 6),
    (StarClass::Neutron, 3),
    (StarClass::BlackHole, 2),
];

/// Whether a star can host a player's home.
pub(crate) fn homely(star: StarClass) -> bool {
    matches!(
        star,
        StarClass::F | StarClass::G | StarClass::K | StarClass::M
    )
}

/// Draws a star class.
pub(crate) fn star(rng: &mut Stream) -> StarClass {
    let weights: Vec<u32> = STAR_WEIGHTS.iter().map(|&(_, w)| w).collect();
    let i = rng.weighted(&weights).unwrap_or(0);
    STAR_WEIGHTS[i].0
}

/// Planet kinds and their weights around a star.
fn planet_weights(star: StarClass) -> [(PlanetKind, u32); 10] {
    use PlanetKind::*;
    let temperate = matches!(star, StarClass::F | StarClass::G | StarClass::K);
    let hot = matches!(star, StarClass::O | StarClass::B | StarClass::A);
    let remnant = matches!(star, StarClass::WhiteDwarf | StarClass::Neutron);
    let h = if temperate { 6 } else { 1 };
    [
        (Terran, h),
        (Ocean, h),
        (Jungle, h),
        (Desert, if hot { 3 } else { h }),
        (Arctic, if star == StarClass::M { 5 } else { 2 }),
        (Barren, if remnant { 10 } else { 6 }),
        (Volcanic, if hot { 6 } else { 3 }),
        (Toxic, 4),
        (GasGiant, 6),
        (AsteroidBelt, 4),
    ]
}

/// Base resources per unit of planet size.
fn base_resources(kind: PlanetKind) -> Resources {
    use PlanetKind::*;
    let (minerals, energy, food, exotics) = match kind {
        Terran => (2, 1, 4, 0),
        Ocean => (1, 1, 4, 0),
        Jungle => (1, 1, 3, 0),
        Desert => (2, 2, 1, 0),
        Arctic => (2, 0, 1, 0),
        Barren => (3, 0, 0, 0),
        Volcanic => (3, 2, 0, 0),
        Toxic => (1, 1, 0, 1),
        GasGiant => (0, 4, 0, 0),
        AsteroidBelt => (4, 0, 0, 0),
    };
    Resources {
        minerals,
        energy,
        food,
        exotics,
    }
}

/// Richness in percent for a difficulty.
fn richness(difficulty: Difficulty) -> u32 {
    match difficulty {
        Difficulty::Story => 125,
        Difficulty::Normal => 100,
        Difficulty::Hard => 85,
        Difficulty::Brutal => 70,
    }
}

/// Deposits of a planet of this kind and size.
pub(crate) fn resources_for(
    kind: PlanetKind,
    size: u8,
    difficulty: Difficulty,
    rng: &mut Stream,
) -> Resources {
    let base = base_resources(kind);
    let rich = richness(difficulty);
    let mut scale = |v: u32| {
        if v == 0 {
            0
        } else {
            // Size, a +-25% roll and the difficulty's richness.
            let rolled = v * u32::from(size) * (75 + rng.below(51));
            (rolled * rich / 10_000).max(1)
        }
    };
    Resources {
        minerals: scale(base.minerals),
        energy: scale(base.energy),
        food: scale(base.food),
        exotics: scale(base.exotics),
    }
}

/// The planets of a system named `system_name`.
pub(crate) fn planets(
    system_name: &str,
    star: StarClass,
    difficulty: Difficulty,
    rng: &mut Stream,
) -> Vec<Planet> {
    let count = match star {
        StarClass::BlackHole => 0,
        StarClass::Neutron | StarClass::WhiteDwarf => rng.below(3),
        StarClass::O | StarClass::B => 1 + rng.below(4),
        _ => 1 + rng.below(6),
    };
    let weights = planet_weights(star);
    let w: Vec<u32> = weights.iter().map(|&(_, w)| w).collect();
    (0..count)
        .map(|i| {
            let kind = weights[rng.weighted(&w).unwrap_or(0)].0;
            let size = match kind {
                PlanetKind::GasGiant => 4 + rng.below(2) as u8,
                PlanetKind::AsteroidBelt => 1 + rng.below(2) as u8,
                _ => 1 + rng.below(5) as u8,
            };
            Planet {
                name: format!("{system_name} {}", roman(i + 1)),
                kind,
                size,
                resources: resources_for(kind, size, difficulty, rng),
            }
        })
        .collect()
}

/// A system feature, or none (most systems have none).
pub(crate) fn feature(mode: GameMode, rng: &mut Stream) -> Option<Feature> {
    // Explorers get more to find.
    let odds = if mode == GameMode::Exploration {
        22
    } else {
        12
    };
    if !rng.chance(odds, 100) {
        return None;
    }
    let table = [
        (Feature::PrecursorRuins, 3),
        (Feature::Nebula, 4),
        (Feature::Derelict, 3),
        (Feature::Pulsar, 2),
        (Feature::IonStorm, 3),
        (Feature::AsteroidField, 4),
    ];
    let w: Vec<u32> = table.iter().map(|&(_, w)| w).collect();
    rng.weighted(&w).map(|i| table[i].0)
}

/// A home planet of the given kind: the same size and deposits for everyone.
pub(crate) fn home_planet(name: String, kind: PlanetKind) -> Planet {
    Planet {
        name,
        kind,
        size: 4,
        resources: Resources {
            minerals: 8,
            energy: 6,
            food: 12,
            exotics: 0,
        },
    }
}
