//! WhatsApp's named events for `paylink-sandbox trigger`: the customer writing in, and an order
//! sent through the Cloud API with the business's token, then paid.

use reqwest::Method;
use serde_json::{Value, json};

use super::WhatsApp;
use crate::http::percent_encode;
use crate::reply::AdminError;
use crate::trigger::{Auth, Caller, Options, Trigger};

pub(super) const TRIGGERS: &[Trigger] = &[
    Trigger {
        name: "inbound-text",
        about: "the customer writes (--from, --text): a messages webhook",
    },
    Trigger {
        name: "order",
        about: "the customer writes, then the business sends an India order_details with a payment gateway (--reference, --from): sent, delivered, read",
    },
    Trigger {
        name: "payment",
        about: "the customer pays an order (--reference; sent first if it is new): a payment status webhook",
    },
];

/// The order sent by `order` and `payment`.
const ORDER: &str = include_str!("../../../fixtures/whatsapp/valid/order_details-in-payment_gateway.json");

pub(super) async fn fire(
    app: &WhatsApp,
    options: &Options,
    caller: &Caller,
) -> Result<Value, AdminError> {
    let business = match options.tenant.as_deref() {
        None => app.config.businesses.first(),
        Some(id) => app
            .config
            .businesses
            .iter()
            .find(|b| b.phone_number_id == id),
    }
    .ok_or_else(|| AdminError::not_found("no configured business with that phone number id"))?;
    let from = options.from.as_deref().unwrap_or("919876543210");
    let reference = options.reference.as_deref().unwrap_or("ORDER-1");
    let result = match options.event.as_str() {
        "inbound-text" => {
            let text = options.text.as_deref().unwrap_or("Hi! Is my order on its way?");
            let result = caller
                .call(
                    Method::POST,
                    &format!("/__sandbox/whatsapp/users/{}/messages", percent_encode(from)),
                    Auth::None,
                    Some(&json!({"text": text, "phone_number_id": business.phone_number_id})),
                )
                .await?;
            return Ok(json!({"tenant": business.phone_number_id, "from": from, "result": result}));
        }
        "order" => send_order(caller, business, from, reference).await?,
        _ => {
            let known = caller
                .call(
                    Method::GET,
                    &format!("/__sandbox/whatsapp/orders/{}", percent_encode(reference)),
                    Auth::None,
                    None,
                )
                .await
                .is_ok();
            if !known {
                send_order(caller, business, from, reference).await?;
            }
            caller
                .call(
                    Method::POST,
                    &format!("/__sandbox/whatsapp/orders/{}/pay", percent_encode(reference)),
                    Auth::None,
                    Some(&json!({"outcome": "captured", "method": "upi"})),
                )
                .await?
        }
    };
    Ok(json!({"tenant": business.phone_number_id, "reference_id": reference, "result": result}))
}

/// The customer writes first, as in a real chat, so the order falls inside their 24-hour
/// customer-service window; then the business sends it.
async fn send_order(
    caller: &Caller,
    business: &super::config::BusinessConfig,
    to: &str,
    reference: &str,
) -> Result<Value, AdminError> {
    caller
        .call(
            Method::POST,
            &format!("/__sandbox/whatsapp/users/{}/messages", percent_encode(to)),
            Auth::None,
            Some(&json!({"text": "Hi, I would like to order", "phone_number_id": business.phone_number_id})),
        )
        .await?;
    let mut order: Value = serde_json::from_str(ORDER).unwrap_or(Value::Null);
    order["to"] = json!(to);
    order["interactive"]["action"]["parameters"]["reference_id"] = json!(reference);
    caller
        .call(
            Method::POST,
            &format!("/whatsapp/v23.0/{}/messages", business.phone_number_id),
            Auth::Bearer(&business.access_token),
            Some(&order),
        )
        .await
}
