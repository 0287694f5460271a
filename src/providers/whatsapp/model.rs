//! The WhatsApp entities the sandbox keeps: messages sent and received, orders and their status
//! and payment history, and the rules for moving an order from one status to another.

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};

/// A message body kept as JSON text, in a shared buffer: a body sent to the API is the very
/// copy the journal keeps of the request, not a second one. Always valid UTF-8 (checked when
/// made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JsonText(Bytes);

impl JsonText {
    /// The text of `bytes`, `None` when it is not UTF-8.
    pub(super) fn from_bytes(bytes: Bytes) -> Option<Self> {
        std::str::from_utf8(&bytes).is_ok().then_some(Self(bytes))
    }

    /// The JSON text of a value.
    pub(super) fn of(value: &Value) -> Self {
        Self(Bytes::from(value.to_string()))
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Writes the body as JSON (not as a string), checking it only when it is read.
impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.as_str();
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_str(text),
        }
    }
}

/// Reads JSON (a saved message body) back as its compact text.
impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::of(&Value::deserialize(d)?))
    }
}

/// Which market's payments flavour an order uses; decided by `payment_type: "br"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Region {
    #[serde(rename = "IN")]
    India,
    #[serde(rename = "BR")]
    Brazil,
}

impl Region {
    pub(super) fn currency(self) -> &'static str {
        match self {
            Region::India => "INR",
            Region::Brazil => "BRL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum OrderStatus {
    Pending,
    Processing,
    PartiallyShipped,
    Shipped,
    Completed,
    Canceled,
}

impl OrderStatus {
    /// Accepts both spellings Meta's pages use for partial shipment.
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "partially_shipped" | "partially-shipped" => Self::PartiallyShipped,
            "shipped" => Self::Shipped,
            "completed" => Self::Completed,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::PartiallyShipped => "partially_shipped",
            Self::Shipped => "shipped",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
        }
    }

    pub(super) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Canceled)
    }
}

/// The overall payment state of an order, as the payment webhooks and lookup report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PaymentStatus {
    Pending,
    Captured,
    Failed,
}

impl PaymentStatus {
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "captured" => Self::Captured,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Captured => "captured",
            Self::Failed => "failed",
        }
    }
}

/// Why an `order_status` update was refused. Graph reports these asynchronously, as a `failed`
/// status of the `order_status` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) enum TransitionError {
    /// 2046: the new status does not follow from the current one.
    InvalidTransition,
    /// 2047: a cancel after a successful or pending payment.
    CancelAfterPayment,
}

impl TransitionError {
    pub(super) fn code(self) -> i64 {
        match self {
            Self::InvalidTransition => 2046,
            Self::CancelAfterPayment => 2047,
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::InvalidTransition => "New order status was not correctly transitioned",
            Self::CancelAfterPayment => "Could not change order status to 'canceled'",
        }
    }

    pub(super) fn details(self, from: OrderStatus, to: OrderStatus) -> String {
        match self {
            Self::InvalidTransition => format!(
                "The order status cannot change from '{}' to '{}'.",
                from.as_str(),
                to.as_str()
            ),
            Self::CancelAfterPayment => {
                "The order already has a successful or pending payment and cannot be canceled."
                    .to_string()
            }
        }
    }
}

/// The documented order-status rules: `pending` may go anywhere; `processing`, `shipped` and
/// `partially_shipped` move among themselves or to a terminal status; `completed` and
/// `canceled` are terminal; `canceled` is refused once a payment succeeded or is pending.
pub(super) fn check_transition(
    from: OrderStatus,
    to: OrderStatus,
    payment_blocks_cancel: bool,
) -> Result<(), TransitionError> {
    if from.is_terminal() {
        return Err(TransitionError::InvalidTransition);
    }
    if from != OrderStatus::Pending && to == OrderStatus::Pending {
        return Err(TransitionError::InvalidTransition);
    }
    if to == OrderStatus::Canceled && payment_blocks_cancel {
        return Err(TransitionError::CancelAfterPayment);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Direction {
    /// Sent by the business through the messages endpoint.
    Outbound,
    /// Sent by a (simulated) customer to the business.
    Inbound,
}

/// Where a message is, as its status webhooks report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MessageStatus {
    /// Taken by the endpoint; nothing reported yet.
    Accepted,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }

    /// The statuses a scenario may script (all but `accepted`, which every message starts in).
    pub(crate) fn scripted(name: &str) -> Option<Self> {
        match name {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How a customer pays a payment-gateway order from the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PayMethod {
    #[default]
    Upi,
    Card,
    Wallet,
    Netbanking,
}

impl PayMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Upi => "upi",
            Self::Card => "card",
            Self::Wallet => "wallet",
            Self::Netbanking => "netbanking",
        }
    }
}

