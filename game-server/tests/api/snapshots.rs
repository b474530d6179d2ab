//! Snapshots and restore, against the local filesystem and a real
//! S3-compatible server (moto) started by the tests.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use game_server::config::Secret;
use game_server::metrics::Metrics;
use game_server::protocol::{Command, Field, Role};
use game_server::snapshot::{Retention, S3Options, SnapshotStore, open_object_store};
use game_server::store::{CampaignMeta, Store};

use crate::helpers::{Keys, Opts, Server, free_port, run_to_exit};

/// A moto S3 server on a free port, stopped on drop.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub async fn start() -> Moto {
        let port = free_port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "moto_server is needed for the S3 snapshot tests and could not be started ({e}); \
                     install it with: pip install 'moto[server]==5.2.1'"
                )
            });
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(&moto.endpoint).send().await.is_ok() {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not come up on {}", moto.endpoint);
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GS_S3_ENDPOINT".into(), self.endpoint.clone()),
            ("GS_S3_ACCESS_KEY_ID".into(), "testing".into()),
            ("GS_S3_SECRET_ACCESS_KEY".into(), "testing".into()),
        ]
    }

    fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            access_key_id: Some("testing".into()),
            secret_access_key: Some(Secret::new("testing")),
        }
    }
}

fn frozen(dir: &std::path::Path, url: &str) -> Opts {
    let mut o = Opts::new(dir);
    o.tick_ms = 3_600_000;
    o.object_store_url = Some(url.to_owned());
    o
}

async fn play_a_little(server: &Server, player: &str, n: u64) {
    let (mut c, _) = server.join(player, Role::Player, None).await;
    for id in 1..=n {
        c.command(
            id,
            Command::MessageNpc {
                character: 1,
                text: format!("hello {id}"),
            },
        )
        .await;
        c.answer(id).await;
    }
    c.command(
        n + 1,
        Command::Research {
            field: Field::Propulsion,
        },
    )
    .await;
    c.answer(n + 1).await;
}

