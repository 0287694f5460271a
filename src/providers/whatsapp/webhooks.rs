//! The webhooks a merchant receives from WhatsApp: message statuses (`sent`, `delivered`, `read`,
//! `failed`), India payment-gateway payment statuses, and inbound user messages (text, replies,
//! the Brazil one-click `payment_method`). Bodies follow the `whatsapp_business_account` envelope,
//! are serialised with non-ASCII escaped as `\uXXXX`, and are signed with the app secret.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::model::{Direction, Message, Order, StatusEntry, bsuid};
use crate::app::Sandbox;
use crate::clock::Millis;
use crate::scenario::{ErrorSpec, Plan};
use crate::webhook::{NewDelivery, Provider, Signer, Target, json::to_ascii_vec};
use serde::Serialize;

/// Something that happens to a WhatsApp message later on the sandbox clock.
#[derive(Debug, Clone)]
pub enum Job {
    /// The message reached `status`: record it and notify the merchant.
    Status {
        phone_number_id: String,
        message_id: String,
        status: String,
        errors: Vec<Value>,
    },
}

/// Titles of the error codes a scenario is likely to script, so a `failed` status reads like
/// Graph's. Unknown codes get a generic title.
pub fn error_title(code: i64) -> &'static str {
    match code {
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131005 => "Access denied",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131016 => "Service unavailable",
        131021 => "Recipient cannot be sender",
        131026 => "Message undeliverable",
        131042 => "Business eligibility payment issue",
        131045 => "Incorrect certificate",
        131047 => "Re-engagement message",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131050 => "User has stopped marketing messages",
        131051 => "Unsupported message type",
        131053 => "Media upload error",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        134011 => "WhatsApp Payments terms of service has not been accepted",
        2046 => "New order status was not correctly transitioned",
        2047 => "Could not change order status to 'canceled'",
        _ => "Message failed to send",
    }
}

/// The webhook form of a scripted error.
pub fn scripted_error(spec: &ErrorSpec) -> Value {
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| error_title(spec.code).to_string());
    let details = spec
        .details
        .clone()
        .unwrap_or_else(|| format!("{title} (scripted by the sandbox scenario)"));
    super::error::webhook_error(spec.code, &title, &details)
}

/// Schedules the statuses of an accepted message, relative to `accepted_at`.
pub fn schedule(
    sandbox: &Sandbox,
    phone_number_id: &str,
    message_id: &str,
    plan: &Plan,
    accepted_at: Millis,
) {
    for (status, delay) in &plan.steps {
        let errors = if status == "failed" {
            vec![scripted_error(plan.error.as_ref().unwrap_or(&ErrorSpec {
                code: 131026,
                title: None,
                details: None,
                http_status: None,
            }))]
        } else {
            Vec::new()
        };
        sandbox.timeline.at(
            accepted_at + delay,
            crate::timeline::Job::WhatsApp(Job::Status {
                phone_number_id: phone_number_id.to_string(),
                message_id: message_id.to_string(),
                status: status.clone(),
                errors,
            }),
        );
    }
}

/// Runs a due job.
pub fn run(sandbox: &Arc<Sandbox>, job: Job) {
    match job {
        Job::Status {
            phone_number_id,
            message_id,
            status,
            errors,
        } => status_reached(sandbox, &phone_number_id, &message_id, &status, errors),
    }
}

