//! Queries for billing: orders, refunds, charges and disputes as Stripe
//! reports them, customers, subscriptions, and processed webhook events.
//! Every state change is a conditional update or an upsert that only moves
//! forward, so a repeated or reordered event can never count money twice.

use sqlx::Row;

use super::{Store, StoreError};

/// An order: one payment for one or more seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Id.
    pub id: String,
    /// The payer.
    pub account_id: String,
    /// The campaign.
    pub campaign_id: String,
    /// test or stripe.
    pub provider: String,
    /// pending, paid, partially_refunded, refunded, expired, cancelled
    /// or failed.
    pub status: String,
    /// Seats paid for.
    pub seats: i64,
    /// Price per seat, minor units.
    pub unit_minor: i64,
    /// Total, minor units.
    pub amount_minor: i64,
    /// Subscriber discount taken off the total, minor units.
    pub discount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The provider's checkout (a Stripe Checkout Session id).
    pub checkout_id: Option<String>,
    /// Where the payer pays.
    pub checkout_url: Option<String>,
    /// The provider's payment (a Stripe PaymentIntent id).
    pub payment_intent: Option<String>,
    /// When the checkout lapses, Unix ms.
    pub expires_at: Option<i64>,
    /// Made, Unix ms.
    pub created_at: i64,
    /// Paid, Unix ms.
    pub paid_at: Option<i64>,
}

const ORDER_COLUMNS: &str = "o.id, o.account_id, o.campaign_id, o.provider, o.status, o.seats, \
     o.unit_minor, o.amount_minor, o.discount_minor, o.currency, o.checkout_id, o.checkout_url, \
     o.payment_intent, o.expires_at, o.created_at, o.paid_at";

fn order(r: &sqlx::any::AnyRow) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        campaign_id: r.try_get("campaign_id")?,
        provider: r.try_get("provider")?,
        status: r.try_get("status")?,
        seats: r.try_get("seats")?,
        unit_minor: r.try_get("unit_minor")?,
        amount_minor: r.try_get("amount_minor")?,
        discount_minor: r.try_get("discount_minor")?,
        currency: r.try_get("currency")?,
        checkout_id: r.try_get("checkout_id")?,
        checkout_url: r.try_get("checkout_url")?,
        payment_intent: r.try_get("payment_intent")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        paid_at: r.try_get("paid_at")?,
    })
}

/// An order with what happened to its money since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMoney {
    /// The order.
    pub order: OrderRow,
    /// The campaign's title.
    pub campaign_title: String,
    /// Stripe's receipt for the charge, when known.
    pub receipt_url: Option<String>,
    /// Refunded: the larger of our refunds sent and what Stripe reports
    /// refunded on the charge (refunds made in Stripe's dashboard count).
    pub refunded_minor: i64,
    /// Refunds decided but not yet through the provider.
    pub refund_pending_minor: i64,
    /// Refunds that could not be sent and were given up (money still
    /// owed back, for an admin to settle).
    pub refund_failed_minor: i64,
}

/// Money that went back for an order, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundMoment {
    /// The order.
    pub order_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// Our refund's amount, or (from a charge) everything the charge
    /// reports refunded so far, minor units.
    pub amount_minor: i64,
    /// From what Stripe reports on the charge rather than our refund.
    pub from_charge: bool,
}

/// A refund of one seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    /// Id (also the provider's idempotency key).
    pub id: String,
    /// The order paid for the seat.
    pub order_id: Option<String>,
    /// The seat.
    pub seat_id: String,
    /// Whose money it is: the order's payer (a party's leader paid for
    /// every member's seat), or the seat's player without an order.
    pub account_id: String,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// Why.
    pub reason: String,
    /// pending, succeeded or failed.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Made, Unix ms.
    pub created_at: i64,
}

fn refund(r: &sqlx::any::AnyRow) -> Result<RefundRow, sqlx::Error> {
    Ok(RefundRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        seat_id: r.try_get("seat_id")?,
        account_id: r.try_get("account_id")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
    })
}

