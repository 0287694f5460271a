//! Qonto's payment-link entities: connections, links (basket and invoice), their payments and
//! webhook subscriptions, with the wire forms Qonto uses (decimal-string amounts, RFC 3339 times).

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::{Millis, rfc3339};

/// Cents as Qonto writes money: `{"value": "13.30", "currency": "EUR"}`.
pub fn money(cents: i64, currency: &str) -> Value {
    json!(Money::new(cents, currency))
}

/// Money on the wire, written without an intermediate JSON value.
#[derive(Debug, Serialize)]
pub struct Money<'a> {
    pub value: String,
    pub currency: &'a str,
}

impl<'a> Money<'a> {
    pub fn new(cents: i64, currency: &'a str) -> Self {
        Self {
            value: format!("{}.{:02}", cents / 100, cents % 100),
            currency,
        }
    }
}

/// A link as the API writes it. Lists serialise these straight from the store.
#[derive(Serialize)]
pub struct LinkView<'a> {
    id: &'a str,
    status: &'static str,
    expiration_date: String,
    potential_payment_methods: &'a [String],
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Open,
    Processing,
    Paid,
    Canceled,
    Expired,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Paid => "paid",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "processing" => Self::Processing,
            "paid" => Self::Paid,
            "canceled" => Self::Canceled,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

/// Payment statuses, Mollie's.
pub const PAYMENT_STATUSES: &[&str] = &[
    "open",
    "pending",
    "authorized",
    "paid",
    "canceled",
    "expired",
    "failed",
];

/// What the test-mode checkout offers per method (from Mollie's test-mode screens).
pub fn outcomes(method: &str) -> &'static [&'static str] {
    match method {
        "paypal" => &["paid", "pending", "failed", "canceled", "expired"],
        "ideal" => &["paid", "open", "failed", "canceled", "expired"],
        // credit_card and apple_pay
        _ => &["paid", "open", "failed", "expired"],
    }
}

/// Every payment method a link may offer.
pub const METHODS: &[&str] = &["credit_card", "apple_pay", "paypal", "ideal"];

#[derive(Debug, Clone, Serialize)]
pub struct Item {
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

#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created_at: Millis,
    pub payment_method: String,
    pub paid_at: Option<Millis>,
    pub debitor_email: String,
    /// A paid payment whose settlement has not yet moved the link on.
    pub settling: bool,
}

impl Payment {
    pub fn to_json(&self) -> Value {
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
    pub fn in_progress(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "authorized")
            || (self.status == "paid" && self.settling)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentLink {
    pub id: String,
    pub resource_id: String,
    pub status: LinkStatus,
    pub expiration: Millis,
    pub potential_payment_methods: Vec<String>,
    pub amount: i64,
    pub currency: String,
    /// `Basket` or `Invoice`.
    pub resource_type: &'static str,
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
    pub latest_payment_method_used: Option<String>,
}

impl PaymentLink {
    pub fn view(&self) -> LinkView<'_> {
        LinkView {
            id: &self.id,
            status: self.status.as_str(),
            expiration_date: rfc3339(self.expiration),
            potential_payment_methods: &self.potential_payment_methods,
            amount: Money::new(self.amount, &self.currency),
            resource_type: self.resource_type,
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

    pub fn to_json(&self) -> Value {
        json!(self.view())
    }

    /// The status the link's payments put it in (open links only move among open, processing
    /// and paid this way; canceled and expired are set by deactivation and the clock).
    pub fn derived_status(&self) -> LinkStatus {
        if self.payments.iter().any(Payment::in_progress) {
            LinkStatus::Processing
        } else if !self.reusable && self.payments.iter().any(|p| p.status == "paid") {
            LinkStatus::Paid
        } else {
            LinkStatus::Open
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    NotConnected,
    Pending,
    Enabled,
    Disabled,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::Pending => "pending",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub status: ConnectionStatus,
    pub connection_location: String,
    pub bank_account_id: String,
    pub partner_callback_url: String,
    /// The onboarding page's token (the last path segment of `connection_location`).
    pub token: String,
    pub business_description: Option<String>,
}

impl Connection {
    pub fn to_json(&self) -> Value {
        json!({
            "connection_location": self.connection_location,
            "status": self.status.as_str(),
            "bank_account_id": self.bank_account_id,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: String,
    pub callback_url: String,
    pub types: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Subscription {
    /// The subscription as the API shows it; the secret only on creation.
    pub fn to_json(&self, organization_id: &str, membership_id: &str, with_secret: bool) -> Value {
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
    fn every_method_offers_paid() {
        for m in METHODS {
            assert!(outcomes(m).contains(&"paid"));
            assert!(outcomes(m).iter().all(|o| PAYMENT_STATUSES.contains(o)));
        }
    }
}
