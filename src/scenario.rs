//! Scripted outcomes: default status sequences and delays per provider, and rules that match
//! request fields and choose statuses, errors and delays instead.
//!
//! The same structure is read from the `[scenario]` section of the configuration file, from a
//! scenario file (`fixtures/scenarios/*.toml`) and from `PUT /__sandbox/scenario` (JSON or TOML).
//! Rules are tried in order; the first whose every condition matches wins.
//!
//! ```toml
//! [whatsapp]
//! statuses = ["sent", "delivered", "read"]
//! delays = ["200ms", "600ms", "1.5s"]
//!
//! [[rules]]
//! name = "numbers ending in 0000 are unreachable"
//! provider = "whatsapp"
//! match = { to = "*0000" }
//! then = { statuses = ["sent", "failed"], delays = ["100ms", "1s"], error = { code = 131026 } }
//! ```

use std::collections::BTreeMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wildmatch::WildMatch;

use crate::clock::Span;
use crate::webhook::Provider;

/// Message statuses a WhatsApp scenario may script.
pub const WHATSAPP_STATUSES: &[&str] = &["sent", "delivered", "read", "failed"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioConfig {
    pub whatsapp: StatusSequence,
    pub rules: Vec<Rule>,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            whatsapp: StatusSequence {
                statuses: vec!["sent".into(), "delivered".into(), "read".into()],
                delays: vec![
                    Span(std::time::Duration::from_millis(200)),
                    Span(std::time::Duration::from_millis(600)),
                    Span(std::time::Duration::from_millis(1500)),
                ],
            },
            rules: Vec::new(),
        }
    }
}

/// Statuses and, for each, its delay after the request was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StatusSequence {
    pub statuses: Vec<String>,
    #[serde(default)]
    pub delays: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub provider: Provider,
    #[serde(rename = "match", default)]
    pub when: Match,
    pub then: Outcome,
}

/// Conditions on a request; every one given must hold. Text conditions are globs (`*`, `?`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Match {
    /// Recipient (WhatsApp `to`, matched against what was sent and against its digits) or the
    /// customer contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// Message kind, such as `text` or `interactive.order_details`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Any of the payment types (`payment_settings[].type`, a link's variant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Inclusive bounds on the amount, in minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_max: Option<i64>,
    /// Any request field by JSON pointer, matched as a glob against its text.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// An error a rule injects: in a `failed` status (asynchronous) or as the answer (`reject`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// HTTP status for a synchronous rejection (defaults to the vendor's usual one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Outcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delays: Option<Vec<Span>>,
    /// The error carried by a scripted `failed` status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSpec>,
    /// Refuse the request itself with this error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<ErrorSpec>,
    /// Pay the created link automatically (payment providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay: Option<PayScript>,
}

/// A payment a rule makes on its own, some time after the link is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PayScript {
    /// Payment method (`upi`, `card`, ... for the gateway; `credit_card`, `paypal`, ... for Qonto).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `success` or `failure` for the gateway; a payment status (`paid`, `failed`, ...) for Qonto.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Delay after creation (default: immediately).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Span>,
    /// Amount in minor units (default: what is due).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// What a request looks like to the rules.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub to: Option<&'a str>,
    pub reference_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub payment_types: Vec<String>,
    pub currency: Option<&'a str>,
    pub amount: Option<i64>,
    pub body: Option<&'a Value>,
}

/// The statuses to report for a message, with their delays in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<(String, i64)>,
    pub error: Option<ErrorSpec>,
    pub reject: Option<ErrorSpec>,
    pub rule: Option<String>,
}

