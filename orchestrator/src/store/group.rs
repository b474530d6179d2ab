//! Joins written in groups. A busy campaign's joins end in one of two
//! writes, seats taken (with their order) or a waitlist place, and with one
//! commit each (a WAL sync on SQLite, a WAL flush on Postgres) the commits
//! were the bottleneck. Writes that arrive while a group is being written
//! go together into the next transaction (or, for places alone, the next
//! insert), so many joins share one commit; each keeps its own outcome (a
//! seat take that does not fit, or a player already seated or waiting,
//! fails alone). A seat take that finds no room writes the join's place
//! in line instead, in the same commit, so a busy campaign's join goes
//! through the writer once; and for a moment after the writer finds a
//! campaign full, its late takes skip the seat transaction altogether.
//! Promotions from the waitlist are seat takes too: the place leaves the
//! line in the commit that seats it.
//!
//! Nothing waits for a group to fill: a write with no other in flight is
//! written at once, alone. The writing runs in its own task, so a request
//! that goes away mid-write takes nobody else's answer with it.

use std::collections::{HashMap, HashSet};

use sqlx::AnyPool;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::billing::OrderRow;
use super::seats::{SeatRow, WaitRow};
use super::{Store, StoreError, placeholders};

/// At most this many writes share one commit (with parties of up to
/// eight, well under either backend's limit on bound values).
const MAX_GROUP: usize = 128;

/// A group stops growing before any one of its inserts (seats, orders or
/// waitlist places) would bind more than this many bytes (values and their
/// per-value framing), so each of its statements goes out in one TLS
/// record (16 KiB of plaintext, with room left for the rest of the
/// message). The Postgres driver writes each record with a write of its
/// own, without `TCP_NODELAY`: a second record waited for the server's
/// delayed acknowledgement of the first, and groups of about 100 places
/// or more took 50-60 ms instead of 10.
const MAX_GROUP_BYTES: usize = 12 * 1024;

/// What a bound value costs in a statement's message besides its bytes:
/// its length and its format code.
const PER_VALUE: usize = 6;

/// The bytes a text value binds, framing included.
fn text(s: &str) -> usize {
    s.len() + PER_VALUE
}

/// The bytes an optional text value binds, framing included.
fn maybe(s: Option<&String>) -> usize {
    s.map_or(PER_VALUE, |s| text(s))
}

/// The bytes an integer binds, framing included.
const INT: usize = 8 + PER_VALUE;

/// What writing a waitlist place gives: its 1-based position in line and
/// the campaign's status once it was in line.
pub type Placed = Result<(i64, String), StoreError>;

/// What taking seats gives.
pub type Taken = Result<Take, StoreError>;

/// How a seat take ended.
#[derive(Debug)]
pub enum Take {
    /// Every seat is taken.
    Seated,
    /// They did not fit: the campaign is full or not open, or its terms
    /// changed.
    NoRoom,
    /// They did not fit, and the take's place in line was written instead
    /// (in the same commit): how that went.
    Waiting(Placed),
    /// They did not fit because the campaign's terms are no longer the
    /// ones the take was made on (told only to takes with a place in line
    /// to fall back on).
    TermsChanged,
    /// A promotion whose place in line no longer waits (another promotion
    /// seated it, or its player left): nothing was taken.
    LineMoved,
}

/// Seats to take together, with the order that pays for them and the
/// place in line to write instead when they do not fit.
#[derive(Debug)]
struct SeatTake {
    seats: Vec<SeatRow>,
    order: Option<OrderRow>,
    terms_version: i64,
    now: i64,
    fallback: Option<WaitRow>,
    /// The waitlist place these seats are for (a promotion): it leaves the
    /// line in the take's own commit, and the take does not wait behind
    /// the line it heads.
    promotes: Option<String>,
}

#[derive(Debug)]
enum Pending {
    Place(WaitRow, oneshot::Sender<Placed>),
    // Boxed: a take with its order and place in line is many times a
    // place's size.
    Seats(Box<SeatTake>, oneshot::Sender<Taken>),
}

impl Pending {
    /// About how many bytes this write binds in each of the group's
    /// inserts, at most: a seat take's seats and order if it fits, its
    /// place in line if it does not.
    fn bound_bytes(&self) -> Bound {
        match self {
            Pending::Place(w, _) => Bound {
                places: place_bytes(w),
                ..Bound::default()
            },
            Pending::Seats(t, _) => Bound {
                seats: t.seats.iter().map(seat_bytes).sum(),
                orders: t.order.as_ref().map_or(0, order_bytes),
                places: t.fallback.as_ref().map_or(0, place_bytes),
            },
        }
    }

    /// Answers this write with `e`.
    fn fail(self, e: StoreError) {
        // A request that went away needs no answer.
        match self {
            Pending::Place(_, reply) => drop(reply.send(Err(e))),
            Pending::Seats(_, reply) => drop(reply.send(Err(e))),
        }
    }
}

/// A group's answers: one per seat take and one per place, each in the
/// order of the group.
type Answers = (Vec<Taken>, Vec<Placed>);

/// Sends each write of `group` its answer.
fn answer(group: impl IntoIterator<Item = Pending>, (taken, placed): Answers) {
    let (mut taken, mut placed) = (taken.into_iter(), placed.into_iter());
    for p in group {
        match p {
            Pending::Place(_, reply) => {
                let _ = reply.send(placed.next().unwrap_or_else(|| Err(stopped())));
            }
            Pending::Seats(_, reply) => {
                let _ = reply.send(taken.next().unwrap_or_else(|| Err(stopped())));
            }
        }
    }
}

