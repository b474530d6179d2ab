//! Profiles: what players say about themselves, who may see it, and a
//! deterministic avatar drawn from the account's seed.

use campaign_gen::GameMode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{AccountError, invalid};
use crate::pricing::LlmTier;
use crate::store::accounts::ProfileRow;

/// Who may see a profile beyond its handle and avatar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone signed in.
    Public,
    /// Friends only.
    Friends,
    /// Nobody but the owner.
    Private,
}

impl Visibility {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Friends => "friends",
            Visibility::Private => "private",
        }
    }

    /// Parses a stored name (unknown names are private: least exposure).
    pub fn from_stored(s: &str) -> Visibility {
        match s {
            "public" => Visibility::Public,
            "friends" => Visibility::Friends,
            _ => Visibility::Private,
        }
    }
}

/// Who may send friend requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestsFrom {
    /// Anyone who is not blocked.
    Everyone,
    /// Nobody.
    Nobody,
}

impl FriendRequestsFrom {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FriendRequestsFrom::Everyone => "everyone",
            FriendRequestsFrom::Nobody => "nobody",
        }
    }

    /// Parses a stored name (unknown names are nobody).
    pub fn from_stored(s: &str) -> FriendRequestsFrom {
        if s == "everyone" {
            FriendRequestsFrom::Everyone
        } else {
            FriendRequestsFrom::Nobody
        }
    }
}

/// A weekly window when a player can play, in their own time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Window {
    /// Day of the week: mon, tue, wed, thu, fri, sat or sun.
    pub day: String,
    /// Start, `HH:MM` (24-hour).
    pub start: String,
    /// End, `HH:MM` (24-hour, after the start; `24:00` for midnight).
    pub end: String,
}

/// The days of the week, Monday first.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// At most this many availability windows.
pub const MAX_WINDOWS: usize = 28;

impl Window {
    /// Minutes since Monday 00:00 of the start and end.
    pub fn minutes(&self) -> Option<(i64, i64)> {
        let day = DAYS.iter().position(|d| *d == self.day)? as i64;
        let start = parse_hhmm(&self.start)?;
        let end = parse_hhmm(&self.end)?;
        (start < end).then_some((day * 1440 + start, day * 1440 + end))
    }
}

/// Minutes of the day of `HH:MM` (`24:00` is 1440).
pub fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    ((0..24).contains(&h) && (0..60).contains(&m) || total == 1440).then_some(total)
}

/// A profile as its owner sees and edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    /// Handle (not editable here).
    #[serde(default)]
    pub handle: String,
    /// Display name, 1-40 characters.
    pub display_name: String,
    /// About me, up to 500 characters.
    pub bio: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Game modes the player likes.
    pub preferred_modes: Vec<String>,
    /// Narration tiers the player likes.
    pub llm_tiers: Vec<String>,
    /// When the player can play, weekly, in their time zone.
    pub availability: Vec<Window>,
    /// Who sees the profile.
    pub visibility: Visibility,
    /// Who may send friend requests.
    pub friend_requests_from: FriendRequestsFrom,
}

/// A change to a profile: every field optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Display name, 1-40 characters.
    pub display_name: Option<String>,
    /// About me, up to 500 characters.
    pub bio: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Game modes: conquest, diplomacy, exploration, survival.
    pub preferred_modes: Option<Vec<String>>,
    /// Tiers: ollama, gemini, grok, anthropic, openai.
    pub llm_tiers: Option<Vec<String>>,
    /// Weekly windows.
    pub availability: Option<Vec<Window>>,
    /// public, friends or private.
    pub visibility: Option<Visibility>,
    /// everyone or nobody.
    pub friend_requests_from: Option<FriendRequestsFrom>,
}

fn json_list<T: for<'de> Deserialize<'de>>(s: &str) -> Vec<T> {
    serde_json::from_str(s).unwrap_or_default()
}

impl Profile {
    /// Reads the stored form.
    pub fn from_row(r: &ProfileRow) -> Profile {
        Profile {
            handle: r.handle.clone(),
            display_name: r.display_name.clone(),
            bio: r.bio.clone(),
            time_zone: r.time_zone.clone(),
            preferred_modes: json_list(&r.preferred_modes),
            llm_tiers: json_list(&r.llm_tiers),
            availability: json_list(&r.availability),
            visibility: Visibility::from_stored(&r.profile_visibility),
            friend_requests_from: FriendRequestsFrom::from_stored(&r.friend_requests_from),
        }
    }

