//! The play protocol: joining, commands, errors, bad frames, bad tokens,
//! chat, presence and resuming.

use std::sync::Arc;

use game_server::protocol::{
    ClientMsg, Command, ErrorCode, Field, PROTOCOL_VERSION, Role, ServerMsg, close_code,
};

use crate::helpers::{Client, Keys, Opts, Server};

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Opts::new(dir.path()), Arc::new(Keys::new())).await;
    (dir, server)
}

async fn hello(server: &Server, token: String) -> Client {
    let mut c = Client::connect(server.addr).await;
    c.send(&ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        token,
        last_event_id: None,
    })
    .await;
    c
}

#[tokio::test]
async fn a_player_is_seated_and_gets_acks_and_specific_errors() {
    let (_d, server) = server().await;
    let (mut c, welcome) = server.join("alice", Role::Player, None).await;
    let ServerMsg::Welcome { faction, state, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(faction, Some(0));
    let capital = state["fleets"][0]["at"].as_u64().unwrap() as u32;

    c.command(
        1,
        Command::BuildShips {
            system: capital,
            count: 2,
        },
    )
    .await;
    let ServerMsg::Ack { id, seq, .. } = c.answer(1).await else {
        panic!("expected ack")
    };
    assert_eq!((id, seq), (1, 1));

    c.command(
        2,
        Command::BuildShips {
            system: capital,
            count: 5000,
        },
    )
    .await;
    let ServerMsg::Error { code, message, .. } = c.answer(2).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::InvalidAmount, "{message}");

    c.command(3, Command::MoveFleet { fleet: 1, to: 0 }).await;
    let ServerMsg::Error { code, .. } = c.answer(3).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::NotOwner);

    c.command(4, Command::MoveFleet { fleet: 9999, to: 0 })
        .await;
    let ServerMsg::Error { code, .. } = c.answer(4).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::NotFound);

    // A second player gets the next faction.
    let (_b, welcome) = server.join("bob", Role::Player, None).await;
    let ServerMsg::Welcome { faction, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(faction, Some(1));
    assert_eq!(server.status().await["commands"], 1);
}

#[tokio::test]
async fn malformed_frames_get_a_clear_error_and_the_connection_survives() {
    let (_d, server) = server().await;
    let (mut c, _) = server.join("alice", Role::Player, None).await;
    c.send_text("{not json").await;
    let ServerMsg::Error { code, id, .. } = c.until(|m| matches!(m, ServerMsg::Error { .. })).await
    else {
        panic!()
    };
    assert_eq!((code, id), (ErrorCode::BadMessage, None));

    c.send_text(r#"{"type":"command","id":5,"command":{"kind":"nuke_planet","system":1}}"#)
        .await;
    let ServerMsg::Error { code, id, message } = c.answer(5).await else {
        panic!()
    };
    assert_eq!((code, id), (ErrorCode::BadMessage, Some(5)));
    assert!(message.contains("nuke_planet"), "{message}");

    c.send_text(
        r#"{"type":"command","id":6,"command":{"kind":"build_ships","system":-1,"count":1}}"#,
    )
    .await;
    let ServerMsg::Error { code, .. } = c.answer(6).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::BadMessage);

    c.send(&ClientMsg::Ping { id: 7 }).await;
    assert_eq!(
        c.until(|m| matches!(m, ServerMsg::Pong { .. })).await,
        ServerMsg::Pong { id: 7 }
    );
}

#[tokio::test]
async fn oversized_frames_are_refused() {
    let (_d, server) = server().await;
    let (mut c, _) = server.join("alice", Role::Player, None).await;
    // Over the limit (16 KiB) but under the socket's hard cap: an error.
    let big = format!(
        r#"{{"type":"chat","id":1,"text":"{}"}}"#,
        "x".repeat(20_000)
    );
    c.send_text(&big).await;
    let ServerMsg::Error { code, .. } = c.until(|m| matches!(m, ServerMsg::Error { .. })).await
    else {
        panic!()
    };
    assert_eq!(code, ErrorCode::TooLarge);
    c.send(&ClientMsg::Ping { id: 2 }).await;
    c.until(|m| matches!(m, ServerMsg::Pong { id: 2 })).await;
    // Far over: the socket is closed.
    let huge = "y".repeat(200_000);
    c.send_text(&huge).await;
    let closed = c.closed().await;
    assert!(
        closed.code == close_code::TOO_BIG || closed.code == 1006,
        "{closed:?}"
    );
    // The server is fine.
    server.join("bob", Role::Player, None).await;
}