/// Bytes bound in each of a group's inserts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bound {
    seats: usize,
    orders: usize,
    places: usize,
}

impl Bound {
    /// Both together.
    fn plus(self, other: Bound) -> Bound {
        Bound {
            seats: self.seats + other.seats,
            orders: self.orders + other.orders,
            places: self.places + other.places,
        }
    }

    /// Whether every insert stays within [`MAX_GROUP_BYTES`].
    fn fits(self) -> bool {
        self.seats.max(self.orders).max(self.places) <= MAX_GROUP_BYTES
    }
}

/// Where a store sends joins' writes: the group writer's queue.
#[derive(Debug, Clone)]
pub(crate) struct GroupQueue(mpsc::UnboundedSender<Pending>);

/// Starts the group writer for `pool`. Against Postgres it runs on a
/// thread of its own, with its own runtime: on the request runtime every
/// statement's answer (a network round trip) put it back in line behind
/// hundreds of runnable requests, the very joins waiting for it. SQLite
/// answers from the connection's own thread, and one more thread busy on
/// two cores cost more than it saved, so there it is a task of the current
/// runtime. Joins' writes queue here, one group at a time, instead of
/// meeting in SQLite's busy handler. It stops once every store clone
/// holding the queue is gone.
pub(crate) fn start(pool: AnyPool, own_thread: bool) -> Result<GroupQueue, std::io::Error> {
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = GroupWriter {
        pool,
        full: std::sync::Mutex::new(FullSeen::default()),
    };
    if own_thread {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("join-writer".into())
            .spawn(move || runtime.block_on(writer.run(rx)))?;
    } else {
        tokio::spawn(writer.run(rx));
    }
    Ok(GroupQueue(tx))
}

fn stopped() -> StoreError {
    StoreError::Corrupt("the join writer stopped before answering".into())
}

impl Store {
    /// Takes `seats.len()` seats of a published campaign at once, or none,
    /// with the order that pays for them: [`Take::NoRoom`] when they do
    /// not fit (the campaign is full, or not open, or its terms are no
    /// longer `terms_version`, or someone in its line fits the free
    /// seats: a seat freed while they wait is theirs). With a `fallback`, a
    /// take that does not fit writes that place in line in the same commit
    /// instead (a busy campaign's join needs no second trip through the
    /// writer), unless the terms changed. A player who already holds a
    /// seat there is a conflict.
    pub async fn take_seats(
        &self,
        seats: &[SeatRow],
        order: Option<&OrderRow>,
        terms_version: i64,
        now: i64,
        fallback: Option<&WaitRow>,
    ) -> Taken {
        self.send_take(SeatTake {
            seats: seats.to_vec(),
            order: order.cloned(),
            terms_version,
            now,
            fallback: fallback.cloned(),
            promotes: None,
        })
        .await
    }

    /// Takes seats for the waitlist place `place` (the head of its line),
    /// which leaves the line in the same commit: [`Take::LineMoved`] when
    /// it no longer waits, [`Take::NoRoom`] (and it keeps its place) when
    /// they do not fit. Otherwise as [`Store::take_seats`], without a
    /// fallback.
    pub async fn take_seats_for_place(
        &self,
        seats: &[SeatRow],
        order: Option<&OrderRow>,
        terms_version: i64,
        now: i64,
        place: &str,
    ) -> Taken {
        self.send_take(SeatTake {
            seats: seats.to_vec(),
            order: order.cloned(),
            terms_version,
            now,
            fallback: None,
            promotes: Some(place.to_string()),
        })
        .await
    }

