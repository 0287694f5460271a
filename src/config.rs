//! The sandbox's configuration: embedded defaults, overlaid by an optional TOML file, overlaid by
//! command-line flags (each of which is also a `PAYLINK_SANDBOX_*` environment variable).
//!
//! Every default is chosen so that `cargo run --release` with no file serves all providers with
//! working test credentials. [`Config::validate`] reports every problem in a file at once.

use std::{net::IpAddr, path::Path};

use serde::{Deserialize, Serialize};

use crate::clock::Span;

/// The whole configuration. Unknown keys in a file are errors, so a typo never goes unnoticed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seeds every id and random choice; `None` draws one at start-up and prints it.
    pub seed: Option<u64>,
    pub server: ServerConfig,
    pub clock: ClockConfig,
    pub webhooks: WebhooksConfig,
    pub whatsapp: WhatsAppConfig,
    pub razorpay: RazorpayConfig,
    pub qonto: QontoConfig,
    pub scenario: crate::scenario::ScenarioConfig,
    pub faults: crate::faults::FaultConfig,
}

/// Qonto's `/v2/payment_links` routes and webhooks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QontoConfig {
    /// Answer `GET /v2/payment_links/{id}` as `{"payment_link": {...}}` (what clients parse) rather
    /// than the bare object some doc revisions show.
    pub wrap_single_link: bool,
    /// When set, every API request must carry this `X-Qonto-Staging-Token`, as Qonto's sandbox
    /// requires.
    pub staging_token: Option<String>,
    /// How long after a payment is paid the link moves from `processing` to `paid`.
    pub settlement_delay: Span,
    /// Expiry of a new link, counted from its creation.
    pub link_lifetime: Span,
    /// What an `X-Qonto-Idempotency-Key` sent again with a different body gets.
    pub idempotency_reuse: IdempotencyReuse,
    pub organizations: Vec<QontoOrganization>,
}

/// The answer to an idempotency key reused with a different request body.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyReuse {
    /// 422 `idempotency_key_reused`: the client has a bug worth hearing about.
    #[default]
    Reject,
    /// The first answer again, as Qonto's documentation says production does.
    Replay,
}

impl Default for QontoConfig {
    fn default() -> Self {
        Self {
            wrap_single_link: true,
            staging_token: None,
            settlement_delay: Span(std::time::Duration::from_secs(1)),
            link_lifetime: Span(std::time::Duration::from_secs(30 * 86_400)),
            idempotency_reuse: IdempotencyReuse::Reject,
            organizations: vec![QontoOrganization::default()],
        }
    }
}

/// One Qonto organization: its API key, OAuth tokens, bank accounts and payment-link settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QontoOrganization {
    /// The organization slug, the `<login>` of `Authorization: <login>:<secret-key>`.
    pub login: String,
    pub secret_key: String,
    pub organization_id: String,
    pub membership_id: String,
    pub bank_account_ids: Vec<String>,
    /// OAuth bearer tokens and their scopes.
    pub tokens: Vec<QontoToken>,
    /// Methods the organization enabled at the provider (`credit_card`, `apple_pay`, `paypal`,
    /// `ideal`).
    pub enabled_methods: Vec<String>,
    /// Connection status at start: `enabled` (ready to create links) or `not_connected`.
    pub connection: String,
}

