//! Qonto's payment-link entities: connections, links (basket and invoice), their payments and
//! webhook subscriptions, with the wire forms Qonto uses (decimal-string amounts, RFC 3339 times).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{Millis, rfc3339};

/// Cents as Qonto writes money: `{"value": "13.30", "currency": "EUR"}`.
pub(super) fn money(cents: i64, currency: &str) -> Value {
    json!(Money::new(cents, currency))
}

/// Money on the wire, written without an intermediate JSON value.
#[derive(Debug, Serialize)]
pub(super) struct Money<'a> {
    pub value: String,
    pub currency: &'a str,
}

impl<'a> Money<'a> {
    pub(super) fn new(cents: i64, currency: &'a str) -> Self {
        Self {
            value: format!("{}.{:02}", cents / 100, cents % 100),
            currency,
        }
    }
}

/// A link as the API writes it. Lists serialise these straight from the store.
#[derive(Serialize)]
pub(super) struct LinkView<'a> {
    id: &'a str,
    status: &'static str,
    expiration_date: String,
    potential_payment_methods: &'a [Method],
    amount: Money<'a>,
    resource_type: &'static str,
    reusable: bool,
    created_at: String,
    url: &'a str,
    items: Option<Vec<ItemView<'a>>>,
    invoice_id: Option<&'a str>,
    invoice_number: Option<&'a str>,
    debitor_name: Option<&'a str>,
}

#[derive(Serialize)]
struct ItemView<'a> {
    title: &'a str,
    quantity: i64,
    unit_price: Money<'a>,
    vat_rate: &'a str,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    description: Option<&'a str>,
    measure_unit: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum LinkStatus {
    Open,
    Processing,
    Paid,
    Canceled,
    Expired,
}

impl LinkStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Paid => "paid",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }
}

/// Payment statuses, Mollie's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PaymentStatus {
    Open,
    Pending,
    Authorized,
    Paid,
    Canceled,
    Expired,
    Failed,
}

impl PaymentStatus {
    pub(crate) const ALL: [Self; 7] = [
        Self::Open,
        Self::Pending,
        Self::Authorized,
        Self::Paid,
        Self::Canceled,
        Self::Expired,
        Self::Failed,
    ];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Paid => "paid",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    /// Whether nothing can happen to the payment any more.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            Self::Paid | Self::Failed | Self::Canceled | Self::Expired
        )
    }

    /// Every status, comma-separated, for error messages.
    pub(crate) fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// Every payment method a link may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    CreditCard,
    ApplePay,
    Paypal,
    Ideal,
}

impl Method {
    pub(crate) const ALL: [Self; 4] = [Self::CreditCard, Self::ApplePay, Self::Paypal, Self::Ideal];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CreditCard => "credit_card",
            Self::ApplePay => "apple_pay",
            Self::Paypal => "paypal",
            Self::Ideal => "ideal",
        }
    }

    /// The checkout's label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::CreditCard => "Card",
            Self::ApplePay => "Apple Pay",
            Self::Paypal => "PayPal",
            Self::Ideal => "iDEAL",
        }
    }

    /// What the test-mode checkout offers for this method (from Mollie's test-mode screens).
    pub(crate) fn outcomes(self) -> &'static [PaymentStatus] {
        use PaymentStatus as S;
        match self {
            Self::Paypal => &[S::Paid, S::Pending, S::Failed, S::Canceled, S::Expired],
            Self::Ideal => &[S::Paid, S::Open, S::Failed, S::Canceled, S::Expired],
            Self::CreditCard | Self::ApplePay => &[S::Paid, S::Open, S::Failed, S::Expired],
        }
    }
}

/// What a link is for: a basket of items or an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ResourceType {
    Basket,
    Invoice,
}

