//! Campaign schedules and their sessions, computed in the campaign's own
//! time zone.
//!
//! A weekly schedule keeps its local start time across daylight-saving
//! changes: a session at 19:00 in Berlin is at 18:00 UTC in winter and 17:00
//! UTC in summer. A session is a span of real time, so one that crosses a
//! clock change still lasts its full length. A local start time that does not
//! exist on a spring-forward day (02:30 in New York) moves forward by the
//! size of the gap, as calendars do.
//!
//! All instants are integer Unix milliseconds.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Campaign lengths a weekly schedule may have, in weeks.
pub const WEEKLY_LENGTHS: [u32; 3] = [4, 12, 24];
/// A one-shot session lasts this many hours.
pub const ONE_SHOT_HOURS: u32 = 24;
/// Longest weekly session, in hours.
pub const MAX_SESSION_HOURS: u32 = 12;

/// Why a schedule was refused. `field` names the schedule field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    /// The field: `weekdays`, `start_time`, `time_zone`, `starts_on`, ...
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        message: message.into(),
    }
}

/// A schedule as clients send it (strings, checked by [`Schedule::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ScheduleSpec {
    /// Sessions on some weekdays, every week, for 4, 12 or 24 weeks.
    Weekly {
        /// Days of the week: "monday" .. "sunday".
        weekdays: Vec<String>,
        /// Local start time, "HH:MM".
        start_time: String,
        /// Session length in hours (1-12).
        session_hours: u32,
        /// IANA time zone, such as "Europe/Berlin".
        time_zone: String,
        /// The first day of the first week, "YYYY-MM-DD" (local).
        starts_on: String,
        /// 4, 12 or 24.
        weeks: u32,
    },
    /// One 24-hour session.
    OneShot {
        /// The start instant, RFC 3339 with an offset ("2026-12-05T18:00:00Z").
        starts_at: String,
        /// The time zone the game master plans in (for display and feeds).
        time_zone: String,
    },
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// See [`ScheduleSpec::Weekly`].
    Weekly {
        /// Sorted, without repeats.
        weekdays: Vec<Weekday>,
        /// Local start time.
        start_time: Time,
        /// Session length in hours.
        session_hours: u32,
        /// The campaign's zone.
        zone: TimeZone,
        /// Its IANA name.
        zone_name: String,
        /// First day of the first week.
        starts_on: Date,
        /// Number of weeks.
        weeks: u32,
    },
    /// See [`ScheduleSpec::OneShot`].
    OneShot {
        /// The start.
        starts_at: Timestamp,
        /// The planning zone.
        zone: TimeZone,
        /// Its IANA name.
        zone_name: String,
    },
}

/// One session: a span of real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Session {
    /// 0-based position in the campaign.
    pub index: u32,
    /// Start, Unix milliseconds.
    pub starts_at_ms: i64,
    /// End (exclusive), Unix milliseconds.
    pub ends_at_ms: i64,
}

impl Session {
    /// Whether two sessions share any instant.
    pub fn overlaps(&self, other: &Session) -> bool {
        self.starts_at_ms < other.ends_at_ms && other.starts_at_ms < self.ends_at_ms
    }

    /// Length in minutes.
    pub fn minutes(&self) -> i64 {
        (self.ends_at_ms - self.starts_at_ms) / 60_000
    }
}

/// Looks up an IANA zone by name.
pub fn zone(name: &str) -> Result<TimeZone, ScheduleError> {
    if name.trim().is_empty() {
        return Err(err(
            "time_zone",
            "must name an IANA time zone such as Europe/Berlin",
        ));
    }
    TimeZone::get(name.trim()).map_err(|_| {
        err(
            "time_zone",
            format!(
                "{name:?} is not an IANA time zone (for example Europe/Berlin or America/New_York)"
            ),
        )
    })
}

