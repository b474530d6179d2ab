//! Orchestrator scenarios, against a running orchestrator (`--url`).
//!
//! - `profiles`: signs up `--users` accounts, logs each in, then sends
//!   authenticated `GET /api/v1/me/profile` at a fixed `--rate` (open loop:
//!   requests go out on schedule whether or not earlier ones answered) for
//!   `--duration-secs`, and reports latency percentiles.
//! - `browse`: as a game master (`--gm-login`, password in
//!   `$LOADTEST_GM_PASSWORD`) publishes `--campaigns` varied campaigns, then
//!   lists them with a rotation of filter and sort mixes, and quotes
//!   campaign shapes, at a fixed `--rate` (open loop) and reports latency
//!   percentiles.
//! - `logins`: logs in with `--concurrency` clients for `--duration-secs`
//!   and reports logins per second, then runs raw Argon2id verifications of
//!   a hash with the same parameters on every core for the same time, and
//!   reports the ratio.
//!
//! The orchestrator's own rate limits must be raised for these
//! (`--rate-auth-per-min`, `--rate-ip-per-sec`, `--rate-user-per-sec`):
//! they exist to stop exactly this kind of traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use argon2::password_hash::PasswordHash;
use orchestrator::accounts::passwords::verify_in;
use serde_json::{Value, json};

use crate::stats::Summary;

/// Options shared by the orchestrator scenarios.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The orchestrator's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,
}

/// The profiles scenario's options.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileOptions {
    /// Where and how long.
    #[command(flatten)]
    pub target: Target,
    /// Accounts to spread the requests over.
    #[arg(long, default_value_t = 100)]
    pub users: u32,
    /// Requests per second, in total.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
}

/// The browse scenario's options.
#[derive(Debug, Clone, clap::Args)]
pub struct BrowseOptions {
    /// Where and how long.
    #[command(flatten)]
    pub target: Target,
    /// A game master's (or admin's) handle, to publish the campaigns with.
    #[arg(long)]
    pub gm_login: String,
    /// Their password (read from this environment variable).
    #[arg(long, default_value = "LOADTEST_GM_PASSWORD")]
    pub gm_password_env: String,
    /// Published campaigns to have in the store before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub campaigns: u32,
    /// Browsing requests per second, in total.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
}

/// The joins scenario's options.
#[derive(Debug, Clone, clap::Args)]
pub struct JoinOptions {
    /// The orchestrator's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A game master's (or admin's) handle, to publish the campaigns with.
    #[arg(long)]
    pub gm_login: String,
    /// Their password (read from this environment variable).
    #[arg(long, default_value = "LOADTEST_GM_PASSWORD")]
    pub gm_password_env: String,
    /// Players; each joins every campaign once.
    #[arg(long, default_value_t = 1_000)]
    pub players: u32,
    /// Campaigns, joined one after another by all players at once.
    #[arg(long, default_value_t = 20)]
    pub campaigns: u32,
    /// Seats per campaign (2-50); the rest of each campaign's joins wait in line.
    #[arg(long, default_value_t = 50)]
    pub seats: u32,
    /// Joins per second, in total.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,
    /// Also write every answered join as `n,campaign,status,micros` to
    /// this CSV file (request n is sent n/rate seconds into the run).
    #[arg(long)]
    pub samples_csv: Option<std::path::PathBuf>,
}

/// The logins scenario's options.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginOptions {
    /// Where and how long.
    #[command(flatten)]
    pub target: Target,
    /// Concurrent clients (more than the cores, so the server never waits
    /// for a client).
    #[arg(long, default_value_t = 4)]
    pub concurrency: u32,
    /// The orchestrator's process id, when it runs on this machine: its CPU
    /// time is then read from /proc to report log-ins per CPU-second, a
    /// figure the load generator's own CPU use does not skew.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Rounds of (API, raw) measurements; the median ratio is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Argon2id memory (KiB), passes and lanes the orchestrator uses.
    #[arg(long, default_value = "19456,2,1", value_parser = parse_params)]
    pub argon2: (u32, u32, u32),
}

