//! Manual capture: an account that does not auto-capture keeps a successful payment
//! `authorized` (only `payment.authorized` goes out, the link is not paid) until
//! `POST /v1/payments/{id}/capture`, which sends the rest of the events in the documented order.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{RZP_WEBHOOK_SECRET, TestApp};
use crate::razorpay_links::{events, rzp_config, verify_razorpay};
use crate::receiver::{Behaviour, Receiver};

fn manual_capture(webhook: &str) -> paylink_sandbox::config::Config {
    let mut config = rzp_config(Some(webhook));
    config.providers.razorpay.accounts[0].auto_capture = false;
    config
}

/// An authorized payment on a new link of `amount`: (link id, payment id).
async fn authorized(app: &TestApp, amount: i64) -> (String, String) {
    let (_, link) = app
        .create_payment_link(&json!({"amount": amount, "currency": "INR"}))
        .await;
    let id = link["id"].as_str().unwrap().to_string();
    let (code, paid) = app.pay_link(&id, "success").await;
    assert_eq!(code, 200, "{paid}");
    assert_eq!(paid["status"], "authorized", "{paid}");
    (id, paid["payment"].as_str().unwrap().to_string())
}

async fn capture(app: &TestApp, pay: &str, body: &Value) -> (u16, Value) {
    app.rzp_json(
        Method::POST,
        &format!("/v1/payments/{pay}/capture"),
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one payment from authorized to captured to refunded, checked through the API and the receiver"
)]
async fn a_payment_stays_authorized_until_captured_then_the_link_is_paid() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(manual_capture(&receiver.url)).await;
    let (link, pay) = authorized(&app, 5000).await;
    let posts = receiver.wait_posts(1, 5).await;
    assert_eq!(events(&posts), ["payment.authorized"]);
    let (_, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay}"), None)
        .await;
    assert_eq!(
        (payment["status"].as_str(), payment["captured"].as_bool()),
        (Some("authorized"), Some(false))
    );
    assert!(
        payment["fee"].is_null() && payment["error_code"].is_null(),
        "{payment}"
    );
    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{link}"), None)
        .await;
    assert_eq!(
        (fetched["status"].as_str(), fetched["amount_paid"].as_i64()),
        (Some("created"), Some(0))
    );
    let (code, refused) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay}/refund"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        code, 400,
        "an authorized payment cannot be refunded: {refused}"
    );

    let (code, captured) = capture(&app, &pay, &json!({"amount": 5000, "currency": "INR"})).await;
    assert_eq!(code, 200, "{captured}");
    assert_eq!(
        (captured["status"].as_str(), captured["captured"].as_bool()),
        (Some("captured"), Some(true))
    );
    assert_eq!(captured["fee"], 100);
    let posts = receiver.wait_posts(4, 5).await;
    assert_eq!(
        events(&posts),
        [
            "payment.authorized",
            "payment.captured",
            "order.paid",
            "payment_link.paid"
        ]
    );
    for p in &posts {
        let signature = p.header("x-razorpay-signature").unwrap();
        assert!(verify_razorpay(RZP_WEBHOOK_SECRET, &p.body, &signature));
        assert_eq!(
            crate::receiver::webhook_drift(&p.json()),
            Some(Vec::new()),
            "{}",
            p.json()
        );
    }
    let paid = posts[3].json();
    assert_eq!(paid["payload"]["order"]["entity"]["payment_capture"], false);
    assert_eq!(paid["payload"]["payment_link"]["entity"]["status"], "paid");
    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{link}"), None)
        .await;
    assert_eq!(
        (fetched["status"].as_str(), fetched["amount_paid"].as_i64()),
        (Some("paid"), Some(5000))
    );
    assert_eq!(fetched["payments"][0]["status"], "captured");

    let (code, again) = capture(&app, &pay, &json!({"amount": 5000, "currency": "INR"})).await;
    assert_eq!(code, 400);
    assert_eq!(
        again["error"]["description"],
        "This payment has already been captured"
    );
    let (code, _) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay}/refund"),
            Some(&json!({"amount": 1000})),
        )
        .await;
    assert_eq!(code, 200, "a captured payment can be refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_must_name_the_authorized_amount_and_currency_and_changes_nothing_otherwise() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(manual_capture(&receiver.url)).await;
    let (link, pay) = authorized(&app, 5000).await;
    for (body, fields) in [
        (json!({"amount": 4000, "currency": "INR"}), vec!["amount"]),
        (json!({"amount": 5000, "currency": "USD"}), vec!["currency"]),
        (json!({"amount": 5000.0, "currency": "INR"}), vec!["amount"]),
        (json!({"amount": 1e3, "currency": "INR"}), vec!["amount"]),
        (json!({"amount": -5000, "currency": "INR"}), vec!["amount"]),
        (json!({"currency": "INR"}), vec!["amount"]),
        (json!({"amount": 5000}), vec!["currency"]),
        (
            json!({"amount": 5000, "currency": "INR", "extra": 1}),
            vec!["extra"],
        ),
    ] {
        let (code, error) = capture(&app, &pay, &body).await;
        assert_eq!(code, 400, "{body}: {error}");
        let said = error["error"].to_string();
        for field in fields {
            assert!(said.contains(field), "{body}: {said}");
        }
    }
    let (code, _) = capture(
        &app,
        "pay_Missing0000000",
        &json!({"amount": 5000, "currency": "INR"}),
    )
    .await;
    assert_eq!(code, 400);
    let (_, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay}"), None)
        .await;
    assert_eq!(payment["status"], "authorized");
    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{link}"), None)
        .await;
    assert_eq!(fetched["amount_paid"], 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(events(&receiver.posts()), ["payment.authorized"]);

    let body = json!({"amount": 5000, "currency": "INR"});
    let attempts: Vec<_> = (0..8).map(|_| capture(&app, &pay, &body)).collect();
    let codes: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    let posts = receiver.wait_posts(4, 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.posts().len(),
        posts.len(),
        "one capture, one set of events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_capture_is_the_default_and_a_failed_payment_cannot_be_captured() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let (_, link) = app
        .create_payment_link(&json!({"amount": 3000, "currency": "INR"}))
        .await;
    let id = link["id"].as_str().unwrap();
    let (_, failed) = app.pay_link(id, "failure").await;
    let failed_id = failed["payment"].as_str().unwrap();
    let (code, error) = capture(&app, failed_id, &json!({"amount": 3000, "currency": "INR"})).await;
    assert_eq!(code, 400, "{error}");
    let (_, paid) = app.pay_link(id, "success").await;
    assert_eq!(paid["status"], "captured");
    let (code, _) = capture(
        &app,
        paid["payment"].as_str().unwrap(),
        &json!({"amount": 3000, "currency": "INR"}),
    )
    .await;
    assert_eq!(code, 400, "already captured");
}
