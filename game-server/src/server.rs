//! The serving lifecycle: Starting → Restoring | Generating → Warming →
//! Joinable → Draining → Stopped.
//!
//! On SIGTERM (or SIGINT) the server stops taking commands, lets the tick
//! in progress finish, takes a final snapshot, closes every socket with a
//! reason and returns, so the process exits 0.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{OnceCell, broadcast, mpsc, watch};
use tokio_util::task::TaskTracker;

use crate::auth::Verifier;
use crate::config::{NarratorKind, ServeConfig};
use crate::engine::{Engine, EngineHandle};
use crate::http::{AppState, Limits, SnapshotTaker, router};
use crate::lifecycle::Phase;
use crate::metrics::Metrics;
use crate::narrator::{
    BreakerSettings, NarrationService, Narrator, OpenAiNarrator, OpenAiSettings,
};
use crate::sim::SIM_VERSION;
use crate::snapshot::{Manifest, Retention, S3Options, SnapshotStore, open_object_store};
use crate::store::{CampaignMeta, Store};

/// Snapshots of the running campaign: on a timer when changed, on demand,
/// and at shutdown. One at a time.
pub struct Snapshotter {
    store: SnapshotStore,
    db: PathBuf,
    retention: Retention,
    metrics: Metrics,
    engine: Arc<OnceCell<EngineHandle>>,
    running: tokio::sync::Mutex<()>,
    last: Mutex<Option<Manifest>>,
    last_changes: AtomicU64,
}

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshotter")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Snapshotter {
    async fn changes(&self) -> u64 {
        match self.engine.get() {
            Some(e) => e.call(|e| e.status().changes).await.unwrap_or(0),
            None => 0,
        }
    }

    /// Takes a snapshot now.
    pub async fn take(&self) -> Result<Manifest, String> {
        let _one = self.running.lock().await;
        let changes = self.changes().await;
        let m = self
            .store
            .take(&self.db, self.retention, &self.metrics)
            .await
            .map_err(|e| e.to_string())?;
        self.last_changes.store(changes, Ordering::SeqCst);
        if let Ok(mut l) = self.last.lock() {
            *l = Some(m.clone());
        }
        tracing::info!(key = %m.key, tick = m.tick, size = m.size, "snapshot written");
        Ok(m)
    }

    /// Takes a snapshot if anything changed since the last one.
    pub async fn take_if_changed(&self) -> Option<Result<Manifest, String>> {
        if self.changes().await == self.last_changes.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.take().await)
    }
}

#[async_trait::async_trait]
impl SnapshotTaker for Snapshotter {
    async fn take_now(&self) -> Result<Manifest, String> {
        self.take().await
    }

    fn last(&self) -> Option<Manifest> {
        self.last.lock().ok().and_then(|l| l.clone())
    }
}

async fn terminate_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Completes when the process that started this one is gone (we were
/// re-parented), checked every second; never with `enabled` false.
async fn parent_gone(enabled: bool) {
    #[cfg(unix)]
    if enabled {
        let parent = std::os::unix::process::parent_id();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("the supervising process is gone; stopping");
                return;
            }
        }
    }
    let _ = enabled;
    std::future::pending::<()>().await;
}

/// Runs the server until SIGTERM/SIGINT (or, with `exit_with_parent`, until
/// the process that started it dies). Prints `listening on <addr>` on
/// stdout once the port is bound.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let with_parent = config.exit_with_parent;
    serve_until(config, async move {
        tokio::select! {
            () = terminate_signal() => {}
            () = parent_gone(with_parent) => {}
        }
    })
    .await
}

