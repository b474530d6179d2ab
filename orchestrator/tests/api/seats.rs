//! Seats, waitlists, parties joining together, blocks, refunds, and
//! contended joins.

use orchestrator::accounts::{Role, TokenKeys};
use orchestrator::http::RateLimits;
use orchestrator::store::StoreError;
use orchestrator::store::accounts::AccountRow;
use orchestrator::store::campaigns::CampaignRow;
use orchestrator::store::group::Take;
use orchestrator::store::seats::{SeatRow, WaitRow};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use std::sync::Arc;
use std::sync::atomic::Ordering;

use orchestrator::billing::{CheckoutRequest, ProviderError, RefundRequest};
use orchestrator::seats::{self, PaymentProvider, PaymentStart};

use crate::helpers::{
    TestApp, TestOptions, campaign_body, spawn_app, spawn_app_options, spawn_app_with,
};

/// A published campaign of `players` seats starting 2027-01-01; returns its id.
async fn campaign(app: &TestApp, players: u32) -> (String, String) {
    let gm = app.game_master("keeper").await;
    let id = app
        .published_campaign(&gm, campaign_body("Seat Test", players, 7))
        .await;
    (id, gm)
}

/// The campaign as `token`'s holder sees it.
async fn campaign_view(app: &TestApp, id: &str, token: &str) -> Value {
    app.json(
        Method::GET,
        &format!("/api/v1/campaigns/{id}"),
        Some(token),
        None,
    )
    .await
    .1
}

async fn join(app: &TestApp, id: &str, token: &str, party: bool) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        &format!("/api/v1/campaigns/{id}/join"),
        Some(token),
        Some(json!({"party": party})),
    )
    .await
}

/// A party of three led by `lead` with `mem1` and `mem2`: the leader's
/// token and the members' handles and tokens.
async fn party_of_three(app: &TestApp) -> (String, Vec<(&'static str, String)>) {
    let (_, lead) = app.user("lead").await;
    let mut members = Vec::new();
    for h in ["mem1", "mem2"] {
        let (_, t) = app.user(h).await;
        app.befriend(&lead, &t, h).await;
        members.push((h, t));
    }
    let pairs: Vec<(&str, &str)> = members.iter().map(|(h, t)| (*h, t.as_str())).collect();
    app.party(&lead, &pairs).await;
    (lead, members)
}

/// The game master `gm` cancels campaign `id`.
async fn cancel(app: &TestApp, id: &str, gm: &str) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        &format!("/api/v1/campaigns/{id}/cancel"),
        Some(gm),
        None,
    )
    .await
}

/// `token`'s holder blocks the player `handle`.
async fn block(app: &TestApp, token: &str, handle: &str) {
    app.json(
        Method::POST,
        "/api/v1/me/blocks",
        Some(token),
        Some(json!({"handle": handle})),
    )
    .await;
}

#[tokio::test]
async fn a_player_takes_a_confirmed_seat_once_at_the_quoted_price() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 4).await;
    let (_, nova) = app.user("nova").await;
    let (status, out) = join(&app, &id, &nova, false).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["outcome"], "seated");
    assert_eq!(out["payment"], "test mode: no real money");
    assert_eq!(out["seats"][0]["status"], "confirmed");
    let c = campaign_view(&app, &id, &nova).await;
    assert_eq!(out["seats"][0]["price_minor"], c["price_minor"]);
    assert_eq!(c["seats_taken"], 1);
    let (status, _) = join(&app, &id, &nova, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "joining twice");
    let (status, _) = join(&app, &id, &gm, false).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the game master does not play"
    );
    let (_, roster) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/roster"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(roster["seats"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/roster"),
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the roster is the game master's"
    );
    // Leaving before the first session refunds in full.
    let (status, seat) = app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seat["refund_minor"], c["price_minor"]);
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_full_campaign_waitlists_in_order_and_a_freed_seat_goes_to_the_head() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    let mut tokens = Vec::new();
    for h in ["ann", "bob", "cyd", "dee"] {
        tokens.push(app.user(h).await.1);
    }
    for t in &tokens[..2] {
        assert_eq!(join(&app, &id, t, false).await.0, StatusCode::CREATED);
    }
    let c = campaign_view(&app, &id, &tokens[0]).await;
    assert_eq!(c["status"], "full");
    let (status, w) = join(&app, &id, &tokens[2], false).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (w["outcome"].as_str(), w["position"].as_i64()),
        (Some("waitlisted"), Some(1))
    );
    let (_, w) = join(&app, &id, &tokens[3], false).await;
    assert_eq!(w["position"], 2);
    let (status, _) = join(&app, &id, &tokens[3], false).await;
    assert_eq!(status, StatusCode::CONFLICT, "already waiting");
    // Ann leaves: Cyd, first in line, gets the seat and a mail.
    app.call(
        Method::DELETE,
        &format!("/api/v1/campaigns/{id}/seat"),
        Some(&tokens[0]),
        None,
    )
    .await;
    let (status, _) = join(&app, &id, &tokens[2], false).await;
    assert_eq!(status, StatusCode::CONFLICT, "Cyd holds a seat now");
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "cyd@example.com" && m.2.contains("A seat opened"))
    );
    let c = campaign_view(&app, &id, &tokens[0]).await;
    assert_eq!(
        (c["seats_taken"].as_i64(), c["status"].as_str()),
        (Some(2), Some("full"))
    );
    // Dee gives up her place.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&tokens[3]),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_party_joins_all_together_or_waits_together() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 3).await;
    let (lead, members) = party_of_three(&app).await;
    // A member cannot join for the party.
    let (status, _) = join(&app, &id, &members[0].1, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // One seat goes to a stranger: 2 left, the party of 3 waits as one.
    let (_, stranger) = app.user("solo").await;
    assert_eq!(
        join(&app, &id, &stranger, false).await.0,
        StatusCode::CREATED
    );
    let (status, w) = join(&app, &id, &lead, true).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{w}");
    assert!(
        w["seats"].as_array().unwrap().is_empty(),
        "none of them seated"
    );
    // The stranger leaves: all three are seated together.
    app.call(
        Method::DELETE,
        &format!("/api/v1/campaigns/{id}/seat"),
        Some(&stranger),
        None,
    )
    .await;
    for (_, t) in &members {
        assert_eq!(
            join(&app, &id, t, false).await.0,
            StatusCode::CONFLICT,
            "seated with the party"
        );
    }
}

