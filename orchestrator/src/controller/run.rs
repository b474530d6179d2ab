//! The kube loop for GameServers: it watches GameServers and the pods they
//! own, observes what exists for one, asks [`decide`] what to do, and
//! carries it out with server-side apply under one field manager, deletes,
//! a snapshot request to the running server, finalizer patches, a status
//! patch and events. Failures requeue with a growing backoff and are
//! counted in the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource as _, ResourceExt as _};
use prometheus::{IntCounterVec, Opts, Registry};

use super::decide::{
    Action, CAMPAIGN_LABEL, FINALIZER, GAME_PORT, Observed, ObservedPod, PodSettings, PodState,
    decide, pod_name,
};
use super::resources::GameServer;

/// The field manager of every server-side apply the controller makes.
pub const MANAGER: &str = "startales-controller";

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The API server refused or could not be reached.
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

impl ControllerError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ControllerError::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            ControllerError::Kube(kube::Error::Api(_)) => "api",
            ControllerError::Kube(_) => "transport",
        }
    }
}

/// The controller's metrics.
#[derive(Debug, Clone)]
pub struct ControllerMetrics {
    /// Reconciles by outcome (ok or the error kind).
    pub reconciles: IntCounterVec,
}

impl ControllerMetrics {
    /// Metrics registered in `registry`.
    pub fn new(registry: &Registry) -> ControllerMetrics {
        let reconciles = IntCounterVec::new(
            Opts::new(
                "startales_controller_reconciles_total",
                "GameServer reconciles by outcome",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let _ = registry.register(Box::new(reconciles.clone()));
        ControllerMetrics { reconciles }
    }
}

/// What every reconcile can reach.
pub struct Context {
    /// The API server.
    pub client: kube::Client,
    /// Cluster-wide pod settings.
    pub settings: PodSettings,
    /// Event recorder (none: no events).
    pub recorder: Option<Recorder>,
    /// For snapshot requests to game servers.
    pub http: reqwest::Client,
    /// The port game servers answer on (8080 in a cluster).
    pub game_port: u16,
    /// Metrics.
    pub metrics: ControllerMetrics,
    /// Consecutive failures per object, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `client`.
    pub fn new(
        client: kube::Client,
        settings: PodSettings,
        recorder: Option<Recorder>,
        metrics: ControllerMetrics,
    ) -> Context {
        Context {
            client,
            settings,
            recorder,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            game_port: u16::try_from(GAME_PORT).unwrap_or(8080),
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

/// What the controller sees of a pod.
pub fn observe_pod(p: &Pod) -> ObservedPod {
    let status = p.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let state = match status.and_then(|s| s.phase.as_deref()) {
        Some("Running") => PodState::Running { ready },
        Some("Succeeded") => PodState::Succeeded,
        Some("Failed") => PodState::Failed,
        _ => PodState::Pending,
    };
    ObservedPod {
        name: p.name_any(),
        state,
        terminating: p.metadata.deletion_timestamp.is_some(),
        template_hash: p.annotations().get(super::decide::TEMPLATE_HASH).cloned(),
        ip: status.and_then(|s| s.pod_ip.clone()),
    }
}

async fn event(ctx: &Context, gs: &GameServer, type_: EventType, reason: &str, note: String) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = gs.object_ref(&());
    let e = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    if let Err(err) = recorder.publish(&e, &reference).await {
        tracing::warn!(error = %err, "event not recorded");
    }
}

async fn request_snapshot(ctx: &Context, gs: &GameServer, ns: &str, ip: Option<&str>) {
    let Some(ip) = ip else {
        return;
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let token = match secrets.get_opt(&ctx.settings.secret_name).await {
        Ok(Some(s)) => s.data.and_then(|d| {
            d.get("adminToken")
                .map(|b| String::from_utf8_lossy(&b.0).to_string())
        }),
        _ => None,
    };
    let Some(token) = token else {
        event(
            ctx,
            gs,
            EventType::Warning,
            "SnapshotSkipped",
            format!("secret {} has no adminToken", ctx.settings.secret_name),
        )
        .await;
        return;
    };
    let url = format!("http://{ip}:{}/snapshot", ctx.game_port);
    match ctx.http.post(url).bearer_auth(token).send().await {
        Ok(r) if r.status().is_success() => {
            event(
                ctx,
                gs,
                EventType::Normal,
                "SnapshotTaken",
                "the server wrote a snapshot".into(),
            )
            .await;
        }
        Ok(r) => {
            event(
                ctx,
                gs,
                EventType::Warning,
                "SnapshotFailed",
                format!("the server answered {}", r.status()),
            )
            .await;
        }
        Err(e) => {
            // The server also snapshots on SIGTERM; deleting stays safe.
            event(ctx, gs, EventType::Warning, "SnapshotFailed", e.to_string()).await;
        }
    }
}

/// Reconciles one GameServer.
pub async fn reconcile(gs: Arc<GameServer>, ctx: Arc<Context>) -> Result<Requeue, ControllerError> {
    let ns = gs.namespace().unwrap_or_else(|| "default".into());
    let name = gs.name_any();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let servers: Api<GameServer> = Api::namespaced(ctx.client.clone(), &ns);
    let pod = pods.get_opt(&pod_name(&gs)).await?;
    let observed = Observed {
        pod: pod.as_ref().map(observe_pod),
        final_snapshot_taken: false,
        players: gs.status.as_ref().map_or(0, |s| s.players),
    };
    let d = decide(&gs, &observed, &ctx.settings, jiff::Timestamp::now());
    for action in &d.actions {
        match action {
            Action::AddFinalizer => {
                let mut finalizers = gs.finalizers().to_vec();
                finalizers.push(FINALIZER.into());
                servers
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": finalizers}})),
                    )
                    .await?;
            }
            Action::ApplyPod(p) => {
                pods.patch(
                    &p.name_any(),
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(p.as_ref()),
                )
                .await?;
                event(
                    &ctx,
                    &gs,
                    EventType::Normal,
                    "PodApplied",
                    format!("pod {} for campaign {}", p.name_any(), gs.spec.campaign_id),
                )
                .await;
            }
            Action::DeletePod(p) => {
                match pods.delete(p, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
                event(
                    &ctx,
                    &gs,
                    EventType::Normal,
                    "PodDeleted",
                    format!("pod {p} (it takes a final snapshot as it stops)"),
                )
                .await;
            }
            Action::RequestSnapshot => {
                let ip = observed.pod.as_ref().and_then(|p| p.ip.as_deref());
                request_snapshot(&ctx, &gs, &ns, ip).await;
            }
            Action::RemoveFinalizer => {
                let finalizers: Vec<String> = gs
                    .finalizers()
                    .iter()
                    .filter(|f| f.as_str() != FINALIZER)
                    .cloned()
                    .collect();
                servers
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": finalizers}})),
                    )
                    .await?;
            }
        }
    }
    if let Some(status) = &d.status
        && gs.status.as_ref() != Some(status)
    {
        servers
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": status})),
            )
            .await?;
    }
    ctx.failures
        .lock()
        .map(|mut f| f.remove(&format!("{ns}/{name}")))
        .ok();
    ctx.metrics.reconciles.with_label_values(&["ok"]).inc();
    Ok(Requeue::requeue(d.requeue))
}

/// After a failed reconcile: count it, and retry after 1 s, 2 s, 4 s, ...
/// up to 5 minutes for the same object.
pub fn error_policy(gs: Arc<GameServer>, err: &ControllerError, ctx: Arc<Context>) -> Requeue {
    ctx.metrics
        .reconciles
        .with_label_values(&[err.kind()])
        .inc();
    let key = format!("{}/{}", gs.namespace().unwrap_or_default(), gs.name_any());
    let n = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    tracing::warn!(gameserver = %gs.name_any(), error = %err, failures = n, "reconcile failed");
    Requeue::requeue(backoff(n))
}

/// The wait after `n` consecutive failures.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(9)).min(Duration::from_secs(300))
}

/// Runs the controller until the stream ends (shutdown signal);
/// `instance` names this replica in events (its pod name).
pub async fn run(
    client: kube::Client,
    settings: PodSettings,
    metrics: ControllerMetrics,
    instance: Option<String>,
) {
    let servers: Api<GameServer> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance,
        },
    );
    let ctx = Arc::new(Context::new(client, settings, Some(recorder), metrics));
    Controller::new(servers, watcher::Config::default())
        .owns(pods, watcher::Config::default().labels(CAMPAIGN_LABEL))
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{conflict, expect, game_server, mock_client, not_found, pod};
    use serde_json::json;

