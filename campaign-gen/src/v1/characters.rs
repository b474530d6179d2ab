//! NPC characters: leaders, envoys, rivals and independents, with
//! personalities, motives that point at real things in the world, attitudes
//! towards factions and relationships to each other.

use crate::rng::Stream;
use crate::settings::{GameMode, Settings};
use crate::world::{
    Attitude, Character, CharacterId, EventKind, Faction, FactionId, FactionKind, Feature,
    HistoricalEvent, Motive, Personality, RelationKind, Relationship, Role, Species, SpeciesId,
    StarSystem, SystemId, WarOutcome,
};

use super::names::{NameBook, style_for};

/// Two or three personality traits with no contradictory pair.
fn personality(rng: &mut Stream) -> Vec<Personality> {
    rng.compatible(&Personality::ALL, Personality::opposite)
}

/// Who a character is before motives and relationships are drawn.
struct Sketch {
    role: Role,
    faction: Option<FactionId>,
    species: SpeciesId,
}

fn sketches(
    settings: &Settings,
    factions: &[Faction],
    species_count: u32,
    rng: &mut Stream,
) -> Vec<Sketch> {
    let mut out = Vec::new();
    let empires: Vec<&Faction> = factions
        .iter()
        .filter(|f| f.kind == FactionKind::NpcEmpire)
        .collect();
    let mode = settings.mode();
    for f in &empires {
        out.push(Sketch {
            role: Role::Leader,
            faction: Some(f.id),
            species: f.species,
        });
        let envoys = if mode == GameMode::Diplomacy { 2 } else { 1 };
        for _ in 0..envoys {
            out.push(Sketch {
                role: Role::Envoy,
                faction: Some(f.id),
                species: f.species,
            });
        }
        if matches!(mode, GameMode::Conquest | GameMode::Survival) && rng.chance(1, 2) {
            out.push(Sketch {
                role: Role::Admiral,
                faction: Some(f.id),
                species: f.species,
            });
        }
    }
    let rivals = (u32::from(settings.players()) / 3).max(2);
    for _ in 0..rivals {
        let faction = if rng.chance(1, 2) {
            rng.pick(&empires).map(|f| f.id)
        } else {
            None
        };
        let species = match faction.and_then(|f| factions.get(f.index())) {
            Some(f) => f.species,
            None => SpeciesId(rng.below(species_count)),
        };
        out.push(Sketch {
            role: Role::Rival,
            faction,
            species,
        });
    }
    let mut independents = vec![Role::Merchant, Role::Scholar, Role::Prophet];
    if mode == GameMode::Exploration {
        independents.push(Role::Scholar);
    }
    for role in independents {
        out.push(Sketch {
            role,
            faction: None,
            species: SpeciesId(rng.below(species_count)),
        });
    }
    out
}

