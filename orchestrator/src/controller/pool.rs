//! The warm pool as plain functions: the pod a `GameServerPool` keeps
//! warm, what to create and delete to hold `spec.replicas` of them, and
//! which warm server a campaign due to start may take and how it is
//! handed over. No I/O here; the kube loop in [`super::run`] observes and
//! carries out.
//!
//! A warm server is a game server started with `warm`: alive (`/healthz`)
//! but not ready, because it serves no campaign yet. Taking one is two
//! steps: the pod is claimed (relabelled for the campaign and given to its
//! GameServer as owner, conditional on the pod's resource version, so two
//! campaigns cannot take the same one), then told the campaign over
//! `POST /assign`, after which it restores or generates the world in place
//! and turns ready when joinable. The pool sees a member leave and makes
//! a new one.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt as _};

use super::decide::{
    CAMPAIGN_LABEL, GAME_PORT, PodSettings, TEMPLATE_HASH, desired_pod, env, s3_credentials_env,
    secret_env, server_labels, server_pod_spec, template_hash,
};
use super::resources::{GameServer, GameServerPool, GameServerPoolStatus};

/// Label naming the pool on each of its warm pods (removed when taken).
pub const POOL_LABEL: &str = "startales.dev/pool";
/// Annotation naming the snapshot-credentials Secret a warm pod carries.
pub const CREDENTIALS_ANNOTATION: &str = "startales.dev/snapshot-credentials";

/// A pool member as the controller sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WarmPod {
    /// Its name.
    pub name: String,
    /// Its container is running (the warm server is up and waiting).
    pub started: bool,
    /// It exited or crashed for good.
    pub failed: bool,
    /// It is being deleted.
    pub terminating: bool,
    /// The template hash it was made from.
    pub template_hash: Option<String>,
    /// Its IP, once it has one.
    pub ip: Option<String>,
    /// The resource version (the claim is conditional on it).
    pub resource_version: Option<String>,
    /// The image it runs.
    pub image: Option<String>,
    /// Its CPU and memory.
    pub resources: Option<ResourceRequirements>,
    /// The snapshot-credentials Secret in its environment.
    pub credentials: Option<String>,
    /// When it was made, Unix seconds.
    pub created: i64,
}

/// What the controller sees of a warm pod.
pub fn observe_warm(p: &Pod) -> WarmPod {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    let container_running = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .is_some_and(|c| {
            c.started == Some(true) && c.state.as_ref().is_some_and(|s| s.running.is_some())
        });
    let container = p.spec.as_ref().and_then(|s| s.containers.first());
    WarmPod {
        name: p.name_any(),
        started: phase == Some("Running") && container_running,
        failed: matches!(phase, Some("Failed" | "Succeeded")),
        terminating: p.metadata.deletion_timestamp.is_some(),
        template_hash: p.annotations().get(TEMPLATE_HASH).cloned(),
        ip: status.and_then(|s| s.pod_ip.clone()),
        resource_version: p.resource_version(),
        image: container.and_then(|c| c.image.clone()),
        resources: container.and_then(|c| c.resources.clone()),
        credentials: p.annotations().get(CREDENTIALS_ANNOTATION).cloned(),
        created: p
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
    }
}

/// The label selector of a pool's members.
pub fn pool_selector(pool: &GameServerPool) -> String {
    format!("{POOL_LABEL}={}", pool.name_any())
}

/// The label selector of every unclaimed warm pod in a namespace.
pub const UNCLAIMED_SELECTOR: &str = "startales.dev/pool,!startales.dev/campaign";

