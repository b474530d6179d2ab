//! Campaigns: `/api/v1/campaigns` (discovery and creation),
//! `/api/v1/campaigns/{id}` and its preview, publish and cancel actions,
//! its sessions on the viewer's clock, `/api/v1/me/campaigns` (the ones I
//! run).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::json::{Json, Query, cursor};
use super::{AppState, AuthUser, TokenUser};
use crate::accounts::Role;
use crate::accounts::profile::{DAYS, Window, parse_hhmm};
use crate::campaigns::{
    self, Campaign, CampaignPatch, CampaignSessions, Changed, NewCampaign, Preview,
};
use crate::discovery::{TimeFilter, merge_windows};
use crate::pricing::LlmTier;
use crate::seats::{self, JoinOutcome, JoinRequest, Seat};
use crate::store::campaigns::{CampaignFilter, CampaignRow, CampaignSort};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(discover).post(create))
        .route("/campaigns/{id}", get(show).patch(update))
        .route("/campaigns/{id}/preview", get(preview))
        .route("/campaigns/{id}/publish", post(publish))
        .route("/campaigns/{id}/cancel", post(cancel))
        .route("/me/campaigns", get(mine))
        .route("/campaigns/{id}/join", post(join))
        .route("/campaigns/{id}/seat", axum::routing::delete(leave))
        .route("/campaigns/{id}/roster", get(roster))
        .route(
            "/campaigns/{id}/roster/{account_id}",
            axum::routing::delete(remove_player),
        )
        .route("/campaigns/{id}/calendar.ics", get(campaign_calendar))
        .route("/campaigns/{id}/sessions", get(campaign_sessions))
        .route("/campaigns/{id}/invite-code", post(rotate_invite_code))
        .route("/me/calendar.ics", get(my_calendar))
        .route("/me/seats", get(my_seats))
        .route(
            "/me/calendar-feed",
            post(make_calendar_feed).delete(end_calendar_feed),
        )
        .route("/calendar-feeds/{token}/sessions.ics", get(calendar_feed))
}

/// Remove a player (its game master): full refund of a paid seat; the
/// waitlist moves up.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}/roster/{account_id}", tag = "campaigns", params(("id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Seat, description = "released, with the refund"),
    (status = 404, body = ErrorBody, description = "not my campaign, or no such seat")
))]
pub async fn remove_player(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, account_id)): Path<(String, String)>,
) -> Result<axum::Json<Seat>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    let seat = seats::remove_player(
        &state.store,
        state.payments.as_ref(),
        &c,
        &user.id,
        &account_id,
        state.clock.now(),
    )
    .await?;
    Ok(axum::Json(seat))
}

/// A new invite code.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteCode {
    /// Share it with the players you invite; it is shown only now.
    pub invite_code: String,
}

/// Make a new invite code for an invite-only campaign; the old one stops
/// working (its game master).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/invite-code", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = InviteCode),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "a public campaign")
))]
pub async fn rotate_invite_code(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<InviteCode>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    let code = campaigns::rotate_invite_code(&state.store, &c, state.clock.now()).await?;
    Ok(axum::Json(InviteCode { invite_code: code }))
}

fn ics(body: String) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/calendar; charset=utf-8",
        )],
        body,
    )
}

/// A campaign's sessions as an iCalendar feed (times in UTC; calendar apps
/// show them in the viewer's zone).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/calendar.ics", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "the feed", content_type = "text/calendar"),
    (status = 404, body = ErrorBody)
))]
pub async fn campaign_calendar(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let c = visible(&state, &user, &id).await?;
    let events = campaigns::calendar_events(&c)?;
    Ok(ics(crate::schedule::ics_feed(
        &c.title,
        &events,
        state.clock.now(),
    )))
}

/// All my sessions (campaigns I hold a seat in or run) as one feed.
#[utoipa::path(get, path = "/api/v1/me/calendar.ics", tag = "campaigns", security(("bearer" = [])), responses(
    (status = 200, description = "the feed", content_type = "text/calendar")
))]
pub async fn my_calendar(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    Ok(ics(calendar_of(&state, &user.id).await?))
}

