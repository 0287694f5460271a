//! The gateway part of the admin API (`/__sandbox/razorpay`): paying a link without a browser,
//! listing every account's links, and the dashboard's webhook setting.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::Method;
use super::store::{PayAttempt, PayError};
use super::webhooks;
use super::{Gw, ID, Razorpay};
use crate::reply::{AdminError, AdminJson, AdminPath, AdminQuery};
use crate::provider::{Column, LinksPanel, Match, PayOptions, Paid, Piece, Row};
use crate::ui::money;

/// How a payment ends on the hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Outcome {
    #[default]
    Success,
    Failure,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    /// `upi` (default), `card`, `netbanking` or `wallet`.
    #[serde(default)]
    pub method: Method,
    /// `success` (default) or `failure`.
    #[serde(default)]
    pub outcome: Outcome,
    /// Minor units; defaults to what is due.
    pub amount: Option<i64>,
}

/// `POST /__sandbox/razorpay/payment_links/{id}/pay`: the hosted page's outcome, without a browser.
pub(super) async fn pay(
    State(app): State<Gw>,
    AdminPath(id): AdminPath<String>,
    AdminJson(request): AdminJson<PayRequest>,
) -> Result<Response, AdminError> {
    Ok(Json(pay_link(&app, &id, &request)?).into_response())
}

fn pay_link(app: &Razorpay, id: &str, request: &PayRequest) -> Result<Value, AdminError> {
    let success = request.outcome == Outcome::Success;
    let key_id = app
        .store
        .lock()
        .owner(id)
        .ok_or_else(|| AdminError::not_found(format!("no payment link {id:?}")))?;
    let result = app
        .store
        .lock()
        .pay(
            &key_id,
            id,
            PayAttempt {
                method: request.method,
                success,
                amount: request.amount,
            },
            app.ctx.clock.now_secs(),
            &app.ctx.ids,
        )
        .map_err(|e| match e {
            PayError::NotFound(_) => AdminError::not_found(e.to_string()),
            PayError::Closed(_) => AdminError::conflict(e.to_string()),
            PayError::Amount(_) => AdminError::bad_request(e.to_string()),
        })?;
    let deliveries = webhooks::payment_events(app, &key_id, &result);
    let callback = (success && !result.link.callback_url.is_empty()).then(|| {
        let params: serde_json::Map<String, Value> =
            webhooks::callback_params(app, &key_id, &result)
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect();
        json!({"url": result.link.callback_url, "params": params})
    });
    Ok(json!({
        "payment_id": result.payment.id,
        "status": result.payment.status.as_str(),
        "payment_link": result.link.to_json(true),
        "callback": callback,
        "deliveries": deliveries,
    }))
}

