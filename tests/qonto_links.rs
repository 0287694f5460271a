//! Qonto's payment-link routes over HTTP: auth, connections, links, checkout, payments,
//! subscriptions, pagination, idempotency and signed webhooks.

mod common;

use common::receiver::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn basket(methods: &[&str], reusable: bool) -> Value {
    json!({"payment_link": {"potential_payment_methods": methods, "reusable": reusable,
    "items": [
        {"title": "Consulting", "quantity": 1, "unit_price": {"value": "10.99", "currency": "EUR"},
         "vat_rate": "21.0", "type": "service", "description": "One hour", "measure_unit": "hour"},
        {"title": "Stickers", "quantity": 3, "unit_price": {"value": "2.50", "currency": "EUR"}, "vat_rate": "5.5"}
    ]}})
}

fn invoice(number: &str) -> Value {
    json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001", "invoice_number": number,
        "debitor_name": "John Doe", "amount": {"value": "13.30", "currency": "EUR"},
        "potential_payment_methods": ["credit_card", "apple_pay"]}})
}

/// Qonto's documented check: split on ',', then '='; v1 = HMAC(secret, "<t>.<raw body>").
fn qonto_signature_ok(secret: &str, body: &[u8], header: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let expected = paylink_sandbox::webhook::sign::hmac_sha256_hex(
        secret.as_bytes(),
        &[t.to_string().as_bytes(), b".", body],
    );
    expected == v1 && (now - t).abs() <= 300
}

