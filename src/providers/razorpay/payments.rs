//! What a server calls to confirm a payment after the callback, as the gateway recommends:
//! `GET /v1/payments/{id}`, `GET /v1/orders/{id}` and `GET /v1/orders/{id}/payments`, read from
//! the same state as the links (every attempt on a link, captured or failed, is a payment of its
//! order). An id of the right shape that does not exist is the gateway's 400 "The id provided
//! does not exist"; one of the wrong shape is its `invalid input [strippedId]` error.
//!
//! Refunds: `POST /v1/payments/{id}/refund` (`amount`, all that is left by default; `speed`
//! `normal` or `optimum`; `notes`; `receipt`), `GET /v1/payments/{id}/refunds` and
//! `GET /v1/refunds/{id}`. A refund is processed at once and sends `refund.created` then
//! `refund.processed`; the payment shows `amount_refunded` and `refund_status` (`partial`,
//! `full`) and turns `refunded` when nothing is left. `POST
//! /__sandbox/razorpay/payments/{id}/refund` with `"outcome": "failure"` makes one the bank
//! refuses (`refund.failed`, nothing refunded). The sentences for a refund over what is left and
//! for a payment that is not captured are the sandbox's choice.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::{Value, json};

use axum::{body::Body, http::HeaderMap};

use super::auth::KeyAuth;
use super::error::Problem;
use super::store::RefundRequest;
use super::error::RzError;
use super::handlers::answer;
use super::webhooks::{order_entity, payment_entity};
use super::Gw;

/// Checks an id's prefix and length (the prefix, `_` and 14 characters).
fn check(id: &str, prefix: &str) -> Result<(), RzError> {
    let rest = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('_'));
    match rest {
        Some(r) if r.len() == 14 && r.chars().all(|c| c.is_ascii_alphanumeric()) => Ok(()),
        _ => Err(RzError::MalformedId(
            id.rsplit('_').next().unwrap_or(id).to_string(),
        )),
    }
}

/// `GET /v1/payments/{id}`.
pub(super) async fn payment(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        check(&id, "pay")?;
        let store = app.store.lock();
        let (link, payment) = store
            .account(&key_id)
            .and_then(|a| a.payment(&id))
            .ok_or(RzError::NotFound)?;
        Ok(payment_entity(link, payment))
    })())
}

/// `GET /v1/orders/{id}`.
pub(super) async fn order(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        check(&id, "order")?;
        let store = app.store.lock();
        let link = store
            .account(&key_id)
            .and_then(|a| a.order(&id))
            .ok_or(RzError::NotFound)?;
        Ok(order_entity(link))
    })())
}

/// `GET /v1/orders/{id}/payments`: every attempt on the order, newest first.
pub(super) async fn order_payments(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        check(&id, "order")?;
        let store = app.store.lock();
        let link = store
            .account(&key_id)
            .and_then(|a| a.order(&id))
            .ok_or(RzError::NotFound)?;
        let items: Vec<Value> = link
            .attempts
            .iter()
            .rev()
            .map(|p| payment_entity(link, p))
            .collect();
        Ok(json!({"entity": "collection", "count": items.len(), "items": items}))
    })())
}

/// Reads a refund request, naming every problem.
fn refund_request(body: &Value) -> Result<RefundRequest, RzError> {
    let mut problems = Vec::new();
    let amount = match body.get("amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|a| a >= 100) => n.as_i64(),
        Some(Value::Number(n)) if n.is_i64() => {
            problems.push(Problem::new("/amount", "The amount must be atleast INR 1.00"));
            None
        }
        Some(_) => {
            problems.push(Problem::new("/amount", "The amount must be an integer."));
            None
        }
    };
    let speed = match body.get("speed").and_then(Value::as_str) {
        None => "normal".to_string(),
        Some(s @ ("normal" | "optimum")) => s.to_string(),
        Some(_) => {
            problems.push(Problem::new("/speed", "The selected speed is invalid."));
            String::new()
        }
    };
    if body.get("notes").is_some_and(|n| !n.is_object()) {
        problems.push(Problem::new("/notes", "The notes must be an array."));
    }
    if !problems.is_empty() {
        return Err(RzError::Invalid(problems));
    }
    Ok(RefundRequest {
        amount,
        speed,
        notes: body.get("notes").cloned().unwrap_or_else(|| json!([])),
        receipt: body.get("receipt").and_then(Value::as_str).map(str::to_string),
        fail: false,
    })
}

/// Refunds a payment and sends its webhooks.
pub(super) fn refund_now(
    app: &super::Razorpay,
    key_id: &str,
    payment_id: &str,
    request: RefundRequest,
) -> Result<Value, RzError> {
    let now = app.ctx.clock.now_secs();
    let (link, refund) = {
        let mut store = app.store.lock();
        let account = store.account_mut(key_id).ok_or(RzError::NotFound)?;
        account.refund_payment(payment_id, request, now, &app.ctx.ids)?
    };
    super::webhooks::refund_events(app, key_id, &link, &refund);
    app.ctx.events.changed();
    Ok(refund.to_json())
}

/// `POST /v1/payments/{id}/refund`.
pub(super) async fn refund(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(
        async {
            let key_id = auth.key_id.clone()?;
            check(&id, "pay")?;
            let body = super::handlers::json_body(&app, &headers, body).await?;
            let request = refund_request(&body)?;
            refund_now(&app, &key_id, &id, request)
        }
        .await,
    )
}

/// `GET /v1/payments/{id}/refunds`.
pub(super) async fn payment_refunds(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        check(&id, "pay")?;
        let store = app.store.lock();
        let (link, _) = store
            .account(&key_id)
            .and_then(|a| a.payment(&id))
            .ok_or(RzError::NotFound)?;
        let items: Vec<Value> = link
            .refunds
            .iter()
            .rev()
            .filter(|r| r.payment_id == id)
            .map(super::model::Refund::to_json)
            .collect();
        Ok(json!({"entity": "collection", "count": items.len(), "items": items}))
    })())
}

/// `GET /v1/refunds/{id}`.
pub(super) async fn refund_by_id(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        check(&id, "rfnd")?;
        let store = app.store.lock();
        let (_, refund) = store
            .account(&key_id)
            .and_then(|a| a.refund(&id))
            .ok_or(RzError::NotFound)?;
        Ok(refund.to_json())
    })())
}
