//! A real HTTP webhook receiver for tests: records every request it gets and answers as told
//! (echo the Meta challenge, a status code, a delay, or raw garbage on the socket).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, Method, StatusCode},
    response::IntoResponse,
    routing::any,
};
use tokio::{io::AsyncWriteExt, net::TcpListener};

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub method: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        crate::helpers::query_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    /// 200, echoing `hub.challenge` on GET when the verify token matches `verify_token`.
    Ok { verify_token: Option<String> },
    /// This status to every request (GET handshakes included).
    Status(u16),
    /// Answer 200 after this long.
    Slow(Duration),
    /// On GET, answer 200 with a wrong challenge.
    WrongChallenge,
}

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// WhatsApp bodies that broke Meta's documented webhook shape, checked when the receiver
    /// is dropped.
    drift: Arc<Mutex<Vec<String>>>,
}

fn compile(text: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// The vendors' documented webhook shapes (`schemas/<provider>/webhooks/`).
static WHATSAPP_WEBHOOK: std::sync::LazyLock<jsonschema::Validator> =
    std::sync::LazyLock::new(|| {
        compile(include_str!(
            "../../schemas/whatsapp/webhooks/notification.json"
        ))
    });
static RAZORPAY_WEBHOOK: std::sync::LazyLock<jsonschema::Validator> =
    std::sync::LazyLock::new(|| {
        compile(include_str!("../../schemas/razorpay/webhooks/event.json"))
    });
static QONTO_WEBHOOK: std::sync::LazyLock<jsonschema::Validator> =
    std::sync::LazyLock::new(|| compile(include_str!("../../schemas/qonto/webhooks/event.json")));

fn drift(validator: &jsonschema::Validator, body: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// What `body` breaks of Meta's documented webhook shape (empty when it conforms).
pub(crate) fn whatsapp_webhook_drift(body: &serde_json::Value) -> Vec<String> {
    drift(&WHATSAPP_WEBHOOK, body)
}

/// What a webhook body breaks of its vendor's documented shape, whichever vendor sent it
/// (recognised by its envelope); `None` for a body of no vendor's.
pub(crate) fn webhook_drift(body: &serde_json::Value) -> Option<Vec<String>> {
    if body["object"] == "whatsapp_business_account" {
        Some(drift(&WHATSAPP_WEBHOOK, body))
    } else if body["entity"] == "event" && body.get("payload").is_some() {
        Some(drift(&RAZORPAY_WEBHOOK, body))
    } else if body.get("subscription_id").is_some() && body.get("type").is_some() {
        Some(drift(&QONTO_WEBHOOK, body))
    } else {
        None
    }
}

pub(crate) struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    pub(crate) async fn start(behaviour: Behaviour) -> Self {
        let shared = Shared {
            received: Arc::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            drift: Arc::default(),
        };
        let app = Router::new()
            .route("/{*path}", any(handle))
            .route("/", any(handle))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/webhook"),
            shared,
        }
    }

    pub(crate) fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub(crate) fn posts(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    pub(crate) fn gets(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect()
    }

    /// Waits until at least `n` POSTs arrived (or panics after `secs`).
    pub(crate) async fn wait_posts(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let posts = self.posts();
            if posts.len() >= n {
                return posts;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "expected {n} webhook POSTs, got {}: {:#?}",
                    posts.len(),
                    posts
                        .iter()
                        .map(|p| String::from_utf8_lossy(&p.body).to_string())
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let received = Received {
        method: method.to_string(),
        query: query.unwrap_or_default(),
        headers,
        body,
    };
    shared.received.lock().unwrap().push(received.clone());
    if method == Method::POST
        && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&received.body)
        && let Some(drift) = webhook_drift(&body)
        && !drift.is_empty()
    {
        shared
            .drift
            .lock()
            .unwrap()
            .push(format!("{body}\n  {}", drift.join("\n  ")));
    }
    let behaviour = shared.behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Ok { verify_token } => {
            if method == Method::GET {
                let token_ok = verify_token.is_none()
                    || received.query_param("hub.verify_token") == verify_token;
                if received.query_param("hub.mode").as_deref() == Some("subscribe") && token_ok {
                    return received
                        .query_param("hub.challenge")
                        .unwrap_or_default()
                        .into_response();
                }
                return (StatusCode::FORBIDDEN, "Forbidden").into_response();
            }
            (StatusCode::OK, "EVENT_RECEIVED").into_response()
        }
        Behaviour::Status(code) => (StatusCode::from_u16(code).unwrap(), "nope").into_response(),
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            if method == Method::GET {
                return received
                    .query_param("hub.challenge")
                    .unwrap_or_default()
                    .into_response();
            }
            (StatusCode::OK, "late").into_response()
        }
        Behaviour::WrongChallenge => {
            if method == Method::GET {
                return "not-the-challenge".into_response();
            }
            (StatusCode::OK, "ok").into_response()
        }
    }
}

/// A TCP port that answers every connection with bytes that are not HTTP, then hangs up.
pub(crate) async fn garbage_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"\x00\xffTHIS IS NOT HTTP\r\n\r\n").await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}/webhook")
}

/// A URL nothing listens on.
pub(crate) async fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/webhook")
}

/// pywa's check: HMAC-SHA256 of the raw body, keyed with the app secret, against the header
/// without its `sha256=` prefix.
pub(crate) fn meta_signature_ok_raw(secret: &str, body: &[u8], header: &str) -> bool {
    use hmac::{KeyInit, Mac};
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::decode(hex_sig).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

/// whatsapp-api-js's check: the body as a framework hands it over after decoding
/// (`JSON.stringify(JSON.parse(raw))`, so non-ASCII is raw UTF-8 again), re-escaped with
/// `/[^\0-~]/g → \uXXXX` (lowercase, UTF-16 units), then HMAC-SHA256.
pub(crate) fn meta_signature_ok_reescaped(secret: &str, body: &[u8], header: &str) -> bool {
    let decoded: serde_json::Value = serde_json::from_slice(body).unwrap();
    let restringified = serde_json::to_string(&decoded).unwrap();
    let mut escaped = String::new();
    for ch in restringified.chars() {
        if (ch as u32) <= 0x7e {
            escaped.push(ch);
        } else {
            let mut units = [0u16; 2];
            for u in ch.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    meta_signature_ok_raw(secret, escaped.as_bytes(), header)
}

/// Every WhatsApp webhook a test received must match Meta's documented shape: a drift fails the
/// test that caused it.
impl Drop for Receiver {
    fn drop(&mut self) {
        let drift = self
            .shared
            .drift
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default();
        if !drift.is_empty() && !std::thread::panicking() {
            panic!(
                "webhooks that break their vendor's documented shape:\n{}",
                drift.join("\n")
            );
        }
    }
}
