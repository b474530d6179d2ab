//! The `orchestrator` command line: `serve` (the default), `migrate`,
//! `admin create`, `crd`, `openapi`, `join-key`, and `game-server` (the
//! embedded game server the local runtime runs).

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::accounts::{
    Accounts, Passwords, Role, TokenKeys, check_password, parse_email, parse_handle,
};
use crate::config::{ServeConfig, StoreConfig};
use crate::http::{AppState, Clock, HttpOptions};
use crate::metrics::Metrics;
use crate::store::Store;

/// How many tasks a runtime worker runs between looks at the queue of
/// work woken from other threads (tokio's default is 61).
const GLOBAL_QUEUE_INTERVAL: u32 = 4;

/// The Startales orchestrator.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API (the default when no command is given).
    Serve(Box<ServeConfig>),
    /// Apply database migrations and exit.
    Migrate(StoreConfig),
    /// Manage accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the CustomResourceDefinitions (YAML).
    Crd,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Make a join-token key pair: the private key for every replica
    /// (STARTALES_JOIN_KEY) and the public key for game servers.
    JoinKey,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin account. The password is read from standard input.
    Create {
        /// The database.
        #[command(flatten)]
        store: StoreConfig,
        /// Email.
        #[arg(long)]
        email: String,
        /// Handle.
        #[arg(long)]
        handle: String,
    },
}

/// Parses the process arguments and runs.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Work woken from outside the runtime (every SQLite answer comes
        // from its connection's own thread) waits in the shared queue,
        // which a busy worker looked at only every 61 tasks: the join
        // writer waited there behind hundreds of requests for each of a
        // group's statements.
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => {
            let config = ServeConfig::try_parse_from_env()?;
            serve(config).await
        }
        Some(Command::Serve(config)) => serve(*config).await,
        Some(Command::Migrate(store)) => {
            let store = open_store(&store).await?;
            println!("migrations applied to the {:?} database", store.backend());
            Ok(())
        }
        Some(Command::Admin {
            command:
                AdminCommand::Create {
                    store,
                    email,
                    handle,
                },
        }) => {
            let store = open_store(&store).await?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let email = parse_email(&email)?;
            let handle = parse_handle(&handle)?;
            check_password(password, &email, &handle)?;
            let (m, t, p) = Passwords::OWASP;
            let passwords = Passwords::new(m, t, p)?;
            let hash = passwords.hash(password).await?;
            let keys = TokenKeys::new(&[0; 32]);
            let accounts = Accounts {
                store: &store,
                passwords: &passwords,
                keys: &keys,
                now: Clock::system().now(),
            };
            let account = accounts.create(email, handle, hash, Role::Admin).await?;
            crate::safety::audit(
                &store,
                None,
                "account.create_admin",
                "account",
                &account.id,
                serde_json::json!({"by": "command line"}),
                accounts.now,
            )
            .await?;
            println!("created admin {} ({})", account.handle, account.id);
            println!("log in, then set up the second factor at POST /api/v1/me/totp");
            Ok(())
        }
        Some(Command::Crd) => {
            print!("{}", crate::controller::crds_yaml());
            Ok(())
        }
        Some(Command::Openapi) => {
            print!("{}", crate::http::openapi::document());
            Ok(())
        }
        Some(Command::JoinKey) => {
            let (keys, der) = crate::play::JoinKeys::generate().map_err(|e| anyhow::anyhow!(e))?;
            println!("STARTALES_JOIN_KEY={}", hex::encode(der));
            println!("joinPublicKey={}", keys.public_key());
            Ok(())
        }
    }
}

impl ServeConfig {
    /// `serve`'s configuration from the environment alone (for a bare
    /// `orchestrator` with no command).
    fn try_parse_from_env() -> anyhow::Result<ServeConfig> {
        #[derive(Parser)]
        struct Bare {
            #[command(flatten)]
            config: ServeConfig,
        }
        Ok(Bare::try_parse_from(["orchestrator"])?.config)
    }
}

/// The price book from `--price-book`, or the standard one.
fn price_books(config: &ServeConfig) -> anyhow::Result<crate::price_books::PriceBooks> {
    let book = match &config.price_book {
        None => crate::pricing::PriceBook::standard(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the price book {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("the price book {} is not valid", path.display()))?
        }
    };
    crate::price_books::PriceBooks::new(book).context("the configured price book is not valid")
}

async fn open_store(config: &StoreConfig) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "opening the database ({})",
                redact_url(&config.database_url)
            )
        })?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The access-token key: from config, or kept in the data folder.
