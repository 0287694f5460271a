//! What the benchmark (`benches/bench.rs`) drives in process: the webhook engine of a real
//! sandbox, fed deliveries directly. Not part of the sandbox's interface.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::app::Sandbox;
use crate::config::Config;
use crate::ids::ProviderId;
use crate::webhook::{NewDelivery, Sign, Target, sign::hmac_sha256_hex};

/// A signer like the gateway's: an HMAC of the body.
#[derive(Debug)]
struct BenchSigner;

impl Sign for BenchSigner {
    fn secret(&self) -> &str {
        "bench-secret"
    }

    fn headers(&self, body: &[u8], _now_secs: i64, event_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("x-signature", hmac_sha256_hex(b"bench-secret", &[body])),
            ("x-event-id", event_id.to_string()),
        ]
    }
}

/// A sandbox whose webhook engine runs, with no server in front of it.
#[allow(missing_debug_implementations)]
pub struct Engine {
    sandbox: Sandbox,
    _timeline: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Starts the engine of a sandbox with `config`, as if bound at `addr`.
    pub fn start(config: Config, addr: SocketAddr) -> anyhow::Result<Self> {
        let sandbox = Sandbox::new(config, addr)?;
        let timeline = sandbox.start_background();
        Ok(Self {
            sandbox,
            _timeline: timeline,
        })
    }

    /// Sandbox time, in milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.sandbox.ctx.clock.now_ms()
    }

    /// Queues a signed delivery of `body` to `url`, due at sandbox time `due`.
    pub fn enqueue(&self, url: String, body: Vec<u8>, due: i64) {
        let ctx = &self.sandbox.ctx;
        let delivery = NewDelivery {
            id: format!("bench_{}", ctx.ids.alnum(12)),
            provider: ProviderId::new("bench"),
            tenant: "bench".into(),
            event: "bench".into(),
            reference: None,
            body,
            target: Some(Target {
                url,
                signer: Arc::new(BenchSigner),
                verify_token: None,
                timeout: None,
            }),
        };
        ctx.webhooks.enqueue(delivery, due);
    }

    pub fn shut_down(&self) {
        self.sandbox.ctx.shut_down();
    }
}

/// What a plain server that only parses a send and checks it against the sandbox's JSON Schemas
/// does with its body: the benchmark's second reference, next to the fixed-answer baseline.
#[allow(missing_debug_implementations)]
pub struct SchemaCheck(crate::schema::Schemas);

impl SchemaCheck {
    /// The sandbox's embedded schemas (each compiled on its first use).
    pub fn load() -> Self {
        Self(crate::schema::Schemas::load())
    }

    /// Parses `body` as JSON and validates it as a message send, and its `interactive` object as
    /// an India `order_details`. The number of violations; `None` when it is not JSON.
    pub fn check(&self, body: &[u8]) -> Option<usize> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let mut violations = self
            .0
            .validate("whatsapp/message.send.request", &value)
            .len();
        if let Some(interactive) = value.get("interactive") {
            violations += self
                .0
                .validate("whatsapp/order_details-in.send.request", interactive)
                .len();
        }
        Some(violations)
    }
}
