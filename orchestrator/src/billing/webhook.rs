//! Stripe's webhooks: the signature check on the raw body, the events we
//! act on (parsed in plain functions), and applying them exactly once.
//!
//! Each event id is claimed (under a token, so only the claim's holder
//! finishes or drops it) before its effects and marked done after, and
//! every effect is itself a conditional update that only moves forward or
//! a write keyed by what it is about (audit entries, mails), so repeats,
//! reorderings, two events for one payment and a crash half-way all end in
//! the same state. Applying an event never calls the payment provider:
//! refunds are recorded for the refund worker, freed seats are left to the
//! background waitlist round.

use std::collections::HashMap;

use hmac::{KeyInit, Mac};
use serde::Deserialize;

use super::{PaymentProvider, record_refund};
use crate::accounts::AccountError;
use crate::config::Secret;
use crate::mail::tell_once;
use crate::store::Store;
use crate::store::billing::{ChargeRow, Claim, DisputeRow, SubscriptionRow};

/// How webhooks are verified.
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    /// Endpoint secrets (`whsec_...`); more than one while rotating.
    pub secrets: Vec<Secret>,
    /// Largest accepted age (either way) of a signature's timestamp, s.
    pub tolerance_s: i64,
}

/// Why a delivery was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No valid `v1` signature for our secret(s), or a stale timestamp.
    #[error("bad signature: {0}")]
    BadSignature(&'static str),
    /// The body is not a Stripe event.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// Another delivery of this event is being processed now.
    #[error("this event is being processed; try again")]
    Busy,
    /// Processing failed; Stripe should deliver it again.
    #[error(transparent)]
    Failed(#[from] AccountError),
}

impl From<crate::store::StoreError> for WebhookError {
    fn from(e: crate::store::StoreError) -> Self {
        WebhookError::Failed(e.into())
    }
}

/// Checks the `Stripe-Signature` header for `payload`: accepted when any
/// `v1` signature matches any of our secrets (HMAC-SHA256 of
/// `"{t}.{payload}"`, compared in constant time) and `t` is within the
/// tolerance of `now_s`.
pub fn verify(
    payload: &[u8],
    header: &str,
    keys: &WebhookKeys,
    now_s: i64,
) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => {
                if let Ok(sig) = hex::decode(v) {
                    candidates.push(sig);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(WebhookError::BadSignature("no timestamp"))?;
    if candidates.is_empty() {
        return Err(WebhookError::BadSignature("no v1 signature"));
    }
    let matched = keys.secrets.iter().any(|secret| {
        let mac = mac(payload, secret.expose(), t);
        candidates
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
    });
    if !matched {
        return Err(WebhookError::BadSignature("no signature matches"));
    }
    if (now_s - t).abs() > keys.tolerance_s {
        return Err(WebhookError::BadSignature(
            "timestamp outside the tolerance",
        ));
    }
    Ok(())
}

/// Stripe's MAC: HMAC-SHA256 of `"{t}.{payload}"` under `secret`.
fn mac(payload: &[u8], secret: &str, t: i64) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// Signs `payload` the way Stripe does, for tests and local tools.
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(payload, secret, t).finalize().into_bytes())
    )
}

/// A Stripe event's envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// evt_...
    pub id: String,
    /// The event type, e.g. `checkout.session.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe made it, Unix s.
    pub created: i64,
    /// The object it is about.
    pub data: EventData,
}

/// An event's payload.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object as it is after the event.
    pub object: serde_json::Value,
}

/// Parses an event's envelope.
pub fn parse(payload: &[u8]) -> Result<Event, WebhookError> {
    let e: Event =
        serde_json::from_slice(payload).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if e.id.is_empty() || e.kind.is_empty() {
        return Err(WebhookError::Malformed(
            "an event needs an id and a type".into(),
        ));
    }
    Ok(e)
}

