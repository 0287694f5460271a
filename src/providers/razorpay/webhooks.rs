//! The gateway's webhooks: `payment_link.paid`, `payment_link.partially_paid`,
//! `payment_link.cancelled`, `payment_link.expired`, `payment.captured`, `payment.failed` and
//! `order.paid`, each in the `{"entity": "event", ...}` envelope with `contains` listing the
//! payload's entities, signed `X-Razorpay-Signature` with the account's webhook secret and carrying
//! a stable `X-Razorpay-Event-Id`. Also the timeline jobs: link expiry and scripted payments.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::model::{Method, Payment, PaymentLink, PaymentStatus};
use super::store::{PayAttempt, PayResult};
use super::{ID, Razorpay};
use crate::webhook::sign::hmac_sha256_hex;
use crate::webhook::{NewDelivery, Sign, Target, json::to_vec};

/// The gateway's signature: `X-Razorpay-Signature: <hex HMAC-SHA256 of the body>` with the
/// webhook secret, and the event id in `X-Razorpay-Event-Id`. Any 2xx acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RazorpaySigner {
    pub secret: String,
}

impl Sign for RazorpaySigner {
    fn secret(&self) -> &str {
        &self.secret
    }

    fn headers(&self, body: &[u8], _now_secs: i64, event_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "Razorpay-Webhook/v1".into()),
            (
                "x-razorpay-signature",
                hmac_sha256_hex(self.secret.as_bytes(), &[body]),
            ),
            ("x-razorpay-event-id", event_id.to_string()),
        ]
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Job {
    /// Expire the link if its `expire_by` is still this one.
    Expire {
        key_id: String,
        link_id: String,
        expire_by: i64,
    },
    /// A scenario pays the link.
    Pay {
        key_id: String,
        link_id: String,
        attempt: PayAttempt,
    },
}

pub(crate) fn run(gw: &Razorpay, job: Job) {
    match job {
        Job::Expire {
            key_id,
            link_id,
            expire_by,
        } => {
            let now = gw.ctx.clock.now_secs();
            let expired = gw
                .store
                .lock()
                .expire(&key_id, &link_id, expire_by, now);
            if let Some(link) = expired {
                link_event(gw, &key_id, "payment_link.expired", &link);
            }
        }
        Job::Pay {
            key_id,
            link_id,
            attempt,
        } => {
            let now = gw.ctx.clock.now_secs();
            let paid = gw
                .store
                .lock()
                .pay(&key_id, &link_id, attempt, now, &gw.ctx.ids);
            match paid {
                Ok(result) => {
                    payment_events(gw, &key_id, &result);
                }
                Err(e) => tracing::info!(link = %link_id, "scripted payment skipped: {e}"),
            }
        }
    }
}

/// Where an account's webhooks go.
pub(crate) fn target(gw: &Razorpay, key_id: &str) -> Option<Target> {
    let store = gw.store.lock();
    let account = store.account(key_id)?;
    Some(Target {
        url: account.webhook_url.clone()?,
        signer: Arc::new(RazorpaySigner {
            secret: account.webhook_secret.clone(),
        }),
        verify_token: None,
        timeout: Some(gw.config.webhook_timeout.0),
    })
}

fn send(
    gw: &Razorpay,
    key_id: &str,
    event: &str,
    reference: &str,
    payload: &[(&str, Value)],
) -> String {
    let account_id = gw
                .store
        .lock()
        .account(key_id)
        .map(|a| a.config.account_id.clone())
        .unwrap_or_default();
    let contains: Vec<&str> = payload.iter().map(|(k, _)| *k).collect();
    let mut body = Map::new();
    for (k, v) in payload {
        body.insert((*k).to_string(), json!({ "entity": v }));
    }
    let envelope = json!({
        "entity": "event",
        "account_id": account_id,
        "event": event,
        "contains": contains,
        "payload": Value::Object(body),
        "created_at": gw.ctx.clock.now_secs(),
    });
    let delivery = NewDelivery {
        id: format!("evt_{}", gw.ctx.ids.alnum(14)),
        provider: ID,
        tenant: key_id.to_string(),
        event: event.to_string(),
        reference: Some(reference.to_string()),
        body: to_vec(&envelope),
        target: target(gw, key_id),
    };
    gw.ctx.webhooks.enqueue(delivery, gw.ctx.clock.now_ms())
}

/// `payment_link.cancelled` or `payment_link.expired`.
pub(crate) fn link_event(gw: &Razorpay, key_id: &str, event: &str, link: &PaymentLink) -> String {
    send(
        gw,
        key_id,
        event,
        &link.id,
        &[("payment_link", link.to_json(false))],
    )
}

