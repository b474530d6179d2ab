//! Campaigns as game masters set them up: validated settings (through
//! campaign-gen), a seed given or drawn, the generator version fixed at
//! creation, a schedule, a narration tier and a seat price quoted from the
//! price book. Drafts can be previewed (the world campaign-gen makes of
//! them), published for players to find, or cancelled.
//!
//! Lifecycle: draft → published → full → running → completed, or cancelled.
//! This module covers creation, preview, publishing, cancelling and
//! discovery; seats, waitlists and matchmaking build on it.

use campaign_gen::{GameMode, Settings, World, generate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{AccountError, invalid, new_id};
use crate::pricing::{LlmTier, PriceBook, Quote, QuoteRequest, quote};
use crate::schedule::{CalendarEvent, Schedule, ScheduleSpec, Session};
use crate::store::Store;
use crate::store::campaigns::CampaignRow;

/// Who can find a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignVisibility {
    /// Listed in discovery.
    Public,
    /// Only reachable with an invite code.
    Invite,
}

/// A new campaign.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// Title, 3-80 characters.
    pub title: String,
    /// Description, up to 4000 characters.
    #[serde(default)]
    pub description: String,
    /// World settings (campaign-gen): players (the maximum, 2-50), galaxy,
    /// difficulty, mode, species_pool, generator_version.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// The world seed; drawn at random when left out.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Narration tier: ollama, gemini, grok, anthropic, openai.
    pub llm_tier: String,
    /// Fewest players to run (2 up to the maximum).
    pub min_players: u32,
    /// public or invite.
    pub visibility: CampaignVisibility,
    /// When it is played.
    #[schema(value_type = Object)]
    pub schedule: ScheduleSpec,
}

/// A campaign as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    /// Id.
    pub id: String,
    /// The game master's account id.
    pub gm_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Game mode.
    pub mode: String,
    /// World settings.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Generator version (fixed).
    pub generator_version: String,
    /// The world seed (shown to its game master only).
    pub seed: Option<String>,
    /// Narration tier.
    pub llm_tier: String,
    /// Fewest players.
    pub min_players: i64,
    /// Most players.
    pub max_players: i64,
    /// Seats held or sold.
    pub seats_taken: i64,
    /// public or invite.
    pub visibility: String,
    /// The schedule.
    #[schema(value_type = Object)]
    pub schedule: serde_json::Value,
    /// First session start, Unix ms.
    pub first_session_at: i64,
    /// Last session end, Unix ms.
    pub last_session_end: i64,
    /// Number of sessions.
    pub session_count: i64,
    /// Seat price in minor units.
    pub price_minor: i64,
    /// Currency.
    pub currency: String,
    /// The quote behind the price, with its breakdown.
    #[schema(value_type = Object)]
    pub quote: serde_json::Value,
    /// draft, published, full, running, completed or cancelled.
    pub status: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Published, Unix ms.
    pub published_at: Option<i64>,
    /// The invite code of an invite-only campaign: shown once, when it is
    /// made (at creation or rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
}

impl Campaign {
    /// The client view of a row; the seed only for its game master.
    pub fn from_row(r: CampaignRow, viewer: Option<&str>) -> Campaign {
        let own = viewer == Some(r.gm_id.as_str());
        Campaign {
            seed: own.then_some(r.seed),
            settings: serde_json::from_str(&r.settings).unwrap_or_default(),
            schedule: serde_json::from_str(&r.schedule).unwrap_or_default(),
            quote: serde_json::from_str(&r.quote).unwrap_or_default(),
            id: r.id,
            gm_id: r.gm_id,
            title: r.title,
            description: r.description,
            mode: r.mode,
            generator_version: r.generator_version,
            llm_tier: r.llm_tier,
            min_players: r.min_players,
            max_players: r.max_players,
            seats_taken: r.seats_taken,
            visibility: r.visibility,
            first_session_at: r.first_session_at,
            last_session_end: r.last_session_end,
            session_count: r.session_count,
            price_minor: r.price_minor,
            currency: r.currency,
            status: r.status,
            created_at: r.created_at,
            published_at: r.published_at,
            invite_code: None,
        }
    }
}

