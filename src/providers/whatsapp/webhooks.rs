//! The webhooks a merchant receives from WhatsApp: message statuses (`sent`, `delivered`, `read`,
//! `failed`), India payment-gateway payment statuses, and inbound user messages (text, replies,
//! the Brazil one-click `payment_method`). Bodies follow the `whatsapp_business_account` envelope,
//! are serialised with non-ASCII escaped as `\uXXXX`, and are signed with the app secret.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::model::{Direction, Message, MessageStatus, Order, StatusEntry, bsuid};
use super::{ID, WhatsApp};
use crate::clock::Millis;
use crate::scenario::{ErrorSpec, Plan};
use crate::webhook::sign::hmac_sha256_hex;
use crate::webhook::{NewDelivery, Sign, Target, json::to_ascii_vec};

/// Something that happens to a WhatsApp message later on the sandbox clock.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Job {
    /// The message reached `status`: record it and notify the merchant.
    Status {
        phone_number_id: String,
        message_id: String,
        status: MessageStatus,
        errors: Vec<Value>,
    },
}

/// Meta's signature: `X-Hub-Signature-256: sha256=<hex HMAC of the body, keyed with the app
/// secret>`. Only HTTP 200 counts as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetaSigner {
    pub app_secret: String,
}

impl Sign for MetaSigner {
    fn secret(&self) -> &str {
        &self.app_secret
    }

    fn headers(&self, body: &[u8], _now_secs: i64, _event_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "facebookexternalua".into()),
            (
                "x-hub-signature-256",
                format!(
                    "sha256={}",
                    hmac_sha256_hex(self.app_secret.as_bytes(), &[body])
                ),
            ),
        ]
    }

    fn accepts(&self, status: u16) -> bool {
        status == 200
    }
}

/// Schedules the statuses of an accepted message, relative to `accepted_at`.
pub(crate) fn schedule(
    wa: &WhatsApp,
    phone_number_id: &str,
    message_id: &str,
    plan: &Plan,
    accepted_at: Millis,
) {
    for (status, delay) in &plan.steps {
        // Invariant: the scenario was checked, so every status is one a scenario may script.
        let Some(status) = MessageStatus::scripted(status) else {
            continue;
        };
        let errors = if status == MessageStatus::Failed {
            vec![super::scenario::scripted_error(plan.error.as_ref().unwrap_or(&ErrorSpec {
                code: 131026,
                title: None,
                details: None,
                http_status: None,
            }))]
        } else {
            Vec::new()
        };
        wa.ctx.timeline.at(
            accepted_at + delay,
            crate::timeline::Job::provider(
                ID,
                phone_number_id,
                Job::Status {
                    phone_number_id: phone_number_id.to_string(),
                    message_id: message_id.to_string(),
                    status,
                    errors,
                },
            ),
        );
    }
}

/// Runs a due job.
pub(crate) fn run(wa: &WhatsApp, job: Job) {
    match job {
        Job::Status {
            phone_number_id,
            message_id,
            status,
            errors,
        } => status_reached(wa, &phone_number_id, &message_id, status, &errors),
    }
}

