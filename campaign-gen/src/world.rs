//! The generated world and its canonical encoding.
//!
//! Everything here is plain data with integer coordinates and amounts (no
//! floats), ordered `Vec`s (no hash maps), and ids that are indices into the
//! world's own lists. The canonical encoding is compact JSON with fields in
//! declaration order; [`World::hash`] is the SHA-256 of it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::settings::{GeneratorVersion, Settings, SpeciesKind};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The index of this id in the world's list.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Index into [`Galaxy::systems`].
    SystemId
);
id_type!(
    /// Index into [`World::species`].
    SpeciesId
);
id_type!(
    /// Index into [`World::factions`].
    FactionId
);
id_type!(
    /// Index into [`World::characters`].
    CharacterId
);
id_type!(
    /// Index into [`World::history`].
    EventId
);

/// A generated campaign world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// The generator version that made this world.
    pub generator_version: GeneratorVersion,
    /// The campaign seed.
    pub seed: u64,
    /// The settings the world was generated with.
    pub settings: Settings,
    /// The galaxy's name, such as "the Veyra Expanse".
    pub name: String,
    /// Stars, planets and hyperlanes.
    pub galaxy: Galaxy,
    /// The eight species of this galaxy.
    pub species: Vec<Species>,
    /// Player factions first (one per player, in slot order), then NPC empires.
    pub factions: Vec<Faction>,
    /// NPC characters.
    pub characters: Vec<Character>,
    /// Past events, oldest first; the backstory tells of them.
    pub history: Vec<HistoricalEvent>,
    /// The backstory prose and what it refers to.
    pub backstory: Backstory,
    /// Public objectives per player faction and one secret objective per player.
    pub objectives: Vec<Objective>,
}

impl World {
    /// The canonical encoding: compact JSON, fields in declaration order.
    pub fn canonical_json(&self) -> Vec<u8> {
        // Serialising plain structs of integers, strings and enums cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical encoding, as lower-case hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json()))
    }

    /// The system with this id.
    pub fn system(&self, id: SystemId) -> Option<&StarSystem> {
        self.galaxy.systems.get(id.index())
    }

    /// The faction with this id.
    pub fn faction(&self, id: FactionId) -> Option<&Faction> {
        self.factions.get(id.index())
    }

    /// The species with this id.
    pub fn species_by_id(&self, id: SpeciesId) -> Option<&Species> {
        self.species.get(id.index())
    }

    /// The character with this id.
    pub fn character(&self, id: CharacterId) -> Option<&Character> {
        self.characters.get(id.index())
    }

    /// The player factions, in slot order.
    pub fn player_factions(&self) -> impl Iterator<Item = &Faction> {
        self.factions
            .iter()
            .filter(|f| matches!(f.kind, FactionKind::Player { .. }))
    }

    /// The NPC empires.
    pub fn npc_empires(&self) -> impl Iterator<Item = &Faction> {
        self.factions
            .iter()
            .filter(|f| matches!(f.kind, FactionKind::NpcEmpire))
    }

    /// The total resource value of the systems within `radius` hyperlane
    /// hops of `center` (the measure fair starts are balanced on).
    pub fn resource_value_within(&self, center: SystemId, radius: u32) -> u32 {
        let hops = self.galaxy.hop_distances(center);
        self.galaxy
            .systems
            .iter()
            .zip(hops)
            .filter(|(_, h)| h.is_some_and(|h| h <= radius))
            .map(|(s, _)| s.resource_value())
            .sum()
    }
}

/// The shape stars were scattered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GalaxyShape {
    /// A bright core with spiral arms.
    Spiral {
        /// Number of arms (2-4).
        arms: u8,
    },
    /// An even disc.
    Disc,
    /// Separate star clusters joined by long lanes.
    Clusters {
        /// Number of clusters.
        count: u8,
    },
}

