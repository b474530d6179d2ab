//! The Stripe provider: Checkout Sessions for seat orders and
//! subscriptions (and expiring those no longer wanted), refunds, customers
//! and the customer portal, through
//! async-stripe. Every call that creates something carries an idempotency
//! key made from our own id, so a retried call never makes a second one.
//!
//! Responses are read into the few fields we use (Stripe adds fields to
//! its objects over time; we never depend on the rest).

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData,
};

use super::webhook::WebhookKeys;
use super::{
    CheckoutRequest, PaymentProvider, PaymentStart, Plan, ProviderError, RefundRequest,
    SubscribeRequest,
};
use crate::config::Secret;

/// Stripe requires a Checkout Session to stay open at least 30 minutes
/// from when it receives the request; a hold a minute longer leaves room
/// for the request's way there and its retries.
pub const MIN_HOLD_MS: i64 = 31 * 60_000;
/// And at most 24 hours; the same minute of room the other way.
pub const MAX_HOLD_MS: i64 = (24 * 60 - 1) * 60_000;

/// What the Stripe provider is configured with.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// The secret API key (`sk_...`).
    pub secret_key: Secret,
    /// Where the API is (Stripe's, or a stand-in in tests).
    pub api_base: Option<String>,
    /// How webhooks are verified.
    pub webhook: WebhookKeys,
    /// The public address players reach the site at (for return pages).
    pub public_url: String,
    /// How long a seat is held for payment, ms (at least 30 minutes).
    pub hold_ms: i64,
    /// The subscription plans.
    pub plans: Vec<Plan>,
    /// Percent off seats for subscribers.
    pub subscriber_discount_percent: i64,
}

/// Stripe as the payment provider.
#[derive(Debug)]
pub struct StripeProvider {
    client: Client,
    settings: StripeSettings,
}

/// The fields of a Checkout Session we use.
#[derive(Debug, miniserde::Deserialize)]
struct SessionRef {
    id: String,
    url: Option<String>,
}

/// The fields of a Refund, Customer or portal session we use.
#[derive(Debug, miniserde::Deserialize)]
struct ObjectRef {
    id: String,
    url: Option<String>,
}

impl StripeProvider {
    /// A provider talking to Stripe (or `settings.api_base`).
    pub fn new(settings: StripeSettings) -> Result<StripeProvider, ProviderError> {
        if !(MIN_HOLD_MS..=MAX_HOLD_MS).contains(&settings.hold_ms) {
            return Err(ProviderError::Refused(
                "Stripe Checkout stays open between 30 minutes and 24 hours, so seat holds \
                 last 31 to 1439 minutes"
                    .into(),
            ));
        }
        let mut builder = ClientBuilder::new(settings.secret_key.expose())
            .request_strategy(RequestStrategy::Once)
            .timeout(std::time::Duration::from_secs(20));
        if let Some(base) = &settings.api_base {
            // The client appends `v1/...` to the base as given.
            builder = builder.url(format!("{}/", base.trim_end_matches('/')));
        }
        let client = builder
            .build()
            .map_err(|e| ProviderError::Refused(format!("the Stripe client: {e}")))?;
        Ok(StripeProvider { client, settings })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_url.trim_end_matches('/'))
    }

    /// Sends `req` with idempotency key `key`, retrying transient failures
    /// (network, 409, 429, 5xx) with backoff under the same key.
    async fn send<T: miniserde::Deserialize, R: StripeRequest + Sync>(
        &self,
        req: &R,
        key: &str,
    ) -> Result<T, ProviderError> {
        let key = IdempotencyKey::new(key)
            .map_err(|e| ProviderError::Refused(format!("idempotency key: {e}")))?;
        let mut attempt = 0u32;
        loop {
            let result = req
                .build()
                .customize::<T>()
                .request_strategy(RequestStrategy::Idempotent(key.clone()))
                .send(&self.client)
                .await;
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let err = classify(e);
                    attempt += 1;
                    if matches!(err, ProviderError::Unavailable(_)) && attempt < 3 {
                        tokio::time::sleep(std::time::Duration::from_millis(
                            200 * u64::from(attempt),
                        ))
                        .await;
                        continue;
                    }
                    return Err(err);
                }
            }
        }
    }
}

