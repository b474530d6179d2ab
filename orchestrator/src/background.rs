//! Periodic work `serve` runs beside the API: delivering the mail outbox,
//! releasing lapsed seat holds, seating waitlists that have a free seat,
//! matching quick-join tickets, sending refunds, closing the checkouts of
//! released holds and refreshing the planner's statistics. One loop for
//! all of them, so each behaves alike when a round fails or runs long;
//! Stripe calls the webhook must not wait for happen here.

use std::future::Future;
use std::time::Duration;

/// Runs `round` every `period` until the task is dropped. A round returns
/// how much it did (logged when not nothing) or an error (logged; the next
/// round tries again). Rounds never overlap, and a long one delays the
/// next rather than causing a burst.
pub async fn every<F, Fut, E>(period: Duration, what: &'static str, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match round().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "{what}"),
            Err(e) => tracing::warn!(error = %e, "{what} failed"),
        }
    }
}
