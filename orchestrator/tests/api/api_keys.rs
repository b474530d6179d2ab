//! API keys: shown once, hashed, scoped, revocable, owner-only.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_key_is_shown_once_and_then_works_as_a_bearer_token() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    let (status, key) = app
        .json(
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&token),
            Some(json!({"name": "bot", "scopes": ["read", "write"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("stk_"));
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    let (_, list) = app
        .json(Method::GET, "/api/v1/me/api-keys", Some(&token), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&secret),
        "listed without the secret"
    );
    let (status, p) = app
        .json(Method::GET, "/api/v1/me/profile", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["handle"], "nova");
    let (status, _) = app
        .json(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&secret),
            Some(json!({"bio": "written by a bot"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_read_key_only_reads_and_no_key_manages_keys_or_the_account() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    let (_, key) = app
        .json(
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&token),
            Some(json!({"name": "dashboard", "scopes": ["read"]})),
        )
        .await;
    let read = key["secret"].as_str().unwrap().to_string();
    let (status, _) = app
        .json(Method::GET, "/api/v1/me/friends", Some(&read), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = app
        .json(
            Method::PATCH,
            "/api/v1/me/profile",
            Some(&read),
            Some(json!({"bio": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    for (method, path, body) in [
        (Method::GET, "/api/v1/me/api-keys", None),
        (Method::GET, "/api/v1/me/export", None),
    ] {
        let (status, _) = app.json(method, path, Some(&read), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_revoked_key_stops_working_and_others_keys_cannot_be_revoked() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (_, key) = app
        .json(
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&nova),
            Some(json!({"name": "bot", "scopes": ["read"]})),
        )
        .await;
    let path = format!("/api/v1/me/api-keys/{}", key["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&orion), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(secret), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&nova), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(secret), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&nova), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn key_requests_are_validated_by_field() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    for (body, field) in [
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (json!({"name": "bot", "scopes": []}), "scopes"),
    ] {
        let (status, err) = app
            .json(
                Method::POST,
                "/api/v1/me/api-keys",
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&token),
            Some(json!({"name": "bot", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = app
        .call(Method::GET, "/api/v1/me", Some("stk_not-a-real-key"), None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
