//! WhatsApp webhooks through the delivery engine, received by a real HTTP receiver that checks
//! the signature the way client SDKs do.

use std::time::Duration;

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

fn statuses_of(posts: &[Received]) -> Vec<String> {
    posts
        .iter()
        .filter_map(|p| {
            p.json()
                .pointer("/entry/0/changes/0/value/statuses/0/status")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reports_sent_delivered_and_read_signed_after_the_handshake() {
    let receiver = Receiver::start(Behaviour::Ok {
        verify_token: Some("paylink-sandbox-verify-token".into()),
    })
    .await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let (_, sent) = app
        .send_message_json(&text_message("+1 650 555 1234", "hello"))
        .await;
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    let posts = receiver.wait_posts(3, 5).await;

    let gets = receiver.gets();
    assert_eq!(gets.len(), 1, "one handshake before the first delivery");
    assert_eq!(
        gets[0].query_param("hub.mode").as_deref(),
        Some("subscribe")
    );
    assert!(gets[0].query_param("hub.challenge").is_some());

    assert_eq!(statuses_of(&posts), ["sent", "delivered", "read"]);
    for p in &posts {
        let sig = p.header("x-hub-signature-256").expect("signed");
        assert!(meta_signature_ok_raw(APP_SECRET, &p.body, &sig));
        assert!(!meta_signature_ok_raw("wrong-secret", &p.body, &sig));
        assert_eq!(
            p.header("content-type").as_deref(),
            Some("application/json")
        );
        let v = p.json();
        assert_eq!(v["object"], "whatsapp_business_account");
        assert_eq!(v["entry"][0]["id"], WABA_ID);
        assert_eq!(v["entry"][0]["changes"][0]["field"], "messages");
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messaging_product"], "whatsapp");
        assert_eq!(
            value["metadata"],
            json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_ID})
        );
        let status = &value["statuses"][0];
        assert_eq!(value["contacts"][0]["wa_id"], "16505551234");
        let bsuid = value["contacts"][0]["user_id"].as_str().unwrap();
        assert!(bsuid.starts_with("US.") && bsuid.len() == 23, "{bsuid}");
        assert_eq!(status["recipient_user_id"], bsuid);
        assert_eq!(status["id"], wamid.as_str());
        assert_eq!(status["recipient_id"], "16505551234");
        assert!(status["timestamp"].is_string(), "timestamps are strings");
    }
    let sent_status = &posts[0].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(sent_status["pricing"]["pricing_model"], "PMP");
    assert_eq!(sent_status["conversation"]["origin"]["type"], "service");
    assert!(sent_status["conversation"]["expiration_timestamp"].is_string());
    let read_status = &posts[2].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert!(
        read_status.get("pricing").is_none(),
        "pricing comes with sent and delivered only"
    );

    let messages = app.admin_messages().await;
    let recorded: Vec<_> = messages[0]["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, ["accepted", "sent", "delivered", "read"]);
    let deliveries = app.deliveries("?provider=whatsapp&status=delivered").await;
    assert_eq!(deliveries.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_bodies_are_escaped_and_verify_both_ways() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let (code, v) = app
        .admin_post(
            "/whatsapp/users/5511912345678/messages",
            &json!({"text": "Olá! Pedido nº 42 ✓ 😀", "name": "José Ñandú"}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let posts = receiver.wait_posts(1, 5).await;
    let p = &posts[0];
    assert!(p.body.is_ascii(), "every non-ASCII character is escaped");
    let raw = std::str::from_utf8(&p.body).unwrap();
    assert!(raw.contains(r"Ol\u00e1"), "{raw}");
    assert!(
        raw.contains(r"\ud83d\ude00"),
        "surrogate pair above the BMP: {raw}"
    );
    assert!(raw.contains(r"\u2713"), "{raw}");
    let sig = p.header("x-hub-signature-256").unwrap();
    assert!(
        meta_signature_ok_raw(APP_SECRET, &p.body, &sig),
        "raw-body verifiers pass"
    );
    assert!(
        meta_signature_ok_reescaped(APP_SECRET, &p.body, &sig),
        "re-escaping verifiers pass"
    );
    let value = &p.json()["entry"][0]["changes"][0]["value"];
    assert_eq!(value["contacts"][0]["profile"]["name"], "José Ñandú");
    assert_eq!(
        value["messages"][0]["text"]["body"],
        "Olá! Pedido nº 42 ✓ 😀"
    );
    assert_eq!(value["messages"][0]["from"], "5511912345678");
    assert_eq!(value["messages"][0]["id"], v["message_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_is_logged_and_nothing_is_delivered() {
    let receiver = Receiver::start(Behaviour::WrongChallenge).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    app.send_message_json(&text_message("16505551234", "x"))
        .await;
    let failed = wait_for("deliveries to fail", 5, || async {
        let failed = app.deliveries("?status=failed").await;
        (failed.len() == 3).then_some(failed)
    })
    .await;
    assert!(
        receiver.posts().is_empty(),
        "no POST without a verified handshake"
    );
    let (_, detail) = app
        .admin_get(&format!("/webhooks/{}", failed[0]["id"].as_str().unwrap()))
        .await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "first try and three retries: {detail}");
    assert!(
        attempts
            .iter()
            .all(|a| a["kind"] == "handshake" && a["ok"] == false)
    );
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("did not echo hub.challenge")
    );

    receiver.set(Behaviour::Ok { verify_token: None });
    let id = failed[0]["id"].as_str().unwrap();
    let (code, _) = app
        .admin_post(&format!("/webhooks/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(code, 202);
    let posts = receiver.wait_posts(1, 5).await;
    assert_eq!(statuses_of(&posts), ["sent"]);
    // The receiver has the body before the sandbox has its answer.
    let detail = wait_for("the redelivery recorded", 5, || async {
        let (_, detail) = app.admin_get(&format!("/webhooks/{id}")).await;
        (detail["status"] != "in_flight").then_some(detail)
    })
    .await;
    assert_eq!(detail["status"], "delivered", "{detail}");
    assert_eq!(detail["redeliveries"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_is_retried_with_the_same_event_until_it_recovers() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    whatsapp_sequence(&mut config).statuses = vec!["sent".into()];
    whatsapp_sequence(&mut config).delays = vec![];
    config.webhooks.retry_schedule =
        paylink_sandbox::cli::parse_schedule("100ms,100ms,100ms,100ms,100ms").unwrap();
    let app = TestApp::spawn_with(config).await;
    // Verify once while healthy, then fail.
    app.send_message_json(&text_message("16505551234", "warm-up"))
        .await;
    receiver.wait_posts(1, 5).await;
    receiver.set(Behaviour::Status(500));
    app.send_message_json(&text_message("16505551234", "retried"))
        .await;
    wait_for("two failed attempts", 5, || async {
        let retrying = app.deliveries("?status=retrying").await;
        let d = retrying.first()?;
        (d["attempt_count"].as_u64()? >= 2).then_some(())
    })
    .await;
    receiver.set(Behaviour::Ok { verify_token: None });
    let posts = wait_for("the retry to land", 5, || async {
        // Read the receiver after the log says delivered: the POST reached it before that.
        let ok_after = app.deliveries("?status=delivered").await.len() == 2;
        ok_after.then(|| receiver.posts())
    })
    .await;
    let retried: Vec<_> = posts.iter().skip(1).collect();
    assert!(retried.len() >= 3, "at least two failures and a success");
    assert!(
        retried.windows(2).all(|w| w[0].body == w[1].body),
        "the same event is resent"
    );
    assert!(
        retried
            .windows(2)
            .all(|w| w[0].header("x-hub-signature-256") == w[1].header("x-hub-signature-256"))
    );
    let delivered = app.deliveries("?status=delivered").await;
    let (_, detail) = app
        .admin_get(&format!(
            "/webhooks/{}",
            delivered[1]["id"].as_str().unwrap()
        ))
        .await;
    let codes: Vec<_> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes.last(), Some(&200));
    assert!(
        codes[..codes.len() - 1].iter().all(|c| *c == 500),
        "{codes:?}"
    );
    assert!(
        detail["attempts"][0]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    assert!(detail["attempts"][0]["latency_ms"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_slow_and_garbage_receivers_are_logged_and_others_still_get_theirs() {
    let good = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let slow = Receiver::start(Behaviour::Slow(Duration::from_secs(3))).await;
    let garbage = garbage_server().await;
    let unreachable = unreachable_url().await;
    let mut config = webhook_config(&good.url);
    whatsapp_sequence(&mut config).statuses = vec!["sent".into()];
    whatsapp_sequence(&mut config).delays = vec![];
    config.webhooks.retry_schedule = vec![];
    let base = config.providers.whatsapp.businesses[0].clone();
    for (i, url) in [&slow.url, &garbage, &unreachable].into_iter().enumerate() {
        let mut b = base.clone();
        b.phone_number_id = format!("30000000000000{i}");
        b.access_token = format!("EAABadTarget{i}");
        b.callback_url = Some(url.clone());
        config.providers.whatsapp.businesses.push(b);
    }
    let app = TestApp::spawn_with(config).await;
    for i in 0..3 {
        let r = app
            .client
            .post(app.url(&format!("/whatsapp/v23.0/30000000000000{i}/messages")))
            .bearer_auth(format!("EAABadTarget{i}"))
            .json(&text_message("16505551234", "to a bad receiver"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for n in 0..5 {
        assert_eq!(
            app.send_message_json(&text_message("16505551234", &format!("good {n}")))
                .await
                .0,
            200
        );
    }
    good.wait_posts(5, 5).await;
    let failed = wait_for("the three bad deliveries to fail", 10, || async {
        let f = app.deliveries("?status=failed").await;
        (f.len() == 3).then_some(f)
    })
    .await;
    let mut errors = Vec::new();
    for d in &failed {
        let (_, detail) = app
            .admin_get(&format!("/webhooks/{}", d["id"].as_str().unwrap()))
            .await;
        errors.push(
            detail["attempts"][0]["error"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    errors.sort();
    assert!(errors.iter().any(|e| e.contains("timed out")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("could not connect")),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
    let (status, _) = app.admin_get("/health").await;
    assert_eq!(status, 200, "the sandbox is unharmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_scripts_failures_and_rejections() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let (code, scenario) = app.put_scenario_file("whatsapp-failures.toml").await;
    assert_eq!(code, 200, "{scenario}");
    let (_, current) = app.admin_get("/scenario").await;
    assert_eq!(current["rules"].as_array().unwrap().len(), 3);
    assert_eq!(current["rules"][0]["name"], "unreachable numbers");

    let (_, sent) = app
        .send_message_json(&text_message("+1 650 555 0000", "doomed"))
        .await;
    let wamid = sent["messages"][0]["id"].as_str().unwrap();
    let posts = receiver.wait_posts(2, 5).await;
    assert_eq!(statuses_of(&posts), ["sent", "failed"]);
    let failed = &posts[1].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(failed["id"], wamid);
    assert_eq!(failed["errors"][0]["code"], 131026);
    assert_eq!(failed["errors"][0]["title"], "Message undeliverable");
    assert!(
        failed["errors"][0]["href"]
            .as_str()
            .unwrap()
            .contains("error-codes")
    );

    let (code, v) = app
        .send_message_json(&text_message("+1 555 0100", "too fast"))
        .await;
    assert_eq!(code, 400);
    assert_eq!(v["error"]["code"], 130429);
    assert_eq!(v["error"]["message"], "(#130429) Rate limit hit");

    let mut order = fixture("whatsapp/valid/order_details-in-payment_link.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("OUTSIDE-1");
    app.send_message_json(&order).await;
    let posts = receiver.wait_posts(3, 5).await;
    let late = &posts[2].json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(late["status"], "failed");
    assert_eq!(late["errors"][0]["code"], 131047);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_scenario_is_refused_with_every_problem() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .put(app.url("/__sandbox/scenario"))
        .json(&json!({"rules": [{"provider": "whatsapp", "match": {"to": ""}, "then": {"statuses": ["failed", "sent"], "delays": ["1s"]}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    assert_eq!(v["error"]["details"].as_array().unwrap().len(), 3, "{v}");
    let (_, current) = app.admin_get("/scenario").await;
    assert!(
        current["rules"].as_array().unwrap().is_empty(),
        "the old scenario stays"
    );
    let r = app
        .client
        .put(app.url("/__sandbox/scenario"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .put(app.url("/__sandbox/scenario"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "a body must say what it is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_status_transition_arrives_as_a_failed_status_with_2046() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let mut order = fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("T-1");
    app.send_message_json(&order).await;
    let status = |s: &str| {
        json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "interactive",
        "interactive": {"type": "order_status", "body": {"text": "Update"},
        "action": {"name": "review_order", "parameters": {"reference_id": "T-1", "order": {"status": s}}}}})
    };
    app.send_message_json(&status("completed")).await;
    let (_, refused) = app.send_message_json(&status("shipped")).await;
    let wamid = refused["messages"][0]["id"].as_str().unwrap().to_string();
    let posts = wait_for("the failed status", 5, || async {
        let posts = receiver.posts();
        posts
            .iter()
            .any(|p| {
                p.json()["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == wamid.as_str()
            })
            .then_some(posts)
    })
    .await;
    let mine: Vec<_> = posts
        .iter()
        .map(|p| p.json()["entry"][0]["changes"][0]["value"]["statuses"][0].clone())
        .filter(|s| s["id"] == wamid.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "only the failure is reported: {mine:?}");
    assert_eq!(mine[0]["status"], "failed");
    assert_eq!(mine[0]["errors"][0]["code"], 2046);
    assert_eq!(
        mine[0]["errors"][0]["title"],
        "New order status was not correctly transitioned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_subscription_call_verifies_then_routes_webhooks() {
    let receiver = Receiver::start(Behaviour::Ok {
        verify_token: Some("my-token".into()),
    })
    .await;
    let mut config = test_config();
    whatsapp_sequence(&mut config).statuses = vec!["sent".into()];
    whatsapp_sequence(&mut config).delays = vec![];
    let app = TestApp::spawn().await;
    drop(app);
    let app = TestApp::spawn_with(config).await;
    app.send_message_json(&text_message("16505551234", "before"))
        .await;
    let undelivered = wait_for("a no-target delivery", 5, || async {
        let d = app.deliveries("?status=no_target").await;
        (!d.is_empty()).then_some(d)
    })
    .await;

    let token_url = app.url("/whatsapp/oauth/access_token?grant_type=client_credentials&client_id=1185200386128462&client_secret=paylink-sandbox-app-secret");
    let token: Value = app
        .client
        .get(&token_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_token = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(app_token, "1185200386128462|paylink-sandbox-app-secret");

    let subscribe = |verify: &'static str| {
        app.client
            .post(app.url("/whatsapp/v23.0/1185200386128462/subscriptions"))
            .bearer_auth(&app_token)
            .form(&[
                ("object", "whatsapp_business_account"),
                ("callback_url", receiver.url.as_str()),
                ("verify_token", verify),
                ("fields", "messages"),
            ])
            .send()
    };
    let r = subscribe("wrong-token").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 2200);
    let r = subscribe("my-token").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"success": true}));
    let listed: Value = app
        .client
        .get(app.url("/whatsapp/v23.0/1185200386128462/subscriptions"))
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["callback_url"], receiver.url.as_str());
    assert_eq!(listed["data"][0]["fields"][0]["name"], "messages");

    app.send_message_json(&text_message("16505551234", "after"))
        .await;
    let posts = receiver.wait_posts(1, 5).await;
    assert_eq!(statuses_of(&posts), ["sent"]);
    assert_eq!(
        receiver.gets().len(),
        2,
        "the two subscription handshakes, none at delivery"
    );

    let id = undelivered[0]["id"].as_str().unwrap();
    let (code, _) = app
        .admin_post(&format!("/webhooks/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(
        code, 202,
        "a no-target delivery can go once a target exists"
    );
    receiver.wait_posts(2, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_are_held_to_metas_documented_shape() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    app.send_message_json(&text_message("16505551234", "shape"))
        .await;
    let posts = receiver.wait_posts(3, 5).await;
    for p in &posts {
        let body = p.json();
        assert_eq!(
            crate::receiver::whatsapp_webhook_drift(&body),
            Vec::<String>::new(),
            "{body}"
        );
    }
    // The check is not vacuous: each of these drifts is caught.
    let sent = posts[0].json();
    let mut extra = sent.clone();
    extra["entry"][0]["changes"][0]["value"]["statuses"][0]["colour"] = serde_json::json!("red");
    let mut failed_without_errors = sent.clone();
    failed_without_errors["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] =
        serde_json::json!("failed");
    let mut number_timestamp = sent.clone();
    number_timestamp["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] =
        serde_json::json!(1_767_225_600);
    let mut wrong_field = sent;
    wrong_field["entry"][0]["changes"][0]["field"] = serde_json::json!("message");
    for drifted in [extra, failed_without_errors, number_timestamp, wrong_field] {
        assert!(
            !crate::receiver::whatsapp_webhook_drift(&drifted).is_empty(),
            "{drifted}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_callback_is_verified_when_the_sandbox_starts() {
    let receiver = Receiver::start(Behaviour::Ok {
        verify_token: Some("paylink-sandbox-verify-token".into()),
    })
    .await;
    let _app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let handshake = wait_for("the start-up verification", 5, || async {
        receiver.gets().into_iter().next()
    })
    .await;
    assert_eq!(
        handshake.query_param("hub.mode").as_deref(),
        Some("subscribe")
    );
    assert!(receiver.posts().is_empty(), "no message was sent yet");
}

/// The common India order is read typed (no JSON tree): a scenario rule on its fields still
/// matches it, and its `biz_opaque_callback_data` still comes back on every status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fields_rule_and_callback_data_hold_for_an_order_read_typed() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(webhook_config(&receiver.url)).await;
    let (code, v) = app
        .admin_put(
            "/scenario",
            &json!({"rules": [{
                "name": "catalog orders fail",
                "provider": "whatsapp",
                "match": {"fields": {"/interactive/action/parameters/order/catalog_id": "1794*"}},
                "then": {"statuses": ["sent", "failed"], "error": {"code": 131026}}
            }]}),
        )
        .await;
    assert_eq!(code, 200, "{v}");

    let mut order = fixture("whatsapp/valid/order_details-in-payment_link.json");
    order["biz_opaque_callback_data"] = json!("cart-42");
    let (code, sent) = app.send_message_json(&order).await;
    assert_eq!(code, 200, "{sent}");
    let posts = receiver.wait_posts(2, 5).await;
    assert_eq!(statuses_of(&posts), ["sent", "failed"]);
    for post in &posts {
        let status = &post.json()["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(status["biz_opaque_callback_data"], "cart-42", "{status}");
    }

    // Another catalog: the rule does not match, the default sequence runs.
    order["interactive"]["action"]["parameters"]["reference_id"] = json!("IN-LINK-OTHER");
    order["interactive"]["action"]["parameters"]["order"]["catalog_id"] = json!("555");
    let (code, sent) = app.send_message_json(&order).await;
    assert_eq!(code, 200, "{sent}");
    let posts = receiver.wait_posts(5, 5).await;
    assert_eq!(statuses_of(&posts[2..]), ["sent", "delivered", "read"]);
}