async fn round_trip(url: String, env: Vec<(String, String)>) {
    let keys = Arc::new(Keys::new());
    let first = tempfile::tempdir().unwrap();
    let mut opts = frozen(first.path(), &url);
    opts.env = env.clone();
    let server = Server::start(opts, Arc::clone(&keys)).await;
    play_a_little(&server, "alice", 3).await;
    let manifest = server.snapshot().await;
    assert_eq!(manifest["commands"], 4);
    assert_eq!(manifest["schema_version"], 1);
    assert_eq!(manifest["generator_version"], "v1");
    assert_eq!(manifest["sha256"].as_str().unwrap().len(), 64);
    let hash = server.status().await["state_hash"].clone();
    let (code, log) = server.terminate().await;
    assert_eq!(code, Some(0), "{log}");

    // A fresh node with an empty data dir restores the same state.
    let second = tempfile::tempdir().unwrap();
    let mut opts = frozen(second.path(), &url);
    opts.env = env;
    let server = Server::start(opts, keys).await;
    let status = server.status().await;
    assert_eq!(status["state_hash"], hash);
    assert_eq!(status["commands"], 4);
    assert!(
        server.log().contains("restored snapshot"),
        "{}",
        server.log()
    );
    // The player keeps their seat.
    let (_c, welcome) = server.join("alice", Role::Player, None).await;
    let game_server::protocol::ServerMsg::Welcome { faction, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(faction, Some(0));
}

#[tokio::test]
async fn snapshots_round_trip_through_the_local_filesystem() {
    let store = tempfile::tempdir().unwrap();
    round_trip(format!("file://{}", store.path().display()), Vec::new()).await;
}

#[tokio::test]
async fn snapshots_round_trip_through_a_real_s3_compatible_server() {
    let moto = Moto::start().await;
    moto.create_bucket("startales-snapshots").await;
    round_trip(
        "s3://startales-snapshots/campaigns/camp-1".into(),
        moto.env(),
    )
    .await;
}

#[tokio::test]
async fn a_corrupt_newest_snapshot_falls_back_to_the_previous_one_loudly() {
    let store = tempfile::tempdir().unwrap();
    let url = format!("file://{}", store.path().display());
    let keys = Arc::new(Keys::new());
    let first = tempfile::tempdir().unwrap();
    let server = Server::start(frozen(first.path(), &url), Arc::clone(&keys)).await;
    play_a_little(&server, "alice", 1).await;
    let older = server.snapshot().await;
    let older_hash = server.status().await["state_hash"].clone();
    play_a_little(&server, "bob", 1).await;
    let newer = server.snapshot().await;
    assert_ne!(older["key"], newer["key"]);
    server.kill9().await;

    // Flip bytes in the newest snapshot.
    let path = store.path().join(newer["key"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    let second = tempfile::tempdir().unwrap();
    let server = Server::start(frozen(second.path(), &url), keys).await;
    let status = server.status().await;
    assert_eq!(status["state_hash"], older_hash);
    assert_eq!(status["commands"], 2);
    let log = server.log();
    assert!(
        log.contains("SNAPSHOT UNUSABLE") && log.contains("sha256"),
        "{log}"
    );
    assert!(
        server
            .metrics()
            .await
            .contains("gameserver_restore_fallbacks_total 1")
    );
}

#[tokio::test]
async fn an_unreachable_object_store_stops_startup_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut opts = frozen(dir.path(), "s3://nowhere/prefix");
    opts.env = vec![
        ("GS_S3_ENDPOINT".into(), format!("http://127.0.0.1:{port}")),
        ("GS_S3_ACCESS_KEY_ID".into(), "x".into()),
        ("GS_S3_SECRET_ACCESS_KEY".into(), "y".into()),
    ];
    let (code, stderr) = run_to_exit(&opts, &Keys::new()).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("restoring from the object store"),
        "{stderr}"
    );
    assert!(!stderr.contains("\"y\""), "secret leaked: {stderr}");
}

fn campaign_db(path: &std::path::Path, blob_mib: usize) -> String {
    let store = Store::open(path).unwrap();
    store
        .init_meta(&CampaignMeta {
            campaign_id: "camp-big".into(),
            seed: 1,
            settings: serde_json::json!({"players":2,"galaxy":"small","difficulty":"normal","mode":"conquest","species_pool":null,"generator_version":"v1"}),
            sim_version: 1,
        })
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("CREATE TABLE ballast (b BLOB)", []).unwrap();
    let mut blob = vec![0u8; 1024 * 1024];
    for _ in 0..blob_mib {
        aws_lc_rs::rand::fill(&mut blob).unwrap();
        conn.execute("INSERT INTO ballast (b) VALUES (?1)", [&blob])
            .unwrap();
    }
    let sum: String = conn
        .query_row(
            "SELECT hex(sum(length(b))) || count(*) FROM ballast",
            [],
            |r| r.get(0),
        )
        .unwrap();
    sum
}

#[tokio::test]
async fn a_large_snapshot_is_uploaded_in_parts_to_s3_and_restores_intact() {
    let moto = Moto::start().await;
    moto.create_bucket("big").await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("game.db");
    let fingerprint = campaign_db(&db, 12);
    let store = open_object_store("s3://big/c", &moto.options()).unwrap();
    let metrics = Metrics::new();
    let m = store
        .take(
            &db,
            Retention {
                keep_last: 3,
                keep_days: 1,
            },
            &metrics,
        )
        .await
        .unwrap();
    assert!(
        m.size > 8 * 1024 * 1024,
        "expected a multipart-sized object, got {}",
        m.size
    );
    let dest = dir.path().join("restored.db");
    let restored = store.restore(&dest, &metrics).await.unwrap().unwrap();
    assert_eq!(restored, m);
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let again: String = conn
        .query_row(
            "SELECT hex(sum(length(b))) || count(*) FROM ballast",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(again, fingerprint);
}

#[tokio::test]
async fn retention_keeps_the_newest_n_and_the_newest_of_each_recent_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("game.db");
    campaign_db(&db, 0);
    let root = tempfile::tempdir().unwrap();
    let fs: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root.path()).unwrap());
    let store = SnapshotStore::new(Arc::clone(&fs), "");
    let metrics = Metrics::new();
    let retention = Retention {
        keep_last: 2,
        keep_days: 7,
    };
    let first = store.take(&db, retention, &metrics).await.unwrap();
    // Pretend older snapshots exist from earlier days.
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000i64;
    for (age_ms, tick) in [
        (day + 1000, 1),
        (day + 2000, 2),
        (2 * day, 3),
        (10 * day, 4),
    ] {
        let mut m = first.clone();
        m.created_unix_ms = now - age_ms;
        m.key = format!("snapshots/{:013}-t{:010}.db.zst", m.created_unix_ms, tick);
        let side = format!("snapshots/{:013}-t{:010}.json", m.created_unix_ms, tick);
        std::fs::create_dir_all(root.path().join("snapshots")).unwrap();
        std::fs::write(root.path().join(&m.key), b"x").unwrap();
        std::fs::write(root.path().join(side), serde_json::to_vec(&m).unwrap()).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newest = store.take(&db, retention, &metrics).await.unwrap();
    let left: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    let ages: Vec<i64> = store
        .list()
        .await
        .unwrap()
        .iter()
        .map(|m| (now - m.created_unix_ms) / 1000)
        .collect();
    // Kept: the two newest (today), the newest of yesterday (day + 1 s),
    // and the one from two days ago; not the older one of yesterday, nor
    // the one from ten days ago.
    assert_eq!(left.len(), 4, "{left:?} ages {ages:?}");
    assert_eq!(left[0], newest.key);
    assert_eq!(left[1], first.key);
    assert!(
        ages.contains(&(86_400 + 1)) && ages.contains(&(2 * 86_400)),
        "{ages:?}"
    );
    assert_eq!(store.latest().await.unwrap().unwrap(), newest);
}
