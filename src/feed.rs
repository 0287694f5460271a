//! The live feed behind `paylink-sandbox listen`: every request to an emulated API and every
//! webhook as it happens, streamed as server-sent events from `GET /__sandbox/listen`.
//!
//! A webhook appears once per attempt (with the headers that attempt carried, signature included)
//! and once when it is produced with no target configured (then unsigned: without a target there
//! is no secret to sign with). Each item carries the exact body, so a listener can forward it.
//!
//! With nobody listening, publishing costs one atomic load: the item is not even built. A
//! listener that falls behind by more than the channel holds is told how many items it missed.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::clock::Millis;
use crate::ids::ProviderId;

/// Items held for a slow listener before it starts missing some.
const BACKLOG: usize = 4096;

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Item {
    Request {
        /// Sandbox time, milliseconds.
        at: Millis,
        provider: ProviderId,
        #[serde(skip_serializing_if = "Option::is_none")]
        tenant: Option<String>,
        method: String,
        path: String,
        status: u16,
        latency_ms: f64,
        violations: usize,
    },
    Webhook {
        at: Millis,
        delivery: String,
        provider: ProviderId,
        tenant: String,
        event: String,
        /// Where it went; `None` when no target was configured.
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The attempt's number and kind (`delivery`, `handshake`, `duplicate`, `dropped`);
        /// absent for a webhook produced with no target.
        #[serde(skip_serializing_if = "Option::is_none")]
        attempt: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status_code: Option<u16>,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The headers the attempt carried (signature, event id, ...), without content type.
        headers: Vec<(String, String)>,
        /// The exact body, as text.
        body: String,
    },
}

impl Item {
    pub(crate) fn provider(&self) -> ProviderId {
        match self {
            Item::Request { provider, .. } | Item::Webhook { provider, .. } => *provider,
        }
    }

    pub(crate) fn tenant(&self) -> Option<&str> {
        match self {
            Item::Request { tenant, .. } => tenant.as_deref(),
            Item::Webhook { tenant, .. } => Some(tenant),
        }
    }

    /// The SSE event name.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Item::Request { .. } => "request",
            Item::Webhook { .. } => "webhook",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Feed {
    tx: broadcast::Sender<Arc<Item>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Feed {
    /// Sends the item `build` makes to every listener; builds nothing when nobody listens.
    pub(crate) fn publish(&self, build: impl FnOnce() -> Item) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(build()));
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Item>> {
        self.tx.subscribe()
    }
}
