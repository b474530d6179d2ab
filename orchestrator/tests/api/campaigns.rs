//! Campaigns: creation, preview, publishing, cancelling and discovery.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// A valid campaign body: 8 players, weekly on Fridays in Berlin.
fn body(title: &str, mode: &str, tier: &str, starts_on: &str) -> Value {
    json!({
        "title": title,
        "description": "A slow-burning diplomatic campaign.",
        "settings": {"players": 8, "galaxy": "medium", "difficulty": "normal", "mode": mode,
                     "species_pool": null, "generator_version": "v1"},
        "seed": 42,
        "llm_tier": tier,
        "min_players": 4,
        "visibility": "public",
        "schedule": {"kind": "weekly", "weekdays": ["friday"], "start_time": "19:00",
                     "session_hours": 3, "time_zone": "Europe/Berlin",
                     "starts_on": starts_on, "weeks": 12}
    })
}

async fn create(app: &TestApp, token: &str, b: Value) -> Value {
    let (status, c) = app
        .json(Method::POST, "/api/v1/campaigns", Some(token), Some(b))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

#[tokio::test]
async fn a_game_master_creates_a_priced_draft_with_its_seed_fixed() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let c = create(
        &app,
        &gm,
        body("The Long Treaty", "diplomacy", "anthropic", "2027-01-01"),
    )
    .await;
    assert_eq!(c["status"], "draft");
    assert_eq!(c["seed"], "42");
    assert_eq!(c["generator_version"], "v1");
    assert_eq!(c["session_count"], 12);
    // The README's worked quote: 12 × 3 h, 8 players, Anthropic = 11.99 EUR.
    assert_eq!(c["price_minor"], 1199);
    assert_eq!(c["currency"], "EUR");
    assert_eq!(c["quote"]["price_book_version"], "2026-11");
    // Without a seed one is drawn.
    let mut b = body("Random Skies", "conquest", "ollama", "2027-01-01");
    b.as_object_mut().unwrap().remove("seed");
    let c2 = create(&app, &gm, b).await;
    assert!(c2["seed"].as_str().unwrap().parse::<u64>().is_ok());
    let (_, mine) = app
        .json(Method::GET, "/api/v1/me/campaigns", Some(&gm), None)
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn players_cannot_create_and_bad_fields_are_named() {
    let app = spawn_app().await;
    let (_, player) = app.user("nova").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/campaigns",
            Some(&player),
            Some(body("Mine", "conquest", "ollama", "2027-01-01")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let gm = app.game_master("keeper").await;
    // (JSON pointer, new value, the field the error must name)
    let cases = [
        ("/title", json!("x"), "title"),
        ("/settings/players", json!(51), "settings"),
        ("/llm_tier", json!("gpt-9"), "llm_tier"),
        ("/min_players", json!(9), "min_players"),
        ("/schedule/time_zone", json!("Mars/Olympus"), "time_zone"),
        ("/schedule/starts_on", json!("2027-02-30"), "starts_on"),
        ("/schedule/weeks", json!(0), "weeks"),
        ("/schedule/starts_on", json!("2020-01-03"), "schedule"),
    ];
    for (pointer, value, field) in cases {
        let mut b = body("Good Title", "conquest", "ollama", "2027-01-01");
        *b.pointer_mut(pointer).unwrap() = value;
        let (status, err) = app
            .json(Method::POST, "/api/v1/campaigns", Some(&gm), Some(b))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let (_, mine) = app
        .json(Method::GET, "/api/v1/me/campaigns", Some(&gm), None)
        .await;
    assert_eq!(mine, json!([]), "nothing was created");
}

#[tokio::test]
async fn the_preview_shows_the_world_the_seed_makes_to_its_game_master_only() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let other = app.game_master("rival").await;
    let c = create(
        &app,
        &gm,
        body("The Long Treaty", "diplomacy", "anthropic", "2027-01-01"),
    )
    .await;
    let path = format!("/api/v1/campaigns/{}/preview", c["id"].as_str().unwrap());
    let (status, p) = app.json(Method::GET, &path, Some(&gm), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(p["map_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(p["systems"].as_u64().unwrap() >= 48);
    assert!(!p["backstory"].as_array().unwrap().is_empty());
    // The same seed and settings give the same world every time.
    let settings: campaign_gen::Settings =
        serde_json::from_value(body("x", "diplomacy", "ollama", "2027-01-01")["settings"].clone())
            .unwrap();
    assert_eq!(
        p["world_hash"],
        campaign_gen::generate(42, &settings).hash()
    );
    let (status, _) = app.json(Method::GET, &path, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn drafts_are_private_until_published_and_cancelled_ones_leave_discovery() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let (_, player) = app.user("nova").await;
    let c = create(
        &app,
        &gm,
        body("The Long Treaty", "diplomacy", "anthropic", "2027-01-01"),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}"),
            Some(&player),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = app
        .json(Method::GET, "/api/v1/campaigns", Some(&player), None)
        .await;
    assert_eq!(page["campaigns"], json!([]));
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/publish"),
            Some(&player),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only its game master publishes"
    );
    let (status, published) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/publish"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(published["status"], "published");
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/publish"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, seen) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}"),
            Some(&player),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        seen["seed"].is_null(),
        "the seed is the game master's secret"
    );
    let (_, page) = app
        .json(Method::GET, "/api/v1/campaigns", Some(&player), None)
        .await;
    assert_eq!(page["campaigns"][0]["id"], id);
    let (status, cancelled) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/cancel"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    let (_, page) = app
        .json(Method::GET, "/api/v1/campaigns", Some(&player), None)
        .await;
    assert_eq!(page["campaigns"], json!([]));
}

#[tokio::test]
async fn discovery_filters_sorts_and_pages_by_cursor() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let (_, player) = app.user("nova").await;
    let specs = [
        ("Alpha", "conquest", "ollama", "2027-01-01"),
        ("Beta", "diplomacy", "anthropic", "2027-01-08"),
        ("Gamma", "conquest", "openai", "2027-01-15"),
        ("Delta", "survival", "ollama", "2027-01-22"),
        ("Epsilon", "conquest", "gemini", "2027-01-29"),
    ];
    for (title, mode, tier, start) in specs {
        let c = create(&app, &gm, body(title, mode, tier, start)).await;
        let path = format!("/api/v1/campaigns/{}/publish", c["id"].as_str().unwrap());
        app.call(Method::POST, &path, Some(&gm), None).await;
    }
    let titles = |page: &Value| -> Vec<String> {
        page["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, page) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?mode=conquest",
            Some(&player),
            None,
        )
        .await;
    assert_eq!(titles(&page), ["Alpha", "Gamma", "Epsilon"]);
    let (_, page) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?tier=ollama",
            Some(&player),
            None,
        )
        .await;
    assert_eq!(titles(&page), ["Alpha", "Delta"]);
    let (_, page) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?sort=price&limit=5",
            Some(&player),
            None,
        )
        .await;
    let prices: Vec<i64> = page["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["price_minor"].as_i64().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let cheapest = prices[0];
    let (_, page) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns?max_price={cheapest}"),
            Some(&player),
            None,
        )
        .await;
    assert!(
        page["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["price_minor"].as_i64().unwrap() <= cheapest)
    );
    // Pages of two, in start order, until the end.
    let mut seen = Vec::new();
    let mut path = "/api/v1/campaigns?limit=2".to_string();
    loop {
        let (status, page) = app.json(Method::GET, &path, Some(&player), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(titles(&page));
        match page["next"].as_str() {
            Some(c) => path = format!("/api/v1/campaigns?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]);
    // Filters and cursor together, sorted by price.
    let mut seen = Vec::new();
    let mut path = "/api/v1/campaigns?mode=conquest&sort=price&limit=2".to_string();
    loop {
        let (status, page) = app.json(Method::GET, &path, Some(&player), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(titles(&page));
        match page["next"].as_str() {
            Some(c) => {
                path = format!("/api/v1/campaigns?mode=conquest&sort=price&limit=2&cursor={c}")
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["Alpha", "Epsilon", "Gamma"]);
    for (query, field) in [
        ("mode=karaoke", "mode"),
        ("tier=skynet", "tier"),
        ("min_price=-5", "min_price"),
        ("min_price=500&max_price=100", "min_price"),
        ("sort=popularity", "sort"),
        ("limit=0", "limit"),
        ("cursor=garbage", "cursor"),
    ] {
        let (status, err) = app
            .json(
                Method::GET,
                &format!("/api/v1/campaigns?{query}"),
                Some(&player),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (status, _) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?min_price=cheap",
            Some(&player),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
