//! Snapshots: `GET /__sandbox/snapshot` writes the whole state, `PUT` brings it back into
//! another sandbox (which then answers as the first would have), a bad file is refused with
//! every reason and changes nothing, waiting deliveries and jobs carry over, `--snapshot FILE`
//! starts from one, and the CLI saves and loads files.

use std::time::Duration;

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

/// A frozen clock, links written with a fixed base URL (so two sandboxes on two ports hand out
/// the same URLs), WhatsApp and gateway webhooks to `receiver`.
fn frozen_config(seed: u64, receiver: &str) -> paylink_sandbox::config::Config {
    let mut config = webhook_config(&format!("{receiver}/wa"));
    config.seed = Some(seed);
    config.clock.frozen = true;
    config.clock.start = Some("2026-06-01T00:00:00Z".into());
    config.server.public_url = Some("http://sandbox.test".into());
    config.providers.razorpay.accounts[0].webhook_url = Some(format!("{receiver}/rzp"));
    config
}

/// Some state in all three providers, with webhooks and status jobs still waiting.
async fn fill(app: &TestApp) -> String {
    let (status, _) = app.send_order("SNAP-1").await;
    assert_eq!(status, 200);
    let (status, link) = app
        .create_payment_link(&json!({"amount": 4200, "reference_id": "SNAP-LINK", "accept_partial": true, "first_min_partial_amount": 500, "expire_by": 1_782_864_000}))
        .await;
    assert_eq!(status, 200, "{link}");
    let id = link["id"].as_str().unwrap().to_string();
    let (status, paid) = app
        .admin_post(
            &format!("/razorpay/payment_links/{id}/pay"),
            &json!({"method": "upi", "amount": 1000}),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    let (status, q) = app
        .create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
            "items": [{"title": "Tea", "quantity": 1, "unit_price": {"value": "9.90", "currency": "EUR"}, "vat_rate": "20.0"}]}}))
        .await;
    assert!(status < 300, "{q}");
    let (status, _) = app
        .admin_put(
            "/faults",
            &json!({"requests": [{"provider": "qonto", "path": "/qonto/nowhere", "error_rate": 1.0}]}),
        )
        .await;
    assert_eq!(status, 200);
    // The gateway's webhooks are due at once; let their first attempts end, so that the state
    // saved is at rest (their retries wait on the frozen clock).
    wait_for("first attempts", 10, || async {
        let waiting = app.deliveries("?status=scheduled").await.len()
            + app.deliveries("?status=in_flight").await.len();
        (waiting == 0).then_some(())
    })
    .await;
    id
}

/// The same requests against any sandbox: what each answered.
async fn script(app: &TestApp) -> Vec<Value> {
    let mut out = vec![app.create_payment_link(&json!({"amount": 999})).await.1];
    out.push(
        app.send_message_json(&text_message("+91 98765 43210", "again"))
            .await
            .1,
    );
    out.push(
        app.create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": true,
            "items": [{"title": "Cake", "quantity": 2, "unit_price": {"value": "3.50", "currency": "EUR"}, "vat_rate": "5.5"}]}}))
            .await
            .1,
    );
    out
}

async fn snapshot(app: &TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/__sandbox/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"paylink-sandbox-"),
        "{:?}",
        r.headers()
    );
    r.json().await.unwrap()
}

/// Fails with the first place two documents differ (they are too long to print whole).
fn same(got: &Value, want: &Value, what: &str) {
    fn first_difference(got: &Value, want: &Value, at: &str) -> Option<String> {
        match (got, want) {
            (Value::Object(g), Value::Object(w)) => {
                for key in g.keys().chain(w.keys()) {
                    let (a, b) = (
                        g.get(key).unwrap_or(&Value::Null),
                        w.get(key).unwrap_or(&Value::Null),
                    );
                    if let Some(d) = first_difference(a, b, &format!("{at}/{key}")) {
                        return Some(d);
                    }
                }
                None
            }
            (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
                .iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (a, b))| first_difference(a, b, &format!("{at}/{i}"))),
            _ if got == want => None,
            _ => Some(format!(
                "{at}: got {:.300}, want {:.300}",
                got.to_string(),
                want.to_string()
            )),
        }
    }
    if let Some(d) = first_difference(got, want, "") {
        panic!("{what}: the state differs at {d}");
    }
}