/// Stars, planets and hyperlanes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Galaxy {
    /// The shape of the galaxy.
    pub shape: GalaxyShape,
    /// Every system lies within this distance of the origin.
    pub radius: i32,
    /// Star systems; a system's id is its index.
    pub systems: Vec<StarSystem>,
    /// Hyperlanes, each once, with `a < b`, sorted.
    pub lanes: Vec<Lane>,
}

impl Galaxy {
    /// The neighbours of each system, sorted by id.
    pub fn adjacency(&self) -> Vec<Vec<SystemId>> {
        adjacency(self.systems.len(), &self.lanes)
    }

    /// Hyperlane hops from `from` to every system (`None` when unreachable).
    pub fn hop_distances(&self, from: SystemId) -> Vec<Option<u32>> {
        hop_distances(&self.adjacency(), from)
    }
}

/// The neighbours of each of `systems` systems joined by `lanes`, sorted by
/// id. Lanes naming systems out of range are ignored.
pub fn adjacency(systems: usize, lanes: &[Lane]) -> Vec<Vec<SystemId>> {
    let mut adj = vec![Vec::new(); systems];
    for lane in lanes {
        if lane.a.index() < systems && lane.b.index() < systems {
            adj[lane.a.index()].push(lane.b);
            adj[lane.b.index()].push(lane.a);
        }
    }
    for n in &mut adj {
        n.sort_unstable();
    }
    adj
}

/// Breadth-first hop counts over an adjacency list.
pub fn hop_distances(adjacency: &[Vec<SystemId>], from: SystemId) -> Vec<Option<u32>> {
    let mut dist = vec![None; adjacency.len()];
    if from.index() >= adjacency.len() {
        return dist;
    }
    let mut queue = std::collections::VecDeque::new();
    dist[from.index()] = Some(0);
    queue.push_back(from);
    while let Some(s) = queue.pop_front() {
        let d = dist[s.index()].unwrap_or(0);
        for &n in &adjacency[s.index()] {
            if dist[n.index()].is_none() {
                dist[n.index()] = Some(d + 1);
                queue.push_back(n);
            }
        }
    }
    dist
}

/// A star system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarSystem {
    /// Its id (its index in [`Galaxy::systems`]).
    pub id: SystemId,
    /// A unique, pronounceable name.
    pub name: String,
    /// Map coordinate (east).
    pub x: i32,
    /// Map coordinate (south, as on screen).
    pub y: i32,
    /// The star.
    pub star: StarClass,
    /// Planets, innermost first.
    pub planets: Vec<Planet>,
    /// Something remarkable about the system.
    pub feature: Option<Feature>,
    /// The faction holding it at the start.
    pub owner: Option<FactionId>,
}

impl StarSystem {
    /// The summed resource value of its planets.
    pub fn resource_value(&self) -> u32 {
        self.planets.iter().map(|p| p.resources.value()).sum()
    }
}

/// Spectral class or remnant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StarClass {
    /// Blue giant.
    O,
    /// Blue-white.
    B,
    /// White.
    A,
    /// Yellow-white.
    F,
    /// Yellow, like the Sun.
    G,
    /// Orange.
    K,
    /// Red dwarf.
    M,
    /// A white dwarf remnant.
    WhiteDwarf,
    /// A neutron star.
    Neutron,
    /// A black hole.
    BlackHole,
}

impl StarClass {
    /// A display colour for maps.
    pub fn color(self) -> &'static str {
        match self {
            StarClass::O => "#9bb0ff",
            StarClass::B => "#aabfff",
            StarClass::A => "#cad7ff",
            StarClass::F => "#f8f7ff",
            StarClass::G => "#fff4d6",
            StarClass::K => "#ffd2a1",
            StarClass::M => "#ffb56c",
            StarClass::WhiteDwarf => "#e6f0ff",
            StarClass::Neutron => "#c6e2ff",
            StarClass::BlackHole => "#5b4a7a",
        }
    }

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            StarClass::O => "blue giant",
            StarClass::B => "blue-white star",
            StarClass::A => "white star",
            StarClass::F => "yellow-white star",
            StarClass::G => "yellow star",
            StarClass::K => "orange star",
            StarClass::M => "red dwarf",
            StarClass::WhiteDwarf => "white dwarf",
            StarClass::Neutron => "neutron star",
            StarClass::BlackHole => "black hole",
        }
    }
}

