//! The session scheduler: at each round it works out, from every scheduled
//! campaign's sessions and the (injectable) clock, whether its game server
//! should run, tells the runtime, and moves the campaign through its
//! lifecycle (published/full → running at the first session → completed
//! after the last). The decisions are in [`decide`]; this is the thin part
//! doing I/O.

pub mod decide;

use std::sync::Arc;

use crate::accounts::AccountError;
use crate::billing::PaymentProvider;
use crate::runtime::{Runtime, ServerSpec};
use crate::seats::{Cancellation, cancel_campaign, end_closed_line};
use crate::store::Store;
use crate::store::campaigns::CampaignRow;
use decide::{Desired, Override, Timing, desired, status_at, too_few_players};

/// What a scheduler round needs.
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// The database.
    pub store: Store,
    /// Where game servers run.
    pub runtime: Arc<dyn Runtime>,
    /// Warm-up lead and grace.
    pub timing: Timing,
    /// Where the refunds of campaigns called off go.
    pub payments: Arc<dyn PaymentProvider>,
}

/// The runtime spec of a campaign's server.
pub fn spec_of(c: &CampaignRow) -> ServerSpec {
    ServerSpec {
        campaign_id: c.id.clone(),
        seed: c.seed.clone(),
        settings: c.settings.clone(),
        narrator_tier: c.llm_tier.clone(),
    }
}

/// The desired state of a campaign's server at `now`.
pub fn desired_for(c: &CampaignRow, now: i64, timing: Timing) -> Result<Desired, AccountError> {
    let sessions: Vec<(i64, i64)> = crate::campaigns::sessions_of(c)?
        .iter()
        .map(|s| (s.starts_at_ms, s.ends_at_ms))
        .collect();
    let ops = c.server_override.as_deref().and_then(Override::parse);
    Ok(match c.status.as_str() {
        "cancelled" | "completed" | "draft" => Desired::Completed,
        // Nobody to play with: nothing runs (the campaign still moves on).
        _ if c.seats_taken == 0 && desired(&sessions, now, timing, ops) == Desired::Running => {
            Desired::Stopped
        }
        _ => desired(&sessions, now, timing, ops),
    })
}

impl Scheduler {
    /// One round at `now`. Returns how many servers it started or stopped
    /// and campaigns it moved on.
    pub async fn round(&self, now: i64) -> Result<usize, AccountError> {
        let mut changed = 0;
        let campaigns = self
            .store
            .scheduled_campaigns(now.saturating_add(self.timing.lead_ms))
            .await?;
        let running = self.runtime.running().await;
        let mut seen = std::collections::BTreeSet::new();
        for c in campaigns {
            if too_few_players(
                &c.status,
                c.seats_taken,
                c.min_players,
                c.first_session_at,
                now,
                self.timing,
            ) {
                let why = Cancellation::TooFewPlayers;
                match cancel_campaign(&self.store, self.payments.as_ref(), &c, why, now).await {
                    Ok(seats) => {
                        tracing::info!(campaign = %c.id, seats = seats.len(), min = c.min_players, "campaign called off for too few players");
                        changed += 1;
                    }
                    // Cancelled or moved on meanwhile: the next round sees it.
                    Err(AccountError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                // Its server, if any, goes with the servers of campaigns
                // no longer scheduled, below.
                continue;
            }
            seen.insert(c.id.clone());
            if let Some(to) = status_at(
                &c.status,
                c.first_session_at,
                c.last_session_end,
                now,
                self.timing,
            ) && self
                .store
                .set_campaign_status(&c.id, &c.status, to, now)
                .await?
            {
                tracing::info!(campaign = %c.id, from = %c.status, to, "campaign moved on");
                changed += 1;
                // Registration is over: nobody waits in its line any more.
                end_closed_line(&self.store, &c, to, now).await?;
            }
            let is_running = running.contains(&c.id);
            match desired_for(&c, now, self.timing)? {
                // A running server is the runtime's to keep up (the local
                // supervisor restarts it, the controller replaces its pod).
                Desired::Running if is_running => {}
                Desired::Running => {
                    changed += 1;
                    if let Err(e) = self.runtime.ensure_running(&spec_of(&c)).await {
                        tracing::warn!(campaign = %c.id, error = %e, "game server not started");
                    }
                }
                Desired::Stopped if is_running => {
                    changed += 1;
                    if let Err(e) = self.runtime.ensure_stopped(&c.id).await {
                        tracing::warn!(campaign = %c.id, error = %e, "game server not stopped");
                    }
                }
                Desired::Stopped => {}
                Desired::Completed => {
                    if is_running {
                        changed += 1;
                    }
                    if let Err(e) = self.runtime.remove(&c.id).await {
                        tracing::warn!(campaign = %c.id, error = %e, "game server not removed");
                    }
                }
            }
        }
        // Servers of campaigns no longer scheduled (cancelled, completed,
        // removed) stop too.
        for id in running.iter().filter(|id| !seen.contains(*id)) {
            changed += 1;
            if let Err(e) = self.runtime.remove(id).await {
                tracing::warn!(campaign = %id, error = %e, "game server not removed");
            }
        }
        Ok(changed)
    }
}
