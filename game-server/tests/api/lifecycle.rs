//! Lifecycle: readiness, admin status, metrics, graceful SIGTERM, refusing
//! bad databases.

use std::sync::Arc;

use game_server::protocol::{Command, Role, ServerMsg, close_code};

use crate::helpers::{ADMIN, Keys, Opts, Server, run_to_exit};

#[tokio::test]
async fn the_server_becomes_ready_and_reports_status_to_admins_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Opts::new(dir.path()), Arc::new(Keys::new())).await;
    let client = reqwest::Client::new();

    let health: serde_json::Value = client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "alive");
    assert_eq!(health["phase"], "joinable");
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let denied = client.get(server.url("/status")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let body: serde_json::Value = denied.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = client
        .get(server.url("/status"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let status = server.status().await;
    assert_eq!(status["phase"], "joinable");
    assert_eq!(status["players_online"], 0);
    assert_eq!(status["state_hash"].as_str().unwrap().len(), 64);
    assert_eq!(status["narrator"]["active"], "offline");

    let (_c, _) = server.join("alice", Role::Player, None).await;
    let status = server.status().await;
    assert_eq!(status["players_online"], 1);
    let metrics = server.metrics().await;
    for name in [
        "gameserver_tick_duration_seconds",
        "gameserver_players_online 1",
        "gameserver_narrator_circuit_open 0",
        "gameserver_snapshot_failures_total",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
}

#[tokio::test]
async fn unknown_endpoints_and_methods_answer_with_the_json_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Opts::new(dir.path()), Arc::new(Keys::new())).await;
    let client = reqwest::Client::new();
    let r = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let r = client.get(server.url("/snapshot")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn snapshot_without_an_object_store_is_a_clear_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Opts::new(dir.path()), Arc::new(Keys::new())).await;
    let r = reqwest::Client::new()
        .post(server.url("/snapshot"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no object store")
    );
}

#[tokio::test]
async fn sigterm_snapshots_closes_sockets_with_a_reason_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(dir.path());
    opts.object_store_url = Some(format!("file://{}", store.path().display()));
    let server = Server::start(opts, Arc::new(Keys::new())).await;
    let (mut c, _) = server.join("alice", Role::Player, None).await;
    c.command(
        1,
        Command::Research {
            field: game_server::protocol::Field::Industry,
        },
    )
    .await;
    assert!(matches!(c.answer(1).await, ServerMsg::Ack { .. }));

    let started = std::time::Instant::now();
    let (code, log) = server.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::GOING_AWAY);
    assert!(closed.reason.contains("shutting down"), "{closed:?}");
    assert!(
        log.contains("draining") && log.contains("snapshot written"),
        "{log}"
    );
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path().join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["commands"], 1);
    assert_eq!(latest["campaign_id"], "camp-1");
}

#[tokio::test]
async fn a_database_from_a_newer_schema_stops_startup_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("game.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let (code, stderr) = run_to_exit(&Opts::new(dir.path()), &Keys::new()).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("schema version 99 is newer"), "{stderr}");
}

#[tokio::test]
async fn bad_configuration_exits_non_zero_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(dir.path());
    opts.env
        .push(("GS_JOIN_PUBLIC_KEY".into(), "not-a-key!!".into()));
    let (code, stderr) = run_to_exit(&opts, &Keys::new()).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("public key"), "{stderr}");
}
