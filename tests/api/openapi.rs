//! `/__sandbox/openapi.json` as a client generator or a contract tester reads it: self-contained
//! (every `$ref` resolves inside the document), an answer declared for every route, security
//! schemes per provider; the real answers of a payment flow through all three providers match
//! the response schemas it declares; and, with the tools of `tests/sdk/requirements.txt`
//! installed, `openapi-spec-validator` accepts it and a bounded schemathesis run (random and
//! edge-case requests on every provider route, checking status codes, content types, headers and
//! response schemas, and that no request gets a 5xx) passes.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// The value at `pointer` (`#/components/...`) of `doc`, if any.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(r) if k == "$ref" => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_self_contained_and_declares_every_answer() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.admin_get("/openapi.json").await;
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 100, "only {} references", all.len());
    let dangling: Vec<&String> = all.iter().filter(|r| resolve(&doc, r).is_none()).collect();
    assert!(
        dangling.is_empty(),
        "references that resolve nowhere: {dangling:?}"
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in [
        "whatsappToken",
        "razorpayKey",
        "qontoSecretKey",
        "qontoOAuth",
    ] {
        assert!(schemes.contains_key(name), "no security scheme {name}");
    }
    let ops = operations(&doc);
    assert!(ops.len() >= 90, "only {} operations", ops.len());
    for (method, path, op) in &ops {
        let responses = op["responses"].as_object().unwrap();
        assert!(
            !responses.contains_key("default"),
            "{method} {path}: no answer declared"
        );
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{method} {path}"
        );
        assert!(
            responses.contains_key("4XX"),
            "{method} {path}: no error envelope"
        );
        for p in op["parameters"].as_array().unwrap() {
            assert_eq!(p["required"], true, "{method} {path}: {p}");
        }
        if let Some(body) = op.get("requestBody") {
            assert_eq!(body["required"], true, "{method} {path}");
        }
        for requirement in op["security"].as_array().unwrap() {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
            }
        }
        let guarded = ["/whatsapp/", "/razorpay/v1/", "/qonto/v2/"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
            && !path.ends_with("/oauth/access_token");
        assert_eq!(
            guarded,
            !op["security"].as_array().unwrap().is_empty(),
            "{method} {path}: security {}",
            op["security"]
        );
    }
}