#[tokio::test]
async fn nobody_is_seated_alongside_someone_who_blocks_them() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 4).await;
    let (_, nova) = app.user("nova").await;
    let (_, troll) = app.user("troll").await;
    assert_eq!(join(&app, &id, &nova, false).await.0, StatusCode::CREATED);
    block(&app, &nova, "troll").await;
    let (status, err) = join(&app, &id, &troll, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    // Nor in a campaign whose game master blocks them.
    let (_, outcast) = app.user("outcast").await;
    let keeper = app.log_in("keeper").await.0;
    block(&app, &keeper, "outcast").await;
    let (status, _) = join(&app, &id, &outcast, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Anyone else still gets in.
    let (_, other) = app.user("other").await;
    assert_eq!(join(&app, &id, &other, false).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_player_suspended_or_banned_after_logging_in_cannot_join_with_the_old_token() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 4).await;
    let (nova_id, nova) = app.user("nova").await;
    let now = app.now.load(std::sync::atomic::Ordering::SeqCst);
    app.store
        .set_standing(&nova_id, "suspended", Some(now + 86_400_000), now)
        .await
        .unwrap();
    let (status, err) = join(&app, &id, &nova, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("suspended until"),
        "{err}"
    );
    app.store
        .set_standing(&nova_id, "banned", None, now)
        .await
        .unwrap();
    let (status, err) = join(&app, &id, &nova, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("banned"));
    // Nothing was taken, and once the ban is lifted the same token joins.
    assert_eq!(campaign_view(&app, &id, &gm).await["seats_taken"], 0);
    app.store
        .set_standing(&nova_id, "active", None, now)
        .await
        .unwrap();
    let (status, out) = join(&app, &id, &nova, false).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
}

/// An app whose rate limits let a crowd of joins through at once.
async fn contended_app() -> TestApp {
    spawn_app_with(RateLimits {
        auth_burst: 1_000,
        general_burst: 100_000,
        general_period_ms: 1,
        ..RateLimits::default()
    })
    .await
}

/// Sends one join per token all at once; the statuses (`None` when a
/// request got no answer).
async fn join_at_once<'a>(
    app: &TestApp,
    id: &str,
    tokens: impl Iterator<Item = &'a String>,
) -> Vec<Option<StatusCode>> {
    let joins = tokens.map(|t| {
        let request = app
            .client
            .post(format!("{}/api/v1/campaigns/{id}/join", app.address))
            .bearer_auth(t)
            .json(&json!({}));
        async move { request.send().await.ok().map(|r| r.status()) }
    });
    futures_util::future::join_all(joins).await
}

/// `n` players put straight into the store, with tokens signed with the
/// test key: tests of contended joins are about seats, not sign-up.
async fn players(app: &TestApp, n: usize) -> Vec<String> {
    let keys = TokenKeys::new(&[42; 32]);
    let now = app.now.load(std::sync::atomic::Ordering::SeqCst);
    let mut tokens = Vec::new();
    for i in 0..n {
        let account = AccountRow {
            id: format!("load-{i:04}"),
            email: format!("load{i}@example.com"),
            handle: format!("load{i}"),
            password_hash: "!".into(),
            role: "player".into(),
            email_verified: true,
            display_name: format!("load{i}"),
            created_at: now,
            standing: "active".into(),
            suspended_until: None,
            totp_enabled: false,
        };
        app.store.insert_account(&account, now).await.unwrap();
        tokens.push(
            keys.issue(&account.id, Role::Player, "s", false, now)
                .unwrap(),
        );
    }
    tokens
}

#[tokio::test]
async fn a_thousand_concurrent_joins_fill_ten_seats_and_waitlist_the_rest() {
    let app = contended_app().await;
    let (id, _) = campaign(&app, 10).await;
    let tokens = players(&app, 1000).await;
    let statuses = join_at_once(&app, &id, tokens.iter()).await;
    let count = |s: StatusCode| statuses.iter().filter(|x| **x == Some(s)).count();
    assert_eq!(
        count(StatusCode::CREATED),
        10,
        "exactly the seats there are"
    );
    assert_eq!(
        count(StatusCode::ACCEPTED),
        990,
        "everyone else waits: {statuses:?}"
    );
    let c = campaign_view(&app, &id, &tokens[0]).await;
    assert_eq!(c["seats_taken"], 10);
    assert_eq!(app.store.live_seats(&id).await.unwrap().len(), 10);
    assert_eq!(app.store.waitlist(&id).await.unwrap().len(), 990);
}

#[tokio::test]
async fn players_joining_twice_at_once_get_one_seat_or_one_place_each() {
    let app = contended_app().await;
    let (id, _) = campaign(&app, 10).await;
    let tokens = players(&app, 200).await;
    // Each player's two joins go out together, so many land in the same
    // group write as their twin.
    let statuses = join_at_once(&app, &id, tokens.iter().chain(tokens.iter())).await;
    let count = |s: StatusCode| statuses.iter().filter(|x| **x == Some(s)).count();
    assert_eq!(count(StatusCode::CREATED), 10, "{statuses:?}");
    assert_eq!(count(StatusCode::ACCEPTED), 190, "{statuses:?}");
    assert_eq!(
        count(StatusCode::CONFLICT),
        200,
        "every repeat is refused: {statuses:?}"
    );
    let seats = app.store.live_seats(&id).await.unwrap();
    let waiting = app.store.waitlist(&id).await.unwrap();
    assert_eq!(seats.len(), 10);
    assert_eq!(waiting.len(), 190);
    let seated: std::collections::HashSet<&str> =
        seats.iter().map(|s| s.account_id.as_str()).collect();
    let in_line: std::collections::HashSet<&str> =
        waiting.iter().map(|w| w.account_id.as_str()).collect();
    assert_eq!(seated.len() + in_line.len(), 200, "one each, never both");
    assert!(seated.is_disjoint(&in_line));
    let c = campaign_view(&app, &id, &tokens[0]).await;
    assert_eq!(c["seats_taken"], 10, "the count matches the seats");
}

