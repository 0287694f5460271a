//! The WhatsApp part of the admin API (`/__sandbox/whatsapp`): what the business sent, its
//! orders, and the customer's side of the chat (paying an order, sending a message).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::PayMethod;
use super::pay::{Paid, PayAttempt, PayError, PayOutcome};
use super::webhooks;
use super::{ID, Wa, WhatsApp};
use crate::reply::{AdminError, AdminJson, AdminPath, AdminQuery};
use crate::wait::{self, WaitQuery};
use crate::provider::PayOptions;

#[derive(Debug, Deserialize, Default)]
pub(super) struct MessageFilter {
    pub phone_number_id: Option<String>,
    pub to: Option<String>,
    pub reference_id: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    /// The message's latest status (`accepted`, `sent`, `delivered`, `read`, `failed`).
    pub status: Option<String>,
    /// Sandbox time in Unix seconds: only messages at or after it.
    pub since: Option<i64>,
    pub limit: Option<usize>,
}

/// `GET /__sandbox/whatsapp/messages`: messages oldest first; `limit` keeps the newest N;
/// `wait` and `count` hold the call until enough match (see `crate::admin::wait`).
pub(super) async fn admin_messages(
    State(app): State<Wa>,
    AdminQuery(f): AdminQuery<MessageFilter>,
    AdminQuery(w): AdminQuery<WaitQuery>,
) -> Result<Response, AdminError> {
    wait::answer(&app.ctx, &w, "messages", f.limit, || matching_messages(&app, &f)).await
}

/// Every message that passes `f`, oldest first.
fn matching_messages(app: &WhatsApp, f: &MessageFilter) -> Vec<Value> {
    let store = app.store.lock();
    let to_digits =
        f.to.as_deref()
            .map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>());
    let mut out: Vec<Value> = Vec::new();
    for business in store.businesses() {
        if f.phone_number_id
            .as_deref()
            .is_some_and(|p| p != business.config.phone_number_id)
        {
            continue;
        }
        for m in business.messages.values() {
            let keep = to_digits
                .as_deref()
                .is_none_or(|d| m.wa_id.as_deref() == Some(d))
                && f.reference_id
                    .as_deref()
                    .is_none_or(|r| m.reference_id.as_deref() == Some(r))
                && f.kind
                    .as_deref()
                    .is_none_or(|k| m.kind == k || m.kind.ends_with(&format!(".{k}")))
                && named(&m.direction, f.direction.as_deref())
                && named(&m.status(), f.status.as_deref())
                && f.since.is_none_or(|t| m.timestamp >= t);
            if keep {
                out.push(serde_json::to_value(m).unwrap_or(Value::Null));
            }
        }
    }
    drop(store);
    out.sort_by_key(|m| m["timestamp"].as_i64().unwrap_or(0));
    out
}

/// Whether `value` serialises as the string `want` (true when there is no `want`).
fn named<T: serde::Serialize>(value: &T, want: Option<&str>) -> bool {
    want.is_none_or(|w| serde_json::to_value(value).ok().and_then(|v| v.as_str().map(|s| s == w)) == Some(true))
}

/// `GET /__sandbox/whatsapp/media/{media_id}`: an uploaded file, for the dashboard's chat.
pub(super) async fn media_file(
    State(app): State<Wa>,
    AdminPath(id): AdminPath<String>,
) -> Result<Response, AdminError> {
    let store = app.store.lock();
    let media = store
        .businesses()
        .find_map(|b| b.media.get(&id).cloned())
        .ok_or_else(|| AdminError::not_found(format!("no uploaded media with id {id:?}")))?;
    drop(store);
    Ok(super::media::file_response(&media))
}