/// Checks `body` (answered `status` by `method path`) against the schema the document declares
/// for that answer.
fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let responses = &doc["paths"][path][method.to_lowercase()]["responses"];
    let declared = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .unwrap_or_else(|| panic!("{method} {path}: {status} is not declared"));
    let schema = &declared["content"]["application/json"]["schema"];
    let root = json!({"$ref": schema["$ref"], "components": doc["components"]});
    let validator = jsonschema::validator_for(&root).expect("declared schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one flow through every provider, read top to bottom"
)]
async fn real_answers_match_the_declared_response_schemas() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.admin_get("/openapi.json").await;
    let rzp = async |method: Method, path: &str, template: &str, body: Option<&Value>| {
        let (status, answer) = app.rzp_json(method.clone(), path, body).await;
        check(
            &doc,
            method.as_str(),
            &format!("/razorpay{template}"),
            status,
            &answer,
        );
        (status, answer)
    };
    let (status, link) = rzp(
        Method::POST,
        "/v1/payment_links",
        "/v1/payment_links",
        Some(
            &json!({"amount": 50000, "currency": "INR", "reference_id": "OA-1",
            "customer": {"name": "Asha", "email": "asha@example.com"}}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let id = link["id"].as_str().unwrap();
    app.pay_link(id, "success").await;
    let (_, link) = rzp(
        Method::GET,
        &format!("/v1/payment_links/{id}"),
        "/v1/payment_links/{id}",
        None,
    )
    .await;
    let pay = link["payments"][0]["payment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let order = link["order_id"].as_str().unwrap().to_string();
    rzp(
        Method::GET,
        &format!("/v1/payments/{pay}"),
        "/v1/payments/{id}",
        None,
    )
    .await;
    rzp(
        Method::GET,
        &format!("/v1/orders/{order}"),
        "/v1/orders/{id}",
        None,
    )
    .await;
    rzp(
        Method::GET,
        &format!("/v1/orders/{order}/payments"),
        "/v1/orders/{id}/payments",
        None,
    )
    .await;
    let (status, refund) = rzp(
        Method::POST,
        &format!("/v1/payments/{pay}/refund"),
        "/v1/payments/{id}/refund",
        Some(&json!({"amount": 100})),
    )
    .await;
    assert_eq!(status, 200);
    rzp(
        Method::GET,
        &format!("/v1/payments/{pay}/refunds"),
        "/v1/payments/{id}/refunds",
        None,
    )
    .await;
    let rf = refund["id"].as_str().unwrap();
    rzp(
        Method::GET,
        &format!("/v1/refunds/{rf}"),
        "/v1/refunds/{id}",
        None,
    )
    .await;
    rzp(
        Method::GET,
        "/v1/payment_links/",
        "/v1/payment_links/",
        None,
    )
    .await;
    let (status, _) = rzp(
        Method::GET,
        "/v1/payment_links/plink_missing0000000",
        "/v1/payment_links/{id}",
        None,
    )
    .await;
    assert!(status >= 400);

    let qonto = async |method: Method, path: &str, template: &str, body: Option<&Value>| {
        let (status, answer) = app.qonto_json(method.clone(), path, body).await;
        if status != 204 {
            check(
                &doc,
                method.as_str(),
                &format!("/qonto{template}"),
                status,
                &answer,
            );
        }
        (status, answer)
    };
    let (status, created) = qonto(
        Method::POST,
        "/v2/payment_links",
        "/v2/payment_links",
        Some(&json!({"payment_link": {"potential_payment_methods": ["credit_card"], "reusable": false,
            "items": [{"title": "Tea", "quantity": 2, "unit_price": {"value": "4.50", "currency": "EUR"},
                "vat_rate": "20.0", "type": "good"}]}})),
    )
    .await;
    assert_eq!(status, 201);
    let qid = created["payment_link"]["id"].as_str().unwrap();
    app.pay_link(qid, "paid").await;
    for (path, template) in [
        (format!("/v2/payment_links/{qid}"), "/v2/payment_links/{id}"),
        (
            format!("/v2/payment_links/{qid}/payments"),
            "/v2/payment_links/{id}/payments",
        ),
        ("/v2/payment_links".into(), "/v2/payment_links"),
        (
            "/v2/payment_links/payment_methods".into(),
            "/v2/payment_links/payment_methods",
        ),
        (
            "/v2/payment_links/connections".into(),
            "/v2/payment_links/connections",
        ),
        (
            "/v2/webhook_subscriptions".into(),
            "/v2/webhook_subscriptions",
        ),
        ("/v2/payment_links/nope".into(), "/v2/payment_links/{id}"),
    ] {
        qonto(Method::GET, &path, template, None).await;
    }
    let (status, sub) = qonto(
        Method::POST,
        "/v2/webhook_subscriptions",
        "/v2/webhook_subscriptions",
        Some(
            &json!({"callback_url": "http://127.0.0.1:9/q", "types": ["v1/payment-links"],
            "description": "orders"}),
        ),
    )
    .await;
    assert_eq!(status, 201);
    let sid = sub["id"].as_str().unwrap();
    qonto(
        Method::GET,
        &format!("/v2/webhook_subscriptions/{sid}"),
        "/v2/webhook_subscriptions/{id}",
        None,
    )
    .await;

    let (status, sent) = app.send_message_json(&order_details("OA-WA-1")).await;
    assert_eq!(status, 200);
    check(
        &doc,
        "POST",
        "/whatsapp/{version}/{phone_number_id}/messages",
        status,
        &sent,
    );
    let (status, error) = app
        .send_message_json(&json!({"messaging_product": "whatsapp"}))
        .await;
    check(
        &doc,
        "POST",
        "/whatsapp/{version}/{phone_number_id}/messages",
        status,
        &error,
    );
    for (path, template) in [
        ("/health", "/__sandbox/health"),
        ("/clock", "/__sandbox/clock"),
        ("/webhooks", "/__sandbox/webhooks"),
        ("/requests", "/__sandbox/requests"),
        ("/faults", "/__sandbox/faults"),
        ("/trigger", "/__sandbox/trigger"),
        ("/dashboard/links", "/__sandbox/dashboard/links"),
        ("/whatsapp/messages", "/__sandbox/whatsapp/messages"),
        ("/whatsapp/windows", "/__sandbox/whatsapp/windows"),
        ("/qonto/connections", "/__sandbox/qonto/connections"),
        ("/razorpay/webhook", "/__sandbox/razorpay/webhook"),
        ("/webhooks/evt_nope", "/__sandbox/webhooks/{id}"),
    ] {
        let (status, body) = app.admin_get(path).await;
        check(&doc, "GET", template, status, &body);
    }
}

/// The Python that has the contract tools, or why there is none.
fn tools() -> Result<PathBuf, String> {
    let python = std::env::var_os("PAYLINK_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let ok = std::process::Command::new(&python)
        .args(["-c", "import openapi_spec_validator, schemathesis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "no Python with openapi-spec-validator and schemathesis at {} (.venv/bin/pip install -r tests/sdk/requirements.txt)",
            python.display()
        ))
    }
}

/// Runs `python args...`; panics with its output unless it exits 0.
async fn run_ok(python: &PathBuf, args: &[&str]) -> String {
    // Schemathesis keeps a cache in its working directory: keep it out of the source tree.
    let scratch = std::env::temp_dir().join(format!("paylink-contract-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let out = tokio::process::Command::new(python)
        .args(args)
        .current_dir(&scratch)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("python runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_spec_validator_and_schemathesis_accept_the_document() {
    let python = match tools() {
        Ok(p) => p,
        Err(why) if std::env::var_os("PAYLINK_REQUIRE_SDKS").is_some() => {
            panic!("PAYLINK_REQUIRE_SDKS is set but there is {why}")
        }
        Err(why) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED contract test: {why}");
            return;
        }
    };
    let app = TestApp::spawn().await;
    let doc = app
        .client
        .get(app.url("/__sandbox/openapi.json"))
        .send()
        .await
        .unwrap();
    let text = doc.text().await.unwrap();
    let dir = std::env::temp_dir().join(format!("paylink-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.json");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let validated = run_ok(&python, &["-m", "openapi_spec_validator", file]).await;
    assert!(validated.contains("OK"), "{validated}");
    let cases = schemathesis(&python, file, &app.base).await;
    assert!(cases > 1000, "only {cases} generated cases");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("paylink-contract-{}", std::process::id())),
    );
}

/// Runs schemathesis against `base` for every provider with its credentials and for the control
/// API; returns how many test cases it generated in all.
async fn schemathesis(python: &PathBuf, file: &str, base: &str) -> u32 {
    let basic = format!("{RZP_KEY}:{RZP_SECRET}");
    let wa = format!("Authorization: Bearer {TOKEN}");
    let qonto = format!("Authorization: {QONTO_KEY}");
    // Routes that register a callback URL are left out (schemathesis would point the sandbox's
    // webhooks at hosts off this machine), and so are the control routes that change how the
    // whole sandbox answers (faults, scenario, clock, reset) or stream forever.
    let providers = "subscriptions|subscribed_apps";
    let control = "events|listen|faults|scenario|clock/advance|reset|/webhook$";
    let runs: [(&[&str], [&str; 2], &str); 4] = [
        (&["whatsapp"], ["-H", &wa], providers),
        (&["razorpay"], ["-a", &basic], providers),
        (&["qonto"], ["-H", &qonto], providers),
        (
            &[
                "admin",
                "admin: whatsapp",
                "admin: razorpay",
                "admin: qonto",
                "dashboard",
            ],
            ["-H", "X-Contract-Test: 1"],
            control,
        ),
    ];
    let mut cases = 0;
    for (tags, auth, exclude) in runs {
        let mut args = vec![
            "-m",
            "schemathesis.cli",
            "run",
            file,
            "-u",
            base,
            "--exclude-path-regex",
            exclude,
            "-n",
            "15",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--no-color",
            "-c",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
        ];
        for tag in tags {
            args.extend(["--include-tag", tag]);
        }
        let tag = tags[0];
        args.extend(auth);
        let report = run_ok(python, &args).await;
        let line = report
            .lines()
            .find(|l| l.contains(" generated, "))
            .unwrap_or_else(|| panic!("no test-case count in:\n{report}"));
        assert!(
            line.contains("passed") && !line.contains("failed"),
            "{tag}: {line}\n{report}"
        );
        cases += line
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        println!("schemathesis {tag}: {}", line.trim());
    }
    cases
}
