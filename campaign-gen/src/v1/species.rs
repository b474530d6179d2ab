//! The eight species of a galaxy.

use crate::rng::Stream;
use crate::settings::{Settings, SpeciesKind};
use crate::world::{PlanetKind, Species, SpeciesId, SpeciesTrait};

use super::names::{NameBook, adjective, style_for};

/// How many species every galaxy has.
pub const SPECIES_COUNT: usize = 8;

/// Homeworld kinds that suit a body plan.
fn homeworlds(kind: SpeciesKind) -> &'static [PlanetKind] {
    use PlanetKind::*;
    match kind {
        SpeciesKind::Humanoid => &[Terran, Ocean, Desert],
        SpeciesKind::Avian => &[Terran, Desert, Arctic],
        SpeciesKind::Reptilian => &[Desert, Jungle, Volcanic],
        SpeciesKind::Insectoid => &[Jungle, Desert, Toxic],
        SpeciesKind::Aquatic => &[Ocean],
        SpeciesKind::Lithoid => &[Barren, Volcanic, Arctic],
        SpeciesKind::Plantoid => &[Jungle, Terran, Ocean],
        SpeciesKind::Fungoid => &[Toxic, Jungle],
        SpeciesKind::Synthetic => &[Barren, Arctic, Desert],
        SpeciesKind::Energy => &[GasGiant, Volcanic],
    }
}

fn kind_label(kind: SpeciesKind) -> &'static str {
    match kind {
        SpeciesKind::Humanoid => "humanoids",
        SpeciesKind::Avian => "avians",
        SpeciesKind::Reptilian => "reptilians",
        SpeciesKind::Insectoid => "insectoids",
        SpeciesKind::Aquatic => "aquatic beings",
        SpeciesKind::Lithoid => "lithoids of living stone",
        SpeciesKind::Plantoid => "plant-people",
        SpeciesKind::Fungoid => "fungoid colonies",
        SpeciesKind::Synthetic => "synthetic minds",
        SpeciesKind::Energy => "beings of living energy",
    }
}

/// Draws two or three traits with no contradictory pair.
fn traits(rng: &mut Stream) -> Vec<SpeciesTrait> {
    let mut chosen = rng.compatible(&SpeciesTrait::ALL, SpeciesTrait::opposite);
    chosen.sort_unstable();
    chosen
}

/// The body plans of the eight species: distinct kinds while the pool lasts,
/// then the pool again in a new order.
fn kinds(settings: &Settings, rng: &mut Stream) -> Vec<SpeciesKind> {
    let allowed = settings.allowed_species_kinds();
    let mut out = Vec::with_capacity(SPECIES_COUNT);
    while out.len() < SPECIES_COUNT {
        let mut round = allowed.clone();
        rng.shuffle(&mut round);
        out.extend(round.into_iter().take(SPECIES_COUNT - out.len()));
    }
    out
}

/// Generates the species.
pub(crate) fn generate(
    settings: &Settings,
    names: &mut NameBook,
    name_rng: &mut Stream,
    rng: &mut Stream,
) -> Vec<Species> {
    kinds(settings, rng)
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            let name = names.fresh(style_for(kind), name_rng);
            let adjective = adjective(&name, name_rng);
            names.reserve(&adjective);
            let homeworld = *rng.pick(homeworlds(kind)).unwrap_or(&PlanetKind::Terran);
            let traits = traits(rng);
            let trait_words: Vec<&str> = traits.iter().map(|t| t.label()).collect();
            let description = format!(
                "The {name} are {} from {} {} world, known as {}.",
                kind_label(kind),
                article(homeworld.label()),
                homeworld.label(),
                join_and(&trait_words)
            );
            Species {
                id: SpeciesId(i as u32),
                name,
                adjective,
                kind,
                homeworld,
                traits,
                description,
            }
        })
        .collect()
}

/// "a" or "an" before a word.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// "a", "a and b", "a, b and c".
pub(crate) fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
