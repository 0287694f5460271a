//! The reproducers of what a sandbox on a developer's machine must never do: hang on one request,
//! act on its own webhooks, be framed or driven by another site, coerce a number, or answer a
//! JSON route in anything but JSON.

use std::time::Duration;

use crate::helpers::*;
use crate::receiver::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_on_subscribed_apps_answers_at_once_and_the_server_goes_on() {
    let app = TestApp::spawn().await;
    for path in [
        "/whatsapp/1/subscribed_apps?access_token=x",
        &format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps?access_token=x"),
        &format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps"),
    ] {
        let r = tokio::time::timeout(Duration::from_secs(2), app.client.get(app.url(path)).send())
            .await
            .unwrap_or_else(|_| panic!("{path} did not answer"))
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(
            [104, 190].contains(&v["error"]["code"].as_i64().unwrap()),
            "{v}"
        );
    }
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_business_cannot_redirect_another_businesss_webhooks() {
    let mut config = test_config();
    config.providers.whatsapp.businesses.push(
        paylink_sandbox::providers::whatsapp::config::BusinessConfig {
            phone_number_id: "106540352242999".into(),
            waba_id: "102290129340999".into(),
            access_token: "EAATenantB".into(),
            ..Default::default()
        },
    );
    let app = TestApp::spawn_with(config).await;
    let thief = Receiver::start(Behaviour::Ok {
        verify_token: Some("b".into()),
    })
    .await;
    for token in ["EAATenantB", "1185200386128462|paylink-sandbox-app-secret"] {
        let r = app
            .client
            .post(app.url(&format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps")))
            .bearer_auth(token)
            .json(&json!({"override_callback_uri": thief.url, "verify_token": "b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{token}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], 100);
        assert_eq!(v["error"]["error_subcode"], 33);
    }
    let r = app
        .client
        .post(app.url("/whatsapp/v23.0/1185200386128462/subscriptions"))
        .bearer_auth("EAATenantB")
        .json(&json!({"object": "whatsapp_business_account", "callback_url": thief.url, "verify_token": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["code"], 15,
        "only the app token sets the app's callback"
    );
    assert!(thief.received().is_empty(), "not even a handshake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_urls_pointing_at_the_sandbox_itself_are_refused() {
    let app = TestApp::spawn().await;
    let own = app.url("/__sandbox/reset");
    let localhost = own.replace("127.0.0.1", "localhost");
    for url in [&own, &localhost] {
        let (status, v) = app
            .admin_put("/razorpay/webhook", &json!({"url": url}))
            .await;
        assert_eq!(status, 400, "{url}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("points at this sandbox itself"),
            "{v}"
        );
    }
    let (status, v) = app
        .qonto_json(
            Method::POST,
            "/v2/webhook_subscriptions",
            Some(&json!({"callback_url": own, "types": ["v1/payment-links"]})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["errors"][0]["source"]["pointer"], "/callback_url");
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps")))
        .bearer_auth(TOKEN)
        .json(&json!({"override_callback_uri": own, "verify_token": "x"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .starts_with("/override_callback_uri"),
        "{v}"
    );
    let app_token = "1185200386128462|paylink-sandbox-app-secret";
    let r = app
        .client
        .post(app.url("/whatsapp/v23.0/1185200386128462/subscriptions"))
        .bearer_auth(app_token)
        .json(&json!({"object": "whatsapp_business_account", "callback_url": own, "verify_token": "x"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .starts_with("/callback_url"),
        "{v}"
    );
}

/// A TCP forwarder to the sandbox on another port: what a receiver host name that resolves back
/// to the sandbox looks like at delivery time.
async fn forwarder(to: std::net::SocketAddr) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_comes_back_to_the_sandbox_is_refused_and_changes_nothing() {
    let mut config = test_config();
    config.webhooks.retry_schedule = Vec::new();
    let app = TestApp::spawn_with(config).await;
    let back = forwarder(app.addr).await;
    let (status, _) = app
        .admin_put(
            "/razorpay/webhook",
            &json!({"url": format!("{back}/__sandbox/reset")}),
        )
        .await;
    assert_eq!(status, 200, "another port passes the check when it is set");
    let (_, link) = app.create_payment_link(&json!({"amount": 1000})).await;
    let id = link["id"].as_str().unwrap();
    let (status, _) = app.pay_link(id, "success").await;
    assert_eq!(status, 200);
    let failed = wait_for("the looped deliveries to fail", 5, || async {
        let d = app.deliveries("?provider=razorpay&status=failed").await;
        (d.len() == 4).then_some(d)
    })
    .await;
    assert!(
        failed
            .iter()
            .all(|d| d["last_attempt"]["status_code"] == 508),
        "{failed:?}"
    );
    let (status, fetched) = app
        .rzp_json(Method::GET, &format!("/v1/payment_links/{id}"), None)
        .await;
    assert_eq!(status, 200, "the reset the webhook aimed at never ran");
    assert_eq!(fetched["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cannot_be_framed_or_sniffed_and_apis_send_no_wildcard_cors() {
    let app = TestApp::spawn().await;
    let (_, link) = app.create_payment_link(&json!({"amount": 1000})).await;
    for url in [
        link["short_url"].as_str().unwrap().to_string(),
        app.url("/razorpay/i/nosuchcode"),
        app.url("/"),
    ] {
        let r = app.client.get(&url).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{url}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        if !url.ends_with('/') {
            assert_eq!(h["x-frame-options"], "DENY", "{url}");
        }
    }
    let r = app
        .client
        .post(app.messages_url())
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_origin_may_call_the_apis_but_never_the_admin_api() {
    let mut config = test_config();
    config.server.cors_origins = vec!["https://app.example".into()];
    let app = TestApp::spawn_with(config).await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.messages_url())
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let admin = app
        .client
        .post(app.url("/__sandbox/clock/advance"))
        .header("origin", "https://app.example")
        .json(&json!({"seconds": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 403);
    assert!(admin.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_validated_never_coerced() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"amount": 5000.0}), "amount"),
        (json!({"amount": 5e3}), "amount"),
        (json!({"amount": 1e10}), "amount"),
        (json!({"amount": 5000, "expire_by": 4.1e9}), "expire_by"),
        (json!({"amount": 5000, "expire_by": u64::MAX}), "expire_by"),
    ] {
        let (status, v) = app.create_payment_link(&body).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(
            v["error"]["description"]
                .as_str()
                .unwrap()
                .contains("must be an integer")
                || v["error"]["description"]
                    .as_str()
                    .unwrap()
                    .contains("is out of range"),
            "{v}"
        );
    }
    let (_, v) = app.create_payment_link(&json!({"amount": 5000.0})).await;
    assert_eq!(v["error"]["description"], "The amount must be an integer.");

    let mut order = fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    order["interactive"]["action"]["parameters"]["total_amount"]["value"] = json!(21000.0);
    order["interactive"]["action"]["parameters"]["order"]["items"][0]["quantity"] = json!(2e0);
    let (status, v) = app.send_message_json(&order).await;
    assert_eq!(status, 400, "{v}");
    let pointers = detail_pointers(&v);
    assert!(
        pointers.contains(&"/interactive/action/parameters/total_amount/value".to_string())
            && pointers
                .contains(&"/interactive/action/parameters/order/items/0/quantity".to_string()),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_on_a_json_route_is_json_in_its_envelope() {
    let app = TestApp::spawn().await;
    let r = app
        .rzp(Method::GET, "/v1/payment_links/plink_%ff")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "BAD_REQUEST_ERROR");
    let r = app
        .qonto(Method::GET, "/v2/payment_links/%ff")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "not_found");
    let r = app
        .client
        .get(app.url("/__sandbox/whatsapp/orders/%ff"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"]["message"].is_string());
    let r = app
        .client
        .get(app.url(&format!("/whatsapp/v23.0/{PHONE_ID}/messages/%ff")))
        .send()
        .await
        .unwrap();
    assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_i64());

    let r = app
        .client
        .delete(app.url("/__sandbox/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
    let r = app
        .client
        .put(app.url("/__sandbox/scenario"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
}
