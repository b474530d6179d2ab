//! Seats and waitlists: a player (or a party's leader for the whole party,
//! all members or none) takes seats in a published campaign at its quoted
//! price, or a FIFO waitlist place when it is full. Payment goes through
//! the provider seam; the local provider (the embedded default, "test mode:
//! no real money") confirms at once. A freed seat goes to the head of the
//! waitlist with a new hold and a mail.
//!
//! Blocks are honoured: nobody is seated alongside someone they block or
//! who blocks them, nor in a campaign run by such a game master.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{AccountError, new_id};
use crate::mail::tell;
use crate::schedule::Session;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::campaigns::CampaignRow;
use crate::store::group::Take;
use crate::store::seats::{SeatRow, WaitRow};

use crate::billing::payment_label;
pub use crate::billing::{HOLD_MS, LocalProvider, PaymentProvider, PaymentStart};

/// A join request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Join with my whole party (I must lead it).
    #[serde(default)]
    pub party: bool,
    /// The invite code, for invite-only campaigns.
    #[serde(default)]
    pub invite_code: Option<String>,
    /// Whether to take a place in the waitlist when the campaign is full
    /// (the default); with `false` a full campaign answers 409 instead.
    #[serde(default)]
    pub waitlist: Option<bool>,
}

/// What a join did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinOutcome {
    /// seated or waitlisted.
    pub outcome: String,
    /// The seats taken (one per member).
    pub seats: Vec<Seat>,
    /// 1-based waitlist position, when waitlisted.
    pub position: Option<i64>,
    /// The payment mode, e.g. "test mode: no real money".
    pub payment: String,
    /// Other campaigns of mine whose sessions overlap this one's.
    pub conflicts: Vec<String>,
    /// Where to pay for the held seats (with a checkout provider); the
    /// seats are confirmed once the provider reports the payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// A seat as its player sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Seat {
    /// Id.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The player.
    pub account_id: String,
    /// held or confirmed (released once left).
    pub status: String,
    /// Price, minor units.
    pub price_minor: i64,
    /// Currency.
    pub currency: String,
    /// When a hold lapses, Unix ms.
    pub hold_expires_at: Option<i64>,
    /// Refunded, minor units.
    pub refund_minor: i64,
}

impl From<SeatRow> for Seat {
    fn from(s: SeatRow) -> Self {
        Seat {
            id: s.id,
            campaign_id: s.campaign_id,
            account_id: s.account_id,
            status: s.status,
            price_minor: s.price_minor,
            currency: s.currency,
            hold_expires_at: s.hold_expires_at,
            refund_minor: s.refund_minor,
        }
    }
}

/// Who joins: me alone, or my party's members (I must lead it).
pub(crate) async fn joiners(
    store: &Store,
    me: &str,
    party: bool,
) -> Result<(Vec<String>, Option<String>), AccountError> {
    if !party {
        return Ok((vec![me.to_string()], None));
    }
    let p = store
        .party_of(me)
        .await?
        .ok_or_else(|| AccountError::Conflict("you are not in a party".into()))?;
    if p.leader_id != me {
        return Err(AccountError::Forbidden(
            "only the party's leader joins for it".into(),
        ));
    }
    let members = store
        .party_members(&p.id)
        .await?
        .into_iter()
        .filter(|m| m.status == "member")
        .map(|m| m.account_id)
        .collect();
    Ok((members, Some(p.id)))
}

fn seat_rows(
    c: &CampaignRow,
    members: &[String],
    party: Option<&str>,
    provider: &dyn PaymentProvider,
    now: i64,
) -> Vec<SeatRow> {
    members
        .iter()
        .map(|m| SeatRow {
            id: new_id(),
            campaign_id: c.id.clone(),
            account_id: m.clone(),
            party_id: party.map(str::to_string),
            status: "held".into(),
            hold_expires_at: Some(now + provider.hold_ms()),
            price_minor: c.price_minor,
            currency: c.currency.clone(),
            quote: c.quote.clone(),
            provider: provider.name().into(),
            refund_minor: 0,
            refund_offer_until: None,
            created_at: now,
            order_id: None,
        })
        .collect()
}

/// How [`seat_and_pay`] ended.
enum Seating {
    /// Seated; with a checkout provider, the page to pay on.
    Seated(Vec<SeatRow>, Option<String>),
    /// Not seated: what the seat take said instead (never
    /// [`Take::Seated`]).
    Refused(Take),
}

