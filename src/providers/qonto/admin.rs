//! The Qonto part of the admin API (`/__sandbox/qonto`): paying a link without a browser, every
//! organization's links and connections, and the onboarding decision without a browser.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{Method, PaymentStatus};
use super::store::{PayAttempt, PayError};
use super::webhooks;
use crate::reply::{AdminError, AdminJson, AdminPath, AdminQuery};
use crate::provider::{Column, LinksPanel, Match, PayOptions, Paid, Piece, Row};
use crate::ui::money;
use super::{ID, Q, Qonto};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    /// One of the link's methods (defaults to its first).
    pub method: Option<Method>,
    /// The payment status to end in (default `paid`).
    pub status: Option<PaymentStatus>,
    pub debitor_email: Option<String>,
    /// Move an existing payment (e.g. a `pending` one) to `status` instead of paying anew.
    pub payment_id: Option<String>,
}

/// `POST /__sandbox/qonto/payment_links/{id}/pay`.
pub(super) async fn pay(
    State(app): State<Q>,
    AdminPath(id): AdminPath<String>,
    AdminJson(request): AdminJson<PayRequest>,
) -> Result<Response, AdminError> {
    Ok(Json(pay_link(&app, &id, request)?).into_response())
}

fn pay_link(app: &Qonto, id: &str, request: PayRequest) -> Result<Value, AdminError> {
    let (login, first_method) = {
        let store = app.store.lock();
        let login = store
            .owner(id)
            .ok_or_else(|| AdminError::not_found(format!("no payment link {id:?}")))?;
        let first = store
            .link(&login, id)
            .ok()
            .and_then(|l| l.potential_payment_methods.first().copied());
        (login, first)
    };
    let method = request
        .method
        .or(first_method)
        .unwrap_or(Method::CreditCard);
    let result = app
        .store
        .lock()
        .pay(
            &login,
            id,
            PayAttempt {
                method,
                status: request.status.unwrap_or(PaymentStatus::Paid),
                debitor_email: request.debitor_email,
                payment_id: request.payment_id,
            },
            app.ctx.clock.now_ms(),
            &app.ctx.ids,
        )
        .map_err(|e| match e {
            PayError::NotFound(_) => AdminError::not_found(e.to_string()),
            PayError::Closed(_) => AdminError::conflict(e.to_string()),
            PayError::Invalid(_) => AdminError::bad_request(e.to_string()),
        })?;
    webhooks::after_payment(app, &login, &result);
    Ok(json!({
        "payment": result.payment.to_json(),
        "payment_link": result.link.to_json(),
    }))
}

