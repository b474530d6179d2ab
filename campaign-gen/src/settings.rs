//! Campaign settings: validated on construction, and on deserialisation.
//!
//! A [`Settings`] value is always valid: the only ways to get one are
//! [`Settings::new`] (or [`SettingsBuilder::build`]) and serde, and both run the
//! same checks. Each error names the field and the allowed range.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Fewest players a campaign may have.
pub const MIN_PLAYERS: u8 = 2;
/// Most players a campaign may have.
pub const MAX_PLAYERS: u8 = 50;
/// Fewest star systems per player for a custom galaxy size.
pub const MIN_SYSTEMS_PER_PLAYER: u8 = 6;
/// Most star systems per player for a custom galaxy size.
pub const MAX_SYSTEMS_PER_PLAYER: u8 = 24;

/// Why a setting was refused. `field` is the settings field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The field that was refused (`players`, `galaxy`, `species_pool`, ...).
    pub field: &'static str,
    /// What was wrong and what is allowed.
    pub message: String,
}

impl SettingsError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        SettingsError {
            field,
            message: message.into(),
        }
    }
}

/// Names every enum below can be parsed from, for clear error messages.
trait Named: Sized + Copy + 'static {
    const FIELD: &'static str;
    const ALL: &'static [Self];
    fn name(self) -> &'static str;

    fn parse_named(s: &str) -> Result<Self, SettingsError> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == wanted)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                SettingsError::new(
                    Self::FIELD,
                    format!("unknown value {s:?}; allowed: {}", allowed.join(", ")),
                )
            })
    }
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl Named for $name {
            const FIELD: &'static str = $field;
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lower-case name used in JSON and on the command line.
            pub fn as_str(self) -> &'static str {
                Named::name(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = SettingsError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_named(s)
            }
        }
    };
}

named_enum!(
    /// How the campaign is won, which shapes objectives and NPC empires.
    GameMode, "mode", {
        /// Take and hold territory.
        Conquest => "conquest",
        /// Treaties, alliances and influence.
        Diplomacy => "diplomacy",
        /// Survey the unknown and reach distant wonders.
        Exploration => "exploration",
        /// Endure a hostile galaxy.
        Survival => "survival",
    }
);

named_enum!(
    /// How hard the galaxy pushes back.
    Difficulty, "difficulty", {
        /// Generous resources and patient neighbours.
        Story => "story",
        /// The intended balance.
        Normal => "normal",
        /// Leaner resources and bolder rivals.
        Hard => "hard",
        /// Scarce resources and many hostile empires.
        Brutal => "brutal",
    }
);

named_enum!(
    /// The body plan of a species; a species pool restricts which appear.
    SpeciesKind, "species_pool", {
        /// Upright, two-armed mammal-like people.
        Humanoid => "humanoid",
        /// Winged, hollow-boned people.
        Avian => "avian",
        /// Scaled, cold-blooded people.
        Reptilian => "reptilian",
        /// Chitinous people, often in hives.
        Insectoid => "insectoid",
        /// Ocean-born people.
        Aquatic => "aquatic",
        /// Living stone.
        Lithoid => "lithoid",
        /// Photosynthetic people.
        Plantoid => "plantoid",
        /// Networked spore colonies.
        Fungoid => "fungoid",
        /// Made, not born.
        Synthetic => "synthetic",
        /// Beings of plasma and field.
        Energy => "energy",
    }
);

named_enum!(
    /// The generator version; output of a version never changes once released.
    GeneratorVersion, "generator_version", {
        /// The first released generator. Frozen.
        V1 => "v1",
    }
);

impl GeneratorVersion {
    /// The version new campaigns get.
    pub const LATEST: GeneratorVersion = GeneratorVersion::V1;
}

/// How many star systems the galaxy has for each player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GalaxySize {
    /// 6 systems per player: crowded, early contact.
    Small,
    /// 9 systems per player.
    Medium,
    /// 13 systems per player: room to expand.
    Large,
    /// A custom number of systems per player
    /// ([`MIN_SYSTEMS_PER_PLAYER`]..=[`MAX_SYSTEMS_PER_PLAYER`]).
    PerPlayer(u8),
}

impl GalaxySize {
    /// Star systems per player.
    pub fn systems_per_player(self) -> u8 {
        match self {
            GalaxySize::Small => 6,
            GalaxySize::Medium => 9,
            GalaxySize::Large => 13,
            GalaxySize::PerPlayer(n) => n,
        }
    }

