//! Pricing: `/api/v1/pricing/quote`, what a seat of a campaign of a given
//! shape would cost under the price book in force, with its breakdown.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::json::Query;
use super::{AppState, AuthUser};
use crate::accounts::AccountError;
use crate::pricing::{self, LlmTier, Quote, QuoteRequest};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/pricing/quote", get(quote))
}

/// A campaign's shape.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QuoteQuery {
    /// Maximum players, 2-50 (they share the server's cost).
    pub players: u32,
    /// Number of sessions, 1-200.
    pub sessions: u32,
    /// Minutes per session, 30-1440.
    pub session_minutes: u32,
    /// ollama, gemini, grok, anthropic or openai.
    pub tier: String,
}

/// Quote a seat: the price, its breakdown (compute, narration, payment
/// fees, margin) and the price-book version.
#[utoipa::path(get, path = "/api/v1/pricing/quote", tag = "campaigns", params(QuoteQuery), security(("bearer" = [])), responses(
    (status = 200, body = Object, description = "the quote"),
    (status = 422, body = ErrorBody, description = "a parameter is out of range (named), or the seat would cost more than the book allows")
))]
pub async fn quote(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(q): Query<QuoteQuery>,
) -> Result<axum::Json<Quote>, ApiError> {
    let tier: LlmTier = q.tier.parse().map_err(|_| ApiError::Invalid {
        field: "tier".into(),
        message: "must be one of ollama, gemini, grok, anthropic, openai".into(),
    })?;
    let book = state.prices.current(&state.store).await?.book;
    let request = QuoteRequest {
        players: q.players,
        sessions: q.sessions,
        session_minutes: q.session_minutes,
        tier,
    };
    let quote = pricing::quote(&book, request).map_err(AccountError::from)?;
    Ok(axum::Json(quote))
}
