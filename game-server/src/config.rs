//! The one typed configuration of the game-server binary, from flags and
//! environment variables. Secrets are wrapped in [`Secret`], whose `Debug`
//! and `Display` print `[redacted]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use campaign_gen::Settings;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// A secret string; never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// The game-server command line.
#[derive(Debug, Parser)]
#[command(name = "game-server", version, about = "Runs one Startales campaign.")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Serve the campaign (the normal mode).
    Serve(Box<ServeConfig>),
    /// Start without a campaign and wait, warm, to be assigned one
    /// (`POST /assign`); then become `serve` for it.
    Warm(crate::warm::WarmConfig),
    /// Re-run a campaign's command log from its seed and print the state hash.
    Replay {
        /// A campaign database (`game.db`) or a snapshot (`.db.zst`).
        path: PathBuf,
    },
}

/// Which narrator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NarratorKind {
    /// Deterministic template prose.
    Offline,
    /// An OpenAI-compatible chat-completions endpoint.
    Openai,
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// The campaign id (join tokens must name it).
    #[arg(long, env = "GS_CAMPAIGN_ID")]
    pub campaign_id: String,
    /// The world seed.
    #[arg(long, env = "GS_SEED")]
    pub seed: u64,
    /// Campaign settings as JSON (campaign-gen `Settings`, including
    /// `generator_version`).
    #[arg(long, env = "GS_SETTINGS", value_parser = parse_settings)]
    pub settings: Settings,
    /// Folder for the campaign database.
    #[arg(long, env = "GS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "GS_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Where snapshots go: `file:///path` or `s3://bucket/prefix`.
    #[arg(long, env = "GS_OBJECT_STORE_URL")]
    pub object_store_url: Option<String>,
    /// S3 endpoint for S3-compatible stores (such as `http://minio:9000`).
    #[arg(long, env = "GS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "GS_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// S3 access key id.
    #[arg(long, env = "GS_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "GS_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<Secret>,
    /// Seconds between snapshots (taken only when the state changed).
    #[arg(long, env = "GS_SNAPSHOT_INTERVAL_SECS", default_value_t = 60)]
    pub snapshot_interval_secs: u64,
    /// Snapshots kept: the newest N.
    #[arg(long, env = "GS_SNAPSHOT_KEEP_LAST", default_value_t = 10)]
    pub snapshot_keep_last: usize,
    /// Snapshots kept: also the newest of each of the last D days.
    #[arg(long, env = "GS_SNAPSHOT_KEEP_DAYS", default_value_t = 7)]
    pub snapshot_keep_days: u32,
    /// The orchestrator's Ed25519 public key (PEM or base64) for join tokens.
    #[arg(long, env = "GS_JOIN_PUBLIC_KEY")]
    pub join_public_key: String,
    /// Bearer token the orchestrator uses for admin endpoints.
    #[arg(long, env = "GS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Secret,
    /// Stop (draining, with a final snapshot) when the process that
    /// started this one dies, so a crashed supervisor leaves no server
    /// behind on its data.
    #[arg(long, env = "GS_EXIT_WITH_PARENT")]
    pub exit_with_parent: bool,
    /// Milliseconds per tick.
    #[arg(long, env = "GS_TICK_MS", default_value_t = 1000)]
    pub tick_ms: u64,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, env = "GS_MAX_FRAME_BYTES", default_value_t = 16 * 1024)]
    pub max_frame_bytes: usize,
    /// Messages each client may queue before it is dropped as too slow.
    #[arg(long, env = "GS_CLIENT_QUEUE", default_value_t = 512)]
    pub client_queue: usize,
    /// Chat lines per connection per 10 seconds.
    #[arg(long, env = "GS_CHAT_PER_10S", default_value_t = 10)]
    pub chat_per_10s: u32,
    /// Commands per connection per second (burst twice that).
    #[arg(long, env = "GS_COMMANDS_PER_SEC", default_value_t = 20)]
    pub commands_per_sec: u32,
    /// The narrator.
    #[arg(long, env = "GS_NARRATOR", value_enum, default_value = "offline")]
    pub narrator: NarratorKind,
    /// Provider name for metrics (openai, anthropic, gemini, grok, ollama).
    #[arg(long, env = "GS_NARRATOR_PROVIDER", default_value = "openai")]
    pub narrator_provider: String,
    /// Base URL of the OpenAI-compatible API.
    #[arg(
        long,
        env = "GS_NARRATOR_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub narrator_base_url: String,
    /// Model for this campaign's tier.
    #[arg(long, env = "GS_NARRATOR_MODEL", default_value = "gpt-4o-mini")]
    pub narrator_model: String,
    /// API key for the narrator.
    #[arg(
        long,
        env = "GS_NARRATOR_API_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    pub narrator_api_key: Secret,
    /// Token budget for the whole campaign.
    #[arg(long, env = "GS_NARRATOR_TOKEN_BUDGET", default_value_t = 200_000)]
    pub narrator_token_budget: u64,
    /// Timeout per narrator call, milliseconds.
    #[arg(long, env = "GS_NARRATOR_TIMEOUT_MS", default_value_t = 10_000)]
    pub narrator_timeout_ms: u64,
    /// Retries per narration.
    #[arg(long, env = "GS_NARRATOR_RETRIES", default_value_t = 2)]
    pub narrator_retries: u32,
    /// First retry delay, milliseconds (doubles per retry).
    #[arg(long, env = "GS_NARRATOR_BACKOFF_MS", default_value_t = 250)]
    pub narrator_backoff_ms: u64,
    /// Consecutive failures that open the narrator circuit breaker.
    #[arg(long, env = "GS_NARRATOR_BREAKER_FAILURES", default_value_t = 3)]
    pub narrator_breaker_failures: u32,
    /// Seconds the breaker stays open.
    #[arg(long, env = "GS_NARRATOR_BREAKER_COOLDOWN_SECS", default_value_t = 60)]
    pub narrator_breaker_cooldown_secs: u64,
    /// Narrate every N ticks that had events.
    #[arg(long, env = "GS_NARRATE_EVERY", default_value_t = 1)]
    pub narrate_every: u64,
}

fn parse_settings(s: &str) -> Result<Settings, String> {
    serde_json::from_str(s).map_err(|e| format!("invalid settings JSON: {e}"))
}

impl ServeConfig {
    /// Tick interval.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(1))
    }

    /// The campaign database path.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("game.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let cli = Cli::try_parse_from([
            "game-server",
            "serve",
            "--campaign-id",
            "c1",
            "--seed",
            "1",
            "--settings",
            r#"{"players":2,"galaxy":"small","difficulty":"normal","mode":"conquest","species_pool":null,"generator_version":"v1"}"#,
            "--join-public-key",
            "k",
            "--admin-token",
            "hunter2",
            "--narrator-api-key",
            "sk-live-xyz",
        ])
        .unwrap();
        let text = format!("{cli:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("sk-live-xyz"), "{text}");
    }

    #[test]
    fn invalid_settings_are_refused_with_a_clear_error() {
        let err = Cli::try_parse_from([
            "game-server",
            "serve",
            "--campaign-id",
            "c1",
            "--seed",
            "1",
            "--settings",
            r#"{"players":99}"#,
            "--join-public-key",
            "k",
            "--admin-token",
            "t",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("invalid settings"), "{err}");
    }
}