    fn validate(self) -> Result<(), SettingsError> {
        if let GalaxySize::PerPlayer(n) = self
            && !(MIN_SYSTEMS_PER_PLAYER..=MAX_SYSTEMS_PER_PLAYER).contains(&n)
        {
            return Err(SettingsError::new(
                "galaxy",
                format!(
                    "systems per player must be between {MIN_SYSTEMS_PER_PLAYER} and \
                     {MAX_SYSTEMS_PER_PLAYER}, got {n}"
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for GalaxySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GalaxySize::Small => f.write_str("small"),
            GalaxySize::Medium => f.write_str("medium"),
            GalaxySize::Large => f.write_str("large"),
            GalaxySize::PerPlayer(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for GalaxySize {
    type Err = SettingsError;

    /// `small`, `medium`, `large`, or a number of systems per player.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let size = match s.trim().to_ascii_lowercase().as_str() {
            "small" => GalaxySize::Small,
            "medium" => GalaxySize::Medium,
            "large" => GalaxySize::Large,
            other => match other.parse::<u8>() {
                Ok(n) => GalaxySize::PerPlayer(n),
                Err(_) => {
                    return Err(SettingsError::new(
                        "galaxy",
                        format!(
                            "unknown value {s:?}; allowed: small, medium, large, or systems per \
                             player from {MIN_SYSTEMS_PER_PLAYER} to {MAX_SYSTEMS_PER_PLAYER}"
                        ),
                    ));
                }
            },
        };
        size.validate()?;
        Ok(size)
    }
}

/// Validated settings of a campaign world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSettings")]
pub struct Settings {
    players: u8,
    galaxy: GalaxySize,
    difficulty: Difficulty,
    mode: GameMode,
    species_pool: Option<Vec<SpeciesKind>>,
    generator_version: GeneratorVersion,
}

/// The unchecked shape settings are deserialised into before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    players: u32,
    galaxy: GalaxySize,
    difficulty: Difficulty,
    mode: GameMode,
    #[serde(default)]
    species_pool: Option<Vec<SpeciesKind>>,
    generator_version: GeneratorVersion,
}

impl TryFrom<RawSettings> for Settings {
    type Error = SettingsError;

    fn try_from(raw: RawSettings) -> Result<Self, Self::Error> {
        let players = u8::try_from(raw.players).map_err(|_| players_error(raw.players))?;
        Settings::new(
            players,
            raw.galaxy,
            raw.difficulty,
            raw.mode,
            raw.species_pool,
            raw.generator_version,
        )
    }
}

fn players_error(got: u32) -> SettingsError {
    SettingsError::new(
        "players",
        format!("must be between {MIN_PLAYERS} and {MAX_PLAYERS}, got {got}"),
    )
}

impl Settings {
    /// Checks and builds settings. Errors name the field and the allowed range.
    pub fn new(
        players: u8,
        galaxy: GalaxySize,
        difficulty: Difficulty,
        mode: GameMode,
        species_pool: Option<Vec<SpeciesKind>>,
        generator_version: GeneratorVersion,
    ) -> Result<Self, SettingsError> {
        if !(MIN_PLAYERS..=MAX_PLAYERS).contains(&players) {
            return Err(players_error(u32::from(players)));
        }
        galaxy.validate()?;
        if let Some(pool) = &species_pool {
            if pool.is_empty() {
                return Err(SettingsError::new(
                    "species_pool",
                    "must name at least one species kind, or be left out for all kinds",
                ));
            }
            for (i, kind) in pool.iter().enumerate() {
                if pool[..i].contains(kind) {
                    return Err(SettingsError::new(
                        "species_pool",
                        format!("{kind} is listed twice"),
                    ));
                }
            }
        }
        Ok(Settings {
            players,
            galaxy,
            difficulty,
            mode,
            species_pool,
            generator_version,
        })
    }

    /// A builder starting from the defaults (8 players, medium, normal,
    /// conquest, all species, latest generator).
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// Number of players (2-50).
    pub fn players(&self) -> u8 {
        self.players
    }

    /// Galaxy size.
    pub fn galaxy(&self) -> GalaxySize {
        self.galaxy
    }

    /// Difficulty.
    pub fn difficulty(&self) -> Difficulty {
        self.difficulty
    }

    /// Game mode.
    pub fn mode(&self) -> GameMode {
        self.mode
    }

    /// The species kinds allowed, or `None` for all of them.
    pub fn species_pool(&self) -> Option<&[SpeciesKind]> {
        self.species_pool.as_deref()
    }

    /// The species kinds the generator may use, in canonical order.
    pub fn allowed_species_kinds(&self) -> Vec<SpeciesKind> {
        let mut kinds = self
            .species_pool
            .clone()
            .unwrap_or_else(|| SpeciesKind::ALL.to_vec());
        kinds.sort_unstable();
        kinds
    }

    /// The generator version this campaign regenerates with.
    pub fn generator_version(&self) -> GeneratorVersion {
        self.generator_version
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            players: 8,
            galaxy: GalaxySize::Medium,
            difficulty: Difficulty::Normal,
            mode: GameMode::Conquest,
            species_pool: None,
            generator_version: GeneratorVersion::LATEST,
        }
    }
}

/// Builds [`Settings`] field by field; [`SettingsBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct SettingsBuilder {
    players: u8,
    galaxy: GalaxySize,
    difficulty: Difficulty,
    mode: GameMode,
    species_pool: Option<Vec<SpeciesKind>>,
    generator_version: GeneratorVersion,
}

impl Default for SettingsBuilder {
    fn default() -> Self {
        let d = Settings::default();
        SettingsBuilder {
            players: d.players,
            galaxy: d.galaxy,
            difficulty: d.difficulty,
            mode: d.mode,
            species_pool: d.species_pool,
            generator_version: d.generator_version,
        }
    }
}

impl SettingsBuilder {
    /// Number of players.
    pub fn players(mut self, players: u8) -> Self {
        self.players = players;
        self
    }
    /// Galaxy size.
    pub fn galaxy(mut self, galaxy: GalaxySize) -> Self {
        self.galaxy = galaxy;
        self
    }
    /// Difficulty.
    pub fn difficulty(mut self, difficulty: Difficulty) -> Self {
        self.difficulty = difficulty;
        self
    }
    /// Game mode.
    pub fn mode(mut self, mode: GameMode) -> Self {
        self.mode = mode;
        self
    }
    /// Restrict the species kinds.
    pub fn species_pool(mut self, pool: Option<Vec<SpeciesKind>>) -> Self {
        self.species_pool = pool;
        self
    }
    /// Generator version.
    pub fn generator_version(mut self, version: GeneratorVersion) -> Self {
        self.generator_version = version;
        self
    }
    /// Validates and builds.
    pub fn build(self) -> Result<Settings, SettingsError> {
        Settings::new(
            self.players,
            self.galaxy,
            self.difficulty,
            self.mode,
            self.species_pool,
            self.generator_version,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_outside_two_to_fifty_are_refused_with_the_range() {
        for bad in [0u8, 1, 51, 255] {
            let err = Settings::builder().players(bad).build().unwrap_err();
            assert_eq!(err.field, "players");
            assert!(err.message.contains("between 2 and 50"), "{err}");
        }
        for good in [2u8, 25, 50] {
            assert!(Settings::builder().players(good).build().is_ok());
        }
    }

    #[test]
    fn custom_galaxy_sizes_are_range_checked() {
        let err = Settings::builder()
            .galaxy(GalaxySize::PerPlayer(3))
            .build()
            .unwrap_err();
        assert_eq!(err.field, "galaxy");
        assert!(err.message.contains("between 6 and 24"), "{err}");
        assert!("25".parse::<GalaxySize>().is_err());
        assert_eq!("12".parse::<GalaxySize>(), Ok(GalaxySize::PerPlayer(12)));
        assert_eq!("Large".parse::<GalaxySize>(), Ok(GalaxySize::Large));
        assert_eq!("huge".parse::<GalaxySize>().unwrap_err().field, "galaxy");
    }

    #[test]
    fn species_pools_must_be_non_empty_and_without_repeats() {
        let err = Settings::builder()
            .species_pool(Some(vec![]))
            .build()
            .unwrap_err();
        assert_eq!(err.field, "species_pool");
        let err = Settings::builder()
            .species_pool(Some(vec![SpeciesKind::Avian, SpeciesKind::Avian]))
            .build()
            .unwrap_err();
        assert!(err.message.contains("avian is listed twice"), "{err}");
    }

    #[test]
    fn unknown_names_list_the_allowed_values() {
        let err = "siege".parse::<GameMode>().unwrap_err();
        assert_eq!(err.field, "mode");
        assert!(
            err.message
                .contains("conquest, diplomacy, exploration, survival")
        );
        assert_eq!("HARD".parse::<Difficulty>(), Ok(Difficulty::Hard));
        assert_eq!(
            "v9".parse::<GeneratorVersion>().unwrap_err().field,
            "generator_version"
        );
    }

    #[test]
    fn deserialisation_runs_the_same_validation() {
        let ok = r#"{"players":4,"galaxy":"small","difficulty":"hard","mode":"survival","generator_version":"v1"}"#;
        let s: Settings = serde_json::from_str(ok).unwrap();
        assert_eq!(s.players(), 4);
        let bad = r#"{"players":400,"galaxy":"small","difficulty":"hard","mode":"survival","generator_version":"v1"}"#;
        let err = serde_json::from_str::<Settings>(bad).unwrap_err();
        assert!(err.to_string().contains("players"), "{err}");
        let bad = r#"{"players":4,"galaxy":{"per_player":2},"difficulty":"hard","mode":"survival","generator_version":"v1"}"#;
        assert!(serde_json::from_str::<Settings>(bad).is_err());
        let unknown = r#"{"players":4,"galaxy":"small","difficulty":"hard","mode":"survival","generator_version":"v1","x":1}"#;
        assert!(serde_json::from_str::<Settings>(unknown).is_err());
    }

    #[test]
    fn settings_round_trip_through_json() {
        let s = Settings::builder()
            .players(12)
            .galaxy(GalaxySize::PerPlayer(7))
            .species_pool(Some(vec![SpeciesKind::Lithoid, SpeciesKind::Energy]))
            .build()
            .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), s);
    }
}