fn token_key(config: &ServeConfig) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.token_secret {
        if secret.expose().len() < 32 {
            bail!("STARTALES_TOKEN_SECRET must be at least 32 bytes");
        }
        return Ok(secret.expose().as_bytes().to_vec());
    }
    kept_key(&config.store.data_dir, "token.key", || {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(key.to_vec())
    })
}

/// A key kept (hex) in `dir/name`: read if there, else made by `make`
/// and written.
fn kept_key(
    dir: &std::path::Path,
    name: &str,
    make: impl FnOnce() -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return hex::decode(existing.trim())
            .with_context(|| format!("{} is not hex", path.display()));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = make()?;
    std::fs::write(&path, hex::encode(&key))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

type SharedRuntime = std::sync::Arc<dyn crate::runtime::Runtime>;

/// The runtime the configuration asks for, whether this replica leads
/// (always, on one host), and the cluster tasks (lease, controller).
async fn runtime_for(
    config: &ServeConfig,
    join_keys: &crate::play::JoinKeys,
    metrics: &Metrics,
) -> anyhow::Result<(
    SharedRuntime,
    tokio::sync::watch::Receiver<bool>,
    Vec<tokio::task::JoinHandle<()>>,
)> {
    let s = &config.sessions;
    if s.runtime == "local" {
        let dir = s
            .runtime_dir
            .clone()
            .unwrap_or_else(|| config.store.data_dir.join("runtime"));
        let runtime = crate::runtime::local::LocalRuntime::new(
            crate::runtime::local::LocalSettings::this_binary(dir, join_keys.public_key().into())
                .context("finding this program to run game servers")?,
        );
        let (_, leading) = tokio::sync::watch::channel(true);
        return Ok((std::sync::Arc::new(runtime), leading, Vec::new()));
    }
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster config or kubeconfig)")?;
    let runtime = crate::runtime::kubernetes::KubernetesRuntime::new(
        client.clone(),
        crate::runtime::kubernetes::KubernetesSettings {
            namespace: s.namespace.clone(),
            image: s.game_server_image.clone(),
            snapshot_base: s.snapshot_base.clone(),
            s3_endpoint: s.s3_endpoint.clone(),
            s3_region: s.s3_region.clone(),
            s3_credentials_secret: s.s3_credentials_secret.clone(),
            resources: Some(crate::runtime::kubernetes::resources(
                &s.game_server_cpu,
                &s.game_server_memory,
                &s.game_server_memory_limit,
            )),
        },
    );
    let identity = s
        .pod_name
        .clone()
        .unwrap_or_else(|| format!("orchestrator-{}", crate::accounts::new_id()));
    let (lead_tx, leading) = tokio::sync::watch::channel(false);
    let lease = tokio::spawn(crate::controller::lease::keep(
        kube::Api::namespaced(client.clone(), &s.namespace),
        crate::controller::lease::LeaseSettings {
            namespace: s.namespace.clone(),
            name: "startales-controller".into(),
            identity: identity.clone(),
            duration: std::time::Duration::from_secs(15),
            renew_every: std::time::Duration::from_secs(5),
        },
        lead_tx,
    ));
    let controller_metrics = crate::controller::run::ControllerMetrics::new(metrics.registry());
    let pod_settings = crate::controller::PodSettings {
        secret_name: s.game_server_secret.clone(),
        ..crate::controller::PodSettings::default()
    };
    // The controllers run only while this replica holds the lease.
    let supervisor = tokio::spawn(crate::controller::lease::while_leading(
        leading.clone(),
        move || {
            tokio::spawn(crate::controller::run::run(
                client.clone(),
                pod_settings.clone(),
                controller_metrics.clone(),
                Some(identity.clone()),
            ))
        },
    ));
    Ok((
        std::sync::Arc::new(runtime),
        leading,
        vec![lease, supervisor],
    ))
}

/// The join-token key: kept (PKCS#8, hex) in the data folder, made on
/// first start.
fn join_keys(config: &ServeConfig) -> anyhow::Result<crate::play::JoinKeys> {
    if let Some(key) = &config.sessions.join_key {
        let der = hex::decode(key.expose().trim()).map_err(|_| {
            anyhow::anyhow!("STARTALES_JOIN_KEY must be hex (see orchestrator join-key)")
        })?;
        return crate::play::JoinKeys::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("STARTALES_JOIN_KEY: {e}"));
    }
    let der = kept_key(&config.store.data_dir, "join.key", || {
        crate::play::JoinKeys::generate()
            .map(|(_, der)| der)
            .map_err(|e| anyhow::anyhow!(e))
    })?;
    crate::play::JoinKeys::from_pkcs8(&der)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.store.data_dir.join("join.key").display()))
}

