//! Accounts and sessions: `/api/v1/accounts`, `/api/v1/sessions`, `/api/v1/me`
//! (the account itself, its password, second factor, data export and
//! deletion).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser, SessionUser};
use crate::accounts::{Accounts, Role, SessionTokens, SignUp, TotpEnrolment};
use crate::store::accounts::AccountRow;

/// Routes that need a token or touch no credentials.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me).delete(delete_account))
        .route("/me/export", get(export))
        .route("/me/password", post(change_password))
        .route("/me/totp", post(enrol_totp))
        .route("/me/totp/confirm", post(confirm_totp))
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
        .route("/accounts/password-reset", post(request_password_reset))
        .route(
            "/accounts/password-reset/confirm",
            post(confirm_password_reset),
        )
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
    /// The code from the authenticator app, for accounts with a second
    /// factor.
    #[serde(default)]
    pub totp: Option<String>,
}

/// Log in. Unknown logins and wrong passwords get the same answer.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = LogIn, responses(
    (status = 200, body = SessionTokens),
    (status = 401, body = ErrorBody, description = "wrong login or password, or a TOTP code is needed"),
    (status = 403, body = ErrorBody, description = "suspended or banned"),
    (status = 422, body = ErrorBody, description = "wrong TOTP code"),
    (status = 429, description = "too many attempts")
))]
pub async fn log_in(
    State(state): State<AppState>,
    Json(req): Json<LogIn>,
) -> Result<axum::Json<SessionTokens>, ApiError> {
    Ok(axum::Json(
        accounts(&state)
            .log_in(&req.login, &req.password, req.totp.as_deref())
            .await?,
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

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    /// The current password.
    pub current_password: String,
    /// The new one (10-128 characters).
    pub new_password: String,
}

/// Change my password. Every other session ends; this one stays.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts", request_body = ChangePassword, security(("bearer" = [])), responses(
    (status = 204, description = "changed"),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "API keys cannot change passwords"),
    (status = 422, body = ErrorBody, description = "wrong current password or a weak new one")
))]
pub async fn change_password(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
    Json(req): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    accounts(&state)
        .change_password(
            &user.id,
            user.session.as_deref(),
            &req.current_password,
            &req.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password-reset request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The account's email.
    pub email: String,
}

/// Ask for a password-reset code by mail. The answer is the same whether or
/// not the address has an account.
#[utoipa::path(post, path = "/api/v1/accounts/password-reset", tag = "accounts", request_body = ResetRequest, responses(
    (status = 202, description = "if the address has an account, a code is on its way"),
    (status = 422, body = ErrorBody, description = "not an email address"),
    (status = 429, description = "too many attempts")
))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Json(req): Json<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    accounts(&state).request_password_reset(&req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password with a reset code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirm {
    /// The mailed code.
    pub token: String,
    /// The new password (10-128 characters).
    pub new_password: String,
}

/// Set a new password with a mailed code. Every session ends.
#[utoipa::path(post, path = "/api/v1/accounts/password-reset/confirm", tag = "accounts", request_body = ResetConfirm, responses(
    (status = 204, description = "password set"),
    (status = 401, body = ErrorBody, description = "unknown, used or expired code"),
    (status = 422, body = ErrorBody, description = "a weak password"),
    (status = 429, description = "too many attempts")
))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(req): Json<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    accounts(&state)
        .confirm_password_reset(&req.token, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start setting up a TOTP second factor (required for admin calls).
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, body = TotpEnrolment),
    (status = 401, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already set up")
))]
pub async fn enrol_totp(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
) -> Result<axum::Json<TotpEnrolment>, ApiError> {
    Ok(axum::Json(accounts(&state).enrol_totp(&user.id).await?))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCode {
    /// Six digits.
    pub code: String,
}

/// Confirm the second factor with a code from the app; from then on log-in
/// asks for a code.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "accounts", request_body = TotpCode, security(("bearer" = [])), responses(
    (status = 204, description = "second factor active"),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "wrong or reused code")
))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
    Json(req): Json<TotpCode>,
) -> Result<StatusCode, ApiError> {
    accounts(&state).confirm_totp(&user.id, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything stored about me, as JSON (GDPR access and portability).
#[utoipa::path(get, path = "/api/v1/me/export", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, description = "all my data", content_type = "application/json"),
    (status = 401, body = ErrorBody)
))]
pub async fn export(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
) -> Result<impl IntoResponse, ApiError> {
    let data = crate::accounts::export::export(&state.store, &user.id, state.clock.now()).await?;
    Ok((
        [(
            axum::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"startales-export.json\"",
        )],
        axum::Json(data),
    ))
}

/// Confirmation of an account deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccount {
    /// The account's password.
    pub password: String,
}

/// Delete my account: personal data is erased at once; payment records
/// stay as the law requires, tied to an anonymous id.
#[utoipa::path(delete, path = "/api/v1/me", tag = "accounts", request_body = DeleteAccount, security(("bearer" = [])), responses(
    (status = 204, description = "deleted"),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "wrong password")
))]
pub async fn delete_account(
    State(state): State<AppState>,
    SessionUser(user): SessionUser,
    Json(req): Json<DeleteAccount>,
) -> Result<StatusCode, ApiError> {
    accounts(&state)
        .delete_account(&user.id, &req.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
