//! Stripe billing against the local stand-in for Stripe's API: checkout
//! sessions for seat holds, verified webhooks applied exactly once in any
//! order, refunds in money, disputes, subscriptions and revenue.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{START_MS, TestApp, TestOptions, error_code, spawn_app_options};
use crate::stripe_standin::{SECRET_KEY, StripeStandin};
use orchestrator::billing::stripe::{StripeProvider, StripeSettings};
use orchestrator::billing::webhook::{WebhookKeys, sign};
use orchestrator::billing::{PaymentProvider, Plan};

const WEBHOOK_SECRET: &str = "whsec_standin_current";
const OLD_WEBHOOK_SECRET: &str = "whsec_standin_previous";

struct Billing {
    app: TestApp,
    stripe: StripeStandin,
    provider: Arc<dyn PaymentProvider>,
    next_event: std::cell::Cell<u32>,
}

async fn spawn() -> Billing {
    let now = Arc::new(AtomicI64::new(START_MS));
    let stripe = StripeStandin::start(now.clone()).await;
    let provider: Arc<dyn PaymentProvider> = Arc::new(
        StripeProvider::new(StripeSettings {
            secret_key: SECRET_KEY.parse().unwrap(),
            api_base: Some(stripe.url.clone()),
            webhook: WebhookKeys {
                secrets: vec![WEBHOOK_SECRET.parse().unwrap()],
                tolerance_s: 300,
            },
            public_url: "https://play.example".into(),
            hold_ms: 35 * 60_000,
            plans: vec![
                Plan {
                    name: "monthly".into(),
                    price_id: "price_monthly".into(),
                },
                Plan {
                    name: "annual".into(),
                    price_id: "price_annual".into(),
                },
            ],
            subscriber_discount_percent: 10,
        })
        .unwrap(),
    );
    let app = spawn_app_options(TestOptions {
        payments: provider.clone(),
        clock: Some(now),
        ..TestOptions::default()
    })
    .await;
    Billing {
        app,
        stripe,
        provider,
        next_event: std::cell::Cell::new(0),
    }
}

impl Billing {
    fn now(&self) -> i64 {
        self.app.now.load(Ordering::SeqCst)
    }

    /// A published public campaign with `players` seats; returns (id, gm).
    async fn campaign(&self, gm_handle: &str, players: u32) -> (String, String) {
        let gm = self.app.game_master(gm_handle).await;
        let id = self
            .app
            .published_campaign(
                &gm,
                crate::helpers::campaign_body(&format!("Paid Test {gm_handle}"), players, 7),
            )
            .await;
        (id, gm)
    }

    /// A two-seat campaign where Ann and Bob hold seats and Cyd waits;
    /// returns its id and their tokens.
    async fn full_with_one_waiting(&self) -> (String, [String; 3]) {
        let (id, _) = self.campaign("keeper", 2).await;
        let (_, ann) = self.app.user("ann").await;
        let (_, bob) = self.app.user("bob").await;
        let (_, cyd) = self.app.user("cyd").await;
        assert_eq!(self.join(&id, &ann).await.0, StatusCode::CREATED);
        assert_eq!(self.join(&id, &bob).await.0, StatusCode::CREATED);
        assert_eq!(self.join(&id, &cyd).await.0, StatusCode::ACCEPTED);
        (id, [ann, bob, cyd])
    }

