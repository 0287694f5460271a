//! Meta's 24-hour customer-service window, on the sandbox clock: free-form and interactive
//! messages to a customer who has not written in 24 hours are accepted, then fail with 131047;
//! templates always go.

use serde_json::{Value, json};

use crate::helpers::{TestApp, order_details, text_message, webhook_config};
use crate::receiver::{Behaviour, Receiver};

fn statuses(receiver: &Receiver) -> Vec<(String, String, Option<i64>)> {
    receiver
        .posts()
        .iter()
        .filter_map(|p| {
            let s = p.json()["entry"][0]["changes"][0]["value"]["statuses"][0].clone();
            (!s.is_null()).then(|| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                    s["errors"][0]["code"].as_i64(),
                )
            })
        })
        .collect()
}

fn window_config(url: &str) -> paylink_sandbox::config::Config {
    let mut config = webhook_config(url);
    config.providers.whatsapp.customer_service_window = true;
    config.clock.frozen = true;
    config.clock.start = Some("2026-01-01T00:00:00Z".into());
    config
}

async fn send(app: &TestApp, body: &Value) -> String {
    let (code, v) = app.send_message_json(body).await;
    assert_eq!(code, 200, "accepted at send time: {v}");
    v["messages"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_outside_the_window_fail_with_131047_and_templates_still_go() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(window_config(&receiver.url)).await;

    // Never wrote: the order is accepted, then fails.
    let cold = send(&app, &order_details("COLD-1")).await;
    app.advance("1s").await;
    let failed: Vec<_> = statuses(&receiver)
        .into_iter()
        .filter(|(id, _, _)| *id == cold)
        .collect();
    assert_eq!(
        failed,
        [(cold.clone(), "failed".to_string(), Some(131_047))]
    );
    let body = receiver.posts()[0].json();
    let error = &body["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0];
    assert_eq!(error["title"], "Re-engagement message");
    assert!(
        error["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );

    // A template is allowed outside the window.
    let template = json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}}});
    let tid = send(&app, &template).await;
    app.advance("2s").await;
    let t: Vec<_> = statuses(&receiver)
        .into_iter()
        .filter(|(id, _, _)| *id == tid)
        .collect();
    assert_eq!(t.len(), 3, "sent, delivered, read: {t:?}");

    // The customer writes: the window opens for 24 hours.
    let (code, _) = app
        .admin_post(
            "/whatsapp/users/919876543210/messages",
            &json!({"text": "hi"}),
        )
        .await;
    assert_eq!(code, 201);
    let (_, windows) = app.admin_get("/whatsapp/windows").await;
    assert_eq!(windows["enforced"], true);
    assert_eq!(windows["windows"][0]["wa_id"], "919876543210");
    assert_eq!(windows["windows"][0]["open"], true);
    let warm = send(&app, &order_details("WARM-1")).await;
    app.advance("2s").await;
    let w: Vec<String> = statuses(&receiver)
        .into_iter()
        .filter(|(id, _, _)| *id == warm)
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(w, ["sent", "delivered", "read"]);

    // 24 hours later on the sandbox clock the window is closed again.
    app.advance("24h").await;
    let (_, windows) = app.admin_get("/whatsapp/windows").await;
    assert_eq!(windows["windows"][0]["open"], false);
    let late = send(&app, &text_message("919876543210", "still there?")).await;
    app.advance("1s").await;
    let l: Vec<_> = statuses(&receiver)
        .into_iter()
        .filter(|(id, _, _)| *id == late)
        .collect();
    assert_eq!(l, [(late.clone(), "failed".to_string(), Some(131_047))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_can_be_switched_off() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = window_config(&receiver.url);
    config.providers.whatsapp.customer_service_window = false;
    let app = TestApp::spawn_with(config).await;
    let id = send(&app, &order_details("OFF-1")).await;
    app.advance("2s").await;
    let s: Vec<String> = statuses(&receiver)
        .into_iter()
        .filter(|(i, _, _)| *i == id)
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(s, ["sent", "delivered", "read"]);
    let (_, windows) = app.admin_get("/whatsapp/windows").await;
    assert_eq!(windows["enforced"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_drop_conversation_from_v24() {
    for (version, has_conversation) in [("v23.0", true), ("v24.0", false)] {
        let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
        let mut config = window_config(&receiver.url);
        config.providers.whatsapp.customer_service_window = false;
        config.providers.whatsapp.api_version = version.into();
        let app = TestApp::spawn_with(config).await;
        send(&app, &text_message("919876543210", "hi")).await;
        app.advance("1s").await;
        let posts = receiver.posts();
        let sent = &posts[0].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(sent["status"], "sent");
        assert_eq!(
            sent.get("conversation").is_some(),
            has_conversation,
            "{version}: {sent}"
        );
        assert!(sent.get("pricing").is_some(), "{version}: pricing stays");
    }
}