/// Reads a secret from a file (trimmed), naming the file on failure.
fn secret_file(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret in {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// The payment provider the configuration asks for: Stripe with a secret
/// key, else the local provider (test mode: no real money).
fn payment_provider(
    config: &ServeConfig,
) -> anyhow::Result<std::sync::Arc<dyn crate::billing::PaymentProvider>> {
    use crate::billing::stripe::{StripeProvider, StripeSettings};
    use crate::billing::webhook::WebhookKeys;
    let s = &config.stripe;
    let key = match (&s.stripe_secret_key, &s.stripe_secret_key_file) {
        (Some(k), _) => Some(k.expose().to_string()),
        (None, Some(path)) => Some(secret_file(path)?),
        (None, None) => None,
    };
    let Some(key) = key else {
        return Ok(std::sync::Arc::new(crate::billing::LocalProvider));
    };
    if !(key.starts_with("sk_") || key.starts_with("rk_")) {
        bail!("STARTALES_STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)");
    }
    let mut secrets: Vec<crate::config::Secret> = s.stripe_webhook_secret.clone();
    if let Some(path) = &s.stripe_webhook_secret_file {
        for line in secret_file(path)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            secrets.push(line.parse().unwrap_or_default());
        }
    }
    secrets.retain(|x| !x.expose().is_empty());
    if secrets.is_empty() {
        bail!(
            "with a Stripe key, STARTALES_STRIPE_WEBHOOK_SECRET (or _FILE) is needed: seats are \
             confirmed only by verified webhooks"
        );
    }
    if let Some(bad) = secrets.iter().find(|x| !x.expose().starts_with("whsec_")) {
        let _ = bad;
        bail!("STARTALES_STRIPE_WEBHOOK_SECRET must hold webhook secrets (whsec_...)");
    }
    let mut plans = Vec::new();
    for (name, price) in [
        ("monthly", &s.stripe_price_monthly),
        ("annual", &s.stripe_price_annual),
    ] {
        if let Some(p) = price {
            if !p.starts_with("price_") {
                bail!("the {name} plan must be a Stripe price id (price_...), not {p:?}");
            }
            plans.push(crate::billing::Plan {
                name: name.into(),
                price_id: p.clone(),
            });
        }
    }
    let public_url = s
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        bail!("STARTALES_PUBLIC_URL must start with http:// or https://");
    }
    let provider = StripeProvider::new(StripeSettings {
        secret_key: key.parse().unwrap_or_default(),
        api_base: s.stripe_api_base.clone(),
        webhook: WebhookKeys {
            secrets,
            tolerance_s: i64::from(s.stripe_webhook_tolerance_secs),
        },
        public_url,
        hold_ms: i64::from(s.stripe_hold_minutes) * 60_000,
        plans,
        subscriber_discount_percent: i64::from(s.subscriber_discount_percent),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(std::sync::Arc::new(provider))
}

/// Runs the API until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let store = open_store(&config.store).await?;
    use crate::background::every;
    use std::time::Duration;
    let payments = payment_provider(&config)?;
    tracing::info!(
        "payments: {}",
        crate::billing::payment_label(payments.as_ref())
    );
    let clock = Clock::system();
    let (s, c) = (store.clone(), clock.clone());
    let outbox = tokio::spawn(every(Duration::from_secs(2), "mail sent", move || {
        let (s, c) = (s.clone(), c.clone());
        async move { crate::mail::deliver_outbox(&s, &crate::mail::LogSender, c.now()).await }
    }));
    let (s, c, p) = (store.clone(), clock.clone(), payments.clone());
    let sweeper = tokio::spawn(every(
        Duration::from_secs(5),
        "lapsed seat holds released",
        move || {
            let (s, c, p) = (s.clone(), c.clone(), p.clone());
            async move { crate::seats::release_lapsed_holds(&s, p.as_ref(), None, c.now()).await }
        },
    ));
    let (s, c, p) = (store.clone(), clock.clone(), payments.clone());
    let promoter = tokio::spawn(every(
        Duration::from_secs(5),
        "waitlist places seated",
        move || {
            let (s, c, p) = (s.clone(), c.clone(), p.clone());
            async move { crate::seats::promote_waiting(&s, p.as_ref(), c.now()).await }
        },
    ));
    let (s, c) = (store.clone(), clock.clone());
    let stranded = tokio::spawn(every(
        Duration::from_secs(5),
        "waitlist places of closed campaigns ended",
        move || {
            let (s, c) = (s.clone(), c.clone());
            async move { crate::seats::end_stranded_places(&s, c.now()).await }
        },
    ));
    let (s, c, p) = (store.clone(), clock.clone(), payments.clone());
    let matcher = tokio::spawn(every(
        Duration::from_secs(5),
        "quick-join tickets matched",
        move || {
            let (s, c, p) = (s.clone(), c.clone(), p.clone());
            async move { crate::matchmaking::tickets::rematch(&s, p.as_ref(), c.now()).await }
        },
    ));
    let (s, c, p) = (store.clone(), clock.clone(), payments.clone());
    let refunds = tokio::spawn(every(Duration::from_secs(5), "refunds sent", move || {
        let (s, c, p) = (s.clone(), c.clone(), p.clone());
        async move { crate::billing::send_refunds(&s, p.as_ref(), c.now()).await }
    }));
    let (s, c, p) = (store.clone(), clock.clone(), payments.clone());
    let checkouts = tokio::spawn(every(
        Duration::from_secs(5),
        "checkouts of released holds expired",
        move || {
            let (s, c, p) = (s.clone(), c.clone(), p.clone());
            async move { crate::billing::expire_checkouts(&s, p.as_ref(), c.now()).await }
        },
    ));
    let join_keys = join_keys(&config)?;
    let metrics = Metrics::new();
    let (runtime, leading, cluster_tasks) = runtime_for(&config, &join_keys, &metrics).await?;
    let timing = config.sessions.timing();
    let scheduler = crate::scheduler::Scheduler {
        store: store.clone(),
        runtime: runtime.clone(),
        timing,
        payments: payments.clone(),
    };
    let (s, lead) = (store.clone(), leading.clone());
    let statistics = tokio::spawn(every(
        store.statistics_interval(),
        "planner statistics refreshed",
        move || {
            let (s, lead) = (s.clone(), *lead.borrow());
            // One replica is enough for the whole database.
            async move {
                if lead {
                    s.refresh_statistics().await
                } else {
                    Ok(0)
                }
            }
        },
    ));
    let c = clock.clone();
    let sessions = tokio::spawn(every(
        Duration::from_secs(u64::from(config.sessions.scheduler_secs)),
        "game servers started or stopped",
        move || {
            let (s, c, lead) = (scheduler.clone(), c.clone(), *leading.borrow());
            // In a cluster only the leader schedules.
            async move { if lead { s.round(c.now()).await } else { Ok(0) } }
        },
    ));
    let state = AppState {
        store,
        passwords: Passwords::new(config.argon2_m_kib, config.argon2_t, config.argon2_p)?,
        keys: TokenKeys::new(&token_key(&config)?),
        clock: Clock::system(),
        metrics,
        payments,
        prices: price_books(&config)?,
        runtime: runtime.clone(),
        join_keys,
        timing,
    };
    let demo = if config.demo {
        let book = state.prices.current(&state.store).await?.book;
        Some(
            crate::demo::set_up(&state.store, &state.passwords, &book, clock.now())
                .await
                .context("setting up the demo")?,
        )
    } else {
        None
    };
    let app = crate::http::router(
        state,
        &HttpOptions {
            cors_origins: config.cors_origins.clone(),
            rate_limits: config.rate_limits(),
        },
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(
        "Startales is up at http://{}/ (API docs at /docs)",
        listener.local_addr()?
    );
    println!(
        "Startales orchestrator listening on http://{}",
        listener.local_addr()?
    );
    if let Some(d) = &demo {
        println!(
            "{}",
            crate::demo::instructions(d, &format!("http://{}", listener.local_addr()?))
        );
    }
    crate::http::serve(listener, app, shutdown_signal()).await?;
    outbox.abort();
    sweeper.abort();
    promoter.abort();
    stranded.abort();
    matcher.abort();
    refunds.abort();
    checkouts.abort();
    statistics.abort();
    sessions.abort();
    for t in cluster_tasks {
        t.abort();
    }
    // On this host, every game server takes its final snapshot before we
    // go (in a cluster they outlive this replica).
    let local_servers = if runtime.name() == "local" {
        runtime.running().await
    } else {
        Vec::new()
    };
    for id in local_servers {
        if let Err(e) = runtime.ensure_stopped(&id).await {
            tracing::warn!(campaign = %id, error = %e, "game server not stopped cleanly");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_not_shown() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/x"),
            "postgres://[redacted]@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://./data/o.db"), "sqlite://./data/o.db");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