#[tokio::test]
async fn a_forged_token_is_refused() {
    let (_d, server) = server().await;
    let other = Keys::new();
    let mut c = hello(
        &server,
        other.token_with("camp-1", "mallory", Role::Player, 300),
    )
    .await;
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::BAD_TOKEN);
    assert!(closed.reason.contains("signature"), "{closed:?}");
    let mut c = hello(&server, "garbage.token.here".into()).await;
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::BAD_TOKEN);
    assert!(closed.reason.contains("malformed"), "{closed:?}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (_d, server) = server().await;
    let mut c = hello(
        &server,
        server.keys.token_with("camp-1", "alice", Role::Player, -5),
    )
    .await;
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::BAD_TOKEN);
    assert!(closed.reason.contains("expired"), "{closed:?}");
}

#[tokio::test]
async fn a_token_for_another_campaign_is_refused() {
    let (_d, server) = server().await;
    let mut c = hello(
        &server,
        server.keys.token_with("camp-2", "alice", Role::Player, 300),
    )
    .await;
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::WRONG_CAMPAIGN);
    assert!(closed.reason.contains("camp-2"), "{closed:?}");
}

#[tokio::test]
async fn a_replayed_token_is_refused() {
    let (_d, server) = server().await;
    let token = server.token("alice", Role::Player);
    let mut first = hello(&server, token.clone()).await;
    assert!(matches!(
        first.next().await,
        Some(ServerMsg::Welcome { .. })
    ));
    let mut second = hello(&server, token).await;
    let closed = second.closed().await;
    assert_eq!(closed.code, close_code::BAD_TOKEN);
    assert!(closed.reason.contains("already used"), "{closed:?}");
}

#[tokio::test]
async fn the_first_frame_must_be_a_hello_of_our_version() {
    let (_d, server) = server().await;
    let mut c = Client::connect(server.addr).await;
    c.send(&ClientMsg::Ping { id: 1 }).await;
    assert_eq!(c.closed().await.code, close_code::PROTOCOL);
    let mut c = Client::connect(server.addr).await;
    c.send(&ClientMsg::Hello {
        version: 99,
        token: server.token("a", Role::Player),
        last_event_id: None,
    })
    .await;
    let closed = c.closed().await;
    assert_eq!(closed.code, close_code::PROTOCOL);
    assert!(closed.reason.contains("version 99"), "{closed:?}");
}

#[tokio::test]
async fn spectators_watch_but_cannot_command_or_chat() {
    let (_d, server) = server().await;
    let (mut s, welcome) = server.join("watcher", Role::Spectator, None).await;
    let ServerMsg::Welcome { faction, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(faction, None);
    s.command(
        1,
        Command::Research {
            field: Field::Weapons,
        },
    )
    .await;
    let ServerMsg::Error { code, .. } = s.answer(1).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::Forbidden);
    s.send(&ClientMsg::Chat {
        id: 2,
        text: "hi".into(),
    })
    .await;
    let ServerMsg::Error { code, .. } = s.answer(2).await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::Forbidden);
    // Ticks still arrive.
    s.until(|m| matches!(m, ServerMsg::Tick { .. })).await;
}

