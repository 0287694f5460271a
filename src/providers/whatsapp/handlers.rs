//! The Graph routes that send and read: `POST /{phone_number_id}/messages` and the India payment
//! lookup.

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::model::MessageStatus;
use super::{Wa, WhatsApp};
use super::auth::GraphAuth;
use super::error::GraphError;
use super::graph::{GraphAnswer, GraphRequest, graph};
use super::model::PaymentStatus;
use super::checked::{Checked, Context, Intent, PARAMS, Recipient};
use super::rules;
use super::webhooks;
use crate::scenario::{ErrorSpec, Facts};
use crate::schema::Violation;

/// `POST /{version}/{phone_number_id}/messages` and `POST /{phone_number_id}/messages`.
pub(super) async fn send_message(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(
        app,
        auth.usage(),
        path,
        async move |app: &Wa, phone_number_id: &str| {
            auth.business(phone_number_id, "post")?;
            let request = GraphRequest::read(app, query.as_deref(), &headers, body).await?;
            send(app, phone_number_id, &request).await
        },
    )
    .await
}

async fn send(
    app: &WhatsApp,
    phone_number_id: &str,
    request: &GraphRequest,
) -> Result<GraphAnswer, GraphError> {
    let configuration_names = app
        .store
        .lock()
        .business(phone_number_id)
        .map(super::store::Business::configuration_names)
        .unwrap_or_default();
    let now_ms = app.ctx.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let ctx = Context {
        now_secs: now,
        require_messaging_product: app.config.require_messaging_product,
        configuration_names: Some(&configuration_names),
    };
    // A valid India order_details is read typed; anything else (or anything the typed read
    // does not cover) is read as a JSON tree and checked in full. The text is checked as UTF-8
    // once, here, and read as text from then on.
    let raw = request.raw();
    let text = raw.as_ref().map(super::model::JsonText::as_str);
    let typed = text
        .filter(|_| request.json_bytes().is_some())
        .and_then(|text| super::typed::order_details(text, &ctx));
    let (mut checked, message) = match typed {
        Some(checked) => (checked, None),
        None => {
            let mut message = request.body().map_err(GraphError::Body)?;
            let checked = rules::check(&app.ctx.schemas, &mut message, &ctx);
            (checked, Some(message))
        }
    };
    if let Some(order) = &checked.order
        && let Some(uri) = &order.payment_link
    {
        checked.warnings.extend(sandbox_link_warnings(
            app,
            uri,
            order.total_amount,
            &order.currency,
        ));
    }
    let missing_media = match &message {
        Some(message) => against_uploads(app, phone_number_id, message, &mut checked)?,
        None => None,
    };
    let mark_read = matches!(checked.intent, Intent::MarkRead { .. });
    let is_template = checked.kind == "template";
    let needs_window = app.config.customer_service_window && !is_template;
    let plan = (!mark_read && checked.violations.is_empty()).then(|| {
        let facts = facts(&checked, message.as_ref(), text);
        app.ctx.scenario.plan(super::ID.as_str(), &facts)
    });
    if let Some(reject) = plan.as_ref().and_then(|p| p.reject.clone()) {
        return Err(scripted_rejection(&reject));
    }
    // A body read typed came with its text; only a tree may lack one (a form body).
    let message = message.unwrap_or(Value::Null);
    let raw = raw.unwrap_or_else(|| super::model::JsonText::of(&message));
    let accepted = app
        .store
        .lock()
        .accept(phone_number_id, checked, &message, raw, now, &app.ctx.ids)
        .map_err(GraphError::Validation)?;

    if mark_read {
        return Ok(json!({"success": true}).into());
    }
    let message_id = accepted.message_id.clone().unwrap_or_default();
    let outside_window = needs_window && accepted.outside_window;
    let first_delay = plan
        .as_ref()
        .and_then(|p| p.steps.first())
        .map_or(0, |(_, delay)| *delay);
    let failure = match &accepted.refusal {
        Some(refusal) => Some((refusal.webhook_error(), 0)),
        None => later_failure(missing_media.as_deref(), outside_window).map(|e| (e, first_delay)),
    };
    report(app, phone_number_id, &message_id, failure, plan, now_ms);
    Ok(GraphAnswer::Text(sent(accepted.recipient, &message_id, is_template)))
}