/// Makes a new invite code for a campaign, replacing (revoking) the old.
pub async fn rotate_invite_code(
    store: &Store,
    row: &CampaignRow,
    now: i64,
) -> Result<String, AccountError> {
    if row.visibility != "invite" {
        return Err(AccountError::Conflict(
            "only invite-only campaigns have invite codes".into(),
        ));
    }
    let code = crate::accounts::tokens::random_token();
    store
        .set_invite_code(&row.id, &crate::accounts::tokens::hash_token(&code), now)
        .await?;
    Ok(code)
}

/// Whether `code` opens an invite-only campaign.
pub async fn invite_code_opens(
    store: &Store,
    row: &CampaignRow,
    code: Option<&str>,
) -> Result<bool, AccountError> {
    match code {
        Some(c) if !c.trim().is_empty() => Ok(store
            .invite_code_matches(&row.id, &crate::accounts::tokens::hash_token(c.trim()))
            .await?),
        _ => Ok(false),
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // Only broken systems fail here; a zero seed is still a valid world.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

fn checked_title(title: &str) -> Result<String, AccountError> {
    let title = title.trim().to_string();
    let n = title.chars().count();
    if !(3..=80).contains(&n) || title.chars().any(char::is_control) {
        return Err(invalid("title", "must be 3 to 80 characters"));
    }
    Ok(title)
}

fn checked_description(description: &str) -> Result<String, AccountError> {
    let description = description.trim().to_string();
    if description.chars().count() > 4000 {
        return Err(invalid("description", "must be at most 4000 characters"));
    }
    Ok(description)
}

fn checked_tier(tier: &str) -> Result<LlmTier, AccountError> {
    tier.trim().parse().map_err(|_| {
        invalid(
            "llm_tier",
            "must be one of ollama, gemini, grok, anthropic, openai",
        )
    })
}

fn checked_min_players(min: u32, max: u32) -> Result<i64, AccountError> {
    if !(2..=max).contains(&min) {
        return Err(invalid(
            "min_players",
            format!("must be between 2 and the maximum of {max} players"),
        ));
    }
    Ok(i64::from(min))
}

/// A schedule's sessions, refused unless the first is still ahead.
fn checked_sessions(spec: &ScheduleSpec, now: i64) -> Result<Vec<Session>, AccountError> {
    let schedule = Schedule::parse(spec).map_err(|e| AccountError::Invalid {
        field: e.field,
        message: format!("schedule: {}", e.message),
    })?;
    let sessions = schedule.sessions();
    match sessions.first() {
        None => Err(invalid("schedule", "has no sessions")),
        Some(first) if first.starts_at_ms <= now => Err(invalid(
            "schedule",
            "the first session must be in the future",
        )),
        Some(_) => Ok(sessions),
    }
}

/// Prices a seat; fills the row's schedule-derived and price fields.
fn price_into(
    row: &mut CampaignRow,
    book: &PriceBook,
    spec: &ScheduleSpec,
    sessions: &[Session],
    tier: LlmTier,
) -> Result<(), AccountError> {
    let (Some(first), Some(last)) = (sessions.first(), sessions.last()) else {
        return Err(invalid("schedule", "has no sessions"));
    };
    let q: Quote = quote(
        book,
        QuoteRequest {
            players: u32::try_from(row.max_players).unwrap_or(u32::MAX),
            sessions: u32::try_from(sessions.len()).unwrap_or(u32::MAX),
            session_minutes: u32::try_from(first.minutes()).unwrap_or(u32::MAX),
            tier,
        },
    )
    .map_err(|e| invalid("schedule", e.to_string()))?;
    row.schedule = to_json(spec)?;
    row.first_session_at = first.starts_at_ms;
    row.last_session_end = last.ends_at_ms;
    row.session_count = i64::try_from(sessions.len()).unwrap_or(i64::MAX);
    row.session_minutes = first.minutes();
    row.llm_tier = tier.as_str().to_string();
    row.price_minor = q.price.amount;
    row.currency = q.price.currency.code().to_string();
    row.quote = to_json(&q)?;
    Ok(())
}

/// Stored JSON text of a value (which cannot fail for these types, but is
/// not unwrapped on principle).
fn to_json<T: Serialize>(v: &T) -> Result<String, AccountError> {
    serde_json::to_string(v).map_err(|e| AccountError::Hashing(e.to_string()))
}

/// Creates a draft campaign for game master `gm`.
pub async fn create(
    store: &Store,
    book: &PriceBook,
    gm: &str,
    req: NewCampaign,
    now: i64,
) -> Result<Campaign, AccountError> {
    let title = checked_title(&req.title)?;
    let description = checked_description(&req.description)?;
    let settings: Settings = serde_json::from_value(req.settings.clone())
        .map_err(|e| invalid("settings", format!("{e}")))?;
    let tier = checked_tier(&req.llm_tier)?;
    let max = u32::from(settings.players());
    let min_players = checked_min_players(req.min_players, max)?;
    let sessions = checked_sessions(&req.schedule, now)?;
    let seed = req.seed.unwrap_or_else(random_seed);
    let mut row = CampaignRow {
        id: new_id(),
        gm_id: gm.to_string(),
        title,
        description,
        mode: settings.mode().as_str().to_string(),
        settings: to_json(&settings)?,
        generator_version: serde_json::to_value(settings.generator_version())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "v1".into()),
        seed: seed.to_string(),
        llm_tier: String::new(),
        min_players,
        max_players: i64::from(max),
        visibility: match req.visibility {
            CampaignVisibility::Public => "public".into(),
            CampaignVisibility::Invite => "invite".into(),
        },
        schedule: String::new(),
        first_session_at: 0,
        last_session_end: 0,
        session_count: 0,
        session_minutes: 0,
        price_minor: 0,
        currency: String::new(),
        quote: String::new(),
        status: "draft".into(),
        seats_taken: 0,
        created_at: now,
        published_at: None,
        terms_version: 0,
        server_override: None,
    };
    price_into(&mut row, book, &req.schedule, &sessions, tier)?;
    store.insert_campaign(&row, now).await?;
    let code = if row.visibility == "invite" {
        Some(rotate_invite_code(store, &row, now).await?)
    } else {
        None
    };
    let mut c = Campaign::from_row(row, Some(gm));
    c.invite_code = code;
    Ok(c)
}

/// How long players may leave with a full refund after a change against
/// them: a week.
pub const REFUND_OFFER_MS: i64 = 7 * 86_400_000;

/// A game master's change to a campaign: every field optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    /// Title, 3-80 characters.
    pub title: Option<String>,
    /// Description, up to 4000 characters.
    pub description: Option<String>,
    /// Narration tier.
    pub llm_tier: Option<String>,
    /// Fewest players to run.
    pub min_players: Option<u32>,
    /// A new schedule (the first session still ahead).
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<ScheduleSpec>,
}

