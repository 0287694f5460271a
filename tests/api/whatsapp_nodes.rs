//! Graph's node reads around a send: the phone number, the WABA and its payment configurations;
//! a node the token cannot see is Graph's 100/33, an unknown edge of a visible node 2500.

use serde_json::Value;

use crate::helpers::{PHONE_ID, TOKEN, TestApp};

const WABA_ID: &str = "102290129340398";

async fn graph_get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(&format!("/whatsapp{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_number_and_its_waba_answer_their_fields() {
    let app = TestApp::spawn().await;
    let (code, phone) = graph_get(&app, &format!("/v23.0/{PHONE_ID}"), TOKEN).await;
    assert_eq!(code, 200, "{phone}");
    assert_eq!(phone["id"], PHONE_ID);
    assert_eq!(phone["display_phone_number"], "15550783881");
    assert_eq!(phone["quality_rating"], "GREEN");
    assert_eq!(phone["throughput"]["level"], "STANDARD");

    let (_, some) = graph_get(
        &app,
        &format!("/v23.0/{PHONE_ID}?fields=throughput,verified_name"),
        TOKEN,
    )
    .await;
    let mut keys: Vec<&String> = some.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "throughput", "verified_name"]);

    let (code, waba) = graph_get(&app, &format!("/v23.0/{WABA_ID}"), TOKEN).await;
    assert_eq!(code, 200, "{waba}");
    assert_eq!(waba["id"], WABA_ID);

    let (code, configs) = graph_get(
        &app,
        &format!("/v23.0/{WABA_ID}/payment_configurations"),
        TOKEN,
    )
    .await;
    assert_eq!(code, 200, "{configs}");
    let first = &configs["data"][0]["payment_configurations"][0];
    assert_eq!(first["configuration_name"], "razorpay-sandbox");
    assert_eq!(first["provider_name"], "razorpay");
    assert_eq!(first["status"], "Active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_nodes_are_100_33_and_unknown_edges_2500() {
    let app = TestApp::spawn().await;
    for path in [
        "/v23.0/999999999",
        "/v23.0/999999999/media",
        "/999999999/message_templates",
    ] {
        let (code, v) = graph_get(&app, path, TOKEN).await;
        assert_eq!(code, 400, "{path}: {v}");
        assert_eq!(v["error"]["code"], 100, "{path}: {v}");
        assert_eq!(v["error"]["error_subcode"], 33, "{path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("999999999"),
            "{v}"
        );
    }
    let (code, v) = graph_get(&app, &format!("/v23.0/{PHONE_ID}/no_such_edge"), TOKEN).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["error"]["code"], 2500, "{v}");
    // Another business's token sees the phone number as missing, not its fields.
    let (code, v) = graph_get(&app, &format!("/v23.0/{PHONE_ID}"), "EAAnotherToken").await;
    assert_eq!(code, 401, "an unknown token is refused first: {v}");
    let (code, v) = graph_get(
        &app,
        &format!("/v23.0/{PHONE_ID}/payment_configurations"),
        TOKEN,
    )
    .await;
    assert_eq!(code, 400, "payment configurations hang off the WABA: {v}");
}
