//! Billing: the payment provider seam, orders, refunds in money, Stripe's
//! webhooks and the revenue reports.
//!
//! A seat hold makes an order; the provider either confirms it at once
//! (the local provider: "test mode: no real money") or hands back a
//! checkout page (Stripe), and then only a verified webhook confirms the
//! seats. Refunds are recorded first (one per seat at most, back to the
//! payment the order's payer made) and then sent through the provider
//! with the refund's id as idempotency key, so a retry never pays twice; a
//! refund the provider cannot take now is retried with a backoff, one that
//! can never go through is failed and audited. A hold given up before it
//! is paid has its checkout expired.

pub mod reports;
pub mod stripe;
pub mod webhook;

use crate::accounts::{AccountError, new_id};
use crate::store::Store;
use crate::store::billing::{OrderRow, RefundRow};
use crate::store::campaigns::CampaignRow;
use crate::store::seats::SeatRow;

/// How long a seat is held for payment by default.
pub const HOLD_MS: i64 = 15 * 60_000;

/// What the payment provider says about a new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentStart {
    /// Paid: the seats are confirmed.
    Confirmed,
    /// Waiting for the payer on a checkout page; the hold lapses unless a
    /// verified payment arrives first.
    Pending {
        /// The provider's checkout id.
        checkout_id: String,
        /// The page where the payer pays.
        url: String,
    },
}

/// An order to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our order id (reference, metadata and idempotency key).
    pub order_id: String,
    /// The payer.
    pub account_id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Its title, shown on the checkout page.
    pub campaign_title: String,
    /// Price per seat, minor units.
    pub unit_minor: i64,
    /// Seats.
    pub quantity: i64,
    /// Currency (ISO 4217, lower case).
    pub currency: String,
    /// When the hold (and so the checkout) lapses, Unix ms.
    pub expires_at: i64,
    /// The seats paid for.
    pub seat_ids: Vec<String>,
}

/// A refund to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// Our refund id (idempotency key).
    pub refund_id: String,
    /// The payment refunded.
    pub payment_intent: String,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// Why.
    pub reason: String,
}

/// A subscription checkout to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The subscriber.
    pub account_id: String,
    /// The provider's customer.
    pub customer_id: String,
    /// The plan's name (monthly or annual).
    pub plan: String,
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or asked us to slow down; the
    /// same call may be retried later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the call; retrying will not help.
    #[error("the payment provider refused: {0}")]
    Refused(String),
    /// This provider does not do that.
    #[error("{0}")]
    Unsupported(String),
}

/// A subscription plan on offer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Plan {
    /// monthly or annual.
    pub name: String,
    /// The provider's price id.
    pub price_id: String,
}

fn no_subscriptions() -> ProviderError {
    ProviderError::Unsupported("subscriptions need Stripe; this server runs in test mode".into())
}

/// The payment seam: the local provider confirms at once; Stripe takes
/// payments on its checkout pages and reports back through webhooks.
#[async_trait::async_trait]
pub trait PaymentProvider: std::fmt::Debug + Send + Sync {
    /// The provider's name as stored with each seat and order.
    fn name(&self) -> &'static str;
    /// How long a seat is held waiting for payment, ms.
    fn hold_ms(&self) -> i64 {
        HOLD_MS
    }
    /// Whether every order is paid the moment it is made, with no checkout
    /// to go through (the local provider): seats are then taken confirmed,
    /// with their order paid, in the one transaction that takes them.
    fn confirms_at_once(&self) -> bool {
        false
    }
    /// Starts collecting an order.
    async fn checkout(&self, order: &CheckoutRequest) -> Result<PaymentStart, ProviderError>;
    /// Sends a refund; returns the provider's refund id.
    async fn refund(&self, refund: &RefundRequest) -> Result<String, ProviderError>;
    /// The subscription plans on offer (none without subscriptions).
    fn plans(&self) -> &[Plan] {
        &[]
    }
    /// Percent off seats for subscribers.
    fn subscriber_discount_percent(&self) -> i64 {
        0
    }
    /// Makes (or finds, by idempotency) the provider's customer for an account.
    async fn create_customer(&self, _account_id: &str) -> Result<String, ProviderError> {
        Err(no_subscriptions())
    }
    /// Starts a subscription checkout; returns the page to pay on.
    async fn subscribe(&self, _req: &SubscribeRequest) -> Result<String, ProviderError> {
        Err(no_subscriptions())
    }
    /// A customer-portal page where a subscriber manages the subscription.
    async fn portal(&self, _customer_id: &str) -> Result<String, ProviderError> {
        Err(no_subscriptions())
    }
    /// Expires a checkout that is still open, so it can no longer be paid
    /// (the local provider has none).
    async fn expire_checkout(&self, _checkout_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }
    /// How webhooks from this provider are verified (none: it sends none).
    fn webhook_keys(&self) -> Option<&webhook::WebhookKeys> {
        None
    }
}

