//! Discovery listings and their time filters, in the viewer's own zone:
//! "only sessions on these weekdays", "only sessions inside this time of
//! day", and "only campaigns whose every session fits my weekly
//! availability". The rules ([`TimeFilter`]) are pure; [`list`] pages
//! through the store's candidates and applies them.
//!
//! A campaign fits when every one of its sessions does, judged on the
//! viewer's wall clock for that date, so a campaign planned in Berlin that
//! moves an hour against a New York viewer's clock for the weeks between
//! the two daylight-saving changes is judged on each side correctly.
//!
//! A session's local start and end are each its real instant on the
//! viewer's clock: one that spans a clock change ends an hour earlier or
//! later on the wall than its start plus its length. Its weekday is the
//! one it starts on there, also when it runs past midnight. A time window
//! whose `from` is after its `to` runs across midnight (22:00-02:00); a
//! session fits a window when it lies wholly inside one of its nights.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::accounts::AccountError;
use crate::schedule::Session;
use crate::store::Store;
use crate::store::campaigns::{CampaignFilter, CampaignSort, ListingRow, LocalStart};

/// Most rows one time-filtered listing looks at; the cursor continues.
const SCAN_MAX: usize = 300;
/// Largest batch read from the store at once.
const BATCH_MAX: i64 = 200;

/// One page of listed (published or full) campaigns matching `filter` and
/// `time`, in `sort` order after `after`, and the keyset the next page
/// starts after (`None` at the end). Session times are not judged in SQL
/// beyond a cheap prefilter, so time-filtered listings scan at most
/// [`SCAN_MAX`] rows per page; a short page with a cursor means "keep
/// going".
pub async fn list(
    store: &Store,
    filter: &CampaignFilter,
    time: &TimeFilter,
    sort: CampaignSort,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<(Vec<ListingRow>, Option<(i64, String)>), AccountError> {
    if time.is_empty() {
        let rows = store.discover(filter, sort, after, limit).await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| (sort.key(r), r.id.clone())))
            .flatten();
        return Ok((rows, next));
    }
    let mut page = Vec::new();
    let mut position = after;
    let mut scanned = 0;
    // Start small (most filters match often) and grow.
    let mut batch = (limit * 2).clamp(40, BATCH_MAX);
    loop {
        let rows = store
            .discover(filter, sort, position.clone(), batch)
            .await?;
        let exhausted = (rows.len() as i64) < batch;
        batch = (batch * 2).min(BATCH_MAX);
        for r in rows {
            scanned += 1;
            position = Some((sort.key(&r), r.id.clone()));
            // The first session alone refuses most campaigns before all
            // their sessions are worked out.
            let first = Session {
                index: 0,
                starts_at_ms: r.first_session_at,
                ends_at_ms: r.first_session_at + r.session_minutes * 60_000,
            };
            if time.session_fits(&first)
                && time.fits(&crate::campaigns::sessions_of_schedule(&r.schedule)?)
            {
                page.push(r);
                if page.len() as i64 == limit {
                    return Ok((page, position));
                }
            }
        }
        if exhausted {
            return Ok((page, None));
        }
        if scanned >= SCAN_MAX {
            return Ok((page, position));
        }
    }
}

/// Minutes in a day and in a week.
const DAY: i64 = 1_440;
const WEEK: i64 = 7 * DAY;

/// A session on a viewer's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LocalSpan {
    /// The weekday it starts on, Monday = 0.
    weekday: i64,
    /// Its start, minutes after that day's midnight.
    start: i64,
    /// Its end, minutes after the same midnight (past 1,440 when it ends
    /// on a later day).
    end: i64,
}

