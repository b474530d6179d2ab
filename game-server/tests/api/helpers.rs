//! Spawning servers, minting join tokens and speaking the play protocol.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use game_server::protocol::{ClientMsg, Command, JoinClaims, PROTOCOL_VERSION, Role, ServerMsg};
use jsonwebtoken::{EncodingKey, Header, encode};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command as Proc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The admin token every test server uses.
pub const ADMIN: &str = "test-admin-token";

/// An Ed25519 key pair standing in for the orchestrator's.
pub struct Keys {
    encoding: EncodingKey,
    /// The public key, base64.
    pub public: String,
}

impl Keys {
    pub fn new() -> Keys {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Keys {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public: base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref()),
        }
    }

    /// A token expiring `ttl` seconds from now (negative: already expired).
    pub fn token_with(&self, campaign: &str, player: &str, role: Role, ttl: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = JoinClaims {
            sub: player.into(),
            campaign: campaign.into(),
            role,
            exp: (now + ttl) as u64,
            iat: Some(now as u64),
            jti: format!("{player}-{}", uuid()),
        };
        encode(
            &Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &self.encoding,
        )
        .unwrap()
    }
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// How to start a server.
#[derive(Clone)]
pub struct Opts {
    pub campaign: String,
    pub seed: u64,
    pub players: u8,
    pub tick_ms: u64,
    pub data_dir: PathBuf,
    pub object_store_url: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Opts {
    pub fn new(data_dir: &Path) -> Opts {
        Opts {
            campaign: "camp-1".into(),
            seed: 42,
            players: 4,
            tick_ms: 200,
            data_dir: data_dir.to_path_buf(),
            object_store_url: None,
            env: Vec::new(),
        }
    }

    pub fn settings(&self) -> String {
        format!(
            r#"{{"players":{},"galaxy":"small","difficulty":"normal","mode":"conquest","species_pool":null,"generator_version":"v1"}}"#,
            self.players
        )
    }
}

/// A TCP port free on this host now (the system picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The admin `/status` of the server at `base`, asked with `token`.
pub async fn admin_status(http: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    http.get(format!("{base}/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A running game-server process.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Arc<Mutex<String>>,
    pub keys: Arc<Keys>,
    pub opts: Opts,
}

fn command(opts: &Opts, keys: &Keys) -> Proc {
    let mut cmd = Proc::new(env!("CARGO_BIN_EXE_game-server"));
    cmd.arg("serve")
        .env("GS_CAMPAIGN_ID", &opts.campaign)
        .env("GS_SEED", opts.seed.to_string())
        .env("GS_SETTINGS", opts.settings())
        .env("GS_DATA_DIR", &opts.data_dir)
        .env("GS_LISTEN", "127.0.0.1:0")
        .env("GS_JOIN_PUBLIC_KEY", &keys.public)
        .env("GS_ADMIN_TOKEN", ADMIN)
        .env("GS_TICK_MS", opts.tick_ms.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(u) = &opts.object_store_url {
        cmd.env("GS_OBJECT_STORE_URL", u);
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the server to completion (for startup failures): exit code and stderr.
pub async fn run_to_exit(opts: &Opts, keys: &Keys) -> (Option<i32>, String) {
    let out = tokio::time::timeout(Duration::from_secs(30), command(opts, keys).output())
        .await
        .expect("server did not exit")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Server {
    /// Starts a server and waits until it is ready.
    pub async fn start(opts: Opts, keys: Arc<Keys>) -> Server {
        let mut child = command(&opts, &keys).spawn().expect("spawn game-server");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let log2 = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                log2.lock().unwrap().push_str(&l);
                log2.lock().unwrap().push('\n');
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(l)) = lines.next_line().await {
                if let Some(a) = l.strip_prefix("listening on ") {
                    return a.parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("server did not start; stderr:\n{}", log.lock().unwrap()));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let server = Server {
            child,
            addr,
            stderr: log,
            keys,
            opts,
        };
        server.wait_ready().await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server never became ready; stderr:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn token(&self, player: &str, role: Role) -> String {
        self.keys.token_with(&self.opts.campaign, player, role, 300)
    }

    /// Admin GET of /status.
    pub async fn status(&self) -> serde_json::Value {
        admin_status(&reqwest::Client::new(), &self.url(""), ADMIN).await
    }

    /// Admin POST /snapshot.
    pub async fn snapshot(&self) -> serde_json::Value {
        let r = reqwest::Client::new()
            .post(self.url("/snapshot"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "snapshot failed: {}",
            r.text().await.unwrap()
        );
        r.json().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("server did not stop within 30 s")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status.code(), self.log())
    }

    /// SIGKILL, no goodbye.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// Connects a client (after a successful hello).
    pub async fn join(
        &self,
        player: &str,
        role: Role,
        last_event_id: Option<u64>,
    ) -> (Client, ServerMsg) {
        let mut c = Client::connect(self.addr).await;
        c.send(&ClientMsg::Hello {
            version: PROTOCOL_VERSION,
            token: self.token(player, role),
            last_event_id,
        })
        .await;
        let welcome = c.next().await.expect("welcome");
        assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
        (c, welcome)
    }
}

/// A WebSocket play client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What ended a connection.
#[derive(Debug)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        Client { ws }
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&serde_json::to_string(msg).unwrap()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn command(&mut self, id: u64, command: Command) {
        self.send(&ClientMsg::Command { id, command }).await;
    }

    /// The next protocol message, or the close frame as `Err`.
    pub async fn next_or_close(&mut self) -> Result<ServerMsg, Closed> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(15), self.ws.next())
                .await
                .expect("no message within 15 s");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return Ok(serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")));
                }
                Some(Ok(Message::Close(f))) => {
                    return Err(f
                        .map(|f| Closed {
                            code: u16::from(f.code),
                            reason: f.reason.to_string(),
                        })
                        .unwrap_or(Closed {
                            code: 1005,
                            reason: String::new(),
                        }));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Err(Closed {
                        code: 1006,
                        reason: e.to_string(),
                    });
                }
                None => {
                    return Err(Closed {
                        code: 1006,
                        reason: "stream ended".into(),
                    });
                }
            }
        }
    }

    pub async fn next(&mut self) -> Option<ServerMsg> {
        self.next_or_close().await.ok()
    }

    /// Skips messages until one matches.
    pub async fn until(&mut self, mut f: impl FnMut(&ServerMsg) -> bool) -> ServerMsg {
        loop {
            match self.next_or_close().await {
                Ok(m) if f(&m) => return m,
                Ok(_) => continue,
                Err(c) => panic!("closed while waiting: {c:?}"),
            }
        }
    }

    /// The answer (ack or error) to request `id`.
    pub async fn answer(&mut self, id: u64) -> ServerMsg {
        self.until(|m| match m {
            ServerMsg::Ack { id: i, .. } => *i == id,
            ServerMsg::Error { id: i, .. } => *i == Some(id),
            _ => false,
        })
        .await
    }

    /// Waits for the close frame.
    pub async fn closed(&mut self) -> Closed {
        loop {
            if let Err(c) = self.next_or_close().await {
                return c;
            }
        }
    }
}
