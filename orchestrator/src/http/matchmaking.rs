//! Quick join: `/api/v1/matchmaking/tickets`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser};
use crate::matchmaking::tickets::{self, NewTicket, TicketView};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/matchmaking/tickets", post(open))
        .route(
            "/matchmaking/tickets/{id}",
            axum::routing::get(show).delete(cancel),
        )
}

/// Quick join: a ticket with my preferences is matched to the best open
/// campaign and I (or my party) take seats there at once; otherwise it
/// waits and is matched when campaigns are published or seats free up.
/// The score comes explained.
#[utoipa::path(post, path = "/api/v1/matchmaking/tickets", tag = "matchmaking", request_body = NewTicket, security(("bearer" = [])), responses(
    (status = 201, body = TicketView, description = "matched and seated"),
    (status = 202, body = TicketView, description = "waiting"),
    (status = 403, body = ErrorBody, description = "not the party's leader"),
    (status = 409, body = ErrorBody, description = "a ticket is already waiting"),
    (status = 422, body = ErrorBody, description = "a preference is invalid (named)")
))]
pub async fn open(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<NewTicket>,
) -> Result<(StatusCode, axum::Json<TicketView>), ApiError> {
    let t = tickets::open(
        &state.store,
        state.payments.as_ref(),
        &user.id,
        req,
        state.clock.now(),
    )
    .await?;
    let status = if t.status == "matched" {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(t)))
}

/// My ticket: waiting, or matched with the campaign and the score explained.
#[utoipa::path(get, path = "/api/v1/matchmaking/tickets/{id}", tag = "matchmaking", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = TicketView),
    (status = 404, body = ErrorBody)
))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<TicketView>, ApiError> {
    Ok(axum::Json(
        tickets::view(&state.store, &user.id, &id).await?,
    ))
}

/// Cancel my waiting ticket.
#[utoipa::path(delete, path = "/api/v1/matchmaking/tickets/{id}", tag = "matchmaking", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "cancelled"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already matched or cancelled")
))]
pub async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    tickets::cancel(&state.store, &user.id, &id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
