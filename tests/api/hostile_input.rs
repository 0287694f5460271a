//! The sandbox as an attacker meets it: every route of `/__sandbox/openapi.json`, aimed at one
//! tenant's objects with no credentials, wrong ones, another tenant's (in the header and in the
//! query), the app token everyone can form, a foreign `Host`, a foreign `Origin`, and bodies a web
//! page can send without a preflight; all at once, each with a timeout. Afterwards the server
//! must answer at once and the victim's state must be exactly what it was.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use crate::helpers::*;
use crate::receiver::{Behaviour, Receiver};
use attacks::{Attack, attacks, send};
use paylink_sandbox::config::Config;
use paylink_sandbox::providers::{
    qonto::config::{QontoOrganization, QontoToken},
    razorpay::config::RazorpayAccount,
    whatsapp::config::BusinessConfig,
};
use reqwest::Method;
use serde_json::{Value, json};

mod attacks;

const B_PHONE: &str = "106540352242999";
const B_WABA: &str = "102290129340999";
const B_TOKEN: &str = "EAAPaylinkSandboxTenantB00000000";
const B_RZP_KEY: &str = "rzp_test_TenantB00000001";
const B_RZP_SECRET: &str = "tenantBKeySecret";
const B_QONTO_LOGIN: &str = "tenant-b-org";
const B_QONTO_SECRET: &str = "tenantBQontoSecretKey";
const B_QONTO_TOKEN: &str = "qonto_tenant_b_token";
const APP_TOKEN: &str = "1185200386128462|paylink-sandbox-app-secret";
const PER_REQUEST: Duration = Duration::from_secs(5);

/// Two tenants per provider, configured (`with_b`), or only the victim with
/// `--accept-any-credentials` so the attacker's credentials make a tenant of their own.
fn config(with_b: bool) -> Config {
    let mut config = test_config();
    config.clock.frozen = true;
    config.webhooks.timeout = paylink_sandbox::clock::Span(Duration::from_millis(500));
    if !with_b {
        config.server.accept_any_credentials = true;
        return config;
    }
    config.providers.whatsapp.businesses.push(BusinessConfig {
        phone_number_id: B_PHONE.into(),
        waba_id: B_WABA.into(),
        access_token: B_TOKEN.into(),
        display_phone_number: "15550783999".into(),
        ..BusinessConfig::default()
    });
    config.providers.razorpay.accounts.push(RazorpayAccount {
        key_id: B_RZP_KEY.into(),
        key_secret: B_RZP_SECRET.into(),
        account_id: "acc_TenantB0000001".into(),
        ..RazorpayAccount::default()
    });
    config
        .providers
        .qonto
        .organizations
        .push(QontoOrganization {
            login: B_QONTO_LOGIN.into(),
            secret_key: B_QONTO_SECRET.into(),
            organization_id: "0199a1c2-7d3e-7f00-9a11-5a0d1b0cbbb1".into(),
            membership_id: "0199a1c2-7d3e-7f00-9a11-5a0d1b0cbbb2".into(),
            tokens: vec![QontoToken {
                token: B_QONTO_TOKEN.into(),
                scopes: vec![
                    "payment_link.read".into(),
                    "payment_link.write".into(),
                    "webhook".into(),
                ],
            }],
            ..QontoOrganization::default()
        });
    config
}

/// The victim's objects, named in the paths the attacker aims at.
struct Victim {
    rzp_link: String,
    rzp_code: String,
    qonto_link: String,
    qonto_subscription: String,
    qonto_connect_token: String,
    delivery: String,
}

