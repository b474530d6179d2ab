//! A local HTTP server standing in for Stripe's API: it checks each request
//! the way Stripe does (secret key, required parameters, Checkout's expiry
//! window, expiring only open Checkout Sessions), replays answers for a repeated idempotency key, answers with
//! Stripe-shaped objects and errors, and records every request so tests
//! can assert parameters and keys. Failures (rate limits, server errors,
//! refusals) can be queued.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// The secret key the stand-in accepts.
pub const SECRET_KEY: &str = "sk_test_standin_0123456789";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path, e.g. `/v1/checkout/sessions`.
    pub path: String,
    /// Form parameters in order (`line_items[0][quantity]` style keys).
    pub params: Vec<(String, String)>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The status answered.
    pub status: u16,
}

impl Seen {
    /// A parameter's value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    seen: Vec<Seen>,
    replies: HashMap<(String, String), (u16, Value)>,
    failures: VecDeque<u16>,
    created: HashMap<String, Vec<Value>>,
    expired: std::collections::HashSet<String>,
    next: u64,
}

/// The stand-in's handle.
#[derive(Clone)]
pub struct StripeStandin {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Clone)]
struct Ctx {
    inner: Arc<Mutex<Inner>>,
    now_ms: Arc<AtomicI64>,
}

impl StripeStandin {
    /// Starts the stand-in; `now_ms` is the clock Checkout's expiry window
    /// is checked against (the app's).
    pub async fn start(now_ms: Arc<AtomicI64>) -> StripeStandin {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let ctx = Ctx {
            inner: inner.clone(),
            now_ms,
        };
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_checkout))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_checkout))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/customers", post(create_customer))
            .route("/v1/billing_portal/sessions", post(create_portal))
            .fallback(unknown)
            .with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StripeStandin { url, inner }
    }

    /// The next `n` requests fail with `status` (429: rate limited; 5xx:
    /// Stripe's trouble; 400/402: refused).
    pub fn fail_next(&self, status: u16, n: usize) {
        let mut inner = self.inner.lock().unwrap();
        for _ in 0..n {
            inner.failures.push_back(status);
        }
    }

    /// Every request so far to `path`.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// The objects actually created at `path` (replays and failures not
    /// counted).
    pub fn created(&self, path: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .created
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

fn stripe_error(kind: &str, message: &str, param: Option<&str>) -> Value {
    let mut e = json!({"type": kind, "message": message});
    if let Some(p) = param {
        e["param"] = json!(p);
    }
    json!({ "error": e })
}

fn reply(status: u16, body: &Value, replayed: bool) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(body.clone()),
    )
        .into_response();
    r.headers_mut()
        .insert("request-id", "req_standin".parse().unwrap());
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
    }
    if status == 429 || status >= 500 {
        r.headers_mut()
            .insert("stripe-should-retry", "true".parse().unwrap());
    }
    r
}

/// A request's form parameters and idempotency key.
type Accepted = (Vec<(String, String)>, Option<String>);

/// Everything every endpoint does before its own work: the key, queued
/// failures, idempotent replays. `Err` is the answer already.
fn prelude(
    ctx: &Ctx,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Accepted, Box<Response>> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut inner = ctx.inner.lock().unwrap();
    let record = |status: u16, inner: &mut Inner| {
        inner.seen.push(Seen {
            path: path.to_string(),
            params: params.clone(),
            idempotency_key: key.clone(),
            status,
        });
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {SECRET_KEY}") {
        record(401, &mut inner);
        return Err(Box::new(reply(
            401,
            &stripe_error("invalid_request_error", "Invalid API Key provided", None),
            false,
        )));
    }
    if let Some(status) = inner.failures.pop_front() {
        record(status, &mut inner);
        let (kind, msg) = match status {
            429 => ("invalid_request_error", "Too many requests; slow down"),
            402 => ("card_error", "Your card was declined."),
            s if s >= 500 => ("api_error", "Something went wrong on Stripe's end."),
            _ => ("invalid_request_error", "The request was refused."),
        };
        return Err(Box::new(reply(
            status,
            &stripe_error(kind, msg, None),
            false,
        )));
    }
    if let Some(k) = &key
        && let Some((status, body)) = inner.replies.get(&(path.to_string(), k.clone())).cloned()
    {
        record(status, &mut inner);
        return Err(Box::new(reply(status, &body, true)));
    }
    Ok((params, key))
}

/// Records the answer (and keeps it for replays under its key).
fn finish(
    ctx: &Ctx,
    path: &str,
    params: Vec<(String, String)>,
    key: Option<String>,
    status: u16,
    body: Value,
) -> Response {
    let mut inner = ctx.inner.lock().unwrap();
    inner.seen.push(Seen {
        path: path.to_string(),
        params,
        idempotency_key: key.clone(),
        status,
    });
    if status == 200 {
        inner
            .created
            .entry(path.to_string())
            .or_default()
            .push(body.clone());
    }
    if let Some(k) = key {
        inner
            .replies
            .insert((path.to_string(), k), (status, body.clone()));
    }
    reply(status, &body, false)
}

fn next_id(ctx: &Ctx, prefix: &str) -> String {
    let mut inner = ctx.inner.lock().unwrap();
    inner.next += 1;
    format!("{prefix}_standin_{}", inner.next)
}

fn get<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn metadata(params: &[(String, String)], prefix: &str) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in params {
        if let Some(rest) = k.strip_prefix(prefix)
            && let Some(name) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        {
            m.insert(name.to_string(), json!(v));
        }
    }
    Value::Object(m)
}

fn missing(param: &str) -> (u16, Value) {
    (
        400,
        stripe_error(
            "invalid_request_error",
            &format!("Missing required param: {param}."),
            Some(param),
        ),
    )
}