impl Default for QontoOrganization {
    fn default() -> Self {
        Self {
            login: "paylink-sandbox-org-7132".into(),
            secret_key: "paylinkSandboxQontoSecretKey0001".into(),
            organization_id: "0199a1c2-7d3e-7f00-9a11-5a0d1b0c0001".into(),
            membership_id: "0199a1c2-7d3e-7f00-9a11-5a0d1b0c0002".into(),
            bank_account_ids: vec!["46e9e0d2-f1af-4d2e-a6be-a536a604b89e".into()],
            tokens: vec![
                QontoToken {
                    token: "qonto_sandbox_oauth_token_0001".into(),
                    scopes: vec![
                        "payment_link.read".into(),
                        "payment_link.write".into(),
                        "webhook".into(),
                    ],
                },
                QontoToken {
                    token: "qonto_sandbox_readonly_token_0001".into(),
                    scopes: vec!["payment_link.read".into()],
                },
            ],
            enabled_methods: vec![
                "credit_card".into(),
                "apple_pay".into(),
                "paypal".into(),
                "ideal".into(),
            ],
            connection: "enabled".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct QontoToken {
    pub token: String,
    pub scopes: Vec<String>,
}

/// The payment-links gateway (Razorpay's API shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RazorpayConfig {
    /// Allow `upi_link: true` with `rzp_test_` keys (the real API refuses it in test mode).
    pub upi_links_in_test_mode: bool,
    pub accounts: Vec<RazorpayAccount>,
}

impl Default for RazorpayConfig {
    fn default() -> Self {
        Self {
            upi_links_in_test_mode: false,
            accounts: vec![RazorpayAccount::default()],
        }
    }
}

/// One merchant account: its API key pair and its webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RazorpayAccount {
    pub key_id: String,
    pub key_secret: String,
    /// `acc_` id carried in webhook envelopes.
    pub account_id: String,
    /// Display name on the hosted checkout page.
    pub merchant_name: String,
    pub webhook_url: Option<String>,
    /// Signs `X-Razorpay-Signature` (a webhook secret, distinct from the key secret).
    pub webhook_secret: String,
}

impl Default for RazorpayAccount {
    fn default() -> Self {
        Self {
            key_id: "rzp_test_PaylinkSandbox01".into(),
            key_secret: "paylinkSandboxKeySecret01".into(),
            account_id: "acc_PaylinkSandbox01".into(),
            merchant_name: "Paylink Sandbox Store".into(),
            webhook_url: None,
            webhook_secret: "paylink-sandbox-webhook-secret".into(),
        }
    }
}

/// How the delivery engine retries and how long it waits for a receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Delay before each retry after a failed attempt; the list's length is the number of
    /// retries. Meta retries immediately, then less and less often over days; the default keeps
    /// that shape, compressed into about two and a half hours.
    pub retry_schedule: Vec<Span>,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Span,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        let s = |secs| Span(std::time::Duration::from_secs(secs));
        Self {
            retry_schedule: vec![s(0), s(10), s(60), s(300), s(1800), s(7200)],
            timeout: s(5),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: IpAddr,
    pub port: u16,
    /// The base URL the sandbox uses in links it hands out (hosted pages, short URLs). Defaults to
    /// `http://<bind>:<port>` with the port actually bound.
    pub public_url: Option<String>,
    /// How many requests, messages and deliveries each history keeps before dropping the oldest.
    pub history_limit: usize,
    /// How many orders or links each tenant keeps before dropping the oldest.
    pub store_limit: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub log_level: String,
    /// Treat unknown credentials as a new, empty tenant instead of refusing them, so parallel
    /// tests can each use their own and never see each other's state.
    pub accept_any_credentials: bool,
    /// Host names the sandbox answers to besides loopback, the bound address and the public
    /// URL's host (for containers and tunnels); `"*"` answers to any.
    pub allowed_hosts: Vec<String>,
    /// Origins whose pages may call the emulated APIs from a browser (CORS); `"*"` for any. The
    /// admin API is never opened to other origins.
    pub cors_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 5080,
            public_url: None,
            history_limit: 10_000,
            store_limit: 10_000,
            body_limit: 1024 * 1024,
            log_level: "info".into(),
            accept_any_credentials: false,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Start time as Unix seconds or RFC 3339; defaults to the wall clock at start-up.
    pub start: Option<String>,
    /// When true, time moves only through `POST /__sandbox/clock/advance`.
    pub frozen: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// The Graph version answered in `facebook-api-version` for unversioned calls.
    pub api_version: String,
    /// The app that owns the webhook subscription (`POST /{app_id}/subscriptions`).
    pub app_id: String,
    /// The app's secret: signs webhooks and forms the app access token `<app_id>|<app_secret>`.
    pub app_secret: String,
    /// Where webhooks go until a subscription call or a business override says otherwise.
    pub callback_url: Option<String>,
    /// Refuse messages without `messaging_product`, as Graph does. Meta's Brazil samples omit
    /// it; set false to accept them as written.
    pub require_messaging_product: bool,
    pub businesses: Vec<BusinessConfig>,
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        Self {
            api_version: "v23.0".into(),
            app_id: "1185200386128462".into(),
            app_secret: "paylink-sandbox-app-secret".into(),
            callback_url: None,
            require_messaging_product: true,
            businesses: vec![BusinessConfig::default()],
        }
    }
}

