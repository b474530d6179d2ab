//! Pronounceable names from syllable tables, unique within a world.

use std::collections::BTreeSet;

use crate::rng::Stream;
use crate::settings::SpeciesKind;

/// A phonetic style: onsets, vowels and codas that syllables are built from.
pub(crate) struct Style {
    onsets: &'static [&'static str],
    vowels: &'static [&'static str],
    codas: &'static [&'static str],
    min_syllables: u32,
    max_syllables: u32,
}

/// Star systems and places.
pub(crate) const STARS: Style = Style {
    onsets: &[
        "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "sh",
        "kr", "dr", "st", "tr", "vr", "qu", "br", "c", "gl", "pr", "sel", "al", "or",
    ],
    vowels: &[
        "a", "e", "i", "o", "u", "a", "e", "o", "ae", "ai", "ei", "io", "ou", "y",
    ],
    codas: &[
        "", "", "", "", "n", "r", "s", "l", "th", "x", "m", "nd", "rk", "ss", "on", "is", "ar",
    ],
    min_syllables: 2,
    max_syllables: 3,
};

/// Soft, airy names (avian, aquatic, plantoid).
const SOFT: Style = Style {
    onsets: &[
        "l", "m", "n", "s", "v", "w", "y", "f", "h", "sh", "el", "il", "ri", "ni",
    ],
    vowels: &["a", "e", "i", "o", "u", "ee", "ia", "ae", "ou", "ai"],
    codas: &["", "", "", "l", "n", "s", "th", "r", "sh", "ll"],
    min_syllables: 2,
    max_syllables: 3,
};

/// Harsh, clicking names (reptilian, insectoid, lithoid).
const HARSH: Style = Style {
    onsets: &[
        "k", "g", "t", "d", "z", "x", "kr", "gr", "tz", "sk", "zh", "dr", "q", "kh",
    ],
    vowels: &["a", "o", "u", "i", "aa", "uu", "ek", "ox", "e"],
    codas: &["", "k", "t", "x", "z", "rk", "th", "g", "sh", "kk"],
    min_syllables: 1,
    max_syllables: 3,
};

/// Flowing, strange names (fungoid, energy).
const FLOWING: Style = Style {
    onsets: &[
        "", "y", "ph", "s", "v", "l", "m", "th", "ae", "ul", "om", "es",
    ],
    vowels: &["a", "e", "i", "o", "u", "ia", "eo", "au", "yu", "oi"],
    codas: &["", "", "n", "m", "l", "r", "s", "ns", "ra"],
    min_syllables: 2,
    max_syllables: 3,
};

/// Clipped, machine-like names (synthetic).
const CLIPPED: Style = Style {
    onsets: &[
        "ax", "v", "t", "c", "k", "n", "r", "s", "x", "z", "d", "pr", "qu",
    ],
    vowels: &["a", "e", "i", "o", "u", "y", "io", "ex"],
    codas: &["", "x", "n", "r", "t", "k", "m", "on", "is"],
    min_syllables: 2,
    max_syllables: 3,
};

/// Common names (humanoid).
const COMMON: Style = Style {
    onsets: &[
        "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br",
        "cal", "dr", "el", "is", "jo", "mar", "tr",
    ],
    vowels: &["a", "e", "i", "o", "u", "a", "e", "ia", "ei", "ou"],
    codas: &["", "", "n", "r", "s", "l", "m", "nd", "th", "ck"],
    min_syllables: 2,
    max_syllables: 3,
};

/// The naming style of a species kind.
pub(crate) fn style_for(kind: SpeciesKind) -> &'static Style {
    match kind {
        SpeciesKind::Avian | SpeciesKind::Aquatic | SpeciesKind::Plantoid => &SOFT,
        SpeciesKind::Reptilian | SpeciesKind::Insectoid | SpeciesKind::Lithoid => &HARSH,
        SpeciesKind::Fungoid | SpeciesKind::Energy => &FLOWING,
        SpeciesKind::Synthetic => &CLIPPED,
        SpeciesKind::Humanoid => &COMMON,
    }
}

const VOWEL_LETTERS: &[u8] = b"aeiouy";

fn is_vowel(b: u8) -> bool {
    VOWEL_LETTERS.contains(&b)
}

