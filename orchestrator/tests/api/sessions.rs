//! Sessions end to end on the local runtime with real game-server
//! processes: the scheduler starts a campaign's server before its session,
//! players join through the orchestrator's WebSocket proxy and play, the
//! server stops after a final snapshot, the next session restores the same
//! state (from the snapshot alone), and a server killed mid-session comes
//! back without losing an acknowledged command.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, TestOptions, error_code, local_settings, spawn_app_options};
use orchestrator::play::JoinKeys;
use orchestrator::runtime::Runtime;
use orchestrator::runtime::local::LocalRuntime;
use orchestrator::scheduler::Scheduler;
use orchestrator::scheduler::decide::Timing;

const MIN: i64 = 60_000;

pub struct Sessions {
    pub app: TestApp,
    dir: tempfile::TempDir,
    scheduler: Scheduler,
}

pub async fn spawn() -> Sessions {
    let keys = JoinKeys::generate().unwrap().0;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = local_settings(dir.path(), keys.public_key());
    // No ticks during the test: the state changes only by commands, so
    // hashes can be compared across sessions.
    settings.env.push(("GS_TICK_MS".into(), "3600000".into()));
    let runtime: Arc<dyn Runtime> = Arc::new(LocalRuntime::new(settings));
    let app = spawn_app_options(TestOptions {
        runtime: Some(runtime.clone()),
        join_keys: Some(keys),
        ..TestOptions::default()
    })
    .await;
    let scheduler = Scheduler {
        store: app.store.clone(),
        runtime,
        timing: Timing::default(),
        payments: app.payments.clone(),
    };
    Sessions {
        app,
        dir,
        scheduler,
    }
}

async fn campaign(app: &TestApp) -> (String, String) {
    let gm = app.game_master("keeper").await;
    let id = app
        .published_campaign(&gm, crate::helpers::campaign_body("Live Test", 4, 11))
        .await;
    (id, gm)
}

