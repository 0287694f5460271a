//! Fault injection: request faults answered in each vendor's envelope, deterministic under the
//! seed, and webhook faults that duplicate, drop and reorder deliveries.

use std::time::Duration;

use crate::helpers::*;
use crate::receiver::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_request_faults_answer_in_each_vendors_words() {
    let app = TestApp::spawn().await;
    let faults = r#"
        [[requests]]
        provider = "whatsapp"
        path = "/whatsapp/*/messages"
        error_rate = 1.0
        error = "rate_limit"
        [[requests]]
        provider = "razorpay"
        method = "POST"
        error_rate = 1.0
        error = "server_error"
        [[requests]]
        provider = "qonto"
        latency = "150ms"
        error_rate = 1.0
        error = "rate_limit"
    "#;
    let r = app
        .client
        .put(app.url("/__sandbox/faults"))
        .header("content-type", "application/toml")
        .body(faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, v) = app
        .send_message_json(&text_message("16505551234", "x"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], 130429);
    assert_eq!(v["error"]["message"], "(#130429) Rate limit hit");
    let (status, v) = app.create_payment_link(&json!({"amount": 100})).await;
    assert_eq!(status, 500);
    assert_eq!(v["error"]["code"], "SERVER_ERROR");
    let (status, _) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(status, 200, "the rule names POST only");
    let started = std::time::Instant::now();
    let r = app
        .qonto(Method::GET, "/v2/payment_links")
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the latency was added"
    );
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "too_many_requests");
    let (_, j) = app.admin_get("/requests?provider=qonto").await;
    assert_eq!(j["requests"][0]["fault"], "latency 150ms, ratelimit");
    assert!(
        app.admin_messages().await.is_empty(),
        "a faulted request changes nothing"
    );

    let r = app
        .client
        .put(app.url("/__sandbox/faults"))
        .json(&json!({"requests": [{"provider": "qonto", "error_rate": 3.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, current) = app.admin_get("/faults").await;
    assert_eq!(
        current["requests"].as_array().unwrap().len(),
        3,
        "a bad set leaves the old one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_faults_are_deterministic_under_the_seed() {
    async fn run() -> Vec<u16> {
        let mut config = test_config();
        config.faults = paylink_sandbox::faults::FaultConfig::from_toml(
            "[[requests]]\nprovider = \"razorpay\"\nerror_rate = 0.5\nerror = \"unavailable\"\n",
        )
        .unwrap();
        let app = TestApp::spawn_with(config).await;
        let mut statuses = Vec::new();
        for i in 0..20 {
            statuses.push(app.create_payment_link(&json!({"amount": 100 + i})).await.0);
        }
        statuses
    }
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one run per fault kind against the same receiver, compared side by side"
)]
async fn webhook_faults_duplicate_drop_and_reorder() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = test_config();
    config.providers.razorpay.accounts[0].webhook_url = Some(receiver.url.clone());
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("100ms").unwrap();
    let app = TestApp::spawn_with(config).await;
    let set = json!({"webhooks": [{"provider": "razorpay", "event": "payment_link.cancelled", "duplicate_rate": 1.0, "drop_rate": 1.0}]});
    assert_eq!(
        app.client
            .put(app.url("/__sandbox/faults"))
            .json(&set)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, link) = app.create_payment_link(&json!({"amount": 100})).await;
    app.rzp_json(
        Method::POST,
        &format!("/v1/payment_links/{}/cancel", link["id"].as_str().unwrap()),
        None,
    )
    .await;
    let posts = receiver.wait_posts(2, 5).await;
    assert_eq!(posts[0].body, posts[1].body, "the same event twice");
    assert_eq!(
        posts[0].header("x-razorpay-event-id"),
        posts[1].header("x-razorpay-event-id")
    );
    let (_, d) = app.admin_get("/webhooks?provider=razorpay").await;
    let path = format!("/webhooks/{}", d["deliveries"][0]["id"].as_str().unwrap());
    // The receiver answers the duplicate before the log records that attempt.
    let (kinds, detail) = wait_for("the duplicate attempt in the log", 5, || async {
        let (_, detail) = app.admin_get(&path).await;
        let kinds: Vec<_> = detail["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect();
        (kinds.len() >= 3).then_some((kinds, detail))
    })
    .await;
    assert_eq!(kinds, ["dropped", "delivery", "duplicate"]);
    assert_eq!(detail["status"], "delivered");

    app.admin_post("/reset", &json!({})).await;
    let set = json!({"webhooks": [{"provider": "razorpay", "reorder_window": "400ms"}]});
    app.client
        .put(app.url("/__sandbox/faults"))
        .json(&set)
        .send()
        .await
        .unwrap();
    let receiver2 = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    app.client
        .put(app.url("/__sandbox/razorpay/webhook"))
        .json(&json!({"url": receiver2.url}))
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, l) = app.create_payment_link(&json!({"amount": 100 + i})).await;
        app.rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{}/cancel", l["id"].as_str().unwrap()),
            None,
        )
        .await;
        ids.push(l["id"].as_str().unwrap().to_string());
    }
    let posts = receiver2.wait_posts(12, 5).await;
    let arrived: Vec<_> = posts
        .iter()
        .map(|p| {
            p.json()["payload"]["payment_link"]["entity"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(arrived, ids, "deliveries overtake each other");
    let mut sorted_a = arrived.clone();
    sorted_a.sort();
    let mut sorted_b = ids.clone();
    sorted_b.sort();
    assert_eq!(sorted_a, sorted_b, "nothing is lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_deadline_gets_the_vendors_unavailable_answer() {
    let mut config = test_config();
    config.server.request_timeout = paylink_sandbox::clock::Span(Duration::from_millis(200));
    let app = TestApp::spawn_with(config).await;
    let faults = json!({"requests": [{"provider": "razorpay", "latency": "2s"}]});
    let (status, v) = app.admin_put("/faults", &faults).await;
    assert_eq!(status, 200, "{v}");

    let started = std::time::Instant::now();
    let (status, v) = app.create_payment_link(&json!({"amount": 100})).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "SERVER_ERROR", "{v}");
    assert!(
        took < Duration::from_millis(1500),
        "answered at the deadline, not after the injected latency ({took:?})"
    );
    let (_, j) = app.admin_get("/requests?provider=razorpay").await;
    assert_eq!(j["requests"][0]["status"], 503);
    assert_eq!(
        j["requests"][0]["fault"],
        "latency 2000ms, timed out after 200ms"
    );
    let (_, list) = app.admin_get("/razorpay/payment_links").await;
    assert_eq!(
        list["payment_links"].as_array().map(Vec::len),
        Some(0),
        "the request that timed out created nothing: {list}"
    );

    // Other providers are not held up.
    let (status, v) = app
        .send_message_json(&text_message("16505551234", "hi"))
        .await;
    assert_eq!(status, 200, "{v}");
}
