//! What a scenario may script for WhatsApp, and how: the default status sequence, the checks of
//! a `[whatsapp]` sequence and of a rule, and the Graph titles of the error codes a rule names.

use serde_json::Value;

use super::model::MessageStatus;
use crate::clock::Span;
use crate::scenario::{ErrorSpec, Rule, Sequence};

/// The statuses a message goes through when no scenario says otherwise: `sent`, `delivered` and
/// `read`, 200 ms, 600 ms and 1.5 s after it was accepted.
pub(crate) fn default_sequence() -> Sequence {
    let ms = |n| Span(std::time::Duration::from_millis(n));
    Sequence {
        statuses: vec!["sent".into(), "delivered".into(), "read".into()],
        delays: vec![ms(200), ms(600), ms(1500)],
    }
}

fn check_statuses(statuses: &[String], at: &str, problems: &mut Vec<String>) {
    for (i, s) in statuses.iter().enumerate() {
        if MessageStatus::scripted(s).is_none() {
            problems.push(format!(
                "{at}.statuses[{i}] {s:?} is not one of sent, delivered, read, failed"
            ));
        }
        if s == "failed" && i + 1 != statuses.len() {
            problems.push(format!("{at}.statuses: failed must be the last status"));
        }
    }
}

/// A `[whatsapp]` sequence: known statuses, `failed` last.
pub(crate) fn check_sequence(sequence: &Sequence, at: &str, problems: &mut Vec<String>) {
    check_statuses(&sequence.statuses, at, problems);
}

/// A WhatsApp rule scripts statuses (with an error only when one is `failed`) or a rejection;
/// it pays nothing.
pub(crate) fn check_rule(rule: &Rule, at: &str, problems: &mut Vec<String>) {
    let then = &rule.then;
    if let Some(statuses) = &then.statuses {
        check_statuses(statuses, &format!("{at}.then"), problems);
    }
    let fails = then
        .statuses
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| s == "failed"));
    if then.error.is_some() && !fails {
        problems.push(format!("{at}.then.error is given but no status is failed"));
    }
    if then.pay.is_some() {
        problems.push(format!(
            "{at}.then.pay applies to payment providers, not whatsapp"
        ));
    }
}

/// Titles of the error codes a scenario is likely to script, so a `failed` status reads like
/// Graph's. Unknown codes get a generic title.
pub(super) fn error_title(code: i64) -> &'static str {
    match code {
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131005 => "Access denied",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131016 => "Service unavailable",
        131021 => "Recipient cannot be sender",
        131026 => "Message undeliverable",
        131042 => "Business eligibility payment issue",
        131045 => "Incorrect certificate",
        131047 => "Re-engagement message",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131050 => "User has stopped marketing messages",
        131051 => "Unsupported message type",
        131053 => "Media upload error",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        134011 => "WhatsApp Payments terms of service has not been accepted",
        2046 => "New order status was not correctly transitioned",
        2047 => "Could not change order status to 'canceled'",
        _ => "Message failed to send",
    }
}

/// The webhook form of a scripted error.
pub(super) fn scripted_error(spec: &ErrorSpec) -> Value {
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| error_title(spec.code).to_string());
    let details = spec
        .details
        .clone()
        .unwrap_or_else(|| format!("{title} (scripted by the sandbox scenario)"));
    super::error::webhook_error(spec.code, &title, &details)
}

