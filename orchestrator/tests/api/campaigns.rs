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

/// A published campaign of `players` seats with a weekly schedule.
async fn weekly(
    app: &TestApp,
    gm: &str,
    title: &str,
    (day, time, hours, zone, starts_on, weeks): (&str, &str, u32, &str, &str, u32),
    players: u32,
) -> String {
    let mut b = body(title, "conquest", "ollama", starts_on);
    b["settings"]["players"] = json!(players);
    b["min_players"] = json!(2);
    b["schedule"] = json!({"kind": "weekly", "weekdays": [day], "start_time": time,
        "session_hours": hours, "time_zone": zone, "starts_on": starts_on, "weeks": weeks});
    app.published_campaign(gm, b).await
}

fn titles(page: &Value) -> Vec<String> {
    page["campaigns"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn discovery_filters_by_weekday_time_and_availability_in_the_viewers_zone() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    // Fridays 19:00-22:00 Berlin = Saturdays 03:00 in Tokyo.
    weekly(
        &app,
        &gm,
        "Berlin Fridays",
        ("friday", "19:00", 3, "Europe/Berlin", "2027-01-01", 4),
        8,
    )
    .await;
    // Saturdays 10:00-12:00 UTC = Saturdays 19:00-21:00 in Tokyo.
    weekly(
        &app,
        &gm,
        "UTC Saturdays",
        ("saturday", "10:00", 2, "UTC", "2027-01-02", 4),
        8,
    )
    .await;
    // Tuesdays 20:00 New York across the US change on 2027-03-14: 01:00
    // Wednesday in London before it, 00:00 for the two weeks until the UK
    // changes on 2027-03-28.
    weekly(
        &app,
        &gm,
        "New York Tuesdays",
        ("tuesday", "20:00", 2, "America/New_York", "2027-03-01", 4),
        8,
    )
    .await;
    // Listings read the same with fresh planner statistics (the store
    // refreshes them in the background) as without.
    app.store
        .refresh_statistics()
        .await
        .expect("statistics refresh");
    let (_, tokyo) = app.user("kei").await;
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&tokyo),
            Some(json!({"time_zone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = |q: &str| {
        let app = &app;
        let tokyo = tokyo.clone();
        let path = format!("/api/v1/campaigns?{q}");
        async move {
            let (status, page) = app.json(Method::GET, &path, Some(&tokyo), None).await;
            (status, page)
        }
    };
    // Weekdays in my profile's zone (Tokyo) by default.
    let (status, page) = list("weekdays=sat").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(titles(&page), ["Berlin Fridays", "UTC Saturdays"]);
    let (_, page) = list("weekdays=sat&from=18:00&to=23:00").await;
    assert_eq!(titles(&page), ["UTC Saturdays"]);
    let (_, page) = list("weekdays=fri&tz=Europe/Berlin").await;
    assert_eq!(titles(&page), ["Berlin Fridays"]);
    // The New York campaign keeps 20:00 for New Yorkers across their change...
    let (_, page) = list("weekdays=tue&from=20:00&to=22:00&tz=America/New_York").await;
    assert_eq!(titles(&page), ["New York Tuesdays"]);
    // ...but not for Londoners, whose clocks change two weeks later.
    let (_, page) = list("weekdays=wed&from=01:00&to=03:00&tz=Europe/London").await;
    assert!(titles(&page).is_empty(), "{page}");
    let (_, page) = list("weekdays=tue,wed&from=00:00&to=03:00&tz=Europe/London").await;
    assert_eq!(titles(&page), ["New York Tuesdays"]);
    // "Fits my availability" needs windows first.
    let (status, e) = list("fits_my_availability=true").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "fits_my_availability");
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&tokyo),
            Some(
                json!({"availability": [{"day": "sat", "start": "18:00", "end": "22:00"},
                                         {"day": "sat", "start": "02:00", "end": "04:00"}]}),
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, page) = list("fits_my_availability=true").await;
    assert_eq!(
        titles(&page),
        ["UTC Saturdays"],
        "Berlin's 3 hours overrun 02:00-04:00"
    );
    // Bad filters are named.
    for (q, field) in [
        ("weekdays=funday", "weekdays"),
        ("from=25:00", "from"),
        ("to=7pm", "to"),
        ("from=20:00&to=20:00", "to"),
        ("from=24:00&to=02:00", "from"),
        ("tz=Mars/Olympus&weekdays=mon", "tz"),
        ("fits_my_availability=true&tz=UTC", "tz"),
        ("sort=popularity", "sort"),
    ] {
        let (status, e) = list(q).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
        assert_eq!(e["error"]["field"], field, "{q}: {e}");
    }
}

