//! Billing over HTTP: Stripe's webhook (`/billing/stripe/webhook`, the raw
//! body verified before anything is read), my payments with receipts, my
//! subscription and its portal, a campaign's revenue for its game master,
//! and the admins' revenue report and dispute list.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::json::Json;
use super::{AdminUser, AppState, AuthUser};
use crate::accounts::{AccountError, Role};
use crate::billing::reports::{self, CampaignRevenue, Payment, Revenue};
use crate::billing::webhook::{self, Handled, WebhookError};
use crate::billing::{Plan, SubscribeRequest, subscription_is_live};
use crate::store::billing::OrderFilter;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/billing/stripe/webhook", post(stripe_webhook))
        .route("/me/payments", get(my_payments))
        .route("/me/subscription", get(my_subscription).post(subscribe))
        .route("/me/billing-portal", post(billing_portal))
        .route("/campaigns/{id}/revenue", get(campaign_revenue))
        .route("/admin/revenue", get(admin_revenue))
        .route("/admin/disputes", get(admin_disputes))
}

/// What a webhook delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// applied, duplicate or ignored.
    pub outcome: String,
    /// Why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Stripe's webhook. The `Stripe-Signature` header must carry a valid `v1`
/// signature of the raw body within the timestamp tolerance; each event
/// is applied once however often it comes.
#[utoipa::path(post, path = "/api/v1/billing/stripe/webhook", tag = "billing", request_body(content = String, description = "the event, as Stripe sent it"), responses(
    (status = 200, body = WebhookAck, description = "applied, a repeat, or nothing for us"),
    (status = 400, body = ErrorBody, description = "bad or missing signature, stale timestamp, or not an event"),
    (status = 404, body = ErrorBody, description = "this server does not take Stripe payments"),
    (status = 409, body = ErrorBody, description = "this event is being processed by another delivery; Stripe retries"),
    (status = 500, body = ErrorBody, description = "processing failed; Stripe retries")
))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<WebhookAck>, ApiError> {
    if state.payments.webhook_keys().is_none() {
        return Err(ApiError::NotFound);
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = state.clock.now();
    match webhook::handle(&state.store, state.payments.as_ref(), &body, signature, now).await {
        Ok(handled) => {
            let (outcome, reason) = match handled {
                Handled::Applied => ("applied", None),
                Handled::Duplicate => ("duplicate", None),
                Handled::Ignored(why) => ("ignored", Some(why)),
            };
            Ok(axum::Json(WebhookAck {
                outcome: outcome.into(),
                reason,
            }))
        }
        Err(e @ (WebhookError::BadSignature(_) | WebhookError::Malformed(_))) => {
            tracing::warn!(error = %e, "webhook refused");
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(WebhookError::Busy) => Err(ApiError::Conflict {
            field: None,
            message: WebhookError::Busy.to_string(),
        }),
        Err(WebhookError::Failed(e)) => Err(ApiError::Internal(anyhow::Error::new(e))),
    }
}

/// My payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payments {
    /// Newest first.
    pub payments: Vec<Payment>,
}

/// My payments, newest first, with Stripe's receipts and refunds.
#[utoipa::path(get, path = "/api/v1/me/payments", tag = "billing", security(("bearer" = [])), responses(
    (status = 200, body = Payments, description = "my payments"),
    (status = 401, body = ErrorBody, description = "not logged in")
))]
pub async fn my_payments(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<Payments>, ApiError> {
    let orders = state
        .store
        .orders_with_money(Some((OrderFilter::Account, &user.id)))
        .await?;
    Ok(axum::Json(Payments {
        payments: orders.iter().map(Payment::from).collect(),
    }))
}

/// A subscription as its subscriber sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// Stripe's id.
    pub id: String,
    /// monthly or annual.
    pub plan: String,
    /// Stripe's status.
    pub status: String,
    /// Price per interval, minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// month or year.
    pub interval: String,
    /// End of the paid period, Unix ms.
    pub current_period_end: Option<i64>,
    /// Ends at the end of the period.
    pub cancel_at_period_end: bool,
    /// Gives its discount now.
    pub live: bool,
}