/// Test mode: no real money; every order is confirmed at once and every
/// refund succeeds.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalProvider;

#[async_trait::async_trait]
impl PaymentProvider for LocalProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn confirms_at_once(&self) -> bool {
        true
    }

    async fn checkout(&self, _order: &CheckoutRequest) -> Result<PaymentStart, ProviderError> {
        Ok(PaymentStart::Confirmed)
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<String, ProviderError> {
        Ok(format!("test_{}", refund.refund_id))
    }
}

/// How a provider is shown to players.
pub fn payment_label(provider: &dyn PaymentProvider) -> String {
    if provider.name() == "test" {
        "test mode: no real money".into()
    } else {
        provider.name().into()
    }
}

/// Makes the order for seats `rows` paid by `payer`, pricing each seat at
/// the campaign's price less the subscriber discount, and ties the rows to
/// it.
pub(crate) fn new_order(
    payer: &str,
    c: &CampaignRow,
    rows: &mut [SeatRow],
    provider: &dyn PaymentProvider,
    discount_percent: i64,
    now: i64,
) -> OrderRow {
    let pct = discount_percent.clamp(0, 100);
    // The discount rounds down, so nobody is charged a fraction more than
    // the advertised percentage takes off.
    let unit = c.price_minor - c.price_minor * pct / 100;
    let id = new_id();
    let expires = rows.first().and_then(|r| r.hold_expires_at);
    for r in rows.iter_mut() {
        r.price_minor = unit;
        r.order_id = Some(id.clone());
    }
    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    OrderRow {
        id,
        account_id: payer.to_string(),
        campaign_id: c.id.clone(),
        provider: provider.name().into(),
        status: "pending".into(),
        seats: n,
        unit_minor: unit,
        amount_minor: unit.saturating_mul(n),
        discount_minor: (c.price_minor - unit).saturating_mul(n),
        currency: c.currency.clone(),
        checkout_id: None,
        checkout_url: None,
        payment_intent: None,
        expires_at: expires,
        created_at: now,
        paid_at: None,
    }
}

/// The subscriber discount `payer` gets now (0 without an active plan).
pub(crate) async fn discount_for(
    store: &Store,
    provider: &dyn PaymentProvider,
    payer: &str,
    now: i64,
) -> Result<i64, AccountError> {
    let pct = provider.subscriber_discount_percent();
    if pct <= 0 {
        return Ok(0);
    }
    let subscribed = store
        .subscriptions_of(payer)
        .await?
        .iter()
        .any(|s| subscription_is_live(s, now));
    Ok(if subscribed { pct } else { 0 })
}

/// Whether a subscription gives its benefits now.
pub fn subscription_is_live(s: &crate::store::billing::SubscriptionRow, now: i64) -> bool {
    matches!(s.status.as_str(), "active" | "trialing")
        && s.current_period_end.is_none_or(|end| end > now)
}

/// Starts collecting `order` for the seats `rows` (already held).
/// Confirms them at once if the provider says paid, or keeps the checkout
/// with the order; on a provider failure returns the error and leaves
/// releasing the seats to the caller.
pub(crate) async fn start_payment(
    store: &Store,
    provider: &dyn PaymentProvider,
    order: &OrderRow,
    rows: &[SeatRow],
    title: &str,
    now: i64,
) -> Result<Result<PaymentStart, ProviderError>, AccountError> {
    let req = CheckoutRequest {
        order_id: order.id.clone(),
        account_id: order.account_id.clone(),
        campaign_id: order.campaign_id.clone(),
        campaign_title: title.to_string(),
        unit_minor: order.unit_minor,
        quantity: order.seats,
        currency: order.currency.clone(),
        expires_at: order.expires_at.unwrap_or(now + provider.hold_ms()),
        seat_ids: rows.iter().map(|r| r.id.clone()).collect(),
    };
    let started = provider.checkout(&req).await;
    match &started {
        Ok(PaymentStart::Confirmed) => {
            store.mark_order_paid(&order.id, None, now).await?;
            for r in rows {
                store.confirm_seat(&r.id, now).await?;
            }
        }
        Ok(PaymentStart::Pending { checkout_id, url }) => {
            store
                .set_order_checkout(&order.id, checkout_id, url, now)
                .await?;
        }
        Err(_) => {
            store.end_pending_order(&order.id, "failed", now).await?;
        }
    }
    Ok(started)
}

