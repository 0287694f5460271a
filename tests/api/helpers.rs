//! Test helpers: a `TestApp` that boots the real server on port 0 with its own state, and
//! helpers named after the endpoints they call.

use std::{net::SocketAddr, time::Duration};

use paylink_sandbox::config::Config;
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub(crate) const TOKEN: &str = "EAAPaylinkSandboxTestAccessToken0000";
pub(crate) const PHONE_ID: &str = "106540352242922";
pub(crate) const WABA_ID: &str = "102290129340398";
pub(crate) const APP_SECRET: &str = "paylink-sandbox-app-secret";
pub(crate) const RZP_KEY: &str = "rzp_test_PaylinkSandbox01";
pub(crate) const RZP_SECRET: &str = "paylinkSandboxKeySecret01";
pub(crate) const RZP_WEBHOOK_SECRET: &str = "paylink-sandbox-webhook-secret";
pub(crate) const QONTO_KEY: &str = "paylink-sandbox-org-7132:paylinkSandboxQontoSecretKey0001";
pub(crate) const QONTO_TOKEN: &str = "qonto_sandbox_oauth_token_0001";
pub(crate) const QONTO_READONLY: &str = "qonto_sandbox_readonly_token_0001";

pub(crate) struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The embedded defaults with a fixed seed, so ids are stable within a test, and without the
/// customer-service window (most tests message numbers that never wrote; `customer_window.rs`
/// tests the window itself).
pub(crate) fn test_config() -> Config {
    let mut config = Config {
        seed: Some(42),
        ..Config::default()
    };
    config.providers.whatsapp.customer_service_window = false;
    config
}

/// Test defaults with WhatsApp webhooks going to `url`, short retries and timeouts, and quick
/// statuses.
pub(crate) fn webhook_config(url: &str) -> Config {
    let mut config = test_config();
    config.providers.whatsapp.callback_url = Some(url.to_string());
    config.webhooks.retry_schedule =
        paylink_sandbox::cli::parse_schedule("50ms,100ms,150ms").unwrap();
    config.webhooks.timeout = paylink_sandbox::clock::Span(Duration::from_millis(500));
    whatsapp_sequence(&mut config).delays = ["10ms", "20ms", "30ms"]
        .iter()
        .map(|d| paylink_sandbox::clock::Span(paylink_sandbox::clock::parse_duration(d).unwrap()))
        .collect();
    config
}

/// The WhatsApp status sequence of a configuration's scenario, the default one until changed.
pub(crate) fn whatsapp_sequence(config: &mut Config) -> &mut paylink_sandbox::scenario::Sequence {
    let ms = |n| paylink_sandbox::clock::Span(Duration::from_millis(n));
    config
        .scenario
        .sequences
        .entry("whatsapp".into())
        .or_insert_with(|| paylink_sandbox::scenario::Sequence {
            statuses: vec!["sent".into(), "delivered".into(), "read".into()],
            delays: vec![ms(200), ms(600), ms(1500)],
        })
}

