//! API tests: each test spawns the orchestrator on port 0 with a fresh
//! database. `STARTALES_TEST_DB=sqlite` (the default) uses a temporary
//! SQLite file; `STARTALES_TEST_DB=postgres` makes a new database on
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and drops it afterwards.

// Test helpers outside #[test] functions may unwrap: a panic is a failure.
#![allow(clippy::unwrap_used)]

mod accounts;
mod api_keys;
mod billing;
mod browser;
mod campaigns;
mod cli;
mod gdpr;
mod health;
mod helpers;
mod matchmaking;
mod openapi;
mod passwords;
mod pricing;
mod profiles;
mod safety;
mod seats;
mod sessions;
mod social;
mod stripe_standin;
