//! The kube loops for GameServers and GameServerPools: each watches its
//! resource and the pods it owns, observes what exists for one object,
//! asks the pure decisions ([`decide`], [`decide_pool`]) what to do, and
//! carries it out: server-side apply under one field manager, creates and
//! deletes, claims of warm pods, calls to the game servers themselves
//! (status, snapshot, assignment), finalizer patches, a status patch and
//! events. Failures requeue with a growing backoff and are counted in the
//! metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt as _};
use prometheus::{IntCounterVec, Opts, Registry};

use super::decide::{
    Action, CAMPAIGN_LABEL, FINALIZER, GAME_PORT, Observed, ObservedPod, PodSettings, PodState,
    decide, wants_pod,
};
use super::pool::{
    POOL_LABEL, UNCLAIMED_SELECTOR, WarmPod, assignment, claim_patch, decide_pool, observe_warm,
    pick_warm, pool_selector, warm_pod,
};
use super::resources::{GameServer, GameServerPool};

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
    /// Reconciles by resource kind and outcome (ok or the error kind).
    pub reconciles: IntCounterVec,
}

impl ControllerMetrics {
    /// Metrics registered in `registry`.
    pub fn new(registry: &Registry) -> ControllerMetrics {
        let reconciles = IntCounterVec::new(
            Opts::new(
                "startales_controller_reconciles_total",
                "GameServer and GameServerPool reconciles by kind and outcome",
            ),
            &["kind", "outcome"],
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
    /// The game servers' admin token per namespace, read from their Secret
    /// at most once a minute.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
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
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The game servers' admin token in `ns`, from their Secret.
    async fn admin_token(&self, ns: &str) -> Option<String> {
        const FRESH: Duration = Duration::from_secs(60);
        if let Some((t, at)) = self.tokens.lock().ok().and_then(|m| m.get(ns).cloned())
            && at.elapsed() < FRESH
        {
            return Some(t);
        }
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let token = match secrets.get_opt(&self.settings.secret_name).await {
            Ok(Some(s)) => s.data.and_then(|d| {
                d.get("adminToken")
                    .map(|b| String::from_utf8_lossy(&b.0).to_string())
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "reading the game servers' Secret failed");
                None
            }
        }?;
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(ns.to_string(), (token.clone(), Instant::now()));
        }
        Some(token)
    }

    /// The game server at `ip`'s address for `path`.
    fn game_url(&self, ip: &str, path: &str) -> String {
        format!("http://{ip}:{}{path}", self.game_port)
    }
}

/// What a running game server says of itself (`GET /status`).
#[derive(Debug, Default, serde::Deserialize)]
struct ServerReport {
    #[serde(default)]
    players_online: Option<u32>,
    #[serde(default)]
    last_snapshot: Option<SnapshotReport>,
}

#[derive(Debug, serde::Deserialize)]
struct SnapshotReport {
    key: String,
    state_hash: String,
}

/// Asks a ready server for its players and newest snapshot; None when it
/// cannot say (the status keeps what it had).
async fn report(ctx: &Context, ns: &str, ip: &str) -> Option<ServerReport> {
    let token = ctx.admin_token(ns).await?;
    let r = ctx
        .http
        .get(ctx.game_url(ip, "/status"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
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

async fn event<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = obj.object_ref(&());
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
    let Some(token) = ctx.admin_token(ns).await else {
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
    let url = ctx.game_url(ip, "/snapshot");
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

/// Whether `p` is controlled by the object with `uid`.
fn controlled_by(p: &Pod, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| {
        p.owner_references()
            .iter()
            .any(|o| o.uid == uid && o.controller == Some(true))
    })
}

/// The pods a GameServer owns: the one to act on (live before
/// terminating, ready before not) and any other live ones.
async fn observe_pods(
    pods: &Api<Pod>,
    gs: &GameServer,
) -> Result<(Option<ObservedPod>, Vec<String>), ControllerError> {
    let list = pods
        .list(&ListParams::default().labels(&format!("{CAMPAIGN_LABEL}={}", gs.spec.campaign_id)))
        .await?;
    let uid = gs.uid();
    let mut mine: Vec<ObservedPod> = list
        .items
        .iter()
        .filter(|p| controlled_by(p, uid.as_deref()))
        .map(observe_pod)
        .collect();
    mine.sort_by(|a, b| {
        a.terminating
            .cmp(&b.terminating)
            .then(
                matches!(b.state, PodState::Running { ready: true })
                    .cmp(&matches!(a.state, PodState::Running { ready: true })),
            )
            .then(a.name.cmp(&b.name))
    });
    let mut rest = mine.into_iter();
    let pod = rest.next();
    let surplus = rest.filter(|p| !p.terminating).map(|p| p.name).collect();
    Ok((pod, surplus))
}

/// Takes a warm server: claims its pod (conditionally: a 409 means
/// another campaign took it first), then assigns it the campaign. A claimed
/// server that refuses the assignment is deleted, so the next round starts
/// a fresh one.
async fn take_warm(
    ctx: &Context,
    gs: &GameServer,
    pods: &Api<Pod>,
    ns: &str,
    w: &WarmPod,
) -> Result<(), ControllerError> {
    pods.patch(
        &w.name,
        &PatchParams {
            field_manager: Some(MANAGER.into()),
            ..PatchParams::default()
        },
        &Patch::Merge(claim_patch(gs, w, &ctx.settings)),
    )
    .await?;
    let outcome = match (ctx.admin_token(ns).await, w.ip.as_deref()) {
        (Some(token), Some(ip)) => ctx
            .http
            .post(ctx.game_url(ip, "/assign"))
            .bearer_auth(token)
            .json(&serde_json::json!({"env": assignment(gs, &ctx.settings)}))
            .send()
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("the server answered {}", r.status()))
                }
            }),
        (None, _) => Err(format!(
            "secret {} has no adminToken",
            ctx.settings.secret_name
        )),
        (_, None) => Err("the warm pod has no address".into()),
    };
    match outcome {
        Ok(()) => {
            event(
                ctx,
                gs,
                EventType::Normal,
                "WarmServerTaken",
                format!(
                    "warm pod {} now serves campaign {}",
                    w.name, gs.spec.campaign_id
                ),
            )
            .await;
        }
        Err(why) => {
            event(
                ctx,
                gs,
                EventType::Warning,
                "WarmAssignFailed",
                format!("warm pod {}: {why}; replacing it", w.name),
            )
            .await;
            delete_pod(pods, &w.name).await?;
        }
    }
    Ok(())
}

