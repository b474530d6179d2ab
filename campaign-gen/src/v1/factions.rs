//! Player homes, NPC empires, territory and fair starts.
//!
//! Homes are spread by farthest-point sampling on hyperlane hops, so they sit
//! at least [`MIN_HOME_HOPS`] apart whenever the map allows it. The resource
//! value within [`FAIR_RADIUS_HOPS`] of every home is then levelled to the
//! richest home's by adding deposits to systems only that home can reach
//! first, so no player starts poorer than another.

use crate::rng::Stream;
use crate::settings::{Difficulty, GameMode, Settings};
use crate::world::{
    Ethos, Faction, FactionId, FactionKind, Government, Planet, PlanetKind, Resources, SpeciesId,
    StarClass, StarSystem, SystemId,
};

use super::graph::{Graph, UNREACHED};
use super::names::{NameBook, STARS, adjective, roman};
use super::planets::{home_planet, homely};

/// Fair starts are balanced over the systems within this many hops of a home.
pub const FAIR_RADIUS_HOPS: u32 = 1;
/// Player homes are at least this many hyperlane hops apart.
pub const MIN_HOME_HOPS: u32 = 3;
/// Tries of the farthest-point spread from different first homes.
const HOME_ATTEMPTS: u32 = 6;

/// How many NPC empires a campaign of these settings has.
pub(crate) fn npc_empire_count(settings: &Settings) -> u32 {
    let p = u32::from(settings.players());
    let base = match settings.mode() {
        GameMode::Conquest => p / 4 + 2,
        GameMode::Diplomacy => p / 3 + 3,
        GameMode::Exploration => p / 6 + 2,
        GameMode::Survival => p / 4 + 3,
    };
    let adjusted = match settings.difficulty() {
        Difficulty::Story => base.saturating_sub(1),
        Difficulty::Normal => base,
        Difficulty::Hard => base + 1,
        Difficulty::Brutal => base + 2,
    };
    adjusted.clamp(2, 14)
}

/// Picks `count` systems from `candidates`, each as far (in hops) from those
/// already picked as possible. `seed_dist` gives the initial distances (from
/// systems chosen earlier), or `None` to start fresh from a random candidate.
/// Returns the picks and the smallest distance any pick had when chosen.
fn spread(
    graph: &mut Graph,
    candidates: &[usize],
    count: usize,
    seed_dist: Option<&[u32]>,
    rng: &mut Stream,
) -> (Vec<usize>, u32) {
    let n = graph.len();
    let mut rank: Vec<u32> = (0..n as u32).collect();
    rng.shuffle(&mut rank);
    let mut dist: Vec<u32> = seed_dist.map_or_else(|| vec![UNREACHED; n], <[u32]>::to_vec);
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    let mut worst = u32::MAX;
    let mut taken = vec![false; n];
    while picked.len() < count {
        let choice = if seed_dist.is_none() && picked.is_empty() {
            rng.pick(candidates).copied()
        } else {
            candidates
                .iter()
                .copied()
                .filter(|&c| !taken[c])
                .max_by_key(|&c| (dist[c], rank[c]))
        };
        let Some(c) = choice else { break };
        if !picked.is_empty() || seed_dist.is_some() {
            worst = worst.min(dist[c]);
        }
        taken[c] = true;
        picked.push(c);
        graph.relax_from(c, &mut dist);
    }
    (picked, worst)
}

/// Player homes: the best of several farthest-point spreads.
fn choose_homes(
    systems: &[StarSystem],
    graph: &mut Graph,
    players: usize,
    rng: &mut Stream,
) -> Vec<usize> {
    let mut candidates: Vec<usize> = (0..systems.len())
        .filter(|&i| homely(systems[i].star) && graph.neighbours(i).len() >= 2)
        .collect();
    if candidates.len() < players * 2 {
        candidates = (0..systems.len()).collect();
    }
    let mut best: Option<(Vec<usize>, u32)> = None;
    for _ in 0..HOME_ATTEMPTS {
        let (homes, worst) = spread(graph, &candidates, players, None, rng);
        if homes.len() == players && best.as_ref().is_none_or(|(_, w)| worst > *w) {
            best = Some((homes, worst));
        }
    }
    match best {
        Some((homes, worst)) if worst >= MIN_HOME_HOPS => homes,
        Some((mut homes, _)) => {
            separate_homes(&mut homes, &candidates, graph);
            homes
        }
        None => Vec::new(),
    }
}