/// Where seats being taken come from: a join (with the place in line to
/// write instead when they do not fit), or the head of the waitlist.
#[derive(Clone, Copy)]
enum Taker<'a> {
    /// A join, waiting behind anyone in line (in its place, if it has one
    /// to fall back on).
    Join(Option<&'a WaitRow>),
    /// The waitlist place with this id, seated past the line it heads.
    Place(&'a str),
}

/// Seats `rows` on the campaign's terms `c` read them under, with an order
/// paid by `payer`, and starts the payment; when they do not fit, a join
/// writes its place in line instead. Returns the seats and, for a
/// checkout provider, the page to pay on. If the provider fails, the
/// seats go back and the error says nothing was kept.
async fn seat_and_pay(
    store: &Store,
    provider: &dyn PaymentProvider,
    c: &CampaignRow,
    payer: &str,
    mut rows: Vec<SeatRow>,
    now: i64,
    taker: Taker<'_>,
) -> Result<Seating, AccountError> {
    let discount = crate::billing::discount_for(store, provider, payer, now).await?;
    let mut order = crate::billing::new_order(payer, c, &mut rows, provider, discount, now);
    let paid_at_once = provider.confirms_at_once();
    if paid_at_once {
        order.status = "paid".into();
        order.paid_at = Some(now);
        order.expires_at = None;
        for r in &mut rows {
            r.status = "confirmed".into();
            r.hold_expires_at = None;
        }
    }
    let taken = match taker {
        Taker::Join(fallback) => {
            store
                .take_seats(&rows, Some(&order), c.terms_version, now, fallback)
                .await
        }
        Taker::Place(place) => {
            store
                .take_seats_for_place(&rows, Some(&order), c.terms_version, now, place)
                .await
        }
    };
    match taken {
        Ok(Take::Seated) => {}
        Ok(refused) => return Ok(Seating::Refused(refused)),
        Err(StoreError::Conflict(_)) => {
            return Err(AccountError::Conflict(
                "a joiner already holds a seat in this campaign".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    if paid_at_once {
        return Ok(Seating::Seated(rows, None));
    }
    match crate::billing::start_payment(store, provider, &order, &rows, &c.title, now).await? {
        Ok(PaymentStart::Confirmed) => {
            for r in &mut rows {
                r.status = "confirmed".into();
                r.hold_expires_at = None;
            }
            Ok(Seating::Seated(rows, None))
        }
        Ok(PaymentStart::Pending { url, .. }) => Ok(Seating::Seated(rows, Some(url))),
        Err(e) => {
            tracing::warn!(order = %order.id, error = %e, "checkout could not start");
            // The seats were free a moment ago, so nobody waits for them.
            for r in &rows {
                store.release_seat(&r.id, 0, now).await?;
            }
            Err(e.into())
        }
    }
}

/// Joins a campaign: seats for me (or my whole party), or a waitlist place.
/// My account's standing is checked here, with the campaign's read (see
/// `http::TokenUser`).
///
/// The hot path of a busy campaign, so it reads everything it decides on
/// in one query and writes in one transaction (a place in line is
/// committed together with the others made at the same time).
pub async fn join(
    store: &Store,
    provider: &dyn PaymentProvider,
    campaign_id: &str,
    me: &str,
    req: JoinRequest,
    now: i64,
) -> Result<JoinOutcome, AccountError> {
    let (members, party) = joiners(store, me, req.party).await?;
    let mut view = store
        .join_view(campaign_id, me, &members, now)
        .await?
        .ok_or(AccountError::NotFound)?;
    // The caller's standing is read with the campaign (the request's
    // authentication left it to this one query): nobody suspended, banned
    // or gone joins.
    let standing = view.caller.as_ref().ok_or(AccountError::BadToken)?;
    crate::accounts::check_standing(&standing.standing, standing.suspended_until, now)?;
    if view.campaign.status == "draft" {
        return Err(AccountError::NotFound);
    }
    if view.lapsed_holds {
        // Unpaid holds past their time must not keep anyone out.
        release_lapsed_holds(store, provider, Some(campaign_id), now).await?;
        view = store
            .join_view(campaign_id, me, &members, now)
            .await?
            .ok_or(AccountError::NotFound)?;
    }
    let c = view.campaign;
    if c.status != "published" && c.status != "full" {
        return Err(AccountError::Conflict(format!(
            "the campaign is {}; it takes no players",
            c.status
        )));
    }
    if c.visibility != "public"
        && !crate::campaigns::invite_code_opens(store, &c, req.invite_code.as_deref()).await?
    {
        return Err(AccountError::Forbidden(
            "this campaign is invite-only: a valid invite code is needed".into(),
        ));
    }
    if members.contains(&c.gm_id) {
        return Err(AccountError::Conflict(
            "game masters do not take seats in their own campaigns".into(),
        ));
    }
    if i64::try_from(members.len()).unwrap_or(i64::MAX) > c.max_players {
        return Err(AccountError::Conflict(format!(
            "the party has more members than the campaign has seats ({})",
            c.max_players
        )));
    }
    if view.any_seated {
        // A retried join (a double click, an answer lost on the way) of a
        // hold still waiting for its payment gets that hold and its
        // checkout again rather than a conflict.
        if let Some(out) = pending_hold(store, provider, &c, &members, me).await? {
            return Ok(out);
        }
        return Err(AccountError::Conflict(
            "a joiner already holds a seat in this campaign".into(),
        ));
    }
    if view.gm_block {
        return Err(AccountError::Forbidden(
            "a block stands between a joiner and the game master".into(),
        ));
    }
    if view.seat_block {
        return Err(AccountError::Forbidden(
            "a block stands between a joiner and a seated player".into(),
        ));
    }
    let conflicts = if view.seated_elsewhere {
        conflicts(store, &c, me).await?
    } else {
        Vec::new()
    };
    // Full (or filled up meanwhile): wait in line.
    let entry = WaitRow {
        id: new_id(),
        campaign_id: c.id.clone(),
        account_id: me.to_string(),
        party_id: party.clone(),
        size: i64::try_from(members.len()).unwrap_or(1),
        status: "waiting".into(),
        created_at: now,
        retry_at: None,
    };
    let waits = req.waitlist.unwrap_or(true);
    let full = || {
        AccountError::Conflict(format!(
            "the campaign is full ({} of {} seats taken) and you asked not to wait in line",
            c.max_players, c.max_players
        ))
    };
    if !waits && c.status == "full" {
        return Err(full());
    }
    let placed = if c.status == "published" {
        let rows = seat_rows(&c, &members, party.as_deref(), provider, now);
        let taker = Taker::Join(waits.then_some(&entry));
        match seat_and_pay(store, provider, &c, me, rows, now, taker).await? {
            Seating::Seated(seated, checkout_url) => {
                return Ok(JoinOutcome {
                    outcome: "seated".into(),
                    seats: seated.into_iter().map(Seat::from).collect(),
                    position: None,
                    payment: payment_label(provider),
                    conflicts,
                    checkout_url,
                });
            }
            Seating::Refused(Take::TermsChanged) => {
                return Err(AccountError::Conflict(
                    "the campaign's schedule, tier or price changed while you joined; look \
                     again and join on the new terms"
                        .into(),
                ));
            }
            // Filled up meanwhile: the place went in with the seat take.
            Seating::Refused(Take::Waiting(placed)) => placed,
            Seating::Refused(Take::NoRoom | Take::Seated | Take::LineMoved) if waits => {
                store.join_waitlist(&entry).await
            }
            Seating::Refused(_) => return Err(full()),
        }
    } else {
        store.join_waitlist(&entry).await
    };
    let (position, status) = match placed {
        Ok(placed) => placed,
        Err(StoreError::Conflict(_)) => {
            return Err(AccountError::Conflict(
                "you already wait in line for or hold a seat in this campaign".into(),
            ));
        }
        // Cancelled (or started) since we read it.
        Err(StoreError::Closed(status)) => {
            return Err(AccountError::Conflict(format!(
                "the campaign is {status}; it takes no players"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if status == "published" {
        // A seat freed between our read and our place in line: the line
        // moves now (and if we were its head, we are seated).
        promote(store, provider, &c.id, now).await?;
        let mut rows = Vec::new();
        for m in &members {
            if let Some(s) = store.live_seat(&c.id, m).await? {
                rows.push(s);
            }
        }
        // The members' seats share one order.
        let order = rows.iter().find_map(|s| s.order_id.clone());
        let checkout_url = match order {
            Some(id) => store.order(&id).await?.and_then(|o| o.checkout_url),
            None => None,
        };
        let seats: Vec<Seat> = rows.into_iter().map(Seat::from).collect();
        if !seats.is_empty() {
            return Ok(JoinOutcome {
                outcome: "seated".into(),
                seats,
                position: None,
                payment: payment_label(provider),
                conflicts,
                checkout_url: checkout_url.filter(|_| provider.name() != "test"),
            });
        }
    }
    Ok(JoinOutcome {
        outcome: "waitlisted".into(),
        seats: Vec::new(),
        position: Some(position),
        payment: payment_label(provider),
        conflicts,
        checkout_url: None,
    })
}

/// The hold `me` made for exactly `members` that still waits for its
/// payment, as the join that made it answered: its seats and checkout.
async fn pending_hold(
    store: &Store,
    provider: &dyn PaymentProvider,
    c: &CampaignRow,
    members: &[String],
    me: &str,
) -> Result<Option<JoinOutcome>, AccountError> {
    let mut rows = Vec::new();
    for m in members {
        match store.live_seat(&c.id, m).await? {
            Some(s) if s.status == "held" => rows.push(s),
            _ => return Ok(None),
        }
    }
    let Some(order_id) = rows.first().and_then(|s| s.order_id.clone()) else {
        return Ok(None);
    };
    if rows
        .iter()
        .any(|s| s.order_id.as_deref() != Some(order_id.as_str()))
    {
        return Ok(None);
    }
    let Some(url) = store
        .order(&order_id)
        .await?
        .filter(|o| {
            o.account_id == me
                && o.status == "pending"
                && usize::try_from(o.seats).is_ok_and(|n| n == rows.len())
        })
        .and_then(|o| o.checkout_url)
    else {
        return Ok(None);
    };
    Ok(Some(JoinOutcome {
        outcome: "seated".into(),
        seats: rows.into_iter().map(Seat::from).collect(),
        position: None,
        payment: payment_label(provider),
        conflicts: conflicts(store, c, me).await?,
        checkout_url: Some(url),
    }))
}

/// Titles of my other campaigns with a session overlapping one of `c`'s.
async fn conflicts(store: &Store, c: &CampaignRow, me: &str) -> Result<Vec<String>, AccountError> {
    let others = store.campaigns_seated_in(me, &c.id).await?;
    if others.is_empty() {
        return Ok(Vec::new());
    }
    let mine = crate::campaigns::sessions_of(c)?;
    let mut out = Vec::new();
    for other in others {
        let theirs = crate::campaigns::sessions_of(&other)?;
        if !crate::schedule::conflicts(&mine, &theirs).is_empty() {
            out.push(other.title);
        }
    }
    Ok(out)
}

/// Leaves a campaign: my seat is released with a refund by policy (full
/// before the first session; after it, for the sessions not yet played),
/// or my waitlist place is given up. A freed seat goes down the waitlist.
pub async fn leave(
    store: &Store,
    provider: &dyn PaymentProvider,
    campaign_id: &str,
    me: &str,
    now: i64,
) -> Result<Option<Seat>, AccountError> {
    let c = store
        .campaign(campaign_id)
        .await?
        .ok_or(AccountError::NotFound)?;
    let sessions = crate::campaigns::sessions_of(&c)?;
    let refund = |s: &SeatRow| refund_for(&c, s, &sessions, now);
    let by = Releaser {
        actor: Some(me),
        why: "left the campaign",
    };
    if let Some(seat) = release_live(store, provider, &c.id, me, refund, by, now).await? {
        return Ok(Some(seat));
    }
    if let Some((w, _)) = store.waiting(campaign_id, me).await?
        && store.end_wait(&w.id, "left", now).await?
    {
        return Ok(None);
    }
    Err(AccountError::NotFound)
}

/// Releases `account`'s live seat in `campaign` (if any) with the refund
/// `refund_of` gives for it as it stands when released: a hold paid while
/// it was being released is looked at again and refunded as paid.
async fn release_live(
    store: &Store,
    provider: &dyn PaymentProvider,
    campaign: &str,
    account: &str,
    refund_of: impl Fn(&SeatRow) -> i64,
    by: Releaser<'_>,
    now: i64,
) -> Result<Option<Seat>, AccountError> {
    // A seat changes state at most twice (paid, then released), so three
    // looks settle it.
    for _ in 0..3 {
        let Some(s) = store.live_seat(campaign, account).await? else {
            return Ok(None);
        };
        let refund = refund_of(&s);
        match release(store, provider, s, refund, by, now).await {
            Err(AccountError::Conflict(_)) => continue,
            done => return done.map(Some),
        }
    }
    Err(AccountError::Conflict(
        "the seat changed while it was being released; try again".into(),
    ))
}

/// Who releases a seat (nobody for the platform itself) and why, as the
/// audit log and the refund record it.
#[derive(Debug, Clone, Copy)]
struct Releaser<'a> {
    actor: Option<&'a str>,
    why: &'a str,
}

/// Releases a seat, as it was read, with a refund, audits the money, and
/// promotes the waitlist. A conflict if the seat changed since it was
/// read (paid, or released).
async fn release(
    store: &Store,
    provider: &dyn PaymentProvider,
    mut s: SeatRow,
    refund: i64,
    Releaser { actor, why }: Releaser<'_>,
    now: i64,
) -> Result<Seat, AccountError> {
    if !store.release_seat_as(&s.id, &s.status, refund, now).await? {
        return Err(AccountError::Conflict(
            "the seat changed since it was read".into(),
        ));
    }
    crate::safety::audit(
        store,
        actor,
        "seat.release",
        "seat",
        &s.id,
        serde_json::json!({
            "campaign": s.campaign_id, "account": s.account_id, "reason": why,
            "refund_minor": refund, "currency": s.currency,
        }),
        now,
    )
    .await?;
    crate::billing::refund_seat(store, provider, &s, refund, why, actor, now).await?;
    // A hold given up: its checkout must not take money for it any more.
    if s.status == "held"
        && let Some(order) = &s.order_id
    {
        crate::billing::close_checkout(store, provider, order, now).await?;
    }
    promote(store, provider, &s.campaign_id, now).await?;
    s.status = "released".into();
    s.refund_minor = refund;
    Ok(s.into())
}

/// The game master removes a player: the seat is released with a full
/// refund (for a paid seat) and the waitlist moves up.
pub async fn remove_player(
    store: &Store,
    provider: &dyn PaymentProvider,
    c: &CampaignRow,
    gm: &str,
    account: &str,
    now: i64,
) -> Result<Seat, AccountError> {
    let by = Releaser {
        actor: Some(gm),
        why: "removed by the game master",
    };
    release_live(store, provider, &c.id, account, paid, by, now)
        .await?
        .ok_or(AccountError::NotFound)
}

/// A full refund of what a seat was paid (nothing for an unpaid hold).
fn paid(s: &SeatRow) -> i64 {
    if s.status == "confirmed" {
        s.price_minor
    } else {
        0
    }
}

/// The refund policy: everything before the first session (and for holds
/// never paid nothing is owed), then the share of sessions not yet started
/// (a session under way counts as played), rounded down to the minor unit.
pub fn refund_for(c: &CampaignRow, s: &SeatRow, sessions: &[Session], now: i64) -> i64 {
    if s.status != "confirmed" {
        return 0;
    }
    // Before play starts, or while a change against the player stands
    // open, everything comes back.
    if now < c.first_session_at || s.refund_offer_until.is_some_and(|until| now < until) {
        return s.price_minor;
    }
    let total = sessions.len();
    let remaining = sessions.iter().filter(|x| x.starts_at_ms > now).count();
    if total == 0 || remaining == 0 {
        return 0;
    }
    let share = i128::from(s.price_minor) * i128::try_from(remaining).unwrap_or(0)
        / i128::try_from(total).unwrap_or(1);
    i64::try_from(share).unwrap_or(0)
}

/// How long the head of a line waits after the payment provider was not
/// answering for its promotion, ms.
const PROMOTE_RETRY_MS: i64 = 60_000;
/// And after the provider refused to open its checkout (a setup problem
/// that takes a person to fix), ms.
const PROMOTE_REFUSED_RETRY_MS: i64 = 15 * 60_000;

/// Moves every waitlist with a free seat up (the server runs it every few
/// seconds): seats freed where nobody promoted at once, such as a Stripe
/// checkout that expired (the webhook only frees the seat), go to the
/// next in line here. Returns how many places were seated.
pub async fn promote_waiting(
    store: &Store,
    provider: &dyn PaymentProvider,
    now: i64,
) -> Result<usize, AccountError> {
    let mut seated = 0;
    for c in store.campaigns_to_promote(200).await? {
        seated += promote(store, provider, &c, now).await?;
    }
    Ok(seated)
}

/// Gives free seats down the waitlist, each to the first place in line
/// that fits them, with a new hold and a mail. Returns how many places
/// were seated.
pub async fn promote(
    store: &Store,
    provider: &dyn PaymentProvider,
    campaign_id: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let mut seated = 0;
    loop {
        let Some(c) = store.campaign(campaign_id).await? else {
            return Ok(seated);
        };
        if c.status != "published" {
            return Ok(seated);
        }
        // The first in line who fits the free seats: a party too big for
        // them keeps its place without keeping them empty.
        let Some(head) = store
            .first_waiting_within(campaign_id, c.max_players - c.seats_taken)
            .await?
        else {
            return Ok(seated);
        };
        // The provider failed on the head's last try: the line waits (in
        // its order) until the head's retry is due.
        if head.retry_at.is_some_and(|t| t > now) {
            return Ok(seated);
        }
        let (members, party) = match &head.party_id {
            Some(_) => joiners(store, &head.account_id, true)
                .await
                .unwrap_or_else(|_| (vec![head.account_id.clone()], None)),
            None => (vec![head.account_id.clone()], None),
        };
        // A block made while they waited still keeps them apart.
        let blocked = store
            .join_view(campaign_id, &head.account_id, &members, now)
            .await?
            .is_some_and(|v| v.gm_block || v.seat_block);
        if blocked {
            if store.end_wait(&head.id, "left", now).await? {
                tell(
                    store,
                    &head.account_id,
                    &format!("Your place in line for {} has ended", c.title),
                    |handle| {
                        format!(
                            "{handle}, a seat opened in \"{}\", but a block now stands between \
                             your group and someone in the campaign, so your place in line has \
                             ended. Nothing was charged.\n",
                            c.title
                        )
                    },
                    now,
                )
                .await?;
            }
            continue;
        }
        let rows = seat_rows(&c, &members, party.as_deref(), provider, now);
        // The place leaves the line in the seats' own commit: a place is
        // never out of line without its seats, whatever fails after.
        let taker = Taker::Place(&head.id);
        match seat_and_pay(store, provider, &c, &head.account_id, rows, now, taker).await {
            Ok(Seating::Seated(rows, checkout_url)) => {
                seated += 1;
                let held = rows
                    .iter()
                    .find_map(|s| s.hold_expires_at.filter(|_| s.status == "held"));
                let pay_here = checkout_url
                    .map(|u| format!(" Pay here: {u}"))
                    .unwrap_or_default();
                tell(
                    store,
                    &head.account_id,
                    &format!("A seat opened in {}", c.title),
                    |to| {
                        let pay = match held {
                            Some(until) => format!(
                                " It is held for you until {}; pay for it before then or it \
                                 goes to the next in line.{pay_here}",
                                to.time(until),
                            ),
                            None => String::new(),
                        };
                        format!(
                            "Good news, {to}: a seat opened in \"{}\" and it is yours.{pay}\n",
                            c.title
                        )
                    },
                    now,
                )
                .await?;
                // A party's other members learn their seats came too (the
                // leader pays for them all).
                for m in members.iter().filter(|m| **m != head.account_id) {
                    tell(
                        store,
                        m,
                        &format!("A seat opened in {}", c.title),
                        |handle| {
                            format!(
                                "Good news, {handle}: seats opened in \"{}\" for your party, \
                                 and one is yours.\n",
                                c.title
                            )
                        },
                        now,
                    )
                    .await?;
                }
            }
            // Another promotion seated it, or its player left: the next.
            Ok(Seating::Refused(Take::LineMoved)) => {}
            // No room after all (a concurrent promotion took the seat): the
            // place keeps its spot.
            Ok(Seating::Refused(_)) => return Ok(seated),
            // They hold a seat already: the place is spent.
            Err(AccountError::Conflict(_)) => {
                store.end_wait(&head.id, "left", now).await?;
            }
            // The payment provider is down, or refused to open the
            // checkout (the seats went back): back in line in the same
            // place, tried again by the background round once the retry
            // is due.
            Err(AccountError::Unavailable(_)) => {
                store
                    .reopen_wait(&head.id, Some(now + PROMOTE_RETRY_MS), now)
                    .await?;
                return Ok(seated);
            }
            Err(AccountError::PaymentRefused(m)) => {
                tracing::warn!(place = %head.id, error = %m, "the provider refused a promotion");
                store
                    .reopen_wait(&head.id, Some(now + PROMOTE_REFUSED_RETRY_MS), now)
                    .await?;
                return Ok(seated);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Releases holds that ran out unpaid (of one campaign, or all), tells each
/// player, and gives the freed seats down the waitlist. Returns how many
/// holds lapsed. The server runs it every few seconds; joins run it for
/// their campaign first so a lapsed hold never keeps a seat from them.
pub async fn release_lapsed_holds(
    store: &Store,
    provider: &dyn PaymentProvider,
    campaign: Option<&str>,
    now: i64,
) -> Result<usize, AccountError> {
    let mut released = 0;
    let mut campaigns = std::collections::BTreeSet::new();
    for s in store.lapsed_holds(campaign, now, 500).await? {
        // A payment that landed meanwhile wins: the seat stays.
        if !store.release_lapsed_hold(&s.id, now).await? {
            continue;
        }
        released += 1;
        if let Some(c) = store.campaign(&s.campaign_id).await? {
            // The same key as the webhook's "checkout ended" mail: one
            // mail per hold, whichever noticed first.
            crate::mail::tell_once(
                store,
                &format!("hold-ended:{}", s.id),
                &s.account_id,
                &format!("Your seat hold in {} ran out", c.title),
                |handle| {
                    format!(
                        "{handle}, your seat in \"{}\" was held for payment until {} and was \
                         not paid, so it went back to the campaign. Nothing was charged. You \
                         can join again while seats are open.\n",
                        c.title,
                        handle.time(s.hold_expires_at.unwrap_or(now)),
                    )
                },
                now,
            )
            .await?;
        }
        campaigns.insert(s.campaign_id);
    }
    for c in campaigns {
        promote(store, provider, &c, now).await?;
    }
    Ok(released)
}

/// Why a campaign that has not started is called off.
#[derive(Debug, Clone, Copy)]
pub enum Cancellation<'a> {
    /// Its game master (or an admin), this account, cancelled it.
    By(&'a str),
    /// Fewer players than its minimum held seats when its first session
    /// came near.
    TooFewPlayers,
}

impl<'a> Cancellation<'a> {
    /// Who did it, if a person did.
    fn actor(self) -> Option<&'a str> {
        match self {
            Cancellation::By(actor) => Some(actor),
            Cancellation::TooFewPlayers => None,
        }
    }

    /// The reason on the audit log and the refunds.
    fn reason(self) -> &'static str {
        match self {
            Cancellation::By(_) => "campaign cancelled",
            Cancellation::TooFewPlayers => "campaign cancelled: too few players",
        }
    }

    /// What players are told happened to `c`.
    fn told(self, c: &CampaignRow) -> String {
        match self {
            Cancellation::By(_) => format!("the game master cancelled \"{}\"", c.title),
            Cancellation::TooFewPlayers => format!(
                "\"{}\" did not reach its minimum of {} players before its first session, \
                 so it is cancelled",
                c.title, c.min_players
            ),
        }
    }
}

/// Cancels a campaign that has not started (by its game master or an
/// admin, or for too few players): registration closes, every seat is
/// released with a full refund of what was paid (audited), every waitlist
/// place ends, and everyone is told. Returns the seats released.
pub async fn cancel_campaign(
    store: &Store,
    provider: &dyn PaymentProvider,
    c: &CampaignRow,
    why: Cancellation<'_>,
    now: i64,
) -> Result<Vec<Seat>, AccountError> {
    crate::campaigns::cancel(store, c, now).await?;
    let told = why.told(c);
    let by = Releaser {
        actor: why.actor(),
        why: why.reason(),
    };
    let mut released = Vec::new();
    for s in store.live_seats(&c.id).await? {
        let account = s.account_id;
        let Some(seat) = release_live(store, provider, &c.id, &account, paid, by, now).await?
        else {
            // The player left meanwhile (and was refunded by policy).
            continue;
        };
        let refund = seat.refund_minor;
        released.push(seat);
        tell(
            store,
            &account,
            &format!("{} is cancelled", c.title),
            |handle| {
                format!(
                    "{handle}, {told}. Your seat is refunded in full ({refund} minor units \
                     of {}).\n",
                    c.currency
                )
            },
            now,
        )
        .await?;
    }
    end_line(store, c, &format!("{} is cancelled", c.title), &told, now).await?;
    Ok(released)
}

/// Ends every place in `c`'s line (the campaign no longer takes players:
/// `what` happened), telling each player under `subject`. Returns how many
/// ended.
async fn end_line(
    store: &Store,
    c: &CampaignRow,
    subject: &str,
    what: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let mut ended = 0;
    for w in store.waitlist(&c.id).await? {
        if store.end_wait(&w.id, "left", now).await? {
            ended += 1;
            tell(
                store,
                &w.account_id,
                subject,
                |handle| {
                    format!(
                        "{handle}, {what}; your waitlist place has ended. Nothing was \
                         charged.\n"
                    )
                },
                now,
            )
            .await?;
        }
    }
    Ok(ended)
}

/// Ends `c`'s line now that it is `status` (started, or closed since a
/// place went in), telling each player why.
pub async fn end_closed_line(
    store: &Store,
    c: &CampaignRow,
    status: &str,
    now: i64,
) -> Result<usize, AccountError> {
    let what = match status {
        "running" | "completed" => format!("\"{}\" has started without a seat for you", c.title),
        _ => format!("\"{}\" is {status}", c.title),
    };
    let subject = format!("Your place in line for {} has ended", c.title);
    end_line(store, c, &subject, &what, now).await
}

/// Ends the places left waiting in lines of campaigns that stopped taking
/// players in the last hour (a join's place written just as its campaign
/// was cancelled or started); the server runs it every few seconds.
/// Returns how many ended.
pub async fn end_stranded_places(store: &Store, now: i64) -> Result<usize, AccountError> {
    let mut ended = 0;
    for c in store
        .closed_campaigns_with_line(now - 3_600_000, 100)
        .await?
    {
        ended += end_closed_line(store, &c, &c.status, now).await?;
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const WEEK: i64 = 7 * 24 * HOUR;

    /// Four weekly 3-hour sessions from t = 0.
    fn four_weeks() -> (CampaignRow, Vec<Session>) {
        let sessions: Vec<Session> = (0..4)
            .map(|i| Session {
                index: i,
                starts_at_ms: i64::from(i) * WEEK,
                ends_at_ms: i64::from(i) * WEEK + 3 * HOUR,
            })
            .collect();
        let c = CampaignRow {
            first_session_at: 0,
            last_session_end: 3 * WEEK + 3 * HOUR,
            ..CampaignRow::default()
        };
        (c, sessions)
    }

    fn paid(price: i64) -> SeatRow {
        SeatRow {
            status: "confirmed".into(),
            price_minor: price,
            ..SeatRow::default()
        }
    }

    #[test]
    fn leaving_refunds_the_share_of_sessions_not_yet_started() {
        let (c, sessions) = four_weeks();
        let seat = paid(1199);
        // Before the first session: everything.
        assert_eq!(refund_for(&c, &seat, &sessions, -1), 1199);
        // During the first session it counts as played: three of four left.
        assert_eq!(refund_for(&c, &seat, &sessions, HOUR), 899);
        // Between sessions the gap does not count against the player.
        assert_eq!(refund_for(&c, &seat, &sessions, WEEK - 1), 899);
        assert_eq!(refund_for(&c, &seat, &sessions, 2 * WEEK + 4 * HOUR), 299);
        // Once the last session has begun nothing is left to refund.
        assert_eq!(refund_for(&c, &seat, &sessions, 3 * WEEK), 0);
        assert_eq!(refund_for(&c, &seat, &sessions, 4 * WEEK), 0);
    }

    #[test]
    fn an_open_change_offer_refunds_everything_and_unpaid_holds_nothing() {
        let (c, sessions) = four_weeks();
        let mut seat = paid(1199);
        seat.refund_offer_until = Some(2 * WEEK);
        assert_eq!(refund_for(&c, &seat, &sessions, WEEK + HOUR), 1199);
        assert_eq!(refund_for(&c, &seat, &sessions, 2 * WEEK + HOUR), 299);
        let hold = SeatRow {
            status: "held".into(),
            price_minor: 1199,
            ..SeatRow::default()
        };
        assert_eq!(refund_for(&c, &hold, &sessions, -1), 0);
    }
}