    async fn send_take(&self, take: SeatTake) -> Taken {
        if take.seats.is_empty() {
            return Ok(Take::Seated);
        }
        let (tx, rx) = oneshot::channel();
        if self
            .group
            .0
            .send(Pending::Seats(Box::new(take), tx))
            .is_err()
        {
            return Err(stopped());
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Adds a waitlist place and reads its position: `Conflict` when the
    /// player already waits there or holds a seat there, `Closed` when the
    /// campaign no longer takes players.
    pub async fn join_waitlist(&self, w: &WaitRow) -> Placed {
        let (tx, rx) = oneshot::channel();
        if self.group.0.send(Pending::Place(w.clone(), tx)).is_err() {
            return Err(stopped());
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// A group: `first` and whatever else is queued, up to [`MAX_GROUP`]
/// writes and [`MAX_GROUP_BYTES`] bound bytes per insert. A write that
/// would take the group past the byte budget is left in `carried`, to
/// start the next one.
fn gather(
    first: Pending,
    rx: &mut mpsc::UnboundedReceiver<Pending>,
    carried: &mut Option<Pending>,
) -> Vec<Pending> {
    let mut bytes = first.bound_bytes();
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        let Ok(p) = rx.try_recv() else { break };
        let more = bytes.plus(p.bound_bytes());
        if !more.fits() {
            *carried = Some(p);
            break;
        }
        bytes = more;
        group.push(p);
    }
    group
}

/// The writer and its connection.
struct GroupWriter {
    pool: AnyPool,
    /// Campaigns this writer found full.
    full: std::sync::Mutex<FullSeen>,
}

/// How long the writer trusts that a campaign it found full still is.
const FULL_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// The campaigns the writer found full lately, with their terms then. A
/// busy campaign's joins keep coming for a while after its last seat went
/// (their views read it open): each went through a seat transaction only
/// to find no room and write its place instead, the longest groups of a
/// rush. A take for a campaign found full, on the same terms, is written
/// as its place straight away, with the places. It is only a shortcut:
/// seat counts still change only by conditional update, and a place that
/// finds its campaign open again (a seat freed meanwhile) makes its join
/// move the line, as any join's place does.
#[derive(Debug, Default)]
struct FullSeen(HashMap<String, (i64, std::time::Instant)>);

impl FullSeen {
    /// Whether `campaign` was found full on `terms` lately.
    fn is_full(&self, campaign: &str, terms: i64, now: std::time::Instant) -> bool {
        self.0
            .get(campaign)
            .is_some_and(|(t, at)| *t == terms && now.duration_since(*at) < FULL_FOR)
    }

    /// Notes what a statement said of `campaign`'s status on `terms`.
    fn saw(&mut self, campaign: &str, terms: i64, status: &str, now: std::time::Instant) {
        if status == "full" {
            self.0.insert(campaign.to_string(), (terms, now));
        } else {
            self.0.remove(campaign);
        }
    }

    /// Forgets `campaign` (a place found it open).
    fn open(&mut self, campaign: &str) {
        self.0.remove(campaign);
    }

    /// Drops what is too old to trust.
    fn expire(&mut self, now: std::time::Instant) {
        self.0
            .retain(|_, (_, at)| now.duration_since(*at) < FULL_FOR);
    }
}

impl GroupWriter {
    /// Writes groups of whatever is queued, until the queue closes.
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Pending>) {
        let mut carried = None;
        loop {
            let first = match carried.take() {
                Some(p) => p,
                None => match rx.recv().await {
                    Some(p) => p,
                    None => break,
                },
            };
            let group = gather(first, &mut rx, &mut carried);
            self.write(group).await;
        }
    }

    /// Writes one group and answers each of its writes.
    async fn write(&self, group: Vec<Pending>) {
        let started = std::time::Instant::now();
        let written = self.write_pending(&group).await;
        tracing::debug!(
            writes = group.len(),
            takes = group
                .iter()
                .filter(|p| matches!(p, Pending::Seats(..)))
                .count(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "join group written"
        );
        match written {
            Ok(answers) => answer(group, answers),
            // A write alone gets its error: writing it again would fail too.
            Err(e) if group.len() == 1 => {
                if let Some(p) = group.into_iter().next() {
                    p.fail(e);
                }
            }
            Err(e) => {
                // Something else than a write that does not fit failed the
                // whole group: write each alone, so each gets its own
                // answer and one bad write costs nobody else.
                tracing::warn!(error = %e, writes = group.len(), "writing a group of joins failed; writing them one by one");
                for p in group {
                    let one = [p];
                    match self.write_pending(&one).await {
                        Ok(answers) => answer(one, answers),
                        Err(e) => {
                            let [p] = one;
                            p.fail(e);
                        }
                    }
                }
            }
        }
    }

    /// [`GroupWriter::write_group`] of the seat takes and the places in
    /// `group`.
    async fn write_pending(&self, group: &[Pending]) -> Result<Answers, StoreError> {
        let (mut places, mut takes) = (Vec::new(), Vec::new());
        for p in group {
            match p {
                Pending::Place(w, _) => places.push(w),
                Pending::Seats(t, _) => takes.push(&**t),
            }
        }
        self.write_group(&takes, &places).await
    }

    /// Writes `takes` and then `places` in one transaction (places alone in
    /// their one insert); one answer per write, in order. Seat counts
    /// change only through the conditional update, so seats are never sold
    /// twice, whatever else is in the group.
    async fn write_group(
        &self,
        takes: &[&SeatTake],
        places: &[&WaitRow],
    ) -> Result<Answers, StoreError> {
        let started = std::time::Instant::now();
        // Takes for campaigns found full lately, on the same terms, wait in
        // line at once.
        let full: Vec<bool> = {
            let mut seen = self.full.lock().unwrap_or_else(|e| e.into_inner());
            seen.expire(started);
            takes
                .iter()
                .map(|t| {
                    t.promotes.is_none()
                        && t.fallback.is_some()
                        && seen.is_full(&t.seats[0].campaign_id, t.terms_version, started)
                })
                .collect()
        };
        if full.iter().all(|f| *f) {
            // Places alone need no transaction (two statements fewer, each
            // a round trip or a hand-off to SQLite's thread): their one
            // insert stands or falls whole, and the positions are read
            // once it is in.
            let mut all = places.to_vec();
            all.extend(takes.iter().filter_map(|t| t.fallback.as_ref()));
            let mut conn = self.pool.acquire().await?;
            let mut placed = insert_places(&mut conn, &all).await?;
            self.saw(&[], &found_open(&all, &placed), started);
            let waited = placed.split_off(places.len());
            let taken = waited.into_iter().map(|p| Ok(Take::Waiting(p))).collect();
            return Ok((taken, placed));
        }
        let mut tx = self.pool.begin().await?;
        // What the statements said of campaigns' status, to note once the
        // transaction stands.
        let mut seen = Vec::new();
        let unknown: Vec<&SeatTake> = takes
            .iter()
            .zip(&full)
            .filter(|(_, f)| !**f)
            .map(|(t, _)| *t)
            .collect();
        let together = take_together(&mut tx, &unknown, &mut seen).await?;
        let mut fits = Vec::with_capacity(takes.len());
        // The fewest seats a campaign was found to have no room for in this
        // group: seat counts only go up before the commit, and its line
        // only grows, so a later take of as many needs no statement to be
        // refused (the join then waits in line, and a seat freed meanwhile
        // goes to the line's head).
        let mut no_room: HashMap<&str, usize> = HashMap::new();
        for (t, known_full) in takes.iter().zip(&full) {
            let campaign = t.seats[0].campaign_id.as_str();
            if *known_full {
                fits.push(Fit::NoRoom);
                continue;
            }
            if let Some(place) = &t.promotes {
                fits.push(take_for_place(&mut tx, t, place, &mut seen).await?);
                continue;
            }
            if together.contains(campaign) {
                fits.push(Fit::Taken);
                continue;
            }
            if no_room.get(campaign).is_some_and(|n| t.seats.len() >= *n) {
                fits.push(Fit::NoRoom);
                continue;
            }
            let fit = take_alone(&mut tx, t, Line::WaitBehind, &mut seen).await?;
            if !fit {
                let least = no_room.entry(campaign).or_insert(t.seats.len());
                *least = (*least).min(t.seats.len());
            }
            fits.push(if fit { Fit::Taken } else { Fit::NoRoom });
        }
        let fitting: Vec<&SeatTake> = takes
            .iter()
            .zip(&fits)
            .filter(|(_, f)| **f == Fit::Taken)
            .map(|(t, _)| *t)
            .collect();
        let orders: Vec<&OrderRow> = fitting.iter().filter_map(|t| t.order.as_ref()).collect();
        insert_orders(&mut tx, &orders).await?;
        let seats: Vec<&SeatRow> = fitting.iter().flat_map(|t| &t.seats).collect();
        let seated = insert_seats(&mut tx, &seats).await?;
        let refused = refusals(&mut tx, takes, &fits, &full, &mut seen).await?;
        // The places of the takes that wait in line instead go in after
        // the group's own, in the same insert.
        let mut all_places = places.to_vec();
        all_places.extend(
            takes
                .iter()
                .zip(&refused)
                .filter(|(_, r)| **r == Refusal::Wait)
                .filter_map(|(t, _)| t.fallback.as_ref()),
        );
        let mut placed = insert_places(&mut tx, &all_places).await?;
        let opened = found_open(&all_places, &placed);
        let mut waited = placed.split_off(places.len()).into_iter();
        let mut taken = Vec::with_capacity(takes.len());
        for ((t, fit), refusal) in takes.iter().zip(fits).zip(refused) {
            match fit {
                Fit::LineMoved => taken.push(Ok(Take::LineMoved)),
                Fit::NoRoom => taken.push(Ok(match refusal {
                    Refusal::Wait => Take::Waiting(waited.next().unwrap_or_else(|| Err(stopped()))),
                    Refusal::TermsChanged => Take::TermsChanged,
                    Refusal::NoRoom => Take::NoRoom,
                })),
                Fit::Taken if t.seats.iter().all(|s| seated.contains(&s.id)) => {
                    taken.push(Ok(Take::Seated));
                }
                Fit::Taken => {
                    // A joiner already holds a seat there: this take is
                    // undone and the rest of the group stands.
                    undo_take(&mut tx, t, &seated).await?;
                    taken.push(Err(StoreError::Conflict("seat".into())));
                }
            }
        }
        tx.commit().await?;
        self.saw(&seen, &opened, started);
        Ok((taken, placed))
    }

    /// Notes what a group that stood found: campaigns' status from its
    /// seat statements (`seen`), and campaigns its places found open.
    fn saw(&self, seen: &[Seen], opened: &[&str], now: std::time::Instant) {
        let mut full = self.full.lock().unwrap_or_else(|e| e.into_inner());
        for s in seen {
            full.saw(&s.campaign, s.terms, &s.status, now);
        }
        for campaign in opened {
            full.open(campaign);
        }
    }
}

/// The campaigns `places` (answered `placed`, in order) found open: a seat
/// freed there meanwhile.
fn found_open<'p>(places: &[&'p WaitRow], placed: &[Placed]) -> Vec<&'p str> {
    places
        .iter()
        .zip(placed)
        .filter(|(_, p)| matches!(p, Ok((_, status)) if status == "published"))
        .map(|(w, _)| w.campaign_id.as_str())
        .collect()
}

/// A campaign's status as a statement of the group read it, on its terms
/// then.
#[derive(Debug)]
struct Seen {
    campaign: String,
    terms: i64,
    status: String,
}

/// Notes the status a seat statement for `campaign` on `terms` read back
/// (`taken`, `None` when it took nothing); whether it took its seats.
fn note_take(seen: &mut Vec<Seen>, campaign: &str, terms: i64, taken: Option<String>) -> bool {
    match taken {
        Some(status) => {
            seen.push(Seen {
                campaign: campaign.to_string(),
                terms,
                status,
            });
            true
        }
        None => false,
    }
}

/// Takes seat take `t`'s seats on their own (`line` says how it stands to
/// the waitlist), noting what it read in `seen`; whether they fitted.
async fn take_alone(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    t: &SeatTake,
    line: Line,
    seen: &mut Vec<Seen>,
) -> Result<bool, StoreError> {
    let campaign = t.seats[0].campaign_id.as_str();
    let taken = take_room(tx, campaign, t.seats.len(), t.now, t.terms_version, line).await?;
    Ok(note_take(seen, campaign, t.terms_version, taken))
}

/// How a take stands to a campaign's waitlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A join: while anyone in line fits the free seats, they are theirs,
    /// not this take's (it waits behind them instead).
    WaitBehind,
    /// The line's head being seated.
    Heads,
}