impl LocalSpan {
    /// `s` on `zone`'s clock; `None` for instants out of range.
    fn of(s: &Session, zone: &TimeZone) -> Option<LocalSpan> {
        // Wall-clock minutes since 1970-01-01 00:00 local: each instant
        // takes the offset in force at that instant, so the end is where
        // the clock really stands when the session ends.
        let wall = |ms: i64| -> Option<i64> {
            let ts = Timestamp::from_millisecond(ms).ok()?;
            Some(ms + i64::from(zone.to_offset(ts).seconds()) * 1_000)
        };
        let start = wall(s.starts_at_ms)?.div_euclid(60_000);
        // Rounded up: a session ending part way into a minute has not
        // ended by that minute.
        let end = (wall(s.ends_at_ms)? + 59_999).div_euclid(60_000);
        let day = start.div_euclid(DAY);
        Some(LocalSpan {
            // 1970-01-01 was a Thursday (Monday = 0 gives 3).
            weekday: (day + 3).rem_euclid(7),
            start: start - day * DAY,
            end: end - day * DAY,
        })
    }
}

/// Whether a session lies wholly inside the daily window `[from, to)`,
/// which runs across midnight when `from > to`: either the night that
/// begins on its start day or the end of the one that began the day
/// before.
fn window_holds((from, to): (i64, i64), s: &LocalSpan) -> bool {
    if from < to {
        from <= s.start && s.end <= to
    } else {
        (from <= s.start && s.end <= DAY + to) || s.end <= to
    }
}

/// What a viewer asks of a campaign's session times.
#[derive(Debug, Clone)]
pub struct TimeFilter {
    /// The viewer's zone.
    pub zone: TimeZone,
    /// Weekdays (Monday = 0) sessions may start on; `None` for any.
    pub weekdays: Option<[bool; 7]>,
    /// Minutes of the day `[from, to)` a session must lie in, across
    /// midnight when `from > to`; `None` for any.
    pub window: Option<(i64, i64)>,
    /// Minutes of the week `[start, end)` (merged, sorted) every session
    /// must lie in one of; `None` for any.
    pub availability: Option<Vec<(i64, i64)>>,
}

impl TimeFilter {
    /// Whether the filter asks anything at all.
    pub fn is_empty(&self) -> bool {
        self.weekdays.is_none() && self.window.is_none() && self.availability.is_none()
    }

    /// A necessary condition on a campaign's first session for the
    /// database to check: its start at one of the zone's offsets over the
    /// coming year (two where clocks change), on an allowed weekday and
    /// inside the window. `None` when only availability is asked.
    pub fn first_start(&self, now_ms: i64) -> Option<LocalStart> {
        if self.weekdays.is_none() && self.window.is_none() {
            return None;
        }
        let mut offsets_ms: Vec<i64> = (0..13)
            .filter_map(|month| Timestamp::from_millisecond(now_ms + month * 30 * 86_400_000).ok())
            .map(|ts| i64::from(self.zone.to_offset(ts).seconds()) * 1_000)
            .collect();
        offsets_ms.sort_unstable();
        offsets_ms.dedup();
        // A session across a clock change ends this much later on the
        // wall than its start plus its length, at most.
        let end_slack_ms = match (offsets_ms.first(), offsets_ms.last()) {
            (Some(lo), Some(hi)) => hi - lo,
            _ => 0,
        };
        Some(LocalStart {
            offsets_ms,
            weekdays: self
                .weekdays
                .map(|days| (0..7).filter(|&d| days[d as usize]).collect()),
            window_ms: self.window.map(|(from, to)| (from * 60_000, to * 60_000)),
            end_slack_ms,
        })
    }

    /// Whether every session fits.
    pub fn fits(&self, sessions: &[Session]) -> bool {
        sessions.iter().all(|s| self.session_fits(s))
    }

    /// Whether one session fits: quick to refuse, so listings check a
    /// campaign's first session before working out the rest.
    pub fn session_fits(&self, s: &Session) -> bool {
        let Some(local) = LocalSpan::of(s, &self.zone) else {
            return false;
        };
        if let Some(days) = &self.weekdays
            && !days[local.weekday as usize]
        {
            return false;
        }
        if let Some(window) = self.window
            && !window_holds(window, &local)
        {
            return false;
        }
        if let Some(windows) = &self.availability {
            let start = local.weekday * DAY + local.start;
            let end = start + (local.end - local.start);
            return windows.iter().any(|&(a, b)| a <= start && end <= b);
        }
        true
    }
}

