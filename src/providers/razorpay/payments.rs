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
//!
//! Capture: an account configured with `auto_capture = false` (the gateway's Dashboard setting;
//! the Payment Links API has no per-link switch) keeps a successful payment `authorized`, with
//! only `payment.authorized` sent and the link not yet paid. `POST /v1/payments/{id}/capture`
//! with the authorized `amount` and `currency` captures it: `payment.captured`, `order.paid` and
//! `payment_link.paid` (or `partially_paid`) follow, as they would have at once. The gateway
//! refunds payments left uncaptured for days; the sandbox keeps them authorized.

use axum::{
    body::Body,
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::{Value, json};

use super::auth::KeyAuth;
use super::model::{Payment, PaymentLink, Refund};
use super::store::{Store, check_prefixed};
use super::rules::{self, minimum_amount};
use super::store::RefundRequest;
use super::error::RzError;
use super::handlers::answer;
use super::webhooks::{order_entity, payment_entity};
use super::Gw;

/// Payment `id` of `key_id`'s account, with the link that holds it.
fn find_payment<'a>(
    store: &'a Store,
    key_id: &str,
    id: &str,
) -> Result<(&'a PaymentLink, &'a Payment), RzError> {
    check_prefixed(id, "pay_")?;
    store
        .account(key_id)
        .and_then(|a| a.payment(id))
        .ok_or(RzError::NotFound)
}

/// The link behind order `id` of `key_id`'s account.
fn find_order<'a>(store: &'a Store, key_id: &str, id: &str) -> Result<&'a PaymentLink, RzError> {
    check_prefixed(id, "order_")?;
    store
        .account(key_id)
        .and_then(|a| a.order(id))
        .ok_or(RzError::NotFound)
}

/// A collection answer, as the gateway lists entities.
fn collection(items: Vec<Value>) -> Value {
    let count = items.len();
    json!({"entity": "collection", "count": count, "items": Value::Array(items)})
}

/// `GET /v1/payments/{id}`.
pub(super) async fn payment(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        let store = app.store.lock();
        let (link, payment) = find_payment(&store, &key_id, &id)?;
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
        let store = app.store.lock();
        Ok(order_entity(find_order(&store, &key_id, &id)?))
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
        let store = app.store.lock();
        let link = find_order(&store, &key_id, &id)?;
        Ok(collection(
            link.attempts
                .iter()
                .rev()
                .map(|p| payment_entity(link, p))
                .collect(),
        ))
    })())
}

/// Reads a refund request against its schema and the gateway's minimum, naming every problem.
fn refund_request(schemas: &crate::schema::Schemas, body: &Value) -> Result<RefundRequest, RzError> {
    let mut problems = rules::schema_problems(schemas, "razorpay/refund.create.request", body);
    let amount = body.get("amount").and_then(Value::as_i64);
    minimum_amount(amount, "INR", &mut problems);
    if !problems.is_empty() {
        return Err(RzError::Invalid(problems));
    }
    Ok(RefundRequest {
        amount,
        speed: body
            .get("speed")
            .and_then(Value::as_str)
            .unwrap_or("normal")
            .to_string(),
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

/// The caller's key, once payment id `id` has the right shape, and the JSON body of a request
/// about that payment.
async fn payment_body(
    app: &Gw,
    auth: &KeyAuth,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, Value), RzError> {
    let key_id = auth.key_id.clone()?;
    check_prefixed(id, "pay_")?;
    let body = super::handlers::json_body(app, headers, body).await?;
    Ok((key_id, body))
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
            let (key_id, body) = payment_body(&app, &auth, &id, &headers, body).await?;
            let request = refund_request(&app.ctx.schemas, &body)?;
            refund_now(&app, &key_id, &id, request)
        }
        .await,
    )
}

/// `POST /v1/payments/{id}/capture`.
pub(super) async fn capture(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(
        async {
            let (key_id, body) = payment_body(&app, &auth, &id, &headers, body).await?;
            let problems =
                rules::schema_problems(&app.ctx.schemas, "razorpay/payment.capture.request", &body);
            if !problems.is_empty() {
                return Err(RzError::Invalid(problems));
            }
            let amount = body["amount"].as_i64().unwrap_or_default();
            let currency = body["currency"].as_str().unwrap_or_default();
            let now = app.ctx.clock.now_secs();
            let result = app.store.lock().capture(&key_id, &id, amount, currency, now)?;
            super::webhooks::capture_events(&app, &key_id, &result);
            app.ctx.events.changed();
            Ok(payment_entity(&result.link, &result.payment))
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
        let store = app.store.lock();
        let (link, _) = find_payment(&store, &key_id, &id)?;
        Ok(collection(
            link.refunds
                .iter()
                .rev()
                .filter(|r| r.payment_id == id)
                .map(Refund::to_json)
                .collect(),
        ))
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
        check_prefixed(&id, "rfnd_")?;
        let store = app.store.lock();
        let (_, refund) = store
            .account(&key_id)
            .and_then(|a| a.refund(&id))
            .ok_or(RzError::NotFound)?;
        Ok(refund.to_json())
    })())
}
