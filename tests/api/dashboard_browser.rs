//! The dashboard in a real browser: Debian's headless chromium, driven by playwright-core
//! (`tests/browser/flow.mjs`), plays a whole flow against a sandbox this test starts on port 0:
//! a gateway link goes into an `order_details`, the customer taps pay in the chat, pays on the
//! checkout page, the timeline shows the signed webhook, and the card follows the merchant's
//! `order_status` live. Screenshots land in `target/screenshots/`.
//!
//! It needs `chromium` (or `PAYLINK_CHROMIUM`), `node`, and `npm ci --prefix tests/browser`;
//! `.ci/run` installs them. Without them the test says it was skipped and why, unless
//! `PAYLINK_REQUIRE_BROWSER=1` (set by `.ci/run`) makes that a failure.

use std::path::PathBuf;

use crate::helpers::*;
use crate::receiver::*;
use serde_json::{Value, json};

const SCREENSHOTS: [&str; 4] = [
    "dashboard-flow.png",
    "dashboard-timeline.png",
    "dashboard-checkout-paid.png",
    "dashboard-links-phone.png",
];

fn skip(why: &str) {
    if std::env::var_os("PAYLINK_REQUIRE_BROWSER").is_some() {
        panic!("PAYLINK_REQUIRE_BROWSER is set but {why}");
    }
    // Straight to the stream, not through eprintln!, so `cargo test` shows it even when the
    // (passing) test's output is captured.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED browser test: {why}");
}

fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The browser, node and playwright-core, or the reason one is missing.
fn tools() -> Result<(String, PathBuf), String> {
    let chromium = match std::env::var("PAYLINK_CHROMIUM") {
        Ok(path) if runs(&path, "--version") => path,
        Ok(path) => return Err(format!("PAYLINK_CHROMIUM={path} does not run")),
        Err(_) => ["/usr/bin/chromium", "chromium", "chromium-browser"]
            .into_iter()
            .find(|c| runs(c, "--version"))
            .ok_or("no chromium is installed (apt-get install chromium, or set PAYLINK_CHROMIUM)")?
            .to_string(),
    };
    if !runs("node", "--version") {
        return Err("node is not installed".into());
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "playwright-core is not installed in {} (npm ci --prefix tests/browser)",
            dir.display()
        ));
    }
    Ok((chromium, dir))
}