/// Merges weekly windows `[start, end)` in minutes of the week into sorted,
/// non-overlapping spans; a span running into Sunday midnight continues
/// into Monday (a copy a week later lets a session cross that boundary).
pub fn merge_windows(windows: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = windows
        .iter()
        .filter(|(a, b)| a < b)
        .flat_map(|&(a, b)| [(a, b), (a + WEEK, b + WEEK)])
        .collect();
    all.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(all.len());
    for (a, b) in all {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::zone;

    fn at(text: &str, hours: i64) -> Session {
        let ts: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let start = ts.as_millisecond();
        Session {
            index: 0,
            starts_at_ms: start,
            ends_at_ms: start + hours * 3_600_000,
        }
    }

    fn filter(tz: &str) -> TimeFilter {
        TimeFilter {
            zone: zone(tz).unwrap_or_else(|e| panic!("{e}")),
            weekdays: None,
            window: None,
            availability: None,
        }
    }

    #[test]
    fn weekdays_are_judged_on_the_viewers_clock_not_utc() {
        // Friday 23:00 UTC is Saturday 08:00 in Tokyo.
        let s = at("2027-01-08T23:00:00Z", 2);
        let mut f = filter("Asia/Tokyo");
        f.weekdays = Some([false, false, false, false, false, true, false]);
        assert!(f.session_fits(&s));
        let mut f = filter("UTC");
        f.weekdays = Some([false, false, false, false, false, true, false]);
        assert!(!f.session_fits(&s));
    }

    #[test]
    fn a_time_window_holds_the_whole_session_on_both_sides_of_a_dst_change() {
        // 18:00 UTC sessions: 19:00-22:00 in Berlin before 2027-03-28,
        // 20:00-23:00 after it.
        let mut f = filter("Europe/Berlin");
        f.window = Some((19 * 60, 22 * 60));
        assert!(f.session_fits(&at("2027-03-20T18:00:00Z", 3)));
        assert!(!f.session_fits(&at("2027-04-03T18:00:00Z", 3)));
        // New York viewers see the same session at 13:00 EST, then 14:00 EDT
        // (their change comes two weeks before Europe's).
        let mut f = filter("America/New_York");
        f.window = Some((13 * 60, 16 * 60));
        assert!(f.session_fits(&at("2027-03-06T18:00:00Z", 3)));
        assert!(!f.session_fits(&at("2027-03-20T18:00:00Z", 3)));
        assert!(f.fits(&[at("2027-03-06T18:00:00Z", 3)]));
        assert!(!f.fits(&[at("2027-03-06T18:00:00Z", 3), at("2027-03-20T18:00:00Z", 3)]));
    }

    #[test]
    fn a_session_across_midnight_fits_a_window_that_wraps_midnight() {
        // Friday 23:00 - Saturday 01:00.
        let late = at("2027-01-08T23:00:00Z", 2);
        let mut f = filter("UTC");
        f.window = Some((22 * 60, 2 * 60));
        assert!(f.session_fits(&late));
        // The end of the night that began the day before counts too...
        assert!(f.session_fits(&at("2027-01-09T00:30:00Z", 1)));
        // ...but a session must lie wholly inside the window.
        assert!(!f.session_fits(&at("2027-01-08T21:00:00Z", 2)));
        assert!(!f.session_fits(&at("2027-01-09T01:00:00Z", 2)));
        assert!(!f.session_fits(&at("2027-01-08T23:00:00Z", 4)));
        // The weekday is the one the session starts on.
        f.weekdays = Some([false, false, false, false, true, false, false]);
        assert!(f.session_fits(&late));
        f.weekdays = Some([false, false, false, false, false, true, false]);
        assert!(!f.session_fits(&late));
    }

    #[test]
    fn a_window_ending_at_midnight_does_not_hold_a_session_that_runs_past_it() {
        let mut f = filter("UTC");
        f.window = Some((20 * 60, DAY));
        assert!(!f.session_fits(&at("2027-01-08T23:00:00Z", 2)));
        assert!(f.session_fits(&at("2027-01-08T22:00:00Z", 2)));
    }

    #[test]
    fn a_session_on_a_clock_change_night_is_judged_by_its_real_local_end() {
        let mut f = filter("Europe/Berlin");
        f.window = Some((0, 2 * 60 + 30));
        // Berlin falls back at 03:00 on 2027-10-31: three real hours from
        // 00:00 CEST end at 02:00 CET, inside 00:00-02:30 (not at 03:00).
        assert!(f.session_fits(&at("2027-10-30T22:00:00Z", 3)));
        // It springs forward at 02:00 on 2027-03-28: two real hours from
        // 00:30 CET end at 03:30 CEST, outside 00:00-02:30 (not at 02:30).
        assert!(!f.session_fits(&at("2027-03-27T23:30:00Z", 2)));
        // The same two hours a week earlier end at 02:30 CET.
        assert!(f.session_fits(&at("2027-03-20T23:30:00Z", 2)));
        // Weekly availability reads the same wall clock.
        let sun = 6 * DAY;
        let mut f = filter("Europe/Berlin");
        f.availability = Some(merge_windows(&[(sun, sun + 2 * 60 + 30)]));
        assert!(f.session_fits(&at("2027-10-30T22:00:00Z", 3)));
        assert!(!f.session_fits(&at("2027-03-27T23:30:00Z", 2)));
    }

    #[test]
    fn availability_must_hold_every_session_and_may_run_across_midnight() {
        // Saturday 20:00 - Sunday 02:00 as two windows.
        let sat = 5 * DAY;
        let windows = merge_windows(&[(sat + 20 * 60, sat + DAY), (sat + DAY, sat + DAY + 120)]);
        assert_eq!(windows[0], (sat + 20 * 60, sat + DAY + 120));
        let mut f = filter("UTC");
        f.availability = Some(windows);
        assert!(f.session_fits(&at("2027-01-09T22:00:00Z", 3))); // Sat 22:00-01:00
        assert!(!f.session_fits(&at("2027-01-09T19:00:00Z", 3))); // starts too early
        assert!(!f.session_fits(&at("2027-01-10T01:00:00Z", 2))); // ends too late
        // Sunday night into Monday morning crosses the week's end.
        let sun = 6 * DAY;
        let mut f = filter("UTC");
        f.availability = Some(merge_windows(&[(sun + 22 * 60, WEEK), (0, 120)]));
        assert!(f.session_fits(&at("2027-01-10T23:00:00Z", 2)));
    }

    #[test]
    fn the_database_prefilter_covers_both_offsets_of_a_zone_with_summer_time() {
        let mut f = filter("Europe/Berlin");
        f.window = Some((18 * 60, 23 * 60));
        f.weekdays = Some([false, false, false, false, true, false, false]);
        let ls = f.first_start(1_795_000_000_000).unwrap_or_default();
        assert_eq!(ls.offsets_ms, vec![3_600_000, 7_200_000]);
        assert_eq!(ls.weekdays, Some(vec![4]));
        assert_eq!(ls.window_ms, Some((18 * 3_600_000, 23 * 3_600_000)));
        // Its end is checked an hour loosely (a clock change night).
        assert_eq!(ls.end_slack_ms, 3_600_000);
        let mut utc = filter("UTC");
        utc.weekdays = Some([true; 7]);
        let ls = utc.first_start(0).unwrap_or_default();
        assert_eq!((ls.offsets_ms, ls.end_slack_ms), (vec![0], 0));
        // Availability alone is judged in the listing, not in SQL.
        let mut avail = filter("UTC");
        avail.availability = Some(vec![(0, 60)]);
        assert!(avail.first_start(0).is_none());
    }
}