    /// Lead and Mate, friends in one party, in a four-seat campaign whose
    /// checkout Lead starts for both; returns Lead's id and token, Mate's
    /// token and the join's answer.
    async fn party_checkout(&self) -> (String, String, String, Value) {
        let (id, _) = self.campaign("keeper", 4).await;
        let (lead_id, lead) = self.app.user("lead").await;
        let (_, mate) = self.app.user("mate").await;
        self.app.befriend(&lead, &mate, "mate").await;
        self.app.party(&lead, &[("mate", mate.as_str())]).await;
        let (status, j) = self
            .app
            .json(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/join"),
                Some(&lead),
                Some(json!({"party": true})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{j}");
        (lead_id, lead, mate, j)
    }

    async fn join(&self, id: &str, token: &str) -> (StatusCode, Value) {
        self.app
            .json(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/join"),
                Some(token),
                Some(json!({})),
            )
            .await
    }

    /// My newest payment.
    async fn payment(&self, token: &str) -> Value {
        let (status, p) = self
            .app
            .json(Method::GET, "/api/v1/me/payments", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        p["payments"][0].clone()
    }

    async fn seats(&self, token: &str) -> Value {
        let (status, s) = self
            .app
            .json(Method::GET, "/api/v1/me/seats", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        s["seats"].clone()
    }

    /// A Stripe event of `kind` about `object`, created `age_s` seconds ago.
    fn event(&self, kind: &str, object: Value, age_s: i64) -> Value {
        let n = self.next_event.get() + 1;
        self.next_event.set(n);
        json!({
            "id": format!("evt_test_{n}"), "object": "event", "type": kind,
            "created": self.now() / 1_000 - age_s, "livemode": false,
            "data": {"object": object}
        })
    }

    /// Delivers `body` signed like Stripe with `secret` at time `t` (s).
    async fn deliver_raw(&self, body: &str, signature: Option<String>) -> (StatusCode, Value) {
        let mut req = self
            .app
            .client
            .post(format!(
                "{}/api/v1/billing/stripe/webhook",
                self.app.address
            ))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(sig) = signature {
            req = req.header("stripe-signature", sig);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn deliver(&self, event: &Value) -> (StatusCode, Value) {
        let body = event.to_string();
        let sig = sign(body.as_bytes(), WEBHOOK_SECRET, self.now() / 1_000);
        self.deliver_raw(&body, Some(sig)).await
    }

    /// One round of the background refund worker.
    async fn send_refunds(&self) -> usize {
        orchestrator::billing::send_refunds(&self.app.store, self.provider.as_ref(), self.now())
            .await
            .unwrap()
    }

    /// Queued mails to `email` whose subject contains `subject`.
    async fn mails(&self, email: &str, subject: &str) -> usize {
        self.app
            .store
            .unsent_mail(1_000)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.1 == email && m.2.contains(subject))
            .count()
    }

    /// Delivers `event` until it is taken (a delivery that finds it in
    /// flight answers 409, and Stripe delivers again).
    async fn deliver_until_taken(&self, event: &Value) -> Value {
        for _ in 0..50 {
            let (status, ack) = self.deliver(event).await;
            match status {
                StatusCode::OK => return ack,
                StatusCode::CONFLICT => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => panic!("{other}: {ack}"),
            }
        }
        panic!("the event stayed in flight")
    }

    /// Audit entries of `action`, read from the store (admin tokens do not
    /// outlive a test's clock moving on).
    async fn audited(&self, action: &str) -> Vec<orchestrator::store::safety::AuditRow> {
        let mut all = self.app.store.audit_page(None, 1_000).await.unwrap();
        all.retain(|e| e.action == action);
        all
    }

    async fn audit_count(&self, admin: &str, action: &str) -> usize {
        let (status, a) = self
            .app
            .json(
                Method::GET,
                "/api/v1/admin/audit?limit=100",
                Some(admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{a}");
        a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .count()
    }
}

fn session_completed(order: &Value, pi: &str) -> Value {
    json!({
        "id": order["checkout_id"].as_str().unwrap_or("cs_test_x"), "object": "checkout.session",
        "mode": "payment", "status": "complete", "payment_status": "paid",
        "payment_intent": pi, "client_reference_id": order["order_id"],
        "metadata": {"order_id": order["order_id"]},
        "amount_total": order["amount_minor"], "currency": order["currency"]
    })
}

fn session_expired(order: &Value) -> Value {
    json!({
        "id": "cs_test_expired", "object": "checkout.session", "mode": "payment",
        "status": "expired", "payment_status": "unpaid", "payment_intent": null,
        "client_reference_id": order["order_id"], "metadata": {"order_id": order["order_id"]}
    })
}

fn charge(id: &str, pi: &str, amount: i64, refunded: i64) -> Value {
    json!({
        "id": id, "object": "charge", "payment_intent": pi, "amount": amount,
        "amount_refunded": refunded, "refunded": refunded >= amount, "currency": "eur",
        "paid": true, "receipt_url": format!("https://pay.stripe.com/receipts/{id}")
    })
}

/// A fixed shuffle, so failures reproduce.
fn shuffled<T: Clone>(items: &[T], times: usize) -> Vec<T> {
    let mut out: Vec<T> = (0..times).flat_map(|_| items.iter().cloned()).collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap();
        out.swap(i, j);
    }
    out
}

#[tokio::test]
async fn a_seat_hold_opens_a_stripe_checkout_for_the_quoted_price_with_the_order_as_reference() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (status, j) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::CREATED, "{j}");
    assert_eq!(j["payment"], "stripe");
    let seat = &j["seats"][0];
    assert_eq!(seat["status"], "held");
    let url = j["checkout_url"].as_str().unwrap();
    assert!(url.starts_with("https://checkout.stripe.com/"), "{url}");
    // Stripe Checkout stays open 30 minutes at least; the hold (35 minutes
    // here) and the session expire together.
    let expires = seat["hold_expires_at"].as_i64().unwrap();
    assert_eq!(expires, b.now() + 35 * 60_000);

    let sessions = b.stripe.seen("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    let order = b.payment(&ann).await;
    let order_id = order["order_id"].as_str().unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["checkout_url"], url);
    assert_eq!(s.param("mode"), Some("payment"));
    assert_eq!(s.param("client_reference_id"), Some(order_id));
    assert_eq!(s.param("metadata[order_id]"), Some(order_id));
    assert_eq!(s.param("metadata[seat_ids]"), seat["id"].as_str());
    assert_eq!(
        s.param("line_items[0][price_data][unit_amount]"),
        Some(seat["price_minor"].to_string().as_str())
    );
    assert_eq!(s.param("line_items[0][quantity]"), Some("1"));
    assert_eq!(
        s.param("line_items[0][price_data][currency]"),
        seat["currency"].as_str()
    );
    assert_eq!(
        s.param("expires_at"),
        Some((expires / 1_000).to_string().as_str())
    );
    assert!(s.param("success_url").unwrap().starts_with(&format!(
        "https://play.example/campaigns/{id}?checkout=success"
    )));
    assert!(
        s.param("cancel_url")
            .unwrap()
            .contains("checkout=cancelled")
    );
    assert_eq!(
        s.idempotency_key.as_deref(),
        Some(format!("checkout-{order_id}").as_str())
    );
    // Coming back from the checkout page confirms nothing: only a
    // verified webhook does.
    assert_eq!(b.seats(&ann).await[0]["status"], "held");
}

#[tokio::test]
async fn a_rate_limited_or_failing_stripe_is_retried_under_one_key_and_makes_one_session() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.stripe.fail_next(429, 1);
    b.stripe.fail_next(500, 1);
    let (status, j) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let seen = b.stripe.seen("/v1/checkout/sessions");
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        [429, 500, 200]
    );
    let keys: std::collections::BTreeSet<_> =
        seen.iter().map(|s| s.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(b.stripe.created("/v1/checkout/sessions").len(), 1);
}

#[tokio::test]
async fn a_checkout_stripe_refuses_or_cannot_take_gives_the_seat_back_and_charges_nothing() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 2).await;
    let (_, ann) = b.app.user("ann").await;
    b.stripe.fail_next(400, 1);
    let (status, j) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::CONFLICT, "{j}");
    assert!(j["error"]["message"].as_str().unwrap().contains("refused"));
    b.stripe.fail_next(503, 3);
    let (status, j) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{j}");
    assert_eq!(error_code(&j), "unavailable");
    assert!(b.seats(&ann).await.as_array().unwrap().is_empty());
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!((c.seats_taken, c.status.as_str()), (0, "published"));
    let (_, p) = b
        .app
        .json(Method::GET, "/api/v1/me/payments", Some(&ann), None)
        .await;
    assert!(
        p["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "failed")
    );
    // Stripe is back: the same player joins.
    assert_eq!(b.join(&id, &ann).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn verified_payments_confirm_seats_once_however_often_and_in_whatever_order_they_come() {
    let b = spawn().await;
    let (admin_id, admin) = b.app.admin("root").await;
    let _ = admin_id;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (_, bob) = b.app.user("bob").await;
    assert_eq!(b.join(&id, &ann).await.0, StatusCode::CREATED);
    assert_eq!(b.join(&id, &bob).await.0, StatusCode::CREATED);
    let ann_order = b.payment(&ann).await;
    let bob_order = b.payment(&bob).await;
    let amount = ann_order["amount_minor"].as_i64().unwrap();
    let events = vec![
        b.event(
            "checkout.session.completed",
            session_completed(&ann_order, "pi_ann"),
            20,
        ),
        b.event(
            "charge.succeeded",
            charge("ch_ann", "pi_ann", amount, 0),
            21,
        ),
        b.event(
            "checkout.session.completed",
            session_completed(&bob_order, "pi_bob"),
            10,
        ),
        b.event(
            "charge.succeeded",
            charge("ch_bob", "pi_bob", amount, 0),
            11,
        ),
        b.event("payment_intent.created", json!({"id": "pi_ann"}), 30),
    ];
    for e in shuffled(&events, 10) {
        let (status, ack) = b.deliver(&e).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
    }
    for token in [&ann, &bob] {
        assert_eq!(b.seats(token).await[0]["status"], "confirmed");
        let p = b.payment(token).await;
        assert_eq!(p["status"], "paid");
        assert!(
            p["receipt_url"]
                .as_str()
                .unwrap()
                .starts_with("https://pay.stripe.com/receipts/ch_")
        );
        assert_eq!(p["refunded_minor"], 0);
    }
    assert_eq!(b.audit_count(&admin, "order.paid").await, 2);
    assert!(b.stripe.seen("/v1/refunds").is_empty());
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 2);
}

#[tokio::test]
async fn a_payment_after_the_hold_lapsed_and_the_seat_went_on_is_refunded_at_once() {
    let b = spawn().await;
    let (id, [ann, _, _]) = b.full_with_one_waiting().await;
    let ann_order = b.payment(&ann).await;
    // Ann's hold runs out unpaid; Cyd moves up with a hold and a checkout.
    b.app.advance_ms(35 * 60_000 + 1);
    // Access tokens last 15 minutes: log in again.
    let (ann, bob, cyd) = (
        b.app.log_in("ann").await.0,
        b.app.log_in("bob").await.0,
        b.app.log_in("cyd").await.0,
    );
    let bob_order = b.payment(&bob).await;
    b.deliver(&b.event(
        "checkout.session.completed",
        session_completed(&bob_order, "pi_bob"),
        0,
    ))
    .await;
    orchestrator::seats::release_lapsed_holds(&b.app.store, b.provider.as_ref(), None, b.now())
        .await
        .unwrap();
    assert!(b.seats(&ann).await.as_array().unwrap().is_empty());
    assert_eq!(b.seats(&bob).await[0]["status"], "confirmed");
    assert_eq!(b.seats(&cyd).await[0]["status"], "held");
    let cyd_order = b.payment(&cyd).await;
    assert!(cyd_order["checkout_url"].is_string());
    let mail = b.app.store.unsent_mail(100).await.unwrap();
    assert!(mail.iter().any(
        |m| m.1 == "cyd@example.com" && m.3.contains("Pay here: https://checkout.stripe.com/")
    ));

    // Ann's money arrives late, ten times over.
    let late = b.event(
        "checkout.session.completed",
        session_completed(&ann_order, "pi_ann"),
        0,
    );
    for _ in 0..10 {
        assert_eq!(b.deliver(&late).await.0, StatusCode::OK);
    }
    // The webhook records the refund and answers; the refund worker sends
    // it.
    assert!(b.stripe.seen("/v1/refunds").is_empty());
    assert_eq!(
        b.payment(&ann).await["refund_pending_minor"],
        ann_order["amount_minor"]
    );
    b.send_refunds().await;
    b.send_refunds().await;
    let refunds = b.stripe.seen("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].param("payment_intent"), Some("pi_ann"));
    assert_eq!(
        refunds[0].param("amount"),
        Some(ann_order["amount_minor"].to_string().as_str())
    );
    assert!(
        refunds[0]
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with("refund-")
    );
    let p = b.payment(&ann).await;
    assert_eq!(
        (p["status"].as_str(), p["refunded_minor"].clone()),
        (Some("refunded"), ann_order["amount_minor"].clone())
    );
    assert!(b.seats(&ann).await.as_array().unwrap().is_empty());
    let mail = b.app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "ann@example.com" && m.2.contains("refunded"))
    );
    // Nobody was seated twice.
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 2);
}

