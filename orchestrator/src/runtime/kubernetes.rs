//! The Kubernetes runtime: the scheduler's wishes become `GameServer`
//! resources (server-side apply under the scheduler's own field manager);
//! the controller makes the pods and reports back in their status.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

use super::{Runtime, RuntimeError, ServerSpec, ServerState};
use crate::controller::resources::{DesiredState, GameServer, GameServerSpec, SnapshotLocation};

/// The field manager of the scheduler's writes (the controller has its own).
pub const MANAGER: &str = "startales-scheduler";

/// Where and how game servers run in the cluster.
#[derive(Debug, Clone)]
pub struct KubernetesSettings {
    /// Namespace for GameServers and their pods.
    pub namespace: String,
    /// The game-server image.
    pub image: String,
    /// Snapshot location prefix: `s3://bucket/prefix` (the campaign id is
    /// appended).
    pub snapshot_base: String,
    /// S3 endpoint for S3-compatible stores.
    pub s3_endpoint: Option<String>,
    /// S3 region.
    pub s3_region: Option<String>,
    /// Secret with `accessKeyId` and `secretAccessKey`.
    pub s3_credentials_secret: Option<String>,
    /// Requests and limits of each server.
    pub resources: Option<ResourceRequirements>,
}

/// Requests and limits for each game server, as the operator configured.
pub fn resources(cpu: &str, memory: &str, memory_limit: &str) -> ResourceRequirements {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    ResourceRequirements {
        requests: Some(std::collections::BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])),
        limits: Some(std::collections::BTreeMap::from([(
            "memory".to_string(),
            Quantity(memory_limit.to_string()),
        )])),
        ..ResourceRequirements::default()
    }
}

/// GameServer resources as the runtime.
#[derive(Clone)]
pub struct KubernetesRuntime {
    api: Api<GameServer>,
    settings: KubernetesSettings,
}

impl std::fmt::Debug for KubernetesRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesRuntime")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl KubernetesRuntime {
    /// A runtime writing to `client`'s cluster.
    pub fn new(client: kube::Client, settings: KubernetesSettings) -> KubernetesRuntime {
        KubernetesRuntime {
            api: Api::namespaced(client, &settings.namespace),
            settings,
        }
    }

    /// The GameServer the scheduler applies for a running campaign.
    fn resource(&self, spec: &ServerSpec) -> GameServer {
        let generator_version = serde_json::from_str::<serde_json::Value>(&spec.settings)
            .ok()
            .and_then(|v| v["generator_version"].as_str().map(str::to_string))
            .unwrap_or_else(|| "v1".into());
        let mut gs = GameServer::new(
            &spec.campaign_id,
            GameServerSpec {
                campaign_id: spec.campaign_id.clone(),
                seed: spec.seed.clone(),
                settings: spec.settings.clone(),
                generator_version,
                image: self.settings.image.clone(),
                resources: self.settings.resources.clone(),
                snapshots: SnapshotLocation {
                    url: format!(
                        "{}/{}",
                        self.settings.snapshot_base.trim_end_matches('/'),
                        spec.campaign_id
                    ),
                    endpoint: self.settings.s3_endpoint.clone(),
                    region: self.settings.s3_region.clone(),
                    credentials_secret: self.settings.s3_credentials_secret.clone(),
                },
                narrator_tier: spec.narrator_tier.clone(),
                desired_state: DesiredState::Running,
                suspend: false,
                snapshot_request: None,
            },
        );
        gs.metadata.namespace = Some(self.settings.namespace.clone());
        gs
    }
}

fn kube_err(e: kube::Error) -> RuntimeError {
    RuntimeError::Unreachable(format!("the Kubernetes API: {e}"))
}

fn state_of(gs: &GameServer) -> ServerState {
    let status = gs.status.clone().unwrap_or_default();
    ServerState {
        address: status
            .address
            .map(|a| format!("http://{a}"))
            .unwrap_or_default(),
        ready: status.ready,
        restarts: 0,
        pid: None,
    }
}