/// Deletes a pod; one already gone is no error.
async fn delete_pod(pods: &Api<Pod>, name: &str) -> Result<(), ControllerError> {
    match pods.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reconciles one GameServer.
pub async fn reconcile(gs: Arc<GameServer>, ctx: Arc<Context>) -> Result<Requeue, ControllerError> {
    let ns = gs.namespace().unwrap_or_else(|| "default".into());
    let name = gs.name_any();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let servers: Api<GameServer> = Api::namespaced(ctx.client.clone(), &ns);
    let (pod, surplus) = observe_pods(&pods, &gs).await?;
    let previous = gs.status.clone().unwrap_or_default();
    let mut observed = Observed {
        pod,
        surplus,
        warm: None,
        final_snapshot_taken: false,
        players: previous.players,
        last_snapshot: None,
        state_hash: None,
    };
    match &observed.pod {
        None if wants_pod(&gs) => {
            let warm: Vec<WarmPod> = pods
                .list(&ListParams::default().labels(UNCLAIMED_SELECTOR))
                .await?
                .items
                .iter()
                .map(observe_warm)
                .collect();
            observed.warm = pick_warm(&gs, &warm).cloned();
        }
        Some(p)
            if matches!(p.state, PodState::Running { ready: true })
                && !p.terminating
                && gs.metadata.deletion_timestamp.is_none() =>
        {
            if let Some(ip) = p.ip.as_deref()
                && let Some(r) = report(&ctx, &ns, ip).await
            {
                observed.players = r.players_online.unwrap_or(0);
                if let Some(snap) = r.last_snapshot {
                    observed.last_snapshot = Some(snap.key);
                    observed.state_hash = Some(snap.state_hash);
                }
            }
        }
        _ => {}
    }
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
                    gs.as_ref(),
                    EventType::Normal,
                    "PodApplied",
                    format!("pod {} for campaign {}", p.name_any(), gs.spec.campaign_id),
                )
                .await;
            }
            Action::TakeWarm(w) => {
                if let Some(warm) = observed.warm.as_ref().filter(|x| &x.name == w) {
                    take_warm(&ctx, &gs, &pods, &ns, warm).await?;
                }
            }
            Action::DeletePod(p) => {
                delete_pod(&pods, p).await?;
                event(
                    &ctx,
                    gs.as_ref(),
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
    succeeded(&ctx, gs.as_ref());
    Ok(Requeue::requeue(d.requeue))
}

/// Reconciles one GameServerPool: dead, outdated and surplus members go,
/// missing ones are made, and the status says how many wait.
pub async fn reconcile_pool(
    pool: Arc<GameServerPool>,
    ctx: Arc<Context>,
) -> Result<Requeue, ControllerError> {
    let ns = pool.namespace().unwrap_or_else(|| "default".into());
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pools: Api<GameServerPool> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = pool.uid();
    let members: Vec<WarmPod> = pods
        .list(&ListParams::default().labels(&format!("{},!{CAMPAIGN_LABEL}", pool_selector(&pool))))
        .await?
        .items
        .iter()
        .filter(|p| controlled_by(p, uid.as_deref()))
        .map(observe_warm)
        .collect();
    let d = decide_pool(&pool, &members, &ctx.settings);
    for name in &d.delete {
        delete_pod(&pods, name).await?;
    }
    if !d.delete.is_empty() {
        event(
            &ctx,
            pool.as_ref(),
            EventType::Normal,
            "WarmServersDeleted",
            d.delete.join(", "),
        )
        .await;
    }
    if d.create > 0 {
        let template = warm_pod(&pool, &ctx.settings);
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..PostParams::default()
        };
        for _ in 0..d.create {
            pods.create(&params, &template).await?;
        }
        event(
            &ctx,
            pool.as_ref(),
            EventType::Normal,
            "WarmServersCreated",
            format!("{} warm game server(s) starting", d.create),
        )
        .await;
    }
    if pool.status.as_ref() != Some(&d.status) {
        pools
            .patch_status(
                &pool.name_any(),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": d.status})),
            )
            .await?;
    }
    succeeded(&ctx, pool.as_ref());
    Ok(Requeue::requeue(d.requeue))
}