async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> Value {
    let (status, sub) = app
        .qonto_json(
            Method::POST,
            "/v2/webhook_subscriptions",
            Some(&json!({"callback_url": url, "types": types, "description": "test"})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    sub
}

fn frozen() -> paylink_sandbox::config::Config {
    let mut config = test_config();
    config.clock.frozen = true;
    config.clock.start = Some("2026-05-04T10:00:00Z".into());
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("50ms,50ms").unwrap();
    config
}

#[tokio::test]
async fn credentials_and_scopes_are_checked_in_qontos_envelope() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/qonto/v2/payment_links"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let trace = r.headers()["x-tyk-trace-id"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "unauthorized");
    assert_eq!(
        v["trace_id"],
        trace.as_str(),
        "trace_id equals X-Tyk-Trace-Id"
    );
    assert_eq!(trace.len(), 32);
    let r = app
        .client
        .get(app.url("/qonto/v2/payment_links"))
        .header("authorization", "paylink-sandbox-org-7132:wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let read = |m: Method, p: &str| {
        app.client
            .request(m, app.url(&format!("/qonto{p}")))
            .bearer_auth(QONTO_READONLY)
    };
    assert_eq!(
        read(Method::GET, "/v2/payment_links")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = read(Method::POST, "/v2/payment_links")
        .json(&basket(&["credit_card"], false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["errors"][0]["detail"],
        "missing required oauth scope: payment_link.write"
    );
    let r = read(Method::GET, "/v2/webhook_subscriptions")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .get(app.url("/qonto/v2/payment_links"))
        .bearer_auth(QONTO_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, v) = app.qonto_json(Method::GET, "/v2/nothing", None).await;
    assert_eq!(status, 404);
    assert_eq!(v["errors"][0]["code"], "not_found");
}

#[tokio::test]
async fn basket_and_invoice_links_are_created_with_exact_amounts() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["credit_card", "paypal"], true)),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let link = &v["payment_link"];
    // 10.99 × 1.21 + 3 × 2.50 × 1.055 = 13.2979 + 7.9125 = 21.2104 → 21.21
    assert_eq!(link["amount"], json!({"value": "21.21", "currency": "EUR"}));
    assert_eq!(link["status"], "open");
    assert_eq!(link["resource_type"], "Basket");
    assert_eq!(link["reusable"], true);
    assert_eq!(link["invoice_id"], Value::Null);
    assert_eq!(link["items"][0]["vat_rate"], "21.0");
    assert_eq!(link["items"][1]["type"], Value::Null);
    let id = link["id"].as_str().unwrap();
    assert_eq!(&id[14..15], "7", "ids are UUIDv7");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/qonto/pay/{id}?resource_id=", app.base)),
        "{url}"
    );
    assert!(link["expiration_date"].as_str().unwrap().ends_with('Z'));

    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&invoice("INV-12345")),
        )
        .await;
    assert_eq!(status, 201);
    let inv = &v["payment_link"];
    assert_eq!(inv["resource_type"], "Invoice");
    assert_eq!(inv["items"], Value::Null);
    assert_eq!(inv["reusable"], false);
    assert_eq!(inv["invoice_number"], "INV-12345");
    assert!(
        inv["url"]
            .as_str()
            .unwrap()
            .ends_with("resource_id=550e8400-e29b-41d4-a716-446655440001")
    );

    let (status, fetched) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetched["payment_link"], *link);
    let (status, _) = app
        .qonto_json(
            Method::GET,
            "/v2/payment_links/0199e1de-4fa1-7324-9aed-0b0f6a65243e",
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (_, methods) = app
        .qonto_json(Method::GET, "/v2/payment_links/payment_methods", None)
        .await;
    assert_eq!(
        methods["payment_link_payment_methods"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        methods["payment_link_payment_methods"][0],
        json!({"name": "credit_card", "enabled": true})
    );
}

#[tokio::test]
async fn every_problem_in_a_link_is_reported_with_its_pointer() {
    let mut config = test_config();
    config.qonto.organizations[0].enabled_methods = vec!["credit_card".into()];
    let app = TestApp::spawn_with(config).await;
    let body = json!({"payment_link": {"potential_payment_methods": ["paypal", "bitcoin"], "colour": "red",
        "items": [{"title": "", "quantity": 0, "unit_price": {"value": "1.005", "currency": "USD"}, "vat_rate": 21.0}]}});
    let (status, v) = app
        .qonto_json(Method::POST, "/v2/payment_links", Some(&body))
        .await;
    assert_eq!(status, 422, "{v}");
    let pointers: Vec<(String, String)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"]["pointer"].as_str().unwrap_or("").to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (pointer, code) in [
        ("/payment_link/reusable", "required"),
        ("/payment_link/colour", "unpermitted_parameter"),
        ("/payment_link/potential_payment_methods/1", "not_in_list"),
        ("/payment_link/items/0/title", "invalid"),
        ("/payment_link/items/0/quantity", "invalid"),
        ("/payment_link/items/0/unit_price/value", "invalid"),
        ("/payment_link/items/0/unit_price/currency", "invalid"),
        ("/payment_link/items/0/vat_rate", "invalid"),
    ] {
        assert!(
            pointers.contains(&(pointer.into(), code.into())),
            "{pointer} {code} missing from {pointers:?}"
        );
    }
    assert!(v["trace_id"].is_string());

    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&json!({"payment_link": {"invoice_number": "X"}})),
        )
        .await;
    assert_eq!(status, 422);
    let missing: Vec<_> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == "required")
        .map(|e| e["source"]["pointer"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        missing.len(),
        4,
        "invoice_id, debitor_name, amount, methods: {missing:?}"
    );

    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["paypal"], false)),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("paypal is not enabled")
    );
    let r = app
        .qonto(Method::POST, "/v2/payment_links")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, list) = app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    assert_eq!(list["meta"]["total_count"], 0, "nothing was created");
}