#[derive(Debug, Deserialize)]
struct CheckoutSessionObject {
    id: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ChargeObject {
    id: String,
    #[serde(default)]
    payment_intent: Option<String>,
    amount: i64,
    #[serde(default)]
    amount_refunded: i64,
    currency: String,
    #[serde(default)]
    receipt_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DisputeObject {
    id: String,
    charge: String,
    #[serde(default)]
    payment_intent: Option<String>,
    amount: i64,
    currency: String,
    #[serde(default)]
    reason: Option<String>,
    status: String,
}

#[derive(Debug, Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: String,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    start_date: Option<i64>,
    #[serde(default)]
    ended_at: Option<i64>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    items: SubscriptionItems,
}

#[derive(Debug, Deserialize)]
struct SubscriptionItems {
    data: Vec<SubscriptionItem>,
}

#[derive(Debug, Deserialize)]
struct SubscriptionItem {
    price: PriceObject,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct PriceObject {
    id: String,
    #[serde(default)]
    unit_amount: Option<i64>,
    currency: String,
    #[serde(default)]
    recurring: Option<Recurring>,
}

#[derive(Debug, Deserialize)]
struct Recurring {
    interval: String,
}

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A checkout for seats was paid.
    SeatsPaid {
        /// Our order.
        order_id: String,
        /// The payment.
        payment_intent: Option<String>,
    },
    /// A seat checkout lapsed unpaid.
    CheckoutExpired {
        /// Our order.
        order_id: String,
    },
    /// A subscription checkout finished: this customer is this account.
    Customer {
        /// The account.
        account_id: String,
        /// Stripe's customer.
        customer_id: String,
    },
    /// A charge's state (receipt, refunds).
    Charge(ChargeRow),
    /// A dispute was opened or moved on.
    Dispute(DisputeRow),
    /// A subscription's state.
    Subscription(SubscriptionFacts),
    /// Nothing for us (another type, or not our object).
    Ignore(String),
}

/// A subscription's state from an event, before we know whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    /// The row, with `account_id` from the metadata (may be empty).
    pub row: SubscriptionRow,
    /// The price the subscription bills.
    pub price_id: String,
}

fn object<T: for<'de> Deserialize<'de>>(e: &Event) -> Result<T, WebhookError> {
    serde_json::from_value(e.data.object.clone())
        .map_err(|err| WebhookError::Malformed(format!("{}: {err}", e.kind)))
}

/// What `e` asks of us; a pure function of the event.
pub fn effect_of(e: &Event) -> Result<Effect, WebhookError> {
    Ok(match e.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let s: CheckoutSessionObject = object(e)?;
            if s.mode.as_deref() == Some("subscription") {
                return Ok(match (s.metadata.get("account_id"), s.customer) {
                    (Some(a), Some(c)) => Effect::Customer {
                        account_id: a.clone(),
                        customer_id: c,
                    },
                    _ => Effect::Ignore(format!("subscription checkout {} names no account", s.id)),
                });
            }
            let Some(order_id) = s
                .metadata
                .get("order_id")
                .cloned()
                .or(s.client_reference_id)
            else {
                return Ok(Effect::Ignore(format!(
                    "checkout {} is not one of ours",
                    s.id
                )));
            };
            match s.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => Effect::SeatsPaid {
                    order_id,
                    payment_intent: s.payment_intent,
                },
                // Delayed payment methods: wait for async_payment_succeeded.
                other => Effect::Ignore(format!(
                    "checkout {} completed with payment status {}",
                    s.id,
                    other.unwrap_or("unknown")
                )),
            }
        }
        "checkout.session.expired" | "checkout.session.async_payment_failed" => {
            let s: CheckoutSessionObject = object(e)?;
            match s
                .metadata
                .get("order_id")
                .cloned()
                .or(s.client_reference_id)
            {
                Some(order_id) if s.mode.as_deref() != Some("subscription") => {
                    Effect::CheckoutExpired { order_id }
                }
                _ => Effect::Ignore(format!("checkout {} is not a seat order", s.id)),
            }
        }
        "charge.succeeded" | "charge.updated" | "charge.refunded" | "charge.captured" => {
            let c: ChargeObject = object(e)?;
            Effect::Charge(ChargeRow {
                id: c.id,
                payment_intent: c.payment_intent,
                amount_minor: c.amount,
                amount_refunded: c.amount_refunded,
                currency: c.currency,
                receipt_url: c.receipt_url,
            })
        }
        "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed" => {
            let d: DisputeObject = object(e)?;
            Effect::Dispute(DisputeRow {
                id: d.id,
                charge_id: d.charge,
                payment_intent: d.payment_intent,
                amount_minor: d.amount,
                currency: d.currency,
                reason: d.reason.unwrap_or_else(|| "unknown".into()),
                status: d.status,
                event_created: e.created,
                created_at: 0,
            })
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let s: SubscriptionObject = object(e)?;
            let item =
                s.items.data.first().ok_or_else(|| {
                    WebhookError::Malformed("a subscription without items".into())
                })?;
            let interval = item
                .price
                .recurring
                .as_ref()
                .map_or_else(|| "month".to_string(), |r| r.interval.clone());
            let period_end = s.current_period_end.or(item.current_period_end);
            Effect::Subscription(SubscriptionFacts {
                price_id: item.price.id.clone(),
                row: SubscriptionRow {
                    id: s.id,
                    account_id: s.metadata.get("account_id").cloned().unwrap_or_default(),
                    customer_id: s.customer,
                    plan: String::new(),
                    status: s.status,
                    amount_minor: item.price.unit_amount.unwrap_or(0),
                    currency: item.price.currency.clone(),
                    billing_interval: interval,
                    current_period_end: period_end.map(|t| t.saturating_mul(1_000)),
                    cancel_at_period_end: s.cancel_at_period_end,
                    started_at: s.start_date.unwrap_or(e.created).saturating_mul(1_000),
                    ended_at: s.ended_at.map(|t| t.saturating_mul(1_000)),
                    event_created: e.created,
                },
            })
        }
        other => Effect::Ignore(format!("event type {other} is not used")),
    })
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Applied now.
    Applied,
    /// Seen and applied before.
    Duplicate,
    /// Recorded; nothing for us to do.
    Ignored(String),
}

