//! Pricing: quotes under the book in force, and admins' price books.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

fn book(version: &str, compute: i64) -> Value {
    json!({
        "version": version, "currency": "EUR", "compute_minor_per_hour": compute,
        "overhead_minutes_per_session": 25,
        "tiers": [
            {"tier": "ollama", "tokens_per_player_hour": 30000, "minor_per_million_tokens": 20},
            {"tier": "gemini", "tokens_per_player_hour": 30000, "minor_per_million_tokens": 90},
            {"tier": "grok", "tokens_per_player_hour": 30000, "minor_per_million_tokens": 300},
            {"tier": "anthropic", "tokens_per_player_hour": 30000, "minor_per_million_tokens": 600},
            {"tier": "openai", "tokens_per_player_hour": 30000, "minor_per_million_tokens": 500}
        ],
        "payment_fee_bps": 290, "payment_fee_fixed_minor": 25, "target_margin_bps": 3500,
        "min_seat_minor": 299, "max_seat_minor": 25000, "rounding": {"kind": "charm", "step": 50}
    })
}

const README_QUOTE: &str =
    "/api/v1/pricing/quote?players=8&sessions=12&session_minutes=180&tier=anthropic";

#[tokio::test]
async fn a_quote_shows_the_price_its_breakdown_and_the_book_version() {
    let app = spawn_app().await;
    let (_, token) = app.user("asker").await;
    let (status, q) = app
        .json(Method::GET, README_QUOTE, Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(q["price"]["amount"], 1199);
    assert_eq!(q["price"]["currency"], "EUR");
    assert_eq!(q["price_book_version"], "2026-11");
    let parts: i64 = ["compute", "narration", "payment_fees", "margin"]
        .iter()
        .map(|k| q[k]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(parts, 1199, "{q}");
    for (path, field) in [
        (
            "players=1&sessions=12&session_minutes=180&tier=ollama",
            "players",
        ),
        (
            "players=8&sessions=0&session_minutes=180&tier=ollama",
            "sessions",
        ),
        (
            "players=8&sessions=12&session_minutes=10&tier=ollama",
            "session_minutes",
        ),
        ("players=8&sessions=12&session_minutes=180&tier=gpt", "tier"),
        (
            "players=2&sessions=200&session_minutes=1440&tier=anthropic",
            "price",
        ),
    ] {
        let (status, e) = app
            .json(
                Method::GET,
                &format!("/api/v1/pricing/quote?{path}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (status, _) = app
        .json(
            Method::GET,
            "/api/v1/pricing/quote?players=-3",
            Some(&token),
            None,
        )
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn an_admin_book_prices_new_campaigns_and_is_audited_and_reversible() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("root").await;
    let (_, player) = app.user("pat").await;
    let (status, cur) = app
        .json(Method::GET, "/api/v1/admin/price-book", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cur}");
    assert_eq!(cur["source"], "config");
    assert_eq!(cur["book"]["version"], "2026-11");
    // Players may not read or change it.
    let (status, _) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&player),
            Some(book("x", 1)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Invalid books are refused with the field named; nothing changes.
    let mut bad = book("2026-12", 12);
    bad["target_margin_bps"] = json!(9500);
    let (status, e) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&admin),
            Some(bad),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "target_margin_bps");
    let mut unknown = book("2026-12", 12);
    unknown["surprise"] = json!(1);
    let (status, _) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&admin),
            Some(unknown),
        )
        .await;
    assert!(status.is_client_error());
    let (status, e) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&admin),
            Some(book("2026-11", 12)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    // A dearer server hour raises new quotes and names the new version.
    let (status, set) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&admin),
            Some(book("2026-12", 400)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["source"], "admin");
    let (_, q) = app
        .json(Method::GET, README_QUOTE, Some(&player), None)
        .await;
    assert_eq!(q["price_book_version"], "2026-12");
    assert!(q["price"]["amount"].as_i64().unwrap() > 1199, "{q}");
    // A version is used once.
    let (status, e) = app
        .json(
            Method::PUT,
            "/api/v1/admin/price-book",
            Some(&admin),
            Some(book("2026-12", 13)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&e), "conflict");
    // Back to the configured book.
    let (status, cur) = app
        .json(
            Method::DELETE,
            "/api/v1/admin/price-book",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cur["source"], "config");
    let (_, q) = app
        .json(Method::GET, README_QUOTE, Some(&player), None)
        .await;
    assert_eq!(q["price"]["amount"], 1199);
    let (_, log) = app
        .json(Method::GET, "/api/v1/admin/audit", Some(&admin), None)
        .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"price_book.set"), "{actions:?}");
    assert!(actions.contains(&"price_book.reset"), "{actions:?}");
}
