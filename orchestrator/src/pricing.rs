//! Per-campaign seat pricing: a pure function of a versioned price book and
//! the campaign's shape.
//!
//! All money is integer minor units (cents) with a currency. Costs that are
//! fractions of a cent (a token costs far less than one) are carried in
//! millionths of a minor unit and rounded up once, at the end, so a quote
//! never undercharges by rounding.
//!
//! How a seat price is built, per seat:
//! 1. compute: the server's cost per campaign-hour times the hours it runs
//!    (scheduled play plus the warm-up and grace time around each session),
//!    shared among the campaign's players;
//! 2. narration: estimated LLM tokens per player-hour times the played hours
//!    times the tier's token price;
//! 3. margin: cost / (1 - target gross margin);
//! 4. payment fees: (price + fixed fee) / (1 - percentage fee), so the
//!    provider's cut comes out of the customer's payment, not the margin;
//! 5. rounding up to the book's step (optionally ending in .99 style);
//! 6. clamping to the book's minimum; a price above the book's maximum is
//!    refused rather than sold at a loss.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Millionths of a minor unit per minor unit.
const MICRO: i128 = 1_000_000;
/// Basis points in one.
const BPS: i128 = 10_000;

/// The LLM tiers a campaign can be narrated with, cheapest first in the
/// default book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmTier {
    /// A self-hosted open model.
    Ollama,
    /// Google Gemini.
    Gemini,
    /// xAI Grok.
    Grok,
    /// Anthropic Claude.
    Anthropic,
    /// OpenAI.
    Openai,
}

impl LlmTier {
    /// Every tier.
    pub const ALL: [LlmTier; 5] = [
        LlmTier::Ollama,
        LlmTier::Gemini,
        LlmTier::Grok,
        LlmTier::Anthropic,
        LlmTier::Openai,
    ];

    /// The lower-case name used in JSON and config.
    pub fn as_str(self) -> &'static str {
        match self {
            LlmTier::Ollama => "ollama",
            LlmTier::Gemini => "gemini",
            LlmTier::Grok => "grok",
            LlmTier::Anthropic => "anthropic",
            LlmTier::Openai => "openai",
        }
    }
}

impl fmt::Display for LlmTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LlmTier {
    type Err = PricingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LlmTier::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                PricingError::invalid(
                    "tier",
                    format!("unknown tier {s:?}; allowed: ollama, gemini, grok, anthropic, openai"),
                )
            })
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// Checks and wraps a three-letter code.
    pub fn new(code: &str) -> Result<Self, PricingError> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code))
        } else {
            Err(PricingError::invalid(
                "currency",
                format!("{code:?} is not a three-letter currency code"),
            ))
        }
    }

    /// The code, such as "EUR".
    pub fn code(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = PricingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::new(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

/// An amount of money in minor units (cents) of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units; never a float.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount < 0 { "-" } else { "" };
        let a = self.amount.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:02} {}",
            a / 100,
            a % 100,
            self.currency.code()
        )
    }
}

/// Why a price book or quote was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An input or book field is out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The campaign would cost more per seat than the book allows.
    #[error(
        "a seat would cost {price_minor} minor units, above the maximum of {max_minor}; \
         shorten the campaign, add players or pick a cheaper tier"
    )]
    AboveMaximum {
        /// The price it would need.
        price_minor: i64,
        /// The book's maximum.
        max_minor: i64,
    },
}

impl PricingError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PricingError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The cost of narration with one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCost {
    /// The tier.
    pub tier: LlmTier,
    /// Estimated tokens (prompt and completion) per player per played hour.
    pub tokens_per_player_hour: i64,
    /// Price per million tokens, in minor units.
    pub minor_per_million_tokens: i64,
}

/// How prices are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rounding {
    /// Up to the next multiple of `step` minor units.
    UpToMultiple {
        /// The step, such as 50 for half units.
        step: i64,
    },
    /// Up to the next multiple of `step`, minus one (4.99, 9.49 ...), never
    /// below the unrounded price.
    Charm {
        /// The step, such as 50.
        step: i64,
    },
}