/// A charge as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRow {
    /// Stripe's charge id.
    pub id: String,
    /// The PaymentIntent it belongs to.
    pub payment_intent: Option<String>,
    /// Charged, minor units.
    pub amount_minor: i64,
    /// Refunded so far, minor units.
    pub amount_refunded: i64,
    /// Currency.
    pub currency: String,
    /// The receipt page.
    pub receipt_url: Option<String>,
}

/// A dispute (chargeback) as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRow {
    /// Stripe's dispute id.
    pub id: String,
    /// The disputed charge.
    pub charge_id: String,
    /// Its PaymentIntent.
    pub payment_intent: Option<String>,
    /// Disputed, minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The card holder's reason.
    pub reason: String,
    /// Stripe's status (needs_response, won, lost, ...).
    pub status: String,
    /// When Stripe made the event this state came from, Unix s.
    pub event_created: i64,
    /// First seen, Unix ms.
    pub created_at: i64,
}

/// A subscription as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// Stripe's subscription id.
    pub id: String,
    /// The subscriber.
    pub account_id: String,
    /// Stripe's customer id.
    pub customer_id: String,
    /// monthly, annual, or the price id of an unknown plan.
    pub plan: String,
    /// Stripe's status.
    pub status: String,
    /// Price per interval, minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// month or year.
    pub billing_interval: String,
    /// End of the paid period, Unix ms.
    pub current_period_end: Option<i64>,
    /// Ends at the end of the period.
    pub cancel_at_period_end: bool,
    /// Started, Unix ms.
    pub started_at: i64,
    /// Ended, Unix ms.
    pub ended_at: Option<i64>,
    /// When Stripe made the event this state came from, Unix s.
    pub event_created: i64,
}

fn subscription(r: &sqlx::any::AnyRow) -> Result<SubscriptionRow, sqlx::Error> {
    Ok(SubscriptionRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        customer_id: r.try_get("customer_id")?,
        plan: r.try_get("plan")?,
        status: r.try_get("status")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        billing_interval: r.try_get("billing_interval")?,
        current_period_end: r.try_get("current_period_end")?,
        cancel_at_period_end: r.try_get::<i64, _>("cancel_at_period_end")? != 0,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        event_created: r.try_get("event_created")?,
    })
}

const SUBSCRIPTION_COLUMNS: &str = "id, account_id, customer_id, plan, status, amount_minor, \
     currency, billing_interval, current_period_end, cancel_at_period_end, started_at, ended_at, \
     event_created";

/// What claiming a webhook event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to process now, under this token: only its holder may finish
    /// or drop the claim.
    Claimed(String),
    /// Processed before.
    Done,
    /// Another delivery is processing it right now.
    InFlight,
}

/// How long a claim on an event may go unfinished before another delivery
/// takes it over (the first one crashed), ms.
const CLAIM_STALE_MS: i64 = 60_000;