/// `paylink-sandbox pay`: a `plink_` id or a short URL; then a link's reference id.
pub(crate) fn pay_target(
    app: &Razorpay,
    options: &PayOptions,
    matching: Match,
) -> Option<Result<Paid, AdminError>> {
    let target = options.target.as_str();
    let id = {
        let store = app.store.lock();
        match matching {
            Match::Exact if target.starts_with("plink_") => Some(target.to_string()),
            Match::Exact => store
                .accounts()
                .flat_map(|a| a.links.values())
                .find(|l| l.short_url == target)
                .map(|l| l.id.clone()),
            Match::Reference if target.contains('/') => None,
            Match::Reference => store
                .accounts()
                .flat_map(|a| a.links.values())
                .find(|l| l.reference_id == target)
                .map(|l| l.id.clone()),
        }
    }?;
    let outcome = match options.outcome.as_deref() {
        None | Some("success" | "paid" | "captured") => Outcome::Success,
        Some("failure" | "failed") => Outcome::Failure,
        Some(o) => {
            return Some(Err(AdminError::bad_request(format!(
                "outcome {o:?}: use success or failure for gateway links"
            ))));
        }
    };
    let method = match options.method.as_deref().map(Method::parse) {
        None => Method::default(),
        Some(Some(m)) => m,
        Some(None) => {
            return Some(Err(AdminError::bad_request(
                "method must be one of upi, card, netbanking, wallet",
            )));
        }
    };
    let request = PayRequest {
        method,
        outcome,
        amount: options.amount,
    };
    Some(pay_link(app, &id, &request).map(|answer| Paid {
        provider: ID,
        paid: id,
        payment: answer["payment_id"].as_str().unwrap_or_default().to_string(),
        status: answer["status"].as_str().unwrap_or_default().to_string(),
        now: answer["payment_link"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        result: answer,
    }))
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct LinkFilter {
    pub key_id: Option<String>,
    pub status: Option<String>,
}

/// `GET /__sandbox/razorpay/payment_links`: every account's links, oldest first.
pub(super) async fn links(State(app): State<Gw>, AdminQuery(f): AdminQuery<LinkFilter>) -> Response {
    let store = app.store.lock();
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
pub(super) struct WebhookSetting {
    /// The receiver URL; `null` turns webhooks off.
    pub url: Option<String>,
    pub secret: Option<String>,
    /// Which account (defaults to the only one).
    pub key_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct AccountQuery {
    pub key_id: Option<String>,
}

/// `GET /__sandbox/razorpay/webhook`: where each account's webhooks go (`?key_id=` for one).
pub(super) async fn webhooks(
    State(app): State<Gw>,
    AdminQuery(q): AdminQuery<AccountQuery>,
) -> Response {
    let store = app.store.lock();
    let accounts: Vec<Value> = store
        .accounts()
        .filter(|a| q.key_id.as_deref().is_none_or(|k| k == a.config.key_id))
        .map(|a| json!({"key_id": a.config.key_id, "url": a.webhook_url}))
        .collect();
    Json(json!({ "webhooks": accounts })).into_response()
}

/// `PUT /__sandbox/razorpay/webhook`: where an account's webhooks go, as the gateway's dashboard
/// would set it.
pub(super) async fn set_webhook(
    State(app): State<Gw>,
    AdminJson(setting): AdminJson<WebhookSetting>,
) -> Result<Response, AdminError> {
    if let Some(url) = &setting.url
        && !crate::http::is_http_url(url)
    {
        return Err(AdminError::bad_request(format!(
            "url {url:?} is not an http:// or https:// URL"
        )));
    }
    if let Some(url) = &setting.url {
        app.ctx.guard
            .check_webhook_url(url)
            .map_err(AdminError::bad_request)?;
    }
    if setting.secret.as_deref() == Some("") {
        return Err(AdminError::bad_request("secret must not be empty"));
    }
    let mut store = app.store.lock();
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

/// The gateway's part of the dashboard's "Payment links" page: every account's links, newest
/// first, with their captured payments and checkout.
pub(super) fn links_panel(gw: &Razorpay) -> LinksPanel {
    let store = gw.store.lock();
    let links: Vec<_> = store.accounts().flat_map(|a| a.links.values()).collect();
    let rows = links
        .into_iter()
        .rev()
        .map(|l| {
            let mut payments = Vec::new();
            for p in l.captured() {
                if !payments.is_empty() {
                    payments.push(Piece::Break);
                }
                payments.push(Piece::text(format!(
                    "{} {}",
                    p.method.as_str(),
                    money(p.amount, &l.currency)
                )));
                let refunded = l.refunded(&p.id);
                if refunded > 0 {
                    payments.push(Piece::text(format!(
                        " (refunded {})",
                        money(refunded, &l.currency)
                    )));
                }
            }
            Row {
                key: l.id.clone(),
                cells: vec![
                    vec![Piece::code(&l.id)],
                    vec![Piece::text(if l.reference_id.is_empty() {
                        "—"
                    } else {
                        &l.reference_id
                    })],
                    vec![Piece::text(money(l.amount, &l.currency))],
                    vec![Piece::text(money(l.amount_paid, &l.currency))],
                    vec![Piece::status(l.status.as_str())],
                    payments,
                    vec![Piece::link("Open checkout", &l.short_url)],
                ],
            }
        })
        .collect();
    LinksPanel {
        provider: ID,
        title: "Gateway links",
        lines: Vec::new(),
        columns: vec![
            Column::text("Link"),
            Column::text("Reference"),
            Column::amount("Amount"),
            Column::amount("Paid"),
            Column::text("Status"),
            Column::text("Payments"),
            Column::text("Checkout"),
        ],
        rows,
        empty: vec![
            Piece::text("No gateway links yet. Create one with "),
            Piece::code("POST /razorpay/v1/payment_links"),
            Piece::text("."),
        ],
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefundBody {
    pub amount: Option<i64>,
    /// `success` (default) or `failure` (the bank refuses it: `refund.failed`).
    pub outcome: Option<String>,
}

/// `POST /__sandbox/razorpay/payments/{id}/refund`: a refund without the merchant's key, or
/// one the bank refuses.
pub(super) async fn refund(
    State(app): State<Gw>,
    AdminPath(id): AdminPath<String>,
    AdminJson(body): AdminJson<RefundBody>,
) -> Result<axum::response::Response, AdminError> {
    let fail = match body.outcome.as_deref() {
        None | Some("success") => false,
        Some("failure") => true,
        Some(other) => {
            return Err(AdminError::bad_request(format!(
                "outcome {other:?} is not success or failure"
            )));
        }
    };
    let key_id = {
        let store = app.store.lock();
        store
            .accounts()
            .find(|a| a.payment(&id).is_some())
            .map(|a| a.config.key_id.clone())
    }
    .ok_or_else(|| AdminError::not_found(format!("no captured payment with id {id:?}")))?;
    let request = super::store::RefundRequest {
        amount: body.amount,
        speed: "normal".into(),
        notes: json!([]),
        receipt: None,
        fail,
    };
    super::payments::refund_now(&app, &key_id, &id, request)
        .map(|v| Json(v).into_response())
        .map_err(|e| AdminError::conflict(e.to_value().to_string()))
}
