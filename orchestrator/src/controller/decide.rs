//! Reconcile decisions as plain functions: given a `GameServer` and what
//! exists for it, what to create, patch or delete. No I/O here; the kube
//! loop observes, calls [`decide`], and carries out the actions.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, Pod,
    PodSpec, Probe, SecretKeySelector, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use sha2::{Digest, Sha256};

use super::pool::WarmPod;
use super::resources::{DesiredState, GameServer, GameServerStatus, Phase};
use crate::pricing::LlmTier;

/// The finalizer that holds a GameServer until its final snapshot is taken.
pub const FINALIZER: &str = "startales.dev/final-snapshot";
/// Annotation carrying the hash of the pod template a pod was made from.
pub const TEMPLATE_HASH: &str = "startales.dev/template-hash";
/// Label naming the campaign on every object the controller makes.
pub const CAMPAIGN_LABEL: &str = "startales.dev/campaign";
/// The port game servers listen on.
pub const GAME_PORT: i32 = 8080;

/// Cluster-wide settings the controller applies to every pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSettings {
    /// Secret holding `adminToken` and `joinPublicKey` for game servers.
    pub secret_name: String,
    /// Seconds a stopping server gets for its final snapshot.
    pub termination_grace_seconds: i64,
}

impl Default for PodSettings {
    fn default() -> Self {
        PodSettings {
            secret_name: "startales-game-server".to_string(),
            termination_grace_seconds: 60,
        }
    }
}

/// The state of a pod as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Scheduled or starting.
    Pending,
    /// Running; `ready` when its readiness probe passes.
    Running {
        /// Readiness (the server is joinable).
        ready: bool,
    },
    /// Exited cleanly.
    Succeeded,
    /// Crashed or was killed.
    Failed,
}

/// A pod that exists for a GameServer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPod {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: PodState,
    /// Whether it is being deleted.
    pub terminating: bool,
    /// The template hash it was made from.
    pub template_hash: Option<String>,
    /// Its IP, once it has one.
    pub ip: Option<String>,
}

/// Everything observed about one GameServer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// Its pod, if any.
    pub pod: Option<ObservedPod>,
    /// Further live pods it owns (a pod left over from a race); they go.
    pub surplus: Vec<String>,
    /// A warm pool server it can take, looked for only when it needs a
    /// pod and has none.
    pub warm: Option<WarmPod>,
    /// Whether the final snapshot (before deletion) has been confirmed.
    pub final_snapshot_taken: bool,
    /// Players online, as the server reports it.
    pub players: u32,
    /// The newest snapshot's key, as the running server reports it.
    pub last_snapshot: Option<String>,
    /// The state hash at that snapshot.
    pub state_hash: Option<String>,
}

/// Something the kube loop must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add the finalizer (always first, before anything is created).
    AddFinalizer,
    /// Server-side apply this pod.
    ApplyPod(Box<Pod>),
    /// Take this warm pool server: claim its pod, then assign it the
    /// campaign (it restores or generates the world in place).
    TakeWarm(String),
    /// Delete the named pod (gracefully: the server snapshots on SIGTERM).
    DeletePod(String),
    /// Ask the running server for a snapshot now.
    RequestSnapshot,
    /// Remove the finalizer: everything is cleaned up.
    RemoveFinalizer,
}

/// What to do, the status to write, and when to look again.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Actions in order.
    pub actions: Vec<Action>,
    /// The status to patch (None while the object is going away).
    pub status: Option<GameServerStatus>,
    /// When to reconcile again if nothing changes before.
    pub requeue: Duration,
}

/// Why a spec cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The spec field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn spec_error(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

/// Checks the parts of a spec the API server cannot.
pub fn validate(gs: &GameServer) -> Result<(), SpecError> {
    let spec = &gs.spec;
    if spec.campaign_id.trim().is_empty() {
        return Err(spec_error("campaignId", "must not be empty"));
    }
    spec.seed
        .parse::<u64>()
        .map_err(|_| spec_error("seed", format!("{:?} is not a decimal u64", spec.seed)))?;
    let settings: campaign_gen::Settings = serde_json::from_str(&spec.settings)
        .map_err(|e| spec_error("settings", format!("not valid campaign settings: {e}")))?;
    if settings.generator_version().as_str() != spec.generator_version {
        return Err(spec_error(
            "generatorVersion",
            format!(
                "{:?} does not match the settings' {}",
                spec.generator_version,
                settings.generator_version()
            ),
        ));
    }
    spec.narrator_tier
        .parse::<LlmTier>()
        .map_err(|e| spec_error("narratorTier", e.to_string()))?;
    if spec.image.trim().is_empty() {
        return Err(spec_error("image", "must not be empty"));
    }
    let url = &spec.snapshots.url;
    if !(url.starts_with("s3://") || url.starts_with("file://")) {
        return Err(spec_error(
            "snapshots.url",
            format!("{url:?} must start with s3:// or file://"),
        ));
    }
    Ok(())
}

