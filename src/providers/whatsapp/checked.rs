//! What the stateless checks of a message produce ([`Checked`]): its intent, recipient, the
//! order or status update it carries, its violations and warnings, and the constants and helper
//! the message rules and the order rules share.

use serde_json::{Map, Value};

use super::model::{OrderStatus, PaymentStatus, Region};
use crate::schema::{Schemas, Violation};

/// Where an order's `action.parameters` sit in a message.
pub(super) const PARAMS: &str = "/interactive/action/parameters";

/// The largest amount, in paise, a single UPI payment may carry (₹5,00,000).
pub(super) const UPI_CAP_PAISE: i128 = 50_000_000;

/// The least time, in seconds, between now and an order's expiration.
pub(super) const MIN_EXPIRATION_SECS: i64 = 300;

/// What the rules need to know about the outside world.
#[derive(Debug, Clone)]
pub(super) struct Context<'a> {
    pub now_secs: i64,
    pub require_messaging_product: bool,
    /// Payment configuration names of the business; `None` skips the check (offline validation).
    pub configuration_names: Option<&'a [String]>,
}

/// Who a message goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Recipient {
    /// The `to` (or `recipient`) value as sent.
    pub input: Option<String>,
    /// Digits of a phone recipient.
    pub wa_id: Option<String>,
    /// A business-scoped user id, when sent to one.
    pub user_id: Option<String>,
    pub group: bool,
}

/// An `order_details` message, reduced to what the store keeps.
#[derive(Debug, Clone)]
pub(super) struct OrderDraft {
    pub reference_id: String,
    pub region: Region,
    pub currency: String,
    pub total_amount: i64,
    pub payment_types: Vec<String>,
    pub configuration_name: Option<String>,
    pub payment_link: Option<String>,
    pub expires_at: Option<i64>,
    pub pg_type: Option<String>,
    pub pg_extras: Map<String, Value>,
    pub offsite_card: Option<Value>,
}

/// An `order_status` message, reduced to what the store applies.
#[derive(Debug, Clone)]
pub(super) struct StatusDraft {
    pub reference_id: String,
    pub order_status: Option<OrderStatus>,
    pub description: Option<String>,
    pub payment_status: Option<PaymentStatus>,
}

#[derive(Debug, Clone)]
pub(super) enum Intent {
    Send,
    /// `status: read` on an inbound message.
    MarkRead {
        message_id: String,
    },
}

/// The outcome of the stateless checks.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub intent: Intent,
    /// `text`, `image`, `interactive.order_details`, ...
    pub kind: String,
    pub recipient: Recipient,
    pub order: Option<OrderDraft>,
    pub status: Option<StatusDraft>,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
    /// A template send's text as the customer reads it (header, body, footer, parameters filled).
    pub rendered: Option<String>,
    /// The message's `biz_opaque_callback_data`, echoed in its status webhooks.
    pub callback_data: Option<String>,
}

impl Checked {
    pub(super) fn new(kind: &str) -> Self {
        Self {
            intent: Intent::Send,
            kind: kind.to_string(),
            recipient: Recipient::default(),
            order: None,
            status: None,
            violations: Vec::new(),
            warnings: Vec::new(),
            rendered: None,
            callback_data: None,
        }
    }
}

/// Validates the sub-document at `at` against schema `id`, reporting pointers from the root.
pub(super) fn sub(schemas: &Schemas, id: &str, body: &Value, at: &str, c: &mut Checked) {
    if let Some(part) = body.pointer(at) {
        c.violations
            .extend(schemas.validate(id, part).into_iter().map(|v| v.under(at)));
    }
}

