//! The WhatsApp messages endpoint, driven over HTTP against the real server.

use crate::helpers::*;
use serde_json::{Value, json};

fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
           "type": "text", "text": {"body": body}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_message_is_accepted_with_the_documented_response() {
    let app = TestApp::spawn().await;
    let response = app.send_message(&text("+1 (650) 555-1234", "hello")).await;
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert_eq!(h["content-type"], "application/json; charset=UTF-8");
    assert_eq!(h["facebook-api-version"], "v23.0");
    assert!(h.contains_key("x-fb-trace-id"));
    assert!(
        h["x-business-use-case-usage"]
            .to_str()
            .unwrap()
            .contains(WABA_ID)
    );
    let body: Value = response.json().await.unwrap();
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["messaging_product", "contacts", "messages"]);
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(
        body["contacts"],
        json!([{"input": "+1 (650) 555-1234", "wa_id": "16505551234"}])
    );
    let id = body["messages"][0]["id"].as_str().unwrap();
    assert!(id.starts_with("wamid.HBgL"), "{id}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_wamids() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn().await;
    let (_, first) = a.send_message_json(&text("16505551234", "x")).await;
    let (_, second) = b.send_message_json(&text("16505551234", "x")).await;
    assert_eq!(first["messages"][0]["id"], second["messages"][0]["id"]);
    let (_, next) = a.send_message_json(&text("16505551234", "x")).await;
    assert_ne!(first["messages"][0]["id"], next["messages"][0]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unversioned_path_and_the_query_token_work() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url(&format!(
            "/whatsapp/{PHONE_ID}/messages?access_token={TOKEN}"
        )))
        .json(&text("16505551234", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["facebook-api-version"], "v23.0");
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v25.0/{PHONE_ID}/messages")))
        .bearer_auth(TOKEN)
        .json(&text("16505551234", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["facebook-api-version"], "v25.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_code_104_and_a_wrong_one_code_190() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.messages_url())
        .json(&text("1650555123", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 104);
    assert_eq!(v["error"]["type"], "OAuthException");
    assert_eq!(
        v["error"]["message"],
        "An access token is required to request this resource."
    );
    assert!(v["error"]["fbtrace_id"].as_str().unwrap().len() >= 23);

    for auth in ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"] {
        let r = app
            .client
            .post(app.messages_url())
            .header("authorization", auth)
            .json(&text("16505551234", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{auth}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], 190, "{auth}");
        assert_eq!(
            v["error"]["message"],
            "Invalid OAuth access token - Cannot parse access token"
        );
    }
    assert!(app.admin_messages().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_phone_number_id_does_not_exist() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url("/whatsapp/v23.0/999999999/messages"))
        .bearer_auth(TOKEN)
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 100);
    assert_eq!(v["error"]["error_subcode"], 33);
    assert_eq!(v["error"]["type"], "GraphMethodException");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported post request. Object with ID '999999999' does not exist")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_appsecret_proof_is_refused_and_a_right_one_accepted() {
    use hmac::{KeyInit, Mac};
    let app = TestApp::spawn().await;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(TOKEN.as_bytes());
    let proof = hex::encode(mac.finalize().into_bytes());
    let url = format!("{}?appsecret_proof={proof}", app.messages_url());
    let r = app
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let url = format!("{}?appsecret_proof=00ff", app.messages_url());
    let r = app
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Invalid appsecret_proof provided in the API argument"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_violation_is_named_by_its_pointer() {
    let app = TestApp::spawn().await;
    let body = json!({
        "messaging_product": "whatsapp", "to": "16505551234", "type": "interactive",
        "interactive": {"type": "button", "body": {"text": ""}, "footer": {"text": "x".repeat(61)},
            "action": {"buttons": []}, "colour": "red"}
    });
    let (status, v) = app.send_message_json(&body).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["code"], 100,
        "an unknown parameter is code 100: {v}"
    );
    assert_eq!(
        v["error"]["message"], "(#100) Unexpected key \"colour\" on param \"interactive\".",
        "Graph names the unknown key"
    );
    assert_eq!(v["error"]["error_data"]["messaging_product"], "whatsapp");
    let pointers = detail_pointers(&v);
    for p in [
        "/interactive/body/text",
        "/interactive/footer/text",
        "/interactive/action/buttons",
        "/interactive/colour",
    ] {
        assert!(
            pointers.contains(&p.to_string()),
            "{p} missing from {pointers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_fields_are_131008_and_bad_values_131009() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .send_message_json(&json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], 131008);
    assert_eq!(
        v["error"]["message"],
        "(#131008) Required parameter is missing"
    );
    assert_eq!(detail_pointers(&v), ["/text/body"]);

    let (status, v) = app
        .send_message_json(&text("16505551234", &"y".repeat(4097)))
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], 131009);
    assert_eq!(
        v["error"]["message"],
        "(#131009) Parameter value is not valid"
    );
    assert_eq!(detail_pointers(&v), ["/text/body"]);
    let (status, _) = app
        .send_message_json(&text("16505551234", &"y".repeat(4096)))
        .await;
    assert_eq!(status, 200);
}

/// The schemas are compiled when a request first needs one: a fresh server met by many sends at
/// once compiles each once, and every send gets its full answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_sends_of_a_fresh_server_arriving_together_are_all_checked_in_full() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let sends = (0..24).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            // Three kinds, so several validators are compiled at the same moment.
            let body = match i % 3 {
                0 => json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {}}),
                1 => text("16505551234", &"y".repeat(4097)),
                _ => json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "interactive",
                    "interactive": {"type": "order_details", "action": {"name": "review_and_pay",
                        "parameters": {"total_amount": {"value": 100.0, "offset": 100}}}}}),
            };
            (i, app.send_message_json(&body).await)
        })
    });
    for send in sends {
        let (i, (status, v)) = send.await.expect("the send task ends");
        assert_eq!(status, 400, "{i}: {v}");
        let pointers = detail_pointers(&v);
        match i % 3 {
            0 => assert_eq!(pointers, ["/text/body"], "{v}"),
            1 => assert_eq!(v["error"]["code"], 131009, "{v}"),
            _ => assert!(
                pointers.iter().any(|p| p.ends_with("/total_amount/value")),
                "{i}: {v}"
            ),
        }
    }
    // And a valid one still goes through.
    let (status, _) = app.send_message_json(&text("16505551234", "hi")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_without_messaging_product_gets_graphs_sentence() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .send_message_json(&json!({"to": "16505551234", "type": "text", "text": {"body": "x"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "(#100) The parameter messaging_product is required."
    );
    assert_eq!(v["error"]["code"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_a_wrong_content_type_and_a_huge_body_get_graph_errors() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            b"{\"to\": ".to_vec(),
            400,
            "not valid JSON",
        ),
        ("application/json", b"".to_vec(), 400, "empty"),
        (
            "text/xml",
            b"<message/>".to_vec(),
            400,
            "Unsupported content type",
        ),
        (
            "application/json",
            vec![b' '; 1024 * 1024 + 1],
            413,
            "exceeds the 1048576-byte limit",
        ),
    ];
    for (content_type, body, status, needle) in cases {
        let r = app
            .client
            .post(app.messages_url())
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{needle}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], 100, "{needle}");
        let details = v["error"]["error_data"]["details"].as_str().unwrap();
        assert!(details.contains(needle), "{details}");
    }
    let (status, _) = app.send_message_json(&json!([1, 2, 3])).await;
    assert_eq!(status, 400);
    assert!(
        app.admin_messages().await.is_empty(),
        "nothing was recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_form_post_is_read_like_json() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.messages_url())
        .form(&[
            ("messaging_product", "whatsapp"),
            ("to", "16505551234"),
            ("type", "text"),
            ("text", r#"{"body":"from a form"}"#),
            ("access_token", TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let messages = app.admin_messages().await;
    assert_eq!(messages[0]["body"]["text"]["body"], "from a form");
    assert!(messages[0]["body"].get("access_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_in_graphs_envelope() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/whatsapp/v23.0/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "without a token, the token error comes first"
    );
    let r = app
        .client
        .get(app.url("/whatsapp/v23.0/nothing/here"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 100, "an unknown node: {v}");
    assert_eq!(v["error"]["error_subcode"], 33, "{v}");
    let r = app
        .client
        .get(app.url(&format!("/whatsapp/v23.0/{PHONE_ID}/here")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["code"], 2500,
        "an unknown edge of a known node: {v}"
    );
    let r = app
        .client
        .get(app.messages_url())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported get request.")
    );
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/23.0/{PHONE_ID}/messages")))
        .bearer_auth(TOKEN)
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_scoped_user_id_recipient_omits_wa_id() {
    let app = TestApp::spawn().await;
    let (code, v) = app
        .send_message_json(
            &json!({"messaging_product": "whatsapp", "recipient": "US.13491208655302741918",
            "type": "text", "text": {"body": "hi"}}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        v["contacts"],
        json!([{"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_an_unknown_message_read_is_refused() {
    let app = TestApp::spawn().await;
    let (code, v) = app
        .send_message_json(&json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}))
        .await;
    assert_eq!(code, 400);
    assert_eq!(detail_pointers(&v), ["/message_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_businesss_token_sees_no_such_phone_number() {
    let mut config = test_config();
    let mut second = config.providers.whatsapp.businesses[0].clone();
    second.phone_number_id = "200000000000002".into();
    second.access_token = "EAASecondBusinessToken".into();
    config.providers.whatsapp.businesses.push(second);
    let app = TestApp::spawn_with(config).await;
    let r = app
        .client
        .post(app.messages_url())
        .bearer_auth("EAASecondBusinessToken")
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["error_subcode"], 33);
    let r = app
        .client
        .post(app.url("/whatsapp/v23.0/200000000000002/messages"))
        .bearer_auth("EAASecondBusinessToken")
        .json(&text("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = app
        .admin_get("/whatsapp/messages?phone_number_id=200000000000002")
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    let (_, v) = app
        .admin_get(&format!("/whatsapp/messages?phone_number_id={PHONE_ID}"))
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bad_requests_do_not_disturb_good_ones() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                app.send_message_json(&text("16505551234", &format!("good {i}"))).await.0
            } else {
                app.send_message_json(&json!({"messaging_product": "whatsapp", "to": "1", "type": "text", "text": {"body": 5}})).await.0
            }
        }));
    }
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let code = t.await.unwrap();
        assert_eq!(code, if i % 2 == 0 { 200 } else { 400 });
        ok += usize::from(code == 200);
    }
    assert_eq!(app.admin_messages().await.len(), ok);
}