/// Something that sets a system apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Ruins of the precursors.
    PrecursorRuins,
    /// A nebula that hides fleets.
    Nebula,
    /// A derelict ship of unknown make.
    Derelict,
    /// A pulsar that scrambles sensors.
    Pulsar,
    /// Ion storms that slow travel.
    IonStorm,
    /// A rich asteroid field.
    AsteroidField,
}

impl Feature {
    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            Feature::PrecursorRuins => "precursor ruins",
            Feature::Nebula => "nebula",
            Feature::Derelict => "derelict ship",
            Feature::Pulsar => "pulsar",
            Feature::IonStorm => "ion storms",
            Feature::AsteroidField => "asteroid field",
        }
    }
}

/// A planet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planet {
    /// The system name and a numeral, such as "Veyra III".
    pub name: String,
    /// What kind of world it is.
    pub kind: PlanetKind,
    /// Size 1 (tiny) to 5 (huge).
    pub size: u8,
    /// What can be extracted.
    pub resources: Resources,
}

/// Planet kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanetKind {
    /// Earth-like.
    Terran,
    /// Ocean world.
    Ocean,
    /// Jungle world.
    Jungle,
    /// Desert world.
    Desert,
    /// Frozen world.
    Arctic,
    /// Airless rock.
    Barren,
    /// Molten world.
    Volcanic,
    /// Poisonous atmosphere.
    Toxic,
    /// Gas giant.
    GasGiant,
    /// Asteroid belt.
    AsteroidBelt,
}

impl PlanetKind {
    /// Whether colonists can live on it without domes.
    pub fn habitable(self) -> bool {
        matches!(
            self,
            PlanetKind::Terran
                | PlanetKind::Ocean
                | PlanetKind::Jungle
                | PlanetKind::Desert
                | PlanetKind::Arctic
        )
    }

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            PlanetKind::Terran => "terran",
            PlanetKind::Ocean => "ocean",
            PlanetKind::Jungle => "jungle",
            PlanetKind::Desert => "desert",
            PlanetKind::Arctic => "arctic",
            PlanetKind::Barren => "barren",
            PlanetKind::Volcanic => "volcanic",
            PlanetKind::Toxic => "toxic",
            PlanetKind::GasGiant => "gas giant",
            PlanetKind::AsteroidBelt => "asteroid belt",
        }
    }
}

/// Resource deposits, in whole units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Ores and metals.
    pub minerals: u32,
    /// Fuel and power.
    pub energy: u32,
    /// Food and biomass.
    pub food: u32,
    /// Rare matter, worth three of the others.
    pub exotics: u32,
}

impl Resources {
    /// The value used for balancing: exotics count three times.
    pub fn value(&self) -> u32 {
        self.minerals + self.energy + self.food + 3 * self.exotics
    }
}

/// A hyperlane between two systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lane {
    /// The lower system id.
    pub a: SystemId,
    /// The higher system id.
    pub b: SystemId,
    /// Length in map units (rounded down).
    pub length: u32,
}

/// A species.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Species {
    /// Its id (its index in [`World::species`]).
    pub id: SpeciesId,
    /// The species' name for itself, such as "Zhaal".
    pub name: String,
    /// The adjective, such as "Zhaali".
    pub adjective: String,
    /// Body plan.
    pub kind: SpeciesKind,
    /// The kind of planet it evolved on.
    pub homeworld: PlanetKind,
    /// Two or three traits, never contradictory.
    pub traits: Vec<SpeciesTrait>,
    /// One sentence about them.
    pub description: String,
}