/// Lowercase hex HMAC-SHA256 of the concatenated `parts`, as the vendors' verifiers compute it.
pub(crate) fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The decoded pairs of a query string, in order.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `secs` seconds.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(test_config()).await
    }

    pub(crate) async fn spawn_with(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(paylink_sandbox::run(listener, config, async {
            let _ = rx.await;
        }));
        let app = Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            handle: Some(handle),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(self.url("/__sandbox/health")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("sandbox did not become ready at {}", self.base);
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn messages_url(&self) -> String {
        self.url(&format!("/whatsapp/v23.0/{PHONE_ID}/messages"))
    }

    /// `POST /whatsapp/v23.0/{phone}/messages` with the default business's token.
    pub(crate) async fn send_message(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.messages_url())
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("request reaches the sandbox")
    }

    /// Sends an India `order_details` with a payment gateway under `reference_id`.
    pub(crate) async fn send_order(&self, reference_id: &str) -> (u16, Value) {
        self.send_message_json(&order_details(reference_id)).await
    }

    /// Sends an `order_status` moving the order `reference_id` to `status`.
    pub(crate) async fn send_order_status(&self, reference_id: &str, status: &str) -> (u16, Value) {
        self.send_message_json(&order_status(reference_id, status))
            .await
    }

    /// Sends and returns `(status, body as JSON)`.
    pub(crate) async fn send_message_json(&self, body: &Value) -> (u16, Value) {
        let response = self.send_message(body).await;
        let status = response.status().as_u16();
        let json = response.json::<Value>().await.expect("the answer is JSON");
        (status, json)
    }

    /// A request to `/razorpay{path}` with the default key pair.
    pub(crate) fn rzp(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(&format!("/razorpay{path}")))
            .basic_auth(RZP_KEY, Some(RZP_SECRET))
    }

    /// Sends a gateway request and returns `(status, JSON body)`.
    pub(crate) async fn rzp_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut r = self.rzp(method, path);
        if let Some(b) = body {
            r = r.json(b);
        }
        let response = r.send().await.expect("sandbox reachable");
        let status = response.status().as_u16();
        (status, response.json().await.expect("gateway answers JSON"))
    }

    /// `GET /razorpay/v1/payment_links/{id}` with the default key pair; the link must be there.
    pub(crate) async fn gateway_link(&self, id: &str) -> Value {
        let (status, link) = self
            .rzp_json(
                reqwest::Method::GET,
                &format!("/v1/payment_links/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{link}");
        link
    }

    /// `POST /razorpay/v1/payment_links` with the default key pair: `(status, JSON body)`.
    pub(crate) async fn create_payment_link(&self, body: &Value) -> (u16, Value) {
        self.rzp_json(reqwest::Method::POST, "/v1/payment_links", Some(body))
            .await
    }

    /// `POST /__sandbox/pay`: a customer pays (or fails to pay) the link or order `target`.
    pub(crate) async fn pay_link(&self, target: &str, outcome: &str) -> (u16, Value) {
        self.admin_post(
            "/pay",
            &serde_json::json!({"target": target, "outcome": outcome}),
        )
        .await
    }

    /// A request to `/qonto{path}` with the default organization's API key.
    pub(crate) fn qonto(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(&format!("/qonto{path}")))
            .header("authorization", QONTO_KEY)
    }

    /// Sends a Qonto request and returns `(status, JSON body or null)`.
    pub(crate) async fn qonto_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut r = self.qonto(method, path);
        if let Some(b) = body {
            r = r.json(b);
        }
        let response = r.send().await.expect("sandbox reachable");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /qonto/v2/payment_links` with the default organization's key: `(status, JSON)`.
    pub(crate) async fn create_qonto_link(&self, body: &Value) -> (u16, Value) {
        self.qonto_json(reqwest::Method::POST, "/v2/payment_links", Some(body))
            .await
    }

    pub(crate) async fn admin_get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(&format!("/__sandbox{path}")))
            .send()
            .await
            .expect("admin reachable");
        let status = r.status().as_u16();
        (status, r.json().await.expect("admin answers JSON"))
    }

    pub(crate) async fn admin_post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.admin_send(reqwest::Method::POST, path, body).await
    }

    pub(crate) async fn admin_put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.admin_send(reqwest::Method::PUT, path, body).await
    }

    async fn admin_send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .request(method, self.url(&format!("/__sandbox{path}")))
            .json(body)
            .send()
            .await
            .expect("admin reachable");
        let status = r.status().as_u16();
        (status, r.json().await.expect("admin answers JSON"))
    }

    /// `PUT /__sandbox/scenario` with a scenario file from `fixtures/scenarios/`.
    pub(crate) async fn put_scenario_file(&self, name: &str) -> (u16, Value) {
        let path = format!("{}/fixtures/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let r = self
            .client
            .put(self.url("/__sandbox/scenario"))
            .header("content-type", "application/toml")
            .body(text)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// `POST /__sandbox/clock/advance`.
    pub(crate) async fn advance(&self, duration: &str) -> Value {
        let (status, v) = self
            .admin_post("/clock/advance", &serde_json::json!({"duration": duration}))
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub(crate) async fn deliveries(&self, query: &str) -> Vec<Value> {
        let (_, v) = self.admin_get(&format!("/webhooks{query}")).await;
        v["deliveries"].as_array().cloned().unwrap_or_default()
    }

    pub(crate) async fn admin_messages(&self) -> Vec<Value> {
        let (_, v) = self.admin_get("/whatsapp/messages").await;
        v["messages"].as_array().cloned().unwrap_or_default()
    }

    pub(crate) async fn admin_order(&self, reference_id: &str) -> (u16, Value) {
        self.admin_get(&format!("/whatsapp/orders/{reference_id}"))
            .await
    }

    /// The anti-forgery token of the hosted form on the page at `url`, as a browser submits it.
    pub(crate) async fn form_token(&self, url: &str) -> String {
        let page = self
            .client
            .get(url)
            .send()
            .await
            .expect("page reachable")
            .text()
            .await
            .expect("page text");
        let marker = "name=\"form_token\" value=\"";
        let start = page
            .find(marker)
            .unwrap_or_else(|| panic!("no form on {url}"))
            + marker.len();
        page[start..].split('"').next().unwrap_or("").to_string()
    }

    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server ends cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Reads a fixture file under `fixtures/`.
/// A text message to `to`.
pub(crate) fn text_message(to: &str, body: &str) -> Value {
    serde_json::json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}

/// An India `order_details` with a payment gateway (the fixture), under `reference_id`.
pub(crate) fn order_details(reference_id: &str) -> Value {
    let mut v = fixture("whatsapp/valid/order_details-in-payment_gateway.json");
    v["interactive"]["action"]["parameters"]["reference_id"] = serde_json::json!(reference_id);
    v
}

/// An `order_status` message moving `reference_id` to `status`.
pub(crate) fn order_status(reference_id: &str, status: &str) -> Value {
    serde_json::json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "interactive",
           "interactive": {"type": "order_status", "body": {"text": "Update"},
             "action": {"name": "review_order", "parameters": {"reference_id": reference_id,
               "order": {"status": status}}}}})
}

pub(crate) fn fixture(path: &str) -> Value {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The pointers named in a Graph error's `details`.
pub(crate) fn detail_pointers(error: &Value) -> Vec<String> {
    error["error"]["error_data"]["details"]
        .as_str()
        .unwrap_or("")
        .split("; ")
        .filter_map(|d| d.split_once(": ").map(|(p, _)| p.to_string()))
        .collect()
}

/// Lowercase hex SHA-256, as Graph reports a media file's digest.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