/// Runs the server until `stop` completes.
pub async fn serve_until(
    config: ServeConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (phase_tx, phase_rx) = watch::channel(Phase::Starting);
    let metrics = Metrics::new();
    let verifier = Verifier::new(&config.join_public_key, &config.campaign_id)
        .context("reading the join-token public key")?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    println!("listening on {addr}");
    tracing::info!(%addr, campaign = %config.campaign_id, "game server starting");

    let (live_tx, _) = broadcast::channel(config.client_queue.max(16));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let sockets = TaskTracker::new();
    let engine_cell: Arc<OnceCell<EngineHandle>> = Arc::new(OnceCell::new());

    let snapshot_store = match &config.object_store_url {
        Some(url) => Some(
            open_object_store(
                url,
                &S3Options {
                    endpoint: config.s3_endpoint.clone(),
                    region: config.s3_region.clone(),
                    access_key_id: config.s3_access_key_id.clone(),
                    secret_access_key: config.s3_secret_access_key.clone(),
                },
            )
            .context("opening the object store")?,
        ),
        None => None,
    };
    let db_path = config.db_path();
    let snapshotter = snapshot_store.map(|store| {
        Arc::new(Snapshotter {
            store,
            db: db_path.clone(),
            retention: Retention {
                keep_last: config.snapshot_keep_last,
                keep_days: config.snapshot_keep_days,
            },
            metrics: metrics.clone(),
            engine: Arc::clone(&engine_cell),
            running: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
            last_changes: AtomicU64::new(0),
        })
    });

    let narrator_info: Arc<Mutex<(String, Option<Arc<NarrationService>>)>> =
        Arc::new(Mutex::new(("offline".into(), None)));
    let info = Arc::clone(&narrator_info);
    let app = AppState {
        engine: Arc::clone(&engine_cell),
        phase: phase_rx.clone(),
        metrics: metrics.clone(),
        admin_token: config.admin_token.clone(),
        verifier,
        live: live_tx.clone(),
        shutdown: shutdown_rx.clone(),
        sockets: sockets.clone(),
        limits: Limits {
            max_frame_bytes: config.max_frame_bytes,
            chat_per_10s: config.chat_per_10s,
            commands_per_sec: config.commands_per_sec,
        },
        snapshots: snapshotter.clone().map(|s| s as Arc<dyn SnapshotTaker>),
        narrator: Arc::new(move || {
            let guard = info.lock();
            match guard.as_deref() {
                Ok((name, Some(svc))) => serde_json::json!({
                    "active": name, "provider": svc.provider(), "tokens_used": svc.tokens_used()
                }),
                Ok((name, None)) => serde_json::json!({"active": name}),
                Err(_) => serde_json::Value::Null,
            }
        }),
    };
    let mut http_shutdown = shutdown_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|s| *s).await;
            })
            .await
    });

    // Restoring or Generating.
    let mut restored_from_local = false;
    if db_path.exists() {
        phase_tx.send_replace(Phase::Restoring);
        restored_from_local = true;
        tracing::info!(db = %db_path.display(), "restoring from the local database");
    } else if let Some(s) = &snapshotter {
        phase_tx.send_replace(Phase::Restoring);
        match s
            .store
            .restore(&db_path, &metrics)
            .await
            .context("restoring from the object store")?
        {
            Some(m) => {
                tracing::info!(key = %m.key, tick = m.tick, "restored snapshot");
                if let Ok(mut l) = s.last.lock() {
                    *l = Some(m);
                }
            }
            None => {
                phase_tx.send_replace(Phase::Generating);
                tracing::info!(seed = config.seed, "no snapshot; generating the world");
            }
        }
    } else {
        phase_tx.send_replace(Phase::Generating);
    }
    let meta = CampaignMeta {
        campaign_id: config.campaign_id.clone(),
        seed: config.seed,
        settings: serde_json::to_value(&config.settings).context("encoding settings")?,
        sim_version: SIM_VERSION,
    };
    let store = Store::open(&db_path).context("opening the campaign database")?;
    let mut engine = tokio::task::spawn_blocking({
        let live = live_tx.clone();
        let metrics = metrics.clone();
        move || Engine::open(store, meta, live, metrics)
    })
    .await
    .context("loading the campaign")?
    .context("loading the campaign")?;
    let tokens_used = engine.store().narration_tokens().unwrap_or(0);
    let world = Arc::clone(engine.sim().world());

    // Warming: the narrator.
    phase_tx.send_replace(Phase::Warming);
    let primary: Option<Arc<dyn Narrator>> = match config.narrator {
        NarratorKind::Offline => None,
        NarratorKind::Openai => Some(Arc::new(
            OpenAiNarrator::new(
                OpenAiSettings {
                    provider: config.narrator_provider.clone(),
                    base_url: config.narrator_base_url.clone(),
                    model: config.narrator_model.clone(),
                    api_key: config.narrator_api_key.clone(),
                    timeout: Duration::from_millis(config.narrator_timeout_ms),
                    retries: config.narrator_retries,
                    backoff: Duration::from_millis(config.narrator_backoff_ms),
                    max_tokens: 300,
                },
                &world,
            )
            .context("configuring the narrator")?,
        )),
    };
    let service = Arc::new(NarrationService::new(
        world,
        primary,
        config.narrator_token_budget,
        tokens_used,
        BreakerSettings {
            failures: config.narrator_breaker_failures.max(1),
            cooldown: Duration::from_secs(config.narrator_breaker_cooldown_secs),
        },
        metrics.clone(),
    ));
    let chosen = service.warm().await;
    tracing::info!(narrator = %chosen, "narrator chosen");
    if let Ok(mut n) = narrator_info.lock() {
        *n = (chosen, Some(Arc::clone(&service)));
    }
    let (narr_tx, mut narr_rx) = mpsc::channel(16);
    engine.set_narration(narr_tx, config.narrate_every);
    let handle = EngineHandle::spawn(engine);
    let _ = engine_cell.set(handle.clone());
    let narration_task = {
        let handle = handle.clone();
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            while let Some((tick, events)) = narr_rx.recv().await {
                let n = service.narrate(tick, events).await;
                if handle.call(move |e| e.narration(tick, &n)).await.is_err() {
                    break;
                }
            }
        })
    };
    if restored_from_local && let Some(s) = &snapshotter {
        // The local database may be newer than any snapshot.
        s.last_changes.store(u64::MAX, Ordering::SeqCst);
    }

    // Joinable.
    phase_tx.send_replace(Phase::Joinable);
    tracing::info!("joinable");
    let (stop_ticks_tx, mut stop_ticks_rx) = watch::channel(false);
    let (fatal_tx, mut fatal_rx) = mpsc::channel::<String>(1);
    let tick_task = {
        let handle = handle.clone();
        let period = config.tick();
        tokio::spawn(async move {
            let mut interval =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop_ticks_rx.changed() => return,
                    _ = interval.tick() => {
                        match handle.call(|e| e.tick()).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => {
                                let _ = fatal_tx.send(format!("tick failed: {e}")).await;
                                return;
                            }
                            Err(e) => {
                                let _ = fatal_tx.send(format!("tick failed: {e}")).await;
                                return;
                            }
                        }
                    }
                }
            }
        })
    };
    let snapshot_timer = snapshotter.clone().map(|s| {
        let period = Duration::from_secs(config.snapshot_interval_secs.max(1));
        let mut stop = shutdown_rx.clone();
        tokio::spawn(async move {
            let mut interval =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = interval.tick() => {
                        if let Some(Err(e)) = s.take_if_changed().await {
                            tracing::error!(error = %e, "timed snapshot failed");
                        }
                    }
                }
            }
        })
    });

    let mut stop = Box::pin(stop);
    let failure = tokio::select! {
        _ = &mut stop => None,
        reason = fatal_rx.recv() => reason,
    };

    // Draining.
    phase_tx.send_replace(Phase::Draining);
    tracing::info!("draining");
    let _ = handle.call(|e| e.stop_accepting()).await;
    let _ = stop_ticks_tx.send(true);
    let _ = tick_task.await;
    if let Some(t) = snapshot_timer {
        t.abort();
    }
    let mut snapshot_error = None;
    if let Some(s) = &snapshotter
        && let Err(e) = s.take().await
    {
        tracing::error!(error = %e, "final snapshot failed");
        snapshot_error = Some(e);
    }
    let _ = shutdown_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(10), http).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "http server ended with an error"),
        Err(_) => tracing::warn!("the http server did not stop in time"),
        _ => {}
    }
    // Upgraded sockets are not part of the HTTP server's graceful shutdown:
    // wait for each to send its close frame and hear the reply.
    sockets.close();
    if tokio::time::timeout(Duration::from_secs(10), sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!(open = sockets.len(), "sockets did not close in time");
    }
    narration_task.abort();
    phase_tx.send_replace(Phase::Stopped);
    tracing::info!("stopped");
    if let Some(reason) = failure {
        anyhow::bail!("stopped after a fatal error: {reason}");
    }
    if let Some(e) = snapshot_error {
        anyhow::bail!("final snapshot failed: {e}");
    }
    Ok(())
}