/// Moves any home closer than [`MIN_HOME_HOPS`] to another onto the
/// candidate farthest from all other homes, for a few rounds. Farthest-point
/// sampling is only a 2-approximation, so crowded maps need this.
fn separate_homes(homes: &mut [usize], candidates: &[usize], graph: &mut Graph) {
    let mut rows: Vec<Vec<u32>> = homes.iter().map(|&h| graph.hops(h)).collect();
    for _ in 0..6 {
        let mut moved = false;
        for i in 0..homes.len() {
            let nearest = |rows: &[Vec<u32>], at: usize| {
                rows.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, row)| row[at])
                    .min()
                    .unwrap_or(u32::MAX)
            };
            if nearest(&rows, homes[i]) >= MIN_HOME_HOPS {
                continue;
            }
            let better = candidates
                .iter()
                .copied()
                .filter(|c| !homes.contains(c))
                .map(|c| (nearest(&rows, c), std::cmp::Reverse(c)))
                .max();
            if let Some((d, std::cmp::Reverse(c))) = better
                && d > nearest(&rows, homes[i])
            {
                homes[i] = c;
                rows[i] = graph.hops(c);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// Integer HSL (degrees, percent, percent) to `#rrggbb`.
pub(crate) fn hsl_hex(h: u32, s: u32, l: u32) -> String {
    let h = h % 360;
    let (s, l) = (s.min(100) as i64, l.min(100) as i64);
    // Chroma and friends in 1/10000 units.
    let c = (100 - (2 * l - 100).abs()) * s;
    let hp = i64::from(h) * 100 / 60; // h' in 1/100
    let x = c * (100 - ((hp % 200) - 100).abs()) / 100;
    let (r1, g1, b1) = match hp / 100 {
        0 => (c, x, 0),
        1 => (x, c, 0),
        2 => (0, c, x),
        3 => (0, x, c),
        4 => (x, 0, c),
        _ => (c, 0, x),
    };
    let m = l * 100 - c / 2;
    let to8 = |v: i64| ((v + m) * 255 / 10_000).clamp(0, 255);
    format!("#{:02x}{:02x}{:02x}", to8(r1), to8(g1), to8(b1))
}

/// The map colour of a player slot: bright, well separated hues.
fn player_color(slot: u32) -> String {
    let light = [55, 68, 45][(slot / 17 % 3) as usize];
    hsl_hex(slot * 137 + 10, 85, light)
}

/// The map colour of an NPC empire: muted, so players stand out.
fn npc_color(k: u32) -> String {
    hsl_hex(k * 97 + 200, 22, 58)
}

/// What [`generate`] decides.
pub(crate) struct Placement {
    pub(crate) factions: Vec<Faction>,
}

/// Chooses homes and capitals, claims territory, sets up home planets and
/// levels the fair-start regions. Mutates the systems in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn generate(
    settings: &Settings,
    systems: &mut [StarSystem],
    graph: &mut Graph,
    species: &[crate::world::Species],
    names: &mut NameBook,
    name_rng: &mut Stream,
    rng: &mut Stream,
) -> Placement {
    let players = usize::from(settings.players());
    let homes = choose_homes(systems, graph, players, rng);

    // NPC capitals: spread further from every home, never next to one.
    let n = systems.len();
    let mut home_dist = vec![UNREACHED; n];
    for &h in &homes {
        graph.relax_from(h, &mut home_dist);
    }
    let capital_candidates: Vec<usize> = (0..n)
        .filter(|&i| home_dist[i] > FAIR_RADIUS_HOPS && systems[i].star != StarClass::BlackHole)
        .collect();
    let empires = npc_empire_count(settings) as usize;
    let (capitals, _) = spread(
        graph,
        &capital_candidates,
        empires.min(capital_candidates.len()),
        Some(&home_dist),
        rng,
    );

    // Species: players cycle through a shuffled list, empires draw freely.
    let mut order: Vec<u32> = (0..species.len() as u32).collect();
    rng.shuffle(&mut order);
    let mut factions = Vec::with_capacity(homes.len() + capitals.len());
    for (slot, &home) in homes.iter().enumerate() {
        let sp = SpeciesId(order.get(slot % order.len().max(1)).copied().unwrap_or(0));
        factions.push(new_faction(
            factions.len(),
            FactionKind::Player { slot: slot as u8 },
            sp,
            home,
            player_color(slot as u32),
            systems,
            names,
            name_rng,
            rng,
            settings,
        ));
    }
    for (k, &capital) in capitals.iter().enumerate() {
        let sp = SpeciesId(rng.below(species.len() as u32));
        factions.push(new_faction(
            factions.len(),
            FactionKind::NpcEmpire,
            sp,
            capital,
            npc_color(k as u32),
            systems,
            names,
            name_rng,
            rng,
            settings,
        ));
    }

    // Home systems: a homely star and the species' own kind of world.
    for f in &factions {
        let home = f.capital.index();
        let kind = species
            .get(f.species.index())
            .map_or(PlanetKind::Terran, |s| s.homeworld);
        let system = &mut systems[home];
        if !homely(system.star) && matches!(f.kind, FactionKind::Player { .. }) {
            system.star = StarClass::G;
        }
        let slot = system.planets.len() / 2;
        let name = format!("{} {}", system.name, roman(slot as u32 + 1));
        let planet = home_planet(name, kind);
        if slot < system.planets.len() {
            system.planets[slot] = planet;
        } else {
            system.planets.push(planet);
        }
        system.owner = Some(f.id);
    }

    claim_territory(&factions, systems, graph, &home_dist, rng);
    level_home_regions(&homes, systems, graph);
    Placement { factions }
}

#[allow(clippy::too_many_arguments)]
fn new_faction(
    index: usize,
    kind: FactionKind,
    species: SpeciesId,
    capital: usize,
    color: String,
    systems: &[StarSystem],
    names: &mut NameBook,
    name_rng: &mut Stream,
    rng: &mut Stream,
    settings: &Settings,
) -> Faction {
    let government = *rng.pick(&Government::ALL).unwrap_or(&Government::Republic);
    let ethos = match kind {
        FactionKind::NpcEmpire => npc_ethos(settings, rng),
        FactionKind::Player { .. } => *rng.pick(&Ethos::ALL).unwrap_or(&Ethos::Curious),
    };
    let title = rng.pick_str(government.titles());
    let mut root = adjective(&systems[capital].name, name_rng);
    let mut name = format!("the {root} {title}");
    while !names.reserve(&name) {
        root = adjective(&names.fresh(&STARS, name_rng), name_rng);
        name = format!("the {root} {title}");
    }
    Faction {
        id: FactionId(index as u32),
        name,
        kind,
        species,
        government,
        ethos,
        capital: SystemId(capital as u32),
        color,
    }
}

/// NPC empires lean towards the mode's tensions and the difficulty's menace.
fn npc_ethos(settings: &Settings, rng: &mut Stream) -> Ethos {
    let hostile = match settings.difficulty() {
        Difficulty::Story => 1,
        Difficulty::Normal => 2,
        Difficulty::Hard => 3,
        Difficulty::Brutal => 5,
    };
    let (curious, peaceful) = match settings.mode() {
        GameMode::Conquest => (1, 1),
        GameMode::Diplomacy => (1, 4),
        GameMode::Exploration => (4, 2),
        GameMode::Survival => (1, 1),
    };
    let weights = [hostile * 2, curious * 2, 3, 2, hostile, peaceful * 2];
    let i = rng.weighted(&weights).unwrap_or(0);
    Ethos::ALL[i]
}

/// NPC empires grow outwards from their capitals, a system at a time in turn,
/// never into a player's fair-start region.
fn claim_territory(
    factions: &[Faction],
    systems: &mut [StarSystem],
    graph: &Graph,
    home_dist: &[u32],
    rng: &mut Stream,
) {
    let empires: Vec<&Faction> = factions
        .iter()
        .filter(|f| f.kind == FactionKind::NpcEmpire)
        .collect();
    let mut targets: Vec<u32> = empires.iter().map(|_| 2 + rng.below(4)).collect();
    let mut frontier: Vec<Vec<usize>> = empires.iter().map(|f| vec![f.capital.index()]).collect();
    let mut grew = true;
    while grew {
        grew = false;
        for (k, f) in empires.iter().enumerate() {
            if targets[k] == 0 {
                continue;
            }
            let next = frontier[k].iter().find_map(|&s| {
                graph
                    .neighbours(s)
                    .iter()
                    .map(|&n| n as usize)
                    .find(|&n| systems[n].owner.is_none() && home_dist[n] > FAIR_RADIUS_HOPS)
            });
            if let Some(n) = next {
                systems[n].owner = Some(f.id);
                frontier[k].push(n);
                targets[k] -= 1;
                grew = true;
            } else {
                targets[k] = 0;
            }
        }
    }
}

/// Levels the resource value within [`FAIR_RADIUS_HOPS`] of every home to
/// the richest home's, adding deposits only to systems in no other home's
/// region so that levelling one home never changes another.
fn level_home_regions(homes: &[usize], systems: &mut [StarSystem], graph: &mut Graph) {
    let regions: Vec<Vec<usize>> = homes
        .iter()
        .map(|&h| graph.within(h, FAIR_RADIUS_HOPS))
        .collect();
    let mut cover = vec![0u32; systems.len()];
    for region in &regions {
        for &s in region {
            cover[s] += 1;
        }
    }
    let values: Vec<u32> = regions
        .iter()
        .map(|r| r.iter().map(|&s| systems[s].resource_value()).sum())
        .collect();
    let target = values.iter().copied().max().unwrap_or(0);
    for (region, value) in regions.iter().zip(values) {
        let deficit = target - value;
        if deficit == 0 {
            continue;
        }
        let own: Vec<usize> = region.iter().copied().filter(|&s| cover[s] == 1).collect();
        let mut slots: Vec<(usize, usize)> = own
            .iter()
            .flat_map(|&s| (0..systems[s].planets.len()).map(move |p| (s, p)))
            .collect();
        if slots.is_empty() {
            // No planet to enrich: a new asteroid belt carries the deposits.
            let Some(&s) = own.first() else { continue };
            let sys = &mut systems[s];
            let name = format!("{} {}", sys.name, roman(sys.planets.len() as u32 + 1));
            sys.planets.push(Planet {
                name,
                kind: PlanetKind::AsteroidBelt,
                size: 1,
                resources: Resources::default(),
            });
            slots.push((s, sys.planets.len() - 1));
        }
        let k = slots.len() as u32;
        for (i, &(s, p)) in slots.iter().enumerate() {
            let share = deficit / k + u32::from((i as u32) < deficit % k);
            add_deposit(&mut systems[s].planets[p].resources, share);
        }
    }
}

/// Adds `amount` value to a planet's most plentiful common resource.
fn add_deposit(r: &mut Resources, amount: u32) {
    if r.food >= r.minerals && r.food >= r.energy && r.food > 0 {
        r.food += amount;
    } else if r.energy > r.minerals {
        r.energy += amount;
    } else {
        r.minerals += amount;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_conversion_hits_the_primaries() {
        assert_eq!(hsl_hex(0, 100, 50), "#ff0000");
        assert_eq!(hsl_hex(120, 100, 50), "#00ff00");
        assert_eq!(hsl_hex(240, 100, 50), "#0000ff");
        assert_eq!(hsl_hex(0, 0, 100), "#ffffff");
        assert_eq!(hsl_hex(0, 0, 0), "#000000");
    }

    #[test]
    fn deposits_go_to_the_main_resource_and_keep_the_amount() {
        let mut r = Resources {
            minerals: 3,
            energy: 1,
            food: 0,
            exotics: 1,
        };
        let before = r.value();
        add_deposit(&mut r, 7);
        assert_eq!(r.minerals, 10);
        assert_eq!(r.value(), before + 7);
    }
}