/// One status a message went through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusEntry {
    pub status: MessageStatus,
    /// Unix seconds on the sandbox clock.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Message {
    pub id: String,
    pub direction: Direction,
    pub phone_number_id: String,
    /// What the caller put in `to` (or the BSUID in `recipient`), verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `text`, `interactive.order_details`, `interactive.order_status`, `template`, ...
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// The body as sent, kept as JSON text (cheaper to keep, and to drop, than a parsed value).
    pub body: JsonText,
    /// Unix seconds on the sandbox clock.
    pub timestamp: i64,
    pub statuses: Vec<StatusEntry>,
    /// Things a real send would not refuse but that will bite later (an unknown payment
    /// configuration, a UPI amount over the cap, a payment link that does not match the order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// A template message's text as the customer reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
}

impl Message {
    pub(super) fn status(&self) -> MessageStatus {
        self.statuses
            .last()
            .map_or(MessageStatus::Accepted, |s| s.status)
    }
}

/// One step in an order's life: a status update that was applied or refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OrderEvent {
    pub timestamp: i64,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl OrderEvent {
    /// A status (or payment status) update that took effect.
    pub(super) fn applied(
        timestamp: i64,
        message_id: &str,
        status: Option<OrderStatus>,
        payment_status: Option<PaymentStatus>,
        description: Option<String>,
    ) -> Self {
        Self {
            timestamp,
            message_id: message_id.to_string(),
            status,
            payment_status,
            description,
            applied: true,
            error_code: None,
            error: None,
        }
    }

    /// A status update the transition rules refused.
    pub(super) fn refused(
        timestamp: i64,
        message_id: &str,
        status: OrderStatus,
        description: Option<String>,
        code: i64,
        error: String,
    ) -> Self {
        Self {
            applied: false,
            error_code: Some(code),
            error: Some(error),
            ..Self::applied(timestamp, message_id, Some(status), None, description)
        }
    }
}

/// One payment attempt on an order (India payment-gateway orders, Brazil one-click).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Transaction {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_transaction_id: Option<String>,
    /// `success`, `pending` or `failed`.
    pub status: String,
    pub method: PayMethod,
    pub amount: i64,
    pub created_timestamp: i64,
    pub updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Order {
    pub reference_id: String,
    pub region: Region,
    pub phone_number_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The `order_details` message that created the order.
    pub message_id: String,
    pub created_at: i64,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
    pub currency: String,
    /// `total_amount.value`, in minor units (offset 100).
    pub total_amount: i64,
    /// The `payment_settings[].type` values, or `payment_configuration` for the legacy form.
    pub payment_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub history: Vec<OrderEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<Transaction>,
    /// The payment gateway of a `payment_gateway` order (`razorpay`, `payu`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_type: Option<String>,
    /// The gateway-specific fields echoed back in payment webhooks (`receipt`, `notes`, `udf1`...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub pg_extras: Map<String, Value>,
    /// The card of a one-click order (`last_four_digits`, `credential_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsite_card: Option<Value>,
}

impl Order {
    /// Whether a payment exists that forbids canceling: captured, or an attempt still pending.
    pub(super) fn payment_blocks_cancel(&self) -> bool {
        matches!(self.payment_status, Some(PaymentStatus::Captured))
            || (matches!(self.payment_status, Some(PaymentStatus::Pending))
                && (self.transactions.is_empty()
                    || self.transactions.iter().any(|t| t.status != "failed")))
    }
}

/// The business-scoped user id (BSUID) Graph gives a customer: an ISO country code from the
/// number's calling code, a dot, and 20 digits derived from the business and the number, so the
/// same customer has the same id with one business and a different one with another.
///
/// Every status webhook of a message names its customer's BSUID, so the last few derived are
/// kept per thread: a message's statuses, and a chat's messages, derive it once (an HMAC each).
pub(super) fn bsuid(waba_id: &str, wa_id: &str) -> String {
    const KEPT: usize = 16;
    thread_local! {
        static RECENT: std::cell::RefCell<std::collections::VecDeque<(String, String, String)>> =
            const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
    }
    RECENT.with_borrow_mut(|recent| {
        if let Some((_, _, id)) = recent.iter().find(|(w, u, _)| w == waba_id && u == wa_id) {
            return id.clone();
        }
        let id = derive_bsuid(waba_id, wa_id);
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back((waba_id.to_string(), wa_id.to_string(), id.clone()));
        id
    })
}

