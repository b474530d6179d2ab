//! Test fixtures for the kube loop: a mocked API server (kube-rs's
//! tower-test pattern) that expects requests in order, checks each one and
//! answers like the real API server, plus GameServers and pods in given
//! states.

use axum::http::{Request, Response};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::Handle;

use std::sync::{Arc, Mutex};

use super::decide::{FINALIZER, PodSettings, desired_pod};
use super::pool::warm_pod;
use super::resources::{
    DesiredState, GameServer, GameServerPool, GameServerSpec, SnapshotLocation,
};

/// The mocked API server's side.
pub type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// The HTTP path a container probe asks, if it is an HTTP probe.
pub fn probe_path(p: &Option<k8s_openapi::api::core::v1::Probe>) -> Option<String> {
    p.clone().and_then(|p| p.http_get).and_then(|h| h.path)
}

/// A client talking to a mocked API server, and the server's handle.
pub fn mock_client() -> (kube::Client, ApiHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// A GameServer for campaign c42 in `default`, with or without the
/// finalizer.
pub fn game_server(finalizer: bool) -> GameServer {
    let settings = campaign_gen::Settings::builder()
        .players(4)
        .build()
        .unwrap_or_else(|_| unreachable!("valid test settings"));
    let mut gs = GameServer::new(
        "c42",
        GameServerSpec {
            campaign_id: "c42".into(),
            seed: "42".into(),
            settings: serde_json::to_string(&settings).unwrap_or_default(),
            generator_version: "v1".into(),
            image: "startales/game-server:1".into(),
            resources: None,
            snapshots: SnapshotLocation {
                url: "s3://snaps/c42".into(),
                endpoint: None,
                region: Some("eu-west-1".into()),
                credentials_secret: None,
            },
            narrator_tier: "gemini".into(),
            desired_state: DesiredState::Running,
            suspend: false,
            snapshot_request: None,
        },
    );
    gs.metadata.namespace = Some("default".into());
    gs.metadata.uid = Some("uid-c42".into());
    gs.metadata.generation = Some(1);
    if finalizer {
        gs.metadata.finalizers = Some(vec![FINALIZER.into()]);
    }
    gs
}

/// The pod the controller would make for `gs`, in `phase` (Running pods
/// are ready at `ip`).
pub fn pod(gs: &GameServer, phase: &str, ip: &str) -> Pod {
    let mut p = desired_pod(gs, &PodSettings::default());
    p.status = Some(PodStatus {
        phase: Some(phase.into()),
        pod_ip: Some(ip.into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if phase == "Running" { "True" } else { "False" }.into(),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    p
}

/// The API server's answer to a list of pods.
pub fn pod_list(pods: &[Pod]) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
           "items": pods})
}

/// A member of `pool` named `name` at `ip`, its warm server started or not.
pub fn warm_member(pool: &GameServerPool, name: &str, ip: &str, started: bool) -> Pod {
    let mut p = warm_pod(pool, &PodSettings::default());
    p.metadata.name = Some(name.into());
    p.metadata.generate_name = None;
    p.metadata.resource_version = Some("17".into());
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some(ip.into()),
        container_statuses: Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
            name: "game-server".into(),
            started: Some(started),
            state: Some(k8s_openapi::api::core::v1::ContainerState {
                running: Some(k8s_openapi::api::core::v1::ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..PodStatus::default()
    });
    p
}

/// A request a fake game server got: method, path, authorization, body.
pub type GameServerCall = (String, String, String, Value);

/// A fake game server on 127.0.0.1 answering `/status` (3 players, a
/// snapshot), `/snapshot` and `/assign` (with `assign_status`); returns
/// its port and the requests it got.
pub async fn fake_game_server(assign_status: u16) -> (u16, Arc<Mutex<Vec<GameServerCall>>>) {
    use axum::extract::Request as AxumRequest;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    let app = axum::Router::new().fallback(move |req: AxumRequest| {
        let log = log.clone();
        async move {
            let method = req.method().to_string();
            let path = req.uri().path().to_string();
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((method, path.clone(), auth, body));
            let (status, answer) = match path.as_str() {
                "/status" => (
                    200,
                    json!({"phase": "joinable", "players_online": 3,
                           "last_snapshot": {"key": "snapshots/c42/0007.db.zst",
                                             "state_hash": "abc123"}}),
                ),
                "/snapshot" => (200, json!({"key": "snap"})),
                "/assign" => (assign_status, json!({"status": "assigned"})),
                _ => (404, json!({})),
            };
            (
                axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(answer),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding a fake game server: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, calls)
}

/// The game servers' Secret as the API server returns it (admin token
/// `secret-admin`).
pub fn game_server_secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "startales-game-server"},
           "data": {"adminToken": "c2VjcmV0LWFkbWlu"}})
}

/// The API server's answer for a missing object.
pub fn not_found(name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{name} not found"), "reason": "NotFound", "code": 404})
}

/// The API server's answer for a conflict.
pub fn conflict(name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("Operation cannot be fulfilled on {name}: the object has been modified"),
           "reason": "Conflict", "code": 409})
}

/// One request the mocked API server expects, as it arrived.
#[derive(Debug)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Body, parsed (Null when empty).
    pub body: Value,
}

/// Expects the next request to be `method` on a URI starting with
/// `path`, answers `status` with `answer`, and returns what was sent.
pub async fn expect(
    handle: &mut ApiHandle,
    method: &str,
    path: &str,
    status: u16,
    answer: Value,
) -> Seen {
    let (request, send) = handle
        .next_request()
        .await
        .unwrap_or_else(|| panic!("expected {method} {path}; no request came"));
    let seen_method = request.method().to_string();
    let uri = request.uri().to_string();
    assert_eq!(seen_method, method, "{uri}");
    assert!(uri.starts_with(path), "expected {method} {path}, got {uri}");
    let bytes = request
        .into_body()
        .collect_bytes()
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    send.send_response(
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&answer).unwrap_or_default()))
            .unwrap_or_else(|_| unreachable!("a valid response")),
    );
    Seen {
        method: seen_method,
        uri,
        body,
    }
}
