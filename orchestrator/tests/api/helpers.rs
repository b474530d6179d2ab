//! Spawning the app with a fresh database, and a small client for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use orchestrator::accounts::{Passwords, TokenKeys};
use orchestrator::http::{AppState, Clock, HttpOptions, RateLimits, router, serve};
use orchestrator::metrics::Metrics;
use orchestrator::play::JoinKeys;
use orchestrator::price_books::PriceBooks;
use orchestrator::pricing::PriceBook;
use orchestrator::runtime::Runtime;
use orchestrator::runtime::local::{LocalRuntime, LocalSettings};
use orchestrator::scheduler::decide::Timing;
use orchestrator::seats::{LocalProvider, PaymentProvider};
use orchestrator::store::Store;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _};

/// A running app on its own database.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub store: Store,
    /// The app's clock, Unix ms; tests move it.
    pub now: Arc<AtomicI64>,
    /// Where game servers run.
    pub runtime: Arc<dyn Runtime>,
    /// The payment provider.
    pub payments: Arc<dyn PaymentProvider>,
    _db: TestDb,
    _runtime_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The database behind a test app; removed when dropped.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            let admin_url = admin_url.clone();
            let name = name.clone();
            // Drop the database from a fresh runtime: the test's own may be
            // shutting down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = conn.execute(sqlx::AssertSqlSafe(sql)).await;
                    }
                });
            })
            .join();
        }
    }
}

/// The backend the suite runs on.
pub fn backend() -> String {
    std::env::var("STARTALES_TEST_DB").unwrap_or_else(|_| "sqlite".into())
}

async fn fresh_database() -> (String, TestDb) {
    match backend().as_str() {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/test.db", dir.path().display());
            (url, TestDb::Sqlite(dir))
        }
        "postgres" => {
            let admin_url = std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("startales_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("STARTALES_TEST_DB=postgres but {admin_url} is unreachable: {e}")
                });
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .await
                .unwrap();
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            (
                format!("{base}/{name}"),
                TestDb::Postgres { admin_url, name },
            )
        }
        other => panic!("STARTALES_TEST_DB must be sqlite or postgres, not {other}"),
    }
}

/// Starts the app with default rate limits.
pub async fn spawn_app() -> TestApp {
    spawn_app_options(TestOptions::default()).await
}

/// Starts the app with the given rate limits.
pub async fn spawn_app_with(rate_limits: RateLimits) -> TestApp {
    spawn_app_options(TestOptions {
        rate_limits,
        ..TestOptions::default()
    })
    .await
}

/// What a test app is started with.
pub struct TestOptions {
    pub rate_limits: RateLimits,
    pub payments: Arc<dyn PaymentProvider>,
    /// The app's clock (Unix ms), when the test shares it with something.
    pub clock: Option<Arc<AtomicI64>>,
    /// Where game servers run (default: the local runtime in a temporary
    /// folder, running the orchestrator binary's `game-server`).
    pub runtime: Option<Arc<dyn Runtime>>,
    /// The join-token keys (default: new ones).
    pub join_keys: Option<JoinKeys>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            rate_limits: RateLimits {
                auth_burst: 1_000,
                ..RateLimits::default()
            },
            payments: Arc::new(LocalProvider),
            clock: None,
            runtime: None,
            join_keys: None,
        }
    }
}