/// Checks a send against what the business registered: a template against its templates (an
/// error answers at once; the rendered text goes on the message), and a media id against its
/// uploads (returned when missing: the message fails later).
fn against_uploads(
    app: &WhatsApp,
    phone_number_id: &str,
    message: &Value,
    checked: &mut Checked,
) -> Result<Option<String>, GraphError> {
    let named = super::media::named_id(message, &checked.kind);
    let template = checked.kind == "template" && checked.violations.is_empty();
    if !template && named.is_none() {
        return Ok(None);
    }
    let store = app.store.lock();
    let Some(business) = store.business(phone_number_id) else {
        return Ok(None);
    };
    if template {
        super::templates::check(&business.templates, message)?;
        checked.rendered = super::templates::render(&business.templates, message);
    }
    Ok(named.filter(|id| !business.media.contains_key(id)))
}

/// The error of an accepted message that fails after its send: media never uploaded (131053),
/// or a customer outside the 24-hour window (131047).
fn later_failure(missing_media: Option<&str>, outside_window: bool) -> Option<Value> {
    if let Some(id) = missing_media {
        return Some(super::media::unknown_media_error(id));
    }
    outside_window.then(|| {
        super::error::webhook_error(
            131_047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        )
    })
}

/// Schedules what the sender hears next: one `failed` status (a refused transition, or a
/// message outside the window) after `delay`, else the scenario's statuses.
fn report(
    app: &WhatsApp,
    phone_number_id: &str,
    message_id: &str,
    failure: Option<(Value, i64)>,
    plan: Option<crate::scenario::Plan>,
    now_ms: i64,
) {
    match (failure, plan) {
        (Some((error, delay)), _) => {
            app.ctx.timeline.at(
                now_ms + delay,
                crate::timeline::Job::provider(
                    super::ID,
                    phone_number_id,
                    webhooks::Job::Status {
                        phone_number_id: phone_number_id.to_string(),
                        message_id: message_id.to_string(),
                        status: MessageStatus::Failed,
                        errors: vec![error],
                    },
                ),
            );
        }
        (None, Some(plan)) => webhooks::schedule(app, phone_number_id, message_id, &plan, now_ms),
        (None, None) => {}
    }
}

/// What a scenario rule can match in a message: its tree when it was read as one, else its text
/// (parsed only when a rule matches on fields).
fn facts<'a>(checked: &'a Checked, message: Option<&'a Value>, text: Option<&'a str>) -> Facts<'a> {
    let order = checked.order.as_ref();
    Facts {
        to: checked.recipient.input.as_deref(),
        reference_id: order
            .map(|o| o.reference_id.as_str())
            .or(checked.status.as_ref().map(|s| s.reference_id.as_str())),
        kind: Some(&checked.kind),
        payment_types: order.map(|o| o.payment_types.clone()).unwrap_or_default(),
        currency: order.map(|o| o.currency.as_str()),
        amount: order.map(|o| o.total_amount),
        body: message,
        text,
    }
}

/// The answer to an accepted message: its recipient as a contact and its `wamid`, as JSON text.
/// `message_status: "accepted"` is on template sends only, as Graph answers them.
fn sent(recipient: Recipient, message_id: &str, template: bool) -> String {
    let answer = Sent {
        messaging_product: "whatsapp",
        contacts: [SentContact {
            input: recipient.input.unwrap_or_default(),
            wa_id: recipient.wa_id,
            user_id: recipient.user_id,
        }],
        messages: [SentMessage {
            id: message_id,
            message_status: template.then_some("accepted"),
        }],
    };
    serde_json::to_string(&answer).expect("an answer of strings serialises")
}

#[derive(Serialize)]
struct Sent<'a> {
    messaging_product: &'static str,
    contacts: [SentContact; 1],
    messages: [SentMessage<'a>; 1],
}

#[derive(Serialize)]
struct SentContact {
    input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wa_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
}

