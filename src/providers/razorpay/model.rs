//! The payment-link entity, its payments, and how they are written on the wire (fields in
//! alphabetical order, unset timestamps as 0, as the gateway emits them).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::compact::Compact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum LinkStatus {
    Created,
    PartiallyPaid,
    Paid,
    Cancelled,
    Expired,
}

impl LinkStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::PartiallyPaid => "partially_paid",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Whether the link still takes payments (and edits).
    pub(super) fn is_open(self) -> bool {
        matches!(self, Self::Created | Self::PartiallyPaid)
    }
}

/// Payment methods the hosted page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Method {
    #[default]
    Upi,
    Card,
    Netbanking,
    Wallet,
}

impl Method {
    /// Every method, in the order the checkout offers them.
    pub(crate) const ALL: [Method; 4] = [Self::Upi, Self::Card, Self::Netbanking, Self::Wallet];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Upi => "upi",
            Self::Card => "card",
            Self::Netbanking => "netbanking",
            Self::Wallet => "wallet",
        }
    }

    /// The checkout's label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Upi => "UPI",
            Self::Card => "Card",
            Self::Netbanking => "Netbanking",
            Self::Wallet => "Wallet",
        }
    }
}

/// How a payment attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PaymentStatus {
    /// Authorized and waiting for `POST /v1/payments/{id}/capture` (accounts that do not
    /// auto-capture).
    Authorized,
    Captured,
    Failed,
}

impl PaymentStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Failed => "failed",
        }
    }
}

/// One payment attempt on a link, captured or failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Payment {
    pub id: String,
    pub order_id: String,
    pub amount: i64,
    pub currency: String,
    pub method: Method,
    pub status: PaymentStatus,
    pub created_at: i64,
    pub email: Option<String>,
    pub contact: Option<String>,
    pub plink_id: String,
}

/// A refund of (part of) a captured payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub notes: Value,
    pub receipt: Option<String>,
    pub status: RefundStatus,
    pub speed_requested: String,
    pub created_at: i64,
}

/// How a refund ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RefundStatus {
    Processed,
    /// The bank refused it; nothing was refunded.
    Failed,
}

impl Refund {
    /// The refund entity as the gateway shows it.
    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "entity": "refund",
            "amount": self.amount,
            "currency": self.currency,
            "payment_id": self.payment_id,
            "notes": self.notes,
            "receipt": self.receipt,
            "acquirer_data": {"arn": null},
            "created_at": self.created_at,
            "batch_id": null,
            "status": self.status,
            "speed_processed": "normal",
            "speed_requested": self.speed_requested,
        })
    }
}

impl PaymentLink {
    /// How much of payment `id` has been refunded (failed refunds do not count).
    pub(super) fn refunded(&self, payment_id: &str) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.payment_id == payment_id && r.status == RefundStatus::Processed)
            .map(|r| r.amount)
            .sum()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PaymentLink {
    pub id: String,
    pub short_code: String,
    pub short_url: String,
    pub accept_partial: bool,
    pub amount: i64,
    pub amount_paid: i64,
    pub callback_method: String,
    pub callback_url: String,
    pub cancelled_at: i64,
    pub created_at: i64,
    pub currency: String,
    /// Objects the merchant sent, kept as compact text (`crate::compact`).
    pub customer: Compact,
    pub description: String,
    pub expire_by: i64,
    pub expired_at: i64,
    pub first_min_partial_amount: i64,
    pub notes: Compact,
    pub notify: Compact,
    pub order_id: Option<String>,
    pub reference_id: String,
    pub reminder_enable: bool,
    pub status: LinkStatus,
    pub updated_at: i64,
    pub upi_link: bool,
    pub options: Compact,
    /// Every attempt, captured or failed, oldest first.
    pub attempts: Vec<Payment>,
    /// Refunds of this link's payments, oldest first.
    pub refunds: Vec<Refund>,
    /// How many order attempts (payment tries) were made.
    pub order_attempts: u32,
}

impl PaymentLink {
    pub(super) fn amount_due(&self) -> i64 {
        self.amount - self.amount_paid
    }

    /// The captured payments, as the link's `payments` array lists them.
    pub(super) fn captured(&self) -> impl Iterator<Item = &Payment> {
        self.attempts
            .iter()
            .filter(|p| p.status == PaymentStatus::Captured)
    }

    /// The entity as the API returns it. `with_payments` adds the `payments` array (REST answers
    /// have it; webhook payloads do not).
    pub(super) fn to_json(&self, with_payments: bool) -> Value {
        let mut m = Map::new();
        m.insert("accept_partial".into(), json!(self.accept_partial));
        m.insert("amount".into(), json!(self.amount));
        m.insert("amount_paid".into(), json!(self.amount_paid));
        m.insert("callback_method".into(), json!(self.callback_method));
        m.insert("callback_url".into(), json!(self.callback_url));
        m.insert("cancelled_at".into(), json!(self.cancelled_at));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("currency".into(), json!(self.currency));
        m.insert("customer".into(), self.customer.value());
        m.insert("description".into(), json!(self.description));
        m.insert("expire_by".into(), json!(self.expire_by));
        m.insert("expired_at".into(), json!(self.expired_at));
        m.insert(
            "first_min_partial_amount".into(),
            json!(self.first_min_partial_amount),
        );
        m.insert("id".into(), json!(self.id));
        m.insert("notes".into(), self.notes.value());
        m.insert("notify".into(), self.notify.value());
        if let Some(order_id) = &self.order_id {
            m.insert("order_id".into(), json!(order_id));
        }
        if with_payments {
            let payments: Vec<Value> = self
                .captured()
                .map(|p| {
                    json!({
                        "amount": p.amount,
                        "created_at": p.created_at,
                        "method": p.method,
                        "payment_id": p.id,
                        "plink_id": self.id,
                        "status": p.status,
                        "updated_at": p.created_at,
                    })
                })
                .collect();
            m.insert(
                "payments".into(),
                if payments.is_empty() {
                    Value::Null
                } else {
                    Value::Array(payments)
                },
            );
        }
        m.insert("reference_id".into(), json!(self.reference_id));
        m.insert("reminder_enable".into(), json!(self.reminder_enable));
        m.insert("reminders".into(), json!([]));
        m.insert("short_url".into(), json!(self.short_url));
        m.insert("source".into(), json!(""));
        m.insert("source_id".into(), json!(""));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("updated_at".into(), json!(self.updated_at));
        m.insert("upi_link".into(), json!(self.upi_link));
        m.insert("user_id".into(), json!(""));
        m.insert("whatsapp_link".into(), json!(false));
        Value::Object(m)
    }
}
