//! `loadtest runtime`: how long the local runtime takes from a stopped
//! campaign to a Joinable game server when everything it has is a large
//! snapshot (a fresh disk, as after a move to another host).
//!
//! It starts a campaign's server through the orchestrator's local runtime,
//! grows its database to the asked size with incompressible padding, stops
//! it (the final snapshot then holds the padding), and then, run after run,
//! deletes the server's working folder, starts it again and times until
//! `/readyz` answers. Then it does the same from warm servers (started
//! ahead without a campaign, `game-server warm`): from `POST /assign` to
//! Joinable.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use orchestrator::play::JoinKeys;
use orchestrator::runtime::local::{LocalRuntime, LocalSettings};
use orchestrator::runtime::{Runtime, ServerSpec};

use crate::stats::Summary;

/// Options.
#[derive(Debug, Clone, Args)]
pub struct RuntimeOptions {
    /// The orchestrator binary (its `game-server` subcommand is the server).
    #[arg(long, default_value = "target/release/orchestrator")]
    pub orchestrator_bin: PathBuf,
    /// Snapshot size to restore from, MiB.
    #[arg(long, default_value_t = 50)]
    pub snapshot_mib: u32,
    /// Timed starts.
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
}

async fn wait_ready(rt: &LocalRuntime, id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if rt.state(id).await?.is_some_and(|s| s.ready) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("the game server did not become ready in 120 s")
}

/// The largest compressed snapshot under `dir`, bytes.
fn largest_snapshot(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .map(|e| {
                let p = e.path();
                if p.is_dir() {
                    largest_snapshot(&p)
                } else if p.extension().is_some_and(|x| x == "zst") {
                    e.metadata().map_or(0, |m| m.len())
                } else {
                    0
                }
            })
            .max()
            .unwrap_or(0)
    })
}

/// Runs the scenario and prints the figures.
pub async fn run(o: RuntimeOptions) -> anyhow::Result<()> {
    if !o.orchestrator_bin.exists() {
        bail!(
            "{} not found; build it with cargo build --release -p orchestrator",
            o.orchestrator_bin.display()
        );
    }
    let root = tempfile::tempdir()?;
    let keys = JoinKeys::generate().map_err(anyhow::Error::msg)?.0;
    let rt = LocalRuntime::new(LocalSettings {
        program: o.orchestrator_bin.clone(),
        args: vec!["game-server".into(), "serve".into()],
        root: root.path().to_path_buf(),
        join_public_key: keys.public_key().to_string(),
        env: vec![
            ("GS_SNAPSHOT_INTERVAL_SECS".into(), "3600".into()),
            ("RUST_LOG".into(), "info".into()),
        ],
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        stop_grace: Duration::from_secs(120),
    });
    let spec = ServerSpec {
        campaign_id: "bench-restore".into(),
        seed: "42".into(),
        settings: r#"{"players": 8, "galaxy": "medium", "difficulty": "normal", "mode": "conquest", "species_pool": null, "generator_version": "v1"}"#.into(),
        narrator_tier: "ollama".into(),
    };
    let servers = root.path().join("servers").join(&spec.campaign_id);
    rt.ensure_running(&spec).await?;
    wait_ready(&rt, &spec.campaign_id).await?;
    rt.ensure_stopped(&spec.campaign_id).await?;
    // Grow the campaign database with padding that does not compress.
    let db = servers.join("game.db");
    {
        let conn = rusqlite::Connection::open(&db).context("opening the campaign database")?;
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS bench_padding (b BLOB); \
             INSERT INTO bench_padding SELECT randomblob(1048576) FROM \
             (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {}) \
              SELECT x FROM n);",
            o.snapshot_mib
        ))?;
    }
    // Start and stop once more: the final snapshot now carries it all.
    rt.ensure_running(&spec).await?;
    wait_ready(&rt, &spec.campaign_id).await?;
    rt.ensure_stopped(&spec.campaign_id).await?;
    let snapshots = rt.snapshot_dir(&spec.campaign_id);
    let mut samples = Vec::new();
    for _ in 0..o.runs {
        std::fs::remove_dir_all(&servers)?;
        let t = Instant::now();
        rt.ensure_running(&spec).await?;
        wait_ready(&rt, &spec.campaign_id).await?;
        samples.push(t.elapsed());
        // The world came from the snapshot: the padding is back on disk.
        let restored = std::fs::metadata(servers.join("game.db")).map_or(0, |m| m.len());
        if restored < u64::from(o.snapshot_mib) * 1_048_576 {
            bail!("the server did not restore the snapshot ({restored} bytes on disk)");
        }
        rt.ensure_stopped(&spec.campaign_id).await?;
    }
    let newest = largest_snapshot(&snapshots);
    let log = std::fs::read_to_string(root.path().join("logs").join("bench-restore.log"))
        .unwrap_or_default();
    println!(
        "snapshot restored from: {:.1} MiB compressed; snapshot restores logged: {}",
        newest as f64 / 1_048_576.0,
        log.matches("restored snapshot").count()
    );
    if let Some(s) = Summary::of(samples) {
        println!("stopped -> joinable (local runtime, fresh disk): {s}");
    }
    // A warm server (started ahead, no campaign) assigned the same
    // campaign: only the restore remains between assignment and Joinable.
    let http = reqwest::Client::new();
    let mut warm = Vec::new();
    let mut warm_new = Vec::new();
    for run in 0..o.runs * 2 {
        // Even runs restore the campaign; odd runs get a new campaign
        // whose world is generated.
        let new = run % 2 == 1;
        if servers.exists() {
            std::fs::remove_dir_all(&servers)?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = tokio::process::Command::new(&o.orchestrator_bin)
            .args(["game-server", "warm"])
            .env("GS_LISTEN", format!("127.0.0.1:{port}"))
            .env("GS_ADMIN_TOKEN", "bench-admin")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("the warm server did not start");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let campaign = if new {
            format!("bench-new-{run}")
        } else {
            spec.campaign_id.clone()
        };
        std::fs::create_dir_all(root.path().join("snapshots").join(&campaign))?;
        let env = serde_json::json!({"env": {
            "GS_CAMPAIGN_ID": campaign, "GS_SEED": spec.seed, "GS_SETTINGS": spec.settings,
            "GS_JOIN_PUBLIC_KEY": keys.public_key(),
            "GS_DATA_DIR": servers.display().to_string(),
            "GS_OBJECT_STORE_URL": format!("file://{}", root.path().join("snapshots").join(&campaign).display()),
            "GS_SNAPSHOT_INTERVAL_SECS": "3600",
        }});
        let t = Instant::now();
        let r = http
            .post(format!("{base}/assign"))
            .bearer_auth("bench-admin")
            .json(&env)
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::ACCEPTED {
            bail!("assignment refused: {}", r.status());
        }
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(90) {
                bail!("the assigned server did not become joinable");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if new {
            warm_new.push(t.elapsed());
        } else {
            warm.push(t.elapsed());
        }
        let _ = child.kill().await;
    }
    if let Some(s) = Summary::of(warm) {
        println!("warm server assigned -> joinable (same snapshot, fresh disk): {s}");
    }
    if let Some(s) = Summary::of(warm_new) {
        println!("warm server assigned -> joinable (new campaign, world generated): {s}");
    }
    Ok(())
}
