//! `POST /__sandbox/trigger`: every listed event fires end to end, through the public API, and
//! its webhooks are the real, signed ones.

use serde_json::{Value, json};

use crate::helpers::{TestApp, hmac_sha256_hex, test_config};
use crate::receiver::{Behaviour, Receiver};

async fn fire(app: &TestApp, body: Value) -> Value {
    let (code, v) = app.admin_post("/trigger", &body).await;
    assert_eq!(code, 200, "{body} -> {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "every trigger of every provider in one sandbox, each checked at its receiver"
)]
async fn every_listed_trigger_fires_its_webhooks() {
    let gateway = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let chat = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = test_config();
    config.clock.fast = true;
    config.providers.razorpay.accounts[0].webhook_url = Some(gateway.url.clone());
    config.providers.whatsapp.callback_url = Some(chat.url.clone());
    let app = TestApp::spawn_with(config).await;

    let (_, list) = app.admin_get("/trigger").await;
    let listed: Vec<(String, String)> = list["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["provider"].as_str().unwrap().into(),
                t["event"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 8, "{list}");

    let expected_gateway = [
        ("payment_link.paid", "payment_link.paid"),
        ("payment_link.partially_paid", "payment_link.partially_paid"),
        ("payment.failed", "payment.failed"),
        ("payment_link.cancelled", "payment_link.cancelled"),
    ];
    for (trigger, event) in expected_gateway {
        let did = fire(&app, json!({"provider": "razorpay", "event": trigger})).await;
        let link = did["did"]["payment_link"].as_str().unwrap().to_string();
        let (code, found) = app
            .admin_get(&format!("/webhooks?event={event}&status=delivered&wait=5s"))
            .await;
        assert_eq!(code, 200, "{trigger}: {found}");
        let body = &found["deliveries"][0];
        assert_eq!(body["provider"], "razorpay");
        assert!(
            link.starts_with("plink_"),
            "{trigger} created a link through the API: {did}"
        );
    }
    for post in gateway.posts() {
        let signature = post.header("x-razorpay-signature").unwrap();
        assert_eq!(
            signature,
            hmac_sha256_hex(b"paylink-sandbox-webhook-secret", &[&post.body])
        );
    }

    fire(
        &app,
        json!({"provider": "whatsapp", "event": "inbound-text", "from": "919812345678", "text": "hello there"}),
    )
    .await;
    fire(
        &app,
        json!({"provider": "whatsapp", "event": "payment", "reference": "TRIG-1"}),
    )
    .await;
    let (code, paid) = app
        .admin_get("/webhooks?provider=whatsapp&event=payment.captured&status=delivered&wait=5s")
        .await;
    assert_eq!(code, 200, "{paid}");
    let inbound = chat.posts().into_iter().map(|p| p.json()).find(|b| {
        b["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "hello there"
    });
    assert!(inbound.is_some(), "the inbound text reached the receiver");
    let (code, order) = app.admin_get("/whatsapp/orders/TRIG-1").await;
    assert_eq!(
        code, 200,
        "the payment trigger sent the order first: {order}"
    );

    let did = fire(
        &app,
        json!({"provider": "qonto", "event": "payment_link.paid", "amount": 1234}),
    )
    .await;
    let id = did["did"]["payment_link"].as_str().unwrap();
    let (_, links) = app.admin_get("/qonto/payment_links").await;
    let link = links["payment_links"]
        .as_array()
        .or_else(|| links.as_array())
        .into_iter()
        .flatten()
        .find(|l| l["id"] == id || l["link"]["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} in {links}"));
    assert!(link.to_string().contains("12.34"), "{link}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_trigger_names_what_there_is() {
    let app = TestApp::spawn().await;
    let (code, v) = app
        .admin_post(
            "/trigger",
            &json!({"provider": "razorpay", "event": "nope"}),
        )
        .await;
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("payment_link.paid")
    );
    let (code, v) = app
        .admin_post("/trigger", &json!({"provider": "stripe", "event": "x"}))
        .await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = app
        .admin_post("/trigger", &json!({"provider": "razorpay", "event": "payment_link.paid", "tenant": "rzp_test_nobody"}))
        .await;
    assert_eq!(code, 404, "{v}");
}