#[tokio::test]
async fn time_filtered_listings_page_by_cursor_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let mut expected = Vec::new();
    for i in 0..9 {
        let day = if i % 3 == 0 { "monday" } else { "saturday" };
        let title = format!("Campaign {i}");
        let start = format!("2027-02-{:02}", i + 1);
        weekly(&app, &gm, &title, (day, "18:00", 2, "UTC", &start, 4), 8).await;
        if day == "saturday" {
            expected.push(title);
        }
    }
    let (_, player) = app.user("pat").await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/campaigns?weekdays=sat&tz=UTC&limit=2".to_string();
    loop {
        let (status, page) = app.json(Method::GET, &path, Some(&player), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(titles(&page));
        match page["next"].as_str() {
            Some(n) => path = format!("/api/v1/campaigns?weekdays=sat&tz=UTC&limit=2&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn discovery_sorts_by_seats_left_most_first() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let small = weekly(
        &app,
        &gm,
        "Small",
        ("monday", "18:00", 2, "UTC", "2027-02-01", 4),
        3,
    )
    .await;
    weekly(
        &app,
        &gm,
        "Large",
        ("monday", "18:00", 2, "UTC", "2027-02-02", 4),
        12,
    )
    .await;
    weekly(
        &app,
        &gm,
        "Medium",
        ("monday", "18:00", 2, "UTC", "2027-02-03", 4),
        6,
    )
    .await;
    let (_, a) = app.user("ann").await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{small}/join"),
            Some(&a),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, page) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?sort=seats_left",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(titles(&page), ["Large", "Medium", "Small"]);
    let (_, page) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?sort=seats_left&limit=1",
            Some(&a),
            None,
        )
        .await;
    let next = page["next"].as_str().unwrap().to_string();
    let (_, page) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns?sort=seats_left&limit=5&cursor={next}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(titles(&page), ["Medium", "Small"]);
}

/// GETs `path` as `token`, asserting 200; the page.
async fn page(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, page) = app.json(Method::GET, path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    page
}

/// Every page of `query` (without a cursor), followed to the end.
async fn all_pages(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut path = format!("/api/v1/campaigns?{query}");
    loop {
        let p = page(app, token, &path).await;
        rows.extend(p["campaigns"].as_array().unwrap().iter().cloned());
        match p["next"].as_str() {
            Some(n) => path = format!("/api/v1/campaigns?{query}&cursor={n}"),
            None => return rows,
        }
    }
}