/// `paylink-sandbox pay`: a link id or checkout URL; then an invoice number.
pub(crate) fn pay_target(
    app: &Qonto,
    options: &PayOptions,
    matching: Match,
) -> Option<Result<Paid, AdminError>> {
    let target = options.target.as_str();
    let id = {
        let store = app.store.lock();
        let links = || store.orgs().flat_map(|o| o.links.values());
        match matching {
            Match::Exact => match target.split("/qonto/pay/").nth(1) {
                Some(rest) => Some(rest.split(['?', '#', '/']).next().unwrap_or("").to_string()),
                None => links().find(|l| l.id == target).map(|l| l.id.clone()),
            },
            Match::Reference => links()
                .find(|l| l.invoice_number.as_deref() == Some(target) || l.url == target)
                .map(|l| l.id.clone()),
        }
    }?;
    let status = match options.outcome.as_deref() {
        None | Some("success") => PaymentStatus::Paid,
        Some("failure") => PaymentStatus::Failed,
        Some(o) => match PaymentStatus::parse(o) {
            Some(s) => s,
            None => {
                return Some(Err(AdminError::bad_request(format!(
                    "outcome {o:?} is not one of {}",
                    PaymentStatus::names()
                ))));
            }
        },
    };
    let method = match options.method.as_deref().map(Method::parse) {
        None => None,
        Some(Some(m)) => Some(m),
        Some(None) => {
            return Some(Err(AdminError::bad_request(
                "method must be one of credit_card, apple_pay, paypal, ideal",
            )));
        }
    };
    let request = PayRequest {
        method,
        status: Some(status),
        debitor_email: None,
        payment_id: None,
    };
    Some(pay_link(app, &id, request).map(|answer| Paid {
        provider: ID,
        paid: id,
        payment: answer["payment"]["id"].as_str().unwrap_or_default().to_string(),
        status: answer["payment"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        now: answer["payment_link"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        result: answer,
    }))
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct LinkFilter {
    pub login: Option<String>,
    pub status: Option<String>,
}

/// `GET /__sandbox/qonto/payment_links`: every organization's links with their payments.
pub(super) async fn links(State(app): State<Q>, AdminQuery(f): AdminQuery<LinkFilter>) -> Response {
    let store = app.store.lock();
    let links: Vec<Value> = store
        .orgs()
        .filter(|o| f.login.as_deref().is_none_or(|l| l == o.config.login))
        .flat_map(|o| o.links.values().map(move |l| (o, l)))
        .filter(|(_, l)| f.status.as_deref().is_none_or(|s| s == l.status.as_str()))
        .map(|(o, l)| {
            let mut v = l.to_json();
            v["login"] = json!(o.config.login);
            v["payments"] = Value::Array(l.payments.iter().map(super::model::Payment::to_json).collect());
            v
        })
        .collect();
    Json(json!({ "payment_links": links })).into_response()
}

/// `GET /__sandbox/qonto/connections`: each organization's connection.
pub(super) async fn connections(State(app): State<Q>) -> Response {
    let store = app.store.lock();
    let all: Vec<Value> = store
        .orgs()
        .map(|o| {
            json!({
                "login": o.config.login,
                "connection": o.connection.as_ref().map(super::model::Connection::to_json),
                "subscriptions": o.subscriptions.len(),
            })
        })
        .collect();
    Json(json!({ "connections": all })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    /// `enable`, `pending`, `refuse` or `revoke`.
    pub decision: String,
    /// Which organization (defaults to the only one).
    pub login: Option<String>,
}

/// `POST /__sandbox/qonto/connection`: the onboarding page's decision, without a browser.
pub(super) async fn decide(
    State(app): State<Q>,
    AdminJson(d): AdminJson<Decision>,
) -> Result<Response, AdminError> {
    let login = match d.login {
        Some(l) => l,
        None => {
            let logins: Vec<String> = app
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
        super::pages::decide(&app, &login, &d.decision).map_err(AdminError::bad_request)?;
    Ok(Json(connection.to_json()).into_response())
}

/// Qonto's part of the dashboard's "Payment links" page: each organization's connection, then
/// every organization's links, newest first, with their payments and checkout.
pub(super) fn links_panel(q: &Qonto) -> LinksPanel {
    let store = q.store.lock();
    let lines = store
        .orgs()
        .map(|o| {
            let status = o
                .connection
                .as_ref()
                .map_or("not_connected", |c| c.status.as_str());
            let mut line = vec![
                Piece::strong(&o.config.login),
                Piece::text(": connection "),
                Piece::status(status),
            ];
            if let Some(c) = &o.connection {
                line.push(Piece::text(" "));
                line.push(Piece::link("Onboarding page", &c.connection_location));
            }
            let n = o.subscriptions.len();
            line.push(Piece::text(format!(
                " · {n} webhook subscription{}",
                if n == 1 { "" } else { "s" }
            )));
            line
        })
        .collect();
    let links: Vec<_> = store.orgs().flat_map(|o| o.links.values()).collect();
    let rows = links
        .into_iter()
        .rev()
        .map(|l| {
            let mut payments = Vec::new();
            for p in &l.payments {
                if !payments.is_empty() {
                    payments.push(Piece::Break);
                }
                payments.push(Piece::text(format!("{} ", p.payment_method.as_str())));
                payments.push(Piece::status(p.status.as_str()));
            }
            let resource = l.invoice_number.clone().unwrap_or_else(|| {
                format!("{} item basket", l.items.as_ref().map_or(0, Vec::len))
            });
            let short_id: String = l.id.chars().take(13).collect();
            Row {
                key: l.id.clone(),
                cells: vec![
                    vec![Piece::code(format!("{short_id}…"))],
                    vec![Piece::text(resource)],
                    vec![Piece::text(money(l.amount, &l.currency))],
                    vec![Piece::status(l.status.as_str())],
                    payments,
                    vec![Piece::link("Open checkout", &l.url)],
                ],
            }
        })
        .collect();
    LinksPanel {
        provider: ID,
        title: "Qonto",
        lines,
        columns: vec![
            Column::text("Link"),
            Column::text("Resource"),
            Column::amount("Amount"),
            Column::text("Status"),
            Column::text("Payments"),
            Column::text("Checkout"),
        ],
        rows,
        empty: vec![
            Piece::text("No Qonto links yet. Create one with "),
            Piece::code("POST /qonto/v2/payment_links"),
            Piece::text("."),
        ],
    }
}
