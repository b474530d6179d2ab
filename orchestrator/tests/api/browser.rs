//! The newcomer's path in a real browser (headless Chromium driven through
//! ChromeDriver's WebDriver API): the demo's player opens `/play`, logs
//! in, is let into the running session through the proxy and plays a
//! command. Needs Debian's `chromium` and `chromium-driver` (`.ci/run`
//! installs them; `STARTALES_CHROMEDRIVER` / `STARTALES_CHROMIUM` point
//! elsewhere).

use std::time::Duration;

use serde_json::{Value, json};

use crate::sessions::{Sessions, spawn};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: std::process::Child,
    base: String,
    http: reqwest::Client,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let driver = std::env::var("STARTALES_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium =
            std::env::var("STARTALES_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&driver).exists() && std::path::Path::new(&chromium).exists(),
            "browser tests need {driver} and {chromium}: apt-get install chromium chromium-driver"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "chromedriver did not start");
        let mut d = Driver {
            child,
            base,
            http,
            session: String::new(),
        };
        let s = d
            .call(
                reqwest::Method::POST,
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"
                    ]}
                }}}),
            )
            .await;
        d.session = s["sessionId"].as_str().unwrap().to_string();
        d
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = if self.session.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let r = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(v["value"]["error"].is_null(), "{v}");
        v["value"].clone()
    }

    async fn element(&self, css: &str) -> String {
        let e = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        e[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            json!({}),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    async fn text(&self, id: &str) -> String {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": format!("return document.getElementById('{id}').textContent"), "args": []}),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    async fn wait_for(&self, id: &str, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..300 {
            last = self.text(id).await;
            if last.contains(needle) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "#{id} never showed {needle:?}; it shows {last:?} (status: {})",
            self.text("status").await
        );
    }
}

#[tokio::test]
async fn a_newcomer_logs_in_on_the_play_page_and_plays_the_demo_session() {
    let s: Sessions = spawn().await;
    let d = s.demo().await;
    s.round().await;
    s.wait_ready(&d.campaign_id).await;

    let browser = Driver::start().await;
    browser
        .call(
            reqwest::Method::POST,
            "/url",
            json!({"url": format!("{}/play?campaign={}", s.app.address, d.campaign_id)}),
        )
        .await;
    let (handle, password) = &d.players[0];
    browser.type_into("#user", handle).await;
    browser.type_into("#password", password).await;
    browser.click("#go").await;
    let summary = browser.wait_for("summary", "You play faction").await;
    assert!(summary.contains("(player)"), "{summary}");
    browser.click("[data-research=weapons]").await;
    browser.wait_for("log", "ack ").await;
    // A wrong password is refused on the page, nothing else happens.
    browser
        .call(
            reqwest::Method::POST,
            "/url",
            json!({"url": format!("{}/play?campaign={}", s.app.address, d.campaign_id)}),
        )
        .await;
    browser.type_into("#user", handle).await;
    browser.type_into("#password", "not the password").await;
    browser.click("#go").await;
    browser.wait_for("status", "wrong login or password").await;
}