/// The pod's name for a GameServer.
pub fn pod_name(gs: &GameServer) -> String {
    format!("gs-{}", gs.metadata.name.as_deref().unwrap_or_default())
}

pub(super) fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

pub(super) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::Int(GAME_PORT),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        ..Probe::default()
    }
}

/// The one container of a game-server pod running `command` (`serve` or
/// `warm`), with its data volume, probes and grace period.
pub(super) fn server_pod_spec(
    image: &str,
    command: &str,
    env: Vec<EnvVar>,
    resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    settings: &PodSettings,
) -> PodSpec {
    PodSpec {
        containers: vec![Container {
            name: "game-server".to_string(),
            image: Some(image.to_string()),
            args: Some(vec![command.to_string()]),
            env: Some(env),
            ports: Some(vec![ContainerPort {
                name: Some("play".to_string()),
                container_port: GAME_PORT,
                ..ContainerPort::default()
            }]),
            // Ready means joinable: a warm server is alive but not ready
            // until it serves a campaign.
            readiness_probe: Some(probe("/readyz", 2)),
            liveness_probe: Some(probe("/healthz", 10)),
            resources,
            volume_mounts: Some(vec![VolumeMount {
                name: "data".to_string(),
                mount_path: "/data".to_string(),
                ..VolumeMount::default()
            }]),
            ..Container::default()
        }],
        volumes: Some(vec![Volume {
            name: "data".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }]),
        termination_grace_period_seconds: Some(settings.termination_grace_seconds),
        restart_policy: Some("Always".to_string()),
        ..PodSpec::default()
    }
}

/// The object store's access key pair, from the keys `accessKeyId` and
/// `secretAccessKey` of Secret `secret`.
pub(super) fn s3_credentials_env(secret: &str) -> [EnvVar; 2] {
    [
        secret_env("GS_S3_ACCESS_KEY_ID", secret, "accessKeyId"),
        secret_env("GS_S3_SECRET_ACCESS_KEY", secret, "secretAccessKey"),
    ]
}

/// A short hash of a pod spec, kept in the [`TEMPLATE_HASH`] annotation.
pub(super) fn template_hash(spec: &PodSpec) -> String {
    let hash = hex::encode(Sha256::digest(serde_json::to_vec(spec).unwrap_or_default()));
    hash[..16].to_string()
}

/// The labels of every game-server pod the controller makes.
pub(super) fn server_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "game-server".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "startales-orchestrator".to_string(),
        ),
    ])
}

/// The pod a GameServer should have, with its template hash annotation.
pub fn desired_pod(gs: &GameServer, settings: &PodSettings) -> Pod {
    let spec = &gs.spec;
    let mut env_vars = vec![
        env("GS_CAMPAIGN_ID", &spec.campaign_id),
        env("GS_SEED", &spec.seed),
        env("GS_SETTINGS", &spec.settings),
        env("GS_DATA_DIR", "/data"),
        env("GS_LISTEN", &format!("0.0.0.0:{GAME_PORT}")),
        env("GS_OBJECT_STORE_URL", &spec.snapshots.url),
        env("GS_NARRATOR_PROVIDER", &spec.narrator_tier),
        secret_env("GS_ADMIN_TOKEN", &settings.secret_name, "adminToken"),
        secret_env("GS_JOIN_PUBLIC_KEY", &settings.secret_name, "joinPublicKey"),
    ];
    if let Some(endpoint) = &spec.snapshots.endpoint {
        env_vars.push(env("GS_S3_ENDPOINT", endpoint));
    }
    if let Some(region) = &spec.snapshots.region {
        env_vars.push(env("GS_S3_REGION", region));
    }
    if let Some(secret) = &spec.snapshots.credentials_secret {
        env_vars.extend(s3_credentials_env(secret));
    }
    let pod_spec = server_pod_spec(
        &spec.image,
        "serve",
        env_vars,
        spec.resources.clone(),
        settings,
    );
    let hash = template_hash(&pod_spec);
    let mut labels = server_labels();
    labels.insert(CAMPAIGN_LABEL.to_string(), spec.campaign_id.clone());
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(gs)),
            namespace: gs.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(TEMPLATE_HASH.to_string(), hash)])),
            owner_references: gs.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> Condition {
    Condition {
        last_transition_time: Time(now),
        message,
        observed_generation: generation,
        reason: reason.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        type_: type_.to_string(),
    }
}

