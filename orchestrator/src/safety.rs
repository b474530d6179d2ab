//! Safety: reports of users (and, later, of campaign content), the admin
//! queue, sanctions (warn, suspend for a period, ban, lift), and the audit
//! log of every admin action and every money-related change.
//!
//! A reporter sees the outcome of their reports; a suspended or banned
//! account cannot log in, refresh, or call the API (see
//! [`crate::accounts::check_standing`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{AccountError, invalid, new_id};
use crate::store::Store;
use crate::store::StoreError;
use crate::store::safety::{AuditRow, ReportRow, SanctionRow};

/// Why a user is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    /// Harassment or hate.
    Harassment,
    /// Cheating or exploiting.
    Cheating,
    /// Spam or scams.
    Spam,
    /// Offensive name, bio or content.
    OffensiveContent,
    /// Anything else (explain in details).
    Other,
}

impl ReportReason {
    fn as_str(self) -> &'static str {
        match self {
            ReportReason::Harassment => "harassment",
            ReportReason::Cheating => "cheating",
            ReportReason::Spam => "spam",
            ReportReason::OffensiveContent => "offensive_content",
            ReportReason::Other => "other",
        }
    }
}

/// A new report about a user.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The reported user's handle.
    pub handle: String,
    /// Why.
    pub reason: ReportReason,
    /// What happened, up to 2000 characters.
    #[serde(default)]
    pub details: String,
}

/// What an admin decides about a report or an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// No action.
    None,
    /// A warning on the record.
    Warn,
    /// No log-in or play for `days` days.
    Suspend,
    /// No log-in or play, for good.
    Ban,
    /// Lift a suspension or ban.
    Lift,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Warn => "warn",
            Action::Suspend => "suspend",
            Action::Ban => "ban",
            Action::Lift => "lift",
        }
    }
}

/// An admin's decision.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// For suspensions: 1-365 days.
    #[serde(default)]
    pub days: Option<u32>,
    /// The reason, recorded and (for reports) shown to the reporter, 1-500
    /// characters.
    pub note: String,
}

/// A report as its reporter or an admin sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// Id.
    pub id: String,
    /// user or campaign.
    pub subject_kind: String,
    /// The reported account (or campaign) id.
    pub subject_id: String,
    /// Reason.
    pub reason: String,
    /// Details.
    pub details: String,
    /// open or resolved.
    pub status: String,
    /// The action taken, once resolved.
    pub action: Option<String>,
    /// The outcome note, once resolved.
    pub outcome: Option<String>,
    /// Filed, Unix ms.
    pub created_at: i64,
    /// Resolved, Unix ms.
    pub resolved_at: Option<i64>,
}

impl From<ReportRow> for Report {
    fn from(r: ReportRow) -> Self {
        Report {
            id: r.id,
            subject_kind: r.subject_kind,
            subject_id: r.subject_id,
            reason: r.reason,
            details: r.details,
            status: r.status,
            action: r.action,
            outcome: r.outcome,
            created_at: r.created_at,
            resolved_at: r.resolved_at,
        }
    }
}

/// Appends an audit entry.
pub async fn audit(
    store: &Store,
    actor: Option<&str>,
    action: &str,
    subject_kind: &str,
    subject_id: &str,
    details: serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    audit_once(
        store,
        &new_id(),
        actor,
        action,
        (subject_kind, subject_id),
        details,
        now,
    )
    .await
}

/// Appends to the audit log under `key` (made from what the entry is
/// about, e.g. `order.paid:<order>`), once: processing that may be retried
/// (webhooks, refunds) writes its entries every time and the log keeps the
/// first. `subject` is the kind and id of what was acted on.
pub async fn audit_once(
    store: &Store,
    key: &str,
    actor: Option<&str>,
    action: &str,
    subject: (&str, &str),
    details: serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    store
        .audit(&AuditRow {
            id: key.to_string(),
            actor_id: actor.map(str::to_string),
            action: action.to_string(),
            subject_kind: subject.0.to_string(),
            subject_id: subject.1.to_string(),
            details: details.to_string(),
            created_at: now,
        })
        .await
}

/// Files a report about a user.
pub async fn report_user(
    store: &Store,
    reporter: &str,
    req: NewReport,
    now: i64,
) -> Result<Report, AccountError> {
    let details = req.details.trim().to_string();
    if details.chars().count() > 2000 {
        return Err(invalid("details", "must be at most 2000 characters"));
    }
    if req.reason == ReportReason::Other && details.is_empty() {
        return Err(invalid(
            "details",
            "say what happened when the reason is other",
        ));
    }
    let subject = store
        .account_by_handle(&req.handle)
        .await?
        .filter(|a| a.standing != "deleted")
        .ok_or_else(|| invalid("handle", "no such user"))?;
    if subject.id == reporter {
        return Err(invalid("handle", "you cannot report yourself"));
    }
    if store
        .open_report_exists(reporter, "user", &subject.id)
        .await?
    {
        return Err(AccountError::Conflict(
            "you already have an open report about this user".into(),
        ));
    }
    let row = ReportRow {
        id: new_id(),
        reporter_id: Some(reporter.to_string()),
        subject_kind: "user".into(),
        subject_id: subject.id,
        reason: req.reason.as_str().into(),
        details,
        status: "open".into(),
        action: None,
        outcome: None,
        created_at: now,
        resolved_at: None,
        resolved_by: None,
    };
    store.insert_report(&row).await?;
    Ok(row.into())
}