#[tokio::test]
async fn the_game_master_removes_a_player_with_a_full_refund_on_the_audit_log() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 2).await;
    let (nova_id, nova) = app.user("nova").await;
    let (_, vega) = app.user("vega").await;
    let (_, wait) = app.user("wait").await;
    join(&app, &id, &nova, false).await;
    join(&app, &id, &vega, false).await;
    assert_eq!(join(&app, &id, &wait, false).await.0, StatusCode::ACCEPTED);
    let path = format!("/api/v1/campaigns/{id}/roster/{nova_id}");
    let (status, _) = app.json(Method::DELETE, &path, Some(&vega), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only the game master removes"
    );
    let (status, seat) = app.json(Method::DELETE, &path, Some(&gm), None).await;
    assert_eq!(status, StatusCode::OK, "{seat}");
    assert_eq!(seat["status"], "released");
    assert_eq!(seat["refund_minor"], seat["price_minor"]);
    let (status, _) = app.json(Method::DELETE, &path, Some(&gm), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The waiting player moved up.
    let (_, roster) = app
        .json(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/roster"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(roster["seats"].as_array().unwrap().len(), 2);
    assert_eq!(roster["waitlist"], json!([]));
    let entries = app.store.audit_page(None, 10).await.unwrap();
    let release = entries.iter().find(|e| e.action == "seat.release").unwrap();
    assert!(release.details.contains("removed by the game master"));
}

#[tokio::test]
async fn calendars_list_the_sessions_and_joins_warn_of_overlaps() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 4).await;
    let (_, nova) = app.user("nova").await;
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/calendar.ics"),
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let feed = r.text().await.unwrap();
    assert!(feed.starts_with("BEGIN:VCALENDAR\r\n"));
    assert_eq!(
        feed.matches("BEGIN:VEVENT").count(),
        4,
        "four weekly sessions"
    );
    assert!(feed.contains("DTSTART:20270102T180000Z"));
    // A second campaign at the same hour: joining both warns.
    let (status, c2) = app
        .json(
            Method::POST,
            "/api/v1/campaigns",
            Some(&gm),
            Some(json!({
                "title": "Same Night",
                "settings": {"players": 4, "galaxy": "small", "difficulty": "normal",
                             "mode": "survival", "species_pool": null, "generator_version": "v1"},
                "seed": 8, "llm_tier": "ollama", "min_players": 2, "visibility": "public",
                "schedule": {"kind": "weekly", "weekdays": ["saturday"], "start_time": "19:00",
                             "session_hours": 2, "time_zone": "UTC", "starts_on": "2027-01-09", "weeks": 4}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c2}");
    let id2 = c2["id"].as_str().unwrap();
    app.call(
        Method::POST,
        &format!("/api/v1/campaigns/{id2}/publish"),
        Some(&gm),
        None,
    )
    .await;
    let (_, first) = join(&app, &id, &nova, false).await;
    assert_eq!(first["conflicts"], json!([]));
    let (status, second) = join(&app, id2, &nova, false).await;
    assert_eq!(status, StatusCode::CREATED, "a warning, not a refusal");
    assert_eq!(second["conflicts"], json!(["Seat Test"]));
    let feed = app
        .call(Method::GET, "/api/v1/me/calendar.ics", Some(&nova), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(feed.matches("BEGIN:VEVENT").count(), 8);
}

#[tokio::test]
async fn invite_only_campaigns_take_players_with_the_current_code_only() {
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let (status, c) = app
        .json(
            Method::POST,
            "/api/v1/campaigns",
            Some(&gm),
            Some(json!({
                "title": "Friends Only",
                "settings": {"players": 4, "galaxy": "small", "difficulty": "normal",
                             "mode": "diplomacy", "species_pool": null, "generator_version": "v1"},
                "seed": 3, "llm_tier": "ollama", "min_players": 2, "visibility": "invite",
                "schedule": {"kind": "one_shot", "starts_at": "2027-03-06T18:00:00Z", "time_zone": "UTC"}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let code = c["invite_code"].as_str().unwrap().to_string();
    app.call(
        Method::POST,
        &format!("/api/v1/campaigns/{id}/publish"),
        Some(&gm),
        None,
    )
    .await;
    let (_, page) = app
        .json(Method::GET, "/api/v1/campaigns", Some(&gm), None)
        .await;
    assert_eq!(page["campaigns"], json!([]), "not listed");
    let join_with = |token: String, code: Option<String>| {
        let path = format!("/api/v1/campaigns/{id}/join");
        let app = &app;
        async move {
            app.json(
                Method::POST,
                &path,
                Some(&token),
                Some(json!({"invite_code": code})),
            )
            .await
            .0
        }
    };
    let (_, nova) = app.user("nova").await;
    assert_eq!(join_with(nova.clone(), None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        join_with(nova.clone(), Some("guess".into())).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        join_with(nova, Some(code.clone())).await,
        StatusCode::CREATED
    );
    // Rotating revokes the old code.
    let (status, fresh) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/invite-code"),
            Some(&gm),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, vega) = app.user("vega").await;
    assert_eq!(
        join_with(vega.clone(), Some(code)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        join_with(
            vega,
            Some(fresh["invite_code"].as_str().unwrap().to_string())
        )
        .await,
        StatusCode::CREATED
    );
}

/// A payment provider whose payers never come back from checkout.
#[derive(Debug)]
struct NeverPaid;

#[async_trait::async_trait]
impl PaymentProvider for NeverPaid {
    fn name(&self) -> &'static str {
        "pending"
    }
    async fn checkout(&self, order: &CheckoutRequest) -> Result<PaymentStart, ProviderError> {
        Ok(PaymentStart::Pending {
            checkout_id: format!("never-{}", order.order_id),
            url: "https://pay.example/never".into(),
        })
    }
    async fn refund(&self, refund: &RefundRequest) -> Result<String, ProviderError> {
        Ok(refund.refund_id.clone())
    }
}

async fn my_seats(app: &TestApp, token: &str) -> Value {
    let (status, s) = app
        .json(Method::GET, "/api/v1/me/seats", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

#[tokio::test]
async fn an_unpaid_hold_lapses_after_fifteen_minutes_and_the_waitlist_moves_up() {
    let app = spawn_app_options(TestOptions {
        payments: Arc::new(NeverPaid),
        ..TestOptions::default()
    })
    .await;
    let (id, _) = campaign(&app, 2).await;
    let handles = ["ann", "bob", "cyd", "dee"];
    let mut tokens = Vec::new();
    for h in handles {
        tokens.push(app.user(h).await.1);
    }
    for t in &tokens[..2] {
        let (status, j) = join(&app, &id, t, false).await;
        assert_eq!(status, StatusCode::CREATED, "{j}");
        assert_eq!(j["seats"][0]["status"], "held");
    }
    assert_eq!(
        join(&app, &id, &tokens[2], false).await.0,
        StatusCode::ACCEPTED
    );
    let mine = my_seats(&app, &tokens[0]).await;
    let expires = mine["seats"][0]["hold_expires_at"].as_i64().unwrap();
    assert_eq!(expires, app.now.load(Ordering::SeqCst) + 15 * 60_000);
    assert_eq!(
        my_seats(&app, &tokens[2]).await["waitlist"][0]["position"],
        1
    );
    // Ann pays in time (the provider's confirmation); Bob does not.
    let ann_seat = mine["seats"][0]["id"].as_str().unwrap();
    assert!(
        app.store
            .confirm_seat(ann_seat, app.now.load(Ordering::SeqCst))
            .await
            .unwrap()
    );
    // Nothing lapses a second early.
    app.advance_ms(15 * 60_000 - 1);
    let now = app.now.load(Ordering::SeqCst);
    assert_eq!(
        seats::release_lapsed_holds(&app.store, &NeverPaid, None, now)
            .await
            .unwrap(),
        0
    );
    app.advance_ms(1);
    let now = app.now.load(Ordering::SeqCst);
    assert_eq!(
        seats::release_lapsed_holds(&app.store, &NeverPaid, None, now)
            .await
            .unwrap(),
        1
    );
    // Access tokens live 15 minutes too.
    for (t, h) in tokens.iter_mut().zip(handles) {
        *t = app.log_in(h).await.0;
    }
    // A second sweep finds nothing: nothing is released twice.
    assert_eq!(
        seats::release_lapsed_holds(&app.store, &NeverPaid, None, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        my_seats(&app, &tokens[0]).await["seats"][0]["status"],
        "confirmed"
    );
    assert!(
        my_seats(&app, &tokens[1]).await["seats"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Cyd, first in line, now holds the seat with a fresh hold.
    let cyd = my_seats(&app, &tokens[2]).await;
    assert_eq!(cyd["seats"][0]["status"], "held");
    assert_eq!(cyd["seats"][0]["hold_expires_at"], now + 15 * 60_000);
    assert!(cyd["waitlist"].as_array().unwrap().is_empty());
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "bob@example.com" && m.2.contains("ran out"))
    );
    assert!(mail.iter().any(|m| m.1 == "cyd@example.com"
        && m.2.contains("A seat opened")
        && m.3.contains("pay for it before")));
    // Cyd does not pay either; a join finds the campaign full of lapsed
    // holds and releases them itself before deciding.
    app.advance_ms(15 * 60_000);
    let dee = app.log_in("dee").await.0;
    let (status, j) = join(&app, &id, &dee, false).await;
    assert_eq!(status, StatusCode::CREATED, "{j}");
    let c = campaign_view(&app, &id, &dee).await;
    assert_eq!(c["seats_taken"], 2, "{c}");
}

#[tokio::test]
async fn a_secret_feed_address_serves_my_sessions_without_a_token_until_replaced() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 4).await;
    let (_, nova) = app.user("nova").await;
    assert_eq!(join(&app, &id, &nova, false).await.0, StatusCode::CREATED);
    let (status, feed) = app
        .json(Method::POST, "/api/v1/me/calendar-feed", Some(&nova), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let path = feed["path"].as_str().unwrap().to_string();
    let r = app.call(Method::GET, &path, None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 4, "{text}");
    // Guessing is useless; a new address ends the old one.
    let r = app
        .call(
            Method::GET,
            "/api/v1/calendar-feeds/guess/sessions.ics",
            None,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, again) = app
        .json(Method::POST, "/api/v1/me/calendar-feed", Some(&nova), None)
        .await;
    let new_path = again["path"].as_str().unwrap();
    assert_ne!(new_path, path);
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::GET, new_path, None, None).await.status(),
        StatusCode::OK
    );
    // Ended: gone.
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/me/calendar-feed",
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, new_path, None, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/me/calendar-feed",
            Some(&nova),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// Seven players' campaign, 12 Saturdays 18:00-22:00 UTC from 2026-11-21 (three days
/// after the test clock's start), published; returns (id, gm token).
async fn soon_campaign(app: &TestApp) -> (String, String) {
    let gm = app.game_master("keeper").await;
    let id = app
        .published_campaign(
            &gm,
            json!({
                "title": "Soon",
                "settings": {"players": 7, "galaxy": "small", "difficulty": "normal",
                             "mode": "conquest", "species_pool": null, "generator_version": "v1"},
                "seed": 7, "llm_tier": "ollama", "min_players": 2, "visibility": "public",
                "schedule": {"kind": "weekly", "weekdays": ["saturday"], "start_time": "18:00",
                             "session_hours": 4, "time_zone": "UTC", "starts_on": "2026-11-21", "weeks": 12}
            }),
        )
        .await;
    (id, gm)
}

async fn patch(app: &TestApp, id: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.json(
        Method::PATCH,
        &format!("/api/v1/campaigns/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn seated_players_keep_their_price_are_told_of_changes_and_may_leave_refunded() {
    let app = spawn_app().await;
    let (id, gm) = soon_campaign(&app).await;
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    // Ann reads her mail on Berlin time.
    let (status, _) = app
        .json(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&ann),
            Some(json!({"time_zone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, j) = join(&app, &id, &ann, false).await;
    let paid = j["seats"][0]["price_minor"].as_i64().unwrap();
    join(&app, &id, &bob, false).await;
    // A dearer tier: new seats cost more; seated players keep their price
    // and are told, but nothing is held against them.
    let (status, ch) = patch(&app, &id, &gm, json!({"llm_tier": "anthropic"})).await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    assert!(
        ch["campaign"]["price_minor"].as_i64().unwrap() > paid,
        "{ch}"
    );
    assert_eq!(ch["notified"], 2);
    assert_eq!(ch["refund_offer_until"], Value::Null);
    assert_eq!(my_seats(&app, &ann).await["seats"][0]["price_minor"], paid);
    // Only the game master changes it, and only valid values.
    let (status, _) = patch(&app, &id, &ann, json!({"title": "Mine now"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (body, field) in [
        (json!({"title": "x"}), "title"),
        (json!({"llm_tier": "gpt"}), "llm_tier"),
        (json!({"min_players": 9}), "min_players"),
        (
            json!({"schedule": {"kind": "weekly", "weekdays": ["sunday"], "start_time": "18:00",
            "session_hours": 2, "time_zone": "UTC", "starts_on": "2026-11-01", "weeks": 4}}),
            "schedule",
        ),
        (
            json!({"schedule": {"kind": "weekly", "weekdays": ["sunday"], "start_time": "18:00",
            "session_hours": 2, "time_zone": "Nowhere/Land", "starts_on": "2026-11-22", "weeks": 4}}),
            "time_zone",
        ),
    ] {
        let (status, e) = patch(&app, &id, &gm, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (status, _) = patch(&app, &id, &gm, json!({"price_minor": 1})).await;
    assert!(
        status.is_client_error(),
        "the price is quoted, never set by hand"
    );
    // A new schedule hurts: everyone may leave with a full refund for a
    // week, even after play has begun.
    let (status, ch) = patch(
        &app,
        &id,
        &gm,
        json!({"schedule": {"kind": "weekly", "weekdays": ["sunday"], "start_time": "18:00",
            "session_hours": 4, "time_zone": "UTC", "starts_on": "2026-11-22", "weeks": 12}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    let until = ch["refund_offer_until"].as_i64().unwrap();
    assert_eq!(until, app.now.load(Ordering::SeqCst) + 7 * 86_400_000);
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(mail.iter().any(|m| m.1 == "bob@example.com"
        && m.2 == "Changes to Soon"
        && m.3.contains("full refund")
        && m.3.contains("2026-11-22 18:00 UTC")));
    assert!(mail.iter().any(|m| m.1 == "ann@example.com"
        && m.2 == "Changes to Soon"
        && m.3.contains("2026-11-22 19:00 CET")));
    // Five days on, the first Sunday session has been played.
    app.advance_ms(5 * 86_400_000);
    let ann = app.log_in("ann").await.0;
    let (status, left) = app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left["refund_minor"], paid, "inside the offer: all of it");
    // After the offer, the pro-rata rule is back.
    app.advance_ms(3 * 86_400_000);
    let bob = app.log_in("bob").await.0;
    let (_, left) = app
        .json(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&bob),
            None,
        )
        .await;
    // One Sunday of twelve has been played: eleven twelfths come back.
    let refund = left["refund_minor"].as_i64().unwrap();
    assert_eq!(refund, paid * 11 / 12, "{left}");
    // Both changes are on the audit log with the price movement.
    let entries = app.store.audit_page(None, 50).await.unwrap();
    let updates: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "campaign.update")
        .collect();
    assert_eq!(updates.len(), 2);
    assert!(updates.iter().all(|e| e.details.contains("\"from\"")));
}

#[tokio::test]
async fn a_join_on_terms_that_changed_meanwhile_takes_no_seat() {
    let app = spawn_app().await;
    let (id, gm) = soon_campaign(&app).await;
    let before = app.store.campaign(&id).await.unwrap().unwrap();
    let (status, _) = patch(&app, &id, &gm, json!({"llm_tier": "openai"})).await;
    assert_eq!(status, StatusCode::OK);
    let (ann_id, _) = app.user("ann").await;
    let now = app.now.load(Ordering::SeqCst);
    let seat = held_seat("seat-stale", &before, &ann_id, now);
    let taken = app
        .store
        .take_seats(
            std::slice::from_ref(&seat),
            None,
            before.terms_version,
            now,
            None,
        )
        .await
        .unwrap();
    assert!(
        matches!(taken, Take::NoRoom),
        "stale terms must not seat anyone: {taken:?}"
    );
    // With a place in line to fall back on, the stale terms are told and
    // no place is made either.
    let place = wait_row("wait-stale", &id, &ann_id, now);
    let taken = app
        .store
        .take_seats(&[seat], None, before.terms_version, now, Some(&place))
        .await
        .unwrap();
    assert!(matches!(taken, Take::TermsChanged), "{taken:?}");
    let after = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(after.seats_taken, 0);
    assert!(app.store.waitlist(&id).await.unwrap().is_empty());
}

/// A seat of `c` held for `account` at `now` on `c`'s terms.
fn held_seat(id: &str, c: &CampaignRow, account: &str, now: i64) -> SeatRow {
    SeatRow {
        id: id.into(),
        campaign_id: c.id.clone(),
        account_id: account.into(),
        party_id: None,
        status: "held".into(),
        hold_expires_at: Some(now + 60_000),
        price_minor: c.price_minor,
        currency: c.currency.clone(),
        quote: c.quote.clone(),
        provider: "test".into(),
        refund_minor: 0,
        refund_offer_until: None,
        created_at: now,
        order_id: None,
    }
}

/// A waitlist place for `account` in `campaign`, made at `now`.
fn wait_row(id: &str, campaign: &str, account: &str, now: i64) -> WaitRow {
    WaitRow {
        id: id.into(),
        campaign_id: campaign.into(),
        account_id: account.into(),
        party_id: None,
        size: 1,
        status: "waiting".into(),
        created_at: now,
        retry_at: None,
    }
}

#[tokio::test]
async fn a_seat_take_that_finds_no_room_writes_its_place_in_line_instead() {
    let app = spawn_app().await;
    let (id, _gm) = campaign(&app, 2).await;
    let mut tokens = Vec::new();
    for h in ["ann", "bob"] {
        tokens.push(app.user(h).await.1);
    }
    for t in &tokens {
        let (status, _) = join(&app, &id, t, false).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.status, "full");
    let (cyd_id, _) = app.user("cyd").await;
    let now = app.now.load(Ordering::SeqCst);
    let seat = held_seat("seat-late", &c, &cyd_id, now);
    let seat_again = held_seat("seat-late-2", &c, &cyd_id, now);
    let place = wait_row("wait-late", &id, &cyd_id, now);
    let taken = app
        .store
        .take_seats(&[seat], None, c.terms_version, now, Some(&place))
        .await
        .unwrap();
    match taken {
        Take::Waiting(Ok((position, status))) => {
            assert_eq!(position, 1);
            assert_eq!(status, "full");
        }
        other => panic!("expected a place in line, got {other:?}"),
    }
    let after = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(after.seats_taken, 2, "no seat was sold twice");
    let line = app.store.waitlist(&id).await.unwrap();
    assert_eq!(line[0].id, "wait-late");
    // A second place for the same player is refused, not made.
    let again = wait_row("wait-late-2", &id, &cyd_id, now);
    let taken = app
        .store
        .take_seats(&[seat_again], None, c.terms_version, now, Some(&again))
        .await
        .unwrap();
    assert!(
        matches!(taken, Take::Waiting(Err(StoreError::Conflict(_)))),
        "{taken:?}"
    );
    let line = app.store.waitlist(&id).await.unwrap();
    assert_eq!(line.len(), 1, "{line:?}");
}

#[tokio::test]
async fn join_views_asked_for_at_once_each_read_as_they_would_alone() {
    let app = spawn_app().await;
    let (a, gm) = campaign(&app, 4).await;
    let b = app
        .published_campaign(&gm, campaign_body("Other Table", 4, 7))
        .await;
    let (nova_id, nova) = app.user("nova").await;
    let (troll_id, _) = app.user("troll").await;
    let (outcast_id, _) = app.user("outcast").await;
    let (plain_id, _) = app.user("plain").await;
    let (late_id, _) = app.user("late").await;
    assert_eq!(join(&app, &a, &nova, false).await.0, StatusCode::CREATED);
    block(&app, &nova, "troll").await;
    block(&app, &gm, "outcast").await;
    // A hold in B that lapses a minute from now.
    let now = app.now.load(Ordering::SeqCst);
    let cb = app.store.campaign(&b).await.unwrap().unwrap();
    let hold = held_seat("seat-late", &cb, &late_id, now);
    let taken = app
        .store
        .take_seats(&[hold], None, cb.terms_version, now, None)
        .await
        .unwrap();
    assert!(matches!(taken, Take::Seated), "{taken:?}");

    let mut asks = Vec::new();
    for campaign in [a.as_str(), b.as_str(), "no-such-campaign"] {
        for caller in [&nova_id, &troll_id, &outcast_id, &plain_id, "gone-account"] {
            for at in [now, now + 120_000] {
                asks.push((campaign, caller.to_string(), vec![caller.to_string()], at));
            }
        }
        // A party: the plain player with the one a seated player blocks.
        asks.push((
            campaign,
            plain_id.clone(),
            vec![plain_id.clone(), troll_id.clone()],
            now,
        ));
    }
    let mut alone = Vec::new();
    for (campaign, caller, members, at) in &asks {
        alone.push(
            app.store
                .join_view(campaign, caller, members, *at)
                .await
                .unwrap(),
        );
    }
    let together =
        futures_util::future::join_all(asks.iter().map(|(campaign, caller, members, at)| {
            app.store.join_view(campaign, caller, members, *at)
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(together, alone);

    // And alone, each says what it should.
    let view = |campaign: &str, caller: &str, members: usize, at: i64| {
        asks.iter()
            .position(|(c, who, m, t)| {
                *c == campaign && who == caller && m.len() == members && *t == at
            })
            .and_then(|i| together[i].clone())
    };
    let seated = view(&a, &nova_id, 1, now).unwrap();
    assert!(seated.any_seated && !seated.seated_elsewhere && !seated.lapsed_holds);
    assert_eq!(seated.campaign.id, a);
    assert_eq!(seated.caller.unwrap().standing, "active");
    let elsewhere = view(&b, &nova_id, 1, now).unwrap();
    assert!(!elsewhere.any_seated && elsewhere.seated_elsewhere);
    assert!(view(&a, &troll_id, 1, now).unwrap().seat_block);
    assert!(!view(&b, &troll_id, 1, now).unwrap().seat_block);
    assert!(view(&a, &plain_id, 2, now).unwrap().seat_block);
    let outcast = view(&b, &outcast_id, 1, now).unwrap();
    assert!(outcast.gm_block && !outcast.seat_block);
    let plain = view(&a, &plain_id, 1, now).unwrap();
    assert!(!plain.any_seated && !plain.gm_block && !plain.seat_block && !plain.seated_elsewhere);
    assert!(!view(&b, &plain_id, 1, now).unwrap().lapsed_holds);
    assert!(view(&b, &plain_id, 1, now + 120_000).unwrap().lapsed_holds);
    assert!(view(&a, "gone-account", 1, now).unwrap().caller.is_none());
    assert!(view("no-such-campaign", &plain_id, 1, now).is_none());
}

#[tokio::test]
async fn cancelling_refunds_every_seat_in_full_and_ends_the_waitlist() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 2).await;
    let mut tokens = Vec::new();
    for h in ["ann", "bob", "cyd"] {
        tokens.push(app.user(h).await.1);
    }
    let (_, j) = join(&app, &id, &tokens[0], false).await;
    let paid = j["seats"][0]["price_minor"].as_i64().unwrap();
    join(&app, &id, &tokens[1], false).await;
    assert_eq!(
        join(&app, &id, &tokens[2], false).await.0,
        StatusCode::ACCEPTED
    );
    let (status, c) = cancel(&app, &id, &gm).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(
        (c["status"].as_str(), c["seats_taken"].as_i64()),
        (Some("cancelled"), Some(0))
    );
    for t in &tokens {
        let mine = my_seats(&app, t).await;
        assert!(mine["seats"].as_array().unwrap().is_empty(), "{mine}");
        assert!(mine["waitlist"].as_array().unwrap().is_empty(), "{mine}");
    }
    let entries = app.store.audit_page(None, 50).await.unwrap();
    let refunds: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "seat.release" && e.details.contains("campaign cancelled"))
        .collect();
    assert_eq!(refunds.len(), 2);
    assert!(
        refunds
            .iter()
            .all(|e| e.details.contains(&format!("\"refund_minor\":{paid}")))
    );
    let mail = app.store.unsent_mail(100).await.unwrap();
    for who in ["ann", "bob", "cyd"] {
        assert!(
            mail.iter()
                .any(|m| m.1 == format!("{who}@example.com") && m.2 == "Seat Test is cancelled"),
            "{who}"
        );
    }
    let (status, _) = join(&app, &id, &tokens[2], false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Its calendar keeps the sessions, marked cancelled.
    let feed = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/calendar.ics"),
            Some(&gm),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(feed.matches("STATUS:CANCELLED\r\n").count(), 4, "{feed}");
    let (status, _) = patch(&app, &id, &gm, json!({"title": "Revived"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = cancel(&app, &id, &gm).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_block_made_while_waiting_skips_that_place_when_a_seat_opens() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let (_, cyd) = app.user("cyd").await;
    let (_, dee) = app.user("dee").await;
    assert_eq!(join(&app, &id, &ann, false).await.0, StatusCode::CREATED);
    assert_eq!(join(&app, &id, &bob, false).await.0, StatusCode::CREATED);
    assert_eq!(join(&app, &id, &cyd, false).await.0, StatusCode::ACCEPTED);
    assert_eq!(join(&app, &id, &dee, false).await.0, StatusCode::ACCEPTED);
    // Ann, still seated, blocks Cyd, first in line.
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/blocks",
            Some(&ann),
            Some(json!({"handle": "cyd"})),
        )
        .await;
    assert!(r.status().is_success());
    // Bob leaves: the seat skips Cyd and goes to Dee.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        my_seats(&app, &cyd).await["seats"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        my_seats(&app, &cyd).await["waitlist"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        my_seats(&app, &dee).await["seats"][0]["campaign_id"],
        id.as_str()
    );
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "cyd@example.com" && m.3.contains("block"))
    );
}

#[tokio::test]
async fn a_campaign_cancelled_since_a_join_read_it_takes_no_place_in_its_line() {
    let app = spawn_app().await;
    let (id, gm) = campaign(&app, 2).await;
    let (ann_id, _) = app.user("ann").await;
    let before = app.store.campaign(&id).await.unwrap().unwrap();
    let (status, _) = cancel(&app, &id, &gm).await;
    assert_eq!(status, StatusCode::OK);
    // A join that read the campaign open writes its place (or its seats,
    // falling back on a place) only now.
    let now = app.now.load(Ordering::SeqCst);
    let place = wait_row("wait-late", &id, &ann_id, now);
    match app.store.join_waitlist(&place).await {
        Err(StoreError::Closed(status)) => assert_eq!(status, "cancelled"),
        other => panic!("expected a closed campaign, got {other:?}"),
    }
    let seat = held_seat("seat-late", &before, &ann_id, now);
    let taken = app
        .store
        .take_seats(&[seat], None, before.terms_version, now, Some(&place))
        .await
        .unwrap();
    assert!(
        matches!(&taken, Take::Waiting(Err(StoreError::Closed(s))) if s == "cancelled"),
        "{taken:?}"
    );
    assert!(app.store.waitlist(&id).await.unwrap().is_empty());
    let after = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(after.seats_taken, 0);
}

#[tokio::test]
async fn places_left_waiting_in_a_closed_campaigns_line_are_ended_and_told() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    for h in ["ann", "bob"] {
        let (_, t) = app.user(h).await;
        assert_eq!(join(&app, &id, &t, false).await.0, StatusCode::CREATED);
    }
    let (_, cyd) = app.user("cyd").await;
    assert_eq!(join(&app, &id, &cyd, false).await.0, StatusCode::ACCEPTED);
    // The campaign closes without its line being ended, as when a place
    // went in just after a cancel ended the line.
    let now = app.now.load(Ordering::SeqCst);
    assert!(
        app.store
            .set_campaign_status(&id, "full", "cancelled", now)
            .await
            .unwrap()
    );
    assert_eq!(app.store.waitlist(&id).await.unwrap().len(), 1);
    let now = app.now.load(Ordering::SeqCst) + 5_000;
    assert_eq!(
        seats::end_stranded_places(&app.store, now).await.unwrap(),
        1
    );
    assert!(app.store.waitlist(&id).await.unwrap().is_empty());
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "cyd@example.com" && m.3.contains("is cancelled")),
        "{mail:?}"
    );
    // Done once: nothing is left to end.
    assert_eq!(
        seats::end_stranded_places(&app.store, now).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn a_freed_seat_goes_to_the_line_not_to_a_newcomer() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let (_, cyd) = app.user("cyd").await;
    let (dee_id, dee) = app.user("dee").await;
    assert_eq!(join(&app, &id, &ann, false).await.0, StatusCode::CREATED);
    assert_eq!(join(&app, &id, &bob, false).await.0, StatusCode::CREATED);
    assert_eq!(join(&app, &id, &cyd, false).await.0, StatusCode::ACCEPTED);
    // Bob's seat is freed without the line moving yet (as when a paid
    // checkout's hold is released by the payment webhook).
    let bobs = my_seats(&app, &bob).await["seats"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = app.now.load(Ordering::SeqCst);
    assert!(app.store.release_seat(&bobs, 0, now).await.unwrap());
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!((c.status.as_str(), c.seats_taken), ("published", 1));
    // Dee, new, joins the open campaign: she waits behind Cyd, and the
    // seat goes to Cyd.
    let (status, j) = join(&app, &id, &dee, false).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{j}");
    assert_eq!(j["outcome"], "waitlisted");
    assert_eq!(
        my_seats(&app, &cyd).await["seats"][0]["campaign_id"],
        id.as_str()
    );
    let line = app.store.waitlist(&id).await.unwrap();
    assert_eq!(line.len(), 1, "{line:?}");
    assert_eq!(line[0].account_id, dee_id);
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!((c.status.as_str(), c.seats_taken), ("full", 2));
}

#[tokio::test]
async fn a_promotion_leaves_the_line_in_the_same_commit_as_its_seat() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let (cyd_id, cyd) = app.user("cyd").await;
    let (dee_id, dee) = app.user("dee").await;
    for t in [&ann, &bob] {
        assert_eq!(join(&app, &id, t, false).await.0, StatusCode::CREATED);
    }
    for t in [&cyd, &dee] {
        assert_eq!(join(&app, &id, t, false).await.0, StatusCode::ACCEPTED);
    }
    let line = app.store.waitlist(&id).await.unwrap();
    let (cyds, dees) = (line[0].id.clone(), line[1].id.clone());
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    let now = app.now.load(Ordering::SeqCst);
    // Full: the place keeps its spot, nothing is taken.
    let seat = held_seat("seat-cyd", &c, &cyd_id, now);
    let seat_cyd = || {
        app.store.take_seats_for_place(
            std::slice::from_ref(&seat),
            None,
            c.terms_version,
            now,
            &cyds,
        )
    };
    let taken = seat_cyd().await.unwrap();
    assert!(matches!(taken, Take::NoRoom), "{taken:?}");
    assert_eq!(app.store.waitlist(&id).await.unwrap().len(), 2);
    // A seat frees: Cyd's place is seated past Dee, who stays in line.
    let anns = my_seats(&app, &ann).await["seats"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(app.store.release_seat(&anns, 0, now).await.unwrap());
    let taken = seat_cyd().await.unwrap();
    assert!(matches!(taken, Take::Seated), "{taken:?}");
    let line = app.store.waitlist(&id).await.unwrap();
    assert_eq!(
        line.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        [dees.as_str()]
    );
    assert!(app.store.live_seat(&id, &cyd_id).await.unwrap().is_some());
    // The same place again: it no longer waits, and nothing is taken.
    let again = held_seat("seat-cyd-2", &c, &cyd_id, now);
    let taken = app
        .store
        .take_seats_for_place(&[again], None, c.terms_version, now, &cyds)
        .await
        .unwrap();
    assert!(matches!(taken, Take::LineMoved), "{taken:?}");
    // Dee, who left the line meanwhile, is not seated either.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/campaigns/{id}/seat"),
            Some(&dee),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let deeseat = held_seat("seat-dee", &c, &dee_id, now);
    let taken = app
        .store
        .take_seats_for_place(&[deeseat], None, c.terms_version, now, &dees)
        .await
        .unwrap();
    assert!(matches!(taken, Take::LineMoved), "{taken:?}");
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!(c.seats_taken, 2);
}

#[tokio::test]
async fn a_seat_paid_since_it_was_read_is_not_released_as_an_unpaid_hold() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 4).await;
    let (ann_id, _) = app.user("ann").await;
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    let now = app.now.load(Ordering::SeqCst);
    let hold = held_seat("seat-ann", &c, &ann_id, now);
    let taken = app
        .store
        .take_seats(&[hold], None, c.terms_version, now, None)
        .await
        .unwrap();
    assert!(matches!(taken, Take::Seated), "{taken:?}");
    // Read as a hold, then paid before the release.
    assert!(app.store.confirm_seat("seat-ann", now).await.unwrap());
    assert!(
        !app.store
            .release_seat_as("seat-ann", "held", 0, now)
            .await
            .unwrap()
    );
    let s = app.store.live_seat(&id, &ann_id).await.unwrap().unwrap();
    assert_eq!(s.status, "confirmed");
    assert!(
        app.store
            .release_seat_as("seat-ann", "confirmed", s.price_minor, now)
            .await
            .unwrap()
    );
    assert!(app.store.live_seat(&id, &ann_id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_player_who_will_not_wait_gets_a_conflict_from_a_full_campaign() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    for h in ["ann", "bob"] {
        let (_, t) = app.user(h).await;
        assert_eq!(join(&app, &id, &t, false).await.0, StatusCode::CREATED);
    }
    let (_, cyd) = app.user("cyd").await;
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/join"),
            Some(&cyd),
            Some(json!({"waitlist": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("full"),
        "{body}"
    );
    assert!(app.store.waitlist(&id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_campaign_short_of_its_minimum_at_the_warm_up_is_cancelled_and_refunded() {
    use orchestrator::scheduler::Scheduler;
    use orchestrator::scheduler::decide::Timing;
    let app = spawn_app().await;
    let gm = app.game_master("keeper").await;
    let mut body = campaign_body("Too Few", 4, 7);
    body["min_players"] = json!(3);
    let short = app.published_campaign(&gm, body).await;
    let (_, ann) = app.user("ann").await;
    let (_, j) = join(&app, &short, &ann, false).await;
    let paid = j["seats"][0]["price_minor"].as_i64().unwrap();
    // Another, with enough players and one more waiting; its operator keeps
    // its server stopped (no game server runs in this test).
    let enough = app
        .published_campaign(&gm, campaign_body("Enough", 2, 8))
        .await;
    for h in ["bob", "cyd", "dee"] {
        let (_, t) = app.user(h).await;
        join(&app, &enough, &t, false).await;
    }
    let now = app.now.load(Ordering::SeqCst);
    app.store
        .set_server_override(&enough, Some("suspend"), now)
        .await
        .unwrap();
    let scheduler = Scheduler {
        store: app.store.clone(),
        runtime: app.runtime.clone(),
        timing: Timing::default(),
        payments: app.payments.clone(),
    };
    let first = app
        .store
        .campaign(&short)
        .await
        .unwrap()
        .unwrap()
        .first_session_at;
    // Before the warm-up nothing changes.
    scheduler.round(first - 11 * 60_000).await.unwrap();
    let c = app.store.campaign(&short).await.unwrap().unwrap();
    assert_eq!(c.status, "published");
    // At the warm-up one of three is too few: cancelled, refunded in full.
    scheduler.round(first - 10 * 60_000).await.unwrap();
    let c = app.store.campaign(&short).await.unwrap().unwrap();
    assert_eq!((c.status.as_str(), c.seats_taken), ("cancelled", 0));
    let entries = app.store.audit_page(None, 50).await.unwrap();
    assert!(
        entries.iter().any(|e| e.action == "seat.release"
            && e.details.contains("too few players")
            && e.details.contains(&format!("\"refund_minor\":{paid}"))),
        "{entries:?}"
    );
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "ann@example.com" && m.3.contains("minimum of 3 players")),
        "{mail:?}"
    );
    // The full one starts at its first session, and its line ends.
    let c = app.store.campaign(&enough).await.unwrap().unwrap();
    assert_eq!(c.status, "full");
    scheduler.round(c.first_session_at).await.unwrap();
    let c = app.store.campaign(&enough).await.unwrap().unwrap();
    assert_eq!(c.status, "running");
    assert!(app.store.waitlist(&enough).await.unwrap().is_empty());
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.1 == "dee@example.com" && m.3.contains("started without a seat")),
        "{mail:?}"
    );
}

#[tokio::test]
async fn a_party_too_big_for_the_free_seats_keeps_its_place_without_keeping_them_empty() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 3).await;
    let (lead, members) = party_of_three(&app).await;
    let mut solos = Vec::new();
    for h in ["solo1", "solo2", "solo3", "solo4"] {
        solos.push(app.user(h).await.1);
    }
    for t in &solos[..3] {
        assert_eq!(join(&app, &id, t, false).await.0, StatusCode::CREATED);
    }
    // The party waits first in line, a solo player behind it.
    let (status, w) = join(&app, &id, &lead, true).await;
    assert_eq!(
        (status, w["position"].as_i64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    let (status, w) = join(&app, &id, &solos[3], false).await;
    assert_eq!(
        (status, w["position"].as_i64()),
        (StatusCode::ACCEPTED, Some(2))
    );
    let leave = |t: String| {
        let (app, id) = (&app, id.clone());
        async move {
            app.call(
                Method::DELETE,
                &format!("/api/v1/campaigns/{id}/seat"),
                Some(&t),
                None,
            )
            .await
            .status()
        }
    };
    // One seat frees: too few for the party, so the solo player behind it
    // takes it, and the party keeps its place at the head.
    assert_eq!(leave(solos[0].clone()).await, StatusCode::OK);
    assert_eq!(
        my_seats(&app, &solos[3]).await["seats"][0]["campaign_id"],
        id.as_str()
    );
    let line = app.store.waitlist(&id).await.unwrap();
    assert_eq!(line.len(), 1);
    assert_eq!(line[0].size, 3);
    // A newcomer with no one in line fitting the free seats takes one.
    assert_eq!(leave(solos[1].clone()).await, StatusCode::OK);
    let (_, newcomer) = app.user("new").await;
    assert_eq!(
        join(&app, &id, &newcomer, false).await.0,
        StatusCode::CREATED
    );
    // Once three are free, the party is seated together.
    for t in [&solos[2], &solos[3], &newcomer] {
        assert_eq!(leave(t.clone()).await, StatusCode::OK);
    }
    assert!(app.store.waitlist(&id).await.unwrap().is_empty());
    for (_, t) in &members {
        assert_eq!(
            my_seats(&app, t).await["seats"][0]["campaign_id"],
            id.as_str()
        );
    }
}

#[tokio::test]
async fn takes_for_a_campaign_just_found_full_wait_in_line_and_still_see_a_seat_freed() {
    let app = spawn_app().await;
    let (id, _) = campaign(&app, 2).await;
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    let now = app.now.load(Ordering::SeqCst);
    let mut people = Vec::new();
    for h in ["ann", "bob", "cyd", "dee", "eve"] {
        people.push(app.user(h).await.0);
    }
    let take = |n: usize| {
        let (app, c, who) = (&app, c.clone(), people[n].clone());
        async move {
            let seat = held_seat(&format!("seat-{n}"), &c, &who, now);
            let place = wait_row(&format!("wait-{n}"), &c.id, &who, now + n as i64);
            app.store
                .take_seats(&[seat], None, c.terms_version, now, Some(&place))
                .await
                .unwrap()
        }
    };
    assert!(matches!(take(0).await, Take::Seated));
    assert!(matches!(take(1).await, Take::Seated));
    // Full now: the next take waits in line.
    match take(2).await {
        Take::Waiting(Ok((1, status))) => assert_eq!(status, "full"),
        other => panic!("{other:?}"),
    }
    // A seat frees without the line moving: a take right after still
    // waits (behind Cyd), and its answer shows the campaign open, so the
    // join moves the line.
    assert!(app.store.release_seat("seat-0", 0, now).await.unwrap());
    match take(3).await {
        Take::Waiting(Ok((2, status))) => assert_eq!(status, "published"),
        other => panic!("{other:?}"),
    }
    match take(4).await {
        Take::Waiting(Ok((3, status))) => assert_eq!(status, "published"),
        other => panic!("{other:?}"),
    }
    let c = app.store.campaign(&id).await.unwrap().unwrap();
    assert_eq!((c.seats_taken, c.status.as_str()), (1, "published"));
}