/// A 422 naming `field` for `GET /api/v1/campaigns?{query}`.
async fn refused(app: &TestApp, token: &str, query: &str, field: &str) {
    let (status, e) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns?{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
    assert_eq!(e["error"]["field"], field, "{query}: {e}");
}

#[tokio::test]
async fn a_full_campaign_is_listed_as_full_and_seats_open_leaves_it_out() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let full = weekly(
        &app,
        &gm,
        "Full House",
        ("monday", "18:00", 2, "UTC", "2027-02-01", 4),
        2,
    )
    .await;
    weekly(
        &app,
        &gm,
        "Open Table",
        ("monday", "18:00", 2, "UTC", "2027-02-08", 4),
        8,
    )
    .await;
    for handle in ["ann", "bob"] {
        let (_, t) = app.user(handle).await;
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/campaigns/{full}/join"),
                Some(&t),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let (_, player) = app.user("cyd").await;
    // Full campaigns still take waitlist places, so players find them.
    let p = page(&app, &player, "/api/v1/campaigns").await;
    assert_eq!(titles(&p), ["Full House", "Open Table"]);
    assert_eq!(p["campaigns"][0]["status"], "full");
    assert_eq!(p["campaigns"][0]["seats_taken"], 2);
    assert_eq!(p["campaigns"][1]["status"], "published");
    for sort in ["start", "price", "seats_left"] {
        let p = page(
            &app,
            &player,
            &format!("/api/v1/campaigns?seats_open=true&sort={sort}"),
        )
        .await;
        assert_eq!(titles(&p), ["Open Table"], "sort={sort}");
    }
    let p = page(&app, &player, "/api/v1/campaigns?sort=seats_left").await;
    assert_eq!(titles(&p), ["Open Table", "Full House"]);
    let p = page(&app, &player, "/api/v1/campaigns?mode=conquest&tier=ollama").await;
    assert_eq!(titles(&p), ["Full House", "Open Table"]);
    // A full campaign takes waitlist places.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{full}/join"),
            Some(&player),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_time_window_across_midnight_lists_the_sessions_that_cross_it() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    weekly(
        &app,
        &gm,
        "Late Fridays",
        ("friday", "23:00", 2, "UTC", "2027-01-01", 4),
        8,
    )
    .await;
    weekly(
        &app,
        &gm,
        "Evening Fridays",
        ("friday", "19:00", 3, "UTC", "2027-01-08", 4),
        8,
    )
    .await;
    let (_, player) = app.user("owl").await;
    let list = |q: &'static str| {
        let (app, player) = (&app, player.clone());
        async move { titles(&page(app, &player, &format!("/api/v1/campaigns?tz=UTC&{q}")).await) }
    };
    assert_eq!(list("from=22:00&to=02:00").await, ["Late Fridays"]);
    assert!(list("from=20:00&to=24:00").await.is_empty());
    assert!(list("from=20:00").await.is_empty(), "to is midnight");
    assert_eq!(
        list("from=19:00&to=01:00").await,
        ["Late Fridays", "Evening Fridays"]
    );
    assert!(list("from=23:30&to=02:00").await.is_empty());
    // The weekday is the one a session starts on.
    assert_eq!(
        list("weekdays=fri&from=22:00&to=02:00").await,
        ["Late Fridays"]
    );
    assert!(list("weekdays=sat&from=22:00&to=02:00").await.is_empty());
    // The same night seen from Tokyo (UTC+9) is Saturday 08:00-10:00.
    let p = page(
        &app,
        &player,
        "/api/v1/campaigns?tz=Asia/Tokyo&weekdays=sat&from=07:00&to=10:00",
    )
    .await;
    assert_eq!(titles(&p), ["Late Fridays"]);
}

#[tokio::test]
async fn discovery_filters_by_the_first_sessions_start_range_and_checks_its_bounds() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    for (title, start) in [
        ("Alpha", "2027-01-01"),
        ("Beta", "2027-01-08"),
        ("Gamma", "2027-01-15"),
    ] {
        app.published_campaign(&gm, body(title, "conquest", "ollama", start))
            .await;
    }
    let (_, player) = app.user("nova").await;
    let p = page(&app, &player, "/api/v1/campaigns").await;
    let start = |i: usize| p["campaigns"][i]["first_session_at"].as_i64().unwrap();
    let (beta, gamma) = (start(1), start(2));
    let list = |q: String| {
        let (app, player) = (&app, player.clone());
        async move { titles(&page(app, &player, &format!("/api/v1/campaigns?{q}")).await) }
    };
    // After is inclusive, before exclusive.
    assert_eq!(
        list(format!("starts_after={beta}")).await,
        ["Beta", "Gamma"]
    );
    assert_eq!(
        list(format!("starts_before={gamma}")).await,
        ["Alpha", "Beta"]
    );
    assert_eq!(
        list(format!("starts_after={beta}&starts_before={gamma}")).await,
        ["Beta"]
    );
    assert!(
        list(format!("starts_after={beta}&starts_before={beta}"))
            .await
            .is_empty()
    );
    assert_eq!(
        list("starts_after=0&starts_before=253402300799999&sort=price".into())
            .await
            .len(),
        3
    );
    for (query, field) in [
        ("starts_after=-1", "starts_after"),
        ("starts_before=-86400000", "starts_before"),
        ("starts_after=253402300800000", "starts_after"),
        ("starts_before=9223372036854775807", "starts_before"),
        (
            "starts_after=1800000000000&starts_before=1700000000000",
            "starts_after",
        ),
    ] {
        refused(&app, &player, query, field).await;
    }
    let (status, _) = app
        .json(
            Method::GET,
            "/api/v1/campaigns?starts_after=tomorrow",
            Some(&player),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn min_price_leaves_out_cheaper_campaigns_and_prices_are_bounded() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    app.published_campaign(&gm, body("Cheap", "conquest", "ollama", "2027-01-01"))
        .await;
    app.published_campaign(&gm, body("Dear", "conquest", "anthropic", "2027-01-08"))
        .await;
    let (_, player) = app.user("nova").await;
    let p = page(&app, &player, "/api/v1/campaigns?sort=price").await;
    assert_eq!(titles(&p), ["Cheap", "Dear"]);
    let cheap = p["campaigns"][0]["price_minor"].as_i64().unwrap();
    let dear = p["campaigns"][1]["price_minor"].as_i64().unwrap();
    assert!(cheap < dear, "{p}");
    let list = |q: String| {
        let (app, player) = (&app, player.clone());
        async move { titles(&page(app, &player, &format!("/api/v1/campaigns?{q}")).await) }
    };
    assert_eq!(list(format!("min_price={cheap}")).await, ["Cheap", "Dear"]);
    assert_eq!(list(format!("min_price={}", cheap + 1)).await, ["Dear"]);
    assert_eq!(list(format!("min_price={dear}")).await, ["Dear"]);
    assert!(list(format!("min_price={}", dear + 1)).await.is_empty());
    assert_eq!(
        list(format!("min_price={cheap}&max_price={cheap}")).await,
        ["Cheap"]
    );
    // Up to 10,000,000 minor units, and no further.
    assert!(list("min_price=10000000".into()).await.is_empty());
    assert_eq!(list("max_price=10000000".into()).await.len(), 2);
    refused(&app, &player, "max_price=10000001", "max_price").await;
    refused(&app, &player, "min_price=10000001", "min_price").await;
}

