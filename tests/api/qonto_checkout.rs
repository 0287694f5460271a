//! Qonto's flows past the API: connecting an organization, paying on the checkout page, the link
//! and payment state machines, expiry, scripted payments and signed webhooks.

use crate::helpers::*;
use crate::qonto_links::{basket, frozen, invoice, qonto_signature_ok, subscribe};
use crate::receiver::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "the onboarding flow in the order a user meets it; each step depends on the one before"
)]
async fn the_connection_flow_enables_links_and_sends_its_webhook() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = frozen();
    config.providers.qonto.organizations[0].connection =
        paylink_sandbox::providers::qonto::config::StartConnection::NotConnected;
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
        .create_qonto_link(&basket(&["credit_card"], false))
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
    let now = crate::qonto_links::wall_clock_secs();
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
        .create_qonto_link(&basket(&["credit_card"], false))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "the checkout flow in the order a customer meets it; each step depends on the one before"
)]
async fn paying_on_the_checkout_moves_link_and_payment_and_notifies() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(frozen()).await;
    let sub = subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    let mut body = basket(&["credit_card", "ideal"], false);
    body["payment_link"]["redirect_url"] = json!("https://shop.example/thanks");
    let (_, v) = app.create_qonto_link(&body).await;
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
    let now = crate::qonto_links::wall_clock_secs();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_and_reusable_links_follow_their_state_machines() {
    let app = TestApp::spawn_with(frozen()).await;
    let (_, v) = app.create_qonto_link(&basket(&["paypal"], true)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_and_expiry_close_links() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(frozen()).await;
    subscribe(&app, &receiver.url, &["v1/payment-links"]).await;
    let (_, a) = app
        .create_qonto_link(&basket(&["credit_card"], false))
        .await;
    let (_, b) = app.create_qonto_link(&invoice("INV-2")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    let (_, v) = app.create_qonto_link(&invoice("AUTO-1")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "the end-to-end flow a merchant integration runs, kept whole on purpose"
)]
async fn the_whole_flow_connect_create_pay_notify_list() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = frozen();
    config.providers.qonto.organizations[0].connection =
        paylink_sandbox::providers::qonto::config::StartConnection::NotConnected;
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
    let (status, created) = app.create_qonto_link(&invoice("INV-FLOW")).await;
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
    // The connection and the link are different objects: their events may overlap in flight
    // (`webhooks.in_flight_per_url`), each object's own in order.
    assert!(
        events.contains(&"v1/payment-links-connections connection_enabled".to_string()),
        "{events:?}"
    );
    let link_events: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("v1/payment-links "))
        .collect();
    assert_eq!(
        link_events,
        [
            "v1/payment-links created",
            "v1/payment-links updated",
            "v1/payment-links updated"
        ],
        "{events:?}"
    );
    let now = crate::qonto_links::wall_clock_secs();
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