/// The pod a pool keeps warm (named by the API server from the pool's
/// name), with its template hash.
pub fn warm_pod(pool: &GameServerPool, settings: &PodSettings) -> Pod {
    let spec = &pool.spec;
    let mut env_vars = vec![
        env("GS_LISTEN", &format!("0.0.0.0:{GAME_PORT}")),
        env("GS_DATA_DIR", "/data"),
        secret_env("GS_ADMIN_TOKEN", &settings.secret_name, "adminToken"),
        secret_env("GS_JOIN_PUBLIC_KEY", &settings.secret_name, "joinPublicKey"),
    ];
    let mut annotations = BTreeMap::new();
    if let Some(secret) = &spec.snapshot_credentials_secret {
        env_vars.extend(s3_credentials_env(secret));
        annotations.insert(CREDENTIALS_ANNOTATION.to_string(), secret.clone());
    }
    let pod_spec = server_pod_spec(
        &spec.image,
        "warm",
        env_vars,
        spec.resources.clone(),
        settings,
    );
    annotations.insert(TEMPLATE_HASH.to_string(), template_hash(&pod_spec));
    let mut labels = server_labels();
    labels.insert(POOL_LABEL.to_string(), pool.name_any());
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", pool.name_any())),
            namespace: pool.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: pool.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// What to do for one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDecision {
    /// New warm pods to create.
    pub create: usize,
    /// Pods to delete: dead, made from an old template, or beyond the
    /// wanted number.
    pub delete: Vec<String>,
    /// The status to write.
    pub status: GameServerPoolStatus,
    /// When to look again if nothing changes before.
    pub requeue: Duration,
}

/// Decides what to do for a pool given its unclaimed members.
pub fn decide_pool(
    pool: &GameServerPool,
    pods: &[WarmPod],
    settings: &PodSettings,
) -> PoolDecision {
    let wanted = usize::try_from(pool.spec.replicas.max(0)).unwrap_or(0);
    let current = warm_pod(pool, settings)
        .metadata
        .annotations
        .and_then(|a| a.get(TEMPLATE_HASH).cloned());
    let mut delete = Vec::new();
    let mut live: Vec<&WarmPod> = Vec::new();
    for p in pods.iter().filter(|p| !p.terminating) {
        if p.failed || p.template_hash != current {
            delete.push(p.name.clone());
        } else {
            live.push(p);
        }
    }
    if live.len() > wanted {
        // Keep the started and the oldest: they are the ones ready now.
        live.sort_by(|a, b| {
            b.started
                .cmp(&a.started)
                .then(a.created.cmp(&b.created))
                .then(a.name.cmp(&b.name))
        });
        delete.extend(live.split_off(wanted).into_iter().map(|p| p.name.clone()));
    }
    let create = wanted.saturating_sub(live.len());
    let ready = live.iter().filter(|p| p.started).count();
    let status = GameServerPoolStatus {
        replicas: i32::try_from(live.len()).unwrap_or(i32::MAX),
        ready_replicas: i32::try_from(ready).unwrap_or(i32::MAX),
        selector: Some(pool_selector(pool)),
    };
    let settled = create == 0 && delete.is_empty() && ready == live.len();
    PoolDecision {
        create,
        delete,
        status,
        requeue: Duration::from_secs(if settled { 60 } else { 2 }),
    }
}

/// Whether a warm pod can serve this GameServer: started, reachable, and
/// made with the same image, resources and snapshot credentials.
pub fn fits(gs: &GameServer, w: &WarmPod) -> bool {
    w.started
        && !w.failed
        && !w.terminating
        && w.ip.is_some()
        && w.image.as_deref() == Some(gs.spec.image.as_str())
        && w.resources == gs.spec.resources
        && w.credentials == gs.spec.snapshots.credentials_secret
}

/// The warm pod a GameServer takes: the oldest that fits.
pub fn pick_warm<'a>(gs: &GameServer, pods: &'a [WarmPod]) -> Option<&'a WarmPod> {
    pods.iter()
        .filter(|w| fits(gs, w))
        .min_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)))
}

/// The campaign's settings for `POST /assign`: the plain values a pod of
/// its own would get (secrets are already in the warm pod's environment,
/// and its address and admin token are fixed).
pub fn assignment(gs: &GameServer, settings: &PodSettings) -> BTreeMap<String, String> {
    desired_pod(gs, settings)
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.env)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.name != "GS_LISTEN")
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect()
}

