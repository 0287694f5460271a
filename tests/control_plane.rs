//! The control plane a test suite leans on: the request journal, reset, tenant isolation, fault
//! injection, determinism, the CLI subcommands and the OpenAPI document.

mod common;

use std::{collections::HashMap, sync::Arc, time::Duration};

use common::receiver::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}

#[tokio::test]
async fn the_journal_records_every_provider_request_without_secrets() {
    let app = TestApp::spawn().await;
    app.send_message_json(&text("16505551234", "hello")).await;
    app.send_message_json(
        &json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {}}),
    )
    .await;
    app.client
        .post(app.url(&format!(
            "/whatsapp/v23.0/{PHONE_ID}/messages?access_token={TOKEN}&x=1"
        )))
        .json(&text("16505551234", "q"))
        .send()
        .await
        .unwrap();
    app.rzp_json(
        Method::POST,
        "/v1/payment_links",
        Some(&json!({"amount": 100})),
    )
    .await;
    app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    app.admin_get("/health").await;

    let (status, all) = app.admin_get("/requests").await;
    assert_eq!(status, 200);
    let all = all["requests"].as_array().unwrap().clone();
    assert_eq!(all.len(), 5, "admin calls are not journaled: {all:#?}");
    let first = &all[0];
    assert_eq!(first["provider"], "whatsapp");
    assert_eq!(first["tenant"], PHONE_ID);
    assert_eq!(first["method"], "POST");
    assert_eq!(
        first["path"],
        format!("/whatsapp/v23.0/{PHONE_ID}/messages")
    );
    assert_eq!(first["body"]["text"]["body"], "hello");
    assert_eq!(first["status"], 200);
    assert_eq!(first["outcome"], "accepted");
    assert!(first["response"]["messages"][0]["id"].is_string());
    let auth = first["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "authorization")
        .unwrap();
    assert_eq!(auth[1], "[redacted]");
    assert!(
        !serde_json::to_string(&all).unwrap().contains(TOKEN),
        "no token anywhere in the journal"
    );
    assert_eq!(all[2]["query"], "access_token=[redacted]&x=1");

    let rejected = &all[1];
    assert_eq!(rejected["outcome"], "rejected");
    assert_eq!(rejected["error"]["code"], 131008);
    assert!(
        rejected["error"]["details"]
            .as_str()
            .unwrap()
            .contains("/text/body")
    );

    let (_, v) = app.admin_get("/requests?provider=razorpay").await;
    assert_eq!(v["requests"][0]["tenant"], RZP_KEY);
    let (_, v) = app.admin_get("/requests?status=4xx").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    let (_, v) = app.admin_get("/requests?path=/qonto/*").await;
    assert_eq!(v["requests"][0]["tenant"], "paylink-sandbox-org-7132");
    let t = all[3]["at"].as_i64().unwrap();
    let (_, v) = app.admin_get(&format!("/requests?since={t}")).await;
    assert!(v["requests"].as_array().unwrap().len() >= 2);
    let (status, _) = app.admin_get("/requests?status=abc").await;
    assert_eq!(status, 400);

    let r = app
        .client
        .delete(app.url("/__sandbox/requests?provider=whatsapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["deleted"], 3);
    let (_, v) = app.admin_get("/requests").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_journal_is_bounded_by_the_history_limit() {
    let mut config = test_config();
    config.server.history_limit = 5;
    let app = TestApp::spawn_with(config).await;
    for i in 0..12 {
        app.send_message_json(&text("16505551234", &format!("m{i}")))
            .await;
    }
    let (_, v) = app.admin_get("/requests").await;
    let bodies: Vec<_> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"]["text"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["m7", "m8", "m9", "m10", "m11"]);
    assert_eq!(
        app.admin_messages().await.len(),
        5,
        "the message history is bounded too"
    );
}

#[tokio::test]
async fn reset_returns_everything_or_one_provider_to_the_start() {
    let mut config = test_config();
    config.clock.frozen = true;
    let app = TestApp::spawn_with(config).await;
    let (_, first) = app.send_message_json(&text("16505551234", "x")).await;
    app.rzp_json(
        Method::POST,
        "/v1/payment_links",
        Some(&json!({"amount": 100})),
    )
    .await;
    app.qonto_json(Method::POST, "/v2/payment_links", Some(&json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001",
        "invoice_number": "I-1", "debitor_name": "D", "amount": {"value": "1.00", "currency": "EUR"}, "potential_payment_methods": ["credit_card"]}}))).await;
    app.advance("1h").await;
    app.client
        .put(app.url("/__sandbox/scenario"))
        .json(&json!({"rules": [{"provider": "whatsapp", "then": {"statuses": ["sent"]}}]}))
        .send()
        .await
        .unwrap();

    let (status, _) = app.admin_post("/reset?provider=razorpay", &json!({})).await;
    assert_eq!(status, 200);
    let (_, links) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(links["payment_links"], json!([]));
    assert_eq!(
        app.admin_messages().await.len(),
        1,
        "other providers keep their state"
    );
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["offset_ms"], 3_600_000);

    let (status, _) = app.admin_post("/reset", &json!({})).await;
    assert_eq!(status, 200);
    let (_, journal) = app.admin_get("/requests").await;
    assert_eq!(journal["requests"], json!([]));
    assert!(app.admin_messages().await.is_empty());
    let (_, again) = app.send_message_json(&text("16505551234", "x")).await;
    assert_eq!(
        again["messages"][0]["id"], first["messages"][0]["id"],
        "the id stream restarts from the seed"
    );
    let (_, q) = app.qonto_json(Method::GET, "/v2/payment_links", None).await;
    assert_eq!(q["meta"]["total_count"], 0);
    let (_, clock) = app.admin_get("/clock").await;
    assert_eq!(clock["offset_ms"], 0);
    let (_, scenario) = app.admin_get("/scenario").await;
    assert_eq!(scenario["rules"], json!([]));
    let (status, _) = app.admin_post("/reset?provider=fax", &json!({})).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tenants_never_see_each_other() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = webhook_config(&receiver.url);
    config.server.accept_any_credentials = true;
    let app = Arc::new(TestApp::spawn_with(config).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let phone = format!("5000000000{i:02}");
            let token = format!("EAATenantToken{i}");
            let key = format!("rzp_test_Tenant{i:02}");
            let bearer = format!("tenant-token-{i}");
            // WhatsApp: the same reference id in every tenant; uniqueness is per business.
            let mut order = fixture("whatsapp/valid/order_details-in-payment_link.json");
            order["interactive"]["action"]["parameters"]["reference_id"] = json!("SAME-REF");
            let r = app.client.post(app.url(&format!("/whatsapp/v23.0/{phone}/messages"))).bearer_auth(&token).json(&order).send().await.unwrap();
            assert_eq!(r.status(), 200, "tenant {i}");
            let r = app.client.post(app.url("/razorpay/v1/payment_links")).basic_auth(&key, Some("secret")).json(&json!({"amount": 1000 + i, "reference_id": "SAME-REF"})).send().await.unwrap();
            assert_eq!(r.status(), 200, "tenant {i}");
            let r = app.client.post(app.url("/qonto/v2/payment_links")).bearer_auth(&bearer)
                .json(&json!({"payment_link": {"invoice_id": "550e8400-e29b-41d4-a716-446655440001", "invoice_number": format!("INV-{i}"),
                    "debitor_name": "D", "amount": {"value": "5.00", "currency": "EUR"}, "potential_payment_methods": ["credit_card"]}}))
                .send().await.unwrap();
            assert_eq!(r.status(), 201, "tenant {i}");

            let links: Value = app.client.get(app.url("/razorpay/v1/payment_links")).basic_auth(&key, Some("secret")).send().await.unwrap().json().await.unwrap();
            assert_eq!(links["payment_links"].as_array().unwrap().len(), 1, "tenant {i} sees only its link");
            assert_eq!(links["payment_links"][0]["amount"], 1000 + i);
            let q: Value = app.client.get(app.url("/qonto/v2/payment_links")).bearer_auth(&bearer).send().await.unwrap().json().await.unwrap();
            assert_eq!(q["meta"]["total_count"], 1);
            assert_eq!(q["payment_links"][0]["invoice_number"], format!("INV-{i}"));
            let (_, m) = app.admin_get(&format!("/whatsapp/messages?phone_number_id={phone}")).await;
            assert_eq!(m["messages"].as_array().unwrap().len(), 1);
            let (_, j) = app.admin_get(&format!("/requests?tenant={key}")).await;
            assert_eq!(j["requests"].as_array().unwrap().len(), 2, "the journal splits by tenant");
            phone
        }));
    }
    let mut phones = Vec::new();
    for t in tasks {
        phones.push(t.await.unwrap());
    }
    // Every tenant's statuses reach the receiver, each tagged with its own phone number id.
    let posts = receiver.wait_posts(36, 10).await;
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    for p in &posts {
        let phone = p.json()["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
            .as_str()
            .unwrap()
            .to_string();
        *per_phone.entry(phone).or_default() += 1;
    }
    for phone in &phones {
        assert_eq!(per_phone.get(phone), Some(&3), "{phone}");
        let (_, d) = app.admin_get(&format!("/webhooks?tenant={phone}")).await;
        assert_eq!(d["deliveries"].as_array().unwrap().len(), 3);
    }
    // Known credentials are never taken over.
    let r = app
        .client
        .get(app.url("/razorpay/v1/payment_links"))
        .basic_auth("rzp_test_Tenant03", Some("other-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{}/messages", phones[0])))
        .bearer_auth("EAAIntruder")
        .json(&text("1650555", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "an unknown token on a known phone number is refused, not given a tenant"
    );
    let r = app
        .client
        .post(app.url(&format!("/whatsapp/v23.0/{}/messages", phones[0])))
        .bearer_auth("EAATenantToken1")
        .json(&text("1650555", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "another tenant's token sees no such phone number"
    );
    // Resetting one tenant leaves the others.
    let (status, _) = app
        .admin_post(
            "/reset?provider=razorpay&tenant=rzp_test_Tenant05",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, all) = app.admin_get("/razorpay/payment_links").await;
    assert_eq!(all["payment_links"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn injected_request_faults_answer_in_each_vendors_words() {
    let app = TestApp::spawn().await;
    let faults = r#"
        [[requests]]
        provider = "whatsapp"
        path = "/whatsapp/*/messages"
        error_rate = 1.0
        error = "rate_limit"
        [[requests]]
        provider = "razorpay"
        method = "POST"
        error_rate = 1.0
        error = "server_error"
        [[requests]]
        provider = "qonto"
        latency = "150ms"
        error_rate = 1.0
        error = "rate_limit"
    "#;
    let r = app
        .client
        .put(app.url("/__sandbox/faults"))
        .header("content-type", "application/toml")
        .body(faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, v) = app.send_message_json(&text("16505551234", "x")).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], 130429);
    assert_eq!(v["error"]["message"], "(#130429) Rate limit hit");
    let (status, v) = app
        .rzp_json(
            Method::POST,
            "/v1/payment_links",
            Some(&json!({"amount": 100})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(v["error"]["code"], "SERVER_ERROR");
    let (status, _) = app.rzp_json(Method::GET, "/v1/payment_links", None).await;
    assert_eq!(status, 200, "the rule names POST only");
    let started = std::time::Instant::now();
    let r = app
        .qonto(Method::GET, "/v2/payment_links")
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the latency was added"
    );
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "too_many_requests");
    let (_, j) = app.admin_get("/requests?provider=qonto").await;
    assert_eq!(j["requests"][0]["fault"], "latency 150ms, ratelimit");
    assert!(
        app.admin_messages().await.is_empty(),
        "a faulted request changes nothing"
    );

    let r = app
        .client
        .put(app.url("/__sandbox/faults"))
        .json(&json!({"requests": [{"provider": "qonto", "error_rate": 3.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, current) = app.admin_get("/faults").await;
    assert_eq!(
        current["requests"].as_array().unwrap().len(),
        3,
        "a bad set leaves the old one"
    );
}

#[tokio::test]
async fn request_faults_are_deterministic_under_the_seed() {
    async fn run() -> Vec<u16> {
        let mut config = test_config();
        config.faults = paylink_sandbox::faults::FaultConfig::from_toml(
            "[[requests]]\nprovider = \"razorpay\"\nerror_rate = 0.5\nerror = \"unavailable\"\n",
        )
        .unwrap();
        let app = TestApp::spawn_with(config).await;
        let mut statuses = Vec::new();
        for i in 0..20 {
            statuses.push(
                app.rzp_json(
                    Method::POST,
                    "/v1/payment_links",
                    Some(&json!({"amount": 100 + i})),
                )
                .await
                .0,
            );
        }
        statuses
    }
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn webhook_faults_duplicate_drop_and_reorder() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = test_config();
    config.razorpay.accounts[0].webhook_url = Some(receiver.url.clone());
    config.webhooks.retry_schedule = paylink_sandbox::cli::parse_schedule("100ms").unwrap();
    let app = TestApp::spawn_with(config).await;
    let set = json!({"webhooks": [{"provider": "razorpay", "event": "payment_link.cancelled", "duplicate_rate": 1.0, "drop_rate": 1.0}]});
    assert_eq!(
        app.client
            .put(app.url("/__sandbox/faults"))
            .json(&set)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, link) = app
        .rzp_json(
            Method::POST,
            "/v1/payment_links",
            Some(&json!({"amount": 100})),
        )
        .await;
    app.rzp_json(
        Method::POST,
        &format!("/v1/payment_links/{}/cancel", link["id"].as_str().unwrap()),
        None,
    )
    .await;
    let posts = receiver.wait_posts(2, 5).await;
    assert_eq!(posts[0].body, posts[1].body, "the same event twice");
    assert_eq!(
        posts[0].header("x-razorpay-event-id"),
        posts[1].header("x-razorpay-event-id")
    );
    let (_, d) = app.admin_get("/webhooks?provider=razorpay").await;
    let (_, detail) = app
        .admin_get(&format!(
            "/webhooks/{}",
            d["deliveries"][0]["id"].as_str().unwrap()
        ))
        .await;
    let kinds: Vec<_> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["dropped", "delivery", "duplicate"]);
    assert_eq!(detail["status"], "delivered");

    app.admin_post("/reset", &json!({})).await;
    let set = json!({"webhooks": [{"provider": "razorpay", "reorder_window": "400ms"}]});
    app.client
        .put(app.url("/__sandbox/faults"))
        .json(&set)
        .send()
        .await
        .unwrap();
    let receiver2 = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    app.client
        .put(app.url("/__sandbox/razorpay/webhook"))
        .json(&json!({"url": receiver2.url}))
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, l) = app
            .rzp_json(
                Method::POST,
                "/v1/payment_links",
                Some(&json!({"amount": 100 + i})),
            )
            .await;
        app.rzp_json(
            Method::POST,
            &format!("/v1/payment_links/{}/cancel", l["id"].as_str().unwrap()),
            None,
        )
        .await;
        ids.push(l["id"].as_str().unwrap().to_string());
    }
    let posts = receiver2.wait_posts(12, 5).await;
    let arrived: Vec<_> = posts
        .iter()
        .map(|p| {
            p.json()["payload"]["payment_link"]["entity"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(arrived, ids, "deliveries overtake each other");
    let mut sorted_a = arrived.clone();
    sorted_a.sort();
    let mut sorted_b = ids.clone();
    sorted_b.sort();
    assert_eq!(sorted_a, sorted_b, "nothing is lost");
}

/// Runs the same script against a fresh sandbox and returns every answer and webhook body.
async fn scripted_run(receiver: &Receiver) -> (Vec<Value>, Vec<String>) {
    let mut config = test_config();
    config.clock.frozen = true;
    config.clock.start = Some("2026-06-01T00:00:00Z".into());
    config.server.public_url = Some("http://sandbox.test".into());
    config.whatsapp.callback_url = Some(format!("{}/wa", receiver.url));
    config.razorpay.accounts[0].webhook_url = Some(format!("{}/rzp", receiver.url));
    let app = TestApp::spawn_with(config).await;
    let mut answers = Vec::new();
    answers.push(
        app.send_message_json(&fixture(
            "whatsapp/valid/order_details-in-payment_gateway.json",
        ))
        .await
        .1,
    );
    answers.push(
        app.send_message_json(&text("+1 650 555 1234", "Olá 😀"))
            .await
            .1,
    );
    answers.push(
        app.admin_post(
            "/whatsapp/orders/IN-PG-1001/pay",
            &json!({"outcome": "captured"}),
        )
        .await
        .1,
    );
    let (_, link) = app
        .rzp_json(
            Method::POST,
            "/v1/payment_links",
            Some(&json!({"amount": 2500, "reference_id": "DET-1"})),
        )
        .await;
    answers.push(link.clone());
    answers.push(
        app.admin_post(
            &format!(
                "/razorpay/payment_links/{}/pay",
                link["id"].as_str().unwrap()
            ),
            &json!({"method": "card"}),
        )
        .await
        .1,
    );
    answers.push(app.qonto_json(Method::POST, "/v2/payment_links", Some(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
        "items": [{"title": "T", "quantity": 2, "unit_price": {"value": "3.33", "currency": "EUR"}, "vat_rate": "20.0"}]}}))).await.1);
    app.advance("5s").await;
    let expected = 2 + 3 + 1 + 3; // order statuses, text statuses, payment status, gateway events
    let posts = receiver.wait_posts(expected, 10).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut bodies: Vec<String> = posts
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.headers
                    .get("x-hub-signature-256")
                    .or(p.headers.get("x-razorpay-signature"))
                    .map(|h| h.to_str().unwrap())
                    .unwrap_or(""),
                String::from_utf8_lossy(&p.body)
            )
        })
        .collect();
    // Deliveries to different URLs race each other; within a URL the order is fixed.
    bodies.sort();
    let (_, deliveries) = app.admin_get("/webhooks").await;
    let mut ids: Vec<String> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    bodies.extend(ids);
    app.stop().await;
    (answers, bodies)
}

