//! History and backstory: structured events first, then prose from a grammar.
//!
//! The prose only names things that exist: every name it prints comes from
//! the world's systems, species, factions, characters and events, and each is
//! recorded in [`Backstory::mentions`].

use crate::rng::Stream;
use crate::settings::{GameMode, Settings};
use crate::world::{
    Backstory, Character, EventId, EventKind, Faction, FactionId, FactionKind, Feature,
    HistoricalEvent, Mention, Role, Species, StarSystem, SystemId, WarOutcome,
};

use super::names::{NameBook, STARS, adjective};
use super::species::join_and;

/// Grammar rules: a symbol and its alternatives. Alternatives may use other
/// symbols as `<name>` and the caller's variables as `{name}`.
const RULES: &[(&str, &[&str])] = &[
    (
        "old",
        &[
            "ancient",
            "old beyond reckoning",
            "older than its oldest stars",
            "scarred and ancient",
        ],
    ),
    (
        "vanished",
        &["vanished", "fell silent", "went dark", "were swept away"],
    ),
    (
        "remain",
        &[
            "still hum with a power no one understands",
            "wait, half-buried, for the bold",
            "are picked over by scavengers and scholars alike",
            "still draw pilgrims and thieves",
        ],
    ),
    ("rose", &["rose", "was forged", "was founded", "took shape"]),
    (
        "attacked",
        &[
            "fell upon",
            "declared war on",
            "struck at",
            "turned its guns on",
        ],
    ),
    ("bitter", &["bitter", "long", "ruinous", "savage"]),
    ("signed", &["signed", "sealed", "agreed"]),
    ("fragile", &["fragile", "uneasy", "hard-won", "grudging"]),
    ("struck", &["struck", "ravaged", "emptied", "scarred"]),
    ("now", &["Now", "Today", "In this age"]),
    (
        "stir",
        &[
            "stir",
            "have risen",
            "reach for the stars",
            "have come of age",
        ],
    ),
    (
        "origin",
        &[
            "{galaxy} is <old>. Long before the present peoples looked up, the {precursors} ruled here, and then they <vanished>. Their greatest ruins, at {site}, <remain>.",
            "The {precursors} built across {galaxy} when it was young, and {years} years ago they <vanished>. At {site} their ruins <remain>.",
        ],
    ),
    (
        "peoples",
        &[
            "Eight peoples now share these stars: {species}.",
            "Eight peoples walk these lanes today: {species}.",
        ],
    ),
    (
        "founding",
        &[
            "{empire} <rose> at {capital} {years} years ago.",
            "{years} years ago {empire} <rose> around {capital}.",
        ],
    ),
    (
        "war",
        &[
            "{years} years ago {aggressor} <attacked> {defender}. {war} was <bitter>, and it was decided at {battle}, where {outcome}.",
            "{war} began {years} years ago, when {aggressor} <attacked> {defender}. At {battle} {outcome}.",
        ],
    ),
    (
        "treaty",
        &[
            "{years} years ago {first} and {second} <signed> {treaty} at {place}, a <fragile> peace.",
            "At {place}, {years} years ago, {first} and {second} <signed> {treaty}; the peace it made is <fragile>.",
        ],
    ),
    (
        "catastrophe",
        &[
            "{years} years ago {disaster} <struck> {place}, and the lanes there are still feared.",
            "No one has forgotten {disaster}, which <struck> {place} {years} years ago.",
        ],
    ),
    (
        "leader",
        &[
            "{name} rules {empire}, {trait} and {trait2}.",
            "{empire} answers to {name}, who is {trait} and {trait2}.",
        ],
    ),
    (
        "rival",
        &[
            "And in the shadows {name} watches the newcomers, {trait} and patient no longer.",
            "{name}, {trait} and watchful, has already marked the newcomers as prey.",
        ],
    ),
    (
        "arrival",
        &[
            "<now> {count} young powers <stir>, among them {players}.",
            "<now> {count} new powers <stir>: among them {players}.",
        ],
    ),
];