/// What a change did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Changed {
    /// The campaign now.
    pub campaign: Campaign,
    /// Seated players told of the change.
    pub notified: usize,
    /// When the change hurts seated players (a new schedule, a cheaper
    /// tier, or new seats cheaper than theirs), each may leave with a full
    /// refund until this time, Unix ms.
    pub refund_offer_until: Option<i64>,
}

/// Applies a game master's change. Drafts take anything. Once players hold
/// seats nothing changes silently: their seats keep the price they were
/// sold at, every seated player is told, and a change against them (a new
/// schedule, a cheaper tier, a lower price for new seats) lets each leave
/// with a full refund for [`REFUND_OFFER_MS`] (and at least until the new
/// first session), even once play has begun.
pub async fn update(
    store: &Store,
    book: &PriceBook,
    c: &CampaignRow,
    actor: &str,
    patch: CampaignPatch,
    now: i64,
) -> Result<Changed, AccountError> {
    if !matches!(c.status.as_str(), "draft" | "published" | "full") {
        return Err(AccountError::Conflict(format!(
            "a {} campaign cannot be changed",
            c.status
        )));
    }
    let mut next = c.clone();
    if let Some(t) = &patch.title {
        next.title = checked_title(t)?;
    }
    if let Some(d) = &patch.description {
        next.description = checked_description(d)?;
    }
    if let Some(m) = patch.min_players {
        next.min_players =
            checked_min_players(m, u32::try_from(c.max_players).unwrap_or(u32::MAX))?;
    }
    let old_tier: LlmTier = c.llm_tier.parse().unwrap_or(LlmTier::Ollama);
    let tier = match &patch.llm_tier {
        Some(t) => checked_tier(t)?,
        None => old_tier,
    };
    let stored_spec: ScheduleSpec = serde_json::from_str(&c.schedule)
        .map_err(|e| AccountError::Hashing(format!("stored schedule: {e}")))?;
    let rescheduled = patch.schedule.as_ref().is_some_and(|s| *s != stored_spec);
    let terms_changed = rescheduled || tier != old_tier;
    if terms_changed {
        let spec = patch.schedule.clone().unwrap_or(stored_spec);
        let sessions = checked_sessions(&spec, now)?;
        price_into(&mut next, book, &spec, &sessions, tier)?;
    }
    let seated = store.live_seats(&c.id).await?;
    let token_price = |t: LlmTier| {
        book.tiers
            .iter()
            .find(|x| x.tier == t)
            .map_or(0, |x| x.minor_per_million_tokens)
    };
    let hurts = !seated.is_empty()
        && (rescheduled
            || token_price(tier) < token_price(old_tier)
            || seated.iter().any(|s| next.price_minor < s.price_minor));
    let offer = hurts.then(|| (now + REFUND_OFFER_MS).max(next.first_session_at));
    if !store
        .update_campaign(&next, c.terms_version, terms_changed, offer, now)
        .await?
    {
        return Err(AccountError::Conflict(
            "the campaign changed meanwhile; reload it and try again".into(),
        ));
    }
    crate::safety::audit(
        store,
        Some(actor),
        "campaign.update",
        "campaign",
        &c.id,
        serde_json::json!({
            "title": next.title, "llm_tier": next.llm_tier, "schedule_changed": rescheduled,
            "price_minor": {"from": c.price_minor, "to": next.price_minor},
            "currency": next.currency, "refund_offer_until": offer,
        }),
        now,
    )
    .await?;
    let mut notified = 0;
    if terms_changed || c.title != next.title {
        for s in &seated {
            // Times on each player's own clock.
            let body = |to: &crate::mail::Reader<'_>| {
                let mut body = format!(
                    "{to}, the game master changed \"{}\" (now \"{}\").\n",
                    c.title, next.title
                );
                if rescheduled {
                    body.push_str(&format!(
                        "Sessions: {} from {}, was {} from {}.\n",
                        next.session_count,
                        to.time(next.first_session_at),
                        c.session_count,
                        to.time(c.first_session_at),
                    ));
                }
                if tier != old_tier {
                    body.push_str(&format!("Narration: {tier}, was {old_tier}.\n"));
                }
                body.push_str(&format!(
                    "Your seat keeps the price you paid ({} minor units of {}).\n",
                    s.price_minor, s.currency
                ));
                if let Some(until) = offer {
                    body.push_str(&format!(
                        "If this no longer suits you, leave the campaign before {} for a full \
                         refund.\n",
                        to.time(until)
                    ));
                }
                body
            };
            let subject = format!("Changes to {}", next.title);
            if crate::mail::tell(store, &s.account_id, &subject, body, now).await? {
                notified += 1;
            }
        }
    }
    let row = store.campaign(&c.id).await?.ok_or(AccountError::NotFound)?;
    Ok(Changed {
        campaign: Campaign::from_row(row, Some(actor)),
        notified,
        refund_offer_until: offer,
    })
}

