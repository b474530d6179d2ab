//! Narration against a local OpenAI-compatible server: healthy, slow,
//! failing, malformed and over budget.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use campaign_gen::{Settings, World, generate};
use game_server::config::Secret;
use game_server::metrics::Metrics;
use game_server::narrator::{
    BreakerSettings, NarrationService, Narrator, OpenAiNarrator, OpenAiSettings,
};
use game_server::protocol::{Command, GameEvent, Role, ServerMsg};

use crate::helpers::{Keys, Opts, Server, free_port};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Ok,
    Slow,
    Failing,
    Malformed,
}

/// A local OpenAI-compatible chat-completions server.
#[derive(Clone)]
pub struct Stub {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicU64>,
    last_body: Arc<Mutex<String>>,
    pub addr: SocketAddr,
}

async fn completions(State(s): State<Stub>, body: String) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    *s.last_body.lock().unwrap() = body;
    let mode = *s.mode.lock().unwrap();
    let ok = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "stub-model",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
            "message": {"role": "assistant", "content": "The void remembers every oath."}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    });
    match mode {
        Mode::Ok => Json(ok).into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(ok).into_response()
        }
        Mode::Failing => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": {"message": "upstream exploded", "type": "server_error", "param": null, "code": null}})),
        )
            .into_response(),
        Mode::Malformed => (StatusCode::OK, "{\"choices\": \"certainly not\"").into_response(),
    }
}

async fn models() -> Json<serde_json::Value> {
    Json(
        serde_json::json!({"object": "list", "data": [{"id": "stub-model", "object": "model", "created": 1, "owned_by": "tests"}]}),
    )
}