/// Keeps a condition's transition time when its status did not change.
fn merge_conditions(old: &[Condition], new: Vec<Condition>) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            if let Some(prev) = old
                .iter()
                .find(|o| o.type_ == c.type_ && o.status == c.status)
            {
                c.last_transition_time = prev.last_transition_time.clone();
            }
            c
        })
        .collect()
}

/// Whether a GameServer should have a running server now (so the loop
/// knows when to look for a warm one).
pub fn wants_pod(gs: &GameServer) -> bool {
    gs.metadata.deletion_timestamp.is_none()
        && gs.spec.desired_state == DesiredState::Running
        && !gs.spec.suspend
        && validate(gs).is_ok()
}

/// Decides what to do for one GameServer. `now` stamps conditions.
pub fn decide(
    gs: &GameServer,
    observed: &Observed,
    settings: &PodSettings,
    now: jiff::Timestamp,
) -> Decision {
    let generation = gs.metadata.generation;
    let previous = gs.status.clone().unwrap_or_default();
    let has_finalizer = gs
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    let deleting = gs.metadata.deletion_timestamp.is_some();
    let pod = observed.pod.as_ref();

    // Going away: final snapshot, then the pod, then the finalizer.
    if deleting {
        if !has_finalizer {
            return Decision {
                actions: vec![],
                status: None,
                requeue: Duration::from_secs(300),
            };
        }
        let mut actions: Vec<Action> = observed
            .surplus
            .iter()
            .map(|p| Action::DeletePod(p.clone()))
            .collect();
        match pod {
            Some(p) if !p.terminating => {
                let serving = matches!(p.state, PodState::Running { ready: true });
                if serving && !observed.final_snapshot_taken {
                    actions.push(Action::RequestSnapshot);
                }
                // The server also snapshots on SIGTERM, so deleting is safe
                // even when it could not answer the request.
                actions.push(Action::DeletePod(p.name.clone()));
            }
            Some(_) => {}
            None if observed.surplus.is_empty() => actions.push(Action::RemoveFinalizer),
            None => {}
        }
        return Decision {
            actions,
            status: None,
            requeue: Duration::from_secs(2),
        };
    }

    let mut actions = Vec::new();
    if !has_finalizer {
        actions.push(Action::AddFinalizer);
    }
    actions.extend(
        observed
            .surplus
            .iter()
            .map(|p| Action::DeletePod(p.clone())),
    );
    let mut status = GameServerStatus {
        players: 0,
        ready: false,
        address: None,
        pod: pod.map(|p| p.name.clone()),
        observed_generation: generation,
        ..previous.clone()
    };

    if let Err(e) = validate(gs) {
        if let Some(p) = pod.filter(|p| !p.terminating) {
            actions.push(Action::DeletePod(p.name.clone()));
        }
        status.phase = Phase::Failed;
        status.conditions = merge_conditions(
            &previous.conditions,
            vec![
                condition(
                    "SpecValid",
                    false,
                    "InvalidSpec",
                    e.to_string(),
                    generation,
                    now,
                ),
                condition(
                    "Ready",
                    false,
                    "InvalidSpec",
                    "the spec cannot be run".into(),
                    generation,
                    now,
                ),
            ],
        );
        // Nothing changes until the spec does, which triggers a reconcile.
        return Decision {
            actions,
            status: Some(status),
            requeue: Duration::from_secs(600),
        };
    }

    let wanted = gs.spec.desired_state == DesiredState::Running && !gs.spec.suspend;
    let desired = desired_pod(gs, settings);
    let desired_hash = desired
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TEMPLATE_HASH))
        .cloned();
    let mut requeue = Duration::from_secs(30);

    match (wanted, pod) {
        (true, None) => {
            // A warm server is already started: taking one skips the wait
            // for a pod to be scheduled and its image to start.
            match &observed.warm {
                Some(w) => {
                    actions.push(Action::TakeWarm(w.name.clone()));
                    status.pod = Some(w.name.clone());
                }
                None => {
                    actions.push(Action::ApplyPod(Box::new(desired)));
                    status.pod = Some(pod_name(gs));
                }
            }
            status.phase = Phase::Starting;
            requeue = Duration::from_secs(2);
        }
        (_, Some(p)) if p.terminating => {
            status.phase = if wanted {
                Phase::Starting
            } else {
                Phase::Draining
            };
            requeue = Duration::from_secs(2);
        }
        (true, Some(p)) if matches!(p.state, PodState::Failed | PodState::Succeeded) => {
            // A dead pod is replaced; the new one restores the newest snapshot.
            actions.push(Action::DeletePod(p.name.clone()));
            status.phase = Phase::Starting;
            requeue = Duration::from_secs(2);
        }
        (true, Some(p)) if p.template_hash != desired_hash => {
            // The spec changed: roll the pod (it snapshots on SIGTERM).
            actions.push(Action::DeletePod(p.name.clone()));
            status.phase = Phase::Starting;
            requeue = Duration::from_secs(2);
        }
        (true, Some(p)) => {
            let ready = matches!(p.state, PodState::Running { ready: true });
            status.ready = ready;
            status.phase = if ready {
                Phase::Running
            } else {
                Phase::Starting
            };
            status.address = p.ip.as_ref().map(|ip| format!("{ip}:{GAME_PORT}"));
            status.players = if ready { observed.players } else { 0 };
            if ready && observed.last_snapshot.is_some() {
                status.last_snapshot = observed.last_snapshot.clone();
                status.state_hash = observed.state_hash.clone();
            }
            if ready
                && gs.spec.snapshot_request.is_some()
                && gs.spec.snapshot_request != previous.handled_snapshot_request
            {
                actions.push(Action::RequestSnapshot);
                status.handled_snapshot_request = gs.spec.snapshot_request.clone();
            }
            if !ready {
                requeue = Duration::from_secs(2);
            }
        }
        (false, Some(p)) => {
            actions.push(Action::DeletePod(p.name.clone()));
            status.phase = Phase::Draining;
            requeue = Duration::from_secs(2);
        }
        (false, None) => {
            status.phase = if gs.spec.suspend {
                Phase::Suspended
            } else {
                Phase::Stopped
            };
            status.pod = None;
            requeue = Duration::from_secs(300);
        }
    }
    let (ready_reason, ready_message) = match status.phase {
        Phase::Running => ("Joinable", "players can join".to_string()),
        Phase::Stopped => ("Stopped", "no session is running".to_string()),
        Phase::Suspended => ("Suspended", "suspended by ops".to_string()),
        Phase::Draining => ("Draining", "stopping after a final snapshot".to_string()),
        _ => ("Starting", "the server is starting".to_string()),
    };
    status.conditions = merge_conditions(
        &previous.conditions,
        vec![
            condition("SpecValid", true, "Valid", String::new(), generation, now),
            condition(
                "Ready",
                status.ready,
                ready_reason,
                ready_message,
                generation,
                now,
            ),
        ],
    );
    Decision {
        actions,
        status: Some(status),
        requeue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn server() -> GameServer {
        let mut gs = crate::controller::fixtures::game_server(true);
        gs.metadata.namespace = Some("games".into());
        gs.metadata.uid = Some("uid-1".into());
        gs.metadata.generation = Some(3);
        gs.spec.snapshots.credentials_secret = Some("s3-creds".into());
        gs
    }

    fn pod(gs: &GameServer, state: PodState) -> ObservedPod {
        let hash = desired_pod(gs, &PodSettings::default())
            .metadata
            .annotations
            .unwrap()[TEMPLATE_HASH]
            .clone();
        ObservedPod {
            name: pod_name(gs),
            state,
            terminating: false,
            template_hash: Some(hash),
            ip: Some("10.0.0.7".into()),
        }
    }

    fn run(gs: &GameServer, observed: Observed) -> Decision {
        decide(gs, &observed, &PodSettings::default(), now())
    }

    #[test]
    fn a_new_server_gets_its_finalizer_and_a_pod() {
        let mut gs = server();
        gs.metadata.finalizers = None;
        let d = run(&gs, Observed::default());
        assert_eq!(d.actions[0], Action::AddFinalizer);
        assert!(
            matches!(&d.actions[1], Action::ApplyPod(p) if p.metadata.name.as_deref() == Some("gs-c42"))
        );
        assert_eq!(d.status.unwrap().phase, Phase::Starting);
    }

    #[test]
    fn the_pod_carries_the_campaign_config_secrets_probes_and_owner() {
        let gs = server();
        let p = desired_pod(&gs, &PodSettings::default());
        let c = &p.spec.as_ref().unwrap().containers[0];
        let env: BTreeMap<_, _> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.as_str(), e))
            .collect();
        assert_eq!(env["GS_SEED"].value.as_deref(), Some("42"));
        assert_eq!(
            env["GS_OBJECT_STORE_URL"].value.as_deref(),
            Some("s3://snaps/c42")
        );
        assert!(
            env["GS_ADMIN_TOKEN"].value.is_none(),
            "secrets come from a Secret, never inline"
        );
        assert_eq!(
            env["GS_S3_SECRET_ACCESS_KEY"]
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap()
                .name,
            "s3-creds"
        );
        assert_eq!(
            crate::controller::fixtures::probe_path(&c.readiness_probe).as_deref(),
            Some("/readyz")
        );
        assert_eq!(
            crate::controller::fixtures::probe_path(&c.liveness_probe).as_deref(),
            Some("/healthz")
        );
        assert_eq!(
            p.spec.as_ref().unwrap().termination_grace_period_seconds,
            Some(60)
        );
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("GameServer", Some(true))
        );
        assert_eq!(p.metadata.labels.as_ref().unwrap()[CAMPAIGN_LABEL], "c42");
    }

    #[test]
    fn a_ready_pod_makes_the_server_running_with_its_address_and_players() {
        let gs = server();
        let d = run(
            &gs,
            Observed {
                pod: Some(pod(&gs, PodState::Running { ready: true })),
                players: 5,
                ..Observed::default()
            },
        );
        assert!(d.actions.is_empty());
        let s = d.status.unwrap();
        assert_eq!((s.phase, s.ready, s.players), (Phase::Running, true, 5));
        assert_eq!(s.address.as_deref(), Some("10.0.0.7:8080"));
        assert_eq!(s.observed_generation, Some(3));
        let ready = s.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Joinable")
        );
    }

    #[test]
    fn a_dead_pod_is_replaced() {
        let gs = server();
        for state in [PodState::Failed, PodState::Succeeded] {
            let d = run(
                &gs,
                Observed {
                    pod: Some(pod(&gs, state)),
                    ..Observed::default()
                },
            );
            assert_eq!(d.actions, vec![Action::DeletePod("gs-c42".into())]);
            // Next round, with the pod gone, a new one is applied.
            let d = run(&gs, Observed::default());
            assert!(matches!(d.actions[0], Action::ApplyPod(_)));
        }
    }

    #[test]
    fn a_changed_spec_rolls_the_pod() {
        let gs = server();
        let mut stale = pod(&gs, PodState::Running { ready: true });
        stale.template_hash = Some("old".into());
        let d = run(
            &gs,
            Observed {
                pod: Some(stale),
                ..Observed::default()
            },
        );
        assert_eq!(d.actions, vec![Action::DeletePod("gs-c42".into())]);
    }

    #[test]
    fn stopping_between_sessions_drains_then_reports_stopped() {
        let mut gs = server();
        gs.spec.desired_state = DesiredState::Stopped;
        let d = run(
            &gs,
            Observed {
                pod: Some(pod(&gs, PodState::Running { ready: true })),
                ..Observed::default()
            },
        );
        assert_eq!(d.actions, vec![Action::DeletePod("gs-c42".into())]);
        assert_eq!(d.status.unwrap().phase, Phase::Draining);
        let d = run(&gs, Observed::default());
        assert!(d.actions.is_empty());
        assert_eq!(d.status.unwrap().phase, Phase::Stopped);
        gs.spec.suspend = true;
        gs.spec.desired_state = DesiredState::Running;
        assert_eq!(
            run(&gs, Observed::default()).status.unwrap().phase,
            Phase::Suspended
        );
    }

    #[test]
    fn a_snapshot_request_is_acted_on_once() {
        let mut gs = server();
        gs.spec.snapshot_request = Some("ops-1".into());
        let observed = Observed {
            pod: Some(pod(&gs, PodState::Running { ready: true })),
            ..Observed::default()
        };
        let d = run(&gs, observed.clone());
        assert_eq!(d.actions, vec![Action::RequestSnapshot]);
        gs.status = d.status;
        assert!(run(&gs, observed).actions.is_empty());
    }

    #[test]
    fn deletion_snapshots_then_deletes_the_pod_then_releases_the_finalizer() {
        let mut gs = server();
        gs.metadata.deletion_timestamp = Some(Time(now()));
        let running = Observed {
            pod: Some(pod(&gs, PodState::Running { ready: true })),
            ..Observed::default()
        };
        let d = run(&gs, running.clone());
        assert_eq!(
            d.actions,
            vec![Action::RequestSnapshot, Action::DeletePod("gs-c42".into())]
        );
        let done = Observed {
            final_snapshot_taken: true,
            ..running
        };
        assert_eq!(
            run(&gs, done).actions,
            vec![Action::DeletePod("gs-c42".into())]
        );
        let mut terminating = pod(&gs, PodState::Running { ready: false });
        terminating.terminating = true;
        assert!(
            run(
                &gs,
                Observed {
                    pod: Some(terminating),
                    ..Observed::default()
                }
            )
            .actions
            .is_empty()
        );
        assert_eq!(
            run(&gs, Observed::default()).actions,
            vec![Action::RemoveFinalizer]
        );
    }

    #[test]
    fn an_invalid_spec_fails_with_a_condition_naming_the_field() {
        for (mutate, field) in [
            (
                Box::new(|g: &mut GameServer| g.spec.seed = "-1".into())
                    as Box<dyn Fn(&mut GameServer)>,
                "seed",
            ),
            (
                Box::new(|g: &mut GameServer| g.spec.settings = "{}".into()),
                "settings",
            ),
            (
                Box::new(|g: &mut GameServer| g.spec.generator_version = "v9".into()),
                "generatorVersion",
            ),
            (
                Box::new(|g: &mut GameServer| g.spec.narrator_tier = "hal9000".into()),
                "narratorTier",
            ),
            (
                Box::new(|g: &mut GameServer| g.spec.snapshots.url = "ftp://x".into()),
                "snapshots.url",
            ),
            (
                Box::new(|g: &mut GameServer| g.spec.campaign_id = " ".into()),
                "campaignId",
            ),
        ] {
            let mut gs = server();
            mutate(&mut gs);
            let d = run(
                &gs,
                Observed {
                    pod: Some(pod(&server(), PodState::Running { ready: true })),
                    ..Observed::default()
                },
            );
            assert_eq!(
                d.actions,
                vec![Action::DeletePod("gs-c42".into())],
                "{field}"
            );
            let s = d.status.unwrap();
            assert_eq!(s.phase, Phase::Failed);
            let c = s
                .conditions
                .iter()
                .find(|c| c.type_ == "SpecValid")
                .unwrap();
            assert!(c.message.starts_with(field), "{}", c.message);
        }
    }

    #[test]
    fn condition_times_change_only_on_transitions() {
        let mut gs = server();
        let observed = Observed {
            pod: Some(pod(&gs, PodState::Running { ready: true })),
            ..Observed::default()
        };
        gs.status = run(&gs, observed.clone()).status;
        let later: jiff::Timestamp = "2026-11-23T13:00:00Z".parse().unwrap();
        let s = decide(&gs, &observed, &PodSettings::default(), later)
            .status
            .unwrap();
        let ready = s.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.last_transition_time, Time(now()));
    }

    /// Every combination of spec and observed state: the invariants hold.
    #[test]
    fn every_combination_keeps_the_invariants() {
        let states = [
            None,
            Some((PodState::Pending, false, true)),
            Some((PodState::Running { ready: false }, false, true)),
            Some((PodState::Running { ready: true }, false, true)),
            Some((PodState::Running { ready: true }, false, false)),
            Some((PodState::Running { ready: true }, true, true)),
            Some((PodState::Failed, false, true)),
            Some((PodState::Succeeded, false, true)),
        ];
        let warm = crate::controller::pool::tests::warm_pod_for(&server(), "pool-a1");
        let mut seen = 0;
        for desired in [DesiredState::Running, DesiredState::Stopped] {
            for suspend in [false, true] {
                for deleting in [false, true] {
                    for finalizer in [false, true] {
                        for snapshot_taken in [false, true] {
                            for request in [None, Some("r1")] {
                                for state in states {
                                    for warm in [None, Some(warm.clone())] {
                                        for surplus in [false, true] {
                                            let mut gs = server();
                                            gs.spec.desired_state = desired;
                                            gs.spec.suspend = suspend;
                                            gs.spec.snapshot_request = request.map(String::from);
                                            if deleting {
                                                gs.metadata.deletion_timestamp = Some(Time(now()));
                                            }
                                            if !finalizer {
                                                gs.metadata.finalizers = None;
                                            }
                                            let observed = Observed {
                                                pod: state.map(|(s, terminating, fresh)| {
                                                    let mut p = pod(&gs, s);
                                                    p.terminating = terminating;
                                                    if !fresh {
                                                        p.template_hash = Some("stale".into());
                                                    }
                                                    p
                                                }),
                                                surplus: if surplus {
                                                    vec!["gs-c42-old".into()]
                                                } else {
                                                    vec![]
                                                },
                                                warm: warm.clone(),
                                                final_snapshot_taken: snapshot_taken,
                                                players: 3,
                                                last_snapshot: None,
                                                state_hash: None,
                                            };
                                            check_invariants(
                                                &gs, &observed, desired, suspend, deleting,
                                                finalizer,
                                            );
                                            seen += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 2 * 2 * 2 * 2 * 2 * 2 * 8 * 2 * 2);
    }

    fn check_invariants(
        gs: &GameServer,
        observed: &Observed,
        desired: DesiredState,
        suspend: bool,
        deleting: bool,
        finalizer: bool,
    ) {
        let d = run(gs, observed.clone());
        let ctx = format!(
            "{desired:?} suspend={suspend} deleting={deleting} finalizer={finalizer} {observed:?}: {:?}",
            d.actions
        );
        let main = observed.pod.as_ref().map(|p| p.name.clone());
        let applies = d.actions.iter().any(|a| matches!(a, Action::ApplyPod(_)));
        let takes = d.actions.iter().any(|a| matches!(a, Action::TakeWarm(_)));
        let deletes_main = d
            .actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod(n) if Some(n) == main.as_ref()));
        let wanted = desired == DesiredState::Running && !suspend;
        // At most one way to get a server, and never while removing one.
        assert!(!(applies && takes), "{ctx}");
        assert!(!((applies || takes) && deletes_main), "{ctx}");
        if applies || takes {
            assert!(wanted && !deleting && observed.pod.is_none(), "{ctx}");
        }
        // A warm server is taken whenever one is offered and a pod is due.
        assert_eq!(
            takes,
            wanted && !deleting && observed.pod.is_none() && observed.warm.is_some(),
            "{ctx}"
        );
        if deletes_main {
            assert!(
                observed.pod.as_ref().is_some_and(|p| !p.terminating),
                "{ctx}"
            );
        }
        // Leftover pods always go (once the finalizer is in place or the
        // object is on its way out with it).
        if !deleting || finalizer {
            for extra in &observed.surplus {
                assert!(
                    d.actions.contains(&Action::DeletePod(extra.clone())),
                    "{ctx}"
                );
            }
        }
        if d.actions.contains(&Action::RemoveFinalizer) {
            assert!(deleting && finalizer && observed.pod.is_none(), "{ctx}");
        }
        if d.actions.contains(&Action::AddFinalizer) {
            assert!(!deleting && !finalizer, "{ctx}");
            assert_eq!(d.actions[0], Action::AddFinalizer, "{ctx}");
        }
        if d.actions.contains(&Action::RequestSnapshot) {
            assert!(
                matches!(
                    observed.pod.as_ref().map(|p| p.state),
                    Some(PodState::Running { ready: true })
                ),
                "{ctx}"
            );
        }
        if deleting {
            assert!(d.status.is_none(), "{ctx}");
            if finalizer && observed.pod.as_ref().is_some_and(|p| !p.terminating) {
                assert!(deletes_main, "deletion must remove the pod: {ctx}");
            }
        } else {
            let s = d.status.as_ref().unwrap();
            assert_eq!(s.observed_generation, Some(3), "{ctx}");
            assert_eq!(s.ready, s.phase == Phase::Running, "{ctx}");
            if takes {
                assert_eq!(
                    s.pod,
                    observed.warm.as_ref().map(|w| w.name.clone()),
                    "{ctx}"
                );
            }
            if !wanted {
                assert!(!s.ready, "{ctx}");
                assert!(
                    matches!(s.phase, Phase::Draining | Phase::Stopped | Phase::Suspended),
                    "{ctx}"
                );
            }
        }
    }
}
