//! Lifecycle phases of a game server.

use serde::Serialize;

/// Where the server is in its life. `/readyz` is ready only in `Joinable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading configuration, opening the listener.
    Starting,
    /// Loading state from the local database or the newest good snapshot.
    Restoring,
    /// Generating a fresh world from the seed.
    Generating,
    /// Checking the narrator (or choosing the offline fallback).
    Warming,
    /// Players may join.
    Joinable,
    /// Shutting down: no new commands, final tick and snapshot.
    Draining,
    /// Done.
    Stopped,
}

impl Phase {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Restoring => "restoring",
            Phase::Generating => "generating",
            Phase::Warming => "warming",
            Phase::Joinable => "joinable",
            Phase::Draining => "draining",
            Phase::Stopped => "stopped",
        }
    }
}