impl Stub {
    pub async fn start(mode: Mode) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub {
            mode: Arc::new(Mutex::new(mode)),
            calls: Arc::default(),
            last_body: Arc::default(),
            addr: listener.local_addr().unwrap(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/models", get(models))
            .with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stub
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

fn world() -> Arc<World> {
    Arc::new(generate(
        9,
        &Settings::builder().players(2).build().unwrap(),
    ))
}

fn settings(base_url: String, timeout_ms: u64, retries: u32) -> OpenAiSettings {
    OpenAiSettings {
        provider: "stub".into(),
        base_url,
        model: "stub-model".into(),
        api_key: Secret::new("sk-test"),
        timeout: Duration::from_millis(timeout_ms),
        retries,
        backoff: Duration::from_millis(20),
        max_tokens: 200,
    }
}

fn service(
    world: &Arc<World>,
    s: OpenAiSettings,
    budget: u64,
    failures: u32,
    cooldown_ms: u64,
) -> (NarrationService, Metrics) {
    let metrics = Metrics::new();
    let primary: Arc<dyn Narrator> = Arc::new(OpenAiNarrator::new(s, world).unwrap());
    let svc = NarrationService::new(
        Arc::clone(world),
        Some(primary),
        budget,
        0,
        BreakerSettings {
            failures,
            cooldown: Duration::from_millis(cooldown_ms),
        },
        metrics.clone(),
    );
    (svc, metrics)
}

fn events() -> Vec<GameEvent> {
    vec![GameEvent::OutpostBuilt {
        faction: 0,
        system: 2,
    }]
}

#[tokio::test]
async fn a_healthy_provider_narrates_with_world_context_and_counts_tokens() {
    let stub = Stub::start(Mode::Ok).await;
    let w = world();
    let (svc, metrics) = service(&w, settings(stub.base_url(), 2000, 0), 10_000, 3, 60_000);
    assert_eq!(svc.warm().await, "stub");
    let n = svc.narrate(1, events()).await;
    assert_eq!(n.narrator, "stub");
    assert_eq!(n.text, "The void remembers every oath.");
    assert_eq!(svc.tokens_used(), 120);
    let body = stub.last_body.lock().unwrap().clone();
    assert!(
        body.contains(&w.name) && body.contains(&w.characters[0].name),
        "{body}"
    );
    assert!(body.contains("outpost_built"), "{body}");
    assert!(
        metrics
            .render()
            .contains("gameserver_narration_tokens_total{provider=\"stub\"} 120")
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_and_narration_falls_back_offline() {
    let stub = Stub::start(Mode::Slow).await;
    let w = world();
    let (svc, metrics) = service(&w, settings(stub.base_url(), 300, 1), 10_000, 5, 60_000);
    let started = Instant::now();
    let n = svc.narrate(1, events()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(n.narrator, "offline");
    assert!(n.text.contains(&w.factions[0].name));
    assert_eq!(stub.calls(), 2, "one attempt and one retry");
    let text = metrics.render();
    assert!(
        text.contains("gameserver_narration_errors_total{kind=\"timeout\",provider=\"stub\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gameserver_narration_fallback_total{reason=\"timeout\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_provider_is_retried_then_the_breaker_opens_and_later_recovers() {
    let stub = Stub::start(Mode::Failing).await;
    let w = world();
    let (svc, metrics) = service(&w, settings(stub.base_url(), 2000, 2), 10_000, 2, 300);
    assert_eq!(svc.narrate(1, events()).await.narrator, "offline");
    assert_eq!(stub.calls(), 3, "first attempt plus two retries");
    assert_eq!(svc.narrate(2, events()).await.narrator, "offline");
    assert_eq!(stub.calls(), 6);
    assert!(
        metrics
            .render()
            .contains("gameserver_narrator_circuit_open 1")
    );
    // Open: no calls at all.
    assert_eq!(svc.narrate(3, events()).await.narrator, "offline");
    assert_eq!(stub.calls(), 6);
    assert!(
        metrics
            .render()
            .contains("gameserver_narration_fallback_total{reason=\"circuit_open\"} 1")
    );
    // After the cooldown a trial call goes through and closes the breaker.
    stub.set(Mode::Ok);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(svc.narrate(4, events()).await.narrator, "stub");
    assert!(
        metrics
            .render()
            .contains("gameserver_narrator_circuit_open 0")
    );
}

#[tokio::test]
async fn a_malformed_answer_falls_back_without_retrying() {
    let stub = Stub::start(Mode::Malformed).await;
    let w = world();
    let (svc, metrics) = service(&w, settings(stub.base_url(), 2000, 3), 10_000, 5, 60_000);
    assert_eq!(svc.narrate(1, events()).await.narrator, "offline");
    assert_eq!(stub.calls(), 1);
    assert!(
        metrics
            .render()
            .contains("gameserver_narration_fallback_total{reason=\"malformed\"} 1")
    );
}

#[tokio::test]
async fn an_exhausted_budget_narrates_offline_without_calling_the_provider() {
    let stub = Stub::start(Mode::Ok).await;
    let w = world();
    let (svc, metrics) = service(&w, settings(stub.base_url(), 2000, 0), 200, 5, 60_000);
    assert_eq!(svc.narrate(1, events()).await.narrator, "stub");
    assert_eq!(svc.narrate(2, events()).await.narrator, "stub");
    assert_eq!(svc.tokens_used(), 240);
    assert_eq!(svc.narrate(3, events()).await.narrator, "offline");
    assert_eq!(stub.calls(), 2);
    assert!(
        metrics
            .render()
            .contains("gameserver_narration_fallback_total{reason=\"budget\"} 1")
    );
}

#[tokio::test]
async fn an_unreachable_provider_at_warm_up_chooses_offline() {
    let port = free_port();
    let w = world();
    let (svc, metrics) = service(
        &w,
        settings(format!("http://127.0.0.1:{port}/v1"), 500, 0),
        10_000,
        3,
        60_000,
    );
    assert_eq!(svc.warm().await, "offline");
    assert_eq!(svc.narrate(1, events()).await.narrator, "offline");
    assert!(
        metrics
            .render()
            .contains("gameserver_narrator_circuit_open 1")
    );
}

#[tokio::test]
async fn narration_from_an_openai_compatible_server_reaches_players() {
    let stub = Stub::start(Mode::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(dir.path());
    opts.tick_ms = 100;
    opts.env = vec![
        ("GS_NARRATOR".into(), "openai".into()),
        ("GS_NARRATOR_PROVIDER".into(), "stub".into()),
        ("GS_NARRATOR_BASE_URL".into(), stub.base_url()),
        ("GS_NARRATOR_API_KEY".into(), "sk-secret-value".into()),
    ];
    let server = Server::start(opts, Arc::new(Keys::new())).await;
    let (mut c, _) = server.join("alice", Role::Player, None).await;
    c.command(
        1,
        Command::MessageNpc {
            character: 0,
            text: "Hail!".into(),
        },
    )
    .await;
    c.answer(1).await;
    let ServerMsg::Narration { narrator, text, .. } =
        c.until(|m| matches!(m, ServerMsg::Narration { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        (narrator.as_str(), text.as_str()),
        ("stub", "The void remembers every oath.")
    );
    let status = server.status().await;
    assert_eq!(status["narrator"]["active"], "stub");
    assert!(status["narrator"]["tokens_used"].as_u64().unwrap() >= 120);
    assert!(!server.log().contains("sk-secret-value"));
}
