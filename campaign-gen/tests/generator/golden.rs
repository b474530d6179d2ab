//! Golden hashes: generator v1 is frozen, so these worlds must hash the
//! same on every platform, in debug and release builds, forever.

use campaign_gen::{Difficulty, GalaxySize, GameMode, Settings, SpeciesKind, generate};

struct Case {
    seed: u64,
    players: u8,
    galaxy: GalaxySize,
    difficulty: Difficulty,
    mode: GameMode,
    species: Option<&'static [SpeciesKind]>,
    hash: &'static str,
}

/// Seeds and settings spanning every mode, difficulty, galaxy size, species
/// pool shape and the player range, with their pinned v1 world hashes.
const CASES: &[Case] = &[
    Case {
        seed: 0,
        players: 2,
        galaxy: GalaxySize::Small,
        difficulty: Difficulty::Story,
        mode: GameMode::Conquest,
        species: None,
        hash: "781fa56d70b84061c0c3be5172af636b6f963d08cb3e8896c51eeadb5efd49ac",
    },
    Case {
        seed: 1,
        players: 2,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Normal,
        mode: GameMode::Diplomacy,
        species: None,
        hash: "3fad19aa5a986ed8358dc3ecf3370bc01c4c8ab2933d19aaffd25f8589631c16",
    },
    Case {
        seed: 42,
        players: 8,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Normal,
        mode: GameMode::Conquest,
        species: None,
        hash: "fa8256333a49e490a9750a0358558f1af130069aaa37650d60bdd289b2bbebf3",
    },
    Case {
        seed: 7,
        players: 3,
        galaxy: GalaxySize::Small,
        difficulty: Difficulty::Hard,
        mode: GameMode::Exploration,
        species: None,
        hash: "e07fbd7e4b1ccc2309d69e9ea55938ae0b2bd9561bc5e02379da885f4323de03",
    },
    Case {
        seed: 99,
        players: 4,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Brutal,
        mode: GameMode::Survival,
        species: None,
        hash: "85a3a35a83a6d64fc2967448cb87c2b5edb394be6f42b582af56f66a42036c5c",
    },
    Case {
        seed: 123456789,
        players: 10,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Story,
        mode: GameMode::Diplomacy,
        species: None,
        hash: "c8c9cb78bdc95465c6408273faf57ff4859706741b92524df5e1f898aa1256a5",
    },
    Case {
        seed: 2026,
        players: 50,
        galaxy: GalaxySize::Small,
        difficulty: Difficulty::Normal,
        mode: GameMode::Conquest,
        species: None,
        hash: "0fed84722fa6003d9620cab327005a2f61e42192a25d490db849df03590e4421",
    },
    Case {
        seed: 18446744073709551615,
        players: 50,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Brutal,
        mode: GameMode::Survival,
        species: None,
        hash: "d9ac38000b2a904098d59c9d3a47c1da1fd3977bec52496b7e4db66cd4b580b0",
    },
    Case {
        seed: 31337,
        players: 25,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Hard,
        mode: GameMode::Exploration,
        species: None,
        hash: "2a01b9764024d14e685fd6c8a33ee91822dc5e5201425d91697d7aef2b5518cc",
    },
    Case {
        seed: 5,
        players: 12,
        galaxy: GalaxySize::PerPlayer(8),
        difficulty: Difficulty::Normal,
        mode: GameMode::Conquest,
        species: Some(&[SpeciesKind::Avian, SpeciesKind::Aquatic]),
        hash: "4045ce9cbcc8c0b2430412737bbe49de2e3a35207365b8fe8c90d4c40f5e28d6",
    },
    Case {
        seed: 6,
        players: 16,
        galaxy: GalaxySize::PerPlayer(24),
        difficulty: Difficulty::Story,
        mode: GameMode::Diplomacy,
        species: Some(&[SpeciesKind::Lithoid]),
        hash: "6f1700c79c5c7986e751580084bfc2aa30b67a31d8815f5136f861f0ceeaa9fe",
    },
    Case {
        seed: 77,
        players: 5,
        galaxy: GalaxySize::PerPlayer(6),
        difficulty: Difficulty::Brutal,
        mode: GameMode::Exploration,
        species: Some(&[
            SpeciesKind::Synthetic,
            SpeciesKind::Energy,
            SpeciesKind::Fungoid,
        ]),
        hash: "e16f4772ed87afec402eda719d6627bf8c3a989dc5fc565221512b1558c7ac5a",
    },
    Case {
        seed: 1000,
        players: 20,
        galaxy: GalaxySize::Small,
        difficulty: Difficulty::Normal,
        mode: GameMode::Survival,
        species: None,
        hash: "f2e707b7a27632ec30ad315387d6391d9b5727042402a6c3f6519c886f8436fe",
    },
    Case {
        seed: 4242,
        players: 33,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Hard,
        mode: GameMode::Conquest,
        species: Some(&[
            SpeciesKind::Humanoid,
            SpeciesKind::Reptilian,
            SpeciesKind::Insectoid,
            SpeciesKind::Plantoid,
            SpeciesKind::Avian,
            SpeciesKind::Aquatic,
            SpeciesKind::Lithoid,
            SpeciesKind::Synthetic,
            SpeciesKind::Fungoid,
            SpeciesKind::Energy,
        ]),
        hash: "623ee2da3003912dce858c8660664b382753f806c2a6bcdc136666c74adc2ed5",
    },
    Case {
        seed: 9001,
        players: 6,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Normal,
        mode: GameMode::Exploration,
        species: None,
        hash: "a4ad71be12e2689dab2c306b5b4463e73245ed7e64b02f24ad56288cc1a2fd74",
    },
    Case {
        seed: 13,
        players: 2,
        galaxy: GalaxySize::PerPlayer(24),
        difficulty: Difficulty::Brutal,
        mode: GameMode::Diplomacy,
        species: None,
        hash: "c1f126d859482b06c01529178d11dd257be5485fc621baf454d7c04c32dc112d",
    },
    Case {
        seed: 271828,
        players: 40,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Story,
        mode: GameMode::Survival,
        species: None,
        hash: "7f5217b60bfd2ad4d9affb984df27eb55052b248b22dc7edcff04e5f55cad00c",
    },
    Case {
        seed: 314159,
        players: 9,
        galaxy: GalaxySize::PerPlayer(12),
        difficulty: Difficulty::Hard,
        mode: GameMode::Diplomacy,
        species: Some(&[SpeciesKind::Humanoid]),
        hash: "02d2783408ab3ed93e4c70d6e867de603cc8f0cfce977bf360f65cbcded70460",
    },
    Case {
        seed: 8,
        players: 45,
        galaxy: GalaxySize::Small,
        difficulty: Difficulty::Brutal,
        mode: GameMode::Conquest,
        species: None,
        hash: "c7510d594a203b0f0b69a1173338956275da6185b5767f84dc47e8bf8618585a",
    },
    Case {
        seed: 65535,
        players: 7,
        galaxy: GalaxySize::Medium,
        difficulty: Difficulty::Normal,
        mode: GameMode::Survival,
        species: Some(&[SpeciesKind::Plantoid, SpeciesKind::Fungoid]),
        hash: "0db58a0842ac589e7750807d03f981f71909a055df48c0f2660086b47c906663",
    },
    Case {
        seed: 2,
        players: 30,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Normal,
        mode: GameMode::Exploration,
        species: None,
        hash: "c7a33c37a998c61b80f6c7b66737b8e6b48c55fc59423b6508707a33f15f7c9c",
    },
    Case {
        seed: 11,
        players: 3,
        galaxy: GalaxySize::Large,
        difficulty: Difficulty::Normal,
        mode: GameMode::Exploration,
        species: None,
        hash: "1f34d22bfb5548451344c17052d6209cf2867e33db24152c62569a177791ef44",
    },
    Case {
        seed: 1234567890123,
        players: 14,
        galaxy: GalaxySize::PerPlayer(10),
        difficulty: Difficulty::Story,
        mode: GameMode::Conquest,
        species: None,
        hash: "6ed4f8558346fe3a8598023ca0e254b4aafad62b5571386f106676da6641fa2e",
    },
    Case {
        seed: 555,
        players: 49,
        galaxy: GalaxySize::PerPlayer(7),
        difficulty: Difficulty::Hard,
        mode: GameMode::Diplomacy,
        species: None,
        hash: "8342220fe988176acbdde60e8b648d04d740c70644325ef65d6de097fd9ad9b5",
    },
];

#[test]
fn there_are_at_least_twenty_golden_worlds() {
    assert!(CASES.len() >= 20);
}

#[test]
fn generator_v1_output_never_changes() {
    let mut failures = Vec::new();
    for c in CASES {
        let settings = Settings::builder()
            .players(c.players)
            .galaxy(c.galaxy)
            .difficulty(c.difficulty)
            .mode(c.mode)
            .species_pool(c.species.map(<[SpeciesKind]>::to_vec))
            .build()
            .unwrap();
        let hash = generate(c.seed, &settings).hash();
        if hash != c.hash {
            failures.push(format!(
                "seed {} players {}: {hash} (pinned {})",
                c.seed, c.players, c.hash
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "v1 output changed:\n{}",
        failures.join("\n")
    );
}