/// The merge patch that claims a warm pod for a GameServer: conditional
/// on the resource version seen, it takes the pod out of its pool, labels
/// it for the campaign, makes the GameServer its controller, and stamps the
/// template hash of the GameServer's own pod so it is not rolled.
pub fn claim_patch(gs: &GameServer, w: &WarmPod, settings: &PodSettings) -> serde_json::Value {
    let hash = desired_pod(gs, settings)
        .metadata
        .annotations
        .and_then(|a| a.get(TEMPLATE_HASH).cloned());
    serde_json::json!({
        "metadata": {
            "resourceVersion": w.resource_version,
            "labels": {POOL_LABEL: null, CAMPAIGN_LABEL: gs.spec.campaign_id},
            "annotations": {TEMPLATE_HASH: hash},
            "ownerReferences": gs.controller_owner_ref(&()).map(|r| vec![r]),
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::controller::fixtures::game_server;
    use crate::controller::resources::GameServerPoolSpec;

    pub(crate) fn pool(replicas: i32) -> GameServerPool {
        let mut p = GameServerPool::new(
            "warm",
            GameServerPoolSpec {
                replicas,
                image: "startales/game-server:1".into(),
                resources: None,
                snapshot_credentials_secret: None,
            },
        );
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some("uid-pool".into());
        p
    }

    /// A started member of `pool(..)` that fits `gs`.
    pub(crate) fn warm_pod_for(gs: &GameServer, name: &str) -> WarmPod {
        let p = pool(1);
        WarmPod {
            name: name.into(),
            started: true,
            template_hash: warm_pod(&p, &PodSettings::default())
                .metadata
                .annotations
                .and_then(|a| a.get(TEMPLATE_HASH).cloned()),
            ip: Some("10.0.0.9".into()),
            resource_version: Some("17".into()),
            image: Some(gs.spec.image.clone()),
            resources: gs.spec.resources.clone(),
            credentials: gs.spec.snapshots.credentials_secret.clone(),
            created: 100,
            ..WarmPod::default()
        }
    }

    fn member(name: &str, started: bool, created: i64) -> WarmPod {
        let mut w = warm_pod_for(&game_server(true), name);
        w.started = started;
        w.created = created;
        w
    }

    #[test]
    fn the_warm_pod_runs_warm_with_the_pool_label_owner_and_secrets() {
        let mut p = pool(2);
        p.spec.snapshot_credentials_secret = Some("s3".into());
        let pod = warm_pod(&p, &PodSettings::default());
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("warm-"));
        assert_eq!(pod.metadata.labels.as_ref().unwrap()[POOL_LABEL], "warm");
        assert!(
            !pod.metadata
                .labels
                .as_ref()
                .unwrap()
                .contains_key(CAMPAIGN_LABEL)
        );
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("GameServerPool", Some(true))
        );
        let c = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.args.as_deref(), Some(&["warm".to_string()][..]));
        let names: Vec<&str> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        for n in [
            "GS_LISTEN",
            "GS_DATA_DIR",
            "GS_ADMIN_TOKEN",
            "GS_JOIN_PUBLIC_KEY",
            "GS_S3_ACCESS_KEY_ID",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert!(!names.contains(&"GS_CAMPAIGN_ID"));
        assert_eq!(
            pod.metadata.annotations.as_ref().unwrap()[CREDENTIALS_ANNOTATION],
            "s3"
        );
        // Not ready until it serves a campaign.
        assert_eq!(
            crate::controller::fixtures::probe_path(&c.readiness_probe).as_deref(),
            Some("/readyz")
        );
    }

    #[test]
    fn an_empty_pool_is_filled_and_a_full_one_left_alone() {
        let s = PodSettings::default();
        let d = decide_pool(&pool(3), &[], &s);
        assert_eq!((d.create, d.delete.len()), (3, 0));
        assert_eq!((d.status.replicas, d.status.ready_replicas), (0, 0));
        assert_eq!(
            d.status.selector.as_deref(),
            Some("startales.dev/pool=warm")
        );
        let full = [
            member("a", true, 1),
            member("b", true, 2),
            member("c", true, 3),
        ];
        let d = decide_pool(&pool(3), &full, &s);
        assert_eq!((d.create, d.delete.len()), (0, 0));
        assert_eq!((d.status.replicas, d.status.ready_replicas), (3, 3));
        assert_eq!(d.requeue, Duration::from_secs(60));
    }

    #[test]
    fn scaling_down_removes_the_unstarted_and_newest_first() {
        let pods = [
            member("old", true, 1),
            member("cold", false, 2),
            member("new", true, 3),
        ];
        let d = decide_pool(&pool(1), &pods, &PodSettings::default());
        assert_eq!(d.create, 0);
        assert_eq!(d.delete, ["new", "cold"]);
        assert_eq!((d.status.replicas, d.status.ready_replicas), (1, 1));
        let d = decide_pool(&pool(0), &pods, &PodSettings::default());
        assert_eq!(d.delete.len(), 3);
        // A negative count (refused by the schema) is treated as none.
        assert_eq!(
            decide_pool(&pool(-4), &[], &PodSettings::default()).create,
            0
        );
    }

    #[test]
    fn dead_and_outdated_members_are_replaced_and_terminating_ones_not_counted() {
        let mut dead = member("dead", false, 1);
        dead.failed = true;
        let mut stale = member("stale", true, 2);
        stale.template_hash = Some("old-image".into());
        let mut going = member("going", true, 3);
        going.terminating = true;
        let d = decide_pool(
            &pool(2),
            &[dead, stale, going, member("ok", true, 4)],
            &PodSettings::default(),
        );
        assert_eq!(d.delete, ["dead", "stale"]);
        assert_eq!(d.create, 1);
        assert_eq!(d.status.replicas, 1);
    }

    #[test]
    fn a_campaign_takes_the_oldest_started_warm_server_of_its_own_image_and_credentials() {
        let gs = game_server(true);
        let mut cold = member("cold", false, 1);
        cold.started = false;
        let mut other_image = member("other", true, 2);
        other_image.image = Some("startales/game-server:0".into());
        let mut other_creds = member("creds", true, 3);
        other_creds.credentials = Some("someone-else".into());
        let mut no_ip = member("noip", true, 4);
        no_ip.ip = None;
        let pods = [
            cold,
            other_image,
            other_creds,
            no_ip,
            member("young", true, 9),
            member("elder", true, 5),
        ];
        assert_eq!(
            pick_warm(&gs, &pods).map(|w| w.name.as_str()),
            Some("elder")
        );
        assert!(pick_warm(&gs, &pods[..4]).is_none());
    }

    #[test]
    fn the_claim_is_conditional_and_hands_the_pod_to_the_campaign() {
        let gs = game_server(true);
        let w = warm_pod_for(&gs, "warm-x1");
        let patch = claim_patch(&gs, &w, &PodSettings::default());
        let m = &patch["metadata"];
        assert_eq!(m["resourceVersion"], "17");
        assert_eq!(m["labels"][POOL_LABEL], serde_json::Value::Null);
        assert_eq!(m["labels"][CAMPAIGN_LABEL], "c42");
        assert_eq!(m["ownerReferences"][0]["kind"], "GameServer");
        assert_eq!(m["ownerReferences"][0]["uid"], "uid-c42");
        let own_hash = desired_pod(&gs, &PodSettings::default())
            .metadata
            .annotations
            .unwrap()[TEMPLATE_HASH]
            .clone();
        assert_eq!(m["annotations"][TEMPLATE_HASH], own_hash);
    }

    #[test]
    fn the_assignment_carries_the_campaign_but_no_secrets_or_fixed_settings() {
        let gs = game_server(true);
        let env = assignment(&gs, &PodSettings::default());
        assert_eq!(env["GS_CAMPAIGN_ID"], "c42");
        assert_eq!(env["GS_SEED"], "42");
        assert_eq!(env["GS_OBJECT_STORE_URL"], "s3://snaps/c42");
        assert_eq!(env["GS_S3_REGION"], "eu-west-1");
        for fixed in ["GS_LISTEN", "GS_ADMIN_TOKEN", "GS_JOIN_PUBLIC_KEY"] {
            assert!(!env.contains_key(fixed), "{fixed}");
        }
    }
}
