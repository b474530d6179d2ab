//! Warm mode: a started server without a campaign, waiting in a pool.
//! It answers `/healthz` (alive) and `/readyz` (503: not joinable), and
//! `POST /assign` (admin bearer token) with the campaign's settings as
//! `GS_*` variables; it then replaces itself (exec, same process id and
//! port) with `serve` under those settings, which restores or generates
//! the world. Pods and processes are thereby started before a campaign
//! needs them.
//!
//! With a data dir the assignment is also written there before it is
//! accepted, so a warm server that restarts (a container restart in its
//! pod) comes back as the campaign's server instead of forgetting it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::config::Secret;

/// What `warm` needs.
#[derive(Debug, Clone, Args)]
pub struct WarmConfig {
    /// Address to listen on (kept when the campaign is assigned).
    #[arg(long, env = "GS_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Bearer token for `/assign` (kept too).
    #[arg(long, env = "GS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Secret,
    /// Where the campaign's data will live; the assignment is kept here.
    #[arg(long, env = "GS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The join-token public key, when the host provides it (then an
    /// assignment need not carry it).
    #[arg(long, env = "GS_JOIN_PUBLIC_KEY", hide_env_values = true)]
    pub join_public_key: Option<String>,
}

/// The file in the data dir that keeps an accepted assignment.
pub const ASSIGNMENT_FILE: &str = "assignment.json";

/// An assignment: the campaign's `GS_*` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Variables for `serve`; each name starts with `GS_`.
    pub env: BTreeMap<String, String>,
}

/// Variables an assignment must carry.
const REQUIRED: [&str; 3] = ["GS_CAMPAIGN_ID", "GS_SEED", "GS_SETTINGS"];

/// Checks an assignment against the warm server's own settings; `Err`
/// names what is wrong.
pub fn check(a: &Assignment, config: &WarmConfig) -> Result<(), String> {
    for (k, v) in &a.env {
        if !k.starts_with("GS_") {
            return Err(format!("{k}: only GS_ variables may be set"));
        }
        if k == "GS_LISTEN" || k == "GS_ADMIN_TOKEN" {
            return Err(format!("{k}: fixed when the server started"));
        }
        if k == "GS_DATA_DIR"
            && let Some(own) = &config.data_dir
            && Path::new(v) != own
        {
            return Err(format!(
                "{k}: fixed when the server started ({})",
                own.display()
            ));
        }
    }
    for k in REQUIRED {
        if a.env.get(k).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("{k}: required"));
        }
    }
    if config.join_public_key.is_none()
        && a.env
            .get("GS_JOIN_PUBLIC_KEY")
            .is_none_or(|v| v.trim().is_empty())
    {
        return Err("GS_JOIN_PUBLIC_KEY: required (this server was started without one)".into());
    }
    Ok(())
}

/// Writes the assignment into the data dir (atomically: a partial file
/// is never read back).
fn keep(dir: &Path, a: &Assignment) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{ASSIGNMENT_FILE}.tmp"));
    let bytes = serde_json::to_vec(a).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(ASSIGNMENT_FILE))
}

/// The assignment kept by an earlier start, if there is one.
pub fn kept(config: &WarmConfig) -> anyhow::Result<Option<Assignment>> {
    use anyhow::Context as _;
    let Some(dir) = &config.data_dir else {
        return Ok(None);
    };
    let path = dir.join(ASSIGNMENT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let a: Assignment = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid assignment", path.display()))?;
    check(&a, config).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(a))
}

#[derive(Clone)]
struct Warm {
    config: std::sync::Arc<WarmConfig>,
    assigned: std::sync::Arc<std::sync::Mutex<Option<oneshot::Sender<Assignment>>>>,
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "phase": "warm"}))
}

async fn readyz() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"status": "warm", "phase": "warm"})),
    )
        .into_response()
}

async fn assign(State(w): State<Warm>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !crate::http::bearer_is(&headers, w.config.admin_token.expose()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "a valid admin bearer token is required"})),
        )
            .into_response();
    }
    let a: Assignment = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    if let Err(e) = check(&a, &w.config) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": e})),
        )
            .into_response();
    }
    let Some(tx) = w.assigned.lock().ok().and_then(|mut s| s.take()) else {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": "already assigned"})),
        )
            .into_response();
    };
    if let Some(dir) = &w.config.data_dir
        && let Err(e) = keep(dir, &a)
    {
        tracing::error!(error = %e, dir = %dir.display(), "could not keep the assignment");
        // Put the slot back: the server is still warm and assignable.
        if let Ok(mut slot) = w.assigned.lock() {
            *slot = Some(tx);
        }
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": "the assignment could not be stored; still warm"})),
        )
            .into_response();
    }
    let _ = tx.send(a);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "assigned"})),
    )
        .into_response()
}