fn check_decision(d: &Decision) -> Result<Option<i64>, AccountError> {
    let note = d.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(invalid("note", "must be 1 to 500 characters"));
    }
    match (d.action, d.days) {
        (Action::Suspend, Some(days)) if (1..=365).contains(&days) => {
            Ok(Some(i64::from(days) * 86_400_000))
        }
        (Action::Suspend, _) => Err(invalid("days", "a suspension lasts 1 to 365 days")),
        (_, Some(_)) => Err(invalid("days", "only suspensions take days")),
        _ => Ok(None),
    }
}

/// Applies a sanction to an account (and records it, and audits it).
async fn sanction(
    store: &Store,
    admin: &str,
    account_id: &str,
    d: &Decision,
    span: Option<i64>,
    report_id: Option<&str>,
    now: i64,
) -> Result<(), AccountError> {
    let until = span.map(|ms| now + ms);
    let changed = match d.action {
        Action::None => true,
        Action::Warn => true,
        Action::Suspend => {
            store
                .set_standing(account_id, "suspended", until, now)
                .await?
        }
        Action::Ban => store.set_standing(account_id, "banned", None, now).await?,
        Action::Lift => store.set_standing(account_id, "active", None, now).await?,
    };
    if !changed {
        return Err(AccountError::NotFound);
    }
    if matches!(d.action, Action::Suspend | Action::Ban) {
        store.revoke_account_sessions(account_id, None, now).await?;
    }
    if d.action != Action::None {
        store
            .insert_sanction(&SanctionRow {
                id: new_id(),
                account_id: account_id.to_string(),
                action: d.action.as_str().into(),
                reason: d.note.trim().to_string(),
                until_at: until,
                admin_id: admin.to_string(),
                report_id: report_id.map(str::to_string),
                created_at: now,
            })
            .await?;
    }
    audit(
        store,
        Some(admin),
        &format!("account.{}", d.action.as_str()),
        "account",
        account_id,
        serde_json::json!({"note": d.note.trim(), "until": until, "report": report_id}),
        now,
    )
    .await?;
    Ok(())
}

/// Resolves an open report with a decision; the reporter sees the outcome.
pub async fn resolve_report(
    store: &Store,
    admin: &str,
    report_id: &str,
    d: Decision,
    now: i64,
) -> Result<Report, AccountError> {
    let span = check_decision(&d)?;
    if d.action == Action::Lift {
        return Err(invalid(
            "action",
            "a report resolves with none, warn, suspend or ban",
        ));
    }
    let report = store
        .report(report_id)
        .await?
        .ok_or(AccountError::NotFound)?;
    if report.status != "open" {
        return Err(AccountError::Conflict(
            "the report is already resolved".into(),
        ));
    }
    if !store
        .resolve_report(report_id, d.action.as_str(), d.note.trim(), admin, now)
        .await?
    {
        return Err(AccountError::Conflict(
            "the report is already resolved".into(),
        ));
    }
    if report.subject_kind == "user" {
        sanction(
            store,
            admin,
            &report.subject_id,
            &d,
            span,
            Some(report_id),
            now,
        )
        .await?;
    }
    audit(
        store,
        Some(admin),
        "report.resolve",
        "report",
        report_id,
        serde_json::json!({"action": d.action.as_str()}),
        now,
    )
    .await?;
    store
        .report(report_id)
        .await?
        .map(Report::from)
        .ok_or(AccountError::NotFound)
}

/// Acts on an account directly (not from a report).
pub async fn act_on_account(
    store: &Store,
    admin: &str,
    account_id: &str,
    d: Decision,
    now: i64,
) -> Result<(), AccountError> {
    let span = check_decision(&d)?;
    if d.action == Action::None {
        return Err(invalid("action", "choose warn, suspend, ban or lift"));
    }
    if account_id == admin {
        return Err(AccountError::Forbidden(
            "admins cannot sanction themselves".into(),
        ));
    }
    sanction(store, admin, account_id, &d, span, None, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(action: Action, days: Option<u32>, note: &str) -> Decision {
        Decision {
            action,
            days,
            note: note.into(),
        }
    }

    #[test]
    fn suspensions_need_1_to_365_days_and_nothing_else_takes_days() {
        assert_eq!(
            check_decision(&d(Action::Suspend, Some(7), "spam")).unwrap(),
            Some(7 * 86_400_000)
        );
        for bad in [
            d(Action::Suspend, None, "x"),
            d(Action::Suspend, Some(0), "x"),
            d(Action::Suspend, Some(366), "x"),
            d(Action::Ban, Some(3), "x"),
            d(Action::Warn, None, "  "),
        ] {
            assert!(check_decision(&bad).is_err(), "{bad:?}");
        }
    }
}
