//! Property tests of every provider's validators, through the real server: valid requests with a
//! few of their nodes replaced by what careless and hostile clients send (floats, exponents,
//! negatives, huge numbers, numeric strings, nulls, empty and deep containers), removed, or joined
//! by unknown keys. Whatever comes in, the server never answers 5xx, keeps serving, and every
//! rejection names the fields it refuses.
//!
//! `PROPTEST_CASES` sets the cases per property (default 256); CI runs the default.

use std::sync::LazyLock;

use crate::helpers::*;
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
});

/// One server for all cases, with a frozen clock so nothing happens between them but the cases.
static APP: LazyLock<TestApp> = LazyLock::new(|| {
    let mut config = test_config();
    config.clock.frozen = true;
    // An organization that never connected, so a connection request is judged on its body alone.
    config.providers.qonto.organizations.push(
        paylink_sandbox::providers::qonto::config::QontoOrganization {
            login: "unconnected-org".into(),
            secret_key: "unconnectedSecret".into(),
            connection: paylink_sandbox::providers::qonto::config::StartConnection::NotConnected,
            tokens: Vec::new(),
            ..Default::default()
        },
    );
    RUNTIME.block_on(TestApp::spawn_with(config))
});

/// What a careless or hostile client sends where something else belongs.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(5000.0)),
        Just(json!(5e3)),
        Just(json!(1e10)),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(0.5)),
        Just(json!(-0.0)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(9_007_199_254_740_993_u64)),
        Just(json!("5000")),
        Just(json!("5e3")),
        Just(json!("")),
        Just(json!("x".repeat(5000))),
        Just(json!("१२३")),
        Just(Value::Null),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[[[[[[[]]]]]]]])),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z0-9 ]{0,12}".prop_map(|s| json!(s)),
    ]
}

/// One change to a request body; `node` picks a node in pre-order (modulo their number).
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    AddKey(usize, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), hostile_value()).prop_map(|(n, v)| Edit::Replace(n, v)),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => (any::<usize>(), "[a-z_]{1,10}", hostile_value())
            .prop_map(|(n, k, v)| Edit::AddKey(n, k, v)),
    ]
}

