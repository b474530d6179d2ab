//! Sign-up, verification, log-in, token rotation and reuse detection,
//! log-out, and the refusal paths.

use orchestrator::http::RateLimits;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn signing_up_creates_a_player_and_mails_a_confirmation_code() {
    let app = spawn_app().await;
    let account = app.sign_up("nova").await;
    assert_eq!(account["handle"], "nova");
    assert_eq!(account["email"], "nova@example.com");
    assert_eq!(account["role"], "player");
    assert_eq!(account["email_verified"], false);
    assert!(account.get("password_hash").is_none());
    let mail = app.store.unsent_mail(10).await.unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].1, "nova@example.com");
}

#[tokio::test]
async fn the_mailed_code_verifies_the_email_once() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let body = &app.store.unsent_mail(1).await.unwrap()[0].3;
    let code = body
        .split("code: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::POST,
            "/api/v1/accounts/verify",
            None,
            Some(json!({"token": code})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (access, _) = app.log_in("nova").await;
    let (_, me) = app
        .json(Method::GET, "/api/v1/me", Some(&access), None)
        .await;
    assert_eq!(me["email_verified"], true);
    let (status, body) = app
        .json(
            Method::POST,
            "/api/v1/accounts/verify",
            None,
            Some(json!({"token": code})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "unauthorized");
}

#[tokio::test]
async fn an_expired_code_does_not_verify() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let body = &app.store.unsent_mail(1).await.unwrap()[0].3;
    let code = body
        .split("code: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    app.advance_ms(49 * 3_600_000);
    let r = app
        .call(
            Method::POST,
            "/api/v1/accounts/verify",
            None,
            Some(json!({"token": code})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_sign_ups_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "nope", "handle": "nova", "password": "correct horse battery"}),
            "email",
        ),
        (
            json!({"email": "n@example.com", "handle": "x", "password": "correct horse battery"}),
            "handle",
        ),
        (
            json!({"email": "n@example.com", "handle": "nova", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "nova@example.com", "handle": "nova", "password": "NOVA@example.com"}),
            "password",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = app
            .json(Method::POST, "/api/v1/accounts", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(error_code(&err), "invalid");
        assert_eq!(err["error"]["field"], field);
    }
}

#[tokio::test]
async fn malformed_bodies_are_400_in_the_error_shape() {
    let app = spawn_app().await;
    for body in ["{", "[]", r#"{"email": 5}"#, ""] {
        let r = app
            .client
            .post(format!("{}/api/v1/accounts", app.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let err: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(error_code(&err), "bad_request");
    }
    let r = app
        .client
        .post(format!("{}/api/v1/accounts", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no content type");
}

#[tokio::test]
async fn taken_emails_and_handles_conflict() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (status, err) = app
        .json(Method::POST, "/api/v1/accounts", None, Some(json!({"email": "NOVA@example.com", "handle": "other", "password": "correct horse battery"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["field"], "email");
    let (status, err) = app
        .json(Method::POST, "/api/v1/accounts", None, Some(json!({"email": "x@example.com", "handle": "nova", "password": "correct horse battery"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["field"], "handle");
    // Handles are one name whatever their case, so a log-in by handle is
    // never ambiguous.
    let (status, err) = app
        .json(Method::POST, "/api/v1/accounts", None, Some(json!({"email": "y@example.com", "handle": "NoVa", "password": "correct horse battery"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["field"], "handle");
}

#[tokio::test]
async fn logging_in_works_by_email_or_handle_and_gives_tokens() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    for login in ["nova", "NOVA@example.com", "Nova"] {
        let (access, refresh) = app.log_in(login).await;
        assert!(!access.is_empty() && !refresh.is_empty());
        let (status, me) = app
            .json(Method::GET, "/api/v1/me", Some(&access), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["handle"], "nova");
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_logins_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (s1, b1) = app
        .json(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"login": "nova", "password": "wrong password!!"})),
        )
        .await;
    let (s2, b2) = app
        .json(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"login": "ghost", "password": "wrong password!!"})),
        )
        .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1, b2);
}

#[tokio::test]
async fn access_tokens_expire_and_forged_ones_are_refused() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (access, _) = app.log_in("nova").await;
    for bad in ["", "Bearer", "garbage", &format!("{access}x")] {
        let (status, err) = app.json(Method::GET, "/api/v1/me", Some(bad), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(error_code(&err), "unauthorized");
    }
    app.advance_ms(16 * 60_000);
    let (status, _) = app
        .json(Method::GET, "/api/v1/me", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (_, first) = app.log_in("nova").await;
    let (status, next) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": first})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = next["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    // The old token again: stolen. Both it and its successor stop working.
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": first})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": second})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the family is revoked");
    // Another login is unaffected.
    let (_, other) = app.log_in("nova").await;
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": other})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_at_most_one_through() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (_, token) = app.log_in("nova").await;
    let calls = (0..8).map(|_| {
        app.json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(ok <= 1, "{ok} refreshes succeeded");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn refresh_tokens_expire_after_thirty_days() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (_, token) = app.log_in("nova").await;
    app.advance_ms(31 * 24 * 3_600_000);
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_out_ends_this_session_and_everywhere_ends_all() {
    let app = spawn_app().await;
    app.sign_up("nova").await;
    let (_, here) = app.log_in("nova").await;
    let (access, there) = app.log_in("nova").await;
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/sessions/current",
            None,
            Some(json!({"refresh_token": here})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": here})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, third) = app.log_in("nova").await;
    let r = app
        .call(Method::DELETE, "/api/v1/sessions", Some(&access), None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for t in [there, third] {
        let (status, _) = app
            .json(
                Method::POST,
                "/api/v1/sessions/refresh",
                None,
                Some(json!({"refresh_token": t})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .call(Method::DELETE, "/api/v1/sessions", None, None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_address() {
    let app = spawn_app_with(RateLimits {
        auth_period_ms: 60_000,
        auth_burst: 3,
        ..RateLimits::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, _) = app
            .json(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"login": "x", "password": "y"})),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(&statuses[..3], &[StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    // Other endpoints are not held back by the login limit.
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_reset_requests_share_the_strict_limit() {
    let app = spawn_app_with(RateLimits {
        auth_period_ms: 60_000,
        auth_burst: 2,
        ..RateLimits::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = app
            .call(
                Method::POST,
                "/api/v1/accounts/password-reset",
                None,
                Some(json!({"email": "nova@example.com"})),
            )
            .await;
        statuses.push(r.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn one_user_is_held_back_without_holding_back_others_on_the_same_address() {
    let app = spawn_app_with(RateLimits {
        auth_burst: 100,
        user_period_ms: 60_000,
        user_burst: 3,
        ..RateLimits::default()
    })
    .await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            app.call(Method::GET, "/api/v1/me", Some(&nova), None)
                .await
                .status(),
        );
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&orion), None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_outbox_delivers_each_mail_once_and_keeps_failures_queued() {
    use orchestrator::mail::{MailSender, deliver_outbox};
    struct Failing;
    impl MailSender for Failing {
        async fn send(&self, _: &str, _: &str, _: &str) -> anyhow::Result<()> {
            anyhow::bail!("smtp down")
        }
    }
    let app = spawn_app().await;
    app.sign_up("nova").await;
    app.sign_up("vega").await;
    assert_eq!(deliver_outbox(&app.store, &Failing, 1).await.unwrap(), 0);
    assert_eq!(app.store.unsent_mail(10).await.unwrap().len(), 2);
    assert_eq!(
        deliver_outbox(&app.store, &orchestrator::mail::LogSender, 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        deliver_outbox(&app.store, &orchestrator::mail::LogSender, 3)
            .await
            .unwrap(),
        0
    );
}
