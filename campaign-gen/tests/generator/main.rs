//! Tests of campaign-gen through its public API and its command line:
//! pinned golden hashes, world invariants over many seeds, and the CLI.

// Test helpers outside #[test] functions may unwrap: a panic is a failure.
#![allow(clippy::unwrap_used)]

mod cli;
mod golden;
mod invariants;