/// Verifies, parses and applies one delivery.
pub async fn handle(
    store: &Store,
    provider: &dyn PaymentProvider,
    payload: &[u8],
    signature: &str,
    now: i64,
) -> Result<Handled, WebhookError> {
    let keys = provider.webhook_keys().ok_or(WebhookError::BadSignature(
        "no webhook secret is configured",
    ))?;
    verify(payload, signature, keys, now.div_euclid(1_000))?;
    let event = parse(payload)?;
    let effect = effect_of(&event)?;
    let token = match store.claim_event(&event.id, &event.kind, now).await? {
        Claim::Done => return Ok(Handled::Duplicate),
        Claim::InFlight => return Err(WebhookError::Busy),
        Claim::Claimed(token) => token,
    };
    let outcome = apply(store, provider, &effect, now).await;
    match outcome {
        Ok(()) => {
            if !store.finish_event(&event.id, &token, now).await? {
                // We took a minute or more and another delivery took the
                // claim over; every effect is idempotent, so it finishes.
                tracing::warn!(event = %event.id, "event claim was taken over meanwhile");
            }
            Ok(match effect {
                Effect::Ignore(why) => Handled::Ignored(why),
                _ => Handled::Applied,
            })
        }
        Err(e) => {
            // Let the next delivery try again from the start.
            store.drop_claim(&event.id, &token).await?;
            Err(WebhookError::Failed(e))
        }
    }
}

async fn apply(
    store: &Store,
    provider: &dyn PaymentProvider,
    effect: &Effect,
    now: i64,
) -> Result<(), AccountError> {
    match effect {
        Effect::SeatsPaid {
            order_id,
            payment_intent,
        } => seats_paid(store, order_id, payment_intent.as_deref(), now).await,
        Effect::CheckoutExpired { order_id } => checkout_expired(store, order_id, now).await,
        Effect::Customer {
            account_id,
            customer_id,
        } => {
            if store.account_by_id(account_id).await?.is_some() {
                store.set_customer(account_id, customer_id, now).await?;
            }
            Ok(())
        }
        Effect::Charge(c) => {
            store.upsert_charge(c, now).await?;
            // A refund (ours, or one made in Stripe's dashboard) moves the
            // order to partially refunded or refunded.
            if let Some(pi) = &c.payment_intent {
                for order in store.orders_of_payment(pi).await? {
                    store.settle_refund_status(&order, now).await?;
                }
            }
            Ok(())
        }
        Effect::Dispute(d) => {
            store.upsert_dispute(d, now).await?;
            // Written on every delivery and kept once, so a retry after a
            // failure right here still flags the dispute.
            crate::safety::audit_once(
                store,
                &format!("dispute.opened:{}", d.id),
                None,
                "dispute.opened",
                ("charge", &d.charge_id),
                serde_json::json!({
                    "dispute": d.id, "amount_minor": d.amount_minor,
                    "currency": d.currency, "reason": d.reason,
                    "payment_intent": d.payment_intent,
                }),
                now,
            )
            .await?;
            Ok(())
        }
        Effect::Subscription(f) => {
            let mut row = f.row.clone();
            if row.account_id.is_empty() || store.account_by_id(&row.account_id).await?.is_none() {
                match store.account_of_customer(&row.customer_id).await? {
                    Some(a) => row.account_id = a,
                    None => {
                        tracing::warn!(subscription = %row.id, "a subscription of an unknown customer");
                        return Ok(());
                    }
                }
            }
            row.plan = provider
                .plans()
                .iter()
                .find(|p| p.price_id == f.price_id)
                .map_or_else(|| f.price_id.clone(), |p| p.name.clone());
            store
                .set_customer(&row.account_id, &row.customer_id, now)
                .await?;
            store.upsert_subscription(&row, now).await?;
            Ok(())
        }
        Effect::Ignore(_) => Ok(()),
    }
}

