//! Message templates: the registry (config, embedded defaults, Graph's management endpoints) and
//! the synchronous checks of a template send.

use serde_json::{Value, json};

use crate::helpers::{PHONE_ID, TOKEN, TestApp, test_config};

const WABA_ID: &str = "102290129340398";

async fn templates_call(
    app: &TestApp,
    method: reqwest::Method,
    body: Option<Value>,
    query: &str,
) -> (u16, Value) {
    let mut r = app
        .client
        .request(
            method,
            app.url(&format!(
                "/whatsapp/v23.0/{WABA_ID}/message_templates{query}"
            )),
        )
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn template_send(name: &str, body_params: &[&str]) -> Value {
    let params: Vec<Value> = body_params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "template",
        "template": {"name": name, "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": params}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_listed_and_created_through_graph() {
    let app = TestApp::spawn().await;
    let (code, list) = templates_call(&app, reqwest::Method::GET, None, "").await;
    assert_eq!(code, 200, "{list}");
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"order_reminder") && names.contains(&"hello_world"),
        "{names:?}"
    );
    let (_, one) = templates_call(&app, reqwest::Method::GET, None, "?name=order_reminder").await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["status"], "APPROVED");

    let (code, made) = templates_call(
        &app,
        reqwest::Method::POST,
        Some(
            json!({"name": "delivery_update", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Order {{1}} arrives on {{2}}."}]}),
        ),
        "",
    )
    .await;
    assert_eq!(code, 200, "{made}");
    assert_eq!(made["status"], "APPROVED");
    assert!(
        made["id"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    let (code, again) = templates_call(
        &app,
        reqwest::Method::POST,
        Some(
            json!({"name": "delivery_update", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "x"}]}),
        ),
        "",
    )
    .await;
    assert_eq!(code, 400, "{again}");
    let (code, bad) = templates_call(
        &app,
        reqwest::Method::POST,
        Some(
            json!({"name": "Bad Name", "language": "en_US", "category": "NEWS", "components": []}),
        ),
        "",
    )
    .await;
    assert_eq!(code, 400);
    let details = bad["error"]["error_data"]["details"].as_str().unwrap();
    for pointer in ["/name", "/category", "/components"] {
        assert!(details.contains(pointer), "{pointer} in {details}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_sends_are_checked_synchronously_and_answered_accepted() {
    let app = TestApp::spawn().await;
    let (code, made) = templates_call(
        &app,
        reqwest::Method::POST,
        Some(
            json!({"name": "delivery_update", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Order {{1}} arrives on {{2}}."}]}),
        ),
        "",
    )
    .await;
    assert_eq!(code, 200, "{made}");
    let (code, sent) = app
        .send_message_json(&template_send("delivery_update", &["A-1", "Friday"]))
        .await;
    assert_eq!(code, 200, "{sent}");
    assert_eq!(sent["messages"][0]["message_status"], "accepted");
    let messages = app.admin_messages().await;
    assert_eq!(
        messages.last().unwrap()["rendered"],
        "Order A-1 arrives on Friday.",
        "kept as the customer reads it, for the dashboard"
    );

    let (code, unknown) = app
        .send_message_json(&template_send("delivery_updte", &[]))
        .await;
    assert_eq!(code, 400);
    assert_eq!(unknown["error"]["code"], 132_001, "{unknown}");
    assert_eq!(
        unknown["error"]["message"],
        "(#132001) Template name does not exist in the translation"
    );
    let (code, count) = app
        .send_message_json(&template_send("delivery_update", &["only one"]))
        .await;
    assert_eq!(code, 400);
    assert_eq!(count["error"]["code"], 132_000, "{count}");

    // A text send answers without message_status.
    let (_, text) = app
        .send_message_json(&crate::helpers::text_message("919876543210", "hi"))
        .await;
    assert!(
        text["messages"][0].get("message_status").is_none(),
        "{text}"
    );
    let _ = PHONE_ID;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_templates_replace_the_defaults_and_their_status_counts() {
    let mut config = test_config();
    config.providers.whatsapp.templates = serde_json::from_value(json!([
        {"name": "paused_one", "language": "en_US", "status": "PAUSED",
         "components": [{"type": "BODY", "text": "Hi"}]},
        {"name": "pending_one", "language": "en_US", "status": "PENDING",
         "components": [{"type": "BODY", "text": "Hi"}]},
    ]))
    .unwrap();
    let app = TestApp::spawn_with(config).await;
    let (_, paused) = app
        .send_message_json(&template_send("paused_one", &[]))
        .await;
    assert_eq!(paused["error"]["code"], 132_015, "{paused}");
    let (_, pending) = app
        .send_message_json(&template_send("pending_one", &[]))
        .await;
    assert_eq!(pending["error"]["code"], 132_001, "{pending}");
    let (_, gone) = app
        .send_message_json(&template_send("hello_world", &[]))
        .await;
    assert_eq!(
        gone["error"]["code"], 132_001,
        "the defaults were replaced: {gone}"
    );
}