#[async_trait::async_trait]
impl Runtime for KubernetesRuntime {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn ensure_running(&self, spec: &ServerSpec) -> Result<ServerState, RuntimeError> {
        let mut gs = serde_json::to_value(self.resource(spec))
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        // Operators own these (kubectl patch ... suspend: true); applying
        // them here would take them back every round.
        if let Some(spec) = gs.get_mut("spec").and_then(|s| s.as_object_mut()) {
            spec.remove("suspend");
            spec.remove("snapshotRequest");
        }
        let applied = self
            .api
            .patch(
                &spec.campaign_id,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&gs),
            )
            .await
            .map_err(kube_err)?;
        Ok(state_of(&applied))
    }

    async fn ensure_stopped(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        if self
            .api
            .get_opt(campaign_id)
            .await
            .map_err(kube_err)?
            .is_none()
        {
            return Ok(());
        }
        self.api
            .patch(
                campaign_id,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"desiredState": "Stopped"}})),
            )
            .await
            .map_err(kube_err)?;
        Ok(())
    }

    async fn state(&self, campaign_id: &str) -> Result<Option<ServerState>, RuntimeError> {
        Ok(self
            .api
            .get_opt(campaign_id)
            .await
            .map_err(kube_err)?
            .filter(|gs| gs.spec.desired_state == DesiredState::Running)
            .map(|gs| state_of(&gs)))
    }

    async fn snapshot_now(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        if self.state(campaign_id).await?.is_none() {
            return Err(RuntimeError::NotRunning);
        }
        self.api
            .patch(
                campaign_id,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({
                    "spec": {"snapshotRequest": crate::accounts::new_id()}
                })),
            )
            .await
            .map_err(kube_err)?;
        Ok(())
    }

    async fn running(&self) -> Vec<String> {
        match self.api.list(&ListParams::default()).await {
            Ok(list) => list
                .items
                .into_iter()
                .filter(|gs| gs.spec.desired_state == DesiredState::Running)
                .map(|gs| gs.name_any())
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "listing GameServers failed");
                Vec::new()
            }
        }
    }

    async fn remove(&self, campaign_id: &str) -> Result<(), RuntimeError> {
        // The controller's finalizer takes the final snapshot first.
        match self.api.delete(campaign_id, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(kube_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{expect, game_server, mock_client, not_found};
    use serde_json::json;

    const GS: &str = "/apis/startales.dev/v1alpha1/namespaces/games/gameservers/c42";

    fn runtime(client: kube::Client) -> KubernetesRuntime {
        KubernetesRuntime::new(
            client,
            KubernetesSettings {
                namespace: "games".into(),
                image: "startales/game-server:1".into(),
                snapshot_base: "s3://snaps/campaigns/".into(),
                s3_endpoint: None,
                s3_region: Some("eu-west-1".into()),
                s3_credentials_secret: Some("s3".into()),
                resources: None,
            },
        )
    }

    fn spec() -> ServerSpec {
        ServerSpec {
            campaign_id: "c42".into(),
            seed: "42".into(),
            settings: r#"{"players": 4, "generator_version": "v1"}"#.into(),
            narrator_tier: "gemini".into(),
        }
    }

    #[tokio::test]
    async fn running_a_campaign_applies_its_game_server_and_reads_the_status_back() {
        let (client, mut api) = mock_client();
        let mut answer = game_server(true);
        answer.status = Some(crate::controller::resources::GameServerStatus {
            ready: true,
            address: Some("10.0.0.9:8080".into()),
            ..Default::default()
        });
        let answer = serde_json::to_value(&answer).unwrap();
        let server = tokio::spawn(async move {
            let apply = expect(&mut api, "PATCH", GS, 200, answer).await;
            assert!(apply.uri.contains("fieldManager=startales-scheduler"));
            assert_eq!(apply.body["spec"]["desiredState"], "Running");
            assert_eq!(
                apply.body["spec"]["snapshots"]["url"],
                "s3://snaps/campaigns/c42"
            );
            assert_eq!(apply.body["spec"]["image"], "startales/game-server:1");
            // Left to operators.
            assert!(apply.body["spec"].get("suspend").is_none());
            assert!(apply.body["spec"].get("snapshotRequest").is_none());
        });
        let state = runtime(client).ensure_running(&spec()).await.unwrap();
        assert!(state.ready);
        assert_eq!(state.address, "http://10.0.0.9:8080");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn stopping_asks_for_stopped_and_a_missing_server_is_already_stopped() {
        let (client, mut api) = mock_client();
        let existing = serde_json::to_value(game_server(true)).unwrap();
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", GS, 200, existing.clone()).await;
            let patch = expect(&mut api, "PATCH", GS, 200, existing).await;
            assert_eq!(patch.body, json!({"spec": {"desiredState": "Stopped"}}));
            expect(&mut api, "GET", GS, 404, not_found("c42")).await;
        });
        let rt = runtime(client);
        rt.ensure_stopped("c42").await.unwrap();
        rt.ensure_stopped("c42").await.unwrap();
        server.await.unwrap();
    }
}
