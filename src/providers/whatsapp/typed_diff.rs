//! The typed read of `order_details` ([`super::typed`]) against the full path (JSON tree, JSON
//! Schemas, rules): over every fixture and thousands of variants of the India orders (each node
//! removed or replaced by a hostile value, unknown keys added, arrays grown), whenever the typed
//! read accepts a body, the full path must find it valid too and make the same order, recipient,
//! warnings and callback data of it. The typed read may give up on valid bodies; it must never
//! accept one the full path refuses.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::checked::{Checked, Context};
use crate::schema::Schemas;

const NOW: i64 = 1_750_000_000;

fn hostile() -> Vec<Value> {
    let mut values = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1),
        json!(2),
        json!(100),
        json!(1.5),
        json!(100.0),
        serde_json::from_str("1e2").unwrap_or_default(),
        json!(9_007_199_254_740_991_i64),
        json!(9_007_199_254_740_992_i64),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(NOW + 299),
        json!(NOW + 300),
        json!((NOW + 300).to_string()),
        json!([]),
        json!({}),
        json!(["web"]),
        json!(["upi", "web"]),
        json!(["web", "web"]),
        json!(["upi", "web", "upi"]),
    ];
    for n in [1, 2, 3, 35, 36, 60, 61, 120, 121, 240, 241, 512, 513, 1024, 1025] {
        values.push(json!("a".repeat(n)));
        values.push(json!("é".repeat(n)));
    }
    for s in [
        "", "x", "upi", "web", "pending", "INR", "BRL", "whatsapp", "individual", "group",
        "interactive", "order_details", "review_and_pay", "payment_link", "payment_gateway",
        "upi_intent_link", "razorpay", "payu", "billdesk", "stripe", "physical-goods",
        "digital-goods", "quick_pay", "image", "text", "IN", "in", "I1", "ref.1_2-3", "ref 1",
        "ref/1", "https://a.example/x", "https://a.example/x y", "https://a.example/%zz",
        "https://a.example/%41", "https://a.example/%4", "http://a.example:8080/p?q=1#f",
        "http://a.example:123456/", "https://a.example/#a#b", "https://[::1]/",
        "ftp://a.example/", "https://a.example/ü", "https://", "https://a.example:x/",
        "https://user@a.example/", "https://a.example/p|q", "https://a.example/p\\q",
        "4102444800", "0", "-1", "1234567890123", "00000000001", "1e3", "+91 98765 43210",
        "919876543210", "+91+98765", "12-34", "1234", "123456789012345678",
    ] {
        values.push(json!(s));
    }
    values
}

/// Every JSON pointer in `v`.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        _ => {}
    }
}

fn split(pointer: &str) -> (&str, String) {
    let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    (parent, last.replace("~1", "/").replace("~0", "~"))
}

fn remove(base: &Value, pointer: &str) -> Value {
    let mut v = base.clone();
    let (parent, key) = split(pointer);
    match v.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.shift_remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = key.parse::<usize>() {
                items.remove(i);
            }
        }
        _ => {}
    }
    v
}

/// The variants of `base`: each node removed, each node replaced by each hostile value, an
/// unknown key in each object, each array grown by a copy of its first item.
fn variants(base: &Value) -> Vec<Value> {
    let mut at = Vec::new();
    pointers(base, "", &mut at);
    let values = hostile();
    let mut out = vec![base.clone()];
    for p in &at {
        out.push(remove(base, p));
        for value in &values {
            let mut v = base.clone();
            if let Some(node) = v.pointer_mut(p) {
                *node = value.clone();
            }
            out.push(v);
        }
    }
    for p in std::iter::once(String::new()).chain(at) {
        let mut v = base.clone();
        match v.pointer_mut(&p) {
            Some(Value::Object(map)) => {
                map.insert("zz".into(), json!(1));
            }
            Some(Value::Array(items)) if !items.is_empty() => {
                let first = items[0].clone();
                items.push(first);
            }
            _ => continue,
        }
        out.push(v);
    }
    out
}

fn fixtures() -> Vec<(String, Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/whatsapp");
    let mut out = Vec::new();
    for dir in ["valid", "invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("fixture");
            let value = serde_json::from_str(&text).expect("fixture JSON");
            out.push((f.display().to_string(), value));
        }
    }
    out
}

/// Compares the two paths on one body; `true` when the typed read accepted it.
fn same(schemas: &Schemas, body: &Value, ctx: &Context<'_>, what: &str) -> bool {
    let text = serde_json::to_string(body).expect("serialise");
    let Some(typed) = super::typed::order_details(&text, ctx) else {
        return false;
    };
    let mut tree = body.clone();
    let full: Checked = super::rules::check(schemas, &mut tree, ctx);
    assert!(
        full.violations.is_empty(),
        "{what}: the typed read accepted a body the full path refuses: {:?}\n{body}",
        full.violations
    );
    assert_eq!(typed.kind, full.kind, "{what}: kind\n{body}");
    assert_eq!(typed.recipient, full.recipient, "{what}: recipient\n{body}");
    assert_eq!(
        format!("{:?}", typed.order),
        format!("{:?}", full.order),
        "{what}: order\n{body}"
    );
    assert_eq!(typed.warnings, full.warnings, "{what}: warnings\n{body}");
    assert_eq!(typed.callback_data, full.callback_data, "{what}: callback data\n{body}");
    assert!(typed.status.is_none() && matches!(typed.intent, super::checked::Intent::Send));
    true
}

#[test]
fn the_typed_read_never_accepts_what_the_full_path_refuses() {
    let schemas = Schemas::load();
    let names = vec!["main".to_string()];
    let mut checked = 0;
    let mut accepted = 0;
    for require in [true, false] {
        let ctx = Context {
            now_secs: NOW,
            require_messaging_product: require,
            configuration_names: Some(&names),
        };
        for (file, base) in fixtures() {
            let india = file.contains("valid/order_details-in");
            let bodies = if india && require {
                variants(&base)
            } else {
                vec![base]
            };
            for body in &bodies {
                checked += 1;
                accepted += usize::from(same(&schemas, body, &ctx, &file));
            }
        }
    }
    eprintln!("the typed read accepted {accepted} of {checked} bodies");
    // Not vacuous: the typed read takes a good share of the valid variants.
    assert!(checked > 20_000, "{checked} bodies");
    assert!(accepted > 1_000, "the typed read accepted only {accepted} of {checked} bodies");
}

#[test]
fn the_typed_read_takes_the_common_orders_and_warns_as_the_full_path() {
    let schemas = Schemas::load();
    let names = vec!["other".to_string()];
    let ctx = Context {
        now_secs: NOW,
        require_messaging_product: true,
        configuration_names: Some(&names),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/whatsapp/valid");
    for name in ["order_details-in-payment_link.json", "order_details-in-payment_gateway.json"] {
        let text = std::fs::read_to_string(root.join(name)).expect("fixture");
        let mut body: Value = serde_json::from_str(&text).expect("JSON");
        assert!(same(&schemas, &body, &ctx, name), "{name} goes the full way");
        // Above the UPI cap, with an unknown configuration: two warnings, the same on both paths.
        if name.contains("gateway") {
            let typed = super::typed::order_details(&text, &ctx).expect("typed");
            assert_eq!(typed.warnings.len(), 1, "{:?}", typed.warnings);
            body["interactive"]["action"]["parameters"]["payment_settings"][0]["payment_gateway"]
                .as_object_mut()
                .expect("gateway")
                .remove("enabled_payment_options");
            assert!(same(&schemas, &body, &ctx, name));
        }
    }
}
