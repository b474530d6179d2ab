//! Snapshot cost, side by side with the command-line baseline.
//!
//! Builds a campaign database of about 100 MiB (chat and feed rows of
//! varied text, so it compresses like a real one), then times
//! `SnapshotStore::take` to a local object store against
//! `sqlite3 DB ".backup COPY"` followed by `zstd -3 COPY` on the same file.
//! Each side runs five times; medians are printed with their ratio.
//!
//! `cargo bench -p game-server --bench snapshot` (needs `sqlite3` and `zstd`
//! on the PATH). `SNAPSHOT_BENCH_MIB` changes the database size.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use game_server::metrics::Metrics;
use game_server::protocol::FeedItem;
use game_server::snapshot::{Retention, S3Options, open_object_store};
use game_server::store::{CampaignMeta, Store};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng as _};

const WORDS: &[&str] = &[
    "fleet", "holds", "at", "the", "rim", "of", "Vessar", "envoy", "demands", "tribute", "trade",
    "lanes", "open", "again", "after", "the", "blockade", "our", "scouts", "report", "a",
    "derelict", "near", "Oru", "Prime", "alliance", "council", "votes", "tonight", "war",
];

fn sentence(rng: &mut ChaCha8Rng) -> String {
    let n = 8 + (rng.next_u32() % 24) as usize;
    let mut s = String::new();
    for _ in 0..n {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[(rng.next_u32() as usize) % WORDS.len()]);
        // Numbers make the text less repetitive, as coordinates and counts do.
        if rng.next_u32().is_multiple_of(5) {
            s.push_str(&format!(" {}", rng.next_u32() % 10_000));
        }
    }
    s
}

fn build_database(path: &Path, target_bytes: u64) {
    let store = Store::open(path).expect("open store");
    store
        .init_meta(&CampaignMeta {
            campaign_id: "bench".into(),
            seed: 7,
            settings: serde_json::json!({"players": 50, "generator_version": "v1"}),
            sim_version: 1,
        })
        .expect("meta");
    drop(store);
    let mut conn = rusqlite::Connection::open(path).expect("open");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut tick = 0u64;
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < target_bytes {
        let tx = conn.transaction().expect("tx");
        for _ in 0..5_000 {
            tick += 1;
            let text = sentence(&mut rng);
            let item = FeedItem::Chat {
                from: format!("player-{}", rng.next_u32() % 50),
                faction: Some(rng.next_u32() % 50),
                text: text.clone(),
            };
            tx.execute(
                "INSERT INTO feed (tick, body) VALUES (?1, ?2)",
                rusqlite::params![tick as i64, serde_json::to_string(&item).expect("json")],
            )
            .expect("feed");
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO chat (feed_id, tick, player, text, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![id, tick as i64, "player", text, "2026-11-23T10:00:00Z"],
            )
            .expect("chat");
        }
        tx.execute(
            "INSERT INTO ticks (tick, state_hash) VALUES (?1, ?2)",
            rusqlite::params![tick as i64, format!("{tick:064x}")],
        )
        .expect("tick");
        tx.commit().expect("commit");
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let mib: u64 = std::env::var("SNAPSHOT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("campaign.db");
    println!("building a {mib} MiB campaign database...");
    build_database(&db, mib * 1024 * 1024);
    let size = std::fs::metadata(&db).expect("db").len();
    println!("database: {:.1} MiB", size as f64 / 1048576.0);

    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).expect("objects dir");
    let store = open_object_store(
        &format!("file://{}", objects.display()),
        &S3Options {
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
        },
    )
    .expect("object store");
    let metrics = Metrics::new();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let retention = Retention {
        keep_last: 2,
        keep_days: 0,
    };

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut compressed = 0;
    for round in 0..5 {
        let copy = dir.path().join("copy.db");
        let zst = dir.path().join("copy.db.zst");
        let _ = std::fs::remove_file(&copy);
        let _ = std::fs::remove_file(&zst);
        let started = Instant::now();
        let ok = Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".backup '{}'", copy.display()))
            .status()
            .expect("run sqlite3")
            .success()
            && Command::new("zstd")
                .args(["-3", "-q", "-f"])
                .arg(&copy)
                .arg("-o")
                .arg(&zst)
                .status()
                .expect("run zstd")
                .success();
        assert!(ok, "baseline commands failed");
        baseline.push(started.elapsed());

        let started = Instant::now();
        let manifest = rt
            .block_on(store.take(&db, retention, &metrics))
            .expect("snapshot");
        ours.push(started.elapsed());
        compressed = manifest.size;
        println!(
            "round {round}: sqlite3 .backup + zstd {:>7.0} ms, snapshot {:>7.0} ms",
            baseline[round].as_secs_f64() * 1000.0,
            ours[round].as_secs_f64() * 1000.0
        );
    }
    let (b, o) = (median(baseline), median(ours));
    println!(
        "median: baseline {:.0} ms, snapshot {:.0} ms, ratio {:.2}x; {:.1} MiB -> {:.1} MiB",
        b.as_secs_f64() * 1000.0,
        o.as_secs_f64() * 1000.0,
        o.as_secs_f64() / b.as_secs_f64(),
        size as f64 / 1048576.0,
        compressed as f64 / 1048576.0
    );
}