/// The first webhook POST matching `wanted`, waiting up to 5 s for it.
async fn posts_until(receiver: &Receiver, wanted: impl Fn(&Received) -> bool) -> Received {
    wait_for("a matching webhook", 5, || async {
        receiver
            .posts()
            .into_iter()
            .find(|p| serde_json::from_slice::<Value>(&p.body).is_ok() && wanted(p))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one story in a real browser, step by step; splitting it would start the browser once per step"
)]
async fn a_customer_pays_from_the_chat_and_the_dashboard_follows_live() {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) => return skip(&why),
    };
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(receiving(&receiver)).await;

    // The merchant creates a gateway link and sends it in an order_details message.
    let (status, link) = app
        .create_payment_link(&json!({"amount": 49750, "currency": "INR", "description": "Bakery order",
                "reference_id": "bakery-1003", "customer": {"name": "Asha", "contact": "+919876543210"}}))
        .await;
    assert_eq!(status, 200, "{link}");
    let short_url = link["short_url"].as_str().unwrap().to_string();
    assert!(short_url.starts_with(&app.base), "{short_url}");
    let mut order = fixture("whatsapp/valid/order_details-in-payment_link.json");
    let params = &mut order["interactive"]["action"]["parameters"];
    params["payment_settings"][0]["payment_link"]["uri"] = json!(short_url);
    let reference_id = params["reference_id"].as_str().unwrap().to_string();
    let (status, sent) = app.send_message_json(&order).await;
    assert_eq!(status, 200, "{sent}");
    let wa_id = sent["contacts"][0]["wa_id"].as_str().unwrap().to_string();

    // And a Brazil one-click card order for another customer.
    let card_order = fixture("whatsapp/valid/order_details-br-offsite_card_pay.json");
    let (status, card_sent) = app.send_message_json(&card_order).await;
    assert_eq!(status, 200, "{card_sent}");
    let card_params = &card_order["interactive"]["action"]["parameters"];

    // A broken copy, so the timeline has validation errors to show against their pointers.
    let mut broken = order.clone();
    broken["interactive"]["action"]["parameters"]["reference_id"] = json!("bakery-bad-1");
    broken["interactive"]["action"]["parameters"]["total_amount"]["value"] = json!(1);
    broken["interactive"]
        .as_object_mut()
        .unwrap()
        .remove("body");
    let (status, error) = app.send_message_json(&broken).await;
    assert_eq!(status, 400, "{error}");
    let pointers = detail_pointers(&error);
    assert!(pointers.len() >= 2, "{error}");

    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    for shot in SCREENSHOTS {
        let _ = std::fs::remove_file(screenshots.join(shot));
    }
    let config_path = std::env::temp_dir().join(format!("paylink-flow-{}.json", app.addr.port()));
    std::fs::write(
        &config_path,
        json!({
            "base": app.base, "chromium": chromium, "screenshots": screenshots,
            "token": TOKEN, "phone_number_id": PHONE_ID, "reference_id": reference_id,
            "wa_id": wa_id, "amount_text": "₹497.50", "violations": pointers,
            "one_click": {
                "wa_id": card_sent["contacts"][0]["wa_id"],
                "reference_id": card_params["reference_id"],
                "last_four": card_params["payment_settings"][0]["offsite_card_pay"]["last_four_digits"],
            },
        })
        .to_string(),
    )
    .unwrap();
    let output = tokio::process::Command::new("node")
        .arg(dir.join("flow.mjs"))
        .arg(&config_path)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), output)
        .await
        .expect("the browser flow finished within 120 s")
        .expect("node runs");
    let _ = std::fs::remove_file(&config_path);
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("no result from the browser\nstdout:\n{stdout}\nstderr:\n{stderr}")
        });
    assert!(
        output.status.success() && seen["ok"] == true,
        "browser flow failed: {seen:#}\nstderr:\n{stderr}"
    );
    assert_eq!(seen["status_before"], "pending");
    // BRL in Brazilian style, two decimals, from {"value": 34000, "offset": 100}.
    assert_eq!(seen["one_click_total"], "R$\u{a0}340,00");
    assert_eq!(seen["status_after"], "processing");
    let rows = seen["card_rows"].to_string();
    for text in [
        "Sourdough bread × 2",
        "GST 5%",
        "Standard delivery",
        "Loyalty discount",
    ] {
        assert!(rows.contains(text), "{text} missing from the card: {rows}");
    }

    // What the browser showed is what happened: the receiver got payment_link.paid, signed the
    // way razorpay's SDKs verify it, and the header the timeline showed is the one sent.
    let posts = receiver.wait_posts(1, 5).await;
    let paid = posts
        .iter()
        .find(|p| {
            p.header("x-razorpay-signature").is_some() && p.json()["event"] == "payment_link.paid"
        })
        .expect("payment_link.paid reached the receiver");
    let signature = paid.header("x-razorpay-signature").unwrap();
    assert_eq!(
        crate::helpers::hmac_sha256_hex(RZP_WEBHOOK_SECRET.as_bytes(), &[&paid.body]),
        signature
    );
    assert_eq!(
        seen["signature_header"],
        format!("x-razorpay-signature: {signature}")
    );
    assert_eq!(
        paid.json()["payload"]["payment_link"]["entity"]["reference_id"],
        "bakery-1003"
    );
    // "Send payment" reached the merchant as WhatsApp's signed payment_method message.
    let method = posts_until(&receiver, |p| {
        p.json()["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["type"]
            == "payment_method"
    })
    .await;
    let signature = method.header("x-hub-signature-256").unwrap();
    assert!(meta_signature_ok_raw(APP_SECRET, &method.body, &signature));
    let message = &method.json()["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(
        message["interactive"]["payment_method"]["reference_id"],
        card_params["reference_id"]
    );
    assert!(
        seen["one_click_reply"].as_str().unwrap().contains(
            message["interactive"]["payment_method"]["last_four_digits"]
                .as_str()
                .unwrap()
        ),
        "{seen}"
    );
    let (_, order) = app.admin_order(&reference_id).await;
    assert_eq!(order["status"], "processing", "{order}");
    for shot in SCREENSHOTS {
        let bytes = std::fs::read(screenshots.join(shot)).expect("screenshot saved");
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    app.stop().await;
}

/// Runs `tests/browser/<script>` with `config` (written to a temporary file); returns whether it
/// exited 0, the JSON line it printed last, and its standard error.
async fn run_node(dir: &std::path::Path, script: &str, config: &Value) -> (bool, Value, String) {
    let port = config["base"]
        .as_str()
        .unwrap_or_default()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let config_path = std::env::temp_dir().join(format!("paylink-{script}-{port}.json"));
    std::fs::write(&config_path, config.to_string()).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .arg(&config_path)
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), output)
        .await
        .unwrap_or_else(|_| panic!("{script} finished within 180 s"))
        .expect("node runs");
    let _ = std::fs::remove_file(&config_path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let seen: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result from {script}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    (output.status.success(), seen, stderr)
}