    const PODS: &str = "/api/v1/namespaces/default/pods/gs-c42";
    const SERVER: &str = "/apis/startales.dev/v1alpha1/namespaces/default/gameservers/c42";

    fn context(client: kube::Client) -> Arc<Context> {
        Arc::new(Context::new(
            client,
            PodSettings::default(),
            None,
            ControllerMetrics::new(&Registry::new()),
        ))
    }

    #[tokio::test]
    async fn a_new_game_server_gets_its_finalizer_then_its_pod_by_server_side_apply() {
        let (client, mut api) = mock_client();
        let gs = game_server(false);
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", PODS, 404, not_found("gs-c42")).await;
            let fin = expect(&mut api, "PATCH", SERVER, 200, answer.clone()).await;
            assert_eq!(fin.body["metadata"]["finalizers"], json!([FINALIZER]));
            let apply = expect(
                &mut api,
                "PATCH",
                PODS,
                200,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gs-c42"}}),
            )
            .await;
            assert!(
                apply.uri.contains("fieldManager=startales-controller"),
                "{}",
                apply.uri
            );
            assert!(apply.uri.contains("force=true"), "{}", apply.uri);
            assert_eq!(apply.body["kind"], "Pod");
            assert_eq!(
                apply.body["metadata"]["ownerReferences"][0]["kind"],
                "GameServer"
            );
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["phase"], "Starting");
        });
        let requeue = reconcile(Arc::new(game_server(false)), context(client))
            .await
            .unwrap();
        assert_eq!(requeue, Requeue::requeue(Duration::from_secs(2)));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_ready_pod_makes_the_status_running_with_the_address() {
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let running = serde_json::to_value(pod(&gs, "Running", "10.1.2.3")).unwrap();
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", PODS, 200, running).await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["phase"], "Running");
            assert_eq!(status.body["status"]["ready"], true);
            assert_eq!(status.body["status"]["address"], "10.1.2.3:8080");
        });
        reconcile(Arc::new(gs), context(client)).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_pod_is_deleted_so_a_new_one_restores_the_newest_snapshot() {
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let failed = serde_json::to_value(pod(&gs, "Failed", "10.1.2.3")).unwrap();
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", PODS, 200, failed.clone()).await;
            expect(&mut api, "DELETE", PODS, 200, failed).await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["phase"], "Starting");
        });
        reconcile(Arc::new(gs), context(client)).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_conflict_fails_the_reconcile_counts_it_and_backs_off() {
        let (client, mut api) = mock_client();
        let gs = Arc::new(game_server(true));
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", PODS, 404, not_found("gs-c42")).await;
            expect(&mut api, "PATCH", PODS, 409, conflict("gs-c42")).await;
        });
        let ctx = context(client);
        let err = reconcile(gs.clone(), ctx.clone()).await.unwrap_err();
        assert_eq!(err.kind(), "conflict");
        assert_eq!(
            error_policy(gs.clone(), &err, ctx.clone()),
            Requeue::requeue(Duration::from_secs(1))
        );
        assert_eq!(
            error_policy(gs, &err, ctx.clone()),
            Requeue::requeue(Duration::from_secs(2))
        );
        assert_eq!(
            ctx.metrics
                .reconciles
                .with_label_values(&["conflict"])
                .get(),
            2
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn deleting_takes_a_final_snapshot_then_removes_the_pod_and_then_the_finalizer() {
        // The "pod": a server that records the snapshot request.
        let asked = Arc::new(Mutex::new(Vec::<String>::new()));
        let log = asked.clone();
        let app = axum::Router::new().route(
            "/snapshot",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    log.lock().unwrap().push(auth);
                    axum::Json(json!({"key": "snap"}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let (client, mut api) = mock_client();
        let mut gs = game_server(true);
        gs.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        let running = serde_json::to_value(pod(&gs, "Running", "127.0.0.1")).unwrap();
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", PODS, 200, running.clone()).await;
            expect(
                &mut api,
                "GET",
                "/api/v1/namespaces/default/secrets/startales-game-server",
                200,
                json!({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "startales-game-server"},
                       "data": {"adminToken": "c2VjcmV0LWFkbWlu"}}),
            )
            .await;
            expect(&mut api, "DELETE", PODS, 200, running).await;
            // Next round: the pod is gone, the finalizer goes.
            expect(&mut api, "GET", PODS, 404, not_found("gs-c42")).await;
            let fin = expect(&mut api, "PATCH", SERVER, 200, answer).await;
            assert_eq!(fin.body["metadata"]["finalizers"], json!([]));
        });
        let mut ctx = Context::new(
            client,
            PodSettings::default(),
            None,
            ControllerMetrics::new(&Registry::new()),
        );
        ctx.game_port = port;
        let ctx = Arc::new(ctx);
        let gs = Arc::new(gs);
        reconcile(gs.clone(), ctx.clone()).await.unwrap();
        assert_eq!(*asked.lock().unwrap(), ["Bearer secret-admin"]);
        reconcile(gs, ctx).await.unwrap();
        server.await.unwrap();
    }

    #[test]
    fn the_backoff_doubles_from_a_second_to_five_minutes() {
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
