//! The `[razorpay]` section of the configuration and the gateway's command-line flags: the
//! accounts (key pair, merchant name, webhook) and the checks that report every problem at once.

use serde::{Deserialize, Serialize};

use crate::http::is_http_url;

/// The provider's section: `[razorpay]`.
pub type Section = RazorpayConfig;

/// The payment-links gateway (Razorpay's API shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RazorpayConfig {
    /// Allow `upi_link: true` with `rzp_test_` keys (the real API refuses it in test mode).
    pub upi_links_in_test_mode: bool,
    /// How long the gateway waits for a webhook receiver's answer (Razorpay documents 5 seconds).
    pub webhook_timeout: crate::clock::Span,
    pub accounts: Vec<RazorpayAccount>,
}

impl Default for RazorpayConfig {
    fn default() -> Self {
        Self {
            upi_links_in_test_mode: false,
            webhook_timeout: crate::clock::Span(std::time::Duration::from_secs(5)),
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
    /// The account's payment capture setting: `true` (the gateway's default) captures every
    /// authorized payment at once; `false` keeps payments `authorized` until
    /// `POST /v1/payments/{id}/capture`.
    pub auto_capture: bool,
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
            auto_capture: true,
        }
    }
}

impl crate::provider::Section for RazorpayConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        let rz = self;
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
    }

    fn webhook_urls(&self) -> Vec<String> {
        self.accounts
            .iter()
            .filter_map(|a| a.webhook_url.clone())
            .collect()
    }

    fn banner(&self, base: &str) -> String {
        self.accounts
            .iter()
            .map(|a| {
                format!(
                    "  razorpay  {base}/razorpay  (payment links; SDK base_url)  key_id {}  key_secret {}  webhook secret {}\n",
                    a.key_id, a.key_secret, a.webhook_secret
                )
            })
            .collect()
    }
}

/// The gateway flags: where the first account's webhooks go and what signs them.
#[derive(Debug, Default, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Where payment-link gateway webhooks go (the first configured account).
    #[arg(long, env = "PAYLINK_SANDBOX_RAZORPAY_WEBHOOK_URL")]
    pub razorpay_webhook_url: Option<String>,
    /// The secret that signs `X-Razorpay-Signature` (the first configured account).
    #[arg(long, env = "PAYLINK_SANDBOX_RAZORPAY_WEBHOOK_SECRET")]
    pub razorpay_webhook_secret: Option<String>,
}

impl Flags {
    pub(crate) fn apply(&self, section: &mut Section) {
        if let Some(account) = section.accounts.first_mut() {
            if let Some(url) = &self.razorpay_webhook_url {
                account.webhook_url = Some(url.clone());
            }
            if let Some(secret) = &self.razorpay_webhook_secret {
                account.webhook_secret = secret.clone();
            }
        }
    }
}