/// Runs `tests/browser/views.mjs` over `views` against `app`; panics with what it found wrong.
async fn fits(app: &TestApp, chromium: &str, dir: &std::path::Path, views: &Value) -> Vec<String> {
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/views");
    let config =
        json!({"base": app.base, "chromium": chromium, "screenshots": screenshots, "views": views});
    let (ok, seen, stderr) = run_node(dir, "views.mjs", &config).await;
    assert!(
        ok && seen["problems"].as_array().is_some_and(Vec::is_empty),
        "views that do not fit: {seen:#}\nstderr:\n{stderr}"
    );
    let shots: Vec<String> = seen["shots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(shots.len(), views.as_array().unwrap().len() * 2, "{seen}");
    for shot in &shots {
        let bytes = std::fs::read(shot).expect("screenshot saved");
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    println!(
        "screenshots of every view at 390 and 1280 wide: {}",
        screenshots.display()
    );
    shots
}

/// Test defaults with WhatsApp's and the gateway's webhooks going to `receiver`.
fn receiving(receiver: &Receiver) -> paylink_sandbox::config::Config {
    let mut config = webhook_config(&receiver.url);
    config.providers.razorpay.accounts[0].webhook_url = Some(receiver.url.clone());
    config
}

fn tab(name: &str) -> Value {
    json!({"name": format!("{name}-empty"), "url": format!("/#{name}"), "ready": format!("body[data-ready={name}]")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_fits_a_phone_and_a_desktop_empty_and_full() {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) => return skip(&why),
    };
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let app = TestApp::spawn_with(receiving(&receiver)).await;
    fits(
        &app,
        &chromium,
        &dir,
        &json!([tab("chats"), tab("links"), tab("timeline")]),
    )
    .await;

    // Full: long ids, paths and URLs everywhere, in all three providers.
    let (_, link) = app
        .create_payment_link(&json!({"amount": 149_900, "currency": "INR", "description": "A long description of two loaves",
            "reference_id": "ORDER-1001-WITH-A-RATHER-LONG-REFERENCE",
            "customer": {"name": "Asha Rao", "email": "asha.rao.with.a.long.address@example.com"}}))
        .await;
    let (_, partial) = app
        .create_payment_link(&json!({"amount": 50_000, "currency": "INR", "accept_partial": true, "first_min_partial_amount": 10_000}))
        .await;
    app.admin_post(
        "/pay",
        &json!({"target": partial["id"], "outcome": "success", "amount": 20_000}),
    )
    .await;
    for name in [
        "order_details-in-payment_gateway",
        "order_details-br-pix_dynamic_code",
        "order_details-in-upi_intent_link",
    ] {
        let (status, sent) = app
            .send_message_json(&fixture(&format!("whatsapp/valid/{name}.json")))
            .await;
        assert_eq!(status, 200, "{sent}");
    }
    app.admin_post(
        "/whatsapp/orders/IN-PG-1001/pay",
        &json!({"outcome": "captured", "method": "upi"}),
    )
    .await;
    let (_, qonto) = app
        .create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card", "paypal", "ideal", "apple_pay"],
            "reusable": false, "items": [{"title": "Consulting", "quantity": 1,
            "unit_price": {"value": "10.99", "currency": "EUR"}, "vat_rate": "21.0", "type": "service"}]}}))
        .await;
    let (_, connection) = app
        .qonto_json(reqwest::Method::GET, "/v2/payment_links/connections", None)
        .await;
    receiver.wait_posts(3, 5).await;
    let local = |url: &Value| {
        url.as_str()
            .unwrap()
            .trim_start_matches(&app.base)
            .to_string()
    };
    let views = json!([
        {"name": "chats", "url": "/#chats", "ready": "body[data-ready=chats] [data-detail-total]"},
        {"name": "links", "url": "/#links", "ready": "body[data-ready=links]"},
        {"name": "timeline", "url": "/#timeline", "ready": "body[data-ready=timeline]"},
        {"name": "timeline-open", "url": "/#timeline", "ready": "body[data-ready=timeline]",
            "click": "li[data-kind=webhook][data-status=delivered] summary", "after": "dl.headers"},
        {"name": "gateway-checkout", "url": local(&link["short_url"])},
        {"name": "qonto-checkout", "url": local(&qonto["payment_link"]["url"])},
        {"name": "qonto-checkout-method", "url": format!("{}&method=credit_card", local(&qonto["payment_link"]["url"]))},
        {"name": "gateway-checkout-partly-paid", "url": local(&partial["short_url"])},
        {"name": "qonto-onboarding", "url": local(&connection["connection_location"])},
    ]);
    fits(&app, &chromium, &dir, &views).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_pages_follow_the_amount_explain_a_failure_and_settle_live() {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) => return skip(&why),
    };
    let receiver = Receiver::start(Behaviour::Ok { verify_token: None }).await;
    let mut config = receiving(&receiver);
    config.providers.qonto.settlement_delay =
        paylink_sandbox::clock::Span(std::time::Duration::from_secs(1));
    let app = TestApp::spawn_with(config).await;
    let (_, link) = app
        .create_payment_link(
            &json!({"amount": 149_900, "currency": "INR", "accept_partial": true,
            "first_min_partial_amount": 10_000}),
        )
        .await;
    let (_, qonto) = app
        .create_qonto_link(&json!({"payment_link": {"potential_payment_methods": ["credit_card", "paypal"],
            "reusable": false, "items": [{"title": "Consulting", "quantity": 1,
            "unit_price": {"value": "10.99", "currency": "EUR"}, "vat_rate": "21.0", "type": "service"}]}}))
        .await;
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/views");
    let cfg = json!({"base": app.base, "chromium": chromium, "screenshots": screenshots,
        "gateway_url": link["short_url"], "qonto_url": qonto["payment_link"]["url"]});
    let (ok, seen, stderr) = run_node(&dir, "checkout.mjs", &cfg).await;
    assert!(ok && seen["ok"] == true, "{seen:#}\n{stderr}");
    assert_eq!(seen["label_before"], "Pay ₹1,499.00");
    assert_eq!(
        seen["label_typed"], "Pay ₹600.00",
        "the label follows the typed amount"
    );
    assert_eq!(seen["try_again"], true);
    // The page says what the webhook says.
    let failed = wait_for("payment.failed", 5, || async {
        receiver
            .posts()
            .into_iter()
            .find(|p| p.json()["event"] == "payment.failed")
    })
    .await;
    let entity = &failed.json()["payload"]["payment"]["entity"];
    assert_eq!(entity["amount"], 60_000, "the typed amount was charged");
    assert_eq!(seen["failure_code"], entity["error_code"]);
    let text = seen["failure_text"].as_str().unwrap();
    for key in [
        "error_code",
        "error_description",
        "error_reason",
        "error_source",
        "error_step",
        "id",
    ] {
        let value = entity[key].as_str().unwrap();
        assert!(
            text.contains(value),
            "{key} {value:?} missing from {text:?}"
        );
    }
    assert_eq!(seen["qonto_first"], "processing", "{seen}");
    assert!(
        seen["qonto_first_text"]
            .as_str()
            .unwrap()
            .contains("processing"),
        "{seen}"
    );
    assert!(
        seen["qonto_then_text"]
            .as_str()
            .unwrap()
            .starts_with("Paid"),
        "{seen}"
    );
    assert_eq!(seen["qonto_status_shown"], "paid");
    app.stop().await;
}
