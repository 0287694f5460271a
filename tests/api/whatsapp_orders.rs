//! WhatsApp orders: `order_details` creates an order, `order_status` moves it through its state
//! machine, and the rules that need state (unique references, known orders, expiration).

use crate::helpers::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_recorded_with_its_status_history() {
    let app = TestApp::spawn().await;
    let (status, sent) = app.send_order("ORD-1").await;
    assert_eq!(status, 200, "{sent}");
    let (status, order) = app.admin_order("ORD-1").await;
    assert_eq!(status, 200);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["region"], "IN");
    assert_eq!(order["total_amount"], 49750);
    assert_eq!(order["message_id"], sent["messages"][0]["id"]);
    assert_eq!(order["payment_types"], json!(["payment_gateway"]));

    for s in ["processing", "partially-shipped", "shipped", "completed"] {
        let (code, v) = app.send_order_status("ORD-1", s).await;
        assert_eq!(code, 200, "{s}: {v}");
    }
    let (_, order) = app.admin_order("ORD-1").await;
    assert_eq!(order["status"], "completed");
    let history: Vec<_> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        history,
        [
            "pending",
            "processing",
            "partially_shipped",
            "shipped",
            "completed"
        ]
    );
    assert_eq!(order["messages"].as_array().unwrap().len(), 5);
    let (code, _) = app.admin_order("NOPE").await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_order_refuses_further_transitions_with_2046() {
    let app = TestApp::spawn().await;
    app.send_order("ORD-T").await;
    app.send_order_status("ORD-T", "canceled").await;
    let (code, sent) = app.send_order_status("ORD-T", "processing").await;
    assert_eq!(code, 200, "refusals are asynchronous");
    let (_, order) = app.admin_order("ORD-T").await;
    assert_eq!(order["status"], "canceled");
    let last = order["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["applied"], false);
    assert_eq!(last["error_code"], 2046);
    let id = sent["messages"][0]["id"].as_str().unwrap();
    let failed = wait_for("the refusal to be reported", 5, || async {
        let message = app
            .admin_messages()
            .await
            .into_iter()
            .find(|m| m["id"] == id)?;
        let last = message["statuses"].as_array()?.last()?.clone();
        (last["status"] == "failed").then_some(last)
    })
    .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 2046);
    assert_eq!(
        failed["errors"][0]["title"],
        "New order status was not correctly transitioned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_progress_order_cannot_go_back_to_pending() {
    let app = TestApp::spawn().await;
    app.send_order("ORD-P").await;
    app.send_order_status("ORD-P", "shipped").await;
    app.send_order_status("ORD-P", "pending").await;
    let (_, order) = app.admin_order("ORD-P").await;
    assert_eq!(order["status"], "shipped");
    assert_eq!(
        order["history"].as_array().unwrap().last().unwrap()["error_code"],
        2046
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_brazil_order_cannot_be_canceled() {
    let app = TestApp::spawn().await;
    let mut order = fixture("whatsapp/valid/order_details-br-pix_dynamic_code.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("BR-PAID");
    assert_eq!(app.send_message_json(&order).await.0, 200);
    let pay = json!({"messaging_product": "whatsapp", "to": "5511912345678", "type": "interactive",
        "interactive": {"type": "order_status", "body": {"text": "Pago"},
          "action": {"name": "review_order", "parameters": {"reference_id": "BR-PAID",
            "payment": {"status": "captured", "timestamp": 1722445231}}}}});
    assert_eq!(app.send_message_json(&pay).await.0, 200);
    let mut cancel = order_status("BR-PAID", "canceled");
    cancel["to"] = json!("5511912345678");
    let (code, _) = app.send_message_json(&cancel).await;
    assert_eq!(code, 200);
    let (_, o) = app.admin_order("BR-PAID").await;
    assert_eq!(o["status"], "pending");
    assert_eq!(o["payment_status"], "captured");
    let last = o["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["error_code"], 2047);
    assert_eq!(last["applied"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_id_is_unique_per_business() {
    let app = TestApp::spawn().await;
    assert_eq!(app.send_order("DUP-1").await.0, 200);
    let (code, v) = app.send_order("DUP-1").await;
    assert_eq!(code, 400);
    assert_eq!(v["error"]["code"], 131009);
    assert_eq!(
        detail_pointers(&v),
        ["/interactive/action/parameters/reference_id"]
    );
    assert_eq!(app.send_order("DUP-1-2").await.0, 200);
    let (_, order) = app.admin_order("DUP-1").await;
    assert_eq!(
        order["messages"].as_array().unwrap().len(),
        1,
        "the refused resend changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_status_for_an_unknown_reference_is_refused() {
    let app = TestApp::spawn().await;
    let (code, v) = app.send_order_status("GHOST", "processing").await;
    assert_eq!(code, 400);
    assert_eq!(v["error"]["code"], 131009);
    assert!(
        v["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("does not match any order_details")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiration_under_300_seconds_ahead_is_refused() {
    let app = TestApp::spawn().await;
    let (_, health) = app.admin_get("/health").await;
    let now = health["clock"]["now_ms"].as_i64().unwrap() / 1000;
    let mut o = order_details("EXP-1");
    o["interactive"]["action"]["parameters"]["order"]["expiration"]["timestamp"] =
        json!((now + 120).to_string());
    let (code, v) = app.send_message_json(&o).await;
    assert_eq!(code, 400);
    assert_eq!(
        detail_pointers(&v),
        ["/interactive/action/parameters/order/expiration/timestamp"]
    );
    o["interactive"]["action"]["parameters"]["order"]["expiration"]["timestamp"] =
        json!((now + 400).to_string());
    assert_eq!(app.send_message_json(&o).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payment_configuration_is_accepted_with_a_warning() {
    let app = TestApp::spawn().await;
    let mut o = order_details("WARN-1");
    o["interactive"]["action"]["parameters"]["payment_settings"][0]["payment_gateway"]["configuration_name"] =
        json!("not-configured");
    assert_eq!(app.send_message_json(&o).await.0, 200);
    let messages = app.admin_messages().await;
    let warnings = messages[0]["warnings"].as_array().unwrap();
    assert!(
        warnings[0].as_str().unwrap().contains("not-configured"),
        "{warnings:?}"
    );
}