/// A campaign its game master (or an admin) may manage.
pub async fn managed(
    store: &Store,
    id: &str,
    user: &str,
    admin: bool,
) -> Result<CampaignRow, AccountError> {
    match store.campaign(id).await? {
        Some(c) if c.gm_id == user || admin => Ok(c),
        _ => Err(AccountError::NotFound),
    }
}

/// The world a campaign's settings and seed make.
pub fn world_of(row: &CampaignRow) -> Result<World, AccountError> {
    let settings: Settings = serde_json::from_str(&row.settings)
        .map_err(|e| AccountError::Hashing(format!("stored settings: {e}")))?;
    let seed: u64 = row
        .seed
        .parse()
        .map_err(|e| AccountError::Hashing(format!("stored seed: {e}")))?;
    Ok(generate(seed, &settings))
}

/// What a game master sees before publishing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    /// The world's name.
    pub world_name: String,
    /// The world hash (the same settings and seed always give it).
    pub world_hash: String,
    /// Star systems.
    pub systems: usize,
    /// Hyperlanes.
    pub lanes: usize,
    /// Factions (players and NPC empires).
    pub factions: usize,
    /// NPC characters: "Name, title".
    pub characters: Vec<String>,
    /// The backstory's paragraphs.
    pub backstory: Vec<String>,
    /// The galaxy map as SVG.
    pub map_svg: String,
}

