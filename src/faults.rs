//! Fault injection: added latency and vendor errors on requests, and duplicated, reordered or
//! dropped webhooks, per provider and per route. Rules come from the `[faults]` section of the
//! configuration and `PUT /__sandbox/faults`; every random draw comes from the seeded stream, so
//! the same seed and request sequence inject the same faults.
//!
//! ```toml
//! [[requests]]
//! provider = "whatsapp"
//! path = "/whatsapp/*/messages"   # glob on the request path; omit for every route
//! latency = ["20ms", "120ms"]     # fixed ("50ms") or a range
//! error_rate = 0.1                # this share of matching requests fails ...
//! error = "rate_limit"            # ... with the vendor's rate-limit error (or server_error, unavailable)
//!
//! [[webhooks]]
//! provider = "razorpay"
//! duplicate_rate = 0.2            # delivered twice, same event id
//! drop_rate = 0.1                 # first attempt lost; delivered by a retry
//! reorder_window = "2s"           # random extra delay, so deliveries overtake each other
//! ```

use std::time::Duration;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use crate::clock::Span;
use crate::ids::Ids;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    pub requests: Vec<RequestFault>,
    pub webhooks: Vec<WebhookFault>,
}

/// Which vendor error an injected failure answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultError {
    /// WhatsApp 130429, the gateway's 429, Qonto's 429 with `Retry-After`.
    #[default]
    RateLimit,
    /// WhatsApp 131000 (500), the gateway's 500, Qonto's 500.
    ServerError,
    /// WhatsApp 131016 (503), the gateway's 503, Qonto's 503.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Latency {
    Fixed(Span),
    Range([Span; 2]),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFault {
    /// The provider's name (`whatsapp`, `razorpay`, `qonto`).
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Glob on the full request path (`/razorpay/v1/payment_links*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Glob on the tenant (phone number id, key id, organization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub error: FaultError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFault {
    pub provider: String,
    /// Glob on the event name (`statuses.*`, `payment_link.paid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default)]
    pub duplicate_rate: f64,
    #[serde(default)]
    pub drop_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder_window: Option<Span>,
}

/// What to do to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestDecision {
    pub latency: Option<Duration>,
    pub error: Option<FaultError>,
}

