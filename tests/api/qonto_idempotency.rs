//! Qonto's `X-Qonto-Idempotency-Key`: a replayed answer for thirty minutes, a reused key with
//! another body refused (or replayed when configured), and one link for concurrent requests.

use crate::helpers::*;
use crate::qonto_links::{frozen, invoice};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer_for_thirty_minutes() {
    let app = TestApp::spawn_with(frozen()).await;
    let post = |body: Value| {
        app.qonto(Method::POST, "/v2/payment_links")
            .header(
                "x-qonto-idempotency-key",
                "2b2b7f4e-0f5e-4b7a-9a53-7c4a6f0c6d11",
            )
            .json(&body)
            .send()
    };
    let first: Value = post(invoice("INV-A")).await.unwrap().json().await.unwrap();
    let r = post(invoice("INV-A")).await.unwrap();
    assert_eq!(r.status(), 201);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        first, second,
        "the same request gets the first answer again"
    );
    let r = post(invoice("INV-B")).await.unwrap();
    assert_eq!(r.status(), 422, "a key reused with another body is refused");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "idempotency_key_reused");
    assert_eq!(
        v["errors"][0]["source"]["parameter"],
        "X-Qonto-Idempotency-Key"
    );
    let (_, list) = app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    assert_eq!(list["meta"]["total_count"], 1);
    app.advance("31m").await;
    let third: Value = post(invoice("INV-C")).await.unwrap().json().await.unwrap();
    assert_ne!(third["payment_link"]["id"], first["payment_link"]["id"]);
    let r = app
        .qonto(Method::POST, "/v2/payment_links")
        .header("x-qonto-idempotency-key", "k2")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "failures are not cached");
    let r = app
        .qonto(Method::POST, "/v2/payment_links")
        .header("x-qonto-idempotency-key", "k2")
        .json(&invoice("INV-D"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .qonto(Method::POST, "/v2/webhook_subscriptions")
        .header("x-qonto-idempotency-key", "k2")
        .json(&json!({"callback_url": "https://hooks.example/q", "types": ["v1/payment-links"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a key is scoped to its route");
    let v: Value = r.json().await.unwrap();
    assert!(
        v.get("payment_link").is_none() && v["callback_url"].is_string(),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_can_replay_whatever_the_body_as_qonto_documents() {
    let mut config = frozen();
    config.providers.qonto.idempotency_reuse =
        paylink_sandbox::providers::qonto::config::IdempotencyReuse::Replay;
    let app = TestApp::spawn_with(config).await;
    let post = |body: Value| {
        app.qonto(Method::POST, "/v2/payment_links")
            .header("x-qonto-idempotency-key", "k")
            .json(&body)
            .send()
    };
    let first: Value = post(invoice("INV-A")).await.unwrap().json().await.unwrap();
    let r = post(invoice("INV-B")).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(first, r.json::<Value>().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_make_one_link() {
    let app = TestApp::spawn_with(frozen()).await;
    for k in 0..20 {
        let key = format!("concurrent-{k}");
        let requests = (0..25).map(|_| {
            app.qonto(Method::POST, "/v2/payment_links")
                .header("x-qonto-idempotency-key", &key)
                .json(&invoice(&format!("INV-{k}")))
                .send()
        });
        let answers = futures_util::future::join_all(requests).await;
        let mut ids = std::collections::BTreeSet::new();
        for r in answers {
            let r = r.unwrap();
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            ids.insert(v["payment_link"]["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1, "key {key}: {ids:?}");
    }
    let (_, list) = app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    assert_eq!(list["meta"]["total_count"], 20);
}