#[tokio::test]
async fn the_connection_flow_enables_links_and_sends_its_webhook() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = frozen();
    config.qonto.organizations[0].connection = "not_connected".into();
    let app = TestApp::spawn_with(config).await;
    let sub = subscribe(
        &app,
        &receiver.url,
        &["v1/payment-links-connections", "v1/payment-links"],
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));

    let (status, v) = app
        .qonto_json(Method::GET, "/v2/payment_links/connections", None)
        .await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["credit_card"], false)),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(v["errors"][0]["code"], "connection_required");

    let connect = json!({"partner_callback_url": "https://partner.example/onboarding-done",
        "user_bank_account_id": "46e9e0d2-f1af-4d2e-a6be-a536a604b89e", "user_phone_number": "+33612345678",
        "user_website_url": "https://the-user-website.com",
        "business_description": "A bakery selling sourdough bread, pastries and coffee in the 11th arrondissement of Paris."});
    let (status, bad) = app
        .qonto_json(Method::POST, "/v2/payment_links/connections", Some(&json!({"partner_callback_url": "https://x.example",
            "user_bank_account_id": "00000000-0000-0000-0000-000000000000", "user_phone_number": "0612",
            "user_website_url": "https://user@evil.example", "business_description": "too short"})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 4, "{bad}");
    let (status, c) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links/connections",
            Some(&connect),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["status"], "not_connected");
    assert_eq!(c["bank_account_id"], "46e9e0d2-f1af-4d2e-a6be-a536a604b89e");
    let location = c["connection_location"].as_str().unwrap().to_string();
    let page = app
        .client
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"enable\"") && page.contains("value=\"refuse\""));

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app.form_token(&location).await;
    let r = no_redirect
        .post(&location)
        .form(&[("decision", "pending"), ("form_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, c) = app
        .qonto_json(Method::GET, "/v2/payment_links/connections", None)
        .await;
    assert_eq!(c["status"], "pending");
    let r = no_redirect
        .post(&location)
        .form(&[("decision", "enable"), ("form_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://partner.example/onboarding-done"
    );
    let (_, c) = app
        .qonto_json(Method::GET, "/v2/payment_links/connections", None)
        .await;
    assert_eq!(c["status"], "enabled");

    let posts = receiver.wait_posts(1, 5).await;
    let hook = posts[0].json();
    assert_eq!(hook["type"], "v1/payment-links-connections");
    assert_eq!(hook["data"], json!({"event": "connection_enabled"}));
    assert_eq!(hook["subscription_id"], sub["id"]);
    let now = app.admin_get("/clock").await.1["unix"].as_i64().unwrap();
    assert!(qonto_signature_ok(
        &secret,
        &posts[0].body,
        &posts[0].header("x-qonto-signature").unwrap(),
        now
    ));
    assert!(!qonto_signature_ok(
        "whsec_other",
        &posts[0].body,
        &posts[0].header("x-qonto-signature").unwrap(),
        now
    ));

    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links/connections",
            Some(&connect),
        )
        .await;
    assert_eq!(status, 422, "only one active connection per user");
    assert_eq!(v["errors"][0]["code"], "already_connected");
    let (status, _) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["credit_card"], false)),
        )
        .await;
    assert_eq!(status, 201);

    let (status, c) = app
        .admin_post("/qonto/connection", &json!({"decision": "revoke"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(c["status"], "disabled");
    let posts = receiver.wait_posts(3, 5).await;
    assert!(
        posts
            .iter()
            .any(|p| p.json()["data"]["event"] == "connection_revoked")
    );
}

#[tokio::test]
async fn paying_on_the_checkout_moves_link_and_payment_and_notifies() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(frozen()).await;
    let sub = subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    let mut body = basket(&["credit_card", "ideal"], false);
    body["payment_link"]["redirect_url"] = json!("https://shop.example/thanks");
    let (_, v) = app
        .qonto_json(Method::POST, "/v2/payment_links", Some(&body))
        .await;
    let link = v["payment_link"].clone();
    let id = link["id"].as_str().unwrap().to_string();
    let posts = receiver.wait_posts(1, 5).await;
    assert_eq!(posts[0].json()["data"]["event"], "created");

    let url = link["url"].as_str().unwrap();
    let page = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("€21.21")
            && page.contains("method=credit_card")
            && page.contains("method=ideal")
    );
    assert!(!page.contains("method=paypal"));
    let chooser = app
        .client
        .get(format!("{url}&method=credit_card"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for outcome in ["paid", "open", "failed", "expired"] {
        assert!(
            chooser.contains(&format!("value=\"{outcome}\"")),
            "{outcome}"
        );
    }
    assert!(!chooser.contains("value=\"pending\""));

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app.form_token(&format!("{url}&method=credit_card")).await;
    let pay = |status: &str, method: &str| {
        no_redirect
            .post(app.url(&format!("/qonto/pay/{id}")))
            .form(&[
                ("method", method.to_string()),
                ("status", status.to_string()),
                ("email", "payer@example.com".into()),
                ("form_token", token.clone()),
            ])
            .send()
    };
    let r = pay("failed", "credit_card").await.unwrap();
    assert_eq!(r.headers()["location"], "https://shop.example/thanks");
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(
        l["payment_link"]["status"], "open",
        "a failed payment leaves the link open"
    );
    let r = pay("paid", "ideal").await.unwrap();
    assert_eq!(r.status(), 303);
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(l["payment_link"]["status"], "processing");
    app.advance("1s").await;
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(l["payment_link"]["status"], "paid");

    let posts = receiver.wait_posts(3, 5).await;
    let statuses: Vec<_> = posts
        .iter()
        .map(|p| {
            (
                p.json()["data"]["event"].as_str().unwrap().to_string(),
                p.json()["data"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("created".into(), "open".into()),
            ("updated".into(), "processing".into()),
            ("updated".into(), "paid".into())
        ]
    );
    let paid = posts[2].json();
    assert_eq!(paid["data"]["latest_payment_method_used"], "ideal");
    assert_eq!(paid["data"]["payment_link_id"], id.as_str());
    assert_eq!(paid["data"]["resource_type"], "Basket");
    assert_eq!(
        paid["data"]["amount"],
        json!({"value": "21.21", "currency": "EUR"})
    );
    let secret = sub["secret"].as_str().unwrap();
    let now = app.admin_get("/clock").await.1["unix"].as_i64().unwrap();
    for p in &posts {
        assert!(qonto_signature_ok(
            secret,
            &p.body,
            &p.header("x-qonto-signature").unwrap(),
            now
        ));
    }

    let (status, payments) = app
        .qonto_json(
            Method::GET,
            &format!("/v2/payment_links/{id}/payments"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let list = payments["payments"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[0]["paid_at"], Value::Null);
    assert_eq!(list[1]["status"], "paid");
    assert_eq!(list[1]["payment_method"], "ideal");
    assert_eq!(list[1]["debitor_email"], "payer@example.com");
    assert!(list[1]["paid_at"].is_string());
    let (_, paid_only) = app
        .qonto_json(
            Method::GET,
            &format!("/v2/payment_links/{id}/payments?status[]=paid&sort_by=creation_date:desc"),
            None,
        )
        .await;
    assert_eq!(paid_only["payments"].as_array().unwrap().len(), 1);
    let page = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("has been paid"));
    let r = pay("paid", "ideal").await.unwrap();
    assert!(
        r.headers()["location"].to_str().unwrap().contains("error"),
        "a paid single-use link takes no more payments"
    );
}

#[tokio::test]
async fn pending_and_reusable_links_follow_their_state_machines() {
    let app = TestApp::spawn_with(frozen()).await;
    let (_, v) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["paypal"], true)),
        )
        .await;
    let id = v["payment_link"]["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"method": "credit_card"}),
        )
        .await;
    assert_eq!(status, 400, "a method the link does not offer");
    let (status, p) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"status": "pending"}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["payment_link"]["status"], "processing");
    let pid = p["payment"]["id"].as_str().unwrap().to_string();
    let (status, p) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"payment_id": pid, "status": "paid"}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["payment"]["status"], "paid");
    app.advance("1s").await;
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(
        l["payment_link"]["status"], "open",
        "a reusable link reopens once paid"
    );
    let (status, _) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"status": "paid"}),
        )
        .await;
    assert_eq!(status, 200, "and takes another payment");
    let (status, _) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"status": "refunded"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .admin_post(
            &format!("/qonto/payment_links/{id}/pay"),
            &json!({"method": "paypal"}),
        )
        .await;
    assert_eq!(
        status, 409,
        "the new payment is still settling: the link is processing"
    );
}

