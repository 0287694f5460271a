//! `GET /__sandbox/openapi.json`: an OpenAPI 3.1 document of every emulated route and every
//! admin route, built from the same route tables the routers are checked against, with the
//! request schemas the sandbox validates with.

use serde_json::{Map, Value, json};

use crate::app::Sandbox;
use crate::providers::{qonto, razorpay, whatsapp};

/// Route tables and where each is mounted: (mount prefix, tag, routes).
/// A route table: `(method, path)` pairs.
pub type Routes = &'static [(&'static str, &'static str)];

pub fn tables() -> Vec<(&'static str, &'static str, Routes)> {
    vec![
        ("/whatsapp", "whatsapp", whatsapp::ROUTES),
        ("/razorpay", "razorpay", razorpay::ROUTES),
        ("/qonto", "qonto", qonto::ROUTES),
        ("/__sandbox", "admin", super::ROUTES),
        (
            "/__sandbox/whatsapp",
            "admin: whatsapp",
            whatsapp::ADMIN_ROUTES,
        ),
        (
            "/__sandbox/razorpay",
            "admin: razorpay",
            razorpay::ADMIN_ROUTES,
        ),
        ("/__sandbox/qonto", "admin: qonto", qonto::ADMIN_ROUTES),
        ("", "dashboard", crate::ui::ROUTES),
    ]
}

/// The request schema a route validates its body with, if any.
fn schema_of(tag: &str, method: &str, path: &str) -> Option<&'static str> {
    Some(match (tag, method, path) {
        ("whatsapp", "POST", p) if p.ends_with("/messages") => "whatsapp/message.send.request",
        ("razorpay", "POST", "/v1/payment_links") => "razorpay/payment_link.create.request",
        ("razorpay", "PATCH", "/v1/payment_links/{id}") => "razorpay/payment_link.update.request",
        ("qonto", "POST", "/v2/payment_links/connections") => "qonto/connection.create.request",
        ("qonto", "POST", "/v2/payment_links") => "qonto/payment_link-basket.create.request",
        ("qonto", "POST", "/v2/webhook_subscriptions") => {
            "qonto/webhook_subscription.create.request"
        }
        ("qonto", "PUT", "/v2/webhook_subscriptions/{id}") => {
            "qonto/webhook_subscription.update.request"
        }
        _ => return None,
    })
}

fn component_name(schema_id: &str) -> String {
    schema_id.replace('/', ".")
}

pub fn document(sandbox: &Sandbox) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (mount, tag, routes) in tables() {
        for (method, path) in routes {
            let full = format!("{mount}{path}");
            let params: Vec<Value> = full
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            let mut op = json!({
                "tags": [tag],
                "operationId": format!("{}{}", method.to_lowercase(), full.replace(['/', '{', '}', '.'], "_")),
                "summary": format!("{method} {full}"),
                "parameters": params,
                "responses": {"default": {"description": "The vendor's answer (or the admin API's JSON)"}},
            });
            if let Some(id) = schema_of(tag, method, path) {
                op["requestBody"] = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", component_name(id))}}}});
            }
            let item = paths.entry(full).or_insert_with(|| json!({}));
            item[method.to_lowercase()] = op;
        }
    }
    let mut schemas = Map::new();
    for id in sandbox.schemas.ids() {
        if let Some(s) = sandbox.schemas.source(id) {
            schemas.insert(component_name(id), s.clone());
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "paylink-sandbox",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Local emulation of the WhatsApp Cloud API payments surface, a Razorpay-style payment-links gateway and Qonto payment links, plus the sandbox's control API under /__sandbox.",
        },
        "servers": [{"url": sandbox.base_url}],
        "paths": Value::Object(paths),
        "components": {"schemas": Value::Object(schemas)},
    })
}
