//! The gateway part of the admin API (`/__sandbox/razorpay`): paying a link without a browser,
//! listing every account's links, and the dashboard's webhook setting.

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
    /// `upi` (default), `card`, `netbanking` or `wallet`.
    pub method: Option<String>,
    /// `success` (default) or `failure`.
    pub outcome: Option<String>,
    /// Minor units; defaults to what is due.
    pub amount: Option<i64>,
}

/// `POST /__sandbox/razorpay/payment_links/{id}/pay`: the hosted page's outcome, without a browser.
pub async fn pay(
    State(app): State<AppState>,
    Path(id): Path<String>,
    AdminJson(request): AdminJson<PayRequest>,
) -> Result<Response, AdminError> {
    let method = request.method.unwrap_or_else(|| "upi".into());
    if !super::model::METHODS.contains(&method.as_str()) {
        return Err(AdminError::bad_request(format!(
            "method {method:?} is not one of upi, card, netbanking, wallet"
        )));
    }
    let success = match request.outcome.as_deref().unwrap_or("success") {
        "success" => true,
        "failure" => false,
        other => {
            return Err(AdminError::bad_request(format!(
                "outcome {other:?} is not success or failure"
            )));
        }
    };
    let key_id = app
        .razorpay
        .store
        .lock()
        .owner(&id)
        .ok_or_else(|| AdminError::not_found(format!("no payment link {id:?}")))?;
    let result = app
        .razorpay
        .store
        .lock()
        .pay(
            &key_id,
            &id,
            PayAttempt {
                method,
                success,
                amount: request.amount,
            },
            app.clock.now_secs(),
            &app.ids,
        )
        .map_err(|e| match e {
            PayError::NotFound(_) => AdminError::not_found(e.to_string()),
            PayError::Closed(_) => AdminError::conflict(e.to_string()),
            PayError::Amount(_) => AdminError::bad_request(e.to_string()),
        })?;
    let deliveries = webhooks::payment_events(&app, &key_id, &result);
    let callback = (success && !result.link.callback_url.is_empty()).then(|| {
        let params: serde_json::Map<String, Value> =
            webhooks::callback_params(&app, &key_id, &result)
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect();
        json!({"url": result.link.callback_url, "params": params})
    });
    Ok(Json(json!({
        "payment_id": result.payment.id,
        "status": result.payment.status,
        "payment_link": result.link.to_json(true),
        "callback": callback,
        "deliveries": deliveries,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct LinkFilter {
    pub key_id: Option<String>,
    pub status: Option<String>,
}

/// `GET /__sandbox/razorpay/payment_links`: every account's links, oldest first.
pub async fn links(State(app): State<AppState>, AdminQuery(f): AdminQuery<LinkFilter>) -> Response {
    let store = app.razorpay.store.lock();
    let links: Vec<Value> = store
        .accounts()
        .filter(|a| f.key_id.as_deref().is_none_or(|k| k == a.config.key_id))
        .flat_map(|a| a.links.values().map(move |l| (a, l)))
        .filter(|(_, l)| f.status.as_deref().is_none_or(|s| s == l.status.as_str()))
        .map(|(a, l)| {
            let mut v = l.to_json(true);
            v["key_id"] = json!(a.config.key_id);
            v
        })
        .collect();
    Json(json!({ "payment_links": links })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSetting {
    /// The receiver URL; `null` turns webhooks off.
    pub url: Option<String>,
    pub secret: Option<String>,
    /// Which account (defaults to the only one).
    pub key_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct AccountQuery {
    pub key_id: Option<String>,
}

/// `GET /__sandbox/razorpay/webhook`: where each account's webhooks go (`?key_id=` for one).
pub async fn webhooks(
    State(app): State<AppState>,
    AdminQuery(q): AdminQuery<AccountQuery>,
) -> Response {
    let store = app.razorpay.store.lock();
    let accounts: Vec<Value> = store
        .accounts()
        .filter(|a| q.key_id.as_deref().is_none_or(|k| k == a.config.key_id))
        .map(|a| json!({"key_id": a.config.key_id, "url": a.webhook_url}))
        .collect();
    Json(json!({ "webhooks": accounts })).into_response()
}

/// `PUT /__sandbox/razorpay/webhook`: where an account's webhooks go, as the gateway's dashboard
/// would set it.
pub async fn set_webhook(
    State(app): State<AppState>,
    AdminJson(setting): AdminJson<WebhookSetting>,
) -> Result<Response, AdminError> {
    if let Some(url) = &setting.url
        && !crate::config::is_http_url(url)
    {
        return Err(AdminError::bad_request(format!(
            "url {url:?} is not an http:// or https:// URL"
        )));
    }
    if let Some(url) = &setting.url {
        app.guard
            .check_webhook_url(url)
            .map_err(AdminError::bad_request)?;
    }
    if setting.secret.as_deref() == Some("") {
        return Err(AdminError::bad_request("secret must not be empty"));
    }
    let mut store = app.razorpay.store.lock();
    let key_id = match setting.key_id {
        Some(k) => k,
        None => {
            let keys: Vec<String> = store.accounts().map(|a| a.config.key_id.clone()).collect();
            match keys.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(AdminError::bad_request(
                        "several accounts are configured; add key_id",
                    ));
                }
            }
        }
    };
    let account = store
        .account_mut(&key_id)
        .ok_or_else(|| AdminError::not_found(format!("no account with key_id {key_id:?}")))?;
    account.webhook_url = setting.url;
    if let Some(secret) = setting.secret {
        account.webhook_secret = secret;
    }
    Ok(Json(json!({"key_id": key_id, "url": account.webhook_url})).into_response())
}
