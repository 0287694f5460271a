//! Media: upload, metadata, download with the business's token, delete, and messages that name
//! media by id.

use serde_json::{Value, json};

use crate::helpers::{PHONE_ID, TOKEN, TestApp, webhook_config};
use crate::receiver::{Behaviour, Receiver};

/// The smallest PNG there is, as bytes (a 1x1 transparent pixel).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

async fn upload(app: &TestApp, bytes: Vec<u8>, mime: &str, product: Option<&str>) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name("receipt.png")
            .mime_str(mime)
            .unwrap(),
    );
    if let Some(p) = product {
        form = form
            .text("messaging_product", p.to_string())
            .text("type", mime.to_string());
    }
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{PHONE_ID}/media")))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_uploaded_described_downloaded_and_deleted() {
    let app = TestApp::spawn().await;
    let (code, made) = upload(&app, PNG.to_vec(), "image/png", Some("whatsapp")).await;
    assert_eq!(code, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_string();

    let meta: Value = app
        .client
        .get(app.url(&format!("/whatsapp/v23.0/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["mime_type"], "image/png");
    assert_eq!(meta["file_size"], PNG.len());
    assert_eq!(meta["sha256"], crate::helpers::sha256_hex(PNG));
    let url = meta["url"].as_str().unwrap();
    let without = app.client.get(url).send().await.unwrap();
    assert_eq!(
        without.status(),
        401,
        "the download needs the token, as at Meta"
    );
    let file = app.client.get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().as_ref(), PNG);

    let deleted: Value = app
        .client
        .delete(app.url(&format!("/whatsapp/v23.0/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["success"], true);
    let gone = app
        .client
        .get(app.url(&format!("/whatsapp/v23.0/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["error"]["error_subcode"], 33, "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_for_type_size_and_fields() {
    let app = TestApp::spawn().await;
    let (code, v) = upload(
        &app,
        b"MZ...".to_vec(),
        "application/x-msdownload",
        Some("whatsapp"),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(v["error"]["code"], 131_053, "{v}");
    let (code, v) = upload(&app, vec![0u8; 600 * 1024], "image/webp", Some("whatsapp")).await;
    assert_eq!(code, 400, "a sticker over 500 KB: {v}");
    assert!(
        v["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("at most")
    );
    let (code, v) = upload(&app, PNG.to_vec(), "image/png", None).await;
    assert_eq!(code, 400);
    assert!(
        v["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("/messaging_product"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_naming_media_that_was_never_uploaded_fails_with_131053() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let (_, made) = upload(&app, PNG.to_vec(), "image/png", Some("whatsapp")).await;
    let good = json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "image",
        "image": {"id": made["id"], "caption": "receipt"}});
    let bad = json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "image",
        "image": {"id": "9999999999999999"}});
    let (code, ok) = app.send_message_json(&good).await;
    assert_eq!(code, 200, "{ok}");
    let (code, accepted) = app.send_message_json(&bad).await;
    assert_eq!(code, 200, "accepted at send time: {accepted}");
    let bad_id = accepted["messages"][0]["id"].as_str().unwrap().to_string();
    let posts = receiver.wait_posts(4, 5).await;
    let failed = posts
        .iter()
        .map(|p| p.json()["entry"][0]["changes"][0]["value"]["statuses"][0].clone())
        .find(|s| s["id"] == bad_id.as_str())
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131_053);
}