#[tokio::test]
async fn chat_is_broadcast_with_presence_and_rate_limited() {
    let (_d, server) = server().await;
    let (mut a, _) = server.join("alice", Role::Player, None).await;
    let (mut b, _) = server.join("bob", Role::Gm, None).await;
    let ServerMsg::Presence { player, online, .. } = a
        .until(|m| matches!(m, ServerMsg::Presence { player, .. } if player == "bob"))
        .await
    else {
        unreachable!()
    };
    assert_eq!((player.as_str(), online), ("bob", true));

    b.send(&ClientMsg::Chat {
        id: 1,
        text: "Welcome, admirals.".into(),
    })
    .await;
    assert!(matches!(b.answer(1).await, ServerMsg::Ack { .. }));
    let ServerMsg::Chat { from, text, .. } = a.until(|m| matches!(m, ServerMsg::Chat { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        (from.as_str(), text.as_str()),
        ("bob", "Welcome, admirals.")
    );

    let mut limited = false;
    for id in 10..40 {
        a.send(&ClientMsg::Chat {
            id,
            text: "spam".into(),
        })
        .await;
        if let ServerMsg::Error {
            code: ErrorCode::RateLimited,
            ..
        } = a.answer(id).await
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "chat was never rate limited");
    drop(b);
    a.until(|m| matches!(m, ServerMsg::Presence { player, online: false, .. } if player == "bob"))
        .await;
}

#[tokio::test]
async fn a_reconnecting_client_resumes_from_its_last_event_id() {
    let (_d, server) = server().await;
    let (mut a, welcome) = server.join("alice", Role::Player, None).await;
    let ServerMsg::Welcome {
        last_event_id: start,
        ..
    } = welcome
    else {
        unreachable!()
    };
    a.send(&ClientMsg::Chat {
        id: 1,
        text: "one".into(),
    })
    .await;
    let ServerMsg::Chat {
        event_id: first, ..
    } = a.until(|m| matches!(m, ServerMsg::Chat { .. })).await
    else {
        unreachable!()
    };
    drop(a);
    // While alice is away, bob chats twice.
    let (mut b, _) = server.join("bob", Role::Player, None).await;
    for (id, t) in [(1, "two"), (2, "three")] {
        b.send(&ClientMsg::Chat { id, text: t.into() }).await;
        b.answer(id).await;
    }
    let (mut a, welcome) = server.join("alice", Role::Player, Some(first)).await;
    let ServerMsg::Welcome {
        faction,
        last_event_id,
        ..
    } = welcome
    else {
        unreachable!()
    };
    assert_eq!(faction, Some(0), "the same seat after reconnecting");
    assert!(last_event_id > first && first > start);
    let mut texts = Vec::new();
    while texts.len() < 2 {
        if let ServerMsg::Chat { text, event_id, .. } =
            a.until(|m| matches!(m, ServerMsg::Chat { .. })).await
        {
            assert!(event_id > first);
            texts.push(text);
        }
    }
    assert_eq!(texts, ["two", "three"]);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_without_stalling_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(dir.path());
    opts.env = vec![
        ("GS_CLIENT_QUEUE".into(), "256".into()),
        ("GS_CHAT_PER_10S".into(), "1000000".into()),
    ];
    let server = Server::start(opts, Arc::new(Keys::new())).await;

    // A client with a tiny receive buffer that never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", server.addr), stream)
        .await
        .unwrap();
    {
        use futures_util::SinkExt;
        let hello = ClientMsg::Hello {
            version: PROTOCOL_VERSION,
            token: server.token("sloth", Role::Spectator),
            last_event_id: None,
        };
        slow.send(tokio_tungstenite::tungstenite::Message::text(
            serde_json::to_string(&hello).unwrap(),
        ))
        .await
        .unwrap();
    }

    // Talkers flood the feed with long chat lines.
    let line = "z".repeat(480);
    let mut talkers = Vec::new();
    for n in 0..3 {
        let (mut t, _) = server.join(&format!("talker{n}"), Role::Gm, None).await;
        let line = line.clone();
        talkers.push(tokio::spawn(async move {
            let mut id = 0;
            loop {
                id += 1;
                t.send(&ClientMsg::Chat {
                    id,
                    text: line.clone(),
                })
                .await;
                if t.next_or_close().await.is_err() {
                    return;
                }
            }
        }));
    }
    // Meanwhile a player's commands are answered promptly. The player reads
    // without pause (a watcher polls the metrics beside it), so only the
    // stalled client can fall behind.
    let (mut player, _) = server.join("alice", Role::Player, None).await;
    let dropped_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (flag, url) = (dropped_flag.clone(), server.url("/metrics"));
        tokio::spawn(async move {
            loop {
                let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
                if text.contains("gameserver_slow_clients_total 1") {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let mut dropped = false;
    let mut id = 0;
    while started.elapsed() < std::time::Duration::from_secs(40) {
        id += 1;
        let asked = std::time::Instant::now();
        player
            .command(
                id,
                Command::MessageNpc {
                    character: 0,
                    text: "still here".into(),
                },
            )
            .await;
        player.answer(id).await;
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(2),
            "a command took {:?}",
            asked.elapsed()
        );
        if dropped_flag.load(std::sync::atomic::Ordering::SeqCst) {
            dropped = true;
            break;
        }
    }
    watcher.abort();
    for t in talkers {
        t.abort();
    }
    assert!(dropped, "the stalled client was never dropped");
}