impl RequestDecision {
    /// A short description for the journal.
    pub(crate) fn label(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(l) = self.latency {
            parts.push(format!("latency {}ms", l.as_millis()));
        }
        if let Some(e) = self.error {
            parts.push(format!("{e:?}").to_lowercase());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// What to do to one webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WebhookDecision {
    pub duplicate: bool,
    pub drop_first: bool,
    pub extra_delay_ms: i64,
}

fn rate_ok(r: f64) -> bool {
    (0.0..=1.0).contains(&r)
}

impl FaultConfig {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem, not only the first; `providers` are the names a rule may aim at.
    pub(crate) fn validate(&self, providers: &[&str]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let known = |at: String, p: &str, problems: &mut Vec<String>| {
            if !providers.contains(&p) {
                problems.push(format!(
                    "{at}.provider {p:?} is not one of {}",
                    providers.join(", ")
                ));
            }
        };
        for (i, f) in self.requests.iter().enumerate() {
            known(format!("requests[{i}]"), &f.provider, &mut problems);
            if !rate_ok(f.error_rate) {
                problems.push(format!("requests[{i}].error_rate must be between 0 and 1"));
            }
            if let Some(Latency::Range([a, b])) = &f.latency
                && a.0 > b.0
            {
                problems.push(format!(
                    "requests[{i}].latency range must go from low to high"
                ));
            }
            if f.latency.as_ref().is_some_and(|l| match l {
                Latency::Fixed(s) => s.0 > Duration::from_secs(60),
                Latency::Range([_, b]) => b.0 > Duration::from_secs(60),
            }) {
                problems.push(format!("requests[{i}].latency must be at most 60s"));
            }
            if f.latency.is_none() && f.error_rate == 0.0 {
                problems.push(format!(
                    "requests[{i}] injects nothing: give latency or error_rate"
                ));
            }
        }
        for (i, f) in self.webhooks.iter().enumerate() {
            known(format!("webhooks[{i}]"), &f.provider, &mut problems);
            if !rate_ok(f.duplicate_rate) || !rate_ok(f.drop_rate) {
                problems.push(format!("webhooks[{i}]: rates must be between 0 and 1"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Milliseconds of a span that configuration has already checked is not negative.
fn non_negative(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

fn glob(pattern: &Option<String>, text: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => text.is_some_and(|t| WildMatch::new(p).matches(t)),
    }
}

#[derive(Debug)]
pub(crate) struct Faults {
    initial: FaultConfig,
    current: RwLock<FaultConfig>,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Self {
        Self {
            current: RwLock::new(config.clone()),
            initial: config,
        }
    }

    pub(crate) fn get(&self) -> FaultConfig {
        self.current.read().clone()
    }

    pub(crate) fn replace(
        &self,
        config: FaultConfig,
        providers: &[&str],
    ) -> Result<(), Vec<String>> {
        config.validate(providers)?;
        *self.current.write() = config;
        Ok(())
    }

    pub(crate) fn reset(&self) {
        *self.current.write() = self.initial.clone();
    }

    /// The first matching request rule decides. Draws from the seeded stream only when a rule
    /// matches, so a sandbox without faults consumes nothing.
    pub(crate) fn for_request(
        &self,
        provider: &str,
        method: &str,
        path: &str,
        tenant: Option<&str>,
        ids: &Ids,
    ) -> RequestDecision {
        let current = self.current.read();
        let Some(rule) = current.requests.iter().find(|f| {
            f.provider == provider
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && glob(&f.path, Some(path))
                && glob(&f.tenant, tenant)
        }) else {
            return RequestDecision::default();
        };
        let latency = rule.latency.as_ref().map(|l| match l {
            Latency::Fixed(s) => s.0,
            Latency::Range([a, b]) => {
                Duration::from_millis(ids.between(non_negative(a.as_ms()), non_negative(b.as_ms())))
            }
        });
        let error = (rule.error_rate > 0.0 && ids.unit() < rule.error_rate).then_some(rule.error);
        RequestDecision { latency, error }
    }

    pub(crate) fn for_webhook(
        &self,
        provider: &str,
        event: &str,
        tenant: &str,
        ids: &Ids,
    ) -> WebhookDecision {
        let current = self.current.read();
        let Some(rule) = current.webhooks.iter().find(|f| {
            f.provider == provider && glob(&f.event, Some(event)) && glob(&f.tenant, Some(tenant))
        }) else {
            return WebhookDecision::default();
        };
        WebhookDecision {
            duplicate: rule.duplicate_rate > 0.0 && ids.unit() < rule.duplicate_rate,
            drop_first: rule.drop_rate > 0.0 && ids.unit() < rule.drop_rate,
            extra_delay_ms: rule
                .reorder_window
                .map(|w| i64::try_from(ids.between(0, non_negative(w.as_ms()))).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDERS: &[&str] = &["whatsapp", "razorpay", "qonto"];

    #[test]
    fn faults_are_deterministic_under_a_seed() {
        let cfg = FaultConfig::from_toml(
            r#"
            [[requests]]
            provider = "whatsapp"
            path = "/whatsapp/*"
            latency = ["10ms", "20ms"]
            error_rate = 0.5
            [[webhooks]]
            provider = "razorpay"
            duplicate_rate = 0.5
            drop_rate = 0.5
            reorder_window = "1s"
            "#,
        )
        .unwrap();
        cfg.validate(PROVIDERS).unwrap();
        let run = || {
            let f = Faults::new(cfg.clone());
            let ids = Ids::new(9);
            (0..50)
                .map(|_| {
                    let r = f.for_request("whatsapp", "POST", "/whatsapp/1/messages", None, &ids);
                    let w = f.for_webhook("razorpay", "payment.captured", "k", &ids);
                    (r, w)
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let errors = a.iter().filter(|(r, _)| r.error.is_some()).count();
        assert!((10..40).contains(&errors), "about half fail: {errors}");
        assert!(a.iter().all(|(r, _)| {
            r.latency
                .is_some_and(|l| (10..=20).contains(&(l.as_millis() as u64)))
        }));
        assert!(a.iter().any(|(_, w)| w.duplicate) && a.iter().any(|(_, w)| w.drop_first));
    }

    #[test]
    fn unmatched_requests_draw_nothing() {
        let f = Faults::new(FaultConfig::default());
        let ids = Ids::new(1);
        assert_eq!(
            f.for_request("qonto", "GET", "/qonto/v2/x", None, &ids),
            RequestDecision::default()
        );
        assert_eq!(
            ids.alnum(8),
            Ids::new(1).alnum(8),
            "the seeded stream was not touched"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let cfg = FaultConfig::from_toml(
            "[[requests]]\nprovider = \"qonto\"\nerror_rate = 2.0\n[[requests]]\nprovider = \"qonto\"\n[[webhooks]]\nprovider = \"qonto\"\ndrop_rate = -1.0\n",
        )
        .unwrap();
        assert_eq!(cfg.validate(PROVIDERS).unwrap_err().len(), 3);
        let cfg =
            FaultConfig::from_toml("[[requests]]\nprovider = \"fax\"\nerror_rate = 1.0\n").unwrap();
        assert_eq!(cfg.validate(PROVIDERS).unwrap_err().len(), 1);
    }
}
