//! The hostile requests: for each route, the credential cases of its provider, a foreign `Host`,
//! and for the admin API and the hosted forms, what a web page on another site can send.

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    APP_TOKEN, B_QONTO_LOGIN, B_QONTO_SECRET, B_QONTO_TOKEN, B_RZP_KEY, B_RZP_SECRET, B_TOKEN,
    PER_REQUEST, Victim, qonto_login,
};
use crate::helpers::*;

/// One request of the matrix.
#[derive(Debug, Clone)]
pub(super) struct Attack {
    pub(super) case: &'static str,
    pub(super) method: Method,
    pub(super) path: String,
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
            "{phone_number_id}" | "{node_id}" => PHONE_ID.to_string(),
            "{waba_id}" => WABA_ID.to_string(),
            "{app_id}" => "1185200386128462".to_string(),
            "{configuration}" => "razorpay-sandbox".to_string(),
            "{reference_id}" => "VICTIM-1".to_string(),
            "{wa_id}" => "919876543210".to_string(),
            "{medium}" => "sms".to_string(),
            "{media_id}" => "1234567890123456".to_string(),
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

pub(super) fn attacks(
    routes: &[(Method, String)],
    victim: &Victim,
    hook: &str,
    port: u16,
) -> Vec<Attack> {
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
            if writes {
                out.extend(admin_attacks(method, &path, json_body.as_ref()));
            }
            continue;
        }
        let hosted_form = writes
            && (path.starts_with("/razorpay/i/")
                || path.starts_with("/qonto/pay/")
                || path.starts_with("/qonto/connect/"));
        if hosted_form {
            out.extend(form_attacks(method, &path));
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

/// A write to the admin API from a web page: a foreign `Origin`, with and without a body, a body
/// sent as `text/plain`, and a cross-site form post.
fn admin_attacks(method: &Method, path: &str, json_body: Option<&(String, String)>) -> Vec<Attack> {
    let text = json_body.map(|(_, b)| b.clone()).unwrap_or_default();
    let attack = |case, headers: Headers, body, expect| Attack {
        case,
        method: method.clone(),
        path: path.to_string(),
        headers,
        body,
        expect: vec![expect],
    };
    let foreign = || vec![("origin", "https://evil.example".to_string())];
    vec![
        attack(
            "foreign Origin",
            foreign(),
            Some(("application/json".into(), text.clone())),
            403,
        ),
        attack("bodiless call from a foreign Origin", foreign(), None, 403),
        attack(
            "text/plain (a no-preflight page post)",
            vec![],
            Some(("text/plain".into(), text)),
            415,
        ),
        attack(
            "a form post",
            vec![("sec-fetch-site", "cross-site".into())],
            Some(("application/x-www-form-urlencoded".into(), "a=1".into())),
            403,
        ),
    ]
}

/// A post to a hosted checkout or onboarding form without its page's token, with a made-up one,
/// and from another site.
fn form_attacks(method: &Method, path: &str) -> Vec<Attack> {
    let form = "method=card&outcome=success&status=paid&decision=refuse".to_string();
    [
        ("a form post without its page's token", vec![], form.clone()),
        (
            "a form post with a made-up token",
            vec![],
            format!("{form}&form_token=00ff"),
        ),
        (
            "a form post from another site",
            vec![("origin", "https://evil.example".to_string())],
            form,
        ),
    ]
    .into_iter()
    .map(|(case, headers, form)| Attack {
        case,
        method: method.clone(),
        path: path.to_string(),
        headers,
        body: Some(("application/x-www-form-urlencoded".into(), form)),
        expect: vec![403],
    })
    .collect()
}

/// Sends one attack; `Err` says what went wrong with it.
pub(super) async fn send(
    client: &reqwest::Client,
    base: &str,
    attack: &Attack,
) -> Result<(), String> {
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