#[tokio::test]
async fn an_expired_checkout_frees_the_seat_for_the_next_in_line() {
    let b = spawn().await;
    let (id, [ann, _, cyd]) = b.full_with_one_waiting().await;
    let ann_order = b.payment(&ann).await;
    let expired = b.event("checkout.session.expired", session_expired(&ann_order), 0);
    for _ in 0..10 {
        assert_eq!(b.deliver(&expired).await.0, StatusCode::OK);
    }
    assert_eq!(b.payment(&ann).await["status"], "expired");
    assert!(b.seats(&ann).await.as_array().unwrap().is_empty());
    // The webhook only frees the seat (it answers without waiting on
    // Stripe); the background round seats the next in line.
    assert_eq!(b.stripe.seen("/v1/checkout/sessions").len(), 2);
    assert!(b.seats(&cyd).await.as_array().unwrap().is_empty());
    let seated = orchestrator::seats::promote_waiting(&b.app.store, b.provider.as_ref(), b.now())
        .await
        .unwrap();
    assert_eq!(seated, 1);
    assert_eq!(b.seats(&cyd).await[0]["status"], "held");
    assert_eq!(b.stripe.created("/v1/checkout/sessions").len(), 3);
    // Nothing more to do on the next round.
    assert_eq!(
        orchestrator::seats::promote_waiting(&b.app.store, b.provider.as_ref(), b.now())
            .await
            .unwrap(),
        0
    );
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 2);
}

#[tokio::test]
async fn refunds_go_through_stripe_once_with_a_key_and_an_audit_entry() {
    let b = spawn().await;
    let (_, admin) = b.app.admin("root").await;
    let (id, gm) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (bob_id, bob) = b.app.user("bob").await;
    b.join(&id, &ann).await;
    b.join(&id, &bob).await;
    for (token, pi) in [(&ann, "pi_ann"), (&bob, "pi_bob")] {
        let o = b.payment(token).await;
        b.deliver(&b.event("checkout.session.completed", session_completed(&o, pi), 0))
            .await;
    }
    let price = b.payment(&ann).await["amount_minor"].as_i64().unwrap();
    // Ann leaves before the first session; Stripe is busy the first time.
    b.stripe.fail_next(500, 3);
    let (status, left) = b
        .app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left["refund_minor"], price);
    assert_eq!(b.payment(&ann).await["refund_pending_minor"], price);
    // The sender retries later (after a backoff) under the same key.
    b.app.advance_ms(5_000);
    assert_eq!(b.send_refunds().await, 1);
    let seen = b.stripe.seen("/v1/refunds");
    assert_eq!(seen.iter().filter(|s| s.status == 200).count(), 1);
    let keys: std::collections::BTreeSet<_> =
        seen.iter().map(|s| s.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(seen.last().unwrap().param("payment_intent"), Some("pi_ann"));
    let p = b.payment(&ann).await;
    assert_eq!(
        (
            p["refunded_minor"].as_i64(),
            p["refund_pending_minor"].as_i64()
        ),
        (Some(price), Some(0))
    );
    // Stripe then reports the charge refunded (several times, out of order).
    let partial = b.event(
        "charge.refunded",
        charge("ch_ann", "pi_ann", price, price),
        0,
    );
    let older = b.event("charge.succeeded", charge("ch_ann", "pi_ann", price, 0), 60);
    for e in shuffled(&[partial, older], 5) {
        assert_eq!(b.deliver(&e).await.0, StatusCode::OK);
    }
    assert_eq!(b.payment(&ann).await["refunded_minor"], price);
    assert_eq!(b.payment(&ann).await["refund_status"], "full");
    assert_eq!(b.payment(&ann).await["status"], "refunded");
    // The game master cancels: Bob is refunded in full.
    let (status, _) = b
        .app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/cancel"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let bob_refund = b
        .stripe
        .seen("/v1/refunds")
        .into_iter()
        .filter(|s| s.param("payment_intent") == Some("pi_bob"))
        .collect::<Vec<_>>();
    assert_eq!(bob_refund.len(), 1);
    assert_eq!(
        bob_refund[0].param("amount"),
        Some(price.to_string().as_str())
    );
    assert_eq!(b.audit_count(&admin, "refund.create").await, 2);
    let _ = bob_id;
}

