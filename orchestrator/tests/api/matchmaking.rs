//! Quick join: tickets matched at once or when campaigns open up, with the
//! score explained; cancelling; bad preferences.

use std::sync::atomic::Ordering;

use orchestrator::matchmaking::tickets;
use orchestrator::seats::LocalProvider;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Creates (and, with `publish`, publishes) a campaign; returns its id.
async fn campaign(
    app: &TestApp,
    gm: &str,
    mode: &str,
    tier: &str,
    players: u32,
    publish: bool,
) -> String {
    let id = app
        .create_campaign(
            gm,
            json!({
                "title": format!("A {mode} campaign"),
                "settings": {"players": players, "galaxy": "small", "difficulty": "normal",
                             "mode": mode, "species_pool": null, "generator_version": "v1"},
                "llm_tier": tier, "min_players": 2, "visibility": "public",
                "schedule": {"kind": "weekly", "weekdays": ["saturday"], "start_time": "18:00",
                             "session_hours": 3, "time_zone": "UTC", "starts_on": "2027-01-02", "weeks": 4}
            }),
        )
        .await;
    if publish {
        app.publish(gm, &id).await;
    }
    id
}

async fn ticket(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        "/api/v1/matchmaking/tickets",
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_ticket_is_seated_at_once_in_the_best_campaign_with_the_score_explained() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    campaign(&app, &gm, "conquest", "ollama", 4, true).await;
    let wanted = campaign(&app, &gm, "diplomacy", "anthropic", 4, true).await;
    let (_, nova) = app.user("nova").await;
    let (status, t) = ticket(
        &app,
        &nova,
        json!({"modes": ["diplomacy"], "max_price_minor": 5000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["status"], "matched");
    assert_eq!(t["campaign_id"], wanted.as_str());
    assert_eq!(t["join"]["seats"][0]["status"], "confirmed");
    let reasons = t["reasons"].as_array().unwrap();
    let sum: i64 = reasons.iter().map(|r| r["points"].as_i64().unwrap()).sum();
    assert_eq!(t["score"].as_i64().unwrap(), sum);
    assert!(reasons.iter().any(|r| r["factor"] == "mode"), "{t}");
    assert!(
        reasons
            .iter()
            .all(|r| r["detail"].as_str().is_some_and(|d| !d.is_empty()))
    );
    let (status, again) = app
        .json(
            Method::GET,
            &format!("/api/v1/matchmaking/tickets/{}", t["id"].as_str().unwrap()),
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["status"], "matched");
    let (_, mine) = app
        .json(Method::GET, "/api/v1/me/seats", Some(&nova), None)
        .await;
    assert_eq!(mine["seats"][0]["campaign_id"], wanted.as_str());
    // Nobody else reads it.
    let (_, other) = app.user("other").await;
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/api/v1/matchmaking/tickets/{}", t["id"].as_str().unwrap()),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_waiting_ticket_is_matched_when_a_campaign_is_published_or_a_seat_frees() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let (_, nova) = app.user("nova").await;
    let (status, t) = ticket(&app, &nova, json!({"modes": ["survival"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{t}");
    assert_eq!(t["status"], "waiting");
    let (status, e) = ticket(&app, &nova, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "one waiting ticket each: {e}");
    // A conquest campaign does not suit; a survival one, once published, does.
    campaign(&app, &gm, "conquest", "ollama", 2, true).await;
    let survival = campaign(&app, &gm, "survival", "ollama", 2, false).await;
    let path = format!("/api/v1/matchmaking/tickets/{}", t["id"].as_str().unwrap());
    assert_eq!(
        app.json(Method::GET, &path, Some(&nova), None).await.1["status"],
        "waiting"
    );
    app.publish(&gm, &survival).await;
    let (_, t) = app.json(Method::GET, &path, Some(&nova), None).await;
    assert_eq!(t["status"], "matched", "{t}");
    assert_eq!(t["campaign_id"], survival.as_str());
    // A full campaign: the ticket waits until a seat frees.
    let (_, ann) = app.user("ann").await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{survival}/join"),
            Some(&ann),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, bo) = app.user("bob").await;
    let (status, t) = ticket(&app, &bo, json!({"modes": ["survival"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{t}");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/campaigns/{survival}/seat"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The server's matching round (it runs every few seconds).
    let now = app.now.load(Ordering::SeqCst);
    assert_eq!(
        tickets::rematch(&app.store, &LocalProvider, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tickets::rematch(&app.store, &LocalProvider, now)
            .await
            .unwrap(),
        0
    );
    let path = format!("/api/v1/matchmaking/tickets/{}", t["id"].as_str().unwrap());
    let (_, t) = app.json(Method::GET, &path, Some(&bo), None).await;
    assert_eq!(
        (t["status"].as_str(), t["campaign_id"].as_str()),
        (Some("matched"), Some(survival.as_str()))
    );
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "bob@example.com" && m.2.contains("Quick join"))
    );
}

#[tokio::test]
async fn tickets_can_be_cancelled_and_bad_preferences_are_named() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    campaign(&app, &gm, "conquest", "openai", 4, true).await;
    let (_, nova) = app.user("nova").await;
    // Too cheap for anything on offer: it waits.
    let (status, t) = ticket(
        &app,
        &nova,
        json!({"max_price_minor": 1, "tiers": ["openai"]}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{t}");
    let path = format!("/api/v1/matchmaking/tickets/{}", t["id"].as_str().unwrap());
    let (_, other) = app.user("other").await;
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&other), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&nova), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.json(Method::GET, &path, Some(&nova), None).await.1["status"],
        "cancelled"
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&nova), None)
            .await
            .status(),
        StatusCode::CONFLICT
    );
    // A cancelled ticket is never matched.
    let now = app.now.load(Ordering::SeqCst);
    assert_eq!(
        tickets::rematch(&app.store, &LocalProvider, now)
            .await
            .unwrap(),
        0
    );
    for (body, field) in [
        (json!({"modes": ["chess"]}), "modes"),
        (json!({"tiers": ["gpt-9"]}), "tiers"),
        (json!({"max_price_minor": -1}), "max_price_minor"),
    ] {
        let (status, e) = ticket(&app, &nova, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["field"], field);
    }
    let (status, _) = ticket(&app, &nova, json!({"surprise": true})).await;
    assert!(status.is_client_error());
    let (status, e) = ticket(&app, &nova, json!({"party": true})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
}
