//! Qonto's named event for `paylink-sandbox trigger`: a basket link created through
//! `POST /v2/payment_links` with the organization's API key, then paid by card.

use reqwest::Method;
use serde_json::{Value, json};

use super::Qonto;
use crate::reply::AdminError;
use crate::trigger::{Auth, Caller, Options, Trigger};

pub(super) const TRIGGERS: &[Trigger] = &[Trigger {
    name: "payment_link.paid",
    about: "create a basket link and pay it by card: payment_link.created, then payment_link.updated as it is paid and settles (to webhook subscriptions)",
}];

pub(super) async fn fire(app: &Qonto, options: &Options, caller: &Caller) -> Result<Value, AdminError> {
    let org = match options.tenant.as_deref() {
        None => app.config.organizations.first(),
        Some(login) => app.config.organizations.iter().find(|o| o.login == login),
    }
    .ok_or_else(|| AdminError::not_found("no configured organization with that login"))?;
    let key = format!("{}:{}", org.login, org.secret_key);
    let cents = options.amount.unwrap_or(2_500);
    let body = json!({"payment_link": {
        "potential_payment_methods": ["credit_card"],
        "reusable": false,
        "items": [{
            "title": options.reference.as_deref().unwrap_or("paylink-sandbox trigger"),
            "quantity": 1,
            "unit_price": {"value": format!("{}.{:02}", cents / 100, cents % 100), "currency": "EUR"},
            "vat_rate": "0.0",
        }],
    }});
    let created = caller
        .call(Method::POST, "/qonto/v2/payment_links", Auth::Header("authorization", &key), Some(&body))
        .await?;
    let link = created.get("payment_link").unwrap_or(&created);
    let id = link["id"].as_str().unwrap_or_default().to_string();
    let paid = caller
        .call(
            Method::POST,
            "/__sandbox/pay",
            Auth::None,
            Some(&json!({"target": id, "method": "credit_card"})),
        )
        .await?;
    Ok(json!({"tenant": org.login, "payment_link": id, "url": link["url"], "result": paid}))
}
