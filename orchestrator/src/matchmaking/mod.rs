//! Quick join: matching waiting tickets to open campaigns. Pure and
//! synchronous; the service around it loads tickets and campaigns, calls
//! [`match_tickets`] when campaigns are published or seats free up, and
//! turns the matches into seat holds.
//!
//! Hard rules (a campaign that breaks one is never offered): the campaign has
//! seats for the whole party, its mode and tier are among the ticket's (when
//! the ticket names any), its seat price is within the ticket's budget, and
//! (when the ticket gives its players' availability) they are free for at
//! least [`MIN_FIT_PERCENT`] of its session time. Among the rest the score
//! decides, and every point of it is explained in [`Match::reasons`].
//!
//! Time fit uses weekly bitmaps of 15-minute slots in UTC: a campaign's
//! sessions and a player's availability windows each become 672 bits, so a
//! fit check is a dozen word operations.

use campaign_gen::GameMode;
use serde::{Deserialize, Serialize};

use crate::pricing::LlmTier;

pub mod tickets;

/// Minutes in a week.
const WEEK_MINUTES: i64 = 7 * 24 * 60;
/// Slot size of the weekly bitmaps, in minutes.
const SLOT_MINUTES: i64 = 15;
/// Slots in a week.
const SLOTS: usize = (WEEK_MINUTES / SLOT_MINUTES) as usize;
const WORDS: usize = SLOTS.div_ceil(64);
/// 1970-01-01 was a Thursday; this shifts Unix time so weeks start Monday 00:00 UTC.
const EPOCH_TO_MONDAY_MS: i64 = 3 * 24 * 3_600_000;

/// A set of 15-minute slots of the week (Monday 00:00 UTC first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekSlots([u64; WORDS]);

impl Default for WeekSlots {
    fn default() -> Self {
        WeekSlots([0; WORDS])
    }
}

impl WeekSlots {
    /// Every slot of the week.
    pub fn all() -> Self {
        let mut s = WeekSlots::default();
        s.add_minutes(0, WEEK_MINUTES);
        s
    }

    /// Adds the slots touched by `[start, end)` minutes of the week; spans
    /// past the week's end wrap around to Monday.
    pub fn add_minutes(&mut self, start: i64, end: i64) {
        if end <= start {
            return;
        }
        let first = start.div_euclid(SLOT_MINUTES);
        let last = (end - 1).div_euclid(SLOT_MINUTES);
        for slot in first..=last.min(first + SLOTS as i64 - 1) {
            let s = slot.rem_euclid(SLOTS as i64) as usize;
            self.0[s / 64] |= 1 << (s % 64);
        }
    }

    /// Adds the slots a span of real time covers (Unix milliseconds).
    pub fn add_instants(&mut self, start_ms: i64, end_ms: i64) {
        let start = (start_ms + EPOCH_TO_MONDAY_MS)
            .div_euclid(60_000)
            .rem_euclid(WEEK_MINUTES);
        let minutes = (end_ms - start_ms).div_euclid(60_000);
        self.add_minutes(start, start + minutes.min(WEEK_MINUTES));
    }

    /// Number of slots set.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Slots set in both.
    pub fn overlap(&self, other: &WeekSlots) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a & b).count_ones())
            .sum()
    }
}

/// A player's (or party's) request to be matched.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The ticket's id.
    pub id: String,
    /// Acceptable modes; empty means any.
    pub modes: Vec<GameMode>,
    /// Acceptable tiers; empty means any.
    pub tiers: Vec<LlmTier>,
    /// Most they will pay per seat, in minor units; `None` for no limit.
    pub max_price_minor: Option<i64>,
    /// Seats needed (1 alone, more for a party).
    pub party_size: u32,
    /// When the ticket's players can play; empty means any time.
    pub availability: WeekSlots,
    /// When the ticket was made (older tickets are served first).
    pub created_at_ms: i64,
}

