//! Warm mode: a server started without a campaign waits unready until it
//! is assigned one, then becomes that campaign's server in the same
//! process and on the same port.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use game_server::protocol::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Keys, Opts, admin_status, free_port};

/// Polls `url` for up to 6 s until its status passes `ok`.
async fn wait_until(http: &reqwest::Client, url: &str, ok: fn(u16) -> bool) -> bool {
    for _ in 0..600 {
        if let Ok(r) = http.get(url).send().await
            && ok(r.status().as_u16())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_warm_server_waits_unready_then_becomes_the_assigned_campaign_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_game-server"))
        .arg("warm")
        .env("GS_LISTEN", format!("127.0.0.1:{port}"))
        .env("GS_ADMIN_TOKEN", "warm-admin-token")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut alive = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["phase"], "warm");
            alive = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(alive, "the warm server never answered");
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let opts = Opts::new(dir.path());
    let env = json!({
        "GS_CAMPAIGN_ID": "warm-campaign",
        "GS_SEED": "5",
        "GS_SETTINGS": opts.settings(),
        "GS_JOIN_PUBLIC_KEY": keys.public,
        "GS_DATA_DIR": dir.path(),
        "GS_TICK_MS": "200",
    });
    let post = |token: &'static str, body: Value| {
        let (http, url) = (http.clone(), format!("{base}/assign"));
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post("wrong", json!({"env": env})).await, 401);
    assert_eq!(
        post("warm-admin-token", json!({"env": {"LD_PRELOAD": "/x.so"}})).await,
        422
    );
    assert_eq!(post("warm-admin-token", json!({"nope": 1})).await, 400);
    let assigned = Instant::now();
    assert_eq!(post("warm-admin-token", json!({"env": env})).await, 202);
    assert!(
        wait_until(&http, &format!("{base}/readyz"), |s| s == 200).await,
        "the assigned server never became joinable"
    );
    println!("assigned -> joinable in {:?}", assigned.elapsed());
    // The same process, now serving the campaign.
    assert!(child.try_wait().unwrap().is_none());
    let status = admin_status(&http, &base, "warm-admin-token").await;
    assert_eq!(status["phase"], "joinable", "{status}");
    // It admits players of the assigned campaign, and only those.
    let hello = |campaign: &str| {
        json!({"type": "hello", "version": 1,
               "token": keys.token_with(campaign, "alice", Role::Player, 600)})
        .to_string()
    };
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text(hello("warm-campaign")))
        .await
        .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    let v: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(v["type"], "welcome", "{v}");
    assert_eq!(v["campaign"], "warm-campaign");
    let (mut other, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    other
        .send(Message::text(hello("another-campaign")))
        .await
        .unwrap();
    match other.next().await {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 4003),
        m => panic!("not refused: {m:?}"),
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_warm_server_restarted_after_its_assignment_comes_back_as_the_campaigns_server() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let port = free_port();
    // As in a pod: the data dir and the join key come from the host.
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_game-server"))
            .arg("warm")
            .env("GS_LISTEN", format!("127.0.0.1:{port}"))
            .env("GS_ADMIN_TOKEN", "warm-admin-token")
            .env("GS_DATA_DIR", dir.path())
            .env("GS_JOIN_PUBLIC_KEY", &keys.public)
            .env("GS_TICK_MS", "200")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let wait_for = |path: &str, ok: fn(u16) -> bool| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { wait_until(&http, &url, ok).await }
    };
    let mut child = start();
    assert!(wait_for("/healthz", |s| s == 200).await);
    let opts = Opts::new(dir.path());
    // Another data dir than its own is refused: the kept assignment must
    // be where a restart looks for it.
    let elsewhere = http
        .post(format!("{base}/assign"))
        .bearer_auth("warm-admin-token")
        .json(&json!({"env": {"GS_CAMPAIGN_ID": "kept", "GS_SEED": "9",
                              "GS_SETTINGS": opts.settings(), "GS_DATA_DIR": "/tmp/elsewhere"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 422);
    let assigned = http
        .post(format!("{base}/assign"))
        .bearer_auth("warm-admin-token")
        .json(&json!({"env": {"GS_CAMPAIGN_ID": "kept", "GS_SEED": "9",
                              "GS_SETTINGS": opts.settings()}}))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 202);
    assert!(wait_for("/readyz", |s| s == 200).await, "never joinable");
    // The container dies and its pod starts it again, warm.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = start();
    assert!(
        wait_for("/readyz", |s| s == 200).await,
        "not back as the campaign"
    );
    let status = admin_status(&http, &base, "warm-admin-token").await;
    assert_eq!(status["phase"], "joinable", "{status}");
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::text(
        json!({"type": "hello", "version": 1,
               "token": keys.token_with("kept", "alice", Role::Player, 600)})
        .to_string(),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    let v: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(v["campaign"], "kept", "{v}");
    child.kill().unwrap();
    child.wait().unwrap();
}
