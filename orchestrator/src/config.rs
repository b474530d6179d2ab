//! The orchestrator's one typed configuration, from flags and environment
//! variables. Secrets are never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// A secret string; `Debug` prints `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Where the database is and where local files go.
#[derive(Debug, Clone, Args)]
pub struct StoreConfig {
    /// Database URL: `sqlite://PATH` (the embedded default) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/orchestrator.db"
    )]
    pub database_url: String,
    /// Folder for local state (the token key when none is given).
    #[arg(long, env = "STARTALES_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// The database.
    #[command(flatten)]
    pub store: StoreConfig,
    /// Address to listen on.
    #[arg(long, env = "STARTALES_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Key for signing access tokens (32+ bytes). Without it one is made and
    /// kept in the data folder.
    #[arg(long, env = "STARTALES_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<Secret>,
    /// Browser origins allowed to call the API, comma separated.
    #[arg(long, env = "STARTALES_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Argon2id memory in KiB (OWASP: 19456).
    #[arg(long, env = "STARTALES_ARGON2_M_KIB", default_value_t = 19_456)]
    pub argon2_m_kib: u32,
    /// Argon2id passes (OWASP: 2).
    #[arg(long, env = "STARTALES_ARGON2_T", default_value_t = 2)]
    pub argon2_t: u32,
    /// Argon2id lanes (OWASP: 1).
    #[arg(long, env = "STARTALES_ARGON2_P", default_value_t = 1)]
    pub argon2_p: u32,
    /// A price book (JSON) to quote from instead of the standard one;
    /// admins may put newer books in force through the API.
    #[arg(long, env = "STARTALES_PRICE_BOOK")]
    pub price_book: Option<PathBuf>,
    /// Stripe: how seats and subscriptions are paid for real. Without a
    /// secret key the local provider runs (test mode: no real money).
    #[command(flatten)]
    pub stripe: StripeConfig,
    /// Game servers and their sessions.
    #[command(flatten)]
    pub sessions: SessionConfig,
    /// Set up a demo at start: a game master, two players with seats and a
    /// campaign whose session starts in a minute; prints how to play.
    #[arg(long, env = "STARTALES_DEMO")]
    pub demo: bool,
    /// Sign-up, log-in and password-reset calls per address per minute.
    #[arg(long, env = "STARTALES_RATE_AUTH_PER_MIN", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_auth_per_min: u32,
    /// Other calls per address per second (bursts of 2.5 s worth allowed).
    #[arg(long, env = "STARTALES_RATE_IP_PER_SEC", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_ip_per_sec: u32,
    /// Calls per user credential per second (bursts of 3 s worth allowed).
    #[arg(long, env = "STARTALES_RATE_USER_PER_SEC", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_user_per_sec: u32,
}

impl ServeConfig {
    /// The rate limits this configuration asks for.
    pub fn rate_limits(&self) -> crate::http::RateLimits {
        let per = |n: u32, window_ms: u64| (window_ms / u64::from(n.max(1))).max(1);
        crate::http::RateLimits {
            auth_period_ms: per(self.rate_auth_per_min, 60_000),
            auth_burst: self.rate_auth_per_min,
            general_period_ms: per(self.rate_ip_per_sec, 1_000),
            general_burst: self.rate_ip_per_sec.saturating_mul(5) / 2,
            user_period_ms: per(self.rate_user_per_sec, 1_000),
            user_burst: self.rate_user_per_sec.saturating_mul(3),
        }
    }
}

/// Stripe's settings. Secrets come from the environment or from files
/// (mounted Kubernetes secrets), never from logs.
#[derive(Debug, Clone, Args)]
pub struct StripeConfig {
    /// Stripe secret API key (`sk_...` or a restricted `rk_...`).
    #[arg(long, env = "STARTALES_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<Secret>,
    /// A file holding the secret API key.
    #[arg(
        long,
        env = "STARTALES_STRIPE_SECRET_KEY_FILE",
        conflicts_with = "stripe_secret_key"
    )]
    pub stripe_secret_key_file: Option<PathBuf>,
    /// Webhook endpoint secrets (`whsec_...`), comma separated while rotating.
    #[arg(
        long,
        env = "STARTALES_STRIPE_WEBHOOK_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Vec<Secret>,
    /// A file holding the webhook secrets, one per line.
    #[arg(long, env = "STARTALES_STRIPE_WEBHOOK_SECRET_FILE")]
    pub stripe_webhook_secret_file: Option<PathBuf>,
    /// Largest accepted age of a webhook signature, seconds.
    #[arg(long, env = "STARTALES_STRIPE_WEBHOOK_TOLERANCE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub stripe_webhook_tolerance_secs: u32,
    /// Stripe's API address (a stand-in for tests).
    #[arg(long, env = "STARTALES_STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,
    /// How long a seat is held for payment with Stripe, minutes (Stripe
    /// Checkout stays open 30 minutes to 24 hours from when it is made, so
    /// 31 to 1439 leaves room for the request's way there).
    #[arg(long, env = "STARTALES_STRIPE_HOLD_MINUTES", default_value_t = 35, value_parser = clap::value_parser!(u32).range(31..=1439))]
    pub stripe_hold_minutes: u32,
    /// The Stripe price id of the monthly plan.
    #[arg(long, env = "STARTALES_STRIPE_PRICE_MONTHLY")]
    pub stripe_price_monthly: Option<String>,
    /// The Stripe price id of the annual plan.
    #[arg(long, env = "STARTALES_STRIPE_PRICE_ANNUAL")]
    pub stripe_price_annual: Option<String>,
    /// Percent off seats for subscribers.
    #[arg(long, env = "STARTALES_SUBSCRIBER_DISCOUNT_PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=90))]
    pub subscriber_discount_percent: u32,
    /// The public address of the site (Stripe's return pages); defaults to
    /// the listen address.
    #[arg(long, env = "STARTALES_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// How game servers run and when.