/// Species traits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeciesTrait {
    /// Build faster.
    Industrious,
    /// Research faster.
    Scholarly,
    /// Fight harder.
    Militant,
    /// Shun war.
    Pacifist,
    /// Trade better.
    Mercantile,
    /// Settle quickly, move often.
    Nomadic,
    /// Welcome others.
    Xenophile,
    /// Distrust others.
    Xenophobe,
    /// Read minds.
    Telepathic,
    /// Live for centuries.
    LongLived,
    /// Breed quickly.
    FastBreeding,
    /// Shrug off hardship.
    Resilient,
    /// Live anywhere.
    Adaptive,
    /// Guided by faith.
    Spiritual,
}

impl SpeciesTrait {
    /// Every trait.
    pub const ALL: [SpeciesTrait; 14] = [
        SpeciesTrait::Industrious,
        SpeciesTrait::Scholarly,
        SpeciesTrait::Militant,
        SpeciesTrait::Pacifist,
        SpeciesTrait::Mercantile,
        SpeciesTrait::Nomadic,
        SpeciesTrait::Xenophile,
        SpeciesTrait::Xenophobe,
        SpeciesTrait::Telepathic,
        SpeciesTrait::LongLived,
        SpeciesTrait::FastBreeding,
        SpeciesTrait::Resilient,
        SpeciesTrait::Adaptive,
        SpeciesTrait::Spiritual,
    ];

    /// The trait a species with this one cannot also have.
    pub fn opposite(self) -> Option<SpeciesTrait> {
        use SpeciesTrait::*;
        match self {
            Militant => Some(Pacifist),
            Pacifist => Some(Militant),
            Xenophile => Some(Xenophobe),
            Xenophobe => Some(Xenophile),
            LongLived => Some(FastBreeding),
            FastBreeding => Some(LongLived),
            _ => None,
        }
    }

    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        use SpeciesTrait::*;
        match self {
            Industrious => "industrious",
            Scholarly => "scholarly",
            Militant => "militant",
            Pacifist => "pacifist",
            Mercantile => "mercantile",
            Nomadic => "nomadic",
            Xenophile => "welcoming of strangers",
            Xenophobe => "wary of strangers",
            Telepathic => "telepathic",
            LongLived => "long-lived",
            FastBreeding => "fast-breeding",
            Resilient => "resilient",
            Adaptive => "adaptive",
            Spiritual => "spiritual",
        }
    }
}

/// Whether a faction is played or run by the game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactionKind {
    /// A player's faction.
    Player {
        /// The player slot, 0-based.
        slot: u8,
    },
    /// An empire run by the game.
    NpcEmpire,
}

/// How a faction is ruled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Government {
    /// Ruled by a monarch.
    Monarchy,
    /// Ruled by elected councils.
    Republic,
    /// Ruled by the faithful.
    Theocracy,
    /// Ruled by companies.
    Corporate,
    /// Ruled by a single shared mind.
    HiveMind,
    /// Ruled by the military.
    Junta,
    /// Clans bound by oaths.
    Clans,
}

impl Government {
    /// Every government.
    pub const ALL: [Government; 7] = [
        Government::Monarchy,
        Government::Republic,
        Government::Theocracy,
        Government::Corporate,
        Government::HiveMind,
        Government::Junta,
        Government::Clans,
    ];

    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        match self {
            Government::Monarchy => "monarchy",
            Government::Republic => "republic",
            Government::Theocracy => "theocracy",
            Government::Corporate => "corporate state",
            Government::HiveMind => "hive mind",
            Government::Junta => "military junta",
            Government::Clans => "clan confederation",
        }
    }

    /// Collective nouns a faction of this government is called by.
    pub fn titles(self) -> &'static [&'static str] {
        match self {
            Government::Monarchy => &["Kingdom", "Empire", "Throne", "Dominion"],
            Government::Republic => &["Republic", "Commonwealth", "Union", "Concord"],
            Government::Theocracy => &["Covenant", "Holy Synod", "Choir", "Temple"],
            Government::Corporate => &["Combine", "Syndicate", "Consortium", "Trade League"],
            Government::HiveMind => &["Swarm", "Chorus", "Unity", "Brood"],
            Government::Junta => &["Hegemony", "Directorate", "Legion", "Iron Pact"],
            Government::Clans => &["Clans", "Confederacy", "Hold", "Freeholds"],
        }
    }
}