/// The closing hook of each game mode.
fn hook(mode: GameMode) -> &'static str {
    match mode {
        GameMode::Conquest => {
            "The old borders will not hold. Whoever holds the lanes will hold the galaxy."
        }
        GameMode::Diplomacy => {
            "No one power can stand alone; the treaties signed in the coming years will decide \
             who endures."
        }
        GameMode::Exploration => {
            "Beyond the charted lanes lie wonders no living eye has seen, and the first to reach \
             them will shape what comes next."
        }
        GameMode::Survival => {
            "Something is wrong with the galaxy. Harvests fail, lanes fall silent, and only the \
             stubborn will see the end of it."
        }
    }
}

/// Expands `symbol` with variables, choosing alternatives from `rng`.
pub(crate) fn expand(symbol: &str, vars: &[(&str, String)], rng: &mut Stream) -> String {
    expand_depth(symbol, vars, rng, 0)
}

fn expand_depth(symbol: &str, vars: &[(&str, String)], rng: &mut Stream, depth: u32) -> String {
    let Some((_, alternatives)) = RULES.iter().find(|(name, _)| *name == symbol) else {
        return String::new();
    };
    let chosen = rng.pick_str(alternatives);
    let mut out = String::new();
    let mut rest = chosen;
    while let Some(open) = rest.find(['<', '{']) {
        out.push_str(&rest[..open]);
        let close_char = if rest.as_bytes()[open] == b'<' {
            '>'
        } else {
            '}'
        };
        let Some(len) = rest[open..].find(close_char) else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &rest[open + 1..open + len];
        if close_char == '>' {
            if depth < 4 {
                out.push_str(&expand_depth(key, vars, rng, depth + 1));
            }
        } else if let Some((_, v)) = vars.iter().find(|(k, _)| *k == key) {
            out.push_str(v);
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The history of the galaxy.
pub(crate) struct History {
    pub(crate) events: Vec<HistoricalEvent>,
}

const WAR_NOUNS: &[&str] = &[
    "Ashes",
    "Broken Stars",
    "the Long Night",
    "Silent Guns",
    "Iron",
    "the Seventh Moon",
    "Cinders",
    "the Red Lanes",
];
const DISASTERS: &[&str] = &[
    "Blight", "Burning", "Silence", "Plague", "Collapse", "Storm",
];

/// Generates precursors, foundings, wars, treaties and catastrophes, and
/// marks the precursors' greatest ruins on the map.
pub(crate) fn history(
    systems: &mut [StarSystem],
    factions: &[Faction],
    names: &mut NameBook,
    name_rng: &mut Stream,
    rng: &mut Stream,
) -> History {
    let precursors = format!(
        "{} precursors",
        adjective(&names.fresh(&STARS, name_rng), name_rng)
    );
    let mut events: Vec<HistoricalEvent> = Vec::new();
    let mut push = |name: String, years_ago: u32, kind: EventKind| {
        events.push(HistoricalEvent {
            id: EventId(0),
            name,
            years_ago,
            kind,
        });
    };

    // The precursors' greatest ruins: an existing ruin, or an unclaimed system.
    let ruins: Vec<usize> = (0..systems.len())
        .filter(|&i| systems[i].feature == Some(Feature::PrecursorRuins))
        .collect();
    let unclaimed: Vec<usize> = (0..systems.len())
        .filter(|&i| systems[i].owner.is_none())
        .collect();
    let site = match rng.pick(&ruins) {
        Some(&s) => s,
        None => {
            let s = rng.pick(&unclaimed).copied().unwrap_or(0);
            if let Some(sys) = systems.get_mut(s) {
                sys.feature = Some(Feature::PrecursorRuins);
            }
            s
        }
    };
    let fall_years = 5_000 + rng.below(20_000);
    push(
        format!("the Fall of the {precursors}"),
        fall_years,
        EventKind::PrecursorFall {
            precursors: precursors.clone(),
            system: SystemId(site as u32),
        },
    );

    let empires: Vec<&Faction> = factions
        .iter()
        .filter(|f| f.kind == FactionKind::NpcEmpire)
        .collect();
    let founded: Vec<u32> = empires.iter().map(|_| 300 + rng.below(1_700)).collect();
    for (f, &years) in empires.iter().zip(&founded) {
        push(
            format!("the Founding of {}", strip_article(&f.name)),
            years,
            EventKind::Founding { faction: f.id },
        );
    }

    // Wars between distinct pairs of empires, after both were founded.
    let mut used_names: Vec<String> = Vec::new();
    if empires.len() >= 2 {
        let wars = (1 + rng.below(3)).min(empires.len() as u32 - 1);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for _ in 0..wars {
            let a = rng.index(empires.len());
            let mut b = rng.index(empires.len() - 1);
            if b >= a {
                b += 1;
            }
            if pairs.contains(&(a, b)) || pairs.contains(&(b, a)) {
                continue;
            }
            pairs.push((a, b));
            let (aggressor, defender) = (empires[a], empires[b]);
            let held: Vec<usize> = (0..systems.len())
                .filter(|&i| systems[i].owner == Some(defender.id) && i != defender.capital.index())
                .collect();
            let battle = rng.pick(&held).copied().unwrap_or(defender.capital.index());
            let outcome = match rng.below(3) {
                0 => WarOutcome::AggressorVictory,
                1 => WarOutcome::DefenderVictory,
                _ => WarOutcome::Stalemate,
            };
            let years = rng.below(founded[a].min(founded[b]).max(2) - 1) + 1;
            let mut name = if rng.chance(1, 2) {
                format!("the War of {}", rng.pick_str(WAR_NOUNS))
            } else {
                format!("the {} War", adjective(&systems[battle].name, rng))
            };
            let base = name.clone();
            for ordinal in ["Second", "Third", "Fourth"] {
                if !used_names.contains(&name) {
                    break;
                }
                name = format!("the {ordinal} {}", strip_article(&base));
            }
            used_names.push(name.clone());
            push(
                name,
                years,
                EventKind::War {
                    aggressor: aggressor.id,
                    defender: defender.id,
                    battle: SystemId(battle as u32),
                    outcome,
                },
            );
        }
        // A treaty between two empires.
        let a = rng.index(empires.len());
        let mut b = rng.index(empires.len() - 1);
        if b >= a {
            b += 1;
        }
        let place = if rng.chance(1, 2) {
            empires[a].capital
        } else {
            empires[b].capital
        };
        let years = rng.below(founded[a].min(founded[b]).max(2) - 1) + 1;
        push(
            format!("the Accord of {}", systems[place.index()].name),
            years,
            EventKind::Treaty {
                first: empires[a].id,
                second: empires[b].id,
                system: place,
            },
        );
    }

    if rng.chance(2, 3) && !unclaimed.is_empty() {
        let s = rng.pick(&unclaimed).copied().unwrap_or(0);
        push(
            format!("the {} of {}", rng.pick_str(DISASTERS), systems[s].name),
            10 + rng.below(290),
            EventKind::Catastrophe {
                system: SystemId(s as u32),
            },
        );
    }

    // Oldest first; ids are positions in that order.
    events.sort_by(|a, b| b.years_ago.cmp(&a.years_ago).then(a.name.cmp(&b.name)));
    for (i, e) in events.iter_mut().enumerate() {
        e.id = EventId(i as u32);
    }
    History { events }
}

fn strip_article(name: &str) -> &str {
    name.strip_prefix("the ").unwrap_or(name)
}

/// Capitalises the first letter of a sentence.
fn sentence(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => s,
    }
}

/// Collects mentions as prose is written.
struct Mentions(Vec<Mention>);

impl Mentions {
    fn name(&mut self, m: Mention, text: &str) -> String {
        if !self.0.contains(&m) {
            self.0.push(m);
        }
        text.to_string()
    }
}

/// Everything the prose may name.
pub(crate) struct Facts<'a> {
    pub(crate) galaxy_name: &'a str,
    pub(crate) settings: &'a Settings,
    pub(crate) systems: &'a [StarSystem],
    pub(crate) species: &'a [Species],
    pub(crate) factions: &'a [Faction],
    pub(crate) characters: &'a [Character],
    pub(crate) history: &'a History,
}

/// Writes the backstory.
pub(crate) fn backstory(facts: &Facts<'_>, rng: &mut Stream) -> Backstory {
    let mut m = Mentions(Vec::new());
    let mut paragraphs = Vec::new();
    let events = &facts.history.events;
    let faction_name = |m: &mut Mentions, id: FactionId| {
        m.name(
            Mention::Faction(id),
            facts
                .factions
                .get(id.index())
                .map_or("", |f| f.name.as_str()),
        )
    };
    let system_name = |m: &mut Mentions, id: SystemId| {
        m.name(
            Mention::System(id),
            facts
                .systems
                .get(id.index())
                .map_or("", |s| s.name.as_str()),
        )
    };

    // Origins.
    let mut origin = String::new();
    for e in events {
        if let EventKind::PrecursorFall { precursors, system } = &e.kind {
            let site = system_name(&mut m, *system);
            origin = sentence(expand(
                "origin",
                &[
                    ("galaxy", facts.galaxy_name.to_string()),
                    ("precursors", precursors.clone()),
                    ("site", site),
                    ("years", e.years_ago.to_string()),
                ],
                rng,
            ));
        }
    }
    paragraphs.push(origin);

    // Peoples and the founding of the empires.
    let species_names: Vec<String> = facts
        .species
        .iter()
        .map(|s| m.name(Mention::Species(s.id), &s.name))
        .collect();
    let species_refs: Vec<&str> = species_names.iter().map(String::as_str).collect();
    let mut peoples = vec![expand(
        "peoples",
        &[("species", format!("the {}", join_and(&species_refs)))],
        rng,
    )];
    for e in events {
        if let EventKind::Founding { faction } = e.kind {
            let empire = faction_name(&mut m, faction);
            let capital = facts
                .factions
                .get(faction.index())
                .map(|f| system_name(&mut m, f.capital))
                .unwrap_or_default();
            peoples.push(sentence(expand(
                "founding",
                &[
                    ("empire", empire),
                    ("capital", capital),
                    ("years", e.years_ago.to_string()),
                ],
                rng,
            )));
        }
    }
    paragraphs.push(peoples.join(" "));

    // Wars, treaties and disasters, oldest first.
    let mut conflicts = Vec::new();
    for e in events {
        let years = e.years_ago.to_string();
        let text = match &e.kind {
            EventKind::War {
                aggressor,
                defender,
                battle,
                outcome,
            } => {
                let war = m.name(Mention::Event(e.id), &e.name);
                let a = faction_name(&mut m, *aggressor);
                let d = faction_name(&mut m, *defender);
                let b = system_name(&mut m, *battle);
                let outcome = match outcome {
                    WarOutcome::AggressorVictory => format!("{a} broke the defenders"),
                    WarOutcome::DefenderVictory => format!("{d} held and drove the invaders back"),
                    WarOutcome::Stalemate => "both fleets burned and neither side won".to_string(),
                };
                expand(
                    "war",
                    &[
                        ("years", years),
                        ("aggressor", a),
                        ("defender", d),
                        ("war", war),
                        ("battle", b),
                        ("outcome", outcome),
                    ],
                    rng,
                )
            }
            EventKind::Treaty {
                first,
                second,
                system,
            } => {
                let treaty = m.name(Mention::Event(e.id), &e.name);
                let f = faction_name(&mut m, *first);
                let s = faction_name(&mut m, *second);
                let p = system_name(&mut m, *system);
                expand(
                    "treaty",
                    &[
                        ("years", years),
                        ("first", f),
                        ("second", s),
                        ("treaty", treaty),
                        ("place", p),
                    ],
                    rng,
                )
            }
            EventKind::Catastrophe { system } => {
                let disaster = m.name(Mention::Event(e.id), &e.name);
                let p = system_name(&mut m, *system);
                expand(
                    "catastrophe",
                    &[("years", years), ("disaster", disaster), ("place", p)],
                    rng,
                )
            }
            _ => continue,
        };
        conflicts.push(sentence(text));
    }
    if !conflicts.is_empty() {
        paragraphs.push(conflicts.join(" "));
    }

    // The present: who rules, who schemes, who arrives.
    let mut present = Vec::new();
    let leaders: Vec<&Character> = facts
        .characters
        .iter()
        .filter(|c| c.role == Role::Leader)
        .take(3)
        .collect();
    for c in leaders {
        let name = m.name(Mention::Character(c.id), &c.name);
        let empire = c
            .faction
            .map(|f| faction_name(&mut m, f))
            .unwrap_or_default();
        let (t1, t2) = two_traits(c);
        present.push(sentence(expand(
            "leader",
            &[
                ("name", name),
                ("empire", empire),
                ("trait", t1),
                ("trait2", t2),
            ],
            rng,
        )));
    }
    if let Some(rival) = facts.characters.iter().find(|c| c.role == Role::Rival) {
        let name = m.name(Mention::Character(rival.id), &rival.name);
        let (t1, _) = two_traits(rival);
        present.push(sentence(expand(
            "rival",
            &[("name", name), ("trait", t1)],
            rng,
        )));
    }
    paragraphs.push(present.join(" "));

    let players: Vec<&Faction> = facts
        .factions
        .iter()
        .filter(|f| matches!(f.kind, FactionKind::Player { .. }))
        .collect();
    let named: Vec<String> = players
        .iter()
        .take(3)
        .map(|f| faction_name(&mut m, f.id))
        .collect();
    let named_refs: Vec<&str> = named.iter().map(String::as_str).collect();
    let arrival = sentence(expand(
        "arrival",
        &[
            ("count", count_word(players.len())),
            ("players", join_and(&named_refs)),
        ],
        rng,
    ));
    paragraphs.push(format!("{arrival} {}", hook(facts.settings.mode())));

    Backstory {
        paragraphs,
        mentions: m.0,
    }
}

fn two_traits(c: &Character) -> (String, String) {
    let t1 = c.personality.first().map_or("silent", |p| p.label());
    let t2 = c.personality.get(1).map_or("watchful", |p| p.label());
    (t1.to_string(), t2.to_string())
}

fn count_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Concern;

    #[test]
    fn every_symbol_a_rule_uses_is_defined() {
        for (_, alternatives) in RULES {
            for alt in *alternatives {
                let mut rest = *alt;
                while let Some(open) = rest.find('<') {
                    let close = rest[open..].find('>').expect("closed symbol") + open;
                    let symbol = &rest[open + 1..close];
                    assert!(
                        RULES.iter().any(|(n, _)| *n == symbol),
                        "<{symbol}> is not defined"
                    );
                    rest = &rest[close + 1..];
                }
            }
        }
    }

    #[test]
    fn expansion_fills_variables_and_sub_rules() {
        let mut rng = Stream::new(1, "v1", Concern::Story);
        for _ in 0..20 {
            let text = expand(
                "catastrophe",
                &[
                    ("years", "40".into()),
                    ("disaster", "the Blight of Kessar".into()),
                    ("place", "Kessar".into()),
                ],
                &mut rng,
            );
            assert!(text.contains("the Blight of Kessar"), "{text}");
            assert!(text.contains("Kessar"));
            assert!(!text.contains('<') && !text.contains('{'), "{text}");
        }
    }
}
