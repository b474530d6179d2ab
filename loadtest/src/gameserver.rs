//! The game-server scenario: one campaign, many players.
//!
//! Starts the `game-server` binary on a fresh data directory with its own
//! Ed25519 join-token key, so nothing but this tool and the server is
//! involved. Measures, in order: resident memory once the world is loaded
//! and the server is idle; acknowledgement latency (command sent → `ack`
//! received) with every player sending one command a second; the interval
//! between tick messages a client sees; and the server's own tick-duration
//! histogram from `/metrics`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use game_server::protocol::{ClientMsg, Command, JoinClaims, PROTOCOL_VERSION, Role, ServerMsg};
use jsonwebtoken::{EncodingKey, Header};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::stats::Summary;

const ADMIN_TOKEN: &str = "loadtest-admin";
const CAMPAIGN: &str = "loadtest";

/// Which narrator the server under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NarratorChoice {
    /// The built-in deterministic narrator.
    Offline,
    /// An OpenAI-compatible server run by this tool that answers after
    /// `--narrator-delay-ms`.
    Slow,
}

/// Options of the game-server scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The game-server binary (default: `game-server` next to this one).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Players (2-50), each with their own connection.
    #[arg(long, default_value_t = 50)]
    pub players: u8,
    /// Commands per second per player.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Seconds of play to measure.
    #[arg(long, default_value_t = 60)]
    pub duration_secs: u64,
    /// Seconds to leave the server idle before reading its memory.
    #[arg(long, default_value_t = 5)]
    pub idle_secs: u64,
    /// The server's tick interval.
    #[arg(long, default_value_t = 1000)]
    pub tick_ms: u64,
    /// Galaxy size preset.
    #[arg(long, default_value = "medium")]
    pub galaxy: String,
    /// The narrator.
    #[arg(long, value_enum, default_value = "offline")]
    pub narrator: NarratorChoice,
    /// How long the slow narrator takes per answer.
    #[arg(long, default_value_t = 3000)]
    pub narrator_delay_ms: u64,
}

/// Signs join tokens the way the orchestrator does.
struct Signer {
    key: EncodingKey,
    public: String,
}

impl Signer {
    fn new() -> anyhow::Result<Signer> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow!("generating an Ed25519 key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| anyhow!("reading the Ed25519 key"))?;
        Ok(Signer {
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref()),
        })
    }

    fn token(&self, player: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = JoinClaims {
            sub: player.into(),
            campaign: CAMPAIGN.into(),
            role: Role::Player,
            exp: now + 3600,
            iat: Some(now),
            jti: format!("{player}-{now}"),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &self.key,
        )?)
    }
}

