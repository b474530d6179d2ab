//! The custom resources: `GameServer` (one per campaign) and
//! `GameServerPool` (warm, unassigned servers; scalable with `kubectl scale`).

// Several `printcolumn(...)` attributes share keys such as `type_`, which
// clippy mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every Startales resource.
pub const GROUP: &str = "startales.dev";

/// What a campaign's server should be doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DesiredState {
    /// Serve players (a session is on or about to start).
    #[default]
    Running,
    /// Nothing running; the state is safe in the object store.
    Stopped,
}

/// Where a campaign's snapshots live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotLocation {
    /// `s3://bucket/prefix` or `file:///path`.
    pub url: String,
    /// S3-compatible endpoint, when not AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// S3 region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A Secret with `accessKeyId` and `secretAccessKey` for the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// One campaign's game server.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "startales.dev",
    version = "v1alpha1",
    kind = "GameServer",
    namespaced,
    status = "GameServerStatus",
    derive = "PartialEq",
    shortname = "gs",
    category = "startales",
    doc = "One Startales campaign's game server",
    printcolumn(name = "Campaign", type_ = "string", json_path = ".spec.campaignId"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Players", type_ = "integer", json_path = ".status.players"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GameServerSpec {
    /// The campaign this server runs.
    pub campaign_id: String,
    /// The world seed, in decimal (seeds use all 64 bits, more than a
    /// Kubernetes integer holds).
    pub seed: String,
    /// The campaign-gen settings, as JSON.
    pub settings: String,
    /// The generator version the world is made with (must match the settings).
    pub generator_version: String,
    /// The game-server container image.
    pub image: String,
    /// CPU and memory for the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Where snapshots go and come from.
    pub snapshots: SnapshotLocation,
    /// The narration tier (ollama, gemini, grok, anthropic, openai).
    pub narrator_tier: String,
    /// Running during sessions, Stopped between them.
    #[serde(default)]
    pub desired_state: DesiredState,
    /// Ops hold: nothing runs while set, whatever the schedule says.
    #[serde(default)]
    pub suspend: bool,
    /// Set to a new value to ask for a snapshot now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_request: Option<String>,
}

/// Where a game server is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Not yet acted on.
    #[default]
    Pending,
    /// The pod is starting, restoring or generating.
    Starting,
    /// Joinable.
    Running,
    /// Stopping after a final snapshot.
    Draining,
    /// Nothing running.
    Stopped,
    /// Held by ops.
    Suspended,
    /// The spec cannot be run; see the conditions.
    Failed,
}

/// What the controller last saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GameServerStatus {
    /// Where it is in its life.
    #[serde(default)]
    pub phase: Phase,
    /// The pod's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// `ip:port` of the server while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether the server is joinable.
    #[serde(default)]
    pub ready: bool,
    /// Players online.
    #[serde(default)]
    pub players: u32,
    /// Key of the newest snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<String>,
    /// The simulation's state hash at the newest snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_hash: Option<String>,
    /// The last `spec.snapshotRequest` acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_snapshot_request: Option<String>,
    /// Standard conditions (`Ready`, `SpecValid`).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A pool of warm, started, unassigned game servers.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "startales.dev",
    version = "v1alpha1",
    kind = "GameServerPool",
    namespaced,
    status = "GameServerPoolStatus",
    derive = "PartialEq",
    shortname = "gsp",
    category = "startales",
    doc = "Warm Startales game servers waiting for a campaign",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GameServerPoolSpec {
    /// Warm servers to keep (`kubectl scale` sets it).
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// The game-server image they run; only GameServers of the same image
    /// (and resources and snapshot credentials) take them.
    pub image: String,
    /// CPU and memory for each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A Secret with `accessKeyId` and `secretAccessKey` for the snapshot
    /// store, as the GameServers that take these servers name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_credentials_secret: Option<String>,
}

/// What the pool holds now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GameServerPoolStatus {
    /// Warm servers that exist.
    #[serde(default)]
    pub replicas: i32,
    /// Warm servers started and waiting to be assigned.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The label selector of the pool's pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// The CustomResourceDefinitions as one multi-document YAML file, as
/// committed under `charts/startales/crds/`.
pub fn crds_yaml() -> String {
    let mut out = String::from(
        "# Generated by `orchestrator crd` from orchestrator/src/controller/resources.rs.\n\
         # Do not edit by hand.\n",
    );
    for crd in [GameServer::crd(), GameServerPool::crd()] {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&crd).unwrap_or_default());
    }
    out
}
