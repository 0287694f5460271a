//! The binary on a terminal: its request log, `listen` (with `--forward-to`), and the client
//! subcommands' own flags. Each test runs the real binary as a child process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::receiver::{Behaviour, Receiver};

const BIN: &str = env!("CARGO_BIN_EXE_paylink-sandbox");
const KEY: (&str, &str) = ("rzp_test_PaylinkSandbox01", "paylinkSandboxKeySecret01");

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server with `args` and stderr in `log`; returns it with its base URL.
fn serve(args: &[&str], log: &std::path::Path) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--seed", "3"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let at = first.find("http://").expect("address on the first line");
    let base = first[at..].split_whitespace().next().unwrap().to_string();
    (Running(child), base)
}

/// The customer writes first, opening the 24-hour window for messages to them.
async fn customer_writes(base: &str, wa_id: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/__sandbox/whatsapp/users/{wa_id}/messages"))
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn create_link(base: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/razorpay/v1/payment_links"))
        .basic_auth(KEY.0, Some(KEY.1))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("paylink-terminal-{}-{name}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_has_a_plain_line_per_request_and_per_attempt() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let log = temp("text.log");
    let (server, base) = serve(&["--razorpay-webhook-url", &receiver.url], &log);
    let bad = create_link(&base, json!({"amount": -5, "currency": "XYZ"})).await;
    assert!(bad.get("error").is_some(), "{bad}");
    let link = create_link(&base, json!({"amount": 1000})).await;
    let client = reqwest::Client::new();
    let paid = client
        .post(format!("{base}/__sandbox/pay"))
        .json(&json!({"target": link["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    receiver.wait_posts(1, 5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a file:\n{text}"
    );
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("paylink_sandbox::request"))
        .collect();
    assert_eq!(requests.len(), 2, "{text}");
    assert!(
        requests[0].contains("method=POST")
            && requests[0].contains("path=/razorpay/v1/payment_links")
            && requests[0].contains("status=400")
            && requests[0].contains("tenant=rzp_test_PaylinkSandbox01")
            && !requests[0].contains("violations=0")
            && requests[0].contains("latency_ms="),
        "{}",
        requests[0]
    );
    assert!(requests[1].contains("status=200") && requests[1].contains("violations=0"));
    let attempt = text
        .lines()
        .find(|l| l.contains("paylink_sandbox::webhook"))
        .unwrap_or_else(|| panic!("an attempt line:\n{text}"));
    assert!(
        attempt.contains("status=200") && attempt.contains("signed=true"),
        "{attempt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_json_lines_on_request() {
    let log = temp("json.log");
    let (server, base) = serve(&["--log-format", "json"], &log);
    create_link(&base, json!({"amount": 1000})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["target"] == "paylink_sandbox::request")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(request["status"], 200);
    assert_eq!(request["method"], "POST");
    assert_eq!(request["violations"], 0);
}

/// Reads a child's stderr until a line contains `needle`.
fn wait_for_line(child: &mut Child, needle: &str) -> String {
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("{needle:?} never printed; got {seen:?}");
        }
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_prints_everything_and_forwards_each_webhook_with_its_headers() {
    let forward = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let gateway_receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let log = temp("listen-server.log");
    // Gateway webhooks have a target (signed); WhatsApp ones have none (the sandbox points at
    // nothing there), and listen still hands them over.
    let (_server, base) = serve(
        &["--fast", "--razorpay-webhook-url", &gateway_receiver.url],
        &log,
    );
    let mut listener = Command::new(BIN)
        .args(["listen", "--json", "--forward-to", &forward.url])
        .env("PAYLINK_SANDBOX_URL", &base)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = wait_for_line(&mut listener, "Ready");
    assert!(ready.contains(&base), "{ready}");
    let mut stdout = listener.stdout.take().unwrap();
    let listener = Running(listener);

    let link = create_link(&base, json!({"amount": 1000})).await;
    reqwest::Client::new()
        .post(format!("{base}/__sandbox/pay"))
        .json(&json!({"target": link["id"]}))
        .send()
        .await
        .unwrap();
    customer_writes(&base, "16505551234").await;
    let text = reqwest::Client::new()
        .post(format!("{base}/whatsapp/v23.0/106540352242922/messages"))
        .bearer_auth("EAAPaylinkSandboxTestAccessToken0000")
        .json(&crate::helpers::text_message("16505551234", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 200);

    let gateway_events = gateway_receiver.wait_posts(4, 5).await.len();
    // Every gateway webhook once, signed as sent, and the inbound message and the three WhatsApp
    // statuses, unsigned.
    let forwarded = forward.wait_posts(gateway_events + 4, 5).await;
    let signed: Vec<_> = forwarded
        .iter()
        .filter(|p| p.header("x-razorpay-signature").is_some())
        .collect();
    assert_eq!(signed.len(), gateway_events);
    for p in &signed {
        let expected =
            crate::helpers::hmac_sha256_hex(b"paylink-sandbox-webhook-secret", &[&p.body]);
        assert_eq!(p.header("x-razorpay-signature").unwrap(), expected);
        assert!(p.header("x-razorpay-event-id").is_some());
    }
    let unsigned: Vec<_> = forwarded
        .iter()
        .filter(|p| p.header("x-paylink-sandbox-unsigned").is_some())
        .collect();
    assert_eq!(unsigned.len(), 4);
    assert_eq!(
        unsigned[1].json()["entry"][0]["changes"][0]["value"]["statuses"][0]["status"],
        "sent"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(listener);

    let mut printed = String::new();
    stdout.read_to_string(&mut printed).unwrap();
    let items: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests = items.iter().filter(|i| i["type"] == "request").count();
    assert_eq!(requests, 2, "the link and the message: {printed}");
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "webhook" && i["event"] == "payment_link.paid"),
        "{printed}"
    );
}

#[test]
fn client_commands_show_their_own_flags_and_point_port_users_at_url() {
    let out = Command::new(BIN).args(["pay", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--url") && help.contains("--outcome"),
        "{help}"
    );
    for serve_flag in ["--seed", "--bind", "--frozen-clock", "--history-limit"] {
        assert!(
            !help.contains(serve_flag),
            "{serve_flag} in pay --help:\n{help}"
        );
    }

    let out = Command::new(BIN)
        .args(["clock", "--port", "5081"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--port is a flag of the server")
            && said.contains("--url http://127.0.0.1:5081"),
        "{said}"
    );

    let out = Command::new(BIN)
        .args(["--port", "5081", "webhooks"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("webhooks"),
        "a serve flag before a client command is refused, naming it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_from_the_cli_reports_what_ran() {
    let log = temp("clock.log");
    let (_server, base) = serve(&["--frozen-clock"], &log);
    customer_writes(&base, "16505551234").await;
    let sent = reqwest::Client::new()
        .post(format!("{base}/whatsapp/v23.0/106540352242922/messages"))
        .bearer_auth("EAAPaylinkSandboxTestAccessToken0000")
        .json(&crate::helpers::text_message("16505551234", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["clock", "advance", "90s"])
            .env("PAYLINK_SANDBOX_URL", &base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("90s"), "{said}");
    assert!(
        said.contains("ran 3 jobs in 3 steps"),
        "sent, delivered and read fell due: {said}"
    );
}
