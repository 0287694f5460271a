//! Checks a message body against the Cloud API's schemas and the rules a schema cannot say:
//! amount arithmetic, the expiration threshold, image-item limits, region-specific requirements,
//! unique button titles and list row counts.
//!
//! [`check`] needs no server state, so the `validate` subcommand and the live endpoint share it.
//! Rules that depend on state (reference_id uniqueness, known orders, status transitions) live in
//! the store, which applies them under its lock.

use serde_json::Value;

use super::checked::{Checked, Context, Intent, PARAMS, Recipient, sub};
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

/// Checks a message body. `body` may be rewritten in one way: an `action.parameters` sent as a
/// JSON string (Meta's pages describe it as "a stringified JSON object") is parsed in place.
pub(super) fn check(schemas: &Schemas, body: &mut Value, ctx: &Context<'_>) -> Checked {
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
    c.callback_data = body
        .get("biz_opaque_callback_data")
        .and_then(Value::as_str)
        .map(str::to_string);
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
            sub(schemas, "whatsapp/media.send.request", body, &at, &mut c);
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

/// A recipient named by phone number (`to` on an individual message): its digits are its wa_id.
pub(super) fn phone_recipient(to: &str, violations: &mut Vec<Violation>) -> Recipient {
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
        (Some(to), _) => phone_recipient(to, violations),
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
        "order_details" => super::order::order_details(schemas, body, ctx, c),
        "order_status" => super::order::order_status(schemas, body, c),
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
        let schemas = Schemas::load();
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
        let schemas = Schemas::load();
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
        let schemas = Schemas::load();
        let mut body = india_order();
        let params = body["interactive"]["action"]["parameters"].to_string();
        body["interactive"]["action"]["parameters"] = Value::String(params);
        let c = check(&schemas, &mut body, &ctx());
        assert!(c.violations.is_empty(), "{:#?}", c.violations);
    }

    #[test]
    fn an_expiration_too_soon_is_refused() {
        let schemas = Schemas::load();
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
        let schemas = Schemas::load();
        let mut body =
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}});
        let c = check(&schemas, &mut body, &ctx());
        assert_eq!(pointers(&c), vec!["/to"]);
    }

    #[test]
    fn a_mark_read_is_recognised() {
        let schemas = Schemas::load();
        let mut body =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"});
        let c = check(&schemas, &mut body, &ctx());
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert!(matches!(c.intent, Intent::MarkRead { .. }));
    }
}
