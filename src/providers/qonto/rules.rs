//! Checks a schema cannot say for Qonto bodies, and exact decimal arithmetic: amounts are decimal
//! strings parsed into cents without floats, VAT rates are percent strings, and a basket's amount
//! is Σ quantity × unit price × (1 + VAT / 100), rounded half up to the cent once, at the end.

use serde_json::Value;

use super::error::QErr;
use super::model::{Item, Method};
use crate::schema::Schemas;

/// `"13.30"`, `"13.3"` or `"13"` into cents; at most two decimals.
pub(super) fn parse_cents(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// A VAT percent string (`"21.0"`, `"5.5"`) in basis points (2100, 550).
pub(super) fn parse_vat_bp(text: &str) -> Option<i64> {
    let bp = parse_cents(text)?;
    (0..=10_000).contains(&bp).then_some(bp)
}

/// The gross amount of a basket, in cents.
pub(super) fn basket_total(items: &[Item]) -> Option<i64> {
    // Work in units of 1/10 000 of a cent: cents × quantity × (10 000 + basis points).
    let mut total: i128 = 0;
    for i in items {
        let bp = i128::from(parse_vat_bp(&i.vat_rate)?);
        total = total.checked_add(i128::from(i.unit_price) * i128::from(i.quantity) * (10_000 + bp))?;
    }
    let cents = (total + 5_000) / 10_000;
    i64::try_from(cents).ok()
}

/// A link that passed every check.
#[derive(Debug, Clone)]
pub(super) struct LinkDraft {
    pub resource_type: &'static str,
    pub methods: Vec<Method>,
    pub reusable: bool,
    pub redirect_url: Option<String>,
    pub items: Option<Vec<Item>>,
    pub invoice_id: Option<String>,
    pub invoice_number: Option<String>,
    pub debitor_name: Option<String>,
    pub amount: i64,
}

fn schema(schemas: &Schemas, id: &str, body: &Value) -> Vec<QErr> {
    schemas
        .validate(id, body)
        .iter()
        .map(QErr::from_violation)
        .collect()
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Each payment method offered must be enabled for the organization.
fn check_enabled(link: Option<&Value>, enabled_methods: &[Method], errors: &mut Vec<QErr>) {
    for (i, m) in link
        .and_then(|l| l.get("potential_payment_methods"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(m) = m.as_str().and_then(Method::parse)
            && !enabled_methods.contains(&m)
        {
            let m = m.as_str();
            errors.push(QErr::at(
                format!("/payment_link/potential_payment_methods/{i}"),
                "not_in_list",
                format!("payment method {m} is not enabled for this organization (see GET /v2/payment_links/payment_methods)"),
            ));
        }
    }
}

/// A basket link's items, from a body the schema accepted.
fn basket_items(l: &Value) -> Vec<Item> {
    l["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| Item {
            title: text(i, "/title").unwrap_or_default(),
            quantity: i["quantity"].as_i64().unwrap_or(0),
            unit_price: text(i, "/unit_price/value")
                .and_then(|v| parse_cents(&v))
                .unwrap_or(0),
            currency: text(i, "/unit_price/currency").unwrap_or_else(|| "EUR".into()),
            vat_rate: text(i, "/vat_rate").unwrap_or_default(),
            kind: text(i, "/type"),
            description: text(i, "/description"),
            measure_unit: text(i, "/measure_unit"),
        })
        .collect()
}

/// Checks `POST /v2/payment_links`. The variant follows the fields sent: any invoice field makes
/// it an invoice link, otherwise it is a basket link.
pub(super) fn check_link(
    schemas: &Schemas,
    body: &Value,
    enabled_methods: &[Method],
) -> Result<LinkDraft, Vec<QErr>> {
    let link = body.get("payment_link");
    let invoice = link.is_some_and(|l| {
        ["invoice_id", "invoice_number", "debitor_name", "amount"]
            .iter()
            .any(|k| l.get(k).is_some())
    });
    let id = if invoice {
        "qonto/payment_link-invoice.create.request"
    } else {
        "qonto/payment_link-basket.create.request"
    };
    let mut errors = schema(schemas, id, body);
    check_enabled(link, enabled_methods, &mut errors);
    if !errors.is_empty() {
        errors.sort_by(|a, b| format!("{:?}", a.source).cmp(&format!("{:?}", b.source)));
        return Err(errors);
    }
    // Invariant from here: the schema held, so every required field is present and well formed.
    let l = link.cloned().unwrap_or(Value::Null);
    let methods: Vec<Method> = l["potential_payment_methods"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str().and_then(Method::parse)).collect())
        .unwrap_or_default();
    let reusable = l.get("reusable").and_then(Value::as_bool).unwrap_or(false);
    let redirect_url = text(&l, "/redirect_url");
    if invoice {
        let amount = text(&l, "/amount/value")
            .and_then(|v| parse_cents(&v))
            .unwrap_or(0);
        if amount <= 0 {
            return Err(vec![QErr::at(
                "/payment_link/amount/value",
                "invalid",
                "amount must be greater than 0",
            )]);
        }
        return Ok(LinkDraft {
            resource_type: "Invoice",
            methods,
            reusable,
            redirect_url,
            items: None,
            invoice_id: text(&l, "/invoice_id"),
            invoice_number: text(&l, "/invoice_number"),
            debitor_name: text(&l, "/debitor_name"),
            amount,
        });
    }
    let items = basket_items(&l);
    let amount = basket_total(&items).unwrap_or(0);
    if amount <= 0 {
        return Err(vec![QErr::at(
            "/payment_link/items",
            "invalid",
            "the basket's total amount must be greater than 0",
        )]);
    }
    Ok(LinkDraft {
        resource_type: "Basket",
        methods,
        reusable,
        redirect_url,
        items: Some(items),
        invoice_id: None,
        invoice_number: None,
        debitor_name: None,
        amount,
    })
}

/// A connection request that passed every check.
#[derive(Debug, Clone)]
pub(super) struct ConnectionDraft {
    pub partner_callback_url: String,
    pub bank_account_id: String,
    pub business_description: Option<String>,
}

pub(super) fn check_connection(
    schemas: &Schemas,
    body: &Value,
    bank_accounts: &[String],
) -> Result<ConnectionDraft, Vec<QErr>> {
    let mut errors = schema(schemas, "qonto/connection.create.request", body);
    let account = text(body, "/user_bank_account_id");
    if let Some(a) = &account
        && errors.iter().all(|e| {
            e.source
                != Some(super::error::Source::Pointer(
                    "/user_bank_account_id".into(),
                ))
        })
        && !bank_accounts.iter().any(|b| b.eq_ignore_ascii_case(a))
    {
        errors.push(QErr::at(
            "/user_bank_account_id",
            "not_found",
            format!("bank account {a} does not belong to this organization"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ConnectionDraft {
        partner_callback_url: text(body, "/partner_callback_url").unwrap_or_default(),
        bank_account_id: account.unwrap_or_default(),
        business_description: text(body, "/business_description"),
    })
}

/// A webhook subscription body that passed every check.
#[derive(Debug, Clone, Default)]
pub(super) struct SubscriptionDraft {
    pub callback_url: Option<String>,
    pub types: Option<Vec<String>>,
    pub secret: Option<String>,
    pub description: Option<String>,
}

/// HTTPS, except plain HTTP to a loopback host so local receivers work.
fn callback_ok(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let host = url
        .strip_prefix("http://")
        .and_then(|r| r.split(['/', '?', '#']).next())
        .unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

pub(super) fn check_subscription(
    schemas: &Schemas,
    body: &Value,
    update: bool,
) -> Result<SubscriptionDraft, Vec<QErr>> {
    let id = if update {
        "qonto/webhook_subscription.update.request"
    } else {
        "qonto/webhook_subscription.create.request"
    };
    let mut errors = schema(schemas, id, body);
    if let Some(url) = text(body, "/callback_url")
        && !callback_ok(&url)
    {
        errors.push(QErr::at(
            "/callback_url",
            "invalid",
            "callback_url must be an https URL (plain http is accepted for loopback receivers only)",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SubscriptionDraft {
        callback_url: text(body, "/callback_url"),
        types: body["types"].as_array().map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        }),
        secret: text(body, "/secret"),
        description: text(body, "/description"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(price: &str, qty: i64, vat: &str) -> Item {
        Item {
            title: "x".into(),
            quantity: qty,
            unit_price: parse_cents(price).unwrap(),
            currency: "EUR".into(),
            vat_rate: vat.into(),
            kind: None,
            description: None,
            measure_unit: None,
        }
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_cents("13.30"), Some(1330));
        assert_eq!(parse_cents("13.3"), Some(1330));
        assert_eq!(parse_cents("13"), Some(1300));
        assert_eq!(parse_cents("0.05"), Some(5));
        assert_eq!(parse_cents("1.005"), None);
        assert_eq!(parse_cents("-1"), None);
        assert_eq!(parse_cents("1e3"), None);
        assert_eq!(parse_cents(".5"), None);
        assert_eq!(parse_vat_bp("21.0"), Some(2100));
        assert_eq!(parse_vat_bp("5.5"), Some(550));
        assert_eq!(parse_vat_bp("100.01"), None);
    }

    #[test]
    fn basket_totals_round_half_up_once() {
        assert_eq!(
            basket_total(&[item("10.99", 1, "21.0")]),
            Some(1330),
            "10.99 × 1.21 = 13.2979"
        );
        assert_eq!(basket_total(&[item("0.10", 3, "0")]), Some(30));
        // 0.05 × 1.1 = 0.055 → 0.06 (half up)
        assert_eq!(basket_total(&[item("0.05", 1, "10")]), Some(6));
        // Rounded once over the whole basket: 0.055 + 0.055 = 0.11, not 0.06 + 0.06.
        assert_eq!(
            basket_total(&[item("0.05", 1, "10"), item("0.05", 1, "10")]),
            Some(11)
        );
    }

    #[test]
    fn loopback_http_callbacks_are_allowed() {
        assert!(callback_ok("https://example.com/hook"));
        assert!(callback_ok("http://127.0.0.1:9000/hook"));
        assert!(callback_ok("http://localhost/hook"));
        assert!(!callback_ok("http://example.com/hook"));
    }
}
