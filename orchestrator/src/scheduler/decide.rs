//! What a campaign's game server should be doing at a given time: pure
//! functions of the session times, the clock and the ops override, so a
//! twelve-week campaign can be walked through in a test in microseconds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long before a session the server starts, and how long after it
/// the server keeps running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Warm-up lead before each session, ms (default 10 minutes).
    pub lead_ms: i64,
    /// Grace after each session, ms (default 15 minutes).
    pub grace_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lead_ms: 10 * 60_000,
            grace_ms: 15 * 60_000,
        }
    }
}

/// An operator's standing instruction for one campaign's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// Keep it stopped whatever the schedule says (after a final snapshot).
    Suspend,
    /// Let the players finish: no new joins, then stop at the session's
    /// end without waiting for the grace period.
    Drain,
}

impl Override {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Override::Suspend => "suspend",
            Override::Drain => "drain",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Override> {
        match s {
            "suspend" => Some(Override::Suspend),
            "drain" => Some(Override::Drain),
            _ => None,
        }
    }
}

/// What the server should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// Up and joinable.
    Running,
    /// Not running (a final snapshot taken).
    Stopped,
    /// The campaign is over: nothing runs again; snapshots are kept.
    Completed,
}

/// The desired state at `now` for a campaign whose sessions are
/// `sessions` (start, end) in Unix ms, sorted.
pub fn desired(sessions: &[(i64, i64)], now: i64, t: Timing, ops: Option<Override>) -> Desired {
    let Some(&(_, last_end)) = sessions.last() else {
        return Desired::Completed;
    };
    if now >= last_end.saturating_add(t.grace_ms) {
        return Desired::Completed;
    }
    if ops == Some(Override::Suspend) {
        return Desired::Stopped;
    }
    let grace = if ops == Some(Override::Drain) {
        0
    } else {
        t.grace_ms
    };
    let running = sessions.iter().any(|&(start, end)| {
        now >= start.saturating_sub(t.lead_ms) && now < end.saturating_add(grace)
    });
    if running {
        Desired::Running
    } else {
        Desired::Stopped
    }
}

/// The next instant after `now` at which [`desired`] may change (the
/// scheduler need not look before then), or `None` once completed.
pub fn next_change(sessions: &[(i64, i64)], now: i64, t: Timing) -> Option<i64> {
    sessions
        .iter()
        .flat_map(|&(start, end)| {
            [
                start.saturating_sub(t.lead_ms),
                end,
                end.saturating_add(t.grace_ms),
            ]
        })
        .filter(|&at| at > now)
        .min()
}

/// The campaign's lifecycle status the clock implies, from its current one:
/// an open campaign starts running at its first session; a running one
/// completes when its last session's grace is over. Other statuses stay.
pub fn status_at(
    status: &str,
    first_start: i64,
    last_end: i64,
    now: i64,
    t: Timing,
) -> Option<&'static str> {
    match status {
        "published" | "full" if now >= last_end.saturating_add(t.grace_ms) => Some("completed"),
        "published" | "full" if now >= first_start => Some("running"),
        "running" if now >= last_end.saturating_add(t.grace_ms) => Some("completed"),
        _ => None,
    }
}