/// The backoff key of an object.
fn failure_key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn succeeded<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K) {
    ctx.failures
        .lock()
        .map(|mut f| f.remove(&failure_key(obj)))
        .ok();
    ctx.metrics
        .reconciles
        .with_label_values(&[K::kind(&()).as_ref(), "ok"])
        .inc();
}

/// After a failed reconcile: count it, and retry after 1 s, 2 s, 4 s, ...
/// up to 5 minutes for the same object.
pub fn error_policy<K: Resource<DynamicType = ()>>(
    obj: Arc<K>,
    err: &ControllerError,
    ctx: Arc<Context>,
) -> Requeue {
    ctx.metrics
        .reconciles
        .with_label_values(&[K::kind(&()).as_ref(), err.kind()])
        .inc();
    let n = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(failure_key(obj.as_ref())).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    tracing::warn!(kind = %K::kind(&()), name = %obj.name_any(), error = %err, failures = n, "reconcile failed");
    Requeue::requeue(backoff(n))
}

/// The wait after `n` consecutive failures.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(9)).min(Duration::from_secs(300))
}

async fn log_outcome<T, E: std::fmt::Display>(r: Result<T, E>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "controller event");
    }
}

/// Runs the GameServer and GameServerPool controllers until the streams
/// end (shutdown signal); `instance` names this replica in events (its pod
/// name).
pub async fn run(
    client: kube::Client,
    settings: PodSettings,
    metrics: ControllerMetrics,
    instance: Option<String>,
) {
    let servers: Api<GameServer> = Api::all(client.clone());
    let pools: Api<GameServerPool> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance,
        },
    );
    let ctx = Arc::new(Context::new(client, settings, Some(recorder), metrics));
    let game_servers = Controller::new(servers, watcher::Config::default())
        .owns(
            pods.clone(),
            watcher::Config::default().labels(CAMPAIGN_LABEL),
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx.clone())
        .for_each(log_outcome);
    let warm_pools = Controller::new(pools, watcher::Config::default())
        .owns(pods, watcher::Config::default().labels(POOL_LABEL))
        .shutdown_on_signal()
        .run(reconcile_pool, error_policy, ctx)
        .for_each(log_outcome);
    futures_util::future::join(game_servers, warm_pools).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{
        conflict, expect, fake_game_server, game_server, game_server_secret, mock_client,
        not_found, pod, pod_list, warm_member,
    };
    use crate::controller::pool::tests::pool;
    use serde_json::json;

    const PODS: &str = "/api/v1/namespaces/default/pods";
    const CAMPAIGN_PODS: &str =
        "/api/v1/namespaces/default/pods?&labelSelector=startales.dev%2Fcampaign%3Dc42";
    const WARM_PODS: &str = "/api/v1/namespaces/default/pods?&labelSelector=startales.dev%2Fpool%2C%21startales.dev%2Fcampaign";
    const POD: &str = "/api/v1/namespaces/default/pods/gs-c42";
    const SECRET: &str = "/api/v1/namespaces/default/secrets/startales-game-server";
    const SERVER: &str = "/apis/startales.dev/v1alpha1/namespaces/default/gameservers/c42";
    const POOL: &str = "/apis/startales.dev/v1alpha1/namespaces/default/gameserverpools/warm";

    fn context(client: kube::Client) -> Context {
        Context::new(
            client,
            PodSettings::default(),
            None,
            ControllerMetrics::new(&Registry::new()),
        )
    }

    #[tokio::test]
    async fn a_new_game_server_gets_its_finalizer_then_its_pod_by_server_side_apply() {
        let (client, mut api) = mock_client();
        let gs = game_server(false);
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            // No warm server waits, so it gets a pod of its own.
            expect(&mut api, "GET", WARM_PODS, 200, pod_list(&[])).await;
            let fin = expect(&mut api, "PATCH", SERVER, 200, answer.clone()).await;
            assert_eq!(fin.body["metadata"]["finalizers"], json!([FINALIZER]));
            let apply = expect(
                &mut api,
                "PATCH",
                POD,
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
            assert_eq!(status.body["status"]["pod"], "gs-c42");
        });
        let requeue = reconcile(Arc::new(game_server(false)), Arc::new(context(client)))
            .await
            .unwrap();
        assert_eq!(requeue, Requeue::requeue(Duration::from_secs(2)));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_ready_pod_makes_the_status_running_with_the_address_players_and_newest_snapshot() {
        let (port, calls) = fake_game_server(202).await;
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let running = pod(&gs, "Running", "127.0.0.1");
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[running])).await;
            expect(&mut api, "GET", SECRET, 200, game_server_secret()).await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            let s = &status.body["status"];
            assert_eq!(s["phase"], "Running");
            assert_eq!(s["ready"], true);
            assert_eq!(s["address"], "127.0.0.1:8080");
            assert_eq!(s["players"], 3);
            assert_eq!(s["lastSnapshot"], "snapshots/c42/0007.db.zst");
            assert_eq!(s["stateHash"], "abc123");
        });
        let mut ctx = context(client);
        ctx.game_port = port;
        reconcile(Arc::new(gs), Arc::new(ctx)).await.unwrap();
        server.await.unwrap();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].1.as_str(), calls[0].2.as_str()),
            ("/status", "Bearer secret-admin")
        );
    }

    #[tokio::test]
    async fn a_lost_pod_is_deleted_so_a_new_one_restores_the_newest_snapshot() {
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let failed = pod(&gs, "Failed", "10.1.2.3");
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                CAMPAIGN_PODS,
                200,
                pod_list(std::slice::from_ref(&failed)),
            )
            .await;
            expect(
                &mut api,
                "DELETE",
                POD,
                200,
                serde_json::to_value(&failed).unwrap(),
            )
            .await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["phase"], "Starting");
        });
        reconcile(Arc::new(gs), Arc::new(context(client)))
            .await
            .unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn pods_of_other_owners_are_ignored_and_a_second_live_pod_of_ours_is_removed() {
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let mut stranger = pod(&gs, "Running", "10.1.2.4");
        stranger.metadata.name = Some("gs-c42-old".into());
        stranger.metadata.owner_references.as_mut().unwrap()[0].uid = "uid-someone-else".into();
        let mut twin = pod(&gs, "Pending", "10.1.2.5");
        twin.metadata.name = Some("gs-c42-twin".into());
        let main = pod(&gs, "Running", "10.1.2.3");
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                CAMPAIGN_PODS,
                200,
                pod_list(&[twin.clone(), stranger, main]),
            )
            .await;
            // The ready one is kept; its report fails (nobody listens), which
            // leaves the players as they were.
            expect(&mut api, "GET", SECRET, 200, game_server_secret()).await;
            expect(
                &mut api,
                "DELETE",
                &format!("{PODS}/gs-c42-twin"),
                200,
                serde_json::to_value(&twin).unwrap(),
            )
            .await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["pod"], "gs-c42");
        });
        let mut ctx = context(client);
        ctx.game_port = 9; // discard: nothing answers
        reconcile(Arc::new(gs), Arc::new(ctx)).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_conflict_fails_the_reconcile_counts_it_and_backs_off() {
        let (client, mut api) = mock_client();
        let gs = Arc::new(game_server(true));
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            expect(&mut api, "GET", WARM_PODS, 200, pod_list(&[])).await;
            expect(&mut api, "PATCH", POD, 409, conflict("gs-c42")).await;
        });
        let ctx = Arc::new(context(client));
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
                .with_label_values(&["GameServer", "conflict"])
                .get(),
            2
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn deleting_takes_a_final_snapshot_then_removes_the_pod_and_then_the_finalizer() {
        let (port, calls) = fake_game_server(202).await;
        let (client, mut api) = mock_client();
        let mut gs = game_server(true);
        gs.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        let running = pod(&gs, "Running", "127.0.0.1");
        let answer = serde_json::to_value(&gs).unwrap();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                CAMPAIGN_PODS,
                200,
                pod_list(std::slice::from_ref(&running)),
            )
            .await;
            expect(&mut api, "GET", SECRET, 200, game_server_secret()).await;
            expect(
                &mut api,
                "DELETE",
                POD,
                200,
                serde_json::to_value(&running).unwrap(),
            )
            .await;
            // Next round: the pod is gone, the finalizer goes.
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            let fin = expect(&mut api, "PATCH", SERVER, 200, answer).await;
            assert_eq!(fin.body["metadata"]["finalizers"], json!([]));
        });
        let mut ctx = context(client);
        ctx.game_port = port;
        let ctx = Arc::new(ctx);
        let gs = Arc::new(gs);
        reconcile(gs.clone(), ctx.clone()).await.unwrap();
        {
            let calls = calls.lock().unwrap();
            let asked: Vec<_> = calls.iter().map(|c| (c.1.as_str(), c.2.as_str())).collect();
            assert_eq!(asked, [("/snapshot", "Bearer secret-admin")]);
        }
        reconcile(gs, ctx).await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_campaign_due_to_start_takes_a_warm_server_claims_it_and_assigns_it_the_campaign() {
        let (port, calls) = fake_game_server(202).await;
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let p = pool(2);
        let cold = warm_member(&p, "warm-cold", "127.0.0.1", false);
        let ready = warm_member(&p, "warm-ab12", "127.0.0.1", true);
        let answer = serde_json::to_value(&gs).unwrap();
        let claimed = serde_json::to_value(&ready).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            expect(&mut api, "GET", WARM_PODS, 200, pod_list(&[cold, ready])).await;
            let claim = expect(
                &mut api,
                "PATCH",
                &format!("{PODS}/warm-ab12"),
                200,
                claimed,
            )
            .await;
            assert!(
                claim.uri.contains("fieldManager=startales-controller"),
                "{}",
                claim.uri
            );
            let m = &claim.body["metadata"];
            assert_eq!(
                m["resourceVersion"], "17",
                "the claim is a compare-and-swap"
            );
            assert_eq!(m["labels"]["startales.dev/pool"], serde_json::Value::Null);
            assert_eq!(m["labels"]["startales.dev/campaign"], "c42");
            assert_eq!(m["ownerReferences"][0]["kind"], "GameServer");
            expect(&mut api, "GET", SECRET, 200, game_server_secret()).await;
            let status = expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["phase"], "Starting");
            assert_eq!(status.body["status"]["pod"], "warm-ab12");
        });
        let mut ctx = context(client);
        ctx.game_port = port;
        reconcile(Arc::new(gs), Arc::new(ctx)).await.unwrap();
        server.await.unwrap();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (method, path, auth, body) = &calls[0];
        assert_eq!(
            (method.as_str(), path.as_str(), auth.as_str()),
            ("POST", "/assign", "Bearer secret-admin")
        );
        assert_eq!(body["env"]["GS_CAMPAIGN_ID"], "c42");
        assert_eq!(body["env"]["GS_SEED"], "42");
        assert!(body["env"].get("GS_ADMIN_TOKEN").is_none());
    }

    #[tokio::test]
    async fn a_warm_server_taken_by_another_campaign_first_is_a_conflict_to_retry() {
        let (client, mut api) = mock_client();
        let gs = Arc::new(game_server(true));
        let ready = warm_member(&pool(1), "warm-ab12", "127.0.0.1", true);
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            expect(&mut api, "GET", WARM_PODS, 200, pod_list(&[ready])).await;
            expect(
                &mut api,
                "PATCH",
                &format!("{PODS}/warm-ab12"),
                409,
                conflict("warm-ab12"),
            )
            .await;
        });
        let err = reconcile(gs, Arc::new(context(client))).await.unwrap_err();
        assert_eq!(err.kind(), "conflict");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_warm_server_that_refuses_its_assignment_is_deleted_for_a_fresh_one() {
        let (port, calls) = fake_game_server(409).await;
        let (client, mut api) = mock_client();
        let gs = game_server(true);
        let ready = warm_member(&pool(1), "warm-ab12", "127.0.0.1", true);
        let answer = serde_json::to_value(&gs).unwrap();
        let claimed = serde_json::to_value(&ready).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", CAMPAIGN_PODS, 200, pod_list(&[])).await;
            expect(&mut api, "GET", WARM_PODS, 200, pod_list(&[ready])).await;
            expect(
                &mut api,
                "PATCH",
                &format!("{PODS}/warm-ab12"),
                200,
                claimed.clone(),
            )
            .await;
            expect(&mut api, "GET", SECRET, 200, game_server_secret()).await;
            expect(
                &mut api,
                "DELETE",
                &format!("{PODS}/warm-ab12"),
                200,
                claimed,
            )
            .await;
            expect(&mut api, "PATCH", &format!("{SERVER}/status"), 200, answer).await;
        });
        let mut ctx = context(client);
        ctx.game_port = port;
        reconcile(Arc::new(gs), Arc::new(ctx)).await.unwrap();
        server.await.unwrap();
        assert_eq!(calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_pool_scaled_up_creates_warm_servers_and_reports_them() {
        let (client, mut api) = mock_client();
        let p = pool(3);
        let member = warm_member(&p, "warm-a1", "10.0.0.1", true);
        let answer = serde_json::to_value(&p).unwrap();
        let made = serde_json::to_value(&member).unwrap();
        let server = tokio::spawn(async move {
            let list = expect(&mut api, "GET", PODS, 200, pod_list(&[member])).await;
            assert!(
                list.uri.contains(
                    "labelSelector=startales.dev%2Fpool%3Dwarm%2C%21startales.dev%2Fcampaign"
                ),
                "{}",
                list.uri
            );
            for _ in 0..2 {
                let create = expect(&mut api, "POST", PODS, 201, made.clone()).await;
                assert!(
                    create.uri.contains("fieldManager=startales-controller"),
                    "{}",
                    create.uri
                );
                assert_eq!(create.body["metadata"]["generateName"], "warm-");
                assert_eq!(
                    create.body["metadata"]["ownerReferences"][0]["kind"],
                    "GameServerPool"
                );
                assert_eq!(
                    create.body["spec"]["containers"][0]["args"],
                    json!(["warm"])
                );
            }
            let status = expect(&mut api, "PATCH", &format!("{POOL}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["replicas"], 1);
            assert_eq!(status.body["status"]["readyReplicas"], 1);
            assert_eq!(status.body["status"]["selector"], "startales.dev/pool=warm");
        });
        let requeue = reconcile_pool(Arc::new(p), Arc::new(context(client)))
            .await
            .unwrap();
        assert_eq!(requeue, Requeue::requeue(Duration::from_secs(2)));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_pool_scaled_down_deletes_the_unstarted_and_newest_members_first() {
        let (client, mut api) = mock_client();
        let mut p = pool(1);
        p.status = Some(crate::controller::GameServerPoolStatus {
            replicas: 3,
            ready_replicas: 2,
            selector: Some("startales.dev/pool=warm".into()),
        });
        let mut old = warm_member(&p, "warm-old", "10.0.0.1", true);
        old.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-11-23T10:00:00Z".parse().unwrap(),
            ));
        let mut new = warm_member(&p, "warm-new", "10.0.0.2", true);
        new.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-11-23T11:00:00Z".parse().unwrap(),
            ));
        let cold = warm_member(&p, "warm-cold", "10.0.0.3", false);
        let answer = serde_json::to_value(&p).unwrap();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                PODS,
                200,
                pod_list(&[new.clone(), cold.clone(), old]),
            )
            .await;
            expect(
                &mut api,
                "DELETE",
                &format!("{PODS}/warm-new"),
                200,
                serde_json::to_value(&new).unwrap(),
            )
            .await;
            expect(
                &mut api,
                "DELETE",
                &format!("{PODS}/warm-cold"),
                404,
                not_found("warm-cold"),
            )
            .await;
            let status = expect(&mut api, "PATCH", &format!("{POOL}/status"), 200, answer).await;
            assert_eq!(status.body["status"]["replicas"], 1);
        });
        reconcile_pool(Arc::new(p), Arc::new(context(client)))
            .await
            .unwrap();
        server.await.unwrap();
    }

    #[test]
    fn the_backoff_doubles_from_a_second_to_five_minutes() {
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
