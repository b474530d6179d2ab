//! The `orchestrator serve` binary's payment configuration: Stripe keys
//! from the environment or from files, refused clearly when incomplete,
//! never written to its output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_orchestrator");

fn serve(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/orchestrator.db", dir.display()),
        )
        .env("STARTALES_DATA_DIR", dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

fn refused(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "started: {out:?}");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_stripe_key_without_a_webhook_secret_is_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = serve(dir.path());
    c.env("STARTALES_STRIPE_SECRET_KEY", "sk_test_abc");
    let err = refused(c);
    assert!(err.contains("STARTALES_STRIPE_WEBHOOK_SECRET"), "{err}");
    assert!(!err.contains("sk_test_abc"), "{err}");
}

#[test]
fn malformed_stripe_settings_are_refused_before_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("STARTALES_STRIPE_SECRET_KEY", "pk_test_public")],
            "secret key",
        ),
        (
            &[
                ("STARTALES_STRIPE_SECRET_KEY", "sk_test_abc"),
                ("STARTALES_STRIPE_WEBHOOK_SECRET", "not-a-whsec"),
            ],
            "whsec_",
        ),
        (
            &[
                ("STARTALES_STRIPE_SECRET_KEY", "sk_test_abc"),
                ("STARTALES_STRIPE_WEBHOOK_SECRET", "whsec_x"),
                ("STARTALES_STRIPE_HOLD_MINUTES", "15"),
            ],
            "stripe-hold-minutes",
        ),
        (
            &[
                ("STARTALES_STRIPE_SECRET_KEY", "sk_test_abc"),
                ("STARTALES_STRIPE_WEBHOOK_SECRET", "whsec_x"),
                ("STARTALES_STRIPE_PRICE_MONTHLY", "monthly"),
            ],
            "price_",
        ),
        (
            &[(
                "STARTALES_STRIPE_SECRET_KEY_FILE",
                "/nonexistent/stripe.key",
            )],
            "/nonexistent/stripe.key",
        ),
    ];
    for (env, expect) in cases {
        let mut c = serve(dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        let err = refused(c);
        assert!(err.contains(expect), "{env:?}: {err}");
        assert!(!err.contains("sk_test_abc"), "{err}");
    }
}

#[tokio::test]
async fn keys_from_files_start_stripe_billing_and_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk_test_fromfile_secretvalue";
    let whsec = "whsec_fromfile_secretvalue";
    std::fs::write(dir.path().join("stripe.key"), format!("{key}\n")).unwrap();
    std::fs::write(dir.path().join("webhook.secret"), format!("{whsec}\n")).unwrap();
    let mut c = serve(dir.path());
    c.env(
        "STARTALES_STRIPE_SECRET_KEY_FILE",
        dir.path().join("stripe.key"),
    )
    .env(
        "STARTALES_STRIPE_WEBHOOK_SECRET_FILE",
        dir.path().join("webhook.secret"),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Read until the address is printed, keeping what came before.
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "exited: {seen}");
        seen.push_str(&line);
        if line.contains("listening on http://") {
            break line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap()
                .to_string();
        }
    };
    let client = reqwest::Client::new();
    let body = r#"{"id":"evt_cli","object":"event","type":"invoice.created","created":1,"data":{"object":{"id":"in_1"}}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sig =
        orchestrator::billing::webhook::sign(body.as_bytes(), whsec, i64::try_from(now).unwrap());
    let hook = format!("{url}/api/v1/billing/stripe/webhook");
    let r = client
        .post(&hook)
        .header("stripe-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .post(&hook)
        .header("stripe-signature", "t=1,v1=00")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut logs = seen;
    stdout.read_to_string(&mut logs).unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("payments: stripe"), "{logs}");
    assert!(logs.contains("webhook refused"), "{logs}");
    assert!(!logs.contains(key) && !logs.contains(whsec), "{logs}");
}