#[derive(Serialize)]
struct SentMessage<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_status: Option<&'static str>,
}

/// When an order's `payment_link.uri` is a link this sandbox issued (through the narrow link
/// interface, whichever provider issued it), checks the link exists, still takes payments and
/// asks for the order's total in its currency. Real WhatsApp cannot know this, so mismatches are
/// warnings on the message, not refusals.
fn sandbox_link_warnings(app: &WhatsApp, uri: &str, total: i64, currency: &str) -> Vec<String> {
    let Some(issued) = app.ctx.issued_link(uri) else {
        return Vec::new();
    };
    let at = format!("{PARAMS}/payment_settings/0/payment_link/uri");
    let Some(link) = issued else {
        return vec![format!(
            "{at}: {uri} is not a payment link of this sandbox; the customer will find nothing to pay"
        )];
    };
    let mut warnings = Vec::new();
    if link.status != "created" {
        warnings.push(format!(
            "{at}: payment link {} is {}, not created; the customer cannot pay it",
            link.id, link.status
        ));
    }
    if link.amount != total || link.currency != currency {
        warnings.push(format!(
            "{at}: payment link {} asks for {} {} but total_amount is {} {}",
            link.id, link.amount, link.currency, total, currency
        ));
    }
    warnings
}

/// A scenario's synchronous rejection in Graph's words.
fn scripted_rejection(spec: &ErrorSpec) -> GraphError {
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| super::scenario::error_title(spec.code).to_string());
    let default_status = match spec.code {
        0 | 104 | 190 => StatusCode::UNAUTHORIZED,
        10 | 200..=299 | 131005 | 131031 | 368 | 130497 => StatusCode::FORBIDDEN,
        131000 | 131057 | 3 => StatusCode::INTERNAL_SERVER_ERROR,
        2 | 131016 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    GraphError::Scripted {
        code: spec.code,
        status: spec
            .http_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(default_status),
        details: spec
            .details
            .clone()
            .unwrap_or_else(|| format!("{title} (scripted by the sandbox scenario)")),
        title,
    }
}

/// `GET /{version}/{phone_number_id}/payments/{payment_configuration}/{reference_id}`: the
/// India payment lookup, answered from the same state as the payment webhooks.
pub(super) async fn payment_lookup(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    let configuration = path.get("configuration").cloned().unwrap_or_default();
    let reference_id = path.get("reference_id").cloned().unwrap_or_default();
    graph(app, auth.usage(), path, async move |app: &Wa, phone_number_id: &str| {
        auth.business(phone_number_id, "get")?;
        let store = app.store.lock();
        let order = store
            .business(phone_number_id)
            .and_then(|b| b.orders.get(&reference_id))
            .filter(|o| {
                o.configuration_name.as_deref() == Some(configuration.as_str())
                    && o.payment_types
                        .iter()
                        .any(|t| t == "payment_gateway" || t == "payment_configuration")
            })
            .ok_or_else(|| {
                GraphError::Validation(vec![Violation::invalid(
                    "/reference_id",
                    format!(
                        "no payment-gateway order {reference_id:?} uses payment configuration {configuration:?}"
                    ),
                )])
            })?;
        let mut payment = serde_json::Map::new();
        payment.insert("reference_id".into(), json!(order.reference_id));
        payment.insert(
            "status".into(),
            json!(if order.payment_status == Some(PaymentStatus::Captured) { "captured" } else { "pending" }),
        );
        payment.insert("currency".into(), json!(order.currency));
        payment.insert("amount".into(), json!({"offset": 100, "value": order.total_amount}));
        if !order.transactions.is_empty() {
            let transactions: Vec<Value> = order
                .transactions
                .iter()
                .map(|t| {
                    let mut v = webhooks::transaction_value(order, t);
                    v["order_amount"] = json!({"offset": 100, "value": order.total_amount});
                    v
                })
                .collect();
            payment.insert("transactions".into(), Value::Array(transactions));
        }
        webhooks::pg_extras(order, &mut payment);
        Ok(json!({ "payments": [Value::Object(payment)] }))
    })
    .await
}

