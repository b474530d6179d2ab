//! HTTP and WebSocket endpoints.
//!
//! - `GET /healthz`: the process is alive (always 200, with the phase).
//! - `GET /readyz`: 200 only when Joinable, else 503.
//! - `GET /status` (admin bearer token): phase, tick, players online, state
//!   hash, last snapshot.
//! - `GET /metrics`: Prometheus text.
//! - `POST /snapshot` (admin bearer token): take a snapshot now.
//! - `GET /ws`: the play socket (see [`crate::protocol`]).
//!
//! Every error is one JSON shape: `{"error": {"code": "...", "message": "..."}}`;
//! 5xx causes are logged once and hidden from clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{OnceCell, broadcast, watch};
use tokio_util::task::TaskTracker;

use crate::auth::Verifier;
use crate::config::Secret;
use crate::engine::{EngineHandle, JoinError, Seat};
use crate::lifecycle::Phase;
use crate::metrics::Metrics;
use crate::protocol::{ClientMsg, ErrorCode, PROTOCOL_VERSION, Role, ServerMsg, close_code};
use crate::snapshot::Manifest;

/// Takes snapshots on demand (implemented by the server).
#[async_trait::async_trait]
pub trait SnapshotTaker: Send + Sync {
    /// Takes a snapshot now.
    async fn take_now(&self) -> Result<Manifest, String>;
    /// The last snapshot taken or restored.
    fn last(&self) -> Option<Manifest>;
}

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted text frame.
    pub max_frame_bytes: usize,
    /// Chat lines per 10 s.
    pub chat_per_10s: u32,
    /// Commands per second.
    pub commands_per_sec: u32,
}

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    /// The engine, once restored or generated.
    pub engine: Arc<OnceCell<EngineHandle>>,
    /// Lifecycle phase.
    pub phase: watch::Receiver<Phase>,
    /// Metrics.
    pub metrics: Metrics,
    /// Admin bearer token.
    pub admin_token: Secret,
    /// Join-token verifier.
    pub verifier: Verifier,
    /// Live feed.
    pub live: broadcast::Sender<Arc<ServerMsg>>,
    /// Flips to true when sockets must close.
    pub shutdown: watch::Receiver<bool>,
    /// Every open player socket, so shutdown can wait for their goodbyes.
    pub sockets: TaskTracker,
    /// Limits.
    pub limits: Limits,
    /// Snapshots, when an object store is configured.
    pub snapshots: Option<Arc<dyn SnapshotTaker>>,
    /// Narrator name and tokens used, for status.
    pub narrator: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
}

/// The one error type of every HTTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or wrong admin token.
    #[error("a valid admin bearer token is required")]
    Unauthorized,
    /// Not Joinable.
    #[error("the server is {0}, not joinable")]
    NotReady(&'static str),
    /// A dependency is not configured or not available.
    #[error("{0}")]
    Unavailable(String),
    /// No such endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// The endpoint exists but not for this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// Anything else; logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        (
            status,
            Json(json!({"error": {"code": code, "message": self.to_string()}})),
        )
            .into_response()
    }
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/snapshot", post(snapshot))
        .route("/ws", get(ws))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Whether `headers` carry `Authorization: Bearer <want>` (compared in
/// constant time; an empty `want` never matches).
pub(crate) fn bearer_is(headers: &HeaderMap, want: &str) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.len() == want.len()
        && !want.is_empty()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn check_admin(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if bearer_is(headers, app.admin_token.expose()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

async fn healthz(State(app): State<AppState>) -> Json<serde_json::Value> {
    let phase = *app.phase.borrow();
    Json(json!({"status": "alive", "phase": phase}))
}

async fn readyz(State(app): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let phase = *app.phase.borrow();
    if phase == Phase::Joinable {
        Ok(Json(json!({"ready": true, "phase": phase})))
    } else {
        Err(ApiError::NotReady(phase.as_str()))
    }
}

async fn status(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_admin(&app, &headers)?;
    let phase = *app.phase.borrow();
    let engine = match app.engine.get() {
        Some(e) => e
            .call(|e| e.status())
            .await
            .ok()
            .and_then(|s| serde_json::to_value(s).ok()),
        None => None,
    };
    let get = |k: &str| engine.as_ref().and_then(|e| e.get(k).cloned());
    Ok(Json(json!({
        "phase": phase,
        "tick": get("tick"),
        "players_online": get("players_online"),
        "state_hash": get("state_hash"),
        "commands": get("commands"),
        "last_snapshot": app.snapshots.as_ref().and_then(|s| s.last()),
        "narrator": (app.narrator)(),
    })))
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

async fn snapshot(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Manifest>, ApiError> {
    check_admin(&app, &headers)?;
    let Some(s) = &app.snapshots else {
        return Err(ApiError::Unavailable(
            "no object store is configured for snapshots".into(),
        ));
    };
    s.take_now()
        .await
        .map(Json)
        .map_err(|e| ApiError::Unavailable(format!("snapshot failed: {e}")))
}

async fn ws(State(app): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    // Frames above our own limit but below this one get a polite error;
    // beyond it the socket itself refuses them.
    let hard = app.limits.max_frame_bytes.saturating_mul(4).max(64 * 1024);
    upgrade
        .max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| {
            // Upgraded sockets outlive the HTTP server's graceful shutdown;
            // tracking them lets the process wait for their close frames.
            let sockets = app.sockets.clone();
            sockets.track_future(connection(app, socket))
        })
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(msg).unwrap_or_else(|_| "{}".into()),
    ))
}

fn close(code: u16, reason: &str) -> Message {
    // Close reasons are limited to 123 bytes.
    let mut r = reason.to_owned();
    while r.len() > 120 {
        r.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(r),
    }))
}

fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> ServerMsg {
    ServerMsg::Error {
        id,
        code,
        message: message.into(),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Bucket {
    capacity: f64,
    tokens: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: f64, per_sec: f64) -> Bucket {
        Bucket {
            capacity,
            tokens: capacity,
            per_sec,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing socket waits for the client's close reply.
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

async fn connection(app: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let Some(engine) = app.engine.get().cloned() else {
        let _ = sink
            .send(close(
                close_code::NOT_READY,
                "the server is not joinable yet",
            ))
            .await;
        return;
    };
    if *app.phase.borrow() != Phase::Joinable {
        let _ = sink
            .send(close(close_code::NOT_READY, "the server is not joinable"))
            .await;
        return;
    }
    // The first frame must be a hello.
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
    let (token, last_event_id) = match first {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientMsg>(&t) {
            Ok(ClientMsg::Hello {
                version,
                token,
                last_event_id,
            }) => {
                if version != PROTOCOL_VERSION {
                    let _ = sink
                        .send(close(
                            close_code::PROTOCOL,
                            &format!(
                                "unsupported protocol version {version}; this server speaks {PROTOCOL_VERSION}"
                            ),
                        ))
                        .await;
                    return;
                }
                (token, last_event_id)
            }
            Ok(_) => {
                let _ = sink
                    .send(close(
                        close_code::PROTOCOL,
                        "the first message must be hello",
                    ))
                    .await;
                return;
            }
            Err(e) => {
                let _ = sink
                    .send(close(close_code::PROTOCOL, &format!("bad hello: {e}")))
                    .await;
                return;
            }
        },
        Ok(Some(Err(_))) => {
            let _ = sink
                .send(close(
                    close_code::TOO_BIG,
                    "frame refused (too large or invalid)",
                ))
                .await;
            return;
        }
        Ok(_) => {
            let _ = sink
                .send(close(
                    close_code::PROTOCOL,
                    "the first message must be a hello text frame",
                ))
                .await;
            return;
        }
        Err(_) => {
            let _ = sink
                .send(close(close_code::PROTOCOL, "no hello within 10 seconds"))
                .await;
            return;
        }
    };
    let claims = match app.verifier.verify(&token) {
        Ok(c) => c,
        Err(e) => {
            let _ = sink.send(close(e.close_code(), &e.to_string())).await;
            return;
        }
    };
    // Subscribe before reading the backlog, so nothing falls in between.
    let mut live = app.live.subscribe();
    let joined = engine.call(move |e| e.join(&claims, now_secs())).await;
    let seat: Seat = match joined {
        Ok(Ok(seat)) => seat,
        Ok(Err(JoinError::Replayed)) => {
            let _ = sink
                .send(close(close_code::BAD_TOKEN, "join token was already used"))
                .await;
            return;
        }
        Ok(Err(JoinError::Full)) => {
            let _ = sink
                .send(close(close_code::FULL, "every player seat is taken"))
                .await;
            return;
        }
        Ok(Err(JoinError::Internal)) | Err(_) => {
            let _ = sink
                .send(close(1011, "the server could not admit you"))
                .await;
            return;
        }
    };
    let s2 = seat.clone();
    let welcome = engine.call(move |e| e.welcome(&s2, last_event_id)).await;
    let mut last_sent = match welcome {
        Ok(Ok(w)) => {
            let mut ok = sink.send(text(&w.welcome)).await.is_ok();
            for m in &w.backlog {
                if ok {
                    ok = sink.send(text(m)).await.is_ok();
                }
            }
            if !ok {
                leave(&engine, &seat).await;
                return;
            }
            w.last_event_id
        }
        _ => {
            let _ = sink
                .send(close(1011, "the server could not load the state"))
                .await;
            leave(&engine, &seat).await;
            return;
        }
    };
    play(
        &app,
        &engine,
        &seat,
        &mut sink,
        &mut stream,
        &mut live,
        &mut last_sent,
    )
    .await;
    leave(&engine, &seat).await;
}

async fn leave(engine: &EngineHandle, seat: &Seat) {
    let p = seat.player.clone();
    let _ = engine.call(move |e| e.leave(&p)).await;
}

fn event_id(msg: &ServerMsg) -> Option<u64> {
    match msg {
        ServerMsg::Event { event_id, .. }
        | ServerMsg::Narration { event_id, .. }
        | ServerMsg::Chat { event_id, .. } => Some(*event_id),
        _ => None,
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;
type Stream = futures_util::stream::SplitStream<WebSocket>;

/// After our close frame, reads until the client's close reply (the
/// WebSocket closing handshake), so the connection ends cleanly instead of
/// being reset under frames the client has not read yet.
async fn await_close_reply(stream: &mut Stream) {
    let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn send(sink: &mut Sink, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)).await,
        Ok(Ok(()))
    )
}

#[allow(clippy::too_many_arguments)]
async fn play(
    app: &AppState,
    engine: &EngineHandle,
    seat: &Seat,
    sink: &mut Sink,
    stream: &mut Stream,
    live: &mut broadcast::Receiver<Arc<ServerMsg>>,
    last_sent: &mut u64,
) {
    let mut shutdown = app.shutdown.clone();
    let mut commands = Bucket::new(
        f64::from(app.limits.commands_per_sec.max(1) * 2),
        f64::from(app.limits.commands_per_sec.max(1)),
    );
    let mut chats = Bucket::new(
        f64::from(app.limits.chat_per_10s.max(1)),
        f64::from(app.limits.chat_per_10s.max(1)) / 10.0,
    );
    loop {
        tokio::select! {
            // Live messages first, so everything published before a shutdown
            // reaches the client before the close frame.
            biased;
            msg = live.recv() => match msg {
                Ok(m) => {
                    if let Some(id) = event_id(&m) {
                        if id <= *last_sent {
                            continue;
                        }
                        *last_sent = id;
                    }
                    if !send(sink, text(&m)).await {
                        app.metrics.slow_clients.inc();
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    app.metrics.slow_clients.inc();
                    let _ = send(sink, close(close_code::TOO_SLOW, "too slow to keep up; reconnect and resume from your last event id")).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    if send(sink, close(close_code::GOING_AWAY, "the server is shutting down")).await {
                        await_close_reply(stream).await;
                    }
                    return;
                }
            },
            _ = shutdown.changed() => {
                if send(sink, close(close_code::GOING_AWAY, "the server is shutting down; reconnect and resume")).await {
                    await_close_reply(stream).await;
                }
                return;
            }
            frame = stream.next() => {
                let reply = match frame {
                    None | Some(Ok(Message::Close(_))) => return,
                    Some(Err(_)) => {
                        let _ = send(sink, close(close_code::TOO_BIG, "frame refused (too large or invalid)")).await;
                        return;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        error(None, ErrorCode::BadMessage, "binary frames are not accepted; send JSON text")
                    }
                    Some(Ok(Message::Text(t))) => {
                        handle_text(app, engine, seat, &t, &mut commands, &mut chats).await
                    }
                };
                if !send(sink, text(&reply)).await {
                    return;
                }
            }
        }
    }
}

async fn handle_text(
    app: &AppState,
    engine: &EngineHandle,
    seat: &Seat,
    t: &str,
    commands: &mut Bucket,
    chats: &mut Bucket,
) -> ServerMsg {
    if t.len() > app.limits.max_frame_bytes {
        return error(
            None,
            ErrorCode::TooLarge,
            format!(
                "frame of {} bytes exceeds the limit of {}",
                t.len(),
                app.limits.max_frame_bytes
            ),
        );
    }
    let msg = match serde_json::from_str::<ClientMsg>(t) {
        Ok(m) => m,
        Err(e) => {
            // Echo the id when the frame had one, even if the rest is bad.
            let id = serde_json::from_str::<serde_json::Value>(t)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_u64()));
            return error(id, ErrorCode::BadMessage, format!("bad message: {e}"));
        }
    };
    match msg {
        ClientMsg::Hello { .. } => error(None, ErrorCode::BadMessage, "already authenticated"),
        ClientMsg::Ping { id } => ServerMsg::Pong { id },
        ClientMsg::Command { id, command } => {
            let (Role::Player, Some(faction)) = (seat.role, seat.faction) else {
                return error(Some(id), ErrorCode::Forbidden, "only players give commands");
            };
            if !commands.take() {
                return error(
                    Some(id),
                    ErrorCode::RateLimited,
                    "too many commands; slow down",
                );
            }
            let started = Instant::now();
            let player = seat.player.clone();
            let result = engine
                .call(move |e| e.command(&player, faction, &command))
                .await;
            app.metrics
                .ack_seconds
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(Ok((seq, tick))) => ServerMsg::Ack { id, seq, tick },
                Ok(Err(e)) => error(Some(id), e.code, e.message),
                Err(_) => error(Some(id), ErrorCode::ShuttingDown, "the server is stopping"),
            }
        }
        ClientMsg::Chat { id, text } => {
            if !chats.take() {
                return error(
                    Some(id),
                    ErrorCode::RateLimited,
                    "too many chat lines; slow down",
                );
            }
            let s = seat.clone();
            match engine.call(move |e| e.chat(&s, &text)).await {
                Ok(Ok((event_id, tick))) => ServerMsg::Ack {
                    id,
                    seq: event_id,
                    tick,
                },
                Ok(Err(e)) => error(Some(id), e.code, e.message),
                Err(_) => error(Some(id), ErrorCode::ShuttingDown, "the server is stopping"),
            }
        }
    }
}