/// My subscription state and the plans on offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySubscription {
    /// Subscriptions, newest first.
    pub subscriptions: Vec<SubscriptionView>,
    /// Percent off seats while a subscription is live.
    pub discount_percent: i64,
    /// Plans on offer (none in test mode).
    pub plans: Vec<Plan>,
}

/// My subscriptions, the discount they give, and the plans on offer.
#[utoipa::path(get, path = "/api/v1/me/subscription", tag = "billing", security(("bearer" = [])), responses(
    (status = 200, body = MySubscription, description = "my subscriptions"),
    (status = 401, body = ErrorBody, description = "not logged in")
))]
pub async fn my_subscription(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::Json<MySubscription>, ApiError> {
    let now = state.clock.now();
    let subs = state.store.subscriptions_of(&user.id).await?;
    Ok(axum::Json(MySubscription {
        subscriptions: subs
            .into_iter()
            .map(|s| SubscriptionView {
                live: subscription_is_live(&s, now),
                id: s.id,
                plan: s.plan,
                status: s.status,
                amount_minor: s.amount_minor,
                currency: s.currency,
                interval: s.billing_interval,
                current_period_end: s.current_period_end,
                cancel_at_period_end: s.cancel_at_period_end,
            })
            .collect(),
        discount_percent: state.payments.subscriber_discount_percent(),
        plans: state.payments.plans().to_vec(),
    }))
}

/// A plan to subscribe to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// monthly or annual.
    pub plan: String,
}

/// A page to go to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLink {
    /// The page.
    pub url: String,
}

