//! Playing through the orchestrator: a join token for my seat
//! (`POST /campaigns/{id}/join-token`), the WebSocket proxy to the
//! campaign's game server (`GET /campaigns/{id}/play`, so browsers only
//! ever talk to the orchestrator), and the operators' controls over a
//! campaign's server (`/admin/campaigns/{id}/server`).

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::{SinkExt as _, StreamExt as _};
use game_server::protocol::{ClientMsg, close_code};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AdminUser, AppState, AuthUser};
use crate::play::{self, JoinGrant};
use crate::runtime::ServerState;
use crate::scheduler::decide::{Desired, Override};

/// The play page, outside the API: `/play?campaign=ID`.
pub fn page_routes() -> Router<AppState> {
    Router::new().route("/play", get(play_page))
}

/// A small page to log in and play a running session in the browser.
async fn play_page() -> Response {
    use axum::response::IntoResponse as _;
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        include_str!("play_page.html"),
    )
        .into_response()
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/campaigns/{id}/join-token", post(join_token))
        .route("/campaigns/{id}/play", get(play_socket))
        .route(
            "/admin/campaigns/{id}/server",
            get(server_status).post(server_action),
        )
}

/// A join token for my confirmed seat (or as the game master) while a
/// session is on. It is good for a minute and once: open
/// `/api/v1/campaigns/{id}/play` and send it in the first frame.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/join-token", tag = "play", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = JoinGrant, description = "the token"),
    (status = 404, body = ErrorBody, description = "no seat of mine in this campaign"),
    (status = 409, body = ErrorBody, description = "no session is on now, or my seat is not paid"),
    (status = 503, body = ErrorBody, description = "the server is starting; try again shortly")
))]
pub async fn join_token(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<JoinGrant>, ApiError> {
    let grant = play::join_token(
        &state.store,
        state.runtime.as_ref(),
        &state.join_keys,
        &id,
        &user.id,
        state.clock.now(),
        state.timing,
    )
    .await?;
    Ok(axum::Json(grant))
}

/// The game's WebSocket, carried to the campaign's game server. The first
/// frame must be the game's `hello` with a join token for this campaign;
/// after that frames pass both ways unchanged.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/play", tag = "play", params(("id" = String, Path)), responses(
    (status = 101, description = "switching to the game's WebSocket protocol")
))]
pub async fn play_socket(
    State(state): State<AppState>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_message_size(256 * 1024)
        .on_upgrade(move |socket| proxy(state, id, socket))
}

async fn refuse(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn proxy(state: AppState, id: String, mut client: WebSocket) {
    let first = match tokio::time::timeout(std::time::Duration::from_secs(10), client.recv()).await
    {
        Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
        _ => return refuse(client, close_code::PROTOCOL, "send hello first").await,
    };
    let Ok(ClientMsg::Hello { token, .. }) = serde_json::from_str::<ClientMsg>(&first) else {
        return refuse(
            client,
            close_code::PROTOCOL,
            "the first frame must be hello",
        )
        .await;
    };
    // Checked here too, so nobody reaches a game server without a token.
    let verifier = match game_server::auth::Verifier::new(state.join_keys.public_key(), &id) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "join key unusable");
            return refuse(client, close_code::GOING_AWAY, "internal error").await;
        }
    };
    if let Err(e) = verifier.verify(&token) {
        return refuse(client, e.close_code(), &e.to_string()).await;
    }
    let address = match state.runtime.state(&id).await {
        Ok(Some(ServerState { address, .. })) => address,
        _ => {
            return refuse(
                client,
                close_code::NOT_READY,
                "the campaign's server is not running",
            )
            .await;
        }
    };
    let url = format!("{}/ws", address.replacen("http", "ws", 1));
    let (upstream, _) = match tokio_tungstenite::connect_async(&url).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(campaign = %id, error = %e, "game server unreachable");
            return refuse(
                client,
                close_code::NOT_READY,
                "the campaign's server is not answering",
            )
            .await;
        }
    };
    let (mut up_tx, mut up_rx) = upstream.split();
    if up_tx.send(tungstenite::Message::text(first)).await.is_err() {
        return refuse(client, close_code::GOING_AWAY, "the game server went away").await;
    }
    let (mut down_tx, mut down_rx) = client.split();
    let to_server = async {
        while let Some(Ok(m)) = down_rx.next().await {
            let out = match m {
                Message::Text(t) => tungstenite::Message::text(t.as_str()),
                Message::Binary(b) => tungstenite::Message::binary(b),
                Message::Ping(p) => tungstenite::Message::Ping(p),
                Message::Pong(p) => tungstenite::Message::Pong(p),
                Message::Close(c) => {
                    let _ = up_tx
                        .send(tungstenite::Message::Close(c.map(|c| {
                            tungstenite::protocol::CloseFrame {
                                code: c.code.into(),
                                reason: c.reason.as_str().into(),
                            }
                        })))
                        .await;
                    break;
                }
            };
            if up_tx.send(out).await.is_err() {
                break;
            }
        }
    };
    let to_client = async {
        while let Some(Ok(m)) = up_rx.next().await {
            let out = match m {
                tungstenite::Message::Text(t) => Message::Text(t.as_str().into()),
                tungstenite::Message::Binary(b) => Message::Binary(b),
                tungstenite::Message::Ping(p) => Message::Ping(p),
                tungstenite::Message::Pong(p) => Message::Pong(p),
                tungstenite::Message::Close(c) => {
                    let _ = down_tx
                        .send(Message::Close(c.map(|c| CloseFrame {
                            code: c.code.into(),
                            reason: c.reason.as_str().into(),
                        })))
                        .await;
                    break;
                }
                tungstenite::Message::Frame(_) => continue,
            };
            if down_tx.send(out).await.is_err() {
                break;
            }
        }
    };
    // Whichever side ends first ends the other.
    tokio::select! {
        () = to_server => {}
        () = to_client => {}
    }
}