/// Wars a faction lost, with the winner.
fn defeats(history: &[HistoricalEvent], faction: FactionId) -> Vec<(&HistoricalEvent, FactionId)> {
    history
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::War {
                aggressor,
                defender,
                outcome,
                ..
            } => match outcome {
                WarOutcome::AggressorVictory if defender == faction => Some((e, aggressor)),
                WarOutcome::DefenderVictory if aggressor == faction => Some((e, defender)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Everything motives may point at.
struct Targets<'a> {
    systems: &'a [StarSystem],
    factions: &'a [Faction],
    history: &'a [HistoricalEvent],
    /// Systems with ruins or derelicts, or any feature, or the precursor site.
    mysteries: Vec<SystemId>,
    /// The richest systems.
    riches: Vec<SystemId>,
}

impl<'a> Targets<'a> {
    fn new(
        systems: &'a [StarSystem],
        factions: &'a [Faction],
        history: &'a [HistoricalEvent],
    ) -> Self {
        let mut mysteries: Vec<SystemId> = systems
            .iter()
            .filter(|s| matches!(s.feature, Some(Feature::PrecursorRuins | Feature::Derelict)))
            .map(|s| s.id)
            .collect();
        if mysteries.is_empty() {
            mysteries = systems
                .iter()
                .filter(|s| s.feature.is_some())
                .map(|s| s.id)
                .collect();
        }
        let mut by_value: Vec<(u32, SystemId)> = systems
            .iter()
            .filter(|s| !factions.iter().any(|f| f.capital == s.id))
            .map(|s| (s.resource_value(), s.id))
            .collect();
        by_value.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let riches = by_value.iter().take(12).map(|&(_, id)| id).collect();
        Targets {
            systems,
            factions,
            history,
            mysteries,
            riches,
        }
    }

    fn faction_name(&self, id: FactionId) -> &str {
        self.factions
            .get(id.index())
            .map_or("", |f| f.name.as_str())
    }

    fn system_name(&self, id: SystemId) -> &str {
        self.systems.get(id.index()).map_or("", |s| s.name.as_str())
    }

    fn players(&self) -> Vec<FactionId> {
        self.factions
            .iter()
            .filter(|f| matches!(f.kind, FactionKind::Player { .. }))
            .map(|f| f.id)
            .collect()
    }

    fn other_empires(&self, not: Option<FactionId>) -> Vec<FactionId> {
        self.factions
            .iter()
            .filter(|f| f.kind == FactionKind::NpcEmpire && Some(f.id) != not)
            .map(|f| f.id)
            .collect()
    }

    fn wealth(&self, rng: &mut Stream) -> Option<Motive> {
        rng.pick(&self.riches)
            .map(|&system| Motive::Wealth { system })
    }

    fn knowledge(&self, rng: &mut Stream) -> Option<Motive> {
        rng.pick(&self.mysteries)
            .map(|&system| Motive::Knowledge { system })
    }

    fn revenge(&self, faction: Option<FactionId>, rng: &mut Stream) -> Option<Motive> {
        let lost = defeats(self.history, faction?);
        rng.pick(&lost).map(|&(war, against)| Motive::Revenge {
            war: war.id,
            against,
        })
    }

    fn motive(&self, sketch: &Sketch, rng: &mut Stream) -> Motive {
        let own = sketch.faction;
        let protect_own = own.map(|faction| Motive::Protect { faction });
        let chosen = match sketch.role {
            Role::Leader => match rng.below(3) {
                0 => self.revenge(own, rng),
                1 => rng
                    .pick(&self.other_empires(own))
                    .map(|&faction| Motive::Power { faction }),
                _ => protect_own.clone(),
            },
            Role::Envoy => {
                if rng.chance(1, 2) {
                    protect_own.clone()
                } else {
                    self.wealth(rng)
                }
            }
            Role::Admiral => self.revenge(own, rng).or_else(|| protect_own.clone()),
            Role::Rival => match rng.below(3) {
                0 => self.revenge(own, rng),
                1 => self.wealth(rng),
                _ => rng
                    .pick(&self.players())
                    .map(|&faction| Motive::Power { faction }),
            },
            Role::Merchant => self.wealth(rng),
            Role::Scholar => self.knowledge(rng),
            Role::Prophet => Some(Motive::Faith),
        };
        chosen
            .or(protect_own)
            .or_else(|| self.wealth(rng))
            .unwrap_or(Motive::Faith)
    }

    fn describe(&self, motive: &Motive) -> String {
        match motive {
            Motive::Revenge { war, against } => format!(
                "Wants revenge on {} for {}.",
                self.faction_name(*against),
                self.history
                    .get(war.index())
                    .map_or("", |e| e.name.as_str())
            ),
            Motive::Power { faction } => {
                format!("Means to bring {} to heel.", self.faction_name(*faction))
            }
            Motive::Wealth { system } => {
                format!("Covets the riches of {}.", self.system_name(*system))
            }
            Motive::Knowledge { system } => format!(
                "Is obsessed with the secrets of {}.",
                self.system_name(*system)
            ),
            Motive::Protect { faction } => format!(
                "Will do anything to keep {} safe.",
                self.faction_name(*faction)
            ),
            Motive::Faith => "Preaches a faith meant for every star.".to_string(),
        }
    }
}

/// Generates the characters.
#[allow(clippy::too_many_arguments)]
pub(crate) fn generate(
    settings: &Settings,
    systems: &[StarSystem],
    species: &[Species],
    factions: &[Faction],
    history: &[HistoricalEvent],
    names: &mut NameBook,
    name_rng: &mut Stream,
    rng: &mut Stream,
) -> Vec<Character> {
    let sketches = sketches(settings, factions, species.len() as u32, rng);
    let targets = Targets::new(systems, factions, history);
    let players = targets.players();
    let mut characters: Vec<Character> = sketches
        .iter()
        .enumerate()
        .map(|(i, sketch)| {
            let kind = species
                .get(sketch.species.index())
                .map_or(crate::settings::SpeciesKind::Humanoid, |s| s.kind);
            let name = names.fresh(style_for(kind), name_rng);
            let personality = personality(rng);
            let title = format!(
                "the {}",
                capitalise(personality.first().map_or("Quiet", |p| p.label()))
            );
            let motive = targets.motive(sketch, rng);
            let motive_text = targets.describe(&motive);
            let mut attitudes: Vec<Attitude> = Vec::new();
            let mut set = |faction: FactionId, value: i32| {
                if let Some(a) = attitudes.iter_mut().find(|a| a.faction == faction) {
                    a.value = value;
                } else {
                    attitudes.push(Attitude { faction, value });
                }
            };
            for _ in 0..2 {
                if let Some(f) = rng.pick(factions) {
                    set(f.id, rng.range(-50, 50));
                }
            }
            match &motive {
                Motive::Revenge { against, .. } => set(*against, rng.range(-100, -70)),
                Motive::Power { faction } => set(*faction, rng.range(-80, -30)),
                Motive::Protect { faction } => set(*faction, rng.range(70, 100)),
                _ => {}
            }
            if sketch.role == Role::Rival
                && let Some(&p) = rng.pick(&players)
            {
                set(p, rng.range(-90, -40));
            }
            if let Some(own) = sketch.faction {
                set(own, rng.range(60, 100));
            }
            attitudes.sort_by_key(|a| a.faction);
            Character {
                id: CharacterId(i as u32),
                name,
                title,
                species: sketch.species,
                role: sketch.role,
                faction: sketch.faction,
                personality,
                motive,
                motive_text,
                attitudes,
                relationships: Vec::new(),
            }
        })
        .collect();
    relate(&mut characters, history, rng);
    characters
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Adds relationships, always on both sides: envoys and admirals ally with
/// their leader, leaders of empires that fought are rivals or nemeses, and a
/// few chance ties.
fn relate(characters: &mut [Character], history: &[HistoricalEvent], rng: &mut Stream) {
    let mut pairs: Vec<(usize, usize, RelationKind)> = Vec::new();
    let leader_of = |f: FactionId, cs: &[Character]| {
        cs.iter()
            .position(|c| c.role == Role::Leader && c.faction == Some(f))
    };
    for (i, c) in characters.iter().enumerate() {
        if matches!(c.role, Role::Envoy | Role::Admiral)
            && let Some(l) = c.faction.and_then(|f| leader_of(f, characters))
        {
            let kind = if rng.chance(1, 4) {
                RelationKind::Sibling
            } else {
                RelationKind::Ally
            };
            pairs.push((i, l, kind));
        }
    }
    for e in history {
        if let EventKind::War {
            aggressor,
            defender,
            ..
        } = e.kind
            && let (Some(a), Some(d)) = (
                leader_of(aggressor, characters),
                leader_of(defender, characters),
            )
        {
            let kind = if rng.chance(1, 2) {
                RelationKind::Nemesis
            } else {
                RelationKind::Rival
            };
            pairs.push((a, d, kind));
        }
    }
    let n = characters.len();
    if n >= 2 {
        for i in 0..n {
            if rng.chance(1, 3) {
                let mut j = rng.index(n - 1);
                if j >= i {
                    j += 1;
                }
                let kinds = [
                    RelationKind::Ally,
                    RelationKind::Rival,
                    RelationKind::Mentor,
                    RelationKind::Sibling,
                ];
                let kind = kinds[rng.index(kinds.len())];
                pairs.push((i, j, kind));
            }
        }
    }
    for (i, j, kind) in pairs {
        let known = characters[i]
            .relationships
            .iter()
            .any(|r| r.other.index() == j);
        if i == j || known {
            continue;
        }
        characters[i].relationships.push(Relationship {
            other: CharacterId(j as u32),
            kind,
        });
        characters[j].relationships.push(Relationship {
            other: CharacterId(i as u32),
            kind: kind.reciprocal(),
        });
    }
    for c in characters.iter_mut() {
        c.relationships.sort_by_key(|r| r.other);
    }
}