fn status_reached(
    wa: &WhatsApp,
    phone_number_id: &str,
    message_id: &str,
    status: MessageStatus,
    errors: &[Value],
) {
    let now = wa.ctx.clock.now_secs();
    // Under the store's lock: find the target, record the status and copy out what the body
    // says. The body is written (two HMACs, the serialisation) after the lock is let go, so
    // the handlers accepting new messages do not wait on it.
    let (m, target) = {
        let mut store = wa.store.lock();
        let target = target_in(&store, wa, phone_number_id);
        let Some(business) = store.business_mut(phone_number_id) else {
            return;
        };
        let waba_id = business.config.waba_id.clone();
        let display = business.config.display_phone_number.clone();
        let Some(message) = business.messages.get_mut(message_id) else {
            return;
        };
        let Some(billable) = record_status(message, status, now, errors) else {
            return;
        };
        (Recorded::of(message, waba_id, display, billable), target)
    };
    let legacy_conversation = api_major(&wa.config.api_version) < 24;
    let user_id = m
        .user_id
        .clone()
        .or_else(|| m.wa_id.as_deref().map(|w| bsuid(&m.waba_id, w)));
    let (conversation, pricing) = billing(&m, status, legacy_conversation);
    let contact = (m.wa_id.is_some() || user_id.is_some()).then_some(StatusContact {
        wa_id: m.wa_id.as_deref(),
        user_id: user_id.as_deref(),
    });
    let value = StatusValue {
        messaging_product: "whatsapp",
        metadata: Metadata {
            display_phone_number: &m.display,
            phone_number_id,
        },
        contacts: contact.map(|c| [c]),
        statuses: [StatusBody {
            id: &m.id,
            status: status.as_str(),
            timestamp: now.to_string(),
            recipient_id: m.wa_id.as_deref().or(if m.user_id.is_none() {
                m.input.as_deref()
            } else {
                None
            }),
            recipient_user_id: user_id.as_deref(),
            biz_opaque_callback_data: m.biz_opaque_callback_data.as_deref(),
            conversation,
            pricing,
            errors: (!errors.is_empty()).then_some(errors),
        }],
    };
    let envelope = Envelope {
        object: "whatsapp_business_account",
        entry: [EnvelopeEntry {
            id: &m.waba_id,
            changes: [Change {
                value,
                field: "messages",
            }],
        }],
    };
    enqueue(
        wa,
        phone_number_id,
        &format!("statuses.{}", status.as_str()),
        Some(message_id.to_string()),
        to_ascii_vec(&envelope),
        target,
    );
}

/// What a status webhook says about its message and business, copied out of the store.
struct Recorded {
    waba_id: String,
    display: String,
    id: String,
    input: Option<String>,
    wa_id: Option<String>,
    user_id: Option<String>,
    biz_opaque_callback_data: Option<String>,
    template: bool,
    /// When the message was accepted (Unix seconds).
    timestamp: i64,
    /// Whether this status is the one the message is billed on.
    billable: bool,
}

impl Recorded {
    fn of(m: &Message, waba_id: String, display: String, billable: bool) -> Self {
        Self {
            waba_id,
            display,
            id: m.id.clone(),
            input: m.input.clone(),
            wa_id: m.wa_id.clone(),
            user_id: m.user_id.clone(),
            biz_opaque_callback_data: m.biz_opaque_callback_data.clone(),
            template: m.kind == "template",
            timestamp: m.timestamp,
            billable,
        }
    }
}

/// Records a status on its message. `None` when the message failed already (it reports nothing
/// after that); otherwise whether this status is the one the message is billed on: `sent`, or
/// the first of `delivered` and `read` (`read` implies `delivered`).
fn record_status(
    message: &mut super::model::Message,
    status: MessageStatus,
    now: i64,
    errors: &[Value],
) -> Option<bool> {
    if message
        .statuses
        .iter()
        .any(|s| s.status == MessageStatus::Failed)
    {
        return None;
    }
    let first_billable = !matches!(status, MessageStatus::Failed | MessageStatus::Sent)
        && !message
            .statuses
            .iter()
            .any(|s| matches!(s.status, MessageStatus::Delivered | MessageStatus::Read));
    message.statuses.push(StatusEntry {
        status,
        timestamp: now,
        errors: errors.to_vec(),
    });
    Some(status == MessageStatus::Sent || first_billable)
}

