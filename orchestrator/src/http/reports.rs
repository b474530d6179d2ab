//! Reports of users: `/api/v1/reports` (file one) and `/api/v1/me/reports`
//! (mine, with their outcomes).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser};
use crate::safety::{self, NewReport, Report};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", post(file))
        .route("/me/reports", get(mine))
}

/// Report a user to the moderators.
#[utoipa::path(post, path = "/api/v1/reports", tag = "safety", request_body = NewReport, security(("bearer" = [])), responses(
    (status = 201, body = Report),
    (status = 409, body = ErrorBody, description = "an open report about them exists"),
    (status = 422, body = ErrorBody)
))]
pub async fn file(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<NewReport>,
) -> Result<(StatusCode, axum::Json<Report>), ApiError> {
    let r = safety::report_user(&state.store, &user.id, req, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// Reports I filed and their outcomes.
#[utoipa::path(get, path = "/api/v1/me/reports", tag = "safety", security(("bearer" = [])), responses(
    (status = 200, body = [Report])
))]
pub async fn mine(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Vec<Report>>, ApiError> {
    let list = state.store.reports_by(&user.id).await?;
    Ok(axum::Json(list.into_iter().map(Report::from).collect()))
}
