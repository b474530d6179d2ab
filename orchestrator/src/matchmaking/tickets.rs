//! Quick-join tickets: the service around the pure matcher. A ticket holds
//! a player's (or a party's) preferences; it is matched at once to the
//! best open campaign and seated there, or it waits and is matched again
//! when campaigns are published or seats free up. Every match comes with
//! its explained score.

use std::collections::BTreeSet;

use campaign_gen::GameMode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Match, OpenCampaign, Reason, Ticket, WeekSlots, match_tickets};
use crate::accounts::profile::Window;
use crate::accounts::{AccountError, invalid, new_id};
use crate::pricing::LlmTier;
use crate::seats::{self, JoinOutcome, JoinRequest, PaymentProvider};
use crate::store::Store;
use crate::store::campaigns::CampaignRow;
use crate::store::tickets::TicketRow;

/// How many campaigns one round considers (soonest first).
const CAMPAIGNS_PER_ROUND: i64 = 5_000;
/// How many waiting tickets one round serves (oldest first).
const TICKETS_PER_ROUND: i64 = 20_000;
/// Campaigns tried for one ticket before it waits for the next round.
const TRIES: usize = 3;

/// A quick-join request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// Acceptable modes (conquest, diplomacy, exploration, survival); empty
    /// or left out for any.
    #[serde(default)]
    pub modes: Vec<String>,
    /// Acceptable narration tiers; empty or left out for any.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Most per seat, minor units; left out for no limit.
    pub max_price_minor: Option<i64>,
    /// Judge schedules against my profile's weekly availability (default
    /// true; without windows any time fits).
    #[serde(default = "yes")]
    pub use_my_availability: bool,
    /// Match my whole party (I must lead it).
    #[serde(default)]
    pub party: bool,
}

fn yes() -> bool {
    true
}

/// A ticket as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    /// Id.
    pub id: String,
    /// waiting, matched or cancelled.
    pub status: String,
    /// Seats it needs.
    pub party_size: i64,
    /// The campaign it was matched to.
    pub campaign_id: Option<String>,
    /// The match's score: the sum of the reasons' points.
    pub score: Option<i64>,
    /// Why that campaign, point by point.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<Reason>,
    /// The seats taken, when matched just now.
    pub join: Option<JoinOutcome>,
    /// Made, Unix ms.
    pub created_at: i64,
}

impl TicketView {
    fn from_row(r: TicketRow, join: Option<JoinOutcome>) -> TicketView {
        TicketView {
            reasons: r
                .reasons
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            id: r.id,
            status: r.status,
            party_size: r.party_size,
            campaign_id: r.campaign_id,
            score: r.score,
            join,
            created_at: r.created_at,
        }
    }
}

/// The week's UTC slots covered by weekly windows in `zone`, taken in the
/// week around `now` (a window's UTC position moves by an hour across a
/// daylight-saving change; scores are approximate there, never rules).
fn availability_slots(windows: &[Window], zone: &str, now: i64) -> WeekSlots {
    let mut slots = WeekSlots::default();
    let Ok(tz) = crate::schedule::zone(zone) else {
        return WeekSlots::all();
    };
    let Ok(ts) = Timestamp::from_millisecond(now) else {
        return WeekSlots::all();
    };
    let today = ts.to_zoned(tz.clone()).date();
    let monday = today
        .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .unwrap_or(today);
    for w in windows {
        let Some((start, end)) = w.minutes() else {
            continue;
        };
        let at = |minute_of_week: i64| {
            let date = monday
                .checked_add(jiff::Span::new().days(minute_of_week / 1_440))
                .ok()?;
            let m = minute_of_week % 1_440;
            let time = jiff::civil::Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).ok()?;
            date.to_datetime(time)
                .to_zoned(tz.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        };
        if let (Some(a), Some(b)) = (at(start), at(end)) {
            slots.add_instants(a, b);
        }
    }
    slots
}