    /// Applies a patch, checking every field; names the first bad one.
    /// A refused patch changes nothing.
    pub fn apply(&mut self, p: ProfilePatch) -> Result<(), AccountError> {
        let mut next = self.clone();
        if let Some(name) = p.display_name {
            let name = name.trim().to_string();
            let n = name.chars().count();
            if n == 0 || n > 40 || name.chars().any(char::is_control) {
                return Err(invalid(
                    "display_name",
                    "must be 1 to 40 characters without control characters",
                ));
            }
            next.display_name = name;
        }
        if let Some(bio) = p.bio {
            if bio.chars().count() > 500 {
                return Err(invalid("bio", "must be at most 500 characters"));
            }
            if bio.chars().any(|c| c.is_control() && c != '\n') {
                return Err(invalid("bio", "must not contain control characters"));
            }
            next.bio = bio;
        }
        if let Some(tz) = p.time_zone {
            let tz = tz.trim().to_string();
            if tz.is_empty() || jiff::tz::db().get(&tz).is_err() {
                return Err(invalid(
                    "time_zone",
                    format!("{tz:?} is not an IANA time zone such as Europe/Berlin"),
                ));
            }
            next.time_zone = tz;
        }
        if let Some(modes) = p.preferred_modes {
            let mut out: Vec<String> = Vec::new();
            for m in modes {
                let mode: GameMode = m.trim().parse().map_err(|_| {
                    invalid(
                        "preferred_modes",
                        format!("{m:?} is not a mode (conquest, diplomacy, exploration, survival)"),
                    )
                })?;
                if !out.iter().any(|o| o == mode.as_str()) {
                    out.push(mode.as_str().to_string());
                }
            }
            next.preferred_modes = out;
        }
        if let Some(tiers) = p.llm_tiers {
            let mut out: Vec<String> = Vec::new();
            for t in tiers {
                let tier = LlmTier::ALL
                    .iter()
                    .find(|x| x.as_str() == t.trim())
                    .ok_or_else(|| {
                        invalid(
                            "llm_tiers",
                            format!(
                                "{t:?} is not a tier (ollama, gemini, grok, anthropic, openai)"
                            ),
                        )
                    })?;
                if !out.iter().any(|o| o == tier.as_str()) {
                    out.push(tier.as_str().to_string());
                }
            }
            next.llm_tiers = out;
        }
        if let Some(windows) = p.availability {
            if windows.len() > MAX_WINDOWS {
                return Err(invalid(
                    "availability",
                    format!("at most {MAX_WINDOWS} windows"),
                ));
            }
            for (i, w) in windows.iter().enumerate() {
                if w.minutes().is_none() {
                    return Err(invalid(
                        "availability",
                        format!(
                            "window {i}: day must be one of mon..sun and start/end HH:MM with start before end"
                        ),
                    ));
                }
            }
            next.availability = windows;
        }
        if let Some(v) = p.visibility {
            next.visibility = v;
        }
        if let Some(f) = p.friend_requests_from {
            next.friend_requests_from = f;
        }
        *self = next;
        Ok(())
    }

    /// The stored form, for `account_id`.
    pub fn to_row(&self, base: &ProfileRow) -> ProfileRow {
        ProfileRow {
            display_name: self.display_name.clone(),
            bio: self.bio.clone(),
            time_zone: self.time_zone.clone(),
            preferred_modes: to_json(&self.preferred_modes),
            llm_tiers: to_json(&self.llm_tiers),
            availability: to_json(&self.availability),
            profile_visibility: self.visibility.as_str().to_string(),
            friend_requests_from: self.friend_requests_from.as_str().to_string(),
            ..base.clone()
        }
    }
}

