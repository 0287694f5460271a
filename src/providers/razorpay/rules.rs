//! The checks a schema cannot say for payment-link bodies: the minimum amount, the expiry window
//! on the sandbox clock, the callback pair, partial-payment settings and the UPI link
//! restrictions. Uniqueness of `reference_id` and state rules live in the store.

use serde_json::{Map, Value};

use super::error::{self, Problem};
use crate::schema::Schemas;

/// At least this many seconds between now and `expire_by`.
pub(super) const MIN_EXPIRY_SECS: i64 = 15 * 60;
/// At most this many seconds between now and `expire_by` (six months).
pub(super) const MAX_EXPIRY_SECS: i64 = 180 * 86_400;
/// The smallest amount, in minor units.
pub(super) const MIN_AMOUNT: i64 = 100;

/// A create request that passed every stateless check.
#[derive(Debug, Clone)]
pub(super) struct CreateDraft {
    pub amount: i64,
    pub currency: String,
    pub accept_partial: bool,
    pub first_min_partial_amount: i64,
    pub expire_by: i64,
    pub reference_id: String,
    pub description: String,
    pub customer: Map<String, Value>,
    pub notify: Map<String, Value>,
    pub reminder_enable: bool,
    pub notes: Value,
    pub callback_url: String,
    pub callback_method: String,
    pub upi_link: bool,
    pub options: Value,
}

/// What an update may change.
#[derive(Debug, Clone, Default)]
pub(super) struct UpdateDraft {
    pub accept_partial: Option<bool>,
    pub reference_id: Option<String>,
    pub expire_by: Option<i64>,
    pub notes: Option<Value>,
    pub reminder_enable: Option<bool>,
}

/// An amount under the gateway's minimum gets its sentence, alone: it replaces the schema's
/// `minimum` problem, so the field has one sentence.
pub(super) fn minimum_amount(amount: Option<i64>, currency: &str, problems: &mut Vec<Problem>) {
    if let Some(a) = amount
        && a < MIN_AMOUNT
    {
        problems.retain(|p| p.pointer != "/amount");
        problems.push(Problem::new(
            "/amount",
            format!("The amount must be at least {currency} 1.00"),
        ));
    }
}

pub(super) fn schema_problems(schemas: &Schemas, id: &str, body: &Value) -> Vec<Problem> {
    schemas
        .validate(id, body)
        .iter()
        .map(Problem::from_violation)
        .collect()
}

fn expiry(expire_by: i64, now: i64, problems: &mut Vec<Problem>) {
    if expire_by == 0 {
        return;
    }
    if expire_by < now + MIN_EXPIRY_SECS {
        problems.push(Problem::new("/expire_by", error::MSG_EXPIRE_TOO_SOON));
    } else if expire_by > now + MAX_EXPIRY_SECS {
        problems.push(Problem::new("/expire_by", error::MSG_EXPIRE_TOO_LATE));
    }
}

fn int(body: &Value, key: &str) -> Option<i64> {
    body.get(key).and_then(Value::as_i64)
}

