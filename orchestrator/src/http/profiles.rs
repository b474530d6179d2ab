//! Profiles: `/api/v1/me/profile` (mine) and `/api/v1/users/{handle}`
//! (others', as their privacy settings allow), with generated avatars.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AppState, AuthUser};
use crate::accounts::profile::{Profile, ProfilePatch, Visibility, avatar_svg};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/profile", get(my_profile).patch(update_profile))
        .route("/users/{handle}", get(user_profile))
        .route("/users/{handle}/avatar.svg", get(avatar))
}

/// My profile.
#[utoipa::path(get, path = "/api/v1/me/profile", tag = "profiles", security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 401, body = ErrorBody)
))]
pub async fn my_profile(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Profile>, ApiError> {
    let row = state
        .store
        .profile(&user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(Profile::from_row(&row)))
}

/// Change my profile; only the fields given change.
#[utoipa::path(patch, path = "/api/v1/me/profile", tag = "profiles", request_body = ProfilePatch, security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 400, body = ErrorBody, description = "not the JSON this takes"),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "a field is invalid (named)")
))]
pub async fn update_profile(
    State(state): State<AppState>,
    user: AuthUser,
    Json(patch): Json<ProfilePatch>,
) -> Result<axum::Json<Profile>, ApiError> {
    let row = state
        .store
        .profile(&user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut profile = Profile::from_row(&row);
    profile.apply(patch)?;
    state
        .store
        .update_profile(&profile.to_row(&row), state.clock.now())
        .await?;
    Ok(axum::Json(profile))
}

/// Someone's profile as I may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProfile {
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Avatar URL.
    pub avatar_url: String,
    /// player, gm or admin.
    pub role: String,
    /// Whether we are friends.
    pub friend: bool,
    /// The rest, when their privacy setting lets me see it.
    pub details: Option<ProfileDetails>,
}

/// The parts of a profile privacy settings may hide.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDetails {
    /// Bio.
    pub bio: String,
    /// Time zone.
    pub time_zone: String,
    /// Preferred modes.
    pub preferred_modes: Vec<String>,
    /// Preferred tiers.
    pub llm_tiers: Vec<String>,
    /// Member since, Unix ms.
    pub member_since: i64,
}

/// Someone's profile. Blocked users (either way) and deleted accounts are
/// not found; details follow the owner's visibility setting.
#[utoipa::path(get, path = "/api/v1/users/{handle}", tag = "profiles", params(("handle" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = PublicProfile),
    (status = 401, body = ErrorBody),
    (status = 404, body = ErrorBody)
))]
pub async fn user_profile(
    State(state): State<AppState>,
    user: AuthUser,
    Path(handle): Path<String>,
) -> Result<axum::Json<PublicProfile>, ApiError> {
    let row = state
        .store
        .profile_by_handle(&handle)
        .await?
        .filter(|p| p.standing != "deleted")
        .ok_or(ApiError::NotFound)?;
    let me = row.account_id == user.id;
    if !me
        && state
            .store
            .blocked_between(&user.id, &row.account_id)
            .await?
    {
        return Err(ApiError::NotFound);
    }
    let friend = !me && state.store.are_friends(&user.id, &row.account_id).await?;
    let profile = Profile::from_row(&row);
    let visible = me
        || match profile.visibility {
            Visibility::Public => true,
            Visibility::Friends => friend,
            Visibility::Private => false,
        };
    Ok(axum::Json(PublicProfile {
        avatar_url: format!("/api/v1/users/{}/avatar.svg", row.handle),
        handle: row.handle.clone(),
        display_name: row.display_name.clone(),
        role: row.role.clone(),
        friend,
        details: visible.then_some(ProfileDetails {
            bio: profile.bio,
            time_zone: profile.time_zone,
            preferred_modes: profile.preferred_modes,
            llm_tiers: profile.llm_tiers,
            member_since: row.created_at,
        }),
    }))
}

/// A user's generated avatar (SVG, the same every time).
#[utoipa::path(get, path = "/api/v1/users/{handle}/avatar.svg", tag = "profiles", params(("handle" = String, Path)), responses(
    (status = 200, description = "the avatar", content_type = "image/svg+xml"),
    (status = 404, body = ErrorBody)
))]
pub async fn avatar(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let row = state
        .store
        .profile_by_handle(&handle)
        .await?
        .filter(|p| p.standing != "deleted")
        .ok_or(ApiError::NotFound)?;
    let seed = if row.avatar_seed.is_empty() {
        row.account_id
    } else {
        row.avatar_seed
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            // An SVG opened directly runs no script and loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        avatar_svg(&seed),
    ))
}