/// Records a refund of `amount` for a released seat (once per seat, in the
/// audit log) and sends it through the provider; a send that fails is
/// retried by [`send_refunds`]. Nothing happens for nothing owed.
pub async fn refund_seat(
    store: &Store,
    provider: &dyn PaymentProvider,
    seat: &SeatRow,
    amount: i64,
    reason: &str,
    actor: Option<&str>,
    now: i64,
) -> Result<(), AccountError> {
    let Some(row) = record_refund(store, seat, amount, reason, actor, now).await? else {
        return Ok(());
    };
    if row.status == "pending"
        && let Err(e) = send_refund(store, provider, &row, now).await
    {
        tracing::warn!(refund = %row.id, error = %e, "refund not sent yet; will retry");
    }
    Ok(())
}

/// Records a refund of up to `amount` for a released seat, once per seat,
/// with its audit entry, and leaves sending it to [`send_refunds`]. The
/// money goes back to whoever paid for the seat (a party's leader paid for
/// all of its seats, with one payment), never more per seat than the seat
/// cost and never more for an order than it took. Returns the refund that
/// stands for the seat (this one, or one recorded before), or `None` when
/// nothing is owed. Safe to repeat: a retry finds the refund and writes
/// the same audit entry, once.
pub async fn record_refund(
    store: &Store,
    seat: &SeatRow,
    amount: i64,
    reason: &str,
    actor: Option<&str>,
    now: i64,
) -> Result<Option<RefundRow>, AccountError> {
    if amount <= 0 {
        return Ok(None);
    }
    let standing = match store.refund_of_seat(&seat.id).await? {
        // This seat was refunded before: never twice.
        Some(r) => r,
        None => {
            let order = match &seat.order_id {
                Some(id) => store.order(id).await?,
                None => None,
            };
            let (payer, cap) = match &order {
                Some(o) => {
                    let left = o.amount_minor - store.refunds_recorded(&o.id).await?;
                    (o.account_id.clone(), o.unit_minor.min(left))
                }
                None => (seat.account_id.clone(), amount),
            };
            let amount = amount.min(cap);
            if amount <= 0 {
                return Ok(None);
            }
            let row = RefundRow {
                id: new_id(),
                order_id: seat.order_id.clone(),
                seat_id: seat.id.clone(),
                account_id: payer,
                amount_minor: amount,
                currency: seat.currency.clone(),
                reason: reason.to_string(),
                status: "pending".into(),
                attempts: 0,
                created_at: now,
            };
            if store.insert_refund(&row, now).await? {
                row
            } else {
                // Recorded by a concurrent release of the same seat.
                store
                    .refund_of_seat(&seat.id)
                    .await?
                    .ok_or(AccountError::Conflict(
                        "the seat's refund vanished while it was recorded".into(),
                    ))?
            }
        }
    };
    crate::safety::audit_once(
        store,
        &format!("refund.create:{}", standing.id),
        actor,
        "refund.create",
        ("seat", &seat.id),
        serde_json::json!({
            "refund": standing.id, "order": standing.order_id, "account": standing.account_id,
            "player": seat.account_id, "campaign": seat.campaign_id,
            "amount_minor": standing.amount_minor, "currency": standing.currency,
            "reason": standing.reason,
        }),
        now,
    )
    .await?;
    Ok(Some(standing))
}

/// Refund attempts before a refused refund is given up (and left to admins).
const REFUND_ATTEMPTS: i64 = 5;

/// The first retry of a provider call in the background (a refund, a
/// checkout to expire) waits this long, ms; each next one twice as long as
/// the one before.
const BACKOFF_MS: i64 = 5_000;
/// And no retry waits longer than this, ms.
const BACKOFF_CAP_MS: i64 = 3_600_000;

/// How long to wait before the next try of a provider call that has
/// failed `attempts` times: 5 s, 10 s, 20 s, ... up to an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    BACKOFF_MS
        .saturating_mul(1_i64 << doublings)
        .min(BACKOFF_CAP_MS)
}

