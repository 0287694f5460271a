//! The rules of the payment messages a schema cannot say: an `order_details` order's amount
//! arithmetic, expiration threshold, image-item limits, importer fields and India payment
//! settings, and an `order_status` update's shape.

use serde_json::{Map, Value};

use super::model::{OrderStatus, PaymentStatus, Region};
use super::checked::{
    Checked, Context, MIN_EXPIRATION_SECS, OrderDraft, PARAMS, StatusDraft, UPI_CAP_PAISE, sub,
};
use crate::schema::{Schemas, Violation};

/// The integer `value` of an amount object (`{value, offset}`), if it is written as one. A value
/// written as `100.0` or `1e2` is not: the schema reports it, and the arithmetic rules skip it
/// rather than guess.
fn minor(amount: Option<&Value>) -> Option<i128> {
    amount?.get("value")?.as_i64().map(i128::from)
}

fn timestamp_value(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

pub(super) fn order_details(schemas: &Schemas, body: &Value, ctx: &Context<'_>, c: &mut Checked) {
    let Some(params) = body.pointer(PARAMS) else {
        sub(
            schemas,
            "whatsapp/order_details-in.send.request",
            body,
            "/interactive",
            c,
        );
        return;
    };
    let region = if params.get("payment_type").and_then(Value::as_str) == Some("br") {
        Region::Brazil
    } else {
        Region::India
    };
    let schema = match region {
        Region::India => "whatsapp/order_details-in.send.request",
        Region::Brazil => "whatsapp/order_details-br.send.request",
    };
    sub(schemas, schema, body, "/interactive", c);

    let order = params.get("order");
    if let Some(order) = order {
        amounts(order, params, c);
        expiration(order, ctx, c);
        images(order, c);
    } else if region == Region::Brazil && body.pointer("/interactive/header").is_some() {
        c.violations.push(Violation::invalid(
            "/interactive/header",
            "is not supported without an order: the simplified message shows the total instead",
        ));
    }
    if let Some(total) = minor(params.get("total_amount"))
        && total <= 0
    {
        c.violations.push(Violation::invalid(
            format!("{PARAMS}/total_amount/value"),
            "must be greater than 0",
        ));
    }
    if region == Region::India {
        india_payment(params, ctx, c);
        if let Some(order) = order {
            importer_fields(order, c);
        }
    }

    c.order = draft(params, order, region);
}

/// What the store keeps of an `order_details` message, when it has a reference and a total.
fn draft(params: &Value, order: Option<&Value>, region: Region) -> Option<OrderDraft> {
    let payment_types: Vec<String> = match params.get("payment_settings").and_then(Value::as_array)
    {
        Some(settings) => settings
            .iter()
            .filter_map(|s| s.get("type").and_then(Value::as_str).map(str::to_string))
            .collect(),
        None if params.get("payment_configuration").is_some() => {
            vec!["payment_configuration".into()]
        }
        None => Vec::new(),
    };
    let configuration_name = params
        .pointer("/payment_settings/0/payment_gateway/configuration_name")
        .or_else(|| params.get("payment_configuration"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let payment_link = params
        .get("payment_settings")
        .and_then(Value::as_array)
        .and_then(|s| {
            s.iter()
                .find_map(|s| s.pointer("/payment_link/uri").and_then(Value::as_str))
        })
        .map(str::to_string);
    let reference_id = params.get("reference_id").and_then(Value::as_str);
    let total = minor(params.get("total_amount")).and_then(|t| i64::try_from(t).ok());
    // The legacy `payment_configuration` form settles through Razorpay.
    let pg_type = params
        .pointer("/payment_settings/0/payment_gateway/type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            params
                .get("payment_configuration")
                .map(|_| "razorpay".to_string())
        });
    let (Some(reference_id), Some(total)) = (reference_id, total) else {
        return None;
    };
    Some(OrderDraft {
        reference_id: reference_id.to_string(),
        region,
        currency: region.currency().to_string(),
        total_amount: total,
        payment_types,
        configuration_name,
        payment_link,
        expires_at: order
            .and_then(|o| o.pointer("/expiration/timestamp"))
            .and_then(timestamp_value),
        pg_type: pg_type.clone(),
        pg_extras: pg_type
            .as_deref()
            .and_then(|t| params.pointer(&format!("/payment_settings/0/payment_gateway/{t}")))
            .and_then(Value::as_object)
            .map(kept_extras)
            .unwrap_or_default(),
        offsite_card: params
            .get("payment_settings")
            .and_then(Value::as_array)
            .and_then(|s| s.iter().find_map(|s| s.get("offsite_card_pay")))
            .cloned(),
    })
}

/// What the store keeps of a gateway's own extras: all but the encrypted data.
pub(super) fn kept_extras(extras: &Map<String, Value>) -> Map<String, Value> {
    extras
        .iter()
        .filter(|(k, _)| *k != "encrypted_payment_gateway_data")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `subtotal = Σ (sale_amount or amount) × quantity`, `sale_amount < amount`, and
/// `total = subtotal + tax + shipping − discount`.
fn amounts(order: &Value, params: &Value, c: &mut Checked) {
    let items = order.get("items").and_then(Value::as_array);
    let mut computed: Option<i128> = Some(0);
    for (i, item) in items.into_iter().flatten().enumerate() {
        let amount = minor(item.get("amount"));
        let sale = minor(item.get("sale_amount"));
        if let (Some(a), Some(s)) = (amount, sale)
            && s >= a
        {
            c.violations.push(Violation::invalid(
                format!("{PARAMS}/order/items/{i}/sale_amount/value"),
                format!("must be lower than amount.value ({a})"),
            ));
        }
        let qty = item.get("quantity").and_then(Value::as_i64).map(i128::from);
        computed = match (computed, sale.or(amount), qty) {
            (Some(sum), Some(unit), Some(q)) => Some(sum + unit * q),
            _ => None,
        };
    }
    let subtotal = minor(order.get("subtotal"));
    if let (Some(expected), Some(got), Some(_)) = (computed, subtotal, items)
        && expected != got
    {
        c.violations.push(Violation::invalid(
            format!("{PARAMS}/order/subtotal/value"),
            format!(
                "must equal the sum over items of (sale_amount or amount) × quantity: expected {expected}, got {got}"
            ),
        ));
    }
    let part = |k: &str| -> Option<i128> {
        match order.get(k) {
            None => Some(0),
            some => minor(some),
        }
    };
    if let (Some(sub), Some(tax), Some(ship), Some(disc), Some(total)) = (
        subtotal,
        minor(order.get("tax")),
        part("shipping"),
        part("discount"),
        minor(params.get("total_amount")),
    ) {
        let expected = sub + tax + ship - disc;
        if expected != total {
            c.violations.push(Violation::invalid(
                format!("{PARAMS}/total_amount/value"),
                format!(
                    "must equal subtotal + tax + shipping - discount: expected {expected}, got {total}"
                ),
            ));
        }
    }
}

fn expiration(order: &Value, ctx: &Context<'_>, c: &mut Checked) {
    let Some(ts) = order
        .pointer("/expiration/timestamp")
        .and_then(timestamp_value)
    else {
        return;
    };
    let earliest = ctx.now_secs + MIN_EXPIRATION_SECS;
    if ts < earliest {
        c.violations.push(Violation::invalid(
            format!("{PARAMS}/order/expiration/timestamp"),
            format!(
                "must be at least {MIN_EXPIRATION_SECS} seconds ahead of the current time: earliest accepted {earliest}, got {ts}"
            ),
        ));
    }
}

/// Items with their own image: at most 10 of them, and no catalog references.
fn images(order: &Value, c: &mut Checked) {
    let Some(items) = order.get("items").and_then(Value::as_array) else {
        return;
    };
    if !items.iter().any(|i| i.get("image").is_some()) {
        return;
    }
    if items.len() > 10 {
        c.violations.push(Violation::invalid(
            format!("{PARAMS}/order/items"),
            format!(
                "must have at most 10 items when items carry an image (got {})",
                items.len()
            ),
        ));
    }
    if order.get("catalog_id").is_some() {
        c.violations.push(Violation::invalid(
            format!("{PARAMS}/order/catalog_id"),
            "cannot be combined with item images",
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.get("image").is_some() && item.get("retailer_id").is_some() {
            c.violations.push(Violation::invalid(
                format!("{PARAMS}/order/items/{i}/retailer_id"),
                "cannot be combined with an item image",
            ));
        }
    }
}

/// India: without a catalog, every item must say where it comes from and who imports it.
fn importer_fields(order: &Value, c: &mut Checked) {
    if order.get("catalog_id").is_some() {
        return;
    }
    for (i, item) in order
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !item.is_object() {
            continue;
        }
        for field in ["country_of_origin", "importer_name", "importer_address"] {
            if item.get(field).is_none() {
                c.violations.push(Violation {
                    message: "required parameter is missing (an order without catalog_id must describe each item's origin and importer)".into(),
                    ..Violation::missing(format!("{PARAMS}/order/items/{i}/{field}"))
                });
            }
        }
    }
}

fn india_payment(params: &Value, ctx: &Context<'_>, c: &mut Checked) {
    let settings = params.get("payment_settings").and_then(Value::as_array);
    let legacy = params.get("payment_configuration").is_some();
    if settings.is_none() && !legacy {
        c.violations
            .push(Violation::missing(format!("{PARAMS}/payment_settings")));
    }
    let has_link = settings
        .into_iter()
        .flatten()
        .any(|s| s.get("type").and_then(Value::as_str) == Some("payment_link"));
    if (legacy || has_link) && params.get("payment_type").is_none() {
        c.violations.push(Violation {
            message: "required parameter is missing (payment links and payment_configuration need payment_type \"upi\")".into(),
            ..Violation::missing(format!("{PARAMS}/payment_type"))
        });
    }
    let total = minor(params.get("total_amount")).unwrap_or(0);
    for (i, s) in settings.into_iter().flatten().enumerate() {
        match s.get("type").and_then(Value::as_str) {
            Some("payment_gateway") => {
                let pg = s.get("payment_gateway");
                let name = pg
                    .and_then(|p| p.get("configuration_name"))
                    .and_then(Value::as_str);
                let web_only = pg
                    .and_then(|p| p.get("enabled_payment_options"))
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.len() == 1 && o[0] == "web");
                gateway_warnings(i, name, web_only, total, ctx, c);
            }
            Some("upi_intent_link") => {
                let at = format!("{PARAMS}/payment_settings/{i}/upi_intent_link/link");
                if let Some(link) = s.pointer("/upi_intent_link/link").and_then(Value::as_str)
                    && let Some(query) = link.strip_prefix("upi://pay?")
                {
                    let pairs = crate::http::query_pairs(query);
                    for (k, _) in &pairs {
                        if !["pa", "pn", "mc", "purpose", "tr"].contains(&k.as_str()) {
                            c.violations.push(Violation::invalid(
                                at.clone(),
                                format!("unsupported attribute {k:?}: only pa, pn, mc, purpose and tr are supported"),
                            ));
                        }
                    }
                    if !pairs.iter().any(|(k, v)| k == "pa" && !v.is_empty()) {
                        c.violations.push(Violation::invalid(
                            at.clone(),
                            "must carry the payee address attribute pa",
                        ));
                    }
                }
                if total > UPI_CAP_PAISE {
                    c.warnings.push(format!(
                        "{PARAMS}/total_amount/value: {total} exceeds the UPI cap of {UPI_CAP_PAISE} paise; the UPI payment will fail"
                    ));
                }
            }
            _ => {}
        }
    }
}

/// What a payment gateway setting (the `i`th) warns of: a configuration the business does not
/// have, and a total above the UPI cap while UPI stays enabled.
pub(super) fn gateway_warnings(
    i: usize,
    name: Option<&str>,
    web_only: bool,
    total: i128,
    ctx: &Context<'_>,
    c: &mut Checked,
) {
    if let (Some(names), Some(name)) = (ctx.configuration_names, name)
        && !names.iter().any(|n| n == name)
    {
        c.warnings.push(format!(
            "{PARAMS}/payment_settings/{i}/payment_gateway/configuration_name: {name:?} is not a payment configuration of this business ({}); the customer will not be able to pay",
            names.join(", ")
        ));
    }
    if total > UPI_CAP_PAISE && !web_only {
        c.warnings.push(format!(
            "{PARAMS}/total_amount/value: {total} exceeds the UPI cap of {UPI_CAP_PAISE} paise; UPI payments will fail unless enabled_payment_options is [\"web\"]"
        ));
    }
}

pub(super) fn order_status(schemas: &Schemas, body: &Value, c: &mut Checked) {
    sub(
        schemas,
        "whatsapp/order_status.send.request",
        body,
        "/interactive",
        c,
    );
    let Some(params) = body.pointer(PARAMS) else {
        return;
    };
    if params.get("order").is_none() && params.get("payment").is_none() {
        c.violations.push(Violation {
            message: "required parameter is missing (send order, or payment for Brazil orders)"
                .into(),
            ..Violation::missing(format!("{PARAMS}/order"))
        });
    }
    let Some(reference_id) = params.get("reference_id").and_then(Value::as_str) else {
        return;
    };
    c.status = Some(StatusDraft {
        reference_id: reference_id.to_string(),
        order_status: params
            .pointer("/order/status")
            .and_then(Value::as_str)
            .and_then(OrderStatus::parse),
        description: params
            .pointer("/order/description")
            .and_then(Value::as_str)
            .map(str::to_string),
        payment_status: params
            .pointer("/payment/status")
            .and_then(Value::as_str)
            .and_then(PaymentStatus::parse),
    });
}

