//! The gateway's hosted checkout: paying redirects with a verifiable signature and sends signed
//! webhooks; partial payments, failures, expiry, scripted payments, and WhatsApp orders that
//! point at a link of this sandbox.

use crate::helpers::*;
use crate::razorpay_links::{events, now, rzp_config, verify_razorpay};
use crate::receiver::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "the hosted-page flow in the order a customer meets it; each step depends on the one before"
)]
async fn paying_on_the_hosted_page_redirects_with_a_verifiable_signature_and_sends_signed_webhooks()
{
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let (_, link) = app
        .create_payment_link(&json!({"amount": 2500, "reference_id": "TSsd1989",
            "customer": {"email": "a@example.com", "contact": "+919876543210"},
            "callback_url": "https://shop.example/return?from=rzp", "callback_method": "get"}))
        .await;
    let id = link["id"].as_str().unwrap();
    let code = link["short_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app
        .form_token(&app.url(&format!("/razorpay/i/{code}")))
        .await;
    let r = no_redirect
        .post(app.url(&format!("/razorpay/i/{code}/pay")))
        .form(&[
            ("method", "card"),
            ("outcome", "success"),
            ("form_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://shop.example/return?from=rzp&"),
        "{location}"
    );
    let params: std::collections::HashMap<_, _> =
        crate::helpers::query_pairs(location.split_once('?').unwrap().1)
            .into_iter()
            .collect();
    assert_eq!(params["razorpay_payment_link_id"], id);
    assert_eq!(params["razorpay_payment_link_reference_id"], "TSsd1989");
    assert_eq!(params["razorpay_payment_link_status"], "paid");
    let message = format!("{id}|TSsd1989|paid|{}", params["razorpay_payment_id"]);
    assert_eq!(
        params["razorpay_signature"],
        crate::helpers::hmac_sha256_hex(RZP_SECRET.as_bytes(), &[message.as_bytes()])
    );

    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{id}"), None)
        .await;
    assert_eq!(fetched["status"], "paid");
    assert_eq!(fetched["amount_paid"], 2500);
    assert!(fetched["order_id"].as_str().unwrap().starts_with("order_"));
    assert_eq!(fetched["payments"][0]["method"], "card");
    assert_eq!(
        fetched["payments"][0]["payment_id"],
        params["razorpay_payment_id"].as_str()
    );

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
    let mut event_ids = std::collections::HashSet::new();
    for p in &posts {
        let sig = p.header("x-razorpay-signature").unwrap();
        assert!(verify_razorpay(RZP_WEBHOOK_SECRET, &p.body, &sig));
        assert!(
            !verify_razorpay(RZP_SECRET, &p.body, &sig),
            "signed with the webhook secret, not the key secret"
        );
        assert!(event_ids.insert(p.header("x-razorpay-event-id").unwrap()));
        let v = p.json();
        assert_eq!(v["entity"], "event");
        assert_eq!(v["account_id"], "acc_PaylinkSandbox01");
    }
    let paid = posts[3].json();
    let order = paid["payload"]["order"]["entity"].as_object().unwrap();
    let mut keys: Vec<&str> = order.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut documented = vec![
        "account_number",
        "amount",
        "amount_due",
        "amount_paid",
        "app_offer",
        "attempts",
        "authorized",
        "bank",
        "bank_account",
        "checkout_config_id",
        "created_at",
        "currency",
        "customer_id",
        "discount",
        "first_payment_min_amount",
        "force_offer",
        "id",
        "late_auth_config_id",
        "merchant_id",
        "method",
        "notes",
        "offers",
        "order_metas",
        "order_relationships",
        "partial_payment",
        "payer_name",
        "payment_capture",
        "product_id",
        "product_type",
        "provider_context",
        "public_key",
        "public_response",
        "receipt",
        "reference2",
        "reference3",
        "reference4",
        "reference5",
        "reference6",
        "reference7",
        "reference8",
        "source",
        "status",
        "transfers",
        "updated_at",
    ];
    documented.sort_unstable();
    assert_eq!(
        keys, documented,
        "the documented order of payment_link.paid, key for key"
    );
    assert_eq!(order["product_type"], "payment_link_v2");
    assert_eq!(order["product_id"].as_str(), id.strip_prefix("plink_"));
    assert_eq!(
        paid["contains"],
        json!(["payment_link", "order", "payment"])
    );
    assert_eq!(paid["payload"]["payment_link"]["entity"]["status"], "paid");
    assert_eq!(paid["payload"]["order"]["entity"]["status"], "paid");
    assert_eq!(
        paid["payload"]["payment"]["entity"]["card"]["last4"],
        "1111"
    );
    assert_eq!(posts[2].json()["contains"], json!(["payment", "order"]));
    assert_eq!(
        posts[0].json()["payload"]["payment"]["entity"]["status"],
        "authorized"
    );
    assert_eq!(
        posts[0].json()["payload"]["payment"]["entity"]["captured"],
        false
    );

    let html = app
        .client
        .get(link["short_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("has been paid"), "a paid link shows no form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_payments_and_failures_move_the_link_as_documented() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let (_, link) = app
        .create_payment_link(
            &json!({"amount": 1000, "accept_partial": true, "first_min_partial_amount": 300}),
        )
        .await;
    let id = link["id"].as_str().unwrap();
    let path = format!("/razorpay/payment_links/{id}/pay");
    let pay = |body: Value| {
        let (app, path) = (&app, &path);
        async move { app.admin_post(path, &body).await }
    };
    let (status, v) = pay(json!({"amount": 200})).await;
    assert_eq!(status, 400, "below the first minimum: {v}");
    let (status, v) = pay(json!({"amount": 300, "outcome": "failure", "method": "upi"})).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "failed");
    assert_eq!(v["payment_link"]["status"], "created");
    let (_, v) = pay(json!({"amount": 300, "method": "wallet"})).await;
    assert_eq!(v["payment_link"]["status"], "partially_paid");
    assert_eq!(v["payment_link"]["amount_paid"], 300);
    let (status, _) = pay(json!({"amount": 800})).await;
    assert_eq!(status, 400, "more than is due");
    let (_, v) = pay(json!({"method": "netbanking"})).await;
    assert_eq!(v["payment_link"]["status"], "paid");
    assert_eq!(v["payment_link"]["payments"].as_array().unwrap().len(), 2);
    let (status, _) = pay(json!({})).await;
    assert_eq!(status, 409, "a paid link takes no more payments");

    let posts = receiver.wait_posts(8, 5).await;
    assert_eq!(
        events(&posts),
        [
            "payment.failed",
            "payment.authorized",
            "payment.captured",
            "payment_link.partially_paid",
            "payment.authorized",
            "payment.captured",
            "order.paid",
            "payment_link.paid"
        ]
    );
    let failed = &posts[0].json()["payload"]["payment"]["entity"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_reason"], "payment_failed");
    let orders: std::collections::HashSet<_> = posts
        .iter()
        .filter_map(|p| {
            p.json()["payload"]["payment"]["entity"]["order_id"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(orders.len(), 1, "every payment shares the link's order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_expires_when_the_clock_passes_expire_by() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = rzp_config(Some(&receiver.url));
    config.clock.frozen = true;
    config.clock.start = Some("2026-03-01T00:00:00Z".into());
    let app = TestApp::spawn_with(config).await;
    let start = now(&app).await;
    let (_, a) = app
        .create_payment_link(&json!({"amount": 1000, "expire_by": start + 1200}))
        .await;
    let (_, b) = app
        .create_payment_link(&json!({"amount": 1000, "expire_by": start + 1200}))
        .await;
    let b_path = format!("/v1/payment_links/{}", b["id"].as_str().unwrap());
    app.rzp_json(
        Method::PATCH,
        &b_path,
        Some(&json!({"expire_by": start + 7200})),
    )
    .await;
    app.advance("19m").await;
    let (_, still) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(still["status"], "created");
    app.advance("2m").await;
    let posts = receiver.wait_posts(1, 5).await;
    let v = posts[0].json();
    assert_eq!(v["event"], "payment_link.expired");
    assert_eq!(v["payload"]["payment_link"]["entity"]["id"], a["id"]);
    assert_eq!(
        v["payload"]["payment_link"]["entity"]["expired_at"],
        start + 1200
    );
    let (_, b_now) = app.rzp_json(Method::GET, &b_path, None).await;
    assert_eq!(
        b_now["status"], "created",
        "the edited expiry replaced the old one"
    );
    app.advance("2h").await;
    receiver.wait_posts(2, 5).await;
    let (_, b_now) = app.rzp_json(Method::GET, &b_path, None).await;
    assert_eq!(b_now["status"], "expired");
    let html = app
        .client
        .get(a["short_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("has expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_rule_pays_matching_links_on_its_own() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = rzp_config(Some(&receiver.url));
    config.clock.frozen = true;
    let app = TestApp::spawn_with(config).await;
    let (code, v) = app.put_scenario_file("razorpay-auto-pay.toml").await;
    assert_eq!(code, 200, "{v}");
    let (_, auto) = app
        .create_payment_link(&json!({"amount": 1500, "reference_id": "auto-1"}))
        .await;
    let (_, manual) = app
        .create_payment_link(&json!({"amount": 1500, "reference_id": "manual-1"}))
        .await;
    let (status, refused) = app.create_payment_link(&json!({"amount": 99999999})).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "SERVER_ERROR");
    app.advance("2s").await;
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
    let (_, a) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links/{}", auto["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(a["status"], "paid");
    assert_eq!(a["payments"][0]["method"], "upi");
    let (_, m) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links/{}", manual["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(m["status"], "created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_pointing_at_a_sandbox_link_is_checked_against_it() {
    let app = TestApp::spawn().await;
    let (_, link) = app
        .create_payment_link(&json!({"amount": 49750, "reference_id": "WA-1"}))
        .await;
    let (_, other) = app.create_payment_link(&json!({"amount": 100})).await;
    let order = |reference: &str, uri: &str| {
        let mut v = fixture("whatsapp/valid/order_details-in-payment_link.json");
        v["interactive"]["action"]["parameters"]["reference_id"] = json!(reference);
        v["interactive"]["action"]["parameters"]["payment_settings"][0]["payment_link"]["uri"] =
            json!(uri);
        v
    };
    assert_eq!(
        app.send_message_json(&order("WA-1", link["short_url"].as_str().unwrap()))
            .await
            .0,
        200
    );
    assert_eq!(
        app.send_message_json(&order("WA-2", other["short_url"].as_str().unwrap()))
            .await
            .0,
        200
    );
    let missing = format!("{}/razorpay/i/NoSuchCode", app.base);
    assert_eq!(app.send_message_json(&order("WA-3", &missing)).await.0, 200);
    let messages = app.admin_messages().await;
    let warnings = |i: usize| {
        messages[i]["warnings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(warnings(0).is_empty(), "{:?}", warnings(0));
    assert!(
        warnings(1)[0]
            .as_str()
            .unwrap()
            .contains("asks for 100 INR but total_amount is 49750 INR")
    );
    assert!(
        warnings(2)[0]
            .as_str()
            .unwrap()
            .contains("is not a payment link of this sandbox")
    );
    app.rzp_json(
        Method::POST,
        &format!("/v1/payment_links/{}/cancel", link["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(
        app.send_message_json(&order("WA-4", link["short_url"].as_str().unwrap()))
            .await
            .0,
        200
    );
    let messages = app.admin_messages().await;
    assert!(
        messages[3]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("is cancelled, not created")
    );
}