/// Sorts a Stripe failure into "try later" and "will not work".
fn classify(e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(api, status) => {
            let msg = api
                .message
                .clone()
                .unwrap_or_else(|| format!("status {status}"));
            if matches!(status, 409 | 429) || status >= 500 {
                ProviderError::Unavailable(msg)
            } else {
                ProviderError::Refused(msg)
            }
        }
        StripeError::ClientError(m) => ProviderError::Unavailable(m),
        StripeError::Timeout => ProviderError::Unavailable("timed out".into()),
        StripeError::JSONDeserialize(m) => {
            ProviderError::Unavailable(format!("an unreadable answer: {m}"))
        }
        StripeError::ConfigError(m) => ProviderError::Refused(m),
    }
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn hold_ms(&self) -> i64 {
        self.settings.hold_ms
    }

    async fn checkout(&self, order: &CheckoutRequest) -> Result<PaymentStart, ProviderError> {
        let currency = order
            .currency
            .parse::<stripe_types::Currency>()
            .map_err(|_| ProviderError::Refused(format!("currency {}", order.currency)))?;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(order.unit_minor);
        price.product_data = Some(stripe_checkout::checkout_session::ProductData::new(
            format!("Seat in {}", order.campaign_title),
        ));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(u64::try_from(order.quantity).unwrap_or(1));
        let metadata: HashMap<String, String> = HashMap::from([
            ("order_id".to_string(), order.order_id.clone()),
            ("campaign_id".to_string(), order.campaign_id.clone()),
            ("account_id".to_string(), order.account_id.clone()),
            ("seat_ids".to_string(), order.seat_ids.join(",")),
        ]);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let req = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .client_reference_id(order.order_id.clone())
            .metadata(metadata)
            .payment_intent_data(intent)
            .expires_at(order.expires_at.div_euclid(1_000))
            .success_url(self.url(&format!(
                "/campaigns/{}?checkout=success&order={}",
                order.campaign_id, order.order_id
            )))
            .cancel_url(self.url(&format!(
                "/campaigns/{}?checkout=cancelled&order={}",
                order.campaign_id, order.order_id
            )));
        let s: SessionRef = self
            .send(&req, &format!("checkout-{}", order.order_id))
            .await?;
        let url = s.url.ok_or_else(|| {
            ProviderError::Unavailable("a checkout session without a page".into())
        })?;
        Ok(PaymentStart::Pending {
            checkout_id: s.id,
            url,
        })
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<String, ProviderError> {
        let req = stripe_core::refund::CreateRefund::new()
            .payment_intent(refund.payment_intent.clone())
            .amount(refund.amount_minor)
            .metadata(HashMap::from([
                ("refund_id".to_string(), refund.refund_id.clone()),
                ("reason".to_string(), refund.reason.clone()),
            ]));
        let r: ObjectRef = self
            .send(&req, &format!("refund-{}", refund.refund_id))
            .await?;
        Ok(r.id)
    }

    async fn expire_checkout(&self, checkout_id: &str) -> Result<(), ProviderError> {
        let req = stripe_checkout::checkout_session::ExpireCheckoutSession::new(checkout_id);
        let _: SessionRef = self.send(&req, &format!("expire-{checkout_id}")).await?;
        Ok(())
    }

    fn plans(&self) -> &[Plan] {
        &self.settings.plans
    }

    fn subscriber_discount_percent(&self) -> i64 {
        self.settings.subscriber_discount_percent
    }

    async fn create_customer(&self, account_id: &str) -> Result<String, ProviderError> {
        let req = stripe_core::customer::CreateCustomer::new().metadata(HashMap::from([(
            "account_id".to_string(),
            account_id.to_string(),
        )]));
        let c: ObjectRef = self.send(&req, &format!("customer-{account_id}")).await?;
        Ok(c.id)
    }

    async fn subscribe(&self, req: &SubscribeRequest) -> Result<String, ProviderError> {
        let plan = self
            .settings
            .plans
            .iter()
            .find(|p| p.name == req.plan)
            .ok_or_else(|| ProviderError::Refused(format!("no plan named {}", req.plan)))?;
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(plan.price_id.clone());
        item.quantity = Some(1);
        let metadata = HashMap::from([
            ("account_id".to_string(), req.account_id.clone()),
            ("plan".to_string(), plan.name.clone()),
        ]);
        let mut sub = CreateCheckoutSessionSubscriptionData::new();
        sub.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .customer(req.customer_id.clone())
            .line_items(vec![item])
            .client_reference_id(req.account_id.clone())
            .metadata(metadata)
            .subscription_data(sub)
            .success_url(self.url("/me/subscription?checkout=success"))
            .cancel_url(self.url("/me/subscription?checkout=cancelled"));
        // One subscription checkout per account and plan per hour: a
        // double click gets the same page.
        let hour = jiff::Timestamp::now().as_second().div_euclid(3_600);
        let s: SessionRef = self
            .send(
                &session,
                &format!("subscribe-{}-{}-{hour}", req.account_id, plan.name),
            )
            .await?;
        s.url
            .ok_or_else(|| ProviderError::Unavailable("a checkout session without a page".into()))
    }

    async fn portal(&self, customer_id: &str) -> Result<String, ProviderError> {
        let req = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
            .customer(customer_id.to_string())
            .return_url(self.url("/me/subscription"));
        let minute = jiff::Timestamp::now().as_second().div_euclid(60);
        let p: ObjectRef = self
            .send(&req, &format!("portal-{customer_id}-{minute}"))
            .await?;
        p.url.ok_or_else(|| {
            ProviderError::Unavailable(format!("portal session {} has no page", p.id))
        })
    }

    fn webhook_keys(&self) -> Option<&WebhookKeys> {
        Some(&self.settings.webhook)
    }
}