#[tokio::test]
async fn disputes_are_flagged_for_admins_once() {
    let b = spawn().await;
    let (_, admin) = b.app.admin("root").await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (ann_id, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    b.deliver(&b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    ))
    .await;
    let dispute = json!({"id": "dp_1", "object": "dispute", "charge": "ch_ann", "payment_intent": "pi_ann",
        "amount": o["amount_minor"], "currency": "eur", "reason": "fraudulent", "status": "needs_response"});
    let opened = b.event("charge.dispute.created", dispute.clone(), 5);
    for _ in 0..10 {
        assert_eq!(b.deliver(&opened).await.0, StatusCode::OK);
    }
    let (status, d) = b
        .app
        .json(Method::GET, "/api/v1/admin/disputes", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["disputes"].as_array().unwrap().len(), 1);
    assert_eq!(d["disputes"][0]["order_id"], o["order_id"]);
    assert_eq!(d["disputes"][0]["account_id"], ann_id);
    assert_eq!(d["disputes"][0]["status"], "needs_response");
    assert_eq!(b.audit_count(&admin, "dispute.opened").await, 1);
    assert_eq!(
        b.app
            .json(Method::GET, "/api/v1/admin/disputes", Some(&ann), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_bad_events_are_refused_and_change_nothing() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    let e = b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    );
    let body = e.to_string();
    let now_s = b.now() / 1_000;
    let refused = [
        None,
        Some(String::new()),
        Some("t=abc,v1=00".to_string()),
        Some(sign(body.as_bytes(), "whsec_someone_else", now_s)),
        Some(sign(body.as_bytes(), WEBHOOK_SECRET, now_s - 301)),
        Some(sign(body.as_bytes(), WEBHOOK_SECRET, now_s + 301)),
        Some(sign(b"{\"tampered\":true}", WEBHOOK_SECRET, now_s)),
        Some(sign(body.as_bytes(), WEBHOOK_SECRET, now_s).replace("v1=", "v0=")),
    ];
    for sig in refused {
        let (status, r) = b.deliver_raw(&body, sig.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sig:?}: {r}");
        assert_eq!(error_code(&r), "bad_request");
    }
    // Signed but not an event, or an event we use with a broken object.
    for bad in [
        "{not json",
        "[]",
        r#"{"id":"evt_x","type":"charge.refunded","created":1,"data":{"object":{"id":5}}}"#,
    ] {
        let sig = sign(bad.as_bytes(), WEBHOOK_SECRET, now_s);
        assert_eq!(
            b.deliver_raw(bad, Some(sig)).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // An event type we do not use is acknowledged and ignored.
    let (status, ack) = b
        .deliver(&b.event("invoice.created", json!({"id": "in_1"}), 0))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ack["outcome"], "ignored");
    assert_eq!(b.seats(&ann).await[0]["status"], "held");
    assert_eq!(b.payment(&ann).await["status"], "pending");
    // The genuine delivery still works afterwards (nothing was recorded
    // for the refused ones), once; a rotated-out secret next to the
    // current one is fine.
    let good = sign(body.as_bytes(), WEBHOOK_SECRET, now_s);
    let old = sign(body.as_bytes(), OLD_WEBHOOK_SECRET, now_s);
    let both = format!("{},{}", old, good.split_once(',').unwrap().1);
    let (status, ack) = b.deliver_raw(&body, Some(both)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["outcome"], "applied");
    assert_eq!(
        b.deliver_raw(&body, Some(good)).await.1["outcome"],
        "duplicate"
    );
    assert_eq!(b.seats(&ann).await[0]["status"], "confirmed");
}

#[tokio::test]
async fn a_subscription_gives_its_discount_while_it_lives() {
    let b = spawn().await;
    let (ann_id, ann) = b.app.user("ann").await;
    let (status, r) = b
        .app
        .json(
            Method::POST,
            "/api/v1/me/subscription",
            Some(&ann),
            Some(json!({"plan": "weekly"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["error"]["field"], "plan");
    assert_eq!(
        b.app
            .json(Method::POST, "/api/v1/me/billing-portal", Some(&ann), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (status, page) = b
        .app
        .json(
            Method::POST,
            "/api/v1/me/subscription",
            Some(&ann),
            Some(json!({"plan": "monthly"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    assert!(
        page["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let customers = b.stripe.seen("/v1/customers");
    assert_eq!(customers.len(), 1);
    assert_eq!(
        customers[0].idempotency_key.as_deref(),
        Some(format!("customer-{ann_id}").as_str())
    );
    let customer = b.stripe.created("/v1/customers")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = b.stripe.seen("/v1/checkout/sessions").pop().unwrap();
    assert_eq!(s.param("mode"), Some("subscription"));
    assert_eq!(s.param("line_items[0][price]"), Some("price_monthly"));
    assert_eq!(s.param("customer"), Some(customer.as_str()));
    assert_eq!(
        s.param("subscription_data[metadata][account_id]"),
        Some(ann_id.as_str())
    );

    let sub = |status: &str, ended: Option<i64>| {
        json!({"id": "sub_1", "object": "subscription", "customer": customer, "status": status,
               "cancel_at_period_end": false, "start_date": b.now() / 1_000 - 10,
               "ended_at": ended, "metadata": {"account_id": ann_id},
               "items": {"data": [{"current_period_end": b.now() / 1_000 + 30 * 86_400,
                 "price": {"id": "price_monthly", "unit_amount": 500, "currency": "eur",
                           "recurring": {"interval": "month"}}}]}})
    };
    let created = b.event("customer.subscription.created", sub("active", None), 8);
    assert_eq!(b.deliver(&created).await.0, StatusCode::OK);
    let (_, mine) = b
        .app
        .json(Method::GET, "/api/v1/me/subscription", Some(&ann), None)
        .await;
    assert_eq!(mine["subscriptions"][0]["live"], true);
    assert_eq!(mine["subscriptions"][0]["plan"], "monthly");
    assert_eq!(mine["discount_percent"], 10);
    let (status, portal) = b
        .app
        .json(Method::POST, "/api/v1/me/billing-portal", Some(&ann), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{portal}");
    assert!(
        portal["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.com/")
    );
    assert_eq!(
        b.stripe.seen("/v1/billing_portal/sessions")[0].param("customer"),
        Some(customer.as_str())
    );
    assert_eq!(
        b.app
            .json(
                Method::POST,
                "/api/v1/me/subscription",
                Some(&ann),
                Some(json!({"plan": "annual"}))
            )
            .await
            .0,
        StatusCode::CONFLICT
    );

    let (id, _) = b.campaign("keeper", 4).await;
    let (_, j) = b.join(&id, &ann).await;
    let full = b
        .app
        .store
        .campaign(&id)
        .await
        .unwrap()
        .unwrap()
        .price_minor;
    let discounted = full - full * 10 / 100;
    assert_eq!(j["seats"][0]["price_minor"], discounted);
    let p = b.payment(&ann).await;
    assert_eq!(
        (p["amount_minor"].as_i64(), p["discount_minor"].as_i64()),
        (Some(discounted), Some(full - discounted))
    );
    assert_eq!(
        b.stripe
            .seen("/v1/checkout/sessions")
            .pop()
            .unwrap()
            .param("line_items[0][price_data][unit_amount]"),
        Some(discounted.to_string().as_str())
    );

    // Cancelled; an older "updated" arriving late does not revive it.
    let deleted = b.event(
        "customer.subscription.deleted",
        sub("canceled", Some(b.now() / 1_000)),
        2,
    );
    let stale = b.event("customer.subscription.updated", sub("active", None), 5);
    assert_eq!(b.deliver(&deleted).await.0, StatusCode::OK);
    assert_eq!(b.deliver(&stale).await.0, StatusCode::OK);
    let (_, mine) = b
        .app
        .json(Method::GET, "/api/v1/me/subscription", Some(&ann), None)
        .await;
    assert_eq!(mine["subscriptions"][0]["live"], false);
    let (id2, _) = b.campaign("warden", 4).await;
    let (_, j) = b.join(&id2, &ann).await;
    assert_eq!(
        j["seats"][0]["price_minor"],
        b.app
            .store
            .campaign(&id2)
            .await
            .unwrap()
            .unwrap()
            .price_minor
    );
}

#[tokio::test]
async fn revenue_shows_players_their_receipts_game_masters_their_campaigns_and_admins_everything() {
    let b = spawn().await;
    let (_, admin) = b.app.admin("root").await;
    let (id, gm) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (_, bob) = b.app.user("bob").await;
    let (_, cyd) = b.app.user("cyd").await;
    for t in [&ann, &bob, &cyd] {
        b.join(&id, t).await;
    }
    let price = b.payment(&ann).await["amount_minor"].as_i64().unwrap();
    for (t, pi) in [(&ann, "pi_ann"), (&bob, "pi_bob")] {
        let o = b.payment(t).await;
        b.deliver(&b.event("checkout.session.completed", session_completed(&o, pi), 0))
            .await;
    }
    b.app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&bob),
            None,
        )
        .await;
    let (status, r) = b
        .app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/revenue"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["totals"][0]["gross_minor"], 2 * price);
    assert_eq!(r["totals"][0]["refunds_minor"], price);
    assert_eq!(r["totals"][0]["net_minor"], price);
    assert_eq!(r["conversion"]["orders"], 3);
    assert_eq!(r["conversion"]["paid"], 2);
    assert_eq!(
        b.app
            .json(
                Method::GET,
                &format!("/api/v1/campaigns/{id}/revenue"),
                Some(&ann),
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, all) = b
        .app
        .json(Method::GET, "/api/v1/admin/revenue", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["totals"][0]["net_minor"], price);
    assert_eq!(all["by_campaign"][0]["campaign_id"], id);
    assert_eq!(all["by_month"][0]["month"], "2026-11");
    assert_eq!(all["by_month"][0]["totals"][0]["gross_minor"], 2 * price);
    assert_eq!(all["subscriptions"]["active"], 0);
    assert_eq!(
        b.app
            .json(Method::GET, "/api/v1/admin/revenue", Some(&gm), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn without_stripe_the_webhook_is_not_there_and_payments_are_test_mode() {
    let app = crate::helpers::spawn_app().await;
    let r = app
        .client
        .post(format!("{}/api/v1/billing/stripe/webhook", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, ann) = app.user("ann").await;
    let (status, r) = app
        .json(
            Method::POST,
            "/api/v1/me/subscription",
            Some(&ann),
            Some(json!({"plan": "monthly"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("test mode")
    );
}

#[tokio::test]
async fn a_party_leader_pays_for_the_whole_party_in_one_checkout() {
    let b = spawn().await;
    let (_, lead, mate, j) = b.party_checkout().await;
    assert_eq!(j["seats"].as_array().unwrap().len(), 2);
    let sessions = b.stripe.seen("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].param("line_items[0][quantity]"), Some("2"));
    let order = b.payment(&lead).await;
    assert_eq!(order["seats"], 2);
    assert_eq!(
        order["amount_minor"].as_i64().unwrap(),
        2 * j["seats"][0]["price_minor"].as_i64().unwrap()
    );
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&order, "pi_party"),
        0,
    );
    for _ in 0..3 {
        assert_eq!(b.deliver(&paid).await.0, StatusCode::OK);
    }
    assert_eq!(b.seats(&lead).await[0]["status"], "confirmed");
    assert_eq!(b.seats(&mate).await[0]["status"], "confirmed");
}

#[tokio::test]
async fn ten_deliveries_of_one_payment_at_once_confirm_the_seat_once_with_one_audit_entry_and_no_refund()
 {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    );
    let answers = futures_util::future::join_all((0..10).map(|_| b.deliver(&paid))).await;
    // One delivery applies it; the others find it applied or in flight
    // (409: Stripe delivers again), never a failure.
    for (status, ack) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status}: {ack}"
        );
    }
    assert_eq!(
        answers
            .iter()
            .filter(|(_, a)| a["outcome"] == "applied")
            .count(),
        1
    );
    assert_eq!(b.deliver_until_taken(&paid).await["outcome"], "duplicate");
    assert_eq!(b.seats(&ann).await[0]["status"], "confirmed");
    let p = b.payment(&ann).await;
    assert_eq!(p["status"], "paid");
    assert_eq!(
        (
            p["refunded_minor"].as_i64(),
            p["refund_pending_minor"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(b.audited("order.paid").await.len(), 1);
    assert_eq!(b.audited("refund.create").await.len(), 0);
    b.send_refunds().await;
    assert!(b.stripe.seen("/v1/refunds").is_empty());
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 1);
}

#[tokio::test]
async fn two_events_for_one_payment_processed_at_once_never_refund_a_seat_they_confirm() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 8).await;
    let mut players = Vec::new();
    for handle in ["ann", "bob", "cyd", "dee", "eve", "fay"] {
        let (_, token) = b.app.user(handle).await;
        assert_eq!(b.join(&id, &token).await.0, StatusCode::CREATED);
        let order = b.payment(&token).await;
        players.push((token, order));
    }
    // Stripe reports each payment twice (completed, then
    // async_payment_succeeded): two events, so both are processed, here
    // at the same moment, each reading the seat as held.
    let mut events = Vec::new();
    for (i, (_, o)) in players.iter().enumerate() {
        let pi = format!("pi_{i}");
        events.push(b.event("checkout.session.completed", session_completed(o, &pi), 0));
        events.push(b.event(
            "checkout.session.async_payment_succeeded",
            session_completed(o, &pi),
            0,
        ));
    }
    let answers = futures_util::future::join_all(events.iter().map(|e| b.deliver(e))).await;
    for (e, (status, ack)) in events.iter().zip(&answers) {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::CONFLICT, "{ack}");
            b.deliver_until_taken(e).await;
        }
    }
    for (token, _) in &players {
        assert_eq!(b.seats(token).await[0]["status"], "confirmed");
        let p = b.payment(token).await;
        assert_eq!(p["refund_pending_minor"], 0, "{p}");
        assert_eq!(p["refunded_minor"], 0, "{p}");
    }
    assert_eq!(b.audited("order.paid").await.len(), players.len());
    assert_eq!(b.audited("refund.create").await.len(), 0);
    b.send_refunds().await;
    assert!(b.stripe.seen("/v1/refunds").is_empty());
}

#[tokio::test]
async fn a_payment_processed_again_after_failing_half_way_writes_its_audit_entries_and_mail_once() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (_, bob) = b.app.user("bob").await;
    b.join(&id, &ann).await;
    b.join(&id, &bob).await;
    let ann_order = b.payment(&ann).await;
    let bob_order = b.payment(&bob).await;
    let ann_order_id = ann_order["order_id"].as_str().unwrap();
    // A first delivery marked Ann's order paid and died before its audit
    // entry; Stripe delivers again.
    assert!(
        b.app
            .store
            .mark_order_paid(ann_order_id, Some("pi_ann"), b.now())
            .await
            .unwrap()
    );
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&ann_order, "pi_ann"),
        0,
    );
    assert_eq!(b.deliver(&paid).await.1["outcome"], "applied");
    assert_eq!(b.audited("order.paid").await.len(), 1);
    assert_eq!(b.seats(&ann).await[0]["status"], "confirmed");
    let again = b.event(
        "checkout.session.async_payment_succeeded",
        session_completed(&ann_order, "pi_ann"),
        0,
    );
    assert_eq!(b.deliver(&again).await.1["outcome"], "applied");
    assert_eq!(b.audited("order.paid").await.len(), 1);

    // Bob's hold lapses; his money comes late. A first delivery recorded
    // the refund and died before its audit entry and mail.
    b.app.advance_ms(35 * 60_000 + 1);
    orchestrator::seats::release_lapsed_holds(&b.app.store, b.provider.as_ref(), None, b.now())
        .await
        .unwrap();
    let bob_seat = b
        .app
        .store
        .order_seats(bob_order["order_id"].as_str().unwrap())
        .await
        .unwrap()
        .remove(0);
    b.app
        .store
        .mark_order_paid(
            bob_seat.order_id.as_deref().unwrap(),
            Some("pi_bob"),
            b.now(),
        )
        .await
        .unwrap();
    let price = bob_order["amount_minor"].as_i64().unwrap();
    assert!(
        b.app
            .store
            .insert_refund(
                &orchestrator::store::billing::RefundRow {
                    id: "refund_from_the_first_try".into(),
                    order_id: bob_seat.order_id.clone(),
                    seat_id: bob_seat.id.clone(),
                    account_id: bob_seat.account_id.clone(),
                    amount_minor: price,
                    currency: bob_seat.currency.clone(),
                    reason: "paid after the seat hold lapsed".into(),
                    status: "pending".into(),
                    attempts: 0,
                    created_at: b.now(),
                },
                b.now(),
            )
            .await
            .unwrap()
    );
    for kind in [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ] {
        let late = b.event(kind, session_completed(&bob_order, "pi_bob"), 0);
        assert_eq!(b.deliver(&late).await.0, StatusCode::OK);
        assert_eq!(b.audited("refund.create").await.len(), 1);
        assert_eq!(b.mails("bob@example.com", "refunded").await, 1);
    }
    assert_eq!(b.audited("order.paid").await.len(), 2);
    b.send_refunds().await;
    let refunds = b.stripe.seen("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        refunds[0].idempotency_key.as_deref(),
        Some("refund-refund_from_the_first_try")
    );
}

#[tokio::test]
async fn only_the_delivery_holding_an_event_claim_finishes_or_drops_it() {
    use orchestrator::store::billing::Claim;
    let b = spawn().await;
    let s = &b.app.store;
    let (t0, kind) = (b.now(), "checkout.session.completed");
    let Claim::Claimed(first) = s.claim_event("evt_slow", kind, t0).await.unwrap() else {
        panic!("a new event is claimed")
    };
    assert_eq!(
        s.claim_event("evt_slow", kind, t0 + 1_000).await.unwrap(),
        Claim::InFlight
    );
    // A minute on, the first delivery looks dead and a second takes over.
    let Claim::Claimed(second) = s.claim_event("evt_slow", kind, t0 + 61_000).await.unwrap() else {
        panic!("a stale claim is taken over")
    };
    assert_ne!(first, second);
    // The first one fails after all: the second one's claim stays.
    assert!(!s.drop_claim("evt_slow", &first).await.unwrap());
    assert_eq!(
        s.claim_event("evt_slow", kind, t0 + 62_000).await.unwrap(),
        Claim::InFlight
    );
    // Nor can the first one finish what the second one is doing.
    assert!(
        !s.finish_event("evt_slow", &first, t0 + 62_000)
            .await
            .unwrap()
    );
    assert_eq!(
        s.claim_event("evt_slow", kind, t0 + 63_000).await.unwrap(),
        Claim::InFlight
    );
    assert!(
        s.finish_event("evt_slow", &second, t0 + 64_000)
            .await
            .unwrap()
    );
    assert_eq!(
        s.claim_event("evt_slow", kind, t0 + 200_000).await.unwrap(),
        Claim::Done
    );
    // Its owner drops a claim after a failure; the next delivery claims it.
    let Claim::Claimed(third) = s.claim_event("evt_failing", kind, t0).await.unwrap() else {
        panic!("a new event is claimed")
    };
    assert!(s.drop_claim("evt_failing", &third).await.unwrap());
    assert!(matches!(
        s.claim_event("evt_failing", kind, t0 + 1).await.unwrap(),
        Claim::Claimed(_)
    ));
}

#[tokio::test]
async fn a_late_payment_for_a_party_goes_back_seat_by_seat_to_the_leader_who_paid() {
    let b = spawn().await;
    let (lead_id, lead, _, j) = b.party_checkout().await;
    let order = b.payment(&lead).await;
    let unit = j["seats"][0]["price_minor"].as_i64().unwrap();
    let total = order["amount_minor"].as_i64().unwrap();
    assert_eq!(total, 2 * unit);
    b.app.advance_ms(35 * 60_000 + 1);
    orchestrator::seats::release_lapsed_holds(&b.app.store, b.provider.as_ref(), None, b.now())
        .await
        .unwrap();
    let lead = b.app.log_in("lead").await.0;
    let late = b.event(
        "checkout.session.completed",
        session_completed(&order, "pi_party"),
        0,
    );
    for _ in 0..3 {
        assert_eq!(b.deliver(&late).await.0, StatusCode::OK);
    }
    b.send_refunds().await;
    let refunds = b.stripe.seen("/v1/refunds");
    assert_eq!(refunds.len(), 2);
    let mut sum = 0;
    for r in &refunds {
        // Back to the one payment the leader made, a seat's price each.
        assert_eq!(r.param("payment_intent"), Some("pi_party"));
        assert_eq!(r.param("amount"), Some(unit.to_string().as_str()));
        sum += unit;
    }
    assert!(sum <= total);
    let p = b.payment(&lead).await;
    assert_eq!(p["refunded_minor"], total);
    // The leader paid, so the leader is told, once.
    assert_eq!(b.mails("lead@example.com", "refunded").await, 1);
    assert_eq!(b.mails("mate@example.com", "refunded").await, 0);
    assert_eq!(b.audited("refund.create").await.len(), 2);
    for e in b.audited("refund.create").await {
        let details: Value = serde_json::from_str(&e.details).unwrap();
        assert_eq!(details["account"], lead_id, "{details}");
    }
}

#[tokio::test]
async fn a_checkout_that_expired_before_its_payment_arrived_is_refunded_once_and_never_also_seated()
{
    let b = spawn().await;
    let (id, [ann, bob, cyd]) = b.full_with_one_waiting().await;
    let ann_order = b.payment(&ann).await;
    let bob_order = b.payment(&bob).await;
    // Ann's checkout: expired first, then (out of order) paid, repeatedly.
    let expired = b.event("checkout.session.expired", session_expired(&ann_order), 5);
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&ann_order, "pi_ann"),
        0,
    );
    for e in [&expired, &paid, &expired, &paid] {
        assert_eq!(b.deliver(e).await.0, StatusCode::OK);
    }
    orchestrator::seats::promote_waiting(&b.app.store, b.provider.as_ref(), b.now())
        .await
        .unwrap();
    b.send_refunds().await;
    b.send_refunds().await;
    assert!(b.seats(&ann).await.as_array().unwrap().is_empty());
    let refunds = b.stripe.seen("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].param("payment_intent"), Some("pi_ann"));
    let p = b.payment(&ann).await;
    assert_eq!(p["refunded_minor"], ann_order["amount_minor"]);
    assert_eq!(b.mails("ann@example.com", "refunded").await, 1);
    // The seat she lost went to the next in line, and only once.
    assert_eq!(b.seats(&cyd).await[0]["status"], "held");
    // Bob's: paid first, then the expiry arrives late: the seat stays paid.
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&bob_order, "pi_bob"),
        5,
    );
    let expired = b.event("checkout.session.expired", session_expired(&bob_order), 0);
    for e in [&paid, &expired, &paid, &expired] {
        assert_eq!(b.deliver(e).await.0, StatusCode::OK);
    }
    assert_eq!(b.seats(&bob).await[0]["status"], "confirmed");
    assert_eq!(b.payment(&bob).await["status"], "paid");
    b.send_refunds().await;
    assert_eq!(b.stripe.seen("/v1/refunds").len(), 1);
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 2);
}

#[tokio::test]
async fn a_waitlisted_player_keeps_their_place_when_stripe_refuses_their_checkout() {
    let b = spawn().await;
    let (id, _) = b.full_with_one_waiting().await;
    let cyd_id = b
        .app
        .store
        .account_by_handle("cyd")
        .await
        .unwrap()
        .unwrap()
        .id;
    // Both holds lapse; Stripe refuses the checkout for Cyd's new seat.
    b.stripe.fail_next(400, 1);
    b.app.advance_ms(35 * 60_000 + 1);
    orchestrator::seats::release_lapsed_holds(&b.app.store, b.provider.as_ref(), None, b.now())
        .await
        .unwrap();
    let line = b.app.store.waitlist(&id).await.unwrap();
    assert_eq!(line.len(), 1, "{line:?}");
    assert_eq!(line[0].account_id, cyd_id);
    assert!(b.app.store.live_seat(&id, &cyd_id).await.unwrap().is_none());
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 0);
    // The line waits out the retry rather than asking Stripe every round.
    let sessions = b.stripe.seen("/v1/checkout/sessions").len();
    for _ in 0..3 {
        b.app.advance_ms(60_000);
        orchestrator::seats::promote_waiting(&b.app.store, b.provider.as_ref(), b.now())
            .await
            .unwrap();
    }
    assert_eq!(b.stripe.seen("/v1/checkout/sessions").len(), sessions);
    // Once it is due, Cyd is seated from the same place.
    b.app.advance_ms(15 * 60_000);
    assert_eq!(
        orchestrator::seats::promote_waiting(&b.app.store, b.provider.as_ref(), b.now())
            .await
            .unwrap(),
        1
    );
    let seat = b.app.store.live_seat(&id, &cyd_id).await.unwrap().unwrap();
    assert_eq!(seat.status, "held");
    assert!(b.app.store.waitlist(&id).await.unwrap().is_empty());
    let cyd = b.app.log_in("cyd").await.0;
    assert!(b.payment(&cyd).await["checkout_url"].is_string());
}

#[tokio::test]
async fn subscription_events_of_one_second_never_go_back_however_often_and_in_whatever_order_they_come()
 {
    let b = spawn().await;
    let (ann_id, _) = b.app.user("ann").await;
    let sub = |status: &str| {
        json!({"id": "sub_tie", "object": "subscription", "customer": "cus_tie",
               "status": status, "cancel_at_period_end": false,
               "start_date": b.now() / 1_000 - 10, "metadata": {"account_id": ann_id},
               "items": {"data": [{"current_period_end": b.now() / 1_000 + 30 * 86_400,
                 "price": {"id": "price_monthly", "unit_amount": 500, "currency": "eur",
                           "recurring": {"interval": "month"}}}]}})
    };
    let status = || async {
        b.app.store.subscriptions_of(&ann_id).await.unwrap()[0]
            .status
            .clone()
    };
    // Created (incomplete) and updated (active) in the same second, each
    // delivered ten times as distinct events, in a shuffled order; then
    // cancelled in that second too, which sticks whatever comes.
    let rounds = [
        (&["created", "updated"][..], "active"),
        (&["deleted", "created", "updated"][..], "canceled"),
    ];
    let mut events = Vec::new();
    for (kinds, sticky) in rounds {
        for _ in 0..10 {
            for kind in kinds {
                let state = match *kind {
                    "created" => "incomplete",
                    "updated" => "active",
                    _ => "canceled",
                };
                events.push(b.event(&format!("customer.subscription.{kind}"), sub(state), 3));
            }
        }
        let mut seen = false;
        for e in shuffled(&events, 1) {
            assert_eq!(b.deliver(&e).await.0, StatusCode::OK);
            let now = status().await;
            if seen {
                assert_eq!(now, sticky, "a same-second event undid {sticky}");
            }
            seen |= now == sticky;
        }
        assert_eq!(status().await, sticky);
    }
    // A later second still moves it on (Stripe's own order).
    let later = b.event("customer.subscription.updated", sub("past_due"), 1);
    assert_eq!(b.deliver(&later).await.0, StatusCode::OK);
    assert_eq!(status().await, "past_due");
}

#[tokio::test]
async fn a_refund_that_can_never_be_sent_is_failed_audited_and_leaves_the_queue() {
    let b = spawn().await;
    let (id, gm) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    let price = o["amount_minor"].as_i64().unwrap();
    // Paid, but Stripe named no payment to refund.
    let mut paid = session_completed(&o, "pi_unused");
    paid["payment_intent"] = Value::Null;
    let paid = b.event("checkout.session.completed", paid, 0);
    assert_eq!(b.deliver(&paid).await.0, StatusCode::OK);
    assert_eq!(b.seats(&ann).await[0]["status"], "confirmed");
    let (status, left) = b
        .app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    let p = b.payment(&ann).await;
    assert_eq!(
        (
            p["refund_failed_minor"].as_i64(),
            p["refund_pending_minor"].as_i64(),
            p["refunded_minor"].as_i64()
        ),
        (Some(price), Some(0), Some(0))
    );
    let (_, r) = b
        .app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/revenue"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(r["totals"][0]["refunds_failed_minor"], price, "{r}");
    assert_eq!(b.audited("refund.failed").await.len(), 1);
    // It is not tried again, however long the worker runs.
    for _ in 0..3 {
        b.app.advance_ms(2 * 3_600_000);
        assert_eq!(b.send_refunds().await, 0);
        assert!(
            b.app
                .store
                .pending_refunds(b.now(), 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(b.audited("refund.failed").await.len(), 1);
    assert!(b.stripe.seen("/v1/refunds").is_empty());
}

#[tokio::test]
async fn a_refund_stripe_cannot_take_now_is_retried_after_a_growing_wait() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    );
    b.deliver(&paid).await;
    b.stripe.fail_next(500, 3);
    let (status, _) = b
        .app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let tried = || b.stripe.seen("/v1/refunds").len();
    assert_eq!(tried(), 3);
    // Not due yet: the worker leaves it (and so gets to newer ones).
    assert!(
        b.app
            .store
            .pending_refunds(b.now(), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(b.send_refunds().await, 0);
    assert_eq!(tried(), 3);
    // Due after 5 s; Stripe is still busy, so the next wait is 10 s.
    b.stripe.fail_next(500, 3);
    b.app.advance_ms(5_000);
    assert_eq!(b.send_refunds().await, 0);
    assert_eq!(tried(), 6);
    b.app.advance_ms(5_000);
    assert_eq!(b.send_refunds().await, 0);
    assert_eq!(tried(), 6);
    b.app.advance_ms(5_000);
    assert_eq!(b.send_refunds().await, 1);
    let seen = b.stripe.seen("/v1/refunds");
    assert_eq!(seen.iter().filter(|s| s.status == 200).count(), 1);
    let keys: std::collections::BTreeSet<_> =
        seen.iter().map(|s| s.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(b.send_refunds().await, 0);
}

#[tokio::test]
async fn a_held_seat_given_up_by_leaving_removal_or_cancelling_closes_its_open_checkout() {
    let b = spawn().await;
    let (id, gm) = b.campaign("keeper", 4).await;
    let mut players = Vec::new();
    for handle in ["ann", "bob", "cyd"] {
        let (account, token) = b.app.user(handle).await;
        assert_eq!(b.join(&id, &token).await.0, StatusCode::CREATED);
        let order = b.payment(&token).await;
        let checkout = b
            .app
            .store
            .order(order["order_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap()
            .checkout_id
            .unwrap();
        players.push((account, token, order, checkout));
    }
    let expires = |cs: &str| {
        b.stripe
            .seen(&format!("/v1/checkout/sessions/{cs}/expire"))
            .iter()
            .map(|s| s.status)
            .collect::<Vec<_>>()
    };
    // Ann leaves while Stripe is busy: the checkout is expired later.
    let (_, ann, ann_order, ann_cs) = &players[0];
    b.stripe.fail_next(503, 3);
    let (status, _) = b
        .app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(expires(ann_cs), [503, 503, 503]);
    let p = b.payment(ann).await;
    assert_eq!(p["status"], "cancelled");
    assert!(p["checkout_url"].is_null());
    let expire_round = || async {
        orchestrator::billing::expire_checkouts(&b.app.store, b.provider.as_ref(), b.now())
            .await
            .unwrap()
    };
    assert_eq!(expire_round().await, 0);
    b.app.advance_ms(5_000);
    assert_eq!(expire_round().await, 1);
    assert_eq!(expires(ann_cs), [503, 503, 503, 200]);
    assert_eq!(expires(ann_cs).iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(
        b.stripe
            .seen(&format!("/v1/checkout/sessions/{ann_cs}/expire"))[0]
            .idempotency_key
            .as_deref(),
        Some(format!("expire-{ann_cs}").as_str())
    );
    // The game master removes Bob, who had not paid: his checkout closes.
    let (bob_id, _, _, bob_cs) = &players[1];
    let (status, r) = b
        .app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/roster/{bob_id}"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(expires(bob_cs), [200]);
    // The campaign is cancelled: Cyd's checkout closes too.
    let (_, _, _, cyd_cs) = &players[2];
    let (status, r) = b
        .app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/cancel"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(expires(cyd_cs), [200]);
    assert_eq!(expire_round().await, 0);
    // Ann had paid a moment before her checkout closed: the money goes back.
    let late = b.event(
        "checkout.session.completed",
        session_completed(ann_order, "pi_ann"),
        0,
    );
    assert_eq!(b.deliver(&late).await.0, StatusCode::OK);
    b.send_refunds().await;
    let refunds = b.stripe.seen("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].param("payment_intent"), Some("pi_ann"));
    assert!(b.seats(ann).await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn joining_again_while_my_hold_waits_for_payment_answers_with_the_same_checkout() {
    let b = spawn().await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    let (status, first) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for _ in 0..3 {
        let (status, again) = b.join(&id, &ann).await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert_eq!(again["checkout_url"], first["checkout_url"]);
        assert_eq!(again["seats"][0]["id"], first["seats"][0]["id"]);
        assert_eq!(again["seats"][0]["status"], "held");
    }
    assert_eq!(b.stripe.created("/v1/checkout/sessions").len(), 1);
    let c = b.app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 1);
    // Paid, the seat is hers: joining again is a conflict.
    let o = b.payment(&ann).await;
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    );
    b.deliver(&paid).await;
    let (status, r) = b.join(&id, &ann).await;
    assert_eq!(status, StatusCode::CONFLICT, "{r}");
}

#[tokio::test]
async fn refunds_made_in_stripe_move_the_order_to_refunded_and_count_in_the_month_they_were_made() {
    let b = spawn().await;
    let (_, _, secret) = b.app.admin_with_secret("root").await;
    let (id, _) = b.campaign("keeper", 4).await;
    let (_, ann) = b.app.user("ann").await;
    b.join(&id, &ann).await;
    let o = b.payment(&ann).await;
    let price = o["amount_minor"].as_i64().unwrap();
    let paid = b.event(
        "checkout.session.completed",
        session_completed(&o, "pi_ann"),
        0,
    );
    let charged = b.event("charge.succeeded", charge("ch_ann", "pi_ann", price, 0), 0);
    b.deliver(&paid).await;
    b.deliver(&charged).await;
    assert_eq!(b.payment(&ann).await["status"], "paid");
    // A month on, half goes back in Stripe's dashboard, then the rest; an
    // older charge event arriving late changes nothing.
    b.app.advance_ms(31 * 86_400_000);
    let ann = b.app.log_in("ann").await.0;
    let half = b.event(
        "charge.refunded",
        charge("ch_ann", "pi_ann", price, price / 2),
        20,
    );
    assert_eq!(b.deliver(&half).await.0, StatusCode::OK);
    assert_eq!(b.payment(&ann).await["status"], "partially_refunded");
    let full = b.event(
        "charge.refunded",
        charge("ch_ann", "pi_ann", price, price),
        10,
    );
    for e in [&full, &half, &charged] {
        assert_eq!(b.deliver(e).await.0, StatusCode::OK);
    }
    let p = b.payment(&ann).await;
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["refunded_minor"], price);
    // The same payment reported again does not make it "paid" again.
    let again = b.event(
        "checkout.session.async_payment_succeeded",
        session_completed(&o, "pi_ann"),
        0,
    );
    b.deliver(&again).await;
    assert_eq!(b.payment(&ann).await["status"], "refunded");
    let admin = b.app.log_in_with_code("root", &secret).await;
    let (status, all) = b
        .app
        .json(Method::GET, "/api/v1/admin/revenue", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let months: Vec<(String, i64, i64)> = all["by_month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["month"].as_str().unwrap().to_string(),
                m["totals"][0]["gross_minor"].as_i64().unwrap(),
                m["totals"][0]["refunds_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        [
            ("2026-11".to_string(), price, 0),
            ("2026-12".to_string(), 0, price)
        ]
    );
    assert_eq!(all["totals"][0]["gross_minor"], price);
    assert_eq!(all["totals"][0]["net_minor"], 0);
}
