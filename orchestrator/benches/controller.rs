//! Reconciling 10,000 GameServers against a mocked API server that
//! answers at once: first as new resources (their pods listed, no warm
//! server free, finalizer, pod by server-side apply, status: five
//! requests each), then in steady state (their pods ready: a list, the
//! server's own `/status` over HTTP from a local stand-in, a status patch).
//! Prints wall time and the process's CPU time. Run with
//! `cargo bench -p orchestrator --bench controller`.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{Request, Response};
use futures_util::StreamExt as _;
use kube::client::Body;
use orchestrator::controller::decide::{FINALIZER, PodSettings, desired_pod};
use orchestrator::controller::resources::{
    DesiredState, GameServer, GameServerSpec, SnapshotLocation,
};
use orchestrator::controller::run::{Context, ControllerMetrics, reconcile};
use serde_json::{Value, json};

const SERVERS: usize = 10_000;

/// CPU time (user + system) of this process so far, seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (11 and 12 after the name);
    // the kernel counts 100 ticks a second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn server(i: usize, finalizer: bool) -> GameServer {
    let name = format!("c{i}");
    let mut gs = GameServer::new(
        &name,
        GameServerSpec {
            campaign_id: name.clone(),
            seed: i.to_string(),
            settings: r#"{"players":4,"galaxy":"small","difficulty":"normal","mode":"conquest","species_pool":null,"generator_version":"v1"}"#.into(),
            generator_version: "v1".into(),
            image: "startales/game-server:1".into(),
            resources: None,
            snapshots: SnapshotLocation {
                url: format!("s3://snaps/{name}"),
                endpoint: None,
                region: None,
                credentials_secret: None,
            },
            narrator_tier: "gemini".into(),
            desired_state: DesiredState::Running,
            suspend: false,
            snapshot_request: None,
        },
    );
    gs.metadata.namespace = Some("default".into());
    gs.metadata.uid = Some(format!("uid-{i}"));
    gs.metadata.generation = Some(1);
    if finalizer {
        gs.metadata.finalizers = Some(vec![FINALIZER.into()]);
    }
    gs
}

fn answer(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_else(|_| unreachable!())
}

/// The mocked API server: pods are missing until `ready`, then ready.
fn api(ready: bool) -> kube::Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or_default().to_string();
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            let reply = match (req.method().as_str(), path.as_str()) {
                ("GET", "/api/v1/namespaces/default/pods") => {
                    // A campaign's pods by label, or the unclaimed warm ones.
                    let campaign = query
                        .split("campaign%3D")
                        .nth(1)
                        .map(|c| c.split('&').next().unwrap_or_default().to_string());
                    let items = match campaign {
                        Some(c) if ready => {
                            let i: usize = c.trim_start_matches('c').parse().unwrap_or(0);
                            let mut p = desired_pod(&server(i, true), &PodSettings::default());
                            p.status = serde_json::from_value(json!({
                                "phase": "Running", "podIP": "127.0.0.1",
                                "conditions": [{"type": "Ready", "status": "True"}]}))
                            .ok();
                            vec![serde_json::to_value(p).unwrap_or_default()]
                        }
                        _ => vec![],
                    };
                    answer(
                        200,
                        &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}),
                    )
                }
                ("GET", p) if p.contains("/secrets/") => answer(
                    200,
                    &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                            "data": {"adminToken": "c2VjcmV0"}}),
                ),
                ("PATCH", p) if p.contains("/pods/") => answer(
                    200,
                    &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}}),
                ),
                _ => {
                    let gs_name = path
                        .trim_end_matches("/status")
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let i: usize = gs_name.trim_start_matches('c').parse().unwrap_or(0);
                    answer(
                        200,
                        &serde_json::to_value(server(i, true)).unwrap_or_default(),
                    )
                }
            };
            send.send_response(reply);
        }
    });
    kube::Client::new(service, "default")
}

/// A stand-in for every running game server's `/status`.
async fn game_servers() -> u16 {
    let app = axum::Router::new().route(
        "/status",
        axum::routing::get(|| async {
            axum::Json(json!({"phase": "joinable", "players_online": 4,
                              "last_snapshot": {"key": "k", "state_hash": "h"}}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn pass(label: &str, ready: bool) {
    let mut ctx = Context::new(
        api(ready),
        PodSettings::default(),
        None,
        ControllerMetrics::new(&prometheus::Registry::new()),
    );
    ctx.game_port = game_servers().await;
    let ctx = Arc::new(ctx);
    let servers: Vec<Arc<GameServer>> = (0..SERVERS).map(|i| Arc::new(server(i, ready))).collect();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let failures = futures_util::stream::iter(servers)
        .map(|gs| {
            let ctx = ctx.clone();
            async move { reconcile(gs, ctx).await.is_err() }
        })
        .buffer_unordered(64)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let (wall, cpu) = (t0.elapsed(), cpu_seconds() - cpu0);
    println!(
        "{label}: {SERVERS} GameServers reconciled in {:.2} s wall, {cpu:.2} s CPU \
         ({:.0} reconciles/s, {:.0} µs CPU each), {failures} failed",
        wall.as_secs_f64(),
        SERVERS as f64 / wall.as_secs_f64(),
        cpu * 1e6 / SERVERS as f64,
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        pass("new servers (finalizer, pod, status)", false).await;
        pass("steady state (pod ready, status)", true).await;
    });
}