/// Seats new players `handles` in campaign `id`.
async fn seat(app: &TestApp, id: &str, handles: &[&str]) {
    for h in handles {
        let (_, t) = app.user(h).await;
        let (status, j) = app
            .json(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/join"),
                Some(&t),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{j}");
    }
}

impl Sessions {
    pub fn set_clock(&self, at: i64) {
        self.app.now.store(at, Ordering::SeqCst);
    }

    /// The demo, set up at the real time (game servers check join tokens
    /// against the real clock).
    pub async fn demo(&self) -> orchestrator::demo::Demo {
        let now = real_now();
        self.set_clock(now);
        orchestrator::demo::set_up(
            &self.app.store,
            &orchestrator::accounts::Passwords::new(1024, 1, 1).unwrap(),
            &orchestrator::pricing::PriceBook::standard(),
            now,
        )
        .await
        .unwrap()
    }

    pub async fn round(&self) {
        self.scheduler
            .round(self.app.now.load(Ordering::SeqCst))
            .await
            .unwrap();
    }

    pub async fn wait_ready(&self, id: &str) -> orchestrator::runtime::ServerState {
        for _ in 0..600 {
            if let Some(s) = self.app.runtime.state(id).await.unwrap()
                && s.ready
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the game server never became ready");
    }

    /// Joins through the proxy with a fresh token; returns the socket and
    /// the welcome.
    async fn connect(
        &self,
        id: &str,
        handle: &str,
    ) -> (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Value,
    ) {
        self.connect_with(id, handle, "correct horse battery").await
    }

    /// Like [`Sessions::connect`] with a password.
    async fn connect_with(
        &self,
        id: &str,
        handle: &str,
        password: &str,
    ) -> (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Value,
    ) {
        let (status, session) = self
            .app
            .json(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"login": handle, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let access = session["access_token"].as_str().unwrap().to_string();
        let (status, grant) = self
            .app
            .json(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/join-token"),
                Some(&access),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{grant}");
        let url = format!(
            "{}{}",
            self.app.address.replacen("http", "ws", 1),
            grant["play_path"].as_str().unwrap()
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(Message::text(
            json!({"type": "hello", "version": 1, "token": grant["token"]}).to_string(),
        ))
        .await
        .unwrap();
        let welcome = until(&mut ws, |m| m["type"] == "welcome").await;
        (ws, welcome)
    }
}

async fn until(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no answer in time")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert_ne!(v["type"], "error", "{v}");
            if pred(&v) {
                return v;
            }
        } else if let Message::Close(c) = m {
            panic!("closed: {c:?}");
        }
    }
}

/// The system clock, Unix ms (game servers check token expiry by it).
fn real_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

#[tokio::test]
async fn a_campaign_plays_its_sessions_on_real_servers_and_each_session_resumes_the_last() {
    let s = spawn().await;
    let (id, _) = campaign(&s.app).await;
    seat(&s.app, &id, &["ann", "bob"]).await;
    let c = s.app.store.campaign(&id).await.unwrap().unwrap();
    let first = c.first_session_at;
    let week = 7 * 24 * 60 * MIN;

    // Before the warm-up lead nothing runs.
    s.set_clock(first - 11 * MIN);
    s.round().await;
    assert!(s.app.runtime.running().await.is_empty());

    // Ten minutes before: the server starts and players get in.
    s.set_clock(first - 10 * MIN);
    s.round().await;
    assert_eq!(s.app.runtime.running().await, vec![id.clone()]);
    s.wait_ready(&id).await;
    let (mut ws, welcome) = s.connect(&id, "ann").await;
    assert_eq!(welcome["role"], "player");
    ws.send(Message::text(
        json!({"type": "command", "id": 1, "command": {"kind": "research", "field": "weapons"}})
            .to_string(),
    ))
    .await
    .unwrap();
    until(&mut ws, |m| m["type"] == "ack" && m["id"] == 1).await;
    drop(ws);
    let (_, after) = s.connect(&id, "bob").await;
    let hash = after["state_hash"].as_str().unwrap().to_string();
    assert_ne!(hash, welcome["state_hash"].as_str().unwrap());

    // The session starts: the campaign is running; after the grace the
    // server stops with a final snapshot.
    s.set_clock(first + 2 * 60 * MIN + 15 * MIN);
    s.round().await;
    assert!(s.app.runtime.running().await.is_empty());
    assert_eq!(
        s.app.store.campaign(&id).await.unwrap().unwrap().status,
        "running"
    );
    let snapshots = s.dir.path().join("snapshots").join(&id);
    assert!(files_under(&snapshots) > 0, "no snapshot was kept");
    // The next session starts on a fresh disk: only the snapshot remains.
    std::fs::remove_dir_all(s.dir.path().join("servers").join(&id)).unwrap();

    s.set_clock(first + week - 10 * MIN);
    s.round().await;
    s.wait_ready(&id).await;
    let (mut ws, welcome) = s.connect(&id, "ann").await;
    assert_eq!(welcome["state_hash"], hash.as_str());

    // Killed mid-session: back with every acknowledged command.
    ws.send(Message::text(
        json!({"type": "command", "id": 2, "command": {"kind": "research", "field": "industry"}})
            .to_string(),
    ))
    .await
    .unwrap();
    until(&mut ws, |m| m["type"] == "ack" && m["id"] == 2).await;
    drop(ws);
    let (_, before_kill) = s.connect(&id, "bob").await;
    let state = s.app.runtime.state(&id).await.unwrap().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &state.pid.unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut back = None;
    for _ in 0..600 {
        if let Some(st) = s.app.runtime.state(&id).await.unwrap()
            && st.restarts >= 1
            && st.ready
        {
            back = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = back.expect("the server did not come back");
    assert_ne!(back.pid, state.pid);
    let (_, after_kill) = s.connect(&id, "ann").await;
    assert_eq!(after_kill["state_hash"], before_kill["state_hash"]);

    // After the last session the campaign completes and its server's
    // files go; snapshots stay.
    let last = c.last_session_end;
    s.set_clock(last + 15 * MIN);
    s.round().await;
    assert!(s.app.runtime.running().await.is_empty());
    assert_eq!(
        s.app.store.campaign(&id).await.unwrap().unwrap().status,
        "completed"
    );
    assert!(!s.dir.path().join("servers").join(&id).exists());
    assert!(files_under(&snapshots) > 0);
}

#[tokio::test]
async fn join_tokens_are_for_paid_seats_during_sessions_only() {
    let s = spawn().await;
    let (id, gm) = campaign(&s.app).await;
    let (_, ann) = s.app.user("ann").await;
    let (_, cyd) = s.app.user("cyd").await;
    s.app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/join"),
            Some(&ann),
            Some(json!({})),
        )
        .await;
    let token = |t: String| {
        let app = &s.app;
        let id = id.clone();
        async move {
            app.json(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/join-token"),
                Some(&t),
                None,
            )
            .await
        }
    };
    let (status, body) = token(cyd.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = token(ann.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no session")
    );
    let (status, body) = token(gm.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A socket without a good hello is closed with the game's codes.
    let url = format!(
        "{}/api/v1/campaigns/{id}/play",
        s.app.address.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "hello", "version": 1, "token": "not-a-token"}).to_string(),
    ))
    .await
    .unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 4001),
        other => panic!("not closed: {other:?}"),
    }
    let forged = JoinKeys::generate()
        .unwrap()
        .0
        .issue(
            &id,
            "someone",
            game_server::protocol::Role::Player,
            s.app.now.load(Ordering::SeqCst),
        )
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "hello", "version": 1, "token": forged}).to_string(),
    ))
    .await
    .unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 4001),
        other => panic!("not closed: {other:?}"),
    }
}