fn parse_params(s: &str) -> Result<(u32, u32, u32), String> {
    let v: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("expected M_KIB,T,P: {e}"))?;
    match v.as_slice() {
        [m, t, p] => Ok((*m, *t, *p)),
        _ => Err("expected three numbers: M_KIB,T,P".into()),
    }
}

const PASSWORD: &str = "load test passphrase";

async fn sign_up_and_log_in(
    http: &reqwest::Client,
    url: &str,
    handle: &str,
) -> anyhow::Result<String> {
    let r = http
        .post(format!("{url}/api/v1/accounts"))
        .json(&json!({"email": format!("{handle}@load.example"), "handle": handle, "password": PASSWORD}))
        .send()
        .await?;
    if !(r.status().is_success() || r.status() == reqwest::StatusCode::CONFLICT) {
        bail!("sign-up of {handle}: {} {}", r.status(), r.text().await?);
    }
    log_in(http, url, handle).await
}

async fn log_in(http: &reqwest::Client, url: &str, handle: &str) -> anyhow::Result<String> {
    log_in_with(http, url, handle, PASSWORD).await
}

async fn log_in_with(
    http: &reqwest::Client,
    url: &str,
    handle: &str,
    password: &str,
) -> anyhow::Result<String> {
    let r = http
        .post(format!("{url}/api/v1/sessions"))
        .json(&json!({"login": handle, "password": password}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("log-in of {handle}: {} {}", r.status(), r.text().await?);
    }
    let body: Value = r.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no access token in {body}"))
}

/// Runs the profiles scenario.
pub async fn profiles(o: ProfileOptions) -> anyhow::Result<()> {
    if o.users == 0 || o.rate == 0 {
        bail!("--users and --rate must be at least 1");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = o.target.url.trim_end_matches('/').to_string();
    let run = std::process::id();
    let mut tokens = Vec::new();
    for i in 0..o.users {
        tokens.push(
            sign_up_and_log_in(&http, &url, &format!("load{run}x{i}"))
                .await
                .context("preparing users (are the orchestrator's auth limits raised?)")?,
        );
    }
    // Warm the connection pool and the database.
    for t in tokens.iter().take(20) {
        http.get(format!("{url}/api/v1/me/profile"))
            .bearer_auth(t)
            .send()
            .await?;
    }
    let run = open_loop(o.rate, o.target.duration_secs, |n| {
        let token = &tokens[(n % tokens.len() as u64) as usize];
        http.get(format!("{url}/api/v1/me/profile"))
            .bearer_auth(token)
    })
    .await;
    let samples = run.samples();
    let (total, ok) = (run.total, samples.len());
    println!(
        "profiles: {} users, {} requests in {:.1} s ({:.0}/s achieved), {} failed",
        o.users,
        total,
        run.elapsed.as_secs_f64(),
        total as f64 / run.elapsed.as_secs_f64(),
        run.failures
    );
    match Summary::of(samples) {
        Some(s) => println!("GET /api/v1/me/profile latency: {s}"),
        None => bail!("no request succeeded"),
    }
    if ok as u64 != total {
        bail!("{} requests failed", total - ok as u64);
    }
    Ok(())
}

/// Runs the logins scenario.
pub async fn logins(o: LoginOptions) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = o.target.url.trim_end_matches('/').to_string();
    let handle = format!("login{}", std::process::id());
    sign_up_and_log_in(&http, &url, &handle)
        .await
        .context("preparing the account (are the orchestrator's auth limits raised?)")?;
    let duration = Duration::from_secs(o.target.duration_secs);
    // The same work without the service: verify a hash made with the same
    // parameters on every core, the most the machine can do.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (m, t, p) = o.argon2;
    let params =
        argon2::Params::new(m, t, p, None).map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let argon = argon2id(&params);
    let salt = argon2::password_hash::SaltString::from_b64("bG9hZHRlc3RzYWx0MTIzNA")
        .map_err(|e| anyhow!("salt: {e}"))?;
    let hash =
        argon2::password_hash::PasswordHasher::hash_password(&argon, PASSWORD.as_bytes(), &salt)
            .map_err(|e| anyhow!("hashing: {e}"))?
            .to_string();
    // Alternate the two so drift in the machine's speed hits both alike.
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    for round in 1..=o.rounds.max(1) {
        let cpu_before = o.server_pid.map(cpu_seconds).transpose()?;
        let api_rate = api_logins(&http, &url, &handle, o.concurrency, duration).await;
        let cpu_after = o.server_pid.map(cpu_seconds).transpose()?;
        let raw_rate = raw_verifies(&params, &hash, cores, duration);
        ratios.push(api_rate.0 / raw_rate);
        if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
            // Log-ins per server CPU-second against verifications per
            // CPU-second (the raw threads keep every core busy).
            let per_cpu = api_rate.0 * duration.as_secs_f64() / (a - b);
            let raw_per_cpu = raw_rate / cores as f64;
            cpu_ratios.push(per_cpu / raw_per_cpu);
            println!(
                "round {round}: server used {:.2} CPU-s: {per_cpu:.1} log-ins per CPU-second vs {raw_per_cpu:.1} raw verifications per CPU-second ({:.1}%)",
                a - b,
                100.0 * per_cpu / raw_per_cpu
            );
        }
        println!(
            "round {round}: {:.1} logins/s through the API with {} clients ({} failed); raw Argon2id verify ({m} KiB, t={t}, p={p}) on {cores} threads: {raw_rate:.1}/s; ratio {:.1}%",
            api_rate.0,
            o.concurrency,
            api_rate.1,
            100.0 * api_rate.0 / raw_rate
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!("median ratio: {:.1}%", 100.0 * ratios[ratios.len() / 2]);
    if !cpu_ratios.is_empty() {
        cpu_ratios.sort_by(f64::total_cmp);
        println!(
            "median ratio per CPU-second: {:.1}%",
            100.0 * cpu_ratios[cpu_ratios.len() / 2]
        );
    }
    Ok(())
}

/// Logs in with `concurrency` clients for `duration`: (logins/s, failures).
async fn api_logins(
    http: &reqwest::Client,
    url: &str,
    handle: &str,
    concurrency: u32,
    duration: Duration,
) -> (f64, u64) {
    let count = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, url, handle, count, failures) = (
            http.clone(),
            url.to_string(),
            handle.to_string(),
            Arc::clone(&count),
            Arc::clone(&failures),
        );
        clients.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                match log_in(&http, &url, &handle).await {
                    Ok(_) => count.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for c in clients {
        let _ = c.await;
    }
    (
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        failures.load(Ordering::Relaxed),
    )
}

/// Argon2id v19 at `params`, as the orchestrator hashes.
fn argon2id(params: &argon2::Params) -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    )
}