impl Store {
    /// An order.
    pub async fn order(&self, id: &str) -> Result<Option<OrderRow>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(order).transpose()?)
    }

    /// Records the provider's checkout for a pending order.
    pub async fn set_order_checkout(
        &self,
        id: &str,
        checkout_id: &str,
        url: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE orders SET checkout_id = $2, checkout_url = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(checkout_id)
        .bind(url)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Marks an order paid (whatever it was before: money that arrived is
    /// money that arrived); false if it was paid already (refunded since
    /// or not).
    pub async fn mark_order_paid(
        &self,
        id: &str,
        payment_intent: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'paid', paid_at = $3, updated_at = $3, \
             payment_intent = COALESCE($2, payment_intent) \
             WHERE id = $1 AND status NOT IN ('paid', 'partially_refunded', 'refunded')",
        )
        .bind(id)
        .bind(payment_intent)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a paid order to partially_refunded or refunded by what went
    /// back: the larger of our refunds sent and what Stripe reports
    /// refunded on its charge. Only forward: a refunded order stays so.
    pub async fn settle_refund_status(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let row = sqlx::query(
            "SELECT o.amount_minor, \
             (SELECT MAX(ch.amount_refunded) FROM charges ch \
               WHERE ch.payment_intent = o.payment_intent) AS charge_refunded, \
             (SELECT CAST(SUM(r.amount_minor) AS BIGINT) FROM refunds r \
               WHERE r.order_id = o.id AND r.status = 'succeeded') AS refunds_sent \
             FROM orders o WHERE o.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else {
            return Ok(());
        };
        let amount: i64 = r.try_get("amount_minor")?;
        let charge: Option<i64> = r.try_get("charge_refunded")?;
        let sent: Option<i64> = r.try_get("refunds_sent")?;
        let back = charge.unwrap_or(0).max(sent.unwrap_or(0));
        if back <= 0 {
            return Ok(());
        }
        let to = if back >= amount {
            "refunded"
        } else {
            "partially_refunded"
        };
        sqlx::query(
            "UPDATE orders SET status = $2, updated_at = $3 \
             WHERE id = $1 AND status IN ('paid', 'partially_refunded')",
        )
        .bind(id)
        .bind(to)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Our orders paid through `payment_intent`.
    pub async fn orders_of_payment(&self, payment_intent: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM orders WHERE payment_intent = $1 ORDER BY id")
            .bind(payment_intent)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// Every refund that went back, dated: our refunds when the provider
    /// took them, and what each charge reports refunded (made anywhere)
    /// when we last saw it grow, by order.
    pub async fn refund_moments(&self) -> Result<Vec<RefundMoment>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.order_id, r.sent_at AS at, r.amount_minor, CAST(0 AS BIGINT) AS from_charge FROM refunds r \
             WHERE r.status = 'succeeded' AND r.order_id IS NOT NULL \
             UNION ALL \
             SELECT o.id AS order_id, ch.refunded_at AS at, ch.amount_refunded AS amount_minor, \
             CAST(1 AS BIGINT) AS from_charge FROM charges ch JOIN orders o ON o.payment_intent = ch.payment_intent \
             WHERE ch.amount_refunded > 0",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let at: Option<i64> = r.try_get("at")?;
                let from_charge: i64 = r.try_get("from_charge")?;
                Ok(RefundMoment {
                    order_id: r.try_get("order_id")?,
                    at: at.unwrap_or(0),
                    amount_minor: r.try_get("amount_minor")?,
                    from_charge: from_charge != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Moves a pending order to `to` (expired or failed); false if it was
    /// not pending.
    pub async fn end_pending_order(
        &self,
        id: &str,
        to: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(to)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a pending order (its seats were given up before it was
    /// paid) and, if it has a checkout, marks the checkout to be expired
    /// from `now` on; false if it was not pending.
    pub async fn cancel_pending_order(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'cancelled', updated_at = $2, \
             expire_checkout_at = CASE WHEN checkout_id IS NULL THEN NULL ELSE $2 END \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Orders whose checkout is due to be expired by `now`, longest due
    /// first, with the attempts made so far.
    pub async fn checkouts_to_expire(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(OrderRow, i64)>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS}, o.expire_checkout_attempts FROM orders o \
             WHERE o.expire_checkout_at IS NOT NULL AND o.expire_checkout_at <= $1 \
             ORDER BY o.expire_checkout_at, o.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((order(r)?, r.try_get("expire_checkout_attempts")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// An order's checkout was expired (or is past helping): nothing left
    /// to do; with `retry_at` the attempt failed and is due again then.
    pub async fn checkout_expire_attempted(
        &self,
        id: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE orders SET expire_checkout_at = $2, \
             expire_checkout_attempts = expire_checkout_attempts + 1, updated_at = $3 \
             WHERE id = $1 AND expire_checkout_at IS NOT NULL",
        )
        .bind(id)
        .bind(retry_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Orders with their money, newest first: of one account, of one
    /// campaign, or (with `None`) all of them.
    pub async fn orders_with_money(
        &self,
        filter: Option<(OrderFilter, &str)>,
    ) -> Result<Vec<OrderMoney>, StoreError> {
        let clause = match filter {
            Some((OrderFilter::Account, _)) => "WHERE o.account_id = $1",
            Some((OrderFilter::Campaign, _)) => "WHERE o.campaign_id = $1",
            None => "",
        };
        let sql = format!(
            "SELECT {ORDER_COLUMNS}, c.title, \
             (SELECT MAX(ch.receipt_url) FROM charges ch WHERE ch.payment_intent = o.payment_intent) \
               AS receipt_url, \
             (SELECT MAX(ch.amount_refunded) FROM charges ch \
               WHERE ch.payment_intent = o.payment_intent) AS charge_refunded, \
             (SELECT CAST(SUM(r.amount_minor) AS BIGINT) FROM refunds r \
               WHERE r.order_id = o.id AND r.status = 'succeeded') AS refunds_sent, \
             (SELECT CAST(SUM(r.amount_minor) AS BIGINT) FROM refunds r \
               WHERE r.order_id = o.id AND r.status = 'pending') AS refunds_pending, \
             (SELECT CAST(SUM(r.amount_minor) AS BIGINT) FROM refunds r \
               WHERE r.order_id = o.id AND r.status = 'failed') AS refunds_failed \
             FROM orders o JOIN campaigns c ON c.id = o.campaign_id {clause} \
             ORDER BY o.created_at DESC, o.id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some((_, value)) = filter {
            q = q.bind(value);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let sent: Option<i64> = r.try_get("refunds_sent")?;
                let charged_back: Option<i64> = r.try_get("charge_refunded")?;
                let pending: Option<i64> = r.try_get("refunds_pending")?;
                let failed: Option<i64> = r.try_get("refunds_failed")?;
                Ok(OrderMoney {
                    order: order(r)?,
                    campaign_title: r.try_get("title")?,
                    receipt_url: r.try_get("receipt_url")?,
                    refunded_minor: sent.unwrap_or(0).max(charged_back.unwrap_or(0)),
                    refund_pending_minor: pending.unwrap_or(0),
                    refund_failed_minor: failed.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records a refund for a seat; false if the seat has one already.
    pub async fn insert_refund(&self, r: &RefundRow, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO refunds (id, order_id, seat_id, account_id, amount_minor, currency, \
             reason, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) \
             ON CONFLICT (seat_id) DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.order_id)
        .bind(&r.seat_id)
        .bind(&r.account_id)
        .bind(r.amount_minor)
        .bind(&r.currency)
        .bind(&r.reason)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The refund recorded for a seat, if any.
    pub async fn refund_of_seat(&self, seat_id: &str) -> Result<Option<RefundRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, order_id, seat_id, account_id, amount_minor, currency, reason, status, \
             attempts, created_at FROM refunds WHERE seat_id = $1",
        )
        .bind(seat_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(refund).transpose()?)
    }

    /// What an order has refunds recorded for (sent or on their way),
    /// minor units.
    pub async fn refunds_recorded(&self, order_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(SUM(amount_minor) AS BIGINT) AS n FROM refunds \
             WHERE order_id = $1 AND status <> 'failed'",
        )
        .bind(order_id)
        .fetch_one(self.pool())
        .await?;
        let n: Option<i64> = row.try_get("n")?;
        Ok(n.unwrap_or(0))
    }

    /// Refunds not yet through the provider whose next attempt is due by
    /// `now`, the longest due first: refunds waiting out a backoff never
    /// keep newer ones from their turn.
    pub async fn pending_refunds(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RefundRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, order_id, seat_id, account_id, amount_minor, currency, reason, status, \
             attempts, created_at FROM refunds WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, created_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(refund).collect::<Result<_, _>>()?)
    }

    /// The provider accepted a refund.
    pub async fn refund_sent(
        &self,
        id: &str,
        provider_refund_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refunds SET status = 'succeeded', provider_refund_id = $2, \
             attempts = attempts + 1, last_error = NULL, sent_at = $3, updated_at = $3 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(provider_refund_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A refund attempt failed: it is tried again from `retry_at` on, or
    /// with `None` it is given up (failed) and leaves the queue. False if
    /// it was not pending.
    pub async fn refund_attempt_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refunds SET attempts = attempts + 1, last_error = $2, updated_at = $4, \
             next_attempt_at = COALESCE($3, next_attempt_at), \
             status = CASE WHEN $3 IS NULL THEN 'failed' ELSE status END \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a charge's state; refunded amounts only grow.
    pub async fn upsert_charge(&self, c: &ChargeRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO charges (id, payment_intent, amount_minor, amount_refunded, currency, \
             receipt_url, updated_at, refunded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $4 > 0 THEN $7 ELSE NULL END) \
             ON CONFLICT (id) DO UPDATE SET \
             payment_intent = COALESCE(excluded.payment_intent, charges.payment_intent), \
             amount_refunded = CASE WHEN excluded.amount_refunded > charges.amount_refunded \
               THEN excluded.amount_refunded ELSE charges.amount_refunded END, \
             receipt_url = COALESCE(excluded.receipt_url, charges.receipt_url), \
             refunded_at = CASE WHEN excluded.amount_refunded > charges.amount_refunded \
               THEN excluded.updated_at ELSE charges.refunded_at END, \
             updated_at = excluded.updated_at",
        )
        .bind(&c.id)
        .bind(&c.payment_intent)
        .bind(c.amount_minor)
        .bind(c.amount_refunded)
        .bind(&c.currency)
        .bind(&c.receipt_url)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a dispute's state (newer events win); true when it is new.
    pub async fn upsert_dispute(&self, d: &DisputeRow, now: i64) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO disputes (id, charge_id, payment_intent, amount_minor, currency, reason, \
             status, event_created, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&d.id)
        .bind(&d.charge_id)
        .bind(&d.payment_intent)
        .bind(d.amount_minor)
        .bind(&d.currency)
        .bind(&d.reason)
        .bind(&d.status)
        .bind(d.event_created)
        .bind(now)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        sqlx::query(
            "UPDATE disputes SET status = $2, event_created = $3, updated_at = $4 \
             WHERE id = $1 AND event_created <= $3",
        )
        .bind(&d.id)
        .bind(&d.status)
        .bind(d.event_created)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(false)
    }

    /// Every dispute, newest first, with the order it disputes (id and
    /// payer) when the payment is one of ours.
    pub async fn disputes(
        &self,
    ) -> Result<Vec<(DisputeRow, Option<(String, String)>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.charge_id, d.payment_intent, d.amount_minor, d.currency, d.reason, \
             d.status, d.event_created, d.created_at, o.id AS order_id, o.account_id \
             FROM disputes d LEFT JOIN orders o ON o.payment_intent = d.payment_intent \
             ORDER BY d.created_at DESC, d.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let order: Option<String> = r.try_get("order_id")?;
                let payer: Option<String> = r.try_get("account_id")?;
                Ok((
                    DisputeRow {
                        id: r.try_get("id")?,
                        charge_id: r.try_get("charge_id")?,
                        payment_intent: r.try_get("payment_intent")?,
                        amount_minor: r.try_get("amount_minor")?,
                        currency: r.try_get("currency")?,
                        reason: r.try_get("reason")?,
                        status: r.try_get("status")?,
                        event_created: r.try_get("event_created")?,
                        created_at: r.try_get("created_at")?,
                    },
                    order.zip(payer),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The provider's customer id for an account.
    pub async fn customer_of(&self, account: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT customer_id FROM billing_customers WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("customer_id")).transpose()?)
    }

    /// The account a provider's customer belongs to.
    pub async fn account_of_customer(&self, customer: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT account_id FROM billing_customers WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("account_id")).transpose()?)
    }

    /// Keeps an account's customer id (the first one stays).
    pub async fn set_customer(
        &self,
        account: &str,
        customer: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO billing_customers (account_id, customer_id, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account)
        .bind(customer)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a subscription's state unless a newer event was applied.
    /// Stripe stamps events in whole seconds, so events of one second are
    /// ranked by how far along the subscription's life their status is
    /// (incomplete, then trialing, active, past_due and the like, then
    /// canceled or incomplete_expired) and never go back: a late
    /// `created` (incomplete) does not undo the same second's `updated`
    /// (active).
    pub async fn upsert_subscription(
        &self,
        s: &SubscriptionRow,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO subscriptions (id, account_id, customer_id, plan, status, amount_minor, \
             currency, billing_interval, current_period_end, cancel_at_period_end, started_at, \
             ended_at, event_created, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, status = excluded.status, \
             amount_minor = excluded.amount_minor, currency = excluded.currency, \
             billing_interval = excluded.billing_interval, \
             current_period_end = excluded.current_period_end, \
             cancel_at_period_end = excluded.cancel_at_period_end, \
             ended_at = excluded.ended_at, event_created = excluded.event_created, \
             updated_at = excluded.updated_at \
             WHERE subscriptions.event_created < excluded.event_created \
             OR (subscriptions.event_created = excluded.event_created \
                 AND CASE excluded.status WHEN 'incomplete' THEN 0 \
                   WHEN 'canceled' THEN 2 WHEN 'incomplete_expired' THEN 2 ELSE 1 END \
                 >= CASE subscriptions.status WHEN 'incomplete' THEN 0 \
                   WHEN 'canceled' THEN 2 WHEN 'incomplete_expired' THEN 2 ELSE 1 END)",
        )
        .bind(&s.id)
        .bind(&s.account_id)
        .bind(&s.customer_id)
        .bind(&s.plan)
        .bind(&s.status)
        .bind(s.amount_minor)
        .bind(&s.currency)
        .bind(&s.billing_interval)
        .bind(s.current_period_end)
        .bind(i64::from(s.cancel_at_period_end))
        .bind(s.started_at)
        .bind(s.ended_at)
        .bind(s.event_created)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An account's subscriptions, newest first.
    pub async fn subscriptions_of(
        &self,
        account: &str,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE account_id = $1 \
             ORDER BY started_at DESC, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(subscription).collect::<Result<_, _>>()?)
    }

    /// Every subscription.
    pub async fn all_subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError> {
        let sql =
            format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY started_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(subscription).collect::<Result<_, _>>()?)
    }

    /// Claims a webhook event for processing. A claim left unfinished for
    /// a minute (its delivery died) is taken over under a new token.
    pub async fn claim_event(&self, id: &str, kind: &str, now: i64) -> Result<Claim, StoreError> {
        let token = crate::accounts::new_id();
        let fresh = sqlx::query(
            "INSERT INTO stripe_events (id, kind, status, claimed_at, claim_token) \
             VALUES ($1, $2, 'processing', $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(now)
        .bind(&token)
        .execute(self.pool())
        .await?;
        if fresh.rows_affected() == 1 {
            return Ok(Claim::Claimed(token));
        }
        // A delivery that died mid-way leaves a stale claim; take it over.
        let stale = sqlx::query(
            "UPDATE stripe_events SET claimed_at = $2, claim_token = $4 \
             WHERE id = $1 AND status = 'processing' AND claimed_at < $3",
        )
        .bind(id)
        .bind(now)
        .bind(now - CLAIM_STALE_MS)
        .bind(&token)
        .execute(self.pool())
        .await?;
        if stale.rows_affected() == 1 {
            return Ok(Claim::Claimed(token));
        }
        let status: Option<String> = sqlx::query("SELECT status FROM stripe_events WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get("status"))
            .transpose()?;
        Ok(match status.as_deref() {
            Some("done") => Claim::Done,
            // Dropped between our insert and our read: the next delivery
            // claims it afresh.
            _ => Claim::InFlight,
        })
    }

    /// Marks an event processed if `token` still holds its claim; false if
    /// another delivery took the claim over (it finishes the event).
    pub async fn finish_event(&self, id: &str, token: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE stripe_events SET status = 'done', done_at = $3 \
             WHERE id = $1 AND status = 'processing' AND claim_token = $2",
        )
        .bind(id)
        .bind(token)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up a claim after a failure, so the next delivery retries; a
    /// claim another delivery took over stays with it.
    pub async fn drop_claim(&self, id: &str, token: &str) -> Result<bool, StoreError> {
        let dropped = sqlx::query(
            "DELETE FROM stripe_events WHERE id = $1 AND status = 'processing' \
             AND claim_token = $2",
        )
        .bind(id)
        .bind(token)
        .execute(self.pool())
        .await?;
        Ok(dropped.rows_affected() == 1)
    }
}

/// Which orders [`Store::orders_with_money`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFilter {
    /// One payer's.
    Account,
    /// One campaign's.
    Campaign,
}