/// Every session of the campaigns `account` holds a seat in or runs.
async fn calendar_of(state: &AppState, account: &str) -> Result<String, ApiError> {
    let mut events = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in state.store.seats_of(account).await? {
        if seen.insert(s.campaign_id.clone())
            && let Some(c) = state.store.campaign(&s.campaign_id).await?
        {
            events.extend(campaigns::calendar_events(&c)?);
        }
    }
    for c in state.store.campaigns_of(account).await? {
        if c.status != "cancelled" && seen.insert(c.id.clone()) {
            events.extend(campaigns::calendar_events(&c)?);
        }
    }
    events.sort_by_key(|e| e.session.starts_at_ms);
    Ok(crate::schedule::ics_feed(
        "My Startales sessions",
        &events,
        state.clock.now(),
    ))
}

/// A secret feed address.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    /// Path of my sessions feed (add it to a calendar app after this
    /// server's origin); anyone with it can read my schedule, so it is
    /// shown only now. Making a new one ends the old one.
    pub path: String,
}

/// Make (or replace) the secret address of my sessions feed, for calendar
/// apps that cannot send a bearer token.
#[utoipa::path(post, path = "/api/v1/me/calendar-feed", tag = "campaigns", security(("bearer" = [])), responses(
    (status = 201, body = CalendarFeed)
))]
pub async fn make_calendar_feed(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, axum::Json<CalendarFeed>), ApiError> {
    let token = crate::accounts::tokens::random_token();
    state
        .store
        .set_calendar_feed(
            &user.id,
            &crate::accounts::tokens::hash_token(&token),
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CalendarFeed {
            path: format!("/api/v1/calendar-feeds/{token}/sessions.ics"),
        }),
    ))
}

/// End my secret feed address.
#[utoipa::path(delete, path = "/api/v1/me/calendar-feed", tag = "campaigns", security(("bearer" = [])), responses(
    (status = 204, description = "ended"),
    (status = 404, body = ErrorBody, description = "there was none")
))]
pub async fn end_calendar_feed(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_calendar_feed(&user.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// A sessions feed by its secret address (no bearer token: the address is
/// the credential).
#[utoipa::path(get, path = "/api/v1/calendar-feeds/{token}/sessions.ics", tag = "campaigns", params(("token" = String, Path)), responses(
    (status = 200, description = "the feed", content_type = "text/calendar"),
    (status = 404, body = ErrorBody, description = "no such feed (or it was replaced)")
))]
pub async fn calendar_feed(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let owner = state
        .store
        .calendar_feed_owner(&crate::accounts::tokens::hash_token(&token))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ics(calendar_of(&state, &owner).await?))
}

/// Join: seats for me (or, with `party`, my whole party: all or none), or a
/// waitlist place when the campaign is full. Payment in test mode is
/// confirmed at once.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/join", tag = "campaigns", params(("id" = String, Path)), request_body = JoinRequest, security(("bearer" = [])), responses(
    (status = 201, body = JoinOutcome, description = "seated (a join repeated while my hold waits for its payment answers with that hold and its checkout)"),
    (status = 202, body = JoinOutcome, description = "waitlisted"),
    (status = 403, body = ErrorBody, description = "blocked, invite-only, or not the party leader"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already seated or waiting, or the campaign takes no players")
))]
pub async fn join(
    State(state): State<AppState>,
    TokenUser(user): TokenUser,
    Path(id): Path<String>,
    Json(req): Json<JoinRequest>,
) -> Result<(StatusCode, axum::Json<JoinOutcome>), ApiError> {
    let out = seats::join(
        &state.store,
        state.payments.as_ref(),
        &id,
        &user.id,
        req,
        state.clock.now(),
    )
    .await?;
    let status = if out.outcome == "seated" {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(out)))
}

