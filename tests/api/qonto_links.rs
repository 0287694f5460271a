//! Qonto's payment-link API over HTTP: credentials and scopes, creating basket and invoice
//! links, every problem named by pointer, lists, webhook subscriptions and configuration.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) fn basket(methods: &[&str], reusable: bool) -> Value {
    json!({"payment_link": {"potential_payment_methods": methods, "reusable": reusable,
    "items": [
        {"title": "Consulting", "quantity": 1, "unit_price": {"value": "10.99", "currency": "EUR"},
         "vat_rate": "21.0", "type": "service", "description": "One hour", "measure_unit": "hour"},
        {"title": "Stickers", "quantity": 3, "unit_price": {"value": "2.50", "currency": "EUR"}, "vat_rate": "5.5"}
    ]}})
}

pub(crate) fn invoice(number: &str) -> Value {
    json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001", "invoice_number": number,
        "debitor_name": "John Doe", "amount": {"value": "13.30", "currency": "EUR"},
        "potential_payment_methods": ["credit_card", "apple_pay"]}})
}

/// Qonto's documented check: split on ',', then '='; v1 = HMAC(secret, "<t>.<raw body>").
/// Unix seconds by the wall clock, as a receiver checks Qonto's freshness rule.
pub(crate) fn wall_clock_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn qonto_signature_ok(secret: &str, body: &[u8], header: &str, now: i64) -> bool {
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
    let expected =
        crate::helpers::hmac_sha256_hex(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
    expected == v1 && (now - t).abs() <= 300
}

pub(crate) async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> Value {
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

pub(crate) fn frozen() -> paylink_sandbox::config::Config {
    let mut config = test_config();
    config.clock.frozen = true;
    config.clock.start = Some("2026-05-04T10:00:00Z".into());
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("50ms,50ms").unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basket_and_invoice_links_are_created_with_exact_amounts() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .create_qonto_link(&basket(&["credit_card", "paypal"], true))
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

    let (status, v) = app.create_qonto_link(&invoice("INV-12345")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_in_a_link_is_reported_with_its_pointer() {
    let mut config = test_config();
    config.providers.qonto.organizations[0].enabled_methods =
        vec![paylink_sandbox::providers::qonto::config::Method::CreditCard];
    let app = TestApp::spawn_with(config).await;
    let body = json!({"payment_link": {"potential_payment_methods": ["paypal", "bitcoin"], "colour": "red",
        "items": [{"title": "", "quantity": 0, "unit_price": {"value": "1.005", "currency": "USD"}, "vat_rate": 21.0}]}});
    let (status, v) = app.create_qonto_link(&body).await;
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
        .create_qonto_link(&json!({"payment_link": {"invoice_number": "X"}}))
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

    let (status, v) = app.create_qonto_link(&basket(&["paypal"], false)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_paginate_filter_and_sort_and_refuse_bad_parameters() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let mut b = invoice(&format!("INV-{i}"));
        b["payment_link"]["amount"]["value"] = json!(format!("{}.00", 10 + i));
        app.create_qonto_link(&b).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    assert_eq!(
        list["subscriptions"][0].get("secret"),
        Some(&Value::Null),
        "the key is there, the secret is not shown again"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staging_token_and_the_single_link_wrapper_are_configurable() {
    let mut config = test_config();
    config.providers.qonto.staging_token = Some("staging-abc".into());
    config.providers.qonto.wrap_single_link = false;
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
