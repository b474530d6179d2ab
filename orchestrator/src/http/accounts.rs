//! Accounts and sessions: `/api/v1/accounts`, `/api/v1/sessions`, `/api/v1/me`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser};
use crate::accounts::{Accounts, Role, SessionTokens, SignUp};
use crate::store::accounts::AccountRow;

/// Routes that need a token or touch no credentials.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/sessions", delete(log_out_everywhere))
}

/// Routes that take credentials, under the strict rate limit.
pub fn auth_routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", post(sign_up))
        .route("/accounts/verify", post(verify_email))
        .route("/sessions", post(log_in))
        .route("/sessions/refresh", post(refresh))
        .route("/sessions/current", delete(log_out))
}

fn accounts(state: &AppState) -> Accounts<'_> {
    Accounts {
        store: &state.store,
        passwords: &state.passwords,
        keys: &state.keys,
        now: state.clock.now(),
    }
}

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether the email is confirmed.
    pub email_verified: bool,
    /// Created, Unix ms.
    pub created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(a: AccountRow) -> Self {
        Account {
            role: Role::from_stored(&a.role),
            id: a.id,
            email: a.email,
            handle: a.handle,
            display_name: a.display_name,
            email_verified: a.email_verified,
            created_at: a.created_at,
        }
    }
}

/// Sign up. A confirmation code is mailed to the address.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUp, responses(
    (status = 201, body = Account),
    (status = 409, body = ErrorBody, description = "email or handle taken"),
    (status = 422, body = ErrorBody, description = "a field is invalid"),
    (status = 429, description = "too many attempts")
))]
pub async fn sign_up(
    State(state): State<AppState>,
    Json(req): Json<SignUp>,
) -> Result<(StatusCode, axum::Json<Account>), ApiError> {
    let row = accounts(&state).sign_up(req).await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// A confirmation code from the sign-up mail.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmail {
    /// The code.
    pub token: String,
}

/// Confirm an email address.
#[utoipa::path(post, path = "/api/v1/accounts/verify", tag = "accounts", request_body = VerifyEmail, responses(
    (status = 204, description = "confirmed"),
    (status = 401, body = ErrorBody, description = "unknown, used or expired code")
))]
pub async fn verify_email(
    State(state): State<AppState>,
    Json(req): Json<VerifyEmail>,
) -> Result<StatusCode, ApiError> {
    accounts(&state).verify_email(&req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log-in credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogIn {
    /// Email or handle.
    pub login: String,
    /// Password.
    pub password: String,
}

/// Log in. Unknown logins and wrong passwords get the same answer.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LogIn, responses(
    (status = 200, body = SessionTokens),
    (status = 401, body = ErrorBody, description = "wrong login or password"),
    (status = 429, description = "too many attempts")
))]
pub async fn log_in(
    State(state): State<AppState>,
    Json(req): Json<LogIn>,
) -> Result<axum::Json<SessionTokens>, ApiError> {
    Ok(axum::Json(
        accounts(&state).log_in(&req.login, &req.password).await?,
    ))
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from log-in or the last refresh.
    pub refresh_token: String,
}

/// Exchange a refresh token for new tokens. Each refresh token works once;
/// reusing one ends that log-in everywhere.
#[utoipa::path(post, path = "/api/v1/sessions/refresh", tag = "sessions", request_body = RefreshRequest, responses(
    (status = 200, body = SessionTokens),
    (status = 401, body = ErrorBody, description = "invalid, expired, revoked or reused token")
))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<axum::Json<SessionTokens>, ApiError> {
    Ok(axum::Json(
        accounts(&state).refresh(&req.refresh_token).await?,
    ))
}

/// Log out of this session (the one the refresh token belongs to).
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions", request_body = RefreshRequest, responses(
    (status = 204, description = "logged out")
))]
pub async fn log_out(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    accounts(&state).log_out(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log out everywhere: every refresh token of the account stops working.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])), responses(
    (status = 204, description = "every session ended"),
    (status = 401, body = ErrorBody)
))]
pub async fn log_out_everywhere(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    accounts(&state).log_out_everywhere(&user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, body = Account),
    (status = 401, body = ErrorBody)
))]
pub async fn me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Account>, ApiError> {
    let row = state
        .store
        .account_by_id(&user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(row.into()))
}