/// Local-runtime settings for tests: the orchestrator binary's embedded
/// game server, quick restarts, fast ticks.
pub fn local_settings(root: &std::path::Path, public_key: &str) -> LocalSettings {
    LocalSettings {
        program: env!("CARGO_BIN_EXE_orchestrator").into(),
        args: vec!["game-server".into(), "serve".into()],
        root: root.to_path_buf(),
        join_public_key: public_key.to_string(),
        env: vec![
            ("GS_TICK_MS".into(), "200".into()),
            ("GS_SNAPSHOT_INTERVAL_SECS".into(), "3600".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        min_backoff: std::time::Duration::from_millis(100),
        max_backoff: std::time::Duration::from_secs(2),
        stop_grace: std::time::Duration::from_secs(20),
    }
}

/// A public campaign's body: `players` seats, weekly on Saturdays at 18:00
/// UTC for four weeks from 2027-01-02, two-hour sessions, the ollama tier.
pub fn campaign_body(title: &str, players: u32, seed: u64) -> Value {
    json!({
        "title": title,
        "settings": {"players": players, "galaxy": "small", "difficulty": "normal",
                     "mode": "conquest", "species_pool": null, "generator_version": "v1"},
        "seed": seed, "llm_tier": "ollama", "min_players": 2, "visibility": "public",
        "schedule": {"kind": "weekly", "weekdays": ["saturday"], "start_time": "18:00",
                     "session_hours": 2, "time_zone": "UTC", "starts_on": "2027-01-02", "weeks": 4}
    })
}

/// Where test clocks start, Unix ms (2026-11-18).
pub const START_MS: i64 = 1_795_000_000_000;

/// Starts the app with `options`.
pub async fn spawn_app_options(options: TestOptions) -> TestApp {
    let rate_limits = options.rate_limits;
    let (url, db) = fresh_database().await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let now = options
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(AtomicI64::new(START_MS)));
    let clock_now = now.clone();
    let join_keys = options
        .join_keys
        .clone()
        .unwrap_or_else(|| JoinKeys::generate().unwrap().0);
    let runtime_dir = tempfile::tempdir().unwrap();
    let runtime = options.runtime.clone().unwrap_or_else(|| {
        Arc::new(LocalRuntime::new(local_settings(
            runtime_dir.path(),
            join_keys.public_key(),
        )))
    });
    let state = AppState {
        store: store.clone(),
        // Cheap hashing keeps the suite fast; production uses OWASP's.
        passwords: Passwords::new(1024, 1, 1).unwrap(),
        keys: TokenKeys::new(&[42; 32]),
        clock: Clock::from_fn(move || clock_now.load(Ordering::SeqCst)),
        metrics: Metrics::new(),
        payments: options.payments.clone(),
        prices: PriceBooks::new(PriceBook::standard()).unwrap(),
        runtime: runtime.clone(),
        join_keys: join_keys.clone(),
        timing: Timing::default(),
    };
    let app = router(
        state,
        &HttpOptions {
            cors_origins: vec!["https://play.example".into()],
            rate_limits,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, async move {
        let _ = rx.await;
    }));
    TestApp {
        address: format!("http://{addr}"),
        client: Client::new(),
        store,
        now,
        runtime,
        payments: options.payments.clone(),
        _db: db,
        _runtime_dir: runtime_dir,
        shutdown: Some(tx),
    }
}

impl TestApp {
    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// Like [`TestApp::call`], returning the status and the JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let r = self.call(method, path, token, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs up `handle` with a default password; returns the account JSON.
    pub async fn sign_up(&self, handle: &str) -> Value {
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/accounts",
                None,
                Some(json!({"email": format!("{handle}@example.com"), "handle": handle, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Logs in; returns (access, refresh).
    pub async fn log_in(&self, login: &str) -> (String, String) {
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"login": login, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["access_token"].as_str().unwrap().into(),
            body["refresh_token"].as_str().unwrap().into(),
        )
    }

    /// Moves the app's clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

/// Asserts the one error shape and returns the code.
pub fn error_code(body: &Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(body["error"]["message"].is_string(), "{body}");
    code.to_string()
}

impl TestApp {
    /// The newest code mailed to `handle@example.com` after `marker`.
    pub async fn mailed_code(&self, handle: &str, marker: &str) -> String {
        let mail = self.store.unsent_mail(100).await.unwrap();
        let body = mail
            .iter()
            .rev()
            .find(|m| m.1 == format!("{handle}@example.com") && m.3.contains(marker))
            .unwrap_or_else(|| panic!("no mail with {marker:?} to {handle}"))
            .3
            .clone();
        body.split(marker)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }

    /// Signs up and logs in; returns (account id, access token).
    pub async fn user(&self, handle: &str) -> (String, String) {
        let account = self.sign_up(handle).await;
        let (access, _) = self.log_in(handle).await;
        (account["id"].as_str().unwrap().to_string(), access)
    }

    /// A game master's access token (signed up, given the role, logged in).
    pub async fn game_master(&self, handle: &str) -> String {
        let (id, _) = self.user(handle).await;
        self.store.set_role(&id, "gm", 0).await.unwrap();
        self.log_in(handle).await.0
    }

    /// Creates a campaign from `body` as game master `gm`; returns its id.
    pub async fn create_campaign(&self, gm: &str, body: Value) -> String {
        let (status, c) = self
            .json(Method::POST, "/api/v1/campaigns", Some(gm), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        c["id"].as_str().unwrap().to_string()
    }

    /// Publishes campaign `id` as its game master `gm`.
    pub async fn publish(&self, gm: &str, id: &str) {
        let r = self
            .call(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/publish"),
                Some(gm),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// Creates and publishes a campaign; returns its id.
    pub async fn published_campaign(&self, gm: &str, body: Value) -> String {
        let id = self.create_campaign(gm, body).await;
        self.publish(gm, &id).await;
        id
    }

    /// Makes two users friends: `from` asks `to_handle`, whose token is `to`.
    pub async fn befriend(&self, from: &str, to: &str, to_handle: &str) {
        let (status, req) = self
            .json(
                Method::POST,
                "/api/v1/me/friends",
                Some(from),
                Some(json!({"handle": to_handle})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{req}");
        let path = format!("/api/v1/me/friends/{}/accept", req["id"].as_str().unwrap());
        assert_eq!(
            self.call(Method::POST, &path, Some(to), None)
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
    }

    /// A party led by `lead` with `members` ((handle, token) pairs, who
    /// must be the leader's friends) in it; returns the party id.
    pub async fn party(&self, lead: &str, members: &[(&str, &str)]) -> String {
        let (status, party) = self
            .json(Method::POST, "/api/v1/parties", Some(lead), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{party}");
        let pid = party["id"].as_str().unwrap().to_string();
        for (h, t) in members {
            let (status, r) = self
                .json(
                    Method::POST,
                    &format!("/api/v1/parties/{pid}/invites"),
                    Some(lead),
                    Some(json!({"handle": h})),
                )
                .await;
            assert!(status.is_success(), "{r}");
            let r = self
                .call(
                    Method::POST,
                    &format!("/api/v1/parties/{pid}/accept"),
                    Some(t),
                    None,
                )
                .await;
            assert!(r.status().is_success());
        }
        pid
    }

    /// An admin with a confirmed second factor, logged in with it; returns
    /// (account id, access token).
    pub async fn admin(&self, handle: &str) -> (String, String) {
        let (id, token, _) = self.admin_with_secret(handle).await;
        (id, token)
    }

    /// Like [`TestApp::admin`], also returning the TOTP secret.
    pub async fn admin_with_secret(&self, handle: &str) -> (String, String, String) {
        let (id, _) = self.user(handle).await;
        self.store.set_role(&id, "admin", 0).await.unwrap();
        let (access, _) = self.log_in(handle).await;
        let (status, enrol) = self
            .json(Method::POST, "/api/v1/me/totp", Some(&access), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{enrol}");
        let secret = enrol["secret"].as_str().unwrap().to_string();
        let code = self.totp_code(&secret);
        let r = self
            .call(
                Method::POST,
                "/api/v1/me/totp/confirm",
                Some(&access),
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let token = self.log_in_with_code(handle, &secret).await;
        (id, token, secret)
    }

    /// Logs in with a fresh TOTP code (moving the clock to the next step,
    /// as a code works once); returns the access token.
    pub async fn log_in_with_code(&self, handle: &str, secret: &str) -> String {
        self.advance_ms(30_000);
        let (status, body) = self
            .json(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"login": handle, "password": "correct horse battery", "totp": self.totp_code(secret)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// The TOTP code for `secret` at the app's time.
    pub fn totp_code(&self, secret: &str) -> String {
        orchestrator::accounts::totp::code_at(secret, self.now.load(Ordering::SeqCst)).unwrap()
    }
}
