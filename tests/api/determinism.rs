//! What a test suite relies on across runs: the same seed gives the same ids, bodies and
//! webhooks; the CLI drives a running sandbox; the OpenAPI document lists every routed path; every
//! example scenario and fault file loads.

use std::time::Duration;

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

/// Runs the same script against a fresh sandbox and returns every answer and webhook body.
async fn scripted_run(receiver: &Receiver) -> (Vec<Value>, Vec<String>) {
    let mut config = test_config();
    config.clock.frozen = true;
    config.clock.start = Some("2026-06-01T00:00:00Z".into());
    config.server.public_url = Some("http://sandbox.test".into());
    config.providers.whatsapp.callback_url = Some(format!("{}/wa", receiver.url));
    config.providers.razorpay.accounts[0].webhook_url = Some(format!("{}/rzp", receiver.url));
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
        app.send_message_json(&text_message("+1 650 555 1234", "Olá 😀"))
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
        .create_payment_link(&json!({"amount": 2500, "reference_id": "DET-1"}))
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
    answers.push(app.create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
        "items": [{"title": "T", "quantity": 2, "unit_price": {"value": "3.33", "currency": "EUR"}, "vat_rate": "20.0"}]}})).await.1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
        .block_on(app.create_payment_link(&json!({"amount": 500, "reference_id": "CLI-1"})))
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
        let split = text.find("fn admin_router").unwrap_or(text.len());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
            documented.contains(&want) || documented.contains(&shape(path)),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