/// Sends one recorded refund through the provider that took the money.
/// One that can never go through (its provider is not configured here,
/// its order has no payment to refund, or the provider refused it
/// [`REFUND_ATTEMPTS`] times) is failed and audited; one that can go
/// through later is tried again after a backoff.
async fn send_refund(
    store: &Store,
    provider: &dyn PaymentProvider,
    r: &RefundRow,
    now: i64,
) -> Result<bool, AccountError> {
    let order = match &r.order_id {
        Some(id) => store.order(id).await?,
        None => None,
    };
    let Some(order) = order.filter(|o| o.provider != "test") else {
        // Test-mode money: nothing to send.
        return refund_went_through(store, r, &format!("test_{}", r.id), now).await;
    };
    if order.provider != provider.name() {
        let why = format!("the {} provider is not configured", order.provider);
        give_up_refund(store, r, &why, now).await?;
        return Ok(false);
    }
    let Some(payment_intent) = order.payment_intent.clone() else {
        give_up_refund(store, r, "the order has no payment to refund", now).await?;
        return Ok(false);
    };
    let req = RefundRequest {
        refund_id: r.id.clone(),
        payment_intent,
        amount_minor: r.amount_minor,
        reason: r.reason.clone(),
    };
    match provider.refund(&req).await {
        Ok(provider_id) => refund_went_through(store, r, &provider_id, now).await,
        Err(e) if matches!(e, ProviderError::Refused(_)) && r.attempts + 1 >= REFUND_ATTEMPTS => {
            give_up_refund(store, r, &e.to_string(), now).await?;
            Ok(false)
        }
        Err(ProviderError::Unsupported(m)) => {
            give_up_refund(store, r, &m, now).await?;
            Ok(false)
        }
        Err(e) => {
            let retry_at = now + backoff_ms(r.attempts + 1);
            store
                .refund_attempt_failed(&r.id, &e.to_string(), Some(retry_at), now)
                .await?;
            Ok(false)
        }
    }
}

/// Marks a refund sent and moves its order to (partially) refunded.
async fn refund_went_through(
    store: &Store,
    r: &RefundRow,
    provider_refund_id: &str,
    now: i64,
) -> Result<bool, AccountError> {
    let sent = store.refund_sent(&r.id, provider_refund_id, now).await?;
    if let Some(order) = &r.order_id {
        store.settle_refund_status(order, now).await?;
    }
    Ok(sent)
}

/// Fails a refund for good (it leaves the queue; payment views show it as
/// failed) and audits it, once.
async fn give_up_refund(
    store: &Store,
    r: &RefundRow,
    why: &str,
    now: i64,
) -> Result<(), AccountError> {
    tracing::warn!(refund = %r.id, error = %why, "refund given up; an admin settles it");
    // The entry first: if failing the refund then does not get through,
    // the next round gives it up again and the entry stays one.
    crate::safety::audit_once(
        store,
        &format!("refund.failed:{}", r.id),
        None,
        "refund.failed",
        ("seat", &r.seat_id),
        serde_json::json!({
            "refund": r.id, "order": r.order_id, "account": r.account_id,
            "amount_minor": r.amount_minor, "currency": r.currency, "error": why,
        }),
        now,
    )
    .await?;
    store.refund_attempt_failed(&r.id, why, None, now).await?;
    Ok(())
}

