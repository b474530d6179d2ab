//! Friends and blocks: `/api/v1/me/friends`, `/api/v1/me/blocks`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser};
use crate::social::{self, FriendLists, Friendship, Person};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/friends", get(list).post(request))
        .route("/me/friends/{id}", delete(remove))
        .route("/me/friends/{id}/accept", post(accept))
        .route("/me/blocks", get(blocks).post(block))
        .route("/me/blocks/{account_id}", delete(unblock))
}

/// Someone, by handle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandleRequest {
    /// Their handle.
    pub handle: String,
}

/// My friends and pending requests.
#[utoipa::path(get, path = "/api/v1/me/friends", tag = "social", security(("bearer" = [])), responses(
    (status = 200, body = FriendLists),
    (status = 401, body = ErrorBody)
))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<FriendLists>, ApiError> {
    Ok(axum::Json(
        social::friend_lists(&state.store, &user.id).await?,
    ))
}

/// Send a friend request (asking someone who asked me accepts theirs).
#[utoipa::path(post, path = "/api/v1/me/friends", tag = "social", request_body = HandleRequest, security(("bearer" = [])), responses(
    (status = 201, body = Friendship),
    (status = 403, body = ErrorBody, description = "blocked, or they take no requests"),
    (status = 409, body = ErrorBody, description = "already friends or asked"),
    (status = 422, body = ErrorBody, description = "no such user")
))]
pub async fn request(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<HandleRequest>,
) -> Result<(StatusCode, axum::Json<Friendship>), ApiError> {
    let f = social::request_friend(&state.store, &user.id, &req.handle, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(f)))
}

/// Accept a friend request sent to me.
#[utoipa::path(post, path = "/api/v1/me/friends/{id}/accept", tag = "social", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "friends now"),
    (status = 403, body = ErrorBody, description = "blocked"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "not a pending request to me")
))]
pub async fn accept(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::accept_friend(&state.store, &user.id, &id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Decline a request to me, cancel mine, or end a friendship.
#[utoipa::path(delete, path = "/api/v1/me/friends/{id}", tag = "social", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "gone"),
    (status = 404, body = ErrorBody)
))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::remove_friendship(&state.store, &user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A blocked person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Blocked {
    /// Account id (unblock by it).
    pub id: String,
    /// Handle.
    pub handle: String,
    /// Since, Unix ms.
    pub since: i64,
}

/// People I block.
#[utoipa::path(get, path = "/api/v1/me/blocks", tag = "social", security(("bearer" = [])), responses(
    (status = 200, body = [Blocked]),
    (status = 401, body = ErrorBody)
))]
pub async fn blocks(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Vec<Blocked>>, ApiError> {
    let list = state.store.blocks_of(&user.id).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|(id, handle, since)| Blocked { id, handle, since })
            .collect(),
    ))
}

/// Block someone: no friendship, requests, parties or shared campaigns.
#[utoipa::path(post, path = "/api/v1/me/blocks", tag = "social", request_body = HandleRequest, security(("bearer" = [])), responses(
    (status = 201, body = Person),
    (status = 422, body = ErrorBody, description = "no such user, or yourself")
))]
pub async fn block(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<HandleRequest>,
) -> Result<(StatusCode, axum::Json<Person>), ApiError> {
    let p = social::block(&state.store, &user.id, &req.handle, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// Lift a block.
#[utoipa::path(delete, path = "/api/v1/me/blocks/{account_id}", tag = "social", params(("account_id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "lifted"),
    (status = 404, body = ErrorBody)
))]
pub async fn unblock(
    State(state): State<AppState>,
    user: AuthUser,
    Path(account_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    social::unblock(&state.store, &user.id, &account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
