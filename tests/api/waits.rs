//! Waits instead of sleeps: the admin lists hold a call until enough entries match.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, order_details, webhook_config};
use crate::receiver::{Behaviour, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_returns_as_soon_as_the_webhook_it_waits_for_is_delivered() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    crate::helpers::whatsapp_sequence(&mut config).delays = ["100ms", "200ms", "300ms"]
        .iter()
        .map(|d| paylink_sandbox::clock::Span(paylink_sandbox::clock::parse_duration(d).unwrap()))
        .collect();
    let app = TestApp::spawn_with(config).await;

    // The wait starts before the message exists.
    let waiting = {
        let client = app.client.clone();
        let url = app.url(
            "/__sandbox/webhooks?provider=whatsapp&event=statuses.read&status=delivered&wait=10s",
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client.get(url).send().await.unwrap();
            let code = r.status().as_u16();
            (
                code,
                r.json::<serde_json::Value>().await.unwrap(),
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, health) = app.admin_get("/health").await;
    assert_eq!(health["dashboards"], 0, "a waiting call is not a dashboard");
    let (code, _) = app.send_message_json(&order_details("WAIT-1")).await;
    assert_eq!(code, 200);
    let (code, body, took) = waiting.await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["wait"]["reached"], true);
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["deliveries"][0]["event"], "statuses.read");
    assert!(
        took < Duration::from_secs(5),
        "answered when the read status landed, not at the end of the wait: {took:?}"
    );

    // The message list waits the same way, by reference and status.
    let (code, body) = app
        .admin_get("/whatsapp/messages?reference_id=WAIT-1&status=read&wait=5s")
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["messages"][0]["reference_id"], "WAIT-1");
    assert_eq!(body["wait"]["matched"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_runs_out_says_so_and_shows_what_did_arrive() {
    let app = TestApp::spawn().await;
    let (code, _) = app
        .create_payment_link(&json!({"amount": 1000, "currency": "INR"}))
        .await;
    assert_eq!(code, 200);
    let started = Instant::now();
    let (code, body) = app
        .admin_get("/requests?provider=razorpay&status=2xx&wait=300ms&count=2")
        .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(code, 408, "{body}");
    assert_eq!(body["wait"]["reached"], false);
    assert_eq!(body["wait"]["wanted"], 2);
    assert_eq!(body["wait"]["matched"], 1);
    assert_eq!(
        body["requests"].as_array().unwrap().len(),
        1,
        "what did arrive"
    );
    assert_eq!(body["error"]["code"], "wait_timed_out");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 arrived"),
        "{body}"
    );

    // Already there: no waiting at all.
    let started = Instant::now();
    let (code, body) = app.admin_get("/requests?provider=razorpay&wait=30s").await;
    assert_eq!(code, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_and_filters_are_checked_by_name() {
    let app = TestApp::spawn().await;
    for (query, needle) in [
        ("/webhooks?wait=soon", "wait \"soon\""),
        ("/webhooks?wait=10m", "longer than"),
        ("/requests?wait=1s&count=0", "count must be at least 1"),
        ("/requests?count=3", "count needs wait"),
        ("/webhooks?code=abc", "code \"abc\""),
        ("/whatsapp/messages?wait=-1s", "wait \"-1s\""),
    ] {
        let (code, body) = app.admin_get(query).await;
        assert_eq!(code, 400, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_filter_by_the_receivers_status_class_and_time() {
    let receiver = Receiver::start(Behaviour::Status(503)).await;
    let mut config = webhook_config(&receiver.url);
    config.webhooks.retry_schedule = Vec::new();
    let app = TestApp::spawn_with(config).await;
    let (_, clock) = app.admin_get("/clock").await;
    let before = clock["now_ms"].as_i64().unwrap();
    app.send_message_json(&order_details("CODE-1")).await;
    let (code, body) = app
        .admin_get("/webhooks?code=5xx&status=failed&wait=5s&count=3")
        .await;
    assert_eq!(code, 200, "{body}");
    for d in body["deliveries"].as_array().unwrap() {
        assert_eq!(d["last_attempt"]["status_code"], 503, "{d}");
    }
    let (_, none) = app.admin_get("/webhooks?code=2xx").await;
    assert_eq!(none["deliveries"], json!([]));
    let (_, later) = app
        .admin_get(&format!("/webhooks?since={}", before + 3_600_000))
        .await;
    assert_eq!(later["deliveries"], json!([]), "nothing created an hour on");
}

/// The README's test recipe: order, pay, order_status, each step waited for, never slept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_flow_written_with_waits_on_the_fast_profile() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = crate::helpers::test_config();
    config.providers.whatsapp.callback_url = Some(receiver.url.clone());
    config.clock.fast = true;
    let app = TestApp::spawn_with(config).await;

    let mut order = crate::helpers::fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("FLOW-1");
    let (code, sent) = app.send_message_json(&order).await;
    assert_eq!(code, 200, "{sent}");
    let (code, read) = app
        .admin_get("/whatsapp/messages?reference_id=FLOW-1&status=read&wait=5s")
        .await;
    assert_eq!(code, 200, "the order was read: {read}");

    let (code, paid) = app
        .admin_post(
            "/whatsapp/orders/FLOW-1/pay",
            &json!({"outcome": "captured", "method": "upi"}),
        )
        .await;
    assert_eq!(code, 200, "{paid}");
    let (code, payment) = app
        .admin_get("/webhooks?event=payment.captured&status=delivered&wait=5s")
        .await;
    assert_eq!(code, 200, "the payment webhook landed: {payment}");

    let (code, _) = app.send_order_status("FLOW-1", "processing").await;
    assert_eq!(code, 200);
    let (code, _) = app.send_order_status("FLOW-1", "completed").await;
    assert_eq!(code, 200);
    // Three messages with three statuses each, and the payment: ten deliveries.
    let (code, all) = app
        .admin_get("/webhooks?provider=whatsapp&status=delivered&wait=5s&count=10")
        .await;
    assert_eq!(code, 200, "{all}");

    let posts = receiver.posts();
    assert_eq!(posts.len(), 10);
    let mut per_message: std::collections::HashMap<String, Vec<String>> = Default::default();
    for p in &posts {
        let signature = p.header("x-hub-signature-256").unwrap();
        let expected = crate::helpers::hmac_sha256_hex(b"paylink-sandbox-app-secret", &[&p.body]);
        assert_eq!(signature, format!("sha256={expected}"));
        let s = &p.json()["entry"][0]["changes"][0]["value"]["statuses"][0];
        per_message
            .entry(s["id"].as_str().unwrap().to_string())
            .or_default()
            .push(s["status"].as_str().unwrap().to_string());
    }
    for (id, statuses) in &per_message {
        if statuses.len() == 3 {
            assert_eq!(statuses, &["sent", "delivered", "read"], "{id}: in order");
        }
    }
}