/// The `conversation` (before API v24) and `pricing` objects of a billable status.
fn billing(
    m: &Recorded,
    status: MessageStatus,
    legacy_conversation: bool,
) -> (Option<Conversation>, Option<Pricing>) {
    let (billable, template) = (m.billable, m.template);
    let category = if template { "utility" } else { "service" };
    let conversation = (billable && legacy_conversation).then(|| Conversation {
        id: hmac_sha256_hex(m.id.as_bytes(), &[b"conversation"])[..32].to_string(),
        expiration_timestamp: (status == MessageStatus::Sent)
            .then(|| (m.timestamp + 86_400).to_string()),
        origin: Origin { kind: category },
    });
    let pricing = billable.then_some(Pricing {
        billable: template,
        pricing_model: "PMP",
        kind: if template {
            "regular"
        } else {
            "free_customer_service"
        },
        category,
    });
    (conversation, pricing)
}

fn api_major(version: &str) -> u32 {
    version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(23)
}

// The status webhook, written straight from these types (no intermediate JSON value): it is the
// most frequent body the sandbox sends.

#[derive(Serialize)]
struct Envelope<'a, V: Serialize> {
    object: &'static str,
    entry: [EnvelopeEntry<'a, V>; 1],
}

#[derive(Serialize)]
struct EnvelopeEntry<'a, V: Serialize> {
    id: &'a str,
    changes: [Change<V>; 1],
}

#[derive(Serialize)]
struct Change<V: Serialize> {
    value: V,
    field: &'static str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct StatusValue<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<[StatusContact<'a>; 1]>,
    statuses: [StatusBody<'a>; 1],
}

#[derive(Serialize)]
struct StatusContact<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    wa_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    id: &'a str,
    status: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<Conversation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<Pricing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [Value]>,
}

#[derive(Serialize)]
struct Conversation {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
    origin: Origin,
}