/// The preview of a campaign's world.
pub fn preview(row: &CampaignRow) -> Result<Preview, AccountError> {
    let world = world_of(row)?;
    Ok(Preview {
        world_name: world.name.clone(),
        world_hash: world.hash(),
        systems: world.galaxy.systems.len(),
        lanes: world.galaxy.lanes.len(),
        factions: world.factions.len(),
        characters: world
            .characters
            .iter()
            .map(|c| format!("{}, {}", c.name, c.title))
            .collect(),
        backstory: world.backstory.paragraphs.clone(),
        map_svg: campaign_gen::svg(&world),
    })
}

/// Publishes a draft (registration opens).
pub async fn publish(store: &Store, row: &CampaignRow, now: i64) -> Result<(), AccountError> {
    if row.first_session_at <= now {
        return Err(AccountError::Conflict(
            "the first session has passed; change the schedule first".into(),
        ));
    }
    if !store
        .set_campaign_status(&row.id, "draft", "published", now)
        .await?
    {
        return Err(AccountError::Conflict(format!(
            "only drafts can be published; this one is {}",
            row.status
        )));
    }
    Ok(())
}

/// Moves a draft, published or full campaign to cancelled (seats and the
/// waitlist are settled by [`crate::seats::cancel_campaign`]).
pub async fn cancel(store: &Store, row: &CampaignRow, now: i64) -> Result<(), AccountError> {
    for from in ["draft", "published", "full"] {
        if row.status == from
            && store
                .set_campaign_status(&row.id, from, "cancelled", now)
                .await?
        {
            return Ok(());
        }
    }
    Err(AccountError::Conflict(format!(
        "a {} campaign cannot be cancelled",
        row.status
    )))
}

/// Checks a mode filter.
pub fn parse_mode(s: &str) -> Result<String, AccountError> {
    s.parse::<GameMode>()
        .map(|m| m.as_str().to_string())
        .map_err(|_| {
            invalid(
                "mode",
                "must be conquest, diplomacy, exploration or survival",
            )
        })
}

/// A campaign's sessions, from its stored schedule.
pub fn sessions_of(row: &CampaignRow) -> Result<Vec<Session>, AccountError> {
    sessions_of_schedule(&row.schedule)
}