/// Leave: my seat is released with a refund by policy, or my waitlist place
/// is given up. A freed seat goes to the head of the waitlist.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}/seat", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Seat, description = "seat released, with the refund"),
    (status = 204, description = "waitlist place given up"),
    (status = 404, body = ErrorBody, description = "no seat or place here")
))]
pub async fn leave(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    Ok(
        match seats::leave(
            &state.store,
            state.payments.as_ref(),
            &id,
            &user.id,
            state.clock.now(),
        )
        .await?
        {
            Some(seat) => axum::Json(seat).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

/// Seats and the waitlist, for the campaign's game master.
#[derive(Debug, Serialize, ToSchema)]
pub struct Roster {
    /// Live seats, oldest first.
    pub seats: Vec<Seat>,
    /// Waiting places in queue order: (account id, seats wanted).
    pub waitlist: Vec<Waiting>,
}

/// A waiting place.
#[derive(Debug, Serialize, ToSchema)]
pub struct Waiting {
    /// The player (a party's leader).
    pub account_id: String,
    /// Seats wanted.
    pub size: i64,
    /// Since, Unix ms.
    pub since: i64,
}

/// The roster (its game master).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/roster", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Roster),
    (status = 404, body = ErrorBody)
))]
pub async fn roster(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Roster>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    let seats = state.store.live_seats(&c.id).await?;
    let waitlist = state.store.waitlist(&c.id).await?;
    Ok(axum::Json(Roster {
        seats: seats.into_iter().map(Seat::from).collect(),
        waitlist: waitlist
            .into_iter()
            .map(|w| Waiting {
                account_id: w.account_id,
                size: w.size,
                since: w.created_at,
            })
            .collect(),
    }))
}

fn gm(user: &AuthUser) -> Result<(), ApiError> {
    match user.role {
        Role::Gm | Role::Admin => Ok(()),
        Role::Player => Err(ApiError::Forbidden(
            "only game masters run campaigns".into(),
        )),
    }
}

/// Create a draft campaign (game masters).
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaign, security(("bearer" = [])), responses(
    (status = 201, body = Campaign),
    (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "not a game master"),
    (status = 422, body = ErrorBody, description = "a field is invalid (named)")
))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<NewCampaign>,
) -> Result<(StatusCode, axum::Json<Campaign>), ApiError> {
    gm(&user)?;
    let c = campaigns::create(
        &state.store,
        &state.prices.current(&state.store).await?.book,
        &user.id,
        req,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// A campaign: published ones for anyone signed in, drafts for their game
/// master.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Campaign),
    (status = 404, body = ErrorBody)
))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Campaign>, ApiError> {
    let c = visible(&state, &user, &id).await?;
    Ok(axum::Json(Campaign::from_row(c, Some(&user.id))))
}

/// A campaign `user` may see: any but a draft for anyone signed in, drafts
/// for their game master and admins; 404 otherwise.
async fn visible(state: &AppState, user: &AuthUser, id: &str) -> Result<CampaignRow, ApiError> {
    let c = state.store.campaign(id).await?.ok_or(ApiError::NotFound)?;
    let own = c.gm_id == user.id || user.role == Role::Admin;
    if !own && c.status == "draft" {
        return Err(ApiError::NotFound);
    }
    Ok(c)
}

/// Whose clock session times are shown on.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SessionsQuery {
    /// The viewer's IANA zone; default: my profile's, else the campaign's.
    pub tz: Option<String>,
}

/// A campaign's sessions, in UTC and on the viewer's clock (whoever may
/// see the campaign).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/sessions", tag = "campaigns", params(("id" = String, Path), SessionsQuery), security(("bearer" = [])), responses(
    (status = 200, body = CampaignSessions),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "`tz` is not an IANA time zone")
))]
pub async fn campaign_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Query(q): Query<SessionsQuery>,
) -> Result<axum::Json<CampaignSessions>, ApiError> {
    let c = visible(&state, &user, &id).await?;
    let zone = match q.tz {
        Some(tz) => Some(tz),
        // A profile zone the zone database no longer knows falls back to
        // the campaign's rather than failing the viewer.
        None => state
            .store
            .profile(&user.id)
            .await?
            .map(|p| p.time_zone)
            .filter(|tz| crate::schedule::zone(tz).is_ok()),
    };
    Ok(axum::Json(campaigns::session_times(&c, zone.as_deref())?))
}

/// The world a campaign will play in: summary, NPCs, backstory, SVG map
/// (its game master, before or after publishing).
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/preview", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Preview),
    (status = 404, body = ErrorBody)
))]
pub async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Preview>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    // World generation is CPU work (milliseconds for 50 players).
    let p = tokio::task::spawn_blocking(move || campaigns::preview(&c))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    Ok(axum::Json(p))
}

/// Publish a draft: registration opens.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/publish", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Campaign),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "not a draft, or its first session has passed")
))]
pub async fn publish(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Campaign>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    campaigns::publish(&state.store, &c, state.clock.now()).await?;
    // Waiting quick-join tickets get their chance at it now; the campaign
    // is published either way (the matcher's round every few seconds
    // retries what fails here).
    if let Err(e) = crate::matchmaking::tickets::rematch(
        &state.store,
        state.payments.as_ref(),
        state.clock.now(),
    )
    .await
    {
        tracing::warn!(error = %e, campaign = %id, "matching tickets after publishing failed");
    }
    let c = state.store.campaign(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(Campaign::from_row(c, Some(&user.id))))
}