/// One business phone number and the credentials that act for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessConfig {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: String,
    pub access_token: String,
    /// Signs this business's webhooks (normally the app's secret).
    pub app_secret: String,
    pub verify_token: String,
    /// This business's own webhook URL, overriding the app-level one.
    pub callback_url: Option<String>,
    /// Names a `payment_gateway` setting may use as `configuration_name`.
    pub payment_configurations: Vec<PaymentConfiguration>,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        Self {
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            waba_id: "102290129340398".into(),
            access_token: "EAAPaylinkSandboxTestAccessToken0000".into(),
            app_secret: "paylink-sandbox-app-secret".into(),
            verify_token: "paylink-sandbox-verify-token".into(),
            callback_url: None,
            payment_configurations: vec![PaymentConfiguration::default()],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentConfiguration {
    pub configuration_name: String,
    /// `razorpay`, `payu`, `zaakpay`, `billdesk` or `upi_vpa`.
    pub provider_name: String,
}

impl Default for PaymentConfiguration {
    fn default() -> Self {
        Self {
            configuration_name: "razorpay-sandbox".into(),
            provider_name: "razorpay".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid configuration: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Reads a TOML file over the embedded defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem with the configuration, not only the first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.server.history_limit == 0 {
            problems.push("server.history_limit must be at least 1".to_string());
        }
        if self.server.store_limit == 0 {
            problems.push("server.store_limit must be at least 1".to_string());
        }
        if self.server.body_limit < 1024 {
            problems.push("server.body_limit must be at least 1024 bytes".to_string());
        }
        if let Some(url) = &self.server.public_url
            && !is_http_url(url)
        {
            problems.push(format!(
                "server.public_url must start with http:// or https:// (got {url:?})"
            ));
        }
        for origin in &self.server.cors_origins {
            if origin != "*"
                && (!is_http_url(origin) || origin.trim_end_matches('/').matches('/').count() > 2)
            {
                problems.push(format!(
                    "server.cors_origins: {origin:?} is not an origin like https://app.example or *"
                ));
            }
        }
        for host in &self.server.allowed_hosts {
            if host.is_empty() || host.contains(['/', ' ', ':']) && host != "*" {
                problems.push(format!(
                    "server.allowed_hosts: {host:?} is not a host name (no scheme, port or path)"
                ));
            }
        }
        if let Some(start) = &self.clock.start
            && crate::clock::parse_instant(start).is_none()
        {
            problems.push(format!(
                "clock.start must be Unix seconds or RFC 3339 (got {start:?})"
            ));
        }
        if self.webhooks.timeout.0.is_zero() {
            problems.push("webhooks.timeout must be more than zero".to_string());
        }
        if let Err(faults) = self.faults.validate() {
            problems.extend(faults.into_iter().map(|p| format!("faults.{p}")));
        }
        if let Err(scenario) = self.scenario.validate() {
            problems.extend(scenario.into_iter().map(|p| format!("scenario.{p}")));
        }
        let wa = &self.whatsapp;
        for (at, url) in std::iter::once(("whatsapp.callback_url".to_string(), &wa.callback_url))
            .chain(wa.businesses.iter().enumerate().map(|(i, b)| {
                (
                    format!("whatsapp.businesses[{i}].callback_url"),
                    &b.callback_url,
                )
            }))
        {
            if let Some(url) = url
                && !is_http_url(url)
            {
                problems.push(format!(
                    "{at} must be an http:// or https:// URL (got {url:?})"
                ));
            }
        }
        let rz = &self.razorpay;
        if rz.accounts.is_empty() {
            problems.push("razorpay.accounts must list at least one account".to_string());
        }
        let mut seen_keys = std::collections::HashSet::new();
        for (i, a) in rz.accounts.iter().enumerate() {
            let at = format!("razorpay.accounts[{i}]");
            if !(a.key_id.starts_with("rzp_test_") || a.key_id.starts_with("rzp_live_"))
                || a.key_id.contains(':')
            {
                problems.push(format!(
                    "{at}.key_id must start with rzp_test_ or rzp_live_ and have no ':' (got {:?})",
                    a.key_id
                ));
            }
            if !seen_keys.insert(&a.key_id) {
                problems.push(format!("{at}.key_id {} is listed twice", a.key_id));
            }
            if a.key_secret.is_empty() || a.webhook_secret.is_empty() {
                problems.push(format!(
                    "{at}.key_secret and webhook_secret must not be empty"
                ));
            }
            if let Some(url) = &a.webhook_url
                && !is_http_url(url)
            {
                problems.push(format!(
                    "{at}.webhook_url must be an http:// or https:// URL (got {url:?})"
                ));
            }
        }
        let mut seen_logins = std::collections::HashSet::new();
        if self.qonto.organizations.is_empty() {
            problems.push("qonto.organizations must list at least one organization".to_string());
        }
        for (i, o) in self.qonto.organizations.iter().enumerate() {
            let at = format!("qonto.organizations[{i}]");
            if o.login.is_empty() || o.login.contains(':') || o.login.contains(char::is_whitespace)
            {
                problems.push(format!(
                    "{at}.login must be non-empty with no ':' or spaces"
                ));
            }
            if !seen_logins.insert(&o.login) {
                problems.push(format!("{at}.login {} is listed twice", o.login));
            }
            if o.secret_key.is_empty() {
                problems.push(format!("{at}.secret_key must not be empty"));
            }
            if !["enabled", "not_connected"].contains(&o.connection.as_str()) {
                problems.push(format!("{at}.connection must be enabled or not_connected"));
            }
            for m in &o.enabled_methods {
                if !["credit_card", "apple_pay", "paypal", "ideal"].contains(&m.as_str()) {
                    problems.push(format!(
                        "{at}.enabled_methods: {m:?} is not credit_card, apple_pay, paypal or ideal"
                    ));
                }
            }
            for t in &o.tokens {
                for s in &t.scopes {
                    if !["payment_link.read", "payment_link.write", "webhook"].contains(&s.as_str())
                    {
                        problems.push(format!("{at}.tokens: unknown scope {s:?}"));
                    }
                }
            }
        }
        if !is_graph_version(&wa.api_version) {
            problems.push(format!(
                "whatsapp.api_version must look like v23.0 (got {:?})",
                wa.api_version
            ));
        }
        if !is_digits(&wa.app_id) {
            problems.push(format!(
                "whatsapp.app_id must be digits (got {:?})",
                wa.app_id
            ));
        }
        if wa.businesses.is_empty() {
            problems.push("whatsapp.businesses must list at least one business".to_string());
        }
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_tokens = std::collections::HashSet::new();
        for (i, b) in wa.businesses.iter().enumerate() {
            let at = format!("whatsapp.businesses[{i}]");
            for (name, value) in [
                ("phone_number_id", &b.phone_number_id),
                ("display_phone_number", &b.display_phone_number),
                ("waba_id", &b.waba_id),
            ] {
                if !is_digits(value) {
                    problems.push(format!("{at}.{name} must be digits (got {value:?})"));
                }
            }
            if !seen_ids.insert(&b.phone_number_id) {
                problems.push(format!(
                    "{at}.phone_number_id {} is listed twice",
                    b.phone_number_id
                ));
            }
            if b.access_token.is_empty()
                || !b
                    .access_token
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
            {
                problems.push(format!(
                    "{at}.access_token must be non-empty and use only letters, digits, '-', '_' and '.'"
                ));
            }
            if !seen_tokens.insert(&b.access_token) {
                problems.push(format!("{at}.access_token is shared with another business"));
            }
            if b.app_secret.is_empty() {
                problems.push(format!("{at}.app_secret must not be empty"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The start of the sandbox clock in milliseconds, if configured.
    pub fn clock_start_ms(&self) -> Option<i64> {
        self.clock
            .start
            .as_deref()
            .and_then(crate::clock::parse_instant)
    }
}

/// An absolute `http://` or `https://` URL with a host.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `v23.0`-style Graph version.
pub fn is_graph_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next();
    is_digits(major) && major.len() <= 3 && minor.is_none_or(|m| is_digits(m) && m.len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid() {
        Config::default().validate().expect("defaults validate");
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let cfg = Config::from_toml(
            r#"
            seed = 42
            [server]
            port = 6000
            [[whatsapp.businesses]]
            phone_number_id = "111"
            access_token = "tok-a"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.seed, Some(42));
        assert_eq!(cfg.server.port, 6000);
        assert_eq!(cfg.server.history_limit, 10_000);
        assert_eq!(cfg.whatsapp.businesses.len(), 1);
        assert_eq!(cfg.whatsapp.businesses[0].phone_number_id, "111");
        assert_eq!(cfg.whatsapp.businesses[0].waba_id, "102290129340398");
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::from_toml("[server]\nprot = 1\n").unwrap_err();
        assert!(err.contains("prot"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut cfg = Config::default();
        cfg.server.history_limit = 0;
        cfg.whatsapp.api_version = "23".into();
        cfg.whatsapp
            .businesses
            .push(cfg.whatsapp.businesses[0].clone());
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn graph_versions_are_recognised() {
        assert!(is_graph_version("v23.0"));
        assert!(is_graph_version("v17"));
        assert!(!is_graph_version("23.0"));
        assert!(!is_graph_version("vX.0"));
        assert!(!is_graph_version("v23."));
    }
}
