//! Checks a message body against the Cloud API's schemas and the rules a schema cannot say:
//! amount arithmetic, the expiration threshold, image-item limits, region-specific requirements,
//! unique button titles and list row counts.
//!
//! [`check`] needs no server state, so the `validate` subcommand and the live endpoint share it.
//! Rules that depend on state (reference_id uniqueness, known orders, status transitions) live in
//! the store, which applies them under its lock.

use serde_json::{Map, Value};

use super::model::{OrderStatus, PaymentStatus, Region};
use crate::schema::{Schemas, Violation};

/// Every interactive type the Cloud API documents. Types with no schema of their own here are
/// accepted after the envelope check.
const KNOWN_INTERACTIVE: &[&str] = &[
    "button",
    "list",
    "cta_url",
    "order_details",
    "order_status",
    "product",
    "product_list",
    "catalog_message",
    "flow",
    "location_request_message",
    "call_permission_request",
    "carousel",
    "address_message",
];

const PAYLOAD_KEYS: &[&str] = &[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "template",
];

/// Where an order's `action.parameters` sit in a message.
pub const PARAMS: &str = "/interactive/action/parameters";

/// The largest amount, in paise, a single UPI payment may carry (₹5,00,000).
pub const UPI_CAP_PAISE: i128 = 50_000_000;

/// The least time, in seconds, between now and an order's expiration.
pub const MIN_EXPIRATION_SECS: i64 = 300;

/// What the rules need to know about the outside world.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub now_secs: i64,
    pub require_messaging_product: bool,
    /// Payment configuration names of the business; `None` skips the check (offline validation).
    pub configuration_names: Option<&'a [String]>,
}

/// Who a message goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    /// The `to` (or `recipient`) value as sent.
    pub input: Option<String>,
    /// Digits of a phone recipient.
    pub wa_id: Option<String>,
    /// A business-scoped user id, when sent to one.
    pub user_id: Option<String>,
    pub group: bool,
}

/// An `order_details` message, reduced to what the store keeps.
#[derive(Debug, Clone)]
pub struct OrderDraft {
    pub reference_id: String,
    pub region: Region,
    pub currency: String,
    pub total_amount: i64,
    pub payment_types: Vec<String>,
    pub configuration_name: Option<String>,
    pub payment_link: Option<String>,
    pub expires_at: Option<i64>,
    pub pg_type: Option<String>,
    pub pg_extras: Map<String, Value>,
    pub offsite_card: Option<Value>,
}

/// An `order_status` message, reduced to what the store applies.
#[derive(Debug, Clone)]
pub struct StatusDraft {
    pub reference_id: String,
    pub order_status: Option<OrderStatus>,
    pub description: Option<String>,
    pub payment_status: Option<PaymentStatus>,
}

#[derive(Debug, Clone)]
pub enum Intent {
    Send,
    /// `status: read` on an inbound message.
    MarkRead {
        message_id: String,
    },
}

/// The outcome of the stateless checks.
#[derive(Debug, Clone)]
pub struct Checked {
    pub intent: Intent,
    /// `text`, `image`, `interactive.order_details`, ...
    pub kind: String,
    pub recipient: Recipient,
    pub order: Option<OrderDraft>,
    pub status: Option<StatusDraft>,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
}