#[tokio::test]
async fn campaigns_tied_on_the_sort_key_are_paged_each_once_in_id_order() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    // Same tier, players and schedule length: the same price.
    for (i, start) in [
        "2027-01-01",
        "2027-01-08",
        "2027-01-15",
        "2027-01-22",
        "2027-01-29",
    ]
    .into_iter()
    .enumerate()
    {
        app.published_campaign(&gm, body(&format!("Tied {i}"), "conquest", "ollama", start))
            .await;
    }
    app.published_campaign(&gm, body("Dear", "conquest", "anthropic", "2027-01-01"))
        .await;
    let (_, player) = app.user("nova").await;
    let key = |c: &Value| {
        (
            c["price_minor"].as_i64().unwrap(),
            c["id"].as_str().unwrap().to_string(),
        )
    };
    let mut expected: Vec<(i64, String)> = all_pages(&app, &player, "limit=100")
        .await
        .iter()
        .map(key)
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 6);
    assert!(
        expected[..5].iter().all(|(p, _)| *p == expected[0].0),
        "five share a price: {expected:?}"
    );
    for limit in [1, 2, 4] {
        let seen: Vec<(i64, String)> =
            all_pages(&app, &player, &format!("sort=price&limit={limit}"))
                .await
                .iter()
                .map(key)
                .collect();
        assert_eq!(seen, expected, "limit={limit}");
    }
}

#[tokio::test]
async fn a_cursor_is_good_only_for_the_sort_it_was_made_in() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    for (title, tier, start) in [
        ("Alpha", "anthropic", "2027-01-01"),
        ("Beta", "ollama", "2027-01-08"),
        ("Gamma", "gemini", "2027-01-15"),
    ] {
        app.published_campaign(&gm, body(title, "conquest", tier, start))
            .await;
    }
    let (_, player) = app.user("nova").await;
    let first = page(&app, &player, "/api/v1/campaigns?sort=price&limit=1").await;
    let next = first["next"].as_str().unwrap().to_string();
    let p = page(
        &app,
        &player,
        &format!("/api/v1/campaigns?sort=price&limit=1&cursor={next}"),
    )
    .await;
    assert_eq!(p["campaigns"].as_array().unwrap().len(), 1);
    assert_ne!(p["campaigns"][0]["id"], first["campaigns"][0]["id"]);
    refused(
        &app,
        &player,
        &format!("sort=start&cursor={next}"),
        "cursor",
    )
    .await;
    refused(&app, &player, &format!("cursor={next}"), "cursor").await;
    refused(
        &app,
        &player,
        &format!("sort=seats_left&cursor={next}"),
        "cursor",
    )
    .await;
    let start = page(&app, &player, "/api/v1/campaigns?limit=1").await;
    let start_next = start["next"].as_str().unwrap().to_string();
    refused(
        &app,
        &player,
        &format!("sort=price&cursor={start_next}"),
        "cursor",
    )
    .await;
    // Cursors without an id, or in no order, are not ones this API made.
    let key = start_next
        .split_once('.')
        .and_then(|(_, rest)| rest.split_once('_'))
        .map(|(k, _)| k.to_string())
        .unwrap();
    for bad in [
        format!("start.{key}_"),
        format!("{key}_abc"),
        "start.".to_string(),
        "price._abc".to_string(),
    ] {
        refused(&app, &player, &format!("cursor={bad}"), "cursor").await;
    }
}

