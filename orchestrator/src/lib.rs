//! The Startales orchestrator: accounts, campaigns, pricing, matchmaking and
//! billing behind an HTTP API, the session scheduler, and the Kubernetes
//! controller that runs one game server per campaign.

pub mod accounts;
pub mod background;
pub mod billing;
pub mod campaigns;
pub mod cli;
pub mod config;
pub mod controller;
pub mod demo;
pub mod discovery;
pub mod http;
pub mod mail;
pub mod matchmaking;
pub mod metrics;
pub mod play;
pub mod price_books;
pub mod pricing;
pub mod runtime;
pub mod safety;
pub mod schedule;
pub mod scheduler;
pub mod seats;
pub mod social;
pub mod store;