fn weekday(name: &str) -> Result<Weekday, ScheduleError> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => {
            return Err(err(
                "weekdays",
                format!("{name:?} is not a weekday (monday .. sunday)"),
            ));
        }
    })
}

impl Schedule {
    /// Checks a client's schedule; errors name the field and what is allowed.
    pub fn parse(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
        match spec {
            ScheduleSpec::Weekly {
                weekdays,
                start_time,
                session_hours,
                time_zone,
                starts_on,
                weeks,
            } => {
                if weekdays.is_empty() {
                    return Err(err("weekdays", "name at least one day"));
                }
                let mut days = weekdays
                    .iter()
                    .map(|d| weekday(d))
                    .collect::<Result<Vec<_>, _>>()?;
                days.sort_by_key(|d| d.to_monday_zero_offset());
                let before = days.len();
                days.dedup();
                if days.len() != before {
                    return Err(err("weekdays", "a day is listed twice"));
                }
                let start_time = parse_time(start_time)?;
                if !(1..=MAX_SESSION_HOURS).contains(session_hours) {
                    return Err(err(
                        "session_hours",
                        format!("must be between 1 and {MAX_SESSION_HOURS}, got {session_hours}"),
                    ));
                }
                if !WEEKLY_LENGTHS.contains(weeks) {
                    return Err(err("weeks", format!("must be 4, 12 or 24, got {weeks}")));
                }
                let zone = zone(time_zone)?;
                let starts_on: Date = starts_on.trim().parse().map_err(|_| {
                    err(
                        "starts_on",
                        format!("{starts_on:?} is not a calendar date (YYYY-MM-DD)"),
                    )
                })?;
                if !(2000..=2200).contains(&starts_on.year()) {
                    return Err(err("starts_on", "must be between the years 2000 and 2200"));
                }
                Ok(Schedule::Weekly {
                    weekdays: days,
                    start_time,
                    session_hours: *session_hours,
                    zone,
                    zone_name: time_zone.trim().to_string(),
                    starts_on,
                    weeks: *weeks,
                })
            }
            ScheduleSpec::OneShot {
                starts_at,
                time_zone,
            } => {
                let zone = zone(time_zone)?;
                let starts_at: Timestamp = starts_at.trim().parse().map_err(|_| {
                    err(
                        "starts_at",
                        format!("{starts_at:?} is not an RFC 3339 instant (2026-12-05T18:00:00Z)"),
                    )
                })?;
                if !(2000..=2200).contains(&starts_at.to_zoned(TimeZone::UTC).year()) {
                    return Err(err("starts_at", "must be between the years 2000 and 2200"));
                }
                Ok(Schedule::OneShot {
                    starts_at,
                    zone,
                    zone_name: time_zone.trim().to_string(),
                })
            }
        }
    }

    /// The zone name the campaign is planned in.
    pub fn zone_name(&self) -> &str {
        match self {
            Schedule::Weekly { zone_name, .. } | Schedule::OneShot { zone_name, .. } => zone_name,
        }
    }

    /// Every session, in order.
    pub fn sessions(&self) -> Vec<Session> {
        match self {
            Schedule::Weekly {
                weekdays,
                start_time,
                session_hours,
                zone,
                starts_on,
                weeks,
                ..
            } => {
                let mut out = Vec::new();
                let length = i64::from(*session_hours) * 3_600_000;
                let mut day = *starts_on;
                for _ in 0..(i64::from(*weeks) * 7) {
                    if weekdays.contains(&day.weekday()) {
                        // "Compatible" disambiguation: gaps move forward,
                        // folds take the earlier of the two instants.
                        if let Ok(start) = day.to_datetime(*start_time).to_zoned(zone.clone()) {
                            let ms = start.timestamp().as_millisecond();
                            out.push(Session {
                                index: out.len() as u32,
                                starts_at_ms: ms,
                                ends_at_ms: ms + length,
                            });
                        }
                    }
                    match day.tomorrow() {
                        Ok(next) => day = next,
                        Err(_) => break,
                    }
                }
                out
            }
            Schedule::OneShot { starts_at, .. } => {
                let ms = starts_at.as_millisecond();
                vec![Session {
                    index: 0,
                    starts_at_ms: ms,
                    ends_at_ms: ms + i64::from(ONE_SHOT_HOURS) * 3_600_000,
                }]
            }
        }
    }
}