/// A versioned price book. Quotes record the version they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    /// The book's version, such as "2026-11".
    pub version: String,
    /// The currency of every amount in the book.
    pub currency: Currency,
    /// What one game server costs to run for an hour, in minor units.
    pub compute_minor_per_hour: i64,
    /// Minutes a server runs around each session beyond its length
    /// (warm-up before, grace after).
    pub overhead_minutes_per_session: i64,
    /// Narration cost per tier.
    pub tiers: Vec<TierCost>,
    /// Payment provider's percentage fee, in basis points (290 = 2.9%).
    pub payment_fee_bps: i64,
    /// Payment provider's fixed fee per payment, in minor units.
    pub payment_fee_fixed_minor: i64,
    /// Target gross margin, in basis points of the price before fees.
    pub target_margin_bps: i64,
    /// Lowest seat price, in minor units.
    pub min_seat_minor: i64,
    /// Highest seat price, in minor units; dearer campaigns are refused.
    pub max_seat_minor: i64,
    /// How prices are rounded.
    pub rounding: Rounding,
}

impl PriceBook {
    /// The book the platform ships with (EUR).
    pub fn standard() -> PriceBook {
        let tier = |tier, tokens, price| TierCost {
            tier,
            tokens_per_player_hour: tokens,
            minor_per_million_tokens: price,
        };
        PriceBook {
            version: "2026-11".to_string(),
            currency: Currency("EUR".to_string()),
            compute_minor_per_hour: 12,
            overhead_minutes_per_session: 25,
            tiers: vec![
                tier(LlmTier::Ollama, 30_000, 20),
                tier(LlmTier::Gemini, 30_000, 90),
                tier(LlmTier::Grok, 30_000, 300),
                tier(LlmTier::Anthropic, 30_000, 600),
                tier(LlmTier::Openai, 30_000, 500),
            ],
            payment_fee_bps: 290,
            payment_fee_fixed_minor: 25,
            target_margin_bps: 3_500,
            min_seat_minor: 299,
            max_seat_minor: 25_000,
            rounding: Rounding::Charm { step: 50 },
        }
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<(), PricingError> {
        if self.version.trim().is_empty() {
            return Err(PricingError::invalid("version", "must not be empty"));
        }
        // Bounds far past any real price keep every quote's arithmetic
        // (i128) from overflowing, whatever an admin types.
        let within = |field, v: i64, max: i64| {
            if v < 0 {
                Err(PricingError::invalid(
                    field,
                    format!("must not be negative, got {v}"),
                ))
            } else if v > max {
                Err(PricingError::invalid(
                    field,
                    format!("must be at most {max}, got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        within(
            "compute_minor_per_hour",
            self.compute_minor_per_hour,
            MAX_AMOUNT,
        )?;
        within(
            "overhead_minutes_per_session",
            self.overhead_minutes_per_session,
            24 * 60,
        )?;
        within(
            "payment_fee_fixed_minor",
            self.payment_fee_fixed_minor,
            MAX_AMOUNT,
        )?;
        within("max_seat_minor", self.max_seat_minor, MAX_AMOUNT)?;
        if !(0..5_000).contains(&self.payment_fee_bps) {
            return Err(PricingError::invalid(
                "payment_fee_bps",
                "must be 0 to 4999",
            ));
        }
        if !(0..9_000).contains(&self.target_margin_bps) {
            return Err(PricingError::invalid(
                "target_margin_bps",
                "must be 0 to 8999",
            ));
        }
        if self.min_seat_minor < 1 || self.max_seat_minor < self.min_seat_minor {
            return Err(PricingError::invalid(
                "max_seat_minor",
                "seat prices need 1 <= min_seat_minor <= max_seat_minor",
            ));
        }
        match self.rounding {
            Rounding::UpToMultiple { step } | Rounding::Charm { step }
                if !(1..=10_000).contains(&step) =>
            {
                return Err(PricingError::invalid("rounding", "step must be 1 to 10000"));
            }
            _ => {}
        }
        for t in &self.tiers {
            within(
                "tiers.tokens_per_player_hour",
                t.tokens_per_player_hour,
                MAX_TOKENS_PER_HOUR,
            )?;
            within(
                "tiers.minor_per_million_tokens",
                t.minor_per_million_tokens,
                MAX_AMOUNT,
            )?;
        }
        for tier in LlmTier::ALL {
            let n = self.tiers.iter().filter(|t| t.tier == tier).count();
            if n != 1 {
                return Err(PricingError::invalid(
                    "tiers",
                    format!("needs exactly one entry for {tier}, found {n}"),
                ));
            }
        }
        Ok(())
    }

    fn tier(&self, tier: LlmTier) -> Option<&TierCost> {
        self.tiers.iter().find(|t| t.tier == tier)
    }
}

/// The most any amount in a price book may be, minor units (ten million
/// in a two-decimal currency).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// The most narration tokens a price book may expect per player-hour.
pub const MAX_TOKENS_PER_HOUR: i64 = 1_000_000_000;

/// What a quote is for: the campaign's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// Seats the cost is shared among (the campaign's maximum players).
    pub players: u32,
    /// Number of sessions.
    pub sessions: u32,
    /// Length of each session in minutes.
    pub session_minutes: u32,
    /// Narration tier.
    pub tier: LlmTier,
}

/// A seat price with its breakdown; the parts add up to `price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The price book version this quote came from.
    pub price_book_version: String,
    /// What was quoted.
    pub request: QuoteRequest,
    /// Hours of scheduled play.
    pub played_minutes: i64,
    /// The seat price the player pays.
    pub price: Money,
    /// Server cost per seat.
    pub compute: Money,
    /// Narration cost per seat.
    pub narration: Money,
    /// Payment provider fees.
    pub payment_fees: Money,
    /// What is left for the platform: margin plus rounding and minimum-price
    /// uplift.
    pub margin: Money,
}

/// Ceiling division for non-negative numerators and positive divisors.
fn div_ceil(n: i128, d: i128) -> i128 {
    if d <= 0 {
        return n;
    }
    (n + d - 1).div_euclid(d)
}

/// Quotes one seat of a campaign of this shape.
pub fn quote(book: &PriceBook, request: QuoteRequest) -> Result<Quote, PricingError> {
    book.validate()?;
    if !(2..=50).contains(&request.players) {
        return Err(PricingError::invalid("players", "must be between 2 and 50"));
    }
    if !(1..=200).contains(&request.sessions) {
        return Err(PricingError::invalid(
            "sessions",
            "must be between 1 and 200",
        ));
    }
    if !(30..=24 * 60).contains(&request.session_minutes) {
        return Err(PricingError::invalid(
            "session_minutes",
            "must be between 30 and 1440",
        ));
    }
    let tier = book
        .tier(request.tier)
        .ok_or_else(|| PricingError::invalid("tier", "not in the price book"))?;

    let sessions = i128::from(request.sessions);
    let played_minutes = sessions * i128::from(request.session_minutes);
    let running_minutes = sessions
        * (i128::from(request.session_minutes) + i128::from(book.overhead_minutes_per_session));
    let players = i128::from(request.players);

    // Per seat, in millionths of a minor unit.
    let compute_micro = div_ceil(
        i128::from(book.compute_minor_per_hour) * running_minutes * MICRO,
        60 * players,
    );
    // tokens = tokens/h * minutes / 60; cost = tokens * price / 1e6 minor = tokens * price micro.
    let narration_micro = div_ceil(
        i128::from(tier.tokens_per_player_hour)
            * played_minutes
            * i128::from(tier.minor_per_million_tokens),
        60,
    );
    let cost_micro = compute_micro + narration_micro;

    // Margin, then fees on top, each rounded up in minor units.
    let net_micro = div_ceil(cost_micro * BPS, BPS - i128::from(book.target_margin_bps));
    let net_minor = div_ceil(net_micro, MICRO);
    let gross_minor = div_ceil(
        (net_minor + i128::from(book.payment_fee_fixed_minor)) * BPS,
        BPS - i128::from(book.payment_fee_bps),
    );
    let rounded = match book.rounding {
        Rounding::UpToMultiple { step } => {
            div_ceil(gross_minor, i128::from(step)) * i128::from(step)
        }
        Rounding::Charm { step } => {
            let step = i128::from(step);
            let up = div_ceil(gross_minor + 1, step) * step - 1;
            up.max(gross_minor)
        }
    };
    let price = rounded.max(i128::from(book.min_seat_minor));
    if price > i128::from(book.max_seat_minor) {
        return Err(PricingError::AboveMaximum {
            price_minor: i64::try_from(price).unwrap_or(i64::MAX),
            max_minor: book.max_seat_minor,
        });
    }
    // Fees the provider will take from this exact price.
    let fees = div_ceil(price * i128::from(book.payment_fee_bps), BPS)
        + i128::from(book.payment_fee_fixed_minor);
    // The parts of the cost shown are the cost rounded up as a whole (as
    // the price was made from it), so the margin shown is never negative:
    // each part rounded up alone could come to a cent more.
    let cost = div_ceil(cost_micro, MICRO);
    let compute = div_ceil(compute_micro, MICRO).min(cost);
    let narration = cost - compute;
    let margin = price - fees - cost;

    let money = |amount: i128| Money {
        amount: i64::try_from(amount).unwrap_or(i64::MAX),
        currency: book.currency.clone(),
    };
    Ok(Quote {
        price_book_version: book.version.clone(),
        request,
        played_minutes: i64::try_from(played_minutes).unwrap_or(i64::MAX),
        price: money(price),
        compute: money(compute),
        narration: money(narration),
        payment_fees: money(fees),
        margin: money(margin),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(players: u32, sessions: u32, session_minutes: u32, tier: LlmTier) -> QuoteRequest {
        QuoteRequest {
            players,
            sessions,
            session_minutes,
            tier,
        }
    }

    #[test]
    fn the_standard_book_is_valid() {
        PriceBook::standard().validate().unwrap();
    }

    /// Worked example 1 (also in the README): 12 weekly 3-hour sessions,
    /// 8 players, Anthropic narration.
    ///
    /// compute  = 12 c/h * 12 * (180 + 25) min / 60 / 8 players = 61.5 c
    /// narration = 30,000 tokens/h * 36 h * 600 c / 1M tokens = 648 c
    /// cost = 709.5 c; / (1 - 35%) = 1091.54 -> 1092 c
    /// fees: (1092 + 25) / (1 - 2.9%) = 1150.36 -> 1151 c; charm -> 11.99
    #[test]
    fn a_twelve_week_anthropic_campaign_for_eight_costs_11_99() {
        let q = quote(&PriceBook::standard(), req(8, 12, 180, LlmTier::Anthropic)).unwrap();
        assert_eq!(q.price.amount, 1199);
        assert_eq!(q.price.to_string(), "11.99 EUR");
        assert_eq!(q.compute.amount, 62);
        assert_eq!(q.narration.amount, 648);
        assert_eq!(q.payment_fees.amount, 60); // ceil(1199 * 2.9%) + 25
        assert_eq!(q.margin.amount, 1199 - 60 - 62 - 648);
        assert_eq!(q.price_book_version, "2026-11");
        assert_eq!(q.played_minutes, 12 * 180);
    }

    /// Worked example 2: a 24-hour one-shot for 4 players on Ollama.
    ///
    /// compute = 12 c/h * (1440 + 25) min / 60 / 4 = 73.25 c
    /// narration = 30,000 * 24 h * 20 c / 1M = 14.4 c
    /// cost = 87.65 c, shown as 88 c: compute 74 c and narration 14 c;
    /// / 0.65 = 134.85 -> 135 c
    /// fees: (135 + 25) / 0.971 = 164.78 -> 165 c; charm -> 1.99, below the
    /// 2.99 minimum -> 2.99
    #[test]
    fn a_one_shot_ollama_campaign_for_four_is_lifted_to_the_minimum() {
        let q = quote(&PriceBook::standard(), req(4, 1, 1440, LlmTier::Ollama)).unwrap();
        assert_eq!(q.price.amount, 299);
        assert_eq!(q.compute.amount, 74);
        assert_eq!(q.narration.amount, 14);
    }

    #[test]
    fn charm_rounding_ends_in_nine_and_never_rounds_down() {
        let mut book = PriceBook::standard();
        book.min_seat_minor = 1;
        for (players, sessions) in [(50, 4), (10, 24), (2, 12), (7, 3)] {
            let q = quote(&book, req(players, sessions, 120, LlmTier::Gemini)).unwrap();
            assert_eq!(q.price.amount % 50, 49, "{}", q.price);
        }
    }

    #[test]
    fn a_campaign_dearer_than_the_maximum_is_refused() {
        let mut book = PriceBook::standard();
        book.max_seat_minor = 5_000;
        let err = quote(&book, req(2, 24, 1440, LlmTier::Anthropic)).unwrap_err();
        assert!(matches!(err, PricingError::AboveMaximum { .. }), "{err}");
    }

    #[test]
    fn out_of_range_requests_name_the_field() {
        let book = PriceBook::standard();
        for (r, field) in [
            (req(1, 4, 60, LlmTier::Gemini), "players"),
            (req(51, 4, 60, LlmTier::Gemini), "players"),
            (req(8, 0, 60, LlmTier::Gemini), "sessions"),
            (req(8, 4, 10, LlmTier::Gemini), "session_minutes"),
            (req(8, 4, 2000, LlmTier::Gemini), "session_minutes"),
        ] {
            match quote(&book, r) {
                Err(PricingError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{r:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn broken_books_are_refused_with_the_field() {
        let mut book = PriceBook::standard();
        book.tiers.pop();
        assert!(matches!(
            book.validate(),
            Err(PricingError::Invalid { field: "tiers", .. })
        ));
        let mut book = PriceBook::standard();
        book.target_margin_bps = 10_000;
        assert!(matches!(
            book.validate(),
            Err(PricingError::Invalid {
                field: "target_margin_bps",
                ..
            })
        ));
        let mut book = PriceBook::standard();
        book.compute_minor_per_hour = -1;
        assert!(book.validate().is_err());
        // Absurdly large values too, each named.
        let mut book = PriceBook::standard();
        book.tiers[0].tokens_per_player_hour = i64::MAX;
        assert!(matches!(
            book.validate(),
            Err(PricingError::Invalid {
                field: "tiers.tokens_per_player_hour",
                ..
            })
        ));
        let mut book = PriceBook::standard();
        book.max_seat_minor = MAX_AMOUNT + 1;
        assert!(matches!(
            book.validate(),
            Err(PricingError::Invalid {
                field: "max_seat_minor",
                ..
            })
        ));
        assert!(Currency::new("euro").is_err());
        let json = serde_json::to_string(&PriceBook::standard()).unwrap();
        assert_eq!(
            serde_json::from_str::<PriceBook>(&json).unwrap(),
            PriceBook::standard()
        );
        assert!(serde_json::from_str::<PriceBook>(&json.replace("EUR", "E1")).is_err());
    }

    fn tier_strategy() -> impl Strategy<Value = LlmTier> {
        proptest::sample::select(LlmTier::ALL.to_vec())
    }

    fn tier_unit_cost(book: &PriceBook, t: LlmTier) -> i64 {
        let c = book.tier(t).unwrap();
        c.tokens_per_player_hour * c.minor_per_million_tokens
    }

    proptest! {
        #[test]
        fn prices_cover_cost_and_fees_and_stay_within_bounds(
            players in 2u32..=50, sessions in 1u32..=24, minutes in 30u32..=1440, tier in tier_strategy()
        ) {
            let book = PriceBook::standard();
            if let Ok(q) = quote(&book, req(players, sessions, minutes, tier)) {
                prop_assert!(q.price.amount >= book.min_seat_minor);
                prop_assert!(q.price.amount <= book.max_seat_minor);
                prop_assert!(q.price.amount >= q.compute.amount + q.narration.amount + q.payment_fees.amount);
                prop_assert!(q.margin.amount >= 0);
                prop_assert_eq!(q.price.amount, q.compute.amount + q.narration.amount + q.payment_fees.amount + q.margin.amount);
            }
        }

        #[test]
        fn more_hours_never_cost_less(
            players in 2u32..=50, sessions in 1u32..=23, minutes in 30u32..=1400, extra in 1u32..=40, tier in tier_strategy()
        ) {
            let book = PriceBook::standard();
            let base = quote(&book, req(players, sessions, minutes, tier));
            let longer = quote(&book, req(players, sessions, minutes + extra, tier));
            let more = quote(&book, req(players, sessions + 1, minutes, tier));
            if let Ok(base) = base {
                for other in [longer, more] {
                    match other {
                        Ok(o) => prop_assert!(o.price.amount >= base.price.amount),
                        Err(e) => prop_assert!(matches!(e, PricingError::AboveMaximum { .. }), "{}", e),
                    }
                }
            }
        }

        /// Any book that passes its checks quotes every shape without
        /// overflow, and its quotes keep their promises.
        #[test]
        fn every_valid_book_quotes_within_its_bounds_and_covers_cost_and_fees(
            compute in 0..=MAX_AMOUNT, overhead in 0i64..=1440, fee_bps in 0i64..5_000,
            fee_fixed in 0..=MAX_AMOUNT, margin_bps in 0i64..9_000, min_seat in 1..=MAX_AMOUNT,
            max_extra in 0..=MAX_AMOUNT, tokens in 0..=MAX_TOKENS_PER_HOUR, per_million in 0..=MAX_AMOUNT,
            step in 1i64..=10_000, charm in any::<bool>(),
            players in 2u32..=50, sessions in 1u32..=200, minutes in 30u32..=1440, tier in tier_strategy()
        ) {
            let mut book = PriceBook::standard();
            book.compute_minor_per_hour = compute;
            book.overhead_minutes_per_session = overhead;
            book.payment_fee_bps = fee_bps;
            book.payment_fee_fixed_minor = fee_fixed;
            book.target_margin_bps = margin_bps;
            book.min_seat_minor = min_seat;
            book.max_seat_minor = (min_seat + max_extra).min(MAX_AMOUNT);
            book.rounding = if charm { Rounding::Charm { step } } else { Rounding::UpToMultiple { step } };
            for t in &mut book.tiers {
                t.tokens_per_player_hour = tokens;
                t.minor_per_million_tokens = per_million;
            }
            prop_assume!(book.validate().is_ok());
            match quote(&book, req(players, sessions, minutes, tier)) {
                Ok(q) => {
                    prop_assert!(q.price.amount >= book.min_seat_minor);
                    prop_assert!(q.price.amount <= book.max_seat_minor);
                    prop_assert!(q.margin.amount >= 0, "{:?}", q);
                    prop_assert_eq!(q.price.amount, q.compute.amount + q.narration.amount + q.payment_fees.amount + q.margin.amount);
                }
                Err(e) => prop_assert!(matches!(e, PricingError::AboveMaximum { .. }), "{}", e),
            }
        }

        #[test]
        fn dearer_tiers_and_fewer_players_never_cost_less(
            players in 3u32..=50, sessions in 1u32..=24, minutes in 30u32..=1440, a in tier_strategy(), b in tier_strategy()
        ) {
            let book = PriceBook::standard();
            let (cheap, dear) = if tier_unit_cost(&book, a) <= tier_unit_cost(&book, b) { (a, b) } else { (b, a) };
            if let Ok(c) = quote(&book, req(players, sessions, minutes, cheap)) {
                match quote(&book, req(players, sessions, minutes, dear)) {
                    Ok(d) => prop_assert!(d.price.amount >= c.price.amount),
                    Err(e) => prop_assert!(matches!(e, PricingError::AboveMaximum { .. }), "{}", e),
                }
                match quote(&book, req(players - 1, sessions, minutes, cheap)) {
                    Ok(f) => prop_assert!(f.price.amount >= c.price.amount),
                    Err(e) => prop_assert!(matches!(e, PricingError::AboveMaximum { .. }), "{}", e),
                }
            }
        }
    }
}
