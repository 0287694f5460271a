//! The dashboard's server side, over HTTP: its embedded assets, that they reach nothing outside
//! the sandbox, and the live-update stream it listens to. (The browser itself is driven in
//! `dashboard_browser.rs`.)

use std::time::Duration;

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        let body = r.text().await.unwrap();
        // Works offline: no CDN, no web fonts, no address outside the sandbox. (The one
        // namespace URI an SVG must carry is not fetched.)
        let outside: Vec<&str> = body
            .match_indices("http")
            .map(|(i, _)| &body[i..(i + 40).min(body.len())])
            .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
            .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(outside.is_empty(), "{path} refers outside: {outside:?}");
        assert!(
            !body.contains("@import") && !body.contains("@font-face"),
            "{path}"
        );
    }
    let html = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for landmark in [
        "<html lang=\"en\"",
        "<main",
        "<nav",
        "<header",
        "Skip to content",
    ] {
        assert!(html.contains(landmark), "{landmark}");
    }
    app.stop().await;
}

/// A dashboard's view of `/__sandbox/events`: every `change` event so far.
struct Events {
    response: reqwest::Response,
    text: String,
}

impl Events {
    async fn open(app: &TestApp) -> Self {
        let response = app
            .client
            .get(app.url("/__sandbox/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            text: String::new(),
        }
    }

    /// The generations carried by the `change` events received so far.
    fn changes(&self) -> Vec<u64> {
        self.text
            .split("\n\n")
            .filter(|e| e.lines().any(|l| l == "event: change"))
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|g| g.parse().unwrap())
            .collect()
    }

    /// Reads until at least `want` change events arrived in all, or panics after `secs`.
    async fn wait(&mut self, want: usize, secs: u64) -> Vec<u64> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let changes = self.changes();
            if changes.len() >= want {
                return changes;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("wanted {want} change events, have {changes:?} ({other:?})"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_says_when_requests_webhooks_and_the_clock_change_things() {
    let app = TestApp::spawn().await;
    let mut events = Events::open(&app).await;
    // One event on connect, so a page draws at once.
    events.wait(1, 5).await;

    // A burst of requests comes out as few events (at most ten a second), each newer.
    for _ in 0..20 {
        app.send_message(&fixture("whatsapp/valid/text.json")).await;
    }
    let seen = events.wait(2, 5).await;
    assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
    // Statuses are scheduled as timeline jobs; let them fire and their events settle.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let settled = {
        let _ = tokio::time::timeout(Duration::from_millis(200), events.wait(usize::MAX, 1)).await;
        events.changes().len()
    };
    assert!(settled < 20, "20 requests became {settled} events");

    // An admin action that reaches no provider route (advancing the clock) is announced too.
    let (status, _) = app
        .admin_post("/clock/advance", &json!({"seconds": 60}))
        .await;
    assert_eq!(status, 200);
    events.wait(settled + 1, 5).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_dashboard_leaves_no_listener_behind() {
    let app = TestApp::spawn().await;
    let listeners = |app: &TestApp| {
        let client = app.client.clone();
        let url = app.url("/__sandbox/health");
        async move {
            let health: serde_json::Value =
                client.get(url).send().await.unwrap().json().await.unwrap();
            health["dashboards"].as_u64().unwrap()
        }
    };
    assert_eq!(listeners(&app).await, 0);
    let mut events = Events::open(&app).await;
    events.wait(1, 5).await;
    assert_eq!(listeners(&app).await, 1);
    drop(events);
    // The next change notices the closed connection and drops its listener.
    let (status, body) = app
        .send_message_json(&fixture("whatsapp/valid/text.json"))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for("the closed stream's listener to go", 5, || async {
        (listeners(&app).await == 0).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_links_page_is_described_by_each_provider_that_issues_links() {
    let app = TestApp::spawn().await;
    let (_, panels) = app.admin_get("/dashboard/links").await;
    let providers: Vec<&str> = panels["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["razorpay", "qonto"], "WhatsApp issues no links");
    assert_eq!(panels["panels"][0]["rows"], json!([]));
    assert_eq!(
        panels["panels"][0]["empty"][1],
        json!({"kind": "code", "text": "POST /razorpay/v1/payment_links"})
    );

    let (_, first) = app
        .create_payment_link(&json!({"amount": 49750, "reference_id": "R-1"}))
        .await;
    let (_, second) = app.create_payment_link(&json!({"amount": 100})).await;
    let (status, v) = app.pay_link(first["id"].as_str().unwrap(), "success").await;
    assert_eq!(status, 200, "{v}");
    let (_, panels) = app.admin_get("/dashboard/links").await;
    let gateway = &panels["panels"][0];
    let keys: Vec<&Value> = gateway["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["key"])
        .collect();
    assert_eq!(keys, [&second["id"], &first["id"]], "newest first");
    let paid = &gateway["rows"][1]["cells"];
    assert_eq!(
        gateway["columns"].as_array().unwrap().len(),
        paid.as_array().unwrap().len()
    );
    assert_eq!(paid[1][0]["text"], "R-1");
    assert_eq!(paid[2][0]["text"], "₹497.50");
    assert_eq!(paid[4][0], json!({"kind": "status", "text": "paid"}));
    assert_eq!(paid[6][0]["href"], first["short_url"]);
    let qonto = &panels["panels"][1];
    assert_eq!(qonto["lines"][0][2]["kind"], "status", "{qonto}");
}
