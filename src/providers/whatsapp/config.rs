//! The `[whatsapp]` section of the configuration and the WhatsApp command-line flags: the app
//! (id, secret, default callback), the businesses (phone number, WABA, token, payment
//! configurations), and the checks that report every problem at once.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::rules;
use crate::http::is_http_url;
use crate::provider::OfflineReport;
use crate::schema::Schemas;

/// The provider's section: `[whatsapp]`.
pub type Section = WhatsAppConfig;

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
    /// Meta's customer-service window: a free-form or interactive message to a customer who has
    /// not written in the last 24 hours (on the sandbox clock) is accepted and then fails with
    /// 131047. Templates are always allowed. Set false for suites that do not care.
    pub customer_service_window: bool,
    /// The message templates every business starts with (`[[whatsapp.templates]]`); the
    /// embedded defaults are `hello_world`, `order_confirmation`, `order_reminder`,
    /// `payment_confirmation` and `order_shipped`, all `en_US` and `APPROVED`.
    pub templates: Vec<Template>,
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
            customer_service_window: true,
            templates: default_templates(),
            businesses: vec![BusinessConfig::default()],
        }
    }
}

/// One template translation, as Graph lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED` or `DISABLED`.
    pub status: String,
    /// Graph's component objects (`HEADER` with a `format`, `BODY`, `FOOTER`, `BUTTONS`), each
    /// `text` with `{{1}}`-style placeholders.
    pub components: Vec<Value>,
    /// Derived from the name and language when the sandbox starts; drawn when one is created.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
}

impl Default for Template {
    fn default() -> Self {
        Self {
            name: String::new(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            components: Vec::new(),
            id: String::new(),
        }
    }
}

fn body(text: &str) -> Value {
    json!({"type": "BODY", "text": text})
}

/// The embedded templates every business starts with.
pub(crate) fn default_templates() -> Vec<Template> {
    let t = |name: &str, category: &str, components: Vec<Value>| Template {
        name: name.into(),
        category: category.into(),
        components,
        ..Template::default()
    };
    vec![
        t(
            "hello_world",
            "UTILITY",
            vec![
                json!({"type": "HEADER", "format": "TEXT", "text": "Hello World"}),
                body("Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API."),
            ],
        ),
        t(
            "order_confirmation",
            "UTILITY",
            vec![body("Thank you! Your order {{1}} is confirmed.")],
        ),
        t(
            "order_reminder",
            "UTILITY",
            vec![
                body("Hi {{1}}, your order {{2}} is waiting for payment. Tap below to pay."),
                json!({"type": "FOOTER", "text": "Reply STOP to opt out"}),
            ],
        ),
        t(
            "payment_confirmation",
            "UTILITY",
            vec![body("Thank you {{1}}! We received {{2}} for order {{3}}.")],
        ),
        t(
            "order_shipped",
            "UTILITY",
            vec![
                json!({"type": "HEADER", "format": "IMAGE"}),
                body("Good news: order {{1}} is on its way."),
            ],
        ),
    ]
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


impl crate::provider::Section for WhatsAppConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        let wa = self;
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
    }

    fn webhook_urls(&self) -> Vec<String> {
        self.callback_url
            .iter()
            .chain(self.businesses.iter().filter_map(|b| b.callback_url.as_ref()))
            .cloned()
            .collect()
    }

    fn banner(&self, base: &str) -> String {
        let mut out = format!(
            "  whatsapp  {base}/whatsapp  (Graph base URL; POST {base}/whatsapp/{}/<phone_number_id>/messages)\n",
            self.api_version
        );
        for b in &self.businesses {
            out.push_str(&format!(
                "            access token {}  phone number id {}  WABA id {}  app secret {}  verify token {}\n",
                b.access_token, b.phone_number_id, b.waba_id, b.app_secret, b.verify_token
            ));
        }
        out
    }

    /// Every body is read as a WhatsApp message, with the stateless rules of the live endpoint.
    fn check_offline(
        &self,
        schemas: &Schemas,
        body: &mut serde_json::Value,
        now_secs: i64,
    ) -> Option<OfflineReport> {
        let names: Vec<String> = self
            .businesses
            .iter()
            .flat_map(|b| {
                b.payment_configurations
                    .iter()
                    .map(|p| p.configuration_name.clone())
            })
            .collect();
        let ctx = super::checked::Context {
            now_secs,
            require_messaging_product: self.require_messaging_product,
            configuration_names: Some(&names),
        };
        let checked = rules::check(schemas, body, &ctx);
        let code = (!checked.violations.is_empty()).then(|| {
            super::error::GraphError::Validation(checked.violations.clone())
                .code()
                .to_string()
        });
        Some(OfflineReport {
            kind: format!("whatsapp {}", checked.kind),
            violations: checked.violations,
            warnings: checked.warnings,
            code,
        })
    }
}

/// The WhatsApp flags: the app's callback URL, verify token and secret.
#[derive(Debug, Default, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Where WhatsApp webhooks go (the app-level callback URL).
    #[arg(long, env = "PAYLINK_SANDBOX_WHATSAPP_CALLBACK_URL")]
    pub whatsapp_callback_url: Option<String>,
    /// The verify token the WhatsApp handshake sends (every configured business).
    #[arg(long, env = "PAYLINK_SANDBOX_WHATSAPP_VERIFY_TOKEN")]
    pub whatsapp_verify_token: Option<String>,
    /// The app secret that signs WhatsApp webhooks (the app and every configured business).
    #[arg(long, env = "PAYLINK_SANDBOX_WHATSAPP_APP_SECRET")]
    pub whatsapp_app_secret: Option<String>,
}

impl Flags {
    pub(crate) fn apply(&self, section: &mut Section) {
        if let Some(url) = &self.whatsapp_callback_url {
            section.callback_url = Some(url.clone());
        }
        if let Some(token) = &self.whatsapp_verify_token {
            for b in &mut section.businesses {
                b.verify_token = token.clone();
            }
        }
        if let Some(secret) = &self.whatsapp_app_secret {
            section.app_secret = secret.clone();
            for b in &mut section.businesses {
                b.app_secret = secret.clone();
            }
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `v23.0`-style Graph version.
pub(crate) fn is_graph_version(s: &str) -> bool {
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
    fn graph_versions_are_recognised() {
        assert!(is_graph_version("v23.0"));
        assert!(is_graph_version("v17"));
        assert!(!is_graph_version("23.0"));
        assert!(!is_graph_version("vX.0"));
        assert!(!is_graph_version("v23."));
    }
}