/// How a take fared in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Its seats are counted.
    Taken,
    /// No room (or not open, or other terms, or a line to wait in).
    NoRoom,
    /// The place it was to seat no longer waits.
    LineMoved,
}

/// Counts `seats` more seats taken in a published campaign, if they fit,
/// its terms are still `terms_version` and (for a join) nobody in its line
/// fits its free seats: the campaign's status after (full once its last
/// seat is taken), or `None` (and nothing changed).
async fn take_room(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    campaign: &str,
    seats: usize,
    now: i64,
    terms_version: i64,
    line: Line,
) -> Result<Option<String>, StoreError> {
    const TAKE: &str = "UPDATE campaigns SET seats_taken = seats_taken + $2, updated_at = $3, \
         status = CASE WHEN seats_taken + $2 >= max_players THEN 'full' ELSE status END \
         WHERE id = $1 AND status = 'published' AND seats_taken + $2 <= max_players \
         AND terms_version = $4";
    let sql = match line {
        Line::Heads => format!("{TAKE} RETURNING status"),
        Line::WaitBehind => format!(
            "{TAKE} AND NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.campaign_id = $1 \
             AND w.status = 'waiting' AND w.size <= campaigns.max_players - campaigns.seats_taken) \
             RETURNING status"
        ),
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(campaign)
        .bind(i64::try_from(seats).unwrap_or(i64::MAX))
        .bind(now)
        .bind(terms_version)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.try_get("status")).transpose()?)
}

