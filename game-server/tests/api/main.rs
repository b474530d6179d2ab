//! API tests: real game-server processes on port 0 with fresh data dirs,
//! real WebSocket clients, a real S3-compatible server and a local
//! OpenAI-compatible server.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod durability;
mod helpers;
mod lifecycle;
mod narration;
mod protocol;
mod snapshots;
mod warm;
