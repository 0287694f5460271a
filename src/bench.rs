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
