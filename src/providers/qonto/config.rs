//! The `[qonto]` section of the configuration and the Qonto command-line flags: the
//! organizations (API key, OAuth tokens, bank accounts, enabled methods, connection), the
//! payment-link behaviour, and the checks that report every problem at once.

use serde::{Deserialize, Serialize};

pub use super::model::Method;
use crate::clock::Span;

/// The provider's section: `[qonto]`.
pub type Section = QontoConfig;
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
    /// How long Qonto waits for a webhook receiver's answer before counting the attempt failed
    /// and retrying (Qonto documents 1 second).
    pub webhook_timeout: Span,
    /// What an `X-Qonto-Idempotency-Key` sent again with a different body gets.
    pub idempotency_reuse: IdempotencyReuse,
    pub organizations: Vec<QontoOrganization>,
    /// OAuth clients that may use `/qonto/oauth2` (one by default).
    pub oauth_clients: Vec<super::oauth::OAuthClient>,
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
            webhook_timeout: Span(std::time::Duration::from_secs(1)),
            idempotency_reuse: IdempotencyReuse::Reject,
            organizations: vec![QontoOrganization::default()],
            oauth_clients: vec![super::oauth::OAuthClient::default()],
        }
    }
}

/// One Qonto organization: its API key, OAuth tokens, bank accounts and payment-link settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QontoOrganization {
    /// The organization slug, the `<login>` of `Authorization: <login>:<secret-key>`.
    pub login: String,
    /// The organization's name as its customers see it on the checkout.
    pub display_name: String,
    pub secret_key: String,
    pub organization_id: String,
    pub membership_id: String,
    pub bank_account_ids: Vec<String>,
    /// OAuth bearer tokens and their scopes.
    pub tokens: Vec<QontoToken>,
    /// Methods the organization enabled at the provider (`credit_card`, `apple_pay`, `paypal`,
    /// `ideal`).
    pub enabled_methods: Vec<Method>,
    /// Connection status at start: `enabled` (ready to create links) or `not_connected`.
    pub connection: StartConnection,
}

/// Where an organization's connection to the payment-links provider stands at start-up.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StartConnection {
    /// Connected: links can be created at once.
    #[default]
    Enabled,
    /// Never connected: walk the connection flow first.
    NotConnected,
}

impl Default for QontoOrganization {
    fn default() -> Self {
        Self {
            login: "paylink-sandbox-org-7132".into(),
            display_name: "Paylink Sandbox Studio".into(),
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
            enabled_methods: Method::ALL.to_vec(),
            connection: StartConnection::Enabled,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct QontoToken {
    pub token: String,
    pub scopes: Vec<String>,
}

impl crate::provider::Section for QontoConfig {
    fn fast(&mut self) {
        if self.settlement_delay == Self::default().settlement_delay {
            self.settlement_delay = Span(std::time::Duration::ZERO);
        }
    }

    fn validate(&self, problems: &mut Vec<String>) {
        let mut seen_logins = std::collections::HashSet::new();
        if self.organizations.is_empty() {
            problems.push("qonto.organizations must list at least one organization".to_string());
        }
        for (i, o) in self.organizations.iter().enumerate() {
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
            for t in &o.tokens {
                for s in &t.scopes {
                    if !["payment_link.read", "payment_link.write", "webhook"].contains(&s.as_str())
                    {
                        problems.push(format!("{at}.tokens: unknown scope {s:?}"));
                    }
                }
            }
        }
    }

    fn webhook_urls(&self) -> Vec<String> {
        Vec::new()
    }

    fn banner(&self, base: &str) -> String {
        self.organizations
            .iter()
            .map(|o| {
                let token = o.tokens.first().map(|t| t.token.as_str()).unwrap_or("");
                format!(
                    "  qonto     {base}/qonto/v2  (payment links)  Authorization: {}:{}  or  Bearer {token}\n",
                    o.login, o.secret_key
                )
            })
            .collect()
    }
}

/// The Qonto flag: the staging token its sandbox requires.
#[derive(Debug, Default, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Require this `X-Qonto-Staging-Token` on every Qonto request, as Qonto's sandbox does.
    #[arg(long, env = "PAYLINK_SANDBOX_QONTO_STAGING_TOKEN")]
    pub qonto_staging_token: Option<String>,
}

impl Flags {
    pub(crate) fn apply(&self, section: &mut Section) {
        if let Some(token) = &self.qonto_staging_token {
            section.staging_token = Some(token.clone());
        }
    }
}