/// Cancel a campaign that has not started: every seat is refunded in full
/// and every waitlist place ends; everyone is told.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/cancel", tag = "campaigns", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Campaign),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "running, completed or already cancelled")
))]
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Campaign>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    seats::cancel_campaign(
        &state.store,
        state.payments.as_ref(),
        &c,
        seats::Cancellation::By(&user.id),
        state.clock.now(),
    )
    .await?;
    let c = state.store.campaign(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(Campaign::from_row(c, Some(&user.id))))
}

/// The campaigns I run, newest first.
#[utoipa::path(get, path = "/api/v1/me/campaigns", tag = "campaigns", security(("bearer" = [])), responses(
    (status = 200, body = [Campaign])
))]
pub async fn mine(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Vec<Campaign>>, ApiError> {
    let rows = state.store.campaigns_of(&user.id).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| Campaign::from_row(r, Some(&user.id)))
            .collect(),
    ))
}

/// Discovery filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DiscoverQuery {
    /// conquest, diplomacy, exploration or survival.
    pub mode: Option<String>,
    /// Narration tier.
    pub tier: Option<String>,
    /// Lowest seat price, minor units.
    pub min_price: Option<i64>,
    /// Highest seat price, minor units.
    pub max_price: Option<i64>,
    /// Only campaigns with a seat left: leaves out full ones, which take
    /// waitlist places only.
    #[serde(default)]
    pub seats_open: bool,
    /// First session at or after, Unix ms (0 to the end of 9999).
    pub starts_after: Option<i64>,
    /// First session before, Unix ms (0 to the end of 9999, not before
    /// `starts_after`).
    pub starts_before: Option<i64>,
    /// Only campaigns whose every session starts on one of these days in
    /// the viewer's zone (the day it starts on, also when it runs past
    /// midnight): comma separated mon,tue,wed,thu,fri,sat,sun.
    pub weekdays: Option<String>,
    /// Only campaigns whose every session lies wholly inside the time
    /// window `from`-`to` in the viewer's zone, judged by each session's
    /// real start and end there: starts at or after this time of day,
    /// `HH:MM` (default 00:00).
    pub from: Option<String>,
    /// ... and ends by this time of day, `HH:MM` (default and `24:00`:
    /// midnight). Before `from`, the window runs across midnight
    /// (`from=22:00&to=02:00`) and holds sessions that cross it.
    pub to: Option<String>,
    /// The viewer's IANA zone for weekdays and times; default: my profile's.
    pub tz: Option<String>,
    /// Only campaigns whose every session lies inside my profile's weekly
    /// availability.
    #[serde(default)]
    pub fits_my_availability: bool,
    /// start (default), price or seats_left (most first).
    pub sort: Option<String>,
    /// The `next` of the previous page (good for the same sort only).
    pub cursor: Option<String>,
    /// 1-100, default 20.
    pub limit: Option<i64>,
}

/// A campaign in a listing: what a player compares campaigns by. The full
/// record (settings, schedule, price breakdown) is at its own URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Game mode.
    pub mode: String,
    /// Narration tier.
    pub llm_tier: String,
    /// Seat price, minor units.
    pub price_minor: i64,
    /// Currency.
    pub currency: String,
    /// Most players.
    pub max_players: i64,
    /// Seats held or sold.
    pub seats_taken: i64,
    /// First session start, Unix ms.
    pub first_session_at: i64,
    /// Number of sessions.
    pub session_count: i64,
    /// published or full.
    pub status: String,
}

impl From<crate::store::campaigns::ListingRow> for CampaignSummary {
    fn from(r: crate::store::campaigns::ListingRow) -> Self {
        CampaignSummary {
            id: r.id,
            title: r.title,
            mode: r.mode,
            llm_tier: r.llm_tier,
            price_minor: r.price_minor,
            currency: r.currency,
            max_players: r.max_players,
            seats_taken: r.seats_taken,
            first_session_at: r.first_session_at,
            session_count: r.session_count,
            status: r.status,
        }
    }
}

