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

//!
//! This module knows no provider: each provider lists what its rules may say in a [`RuleChecks`]
//! (which statuses, methods and outcomes it scripts, and its default sequence), and the sandbox
//! checks every rule against the checks of the provider it names.

use std::collections::BTreeMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wildmatch::WildMatch;

use crate::clock::Span;

/// A scenario: default status sequences by provider name (`[whatsapp]`), and rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScenarioConfig {
    /// Default status sequences, by provider name.
    #[serde(flatten)]
    pub sequences: BTreeMap<String, Sequence>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// What a provider's scenario rules may say, for checking them before anything runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleChecks {
    /// The provider's name, as rules name it.
    pub provider: &'static str,
    /// Adds every problem of a rule aimed at this provider, under `at`.
    pub check_rule: fn(&Rule, &str, &mut Vec<String>),
    /// Checks a status sequence given for this provider; `None` when it scripts none.
    pub check_sequence: Option<fn(&Sequence, &str, &mut Vec<String>)>,
    /// The sequence the provider follows when the scenario names none.
    pub default_sequence: Option<fn() -> Sequence>,
}

/// Statuses and, for each, its delay after the request was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub statuses: Vec<String>,
    #[serde(default)]
    pub delays: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The provider's name (`whatsapp`, `razorpay`, `qonto`).
    pub provider: String,
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
    /// The body as JSON text, for a request whose tree was never built: parsed only when a rule
    /// matches on `fields`.
    pub text: Option<&'a str>,
}