/// A published campaign with open seats.
#[derive(Debug, Clone)]
pub struct OpenCampaign {
    /// The campaign's id.
    pub id: String,
    /// Its mode.
    pub mode: GameMode,
    /// Its narration tier.
    pub tier: LlmTier,
    /// Its seat price, minor units.
    pub price_minor: i64,
    /// Seats still open.
    pub seats_open: u32,
    /// Seats taken so far.
    pub seats_taken: u32,
    /// Players it needs to run.
    pub min_players: u32,
    /// When its sessions fall in the week.
    pub sessions: WeekSlots,
    /// When its first session starts.
    pub starts_at_ms: i64,
}

/// One part of a match's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// What it is about: `mode`, `tier`, `price`, `schedule`, `start`, `filling`.
    pub factor: String,
    /// Points added.
    pub points: i32,
    /// In words.
    pub detail: String,
}

/// A ticket matched to a campaign, with the score explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// The ticket.
    pub ticket_id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Total score (the sum of the reasons' points).
    pub score: i32,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// Whether a campaign may be offered to a ticket at all.
pub(crate) fn eligible(t: &Ticket, c: &OpenCampaign, seats_open: u32) -> bool {
    seats_open >= t.party_size
        && (t.modes.is_empty() || t.modes.contains(&c.mode))
        && (t.tiers.is_empty() || t.tiers.contains(&c.tier))
        && t.max_price_minor.is_none_or(|max| c.price_minor <= max)
}

/// The least share of a campaign's session time, in percent, a ticket's
/// players must be free for (when the ticket gives their availability):
/// a quick join never seats anyone in a game they cannot mostly attend.
pub const MIN_FIT_PERCENT: i32 = 75;

/// The schedule fit in percent: the share of the campaign's session time the
/// ticket's players are free for.
fn fit_percent(t: &Ticket, c: &OpenCampaign) -> i32 {
    let total = c.sessions.count();
    if total == 0 || t.availability.count() == 0 {
        return 100;
    }
    (t.availability.overlap(&c.sessions) * 100 / total) as i32
}

/// Scores an eligible pair; `explain` also returns the reasons.
fn score(
    t: &Ticket,
    c: &OpenCampaign,
    fit: i32,
    seats_taken: u32,
    now_ms: i64,
    explain: bool,
) -> (i32, Vec<Reason>) {
    let mut reasons = Vec::new();
    let mut total = 0;
    let mut add = |factor: &'static str, points: i32, detail: &dyn Fn() -> String| {
        total += points;
        if explain {
            reasons.push(Reason {
                factor: factor.to_string(),
                points,
                detail: detail(),
            });
        }
    };
    add("schedule", fit, &|| {
        format!("your availability covers {fit}% of its session time")
    });
    if !t.modes.is_empty() {
        add("mode", 20, &|| format!("{} is one of your modes", c.mode));
    }
    if !t.tiers.is_empty() {
        add("tier", 10, &|| {
            format!("{} narration is one of your tiers", c.tier)
        });
    }
    if let Some(max) = t.max_price_minor.filter(|&m| m > 0) {
        let headroom = ((max - c.price_minor) * 20 / max) as i32;
        add("price", headroom, &|| {
            format!("{} of your {} budget left", max - c.price_minor, max)
        });
    }
    let days = ((c.starts_at_ms - now_ms) / 86_400_000).clamp(0, 30) as i32;
    add("start", 15 - days / 2, &|| format!("starts in {days} days"));
    let missing = c.min_players.saturating_sub(seats_taken) as i32;
    if missing > 0 {
        let points = (missing * 5).min(25);
        add("filling", points, &|| {
            format!("needs {missing} more players to run")
        });
    }
    (total, reasons)
}