impl Checked {
    fn new(kind: &str) -> Self {
        Self {
            intent: Intent::Send,
            kind: kind.to_string(),
            recipient: Recipient::default(),
            order: None,
            status: None,
            violations: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Checks a message body. `body` may be rewritten in one way: an `action.parameters` sent as a
/// JSON string (Meta's pages describe it as "a stringified JSON object") is parsed in place.
pub fn check(schemas: &Schemas, body: &mut Value, ctx: &Context<'_>) -> Checked {
    let Some(object) = body.as_object() else {
        let mut c = Checked::new("unknown");
        c.violations
            .push(Violation::invalid("", "the message must be a JSON object"));
        return c;
    };

    if object.contains_key("status") {
        let mut c = Checked::new("status");
        c.violations = schemas.validate("whatsapp/message.mark_read.request", body);
        drop_messaging_product_if_optional(&mut c.violations, ctx);
        if let Some(id) = body.get("message_id").and_then(Value::as_str) {
            c.intent = Intent::MarkRead {
                message_id: id.to_string(),
            };
        }
        return c;
    }

    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_string();
    let mut c = Checked::new(&kind);
    c.violations = schemas.validate("whatsapp/message.send.request", body);
    drop_messaging_product_if_optional(&mut c.violations, ctx);
    c.recipient = recipient(body, &mut c.violations);
    if !PAYLOAD_KEYS.contains(&kind.as_str()) {
        // The envelope schema already reported the bad `type`.
        return c;
    }
    for key in PAYLOAD_KEYS {
        if *key != kind && object.contains_key(*key) {
            c.violations.push(Violation::unknown(format!("/{key}")));
        }
    }
    if body.get(&kind).is_none() {
        c.violations.push(Violation::missing(format!("/{kind}")));
        return c;
    }

    match kind.as_str() {
        "text" => sub(schemas, "whatsapp/text.send.request", body, "/text", &mut c),
        "image" | "audio" | "video" | "document" | "sticker" => {
            let at = format!("/{kind}");
            sub(schemas, "whatsapp/media.send.request", body, &at, &mut c)
        }
        "template" => sub(
            schemas,
            "whatsapp/template.send.request",
            body,
            "/template",
            &mut c,
        ),
        "interactive" => interactive(schemas, body, ctx, &mut c),
        _ => {}
    }
    c
}

fn drop_messaging_product_if_optional(violations: &mut Vec<Violation>, ctx: &Context<'_>) {
    if !ctx.require_messaging_product {
        violations.retain(|v| {
            v.pointer != "/messaging_product" || v.kind != crate::schema::ViolationKind::Missing
        });
    }
}

/// Validates the sub-document at `at` against schema `id`, reporting pointers from the root.
fn sub(schemas: &Schemas, id: &str, body: &Value, at: &str, c: &mut Checked) {
    if let Some(part) = body.pointer(at) {
        c.violations
            .extend(schemas.validate(id, part).into_iter().map(|v| v.under(at)));
    }
}

fn recipient(body: &Value, violations: &mut Vec<Violation>) -> Recipient {
    let group = body.get("recipient_type").and_then(Value::as_str) == Some("group");
    let to = body.get("to").and_then(Value::as_str);
    let bsuid = body.get("recipient").and_then(Value::as_str);
    match (to, bsuid) {
        (Some(to), _) if group => Recipient {
            input: Some(to.to_string()),
            group: true,
            ..Default::default()
        },
        (Some(to), _) => {
            let digits: String = to.chars().filter(char::is_ascii_digit).collect();
            let allowed = to
                .chars()
                .all(|ch| ch.is_ascii_digit() || "+-() ".contains(ch));
            if !allowed || digits.len() < 5 || digits.len() > 15 || to.matches('+').count() > 1 {
                violations.push(Violation::invalid(
                    "/to",
                    "The phone number is malformed: Please use the format: +1234567890.",
                ));
            }
            Recipient {
                input: Some(to.to_string()),
                wa_id: Some(digits),
                ..Default::default()
            }
        }
        (None, Some(id)) => Recipient {
            input: Some(id.to_string()),
            user_id: Some(id.to_string()),
            ..Default::default()
        },
        (None, None) => {
            if body.get("to").is_none() && body.get("recipient").is_none() {
                violations.push(Violation::missing("/to"));
            }
            Recipient::default()
        }
    }
}

fn interactive(schemas: &Schemas, body: &mut Value, ctx: &Context<'_>, c: &mut Checked) {
    // Meta's pages call `parameters` "a stringified JSON object"; accept that form too.
    if let Some(params) = body.pointer_mut(PARAMS)
        && let Some(text) = params.as_str()
    {
        match serde_json::from_str::<Value>(text) {
            Ok(parsed) if parsed.is_object() => *params = parsed,
            _ => {
                c.violations.push(Violation::invalid(
                    PARAMS,
                    "must be an object (or a string holding a JSON object)",
                ));
                return;
            }
        }
    }
    let Some(itype) = body.pointer("/interactive/type") else {
        c.violations.push(Violation::missing("/interactive/type"));
        return;
    };
    let Some(itype) = itype.as_str() else {
        c.violations.push(Violation::invalid(
            "/interactive/type",
            "must be of type string",
        ));
        return;
    };
    c.kind = format!("interactive.{itype}");
    let body: &Value = body;
    match itype {
        "button" => {
            sub(
                schemas,
                "whatsapp/interactive-button.send.request",
                body,
                "/interactive",
                c,
            );
            unique_buttons(body, c);
        }
        "list" => {
            sub(
                schemas,
                "whatsapp/interactive-list.send.request",
                body,
                "/interactive",
                c,
            );
            list_rows(body, c);
        }
        "cta_url" => sub(
            schemas,
            "whatsapp/interactive-cta_url.send.request",
            body,
            "/interactive",
            c,
        ),
        "order_details" => order_details(schemas, body, ctx, c),
        "order_status" => order_status(schemas, body, c),
        other if KNOWN_INTERACTIVE.contains(&other) => {}
        _ => c.violations.push(Violation::invalid(
            "/interactive/type",
            format!("must be one of: {}", KNOWN_INTERACTIVE.join(", ")),
        )),
    }
}

fn unique_buttons(body: &Value, c: &mut Checked) {
    let Some(buttons) = body
        .pointer("/interactive/action/buttons")
        .and_then(Value::as_array)
    else {
        return;
    };
    for field in ["id", "title"] {
        let mut seen = std::collections::HashSet::new();
        for (i, b) in buttons.iter().enumerate() {
            if let Some(v) = b
                .pointer(&format!("/reply/{field}"))
                .and_then(Value::as_str)
                && !seen.insert(v)
            {
                c.violations.push(Violation::invalid(
                    format!("/interactive/action/buttons/{i}/reply/{field}"),
                    format!("must be unique among the buttons ({v:?} repeats)"),
                ));
            }
        }
    }
}

fn list_rows(body: &Value, c: &mut Checked) {
    let Some(sections) = body
        .pointer("/interactive/action/sections")
        .and_then(Value::as_array)
    else {
        return;
    };
    let mut total = 0;
    let mut ids = std::collections::HashSet::new();
    for (i, s) in sections.iter().enumerate() {
        if sections.len() > 1 && s.get("title").is_none() {
            c.violations.push(Violation::missing(format!(
                "/interactive/action/sections/{i}/title"
            )));
        }
        if let Some(rows) = s.get("rows").and_then(Value::as_array) {
            total += rows.len();
            for (j, r) in rows.iter().enumerate() {
                if let Some(id) = r.get("id").and_then(Value::as_str)
                    && !ids.insert(id)
                {
                    c.violations.push(Violation::invalid(
                        format!("/interactive/action/sections/{i}/rows/{j}/id"),
                        format!("must be unique across all sections ({id:?} repeats)"),
                    ));
                }
            }
        }
    }
    if total > 10 {
        c.violations.push(Violation::invalid(
            "/interactive/action/sections",
            format!("must hold at most 10 rows in total (got {total})"),
        ));
    }
}

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

fn order_details(schemas: &Schemas, body: &Value, ctx: &Context<'_>, c: &mut Checked) {
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
    if let (Some(reference_id), Some(total)) = (reference_id, total) {
        c.order = Some(OrderDraft {
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
                .map(|extras| {
                    extras
                        .iter()
                        .filter(|(k, _)| *k != "encrypted_payment_gateway_data")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            offsite_card: params
                .get("payment_settings")
                .and_then(Value::as_array)
                .and_then(|s| s.iter().find_map(|s| s.get("offsite_card_pay")))
                .cloned(),
        });
    }
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
                if let (Some(names), Some(name)) = (
                    ctx.configuration_names,
                    pg.and_then(|p| p.get("configuration_name"))
                        .and_then(Value::as_str),
                ) && !names.iter().any(|n| n == name)
                {
                    c.warnings.push(format!(
                        "{PARAMS}/payment_settings/{i}/payment_gateway/configuration_name: {name:?} is not a payment configuration of this business ({}); the customer will not be able to pay",
                        names.join(", ")
                    ));
                }
                let web_only = pg
                    .and_then(|p| p.get("enabled_payment_options"))
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.len() == 1 && o[0] == "web");
                if total > UPI_CAP_PAISE && !web_only {
                    c.warnings.push(format!(
                        "{PARAMS}/total_amount/value: {total} exceeds the UPI cap of {UPI_CAP_PAISE} paise; UPI payments will fail unless enabled_payment_options is [\"web\"]"
                    ));
                }
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

fn order_status(schemas: &Schemas, body: &Value, c: &mut Checked) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            now_secs: 1_800_000_000,
            require_messaging_product: true,
            configuration_names: None,
        }
    }

    fn india_order() -> Value {
        json!({
            "messaging_product": "whatsapp",
            "to": "+91 98765 43210",
            "type": "interactive",
            "interactive": {
                "type": "order_details",
                "body": {"text": "Your order"},
                "action": {"name": "review_and_pay", "parameters": {
                    "reference_id": "ord-1",
                    "type": "digital-goods",
                    "payment_type": "upi",
                    "payment_settings": [{"type": "payment_link", "payment_link": {"uri": "https://pay.example/x"}}],
                    "currency": "INR",
                    "total_amount": {"value": 21000, "offset": 100},
                    "order": {
                        "status": "pending",
                        "catalog_id": "cat-1",
                        "items": [
                            {"retailer_id": "sku-1", "name": "Bread", "amount": {"value": 10000, "offset": 100}, "quantity": 2,
                             "sale_amount": {"value": 9500, "offset": 100}}
                        ],
                        "subtotal": {"value": 19000, "offset": 100},
                        "tax": {"value": 1000, "offset": 100},
                        "shipping": {"value": 2000, "offset": 100},
                        "discount": {"value": 1000, "offset": 100}
                    }
                }}
            }
        })
    }

    fn pointers(c: &Checked) -> Vec<&str> {
        c.violations.iter().map(|v| v.pointer.as_str()).collect()
    }

    #[test]
    fn a_consistent_india_order_passes() {
        let schemas = Schemas::load().unwrap();
        let mut body = india_order();
        let c = check(&schemas, &mut body, &ctx());
        assert!(c.violations.is_empty(), "{:#?}", c.violations);
        let order = c.order.unwrap();
        assert_eq!(order.total_amount, 21000);
        assert_eq!(order.payment_link.as_deref(), Some("https://pay.example/x"));
        assert_eq!(c.recipient.wa_id.as_deref(), Some("919876543210"));
    }

    #[test]
    fn arithmetic_errors_name_their_fields() {
        let schemas = Schemas::load().unwrap();
        let mut body = india_order();
        body["interactive"]["action"]["parameters"]["order"]["subtotal"]["value"] = json!(20000);
        let c = check(&schemas, &mut body, &ctx());
        let p = pointers(&c);
        assert!(
            p.contains(&"/interactive/action/parameters/order/subtotal/value"),
            "{p:?}"
        );
        assert!(
            p.contains(&"/interactive/action/parameters/total_amount/value"),
            "{p:?}"
        );
    }

    #[test]
    fn stringified_parameters_are_accepted() {
        let schemas = Schemas::load().unwrap();
        let mut body = india_order();
        let params = body["interactive"]["action"]["parameters"].to_string();
        body["interactive"]["action"]["parameters"] = Value::String(params);
        let c = check(&schemas, &mut body, &ctx());
        assert!(c.violations.is_empty(), "{:#?}", c.violations);
    }

    #[test]
    fn an_expiration_too_soon_is_refused() {
        let schemas = Schemas::load().unwrap();
        let mut body = india_order();
        body["interactive"]["action"]["parameters"]["order"]["expiration"] =
            json!({"timestamp": "1800000299", "description": "soon"});
        let c = check(&schemas, &mut body, &ctx());
        assert_eq!(
            pointers(&c),
            vec!["/interactive/action/parameters/order/expiration/timestamp"]
        );
        body["interactive"]["action"]["parameters"]["order"]["expiration"]["timestamp"] =
            json!("1800000300");
        assert!(check(&schemas, &mut body, &ctx()).violations.is_empty());
    }

    #[test]
    fn a_missing_recipient_is_reported() {
        let schemas = Schemas::load().unwrap();
        let mut body =
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}});
        let c = check(&schemas, &mut body, &ctx());
        assert_eq!(pointers(&c), vec!["/to"]);
    }

    #[test]
    fn a_mark_read_is_recognised() {
        let schemas = Schemas::load().unwrap();
        let mut body =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"});
        let c = check(&schemas, &mut body, &ctx());
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert!(matches!(c.intent, Intent::MarkRead { .. }));
    }
}