fn parse_time(s: &str) -> Result<Time, ScheduleError> {
    let bad = || {
        err(
            "start_time",
            format!("{s:?} is not a time of day (HH:MM, 00:00-23:59)"),
        )
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// A session instant as a viewer in `zone` sees it: "2026-03-28 19:00 CET".
pub fn local_time(ms: i64, zone: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// An instant in RFC 3339 with the offset `zone` has then:
/// "2027-03-07T19:00:00+01:00" in Berlin, "2027-03-07T18:00:00Z" in UTC.
pub fn rfc3339_in(ms: i64, zone: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) if zone.iana_name() == Some("UTC") => ts.to_string(),
        Ok(ts) => ts.display_with_offset(zone.to_offset(ts)).to_string(),
        Err(_) => String::new(),
    }
}

/// An instant in UTC: "2026-03-28 18:00 UTC".
pub fn utc_text(ms: i64) -> String {
    local_time(ms, &TimeZone::UTC)
}

/// Pairs of sessions, one from each list, that overlap. Both lists must be
/// sorted by start (as [`Schedule::sessions`] returns them).
pub fn conflicts(mine: &[Session], theirs: &[Session]) -> Vec<(Session, Session)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < mine.len() && j < theirs.len() {
        if mine[i].overlaps(&theirs[j]) {
            out.push((mine[i], theirs[j]));
        }
        if mine[i].ends_at_ms <= theirs[j].ends_at_ms {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// A calendar entry for an ICS feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Globally unique and stable across feed refreshes.
    pub uid: String,
    /// The title.
    pub summary: String,
    /// A longer text, such as how to join.
    pub description: String,
    /// The session.
    pub session: Session,
    /// Its revision: higher after each change of the campaign's terms, so
    /// calendar apps take the new times over the old.
    pub sequence: i64,
    /// The campaign was cancelled: the event stays in the feed, marked so.
    pub cancelled: bool,
}

fn ics_time(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn ics_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (RFC 5545 3.1), never inside a
/// character, and ends it with CRLF.
fn ics_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// An iCalendar (RFC 5545) feed of events, stamped `now_ms`.
pub fn ics_feed(name: &str, events: &[CalendarEvent], now_ms: i64) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Startales//Campaign sessions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        ics_line(&mut out, line);
    }
    ics_line(&mut out, &format!("X-WR-CALNAME:{}", ics_escape(name)));
    let stamp = ics_time(now_ms);
    for e in events {
        ics_line(&mut out, "BEGIN:VEVENT");
        ics_line(&mut out, &format!("UID:{}", ics_escape(&e.uid)));
        ics_line(&mut out, &format!("DTSTAMP:{stamp}"));
        ics_line(
            &mut out,
            &format!("DTSTART:{}", ics_time(e.session.starts_at_ms)),
        );
        ics_line(
            &mut out,
            &format!("DTEND:{}", ics_time(e.session.ends_at_ms)),
        );
        ics_line(&mut out, &format!("SEQUENCE:{}", e.sequence.max(0)));
        ics_line(
            &mut out,
            if e.cancelled {
                "STATUS:CANCELLED"
            } else {
                "STATUS:CONFIRMED"
            },
        );
        ics_line(&mut out, &format!("SUMMARY:{}", ics_escape(&e.summary)));
        ics_line(
            &mut out,
            &format!("DESCRIPTION:{}", ics_escape(&e.description)),
        );
        ics_line(&mut out, "END:VEVENT");
    }
    ics_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(
        days: &[&str],
        time: &str,
        hours: u32,
        tz: &str,
        from: &str,
        weeks: u32,
    ) -> ScheduleSpec {
        ScheduleSpec::Weekly {
            weekdays: days.iter().map(|d| d.to_string()).collect(),
            start_time: time.into(),
            session_hours: hours,
            time_zone: tz.into(),
            starts_on: from.into(),
            weeks,
        }
    }

    #[test]
    fn instants_are_written_in_rfc_3339_with_the_viewers_offset_of_the_day() {
        let berlin = zone("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        let winter = 1_804_442_400_000; // 2027-03-07T18:00:00Z
        let summer = 1_806_253_200_000; // 2027-03-28T17:00:00Z
        assert_eq!(rfc3339_in(winter, &berlin), "2027-03-07T19:00:00+01:00");
        assert_eq!(rfc3339_in(summer, &berlin), "2027-03-28T19:00:00+02:00");
        assert_eq!(rfc3339_in(winter, &TimeZone::UTC), "2027-03-07T18:00:00Z");
        assert_eq!(rfc3339_in(i64::MAX, &TimeZone::UTC), "");
    }

    #[test]
    fn berlin_sessions_keep_their_local_time_across_the_spring_change() {
        // Clocks go forward on Sunday 2026-03-29 in Berlin.
        let s = Schedule::parse(&weekly(
            &["saturday", "monday"],
            "19:00",
            3,
            "Europe/Berlin",
            "2026-03-21",
            4,
        ))
        .unwrap();
        let sessions = s.sessions();
        assert_eq!(sessions.len(), 8);
        let berlin = zone("Europe/Berlin").unwrap();
        for x in &sessions {
            assert!(
                local_time(x.starts_at_ms, &berlin).contains(" 19:00 "),
                "{}",
                local_time(x.starts_at_ms, &berlin)
            );
            assert_eq!(x.minutes(), 180);
        }
        assert_eq!(utc_text(sessions[0].starts_at_ms), "2026-03-21 18:00 UTC"); // CET, before
        assert_eq!(utc_text(sessions[1].starts_at_ms), "2026-03-23 18:00 UTC");
        assert_eq!(utc_text(sessions[2].starts_at_ms), "2026-03-28 18:00 UTC");
        assert_eq!(utc_text(sessions[3].starts_at_ms), "2026-03-30 17:00 UTC"); // CEST, after
        assert_eq!(
            local_time(sessions[3].starts_at_ms, &berlin),
            "2026-03-30 19:00 CEST"
        );
    }

    #[test]
    fn new_york_sessions_keep_their_local_time_across_both_changes() {
        // Spring forward 2026-03-08, fall back 2026-11-01.
        let spring = Schedule::parse(&weekly(
            &["sunday"],
            "20:30",
            2,
            "America/New_York",
            "2026-03-01",
            4,
        ))
        .unwrap();
        let s = spring.sessions();
        assert_eq!(utc_text(s[0].starts_at_ms), "2026-03-02 01:30 UTC"); // EST (UTC-5)
        assert_eq!(utc_text(s[1].starts_at_ms), "2026-03-09 00:30 UTC"); // EDT (UTC-4)
        let autumn = Schedule::parse(&weekly(
            &["sunday"],
            "20:30",
            2,
            "America/New_York",
            "2026-10-25",
            4,
        ))
        .unwrap();
        let s = autumn.sessions();
        assert_eq!(utc_text(s[0].starts_at_ms), "2026-10-26 00:30 UTC"); // EDT
        assert_eq!(utc_text(s[1].starts_at_ms), "2026-11-02 01:30 UTC"); // EST
        let ny = zone("America/New_York").unwrap();
        assert!(
            s.iter()
                .all(|x| local_time(x.starts_at_ms, &ny).contains(" 20:30 "))
        );
    }

    #[test]
    fn a_session_across_the_clock_change_lasts_its_full_length() {
        // 01:00-04:00 local on the night Berlin falls back (2026-10-25).
        let s = Schedule::parse(&weekly(
            &["sunday"],
            "01:00",
            3,
            "Europe/Berlin",
            "2026-10-25",
            4,
        ))
        .unwrap();
        let first = s.sessions()[0];
        assert_eq!(first.minutes(), 180);
        assert_eq!(utc_text(first.starts_at_ms), "2026-10-24 23:00 UTC");
    }

    #[test]
    fn a_start_inside_the_spring_gap_moves_forward() {
        // 02:30 does not exist in New York on 2026-03-08.
        let s = Schedule::parse(&weekly(
            &["sunday"],
            "02:30",
            1,
            "America/New_York",
            "2026-03-08",
            4,
        ))
        .unwrap();
        let ny = zone("America/New_York").unwrap();
        assert_eq!(
            local_time(s.sessions()[0].starts_at_ms, &ny),
            "2026-03-08 03:30 EDT"
        );
        assert_eq!(
            local_time(s.sessions()[1].starts_at_ms, &ny),
            "2026-03-15 02:30 EDT"
        );
    }

    #[test]
    fn players_see_sessions_in_their_own_zone() {
        let s = Schedule::parse(&weekly(
            &["friday"],
            "18:00",
            4,
            "Europe/London",
            "2026-12-04",
            4,
        ))
        .unwrap();
        let tokyo = zone("Asia/Tokyo").unwrap();
        assert_eq!(
            local_time(s.sessions()[0].starts_at_ms, &tokyo),
            "2026-12-05 03:00 JST"
        );
    }

    #[test]
    fn weekly_lengths_give_weeks_times_days_sessions() {
        for weeks in WEEKLY_LENGTHS {
            let s = Schedule::parse(&weekly(
                &["tue", "thu"],
                "12:00",
                2,
                "UTC",
                "2027-01-01",
                weeks,
            ))
            .unwrap();
            assert_eq!(s.sessions().len() as u32, weeks * 2);
            let idx: Vec<u32> = s.sessions().iter().map(|x| x.index).collect();
            assert_eq!(idx, (0..weeks * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_one_shot_is_one_24_hour_session() {
        let s = Schedule::parse(&ScheduleSpec::OneShot {
            starts_at: "2026-12-05T18:00:00+01:00".into(),
            time_zone: "Europe/Paris".into(),
        })
        .unwrap();
        let sessions = s.sessions();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].minutes(), 24 * 60);
        assert_eq!(utc_text(sessions[0].starts_at_ms), "2026-12-05 17:00 UTC");
    }

    #[test]
    fn schedules_that_do_not_exist_are_refused_naming_the_field() {
        let cases = [
            (
                weekly(&["monday"], "19:00", 3, "Europe/Berlin", "2026-02-30", 4),
                "starts_on",
            ),
            (
                weekly(&["monday"], "19:00", 3, "Mars/Olympus", "2026-02-01", 4),
                "time_zone",
            ),
            (
                weekly(&["monday"], "19:00", 3, "", "2026-02-01", 4),
                "time_zone",
            ),
            (
                weekly(&["monday"], "19:00", 3, "Europe/Berlin", "2026-02-01", 0),
                "weeks",
            ),
            (
                weekly(&["monday"], "19:00", 3, "Europe/Berlin", "2026-02-01", 5),
                "weeks",
            ),
            (
                weekly(&[], "19:00", 3, "Europe/Berlin", "2026-02-01", 4),
                "weekdays",
            ),
            (
                weekly(&["funday"], "19:00", 3, "Europe/Berlin", "2026-02-01", 4),
                "weekdays",
            ),
            (
                weekly(
                    &["mon", "monday"],
                    "19:00",
                    3,
                    "Europe/Berlin",
                    "2026-02-01",
                    4,
                ),
                "weekdays",
            ),
            (
                weekly(&["monday"], "25:00", 3, "Europe/Berlin", "2026-02-01", 4),
                "start_time",
            ),
            (
                weekly(&["monday"], "7pm", 3, "Europe/Berlin", "2026-02-01", 4),
                "start_time",
            ),
            (
                weekly(&["monday"], "19:00", 0, "Europe/Berlin", "2026-02-01", 4),
                "session_hours",
            ),
            (
                weekly(&["monday"], "19:00", 13, "Europe/Berlin", "2026-02-01", 4),
                "session_hours",
            ),
            (
                weekly(&["monday"], "19:00", 3, "Europe/Berlin", "1900-01-01", 4),
                "starts_on",
            ),
            (
                ScheduleSpec::OneShot {
                    starts_at: "2026-13-01T00:00:00Z".into(),
                    time_zone: "UTC".into(),
                },
                "starts_at",
            ),
            (
                ScheduleSpec::OneShot {
                    starts_at: "2026-12-01T00:00:00Z".into(),
                    time_zone: "Nowhere".into(),
                },
                "time_zone",
            ),
        ];
        for (spec, field) in cases {
            let e = Schedule::parse(&spec).unwrap_err();
            assert_eq!(e.field, field, "{spec:?}: {e}");
        }
    }

    #[test]
    fn overlapping_sessions_are_reported_as_conflicts() {
        let a = Schedule::parse(&weekly(
            &["monday"],
            "19:00",
            3,
            "Europe/Berlin",
            "2026-06-01",
            4,
        ))
        .unwrap();
        // 20:00 London is 21:00 Berlin: inside the Berlin session.
        let b = Schedule::parse(&weekly(
            &["monday"],
            "20:00",
            2,
            "Europe/London",
            "2026-06-15",
            4,
        ))
        .unwrap();
        let c = Schedule::parse(&weekly(
            &["tuesday"],
            "19:00",
            3,
            "Europe/Berlin",
            "2026-06-01",
            4,
        ))
        .unwrap();
        assert_eq!(conflicts(&a.sessions(), &b.sessions()).len(), 2);
        assert!(conflicts(&a.sessions(), &c.sessions()).is_empty());
        // Back to back is not a conflict.
        let d = Schedule::parse(&weekly(
            &["monday"],
            "22:00",
            1,
            "Europe/Berlin",
            "2026-06-01",
            4,
        ))
        .unwrap();
        assert!(conflicts(&a.sessions(), &d.sessions()).is_empty());
    }

    #[test]
    fn ics_feeds_are_crlf_folded_escaped_and_in_utc_text() {
        let s = Schedule::parse(&weekly(
            &["monday"],
            "19:00",
            3,
            "Europe/Berlin",
            "2026-06-01",
            4,
        ))
        .unwrap();
        let events: Vec<CalendarEvent> = s
            .sessions()
            .into_iter()
            .map(|x| CalendarEvent {
                uid: format!("c1-{}@startales", x.index),
                summary: "Session, the \"Veyra; Expanse\"".into(),
                description: "A very long description that goes on and on so that it must be folded at seventy-five octets\nsecond line".into(),
                cancelled: x.index == 3,
                sequence: 2,
                session: x,
            })
            .collect();
        let ics = ics_feed("My campaigns", &events, 1_780_000_000_000);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 4);
        assert!(ics.contains("DTSTART:20260601T170000Z\r\n"));
        assert!(ics.contains("DTEND:20260601T200000Z\r\n"));
        assert!(ics.contains("SUMMARY:Session\\, the \"Veyra\\; Expanse\""));
        assert!(ics.contains("\\nsecond line"));
        assert_eq!(ics.matches("STATUS:CONFIRMED\r\n").count(), 3);
        assert_eq!(ics.matches("STATUS:CANCELLED\r\n").count(), 1);
        assert_eq!(ics.matches("SEQUENCE:2\r\n").count(), 4);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        assert!(!ics.replace("\r\n", "").contains('\n'));
    }
}