#[tokio::test]
async fn operators_suspend_resume_and_inspect_a_campaigns_server() {
    let s = spawn().await;
    let (_, admin) = s.app.admin("root").await;
    let (id, gm) = campaign(&s.app).await;
    let path = format!("/api/v1/admin/campaigns/{id}/server");
    let (status, v) = s.app.json(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["desired"], "stopped");
    assert_eq!(v["runtime"], "local");
    assert!(v["server"].is_null());
    let act = |a: &'static str| {
        let (app, path, admin) = (&s.app, path.clone(), admin.clone());
        async move {
            app.json(
                Method::POST,
                &path,
                Some(&admin),
                Some(json!({"action": a})),
            )
            .await
        }
    };
    let (status, v) = act("suspend").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["override_"], "suspend");
    let (status, v) = act("snapshot").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, v) = act("reboot").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&v), "invalid");
    let (status, v) = act("resume").await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["override_"].is_null());
    assert_eq!(
        s.app.json(Method::GET, &path, Some(&gm), None).await.0,
        StatusCode::FORBIDDEN
    );
    // A suspended campaign's server does not start for its session (with
    // its two players, its minimum, it is not called off either).
    act("suspend").await;
    seat(&s.app, &id, &["ann", "bob"]).await;
    let first = s
        .app
        .store
        .campaign(&id)
        .await
        .unwrap()
        .unwrap()
        .first_session_at;
    s.set_clock(first);
    s.round().await;
    assert!(s.app.runtime.running().await.is_empty());
    let c = s.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.status, "running");
}

#[tokio::test]
async fn the_demo_seats_two_players_in_a_campaign_starting_in_a_minute_who_can_play_at_once() {
    let s = spawn().await;
    let d = s.demo().await;
    let now = s.app.now.load(Ordering::SeqCst);
    let c = s.app.store.campaign(&d.campaign_id).await.unwrap().unwrap();
    assert_eq!(c.status, "published");
    assert_eq!(c.first_session_at, d.starts_at);
    assert!((now + 59_000..=now + 60_000).contains(&d.starts_at));
    assert_eq!(c.seats_taken, 2);
    let text = orchestrator::demo::instructions(&d, "http://127.0.0.1:8080");
    assert!(text.contains(&format!(
        "http://127.0.0.1:8080/play?campaign={}",
        d.campaign_id
    )));
    assert!(text.contains(&d.players[0].1));
    // The session is inside the warm-up lead: the server starts now.
    s.round().await;
    s.wait_ready(&d.campaign_id).await;
    let (_, welcome) = s
        .connect_with(&d.campaign_id, &d.players[0].0, &d.players[0].1)
        .await;
    assert_eq!(welcome["role"], "player");
    let r = s.app.call(Method::GET, "/play", None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("/join-token") && page.contains("\"hello\""));
}