async fn set_up_victim(app: &TestApp, receiver: &Receiver) -> Victim {
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps")))
        .bearer_auth(TOKEN)
        .json(&json!({"override_callback_uri": format!("{}/wa", receiver.url), "verify_token": "a-verify"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let mut order = fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("VICTIM-1");
    let (status, v) = app.send_message_json(&order).await;
    assert_eq!(status, 200, "{v}");

    let (status, link) = app
        .create_payment_link(&json!({"amount": 5000, "reference_id": "VICTIM-RZP"}))
        .await;
    assert_eq!(status, 200, "{link}");
    let (status, v) = app
        .admin_put(
            "/razorpay/webhook",
            &json!({"key_id": RZP_KEY, "url": format!("{}/rzp", receiver.url)}),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    let (status, sub) = app
        .qonto_json(
            Method::POST,
            "/v2/webhook_subscriptions",
            Some(&json!({"callback_url": format!("{}/qonto", receiver.url), "types": ["v1/payment-links"]})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let (status, qlink) = app
        .create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false, "items": [
                {"title": "Tea", "quantity": 1, "unit_price": {"value": "5.00", "currency": "EUR"}, "vat_rate": "0", "type": "good"}]}}))
        .await;
    assert_eq!(status, 201, "{qlink}");
    let (_, connection) = app
        .qonto_json(Method::GET, "/v2/payment_links/connections", None)
        .await;
    // The victim's webhooks settle before the snapshot, so only the attack can change them.
    let deliveries = wait_for("the victim's deliveries to settle", 10, || async {
        let d = app.deliveries(&format!("?tenant={}", qonto_login())).await;
        d.iter().all(|d| d["status"] == "delivered").then_some(d)
    })
    .await;
    Victim {
        rzp_link: link["id"].as_str().unwrap().to_string(),
        rzp_code: link["short_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
        qonto_link: qlink["payment_link"]["id"].as_str().unwrap().to_string(),
        qonto_subscription: sub["id"].as_str().unwrap().to_string(),
        qonto_connect_token: connection["connection_location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
        delivery: deliveries[0]["id"].as_str().unwrap().to_string(),
    }
}

fn qonto_login() -> &'static str {
    QONTO_KEY.split(':').next().unwrap()
}

/// Everything of the victim's an attacker could want to change, read through the admin API and
/// the victim's own credentials.
async fn victim_state(app: &TestApp) -> Value {
    let mut state = serde_json::Map::new();
    for path in [
        format!("/whatsapp/messages?phone_number_id={PHONE_ID}"),
        format!("/whatsapp/orders?phone_number_id={PHONE_ID}"),
        format!("/razorpay/payment_links?key_id={RZP_KEY}"),
        format!("/razorpay/webhook?key_id={RZP_KEY}"),
        format!("/qonto/payment_links?login={}", qonto_login()),
        format!("/webhooks?tenant={PHONE_ID}"),
        format!("/webhooks?tenant={RZP_KEY}"),
        format!("/webhooks?tenant={}", qonto_login()),
        "/clock".to_string(),
        "/scenario".to_string(),
        "/faults".to_string(),
    ] {
        let (status, mut v) = app.admin_get(&path).await;
        assert_eq!(status, 200, "{path}: {v}");
        // Jobs the attacker's own tenant scheduled (its links' expiries) are not the victim's.
        if let Some(clock) = v.as_object_mut() {
            clock.remove("pending_jobs");
        }
        state.insert(path, v);
    }
    let subscribed: Value = app
        .client
        .get(app.url(&format!("/whatsapp/v23.0/{WABA_ID}/subscribed_apps")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state.insert("subscribed_apps".into(), subscribed);
    for path in ["/v2/webhook_subscriptions", "/v2/payment_links/connections"] {
        let (_, v) = app.qonto_json(Method::GET, path, None).await;
        state.insert(path.to_string(), v);
    }
    Value::Object(state)
}

/// Every (method, path) the OpenAPI document lists.
async fn routes(app: &TestApp) -> Vec<(Method, String)> {
    let (_, doc) = app.admin_get("/openapi.json").await;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    out
}

/// Sends every attack, 32 at a time; what was mishandled, and how long it all took.
async fn fire(app: &TestApp, attacks: &[Attack]) -> (BTreeMap<String, String>, Duration) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = Arc::new(app.base.clone());
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for attack in attacks.iter().cloned() {
        let (client, base, limit) = (client.clone(), base.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let outcome = send(&client, &base, &attack).await;
            (attack, outcome)
        });
    }
    let mut failures = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (attack, outcome) = joined.unwrap();
        if let Err(why) = outcome {
            failures.insert(
                format!("{} {} [{}]", attack.method, attack.path, attack.case),
                why,
            );
        }
    }
    let elapsed = started.elapsed();

    (failures, elapsed)
}

/// The victim's state is what it was; none of its webhooks reached the attacker, before or after
/// its own scheduled ones are sent.
async fn assert_untouched(
    app: &TestApp,
    before: &Value,
    victim: &Victim,
    victim_hooks: &Receiver,
    attacker_hooks: &Receiver,
) {
    let after = victim_state(app).await;
    for (key, value) in before.as_object().unwrap() {
        assert_eq!(
            &after[key], value,
            "the victim's {key} changed under attack"
        );
    }
    // The attacker's own tenant may have sent itself webhooks; none may be about the victim.
    let victim_marks = [
        PHONE_ID.to_string(),
        WABA_ID.to_string(),
        "acc_PaylinkSandbox01".to_string(),
        "0199a1c2-7d3e-7f00-9a11-5a0d1b0c0001".to_string(),
        victim.rzp_link.clone(),
        victim.qonto_link.clone(),
    ];
    let leaked = |posts: Vec<crate::receiver::Received>| {
        posts
            .into_iter()
            .filter(|p| {
                let body = String::from_utf8_lossy(&p.body);
                victim_marks.iter().any(|m| body.contains(m.as_str()))
            })
            .count()
    };
    assert_eq!(
        leaked(attacker_hooks.posts()),
        0,
        "the victim's webhooks reached the attacker"
    );
    // The victim's own webhooks still reach the victim, and only the victim.
    app.advance("2s").await;
    victim_hooks.wait_posts(3, 10).await;
    assert_eq!(
        leaked(attacker_hooks.posts()),
        0,
        "the victim's webhooks reached the attacker"
    );
}

async fn run_matrix(with_b: bool) {
    let app = TestApp::spawn_with(config(with_b)).await;
    let victim_hooks = Receiver::start(Behaviour::Ok {
        verify_token: Some("a-verify".into()),
    })
    .await;
    let attacker_hooks = Receiver::start(Behaviour::Ok {
        verify_token: Some("b-verify".into()),
    })
    .await;
    let victim = set_up_victim(&app, &victim_hooks).await;
    let before = victim_state(&app).await;

    let routes = routes(&app).await;
    let attacks = attacks(
        &routes,
        &victim,
        &format!("{}/b", attacker_hooks.url),
        app.addr.port(),
    );
    let (failures, elapsed) = fire(&app, &attacks).await;

    let health_started = std::time::Instant::now();
    let health = tokio::time::timeout(
        Duration::from_millis(100),
        app.client.get(app.url("/__sandbox/health")).send(),
    )
    .await;
    assert!(
        matches!(&health, Ok(Ok(r)) if r.status() == 200),
        "the server must still answer /__sandbox/health within 100 ms after the attack (took {:?})",
        health_started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were mishandled:\n{}",
        failures.len(),
        attacks.len(),
        failures
            .iter()
            .map(|(k, v)| format!("  {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_untouched(&app, &before, &victim, &victim_hooks, &attacker_hooks).await;
    eprintln!(
        "hostile input ({}): {} routes, {} requests in {:?}",
        if with_b {
            "two configured tenants"
        } else {
            "--accept-any-credentials"
        },
        routes.len(),
        attacks.len(),
        elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_lets_a_stranger_hang_the_server_or_touch_another_tenant() {
    run_matrix(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_any_credentials_accepted_strangers_still_only_reach_their_own_tenant() {
    run_matrix(false).await;
}
