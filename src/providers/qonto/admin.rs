//! The Qonto part of the admin API (`/__sandbox/qonto`): paying a link without a browser, every
//! organization's links and connections, and the onboarding decision without a browser.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{PayAttempt, PayError};
use super::webhooks;
use crate::admin::{AdminError, AdminJson, AdminQuery};
use crate::app::AppState;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// One of the link's methods (defaults to its first).
    pub method: Option<String>,
    /// The payment status to end in (default `paid`).
    pub status: Option<String>,
    pub debitor_email: Option<String>,
    /// Move an existing payment (e.g. a `pending` one) to `status` instead of paying anew.
    pub payment_id: Option<String>,
}

/// `POST /__sandbox/qonto/payment_links/{id}/pay`.
pub async fn pay(
    State(app): State<AppState>,
    Path(id): Path<String>,
    AdminJson(request): AdminJson<PayRequest>,
) -> Result<Response, AdminError> {
    let login = app
        .qonto
        .store
        .lock()
        .owner(&id)
        .ok_or_else(|| AdminError::not_found(format!("no payment link {id:?}")))?;
    let method = match request.method {
        Some(m) => m,
        None => app
            .qonto
            .store
            .lock()
            .link(&login, &id)
            .map(|l| {
                l.potential_payment_methods
                    .first()
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
    };
    let result = app
        .qonto
        .store
        .lock()
        .pay(
            &login,
            &id,
            PayAttempt {
                method,
                status: request.status.unwrap_or_else(|| "paid".into()),
                debitor_email: request.debitor_email,
                payment_id: request.payment_id,
            },
            app.clock.now_ms(),
            &app.ids,
        )
        .map_err(|e| match e {
            PayError::NotFound(_) => AdminError::not_found(e.to_string()),
            PayError::Closed(_) => AdminError::conflict(e.to_string()),
            PayError::Invalid(_) => AdminError::bad_request(e.to_string()),
        })?;
    webhooks::after_payment(&app, &login, &result);
    Ok(Json(json!({
        "payment": result.payment.to_json(),
        "payment_link": result.link.to_json(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct LinkFilter {
    pub login: Option<String>,
    pub status: Option<String>,
}

/// `GET /__sandbox/qonto/payment_links`: every organization's links with their payments.
pub async fn links(State(app): State<AppState>, AdminQuery(f): AdminQuery<LinkFilter>) -> Response {
    let store = app.qonto.store.lock();
    let links: Vec<Value> = store
        .orgs()
        .filter(|o| f.login.as_deref().is_none_or(|l| l == o.config.login))
        .flat_map(|o| o.links.values().map(move |l| (o, l)))
        .filter(|(_, l)| f.status.as_deref().is_none_or(|s| s == l.status.as_str()))
        .map(|(o, l)| {
            let mut v = l.to_json();
            v["login"] = json!(o.config.login);
            v["payments"] = Value::Array(l.payments.iter().map(|p| p.to_json()).collect());
            v
        })
        .collect();
    Json(json!({ "payment_links": links })).into_response()
}

/// `GET /__sandbox/qonto/connections`: each organization's connection.
pub async fn connections(State(app): State<AppState>) -> Response {
    let store = app.qonto.store.lock();
    let all: Vec<Value> = store
        .orgs()
        .map(|o| {
            json!({
                "login": o.config.login,
                "connection": o.connection.as_ref().map(|c| c.to_json()),
                "subscriptions": o.subscriptions.len(),
            })
        })
        .collect();
    Json(json!({ "connections": all })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `enable`, `pending`, `refuse` or `revoke`.
    pub decision: String,
    /// Which organization (defaults to the only one).
    pub login: Option<String>,
}

/// `POST /__sandbox/qonto/connection`: the onboarding page's decision, without a browser.
pub async fn decide(
    State(app): State<AppState>,
    AdminJson(d): AdminJson<Decision>,
) -> Result<Response, AdminError> {
    let login = match d.login {
        Some(l) => l,
        None => {
            let logins: Vec<String> = app
                .qonto
                .store
                .lock()
                .orgs()
                .map(|o| o.config.login.clone())
                .collect();
            match logins.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(AdminError::bad_request(
                        "several organizations are configured; add login",
                    ));
                }
            }
        }
    };
    let connection =
        super::handlers::decide(&app, &login, &d.decision).map_err(AdminError::bad_request)?;
    Ok(Json(connection.to_json()).into_response())
}