impl ScenarioConfig {
    /// Reads a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem, not only the first.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        check_sequence(
            "whatsapp",
            &self.whatsapp.statuses,
            &self.whatsapp.delays,
            None,
            &mut problems,
        );
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            for (key, glob) in [
                ("to", &rule.when.to),
                ("reference_id", &rule.when.reference_id),
                ("kind", &rule.when.kind),
            ] {
                if glob.as_deref() == Some("") {
                    problems.push(format!("{at}.match.{key} must not be empty"));
                }
            }
            if let (Some(lo), Some(hi)) = (rule.when.amount_min, rule.when.amount_max)
                && lo > hi
            {
                problems.push(format!("{at}.match.amount_min is above amount_max"));
            }
            for pointer in rule.when.fields.keys() {
                if !pointer.starts_with('/') {
                    problems.push(format!(
                        "{at}.match.fields key {pointer:?} must be a JSON pointer starting with '/'"
                    ));
                }
            }
            if let Some(statuses) = &rule.then.statuses {
                let delays = rule.then.delays.clone().unwrap_or_default();
                check_sequence(
                    &format!("{at}.then"),
                    statuses,
                    &delays,
                    rule.then.error.as_ref(),
                    &mut problems,
                );
                if rule.provider != Provider::Whatsapp {
                    problems.push(format!("{at}.then.statuses applies to whatsapp rules only"));
                }
            }
            if let Some(pay) = &rule.then.pay {
                match rule.provider {
                    Provider::Whatsapp => problems.push(format!(
                        "{at}.then.pay applies to razorpay and qonto rules only"
                    )),
                    Provider::Razorpay => {
                        if let Some(m) = &pay.method
                            && !crate::providers::razorpay::model::METHODS.contains(&m.as_str())
                        {
                            problems.push(format!("{at}.then.pay.method {m:?} is not one of upi, card, netbanking, wallet"));
                        }
                        if let Some(o) = &pay.outcome
                            && !["success", "failure"].contains(&o.as_str())
                        {
                            problems.push(format!(
                                "{at}.then.pay.outcome {o:?} is not success or failure"
                            ));
                        }
                    }
                    Provider::Qonto => {
                        if let Some(m) = &pay.method
                            && !crate::providers::qonto::model::METHODS.contains(&m.as_str())
                        {
                            problems.push(format!("{at}.then.pay.method {m:?} is not credit_card, apple_pay, paypal or ideal"));
                        }
                        if let Some(o) = &pay.outcome
                            && !crate::providers::qonto::model::PAYMENT_STATUSES
                                .contains(&o.as_str())
                        {
                            problems.push(format!(
                                "{at}.then.pay.outcome {o:?} is not a payment status"
                            ));
                        }
                    }
                }
                if pay.amount.is_some_and(|a| a <= 0) {
                    problems.push(format!("{at}.then.pay.amount must be positive"));
                }
            }
            if let Some(status) = rule.then.reject.as_ref().and_then(|r| r.http_status)
                && !(400..600).contains(&status)
            {
                problems.push(format!("{at}.then.reject.http_status must be 4xx or 5xx"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn check_sequence(
    at: &str,
    statuses: &[String],
    delays: &[Span],
    error: Option<&ErrorSpec>,
    problems: &mut Vec<String>,
) {
    for (i, s) in statuses.iter().enumerate() {
        if !WHATSAPP_STATUSES.contains(&s.as_str()) {
            problems.push(format!(
                "{at}.statuses[{i}] {s:?} is not one of {}",
                WHATSAPP_STATUSES.join(", ")
            ));
        }
        if s == "failed" && i + 1 != statuses.len() {
            problems.push(format!("{at}.statuses: failed must be the last status"));
        }
    }
    if !delays.is_empty() && delays.len() != statuses.len() {
        problems.push(format!(
            "{at}.delays has {} entries for {} statuses",
            delays.len(),
            statuses.len()
        ));
    }
    if error.is_some() && !statuses.iter().any(|s| s == "failed") {
        problems.push(format!("{at}.error is given but no status is failed"));
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    WildMatch::new(pattern).matches(text)
}

impl Match {
    fn holds(&self, facts: &Facts<'_>) -> bool {
        let text_ok = |pattern: &Option<String>, value: Option<&str>| match pattern {
            None => true,
            Some(p) => value.is_some_and(|v| glob(p, v)),
        };
        let to_ok = match &self.to {
            None => true,
            Some(p) => facts.to.is_some_and(|to| {
                let digits: String = to.chars().filter(char::is_ascii_digit).collect();
                glob(p, to) || glob(p, &digits)
            }),
        };
        to_ok
            && text_ok(&self.reference_id, facts.reference_id)
            && text_ok(&self.kind, facts.kind)
            && self
                .payment_type
                .as_ref()
                .is_none_or(|p| facts.payment_types.iter().any(|t| glob(p, t)))
            && self
                .currency
                .as_ref()
                .is_none_or(|c| facts.currency.is_some_and(|f| f.eq_ignore_ascii_case(c)))
            && self
                .amount_min
                .is_none_or(|m| facts.amount.is_some_and(|a| a >= m))
            && self
                .amount_max
                .is_none_or(|m| facts.amount.is_some_and(|a| a <= m))
            && self.fields.iter().all(|(pointer, pattern)| {
                facts
                    .body
                    .and_then(|b| b.pointer(pointer))
                    .is_some_and(|v| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        glob(pattern, &text)
                    })
            })
    }
}

/// The live scenario: replaced as a whole by `PUT /__sandbox/scenario`, restored by reset.
#[derive(Debug)]
pub struct Scenario {
    initial: ScenarioConfig,
    current: RwLock<ScenarioConfig>,
}

impl Scenario {
    pub fn new(config: ScenarioConfig) -> Self {
        Self {
            current: RwLock::new(config.clone()),
            initial: config,
        }
    }

    pub fn get(&self) -> ScenarioConfig {
        self.current.read().clone()
    }

    pub fn replace(&self, config: ScenarioConfig) -> Result<(), Vec<String>> {
        config.validate()?;
        *self.current.write() = config;
        Ok(())
    }

    pub fn reset(&self) {
        *self.current.write() = self.initial.clone();
    }

    /// The first rule for `provider` that matches, if any.
    pub fn matching(&self, provider: Provider, facts: &Facts<'_>) -> Option<Rule> {
        self.current
            .read()
            .rules
            .iter()
            .find(|r| r.provider == provider && r.when.holds(facts))
            .cloned()
    }

    /// The statuses a WhatsApp message will go through.
    pub fn whatsapp_plan(&self, facts: &Facts<'_>) -> Plan {
        let defaults = self.current.read().whatsapp.clone();
        let rule = self.matching(Provider::Whatsapp, facts);
        let then = rule.as_ref().map(|r| r.then.clone()).unwrap_or_default();
        let statuses = then
            .statuses
            .clone()
            .unwrap_or_else(|| defaults.statuses.clone());
        let delays = then
            .delays
            .clone()
            .filter(|d| !d.is_empty())
            .or_else(|| (!defaults.delays.is_empty()).then(|| defaults.delays.clone()))
            .unwrap_or_default();
        let steps = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let delay = delays
                    .get(i)
                    .or(delays.last())
                    .map(|d| d.as_ms())
                    .unwrap_or(0);
                (s.clone(), delay)
            })
            .collect();
        Plan {
            steps,
            error: then.error,
            reject: then.reject,
            rule: rule.and_then(|r| r.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        let cfg = ScenarioConfig::from_toml(text).unwrap();
        cfg.validate().unwrap();
        Scenario::new(cfg)
    }

    #[test]
    fn the_default_plan_is_sent_delivered_read() {
        let s = Scenario::new(ScenarioConfig::default());
        let plan = s.whatsapp_plan(&Facts::default());
        assert_eq!(
            plan.steps,
            vec![
                ("sent".into(), 200),
                ("delivered".into(), 600),
                ("read".into(), 1500)
            ]
        );
        assert!(plan.error.is_none() && plan.rule.is_none());
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let s = scenario(
            r#"
            [[rules]]
            name = "unreachable"
            provider = "whatsapp"
            match = { to = "*0000" }
            then = { statuses = ["sent", "failed"], delays = ["100ms", "1s"], error = { code = 131026 } }
            [[rules]]
            name = "big orders"
            provider = "whatsapp"
            match = { amount_min = 100000, payment_type = "payment_link" }
            then = { statuses = ["sent"] }
            "#,
        );
        let facts = Facts {
            to: Some("+1 555 000 0000"),
            ..Default::default()
        };
        let plan = s.whatsapp_plan(&facts);
        assert_eq!(plan.rule.as_deref(), Some("unreachable"));
        assert_eq!(
            plan.steps,
            vec![("sent".into(), 100), ("failed".into(), 1000)]
        );
        assert_eq!(plan.error.unwrap().code, 131026);

        let facts = Facts {
            to: Some("15550001234"),
            amount: Some(250_000),
            payment_types: vec!["payment_link".into()],
            ..Default::default()
        };
        let plan = s.whatsapp_plan(&facts);
        assert_eq!(plan.rule.as_deref(), Some("big orders"));
        assert_eq!(plan.steps, vec![("sent".into(), 200)]);
    }

    #[test]
    fn field_rules_match_by_pointer() {
        let s = scenario(
            r#"
            [[rules]]
            provider = "whatsapp"
            match = { fields = { "/interactive/action/parameters/order/type" = "quick_*" } }
            then = { statuses = ["read"] }
            "#,
        );
        let body = serde_json::json!({"interactive": {"action": {"parameters": {"order": {"type": "quick_pay"}}}}});
        let plan = s.whatsapp_plan(&Facts {
            body: Some(&body),
            ..Default::default()
        });
        assert_eq!(plan.steps.len(), 1);
        let plan = s.whatsapp_plan(&Facts::default());
        assert_eq!(plan.steps.len(), 3);
    }

    #[test]
    fn bad_scenarios_list_every_problem() {
        let cfg = ScenarioConfig::from_toml(
            r#"
            [[rules]]
            provider = "whatsapp"
            match = { to = "", fields = { "no-slash" = "x" } }
            then = { statuses = ["failed", "sent", "lost"], delays = ["1s"], error = { code = 1 } }
            "#,
        )
        .unwrap();
        let problems = cfg.validate().unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(ScenarioConfig::from_toml("[[rules]]\nprovider = \"fax\"\nthen = {}\n").is_err());
    }

    #[test]
    fn replace_and_reset() {
        let s = Scenario::new(ScenarioConfig::default());
        let mut cfg = ScenarioConfig::default();
        cfg.whatsapp.statuses = vec!["sent".into()];
        cfg.whatsapp.delays = vec![];
        s.replace(cfg).unwrap();
        assert_eq!(
            s.whatsapp_plan(&Facts::default()).steps,
            vec![("sent".into(), 0)]
        );
        s.reset();
        assert_eq!(s.whatsapp_plan(&Facts::default()).steps.len(), 3);
    }
}
