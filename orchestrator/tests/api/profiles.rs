//! Profiles, privacy, avatars.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn a_new_profile_has_defaults_and_a_patch_changes_only_what_it_names() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    let (status, p) = app
        .json(Method::GET, "/api/v1/me/profile", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["display_name"], "nova");
    assert_eq!(p["time_zone"], "UTC");
    assert_eq!(p["visibility"], "public");
    let (status, p) = app
        .json(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&token),
            Some(json!({
                "display_name": "Nova Prime",
                "time_zone": "Europe/Berlin",
                "preferred_modes": ["diplomacy", "exploration"],
                "llm_tiers": ["anthropic"],
                "availability": [{"day": "fri", "start": "19:00", "end": "23:00"}],
                "visibility": "friends"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["bio"], "");
    let (_, again) = app
        .json(Method::GET, "/api/v1/me/profile", Some(&token), None)
        .await;
    assert_eq!(again, p);
    assert_eq!(
        again["preferred_modes"],
        json!(["diplomacy", "exploration"])
    );
    assert_eq!(again["availability"][0]["day"], "fri");
}

#[tokio::test]
async fn bad_profile_fields_are_named_and_change_nothing() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    for (body, field) in [
        (json!({"display_name": ""}), "display_name"),
        (json!({"bio": "x".repeat(501)}), "bio"),
        (json!({"time_zone": "Moon/Tranquility"}), "time_zone"),
        (json!({"preferred_modes": ["karaoke"]}), "preferred_modes"),
        (json!({"llm_tiers": ["skynet"]}), "llm_tiers"),
        (
            json!({"availability": [{"day": "mon", "start": "25:00", "end": "26:00"}]}),
            "availability",
        ),
        (
            json!({"display_name": "Fine", "time_zone": "Nowhere/Else"}),
            "time_zone",
        ),
    ] {
        let (status, err) = app
            .json(
                Method::PATCH,
                "/api/v1/me/profile",
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (_, p) = app
        .json(Method::GET, "/api/v1/me/profile", Some(&token), None)
        .await;
    assert_eq!(p["display_name"], "nova", "nothing changed");
    let (status, err) = app
        .json(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&token),
            Some(json!({"visibility": "everyone", "favourite_colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&err), "bad_request");
    let r = app
        .call(Method::GET, "/api/v1/me/profile", None, None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn others_see_details_as_the_owners_visibility_allows() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (_, vega) = app.user("vega").await;
    app.json(
        Method::PATCH,
        "/api/v1/me/profile",
        Some(&nova),
        Some(json!({"bio": "Diplomat at heart.", "visibility": "friends"})),
    )
    .await;
    // Orion becomes a friend; Vega does not.
    app.befriend(&orion, &nova, "nova").await;
    let (status, seen) = app
        .json(Method::GET, "/api/v1/users/nova", Some(&orion), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["friend"], true);
    assert_eq!(seen["details"]["bio"], "Diplomat at heart.");
    let (_, seen) = app
        .json(Method::GET, "/api/v1/users/nova", Some(&vega), None)
        .await;
    assert_eq!(seen["display_name"], "nova");
    assert!(seen["details"].is_null(), "{seen}");
    app.json(
        Method::PATCH,
        "/api/v1/me/profile",
        Some(&nova),
        Some(json!({"visibility": "private"})),
    )
    .await;
    let (_, seen) = app
        .json(Method::GET, "/api/v1/users/nova", Some(&orion), None)
        .await;
    assert!(seen["details"].is_null());
    let (_, own) = app
        .json(Method::GET, "/api/v1/users/nova", Some(&nova), None)
        .await;
    assert_eq!(own["details"]["bio"], "Diplomat at heart.");
    let (status, _) = app
        .json(Method::GET, "/api/v1/users/nobody-here", Some(&nova), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_blocked_user_cannot_see_the_blockers_profile() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/me/blocks",
            Some(&nova),
            Some(json!({"handle": "orion"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for (who, whom) in [(&orion, "nova"), (&nova, "orion")] {
        let (status, _) = app
            .json(
                Method::GET,
                &format!("/api/v1/users/{whom}"),
                Some(who),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn avatars_are_the_same_svg_every_time_and_differ_between_people() {
    let app = spawn_app().await;
    app.user("nova").await;
    app.user("orion").await;
    let get = |h: &str| {
        let url = format!("{}/api/v1/users/{h}/avatar.svg", app.address);
        let client = app.client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], "image/svg+xml");
            r.text().await.unwrap()
        }
    };
    let a = get("nova").await;
    assert!(a.starts_with("<svg"));
    assert_eq!(a, get("Nova").await);
    assert_ne!(a, get("orion").await);
    let r = app
        .call(Method::GET, "/api/v1/users/ghost/avatar.svg", None, None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
