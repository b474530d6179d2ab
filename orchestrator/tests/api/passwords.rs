//! Changing and resetting passwords, and the admin second factor.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{error_code, spawn_app};

async fn log_in_with(app: &crate::helpers::TestApp, login: &str, password: &str) -> StatusCode {
    app.call(
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"login": login, "password": password})),
    )
    .await
    .status()
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (here, here_refresh) = app.log_in("nova").await;
    let (_, other_refresh) = app.log_in("nova").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(&here),
            Some(json!({"current_password": "correct horse battery", "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let refresh = |t: &str| {
        app.call(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": t})),
        )
    };
    assert_eq!(
        refresh(&other_refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(&here_refresh).await.status(), StatusCode::OK);
    assert_eq!(
        log_in_with(&app, "nova", "correct horse battery").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log_in_with(&app, "nova", "a brand new passphrase").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_current_password_or_a_weak_new_one_is_refused_by_field() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    for (body, field) in [
        (
            json!({"current_password": "not it at all", "new_password": "a brand new passphrase"}),
            "current_password",
        ),
        (
            json!({"current_password": "correct horse battery", "new_password": "short"}),
            "new_password",
        ),
        (
            json!({"current_password": "correct horse battery", "new_password": "nova@example.com"}),
            "new_password",
        ),
    ] {
        let (status, err) = app
            .json(
                Method::POST,
                "/api/v1/me/password",
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    assert_eq!(
        log_in_with(&app, "nova", "correct horse battery").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_requests_answer_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let before = app.store.unsent_mail(100).await.unwrap().len();
    for email in ["nova@example.com", "nobody@example.com"] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/accounts/password-reset",
                None,
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(r.text().await.unwrap(), "");
    }
    let mail = app.store.unsent_mail(100).await.unwrap();
    assert_eq!(mail.len(), before + 1, "only the real account gets mail");
    let (status, err) = app
        .json(
            Method::POST,
            "/api/v1/accounts/password-reset",
            None,
            Some(json!({"email": "not an address"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "email");
}

#[tokio::test]
async fn a_reset_code_sets_a_new_password_once_and_ends_every_session() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (_, refresh) = app.log_in("nova").await;
    app.call(
        Method::POST,
        "/api/v1/accounts/password-reset",
        None,
        Some(json!({"email": "nova@example.com"})),
    )
    .await;
    let code = app.mailed_code("nova", "use this code: ").await;
    // A weak password does not spend the code.
    let (status, err) = app
        .json(
            Method::POST,
            "/api/v1/accounts/password-reset/confirm",
            None,
            Some(json!({"token": code, "new_password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "new_password");
    let confirm = |pw: &'static str| {
        app.call(
            Method::POST,
            "/api/v1/accounts/password-reset/confirm",
            None,
            Some(json!({"token": code, "new_password": pw})),
        )
    };
    assert_eq!(
        confirm("reset to something long").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        confirm("and again, twice over").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log_in_with(&app, "nova", "reset to something long").await,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "old sessions ended");
}

#[tokio::test]
async fn an_expired_reset_code_is_refused() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    app.call(
        Method::POST,
        "/api/v1/accounts/password-reset",
        None,
        Some(json!({"email": "nova@example.com"})),
    )
    .await;
    let code = app.mailed_code("nova", "use this code: ").await;
    app.advance_ms(3_600_001);
    let (status, err) = app
        .json(
            Method::POST,
            "/api/v1/accounts/password-reset/confirm",
            None,
            Some(json!({"token": code, "new_password": "reset to something long"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&err), "unauthorized");
}

#[tokio::test]
async fn with_a_second_factor_log_in_needs_a_fresh_code() {
    let app = spawn_app().await;
    let (_, token) = app.user("nova").await;
    let (_, enrol) = app
        .json(Method::POST, "/api/v1/me/totp", Some(&token), None)
        .await;
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(
        enrol["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Startales:nova?")
    );
    let (status, err) = app
        .json(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(&token),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let code = app.totp_code(&secret);
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(&token),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, err) = app
        .json(Method::POST, "/api/v1/me/totp", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");

    let log_in = |totp: Option<String>| {
        let mut body = json!({"login": "nova", "password": "correct horse battery"});
        if let Some(t) = totp {
            body["totp"] = json!(t);
        }
        app.json(Method::POST, "/api/v1/sessions", None, Some(body))
    };
    let (status, err) = log_in(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        err["error"]["message"].as_str().unwrap().contains("totp"),
        "{err}"
    );
    // The code used to confirm cannot be used again.
    let (status, _) = log_in(Some(code)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.advance_ms(30_000);
    let (status, _) = log_in(Some(app.totp_code(&secret))).await;
    assert_eq!(status, StatusCode::OK);
}