#[derive(Serialize)]
struct Origin {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Pricing {
    billable: bool,
    pricing_model: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    category: &'static str,
}

/// Wraps a `value` in the `whatsapp_business_account` envelope of `phone_number_id`'s WABA.
fn envelope(
    waba_id: &str,
    display_phone_number: &str,
    phone_number_id: &str,
    value: Value,
) -> Value {
    let mut inner = Map::new();
    inner.insert("messaging_product".into(), json!("whatsapp"));
    inner.insert(
        "metadata".into(),
        json!({"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}),
    );
    if let Value::Object(fields) = value {
        inner.extend(fields);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": Value::Object(inner), "field": "messages"}]}]
    })
}

/// Where the merchant's WhatsApp webhooks go: the business's own override, else the app's
/// subscription, else the configured callback URL.
pub(crate) fn target(wa: &WhatsApp, phone_number_id: &str) -> Option<Target> {
    target_in(&wa.store.lock(), wa, phone_number_id)
}

fn target_in(store: &super::store::Store, wa: &WhatsApp, phone_number_id: &str) -> Option<Target> {
    let business = store.business(phone_number_id)?;
    let app_secret = business.config.app_secret.clone();
    let (url, token) = business
        .callback_override
        .clone()
        .or_else(|| {
            store
                .app_subscription
                .as_ref()
                .filter(|s| s.fields.iter().any(|f| f == "messages"))
                .map(|s| (s.callback_url.clone(), s.verify_token.clone()))
        })
        .or_else(|| {
            wa.config
                .callback_url
                .clone()
                .map(|u| (u, business.config.verify_token.clone()))
        })?;
    Some(Target {
        url,
        signer: Arc::new(MetaSigner { app_secret }),
        verify_token: Some(token),
        timeout: None,
    })
}

fn enqueue(
    wa: &WhatsApp,
    phone_number_id: &str,
    event: &str,
    reference: Option<String>,
    body: Vec<u8>,
    target: Option<Target>,
) -> String {
    let delivery = NewDelivery {
        id: format!("whk_{}", wa.ctx.ids.alnum(16)),
        provider: ID,
        tenant: phone_number_id.to_string(),
        event: event.to_string(),
        reference,
        body,
        target,
    };
    wa.ctx.webhooks.enqueue(delivery, wa.ctx.clock.now_ms())
}

/// Queues a webhook for `phone_number_id` now. Returns the delivery id.
pub(crate) fn send(
    wa: &WhatsApp,
    phone_number_id: &str,
    event: &str,
    reference: Option<String>,
    value: Value,
) -> String {
    let (waba, display) = {
        let store = wa.store.lock();
        match store.business(phone_number_id) {
            Some(b) => (
                b.config.waba_id.clone(),
                b.config.display_phone_number.clone(),
            ),
            None => return String::new(),
        }
    };
    let body = to_ascii_vec(&envelope(&waba, &display, phone_number_id, value));
    enqueue(
        wa,
        phone_number_id,
        event,
        reference,
        body,
        target(wa, phone_number_id),
    )
}

/// The India payment-gateway payment status (`type: payment`), sent after a payment attempt.
pub(super) fn payment_status_value(order: &Order, now: i64) -> Value {
    let status = order
        .payment_status
        .map(super::model::PaymentStatus::as_str)
        .unwrap_or("pending");
    let mut payment = Map::new();
    payment.insert("reference_id".into(), json!(order.reference_id));
    payment.insert(
        "amount".into(),
        json!({"value": order.total_amount, "offset": 100}),
    );
    payment.insert("currency".into(), json!(order.currency));
    if let Some(t) = order.transactions.last() {
        payment.insert("transaction".into(), transaction_value(order, t));
    }
    pg_extras(order, &mut payment);
    json!({
        "statuses": [{
            "id": order.message_id,
            "recipient_id": order.wa_id,
            "type": "payment",
            "status": status,
            "payment": Value::Object(payment),
            "timestamp": now.to_string(),
        }]
    })
}

/// One transaction as the payment webhook and the lookup API show it.
pub(super) fn transaction_value(order: &Order, t: &super::model::Transaction) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(t.id));
    if let Some(p) = &t.pg_transaction_id {
        v.insert("pg_transaction_id".into(), json!(p));
    }
    v.insert("type".into(), json!(pg_type(order)));
    v.insert("status".into(), json!(t.status));
    v.insert("created_timestamp".into(), json!(t.created_timestamp));
    v.insert("updated_timestamp".into(), json!(t.updated_timestamp));
    v.insert("amount".into(), json!({"value": t.amount, "offset": 100}));
    v.insert("currency".into(), json!(order.currency));
    v.insert("method".into(), json!({"type": t.method.as_str()}));
    if let Some(e) = &t.error {
        v.insert("error".into(), e.clone());
    }
    Value::Object(v)
}

/// The gateway of an India order (`razorpay` for the legacy configuration form).
pub(super) fn pg_type(order: &Order) -> String {
    order.pg_type.clone().unwrap_or_else(|| "razorpay".into())
}

/// The gateway-specific fields echoed back (`receipt`/`notes`, `udf1..4`, `extra1..2`,
/// `additional_info1..7`).
pub(super) fn pg_extras(order: &Order, out: &mut Map<String, Value>) {
    for (k, v) in &order.pg_extras {
        out.insert(k.clone(), v.clone());
    }
}

/// An inbound user message with its sender's contact card.
pub(super) fn inbound_value(message: &Message, profile_name: &str, waba_id: &str) -> Value {
    let mut m = match serde_json::from_str::<Value>(message.body.as_str()) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let mut ordered = Map::new();
    if let Some(context) = m.remove("context") {
        ordered.insert("context".into(), context);
    }
    ordered.insert("from".into(), json!(message.wa_id));
    ordered.insert("id".into(), json!(message.id));
    ordered.insert("timestamp".into(), json!(message.timestamp.to_string()));
    ordered.extend(m);
    debug_assert_eq!(message.direction, Direction::Inbound);
    let user_id = message.wa_id.as_deref().map(|w| bsuid(waba_id, w));
    json!({
        "contacts": [{"profile": {"name": profile_name}, "wa_id": message.wa_id, "user_id": user_id}],
        "messages": [Value::Object(ordered)],
    })
}