fn derive_bsuid(waba_id: &str, wa_id: &str) -> String {
    const CODES: &[(&str, &str)] = &[
        ("971", "AE"),
        ("234", "NG"),
        ("966", "SA"),
        ("91", "IN"),
        ("55", "BR"),
        ("44", "GB"),
        ("49", "DE"),
        ("33", "FR"),
        ("34", "ES"),
        ("39", "IT"),
        ("52", "MX"),
        ("62", "ID"),
        ("27", "ZA"),
        ("65", "SG"),
        ("61", "AU"),
        ("81", "JP"),
        ("86", "CN"),
        ("54", "AR"),
        ("57", "CO"),
        ("7", "RU"),
        ("1", "US"),
    ];
    let country = CODES
        .iter()
        .find(|(prefix, _)| wa_id.starts_with(prefix))
        .map(|(_, c)| *c)
        .unwrap_or("US");
    let mac = crate::webhook::sign::hmac_sha256_hex(waba_id.as_bytes(), &[wa_id.as_bytes()]);
    let digits: String = mac
        .bytes()
        .map(|b| char::from(b'0' + (b % 10)))
        .take(20)
        .collect();
    format!("{country}.{digits}")
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn pending_goes_anywhere() {
        for to in [
            Pending,
            Processing,
            PartiallyShipped,
            Shipped,
            Completed,
            Canceled,
        ] {
            assert_eq!(check_transition(Pending, to, false), Ok(()), "{to:?}");
        }
    }

    #[test]
    fn in_progress_statuses_move_among_themselves_or_finish() {
        for from in [Processing, PartiallyShipped, Shipped] {
            for to in [Processing, PartiallyShipped, Shipped, Completed, Canceled] {
                assert_eq!(
                    check_transition(from, to, false),
                    Ok(()),
                    "{from:?}->{to:?}"
                );
            }
            assert_eq!(
                check_transition(from, Pending, false),
                Err(TransitionError::InvalidTransition)
            );
        }
    }

    #[test]
    fn terminal_statuses_stay_terminal() {
        for from in [Completed, Canceled] {
            for to in [Pending, Processing, Shipped, Completed, Canceled] {
                assert_eq!(
                    check_transition(from, to, false),
                    Err(TransitionError::InvalidTransition),
                    "{from:?}->{to:?}"
                );
            }
        }
    }

    #[test]
    fn no_cancel_after_a_payment() {
        assert_eq!(
            check_transition(Pending, Canceled, true),
            Err(TransitionError::CancelAfterPayment)
        );
        assert_eq!(check_transition(Pending, Processing, true), Ok(()));
        assert_eq!(TransitionError::CancelAfterPayment.code(), 2047);
        assert_eq!(TransitionError::InvalidTransition.code(), 2046);
    }

    #[test]
    fn bsuids_are_stable_per_business_and_carry_the_country() {
        let a = bsuid("102290129340398", "919876543210");
        assert!(a.starts_with("IN."), "{a}");
        assert_eq!(a.len(), 23);
        assert_eq!(a, bsuid("102290129340398", "919876543210"));
        assert_ne!(a, bsuid("999", "919876543210"));
        assert!(bsuid("1", "16505551234").starts_with("US."));
    }

    #[test]
    fn a_remembered_bsuid_is_the_derived_one() {
        // More pairs than are kept, twice over, so both remembered and evicted ones are read.
        let pairs: Vec<(String, String)> = (0..40)
            .map(|i| (format!("waba{}", i % 3), format!("9198765432{i:02}")))
            .collect();
        for _ in 0..2 {
            for (waba, wa_id) in &pairs {
                assert_eq!(bsuid(waba, wa_id), derive_bsuid(waba, wa_id));
                assert_eq!(bsuid(waba, wa_id), derive_bsuid(waba, wa_id));
            }
        }
        assert_ne!(bsuid("waba0", "919876543200"), bsuid("waba1", "919876543200"));
    }

    #[test]
    fn both_spellings_of_partial_shipment_parse() {
        assert_eq!(
            OrderStatus::parse("partially-shipped"),
            Some(PartiallyShipped)
        );
        assert_eq!(
            OrderStatus::parse("partially_shipped"),
            Some(PartiallyShipped)
        );
        assert_eq!(OrderStatus::parse("lost"), None);
    }
}