/// Sessions of a stored schedule spec (JSON).
pub fn sessions_of_schedule(schedule: &str) -> Result<Vec<Session>, AccountError> {
    Ok(stored_schedule(schedule)?.sessions())
}

/// A stored schedule spec (JSON), checked again.
fn stored_schedule(schedule: &str) -> Result<Schedule, AccountError> {
    let spec: ScheduleSpec = serde_json::from_str(schedule)
        .map_err(|e| AccountError::Hashing(format!("stored schedule: {e}")))?;
    Schedule::parse(&spec).map_err(|e| AccountError::Hashing(format!("stored schedule: {e}")))
}

/// A campaign's sessions as a viewer sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignSessions {
    /// The campaign.
    pub campaign_id: String,
    /// The IANA zone the local times are in: the one asked for (`tz`),
    /// else the viewer's profile zone, else the campaign's own.
    pub time_zone: String,
    /// The zone the campaign is planned in.
    pub campaign_time_zone: String,
    /// Every session, in order.
    pub sessions: Vec<SessionTimes>,
}

/// One session's start and end, in UTC and on the viewer's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionTimes {
    /// 0-based position in the campaign.
    pub index: u32,
    /// Start, Unix ms.
    pub starts_at_ms: i64,
    /// End (exclusive), Unix ms.
    pub ends_at_ms: i64,
    /// Start in UTC, RFC 3339: "2027-03-07T18:00:00Z".
    pub starts_at: String,
    /// End in UTC, RFC 3339.
    pub ends_at: String,
    /// Start on the viewer's clock, RFC 3339 with the offset of that day:
    /// "2027-03-07T19:00:00+01:00".
    pub local_starts_at: String,
    /// End on the viewer's clock, RFC 3339 with the offset of that instant
    /// (a session across a clock change ends on another offset).
    pub local_ends_at: String,
}

/// A campaign's sessions on the clock of `viewer_zone` (an IANA name,
/// looked up here), or on the campaign's own when `None`.
pub fn session_times(
    row: &CampaignRow,
    viewer_zone: Option<&str>,
) -> Result<CampaignSessions, AccountError> {
    let schedule = stored_schedule(&row.schedule)?;
    let name = viewer_zone.unwrap_or(schedule.zone_name()).to_string();
    let zone = crate::schedule::zone(&name).map_err(|e| invalid("tz", e.message))?;
    let utc = jiff::tz::TimeZone::UTC;
    let sessions = schedule
        .sessions()
        .into_iter()
        .map(|s| SessionTimes {
            index: s.index,
            starts_at_ms: s.starts_at_ms,
            ends_at_ms: s.ends_at_ms,
            starts_at: crate::schedule::rfc3339_in(s.starts_at_ms, &utc),
            ends_at: crate::schedule::rfc3339_in(s.ends_at_ms, &utc),
            local_starts_at: crate::schedule::rfc3339_in(s.starts_at_ms, &zone),
            local_ends_at: crate::schedule::rfc3339_in(s.ends_at_ms, &zone),
        })
        .collect();
    Ok(CampaignSessions {
        campaign_id: row.id.clone(),
        time_zone: name.trim().to_string(),
        campaign_time_zone: schedule.zone_name().to_string(),
        sessions,
    })
}

/// Calendar entries for a campaign's sessions (stable ids per session).
pub fn calendar_events(row: &CampaignRow) -> Result<Vec<CalendarEvent>, AccountError> {
    let sessions = sessions_of(row)?;
    let total = sessions.len();
    Ok(sessions
        .into_iter()
        .map(|s| CalendarEvent {
            uid: format!("{}-{}@startales", row.id, s.index),
            summary: format!("{} (session {} of {total})", row.title, s.index + 1),
            description: format!("Startales campaign \"{}\".", row.title),
            session: s,
            sequence: row.terms_version,
            cancelled: row.status == "cancelled",
        })
        .collect())
}
