//! API keys: `/api/v1/me/api-keys`. Managed only from a signed-in session.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, SessionUser};
use crate::accounts::api_keys::{self, ApiKey, CreatedApiKey, NewApiKey};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/api-keys", get(list).post(create))
        .route("/me/api-keys/{id}", delete(revoke))
}

/// My API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "api-keys", security(("bearer" = [])), responses(
    (status = 200, body = [ApiKey]),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "called with an API key")
))]
pub async fn list(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
) -> Result<axum::Json<Vec<ApiKey>>, ApiError> {
    let keys = state.store.api_keys(&user.id).await?;
    Ok(axum::Json(keys.into_iter().map(ApiKey::from).collect()))
}

/// Make a key. Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/api-keys", tag = "api-keys", request_body = NewApiKey, security(("bearer" = [])), responses(
    (status = 201, body = CreatedApiKey),
    (status = 401, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "too many live keys"),
    (status = 422, body = ErrorBody)
))]
pub async fn create(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
    Json(req): Json<NewApiKey>,
) -> Result<(StatusCode, axum::Json<CreatedApiKey>), ApiError> {
    let key = api_keys::create(&state.store, &user.id, req, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(key)))
}

/// Revoke one of my keys.
#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", tag = "api-keys", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "revoked"),
    (status = 401, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "no such live key of mine")
))]
pub async fn revoke(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .revoke_api_key(&user.id, &id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
