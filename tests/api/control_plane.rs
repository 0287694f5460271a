//! The control plane a test suite leans on: the request journal, reset and tenant isolation.

use std::{collections::HashMap, sync::Arc};

use crate::helpers::*;
use crate::receiver::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_records_every_provider_request_without_secrets() {
    let app = TestApp::spawn().await;
    app.send_message_json(&text_message("16505551234", "hello"))
        .await;
    app.send_message_json(
        &json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {}}),
    )
    .await;
    app.client
        .post(app.url(&format!(
            "/whatsapp/v23.0/{PHONE_ID}/messages?access_token={TOKEN}&x=1"
        )))
        .json(&text_message("16505551234", "q"))
        .send()
        .await
        .unwrap();
    app.create_payment_link(&json!({"amount": 100})).await;
    app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    app.admin_get("/health").await;

    let (status, all) = app.admin_get("/requests").await;
    assert_eq!(status, 200);
    let all = all["requests"].as_array().unwrap().clone();
    assert_eq!(all.len(), 5, "admin calls are not journaled: {all:#?}");
    let first = &all[0];
    assert_eq!(first["provider"], "whatsapp");
    assert_eq!(first["tenant"], PHONE_ID);
    assert_eq!(first["method"], "POST");
    assert_eq!(
        first["path"],
        format!("/whatsapp/v23.0/{PHONE_ID}/messages")
    );
    assert_eq!(first["body"]["text"]["body"], "hello");
    assert_eq!(first["status"], 200);
    assert_eq!(first["outcome"], "accepted");
    assert!(first["response"]["messages"][0]["id"].is_string());
    let auth = first["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "authorization")
        .unwrap();
    assert_eq!(auth[1], "[redacted]");
    assert!(
        !serde_json::to_string(&all).unwrap().contains(TOKEN),
        "no token anywhere in the journal"
    );
    assert_eq!(all[2]["query"], "access_token=[redacted]&x=1");

    let rejected = &all[1];
    assert_eq!(rejected["outcome"], "rejected");
    assert_eq!(rejected["error"]["code"], 131008);
    assert!(
        rejected["error"]["details"]
            .as_str()
            .unwrap()
            .contains("/text/body")
    );

    let (_, v) = app.admin_get("/requests?provider=razorpay").await;
    assert_eq!(v["requests"][0]["tenant"], RZP_KEY);
    let (_, v) = app.admin_get("/requests?status=4xx").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    let (_, v) = app.admin_get("/requests?path=/qonto/*").await;
    assert_eq!(v["requests"][0]["tenant"], "paylink-sandbox-org-7132");
    let t = all[3]["at"].as_i64().unwrap();
    let (_, v) = app.admin_get(&format!("/requests?since={t}")).await;
    assert!(v["requests"].as_array().unwrap().len() >= 2);
    let (status, _) = app.admin_get("/requests?status=abc").await;
    assert_eq!(status, 400);

    let r = app
        .client
        .delete(app.url("/__sandbox/requests?provider=whatsapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["deleted"], 3);
    let (_, v) = app.admin_get("/requests").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_bounded_by_the_history_limit() {
    let mut config = test_config();
    config.server.history_limit = 5;
    let app = TestApp::spawn_with(config).await;
    for i in 0..12 {
        app.send_message_json(&text_message("16505551234", &format!("m{i}")))
            .await;
    }
    let (_, v) = app.admin_get("/requests").await;
    let bodies: Vec<_> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["text"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["m7", "m8", "m9", "m10", "m11"]);
    assert_eq!(
        app.admin_messages().await.len(),
        5,
        "the message history is bounded too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_returns_everything_or_one_provider_to_the_start() {
    let mut config = test_config();
    config.clock.frozen = true;
    let app = TestApp::spawn_with(config).await;
    let (_, first) = app
        .send_message_json(&text_message("16505551234", "x"))
        .await;
    app.create_payment_link(&json!({"amount": 100})).await;
    app.create_qonto_link(&json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001",
        "invoice_number": "I-1", "debitor_name": "D", "amount": {"value": "1.00", "currency": "EUR"}, "potential_payment_methods": ["credit_card"]}})).await;
    app.advance("1h").await;
    app.client
        .put(app.url("/__sandbox/scenario"))
        .json(&json!({"rules": [{"provider": "whatsapp", "then": {"statuses": ["sent"]}}]}))
        .send()
        .await
        .unwrap();

    let (status, _) = app.admin_post("/reset?provider=razorpay", &json!({})).await;
    assert_eq!(status, 200);
    let (_, links) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(links["payment_links"], json!([]));
    assert_eq!(
        app.admin_messages().await.len(),
        1,
        "other providers keep their state"
    );
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["offset_ms"], 3_600_000);

    let (status, _) = app.admin_post("/reset", &json!({})).await;
    assert_eq!(status, 200);
    let (_, journal) = app.admin_get("/requests").await;
    assert_eq!(journal["requests"], json!([]));
    assert!(app.admin_messages().await.is_empty());
    let (_, again) = app
        .send_message_json(&text_message("16505551234", "x"))
        .await;
    assert_eq!(
        again["messages"][0]["id"], first["messages"][0]["id"],
        "the id stream restarts from the seed"
    );
    let (_, q) = app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    assert_eq!(q["meta"]["total_count"], 0);
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["offset_ms"], 0);
    let (_, scenario) = app.admin_get("/scenario").await;
    assert_eq!(scenario["rules"], json!([]));
    let (status, _) = app.admin_post("/reset?provider=fax", &json!({})).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one story: two tenants act in turn on all three APIs, and each step checks the other sees nothing"
)]
async fn parallel_tenants_never_see_each_other() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    config.server.accept_any_credentials = true;
    let app = Arc::new(TestApp::spawn_with(config).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let phone = format!("5000000000{i:02}");
            let token = format!("EAATenantToken{i}");
            let key = format!("rzp_test_Tenant{i:02}");
            let bearer = format!("tenant-token-{i}");
            // WhatsApp: the same reference id in every tenant; uniqueness is per business.
            let mut order = fixture("whatsapp/valid/order_details-in-payment_link.json");
            order["interactive"]["action"]["parameters"]["reference_id"] = json!("SAME-REF");
            let r = app.client.post(app.url(&format!("/whatsapp/v23.0/{phone}/messages"))).bearer_auth(&token).json(&order).send().await.unwrap();
            assert_eq!(r.status(), 200, "tenant {i}");
            let r = app.client.post(app.url("/razorpay/v1/payment_links")).basic_auth(&key, Some("secret")).json(&json!({"amount": 1000 + i, "reference_id": "SAME-REF"})).send().await.unwrap();
            assert_eq!(r.status(), 200, "tenant {i}");
            let r = app.client.post(app.url("/qonto/v2/payment_links")).bearer_auth(&bearer)
                .json(&json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001", "invoice_number": format!("INV-{i}"),
                    "debitor_name": "D", "amount": {"value": "5.00", "currency": "EUR"}, "potential_payment_methods": ["credit_card"]}}))
                .send().await.unwrap();
            assert_eq!(r.status(), 201, "tenant {i}");

            let links: Value = app.client.get(app.url("/razorpay/v1/payment_links")).basic_auth(&key, Some("secret")).send().await.unwrap().json().await.unwrap();
            assert_eq!(links["payment_links"].as_array().unwrap().len(), 1, "tenant {i} sees only its link");
            assert_eq!(links["payment_links"][0]["amount"], 1000 + i);
            let q: Value = app.client.get(app.url("/qonto/v2/payment_links")).bearer_auth(&bearer).send().await.unwrap().json().await.unwrap();
            assert_eq!(q["meta"]["total_count"], 1);
            assert_eq!(q["payment_links"][0]["invoice_number"], format!("INV-{i}"));
            let (_, m) = app.admin_get(&format!("/whatsapp/messages?phone_number_id={phone}")).await;
            assert_eq!(m["messages"].as_array().unwrap().len(), 1);
            let (_, j) = app.admin_get(&format!("/requests?tenant={key}")).await;
            assert_eq!(j["requests"].as_array().unwrap().len(), 2, "the journal splits by tenant");
            phone
        }));
    }
    let mut phones = Vec::new();
    for t in tasks {
        phones.push(t.await.unwrap());
    }
    // Every tenant's statuses reach the receiver, each tagged with its own phone number id.
    let posts = receiver.wait_posts(36, 10).await;
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    for p in &posts {
        let phone = p.json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
            .as_str()
            .unwrap()
            .to_string();
        *per_phone.entry(phone).or_default() += 1;
    }
    for phone in &phones {
        assert_eq!(per_phone.get(phone), Some(&3), "{phone}");
        let (_, d) = app.admin_get(&format!("/webhooks?tenant={phone}")).await;
        assert_eq!(d["deliveries"].as_array().unwrap().len(), 3);
    }
    // Known credentials are never taken over.
    let r = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .basic_auth("rzp_test_Tenant03", Some("other-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{}/messages", phones[0])))
        .bearer_auth("EAAIntruder")
        .json(&text_message("1650555", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "an unknown token on a known phone number is refused, not given a tenant"
    );
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{}/messages", phones[0])))
        .bearer_auth("EAATenantToken1")
        .json(&text_message("1650555", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "another tenant's token sees no such phone number"
    );
    // Resetting one tenant leaves the others.
    let (status, _) = app
        .admin_post(
            "/reset?provider=razorpay&tenant=rzp_test_Tenant05",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, all) = app.admin_get("/razorpay/payment_links").await;
    assert_eq!(all["payment_links"].as_array().unwrap().len(), 11);
}