/// Verifies `hash` on `threads` threads for `duration`: verifications/s.
/// Each thread keeps one memory area, as the orchestrator does per core,
/// so this is Argon2id at its fastest: the bar log-ins are measured
/// against.
fn raw_verifies(params: &argon2::Params, hash: &str, threads: usize, duration: Duration) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (params, hash, count) = (params.clone(), hash.to_string(), Arc::clone(&count));
            std::thread::spawn(move || {
                let argon = argon2id(&params);
                let Ok(parsed) = PasswordHash::new(&hash) else {
                    return;
                };
                let mut blocks = Vec::new();
                while started.elapsed() < duration {
                    if verify_in(&argon, &params, &mut blocks, PASSWORD.as_bytes(), &parsed)
                        == Some(true)
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// User plus system CPU time of a process, in seconds, from /proc.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) close with ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    // The kernel's USER_HZ is 100 on Linux.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Publishes `--campaigns` campaigns (varied modes, tiers, sizes and start
/// weeks), then browses them with random filters at a fixed rate.
pub async fn browse(o: BrowseOptions) -> anyhow::Result<()> {
    if o.rate == 0 {
        bail!("--rate must be at least 1");
    }
    let password = std::env::var(&o.gm_password_env)
        .with_context(|| format!("the game master's password in ${}", o.gm_password_env))?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = o.target.url.trim_end_matches('/').to_string();
    let gm = log_in_with(&http, &url, &o.gm_login, &password)
        .await
        .context("game master log-in")?;
    let modes = ["conquest", "diplomacy", "exploration", "survival"];
    let tiers = ["ollama", "gemini", "grok", "anthropic", "openai"];
    let weekdays = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo"];
    let started = Instant::now();
    let mut created = 0u32;
    // Eight at a time: seeding is not what is measured.
    let mut pending = Vec::new();
    for i in 0..o.campaigns {
        let (http, url, gm) = (http.clone(), url.clone(), gm.clone());
        pending.push(tokio::spawn(async move {
            let day = 1 + (i % 27);
            let weeks = [4, 12, 24][(i % 3) as usize];
            // Months and start hours vary independently (both from
            // `i % 12` would start every January campaign at 10:00).
            let starts_on = format!("2027-{:02}-{day:02}", 1 + (i / 7) % 12);
            let body = json!({
                "title": format!("Load campaign {i}"),
                "settings": {"players": 2 + (i % 49), "galaxy": "small", "difficulty": "normal",
                             "mode": modes[(i % 4) as usize], "species_pool": null, "generator_version": "v1"},
                "seed": i, "llm_tier": tiers[(i % 5) as usize], "min_players": 2, "visibility": "public",
                "schedule": {"kind": "weekly", "weekdays": [weekdays[(i % 7) as usize]],
                             "start_time": format!("{:02}:00", 10 + (i % 12)),
                             "session_hours": 1 + (i % 4), "time_zone": zones[(i % 3) as usize],
                             "starts_on": starts_on, "weeks": weeks}
            });
            let r = http.post(format!("{url}/api/v1/campaigns")).bearer_auth(&gm).json(&body).send().await?;
            if !r.status().is_success() {
                bail!("creating campaign {i}: {} {}", r.status(), r.text().await?);
            }
            let id = r.json::<Value>().await?["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no id"))?;
            let r = http.post(format!("{url}/api/v1/campaigns/{id}/publish")).bearer_auth(&gm).send().await?;
            if !r.status().is_success() {
                bail!("publishing campaign {i}: {}", r.status());
            }
            Ok(())
        }));
        if pending.len() == 8 {
            for p in pending.drain(..) {
                p.await??;
                created += 1;
            }
        }
    }
    for p in pending {
        p.await??;
        created += 1;
    }
    println!(
        "seeded {created} published campaigns in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Listings with filter and sort mixes, and quotes of campaign shapes
    // (what a game master sees while setting one up).
    let paths = [
        "campaigns",
        "campaigns?mode=diplomacy",
        "campaigns?tier=anthropic&seats_open=true",
        "campaigns?min_price=500&max_price=3000&sort=price",
        "campaigns?mode=conquest&tier=ollama&sort=price&limit=50",
        "campaigns?starts_after=1801000000000&starts_before=1810000000000",
        "campaigns?seats_open=true&sort=start&limit=10",
        "campaigns?sort=seats_left",
        "campaigns?weekdays=sat,sun&tz=Europe/London",
        "campaigns?mode=exploration&from=18:00&to=23:00&tz=America/New_York",
        "pricing/quote?players=8&sessions=12&session_minutes=120&tier=anthropic",
        "pricing/quote?players=30&sessions=24&session_minutes=180&tier=ollama",
    ];
    let run = open_loop(o.rate, o.target.duration_secs, |n| {
        let path = paths[(n % paths.len() as u64) as usize];
        http.get(format!("{url}/api/v1/{path}")).bearer_auth(&gm)
    })
    .await;
    println!(
        "browse: {} requests over {} listing and quote mixes in {:.1} s ({:.0}/s achieved), {} failed",
        run.total,
        paths.len(),
        run.elapsed.as_secs_f64(),
        run.total as f64 / run.elapsed.as_secs_f64(),
        run.failures
    );
    let samples = run.samples();
    match Summary::of(samples) {
        Some(s) => println!("GET /api/v1/campaigns and /pricing/quote latency: {s}"),
        None => bail!("no request succeeded"),
    }
    Ok(())
}

/// Runs the joins scenario: every player joins every campaign, all players
/// on one campaign before the next, so each campaign's seats and waitlist
/// are fought over by hundreds of concurrent joins. Afterwards every
/// campaign is checked: exactly its seats taken, everyone else in line.
pub async fn joins(o: JoinOptions) -> anyhow::Result<()> {
    if o.rate == 0 || o.players == 0 || o.campaigns == 0 || !(2..=50).contains(&o.seats) {
        bail!("--rate, --players and --campaigns must be at least 1, --seats 2 to 50");
    }
    let password = std::env::var(&o.gm_password_env)
        .with_context(|| format!("the game master's password in ${}", o.gm_password_env))?;
    // Opened first: a path that cannot be written fails before the run,
    // not after it.
    let csv = match &o.samples_csv {
        Some(path) => Some((
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
            path,
        )),
        None => None,
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let url = o.url.trim_end_matches('/').to_string();
    let gm = log_in_with(&http, &url, &o.gm_login, &password)
        .await
        .context("game master log-in")?;
    let started = Instant::now();
    let run = std::process::id();
    let mut tokens = Vec::new();
    let mut pending = Vec::new();
    for i in 0..o.players {
        let (http, url) = (http.clone(), url.clone());
        pending.push(tokio::spawn(async move {
            sign_up_and_log_in(&http, &url, &format!("join{run}x{i}")).await
        }));
        if pending.len() == 8 {
            for p in pending.drain(..) {
                tokens.push(
                    p.await?
                        .context("preparing players (are the auth limits raised?)")?,
                );
            }
        }
    }
    for p in pending {
        tokens.push(p.await?.context("preparing players")?);
    }
    let mut ids = Vec::new();
    for i in 0..o.campaigns {
        let body = json!({
            "title": format!("Join load {run}-{i}"),
            "settings": {"players": o.seats, "galaxy": "small", "difficulty": "normal",
                         "mode": "conquest", "species_pool": null, "generator_version": "v1"},
            "seed": i, "llm_tier": "ollama", "min_players": 2, "visibility": "public",
            "schedule": {"kind": "weekly", "weekdays": ["saturday"], "start_time": "18:00",
                         "session_hours": 3, "time_zone": "UTC", "starts_on": "2027-06-05", "weeks": 12}
        });
        let r = http
            .post(format!("{url}/api/v1/campaigns"))
            .bearer_auth(&gm)
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("creating campaign {i}: {} {}", r.status(), r.text().await?);
        }
        let id = r.json::<Value>().await?["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no id"))?;
        let r = http
            .post(format!("{url}/api/v1/campaigns/{id}/publish"))
            .bearer_auth(&gm)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("publishing campaign {i}: {}", r.status());
        }
        ids.push(id);
    }
    println!(
        "prepared {} players and {} campaigns of {} seats in {:.1} s",
        o.players,
        o.campaigns,
        o.seats,
        started.elapsed().as_secs_f64()
    );
    let total = u64::from(o.players) * u64::from(o.campaigns);
    let secs = total.div_ceil(u64::from(o.rate));
    let players = u64::from(o.players);
    // Request n is player n % players joining campaign n / players.
    let campaign_of = |n: u64| ((n / players) % u64::from(o.campaigns)) as usize;
    let result = open_loop_n(o.rate, total.min(u64::from(o.rate) * secs), |n| {
        let token = &tokens[(n % players) as usize];
        let id = &ids[campaign_of(n)];
        http.post(format!("{url}/api/v1/campaigns/{id}/join"))
            .bearer_auth(token)
            .json(&json!({}))
    })
    .await;
    println!(
        "joins: {} requests in {:.2} s ({:.0}/s achieved), {} failed",
        result.total,
        result.elapsed.as_secs_f64(),
        result.total as f64 / result.elapsed.as_secs_f64(),
        result.failures
    );
    match Summary::of(result.samples()) {
        Some(s) => println!("POST /api/v1/campaigns/{{id}}/join latency: {s}"),
        None => bail!("no request succeeded"),
    }
    if let Some((file, path)) = csv {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(file);
        let written = (|| -> std::io::Result<()> {
            writeln!(out, "n,campaign,status,micros")?;
            for a in &result.answered {
                let (n, status) = (a.n, a.status);
                writeln!(
                    out,
                    "{n},{},{status},{}",
                    campaign_of(n),
                    a.latency.as_micros()
                )?;
            }
            out.flush()
        })();
        written.with_context(|| format!("writing {}", path.display()))?;
    }
    // Campaigns are joined one after another, so a stall shows in the
    // campaign being joined at the time.
    let mut by_campaign = vec![Vec::new(); ids.len()];
    for a in &result.answered {
        if let Some(c) = by_campaign.get_mut(campaign_of(a.n)) {
            c.push(a.latency);
        }
    }
    for (k, samples) in by_campaign.into_iter().enumerate() {
        if let Some(s) = Summary::of(samples) {
            println!("  campaign {k}: {s}");
        }
    }
    for (status, samples) in result.by_status() {
        let what = match status {
            201 => "seated",
            202 => "waitlisted",
            _ => "other",
        };
        if let Some(s) = Summary::of(samples) {
            println!("  {status} ({what}): {s}");
        }
    }
    // Every campaign: exactly its seats taken, every other joiner in line.
    let (mut seated, mut waiting) = (0u64, 0u64);
    for id in &ids {
        let roster: Value = http
            .get(format!("{url}/api/v1/campaigns/{id}/roster"))
            .bearer_auth(&gm)
            .send()
            .await?
            .json()
            .await?;
        let s = roster["seats"].as_array().map_or(0, Vec::len) as u64;
        let w = roster["waitlist"].as_array().map_or(0, Vec::len) as u64;
        if s > u64::from(o.seats) {
            bail!("campaign {id} is oversold: {s} seats of {}", o.seats);
        }
        seated += s;
        waiting += w;
    }
    println!(
        "afterwards: {seated} seats taken ({} offered), {waiting} waiting; {} of {} joins accounted for",
        u64::from(o.seats) * u64::from(o.campaigns),
        seated + waiting,
        result.total - result.failures
    );
    if seated + waiting != result.total - result.failures {
        bail!("joins and places do not add up");
    }
    if result.failures > 0 {
        bail!("{} joins failed", result.failures);
    }
    Ok(())
}

/// A request that succeeded.
struct Answered {
    /// Its number in the run.
    n: u64,
    /// The status it answered with.
    status: u16,
    /// How long it took.
    latency: Duration,
}

/// What an open-loop run saw.
struct OpenLoop {
    /// The requests that succeeded, in no order.
    answered: Vec<Answered>,
    /// Requests that failed or answered with an error.
    failures: u64,
    /// Requests sent.
    total: u64,
    /// Wall time of the run.
    elapsed: Duration,
}

impl OpenLoop {
    /// Latencies of all the requests that succeeded.
    fn samples(&self) -> Vec<Duration> {
        self.answered.iter().map(|a| a.latency).collect()
    }

    /// Latencies of the requests that succeeded, by the status they
    /// answered with.
    fn by_status(&self) -> std::collections::BTreeMap<u16, Vec<Duration>> {
        let mut by_status = std::collections::BTreeMap::<u16, Vec<Duration>>::new();
        for a in &self.answered {
            by_status.entry(a.status).or_default().push(a.latency);
        }
        by_status
    }
}

/// Sends `rate` requests a second for `secs` seconds, open loop: request
/// `n` (made by `request(n)`) goes out at start + n × period whether or not
/// earlier ones answered, so a slow server cannot slow the load down and
/// hide its own latency.
async fn open_loop(
    rate: u32,
    secs: u64,
    request: impl Fn(u64) -> reqwest::RequestBuilder,
) -> OpenLoop {
    open_loop_n(rate, u64::from(rate) * secs, request).await
}

/// Like [`open_loop`], for exactly `total` requests.
async fn open_loop_n(
    rate: u32,
    total: u64,
    request: impl Fn(u64) -> reqwest::RequestBuilder,
) -> OpenLoop {
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let failures = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for n in 0..total {
        tokio::time::sleep_until(start + period.mul_f64(n as f64)).await;
        let (req, samples, failures) = (request(n), Arc::clone(&samples), Arc::clone(&failures));
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = match req.send().await {
                Ok(r) if r.status().is_success() => {
                    let status = r.status().as_u16();
                    r.bytes().await.is_ok().then_some(status)
                }
                _ => None,
            };
            match status {
                Some(status) => {
                    if let Ok(mut s) = samples.lock() {
                        s.push(Answered {
                            n,
                            status,
                            latency: sent.elapsed(),
                        });
                    }
                }
                None => {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let answered = samples
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    OpenLoop {
        answered,
        failures: failures.load(Ordering::Relaxed),
        total,
        elapsed,
    }
}