#[tokio::test]
async fn the_same_seed_and_requests_give_identical_ids_bodies_and_webhooks() {
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let first = scripted_run(&receiver).await;
    let count = receiver.posts().len();
    let receiver2 = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    // The callback URL is part of no body, so a second receiver keeps the runs comparable.
    let second = scripted_run(&receiver2).await;
    assert_eq!(receiver2.posts().len(), count);
    assert_eq!(first.0, second.0, "answers differ");
    assert_eq!(first.1, second.1, "webhooks differ");
    assert!(
        first.0[3]["short_url"]
            .as_str()
            .unwrap()
            .starts_with("http://sandbox.test/razorpay/i/")
    );
}

#[test]
fn the_cli_drives_a_running_sandbox() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(async {
        let mut config = test_config();
        config.clock.frozen = true;
        config.clock.start = Some("2026-01-01T00:00:00Z".into());
        TestApp::spawn_with(config).await
    });
    let bin = env!("CARGO_BIN_EXE_paylink-sandbox");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .arg("--url")
            .arg(&app.base)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let link = rt
        .block_on(app.rzp_json(
            Method::POST,
            "/v1/payment_links",
            Some(&json!({"amount": 500, "reference_id": "CLI-1"})),
        ))
        .1;
    let id = link["id"].as_str().unwrap().to_string();
    let (code, out, err) = run(&["pay", &id, "--method", "card"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("PROVIDER"), "{out}");
    assert!(
        out.contains("razorpay") && out.contains(&id) && out.contains("paid"),
        "{out}"
    );
    let (_, out, _) = run(&["pay", "CLI-1", "--json"]);
    assert!(
        out.contains("takes no more payments") || out.is_empty(),
        "already paid: {out}"
    );
    rt.block_on(app.send_message_json(&fixture(
        "whatsapp/valid/order_details-in-payment_gateway.json",
    )));
    let (code, out, err) = run(&["pay", "IN-PG-1001", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["provider"], "whatsapp");
    assert_eq!(v["result"]["payment_status"], "captured");
    let (code, _, err) = run(&["pay", "NOPE-404"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a payment link id"), "{err}");

    let (code, out, _) = run(&["clock", "advance", "15m"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("2026-01-01T00:15:00Z"), "{out}");
    let (code, _, _) = run(&["clock", "advance", "soon"]);
    assert_eq!(code, Some(1));
    let (code, out, _) = run(&["webhooks", "--json"]);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(!v["deliveries"].as_array().unwrap().is_empty());
    let (_, out, _) = run(&["webhooks", "--failed"]);
    assert_eq!(out, "no webhook deliveries\n");
    let (code, out, _) = run(&["reset", "--provider", "razorpay"]);
    assert_eq!((code, out.as_str()), (Some(0), "reset razorpay\n"));
    let (_, links) = rt.block_on(app.admin_get("/razorpay/payment_links"));
    assert_eq!(links["payment_links"], json!([]));
    let out = std::process::Command::new(bin)
        .args(["clock", "--url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unreachable sandbox");
}

/// Every path any router serves, read from the source: `.route("...")` calls, expanded for the
/// Graph router's optional `/{version}` prefix, with the mount point of the router they are in.
fn routed_paths() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = [
        (
            "providers/whatsapp/mod.rs",
            "/whatsapp",
            "/__sandbox/whatsapp",
        ),
        (
            "providers/razorpay/mod.rs",
            "/razorpay",
            "/__sandbox/razorpay",
        ),
        ("providers/qonto/mod.rs", "/qonto", "/__sandbox/qonto"),
        ("admin/mod.rs", "/__sandbox", "/__sandbox"),
        ("ui/mod.rs", "", ""),
    ];
    let mut out = Vec::new();
    for (file, mount, admin_mount) in files {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let split = text.find("pub fn admin_router").unwrap_or(text.len());
        for (offset, _) in text.match_indices(".route(") {
            let rest = &text[offset + 7..];
            let rest = rest.trim_start();
            let literal = if let Some(r) = rest.strip_prefix('"') {
                r.split('"').next().unwrap().to_string()
            } else if let Some(r) = rest.strip_prefix("&format!(\"") {
                r.split('"')
                    .next()
                    .unwrap()
                    .replace("{{", "{")
                    .replace("}}", "}")
            } else {
                continue;
            };
            let prefix = if offset < split { mount } else { admin_mount };
            if literal.contains("{prefix}") {
                for p in ["/{version}", ""] {
                    out.push(format!("{prefix}{}", literal.replace("{prefix}", p)));
                }
            } else {
                out.push(format!("{prefix}{literal}"));
            }
        }
    }
    out
}

fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_openapi_document_lists_every_routed_path() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.admin_get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| shape(p))
        .collect();
    let routed = routed_paths();
    assert!(
        routed.len() >= 40,
        "the scan found only {} routes",
        routed.len()
    );
    for path in &routed {
        let unversioned_graph =
            path.starts_with("/whatsapp/") && !path.starts_with("/whatsapp/{version}");
        let want = if unversioned_graph {
            shape(&path.replacen("/whatsapp/", "/whatsapp/{version}/", 1))
        } else {
            shape(path)
        };
        assert!(
            documented.contains(&want),
            "{path} is routed but missing from openapi.json"
        );
    }
    let messages = &doc["paths"]["/whatsapp/{version}/{phone_number_id}/messages"]["post"];
    assert_eq!(
        messages["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/whatsapp.message.send.request"
    );
    assert!(doc["components"]["schemas"]["qonto.payment_link-basket.create.request"].is_object());
}

#[tokio::test]
async fn every_example_scenario_and_fault_file_loads() {
    let app = TestApp::spawn().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut loaded = 0;
    for (dir, route) in [
        ("scenarios", "/__sandbox/scenario"),
        ("faults", "/__sandbox/faults"),
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let r = app
                .client
                .put(app.url(route))
                .header("content-type", "application/toml")
                .body(text)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                200,
                "{}: {}",
                path.display(),
                r.text().await.unwrap()
            );
            loaded += 1;
        }
    }
    assert!(loaded >= 4);
}