/// Starts a subscription: answers the Stripe Checkout page to pay on. The
/// subscription counts once Stripe reports it (webhooks).
#[utoipa::path(post, path = "/api/v1/me/subscription", tag = "billing", request_body = SubscribeBody, security(("bearer" = [])), responses(
    (status = 201, body = PageLink, description = "pay here"),
    (status = 409, body = ErrorBody, description = "already subscribed, or subscriptions are not offered (test mode)"),
    (status = 422, body = ErrorBody, description = "no such plan (field plan)"),
    (status = 503, body = ErrorBody, description = "Stripe is not answering; try again")
))]
pub async fn subscribe(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<SubscribeBody>,
) -> Result<(StatusCode, axum::Json<PageLink>), ApiError> {
    let plans = state.payments.plans();
    if plans.is_empty() {
        return Err(ApiError::Conflict {
            field: None,
            message: "subscriptions are not offered on this server (test mode: no real money)"
                .into(),
        });
    }
    if !plans.iter().any(|p| p.name == body.plan) {
        return Err(ApiError::Invalid {
            field: "plan".into(),
            message: format!(
                "must be one of {}",
                plans
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let now = state.clock.now();
    if state
        .store
        .subscriptions_of(&user.id)
        .await?
        .iter()
        .any(|s| subscription_is_live(s, now))
    {
        return Err(ApiError::Conflict {
            field: None,
            message: "you already have a live subscription; change it in the billing portal".into(),
        });
    }
    let customer = customer(&state, &user.id, now).await?;
    let url = state
        .payments
        .subscribe(&SubscribeRequest {
            account_id: user.id.clone(),
            customer_id: customer,
            plan: body.plan,
        })
        .await
        .map_err(AccountError::from)?;
    Ok((StatusCode::CREATED, axum::Json(PageLink { url })))
}

/// The provider's customer for an account, made on first need.
async fn customer(state: &AppState, account: &str, now: i64) -> Result<String, ApiError> {
    if let Some(c) = state.store.customer_of(account).await? {
        return Ok(c);
    }
    let c = state
        .payments
        .create_customer(account)
        .await
        .map_err(AccountError::from)?;
    state.store.set_customer(account, &c, now).await?;
    // The first one stays if two requests raced.
    Ok(state.store.customer_of(account).await?.unwrap_or(c))
}

/// A page in Stripe's customer portal to manage my subscription (change
/// plan, cancel, payment method, invoices).
#[utoipa::path(post, path = "/api/v1/me/billing-portal", tag = "billing", security(("bearer" = [])), responses(
    (status = 201, body = PageLink, description = "the portal"),
    (status = 409, body = ErrorBody, description = "no subscription yet, or subscriptions are not offered"),
    (status = 503, body = ErrorBody, description = "Stripe is not answering; try again")
))]
pub async fn billing_portal(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, axum::Json<PageLink>), ApiError> {
    let Some(customer) = state.store.customer_of(&user.id).await? else {
        return Err(ApiError::Conflict {
            field: None,
            message: "you have no subscription to manage yet".into(),
        });
    };
    let url = state
        .payments
        .portal(&customer)
        .await
        .map_err(AccountError::from)?;
    Ok((StatusCode::CREATED, axum::Json(PageLink { url })))
}

/// A campaign's revenue: gross, refunds and net per currency, and how
/// many seat holds became payments. Its game master or an admin.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/revenue", tag = "billing", params(("id" = String, Path, description = "the campaign")), security(("bearer" = [])), responses(
    (status = 200, body = CampaignRevenue, description = "the revenue"),
    (status = 404, body = ErrorBody, description = "no such campaign of mine")
))]
pub async fn campaign_revenue(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<CampaignRevenue>, ApiError> {
    let c =
        crate::campaigns::managed(&state.store, &id, &user.id, user.role == Role::Admin).await?;
    let orders = state
        .store
        .orders_with_money(Some((OrderFilter::Campaign, &c.id)))
        .await?;
    Ok(axum::Json(reports::campaign_revenue(
        &c.id, &c.title, &orders,
    )))
}

/// Revenue for admins: gross, refunds and net per currency, by campaign and
/// by month (refunds in the month they were made); seat conversion;
/// monthly recurring revenue and churn.
#[utoipa::path(get, path = "/api/v1/admin/revenue", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, body = Revenue, description = "the report"),
    (status = 403, body = ErrorBody, description = "not an admin with a second factor")
))]
pub async fn admin_revenue(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<axum::Json<Revenue>, ApiError> {
    let orders = state.store.orders_with_money(None).await?;
    let refunds = state.store.refund_moments().await?;
    let subs = state.store.all_subscriptions().await?;
    Ok(axum::Json(reports::revenue(
        &orders,
        &refunds,
        &subs,
        state.clock.now(),
    )))
}

/// A dispute flagged for admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeView {
    /// Stripe's dispute id.
    pub id: String,
    /// The disputed charge.
    pub charge_id: String,
    /// Our order, when known.
    pub order_id: Option<String>,
    /// The payer, when known.
    pub account_id: Option<String>,
    /// Disputed, minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The card holder's reason.
    pub reason: String,
    /// Stripe's status.
    pub status: String,
    /// First seen, Unix ms.
    pub opened_at: i64,
}

/// Disputes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disputes {
    /// Newest first.
    pub disputes: Vec<DisputeView>,
}

/// Disputes (chargebacks) Stripe reported, newest first, with the order.
#[utoipa::path(get, path = "/api/v1/admin/disputes", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, body = Disputes, description = "the disputes"),
    (status = 403, body = ErrorBody, description = "not an admin with a second factor")
))]
pub async fn admin_disputes(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<axum::Json<Disputes>, ApiError> {
    let out = state
        .store
        .disputes()
        .await?
        .into_iter()
        .map(|(d, order)| DisputeView {
            id: d.id,
            charge_id: d.charge_id,
            order_id: order.as_ref().map(|(o, _)| o.clone()),
            account_id: order.map(|(_, a)| a),
            amount_minor: d.amount_minor,
            currency: d.currency,
            reason: d.reason,
            status: d.status,
            opened_at: d.created_at,
        })
        .collect();
    Ok(axum::Json(Disputes { disputes: out }))
}