/// A page of campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPage {
    /// Campaigns in order.
    pub campaigns: Vec<CampaignSummary>,
    /// Cursor for the next page, if there may be one.
    pub next: Option<String>,
}

/// The latest instant a start filter may name: the end of 9999, the last
/// year instants are written in.
const LATEST_MS: i64 = 253_402_300_799_999;

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Public campaigns taking players: published ones and full ones (whose
/// waitlist is open), filtered, sorted and paged by cursor.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(DiscoverQuery), security(("bearer" = [])), responses(
    (status = 200, body = CampaignPage),
    (status = 400, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "a filter is invalid (named)")
))]
pub async fn discover(
    State(state): State<AppState>,
    // Signed-in players browse (and the per-user rate limit applies).
    user: AuthUser,
    Query(q): Query<DiscoverQuery>,
) -> Result<axum::Json<CampaignPage>, ApiError> {
    let mode = q.mode.as_deref().map(campaigns::parse_mode).transpose()?;
    let tier = match q.tier.as_deref() {
        None => None,
        Some(t) => Some(
            t.parse::<LlmTier>()
                .map_err(|_| {
                    bad(
                        "tier",
                        "must be one of ollama, gemini, grok, anthropic, openai",
                    )
                })?
                .as_str()
                .to_string(),
        ),
    };
    for (field, v) in [("min_price", q.min_price), ("max_price", q.max_price)] {
        if v.is_some_and(|p| !(0..=10_000_000).contains(&p)) {
            return Err(bad(field, "must be 0 to 10000000 minor units"));
        }
    }
    if let (Some(lo), Some(hi)) = (q.min_price, q.max_price)
        && lo > hi
    {
        return Err(bad("min_price", "must not be above max_price"));
    }
    for (field, v) in [
        ("starts_after", q.starts_after),
        ("starts_before", q.starts_before),
    ] {
        if v.is_some_and(|t| !(0..=LATEST_MS).contains(&t)) {
            return Err(bad(
                field,
                "must be Unix milliseconds from 0 to 253402300799999 (the end of 9999)",
            ));
        }
    }
    if let (Some(after), Some(before)) = (q.starts_after, q.starts_before)
        && after > before
    {
        return Err(bad("starts_after", "must not be after starts_before"));
    }
    let sort = match q.sort.as_deref() {
        None | Some("start") => CampaignSort::Start,
        Some("price") => CampaignSort::Price,
        Some("seats_left") => CampaignSort::SeatsLeft,
        Some(_) => return Err(bad("sort", "must be start, price or seats_left")),
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("limit", "must be 1 to 100"));
    }
    let after = cursor::parse_in(sort.name(), q.cursor.as_deref())?;
    let time = time_filter(&state, &user.id, &q).await?;
    let filter = CampaignFilter {
        mode,
        tier,
        min_price: q.min_price,
        max_price: q.max_price,
        seats_open: q.seats_open,
        starts_after: q.starts_after,
        starts_before: q.starts_before,
        first_start: time.first_start(state.clock.now()),
    };
    let (rows, next) =
        crate::discovery::list(&state.store, &filter, &time, sort, after, limit).await?;
    Ok(axum::Json(CampaignPage {
        campaigns: rows.into_iter().map(CampaignSummary::from).collect(),
        next: next.map(|(k, id)| cursor::after_in(sort.name(), k, &id)),
    }))
}