/// Seats a waitlist place's take: the place leaves the line (if it still
/// waits) and its seats are counted past the line it headed; if they do
/// not fit, it goes back to waiting where it was.
async fn take_for_place(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    t: &SeatTake,
    place: &str,
    seen: &mut Vec<Seen>,
) -> Result<Fit, StoreError> {
    let campaign = t.seats[0].campaign_id.as_str();
    let left = sqlx::query(
        "UPDATE waitlist SET status = 'promoted', updated_at = $3 \
         WHERE id = $1 AND campaign_id = $2 AND status = 'waiting'",
    )
    .bind(place)
    .bind(campaign)
    .bind(t.now)
    .execute(&mut **tx)
    .await?;
    if left.rows_affected() != 1 {
        return Ok(Fit::LineMoved);
    }
    if take_alone(tx, t, Line::Heads, seen).await? {
        return Ok(Fit::Taken);
    }
    back_in_line(tx, place).await?;
    Ok(Fit::NoRoom)
}

/// Puts a place this transaction took out of the line back in it.
async fn back_in_line(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    place: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE waitlist SET status = 'waiting' WHERE id = $1 AND status = 'promoted'")
        .bind(place)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The campaigns all of whose takes in the group fit at once, counted in
/// one statement each: while a campaign fills, the takes of a group
/// mostly all fit, and one statement per take was the group's longest
/// chain of round trips. A campaign with one take, with takes on
/// different terms, or whose takes do not all fit is left to the takes
/// one by one.
async fn take_together<'t>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    takes: &[&'t SeatTake],
    seen: &mut Vec<Seen>,
) -> Result<HashSet<&'t str>, StoreError> {
    /// A campaign's takes in the group, summed.
    struct Sum<'t> {
        campaign: &'t str,
        seats: usize,
        takes: usize,
        latest: i64,
        /// The takes' terms, `None` once two disagree.
        terms: Option<i64>,
    }
    let mut sums: Vec<Sum<'t>> = Vec::new();
    // Promotions are taken each on its own, past the line.
    for t in takes.iter().filter(|t| t.promotes.is_none()) {
        let campaign = t.seats[0].campaign_id.as_str();
        match sums.iter_mut().find(|s| s.campaign == campaign) {
            Some(s) => {
                s.seats += t.seats.len();
                s.takes += 1;
                s.latest = s.latest.max(t.now);
                s.terms = s.terms.filter(|v| *v == t.terms_version);
            }
            None => sums.push(Sum {
                campaign,
                seats: t.seats.len(),
                takes: 1,
                latest: t.now,
                terms: Some(t.terms_version),
            }),
        }
    }
    let mut together = HashSet::new();
    for s in sums {
        if let Some(terms) = s.terms.filter(|_| s.takes > 1) {
            let taken =
                take_room(tx, s.campaign, s.seats, s.latest, terms, Line::WaitBehind).await?;
            if note_take(seen, s.campaign, terms, taken) {
                together.insert(s.campaign);
            }
        }
    }
    Ok(together)
}

/// What becomes of a seat take that did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No place to fall back on (or the take fitted).
    NoRoom,
    /// Its place in line is written instead.
    Wait,
    /// The campaign's terms changed since the take was made.
    TermsChanged,
}

