//! What a server calls to confirm a payment after the callback, as the gateway recommends:
//! `GET /v1/payments/{id}`, `GET /v1/orders/{id}` and `GET /v1/orders/{id}/payments`, read from
//! the same state as the links (every attempt on a link, captured or failed, is a payment of its
//! order). An id of the right shape that does not exist is the gateway's 400 "The id provided
//! does not exist"; one of the wrong shape is its `invalid input [strippedId]` error.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::{Value, json};

use super::auth::KeyAuth;
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