#[derive(Debug, Clone, Args)]
pub struct SessionConfig {
    /// Folder for the local runtime's game servers (databases and
    /// snapshots); defaults to `runtime` in the data folder.
    #[arg(long, env = "STARTALES_RUNTIME_DIR")]
    pub runtime_dir: Option<PathBuf>,
    /// Minutes before each session that its game server starts.
    #[arg(long, env = "STARTALES_WARMUP_MINUTES", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=240))]
    pub warmup_minutes: u32,
    /// Minutes after each session that its game server keeps running.
    #[arg(long, env = "STARTALES_GRACE_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u32).range(0..=240))]
    pub grace_minutes: u32,
    /// Where game servers run: `local` (processes on this host) or
    /// `kubernetes` (GameServer resources; this replica also runs the
    /// controller while it holds the leader lease).
    #[arg(long, env = "STARTALES_RUNTIME", default_value = "local", value_parser = ["local", "kubernetes"])]
    pub runtime: String,
    /// Kubernetes namespace for game servers and the leader lease.
    #[arg(long, env = "STARTALES_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// The game-server image (kubernetes).
    #[arg(
        long,
        env = "STARTALES_GAME_SERVER_IMAGE",
        default_value = "ghcr.io/startales/game-server:latest"
    )]
    pub game_server_image: String,
    /// Where game servers keep snapshots (kubernetes): `s3://bucket/prefix`.
    #[arg(
        long,
        env = "STARTALES_SNAPSHOT_BASE",
        default_value = "s3://startales-snapshots/campaigns"
    )]
    pub snapshot_base: String,
    /// S3 endpoint for S3-compatible stores (kubernetes).
    #[arg(long, env = "STARTALES_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (kubernetes).
    #[arg(long, env = "STARTALES_S3_REGION")]
    pub s3_region: Option<String>,
    /// Secret with the game servers' S3 credentials (kubernetes).
    #[arg(long, env = "STARTALES_S3_CREDENTIALS_SECRET")]
    pub s3_credentials_secret: Option<String>,
    /// CPU each game server requests (kubernetes; a Kubernetes quantity).
    #[arg(long, env = "STARTALES_GAME_SERVER_CPU", default_value = "100m", value_parser = quantity)]
    pub game_server_cpu: String,
    /// Memory each game server requests (kubernetes).
    #[arg(long, env = "STARTALES_GAME_SERVER_MEMORY", default_value = "64Mi", value_parser = quantity)]
    pub game_server_memory: String,
    /// Memory each game server may use at most (kubernetes).
    #[arg(long, env = "STARTALES_GAME_SERVER_MEMORY_LIMIT", default_value = "256Mi", value_parser = quantity)]
    pub game_server_memory_limit: String,
    /// Secret with the game servers' `adminToken` and `joinPublicKey`.
    #[arg(
        long,
        env = "STARTALES_GAME_SERVER_SECRET",
        default_value = "startales-game-server"
    )]
    pub game_server_secret: String,
    /// The join-token signing key (PKCS#8, hex), the same on every replica;
    /// without it one is made and kept in the data folder.
    #[arg(long, env = "STARTALES_JOIN_KEY", hide_env_values = true)]
    pub join_key: Option<Secret>,
    /// This replica's name for the leader lease and events (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Seconds between scheduler rounds.
    #[arg(long, env = "STARTALES_SCHEDULER_SECS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub scheduler_secs: u32,
}

impl SessionConfig {
    /// The warm-up lead and grace.
    pub fn timing(&self) -> crate::scheduler::decide::Timing {
        crate::scheduler::decide::Timing {
            lead_ms: i64::from(self.warmup_minutes) * 60_000,
            grace_ms: i64::from(self.grace_minutes) * 60_000,
        }
    }
}

/// Checks a Kubernetes resource quantity (`100m`, `64Mi`, `1.5`, `2G`).
fn quantity(s: &str) -> Result<String, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    let number_ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ]
    .contains(&suffix);
    if number_ok && suffix_ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a Kubernetes quantity (for example 100m, 0.5, 64Mi, 1Gi)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn kubernetes_quantities_are_checked() {
        for ok in ["100m", "0.5", "64Mi", "1Gi", "2", "1.5G"] {
            assert_eq!(quantity(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "Mi", "64mb", "1..5", "-1", "lots"] {
            assert!(quantity(bad).is_err(), "{bad:?}");
        }
    }
}
