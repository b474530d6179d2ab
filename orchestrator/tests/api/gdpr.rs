//! Exporting and deleting my data.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_export_holds_my_data_and_none_of_my_secrets() {
    let app = spawn_app().await;
    let (id, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    app.json(
        Method::PATCH,
        "/api/v1/me/profile",
        Some(&nova),
        Some(json!({"bio": "Hello, galaxy."})),
    )
    .await;
    app.json(
        Method::POST,
        "/api/v1/me/friends",
        Some(&orion),
        Some(json!({"handle": "nova"})),
    )
    .await;
    app.json(
        Method::POST,
        "/api/v1/me/api-keys",
        Some(&nova),
        Some(json!({"name": "bot", "scopes": ["read"]})),
    )
    .await;
    let r = app
        .call(Method::GET, "/api/v1/me/export", Some(&nova), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let data: serde_json::Value = r.json().await.unwrap();
    assert_eq!(data["account"]["id"], id.as_str());
    assert_eq!(data["account"]["email"], "nova@example.com");
    assert_eq!(data["profile"]["bio"], "Hello, galaxy.");
    assert_eq!(data["friends"]["incoming"][0]["with"]["handle"], "orion");
    assert_eq!(data["api_keys"][0]["name"], "bot");
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(data["mail"][0]["subject"], "Confirm your Startales email");
    let text = data.to_string();
    for secret in [
        "argon2",
        "password_hash",
        "token_hash",
        "totp_secret",
        "key_hash",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the export");
    }
}

#[tokio::test]
async fn deleting_the_account_erases_it_and_frees_the_email_and_handle() {
    let app = spawn_app().await;
    let (id, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    app.json(
        Method::POST,
        "/api/v1/me/friends",
        Some(&orion),
        Some(json!({"handle": "nova"})),
    )
    .await;
    let (status, err) = app
        .json(
            Method::DELETE,
            "/api/v1/me",
            Some(&nova),
            Some(json!({"password": "wrong password!"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "password");
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/me",
            Some(&nova),
            Some(json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Gone for everyone: the old token, log-in, the profile, friend lists.
    let r = app.call(Method::GET, "/api/v1/me", Some(&nova), None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"login": "nova", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, lists) = app
        .json(Method::GET, "/api/v1/me/friends", Some(&orion), None)
        .await;
    assert_eq!(lists["outgoing"], json!([]));
    let row = app.store.account_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.standing, "deleted");
    assert!(!row.email.contains("nova") && !row.handle.contains("nova"));
    assert!(
        app.store
            .mail_to("nova@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    // The id stays (money records point at it); the name is free again.
    app.sign_up("nova").await;
}