#[tokio::test]
async fn deactivation_and_expiry_close_links() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(frozen()).await;
    subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    let (_, a) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&basket(&["credit_card"], false)),
        )
        .await;
    let (_, b) = app
        .qonto_json(Method::POST, "/v2/payment_links", Some(&invoice("INV-2")))
        .await;
    let a_id = a["payment_link"]["id"].as_str().unwrap();
    let (status, d) = app
        .qonto_json(
            Method::PATCH,
            &format!("/v2/payment_links/{a_id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["payment_link"]["status"], "canceled");
    let (status, e) = app
        .qonto_json(
            Method::PATCH,
            &format!("/v2/payment_links/{a_id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"][0]["code"], "invalid_status");
    app.advance("30d").await;
    let (_, l) = app
        .qonto_json(
            Method::GET,
            &format!(
                "/v2/payment_links/{}",
                b["payment_link"]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(l["payment_link"]["status"], "expired");
    let posts = receiver.wait_posts(4, 5).await;
    let expired = posts.last().unwrap().json();
    assert_eq!(expired["data"]["status"], "expired");
    assert_eq!(
        expired["data"]["resource_metadata"],
        json!({"invoice_number": "INV-2"})
    );
    assert_eq!(expired["data"]["resource_type"], "Invoice");
}

#[tokio::test]
async fn lists_paginate_filter_and_sort_and_refuse_bad_parameters() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let mut b = invoice(&format!("INV-{i}"));
        b["payment_link"]["amount"]["value"] = json!(format!("{}.00", 10 + i));
        app.qonto_json(Method::POST, "/v2/payment_links", Some(&b))
            .await;
    }
    let page = |q: &str| {
        let (app, path) = (&app, format!("/v2/payment_links{q}"));
        async move { app.qonto_json(Method::GET, &path, None).await }
    };
    let (_, p1) = page("?per_page=2").await;
    assert_eq!(
        p1["meta"],
        json!({"current_page": 1, "next_page": 2, "prev_page": null, "total_pages": 3, "total_count": 5, "per_page": 2})
    );
    let (_, p3) = page("?per_page=2&page=3").await;
    assert_eq!(p3["payment_links"].as_array().unwrap().len(), 1);
    assert_eq!(p3["meta"]["next_page"], Value::Null);
    let (_, p4) = page("?per_page=2&page=4").await;
    assert_eq!(p4["payment_links"], json!([]));
    assert_eq!(p4["meta"]["prev_page"], 3);
    let (_, all) = page("").await;
    assert_eq!(all["meta"]["per_page"], 100);
    assert_eq!(all["meta"]["total_pages"], 1);
    let (_, asc) = page("?sort_by=amount:asc").await;
    let amounts: Vec<_> = asc["payment_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"]["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(amounts, ["10.00", "11.00", "12.00", "13.00", "14.00"]);
    let first = asc["payment_links"][0]["id"].as_str().unwrap().to_string();
    app.qonto_json(
        Method::PATCH,
        &format!("/v2/payment_links/{first}/deactivate"),
        None,
    )
    .await;
    let (_, both) = page("?status[]=open&status[]=canceled").await;
    assert_eq!(both["meta"]["total_count"], 5);
    let (_, canceled) = page("?status[]=canceled").await;
    assert_eq!(canceled["meta"]["total_count"], 1);
    let (_, joined) = page("?status[]=open,paid").await;
    assert_eq!(
        joined["meta"]["total_count"], 4,
        "a comma-joined status[] is accepted too"
    );
    for (q, parameter) in [
        ("?per_page=0", "per_page"),
        ("?per_page=101", "per_page"),
        ("?page=0", "page"),
        ("?status[]=lost", "status[]"),
        ("?sort_by=name", "sort_by"),
    ] {
        let (status, v) = page(q).await;
        assert_eq!(status, 422, "{q}");
        assert_eq!(v["errors"][0]["source"]["parameter"], parameter, "{q}");
    }
}

#[tokio::test]
async fn webhook_subscriptions_have_their_full_lifecycle() {
    let app = TestApp::spawn().await;
    let secret = "s".repeat(40);
    let (status, sub) = app
        .qonto_json(Method::POST, "/v2/webhook_subscriptions", Some(&json!({"callback_url": "https://hooks.example/q", "types": ["v1/payment-links"], "secret": secret})))
        .await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(sub["secret"], secret.as_str());
    assert_eq!(
        sub["organization_id"],
        "0199a1c2-7d3e-7f00-9a11-5a0d1b0c0001"
    );
    assert!(
        sub.get("description").is_none(),
        "no description key when unset"
    );
    let id = sub["id"].as_str().unwrap();
    let (_, list) = app
        .qonto_json(Method::GET, "/v2/webhook_subscriptions", None)
        .await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);
    assert_eq!(list["meta"]["total_count"], 1);
    assert!(list["subscriptions"][0].get("secret").is_none());
    let (status, updated) = app
        .qonto_json(Method::PUT, &format!("/v2/webhook_subscriptions/{id}"), Some(&json!({"types": ["v1/payment-links", "v1/payment-links-connections"], "description": "both"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["types"].as_array().unwrap().len(), 2);
    assert_eq!(updated["description"], "both");
    let (status, one) = app
        .qonto_json(
            Method::GET,
            &format!("/v2/webhook_subscriptions/{id}"),
            None,
        )
        .await;
    assert_eq!((status, one["id"].clone()), (200, json!(id)));
    let (status, v) = app
        .qonto_json(
            Method::DELETE,
            &format!("/v2/webhook_subscriptions/{id}"),
            None,
        )
        .await;
    assert_eq!((status, v), (204, Value::Null));
    let (status, _) = app
        .qonto_json(
            Method::GET,
            &format!("/v2/webhook_subscriptions/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/webhook_subscriptions",
            Some(
                &json!({"callback_url": "http://hooks.example/q", "types": [], "secret": "short"}),
            ),
        )
        .await;
    assert_eq!(status, 422);
    let pointers: Vec<_> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"]["pointer"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pointers.len(), 3, "{v}");
}

#[tokio::test]
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

#[tokio::test]
async fn an_idempotency_key_can_replay_whatever_the_body_as_qonto_documents() {
    let mut config = frozen();
    config.qonto.idempotency_reuse = paylink_sandbox::config::IdempotencyReuse::Replay;
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

#[tokio::test]
async fn the_staging_token_and_the_single_link_wrapper_are_configurable() {
    let mut config = test_config();
    config.qonto.staging_token = Some("staging-abc".into());
    config.qonto.wrap_single_link = false;
    let app = TestApp::spawn_with(config).await;
    let r = app
        .qonto(Method::GET, "/v2/payment_links")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("OneLogin"),
        "without the staging token: the sign-in page"
    );
    let r = app
        .qonto(Method::POST, "/v2/payment_links")
        .header("x-qonto-staging-token", "staging-abc")
        .json(&invoice("INV-S"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["payment_link"]["id"].as_str().unwrap();
    let r = app
        .qonto(Method::GET, &format!("/v2/payment_links/{id}"))
        .header("x-qonto-staging-token", "staging-abc")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], id, "unwrapped when configured");
}

#[tokio::test]
async fn a_scenario_rule_pays_qonto_links_on_its_own() {
    let app = TestApp::spawn_with(frozen()).await;
    let scenario = json!({"rules": [{"name": "auto", "provider": "qonto", "match": {"reference_id": "AUTO-*"},
        "then": {"pay": {"method": "credit_card", "outcome": "paid", "after": "5s"}}}]});
    let r = app
        .client
        .put(app.url("/__sandbox/scenario"))
        .json(&scenario)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = app
        .qonto_json(Method::POST, "/v2/payment_links", Some(&invoice("AUTO-1")))
        .await;
    let id = v["payment_link"]["id"].as_str().unwrap();
    app.advance("5s").await;
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(l["payment_link"]["status"], "processing");
    app.advance("1s").await;
    let (_, l) = app
        .qonto_json(Method::GET, &format!("/v2/payment_links/{id}"), None)
        .await;
    assert_eq!(l["payment_link"]["status"], "paid");
}

#[tokio::test]
async fn the_whole_flow_connect_create_pay_notify_list() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = frozen();
    config.qonto.organizations[0].connection = "not_connected".into();
    let app = TestApp::spawn_with(config).await;
    let sub = subscribe(
        &app,
        &receiver.url,
        &["v1/payment-links", "v1/payment-links-connections"],
    )
    .await;
    let (_, c) = app
        .qonto_json(Method::POST, "/v2/payment_links/connections", Some(&json!({"partner_callback_url": "https://partner.example/back",
            "user_bank_account_id": "46e9e0d2-f1af-4d2e-a6be-a536a604b89e", "user_phone_number": "+33612345678",
            "business_description": "An eighty-character description of what this business sells to its many customers."})))
        .await;
    let location = c["connection_location"].as_str().unwrap();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app.form_token(location).await;
    no_redirect
        .post(location)
        .form(&[("decision", "enable"), ("form_token", &token)])
        .send()
        .await
        .unwrap();
    let (status, created) = app
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&invoice("INV-FLOW")),
        )
        .await;
    assert_eq!(status, 201);
    let link = &created["payment_link"];
    let url = format!("{}&method=apple_pay", link["url"].as_str().unwrap());
    assert!(
        app.client
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("value=\"paid\"")
    );
    let token = app.form_token(&url).await;
    app.client
        .post(app.url(&format!("/qonto/pay/{}", link["id"].as_str().unwrap())))
        .form(&[
            ("method", "apple_pay"),
            ("status", "paid"),
            ("form_token", &token),
        ])
        .send()
        .await
        .unwrap();
    app.advance("2s").await;
    let posts = receiver.wait_posts(4, 5).await;
    let events: Vec<_> = posts
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.json()["type"].as_str().unwrap(),
                p.json()["data"]["event"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "v1/payment-links-connections connection_enabled",
            "v1/payment-links created",
            "v1/payment-links updated",
            "v1/payment-links updated"
        ]
    );
    let now = app.admin_get("/clock").await.1["unix"].as_i64().unwrap();
    assert!(posts.iter().all(|p| qonto_signature_ok(
        sub["secret"].as_str().unwrap(),
        &p.body,
        &p.header("x-qonto-signature").unwrap(),
        now
    )));
    let (_, payments) = app
        .qonto_json(
            Method::GET,
            &format!(
                "/v2/payment_links/{}/payments",
                link["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(payments["payments"][0]["status"], "paid");
    assert_eq!(payments["payments"][0]["payment_method"], "apple_pay");
    assert_eq!(
        payments["payments"][0]["amount"],
        json!({"value": "13.30", "currency": "EUR"})
    );
    let (_, deliveries) = app
        .admin_get("/webhooks?provider=qonto&status=delivered")
        .await;
    assert_eq!(deliveries["deliveries"].as_array().unwrap().len(), 4);
}
