//! The sandbox as an attacker meets it: every route of `/__sandbox/openapi.json`, aimed at one
//! tenant's objects with no credentials, wrong ones, another tenant's (in the header and in the
//! query), the app token everyone can form, a foreign `Host`, a foreign `Origin`, and bodies a web
//! page can send without a preflight; all at once, each with a timeout. Afterwards the server
//! must answer at once and the victim's state must be exactly what it was.

mod common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use common::receiver::{Behaviour, Receiver};
use common::*;
use paylink_sandbox::config::{
    BusinessConfig, Config, QontoOrganization, QontoToken, RazorpayAccount,
};
use reqwest::Method;
use serde_json::{Value, json};

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
    config.whatsapp.businesses.push(BusinessConfig {
        phone_number_id: B_PHONE.into(),
        waba_id: B_WABA.into(),
        access_token: B_TOKEN.into(),
        display_phone_number: "15550783999".into(),
        ..BusinessConfig::default()
    });
    config.razorpay.accounts.push(RazorpayAccount {
        key_id: B_RZP_KEY.into(),
        key_secret: B_RZP_SECRET.into(),
        account_id: "acc_TenantB0000001".into(),
        ..RazorpayAccount::default()
    });
    config.qonto.organizations.push(QontoOrganization {
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
        .rzp_json(
            Method::POST,
            "/v1/payment_links",
            Some(&json!({"amount": 5000, "reference_id": "VICTIM-RZP"})),
        )
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
        .qonto_json(
            Method::POST,
            "/v2/payment_links",
            Some(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false, "items": [
                {"title": "Tea", "quantity": 1, "unit_price": {"value": "5.00", "currency": "EUR"}, "vat_rate": "0", "type": "good"}]}})),
        )
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

/// One request of the matrix.
#[derive(Debug, Clone)]
struct Attack {
    case: &'static str,
    method: Method,
    path: String,
    headers: Headers,
    body: Option<(String, String)>,
    /// Statuses the answer must have (empty: any but 5xx).
    expect: Vec<u16>,
}

/// The path of a route template with the victim's ids in it.
fn instantiate(template: &str, victim: &Victim) -> String {
    let mut out = String::new();
    let provider = template.split('/').nth(1).unwrap_or("");
    let qonto_subscriptions = template.contains("webhook_subscriptions");
    for segment in template.split('/').skip(1) {
        out.push('/');
        let value = match segment {
            "{version}" => "v23.0".to_string(),
            "{phone_number_id}" => PHONE_ID.to_string(),
            "{waba_id}" => WABA_ID.to_string(),
            "{app_id}" => "1185200386128462".to_string(),
            "{configuration}" => "razorpay-sandbox".to_string(),
            "{reference_id}" => "VICTIM-1".to_string(),
            "{wa_id}" => "919876543210".to_string(),
            "{medium}" => "sms".to_string(),
            "{code}" => victim.rzp_code.clone(),
            "{token}" => victim.qonto_connect_token.clone(),
            "{id}" if template.starts_with("/__sandbox/webhooks") => victim.delivery.clone(),
            "{id}" if template.contains("razorpay") => victim.rzp_link.clone(),
            "{id}" if qonto_subscriptions => victim.qonto_subscription.clone(),
            "{id}" => victim.qonto_link.clone(),
            other if other.starts_with('{') => panic!("no value for {other} in {template}"),
            other => other.to_string(),
        };
        out.push_str(&value);
    }
    let _ = provider;
    out
}

