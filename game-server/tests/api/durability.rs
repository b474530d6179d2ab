//! Durability: acknowledged commands survive kill -9; replaying a database
//! or a snapshot prints the live state hash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use game_server::protocol::{Command, Field, Role, ServerMsg};

use crate::helpers::{Keys, Opts, Server};

fn replay_cli(path: &std::path::Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_game-server"))
        .arg("replay")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .to_owned()
}

#[tokio::test]
async fn no_acknowledged_command_is_lost_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(Keys::new());
    let mut opts = Opts::new(dir.path());
    opts.tick_ms = 50;
    opts.env
        .push(("GS_COMMANDS_PER_SEC".into(), "10000".into()));
    let server = Server::start(opts.clone(), Arc::clone(&keys)).await;

    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut senders = Vec::new();
    for player in ["alice", "bob"] {
        let (mut c, _) = server.join(player, Role::Player, None).await;
        let acked = Arc::clone(&acked);
        senders.push(tokio::spawn(async move {
            for id in 1.. {
                let text = format!("Message number {id}.");
                c.command(
                    id,
                    Command::MessageNpc {
                        character: (id % 5) as u32,
                        text,
                    },
                )
                .await;
                loop {
                    match c.next_or_close().await {
                        Ok(ServerMsg::Ack { seq, id: i, .. }) if i == id => {
                            acked.lock().unwrap().push(seq);
                            break;
                        }
                        Ok(ServerMsg::Error { id: Some(i), .. }) if i == id => break,
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    // Let commands flow, then pull the plug mid-stream.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9().await;
    for s in senders {
        let _ = tokio::time::timeout(Duration::from_secs(20), s).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "too few commands acknowledged: {}",
        acked.len()
    );

    // Every acknowledged command is in the log.
    {
        let conn = rusqlite::Connection::open(dir.path().join("game.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT 1 FROM commands WHERE seq = ?1")
            .unwrap();
        for seq in &acked {
            assert!(
                stmt.exists([*seq as i64]).unwrap(),
                "acknowledged command {seq} was lost"
            );
        }
    }

    // The server recovers from its database and replays to the same state.
    opts.tick_ms = 3_600_000;
    let server = Server::start(opts, keys).await;
    let status = server.status().await;
    assert!(status["commands"].as_u64().unwrap() >= *acked.iter().max().unwrap());
    let (ok, out, err) = replay_cli(&dir.path().join("game.db"));
    assert!(ok, "{err}");
    assert_eq!(
        field(&out, "state_hash"),
        status["state_hash"].as_str().unwrap()
    );
    assert!(server.log().contains("restoring from the local database"));
}

#[tokio::test]
async fn replaying_a_database_or_a_snapshot_prints_the_live_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut opts = Opts::new(dir.path());
    opts.tick_ms = 40;
    opts.object_store_url = Some(format!("file://{}", store.path().display()));
    let server = Server::start(opts, Arc::new(Keys::new())).await;
    let (mut c, welcome) = server.join("alice", Role::Player, None).await;
    let ServerMsg::Welcome { state, .. } = welcome else {
        unreachable!()
    };
    let home = state["fleets"][0]["at"].as_u64().unwrap() as u32;
    let mut id = 0;
    let mut last_hash = None;
    for _ in 0..5 {
        for command in [
            Command::BuildShips {
                system: home,
                count: 1,
            },
            Command::Research {
                field: Field::Weapons,
            },
            Command::MoveFleet { fleet: 0, to: 0 },
            Command::MessageNpc {
                character: 0,
                text: "We come in peace.".into(),
            },
        ] {
            id += 1;
            c.command(id, command).await;
            c.answer(id).await;
        }
        if let ServerMsg::Tick { state_hash, .. } =
            c.until(|m| matches!(m, ServerMsg::Tick { .. })).await
        {
            last_hash = Some(state_hash);
        }
    }
    // No more commands: after the next tick, the final state is a tick's state.
    let (code, log) = server.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    loop {
        match c.next_or_close().await {
            Ok(ServerMsg::Tick { state_hash, .. }) => last_hash = Some(state_hash),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let live = last_hash.expect("ticks arrived");

    let (ok, out, err) = replay_cli(&dir.path().join("game.db"));
    assert!(ok, "{err}");
    assert_eq!(field(&out, "state_hash"), live);
    assert!(field(&out, "ticks").parse::<u64>().unwrap() >= 5);

    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path().join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["state_hash"], live.as_str());
    let snapshot = store.path().join(latest["key"].as_str().unwrap());
    let (ok, out, err) = replay_cli(&snapshot);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "state_hash"), live);
}

#[tokio::test]
async fn replaying_something_that_is_not_a_campaign_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database at all").unwrap();
    let (ok, _, err) = replay_cli(&junk);
    assert!(!ok);
    assert!(err.contains("error:") && err.contains("junk.db"), "{err}");
    let (ok, _, err) = replay_cli(&dir.path().join("missing.db"));
    assert!(!ok);
    assert!(err.contains("missing.db"), "{err}");
}