/// For each take (`fits` says how it fared): whether its place in line is
/// written instead, from one read of the refused campaigns' terms (and
/// their status, noted in `seen`). A take for a campaign found `full`
/// lately on its terms waits in line without the read.
async fn refusals(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    takes: &[&SeatTake],
    fits: &[Fit],
    full: &[bool],
    seen: &mut Vec<Seen>,
) -> Result<Vec<Refusal>, StoreError> {
    let refused: Vec<&str> = takes
        .iter()
        .zip(fits)
        .zip(full)
        .filter(|((t, fit), full)| **fit == Fit::NoRoom && t.fallback.is_some() && !**full)
        .map(|((t, _), _)| t.seats[0].campaign_id.as_str())
        .collect();
    let mut terms: HashMap<String, i64> = HashMap::new();
    for s in campaign_states(tx, refused).await? {
        terms.insert(s.campaign.clone(), s.terms);
        seen.push(s);
    }
    Ok(takes
        .iter()
        .zip(fits)
        .zip(full)
        .map(|((t, fit), full)| {
            if *fit != Fit::NoRoom || t.fallback.is_none() {
                return Refusal::NoRoom;
            }
            if *full {
                return Refusal::Wait;
            }
            match terms.get(&t.seats[0].campaign_id) {
                Some(v) if *v == t.terms_version => Refusal::Wait,
                Some(_) => Refusal::TermsChanged,
                None => Refusal::NoRoom,
            }
        })
        .collect())
}

/// The terms and status of the campaigns `ids` (repeats read once; no
/// statement for none).
async fn campaign_states(
    conn: &mut sqlx::AnyConnection,
    mut ids: Vec<&str>,
) -> Result<Vec<Seen>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let sql = format!(
        "SELECT id, terms_version, status FROM campaigns WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        q = q.bind(*id);
    }
    let mut out = Vec::with_capacity(ids.len());
    for r in q.fetch_all(&mut *conn).await? {
        out.push(Seen {
            campaign: r.try_get("id")?,
            terms: r.try_get("terms_version")?,
            status: r.try_get("status")?,
        });
    }
    Ok(out)
}