#[tokio::test]
async fn a_new_york_campaigns_sessions_are_shown_on_a_berlin_clock_across_both_changes() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    // Sundays 13:00-16:00 New York. The US moves its clocks on 14 March
    // 2027, the EU on 28 March: Berlin sees 19:00, then 18:00 for two
    // weeks, then 19:00 again.
    let id = weekly(
        &app,
        &gm,
        "Atlantic Sundays",
        ("sunday", "13:00", 3, "America/New_York", "2027-03-07", 4),
        8,
    )
    .await;
    let (_, player) = app.user("nova").await;
    let path = format!("/api/v1/campaigns/{id}/sessions");
    let s = page(&app, &player, &format!("{path}?tz=Europe/Berlin")).await;
    assert_eq!(s["campaign_id"], id.as_str());
    assert_eq!(s["time_zone"], "Europe/Berlin");
    assert_eq!(s["campaign_time_zone"], "America/New_York");
    let sessions = s["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    let expected = [
        (
            "2027-03-07T18:00:00Z",
            "2027-03-07T19:00:00+01:00",
            "2027-03-07T22:00:00+01:00",
        ),
        (
            "2027-03-14T17:00:00Z",
            "2027-03-14T18:00:00+01:00",
            "2027-03-14T21:00:00+01:00",
        ),
        (
            "2027-03-21T17:00:00Z",
            "2027-03-21T18:00:00+01:00",
            "2027-03-21T21:00:00+01:00",
        ),
        (
            "2027-03-28T17:00:00Z",
            "2027-03-28T19:00:00+02:00",
            "2027-03-28T22:00:00+02:00",
        ),
    ];
    for (i, (s, (utc, local_start, local_end))) in sessions.iter().zip(expected).enumerate() {
        assert_eq!(s["index"], i, "{s}");
        assert_eq!(s["starts_at"], utc, "{s}");
        let start: jiff::Timestamp = utc.parse().unwrap();
        assert_eq!(s["starts_at_ms"], start.as_millisecond(), "{s}");
        assert_eq!(
            s["ends_at_ms"],
            start.as_millisecond() + 3 * 3_600_000,
            "{s}"
        );
        assert_eq!(s["local_starts_at"], local_start, "{s}");
        assert_eq!(s["local_ends_at"], local_end, "{s}");
    }
    assert_eq!(sessions[0]["ends_at"], "2027-03-07T21:00:00Z");
    // Without `tz`, my profile's zone.
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&player),
            Some(json!({"time_zone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = page(&app, &player, &path).await;
    assert_eq!(s["time_zone"], "Asia/Tokyo");
    assert_eq!(
        s["sessions"][0]["local_starts_at"],
        "2027-03-08T03:00:00+09:00"
    );
    // An unknown zone is named.
    let (status, e) = app
        .json(
            Method::GET,
            &format!("{path}?tz=Mars/Olympus"),
            Some(&player),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "tz");
}

#[tokio::test]
async fn a_drafts_sessions_are_shown_to_its_game_master_only() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let id = app
        .create_campaign(&gm, body("Secret", "conquest", "ollama", "2027-01-01"))
        .await;
    let path = format!("/api/v1/campaigns/{id}/sessions");
    let s = page(&app, &gm, &path).await;
    assert_eq!(s["sessions"].as_array().unwrap().len(), 12);
    let (_, player) = app.user("nova").await;
    for p in [path.as_str(), "/api/v1/campaigns/no-such-campaign/sessions"] {
        let (status, _) = app.json(Method::GET, p, Some(&player), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    }
    let (status, _) = app.json(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
