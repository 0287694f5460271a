//! Customers paying WhatsApp orders: the gateway's payment status webhook and the payment
//! lookup for India orders, and the inbound messages of one-click card pay and button replies.

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one order through failed and captured attempts, each checked against the lookup"
)]
async fn paying_an_india_gateway_order_sends_the_payment_status_and_feeds_the_lookup() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    whatsapp_sequence(&mut config).statuses = vec![];
    let app = TestApp::spawn_with(config).await;
    let mut order = fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("PAY-1");
    let (_, sent) = app.send_message_json(&order).await;
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    let lookup_url = app.url(&format!(
        "/whatsapp/v23.0/{PHONE_ID}/payments/razorpay-sandbox/PAY-1"
    ));
    let lookup = || async {
        app.client
            .get(&lookup_url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = lookup().await;
    assert_eq!(before["payments"][0]["status"], "pending");
    assert!(
        before["payments"][0].get("transactions").is_none(),
        "no attempt yet: {before}"
    );

    let (code, v) = app
        .admin_post("/whatsapp/orders/PAY-1/pay", &json!({"outcome": "failed", "method": "card", "error": {"code": "BAD_REQUEST_ERROR", "reason": "card_declined"}}))
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = app
        .admin_post(
            "/whatsapp/orders/PAY-1/pay",
            &json!({"outcome": "captured", "method": "upi"}),
        )
        .await;
    assert_eq!(code, 200);
    let posts = receiver.wait_posts(2, 5).await;
    let first = &posts[0].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(first["type"], "payment");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["id"], wamid.as_str());
    assert_eq!(first["payment"]["transaction"]["status"], "failed");
    assert_eq!(
        first["payment"]["transaction"]["error"]["reason"],
        "card_declined"
    );
    let second = &posts[1].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(second["status"], "captured");
    let payment = &second["payment"];
    assert_eq!(payment["reference_id"], "PAY-1");
    assert_eq!(payment["amount"], json!({"value": 49750, "offset": 100}));
    assert_eq!(payment["currency"], "INR");
    assert_eq!(payment["transaction"]["type"], "razorpay");
    assert_eq!(payment["transaction"]["status"], "success");
    assert_eq!(payment["transaction"]["method"], json!({"type": "upi"}));
    assert!(
        payment["transaction"]["id"]
            .as_str()
            .unwrap()
            .starts_with("order_")
    );
    assert!(
        payment["transaction"]["pg_transaction_id"]
            .as_str()
            .unwrap()
            .starts_with("pay_")
    );
    assert_eq!(payment["receipt"], "receipt-1001");
    assert_eq!(payment["notes"]["channel"], "whatsapp");

    let after = lookup().await;
    assert_eq!(after["payments"][0]["status"], "captured");
    let txs = after["payments"][0]["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[1]["status"], "success");
    assert_eq!(
        txs[1]["pg_transaction_id"],
        payment["transaction"]["pg_transaction_id"]
    );

    let (code, v) = app.pay_link("PAY-1", "success").await;
    assert_eq!(code, 409, "{v}");
    let cancel = json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "interactive",
        "interactive": {"type": "order_status", "body": {"text": "Canceled"},
        "action": {"name": "review_order", "parameters": {"reference_id": "PAY-1", "order": {"status": "canceled"}}}}});
    app.send_message_json(&cancel).await;
    let posts = receiver.wait_posts(3, 5).await;
    let refused = &posts[2].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(refused["errors"][0]["code"], 2047);

    let r = app
        .client
        .get(app.url(&format!(
            "/whatsapp/v23.0/{PHONE_ID}/payments/other-config/PAY-1"
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_send_payment_arrives_as_an_inbound_payment_method_message() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    whatsapp_sequence(&mut config).statuses = vec![];
    let app = TestApp::spawn_with(config).await;
    app.send_message_json(&fixture(
        "whatsapp/valid/order_details-br-offsite_card_pay.json",
    ))
    .await;
    let (code, v) = app
        .admin_post("/whatsapp/orders/BR-CARD-2004/pay", &json!({}))
        .await;
    assert_eq!(code, 200, "{v}");
    let posts = receiver.wait_posts(1, 5).await;
    let value = &posts[0].json()["entry"][0]["changes"][0]["value"];
    let m = &value["messages"][0];
    assert_eq!(m["type"], "interactive");
    assert_eq!(m["from"], "5511912345678");
    assert_eq!(m["id"], v["message_id"]);
    let pm = &m["interactive"]["payment_method"];
    assert_eq!(m["interactive"]["type"], "payment_method");
    assert_eq!(pm["payment_method"], "offsite_card_pay");
    assert_eq!(pm["reference_id"], "BR-CARD-2004");
    assert_eq!(pm["last_four_digits"], "5235");
    assert_eq!(pm["credential_id"], "1234567");
    assert!(pm["payment_timestamp"].is_i64());
    assert_eq!(value["contacts"][0]["wa_id"], "5511912345678");

    app.send_message_json(&fixture(
        "whatsapp/valid/order_details-br-pix_dynamic_code.json",
    ))
    .await;
    let (code, v) = app.pay_link("BR-PIX-2001", "success").await;
    assert_eq!(code, 409, "WhatsApp does not report Pix payments: {v}");
    let (code, _) = app.pay_link("NOPE", "success").await;
    assert_eq!(code, 404);
    let (code, _) = app
        .admin_post(
            "/whatsapp/orders/BR-CARD-2004/pay",
            &json!({"outcome": "maybe"}),
        )
        .await;
    assert_eq!(code, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_reply_carries_the_context_of_the_business_message() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    whatsapp_sequence(&mut config).statuses = vec![];
    let app = TestApp::spawn_with(config).await;
    let (_, sent) = app
        .send_message_json(&fixture("whatsapp/valid/interactive-button.json"))
        .await;
    let wamid = sent["messages"][0]["id"].as_str().unwrap();
    let (code, v) = app
        .admin_post(
            "/whatsapp/users/16505551234/messages",
            &json!({"button_reply": {"id": "slot-am", "title": "Morning"}, "context": wamid}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let posts = receiver.wait_posts(1, 5).await;
    let m = &posts[0].json()["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(m["context"], json!({"from": "15550783881", "id": wamid}));
    assert_eq!(
        m["interactive"],
        json!({"type": "button_reply", "button_reply": {"id": "slot-am", "title": "Morning"}})
    );
    let keys: Vec<_> = m.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..4], ["context", "from", "id", "timestamp"]);

    let read =
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": v["message_id"]});
    let (code, ok) = app.send_message_json(&read).await;
    assert_eq!(code, 200);
    assert_eq!(ok, json!({"success": true}));
    let (code, _) = app
        .admin_post("/whatsapp/users/not-digits/messages", &json!({"text": "x"}))
        .await;
    assert_eq!(code, 400);
    let (code, _) = app
        .admin_post(
            "/whatsapp/users/1555/messages",
            &json!({"text": "x", "list_reply": {}}),
        )
        .await;
    assert_eq!(code, 400);
}