/// Every node's JSON pointer, in pre-order (the root first).
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_string());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(body: &Value, edits: &[Edit]) -> Value {
    let mut body = body.clone();
    for e in edits {
        let mut all = Vec::new();
        pointers(&body, "", &mut all);
        let pick = |n: &usize| all[n % all.len()].clone();
        match e {
            Edit::Replace(n, v) => {
                let at = pick(n);
                if let Some(slot) = body.pointer_mut(&at) {
                    *slot = v.clone();
                }
            }
            Edit::Remove(n) => {
                let at = pick(n);
                if let Some((parent, key)) = at.rsplit_once('/')
                    && let Some(container) = body.pointer_mut(parent)
                {
                    let key = key.replace("~1", "/").replace("~0", "~");
                    match container {
                        Value::Object(m) => {
                            m.remove(&key);
                        }
                        Value::Array(a) => {
                            if let Ok(i) = key.parse::<usize>()
                                && i < a.len()
                            {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Edit::AddKey(n, k, v) => {
                let at = pick(n);
                if let Some(Value::Object(m)) = body.pointer_mut(&at) {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
    }
    body
}

/// Posts `body` and checks the answer: no 5xx, and a rejection names fields.
async fn check(
    method: Method,
    path: &str,
    auth: (&str, String),
    body: &Value,
    named: fn(&Value) -> Result<(), String>,
) -> Result<(), String> {
    let app = &*APP;
    let r = app
        .client
        .request(method, app.url(path))
        .header(auth.0, auth.1)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    if status >= 500 {
        return Err(format!("{status}: {text}"));
    }
    if status >= 400 {
        let v: Value =
            serde_json::from_str(&text).map_err(|_| format!("{status} is not JSON: {text}"))?;
        if body.is_object() {
            named(&v).map_err(|why| format!("{status} {why}: {text}"))?;
        }
    }
    Ok(())
}

/// Graph: `details` lists the violations, each starting with the pointer it is about.
fn graph_names_fields(v: &Value) -> Result<(), String> {
    let details = v["error"]["error_data"]["details"].as_str().unwrap_or("");
    // A missing messaging_product is named in Graph's own sentence, with no error_data.
    let named_in_message = v["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("messaging_product"));
    if details.starts_with('/') || named_in_message {
        Ok(())
    } else {
        Err(format!("details {details:?} name no field"))
    }
}

/// The gateway: `field` names the first problem; several are listed by pointer.
fn gateway_names_fields(v: &Value) -> Result<(), String> {
    let e = &v["error"];
    let described = e["description"].as_str().unwrap_or("");
    if e["field"].as_str().is_some_and(|f| !f.is_empty()) || described.starts_with('/') {
        Ok(())
    } else {
        Err("no field".into())
    }
}

/// Qonto: every error has a source pointer or parameter.
fn qonto_names_fields(v: &Value) -> Result<(), String> {
    let errors = v["errors"].as_array().ok_or("no errors array")?;
    for e in errors {
        if e["source"]["pointer"].as_str().is_none() && e["source"]["parameter"].as_str().is_none()
        {
            return Err(format!("error {e} names no field"));
        }
    }
    Ok(())
}

fn fixtures(dir: &str) -> Vec<Value> {
    let full = format!("{}/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&full)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn whatsapp_messages_never_break_the_server(which in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        LazyLock::force(&APP);
        let all = fixtures("whatsapp/valid");
        let body = apply(&all[which % all.len()], &edits);
        let path = format!("/whatsapp/v23.0/{PHONE_ID}/messages");
        let outcome = RUNTIME.block_on(check(Method::POST, &path, ("authorization", format!("Bearer {TOKEN}")), &body, graph_names_fields));
        prop_assert!(outcome.is_ok(), "{body}\n{}", outcome.unwrap_err());
    }

    #[test]
    fn gateway_links_never_break_the_server(update in any::<bool>(), edits in prop::collection::vec(edit(), 1..4)) {
        let valid = json!({"amount": 21000, "currency": "INR", "accept_partial": true, "first_min_partial_amount": 1000,
            "expire_by": 4_102_444_800_i64, "reference_id": "P-1", "description": "x",
            "customer": {"name": "A", "email": "a@example.com", "contact": "+919876543210"},
            "notify": {"sms": true, "email": false}, "reminder_enable": true, "notes": {"k": "v"},
            "callback_url": "https://shop.example/cb", "callback_method": "get"});
        let body = apply(&valid, &edits);
        let auth = ("authorization", basic(RZP_KEY, RZP_SECRET));
        LazyLock::force(&APP);
        let outcome = RUNTIME.block_on(async {
            if update {
                let (_, link) = APP.create_payment_link(&json!({"amount": 1000})).await;
                let path = format!("/razorpay/v1/payment_links/{}", link["id"].as_str().unwrap_or(""));
                check(Method::PATCH, &path, auth, &body, gateway_names_fields).await
            } else {
                check(Method::POST, "/razorpay/v1/payment_links", auth, &body, gateway_names_fields).await
            }
        });
        prop_assert!(outcome.is_ok(), "{body}\n{}", outcome.unwrap_err());
    }

    #[test]
    fn qonto_requests_never_break_the_server(which in 0usize..4, edits in prop::collection::vec(edit(), 1..4)) {
        let (path, valid) = [
            ("/qonto/v2/payment_links", json!({"payment_link": {"potential_payment_methods": ["credit_card", "paypal"], "reusable": false,
                "redirect_url": "https://shop.example/thanks",
                "items": [{"title": "Tea", "quantity": 2, "unit_price": {"value": "10.99", "currency": "EUR"}, "vat_rate": "21.0", "type": "good"}]}})),
            ("/qonto/v2/payment_links", json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
                "invoice_id": "0199a1c2-7d3e-7f00-9a11-5a0d1b0c9999", "invoice_number": "INV-1", "debitor_name": "A",
                "amount": {"value": "12.50", "currency": "EUR"}}})),
            ("/qonto/v2/webhook_subscriptions", json!({"callback_url": "https://hooks.example/q", "types": ["v1/payment-links"], "description": "d"})),
            ("/qonto/v2/payment_links/connections", json!({"partner_callback_url": "https://partner.example/back",
                "user_bank_account_id": "46e9e0d2-f1af-4d2e-a6be-a536a604b89e", "user_phone_number": "+33612345678",
                "business_description": "An eighty-character description of what this business sells to its many customers."})),
        ][which].clone();
        let body = apply(&valid, &edits);
        LazyLock::force(&APP);
        let key = if which == 3 { "unconnected-org:unconnectedSecret" } else { QONTO_KEY };
        let outcome = RUNTIME.block_on(check(Method::POST, path, ("authorization", key.to_string()), &body, qonto_names_fields));
        prop_assert!(outcome.is_ok(), "{body}\n{}", outcome.unwrap_err());
    }

    #[test]
    fn list_parameters_never_break_the_server(
        name in prop_oneof![Just("count"), Just("skip"), Just("from"), Just("to"), Just("page"), Just("per_page"), Just("status[]"), Just("sort_by")],
        value in prop_oneof![Just("5.0".to_string()), Just("5e3".to_string()), Just("-1".to_string()),
            Just("99999999999999999999999".to_string()), Just("%ff".to_string()), Just(String::new()), "[ -~]{0,12}"],
    ) {
        let app = &*APP;
        let outcome = RUNTIME.block_on(async {
            for (path, auth) in [("/razorpay/v1/payment_links", basic(RZP_KEY, RZP_SECRET)), ("/qonto/v2/payment_links", QONTO_KEY.to_string())] {
                let url = format!("{}?{name}={}", app.url(path), value.replace('&', "%26").replace('#', "%23"));
                let r = app.client.get(&url).header("authorization", auth).send().await.map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                if status >= 500 || (status >= 400 && serde_json::from_str::<Value>(&text).is_err()) {
                    return Err(format!("{path}: {status} {text}"));
                }
            }
            Ok::<_, String>(())
        });
        prop_assert!(outcome.is_ok(), "{name}={value}: {}", outcome.unwrap_err());
    }
}

#[test]
fn the_server_still_answers_after_every_property() {
    let app = &*APP;
    let status = RUNTIME.block_on(async {
        app.client
            .get(app.url("/__sandbox/health"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));
}