async fn create_checkout(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/checkout/sessions";
    let (params, key) = match prelude(&ctx, path, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let answer = (|| {
        let mode = get(&params, "mode").ok_or_else(|| missing("mode"))?;
        get(&params, "success_url").ok_or_else(|| missing("success_url"))?;
        let now_s = ctx.now_ms.load(Ordering::SeqCst) / 1_000;
        let expires_at = match get(&params, "expires_at") {
            Some(v) => {
                let t: i64 = v.parse().map_err(|_| missing("expires_at"))?;
                if t < now_s + 1_800 || t > now_s + 86_400 {
                    return Err((
                        400,
                        stripe_error(
                            "invalid_request_error",
                            "The `expires_at` timestamp must be between 30 minutes and 24 hours \
                             from Checkout Session creation.",
                            Some("expires_at"),
                        ),
                    ));
                }
                t
            }
            None => now_s + 86_400,
        };
        let quantity: i64 = get(&params, "line_items[0][quantity]")
            .ok_or_else(|| missing("line_items[0][quantity]"))?
            .parse()
            .map_err(|_| missing("line_items[0][quantity]"))?;
        let (amount_total, currency) = match mode {
            "payment" => {
                let unit: i64 = get(&params, "line_items[0][price_data][unit_amount]")
                    .ok_or_else(|| missing("line_items[0][price_data][unit_amount]"))?
                    .parse()
                    .map_err(|_| missing("line_items[0][price_data][unit_amount]"))?;
                get(&params, "line_items[0][price_data][product_data][name]")
                    .ok_or_else(|| missing("line_items[0][price_data][product_data][name]"))?;
                let currency = get(&params, "line_items[0][price_data][currency]")
                    .ok_or_else(|| missing("line_items[0][price_data][currency]"))?;
                (unit * quantity, currency.to_string())
            }
            "subscription" => {
                get(&params, "line_items[0][price]")
                    .ok_or_else(|| missing("line_items[0][price]"))?;
                (0, "eur".to_string())
            }
            _ => return Err(missing("mode")),
        };
        let id = next_id(&ctx, "cs_test");
        Ok(json!({
            "id": id,
            "object": "checkout.session",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount_total,
            "currency": currency,
            "client_reference_id": get(&params, "client_reference_id"),
            "customer": get(&params, "customer"),
            "metadata": metadata(&params, "metadata"),
            "expires_at": expires_at,
            "success_url": get(&params, "success_url"),
            "cancel_url": get(&params, "cancel_url"),
            "livemode": false,
        }))
    })();
    let (status, body) = match answer {
        Ok(b) => (200, b),
        Err((s, b)) => (s, b),
    };
    finish(&ctx, path, params, key, status, body)
}

async fn expire_checkout(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}/expire");
    let (params, key) = match prelude(&ctx, &path, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let session = {
        let inner = ctx.inner.lock().unwrap();
        inner
            .created
            .get("/v1/checkout/sessions")
            .and_then(|all| all.iter().find(|s| s["id"] == id.as_str()).cloned())
            .map(|s| (s, inner.expired.contains(&id)))
    };
    let (status, body) = match session {
        None => (
            404,
            stripe_error(
                "invalid_request_error",
                &format!("No such checkout.session: '{id}'"),
                Some("session"),
            ),
        ),
        Some((_, true)) => (
            400,
            stripe_error(
                "invalid_request_error",
                "Only Checkout Sessions with a status in [\"open\"] can be expired.",
                None,
            ),
        ),
        Some((mut s, false)) => {
            ctx.inner.lock().unwrap().expired.insert(id.clone());
            s["status"] = json!("expired");
            (200, s)
        }
    };
    finish(&ctx, &path, params, key, status, body)
}

async fn create_refund(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/refunds";
    let (params, key) = match prelude(&ctx, path, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let answer = (|| {
        let pi = get(&params, "payment_intent").ok_or_else(|| missing("payment_intent"))?;
        let amount: i64 = get(&params, "amount")
            .and_then(|a| a.parse().ok())
            .filter(|a| *a > 0)
            .ok_or_else(|| missing("amount"))?;
        Ok(json!({
            "id": next_id(&ctx, "re"),
            "object": "refund",
            "amount": amount,
            "currency": "eur",
            "payment_intent": pi,
            "status": "succeeded",
            "metadata": metadata(&params, "metadata"),
        }))
    })();
    let (status, body) = match answer {
        Ok(b) => (200, b),
        Err((s, b)) => (s, b),
    };
    finish(&ctx, path, params, key, status, body)
}

async fn create_customer(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/customers";
    let (params, key) = match prelude(&ctx, path, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let body = json!({
        "id": next_id(&ctx, "cus"),
        "object": "customer",
        "metadata": metadata(&params, "metadata"),
    });
    finish(&ctx, path, params, key, 200, body)
}

async fn create_portal(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/billing_portal/sessions";
    let (params, key) = match prelude(&ctx, path, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (status, body) = match get(&params, "customer") {
        Some(c) => {
            let id = next_id(&ctx, "bps");
            (
                200,
                json!({"id": id, "object": "billing_portal.session", "customer": c,
                       "url": format!("https://billing.stripe.com/p/session/{id}"),
                       "return_url": get(&params, "return_url")}),
            )
        }
        None => missing("customer"),
    };
    finish(&ctx, path, params, key, status, body)
}

async fn unknown(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    reply(
        404,
        &stripe_error(
            "invalid_request_error",
            &format!("Unrecognized request URL (POST: {path})."),
            None,
        ),
        false,
    )
}
