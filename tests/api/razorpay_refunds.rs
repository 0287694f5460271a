//! Refunds, the other half of a payment flow: partial and full refunds through the API with their
//! signed webhooks, the payment's refunded state, lookups, errors, and a refund the bank refuses.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::razorpay_links::{rzp_config, verify_razorpay};
use crate::receiver::{Behaviour, Receiver};

const WEBHOOK_SECRET: &str = "paylink-sandbox-webhook-secret";

/// Every body matches the gateway's documented shape, and the check is not vacuous.
fn shapes_hold(posts: &[crate::receiver::Received], created: Value) {
    for p in posts {
        let body = p.json();
        assert_eq!(
            crate::receiver::webhook_drift(&body),
            Some(Vec::new()),
            "{body}"
        );
    }
    let mut drifted = created.clone();
    drifted["payload"]["refund"]["entity"]["colour"] = json!("red");
    let mut wrong_type = created;
    wrong_type["payload"]["payment"]["entity"]["amount"] = json!("5000");
    for body in [drifted, wrong_type] {
        assert!(
            !crate::receiver::webhook_drift(&body).unwrap().is_empty(),
            "{body}"
        );
    }
}

async fn paid_payment(app: &TestApp, amount: i64) -> String {
    let (_, link) = app
        .create_payment_link(&json!({"amount": amount, "currency": "INR"}))
        .await;
    let id = link["id"].as_str().unwrap();
    let (code, paid) = app.pay_link(id, "success").await;
    assert_eq!(code, 200, "{paid}");
    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{id}"), None)
        .await;
    fetched["payments"][0]["payment_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn events(receiver: &Receiver) -> Vec<String> {
    receiver
        .posts()
        .iter()
        .map(|p| p.json()["event"].as_str().unwrap().to_string())
        .filter(|e| e.starts_with("refund."))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one payment refunded in two steps, checked through the API, the dashboard and the receiver"
)]
async fn partial_then_full_refunds_move_the_payment_and_send_signed_webhooks() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let pay_id = paid_payment(&app, 5000).await;

    let (code, first) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay_id}/refund"),
            Some(&json!({"amount": 2000, "speed": "optimum", "receipt": "R-1", "notes": {"why": "damaged"}})),
        )
        .await;
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["entity"], "refund");
    assert_eq!(first["status"], "processed");
    assert_eq!(first["amount"], 2000);
    assert!(first["id"].as_str().unwrap().starts_with("rfnd_"));
    let (_, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay_id}"), None)
        .await;
    assert_eq!(payment["amount_refunded"], 2000);
    assert_eq!(payment["refund_status"], "partial");
    assert_eq!(payment["status"], "captured");

    let (code, over) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay_id}/refund"),
            Some(&json!({"amount": 3001})),
        )
        .await;
    assert_eq!(code, 400, "{over}");
    assert_eq!(over["error"]["field"], "amount");

    let (code, rest) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay_id}/refund"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(code, 200, "{rest}");
    assert_eq!(rest["amount"], 3000, "all that was left");
    let (_, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay_id}"), None)
        .await;
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refund_status"], "full");

    let (_, panels) = app.admin_get("/dashboard/links").await;
    assert!(
        panels.to_string().contains("(refunded ₹50.00)"),
        "the dashboard's links page shows the refund: {panels}"
    );
    let (_, list) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay_id}/refunds"), None)
        .await;
    assert_eq!(list["count"], 2);
    let (code, one) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/refunds/{}", first["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(code, 200, "{one}");
    assert_eq!(one["receipt"], "R-1");

    receiver.wait_posts(8, 5).await;
    assert_eq!(
        events(&receiver),
        [
            "refund.created",
            "refund.processed",
            "refund.created",
            "refund.processed"
        ]
    );
    for p in receiver.posts() {
        let sig = p.header("x-razorpay-signature").unwrap();
        assert!(verify_razorpay(WEBHOOK_SECRET, &p.body, &sig));
    }
    let created = receiver
        .posts()
        .into_iter()
        .map(|p| p.json())
        .find(|v| v["event"] == "refund.created")
        .unwrap();
    assert_eq!(created["contains"], json!(["refund", "payment"]));

    shapes_hold(&receiver.posts(), created.clone());
    assert_eq!(created["payload"]["refund"]["entity"]["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_the_bank_refuses_refunds_nothing() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let pay_id = paid_payment(&app, 1000).await;
    let (code, refused) = app
        .admin_post(
            &format!("/razorpay/payments/{pay_id}/refund"),
            &json!({"outcome": "failure"}),
        )
        .await;
    assert_eq!(code, 200, "{refused}");
    assert_eq!(refused["status"], "failed");
    let (_, payment): (u16, Value) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay_id}"), None)
        .await;
    assert_eq!(payment["amount_refunded"], 0);
    receiver.wait_posts(6, 5).await;
    assert_eq!(events(&receiver), ["refund.created", "refund.failed"]);

    let (code, missing) = app
        .rzp_json(
            Method::POST,
            "/v1/payments/pay_AAAAAAAAAAAAAA/refund",
            Some(&json!({})),
        )
        .await;
    assert_eq!(code, 400, "{missing}");
    assert_eq!(
        missing["error"]["description"],
        "The id provided does not exist"
    );
    let (code, bad) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payments/{pay_id}/refund"),
            Some(&json!({"amount": 10.5, "speed": "warp"})),
        )
        .await;
    assert_eq!(code, 400, "{bad}");
    let text = bad["error"]["description"].as_str().unwrap();
    assert!(
        text.contains("/amount") && text.contains("/speed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refunds_never_refund_more_than_was_paid() {
    let app = TestApp::spawn().await;
    let pay_id = paid_payment(&app, 1000).await;
    let path = format!("/v1/payments/{pay_id}/refund");
    let body = json!({"amount": 100});
    let tries = (0..20).map(|_| app.rzp_json(Method::POST, &path, Some(&body)));
    let answers = futures_util::future::join_all(tries).await;
    let done = answers.iter().filter(|(code, _)| *code == 200).count();
    assert_eq!(done, 10, "ten refunds of 100 fit in 1000: {answers:?}");
    assert!(answers.iter().all(|(code, _)| *code == 200 || *code == 400));
    let (_, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{pay_id}"), None)
        .await;
    assert_eq!(payment["amount_refunded"], 1000);
    assert_eq!(payment["status"], "refunded");

    for amount in [
        json!(100.0),
        json!(1e3),
        json!(99_999_999_999_999_i64),
        json!(-100),
    ] {
        let other = paid_payment(&app, 1000).await;
        let (code, v) = app
            .rzp_json(
                Method::POST,
                &format!("/v1/payments/{other}/refund"),
                Some(&json!({"amount": amount})),
            )
            .await;
        assert_eq!(code, 400, "{amount}: {v}");
        assert_eq!(v["error"]["field"], "amount", "{amount}: {v}");
        let (_, p) = app
            .rzp_json(Method::GET, &format!("/v1/payments/{other}"), None)
            .await;
        assert_eq!(p["amount_refunded"], 0, "nothing refunded for {amount}");
    }
}
