//! The payment-links gateway API over HTTP: create, credentials, problems, UPI rules, lists,
//! edits, cancel and notify.

use crate::helpers::*;
use crate::receiver::*;
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) fn rzp_config(webhook: Option<&str>) -> paylink_sandbox::config::Config {
    let mut config = test_config();
    config.providers.razorpay.accounts[0].webhook_url = webhook.map(str::to_string);
    config.webhooks.retry_schedule =
        paylink_sandbox::cli::parse_schedule("50ms,50ms,50ms").unwrap();
    config
}

pub(crate) async fn now(app: &TestApp) -> i64 {
    app.admin_get("/clock").await.1["unix"].as_i64().unwrap()
}

pub(crate) fn verify_razorpay(secret: &str, body: &[u8], signature: &str) -> bool {
    // razorpay-python's verify_webhook_signature: hmac(secret, body).hexdigest() == signature.
    crate::helpers::hmac_sha256_hex(secret.as_bytes(), &[body]) == signature
}

pub(crate) fn events(posts: &[Received]) -> Vec<String> {
    posts
        .iter()
        .map(|p| p.json()["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_link_has_every_field_in_order_and_points_at_the_sandbox() {
    let app = TestApp::spawn_with(rzp_config(None)).await;
    let (status, link) = app
        .create_payment_link(&json!({"amount": 1000, "currency": "INR", "accept_partial": true, "first_min_partial_amount": 100,
                "reference_id": "TS1989", "description": "Payment for policy no #23456",
                "customer": {"name": "Gaurav Kumar", "email": "gaurav.kumar@example.com", "contact": "+919000090000"},
                "notify": {"sms": true, "email": true}, "reminder_enable": true,
                "notes": {"policy_name": "Jeevan Bima"},
                "callback_url": "https://example-callback-url.com/", "callback_method": "get"}))
        .await;
    assert_eq!(status, 200, "{link}");
    let keys: Vec<_> = link.as_object().unwrap().keys().cloned().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "fields come in alphabetical order");
    assert_eq!(link["status"], "created");
    assert_eq!(link["amount_paid"], 0);
    assert_eq!(link["cancelled_at"], 0);
    assert_eq!(link["expired_at"], 0);
    assert_eq!(link["expire_by"], 0);
    assert_eq!(link["payments"], Value::Null);
    assert_eq!(link["reminders"], json!([]));
    assert_eq!(
        link["notify"],
        json!({"email": true, "sms": true, "whatsapp": false})
    );
    assert!(link["id"].as_str().unwrap().starts_with("plink_"));
    assert_eq!(link["id"].as_str().unwrap().len(), 20);
    let short = link["short_url"].as_str().unwrap();
    assert!(
        short.starts_with(&format!("{}/razorpay/i/", app.base)),
        "{short}"
    );
    let html = app
        .client
        .get(short)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("₹10.00"),
        "the page shows the amount in rupees"
    );
    assert!(html.contains("Gaurav Kumar") && html.contains("Payment for policy no #23456"));
    assert!(html.contains("name=\"method\" value=\"netbanking\""));
    assert!(html.contains("partial payments accepted"));
    let (status, fetched) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetched, link);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_with_the_gateways_messages() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["description"],
        "Please provide your api key for authentication purposes."
    );
    assert_eq!(v["error"]["code"], "BAD_REQUEST_ERROR");
    for (user, pass) in [(RZP_KEY, "wrong"), ("rzp_test_Unknown", RZP_SECRET)] {
        let r = app
            .client
            .get(app.url("/razorpay/v1/payment_links"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["error"],
            json!({"code": "BAD_REQUEST_ERROR", "description": "The api key provided is invalid",
            "source": "NA", "step": "NA", "reason": "NA", "metadata": {}})
        );
    }
    let r = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .header("authorization", "basic cnpwOng=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the scheme word must be exactly Basic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_with_a_create_is_reported_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let (status, v) = app.create_payment_link(&json!({"amount": 50})).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"],
        json!({"code": "BAD_REQUEST_ERROR", "description": "The amount must be at least INR 1.00",
        "source": "business", "step": "payment_initiation", "reason": "input_validation_failed", "metadata": {}, "field": "amount"})
    );

    let soon = now(&app).await + 600;
    let (status, v) = app
        .create_payment_link(
            &json!({"amount": "100", "expire_by": soon, "reference_id": "x".repeat(41),
                "callback_url": "https://shop.example/cb", "customer": {"email": "not-an-email"},
                "notes": {"k": "v".repeat(300)}, "colour": "red"}),
        )
        .await;
    assert_eq!(status, 400);
    let description = v["error"]["description"].as_str().unwrap();
    for pointer in [
        "/amount",
        "/expire_by",
        "/reference_id",
        "/callback_method",
        "/customer/email",
        "/notes/k",
        "/colour",
    ] {
        assert!(
            description.contains(&format!("{pointer}: ")),
            "{pointer} missing from {description}"
        );
    }
    assert!(description.contains("timestamp must be atleast 15 minutes in future"));
    assert!(description.contains("wrong input fields sent."));
    let (_, list) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(list["payment_links"], json!([]));

    let r = app
        .rzp(Method::POST, "/v1/payment_links")
        .header("content-type", "application/json")
        .body("{\"amount\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["description"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upi_links_follow_the_gateways_restrictions() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .create_payment_link(&json!({"amount": 500, "upi_link": true}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "UPI Payment Links is not supported in Test Mode. Please experience the product in Live Mode."
    );

    let mut config = test_config();
    config.providers.razorpay.accounts[0].key_id = "rzp_live_PaylinkSandbox01".into();
    let live = TestApp::spawn_with(config).await;
    let post = |body: Value| {
        let live = &live;
        async move {
            let r = live
                .client
                .post(live.url("/razorpay/v1/payment_links"))
                .basic_auth("rzp_live_PaylinkSandbox01", Some(RZP_SECRET))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, link) = post(json!({"amount": 500, "upi_link": true})).await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["upi_link"], true);
    let (status, v) =
        post(json!({"amount": 500, "upi_link": true, "currency": "USD", "accept_partial": true}))
            .await;
    assert_eq!(status, 400);
    let d = v["error"]["description"].as_str().unwrap();
    assert!(
        d.contains("upi is currently supported only in indian currency")
            && d.contains("partial payment not supported in upi link"),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_ids_are_unique_and_unknown_ids_are_400() {
    let app = TestApp::spawn().await;
    let body = json!({"amount": 1000, "reference_id": "ORDER-7"});
    assert_eq!(app.create_payment_link(&body).await.0, 200);
    let (status, v) = app.create_payment_link(&body).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "payment link creation with reference ID already attempted"
    );
    assert_eq!(v["error"]["field"], "reference_id");

    let (status, v) = app
        .rzp_json(Method::GET, "/v1/payment_links/plink_AAAAAAAAAAAAAA", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["description"], "The id provided does not exist");
    let (status, v) = app
        .rzp_json(Method::GET, "/v1/payment_links/plink_bad", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "invalid input [strippedId] = [bad]"
    );
    let (status, v) = app.rzp_json(Method::GET, "/v1/nothing", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        v["error"]["description"],
        "The requested URL was not found on the server."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_paginate_newest_first() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, link) = app
            .create_payment_link(&json!({"amount": 100 + i, "reference_id": format!("R-{i}")}))
            .await;
        ids.push(link["id"].as_str().unwrap().to_string());
    }
    let (status, v) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(status, 200);
    let page: Vec<_> = v["payment_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(page.len(), 10, "count defaults to 10");
    assert_eq!(page[0], ids[11], "newest first");
    let (_, v) = app
        .rzp_json(Method::GET, "/v1/payment_links?count=5&skip=10", None)
        .await;
    assert_eq!(v["payment_links"].as_array().unwrap().len(), 2);
    let (_, v) = app
        .rzp_json(Method::GET, "/v1/payment_links?reference_id=R-3", None)
        .await;
    assert_eq!(v["payment_links"].as_array().unwrap().len(), 1);
    assert_eq!(v["payment_links"][0]["id"], ids[3].as_str());
    let t = now(&app).await;
    let (_, v) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links?from={}&to={}", t + 100, t + 200),
            None,
        )
        .await;
    assert_eq!(v["payment_links"], json!([]));
    let (status, v) = app
        .rzp_json(Method::GET, "/v1/payment_links?count=0", None)
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = app
        .rzp_json(Method::GET, "/v1/payment_links?count=abc", None)
        .await;
    assert_eq!(status, 400);

    let (_, paid) = app
        .admin_post(
            &format!("/razorpay/payment_links/{}/pay", ids[5]),
            &json!({}),
        )
        .await;
    let pay_id = paid["payment_id"].as_str().unwrap();
    let (_, v) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/payment_links?payment_id={pay_id}"),
            None,
        )
        .await;
    assert_eq!(v["payment_links"][0]["id"], ids[5].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_touch_only_the_documented_fields_in_the_documented_states() {
    let app = TestApp::spawn().await;
    let (_, link) = app.create_payment_link(&json!({"amount": 1000})).await;
    let path = format!("/v1/payment_links/{}", link["id"].as_str().unwrap());
    let later = now(&app).await + 3600;
    let (status, edited) = app
        .rzp_json(Method::PATCH, &path, Some(&json!({"reference_id": "NEW-REF", "expire_by": later, "notes": {"a": "b"}, "reminder_enable": true, "accept_partial": true})))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["reference_id"], "NEW-REF");
    assert_eq!(edited["expire_by"], later);
    assert_eq!(edited["notes"], json!({"a": "b"}));
    let (status, v) = app
        .rzp_json(Method::PATCH, &path, Some(&json!({"amount": 5})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["description"], "wrong input fields sent.");
    app.admin_post(
        &format!(
            "/razorpay/payment_links/{}/pay",
            link["id"].as_str().unwrap()
        ),
        &json!({}),
    )
    .await;
    let (status, v) = app
        .rzp_json(Method::PATCH, &path, Some(&json!({"notes": {}})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "update can only be made in created or partially paid state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_notify_follow_the_state_machine() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(rzp_config(Some(&receiver.url))).await;
    let (_, link) = app.create_payment_link(&json!({"amount": 1000})).await;
    let id = link["id"].as_str().unwrap();
    let (status, v) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{id}/notify_by/sms"),
            Some(&json!({})),
        )
        .await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let (status, v) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{id}/notify_by/fax"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["description"], "not a valid notification medium");

    let (status, cancelled) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{id}/cancel"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].as_i64().unwrap() > 0);
    let (status, v) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "cannot cancel or expire an expired link"
    );
    let posts = receiver.wait_posts(1, 5).await;
    let event = posts[0].json();
    assert_eq!(event["event"], "payment_link.cancelled");
    assert_eq!(event["contains"], json!(["payment_link"]));
    assert_eq!(
        event["payload"]["payment_link"]["entity"]["status"],
        "cancelled"
    );
    assert!(
        event["payload"]["payment_link"]["entity"]
            .get("payments")
            .is_none()
    );

    let (_, paid) = app
        .create_payment_link(&json!({"amount": 1000, "accept_partial": true}))
        .await;
    let pid = paid["id"].as_str().unwrap();
    app.admin_post(
        &format!("/razorpay/payment_links/{pid}/pay"),
        &json!({"amount": 400}),
    )
    .await;
    let (status, v) = app
        .rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{pid}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["description"],
        "cannot cancel or expire an already paid/partially paid link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collection_takes_a_trailing_slash_and_currencies_are_checked() {
    let app = TestApp::spawn().await;
    let (code, link) = app
        .rzp_json(
            reqwest::Method::POST,
            "/v1/payment_links/",
            Some(&json!({"amount": 1000, "currency": "INR"})),
        )
        .await;
    assert_eq!(code, 200, "as the gateway's examples write it: {link}");
    let (code, list) = app
        .rzp_json(reqwest::Method::GET, "/v1/payment_links/", None)
        .await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["payment_links"][0]["id"], link["id"]);

    let (code, usd) = app
        .create_payment_link(&json!({"amount": 1000, "currency": "USD"}))
        .await;
    assert_eq!(code, 200, "{usd}");
    let (code, bad) = app
        .create_payment_link(&json!({"amount": 1000, "currency": "XXX"}))
        .await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(bad["error"]["field"], "currency");
    assert_eq!(
        bad["error"]["description"],
        "The selected currency is invalid."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_and_orders_are_fetched_as_the_gateway_recommends_after_the_callback() {
    let app = TestApp::spawn().await;
    let (_, link) = app
        .create_payment_link(&json!({"amount": 1500, "currency": "INR"}))
        .await;
    let id = link["id"].as_str().unwrap();
    let (code, failed) = app.pay_link(id, "failure").await;
    assert_eq!(code, 200, "{failed}");
    let (code, paid) = app.pay_link(id, "success").await;
    assert_eq!(code, 200, "{paid}");
    let (_, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{id}"), None)
        .await;
    let payment_id = fetched["payments"][0]["payment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let order_id = fetched["order_id"].as_str().unwrap().to_string();

    let (code, payment) = app
        .rzp_json(Method::GET, &format!("/v1/payments/{payment_id}"), None)
        .await;
    assert_eq!(code, 200, "{payment}");
    assert_eq!(payment["entity"], "payment");
    assert_eq!(payment["status"], "captured");
    assert_eq!(payment["order_id"], order_id.as_str());
    assert_eq!(payment["amount"], 1500);

    let (code, order) = app
        .rzp_json(Method::GET, &format!("/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(code, 200, "{order}");
    assert_eq!(order["entity"], "order");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["amount_due"], 0);
    assert_eq!(order["attempts"], 2);

    let (code, payments) = app
        .rzp_json(
            Method::GET,
            &format!("/v1/orders/{order_id}/payments"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{payments}");
    assert_eq!(payments["entity"], "collection");
    assert_eq!(payments["count"], 2);
    let statuses: Vec<&str> = payments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["captured", "failed"], "newest first");

    let (code, missing) = app
        .rzp_json(Method::GET, "/v1/payments/pay_AAAAAAAAAAAAAA", None)
        .await;
    assert_eq!(code, 400, "{missing}");
    assert_eq!(
        missing["error"]["description"],
        "The id provided does not exist"
    );
    let (code, bad) = app.rzp_json(Method::GET, "/v1/orders/nope", None).await;
    assert_eq!(code, 400, "{bad}");
    let other = app
        .client
        .get(app.url(&format!("/razorpay/v1/payments/{payment_id}")))
        .basic_auth("rzp_test_SomebodyElse01", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401, "an unknown key sees nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_amount_and_a_long_note_get_one_sentence_each_in_the_gateways_words() {
    let app = TestApp::spawn().await;
    let (code, negative) = app.create_payment_link(&json!({"amount": -5})).await;
    assert_eq!(code, 400);
    assert_eq!(
        negative["error"]["description"], "The amount must be at least INR 1.00",
        "one sentence, not the schema's and the gateway's: {negative}"
    );
    let (code, long) = app
        .create_payment_link(&json!({"amount": 1000, "notes": {"why": "x".repeat(256)}}))
        .await;
    assert_eq!(code, 400);
    assert_eq!(
        long["error"]["description"],
        "value: the length must not be greater than 255."
    );
    assert_eq!(long["error"]["field"], "notes.why");
    let (code, fits) = app
        .create_payment_link(&json!({"amount": 1000, "notes": {"why": "x".repeat(255)}}))
        .await;
    assert_eq!(code, 200, "{fits}");
}