/// `($1, $2, ...), (...)` for `rows` rows of `cols` bound values each.
fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bytes [`insert_orders`] binds for `o`, framing included (kept
/// beside its bind list: 6 text values and 8 integers).
fn order_bytes(o: &OrderRow) -> usize {
    text(&o.id)
        + text(&o.account_id)
        + text(&o.campaign_id)
        + text(&o.provider)
        + text(&o.status)
        + text(&o.currency)
        + 8 * INT
}

async fn insert_orders(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    orders: &[&OrderRow],
) -> Result<(), StoreError> {
    if orders.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO orders (id, account_id, campaign_id, provider, status, seats, unit_minor, \
         amount_minor, discount_minor, currency, expires_at, paid_at, created_at, updated_at) \
         VALUES {}",
        value_rows(orders.len(), 14)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in orders {
        q = q
            .bind(&o.id)
            .bind(&o.account_id)
            .bind(&o.campaign_id)
            .bind(&o.provider)
            .bind(&o.status)
            .bind(o.seats)
            .bind(o.unit_minor)
            .bind(o.amount_minor)
            .bind(o.discount_minor)
            .bind(&o.currency)
            .bind(o.expires_at)
            .bind(o.paid_at)
            .bind(o.created_at)
            .bind(o.created_at);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The bytes [`insert_seats`] binds for `s`, framing included (kept
/// beside its bind list: 9 text values and 5 integers).
fn seat_bytes(s: &SeatRow) -> usize {
    text(&s.id)
        + text(&s.campaign_id)
        + text(&s.account_id)
        + maybe(s.party_id.as_ref())
        + text(&s.status)
        + text(&s.currency)
        + text(&s.quote)
        + text(&s.provider)
        + maybe(s.order_id.as_ref())
        + 5 * INT
}

/// Inserts `seats`, skipping any whose player already holds a live seat
/// in that campaign; returns the ids inserted.
async fn insert_seats(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    seats: &[&SeatRow],
) -> Result<HashSet<String>, StoreError> {
    if seats.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "INSERT INTO seats (id, campaign_id, account_id, party_id, status, hold_expires_at, \
         price_minor, currency, quote, provider, order_id, confirmed_at, created_at, updated_at) \
         VALUES {} ON CONFLICT DO NOTHING RETURNING id",
        value_rows(seats.len(), 14)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for s in seats {
        q = q
            .bind(&s.id)
            .bind(&s.campaign_id)
            .bind(&s.account_id)
            .bind(&s.party_id)
            .bind(&s.status)
            .bind(s.hold_expires_at)
            .bind(s.price_minor)
            .bind(&s.currency)
            .bind(&s.quote)
            .bind(&s.provider)
            .bind(&s.order_id)
            .bind((s.status == "confirmed").then_some(s.created_at))
            .bind(s.created_at)
            .bind(s.created_at);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?)
}

/// Undoes a take whose seats did not all go in: its seats, its order,
/// its share of the campaign's seat count (the campaign was open before)
/// and, for a promotion, its place's leaving the line.
async fn undo_take(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    t: &SeatTake,
    seated: &HashSet<String>,
) -> Result<(), StoreError> {
    for s in t.seats.iter().filter(|s| seated.contains(&s.id)) {
        sqlx::query("DELETE FROM seats WHERE id = $1")
            .bind(&s.id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(o) = &t.order {
        sqlx::query("DELETE FROM orders WHERE id = $1")
            .bind(&o.id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "UPDATE campaigns SET seats_taken = seats_taken - $2, status = 'published' WHERE id = $1",
    )
    .bind(&t.seats[0].campaign_id)
    .bind(i64::try_from(t.seats.len()).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    if let Some(place) = &t.promotes {
        back_in_line(tx, place).await?;
    }
    Ok(())
}

/// The bytes [`insert_places`] binds for `w`, framing included (kept
/// beside its bind list: 5 text values and 3 integers).
fn place_bytes(w: &WaitRow) -> usize {
    text(&w.id)
        + text(&w.campaign_id)
        + text(&w.account_id)
        + maybe(w.party_id.as_ref())
        + text("waiting")
        + 3 * INT
}

/// Inserts waitlist places and reads the position of each made; one answer
/// per place, in order. A player already waiting there, or holding a seat
/// there (taken by a join that raced this one), makes none: a conflict. A
/// campaign that no longer takes players (cancelled, say, since the join
/// read it) takes no place either: `Closed`, with its status.
async fn insert_places(
    conn: &mut sqlx::AnyConnection,
    places: &[&WaitRow],
) -> Result<Vec<Placed>, StoreError> {
    if places.is_empty() {
        return Ok(Vec::new());
    }
    // VALUES names its columns column1, column2, ... on both backends.
    let sql = format!(
        "INSERT INTO waitlist (id, campaign_id, account_id, party_id, size, status, created_at, updated_at) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8 \
         FROM (VALUES {}) AS v WHERE NOT EXISTS (SELECT 1 FROM seats s \
           WHERE s.campaign_id = v.column2 AND s.account_id = v.column3 \
           AND s.status IN ('held', 'confirmed')) \
         AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = v.column2 \
           AND c.status IN ('published', 'full')) \
         ON CONFLICT DO NOTHING RETURNING id",
        value_rows(places.len(), 8)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for w in places {
        q = q
            .bind(&w.id)
            .bind(&w.campaign_id)
            .bind(&w.account_id)
            .bind(&w.party_id)
            .bind(w.size)
            .bind("waiting")
            .bind(w.created_at)
            .bind(w.created_at);
    }
    let made: HashSet<String> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut found = HashMap::new();
    if !made.is_empty() {
        // Per campaign, from the time of its earliest new place on: the
        // line is counted up to there once (an index range), and only its
        // tail, which is mostly this group's own places, is read and
        // numbered. Numbering the whole line for every group cost a sort
        // of it.
        let mut earliest: Vec<(&str, i64)> = Vec::new();
        for w in places.iter().filter(|w| made.contains(&w.id)) {
            match earliest.iter_mut().find(|e| e.0 == w.campaign_id) {
                Some(e) => e.1 = e.1.min(w.created_at),
                None => earliest.push((w.campaign_id.as_str(), w.created_at)),
            }
        }
        let tails: Vec<String> = (0..earliest.len())
            .map(|i| {
                let (c, t) = (2 * i + 1, 2 * i + 2);
                format!(
                    "SELECT w.campaign_id, w.id, w.created_at, \
                     (SELECT COUNT(*) FROM waitlist b WHERE b.campaign_id = ${c} \
                       AND b.status = 'waiting' AND b.created_at < ${t}) AS ahead, \
                     (SELECT status FROM campaigns WHERE id = ${c}) AS campaign_status \
                     FROM waitlist w WHERE w.campaign_id = ${c} AND w.status = 'waiting' \
                     AND w.created_at >= ${t}"
                )
            })
            .collect();
        // In the line's order: by when each place was made, then by id.
        let sql = format!(
            "{} ORDER BY campaign_id, created_at, id",
            tails.join(" UNION ALL ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (c, t) in &earliest {
            q = q.bind(*c).bind(*t);
        }
        let mut tail: Vec<(String, String, i64, String)> = Vec::new();
        for r in q.fetch_all(&mut *conn).await? {
            tail.push((
                r.try_get("campaign_id")?,
                r.try_get("id")?,
                r.try_get("ahead")?,
                r.try_get("campaign_status")?,
            ));
        }
        let mut rank = 0;
        for (i, (campaign, id, ahead, status)) in tail.iter().enumerate() {
            rank = if i > 0 && tail[i - 1].0 == *campaign {
                rank + 1
            } else {
                1
            };
            if made.contains(id) {
                found.insert(id.clone(), (ahead + rank, status.clone()));
            }
        }
    }
    // Why the rest were not made: rare, so read only when it happens.
    let unmade = places
        .iter()
        .filter(|w| !made.contains(&w.id))
        .map(|w| w.campaign_id.as_str())
        .collect();
    let closed: HashMap<String, String> = campaign_states(conn, unmade)
        .await?
        .into_iter()
        .filter(|s| s.status != "published" && s.status != "full")
        .map(|s| (s.campaign, s.status))
        .collect();
    Ok(places
        .iter()
        .map(|w| {
            if !made.contains(&w.id) {
                return Err(match closed.get(&w.campaign_id) {
                    Some(status) => StoreError::Closed(status.clone()),
                    None => StoreError::Conflict("waitlist".into()),
                });
            }
            found
                .remove(&w.id)
                .ok_or_else(|| StoreError::Corrupt(format!("waitlist place {} vanished", w.id)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use tokio::sync::{mpsc, oneshot};

    use super::{MAX_GROUP, MAX_GROUP_BYTES, Pending, SeatTake, gather, value_rows};
    use crate::store::billing::OrderRow;
    use crate::store::seats::{SeatRow, WaitRow};

    fn place(n: usize) -> Pending {
        let w = WaitRow {
            id: format!("{n:026}"),
            campaign_id: "01JCAMPAIGN000000000000000".into(),
            account_id: format!("{:026}", n + 1_000_000),
            party_id: None,
            size: 1,
            status: "waiting".into(),
            created_at: 1_700_000_000_000,
            retry_at: None,
        };
        Pending::Place(w, oneshot::channel().0)
    }

    /// The first group gathered from 300 queued writes made by `make`,
    /// with the write carried to the next group and the rest of the queue.
    fn first_of_300(
        make: fn(usize) -> Pending,
    ) -> (
        Vec<Pending>,
        Option<Pending>,
        mpsc::UnboundedReceiver<Pending>,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for n in 1..300 {
            tx.send(make(n)).unwrap();
        }
        let mut carried = None;
        let group = gather(make(0), &mut rx, &mut carried);
        (group, carried, rx)
    }

    #[test]
    fn groups_stop_growing_before_their_values_pass_one_tls_record() {
        let (group, mut carried, mut rx) = first_of_300(place);
        let bytes: usize = group.iter().map(|p| p.bound_bytes().places).sum();
        assert!(bytes <= MAX_GROUP_BYTES, "{bytes} bytes");
        assert!(
            group.len() > 32 && group.len() < MAX_GROUP,
            "{} places",
            group.len()
        );
        // The place that did not fit starts the next group, in order.
        let Some(Pending::Place(next, _)) = carried.take() else {
            panic!("nothing carried over");
        };
        assert_eq!(next.id, format!("{:026}", group.len()));
        let second = gather(
            Pending::Place(next, oneshot::channel().0),
            &mut rx,
            &mut carried,
        );
        assert_eq!(second.len(), group.len());
    }

    fn take(n: usize) -> Pending {
        let Pending::Place(fallback, _) = place(n) else {
            unreachable!()
        };
        let seat = SeatRow {
            id: format!("s{n:035}"),
            campaign_id: fallback.campaign_id.clone(),
            account_id: fallback.account_id.clone(),
            party_id: None,
            status: "confirmed".into(),
            hold_expires_at: None,
            price_minor: 1_250,
            currency: "EUR".into(),
            quote: "q".repeat(340),
            provider: "test".into(),
            refund_minor: 0,
            refund_offer_until: None,
            created_at: fallback.created_at,
            order_id: Some(format!("o{n:035}")),
        };
        let order = OrderRow {
            id: format!("o{n:035}"),
            account_id: seat.account_id.clone(),
            campaign_id: seat.campaign_id.clone(),
            provider: "test".into(),
            status: "paid".into(),
            seats: 1,
            unit_minor: 1_250,
            amount_minor: 1_250,
            discount_minor: 0,
            currency: "EUR".into(),
            checkout_id: None,
            checkout_url: None,
            payment_intent: None,
            expires_at: None,
            created_at: seat.created_at,
            paid_at: Some(seat.created_at),
        };
        let t = SeatTake {
            seats: vec![seat],
            order: Some(order),
            terms_version: 1,
            now: fallback.created_at,
            fallback: Some(fallback),
            promotes: None,
        };
        Pending::Seats(Box::new(t), oneshot::channel().0)
    }

    #[test]
    fn seat_takes_count_toward_each_insert_they_may_make_not_all_at_once() {
        let (group, carried, _rx) = first_of_300(take);
        let each = take(0).bound_bytes();
        let seats: usize = group.iter().map(|p| p.bound_bytes().seats).sum();
        assert!(seats <= MAX_GROUP_BYTES, "{seats} bytes of seats");
        // Limited by the seats insert, the largest: more takes than the
        // three inserts' bytes added up would allow.
        assert_eq!(group.len(), MAX_GROUP_BYTES / each.seats);
        assert!(group.len() > MAX_GROUP_BYTES / (each.seats + each.orders + each.places));
        assert!(carried.is_some());
    }

    #[test]
    fn a_write_alone_past_the_budget_is_still_written() {
        let (_tx, mut rx) = mpsc::unbounded_channel::<Pending>();
        let Pending::Place(mut w, reply) = place(0) else {
            unreachable!()
        };
        w.party_id = Some("p".repeat(MAX_GROUP_BYTES));
        let mut carried = None;
        let group = gather(Pending::Place(w, reply), &mut rx, &mut carried);
        assert_eq!(group.len(), 1);
        assert!(carried.is_none());
    }

    #[test]
    fn a_campaign_found_full_is_trusted_on_its_terms_for_a_short_while_only() {
        use super::{FULL_FOR, FullSeen};
        let t0 = std::time::Instant::now();
        let mut seen = FullSeen::default();
        seen.saw("c", 3, "full", t0);
        assert!(seen.is_full("c", 3, t0));
        assert!(!seen.is_full("c", 4, t0), "other terms");
        assert!(!seen.is_full("d", 3, t0));
        assert!(!seen.is_full("c", 3, t0 + FULL_FOR), "too old");
        seen.expire(t0 + FULL_FOR);
        assert!(seen.0.is_empty());
        // Open again, as a statement or a place found it.
        seen.saw("c", 3, "full", t0);
        seen.saw("c", 3, "published", t0);
        assert!(!seen.is_full("c", 3, t0));
        seen.saw("c", 3, "full", t0);
        seen.open("c");
        assert!(!seen.is_full("c", 3, t0));
    }

    #[test]
    fn value_rows_number_the_bound_values_row_after_row() {
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(1, 1), "($1)");
    }
}
