//! Quick-join matching at scale: 10,000 waiting tickets against 1,000 open
//! campaigns. Run with `cargo bench -p orchestrator --bench matchmaking`;
//! the goal is under one second on one core.

use std::hint::black_box;

use campaign_gen::GameMode;
use criterion::{Criterion, criterion_group, criterion_main};
use orchestrator::matchmaking::{OpenCampaign, Ticket, WeekSlots, match_tickets};
use orchestrator::pricing::LlmTier;

/// A small deterministic generator so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const MONDAY: i64 = 1_795_392_000_000;
const HOUR: i64 = 3_600_000;

fn world() -> (Vec<Ticket>, Vec<OpenCampaign>) {
    let mut r = Lcg(7);
    let campaigns = (0..1_000)
        .map(|i| {
            let mut sessions = WeekSlots::default();
            let day = r.next(7) as i64;
            let hour = 8 + r.next(14) as i64;
            let len = 2 + r.next(4) as i64;
            let start = MONDAY + day * 24 * HOUR + hour * HOUR;
            sessions.add_instants(start, start + len * HOUR);
            OpenCampaign {
                id: format!("c{i}"),
                mode: GameMode::ALL[r.next(4) as usize],
                tier: LlmTier::ALL[r.next(5) as usize],
                price_minor: 299 + r.next(3000) as i64,
                seats_open: 2 + r.next(20) as u32,
                seats_taken: r.next(5) as u32,
                min_players: 2 + r.next(6) as u32,
                sessions,
                starts_at_ms: MONDAY + r.next(30) as i64 * 24 * HOUR,
            }
        })
        .collect();
    let tickets = (0..10_000)
        .map(|i| {
            let mut availability = WeekSlots::default();
            for _ in 0..3 {
                let start = MONDAY + r.next(7) as i64 * 24 * HOUR + (16 + r.next(6) as i64) * HOUR;
                availability.add_instants(start, start + 4 * HOUR);
            }
            let modes = (0..r.next(3))
                .map(|_| GameMode::ALL[r.next(4) as usize])
                .collect();
            let tiers = (0..r.next(3))
                .map(|_| LlmTier::ALL[r.next(5) as usize])
                .collect();
            Ticket {
                id: format!("t{i}"),
                modes,
                tiers,
                max_price_minor: (r.next(4) > 0).then(|| 500 + r.next(3000) as i64),
                party_size: 1 + (r.next(10) == 0) as u32 * r.next(4) as u32,
                availability,
                created_at_ms: MONDAY - r.next(1_000_000) as i64,
            }
        })
        .collect();
    (tickets, campaigns)
}

fn bench(c: &mut Criterion) {
    let (tickets, campaigns) = world();
    let mut group = c.benchmark_group("matchmaking");
    group.sample_size(10);
    group.bench_function("10k_tickets_1k_campaigns", |b| {
        b.iter(|| {
            black_box(match_tickets(
                black_box(&tickets),
                black_box(&campaigns),
                MONDAY,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