/// `refund.created`, then `refund.processed` (or `refund.failed`), each with the refund and its
/// payment.
pub(crate) fn refund_events(
    gw: &Razorpay,
    key_id: &str,
    link: &PaymentLink,
    refund: &super::model::Refund,
) -> Vec<String> {
    let Some(payment) = link.attempts.iter().find(|p| p.id == refund.payment_id) else {
        return Vec::new();
    };
    let payment = payment_entity(link, payment);
    let mut created = refund.to_json();
    created["status"] = json!("pending");
    let last = if refund.status == super::model::RefundStatus::Failed {
        "refund.failed"
    } else {
        "refund.processed"
    };
    vec![
        send(
            gw,
            key_id,
            "refund.created",
            &refund.payment_id,
            &[("refund", created), ("payment", payment.clone())],
        ),
        send(
            gw,
            key_id,
            last,
            &refund.payment_id,
            &[("refund", refund.to_json()), ("payment", payment)],
        ),
    ]
}

/// The events one payment attempt produces, in the order the gateway sends them.
pub(crate) fn payment_events(gw: &Razorpay, key_id: &str, result: &PayResult) -> Vec<String> {
    let link = &result.link;
    let payment = payment_entity(link, &result.payment);
    let mut ids = Vec::new();
    if result.payment.status == PaymentStatus::Failed {
        ids.push(send(
            gw,
            key_id,
            "payment.failed",
            &link.id,
            &[("payment", payment)],
        ));
        return ids;
    }
    // Every payment is authorized first; an auto-capturing account captures it at once, so
    // `payment.captured` and the rest follow; otherwise they wait for the capture call.
    let mut authorized = payment_entity(
        link,
        &Payment {
            status: PaymentStatus::Authorized,
            ..result.payment.clone()
        },
    );
    authorized["status"] = json!("authorized");
    ids.push(send(
        gw,
        key_id,
        "payment.authorized",
        &link.id,
        &[("payment", authorized)],
    ));
    if result.payment.status == PaymentStatus::Captured {
        ids.extend(capture_events(gw, key_id, result));
    }
    ids
}

/// The events a capture produces: `payment.captured`, `order.paid` when the link is complete,
/// then `payment_link.paid` or `payment_link.partially_paid`.
pub(crate) fn capture_events(gw: &Razorpay, key_id: &str, result: &PayResult) -> Vec<String> {
    let link = &result.link;
    let payment = payment_entity(link, &result.payment);
    let mut ids = Vec::new();
    ids.push(send(
        gw,
        key_id,
        "payment.captured",
        &link.id,
        &[("payment", payment.clone())],
    ));
    let order = order_entity(link);
    if result.completed {
        ids.push(send(
            gw,
            key_id,
            "order.paid",
            &link.id,
            &[("payment", payment.clone()), ("order", order.clone())],
        ));
    }
    let event = if result.completed {
        "payment_link.paid"
    } else {
        "payment_link.partially_paid"
    };
    let (account_id, auto_capture) = gw
        .store
        .lock()
        .account(key_id)
        .map(|a| (a.config.account_id.clone(), a.config.auto_capture))
        .unwrap_or_default();
    let mut link_order = link_order_entity(link, key_id, &account_id, gw.ctx.clock.now_secs());
    link_order["payment_capture"] = json!(auto_capture);
    ids.push(send(
        gw,
        key_id,
        event,
        &link.id,
        &[
            ("payment_link", link.to_json(false)),
            ("order", link_order),
            ("payment", payment),
        ],
    ));
    ids
}

/// The order behind a link.
pub(super) fn order_entity(link: &PaymentLink) -> Value {
    let status = if link.amount_paid >= link.amount {
        "paid"
    } else {
        "attempted"
    };
    json!({
        "id": link.order_id,
        "entity": "order",
        "amount": link.amount,
        "amount_paid": link.amount_paid,
        "amount_due": link.amount_due(),
        "currency": link.currency,
        "receipt": link.reference_id,
        "offer_id": null,
        "status": status,
        "attempts": link.order_attempts,
        "notes": [],
        "created_at": link.created_at,
    })
}

/// The order inside `payment_link.paid` and `payment_link.partially_paid`, with the keys the
/// gateway documents for that payload (not the Orders API entity `order.paid` carries: no
/// `entity` or `offer_id`, and the payment-link product fields).
pub(super) fn link_order_entity(link: &PaymentLink, key_id: &str, account_id: &str, now: i64) -> Value {
    let mut order = json!({
        "account_number": null,
        "amount": link.amount,
        "amount_due": link.amount_due(),
        "amount_paid": link.amount_paid,
        "app_offer": false,
        "attempts": link.order_attempts,
        "authorized": true,
        "bank": null,
        "bank_account": null,
        "checkout_config_id": null,
        "created_at": link.created_at,
        "currency": link.currency,
        "customer_id": null,
        "discount": false,
        "first_payment_min_amount": null,
        "force_offer": null,
        "id": link.order_id,
        "late_auth_config_id": null,
        "merchant_id": account_id.trim_start_matches("acc_"),
        "method": null,
        "notes": [],
        "offers": {},
        "order_metas": [],
        "order_relationships": [],
        "partial_payment": link.accept_partial,
        "payer_name": null,
        "payment_capture": true,
        "product_id": link.id.trim_start_matches("plink_"),
        "product_type": "payment_link_v2",
        "provider_context": null,
        "public_key": key_id,
        "public_response": null,
        "receipt": link.reference_id,
        "source": null,
        "status": if link.amount_paid >= link.amount { "paid" } else { "attempted" },
        "transfers": null,
        "updated_at": now,
    });
    for n in 2..=8 {
        order[format!("reference{n}")] = Value::Null;
    }
    order
}

