//! Queries for reports, sanctions and the audit log.

use sqlx::Row;

use super::{Store, StoreError};

/// A report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Id.
    pub id: String,
    /// Who reported (gone once they delete their account).
    pub reporter_id: Option<String>,
    /// user or campaign.
    pub subject_kind: String,
    /// The reported account or campaign id.
    pub subject_id: String,
    /// Reason code.
    pub reason: String,
    /// Free text.
    pub details: String,
    /// open or resolved.
    pub status: String,
    /// none, warn, suspend or ban once resolved.
    pub action: Option<String>,
    /// What the reporter is told.
    pub outcome: Option<String>,
    /// Filed, Unix ms.
    pub created_at: i64,
    /// Resolved, Unix ms.
    pub resolved_at: Option<i64>,
    /// The admin who resolved it.
    pub resolved_by: Option<String>,
}

/// A sanction on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanctionRow {
    /// Id.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// warn, suspend, ban or lift.
    pub action: String,
    /// Why.
    pub reason: String,
    /// End of a suspension, Unix ms.
    pub until_at: Option<i64>,
    /// The admin.
    pub admin_id: String,
    /// The report that led to it.
    pub report_id: Option<String>,
    /// When, Unix ms.
    pub created_at: i64,
}

/// An audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Id.
    pub id: String,
    /// Who acted (an account id; none for the system).
    pub actor_id: Option<String>,
    /// What was done, e.g. `report.resolve`.
    pub action: String,
    /// The kind of thing acted on.
    pub subject_kind: String,
    /// Its id.
    pub subject_id: String,
    /// JSON details.
    pub details: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const REPORT_COLUMNS: &str = "id, reporter_id, subject_kind, subject_id, reason, details, status, \
     action, outcome, created_at, resolved_at, resolved_by";

fn report(r: &sqlx::any::AnyRow) -> Result<ReportRow, sqlx::Error> {
    Ok(ReportRow {
        id: r.try_get("id")?,
        reporter_id: r.try_get("reporter_id")?,
        subject_kind: r.try_get("subject_kind")?,
        subject_id: r.try_get("subject_id")?,
        reason: r.try_get("reason")?,
        details: r.try_get("details")?,
        status: r.try_get("status")?,
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        created_at: r.try_get("created_at")?,
        resolved_at: r.try_get("resolved_at")?,
        resolved_by: r.try_get("resolved_by")?,
    })
}

fn sanction(r: &sqlx::any::AnyRow) -> Result<SanctionRow, sqlx::Error> {
    Ok(SanctionRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        action: r.try_get("action")?,
        reason: r.try_get("reason")?,
        until_at: r.try_get("until_at")?,
        admin_id: r.try_get("admin_id")?,
        report_id: r.try_get("report_id")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Files a report.
    pub async fn insert_report(&self, r: &ReportRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reports (id, reporter_id, subject_kind, subject_id, reason, details, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(&r.id)
        .bind(&r.reporter_id)
        .bind(&r.subject_kind)
        .bind(&r.subject_id)
        .bind(&r.reason)
        .bind(&r.details)
        .bind(r.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A report by id.
    pub async fn report(&self, id: &str) -> Result<Option<ReportRow>, StoreError> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(report).transpose()?)
    }

    /// Reports filed by an account, newest first.
    pub async fn reports_by(&self, reporter: &str) -> Result<Vec<ReportRow>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE reporter_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reporter)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(report).collect::<Result<_, _>>()?)
    }

    /// Whether `reporter` already has an open report about this subject.
    pub async fn open_report_exists(
        &self,
        reporter: &str,
        kind: &str,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM reports WHERE reporter_id = $1 AND subject_kind = $2 \
             AND subject_id = $3 AND status = 'open'",
        )
        .bind(reporter)
        .bind(kind)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Reports with a status, oldest first (the admin queue).
    pub async fn reports_with_status(
        &self,
        status: &str,
        limit: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status = $1 ORDER BY created_at, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(report).collect::<Result<_, _>>()?)
    }

    /// Resolves an open report; false when it was not open (resolved
    /// concurrently, or never existed).
    pub async fn resolve_report(
        &self,
        id: &str,
        action: &str,
        outcome: &str,
        admin: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE reports SET status = 'resolved', action = $2, outcome = $3, resolved_by = $4, \
             resolved_at = $5 WHERE id = $1 AND status = 'open'",
        )
        .bind(id)
        .bind(action)
        .bind(outcome)
        .bind(admin)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a sanction.
    pub async fn insert_sanction(&self, s: &SanctionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sanctions (id, account_id, action, reason, until_at, admin_id, report_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.id)
        .bind(&s.account_id)
        .bind(&s.action)
        .bind(&s.reason)
        .bind(s.until_at)
        .bind(&s.admin_id)
        .bind(&s.report_id)
        .bind(s.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Sanctions on an account, newest first.
    pub async fn sanctions_of(&self, account: &str) -> Result<Vec<SanctionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, action, reason, until_at, admin_id, report_id, created_at \
             FROM sanctions WHERE account_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(sanction).collect::<Result<_, _>>()?)
    }

    /// Appends to the audit log; an entry whose id is there already is
    /// dropped (entries with ids derived from what they are about are
    /// written once however often their processing is retried).
    pub async fn audit(&self, a: &AuditRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, actor_id, action, subject_kind, subject_id, details, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.actor_id)
        .bind(&a.action)
        .bind(&a.subject_kind)
        .bind(&a.subject_id)
        .bind(&a.details)
        .bind(a.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Audit entries older than `before` (Unix ms, exclusive; with the id
    /// as a tie-break), newest first.
    pub async fn audit_page(
        &self,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let rows = sqlx::query(
            "SELECT id, actor_id, action, subject_kind, subject_id, details, created_at FROM audit_log \
             WHERE created_at < $1 OR (created_at = $1 AND id < $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.try_get("id")?,
                    actor_id: r.try_get("actor_id")?,
                    action: r.try_get("action")?,
                    subject_kind: r.try_get("subject_kind")?,
                    subject_id: r.try_get("subject_id")?,
                    details: r.try_get("details")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
