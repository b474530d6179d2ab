//! Parties: `/api/v1/parties`. The leader invites friends; members accept,
//! leave; the leader disbands. The campaigns API lets the leader join for
//! the whole party.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::friends::HandleRequest;
use super::json::Json;
use super::{AppState, AuthUser};
use crate::social::{self, Party};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/parties", post(create))
        .route("/parties/mine", get(mine))
        .route("/parties/{id}", axum::routing::delete(disband))
        .route("/parties/{id}/invites", post(invite))
        .route("/parties/{id}/accept", post(accept))
        .route("/parties/{id}/decline", post(decline))
        .route("/parties/{id}/leave", post(leave))
}

/// My party and my invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyParties {
    /// The party I am in.
    pub party: Option<Party>,
    /// Parties inviting me.
    pub invitations: Vec<Party>,
}

/// Start a party with me as leader.
#[utoipa::path(post, path = "/api/v1/parties", tag = "parties", security(("bearer" = [])), responses(
    (status = 201, body = Party),
    (status = 409, body = ErrorBody, description = "already in a party")
))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, axum::Json<Party>), ApiError> {
    let p = social::create_party(&state.store, &user.id, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// My party and invitations.
#[utoipa::path(get, path = "/api/v1/parties/mine", tag = "parties", security(("bearer" = [])), responses(
    (status = 200, body = MyParties)
))]
pub async fn mine(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<MyParties>, ApiError> {
    let party = match state.store.party_of(&user.id).await? {
        Some(p) => Some(social::party_view(&state.store, &p).await?),
        None => None,
    };
    let mut invitations = Vec::new();
    for p in state.store.party_invites_of(&user.id).await? {
        invitations.push(social::party_view(&state.store, &p).await?);
    }
    Ok(axum::Json(MyParties { party, invitations }))
}

/// Invite a friend (leader only).
#[utoipa::path(post, path = "/api/v1/parties/{id}/invites", tag = "parties", params(("id" = String, Path)), request_body = HandleRequest, security(("bearer" = [])), responses(
    (status = 201, body = Party),
    (status = 403, body = ErrorBody, description = "not the leader, not a friend, or blocked"),
    (status = 404, body = ErrorBody, description = "not my party"),
    (status = 409, body = ErrorBody, description = "already invited, or the party is full")
))]
pub async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<HandleRequest>,
) -> Result<(StatusCode, axum::Json<Party>), ApiError> {
    let p = social::invite(&state.store, &user.id, &id, &req.handle, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// Accept an invitation.
#[utoipa::path(post, path = "/api/v1/parties/{id}/accept", tag = "parties", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Party),
    (status = 403, body = ErrorBody, description = "blocked by a member"),
    (status = 404, body = ErrorBody, description = "no invitation"),
    (status = 409, body = ErrorBody, description = "already in a party")
))]
pub async fn accept(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Party>, ApiError> {
    Ok(axum::Json(
        social::accept_invite(&state.store, &user.id, &id, state.clock.now()).await?,
    ))
}

/// Decline an invitation.
#[utoipa::path(post, path = "/api/v1/parties/{id}/decline", tag = "parties", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "declined"),
    (status = 404, body = ErrorBody, description = "no invitation")
))]
pub async fn decline(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::decline_invite(&state.store, &user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave my party (a leaving leader hands over; the last one out disbands).
#[utoipa::path(post, path = "/api/v1/parties/{id}/leave", tag = "parties", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "left"),
    (status = 404, body = ErrorBody, description = "not my party")
))]
pub async fn leave(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::leave(&state.store, &user.id, &id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disband my party (leader only).
#[utoipa::path(delete, path = "/api/v1/parties/{id}", tag = "parties", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "disbanded"),
    (status = 403, body = ErrorBody, description = "not the leader"),
    (status = 404, body = ErrorBody, description = "not my party")
))]
pub async fn disband(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::disband(&state.store, &user.id, &id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
