//! The local runtime: each campaign's game server is a process on this
//! host with its own data folder, port and log (`logs/<campaign>.log`),
//! snapshots in a local folder,
//! and a supervisor that restarts it with backoff if it dies. Stopping asks
//! for a final snapshot (SIGTERM: the server drains, snapshots and exits)
//! and kills it only if it overstays the grace period.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use super::{Runtime, RuntimeError, ServerSpec, ServerState};

/// How the local runtime starts game servers.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// The program to run, e.g. this binary (`orchestrator game-server
    /// serve`) or a `game-server` binary.
    pub program: PathBuf,
    /// Arguments before the server's own (`["game-server", "serve"]`).
    pub args: Vec<String>,
    /// Working folder: `servers/<campaign>` (databases) and
    /// `snapshots/<campaign>` below it.
    pub root: PathBuf,
    /// The orchestrator's join-token public key (base64).
    pub join_public_key: String,
    /// More environment for the servers (tick length, narrator, ...).
    pub env: Vec<(String, String)>,
    /// First restart delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest restart delay.
    pub max_backoff: Duration,
    /// How long a stopping server may take for its final snapshot.
    pub stop_grace: Duration,
}

impl LocalSettings {
    /// Runs this very binary as the game server, under `root`.
    pub fn this_binary(root: PathBuf, join_public_key: String) -> std::io::Result<LocalSettings> {
        Ok(LocalSettings {
            program: std::env::current_exe()?,
            args: vec!["game-server".into(), "serve".into()],
            root,
            join_public_key,
            env: Vec::new(),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stop_grace: Duration::from_secs(60),
        })
    }
}

#[derive(Debug)]
struct Server {
    port: u16,
    admin_token: String,
    stop: watch::Sender<bool>,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    supervisor: tokio::task::JoinHandle<()>,
}

/// Game servers as processes on this host.
#[derive(Debug)]
pub struct LocalRuntime {
    settings: LocalSettings,
    servers: Mutex<HashMap<String, Server>>,
    http: reqwest::Client,
}

