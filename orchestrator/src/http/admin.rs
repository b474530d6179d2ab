//! Admin work: `/api/v1/admin/...`, for admins signed in with their second
//! factor. Every action here lands in the audit log.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::json::{Json, Query, cursor};
use super::{AdminUser, AppState};
use crate::accounts::Role;
use crate::price_books::InForce;
use crate::pricing::PriceBook;
use crate::safety::{self, Decision, Report};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/reports", get(queue))
        .route("/admin/reports/{id}/resolve", post(resolve))
        .route("/admin/accounts/{id}", get(account))
        .route("/admin/accounts/{id}/actions", post(act))
        .route("/admin/accounts/{id}/role", put(set_role))
        .route("/admin/audit", get(audit_log))
        .route(
            "/admin/price-book",
            get(price_book).put(set_price_book).delete(reset_price_book),
        )
}

/// Queue filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QueueQuery {
    /// open (default) or resolved.
    pub status: Option<String>,
}

/// The report queue, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "admin", params(QueueQuery), security(("bearer" = [])), responses(
    (status = 200, body = [Report]),
    (status = 403, body = ErrorBody, description = "not an admin with a second factor")
))]
pub async fn queue(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(q): Query<QueueQuery>,
) -> Result<axum::Json<Vec<Report>>, ApiError> {
    let status = q.status.unwrap_or_else(|| "open".into());
    if status != "open" && status != "resolved" {
        return Err(ApiError::Invalid {
            field: "status".into(),
            message: "must be open or resolved".into(),
        });
    }
    let list = state.store.reports_with_status(&status, 200).await?;
    Ok(axum::Json(list.into_iter().map(Report::from).collect()))
}

/// Resolve a report: none, warn, suspend (with days) or ban. The reporter
/// sees the note.
#[utoipa::path(post, path = "/api/v1/admin/reports/{id}/resolve", tag = "admin", params(("id" = String, Path)), request_body = Decision, security(("bearer" = [])), responses(
    (status = 200, body = Report),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "already resolved"),
    (status = 422, body = ErrorBody)
))]
pub async fn resolve(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Result<axum::Json<Report>, ApiError> {
    Ok(axum::Json(
        safety::resolve_report(&state.store, &admin.id, &id, d, state.clock.now()).await?,
    ))
}

/// An account as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccount {
    /// Id.
    pub id: String,
    /// Handle.
    pub handle: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: String,
    /// active, suspended, banned or deleted.
    pub standing: String,
    /// End of a suspension, Unix ms.
    pub suspended_until: Option<i64>,
    /// Sanctions, newest first: (action, reason, until, at).
    pub sanctions: Vec<Sanction>,
}

/// A sanction on record.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sanction {
    /// warn, suspend, ban or lift.
    pub action: String,
    /// Why.
    pub reason: String,
    /// Until, Unix ms.
    pub until: Option<i64>,
    /// When, Unix ms.
    pub at: i64,
}