/// JSON text of a list (lists of strings and windows always encode).
fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A deterministic avatar: a mirrored 5×5 pattern in a colour, both drawn
/// from the SHA-256 of the seed. The same seed always gives the same SVG.
pub fn avatar_svg(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let hue = u16::from_be_bytes([h[0], h[1]]) % 360;
    let bg_hue = (hue + 180) % 360;
    let mut cells = String::new();
    for row in 0..5u8 {
        for col in 0..3u8 {
            let bit = row * 3 + col;
            if h[2 + usize::from(bit / 8)] >> (bit % 8) & 1 == 1 {
                for c in if col == 2 {
                    vec![2]
                } else {
                    vec![col, 4 - col]
                } {
                    cells.push_str(&format!(
                        r#"<rect x="{}" y="{}" width="10" height="10"/>"#,
                        10 + u32::from(c) * 10,
                        10 + u32::from(row) * 10
                    ));
                }
            }
        }
    }
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 70 70" width="140" height="140">"#,
            r#"<rect width="70" height="70" rx="8" fill="hsl({bg},35%,18%)"/>"#,
            r#"<g fill="hsl({hue},70%,62%)">{cells}</g></svg>"#
        ),
        bg = bg_hue,
        hue = hue,
        cells = cells
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Profile {
        Profile {
            handle: "nova".into(),
            display_name: "Nova".into(),
            bio: String::new(),
            time_zone: "UTC".into(),
            preferred_modes: vec![],
            llm_tiers: vec![],
            availability: vec![],
            visibility: Visibility::Public,
            friend_requests_from: FriendRequestsFrom::Everyone,
        }
    }

    fn field(e: AccountError) -> &'static str {
        match e {
            AccountError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn a_good_patch_is_applied_with_duplicates_folded() {
        let mut p = base();
        p.apply(ProfilePatch {
            display_name: Some("  Nova Prime ".into()),
            time_zone: Some("Europe/Berlin".into()),
            preferred_modes: Some(vec![
                "diplomacy".into(),
                "diplomacy".into(),
                "conquest".into(),
            ]),
            llm_tiers: Some(vec!["ollama".into()]),
            availability: Some(vec![Window {
                day: "fri".into(),
                start: "19:30".into(),
                end: "24:00".into(),
            }]),
            visibility: Some(Visibility::Friends),
            ..ProfilePatch::default()
        })
        .unwrap();
        assert_eq!(p.display_name, "Nova Prime");
        assert_eq!(p.preferred_modes, vec!["diplomacy", "conquest"]);
        assert_eq!(
            p.availability[0].minutes(),
            Some((4 * 1440 + 1170, 5 * 1440))
        );
        assert_eq!(p.visibility, Visibility::Friends);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(ProfilePatch, &str)> = vec![
            (
                ProfilePatch {
                    display_name: Some(" ".into()),
                    ..Default::default()
                },
                "display_name",
            ),
            (
                ProfilePatch {
                    bio: Some("x".repeat(501)),
                    ..Default::default()
                },
                "bio",
            ),
            (
                ProfilePatch {
                    time_zone: Some("Mars/Olympus".into()),
                    ..Default::default()
                },
                "time_zone",
            ),
            (
                ProfilePatch {
                    preferred_modes: Some(vec!["racing".into()]),
                    ..Default::default()
                },
                "preferred_modes",
            ),
            (
                ProfilePatch {
                    llm_tiers: Some(vec!["gpt9".into()]),
                    ..Default::default()
                },
                "llm_tiers",
            ),
            (
                ProfilePatch {
                    availability: Some(vec![Window {
                        day: "mon".into(),
                        start: "22:00".into(),
                        end: "21:00".into(),
                    }]),
                    ..Default::default()
                },
                "availability",
            ),
            (
                ProfilePatch {
                    availability: Some(vec![Window {
                        day: "someday".into(),
                        start: "10:00".into(),
                        end: "11:00".into(),
                    }]),
                    ..Default::default()
                },
                "availability",
            ),
        ];
        for (patch, expected) in cases {
            let mut p = base();
            assert_eq!(field(p.apply(patch).unwrap_err()), expected);
            assert_eq!(p, base(), "a refused patch changes nothing");
        }
    }

    #[test]
    fn times_are_24_hour_with_midnight_as_the_only_24() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        for bad in ["24:01", "7:00", "12:60", "ab:cd", "1200"] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
    }

    #[test]
    fn avatars_are_deterministic_svg_and_differ_by_seed() {
        let a = avatar_svg("seed-a");
        assert_eq!(a, avatar_svg("seed-a"));
        assert_ne!(a, avatar_svg("seed-b"));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
        assert!(roxmltree::Document::parse(&a).is_ok());
    }
}