fn parse_list<T>(
    field: &'static str,
    items: &[String],
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Vec<T>, AccountError> {
    items
        .iter()
        .map(|s| parse(s).ok_or_else(|| invalid(field, format!("{s:?} is not one of {allowed}"))))
        .collect()
}

/// The matcher's view of a stored ticket.
fn ticket_of(r: &TicketRow) -> Ticket {
    let modes: Vec<String> = serde_json::from_str(&r.modes).unwrap_or_default();
    let tiers: Vec<String> = serde_json::from_str(&r.tiers).unwrap_or_default();
    Ticket {
        id: r.id.clone(),
        modes: modes.iter().filter_map(|m| m.parse().ok()).collect(),
        tiers: tiers.iter().filter_map(|t| t.parse().ok()).collect(),
        max_price_minor: r.max_price_minor,
        party_size: u32::try_from(r.party_size).unwrap_or(u32::MAX),
        availability: r
            .availability
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default(),
        created_at_ms: r.created_at,
    }
}

/// The matcher's view of a campaign, sessions still empty (`None` for rows
/// it cannot read).
fn open_of(c: &CampaignRow) -> Option<OpenCampaign> {
    Some(OpenCampaign {
        id: c.id.clone(),
        mode: c.mode.parse::<GameMode>().ok()?,
        tier: c.llm_tier.parse::<LlmTier>().ok()?,
        price_minor: c.price_minor,
        seats_open: u32::try_from(c.max_players - c.seats_taken).ok()?,
        seats_taken: u32::try_from(c.seats_taken).ok()?,
        min_players: u32::try_from(c.min_players).ok()?,
        sessions: WeekSlots::default(),
        starts_at_ms: c.first_session_at,
    })
}

/// Open campaigns as the matcher sees them; with `only`, just those that
/// ticket could be offered (its sessions are worked out for no others).
async fn open_campaigns(
    store: &Store,
    now: i64,
    only: Option<&Ticket>,
) -> Result<Vec<OpenCampaign>, AccountError> {
    let rows = store.open_campaigns(now, CAMPAIGNS_PER_ROUND).await?;
    Ok(rows
        .iter()
        .filter_map(|c| {
            let mut open = open_of(c)?;
            if only.is_some_and(|t| !super::eligible(t, &open, open.seats_open)) {
                return None;
            }
            for s in crate::campaigns::sessions_of(c).ok()? {
                open.sessions.add_instants(s.starts_at_ms, s.ends_at_ms);
            }
            Some(open)
        })
        .collect())
}

/// Seats a ticket's players in a matched campaign and closes the ticket.
/// `None` when the seat went elsewhere, a block or an earlier seat stands
/// in the way, or the ticket was cancelled meanwhile.
async fn seat(
    store: &Store,
    provider: &dyn PaymentProvider,
    row: &TicketRow,
    m: &Match,
    now: i64,
) -> Result<Option<JoinOutcome>, AccountError> {
    // A seat held there already (say, one waiting for its payment) is not
    // this ticket's to take, nor to give back below.
    if store
        .live_seat(&m.campaign_id, &row.account_id)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    // A quick join does not wait in a line: a campaign that filled up
    // meanwhile answers a conflict.
    let req = JoinRequest {
        party: row.party,
        invite_code: None,
        waitlist: Some(false),
    };
    let out = match seats::join(store, provider, &m.campaign_id, &row.account_id, req, now).await {
        Ok(out) => out,
        Err(
            AccountError::Conflict(_)
            | AccountError::Forbidden(_)
            | AccountError::NotFound
            | AccountError::PaymentRefused(_)
            // An account suspended, banned or gone since it asked is not
            // seated (and holds up no one else's match).
            | AccountError::Suspended { .. }
            | AccountError::Banned
            | AccountError::BadToken,
        ) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let reasons = serde_json::to_string(&m.reasons).unwrap_or_else(|_| "[]".into());
    if !store
        .match_ticket(&row.id, &m.campaign_id, i64::from(m.score), &reasons, now)
        .await?
    {
        // Cancelled while we seated them: every seat taken goes back (a
        // party's members' too, not only its leader's).
        for s in &out.seats {
            match seats::leave(store, provider, &m.campaign_id, &s.account_id, now).await {
                Ok(_) | Err(AccountError::NotFound | AccountError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(None);
    }
    crate::mail::tell(
        store,
        &row.account_id,
        "Quick join found you a campaign",
        |handle| {
            format!(
                "{handle}, your quick-join ticket matched campaign {} (score {}).\n",
                m.campaign_id, m.score
            )
        },
        now,
    )
    .await?;
    Ok(Some(out))
}

/// Tries a ticket against the best few campaigns in turn.
async fn match_one(
    store: &Store,
    provider: &dyn PaymentProvider,
    row: &TicketRow,
    campaigns: &[OpenCampaign],
    first: Option<Match>,
    now: i64,
) -> Result<Option<JoinOutcome>, AccountError> {
    let ticket = ticket_of(row);
    let mut excluded = BTreeSet::new();
    let mut next = first;
    for _ in 0..TRIES {
        let m = match next.take() {
            Some(m) => m,
            None => {
                let left: Vec<OpenCampaign> = campaigns
                    .iter()
                    .filter(|c| !excluded.contains(&c.id))
                    .cloned()
                    .collect();
                match match_tickets(std::slice::from_ref(&ticket), &left, now)
                    .into_iter()
                    .next()
                {
                    Some(m) => m,
                    None => return Ok(None),
                }
            }
        };
        if let Some(out) = seat(store, provider, row, &m, now).await? {
            return Ok(Some(out));
        }
        excluded.insert(m.campaign_id);
    }
    Ok(None)
}

/// Opens a ticket for me (or my party) and matches it at once if it can.
pub async fn open(
    store: &Store,
    provider: &dyn PaymentProvider,
    me: &str,
    req: NewTicket,
    now: i64,
) -> Result<TicketView, AccountError> {
    let modes = parse_list(
        "modes",
        &req.modes,
        |s| s.parse::<GameMode>().ok(),
        "conquest, diplomacy, exploration, survival",
    )?;
    let tiers = parse_list(
        "tiers",
        &req.tiers,
        |s| s.parse::<LlmTier>().ok(),
        "ollama, gemini, grok, anthropic, openai",
    )?;
    if req
        .max_price_minor
        .is_some_and(|p| !(0..=10_000_000).contains(&p))
    {
        return Err(invalid(
            "max_price_minor",
            "must be 0 to 10000000 minor units",
        ));
    }
    let (members, _) = seats::joiners(store, me, req.party).await?;
    let availability = if req.use_my_availability {
        match store.profile(me).await? {
            Some(p) => {
                let windows: Vec<Window> =
                    serde_json::from_str(&p.availability).unwrap_or_default();
                (!windows.is_empty()).then(|| availability_slots(&windows, &p.time_zone, now))
            }
            None => None,
        }
    } else {
        None
    };
    let row = TicketRow {
        id: new_id(),
        account_id: me.to_string(),
        party: req.party,
        party_size: i64::try_from(members.len()).unwrap_or(1),
        modes: serde_json::to_string(&modes.iter().map(|m| m.as_str()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into()),
        tiers: serde_json::to_string(&tiers.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into()),
        max_price_minor: req.max_price_minor,
        availability: availability.and_then(|a| serde_json::to_string(&a).ok()),
        status: "waiting".into(),
        campaign_id: None,
        score: None,
        reasons: None,
        created_at: now,
    };
    match store.insert_ticket(&row).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            return Err(AccountError::Conflict(
                "you already have a waiting ticket; cancel it first".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let campaigns = open_campaigns(store, now, Some(&ticket_of(&row))).await?;
    let join = match_one(store, provider, &row, &campaigns, None, now).await?;
    let row = store.ticket(&row.id).await?.ok_or(AccountError::NotFound)?;
    Ok(TicketView::from_row(row, join))
}

/// One matching round over every waiting ticket, oldest first; returns
/// how many were seated. Runs when a campaign is published and every few
/// seconds (seats free up as players leave and holds lapse).
pub async fn rematch(
    store: &Store,
    provider: &dyn PaymentProvider,
    now: i64,
) -> Result<usize, AccountError> {
    let rows = store.waiting_tickets(TICKETS_PER_ROUND).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let campaigns = std::sync::Arc::new(open_campaigns(store, now, None).await?);
    let tickets: Vec<Ticket> = rows.iter().map(ticket_of).collect();
    // Thousands of tickets take a good fraction of a second: off the
    // request threads.
    let all = campaigns.clone();
    let matches = tokio::task::spawn_blocking(move || match_tickets(&tickets, &all, now))
        .await
        .map_err(|e| AccountError::Hashing(format!("matcher failed: {e}")))?;
    let by_id: std::collections::HashMap<&str, &TicketRow> =
        rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seated = 0;
    for m in matches {
        let Some(row) = by_id.get(m.ticket_id.as_str()).copied() else {
            continue;
        };
        if match_one(store, provider, row, &campaigns, Some(m), now)
            .await?
            .is_some()
        {
            seated += 1;
        }
    }
    Ok(seated)
}

/// My ticket.
pub async fn view(store: &Store, me: &str, id: &str) -> Result<TicketView, AccountError> {
    match store.ticket(id).await? {
        Some(r) if r.account_id == me => Ok(TicketView::from_row(r, None)),
        _ => Err(AccountError::NotFound),
    }
}

/// Cancels my waiting ticket.
pub async fn cancel(store: &Store, me: &str, id: &str, now: i64) -> Result<(), AccountError> {
    let t = view(store, me, id).await?;
    if !store.cancel_ticket(id, now).await? {
        return Err(AccountError::Conflict(format!(
            "the ticket is {}; only waiting tickets can be cancelled",
            t.status
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-11-23 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn availability_windows_become_utc_slots_of_the_week() {
        let windows = [Window {
            day: "sat".into(),
            start: "19:00".into(),
            end: "22:00".into(),
        }];
        // Berlin in November is UTC+1: Saturday 18:00-21:00 UTC.
        let slots = availability_slots(&windows, "Europe/Berlin", MONDAY + 50 * HOUR);
        let mut expected = WeekSlots::default();
        let saturday = MONDAY + 5 * 24 * HOUR;
        expected.add_instants(saturday + 18 * HOUR, saturday + 21 * HOUR);
        assert_eq!(slots, expected);
        assert_eq!(slots.count(), 12);
        // An unknown zone judges nothing: any time fits.
        assert_eq!(
            availability_slots(&windows, "Nowhere/Land", MONDAY),
            WeekSlots::all()
        );
    }
}
