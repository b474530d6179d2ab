//! Runtimes: the one seam between the session scheduler and whatever runs
//! game servers. `local` runs them as processes on this host (the embedded
//! default); `kubernetes` writes GameServer resources for the controller.

pub mod kubernetes;
pub mod local;

use serde::Serialize;
use utoipa::ToSchema;

/// What a campaign's game server is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The campaign.
    pub campaign_id: String,
    /// The world seed.
    pub seed: String,
    /// campaign-gen settings, JSON.
    pub settings: String,
    /// The narrator tier (ollama, gemini, ...).
    pub narrator_tier: String,
}

/// What a runtime knows about one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ServerState {
    /// Where its HTTP and WebSocket endpoints are, e.g.
    /// `http://127.0.0.1:41234`.
    pub address: String,
    /// Answering `/readyz` (phase Joinable).
    pub ready: bool,
    /// Times it was restarted after dying.
    pub restarts: u32,
    /// The process id (local runtime), for operators.
    pub pid: Option<u32>,
}

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The server could not be started.
    #[error("cannot start the game server: {0}")]
    Start(String),
    /// The server did not answer.
    #[error("the game server did not answer: {0}")]
    Unreachable(String),
    /// No server runs for this campaign.
    #[error("no game server runs for this campaign")]
    NotRunning,
    /// Files could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Runs game servers.
#[async_trait::async_trait]
pub trait Runtime: std::fmt::Debug + Send + Sync {
    /// The runtime's name (local or kubernetes).
    fn name(&self) -> &'static str;
    /// Starts the campaign's server if it is not running (idempotent).
    async fn ensure_running(&self, spec: &ServerSpec) -> Result<ServerState, RuntimeError>;
    /// Takes a final snapshot and stops the server (idempotent; nothing
    /// to do when none runs).
    async fn ensure_stopped(&self, campaign_id: &str) -> Result<(), RuntimeError>;
    /// The server's state, if one runs.
    async fn state(&self, campaign_id: &str) -> Result<Option<ServerState>, RuntimeError>;
    /// Takes a snapshot now.
    async fn snapshot_now(&self, campaign_id: &str) -> Result<(), RuntimeError>;
    /// Campaigns whose servers run now.
    async fn running(&self) -> Vec<String>;
    /// The campaign is over: its working files go (snapshots stay, per
    /// retention).
    async fn remove(&self, campaign_id: &str) -> Result<(), RuntimeError>;
}