/// A body an attacker would send to this route, aimed at the attacker's own receiver.
fn body_for(method: &Method, path: &str, hook: &str) -> Option<Value> {
    if matches!(*method, Method::GET | Method::DELETE) {
        return None;
    }
    Some(
        if path.ends_with("/messages") && path.starts_with("/whatsapp") {
            json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "text", "text": {"body": "hi"}})
        } else if path.ends_with("/subscriptions") && path.starts_with("/whatsapp") {
            json!({"object": "whatsapp_business_account", "callback_url": hook, "verify_token": "b-verify", "fields": "messages"})
        } else if path.ends_with("/subscribed_apps") {
            json!({"override_callback_uri": hook, "verify_token": "b-verify"})
        } else if path == "/razorpay/v1/payment_links" {
            json!({"amount": 1000})
        } else if path.starts_with("/razorpay/v1/payment_links/") {
            json!({"notes": {"owner": "attacker"}, "expire_by": 0})
        } else if path.contains("webhook_subscriptions") {
            json!({"callback_url": hook, "types": ["v1/payment-links"]})
        } else if path == "/qonto/v2/payment_links" {
            json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false, "items": [
            {"title": "X", "quantity": 1, "unit_price": {"value": "1.00", "currency": "EUR"}, "vat_rate": "0", "type": "good"}]}})
        } else if path.ends_with("/connections") {
            json!({"partner_callback_url": hook, "user_bank_account_id": "46e9e0d2-f1af-4d2e-a6be-a536a604b89e"})
        } else if path.starts_with("/__sandbox/clock") {
            json!({"duration": "1h"})
        } else if path == "/__sandbox/razorpay/webhook" {
            json!({"key_id": RZP_KEY, "url": hook})
        } else if path == "/__sandbox/qonto/connection" {
            json!({"decision": "revoke"})
        } else if path.ends_with("/users/919876543210/messages") {
            json!({"text": "hi"})
        } else if path == "/__sandbox/faults" {
            json!({"requests": [{"provider": "razorpay", "error_rate": 1.0}]})
        } else if path == "/__sandbox/scenario" {
            json!({"whatsapp": {"statuses": ["failed"]}})
        } else {
            json!({})
        },
    )
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Request headers, as name and value.
type Headers = Vec<(&'static str, String)>;

/// The credential cases for a provider route: `(case, headers, extra query)`.
fn credential_cases(provider: &str) -> Vec<(&'static str, Headers, String)> {
    let auth = |v: String| vec![("authorization", v)];
    match provider {
        "whatsapp" => vec![
            ("no credentials", vec![], String::new()),
            (
                "wrong token",
                auth("Bearer EAAWrongToken".into()),
                String::new(),
            ),
            (
                "malformed header",
                auth("Basic Zm9vOmJhcg==".into()),
                String::new(),
            ),
            (
                "other tenant's token",
                auth(format!("Bearer {B_TOKEN}")),
                String::new(),
            ),
            (
                "other tenant's token in the query",
                vec![],
                format!("access_token={B_TOKEN}"),
            ),
            ("wrong token in the query", vec![], "access_token=x".into()),
            (
                "the app token",
                vec![],
                format!("access_token={}", APP_TOKEN.replace('|', "%7C")),
            ),
        ],
        "razorpay" => vec![
            ("no credentials", vec![], String::new()),
            ("wrong secret", auth(basic(RZP_KEY, "wrong")), String::new()),
            (
                "other tenant's key",
                auth(basic(B_RZP_KEY, B_RZP_SECRET)),
                String::new(),
            ),
            (
                "other tenant's key in the query",
                vec![],
                format!("key_id={B_RZP_KEY}&access_token={B_RZP_SECRET}"),
            ),
            (
                "lowercase scheme",
                auth(basic(RZP_KEY, RZP_SECRET).replacen("Basic", "basic", 1)),
                String::new(),
            ),
        ],
        "qonto" => vec![
            ("no credentials", vec![], String::new()),
            (
                "wrong secret",
                auth(format!("{}:wrong", qonto_login())),
                String::new(),
            ),
            (
                "other tenant's key",
                auth(format!("{B_QONTO_LOGIN}:{B_QONTO_SECRET}")),
                String::new(),
            ),
            (
                "other tenant's token",
                auth(format!("Bearer {B_QONTO_TOKEN}")),
                String::new(),
            ),
            (
                "other tenant's token in the query",
                vec![],
                format!("access_token={B_QONTO_TOKEN}"),
            ),
        ],
        _ => vec![],
    }
}

fn attacks(routes: &[(Method, String)], victim: &Victim, hook: &str, port: u16) -> Vec<Attack> {
    let mut out = Vec::new();
    for (method, template) in routes {
        let path = instantiate(template, victim);
        let provider = path.split('/').nth(1).unwrap_or("").to_string();
        let json_body =
            body_for(method, &path, hook).map(|b| ("application/json".to_string(), b.to_string()));
        // Every route: a host name the sandbox does not serve (a DNS-rebinding page).
        out.push(Attack {
            case: "foreign Host",
            method: method.clone(),
            path: path.clone(),
            headers: vec![("host", format!("evil.example:{port}"))],
            body: json_body.clone(),
            expect: vec![403],
        });
        let writes = !matches!(*method, Method::GET | Method::HEAD);
        if provider == "__sandbox" {
            if !writes {
                continue;
            }
            let text = json_body
                .as_ref()
                .map(|(_, b)| b.clone())
                .unwrap_or_default();
            out.push(Attack {
                case: "foreign Origin",
                method: method.clone(),
                path: path.clone(),
                headers: vec![("origin", "https://evil.example".into())],
                body: Some(("application/json".into(), text.clone())),
                expect: vec![403],
            });
            out.push(Attack {
                case: "bodiless call from a foreign Origin",
                method: method.clone(),
                path: path.clone(),
                headers: vec![("origin", "https://evil.example".into())],
                body: None,
                expect: vec![403],
            });
            out.push(Attack {
                case: "text/plain (a no-preflight page post)",
                method: method.clone(),
                path: path.clone(),
                headers: vec![],
                body: Some(("text/plain".into(), text)),
                expect: vec![415],
            });
            out.push(Attack {
                case: "a form post",
                method: method.clone(),
                path: path.clone(),
                headers: vec![("sec-fetch-site", "cross-site".into())],
                body: Some(("application/x-www-form-urlencoded".into(), "a=1".into())),
                expect: vec![403],
            });
            continue;
        }
        let hosted_form = writes
            && (path.starts_with("/razorpay/i/")
                || path.starts_with("/qonto/pay/")
                || path.starts_with("/qonto/connect/"));
        if hosted_form {
            let form = "method=card&outcome=success&status=paid&decision=refuse".to_string();
            for (case, headers, form) in [
                ("a form post without its page's token", vec![], form.clone()),
                (
                    "a form post with a made-up token",
                    vec![],
                    format!("{form}&form_token=00ff"),
                ),
                (
                    "a form post from another site",
                    vec![("origin", "https://evil.example".to_string())],
                    form.clone(),
                ),
            ] {
                out.push(Attack {
                    case,
                    method: method.clone(),
                    path: path.clone(),
                    headers,
                    body: Some(("application/x-www-form-urlencoded".into(), form)),
                    expect: vec![403],
                });
            }
            continue;
        }
        for (case, headers, query) in credential_cases(&provider) {
            let path = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            out.push(Attack {
                case,
                method: method.clone(),
                path,
                headers,
                body: json_body.clone(),
                expect: vec![],
            });
        }
    }
    out
}

/// Sends one attack; `Err` says what went wrong with it.
async fn send(client: &reqwest::Client, base: &str, attack: &Attack) -> Result<(), String> {
    let mut request = client.request(attack.method.clone(), format!("{base}{}", attack.path));
    for (name, value) in &attack.headers {
        request = request.header(*name, value);
    }
    if let Some((content_type, body)) = &attack.body {
        request = request
            .header("content-type", content_type)
            .body(body.clone());
    }
    let streaming = attack.path.starts_with("/__sandbox/events");
    let exchange = async {
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = if streaming && status == 200 {
            String::new()
        } else {
            response.text().await.map_err(|e| e.to_string())?
        };
        Ok::<_, String>((status, content_type, body))
    };
    let (status, content_type, body) = tokio::time::timeout(PER_REQUEST, exchange)
        .await
        .map_err(|_| "no answer within 5 s".to_string())??;
    if status >= 500 {
        return Err(format!("answered {status}: {body}"));
    }
    if !attack.expect.is_empty() && !attack.expect.contains(&status) {
        return Err(format!(
            "answered {status}, expected {:?}: {body}",
            attack.expect
        ));
    }
    let html_page = attack.path.starts_with("/razorpay/i/")
        || attack.path.starts_with("/qonto/pay/")
        || attack.path.starts_with("/qonto/connect/")
        || attack.path == "/"
        || attack.path.starts_with("/ui/")
        || attack.path == "/favicon.ico";
    if status >= 400 && !html_page && !content_type.starts_with("application/json") {
        return Err(format!(
            "answered {status} as {content_type:?}, not JSON: {body}"
        ));
    }
    Ok(())
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
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = Arc::new(app.base.clone());
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for attack in attacks.clone() {
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
    let after = victim_state(&app).await;
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
    let leaked = |posts: Vec<common::receiver::Received>| {
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