/// A payment as the gateway's webhooks describe it, with the method's own fields.
pub(super) fn payment_entity(link: &PaymentLink, p: &Payment) -> Value {
    let captured = p.status == PaymentStatus::Captured;
    let failed = p.status == PaymentStatus::Failed;
    let vpa = (p.method == Method::Upi).then(|| "customer@upi".to_string());
    let mut v = json!({
        "id": p.id,
        "entity": "payment",
        "amount": p.amount,
        "currency": p.currency,
        "base_amount": p.amount,
        "status": if captured && link.refunded(&p.id) >= p.amount { "refunded" } else { p.status.as_str() },
        "order_id": p.order_id,
        "invoice_id": null,
        "international": false,
        "method": p.method.as_str(),
        "amount_refunded": link.refunded(&p.id),
        "amount_transferred": 0,
        "refund_status": match link.refunded(&p.id) {
            0 => Value::Null,
            r if r >= p.amount => json!("full"),
            _ => json!("partial"),
        },
        "captured": captured,
        "description": format!("#{}", link.id.trim_start_matches("plink_")),
        "card_id": null,
        "bank": if p.method == Method::Netbanking { json!("HDFC") } else { Value::Null },
        "wallet": if p.method == Method::Wallet { json!("paytm") } else { Value::Null },
        "vpa": vpa,
        "email": p.email.clone().unwrap_or_else(|| "void@razorpay.com".into()),
        "contact": p.contact.clone().unwrap_or_else(|| "+919999999999".into()),
        "notes": [],
        "fee": if captured { json!(p.amount * 2 / 100) } else { Value::Null },
        "tax": if captured { json!(0) } else { Value::Null },
        "error_code": null,
        "error_description": null,
        "error_source": null,
        "error_step": null,
        "error_reason": null,
        "fee_bearer": "platform",
        "acquirer_data": {"rrn": if captured { json!(format!("{:012}", p.created_at)) } else { Value::Null }},
        "created_at": p.created_at,
    });
    if p.method == Method::Upi {
        v["upi"] =
            json!({"payer_account_type": "bank_account", "vpa": "customer@upi", "flow": "collect"});
    }
    if p.method == Method::Card {
        let card_id = format!("card_{}", &p.id.trim_start_matches("pay_"));
        v["card_id"] = json!(card_id);
        v["card"] = json!({"id": card_id, "entity": "card", "name": "Sandbox Customer", "last4": "1111",
            "network": "Visa", "type": "credit", "issuer": null, "international": false, "emi": false,
            "sub_type": "consumer", "iin": "411111"});
    }
    if failed {
        v["error_code"] = json!("BAD_REQUEST_ERROR");
        v["error_description"] = json!("Payment failed");
        v["error_source"] = json!("issuer");
        v["error_step"] = json!("payment_authorization");
        v["error_reason"] = json!("payment_failed");
    }
    v
}

/// The query parameters of the callback redirect, with `razorpay_signature` computed as
/// `hex(HMAC_SHA256(key_secret, "<plink>|<reference>|<status>|<payment>"))` with the secret of
/// the account that owns the link.
pub(crate) fn callback_params(
    gw: &Razorpay,
    key_id: &str,
    result: &PayResult,
) -> Vec<(&'static str, String)> {
    let key_secret = gw
                .store
        .lock()
        .account(key_id)
        .map(|a| a.config.key_secret.clone())
        .unwrap_or_default();
    let (link, payment_id) = (&result.link, result.payment.id.as_str());
    let message = format!(
        "{}|{}|{}|{}",
        link.id,
        link.reference_id,
        link.status.as_str(),
        payment_id
    );
    let signature = hmac_sha256_hex(key_secret.as_bytes(), &[message.as_bytes()]);
    vec![
        ("razorpay_payment_id", payment_id.to_string()),
        ("razorpay_payment_link_id", link.id.clone()),
        (
            "razorpay_payment_link_reference_id",
            link.reference_id.clone(),
        ),
        (
            "razorpay_payment_link_status",
            link.status.as_str().to_string(),
        ),
        ("razorpay_signature", signature),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_body_with_the_event_id_beside_it() {
        let signer = RazorpaySigner {
            secret: "s".into(),
        };
        let headers = signer.headers(b"{}", 0, "evt_1");
        let get = |k: &str| headers.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(get("x-razorpay-signature"), hmac_sha256_hex(b"s", &[b"{}"]));
        assert_eq!(get("x-razorpay-event-id"), "evt_1");
        assert!(signer.accepts(204));
    }

    #[test]
    fn the_callback_signature_matches_the_sdk_test_vector() {
        let sig = super::hmac_sha256_hex(
            b"EnLs21M47BllR3X8PSFtjtbd",
            &[b"plink_IH3cNucfVEgV68|TSsd1989|paid|pay_IH3d0ara9bSsjQ"],
        );
        assert_eq!(
            sig,
            "07ae18789e35093e51d0a491eb9922646f3f82773547e5b0f67ee3f2d3bf7d5b"
        );
    }
}