fn boolean(body: &Value, key: &str) -> Option<bool> {
    body.get(key).and_then(Value::as_bool)
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The currencies the gateway takes payments in (its international payments list; INR for
/// domestic ones). Anything else is "The selected currency is invalid." (the gateway's wording
/// for a value outside a list; the exact sentence for currencies is not documented).
pub(super) const SUPPORTED_CURRENCIES: &[&str] = &[
    "AED", "ALL", "AMD", "ARS", "AUD", "AWG", "BBD", "BDT", "BMD", "BND", "BOB", "BSD", "BWP",
    "BZD", "CAD", "CHF", "CNY", "COP", "CRC", "CUP", "CZK", "DKK", "DOP", "DZD", "EGP", "ETB",
    "EUR", "FJD", "GBP", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
    "IDR", "ILS", "INR", "JMD", "KES", "KGS", "KHR", "KYD", "KZT", "LAK", "LKR", "LRD", "LSL",
    "MAD", "MDL", "MKD", "MMK", "MNT", "MOP", "MUR", "MVR", "MWK", "MXN", "MYR", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "PEN", "PGK", "PHP", "PKR", "QAR", "RUB", "SAR", "SCR", "SEK",
    "SGD", "SLL", "SOS", "SSP", "SVC", "SZL", "THB", "TTD", "TZS", "USD", "UYU", "UZS", "YER",
    "ZAR",
];

/// The rules tying `accept_partial`, `first_min_partial_amount`, `upi_link` and `currency`.
fn check_partial_and_upi(
    body: &Value,
    amount: Option<i64>,
    currency: &str,
    accept_partial: bool,
    upi_refused_in_test_mode: bool,
    problems: &mut Vec<Problem>,
) {
    if let Some(first) = int(body, "first_min_partial_amount") {
        if !accept_partial {
            problems.push(Problem::new(
                "/first_min_partial_amount",
                "first_min_partial_amount can be set only when accept_partial is true",
            ));
        } else if amount.is_some_and(|a| first > a) {
            problems.push(Problem::new(
                "/first_min_partial_amount",
                "first_min_partial_amount must not be greater than amount",
            ));
        }
    }
    let upi_link = boolean(body, "upi_link").unwrap_or(false);
    if upi_link {
        if upi_refused_in_test_mode {
            problems.push(Problem::new("/upi_link", error::MSG_UPI_TEST_MODE));
        }
        if currency != "INR" {
            problems.push(Problem::new("/currency", error::MSG_UPI_CURRENCY));
        }
        if accept_partial {
            problems.push(Problem::new("/accept_partial", error::MSG_UPI_PARTIAL));
        }
    }
}

/// Checks a create body. `test_key` is whether the caller used an `rzp_test_` key.
pub(super) fn check_create(
    schemas: &Schemas,
    body: &Value,
    now: i64,
    test_key: bool,
    upi_in_test_mode: bool,
) -> Result<CreateDraft, Vec<Problem>> {
    if !body.is_object() {
        return Err(vec![Problem::new(
            "",
            "The request body must be a JSON object.",
        )]);
    }
    let mut problems = schema_problems(schemas, "razorpay/payment_link.create.request", body);
    let currency = text(body, "currency").unwrap_or_else(|| "INR".into());
    if currency.len() == 3
        && currency.bytes().all(|b| b.is_ascii_uppercase())
        && !SUPPORTED_CURRENCIES.contains(&currency.as_str())
    {
        problems.push(Problem::new("/currency", "The selected currency is invalid."));
    }
    let amount = int(body, "amount");
    minimum_amount(amount, &currency, &mut problems);
    if let Some(e) = int(body, "expire_by") {
        expiry(e, now, &mut problems);
    }
    match (body.get("callback_url"), body.get("callback_method")) {
        (Some(_), None) => {
            problems.push(Problem::new("/callback_method", error::MSG_CALLBACK_METHOD));
        }
        (None, Some(_)) => problems.push(Problem::new("/callback_url", error::MSG_CALLBACK_URL)),
        _ => {}
    }
    let accept_partial = boolean(body, "accept_partial").unwrap_or(false);
    check_partial_and_upi(body, amount, &currency, accept_partial, test_key && !upi_in_test_mode, &mut problems);
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems.dedup();
        return Err(problems);
    }
    let object = |key: &str| {
        body.get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut notify = Map::new();
    for k in ["email", "sms", "whatsapp"] {
        notify.insert(
            k.into(),
            Value::Bool(
                body.pointer(&format!("/notify/{k}"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
        );
    }
    Ok(CreateDraft {
        // Invariant: the schema requires an integer amount and there were no problems.
        amount: amount.unwrap_or(MIN_AMOUNT),
        currency,
        accept_partial,
        first_min_partial_amount: int(body, "first_min_partial_amount").unwrap_or(0),
        expire_by: int(body, "expire_by").unwrap_or(0),
        reference_id: text(body, "reference_id").unwrap_or_default(),
        description: text(body, "description").unwrap_or_default(),
        customer: object("customer"),
        notify,
        reminder_enable: boolean(body, "reminder_enable").unwrap_or(false),
        notes: body.get("notes").cloned().unwrap_or(Value::Null),
        callback_url: text(body, "callback_url").unwrap_or_default(),
        callback_method: text(body, "callback_method").unwrap_or_default(),
        upi_link: boolean(body, "upi_link").unwrap_or(false),
        options: body.get("options").cloned().unwrap_or(Value::Null),
    })
}

/// Checks an update body.
pub(super) fn check_update(
    schemas: &Schemas,
    body: &Value,
    now: i64,
) -> Result<UpdateDraft, Vec<Problem>> {
    if !body.is_object() {
        return Err(vec![Problem::new(
            "",
            "The request body must be a JSON object.",
        )]);
    }
    let mut problems = schema_problems(schemas, "razorpay/payment_link.update.request", body);
    if let Some(e) = int(body, "expire_by") {
        expiry(e, now, &mut problems);
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(problems);
    }
    Ok(UpdateDraft {
        accept_partial: boolean(body, "accept_partial"),
        reference_id: text(body, "reference_id"),
        expire_by: int(body, "expire_by"),
        notes: body.get("notes").cloned(),
        reminder_enable: boolean(body, "reminder_enable"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn problems(body: &Value, test_key: bool) -> Vec<String> {
        let schemas = Schemas::load();
        match check_create(&schemas, body, NOW, test_key, false) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .into_iter()
                .map(|p| format!("{} {}", p.pointer, p.description))
                .collect(),
        }
    }

    #[test]
    fn a_plain_link_passes() {
        assert!(problems(&json!({"amount": 100, "description": "x"}), true).is_empty());
    }

    #[test]
    fn every_rule_is_reported_together() {
        let p = problems(
            &json!({"amount": 99, "expire_by": NOW + 60, "callback_url": "https://x.example/cb",
                   "reference_id": "r".repeat(41), "bogus": 1}),
            true,
        );
        assert_eq!(
            p,
            vec![
                "/amount The amount must be at least INR 1.00",
                "/bogus wrong input fields sent.",
                "/callback_method The callback method field is required when callback url is present.",
                "/expire_by timestamp must be atleast 15 minutes in future",
                "/reference_id The reference_id must be at most 40 characters.",
            ]
        );
    }

    #[test]
    fn upi_links_have_their_own_restrictions() {
        let p = problems(
            &json!({"amount": 500, "upi_link": true, "currency": "USD", "accept_partial": true}),
            true,
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|m| m.contains("Test Mode")));
        let p = problems(&json!({"amount": 500, "upi_link": true}), false);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn expiry_must_fall_in_the_window() {
        assert!(problems(&json!({"amount": 100, "expire_by": NOW + 900}), true).is_empty());
        assert_eq!(
            problems(&json!({"amount": 100, "expire_by": NOW + 899}), true).len(),
            1
        );
        assert_eq!(
            problems(
                &json!({"amount": 100, "expire_by": NOW + MAX_EXPIRY_SECS + 1}),
                true
            )
            .len(),
            1
        );
    }

    #[test]
    fn partial_settings_need_accept_partial() {
        assert_eq!(
            problems(
                &json!({"amount": 1000, "first_min_partial_amount": 200}),
                true
            )
            .len(),
            1
        );
        assert!(
            problems(
                &json!({"amount": 1000, "accept_partial": true, "first_min_partial_amount": 200}),
                true
            )
            .is_empty()
        );
        assert_eq!(
            problems(
                &json!({"amount": 1000, "accept_partial": true, "first_min_partial_amount": 2000}),
                true
            )
            .len(),
            1
        );
    }
}