/// An OpenAI-compatible chat-completions server that takes its time.
async fn slow_narrator(delay: Duration) -> anyhow::Result<SocketAddr> {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({
                    "id": "chatcmpl-load", "object": "chat.completion", "created": 1,
                    "model": "load-model",
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                        "message": {"role": "assistant",
                            "content": "Far lanes hum with the traffic of envoys."}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}
                }))
            }),
        )
        .route(
            "/v1/models",
            get(|| async {
                axum::Json(serde_json::json!({"object": "list", "data": [
                    {"id": "load-model", "object": "model", "created": 1, "owned_by": "loadtest"}]}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn default_bin() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating this program")?;
    let bin = me
        .parent()
        .map(|d| d.join("game-server"))
        .ok_or_else(|| anyhow!("no directory for {}", me.display()))?;
    if !bin.exists() {
        bail!(
            "{} not found; build it (`cargo build --release -p game-server`) or pass --bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// Resident set size and its peak, in KiB, from `/proc/<pid>/status`.
fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading the server's /proc status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| anyhow!("{name} missing from /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The upper bound of the bucket holding quantile `q` of a Prometheus
/// histogram in text format, with the mean.
fn histogram_quantile(metrics: &str, name: &str, q: f64) -> Option<(f64, f64)> {
    let mut buckets = Vec::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix(&format!("{name}_bucket{{le=\"")) {
            let (le, value) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            buckets.push((le, value.trim().parse::<f64>().ok()?));
        } else if let Some(v) = line.strip_prefix(&format!("{name}_sum ")) {
            sum = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix(&format!("{name}_count ")) {
            count = v.trim().parse().ok()?;
        }
    }
    if count == 0.0 {
        return None;
    }
    let le = buckets
        .iter()
        .find(|(_, c)| *c >= q * count)
        .map(|(le, _)| *le)?;
    Some((le, sum / count))
}

#[derive(Default)]
struct Shared {
    acks: Vec<Duration>,
    refused: HashMap<String, u64>,
    tick_gaps: Vec<Duration>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and says hello; returns once welcomed.
async fn join(addr: SocketAddr, token: String) -> anyhow::Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .context("connecting")?;
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        token,
        last_event_id: None,
    };
    ws.send(Message::text(serde_json::to_string(&hello)?))
        .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMsg>(&t)? {
                ServerMsg::Welcome { .. } => return Ok(ws),
                ServerMsg::Error { message, .. } => bail!("hello refused: {message}"),
                _ => {}
            },
            Some(Ok(Message::Close(c))) => bail!("closed during hello: {c:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed during hello"),
        }
    }
}

/// One player: joins, waits for everyone, then sends a command every
/// `period` for `duration`.
async fn play(
    addr: SocketAddr,
    token: String,
    index: u32,
    period: Duration,
    start: Arc<tokio::sync::Barrier>,
    duration: Duration,
    shared: Arc<Mutex<Shared>>,
) -> anyhow::Result<()> {
    let joined = join(addr, token).await;
    // Everyone is in before the clock starts (a failed join still counts
    // itself in, so the others do not wait forever): this measures steady
    // play, not the burst of joins.
    start.wait().await;
    let (mut tx, mut rx) = joined?.split();
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let reader = {
        let sent = Arc::clone(&sent);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut last_tick: Option<Instant> = None;
            while let Some(Ok(msg)) = rx.next().await {
                let Message::Text(t) = msg else { continue };
                let Ok(msg) = serde_json::from_str::<ServerMsg>(&t) else {
                    continue;
                };
                let now = Instant::now();
                match msg {
                    ServerMsg::Ack { id, .. } => {
                        if let Some(at) = sent.lock().ok().and_then(|mut s| s.remove(&id))
                            && let Ok(mut sh) = shared.lock()
                        {
                            sh.acks.push(now - at);
                        }
                    }
                    ServerMsg::Error {
                        id: Some(id), code, ..
                    } => {
                        if let Ok(mut s) = sent.lock() {
                            s.remove(&id);
                        }
                        if let Ok(mut sh) = shared.lock() {
                            *sh.refused.entry(format!("{code:?}")).or_default() += 1;
                        }
                    }
                    ServerMsg::Tick { .. } if index == 0 => {
                        if let Some(prev) = last_tick
                            && let Ok(mut sh) = shared.lock()
                        {
                            sh.tick_gaps.push(now - prev);
                        }
                        last_tick = Some(now);
                    }
                    _ => {}
                }
            }
        })
    };
    let until = Instant::now() + duration;
    // Spread the players over the period, as real ones are.
    let offset = period.mul_f64(f64::from(index % 97) / 97.0);
    tokio::time::sleep(offset).await;
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut id = 0u64;
    while Instant::now() < until {
        interval.tick().await;
        id += 1;
        let command = ClientMsg::Command {
            id,
            command: Command::MessageNpc {
                character: index % 8,
                text: format!("Envoy, message {id} from player {index}: we seek peace."),
            },
        };
        let text = serde_json::to_string(&command)?;
        if let Ok(mut s) = sent.lock() {
            s.insert(id, Instant::now());
        }
        tx.send(Message::text(text)).await?;
    }
    // Let the last answers arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tx.send(Message::Close(None)).await;
    reader.abort();
    Ok(())
}

/// Runs the scenario and prints its figures.
pub async fn run(o: Options) -> anyhow::Result<()> {
    if !(2..=50).contains(&o.players) {
        bail!("--players must be 2-50, got {}", o.players);
    }
    if !(o.rate > 0.0 && o.rate <= 100.0) {
        bail!("--rate must be above 0 and at most 100, got {}", o.rate);
    }
    let bin = match o.bin.clone() {
        Some(b) => b,
        None => default_bin()?,
    };
    let signer = Signer::new()?;
    let dir = tempfile::tempdir().context("creating a data directory")?;
    let settings = serde_json::json!({
        "players": o.players, "galaxy": o.galaxy, "difficulty": "normal",
        "mode": "conquest", "species_pool": null, "generator_version": "v1"
    });
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("serve")
        .env("GS_CAMPAIGN_ID", CAMPAIGN)
        .env("GS_SEED", "20261123")
        .env("GS_SETTINGS", settings.to_string())
        .env("GS_DATA_DIR", dir.path())
        .env("GS_LISTEN", "127.0.0.1:0")
        .env("GS_JOIN_PUBLIC_KEY", &signer.public)
        .env("GS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("GS_TICK_MS", o.tick_ms.to_string())
        .env("GS_COMMANDS_PER_SEC", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if o.narrator == NarratorChoice::Slow {
        let addr = slow_narrator(Duration::from_millis(o.narrator_delay_ms)).await?;
        cmd.env("GS_NARRATOR", "openai")
            .env("GS_NARRATOR_BASE_URL", format!("http://{addr}/v1"))
            .env("GS_NARRATOR_MODEL", "load-model")
            .env("GS_NARRATOR_API_KEY", "sk-load")
            .env("GS_NARRATOR_TOKEN_BUDGET", "100000000")
            .env(
                "GS_NARRATOR_TIMEOUT_MS",
                (o.narrator_delay_ms * 2 + 1000).to_string(),
            );
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id().ok_or_else(|| anyhow!("server exited at once"))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let addr: SocketAddr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if let Some(a) = l.strip_prefix("listening on ") {
                return a.parse().ok();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| anyhow!("the server did not say where it listens"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("http://{addr}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "server ready in {:.0} ms ({} players, {} galaxy, {:?} narrator)",
        started.elapsed().as_secs_f64() * 1000.0,
        o.players,
        o.galaxy,
        o.narrator
    );
    tokio::time::sleep(Duration::from_secs(o.idle_secs)).await;
    let (rss, hwm) = memory_kib(pid)?;
    println!(
        "idle memory: RSS {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );

    let shared: Arc<Mutex<Shared>> = Arc::default();
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let start = Arc::new(tokio::sync::Barrier::new(usize::from(o.players)));
    let duration = Duration::from_secs(o.duration_secs);
    let mut players = Vec::new();
    for i in 0..u32::from(o.players) {
        let token = signer.token(&format!("player-{i}"))?;
        players.push(tokio::spawn(play(
            addr,
            token,
            i,
            period,
            Arc::clone(&start),
            duration,
            Arc::clone(&shared),
        )));
    }
    let mut failures = 0;
    for p in players {
        match p.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failures += 1;
                eprintln!("player failed: {e:#}");
            }
            Err(e) => {
                failures += 1;
                eprintln!("player task failed: {e}");
            }
        }
    }
    let (rss, hwm) = memory_kib(pid)?;
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let code = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .context("the server did not stop within 30 s of SIGTERM")??;

    let shared = std::mem::take(&mut *shared.lock().map_err(|_| anyhow!("poisoned"))?);
    let sent_total = shared.acks.len() as u64 + shared.refused.values().sum::<u64>();
    println!(
        "play: {} players x {} cmd/s for {} s: {} commands answered, {} refused {:?}, {} players failed",
        o.players,
        o.rate,
        o.duration_secs,
        sent_total,
        shared.refused.values().sum::<u64>(),
        shared.refused,
        failures
    );
    match Summary::of(shared.acks) {
        Some(s) => println!("ack latency: {s}"),
        None => println!("ack latency: no acks"),
    }
    if let Some(s) = Summary::of(shared.tick_gaps) {
        println!("tick interval seen by a client: {s}");
    }
    match histogram_quantile(&metrics, "gameserver_tick_duration_seconds", 0.99) {
        Some((le, mean)) => println!(
            "tick duration (server histogram): p99 <= {:.2} ms, mean {:.3} ms",
            le * 1000.0,
            mean * 1000.0
        ),
        None => println!("tick duration: no ticks recorded"),
    }
    println!(
        "memory under load: RSS {:.1} MiB (peak {:.1} MiB); server exit {:?}",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        code.code()
    );
    if failures > 0 {
        bail!("{failures} players failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_bucket_and_mean_come_from_the_text_format() {
        let text = "# TYPE x histogram\n\
            x_bucket{le=\"0.001\"} 90\n\
            x_bucket{le=\"0.01\"} 99\n\
            x_bucket{le=\"+Inf\"} 100\n\
            x_sum 0.5\n\
            x_count 100\n";
        assert_eq!(histogram_quantile(text, "x", 0.99), Some((0.01, 0.005)));
        assert_eq!(histogram_quantile(text, "x", 0.9), Some((0.001, 0.005)));
        assert_eq!(histogram_quantile(text, "y", 0.99), None);
    }
}
