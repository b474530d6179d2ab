//! Reports, the admin queue, sanctions, roles and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn admin_calls_need_the_admin_role_and_a_second_factor() {
    let app = spawn_app().await;
    let (_, player) = app.user("nova").await;
    let (admin_id, _) = app.user("root").await;
    app.store.set_role(&admin_id, "admin", 0).await.unwrap();
    let (admin_without_mfa, _) = app.log_in("root").await;
    for token in [&player, &admin_without_mfa] {
        let (status, err) = app
            .json(Method::GET, "/api/v1/admin/reports", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    }
    let (_, admin) = app.admin("chief").await;
    let (status, queue) = app
        .json(Method::GET, "/api/v1/admin/reports", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue, json!([]));
    let (status, err) = app
        .json(
            Method::GET,
            "/api/v1/admin/reports?status=maybe",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "status");
}

#[tokio::test]
async fn a_report_suspends_the_user_who_then_cannot_log_in_and_the_reporter_sees_why() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (troll_id, troll) = app.user("troll").await;
    let (_, admin) = app.admin("chief").await;
    let (status, report) = app
        .json(
            Method::POST,
            "/api/v1/reports",
            Some(&nova),
            Some(json!({"handle": "troll", "reason": "harassment", "details": "insults in chat"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/reports",
            Some(&nova),
            Some(json!({"handle": "troll", "reason": "spam"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one open report per subject");
    let (_, queue) = app
        .json(Method::GET, "/api/v1/admin/reports", Some(&admin), None)
        .await;
    assert_eq!(queue[0]["subject_id"], troll_id.as_str());
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        report["id"].as_str().unwrap()
    );
    let (status, err) = app
        .json(
            Method::POST,
            &resolve,
            Some(&admin),
            Some(json!({"action": "suspend", "note": "harassment"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "days");
    let (status, resolved) = app
        .json(
            Method::POST,
            &resolve,
            Some(&admin),
            Some(json!({"action": "suspend", "days": 7, "note": "Suspended for a week for harassment."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    let (status, _) = app
        .json(
            Method::POST,
            &resolve,
            Some(&admin),
            Some(json!({"action": "ban", "note": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "resolved once");
    // The suspended user's live token and log-in are refused.
    let (status, err) = app
        .json(Method::GET, "/api/v1/me", Some(&troll), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("suspended until")
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"login": "troll", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, open) = app
        .json(Method::GET, "/api/v1/admin/reports", Some(&admin), None)
        .await;
    assert_eq!(open, json!([]), "resolved reports leave the queue");
    let (_, done) = app
        .json(
            Method::GET,
            "/api/v1/admin/reports?status=resolved",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(done[0]["action"], "suspend");
    // The reporter sees the outcome.
    let (_, mine) = app
        .json(Method::GET, "/api/v1/me/reports", Some(&nova), None)
        .await;
    assert_eq!(mine[0]["status"], "resolved");
    assert_eq!(mine[0]["action"], "suspend");
    assert_eq!(mine[0]["outcome"], "Suspended for a week for harassment.");
    // A week later the suspension is over.
    app.advance_ms(7 * 86_400_000 + 1);
    app.log_in("troll").await;
}

#[tokio::test]
async fn a_ban_lasts_until_lifted_and_every_admin_action_is_audited() {
    let app = spawn_app().await;
    let (troll_id, _) = app.user("troll").await;
    let (gm_id, _) = app.user("gamemaster").await;
    let (admin_id, admin, secret) = app.admin_with_secret("chief").await;
    let act = format!("/api/v1/admin/accounts/{troll_id}/actions");
    let r = app
        .call(
            Method::POST,
            &act,
            Some(&admin),
            Some(json!({"action": "ban", "note": "cheating"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let login = || {
        app.call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"login": "troll", "password": "correct horse battery"})),
        )
    };
    assert_eq!(login().await.status(), StatusCode::FORBIDDEN);
    app.advance_ms(400 * 86_400_000);
    assert_eq!(
        login().await.status(),
        StatusCode::FORBIDDEN,
        "bans do not expire"
    );
    let admin = app.log_in_with_code("chief", &secret).await;
    let r = app
        .call(
            Method::POST,
            &act,
            Some(&admin),
            Some(json!({"action": "lift", "note": "appeal granted"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(login().await.status(), StatusCode::OK);
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/accounts/{gm_id}/role"),
            Some(&admin),
            Some(json!({"role": "gm"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, me) = app
        .json(
            Method::GET,
            "/api/v1/me",
            Some(&app.log_in("gamemaster").await.0),
            None,
        )
        .await;
    assert_eq!(me["role"], "gm");
    let (status, _) = app
        .json(
            Method::PUT,
            &format!("/api/v1/admin/accounts/{admin_id}/role"),
            Some(&admin),
            Some(json!({"role": "player"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, account) = app
        .json(
            Method::GET,
            &format!("/api/v1/admin/accounts/{troll_id}"),
            Some(&admin),
            None,
        )
        .await;
    let actions: Vec<&str> = account["sanctions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["lift", "ban"]);
    // Page through the audit log two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/audit?limit=2&cursor={c}"),
            None => "/api/v1/admin/audit?limit=2".to_string(),
        };
        let (status, page) = app.json(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for e in page["entries"].as_array().unwrap() {
            assert_eq!(e["actor_id"], admin_id.as_str());
            seen.push(e["action"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["account.role", "account.lift", "account.ban"]);
    let (status, err) = app
        .json(
            Method::GET,
            "/api/v1/admin/audit?cursor=nonsense",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "cursor");
}

#[tokio::test]
async fn bad_reports_and_decisions_are_refused_by_field() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (admin_id, admin) = app.admin("chief").await;
    for (body, field) in [
        (json!({"handle": "ghost", "reason": "spam"}), "handle"),
        (json!({"handle": "nova", "reason": "spam"}), "handle"),
        (json!({"handle": "chief", "reason": "other"}), "details"),
        (
            json!({"handle": "chief", "reason": "spam", "details": "x".repeat(2001)}),
            "details",
        ),
    ] {
        let (status, err) = app
            .json(Method::POST, "/api/v1/reports", Some(&nova), Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/reports",
            Some(&nova),
            Some(json!({"handle": "chief", "reason": "rudeness"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .json(
            Method::POST,
            "/api/v1/admin/reports/no-such-report/resolve",
            Some(&admin),
            Some(json!({"action": "warn", "note": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/v1/admin/accounts/{admin_id}/actions"),
            Some(&admin),
            Some(json!({"action": "ban", "note": "oops"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no self-sanctions");
}