fn status_reached(
    sandbox: &Arc<Sandbox>,
    phone_number_id: &str,
    message_id: &str,
    status: &str,
    errors: Vec<Value>,
) {
    let now = sandbox.clock.now_secs();
    let legacy_conversation = api_major(&sandbox.config.whatsapp.api_version) < 24;
    // One lock: find the target, record the status and write the body while the message is at
    // hand.
    let (body, target) = {
        let mut store = sandbox.whatsapp.store.lock();
        let target = target_in(&store, sandbox, phone_number_id);
        let Some(business) = store.business_mut(phone_number_id) else {
            return;
        };
        let waba_id = business.config.waba_id.clone();
        let display = business.config.display_phone_number.clone();
        let Some(message) = business.messages.get_mut(message_id) else {
            return;
        };
        // A message that failed reports nothing after; `read` implies `delivered`.
        if message.statuses.iter().any(|s| s.status == "failed") {
            return;
        }
        let first_billable = status != "failed"
            && status != "sent"
            && !message
                .statuses
                .iter()
                .any(|s| s.status == "delivered" || s.status == "read");
        message.statuses.push(StatusEntry {
            status: status.to_string(),
            timestamp: now,
            errors: errors.clone(),
        });
        let billable = status == "sent" || first_billable;
        let m = &*message;
        let user_id = m
            .user_id
            .clone()
            .or_else(|| m.wa_id.as_deref().map(|w| bsuid(&waba_id, w)));
        let template = m.kind == "template";
        let category = if template { "utility" } else { "service" };
        let conversation = (billable && legacy_conversation).then(|| Conversation {
            id: crate::webhook::sign::hmac_sha256_hex(m.id.as_bytes(), &[b"conversation"])[..32]
                .to_string(),
            expiration_timestamp: (status == "sent").then(|| (m.timestamp + 86_400).to_string()),
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
        let contact = (m.wa_id.is_some() || user_id.is_some()).then_some(StatusContact {
            wa_id: m.wa_id.as_deref(),
            user_id: user_id.as_deref(),
        });
        let value = StatusValue {
            messaging_product: "whatsapp",
            metadata: Metadata {
                display_phone_number: &display,
                phone_number_id,
            },
            contacts: contact.map(|c| [c]),
            statuses: [StatusBody {
                id: &m.id,
                status,
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
                errors: (!errors.is_empty()).then_some(&errors),
            }],
        };
        let envelope = Envelope {
            object: "whatsapp_business_account",
            entry: [EnvelopeEntry {
                id: &waba_id,
                changes: [Change {
                    value,
                    field: "messages",
                }],
            }],
        };
        (to_ascii_vec(&envelope), target)
    };
    enqueue(
        sandbox,
        phone_number_id,
        &format!("statuses.{status}"),
        Some(message_id.to_string()),
        body,
        target,
    );
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
    errors: Option<&'a Vec<Value>>,
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
pub fn target(sandbox: &Sandbox, phone_number_id: &str) -> Option<Target> {
    target_in(&sandbox.whatsapp.store.lock(), sandbox, phone_number_id)
}

fn target_in(
    store: &super::store::Store,
    sandbox: &Sandbox,
    phone_number_id: &str,
) -> Option<Target> {
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
            sandbox
                .config
                .whatsapp
                .callback_url
                .clone()
                .map(|u| (u, business.config.verify_token.clone()))
        })?;
    Some(Target {
        url,
        signer: Signer::Meta { app_secret },
        verify_token: Some(token),
    })
}

fn enqueue(
    sandbox: &Sandbox,
    phone_number_id: &str,
    event: &str,
    reference: Option<String>,
    body: Vec<u8>,
    target: Option<Target>,
) -> String {
    let delivery = NewDelivery {
        id: format!("whk_{}", sandbox.ids.alnum(16)),
        provider: Provider::Whatsapp,
        tenant: phone_number_id.to_string(),
        event: event.to_string(),
        reference,
        body,
        target,
    };
    sandbox
        .webhooks
        .enqueue(sandbox, delivery, sandbox.clock.now_ms())
}

/// Queues a webhook for `phone_number_id` now. Returns the delivery id.
pub fn send(
    sandbox: &Sandbox,
    phone_number_id: &str,
    event: &str,
    reference: Option<String>,
    value: Value,
) -> String {
    let (waba, display) = {
        let store = sandbox.whatsapp.store.lock();
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
        sandbox,
        phone_number_id,
        event,
        reference,
        body,
        target(sandbox, phone_number_id),
    )
}

/// The India payment-gateway payment status (`type: payment`), sent after a payment attempt.
pub fn payment_status_value(order: &Order, now: i64) -> Value {
    let status = order
        .payment_status
        .map(|p| p.as_str())
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
pub fn transaction_value(order: &Order, t: &super::model::Transaction) -> Value {
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
    v.insert("method".into(), json!({"type": t.method}));
    if let Some(e) = &t.error {
        v.insert("error".into(), e.clone());
    }
    Value::Object(v)
}

/// The gateway of an India order (`razorpay` for the legacy configuration form).
pub fn pg_type(order: &Order) -> String {
    order.pg_type.clone().unwrap_or_else(|| "razorpay".into())
}

/// The gateway-specific fields echoed back (`receipt`/`notes`, `udf1..4`, `extra1..2`,
/// `additional_info1..7`).
pub fn pg_extras(order: &Order, out: &mut Map<String, Value>) {
    for (k, v) in &order.pg_extras {
        out.insert(k.clone(), v.clone());
    }
}

/// An inbound user message with its sender's contact card.
pub fn inbound_value(message: &Message, profile_name: &str, waba_id: &str) -> Value {
    let mut m = match serde_json::from_str::<Value>(&message.body) {
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