/// An account with its sanctions.
#[utoipa::path(get, path = "/api/v1/admin/accounts/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = AdminAccount),
    (status = 404, body = ErrorBody)
))]
pub async fn account(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminAccount>, ApiError> {
    let a = state
        .store
        .account_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let sanctions = state
        .store
        .sanctions_of(&id)
        .await?
        .into_iter()
        .map(|s| Sanction {
            action: s.action,
            reason: s.reason,
            until: s.until_at,
            at: s.created_at,
        })
        .collect();
    Ok(axum::Json(AdminAccount {
        id: a.id,
        handle: a.handle,
        email: a.email,
        role: a.role,
        standing: a.standing,
        suspended_until: a.suspended_until,
        sanctions,
    }))
}

/// Warn, suspend, ban or lift, outside a report.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/actions", tag = "admin", params(("id" = String, Path)), request_body = Decision, security(("bearer" = [])), responses(
    (status = 204, description = "done"),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)
))]
pub async fn act(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> Result<StatusCode, ApiError> {
    safety::act_on_account(&state.store, &admin.id, &id, d, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// player, gm or admin.
    pub role: Role,
}

/// Change an account's role.
#[utoipa::path(put, path = "/api/v1/admin/accounts/{id}/role", tag = "admin", params(("id" = String, Path)), request_body = RoleChange, security(("bearer" = [])), responses(
    (status = 204, description = "changed"),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)
))]
pub async fn set_role(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    Json(req): Json<RoleChange>,
) -> Result<StatusCode, ApiError> {
    if id == admin.id {
        return Err(ApiError::Forbidden(
            "admins cannot change their own role".into(),
        ));
    }
    let now = state.clock.now();
    if !state.store.set_role(&id, req.role.as_str(), now).await? {
        return Err(ApiError::NotFound);
    }
    safety::audit(
        &state.store,
        Some(&admin.id),
        "account.role",
        "account",
        &id,
        serde_json::json!({"role": req.role.as_str()}),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit-log paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// Entries per page, 1-200 (default 50).
    pub limit: Option<i64>,
}

/// An audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Id.
    pub id: String,
    /// Who acted.
    pub actor_id: Option<String>,
    /// What was done.
    pub action: String,
    /// The kind of thing acted on.
    pub subject_kind: String,
    /// Its id.
    pub subject_id: String,
    /// Details.
    pub details: serde_json::Value,
    /// When, Unix ms.
    pub created_at: i64,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Cursor for the next page, if there may be one.
    pub next: Option<String>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery), security(("bearer" = [])), responses(
    (status = 200, body = AuditPage),
    (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "bad cursor or limit")
))]
pub async fn audit_log(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::Invalid {
            field: "limit".into(),
            message: "must be 1 to 200".into(),
        });
    }
    let before = cursor::parse(q.cursor.as_deref())?;
    let rows = state.store.audit_page(before, limit).await?;
    let next = cursor::next(&rows, limit, |r| (r.created_at, r.id.as_str()));
    Ok(axum::Json(AuditPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
                id: r.id,
                actor_id: r.actor_id,
                action: r.action,
                subject_kind: r.subject_kind,
                subject_id: r.subject_id,
                created_at: r.created_at,
            })
            .collect(),
        next,
    }))
}

/// The price book in force and where it comes from.
#[utoipa::path(get, path = "/api/v1/admin/price-book", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, body = InForce),
    (status = 403, body = ErrorBody)
))]
pub async fn price_book(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<axum::Json<InForce>, ApiError> {
    Ok(axum::Json(state.prices.current(&state.store).await?))
}

/// Put a new price book in force (a new version; every field checked).
/// New quotes use it; seats keep the quote they were sold at.
#[utoipa::path(put, path = "/api/v1/admin/price-book", tag = "admin", request_body(content = Object, description = "a price book: version, currency, compute_minor_per_hour, overhead_minutes_per_session, tiers, payment_fee_bps, payment_fee_fixed_minor, target_margin_bps, min_seat_minor, max_seat_minor, rounding"), security(("bearer" = [])), responses(
    (status = 200, body = InForce),
    (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "the version exists"),
    (status = 422, body = ErrorBody, description = "a field is invalid (named)")
))]
pub async fn set_price_book(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Json(book): Json<PriceBook>,
) -> Result<axum::Json<InForce>, ApiError> {
    let now = state.clock.now();
    Ok(axum::Json(
        state.prices.set(&state.store, &admin.id, book, now).await?,
    ))
}

/// Return to the configured price book.
#[utoipa::path(delete, path = "/api/v1/admin/price-book", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, body = InForce),
    (status = 403, body = ErrorBody)
))]
pub async fn reset_price_book(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<axum::Json<InForce>, ApiError> {
    let now = state.clock.now();
    Ok(axum::Json(
        state.prices.reset(&state.store, &admin.id, now).await?,
    ))
}