/// The viewer-zone time filters a listing asks for.
async fn time_filter(
    state: &AppState,
    me: &str,
    q: &DiscoverQuery,
) -> Result<TimeFilter, ApiError> {
    let asked =
        q.weekdays.is_some() || q.from.is_some() || q.to.is_some() || q.fits_my_availability;
    // The profile (zone, availability) only matters to time filters.
    let profile = if asked && (q.tz.is_none() || q.fits_my_availability) {
        state.store.profile(me).await?
    } else {
        None
    };
    let zone_name = match (&q.tz, &profile) {
        (Some(tz), _) => tz.clone(),
        (None, Some(p)) => p.time_zone.clone(),
        (None, None) => "UTC".into(),
    };
    let zone = crate::schedule::zone(&zone_name)
        .map_err(|_| bad("tz", "must be an IANA time zone such as Europe/Berlin"))?;
    let weekdays = match q.weekdays.as_deref() {
        None => None,
        Some(list) => {
            let mut days = [false; 7];
            for d in list.split(',') {
                let i = DAYS
                    .iter()
                    .position(|x| *x == d.trim().to_ascii_lowercase())
                    .ok_or_else(|| {
                        bad(
                            "weekdays",
                            "must be a comma-separated list of mon, tue, wed, thu, fri, sat, sun",
                        )
                    })?;
                days[i] = true;
            }
            Some(days)
        }
    };
    let time_of_day = |field: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|s| {
                parse_hhmm(s.trim())
                    .ok_or_else(|| bad(field, "must be HH:MM (24-hour; 24:00 for midnight)"))
            })
            .transpose()
    };
    let window = match (time_of_day("from", &q.from)?, time_of_day("to", &q.to)?) {
        (None, None) => None,
        (from, to) => {
            let (from, to) = (from.unwrap_or(0), to.unwrap_or(1_440));
            if from == 1_440 {
                return Err(bad("from", "must be 00:00 to 23:59"));
            }
            // `to` before `from` is a window across midnight; equal ones
            // would say neither "nothing" nor "all day" plainly.
            if from == to {
                return Err(bad(
                    "to",
                    "must differ from from (before from, the window runs across midnight)",
                ));
            }
            Some((from, to))
        }
    };
    let availability = if q.fits_my_availability {
        let windows: Vec<Window> = profile
            .as_ref()
            .and_then(|p| serde_json::from_str(&p.availability).ok())
            .unwrap_or_default();
        let spans: Vec<(i64, i64)> = windows.iter().filter_map(Window::minutes).collect();
        if spans.is_empty() {
            return Err(bad(
                "fits_my_availability",
                "your profile has no availability windows; add them at /api/v1/me/profile",
            ));
        }
        // The windows are in my profile's zone; a `tz` that differs would
        // judge them on the wrong clock.
        if let (Some(tz), Some(p)) = (&q.tz, &profile)
            && *tz != p.time_zone
        {
            return Err(bad(
                "tz",
                "must be left out (or be your profile's zone) with fits_my_availability",
            ));
        }
        Some(merge_windows(&spans))
    } else {
        None
    };
    Ok(TimeFilter {
        zone,
        weekdays,
        window,
        availability,
    })
}

/// My seats and waitlist places.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySeats {
    /// Live seats (held for payment, or confirmed), oldest first.
    pub seats: Vec<Seat>,
    /// Campaigns I wait for, with my place in line.
    pub waitlist: Vec<MyPlace>,
}

/// A waitlist place of mine.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyPlace {
    /// The campaign.
    pub campaign_id: String,
    /// 1-based position in its line.
    pub position: i64,
    /// Seats wanted (a party waits as one).
    pub size: i64,
}

/// My seats (with any hold's expiry) and waitlist places.
#[utoipa::path(get, path = "/api/v1/me/seats", tag = "campaigns", security(("bearer" = [])), responses(
    (status = 200, body = MySeats)
))]
pub async fn my_seats(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<MySeats>, ApiError> {
    let seats = state.store.seats_of(&user.id).await?;
    let mut waitlist = Vec::new();
    for w in state.store.waiting_places(&user.id).await? {
        if let Some((w, position)) = state.store.waiting(&w.campaign_id, &user.id).await? {
            waitlist.push(MyPlace {
                campaign_id: w.campaign_id,
                position,
                size: w.size,
            });
        }
    }
    Ok(axum::Json(MySeats {
        seats: seats.into_iter().map(Seat::from).collect(),
        waitlist,
    }))
}

/// Change a campaign (its game master). Drafts take anything; once players
/// hold seats their price never changes, each is told, and a change
/// against them (new schedule, cheaper tier, cheaper new seats) lets them
/// leave with a full refund until `refund_offer_until`.
#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)), request_body = CampaignPatch, security(("bearer" = [])), responses(
    (status = 200, body = Changed),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "running, completed or cancelled, or changed meanwhile"),
    (status = 422, body = ErrorBody, description = "a field is invalid (named)")
))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(patch): Json<CampaignPatch>,
) -> Result<axum::Json<Changed>, ApiError> {
    let c = campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    let book = state.prices.current(&state.store).await?.book;
    let changed =
        campaigns::update(&state.store, &book, &c, &user.id, patch, state.clock.now()).await?;
    Ok(axum::Json(changed))
}