/// Waits warm until assigned, then returns the assignment (the listener
/// is closed by then). An assignment kept by an earlier start is returned
/// at once.
pub async fn wait(config: &WarmConfig) -> anyhow::Result<Assignment> {
    if let Some(a) = kept(config)? {
        tracing::info!("resuming the kept assignment");
        return Ok(a);
    }
    let (tx, rx) = oneshot::channel();
    let state = Warm {
        config: std::sync::Arc::new(config.clone()),
        assigned: std::sync::Arc::new(std::sync::Mutex::new(Some(tx))),
    };
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/assign", post(assign))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    println!("warm, listening on {}", listener.local_addr()?);
    let (done_tx, done_rx) = oneshot::channel::<Assignment>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        if let Ok(a) = rx.await {
            let _ = done_tx.send(a);
        }
    });
    server.await?;
    Ok(done_rx.await?)
}

/// Replaces this process with `serve` under the assignment: the same
/// arguments with `warm` swapped for `serve`, the assignment's variables
/// added. Returns only if exec failed.
#[cfg(unix)]
pub fn become_server(a: &Assignment) -> anyhow::Error {
    use std::os::unix::process::CommandExt as _;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Some(slot) = args.iter_mut().skip(1).rfind(|a| *a == "warm") {
        *slot = "serve".into();
    }
    let err = std::process::Command::new(program)
        .args(args.iter().skip(1))
        .envs(&a.env)
        .exec();
    anyhow::Error::new(err).context("starting the assigned server")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(data_dir: Option<&Path>, key: Option<&str>) -> WarmConfig {
        WarmConfig {
            listen: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
            admin_token: Secret::new("t"),
            data_dir: data_dir.map(Path::to_path_buf),
            join_public_key: key.map(str::to_string),
        }
    }

    fn assignment(pairs: &[(&str, &str)]) -> Assignment {
        Assignment {
            env: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        }
    }

    #[test]
    fn an_assignment_needs_the_campaign_and_the_join_key_and_only_game_server_variables() {
        let bare = config(None, None);
        let good = [
            ("GS_CAMPAIGN_ID", "c1"),
            ("GS_SEED", "7"),
            ("GS_SETTINGS", "{}"),
            ("GS_JOIN_PUBLIC_KEY", "abc"),
        ];
        assert!(check(&assignment(&good), &bare).is_ok());
        let mut missing = good.to_vec();
        missing.remove(1);
        assert!(
            check(&assignment(&missing), &bare)
                .unwrap_err()
                .starts_with("GS_SEED")
        );
        let mut foreign = good.to_vec();
        foreign.push(("LD_PRELOAD", "/evil.so"));
        assert!(
            check(&assignment(&foreign), &bare)
                .unwrap_err()
                .starts_with("LD_PRELOAD")
        );
        let mut fixed = good.to_vec();
        fixed.push(("GS_ADMIN_TOKEN", "mine"));
        assert!(check(&assignment(&fixed), &bare).is_err());
        // Without a key of its own the assignment must bring one; with one
        // (from the pod's Secret) it need not.
        let keyless = &good[..3];
        assert!(
            check(&assignment(keyless), &bare)
                .unwrap_err()
                .starts_with("GS_JOIN_PUBLIC_KEY")
        );
        assert!(check(&assignment(keyless), &config(None, Some("abc"))).is_ok());
    }

    #[test]
    fn the_data_dir_is_fixed_at_start_and_keeps_the_assignment_for_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let warm = config(Some(dir.path()), Some("abc"));
        assert!(kept(&warm).unwrap_or_else(|e| panic!("{e}")).is_none());
        let mut other = vec![
            ("GS_CAMPAIGN_ID", "c1"),
            ("GS_SEED", "7"),
            ("GS_SETTINGS", "{}"),
        ];
        other.push(("GS_DATA_DIR", "/elsewhere"));
        assert!(
            check(&assignment(&other), &warm)
                .unwrap_err()
                .starts_with("GS_DATA_DIR")
        );
        let a = assignment(&other[..3]);
        keep(dir.path(), &a).unwrap_or_else(|e| panic!("{e}"));
        let back = kept(&warm).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.map(|b| b.env), Some(a.env));
        // A damaged file stops the start with its path named.
        std::fs::write(dir.path().join(ASSIGNMENT_FILE), b"{not json")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = kept(&warm).unwrap_err().to_string();
        assert!(err.contains(ASSIGNMENT_FILE), "{err}");
    }
}
