//! A simulated customer paying a WhatsApp order from the chat: a gateway attempt on an India
//! order (a transaction, then a payment status webhook), or a Brazil one-click confirmation (an
//! inbound `payment_method` message). Pix, boleto and payment-link orders are paid outside
//! WhatsApp, which reports nothing for them.

use serde_json::Value;

use super::model::{Message, Order, OrderEvent, PaymentStatus, Transaction};
use super::store::Store;
use crate::ids::Ids;

/// How a simulated customer payment on a WhatsApp order turns out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PayOutcome {
    /// The gateway captured the payment.
    #[default]
    #[serde(alias = "success")]
    Captured,
    /// The attempt failed; the order's payment stays `pending` with a failed transaction.
    Failed,
    /// The attempt is still in progress.
    Pending,
}

/// A simulated customer payment attempt.
#[derive(Debug, Clone)]
pub(super) struct PayAttempt {
    pub outcome: PayOutcome,
    pub method: super::model::PayMethod,
    /// The gateway error of a failed attempt.
    pub error: Option<Value>,
}

/// What a simulated customer payment produced.
#[derive(Debug, Clone)]
pub(super) enum Paid {
    /// An India payment-gateway order: a payment status webhook follows.
    Gateway(Box<Order>),
    /// A Brazil one-click order: the customer confirmed; an inbound `payment_method` message
    /// follows.
    OneClick(Box<Message>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum PayError {
    #[error("no order with reference_id {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

impl Store {
    /// A customer pays (or tries to pay) an order from the chat.
    pub(super) fn pay(
        &mut self,
        phone_number_id: &str,
        reference_id: &str,
        attempt: PayAttempt,
        now_secs: i64,
        ids: &Ids,
    ) -> Result<Paid, PayError> {
        let PayAttempt {
            outcome,
            method,
            error,
        } = attempt;
        let business = self
            .business_mut(phone_number_id)
            .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
        let order = business
            .orders
            .get_mut(&reference_id.to_string())
            .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
        if order.status.is_terminal() {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is {}; it cannot be paid",
                order.status.as_str()
            )));
        }
        if order.payment_types.iter().any(|t| t == "offsite_card_pay") {
            let wa_id = order.wa_id.clone().unwrap_or_default();
            let body = one_click_payment(order, now_secs, ids);
            let message = self
                .record_inbound(
                    phone_number_id,
                    &wa_id,
                    &body,
                    "interactive.payment_method",
                    now_secs,
                    ids,
                )
                .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
            return Ok(Paid::OneClick(Box::new(message)));
        }
        let gateway = order
            .payment_types
            .iter()
            .any(|t| t == "payment_gateway" || t == "payment_configuration");
        if !gateway {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is paid through {}; WhatsApp sends no payment webhook for it (the merchant hears from its payment provider and sends order_status)",
                order.payment_types.join(", ")
            )));
        }
        if order.payment_status == Some(PaymentStatus::Captured) {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is already paid"
            )));
        }
        record_attempt(order, outcome, method, error, now_secs, ids);
        Ok(Paid::Gateway(Box::new(order.clone())))
    }
}

/// The inbound `payment_method` message a one-click (offsite card) order's customer sends.
fn one_click_payment(order: &Order, now_secs: i64, ids: &Ids) -> Value {
    let card = order.offsite_card.clone().unwrap_or(Value::Null);
    serde_json::json!({
        "from_logical_id": ids.digits(14),
        "type": "interactive",
        "interactive": {"type": "payment_method", "payment_method": {
            "payment_method": "offsite_card_pay",
            "payment_timestamp": now_secs,
            "reference_id": order.reference_id,
            "last_four_digits": card.get("last_four_digits").cloned().unwrap_or(Value::Null),
            "credential_id": card.get("credential_id").cloned().unwrap_or(Value::Null),
        }}
    })
}

/// Records a gateway payment attempt on an order: a transaction, the payment status and a
/// history entry.
fn record_attempt(
    order: &mut Order,
    outcome: PayOutcome,
    method: super::model::PayMethod,
    error: Option<Value>,
    now_secs: i64,
    ids: &Ids,
) {
    let (status, payment_status) = match outcome {
        PayOutcome::Captured => ("success", PaymentStatus::Captured),
        PayOutcome::Failed => ("failed", PaymentStatus::Pending),
        PayOutcome::Pending => ("pending", PaymentStatus::Pending),
    };
    let error = (outcome == PayOutcome::Failed).then(|| {
        error.unwrap_or_else(
            || serde_json::json!({"code": "BAD_REQUEST_ERROR", "reason": "payment_failed"}),
        )
    });
    let pg_order_id = order
        .transactions
        .first()
        .map(|t| t.id.clone())
        .unwrap_or_else(|| ids.prefixed("order"));
    order.transactions.push(Transaction {
        id: pg_order_id,
        pg_transaction_id: Some(ids.prefixed("pay")),
        status: status.to_string(),
        method,
        amount: order.total_amount,
        created_timestamp: now_secs,
        updated_timestamp: now_secs,
        error,
    });
    order.payment_status = Some(payment_status);
    order.history.push(OrderEvent::applied(
        now_secs,
        &order.message_id.clone(),
        None,
        Some(payment_status),
        Some(format!(
            "customer payment attempt: {status} by {}",
            method.as_str()
        )),
    ));
}