/// `GET /__sandbox/whatsapp/windows`: each customer's 24-hour customer-service window, and
/// whether the sandbox enforces it.
pub(super) async fn windows(State(app): State<Wa>) -> Response {
    let now = app.ctx.clock.now_secs();
    let store = app.store.lock();
    let windows: Vec<Value> = store
        .businesses()
        .flat_map(|b| {
            b.last_inbound.iter().map(move |(wa_id, last)| {
                let closes = last + super::store::WINDOW_SECS;
                json!({
                    "phone_number_id": b.config.phone_number_id,
                    "wa_id": wa_id,
                    "last_inbound": last,
                    "closes_at": closes,
                    "open": now < closes,
                })
            })
        })
        .collect();
    drop(store);
    Json(json!({
        "enforced": app.config.customer_service_window,
        "now": now,
        "windows": windows,
    }))
    .into_response()
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct OrderFilter {
    pub phone_number_id: Option<String>,
}

/// `GET /__sandbox/whatsapp/orders`.
pub(super) async fn admin_orders(
    State(app): State<Wa>,
    AdminQuery(f): AdminQuery<OrderFilter>,
) -> Response {
    let store = app.store.lock();
    let orders: Vec<Value> = store
        .businesses()
        .filter(|b| {
            f.phone_number_id
                .as_deref()
                .is_none_or(|p| p == b.config.phone_number_id)
        })
        .flat_map(|b| b.orders.values())
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
        .collect();
    Json(json!({ "orders": orders })).into_response()
}

/// `GET /__sandbox/whatsapp/orders/{reference_id}`: the order and every message about it.
pub(super) async fn admin_order(
    State(app): State<Wa>,
    AdminPath(reference_id): AdminPath<String>,
    AdminQuery(f): AdminQuery<OrderFilter>,
) -> Result<Response, AdminError> {
    let store = app.store.lock();
    let found: Vec<_> = store
        .businesses()
        .filter(|b| {
            f.phone_number_id
                .as_deref()
                .is_none_or(|p| p == b.config.phone_number_id)
        })
        .filter_map(|b| b.orders.get(&reference_id).map(|o| (b, o)))
        .collect();
    match found.as_slice() {
        [] => Err(AdminError::not_found(format!(
            "no order with reference_id {reference_id:?}"
        ))),
        [(business, order)] => {
            let messages: Vec<Value> = business
                .messages
                .values()
                .filter(|m| m.reference_id.as_deref() == Some(reference_id.as_str()))
                .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
                .collect();
            let mut v = serde_json::to_value(order).unwrap_or(Value::Null);
            v["messages"] = Value::Array(messages);
            Ok(Json(v).into_response())
        }
        _ => Err(AdminError::bad_request(format!(
            "reference_id {reference_id:?} exists for several businesses; add ?phone_number_id="
        ))),
    }
}

fn waba_of(app: &WhatsApp, phone_number_id: &str) -> String {
    app.store
        .lock()
        .business(phone_number_id)
        .map(|b| b.config.waba_id.clone())
        .unwrap_or_default()
}

/// Which business an admin action is for: the one named, or the only one there is.
fn business_for(app: &WhatsApp, phone_number_id: Option<&str>) -> Result<String, AdminError> {
    let store = app.store.lock();
    match phone_number_id {
        Some(p) => store
            .business(p)
            .map(|b| b.config.phone_number_id.clone())
            .ok_or_else(|| {
                AdminError::not_found(format!("no business with phone_number_id {p:?}"))
            }),
        None => {
            let mut all = store.businesses().map(|b| b.config.phone_number_id.clone());
            match (all.next(), all.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(AdminError::not_found("no business is configured")),
                _ => Err(AdminError::bad_request(
                    "several businesses are configured; add phone_number_id",
                )),
            }
        }
    }
}

/// The business that owns order `reference_id` (or the one named).
fn business_of_order(
    app: &WhatsApp,
    reference_id: &str,
    phone_number_id: Option<&str>,
) -> Result<String, AdminError> {
    if let Some(p) = phone_number_id {
        return business_for(app, Some(p));
    }
    let store = app.store.lock();
    let owners: Vec<String> = store
        .businesses()
        .filter(|b| b.orders.contains_key(&reference_id.to_string()))
        .map(|b| b.config.phone_number_id.clone())
        .collect();
    match owners.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(AdminError::not_found(format!(
            "no order with reference_id {reference_id:?}"
        ))),
        _ => Err(AdminError::bad_request(format!(
            "reference_id {reference_id:?} exists for several businesses; add phone_number_id"
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    /// `captured` (default), `failed` or `pending`.
    #[serde(default)]
    pub outcome: PayOutcome,
    /// `upi` (default), `card`, `wallet` or `netbanking`.
    #[serde(default)]
    pub method: PayMethod,
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The gateway error of a failed attempt (`{"code": ..., "reason": ...}`).
    #[serde(default)]
    pub error: Option<Value>,
}

/// `POST /__sandbox/whatsapp/orders/{reference_id}/pay`: the customer pays from the chat.
///
/// For a Brazil one-click (`offsite_card_pay`) order this is "Send payment": WhatsApp sends the
/// inbound `interactive.payment_method` message. For an India payment-gateway order it is the
/// payment itself: WhatsApp sends the payment status (`captured`, or `pending` with a failed
/// transaction). Other payment types get no WhatsApp webhook, so they are refused with 409.
pub(super) async fn pay_order(
    State(app): State<Wa>,
    AdminPath(reference_id): AdminPath<String>,
    AdminJson(request): AdminJson<PayRequest>,
) -> Result<Response, AdminError> {
    let answer = pay(&app, &reference_id, request)?;
    Ok((StatusCode::OK, Json(answer)).into_response())
}

/// The customer's payment on order `reference_id`, and the webhook it causes.
fn pay(app: &WhatsApp, reference_id: &str, request: PayRequest) -> Result<Value, AdminError> {
    let phone = business_of_order(app, reference_id, request.phone_number_id.as_deref())?;
    let now = app.ctx.clock.now_secs();
    let paid = app
        .store
        .lock()
        .pay(
            &phone,
            reference_id,
            PayAttempt {
                outcome: request.outcome,
                method: request.method,
                error: request.error,
            },
            now,
            &app.ctx.ids,
        )
        .map_err(|e| match e {
            PayError::NotFound(_) => AdminError::not_found(e.to_string()),
            PayError::Conflict(_) => AdminError::conflict(e.to_string()),
        })?;
    Ok(match paid {
        Paid::Gateway(order) => {
            let value = webhooks::payment_status_value(&order, now);
            let status = value["statuses"][0]["status"].clone();
            let delivery = webhooks::send(
                app,
                &phone,
                &format!("payment.{}", status.as_str().unwrap_or("")),
                Some(reference_id.to_string()),
                value,
            );
            json!({"reference_id": reference_id, "kind": "payment_status", "payment_status": status,
                   "transaction": order.transactions.last().map(|t| webhooks::transaction_value(&order, t)),
                   "delivery_id": delivery})
        }
        Paid::OneClick(message) => {
            let waba = waba_of(app, &phone);
            let value = webhooks::inbound_value(&message, "Sandbox Customer", &waba);
            let delivery = webhooks::send(
                app,
                &phone,
                "messages.interactive.payment_method",
                Some(reference_id.to_string()),
                value,
            );
            json!({"reference_id": reference_id, "kind": "payment_method", "message_id": message.id, "delivery_id": delivery})
        }
    })
}

/// `paylink-sandbox pay <reference_id>`: pays the order with that reference, if there is one.
pub(crate) fn pay_reference(
    app: &WhatsApp,
    options: &PayOptions,
) -> Option<Result<crate::provider::Paid, AdminError>> {
    let known = app
        .store
        .lock()
        .businesses()
        .any(|b| b.orders.contains_key(&options.target));
    if !known {
        return None;
    }
    let outcome = match options.outcome.as_deref() {
        None | Some("success" | "paid" | "captured") => PayOutcome::Captured,
        Some("failure" | "failed") => PayOutcome::Failed,
        Some("pending") => PayOutcome::Pending,
        Some(other) => {
            return Some(Err(AdminError::bad_request(format!(
                "outcome {other:?} is not one of captured, failed, pending"
            ))));
        }
    };
    let method = match options.method.as_deref() {
        None => PayMethod::default(),
        Some(m) => match serde_json::from_value(json!(m)) {
            Ok(m) => m,
            Err(_) => {
                return Some(Err(AdminError::bad_request(format!(
                    "method {m:?} is not one of upi, card, wallet, netbanking"
                ))));
            }
        },
    };
    let request = PayRequest {
        outcome,
        method,
        phone_number_id: None,
        error: None,
    };
    Some(pay(app, &options.target, request).map(|answer| {
        let payment = answer["message_id"]
            .as_str()
            .or(answer["transaction"]["pg_transaction_id"].as_str())
            .unwrap_or_default()
            .to_string();
        crate::provider::Paid {
            provider: ID,
            paid: options.target.clone(),
            payment,
            status: answer["kind"].as_str().unwrap_or_default().to_string(),
            now: answer["payment_status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            result: answer,
        }
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserMessage {
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The customer's profile name in the contact card.
    #[serde(default)]
    pub name: Option<String>,
    /// A text message.
    #[serde(default)]
    pub text: Option<String>,
    /// A reply-button tap: `{"id": ..., "title": ...}`.
    #[serde(default)]
    pub button_reply: Option<Value>,
    /// A list-row choice: `{"id": ..., "title": ..., "description": ...}`.
    #[serde(default)]
    pub list_reply: Option<Value>,
    /// The business message being replied to (its wamid).
    #[serde(default)]
    pub context: Option<String>,
    /// Any other message object, sent as given (`{"type": "location", "location": {...}}`).
    #[serde(default)]
    pub message: Option<Value>,
}

/// `POST /__sandbox/whatsapp/users/{wa_id}/messages`: the customer writes to the business.
pub(super) async fn user_message(
    State(app): State<Wa>,
    AdminPath(wa_id): AdminPath<String>,
    AdminJson(request): AdminJson<UserMessage>,
) -> Result<Response, AdminError> {
    if wa_id.is_empty() || !wa_id.bytes().all(|c| c.is_ascii_digit()) {
        return Err(AdminError::bad_request(
            "wa_id must be the customer's digits, e.g. 919876543210",
        ));
    }
    let phone = business_for(&app, request.phone_number_id.as_deref())?;
    let display = app
        .store
        .lock()
        .business(&phone)
        .map(|b| b.config.display_phone_number.clone())
        .unwrap_or_default();
    let given = [
        request.text.is_some(),
        request.button_reply.is_some(),
        request.list_reply.is_some(),
        request.message.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(AdminError::bad_request(
            "give exactly one of text, button_reply, list_reply or message",
        ));
    }
    let mut body = if let Some(text) = &request.text {
        json!({"type": "text", "text": {"body": text}})
    } else if let Some(reply) = &request.button_reply {
        json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": reply}})
    } else if let Some(reply) = &request.list_reply {
        json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}})
    } else {
        let m = request.message.clone().unwrap_or(Value::Null);
        if !m.get("type").is_some_and(Value::is_string) {
            return Err(AdminError::bad_request(
                "message must be an object with a type",
            ));
        }
        m
    };
    if let Some(context) = &request.context {
        body["context"] = json!({"from": display, "id": context});
    }
    let kind = match body["type"].as_str().unwrap_or("text") {
        "interactive" => format!(
            "interactive.{}",
            body.pointer("/interactive/type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        ),
        other => other.to_string(),
    };
    let now = app.ctx.clock.now_secs();
    let message = app
        .store
        .lock()
        .record_inbound(&phone, &wa_id, &body, &kind, now, &app.ctx.ids)
        .ok_or_else(|| AdminError::not_found("no such business"))?;
    let name = request.name.as_deref().unwrap_or("Sandbox Customer");
    let value = webhooks::inbound_value(&message, name, &waba_of(&app, &phone));
    let delivery = webhooks::send(
        &app,
        &phone,
        &format!("messages.{kind}"),
        Some(message.id.clone()),
        value,
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"message_id": message.id, "delivery_id": delivery})),
    )
        .into_response())
}