/// What a faction values; steers NPC behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ethos {
    /// Expands by force.
    Expansionist,
    /// Seeks knowledge.
    Curious,
    /// Seeks profit.
    Mercantile,
    /// Keeps to itself.
    Isolationist,
    /// Spreads a faith.
    Zealous,
    /// Seeks peace and alliances.
    Harmonious,
}

impl Ethos {
    /// Every ethos.
    pub const ALL: [Ethos; 6] = [
        Ethos::Expansionist,
        Ethos::Curious,
        Ethos::Mercantile,
        Ethos::Isolationist,
        Ethos::Zealous,
        Ethos::Harmonious,
    ];

    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        match self {
            Ethos::Expansionist => "expansionist",
            Ethos::Curious => "curious",
            Ethos::Mercantile => "mercantile",
            Ethos::Isolationist => "isolationist",
            Ethos::Zealous => "zealous",
            Ethos::Harmonious => "harmonious",
        }
    }
}

/// A faction: a player's or an NPC empire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faction {
    /// Its id (its index in [`World::factions`]).
    pub id: FactionId,
    /// Its full name, such as "the Zhaali Concord".
    pub name: String,
    /// Player or NPC.
    pub kind: FactionKind,
    /// Its species.
    pub species: SpeciesId,
    /// How it is ruled.
    pub government: Government,
    /// What it values.
    pub ethos: Ethos,
    /// Its home or capital system.
    pub capital: SystemId,
    /// Its map colour, `#rrggbb`.
    pub color: String,
}

/// What an NPC character does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Rules an NPC empire.
    Leader,
    /// Speaks for an NPC empire.
    Envoy,
    /// Works against the players.
    Rival,
    /// Commands fleets.
    Admiral,
    /// Trades between the stars.
    Merchant,
    /// Studies the precursors.
    Scholar,
    /// Preaches.
    Prophet,
}

impl Role {
    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Envoy => "envoy",
            Role::Rival => "rival",
            Role::Admiral => "admiral",
            Role::Merchant => "merchant",
            Role::Scholar => "scholar",
            Role::Prophet => "prophet",
        }
    }
}

/// Personality traits of NPC characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// Plans ahead and schemes.
    Cunning,
    /// Keeps their word.
    Honourable,
    /// Trusts no one.
    Paranoid,
    /// Wins people over.
    Charismatic,
    /// Does whatever it takes.
    Ruthless,
    /// Wants to know.
    Curious,
    /// Devout.
    Pious,
    /// Wants more.
    Greedy,
    /// Waits for the right moment.
    Patient,
    /// Acts first.
    Impulsive,
    /// Stands by their own.
    Loyal,
    /// Craves admiration.
    Vain,
    /// Sees the worst.
    Melancholic,
    /// Laughs easily.
    Jovial,
    /// Burns with conviction.
    Zealous,
    /// Does what works.
    Pragmatic,
}

impl Personality {
    /// Every personality trait.
    pub const ALL: [Personality; 16] = [
        Personality::Cunning,
        Personality::Honourable,
        Personality::Paranoid,
        Personality::Charismatic,
        Personality::Ruthless,
        Personality::Curious,
        Personality::Pious,
        Personality::Greedy,
        Personality::Patient,
        Personality::Impulsive,
        Personality::Loyal,
        Personality::Vain,
        Personality::Melancholic,
        Personality::Jovial,
        Personality::Zealous,
        Personality::Pragmatic,
    ];