/// Matches tickets to campaigns, oldest ticket first, each to its
/// best-scoring eligible campaign (ties: earlier start, then id), taking the
/// party's seats so no campaign is oversold. Tickets with no eligible
/// campaign are left waiting (not in the result).
pub fn match_tickets(tickets: &[Ticket], campaigns: &[OpenCampaign], now_ms: i64) -> Vec<Match> {
    let mut order: Vec<&Ticket> = tickets.iter().collect();
    order.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
    let mut seats: Vec<u32> = campaigns.iter().map(|c| c.seats_open).collect();
    let mut taken: Vec<u32> = campaigns.iter().map(|c| c.seats_taken).collect();
    let mut out = Vec::new();
    for t in order {
        let mut best: Option<(i32, i32, usize)> = None;
        for (i, c) in campaigns.iter().enumerate() {
            if !eligible(t, c, seats[i]) {
                continue;
            }
            let fit = fit_percent(t, c);
            if fit < MIN_FIT_PERCENT {
                continue;
            }
            let (s, _) = score(t, c, fit, taken[i], now_ms, false);
            let better = match best {
                None => true,
                Some((bs, _, bi)) => {
                    let b = &campaigns[bi];
                    (s, -c.starts_at_ms, std::cmp::Reverse(&c.id))
                        > (bs, -b.starts_at_ms, std::cmp::Reverse(&b.id))
                }
            };
            if better {
                best = Some((s, fit, i));
            }
        }
        if let Some((_, fit, i)) = best {
            let (score, reasons) = score(t, &campaigns[i], fit, taken[i], now_ms, true);
            seats[i] -= t.party_size;
            taken[i] += t.party_size;
            out.push(Match {
                ticket_id: t.id.clone(),
                campaign_id: campaigns[i].id.clone(),
                score,
                reasons,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    /// Monday 2026-11-23 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;

    fn campaign(id: &str, mode: GameMode, tier: LlmTier, price: i64, seats: u32) -> OpenCampaign {
        let mut sessions = WeekSlots::default();
        // Mondays 19:00-22:00 UTC.
        sessions.add_instants(MONDAY + 19 * 3_600_000, MONDAY + 22 * 3_600_000);
        OpenCampaign {
            id: id.into(),
            mode,
            tier,
            price_minor: price,
            seats_open: seats,
            seats_taken: 0,
            min_players: 2,
            sessions,
            starts_at_ms: MONDAY + 7 * DAY,
        }
    }

    fn ticket(id: &str, created: i64) -> Ticket {
        Ticket {
            id: id.into(),
            modes: vec![],
            tiers: vec![],
            max_price_minor: None,
            party_size: 1,
            availability: WeekSlots::default(),
            created_at_ms: created,
        }
    }

    #[test]
    fn the_week_starts_monday_midnight_utc() {
        let mut s = WeekSlots::default();
        s.add_instants(MONDAY, MONDAY + 15 * 60_000);
        assert_eq!(s.0[0], 1);
        let mut sunday_night = WeekSlots::default();
        sunday_night.add_instants(MONDAY - 30 * 60_000, MONDAY + 30 * 60_000);
        assert_eq!(sunday_night.count(), 4); // wraps from Sunday into Monday
        assert_eq!(WeekSlots::all().count() as usize, SLOTS);
    }

    #[test]
    fn hard_rules_are_never_broken() {
        let c = vec![campaign("c", GameMode::Conquest, LlmTier::Openai, 1000, 2)];
        let mut t = ticket("t", 0);
        t.modes = vec![GameMode::Diplomacy];
        assert!(match_tickets(&[t.clone()], &c, MONDAY).is_empty());
        t.modes = vec![];
        t.tiers = vec![LlmTier::Ollama];
        assert!(match_tickets(&[t.clone()], &c, MONDAY).is_empty());
        t.tiers = vec![];
        t.max_price_minor = Some(999);
        assert!(match_tickets(&[t.clone()], &c, MONDAY).is_empty());
        t.max_price_minor = None;
        t.party_size = 3;
        assert!(match_tickets(&[t], &c, MONDAY).is_empty());
    }

    #[test]
    fn a_campaign_its_players_are_mostly_not_free_for_is_never_offered() {
        // Mondays 19:00-22:00; free 19:00-21:00 covers two thirds of it.
        let c = vec![campaign("c", GameMode::Conquest, LlmTier::Gemini, 500, 4)];
        let mut t = ticket("t", 0);
        t.availability
            .add_instants(MONDAY + 19 * 3_600_000, MONDAY + 21 * 3_600_000);
        assert!(match_tickets(&[t.clone()], &c, MONDAY).is_empty());
        // Free until 21:30: three quarters, enough.
        t.availability.add_instants(
            MONDAY + 21 * 3_600_000,
            MONDAY + 21 * 3_600_000 + 30 * 60_000,
        );
        let m = match_tickets(&[t], &c, MONDAY);
        assert_eq!(m.len(), 1);
        let schedule = m[0]
            .reasons
            .iter()
            .find(|r| r.factor == "schedule")
            .unwrap();
        assert_eq!(schedule.points, 83);
    }

    #[test]
    fn seats_are_never_oversold_and_older_tickets_go_first() {
        let c = vec![campaign("c", GameMode::Conquest, LlmTier::Gemini, 500, 3)];
        let tickets: Vec<Ticket> = (0..10).rev().map(|i| ticket(&format!("t{i}"), i)).collect();
        let m = match_tickets(&tickets, &c, MONDAY);
        let ids: Vec<&str> = m.iter().map(|m| m.ticket_id.as_str()).collect();
        assert_eq!(ids, vec!["t0", "t1", "t2"]);
        let mut party = ticket("p", -1);
        party.party_size = 3;
        let m = match_tickets(&[party, ticket("solo", 0)], &c, MONDAY);
        assert_eq!(m.len(), 1, "the party takes all three seats");
        assert_eq!(m[0].ticket_id, "p");
    }

    #[test]
    fn the_best_fit_wins_and_the_score_is_explained() {
        let mut evening = campaign("evening", GameMode::Exploration, LlmTier::Gemini, 800, 5);
        evening.starts_at_ms = MONDAY + 3 * DAY;
        let mut morning = evening.clone();
        morning.id = "morning".into();
        morning.sessions = WeekSlots::default();
        morning
            .sessions
            .add_instants(MONDAY + 6 * 3_600_000, MONDAY + 9 * 3_600_000);
        let mut t = ticket("t", 0);
        t.availability
            .add_instants(MONDAY + 18 * 3_600_000, MONDAY + 23 * 3_600_000);
        t.modes = vec![GameMode::Exploration];
        t.max_price_minor = Some(1000);
        let m = &match_tickets(&[t], &[morning, evening], MONDAY)[0];
        assert_eq!(m.campaign_id, "evening");
        assert_eq!(m.score, m.reasons.iter().map(|r| r.points).sum::<i32>());
        let schedule = m.reasons.iter().find(|r| r.factor == "schedule").unwrap();
        assert_eq!(schedule.points, 100);
        assert!(schedule.detail.contains("100%"));
        assert!(m.reasons.iter().any(|r| r.factor == "mode"));
        assert!(
            m.reasons
                .iter()
                .any(|r| r.factor == "price" && r.points == 4)
        );
    }

    #[test]
    fn campaigns_short_of_players_are_preferred_on_an_equal_footing() {
        let mut full_enough = campaign("a", GameMode::Conquest, LlmTier::Gemini, 500, 5);
        full_enough.seats_taken = 4;
        full_enough.min_players = 4;
        let mut needy = full_enough.clone();
        needy.id = "b".into();
        needy.seats_taken = 1;
        let m = match_tickets(&[ticket("t", 0)], &[full_enough, needy], MONDAY);
        assert_eq!(m[0].campaign_id, "b");
    }
}