impl ResourceType {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Basket => "Basket",
            Self::Invoice => "Invoice",
        }
    }

    /// The type a draft names (`Invoice`, anything else a basket).
    pub(super) fn named(name: &str) -> Self {
        if name == "Invoice" {
            Self::Invoice
        } else {
            Self::Basket
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Item {
    pub title: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub currency: String,
    /// As sent (`"21.0"`).
    pub vat_rate: String,
    pub kind: Option<String>,
    pub description: Option<String>,
    pub measure_unit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Payment {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub created_at: Millis,
    pub payment_method: Method,
    pub paid_at: Option<Millis>,
    pub debitor_email: String,
    /// A paid payment whose settlement has not yet moved the link on.
    pub settling: bool,
}

impl Payment {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "amount": money(self.amount, &self.currency),
            "status": self.status,
            "created_at": rfc3339(self.created_at),
            "payment_method": self.payment_method,
            "paid_at": self.paid_at.map(rfc3339),
            "debitor_email": self.debitor_email,
        })
    }

    /// Still in flight: the link is `processing` while any payment is.
    pub(super) fn in_progress(&self) -> bool {
        matches!(
            self.status,
            PaymentStatus::Pending | PaymentStatus::Authorized
        ) || (self.status == PaymentStatus::Paid && self.settling)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PaymentLink {
    pub id: String,
    pub resource_id: String,
    pub status: LinkStatus,
    pub expiration: Millis,
    pub potential_payment_methods: Vec<Method>,
    pub amount: i64,
    pub currency: String,
    pub resource_type: ResourceType,
    pub reusable: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub url: String,
    pub items: Option<Vec<Item>>,
    pub invoice_id: Option<String>,
    pub invoice_number: Option<String>,
    pub debitor_name: Option<String>,
    pub redirect_url: Option<String>,
    pub payments: Vec<Payment>,
    pub latest_payment_method_used: Option<Method>,
}

impl PaymentLink {
    pub(super) fn view(&self) -> LinkView<'_> {
        LinkView {
            id: &self.id,
            status: self.status.as_str(),
            expiration_date: rfc3339(self.expiration),
            potential_payment_methods: &self.potential_payment_methods,
            amount: Money::new(self.amount, &self.currency),
            resource_type: self.resource_type.as_str(),
            reusable: self.reusable,
            created_at: rfc3339(self.created_at),
            url: &self.url,
            items: self.items.as_ref().map(|items| {
                items
                    .iter()
                    .map(|i| ItemView {
                        title: &i.title,
                        quantity: i.quantity,
                        unit_price: Money::new(i.unit_price, &i.currency),
                        vat_rate: &i.vat_rate,
                        kind: i.kind.as_deref(),
                        description: i.description.as_deref(),
                        measure_unit: i.measure_unit.as_deref(),
                    })
                    .collect()
            }),
            invoice_id: self.invoice_id.as_deref(),
            invoice_number: self.invoice_number.as_deref(),
            debitor_name: self.debitor_name.as_deref(),
        }
    }

    pub(super) fn to_json(&self) -> Value {
        json!(self.view())
    }

    /// The status the link's payments put it in (open links only move among open, processing
    /// and paid this way; canceled and expired are set by deactivation and the clock).
    pub(super) fn derived_status(&self) -> LinkStatus {
        if self.payments.iter().any(Payment::in_progress) {
            LinkStatus::Processing
        } else if !self.reusable && self
            .payments
            .iter()
            .any(|p| p.status == PaymentStatus::Paid) {
            LinkStatus::Paid
        } else {
            LinkStatus::Open
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ConnectionStatus {
    NotConnected,
    Pending,
    Enabled,
    Disabled,
}

impl ConnectionStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::Pending => "pending",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Connection {
    pub status: ConnectionStatus,
    pub connection_location: String,
    pub bank_account_id: String,
    pub partner_callback_url: String,
    /// The onboarding page's token (the last path segment of `connection_location`).
    pub token: String,
    pub business_description: Option<String>,
}

impl Connection {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "connection_location": self.connection_location,
            "status": self.status.as_str(),
            "bank_account_id": self.bank_account_id,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Subscription {
    pub id: String,
    pub callback_url: String,
    pub types: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Subscription {
    /// The subscription as the API shows it: the secret on creation, `secret: null` after (the
    /// key is always there, as Qonto's clients require it).
    pub(super) fn to_json(&self, organization_id: &str, membership_id: &str, with_secret: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "organization_id": organization_id,
            "membership_id": membership_id,
            "callback_url": self.callback_url,
            "types": self.types,
        });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v["created_at"] = json!(rfc3339(self.created_at));
        v["updated_at"] = json!(rfc3339(self.updated_at));
        v["secret"] = Value::Null;
        if with_secret {
            v["secret"] = json!(self.secret);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(
            money(1330, "EUR"),
            json!({"value": "13.30", "currency": "EUR"})
        );
        assert_eq!(money(5, "EUR")["value"], "0.05");
        assert_eq!(money(7705250, "EUR")["value"], "77052.50");
    }

    #[test]
    fn every_method_offers_paid_and_names_round_trip() {
        for m in Method::ALL {
            assert!(m.outcomes().contains(&PaymentStatus::Paid));
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
    }
}