impl LocalRuntime {
    /// A runtime with these settings.
    pub fn new(mut settings: LocalSettings) -> LocalRuntime {
        // Snapshot URLs (`file://...`) need absolute paths.
        if let Ok(abs) = std::path::absolute(&settings.root) {
            settings.root = abs;
        }
        LocalRuntime {
            settings,
            servers: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Where a campaign's snapshots are kept.
    pub fn snapshot_dir(&self, campaign_id: &str) -> PathBuf {
        self.settings.root.join("snapshots").join(campaign_id)
    }

    fn data_dir(&self, campaign_id: &str) -> PathBuf {
        self.settings.root.join("servers").join(campaign_id)
    }

    fn address(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    async fn ready(&self, port: u16) -> bool {
        self.http
            .get(format!("{}/readyz", Self::address(port)))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// The command that starts one campaign's server.
fn command(
    settings: &LocalSettings,
    spec: &ServerSpec,
    port: u16,
    admin_token: &str,
) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(&settings.program);
    let data = settings.root.join("servers").join(&spec.campaign_id);
    let snapshots = settings.root.join("snapshots").join(&spec.campaign_id);
    c.args(&settings.args)
        .env("GS_CAMPAIGN_ID", &spec.campaign_id)
        .env("GS_SEED", &spec.seed)
        .env("GS_SETTINGS", &spec.settings)
        .env("GS_DATA_DIR", data)
        .env("GS_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "GS_OBJECT_STORE_URL",
            format!("file://{}", snapshots.display()),
        )
        .env("GS_JOIN_PUBLIC_KEY", &settings.join_public_key)
        .env("GS_ADMIN_TOKEN", admin_token)
        .env("GS_EXIT_WITH_PARENT", "true")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // Each server's output goes to its own log beside its data.
    let log = std::fs::OpenOptions::new().create(true).append(true).open(
        settings
            .root
            .join("logs")
            .join(format!("{}.log", spec.campaign_id)),
    );
    if let Ok(log) = log {
        if let Ok(err) = log.try_clone() {
            c.stderr(err);
        }
        c.stdout(log);
    }
    for (k, v) in &settings.env {
        c.env(k, v);
    }
    c
}

/// A free port on the loopback interface.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Asks a process to stop (SIGTERM: drain, final snapshot, exit).
fn terminate(pid: u32) {
    #[cfg(unix)]
    {
        if let Ok(raw) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(raw),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Keeps one server process alive until told to stop: restarts it with
/// growing delays when it dies, and on stop sends SIGTERM and waits up to
/// `grace` before killing it.
async fn supervise(
    mut command: impl FnMut() -> tokio::process::Command + Send,
    mut stop: watch::Receiver<bool>,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    settings: LocalSettings,
    campaign: String,
) {
    let mut backoff = settings.min_backoff;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        let mut child = match command().spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(campaign = %campaign, error = %e, "cannot start the game server");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(settings.max_backoff);
                continue;
            }
        };
        pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        tokio::select! {
            status = child.wait() => {
                if *stop.borrow() {
                    return;
                }
                restarts.fetch_add(1, Ordering::SeqCst);
                // A server that ran a good while gets restarted at once.
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = settings.min_backoff;
                }
                tracing::warn!(
                    campaign = %campaign,
                    status = ?status.ok(),
                    retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                    "game server exited; restarting"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(settings.max_backoff);
            }
            _ = stop.changed() => {
                if let Some(id) = child.id() {
                    terminate(id);
                }
                if tokio::time::timeout(settings.stop_grace, child.wait()).await.is_err() {
                    tracing::warn!(campaign = %campaign, "game server overstayed its stop; killing it");
                    let _ = child.kill().await;
                }
                return;
            }
        }
    }
}

#[async_trait::async_trait]
impl Runtime for LocalRuntime {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn ensure_running(&self, spec: &ServerSpec) -> Result<ServerState, RuntimeError> {
        let mut servers = self.servers.lock().await;
        if let Some(s) = servers.get(&spec.campaign_id) {
            let port = s.port;
            let state = ServerState {
                address: Self::address(port),
                ready: false,
                restarts: s.restarts.load(Ordering::SeqCst),
                pid: Some(s.pid.load(Ordering::SeqCst)).filter(|p| *p != 0),
            };
            drop(servers);
            return Ok(ServerState {
                ready: self.ready(port).await,
                ..state
            });
        }
        std::fs::create_dir_all(self.data_dir(&spec.campaign_id))?;
        std::fs::create_dir_all(self.snapshot_dir(&spec.campaign_id))?;
        std::fs::create_dir_all(self.settings.root.join("logs"))?;
        let port = free_port()?;
        let admin_token = crate::accounts::tokens::random_token();
        let (stop, stop_rx) = watch::channel(false);
        let pid = Arc::new(AtomicU32::new(0));
        let restarts = Arc::new(AtomicU32::new(0));
        let (settings, spec_c, token) = (self.settings.clone(), spec.clone(), admin_token.clone());
        let make = move || command(&settings, &spec_c, port, &token);
        let supervisor = tokio::spawn(supervise(
            make,
            stop_rx,
            pid.clone(),
            restarts.clone(),
            self.settings.clone(),
            spec.campaign_id.clone(),
        ));
        tracing::info!(campaign = %spec.campaign_id, port, "game server starting");
        servers.insert(
            spec.campaign_id.clone(),
            Server {
                port,
                admin_token,
                stop,
                pid,
                restarts,
                supervisor,
            },
        );
        Ok(ServerState {
            address: Self::address(port),
            ready: false,
            restarts: 0,
            pid: None,
        })
    }

    async fn ensure_stopped(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        let Some(s) = self.servers.lock().await.remove(campaign_id) else {
            return Ok(());
        };
        let _ = s.stop.send(true);
        let _ = s.supervisor.await;
        tracing::info!(campaign = %campaign_id, "game server stopped");
        Ok(())
    }

    async fn state(&self, campaign_id: &str) -> Result<Option<ServerState>, RuntimeError> {
        let (port, restarts, pid) = {
            let servers = self.servers.lock().await;
            let Some(s) = servers.get(campaign_id) else {
                return Ok(None);
            };
            (
                s.port,
                s.restarts.load(Ordering::SeqCst),
                s.pid.load(Ordering::SeqCst),
            )
        };
        Ok(Some(ServerState {
            address: Self::address(port),
            ready: self.ready(port).await,
            restarts,
            pid: Some(pid).filter(|p| *p != 0),
        }))
    }

    async fn snapshot_now(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        let (port, token) = {
            let servers = self.servers.lock().await;
            let s = servers.get(campaign_id).ok_or(RuntimeError::NotRunning)?;
            (s.port, s.admin_token.clone())
        };
        let r = self
            .http
            .post(format!("{}/snapshot", Self::address(port)))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        if !r.status().is_success() {
            return Err(RuntimeError::Unreachable(format!(
                "snapshot answered {}",
                r.status()
            )));
        }
        Ok(())
    }

    async fn running(&self) -> Vec<String> {
        self.servers.lock().await.keys().cloned().collect()
    }

    async fn remove(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        self.ensure_stopped(campaign_id).await?;
        let dir = self.data_dir(campaign_id);
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }
}
