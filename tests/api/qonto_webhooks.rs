//! Qonto's webhook delivery as Qonto runs it: a receiver gets 1 second, and the signature
//! timestamp is wall-clock time, so receivers that enforce the 5-minute freshness rule accept it
//! even after the sandbox clock was advanced.

use std::time::Duration;

use crate::helpers::TestApp;
use crate::qonto_links::{basket, frozen, qonto_signature_ok, subscribe, wall_clock_secs};
use crate::receiver::{Behaviour, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_one_second_is_failed_and_retried() {
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(1500))).await;
    let mut config = frozen();
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("0").unwrap();
    // The global timeout is generous; Qonto's own 1 s applies to its receivers.
    config.webhooks.timeout = paylink_sandbox::clock::Span(Duration::from_secs(10));
    let app = TestApp::spawn_with(config).await;
    subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    let (code, _) = app
        .create_qonto_link(&basket(&["credit_card"], false))
        .await;
    assert_eq!(code, 201);
    let (code, failed) = app
        .admin_get("/webhooks?provider=qonto&status=failed&wait=10s")
        .await;
    assert_eq!(code, 200, "{failed}");
    let id = failed["deliveries"][0]["id"].as_str().unwrap();
    let (_, detail) = app.admin_get(&format!("/webhooks/{id}")).await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "the first try and one retry: {detail}");
    for a in attempts {
        assert_eq!(a["error"], "timed out waiting for the receiver", "{a}");
        let ms = a["latency_ms"].as_u64().unwrap();
        assert!(
            (900..1450).contains(&ms),
            "cut off after about 1 s: {ms} ms"
        );
    }
    assert_eq!(
        receiver.posts().len(),
        2,
        "the receiver saw (and may have processed) both, as it would at Qonto"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signature_timestamp_is_wall_clock_time_after_an_advance() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(frozen()).await;
    let sub = subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    app.advance("3h").await;
    app.create_qonto_link(&basket(&["credit_card"], false))
        .await;
    let posts = receiver.wait_posts(1, 5).await;
    let header = posts[0].header("x-qonto-signature").unwrap();
    assert!(
        qonto_signature_ok(
            sub["secret"].as_str().unwrap(),
            &posts[0].body,
            &header,
            wall_clock_secs()
        ),
        "fresh by the receiver's clock: {header}"
    );
    let body = posts[0].json();
    assert_eq!(
        crate::receiver::webhook_drift(&body),
        Some(Vec::new()),
        "{body}"
    );
    let mut drifted = body;
    drifted["data"]["amount"]["value"] = serde_json::json!(25);
    assert!(
        !crate::receiver::webhook_drift(&drifted).unwrap().is_empty(),
        "an amount as a number is caught"
    );
}