    /// The trait a character with this one cannot also have.
    pub fn opposite(self) -> Option<Personality> {
        use Personality::*;
        match self {
            Cunning => Some(Honourable),
            Honourable => Some(Cunning),
            Patient => Some(Impulsive),
            Impulsive => Some(Patient),
            Melancholic => Some(Jovial),
            Jovial => Some(Melancholic),
            Zealous => Some(Pragmatic),
            Pragmatic => Some(Zealous),
            _ => None,
        }
    }

    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        use Personality::*;
        match self {
            Cunning => "cunning",
            Honourable => "honourable",
            Paranoid => "paranoid",
            Charismatic => "charismatic",
            Ruthless => "ruthless",
            Curious => "curious",
            Pious => "pious",
            Greedy => "greedy",
            Patient => "patient",
            Impulsive => "impulsive",
            Loyal => "loyal",
            Vain => "vain",
            Melancholic => "melancholic",
            Jovial => "jovial",
            Zealous => "zealous",
            Pragmatic => "pragmatic",
        }
    }
}

/// What drives a character; every target refers to something in the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Motive {
    /// Avenge a defeat in a past war against a faction.
    Revenge {
        /// The war that is to be avenged.
        war: EventId,
        /// The faction blamed.
        against: FactionId,
    },
    /// Rule a faction.
    Power {
        /// The faction they want to rule or dominate.
        faction: FactionId,
    },
    /// Control a system and its riches.
    Wealth {
        /// The system they covet.
        system: SystemId,
    },
    /// Uncover a system's secrets.
    Knowledge {
        /// The system of the mystery.
        system: SystemId,
    },
    /// Keep a faction safe.
    Protect {
        /// The faction they protect.
        faction: FactionId,
    },
    /// Spread their faith across the stars.
    Faith,
}

/// A character's standing towards a faction, -100 (hatred) to 100 (devotion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attitude {
    /// The faction.
    pub faction: FactionId,
    /// -100 to 100.
    pub value: i32,
}

/// How two characters relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// Work together.
    Ally,
    /// Compete.
    Rival,
    /// Taught the other.
    Mentor,
    /// Was taught by the other.
    Protege,
    /// Share parents.
    Sibling,
    /// Want the other gone.
    Nemesis,
}

impl RelationKind {
    /// How the other side sees the same relationship.
    pub fn reciprocal(self) -> RelationKind {
        match self {
            RelationKind::Mentor => RelationKind::Protege,
            RelationKind::Protege => RelationKind::Mentor,
            other => other,
        }
    }

    /// A lower-case word for prose.
    pub fn label(self) -> &'static str {
        match self {
            RelationKind::Ally => "ally",
            RelationKind::Rival => "rival",
            RelationKind::Mentor => "mentor",
            RelationKind::Protege => "protégé",
            RelationKind::Sibling => "sibling",
            RelationKind::Nemesis => "nemesis",
        }
    }
}

/// A relationship to another character (always recorded on both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    /// The other character.
    pub other: CharacterId,
    /// What the other is to this character.
    pub kind: RelationKind,
}

/// An NPC character.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    /// Its id (its index in [`World::characters`]).
    pub id: CharacterId,
    /// A unique name.
    pub name: String,
    /// An epithet, such as "the Patient".
    pub title: String,
    /// Its species.
    pub species: SpeciesId,
    /// What it does.
    pub role: Role,
    /// The faction it serves, if any.
    pub faction: Option<FactionId>,
    /// Two or three personality traits, never contradictory.
    pub personality: Vec<Personality>,
    /// What drives it.
    pub motive: Motive,
    /// One sentence stating the motive with names.
    pub motive_text: String,
    /// How it regards factions, sorted by faction.
    pub attitudes: Vec<Attitude>,
    /// Relationships to other characters, sorted by the other's id.
    pub relationships: Vec<Relationship>,
}