/// Whether an open campaign is called off for too few players: the
/// warm-up before its first session has come with fewer seats taken than
/// its minimum (nobody is kept waiting for a game that cannot be played).
pub fn too_few_players(
    status: &str,
    seats_taken: i64,
    min_players: i64,
    first_start: i64,
    now: i64,
    t: Timing,
) -> bool {
    matches!(status, "published" | "full")
        && seats_taken < min_players
        && now >= first_start.saturating_sub(t.lead_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const WEEK: i64 = 7 * 24 * HOUR;

    fn twelve_weeks() -> Vec<(i64, i64)> {
        (0..12)
            .map(|w| (w * WEEK + 18 * HOUR, w * WEEK + 20 * HOUR))
            .collect()
    }

    #[test]
    fn a_server_runs_from_the_lead_before_each_session_to_the_grace_after_it() {
        let s = twelve_weeks();
        let t = Timing::default();
        let at = |now| desired(&s, now, t, None);
        assert_eq!(at(18 * HOUR - 10 * MIN - 1), Desired::Stopped);
        assert_eq!(at(18 * HOUR - 10 * MIN), Desired::Running);
        assert_eq!(at(19 * HOUR), Desired::Running);
        assert_eq!(at(20 * HOUR + 15 * MIN - 1), Desired::Running);
        assert_eq!(at(20 * HOUR + 15 * MIN), Desired::Stopped);
        assert_eq!(at(3 * WEEK + 19 * HOUR), Desired::Running);
        assert_eq!(at(11 * WEEK + 20 * HOUR + 15 * MIN), Desired::Completed);
    }

    #[test]
    fn walking_a_twelve_week_campaign_by_its_changes_starts_and_stops_twelve_times() {
        let s = twelve_weeks();
        let t = Timing::default();
        let (mut now, mut starts, mut stops) = (-WEEK, 0, 0);
        let mut last = desired(&s, now, t, None);
        while let Some(next) = next_change(&s, now, t) {
            now = next;
            let d = desired(&s, now, t, None);
            match (last, d) {
                (Desired::Stopped, Desired::Running) => starts += 1,
                (Desired::Running, Desired::Stopped | Desired::Completed) => stops += 1,
                _ => {}
            }
            last = d;
        }
        assert_eq!((starts, stops, last), (12, 12, Desired::Completed));
    }

    #[test]
    fn suspend_stops_a_session_and_drain_skips_the_grace() {
        let s = twelve_weeks();
        let t = Timing::default();
        assert_eq!(
            desired(&s, 19 * HOUR, t, Some(Override::Suspend)),
            Desired::Stopped
        );
        assert_eq!(
            desired(&s, 19 * HOUR, t, Some(Override::Drain)),
            Desired::Running
        );
        assert_eq!(
            desired(&s, 20 * HOUR + MIN, t, Some(Override::Drain)),
            Desired::Stopped
        );
        assert_eq!(desired(&s, 20 * HOUR + MIN, t, None), Desired::Running);
        // Suspending a finished campaign does not bring it back.
        assert_eq!(
            desired(&s, 12 * WEEK, t, Some(Override::Suspend)),
            Desired::Completed
        );
    }

    #[test]
    fn a_one_shot_runs_its_twenty_four_hours() {
        let s = [(HOUR, 25 * HOUR)];
        let t = Timing::default();
        assert_eq!(desired(&s, 13 * HOUR, t, None), Desired::Running);
        assert_eq!(desired(&s, 25 * HOUR + 14 * MIN, t, None), Desired::Running);
        assert_eq!(
            desired(&s, 25 * HOUR + 15 * MIN, t, None),
            Desired::Completed
        );
    }

    #[test]
    fn the_lifecycle_moves_to_running_at_the_first_session_and_completes_after_the_last() {
        let t = Timing::default();
        assert_eq!(status_at("published", 100, 1_000, 99, t), None);
        assert_eq!(status_at("full", 100, 1_000, 100, t), Some("running"));
        assert_eq!(status_at("running", 100, 1_000, 1_000, t), None);
        assert_eq!(
            status_at("running", 100, 1_000, 1_000 + 15 * MIN, t),
            Some("completed")
        );
        assert_eq!(
            status_at("published", 100, 1_000, 1_000 + 15 * MIN, t),
            Some("completed")
        );
        for other in ["draft", "cancelled", "completed"] {
            assert_eq!(status_at(other, 100, 1_000, 10_000_000, t), None);
        }
    }

    #[test]
    fn an_open_campaign_short_of_its_minimum_is_called_off_at_the_warm_up() {
        let t = Timing::default();
        let first = 100 * MIN;
        let warm_up = first - t.lead_ms;
        // Three of four: called off from the warm-up on, not before.
        assert!(!too_few_players("published", 3, 4, first, warm_up - 1, t));
        assert!(too_few_players("published", 3, 4, first, warm_up, t));
        assert!(too_few_players("published", 0, 2, first, first + MIN, t));
        // Enough players, or no longer open: never.
        assert!(!too_few_players("published", 4, 4, first, warm_up, t));
        assert!(!too_few_players("full", 8, 4, first, first, t));
        for other in ["draft", "running", "cancelled", "completed"] {
            assert!(!too_few_players(other, 0, 4, first, first, t));
        }
    }
}
