//! Friends, blocks and parties.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn request(app: &TestApp, from: &str, to_handle: &str) -> (StatusCode, Value) {
    app.json(
        Method::POST,
        "/api/v1/me/friends",
        Some(from),
        Some(json!({"handle": to_handle})),
    )
    .await
}

#[tokio::test]
async fn a_friend_request_is_accepted_listed_on_both_sides_and_removable() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (status, req) = request(&app, &nova, "orion").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(req["kind"], "outgoing");
    let (_, lists) = app
        .json(Method::GET, "/api/v1/me/friends", Some(&orion), None)
        .await;
    assert_eq!(lists["incoming"][0]["with"]["handle"], "nova");
    // Only the addressee accepts.
    let accept = format!("/api/v1/me/friends/{}/accept", req["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::POST, &accept, Some(&nova), None)
            .await
            .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.call(Method::POST, &accept, Some(&orion), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    for (token, other) in [(&nova, "orion"), (&orion, "nova")] {
        let (_, lists) = app
            .json(Method::GET, "/api/v1/me/friends", Some(token), None)
            .await;
        assert_eq!(lists["friends"][0]["with"]["handle"], other);
        assert_eq!(lists["incoming"], json!([]));
    }
    let (status, _) = request(&app, &orion, "nova").await;
    assert_eq!(status, StatusCode::CONFLICT, "already friends");
    let remove = format!("/api/v1/me/friends/{}", req["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &remove, Some(&orion), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (_, lists) = app
        .json(Method::GET, "/api/v1/me/friends", Some(&nova), None)
        .await;
    assert_eq!(lists["friends"], json!([]));
}

#[tokio::test]
async fn asking_back_accepts_and_strangers_cannot_touch_a_request() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (_, vega) = app.user("vega").await;
    let (_, req) = request(&app, &nova, "orion").await;
    let id = req["id"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, format!("/api/v1/me/friends/{id}/accept")),
        (Method::DELETE, format!("/api/v1/me/friends/{id}")),
    ] {
        assert_eq!(
            app.call(method, &path, Some(&vega), None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let (status, back) = request(&app, &orion, "nova").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(back["kind"], "friend");
    let (status, err) = request(&app, &nova, "nova").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "handle");
    let (status, _) = request(&app, &nova, "ghost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn people_who_take_no_requests_get_none() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    app.json(
        Method::PATCH,
        "/api/v1/me/profile",
        Some(&orion),
        Some(json!({"friend_requests_from": "nobody"})),
    )
    .await;
    let (status, _) = request(&app, &nova, "orion").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_block_ends_the_friendship_and_refuses_requests_both_ways_until_lifted() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (orion_id, orion) = app.user("orion").await;
    app.befriend(&nova, &orion, "orion").await;
    let (status, blocked) = app
        .json(
            Method::POST,
            "/api/v1/me/blocks",
            Some(&nova),
            Some(json!({"handle": "orion"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(blocked["id"], orion_id.as_str());
    let (_, lists) = app
        .json(Method::GET, "/api/v1/me/friends", Some(&orion), None)
        .await;
    assert_eq!(lists["friends"], json!([]));
    for (from, to) in [(&orion, "nova"), (&nova, "orion")] {
        let (status, _) = request(&app, from, to).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (_, list) = app
        .json(Method::GET, "/api/v1/me/blocks", Some(&nova), None)
        .await;
    assert_eq!(list[0]["handle"], "orion");
    let unblock = format!("/api/v1/me/blocks/{orion_id}");
    assert_eq!(
        app.call(Method::DELETE, &unblock, Some(&orion), None)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "only the blocker lifts a block"
    );
    assert_eq!(
        app.call(Method::DELETE, &unblock, Some(&nova), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (status, _) = request(&app, &orion, "nova").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_leader_invites_friends_who_accept_leave_and_the_party_disbands() {
    let app = spawn_app().await;
    let (nova_id, nova) = app.user("nova").await;
    let (orion_id, orion) = app.user("orion").await;
    let (_, vega) = app.user("vega").await;
    app.befriend(&nova, &orion, "orion").await;
    let (status, party) = app
        .json(Method::POST, "/api/v1/parties", Some(&nova), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(party["leader_id"], nova_id.as_str());
    let id = party["id"].as_str().unwrap().to_string();
    let invite = format!("/api/v1/parties/{id}/invites");
    // Vega is not a friend.
    let (status, _) = app
        .json(
            Method::POST,
            &invite,
            Some(&nova),
            Some(json!({"handle": "vega"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Vega is not in the party, so cannot invite or see it.
    let (status, _) = app
        .json(
            Method::POST,
            &invite,
            Some(&vega),
            Some(json!({"handle": "orion"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, party) = app
        .json(
            Method::POST,
            &invite,
            Some(&nova),
            Some(json!({"handle": "orion"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{party}");
    let (status, _) = app
        .json(
            Method::POST,
            &invite,
            Some(&nova),
            Some(json!({"handle": "orion"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, mine) = app
        .json(Method::GET, "/api/v1/parties/mine", Some(&orion), None)
        .await;
    assert_eq!(mine["invitations"][0]["id"], id.as_str());
    let (status, party) = app
        .json(
            Method::POST,
            &format!("/api/v1/parties/{id}/accept"),
            Some(&orion),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let members: Vec<&str> = party["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "member")
        .map(|m| m["handle"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    // One party at a time.
    let (status, _) = app
        .json(Method::POST, "/api/v1/parties", Some(&orion), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Only the leader disbands; a leaving leader hands over.
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/parties/{id}"),
            Some(&orion),
            None
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::POST,
            &format!("/api/v1/parties/{id}/leave"),
            Some(&nova),
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let (_, mine) = app
        .json(Method::GET, "/api/v1/parties/mine", Some(&orion), None)
        .await;
    assert_eq!(mine["party"]["leader_id"], orion_id.as_str());
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/parties/{id}"),
            Some(&orion),
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let (_, mine) = app
        .json(Method::GET, "/api/v1/parties/mine", Some(&orion), None)
        .await;
    assert!(mine["party"].is_null());
}

#[tokio::test]
async fn a_block_keeps_people_out_of_each_others_parties() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    let (_, vega) = app.user("vega").await;
    app.befriend(&nova, &orion, "orion").await;
    app.befriend(&nova, &vega, "vega").await;
    let (_, party) = app
        .json(Method::POST, "/api/v1/parties", Some(&nova), None)
        .await;
    let id = party["id"].as_str().unwrap().to_string();
    let invite = format!("/api/v1/parties/{id}/invites");
    app.json(
        Method::POST,
        &invite,
        Some(&nova),
        Some(json!({"handle": "orion"})),
    )
    .await;
    app.json(
        Method::POST,
        &format!("/api/v1/parties/{id}/accept"),
        Some(&orion),
        None,
    )
    .await;
    app.json(
        Method::POST,
        &invite,
        Some(&nova),
        Some(json!({"handle": "vega"})),
    )
    .await;
    // Vega blocks Orion, who is already a member: Vega cannot join.
    app.json(
        Method::POST,
        "/api/v1/me/blocks",
        Some(&vega),
        Some(json!({"handle": "orion"})),
    )
    .await;
    let (status, err) = app
        .json(
            Method::POST,
            &format!("/api/v1/parties/{id}/accept"),
            Some(&vega),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    // The leader blocking a member takes them out.
    app.json(
        Method::POST,
        "/api/v1/me/blocks",
        Some(&nova),
        Some(json!({"handle": "orion"})),
    )
    .await;
    let (_, mine) = app
        .json(Method::GET, "/api/v1/parties/mine", Some(&orion), None)
        .await;
    assert!(mine["party"].is_null());
}

#[tokio::test]
async fn a_declined_invitation_is_gone_and_cannot_be_accepted() {
    let app = spawn_app().await;
    let (_, nova) = app.user("nova").await;
    let (_, orion) = app.user("orion").await;
    app.befriend(&nova, &orion, "orion").await;
    let (_, party) = app
        .json(Method::POST, "/api/v1/parties", Some(&nova), None)
        .await;
    let id = party["id"].as_str().unwrap().to_string();
    app.json(
        Method::POST,
        &format!("/api/v1/parties/{id}/invites"),
        Some(&nova),
        Some(json!({"handle": "orion"})),
    )
    .await;
    let decline = format!("/api/v1/parties/{id}/decline");
    assert_eq!(
        app.call(Method::POST, &decline, Some(&orion), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::POST, &decline, Some(&orion), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/v1/parties/{id}/accept"),
            Some(&orion),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app
        .json(Method::GET, "/api/v1/parties/mine", Some(&orion), None)
        .await;
    assert_eq!(mine["invitations"], json!([]));
}
