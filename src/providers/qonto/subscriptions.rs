//! Qonto's webhook subscription routes under `/qonto/v2/webhook_subscriptions`. A callback may
//! not point at the sandbox itself; the secret is shown only in the create answer.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::call::{Keyed, QontoCall, parse_json};
use super::error::{QErr, QError};
use super::handlers::Page;
use super::rules;
use super::store::Caller;
use super::{Q, Qonto};
use crate::http;

const WEBHOOK: &str = "webhook";

/// A subscription's callback may not point at the sandbox itself.
fn check_callback(app: &Qonto, url: Option<&str>) -> Result<(), QError> {
    match url.map(|u| app.ctx.guard.check_webhook_url(u)) {
        Some(Err(why)) => Err(QError::unprocessable(vec![QErr::at(
            "/callback_url",
            "invalid",
            why,
        )])),
        _ => Ok(()),
    }
}

fn org_ids(app: &Qonto, login: &str) -> (String, String) {
    app
                .store
        .lock()
        .org(login)
        .map(|o| {
            (
                o.config.organization_id.clone(),
                o.config.membership_id.clone(),
            )
        })
        .unwrap_or_default()
}

/// `POST /v2/webhook_subscriptions`.
pub(super) async fn subscribe(call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let draft = rules::check_subscription(&app.ctx.schemas, &value, false)
                .map_err(QError::unprocessable)?;
            check_callback(app, draft.callback_url.as_deref())?;
            let s = app.store.lock().add_subscription(
                &caller.login,
                draft,
                app.ctx.clock.now_ms(),
                &app.ctx.ids,
            )?;
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::CREATED, Some(s.to_json(&org, &member, true))))
        },
    )
    .await
}

/// `GET /v2/webhook_subscriptions`.
pub(super) async fn list(RawQuery(query): RawQuery, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
            let mut errors = Vec::new();
            let page = Page::parse(&pairs, &mut errors);
            if !errors.is_empty() {
                return Err(QError::unprocessable(errors));
            }
            let subs = app
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.subscriptions.clone())
                .unwrap_or_default();
            let (org, member) = org_ids(app, &caller.login);
            let (subs, meta) = page.slice(&subs);
            let items: Vec<Value> = subs
                .iter()
                .map(|s| s.to_json(&org, &member, false))
                .collect();
            Ok((
                StatusCode::OK,
                Some(json!({"subscriptions": items, "meta": meta})),
            ))
        },
    )
    .await
}

/// `GET /v2/webhook_subscriptions/{id}`.
pub(super) async fn show(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let s = app
                .store
                .lock()
                .subscription(&caller.login, &id)?
                .clone();
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::OK, Some(s.to_json(&org, &member, false))))
        },
    )
    .await
}

/// `PUT /v2/webhook_subscriptions/{id}`.
pub(super) async fn update(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            app.store.lock().subscription(&caller.login, &id)?;
            let draft = rules::check_subscription(&app.ctx.schemas, &value, true)
                .map_err(QError::unprocessable)?;
            check_callback(app, draft.callback_url.as_deref())?;
            let s = app.store.lock().update_subscription(
                &caller.login,
                &id,
                draft,
                app.ctx.clock.now_ms(),
            )?;
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::OK, Some(s.to_json(&org, &member, false))))
        },
    )
    .await
}

/// `DELETE /v2/webhook_subscriptions/{id}`: 204.
pub(super) async fn delete(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            app
                .store
                .lock()
                .delete_subscription(&caller.login, &id)?;
            Ok((StatusCode::NO_CONTENT, None::<Value>))
        },
    )
    .await
}

