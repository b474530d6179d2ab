//! Public objectives for every player faction and one secret objective each,
//! all achievable in the generated world: every target exists, is reachable
//! and is not the player's own.

use crate::rng::Stream;
use crate::settings::{Difficulty, GameMode, Settings};
use crate::world::{
    Character, Faction, FactionId, FactionKind, Goal, Objective, Role, StarSystem, SystemId,
    Visibility,
};

use super::graph::{Graph, UNREACHED};

/// Everything objectives are drawn from.
pub(crate) struct Board<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) systems: &'a [StarSystem],
    pub(crate) factions: &'a [Faction],
    pub(crate) characters: &'a [Character],
}

impl Board<'_> {
    fn system_name(&self, id: SystemId) -> &str {
        self.systems.get(id.index()).map_or("", |s| s.name.as_str())
    }

    fn faction_name(&self, id: FactionId) -> &str {
        self.factions
            .get(id.index())
            .map_or("", |f| f.name.as_str())
    }

    fn describe(&self, goal: &Goal) -> String {
        match goal {
            Goal::ControlSystems { count } => format!("Hold {count} systems."),
            Goal::HoldSystem { system } => {
                format!(
                    "Hold {} at the end of the campaign.",
                    self.system_name(*system)
                )
            }
            Goal::CaptureCapital { faction } => {
                let capital = self
                    .factions
                    .get(faction.index())
                    .map_or("", |f| self.system_name(f.capital));
                format!(
                    "Take {capital}, the capital of {}.",
                    self.faction_name(*faction)
                )
            }
            Goal::Treaties { count } => format!("Be at peace by treaty with {count} factions."),
            Goal::AllyWith { faction } => {
                format!("Forge an alliance with {}.", self.faction_name(*faction))
            }
            Goal::Survey { count } => format!("Survey {count} systems."),
            Goal::Reach { system } => {
                format!("Bring a ship to {}.", self.system_name(*system))
            }
            Goal::Endure { turns } => format!("Keep your home system for {turns} turns."),
            Goal::Protect { character } => {
                let c = self.characters.get(character.index());
                format!(
                    "Keep {} {} alive and free to the end.",
                    c.map_or("", |c| c.name.as_str()),
                    c.map_or("", |c| c.title.as_str())
                )
            }
            Goal::Outgrow { faction } => format!(
                "End the campaign holding more systems than {}.",
                self.faction_name(*faction)
            ),
        }
    }
}

/// The NPC empire whose capital is fewest hops away (ties by id).
fn nearest_empire(board: &Board<'_>, hops: &[u32]) -> Option<FactionId> {
    board
        .factions
        .iter()
        .filter(|f| f.kind == FactionKind::NpcEmpire)
        .min_by_key(|f| (hops[f.capital.index()], f.id))
        .map(|f| f.id)
}

/// Generates the objectives, public ones first, in faction order.
pub(crate) fn generate(board: &Board<'_>, graph: &mut Graph, rng: &mut Stream) -> Vec<Objective> {
    let settings = board.settings;
    let per_player = u32::from(settings.galaxy().systems_per_player());
    let system_count = board.systems.len() as u32;
    let players: Vec<&Faction> = board
        .factions
        .iter()
        .filter(|f| matches!(f.kind, FactionKind::Player { .. }))
        .collect();
    let empires = board
        .factions
        .iter()
        .filter(|f| f.kind == FactionKind::NpcEmpire)
        .count() as u32;
    let capitals: Vec<SystemId> = board.factions.iter().map(|f| f.capital).collect();

    let mut public = Vec::new();
    let mut secret = Vec::new();
    for f in &players {
        let hops = graph.hops(f.capital.index());
        let mut goals = Vec::new();
        match settings.mode() {
            GameMode::Conquest => {
                goals.push(Goal::ControlSystems {
                    count: (per_player * 2).min(system_count / 2),
                });
                if let Some(faction) = nearest_empire(board, &hops) {
                    goals.push(Goal::CaptureCapital { faction });
                }
            }
            GameMode::Diplomacy => {
                goals.push(Goal::Treaties {
                    count: 3.min(empires + players.len() as u32 - 1),
                });
                if let Some(faction) = nearest_empire(board, &hops) {
                    goals.push(Goal::AllyWith { faction });
                }
            }
            GameMode::Exploration => {
                goals.push(Goal::Survey {
                    count: (system_count / 3).max(5).min(system_count),
                });
                // The farthest wonder, or the farthest system if there is none.
                let farthest = |wonders_only: bool| {
                    board
                        .systems
                        .iter()
                        .filter(|s| !wonders_only || s.feature.is_some())
                        .filter(|s| !capitals.contains(&s.id))
                        .filter(|s| hops[s.id.index()] != UNREACHED)
                        .max_by_key(|s| (hops[s.id.index()], std::cmp::Reverse(s.id)))
                        .map(|s| s.id)
                };
                if let Some(system) = farthest(true).or_else(|| farthest(false)) {
                    goals.push(Goal::Reach { system });
                }
            }
            GameMode::Survival => {
                let turns = match settings.difficulty() {
                    Difficulty::Story => 60,
                    Difficulty::Normal => 80,
                    Difficulty::Hard => 100,
                    Difficulty::Brutal => 120,
                };
                goals.push(Goal::Endure { turns });
                goals.push(Goal::ControlSystems {
                    count: per_player.min(system_count / 2),
                });
            }
        }
        for goal in goals {
            public.push(Objective {
                faction: f.id,
                visibility: Visibility::Public,
                description: board.describe(&goal),
                goal,
            });
        }

        // One secret goal, drawn from those this world can offer.
        let near: Vec<SystemId> = board
            .systems
            .iter()
            .filter(|s| (2..=5).contains(&hops[s.id.index()]))
            .filter(|s| !capitals.contains(&s.id))
            .map(|s| s.id)
            .collect();
        let wonders: Vec<SystemId> = near
            .iter()
            .copied()
            .filter(|s| board.systems[s.index()].feature.is_some())
            .collect();
        let protectable: Vec<&Character> = board
            .characters
            .iter()
            .filter(|c| c.role != Role::Rival)
            .collect();
        let others: Vec<FactionId> = players
            .iter()
            .map(|p| p.id)
            .filter(|&p| p != f.id)
            .collect();
        let mut options: Vec<Goal> = Vec::new();
        if let Some(&system) = rng.pick(&wonders).or_else(|| rng.pick(&near)) {
            options.push(Goal::HoldSystem { system });
        }
        if let Some(c) = rng.pick(&protectable) {
            options.push(Goal::Protect { character: c.id });
        }
        if let Some(&faction) = rng.pick(&others) {
            options.push(Goal::Outgrow { faction });
        }
        let goal = rng
            .pick(&options)
            .cloned()
            .unwrap_or(Goal::Endure { turns: 40 });
        secret.push(Objective {
            faction: f.id,
            visibility: Visibility::Secret,
            description: board.describe(&goal),
            goal,
        });
    }
    public.extend(secret);
    public
}