/// Draws one raw name in a style (lower case, not checked for uniqueness).
fn raw_name(style: &Style, rng: &mut Stream) -> String {
    let syllables = style.min_syllables + rng.below(style.max_syllables - style.min_syllables + 1);
    let mut name = String::new();
    for i in 0..syllables {
        let mut onset = rng.pick_str(style.onsets);
        // Two vowels running into each other read badly: give the syllable a
        // consonant onset when the name so far ends in a vowel.
        let ends_in_vowel = name.bytes().last().is_some_and(is_vowel);
        let onset_starts_vowel = onset.bytes().next().is_none_or(is_vowel);
        if i > 0 && ends_in_vowel && onset_starts_vowel {
            onset = "r";
        }
        // Nor do long consonant runs ("ndgl"): keep only the onset's last letter.
        let trailing = name.bytes().rev().take_while(|&b| !is_vowel(b)).count();
        let leading = onset.bytes().take_while(|&b| !is_vowel(b)).count();
        if trailing + leading > 3 {
            onset = &onset[onset.len() - 1..];
        }
        name.push_str(onset);
        let mut vowel = rng.pick_str(style.vowels);
        if name.bytes().last().is_some_and(is_vowel) && vowel.bytes().next().is_some_and(is_vowel) {
            vowel = &vowel[..1];
            if name.bytes().last() == vowel.bytes().next() {
                name.push('n');
            }
        }
        name.push_str(vowel);
        if i + 1 == syllables || rng.chance(1, 5) {
            let coda = rng.pick_str(style.codas);
            // A consonant coda after a consonant makes clusters like "xn".
            let clash = name.bytes().last().is_some_and(|b| !is_vowel(b))
                && coda.bytes().next().is_some_and(|b| !is_vowel(b));
            if !clash {
                name.push_str(coda);
            }
        }
    }
    name
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Gives out names that are unique within one world.
#[derive(Default)]
pub(crate) struct NameBook {
    used: BTreeSet<String>,
}

impl NameBook {
    /// A new, capitalised name in `style`, at least three letters long and
    /// never given out before by this book.
    pub(crate) fn fresh(&mut self, style: &Style, rng: &mut Stream) -> String {
        for _ in 0..64 {
            let raw = raw_name(style, rng);
            if raw.len() < 3 || raw.len() > 9 {
                continue;
            }
            let name = capitalise(&raw);
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        // The tables hold tens of thousands of names, so this is only reached
        // in astronomically unlikely runs; a numbered name keeps it unique.
        let base = capitalise(&raw_name(style, rng));
        let mut n = 2u32;
        loop {
            let name = format!("{base}-{n}");
            if self.used.insert(name.clone()) {
                return name;
            }
            n += 1;
        }
    }

    /// Reserves a composed name (like a faction's) so nothing else takes it.
    /// Returns false when it was already used.
    pub(crate) fn reserve(&mut self, name: &str) -> bool {
        self.used.insert(name.to_string())
    }
}

/// Roman numerals for planet names (1-20 is all a system ever has).
pub(crate) fn roman(n: u32) -> String {
    const TABLE: [(u32, &str); 9] = [
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut n = n;
    let mut out = String::new();
    for (value, text) in TABLE {
        while n >= value {
            out.push_str(text);
            n -= value;
        }
    }
    out
}

/// The adjective of a species or place name ("Zhaal" -> "Zhaali").
pub(crate) fn adjective(name: &str, rng: &mut Stream) -> String {
    let last = name.bytes().last().unwrap_or(b'a');
    let suffix = if is_vowel(last) {
        rng.pick_str(&["n", "ni", "r", "sh"])
    } else {
        rng.pick_str(&["i", "an", "ese", "ar", "ite"])
    };
    format!("{name}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Concern;

    #[test]
    fn names_are_unique_capitalised_and_readable() {
        let mut rng = Stream::new(1, "v1", Concern::Names);
        let mut book = NameBook::default();
        let mut all = BTreeSet::new();
        for i in 0..3000 {
            let style = match i % 6 {
                0 => &STARS,
                1 => &SOFT,
                2 => &HARSH,
                3 => &FLOWING,
                4 => &CLIPPED,
                _ => &COMMON,
            };
            let name = book.fresh(style, &mut rng);
            assert!(name.len() >= 3, "{name}");
            assert!(name.chars().next().unwrap().is_ascii_uppercase(), "{name}");
            assert!(
                !name.contains("aaa") && !name.contains("eee"),
                "{name} has a vowel run"
            );
            assert!(all.insert(name));
        }
    }

    #[test]
    fn roman_numerals_are_right() {
        assert_eq!(roman(1), "I");
        assert_eq!(roman(4), "IV");
        assert_eq!(roman(9), "IX");
        assert_eq!(roman(14), "XIV");
    }

    #[test]
    fn reserved_names_are_not_given_out_twice() {
        let mut book = NameBook::default();
        assert!(book.reserve("the Zhaali Concord"));
        assert!(!book.reserve("the Zhaali Concord"));
    }
}
