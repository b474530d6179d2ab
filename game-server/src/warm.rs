//! Warm mode: a started server without a campaign, waiting in a pool.
//! It answers `/healthz` (alive) and `/readyz` (503: not joinable), and
//! `POST /assign` (admin bearer token) with the campaign's settings as
//! `GS_*` variables; it then replaces itself (exec, same process id and
//! port) with `serve` under those settings, which restores or generates
//! the world. Pods and processes are thereby started before a campaign
//! needs them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::Deserialize;
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
}

/// An assignment: the campaign's `GS_*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Variables for `serve`; each name starts with `GS_`.
    pub env: BTreeMap<String, String>,
}

/// Variables an assignment must carry.
const REQUIRED: [&str; 4] = [
    "GS_CAMPAIGN_ID",
    "GS_SEED",
    "GS_SETTINGS",
    "GS_JOIN_PUBLIC_KEY",
];

/// Checks an assignment; `Err` names what is wrong.
pub fn check(a: &Assignment) -> Result<(), String> {
    for k in a.env.keys() {
        if !k.starts_with("GS_") {
            return Err(format!("{k}: only GS_ variables may be set"));
        }
        if k == "GS_LISTEN" || k == "GS_ADMIN_TOKEN" {
            return Err(format!("{k}: fixed when the server started"));
        }
    }
    for k in REQUIRED {
        if a.env.get(k).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("{k}: required"));
        }
    }
    Ok(())
}

#[derive(Clone)]
struct Warm {
    token: Secret,
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
    if !crate::http::bearer_is(&headers, w.token.expose()) {
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
    if let Err(e) = check(&a) {
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
    let _ = tx.send(a);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "assigned"})),
    )
        .into_response()
}

/// Waits warm until assigned, then returns the assignment (the listener
/// is closed by then).
pub async fn wait(config: &WarmConfig) -> anyhow::Result<Assignment> {
    let (tx, rx) = oneshot::channel();
    let state = Warm {
        token: config.admin_token.clone(),
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
        let good = [
            ("GS_CAMPAIGN_ID", "c1"),
            ("GS_SEED", "7"),
            ("GS_SETTINGS", "{}"),
            ("GS_JOIN_PUBLIC_KEY", "abc"),
        ];
        assert!(check(&assignment(&good)).is_ok());
        let mut missing = good.to_vec();
        missing.remove(1);
        assert!(
            check(&assignment(&missing))
                .unwrap_err()
                .starts_with("GS_SEED")
        );
        let mut foreign = good.to_vec();
        foreign.push(("LD_PRELOAD", "/evil.so"));
        assert!(
            check(&assignment(&foreign))
                .unwrap_err()
                .starts_with("LD_PRELOAD")
        );
        let mut fixed = good.to_vec();
        fixed.push(("GS_ADMIN_TOKEN", "mine"));
        assert!(check(&assignment(&fixed)).is_err());
    }
}