/// A campaign's server as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerView {
    /// The campaign's status.
    pub campaign_status: String,
    /// What the schedule (and override) asks for now.
    pub desired: Desired,
    /// The operator's standing instruction.
    pub override_: Option<Override>,
    /// The runtime (local or kubernetes).
    pub runtime: String,
    /// What the runtime reports, if a server runs.
    pub server: Option<ServerState>,
}

async fn view(state: &AppState, id: &str) -> Result<ServerView, ApiError> {
    let c = state.store.campaign(id).await?.ok_or(ApiError::NotFound)?;
    let desired = crate::scheduler::desired_for(&c, state.clock.now(), state.timing)?;
    let server = state
        .runtime
        .state(id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(ServerView {
        campaign_status: c.status,
        desired,
        override_: c.server_override.as_deref().and_then(Override::parse),
        runtime: state.runtime.name().into(),
        server,
    })
}

/// A campaign's server: desired state, override and what runs.
#[utoipa::path(get, path = "/api/v1/admin/campaigns/{id}/server", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = ServerView, description = "the server"),
    (status = 404, body = ErrorBody, description = "no such campaign")
))]
pub async fn server_status(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<axum::Json<ServerView>, ApiError> {
    Ok(axum::Json(view(&state, &id).await?))
}

/// An operator's action on a campaign's server.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerAction {
    /// suspend (stop now and stay stopped), resume (follow the schedule
    /// again), drain (stop at the session's end without the grace), or
    /// snapshot (take one now).
    pub action: String,
}

/// Suspend, resume, drain, or snapshot a campaign's server now. Audited.
#[utoipa::path(post, path = "/api/v1/admin/campaigns/{id}/server", tag = "admin", params(("id" = String, Path)), request_body = ServerAction, security(("bearer" = [])), responses(
    (status = 200, body = ServerView, description = "done; the scheduler applies overrides within seconds"),
    (status = 404, body = ErrorBody, description = "no such campaign"),
    (status = 409, body = ErrorBody, description = "snapshot asked of a server that is not running"),
    (status = 422, body = ErrorBody, description = "unknown action (field action)")
))]
pub async fn server_action(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
    Json(body): Json<ServerAction>,
) -> Result<axum::Json<ServerView>, ApiError> {
    let now = state.clock.now();
    if state.store.campaign(&id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    match body.action.as_str() {
        "suspend" | "drain" | "resume" => {
            let value = match body.action.as_str() {
                "suspend" => Some(Override::Suspend.as_str()),
                "drain" => Some(Override::Drain.as_str()),
                _ => None,
            };
            state.store.set_server_override(&id, value, now).await?;
            if body.action == "suspend" {
                // Stop now rather than at the next round.
                state
                    .runtime
                    .ensure_stopped(&id)
                    .await
                    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            }
        }
        "snapshot" => match state.runtime.snapshot_now(&id).await {
            Ok(()) => {}
            Err(crate::runtime::RuntimeError::NotRunning) => {
                return Err(ApiError::Conflict {
                    field: None,
                    message: "no game server runs for this campaign".into(),
                });
            }
            Err(e) => return Err(ApiError::Unavailable(e.to_string())),
        },
        _ => {
            return Err(ApiError::Invalid {
                field: "action".into(),
                message: "must be one of suspend, resume, drain, snapshot".into(),
            });
        }
    }
    crate::safety::audit(
        &state.store,
        Some(&admin.0.id),
        &format!("server.{}", body.action),
        "campaign",
        &id,
        serde_json::json!({}),
        now,
    )
    .await?;
    Ok(axum::Json(view(&state, &id).await?))
}