/// Checkout paid: the order is paid and its held seats confirmed; a seat
/// that went back meanwhile (its hold lapsed) gets its refund recorded at
/// once (the refund worker sends it) and the payer is told. Every step is conditional or keyed, so a retry after a
/// failure half-way (or a second event for the same payment) completes
/// what is missing and repeats nothing.
async fn seats_paid(
    store: &Store,
    order_id: &str,
    payment_intent: Option<&str>,
    now: i64,
) -> Result<(), AccountError> {
    let Some(order) = store.order(order_id).await? else {
        tracing::warn!(order = %order_id, "a payment for an unknown order");
        return Ok(());
    };
    store.mark_order_paid(order_id, payment_intent, now).await?;
    // Stripe may have reported the charge refunded before the payment.
    store.settle_refund_status(order_id, now).await?;
    crate::safety::audit_once(
        store,
        &format!("order.paid:{order_id}"),
        None,
        "order.paid",
        ("order", order_id),
        serde_json::json!({
            "account": order.account_id, "campaign": order.campaign_id,
            "amount_minor": order.amount_minor, "currency": order.currency,
            "payment_intent": payment_intent.or(order.payment_intent.as_deref()),
        }),
        now,
    )
    .await?;
    let mut refunded = Vec::new();
    for seat in store.order_seats(order_id).await? {
        if store.confirm_seat(&seat.id, now).await? {
            continue;
        }
        // Not held now. What was read above may be stale: decide on the
        // seat as it is. Confirmed (by another delivery of this payment,
        // or before) it stays; released without ever being confirmed, the
        // money for it goes back. A seat confirmed and then left was
        // refunded by policy when it was left.
        match store.seat_state(&seat.id).await? {
            Some((status, false)) if status == "released" => {}
            _ => continue,
        }
        // Recorded here, sent by the refund worker: the webhook answers
        // without waiting on Stripe.
        if let Some(r) = record_refund(
            store,
            &seat,
            seat.price_minor,
            "paid after the seat hold lapsed",
            None,
            now,
        )
        .await?
        {
            refunded.push(r);
        }
    }
    if refunded.is_empty() {
        return Ok(());
    }
    let title = store
        .campaign(&order.campaign_id)
        .await?
        .map_or_else(|| "the campaign".to_string(), |c| c.title);
    let total: i64 = refunded.iter().map(|r| r.amount_minor).sum();
    let seats = if refunded.len() == 1 {
        "a seat".to_string()
    } else {
        format!("{} seats", refunded.len())
    };
    // The payer paid (for every seat of a party), so the payer is told,
    // once however often this payment is processed.
    tell_once(
        store,
        &format!("refund-mail:{order_id}"),
        &order.account_id,
        &format!("Your payment for {title} is refunded"),
        |handle| {
            format!(
                "{handle}, your payment for {seats} in \"{title}\" arrived after the hold ran \
                 out and the seats had gone to someone else, so {total} minor units of {} are on \
                 their way back to the card you paid with. You can join again while seats are \
                 open.\n",
                order.currency
            )
        },
        now,
    )
    .await?;
    Ok(())
}

