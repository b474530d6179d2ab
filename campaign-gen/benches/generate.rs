//! How long one world takes to generate, for 2, 8 and 50 players.
//!
//! Run with `cargo bench -p campaign-gen`. The goal is a 50-player world in
//! under 10 ms on one core (generation is single-threaded).

use std::hint::black_box;

use campaign_gen::{GalaxySize, Settings, generate};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn bench_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    for (players, galaxy) in [
        (2u8, GalaxySize::Medium),
        (8, GalaxySize::Medium),
        (50, GalaxySize::Medium),
        (50, GalaxySize::Large),
    ] {
        let settings = Settings::builder()
            .players(players)
            .galaxy(galaxy)
            .build()
            .expect("valid settings");
        let mut seed = 0u64;
        group.bench_with_input(
            BenchmarkId::new(format!("{galaxy}"), players),
            &settings,
            |b, s| {
                b.iter(|| {
                    seed += 1;
                    black_box(generate(black_box(seed), s))
                })
            },
        );
    }
    group.finish();
}

fn bench_hash(c: &mut Criterion) {
    let settings = Settings::builder()
        .players(50)
        .galaxy(GalaxySize::Large)
        .build()
        .expect("valid settings");
    let world = generate(1, &settings);
    c.bench_function("hash/large/50", |b| b.iter(|| black_box(world.hash())));
}

criterion_group!(benches, bench_generate, bench_hash);
criterion_main!(benches);