impl ScenarioConfig {
    /// Reads a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem, not only the first, against the providers' `checks`.
    pub(crate) fn validate(&self, checks: &[RuleChecks]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let names: Vec<&str> = checks.iter().map(|c| c.provider).collect();
        for (name, sequence) in &self.sequences {
            match checks.iter().find(|c| c.provider == name) {
                Some(RuleChecks {
                    check_sequence: Some(check),
                    ..
                }) => {
                    check_delays(name, &sequence.statuses, &sequence.delays, &mut problems);
                    check(sequence, name, &mut problems);
                }
                Some(_) => problems.push(format!("{name}: this provider scripts no statuses")),
                None => problems.push(format!(
                    "{name} is not a provider ({}) or \"rules\"",
                    names.join(", ")
                )),
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            check_rule(rule, &at, &mut problems);
            match checks.iter().find(|c| c.provider == rule.provider) {
                Some(c) => (c.check_rule)(rule, &at, &mut problems),
                None => problems.push(format!(
                    "{at}.provider {:?} is not one of {}",
                    rule.provider,
                    names.join(", ")
                )),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// What holds for a rule whatever its provider.
fn check_rule(rule: &Rule, at: &str, problems: &mut Vec<String>) {
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
        check_delays(&format!("{at}.then"), statuses, &delays, problems);
    }
    if rule
        .then
        .pay
        .as_ref()
        .is_some_and(|p| p.amount.is_some_and(|a| a <= 0))
    {
        problems.push(format!("{at}.then.pay.amount must be positive"));
    }
    if let Some(status) = rule.then.reject.as_ref().and_then(|r| r.http_status)
        && !(400..600).contains(&status)
    {
        problems.push(format!("{at}.then.reject.http_status must be 4xx or 5xx"));
    }
}

/// Delays, when given, are one per status.
fn check_delays(at: &str, statuses: &[String], delays: &[Span], problems: &mut Vec<String>) {
    if !delays.is_empty() && delays.len() != statuses.len() {
        problems.push(format!(
            "{at}.delays has {} entries for {} statuses",
            delays.len(),
            statuses.len()
        ));
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
            && self.fields_hold(facts)
    }

    /// Every `fields` pattern matches the body (a body given only as text is parsed here).
    fn fields_hold(&self, facts: &Facts<'_>) -> bool {
        if self.fields.is_empty() {
            return true;
        }
        let parsed: Option<Value> = match (facts.body, facts.text) {
            (None, Some(text)) => serde_json::from_str(text).ok(),
            _ => None,
        };
        let body = facts.body.or(parsed.as_ref());
        self.fields.iter().all(|(pointer, pattern)| {
            body.and_then(|b| b.pointer(pointer)).is_some_and(|v| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                glob(pattern, &text)
            })
        })
    }
}

/// The statuses to report for a message, with their delays in milliseconds, and the rule that
/// chose them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub steps: Vec<(String, i64)>,
    pub error: Option<ErrorSpec>,
    pub reject: Option<ErrorSpec>,
    pub rule: Option<String>,
}

/// The live scenario: replaced as a whole by `PUT /__sandbox/scenario`, restored by reset.
#[derive(Debug)]
pub(crate) struct Scenario {
    initial: ScenarioConfig,
    current: RwLock<ScenarioConfig>,
}

impl Scenario {
    /// The scenario of `config`, with each provider's default sequence where it names none;
    /// `fast` (the fast test profile) drops the default sequences' delays, so their statuses
    /// follow each other at once, in order.
    pub(crate) fn new(mut config: ScenarioConfig, checks: &[RuleChecks], fast: bool) -> Self {
        for c in checks {
            if let Some(default) = c.default_sequence {
                config
                    .sequences
                    .entry(c.provider.to_string())
                    .or_insert_with(|| {
                        let mut sequence = default();
                        if fast {
                            sequence.delays.clear();
                        }
                        sequence
                    });
            }
        }
        Self {
            current: RwLock::new(config.clone()),
            initial: config,
        }
    }

    pub(crate) fn get(&self) -> ScenarioConfig {
        self.current.read().clone()
    }

    /// Replaces the scenario; a provider the new one names no sequence for keeps its default.
    pub(crate) fn replace(&self, mut config: ScenarioConfig) {
        for (name, sequence) in &self.initial.sequences {
            config
                .sequences
                .entry(name.clone())
                .or_insert_with(|| sequence.clone());
        }
        *self.current.write() = config;
    }

    pub(crate) fn reset(&self) {
        *self.current.write() = self.initial.clone();
    }

    /// The first rule for `provider` that matches, if any.
    pub(crate) fn matching(&self, provider: &str, facts: &Facts<'_>) -> Option<Rule> {
        self.current
            .read()
            .rules
            .iter()
            .find(|r| r.provider == provider && r.when.holds(facts))
            .cloned()
    }

    /// The statuses `provider` reports for a request with these facts: the first matching
    /// rule's, else the provider's sequence.
    pub(crate) fn plan(&self, provider: &str, facts: &Facts<'_>) -> Plan {
        let defaults = self
            .current
            .read()
            .sequences
            .get(provider)
            .cloned()
            .unwrap_or_default();
        let rule = self.matching(provider, facts);
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

    /// A provider for these tests: it scripts four statuses, `failed` last.
    fn check_statuses(statuses: &[String], at: &str, problems: &mut Vec<String>) {
        for (i, s) in statuses.iter().enumerate() {
            if !["sent", "delivered", "read", "failed"].contains(&s.as_str()) {
                problems.push(format!("{at}.statuses[{i}] {s:?} is not a status"));
            }
            if s == "failed" && i + 1 != statuses.len() {
                problems.push(format!("{at}.statuses: failed must be the last status"));
            }
        }
    }

    const CHAT: RuleChecks = RuleChecks {
        provider: "chat",
        check_rule: |rule, at, problems| {
            if let Some(statuses) = &rule.then.statuses {
                check_statuses(statuses, &format!("{at}.then"), problems);
            }
        },
        check_sequence: Some(|sequence, at, problems| {
            check_statuses(&sequence.statuses, at, problems);
        }),
        default_sequence: Some(|| Sequence {
            statuses: vec!["sent".into(), "delivered".into(), "read".into()],
            delays: ["200ms", "600ms", "1500ms"]
                .iter()
                .map(|d| serde_json::from_value(serde_json::json!(d)).unwrap())
                .collect(),
        }),
    };

    fn scenario(text: &str) -> Scenario {
        let cfg = ScenarioConfig::from_toml(text).unwrap();
        cfg.validate(&[CHAT]).unwrap();
        Scenario::new(cfg, &[CHAT], false)
    }

    #[test]
    fn the_default_plan_is_the_providers_sequence() {
        let s = Scenario::new(ScenarioConfig::default(), &[CHAT], false);
        let plan = s.plan("chat", &Facts::default());
        assert_eq!(
            plan.steps,
            vec![
                ("sent".into(), 200),
                ("delivered".into(), 600),
                ("read".into(), 1500)
            ]
        );
        assert!(plan.error.is_none() && plan.rule.is_none());
        assert!(s.plan("other", &Facts::default()).steps.is_empty());
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let s = scenario(
            r#"
            [[rules]]
            name = "unreachable"
            provider = "chat"
            match = { to = "*0000" }
            then = { statuses = ["sent", "failed"], delays = ["100ms", "1s"], error = { code = 131026 } }
            [[rules]]
            name = "big orders"
            provider = "chat"
            match = { amount_min = 100000, payment_type = "payment_link" }
            then = { statuses = ["sent"] }
            "#,
        );
        let facts = Facts {
            to: Some("+1 555 000 0000"),
            ..Default::default()
        };
        let plan = s.plan("chat", &facts);
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
        let plan = s.plan("chat", &facts);
        assert_eq!(plan.rule.as_deref(), Some("big orders"));
        assert_eq!(plan.steps, vec![("sent".into(), 200)]);
    }

    #[test]
    fn field_rules_match_by_pointer() {
        let s = scenario(
            r#"
            [[rules]]
            provider = "chat"
            match = { fields = { "/interactive/action/parameters/order/type" = "quick_*" } }
            then = { statuses = ["read"] }
            "#,
        );
        let body = serde_json::json!({"interactive": {"action": {"parameters": {"order": {"type": "quick_pay"}}}}});
        let plan = s.plan(
            "chat",
            &Facts {
                body: Some(&body),
                ..Default::default()
            },
        );
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(s.plan("chat", &Facts::default()).steps.len(), 3);
        // A body given only as text (read typed, never as a tree) matches the same way.
        let text = body.to_string();
        let facts = Facts {
            text: Some(&text),
            ..Default::default()
        };
        assert_eq!(s.plan("chat", &facts).steps.len(), 1);
        let other = text.replace("quick_pay", "catalog");
        let facts = Facts {
            text: Some(&other),
            ..Default::default()
        };
        assert_eq!(s.plan("chat", &facts).steps.len(), 3);
    }

    #[test]
    fn bad_scenarios_list_every_problem() {
        let cfg = ScenarioConfig::from_toml(
            r#"
            [chat]
            statuses = ["lost"]
            [fax]
            statuses = []
            [[rules]]
            provider = "chat"
            match = { to = "", fields = { "no-slash" = "x" } }
            then = { statuses = ["failed", "sent", "lost"], delays = ["1s"] }
            [[rules]]
            provider = "fax"
            then = {}
            "#,
        )
        .unwrap();
        let problems = cfg.validate(&[CHAT]).unwrap_err();
        assert_eq!(problems.len(), 8, "{problems:#?}");
    }

    #[test]
    fn replace_keeps_defaults_and_reset_restores() {
        let s = Scenario::new(ScenarioConfig::default(), &[CHAT], false);
        let mut cfg = ScenarioConfig::default();
        cfg.rules.push(Rule {
            name: None,
            provider: "chat".into(),
            when: Match::default(),
            then: Outcome {
                statuses: Some(vec!["sent".into()]),
                ..Outcome::default()
            },
        });
        s.replace(cfg);
        assert_eq!(
            s.plan("chat", &Facts::default()).steps,
            vec![("sent".into(), 200)]
        );
        assert_eq!(s.get().sequences["chat"].statuses.len(), 3);
        s.reset();
        assert!(s.get().rules.is_empty());
    }
}