/// Checkout lapsed unpaid: the order expires and its held seats go back.
/// The waitlist moves up in the background ([`crate::seats::promote_waiting`]),
/// since seating the next in line opens a Stripe Checkout and the webhook
/// answers without waiting on Stripe.
async fn checkout_expired(store: &Store, order_id: &str, now: i64) -> Result<(), AccountError> {
    if store.order(order_id).await?.is_none() {
        return Ok(());
    }
    store.end_pending_order(order_id, "expired", now).await?;
    for seat in store.order_seats(order_id).await? {
        if seat.status == "held"
            && store.release_held_seat(&seat.id, now).await?
            && let Some(c) = store.campaign(&seat.campaign_id).await?
        {
            tell_once(
                store,
                &format!("hold-ended:{}", seat.id),
                &seat.account_id,
                &format!("Your seat hold in {} ran out", c.title),
                |handle| {
                    format!(
                        "{handle}, the checkout for your seat in \"{}\" ended unpaid, so the \
                         seat went back to the campaign. Nothing was charged. You can join \
                         again while seats are open.\n",
                        c.title
                    )
                },
                now,
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&str]) -> WebhookKeys {
        WebhookKeys {
            secrets: secrets.iter().map(|s| s.parse().unwrap()).collect(),
            tolerance_s: 300,
        }
    }

    #[test]
    fn a_signature_from_our_secret_is_accepted() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_a", 1_000);
        assert!(verify(body, &header, &keys(&["whsec_a"]), 1_000).is_ok());
    }

    #[test]
    fn any_v1_signature_in_the_header_may_match_any_of_our_secrets() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(body, "whsec_new", 1_000);
        let v1 = good.split_once(",v1=").unwrap().1;
        // Stripe signs with the old and the new secret while rotating.
        let header = format!("t=1000,v1={},v1={v1},v0=abc", "00".repeat(32));
        assert!(verify(body, &header, &keys(&["whsec_new"]), 1_000).is_ok());
        assert!(verify(body, &header, &keys(&["whsec_old", "whsec_new"]), 1_000).is_ok());
        assert!(verify(body, &header, &keys(&["whsec_old"]), 1_000).is_err());
    }

    #[test]
    fn a_changed_body_or_a_wrong_secret_is_refused() {
        let header = sign(b"one", "whsec_a", 1_000);
        assert!(verify(b"two", &header, &keys(&["whsec_a"]), 1_000).is_err());
        assert!(verify(b"one", &header, &keys(&["whsec_b"]), 1_000).is_err());
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let header = sign(b"x", "whsec_a", 1_000);
        for now in [1_300, 700] {
            assert!(verify(b"x", &header, &keys(&["whsec_a"]), now).is_ok());
        }
        for now in [1_301, 699] {
            assert!(verify(b"x", &header, &keys(&["whsec_a"]), now).is_err());
        }
    }

    #[test]
    fn headers_without_a_timestamp_or_a_v1_signature_are_refused() {
        for header in [
            "",
            "t=1000",
            "v1=00",
            "t=abc,v1=00",
            "garbage",
            "t=1000,v0=00",
        ] {
            assert!(
                verify(b"x", header, &keys(&["whsec_a"]), 1_000).is_err(),
                "{header}"
            );
        }
    }

    fn event(kind: &str, object: serde_json::Value) -> Event {
        Event {
            id: "evt_1".into(),
            kind: kind.into(),
            created: 1_700_000_000,
            data: EventData { object },
        }
    }

    #[test]
    fn a_paid_checkout_pays_the_order_named_in_its_metadata() {
        let e = event(
            "checkout.session.completed",
            serde_json::json!({"id": "cs_1", "mode": "payment", "payment_status": "paid",
                "payment_intent": "pi_1", "metadata": {"order_id": "o1"}}),
        );
        assert_eq!(
            effect_of(&e).unwrap(),
            Effect::SeatsPaid {
                order_id: "o1".into(),
                payment_intent: Some("pi_1".into())
            }
        );
    }

    #[test]
    fn an_unpaid_completed_checkout_waits_for_its_payment() {
        let e = event(
            "checkout.session.completed",
            serde_json::json!({"id": "cs_1", "mode": "payment", "payment_status": "unpaid",
                "metadata": {"order_id": "o1"}}),
        );
        assert!(matches!(effect_of(&e).unwrap(), Effect::Ignore(_)));
    }

    #[test]
    fn unknown_event_types_are_ignored_and_known_ones_with_bad_objects_are_malformed() {
        assert!(matches!(
            effect_of(&event("invoice.created", serde_json::json!({}))).unwrap(),
            Effect::Ignore(_)
        ));
        assert!(matches!(
            effect_of(&event("charge.refunded", serde_json::json!({"id": 5}))),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"{not json"),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn a_subscription_event_reads_its_price_interval_and_period() {
        let e = event(
            "customer.subscription.updated",
            serde_json::json!({"id": "sub_1", "customer": "cus_1", "status": "active",
                "cancel_at_period_end": true, "start_date": 1_600_000_000,
                "metadata": {"account_id": "acc"},
                "items": {"data": [{"current_period_end": 1_800_000_000,
                    "price": {"id": "price_y", "unit_amount": 9_900, "currency": "eur",
                        "recurring": {"interval": "year"}}}]}}),
        );
        let Effect::Subscription(f) = effect_of(&e).unwrap() else {
            panic!("not a subscription")
        };
        assert_eq!(f.price_id, "price_y");
        assert_eq!(f.row.billing_interval, "year");
        assert_eq!(f.row.amount_minor, 9_900);
        assert_eq!(f.row.current_period_end, Some(1_800_000_000_000));
        assert_eq!(f.row.started_at, 1_600_000_000_000);
        assert!(f.row.cancel_at_period_end);
        assert_eq!(f.row.account_id, "acc");
    }
}