/// Sends refunds recorded but not yet through whose next try is due (the
/// server runs it every few seconds). Returns how many went through.
pub async fn send_refunds(
    store: &Store,
    provider: &dyn PaymentProvider,
    now: i64,
) -> Result<usize, AccountError> {
    let mut sent = 0;
    for r in store.pending_refunds(now, 100).await? {
        if send_refund(store, provider, &r, now).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// A held seat of order `order_id` was released (left, removed, campaign
/// cancelled): once no seat of the order is held any more, the order is
/// cancelled and its checkout expired at the provider, so nobody pays for
/// seats that are gone. Best effort: a provider that fails leaves it to
/// [`expire_checkouts`]; a payment that still gets through is refunded
/// like any late payment.
pub async fn close_checkout(
    store: &Store,
    provider: &dyn PaymentProvider,
    order_id: &str,
    now: i64,
) -> Result<(), AccountError> {
    // A party's checkout pays for every member's seat: it stays open while
    // another member still holds one (a payment then refunds the rest).
    if store
        .order_seats(order_id)
        .await?
        .iter()
        .any(|s| s.status == "held")
    {
        return Ok(());
    }
    if !store.cancel_pending_order(order_id, now).await? {
        return Ok(());
    }
    if let Some(order) = store.order(order_id).await?
        && order.checkout_id.is_some()
    {
        expire_checkout(store, provider, &order, 0, now).await?;
    }
    Ok(())
}

/// Expires the checkouts of cancelled orders that are due (the server runs
/// it every few seconds). Returns how many were expired.
pub async fn expire_checkouts(
    store: &Store,
    provider: &dyn PaymentProvider,
    now: i64,
) -> Result<usize, AccountError> {
    let mut expired = 0;
    for (order, attempts) in store.checkouts_to_expire(now, 100).await? {
        if expire_checkout(store, provider, &order, attempts, now).await? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// One attempt at expiring `order`'s checkout; true when the provider
/// expired it.
async fn expire_checkout(
    store: &Store,
    provider: &dyn PaymentProvider,
    order: &OrderRow,
    attempts: i64,
    now: i64,
) -> Result<bool, AccountError> {
    let Some(checkout) = order
        .checkout_id
        .as_deref()
        .filter(|_| order.provider == provider.name())
    else {
        store
            .checkout_expire_attempted(&order.id, None, now)
            .await?;
        return Ok(false);
    };
    match provider.expire_checkout(checkout).await {
        Ok(()) => {
            store
                .checkout_expire_attempted(&order.id, None, now)
                .await?;
            Ok(true)
        }
        // Stripe closes the checkout itself when the hold runs out; no
        // point trying past that.
        Err(ProviderError::Unavailable(e)) if order.expires_at.is_none_or(|t| t > now) => {
            tracing::warn!(order = %order.id, error = %e, "checkout not expired yet; will retry");
            let retry_at = now + backoff_ms(attempts + 1);
            store
                .checkout_expire_attempted(&order.id, Some(retry_at), now)
                .await?;
            Ok(false)
        }
        // Refused: paid or expired meanwhile (a payment is refunded by
        // its webhook), or past its time.
        Err(e) => {
            tracing::info!(order = %order.id, error = %e, "checkout left to close itself");
            store
                .checkout_expire_attempted(&order.id, None, now)
                .await?;
            Ok(false)
        }
    }
}

impl From<ProviderError> for AccountError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unavailable(_) => AccountError::Unavailable(
                "the payment provider is not answering; nothing was charged or kept, try again \
                 in a minute"
                    .into(),
            ),
            ProviderError::Refused(m) => AccountError::PaymentRefused(m),
            ProviderError::Unsupported(m) => AccountError::Conflict(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(price: i64) -> CampaignRow {
        CampaignRow {
            price_minor: price,
            currency: "eur".into(),
            ..CampaignRow::default()
        }
    }

    fn seat() -> SeatRow {
        SeatRow {
            id: new_id(),
            campaign_id: "c".into(),
            account_id: "a".into(),
            party_id: None,
            status: "held".into(),
            hold_expires_at: Some(1_000),
            price_minor: 0,
            currency: "eur".into(),
            quote: "{}".into(),
            provider: "test".into(),
            refund_minor: 0,
            refund_offer_until: None,
            created_at: 0,
            order_id: None,
        }
    }

    #[test]
    fn an_order_prices_every_seat_and_rounds_the_discount_down() {
        let mut rows = vec![seat(), seat(), seat()];
        let o = new_order("a", &campaign(999), &mut rows, &LocalProvider, 10, 5);
        // 10% of 999 is 99.9: 99 off, 900 to pay per seat.
        assert_eq!(o.unit_minor, 900);
        assert_eq!(o.amount_minor, 2_700);
        assert_eq!(o.discount_minor, 297);
        assert_eq!(o.expires_at, Some(1_000));
        assert!(rows.iter().all(|r| r.price_minor == 900));
        assert!(
            rows.iter()
                .all(|r| r.order_id.as_deref() == Some(o.id.as_str()))
        );
    }

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let waits: Vec<i64> = (1..=6).map(backoff_ms).collect();
        assert_eq!(waits, [5_000, 10_000, 20_000, 40_000, 80_000, 160_000]);
        assert_eq!(backoff_ms(11), 3_600_000);
        assert_eq!(backoff_ms(1_000), 3_600_000);
        assert_eq!(backoff_ms(i64::MAX), 3_600_000);
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(-3), 5_000);
    }

    #[test]
    fn an_order_without_a_discount_charges_the_campaign_price() {
        let mut rows = vec![seat()];
        let o = new_order("a", &campaign(1_250), &mut rows, &LocalProvider, 0, 5);
        assert_eq!(
            (o.unit_minor, o.amount_minor, o.discount_minor),
            (1_250, 1_250, 0)
        );
        assert_eq!(o.status, "pending");
    }
}