/// A past event the backstory tells of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoricalEvent {
    /// Its id (its index in [`World::history`]).
    pub id: EventId,
    /// Its name, such as "the War of Ashes".
    pub name: String,
    /// How many years before the campaign starts.
    pub years_ago: u32,
    /// What happened.
    pub kind: EventKind,
}

/// What happened in a historical event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EventKind {
    /// The precursors vanished, leaving ruins.
    PrecursorFall {
        /// The precursors' name.
        precursors: String,
        /// Where their greatest ruins lie.
        system: SystemId,
    },
    /// An NPC empire was founded.
    Founding {
        /// The empire.
        faction: FactionId,
    },
    /// A war between two NPC empires.
    War {
        /// Who started it.
        aggressor: FactionId,
        /// Who was attacked.
        defender: FactionId,
        /// Where it was decided.
        battle: SystemId,
        /// How it ended.
        outcome: WarOutcome,
    },
    /// A treaty between two NPC empires.
    Treaty {
        /// One party.
        first: FactionId,
        /// The other party.
        second: FactionId,
        /// Where it was signed.
        system: SystemId,
    },
    /// A disaster that struck a system.
    Catastrophe {
        /// The system struck.
        system: SystemId,
    },
}

/// How a war ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarOutcome {
    /// The aggressor won.
    AggressorVictory,
    /// The defender held.
    DefenderVictory,
    /// Neither side won.
    Stalemate,
}

/// The backstory prose and the world facts it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backstory {
    /// Paragraphs of prose.
    pub paragraphs: Vec<String>,
    /// Every world entity the prose names, in order of first mention.
    pub mentions: Vec<Mention>,
}

/// A world entity named in the backstory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Mention {
    /// A star system.
    System(SystemId),
    /// A species.
    Species(SpeciesId),
    /// A faction.
    Faction(FactionId),
    /// A character.
    Character(CharacterId),
    /// A historical event.
    Event(EventId),
}

/// Whether an objective is known to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone sees it.
    Public,
    /// Only the faction's player sees it.
    Secret,
}

/// An objective of a player faction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    /// The faction pursuing it.
    pub faction: FactionId,
    /// Public or secret.
    pub visibility: Visibility,
    /// What must be done, in terms the game can check.
    pub goal: Goal,
    /// The goal in words, with names.
    pub description: String,
}

/// A checkable goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Goal {
    /// Hold at least this many systems.
    ControlSystems {
        /// Systems to hold.
        count: u32,
    },
    /// Hold this system.
    HoldSystem {
        /// The system.
        system: SystemId,
    },
    /// Take an NPC empire's capital.
    CaptureCapital {
        /// The empire.
        faction: FactionId,
    },
    /// Be at peace by treaty with this many factions.
    Treaties {
        /// Number of treaties.
        count: u32,
    },
    /// Be allied with this faction.
    AllyWith {
        /// The faction.
        faction: FactionId,
    },
    /// Visit this many systems.
    Survey {
        /// Systems to survey.
        count: u32,
    },
    /// Get a ship to this system.
    Reach {
        /// The system.
        system: SystemId,
    },
    /// Keep the home system for this many turns.
    Endure {
        /// Turns to hold out.
        turns: u32,
    },
    /// Keep this character alive and free to the end.
    Protect {
        /// The character.
        character: CharacterId,
    },
    /// End with more systems than this other player faction.
    Outgrow {
        /// The faction to outgrow.
        faction: FactionId,
    },
}

/// Player slot for a player faction.
pub fn player_slot(faction: &Faction) -> Option<u8> {
    match faction.kind {
        FactionKind::Player { slot } => Some(slot),
        FactionKind::NpcEmpire => None,
    }
}
