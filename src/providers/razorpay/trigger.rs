//! The gateway's named events for `paylink-sandbox trigger`: a payment link created through
//! `POST /v1/payment_links` with the account's key, then paid, failed or cancelled.

use reqwest::Method;
use serde_json::{Value, json};

use super::Razorpay;
use crate::reply::AdminError;
use crate::trigger::{Auth, Caller, Options, Trigger};

pub(super) const TRIGGERS: &[Trigger] = &[
    Trigger {
        name: "payment_link.paid",
        about: "create a link and pay it in full by UPI: payment.authorized, payment.captured, order.paid, payment_link.paid",
    },
    Trigger {
        name: "payment_link.partially_paid",
        about: "create a link that takes partial payments and pay half: payment.authorized, payment.captured, payment_link.partially_paid",
    },
    Trigger {
        name: "payment.failed",
        about: "create a link and fail a card payment on it: payment.failed",
    },
    Trigger {
        name: "payment_link.cancelled",
        about: "create a link and cancel it: payment_link.cancelled",
    },
];

pub(super) async fn fire(
    app: &Razorpay,
    options: &Options,
    caller: &Caller,
) -> Result<Value, AdminError> {
    let account = match options.tenant.as_deref() {
        None => app.config.accounts.first(),
        Some(key) => app.config.accounts.iter().find(|a| a.key_id == key),
    }
    .ok_or_else(|| AdminError::not_found("no configured gateway account with that key id"))?;
    let auth = Auth::Basic(&account.key_id, &account.key_secret);
    let amount = options.amount.unwrap_or(49_900);
    let partial = options.event == "payment_link.partially_paid";
    let mut body = json!({
        "amount": amount,
        "currency": "INR",
        "description": format!("paylink-sandbox trigger {}", options.event),
        "accept_partial": partial,
    });
    if partial {
        body["first_min_partial_amount"] = json!(100);
    }
    if let Some(reference) = &options.reference {
        body["reference_id"] = json!(reference);
    }
    let link = caller
        .call(Method::POST, "/razorpay/v1/payment_links", auth, Some(&body))
        .await?;
    let id = link["id"].as_str().unwrap_or_default().to_string();
    let outcome = match options.event.as_str() {
        "payment_link.cancelled" => {
            caller
                .call(
                    Method::POST,
                    &format!("/razorpay/v1/payment_links/{id}/cancel"),
                    auth,
                    None,
                )
                .await?
        }
        event => {
            let pay = match event {
                "payment.failed" => json!({"target": id, "outcome": "failure", "method": "card"}),
                "payment_link.partially_paid" => {
                    json!({"target": id, "method": "upi", "amount": (amount / 2).max(100)})
                }
                _ => json!({"target": id, "method": "upi"}),
            };
            caller
                .call(Method::POST, "/__sandbox/pay", Auth::None, Some(&pay))
                .await?
        }
    };
    Ok(json!({"tenant": account.key_id, "payment_link": id, "short_url": link["short_url"], "result": outcome}))
}