async fn put_snapshot(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .client
        .put(app.url("/__sandbox/snapshot"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_snapshot_holds_every_provider_and_answers_what_the_saved_sandbox_would() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let a = TestApp::spawn_with(frozen_config(42, &receiver.url)).await;
    let link_id = fill(&a).await;
    let saved = snapshot(&a).await;
    assert_eq!(saved["format"], "paylink-sandbox.snapshot");
    assert_eq!(saved["version"], 1);
    assert!(
        !saved["jobs"].as_array().unwrap().is_empty(),
        "status jobs wait on a frozen clock"
    );
    let after_a = script(&a).await;

    // Another seed: every id the second sandbox hands out must come from the snapshot's stream.
    let b = TestApp::spawn_with(frozen_config(7, &receiver.url)).await;
    let (status, loaded) = put_snapshot(&b, serde_json::to_vec(&saved).unwrap()).await;
    assert_eq!(status, 200, "{loaded}");
    assert_eq!(
        loaded["state"]["providers"]["razorpay"]["links"], 1,
        "{loaded}"
    );
    assert_eq!(
        loaded["state"]["providers"]["qonto"]["links"], 1,
        "{loaded}"
    );
    assert_eq!(
        loaded["state"]["providers"]["whatsapp"]["messages"], 1,
        "{loaded}"
    );
    same(
        &snapshot(&b).await,
        &saved,
        "a snapshot taken right after loading",
    );

    let link = b.gateway_link(&link_id).await;
    assert_eq!(link["amount_paid"], 1000);
    assert_eq!(link["status"], "partially_paid");
    let (_, faults) = b.admin_get("/faults").await;
    assert_eq!(faults["requests"][0]["path"], "/qonto/nowhere");

    assert_eq!(
        script(&b).await,
        after_a,
        "the same requests after the load give the same answers"
    );

    // The order's statuses were waiting on the frozen clock; they fall due on the new sandbox.
    b.advance("10s").await;
    let (_, order) = b.admin_order("SNAP-1").await;
    let messages = b.admin_messages().await;
    let first = messages
        .iter()
        .find(|m| m["reference_id"] == "SNAP-1")
        .unwrap_or_else(|| panic!("order message kept: {messages:?} {order}"));
    let statuses: Vec<&str> = first["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "sent", "delivered", "read"]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one table of broken files, each checked the same way"
)]
async fn a_snapshot_of_another_version_or_a_broken_file_is_refused_and_changes_nothing() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let a = TestApp::spawn_with(frozen_config(42, &receiver.url)).await;
    fill(&a).await;
    let saved = snapshot(&a).await;
    let b = TestApp::spawn_with(frozen_config(7, &receiver.url)).await;
    let (status, _) = b
        .create_payment_link(&json!({"amount": 100, "reference_id": "B-OWN"}))
        .await;
    assert_eq!(status, 200);
    let before = snapshot(&b).await;

    let with = |pointer: &str, value: Value| {
        let mut s = saved.clone();
        *s.pointer_mut(pointer).unwrap() = value;
        serde_json::to_vec(&s).unwrap()
    };
    let mut stray = saved.clone();
    stray["providers"]["stripe"] = json!({});
    let mut missing = saved.clone();
    missing["providers"]
        .as_object_mut()
        .unwrap()
        .remove("qonto");
    let text = serde_json::to_vec(&saved).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("newer version", with("/version", json!(2)), "/version"),
        ("older version", with("/version", json!(0)), "/version"),
        ("another format", with("/format", json!("har")), "/format"),
        ("not JSON", b"{\"format\": ".to_vec(), "not JSON"),
        ("cut short", text[..text.len() / 2].to_vec(), "not JSON"),
        (
            "bad link status",
            with(
                "/providers/razorpay/accounts/0/links/0/status",
                json!("bogus"),
            ),
            "/providers/razorpay",
        ),
        (
            "float amount",
            with("/providers/razorpay/accounts/0/links/0/amount", json!(42.5)),
            "/providers/razorpay",
        ),
        (
            "unknown provider",
            serde_json::to_vec(&stray).unwrap(),
            "/providers/stripe",
        ),
        (
            "missing provider",
            serde_json::to_vec(&missing).unwrap(),
            "/providers/qonto",
        ),
        (
            "bad id position",
            with("/ids/words", json!("-1")),
            "/ids/words",
        ),
        (
            "bad fault rule",
            with("/faults/requests/0/provider", json!("stripe")),
            "/faults",
        ),
        (
            "unknown job",
            with("/jobs/0/job", json!({"explode": {}})),
            "/jobs",
        ),
    ];
    for (what, body, says) in cases {
        let (status, answer) = put_snapshot(&b, body).await;
        assert_eq!(status, 422, "{what}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_snapshot",
            "{what}: {answer}"
        );
        let details = answer["error"]["details"].to_string();
        assert!(details.contains(says), "{what}: {says} not in {details}");
        same(&snapshot(&b).await, &before, what);
    }
    let (status, answer) = put_snapshot(&b, Vec::new()).await;
    assert_eq!(status, 422, "an empty body: {answer}");
    same(&snapshot(&b).await, &before, "an empty body");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_waiting_in_a_snapshot_is_delivered_after_loading_with_its_event_id() {
    let down = Receiver::start(Behaviour::Status(503)).await;
    let mut config = frozen_config(42, &down.url);
    config.clock.frozen = false;
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("0,1h").unwrap();
    let a = TestApp::spawn_with(config).await;
    let (_, link) = a.create_payment_link(&json!({"amount": 700})).await;
    let id = link["id"].as_str().unwrap();
    a.admin_post(&format!("/razorpay/payment_links/{id}/pay"), &json!({}))
        .await;
    // At rest: every event of the payment had its first attempt refused.
    let waiting = wait_for("failed first attempts", 10, || async {
        let busy = a.deliveries("?status=scheduled").await.len()
            + a.deliveries("?status=in_flight").await.len();
        let d = a.deliveries("?provider=razorpay&status=retrying").await;
        (busy == 0 && !d.is_empty()).then_some(d)
    })
    .await;
    let saved = snapshot(&a).await;
    a.stop().await;

    let up = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut text = serde_json::to_string(&saved).unwrap();
    text = text.replace(&down.url, &up.url);
    let b = TestApp::spawn_with(frozen_config(9, &up.url)).await;
    let (status, answer) = put_snapshot(&b, text.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    b.advance("2h").await;
    let posts = up.wait_posts(waiting.len(), 10).await;
    let mut sent: Vec<String> = posts
        .iter()
        .map(|p| {
            let signature = p.header("x-razorpay-signature").unwrap();
            assert_eq!(
                signature,
                hmac_sha256_hex(RZP_WEBHOOK_SECRET.as_bytes(), &[&p.body])
            );
            p.header("x-razorpay-event-id").unwrap()
        })
        .collect();
    let mut expected: Vec<String> = waiting
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    sent.sort();
    expected.sort();
    assert_eq!(
        sent, expected,
        "the same event ids, signed with the saved secret"
    );
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_started_with_a_snapshot_file_begins_where_it_was_saved() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let a = TestApp::spawn_with(frozen_config(42, &receiver.url)).await;
    let link_id = fill(&a).await;
    let saved = snapshot(&a).await;
    a.stop().await;
    let dir = std::env::temp_dir().join(format!("paylink-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("demo.json");
    std::fs::write(&file, serde_json::to_vec(&saved).unwrap()).unwrap();

    let mut config = frozen_config(1, &receiver.url);
    config.server.snapshot = Some(file.clone());
    let b = TestApp::spawn_with(config).await;
    same(&snapshot(&b).await, &saved, "started from the file");
    assert_eq!(b.gateway_link(&link_id).await["id"], link_id.as_str());
    b.stop().await;

    let broken = dir.join("broken.json");
    std::fs::write(
        &broken,
        br#"{"format": "paylink-sandbox.snapshot", "version": 99}"#,
    )
    .unwrap();
    let mut config = frozen_config(1, &receiver.url);
    config.server.snapshot = Some(broken);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = tokio::time::timeout(
        Duration::from_secs(10),
        paylink_sandbox::run(listener, config, std::future::pending()),
    )
    .await
    .expect("a bad snapshot stops the start at once");
    let why = format!("{:#}", started.expect_err("a bad snapshot is an error"));
    assert!(why.contains("version 99"), "{why}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_snapshot_subcommand_saves_and_loads_files() {
    let bin = env!("CARGO_BIN_EXE_paylink-sandbox");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let (status, link) = runtime.block_on(app.create_payment_link(&json!({"amount": 321})));
    assert_eq!(status, 200);
    let dir = std::env::temp_dir().join(format!("paylink-snapshot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .args(["--url", &app.base])
            .output()
            .unwrap()
    };
    let out = run(&["snapshot", "save", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("saved the sandbox's state"));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        saved["providers"]["razorpay"]["accounts"][0]["links"][0]["id"],
        link["id"]
    );

    runtime.block_on(app.admin_post("/reset", &json!({})));
    let out = run(&["snapshot", "load", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _) = runtime.block_on(app.rzp_json(
        reqwest::Method::GET,
        &format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
        None,
    ));
    assert_eq!(status, 200, "the link is back");

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    let out = run(&["snapshot", "load", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/format"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    runtime.block_on(app.stop());
    let _ = std::fs::remove_dir_all(&dir);
}
