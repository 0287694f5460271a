//! Named events fired end to end (`paylink-sandbox trigger`, `POST /__sandbox/trigger`): each
//! provider lists what it can fire and does it the way a client would, through its own public API
//! over HTTP with its first (or the named) tenant's credentials, then as the customer through the
//! admin API. The calls are validated, journaled and shown by `listen` like any other, and the
//! webhooks that follow are the real ones.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::reply::AdminError;

/// One event a provider can fire.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Trigger {
    pub name: &'static str,
    /// What it does, in a line.
    pub about: &'static str,
}

/// What the caller may choose; each trigger says which it reads, and picks a fixture value for
/// the rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    pub provider: String,
    pub event: String,
    /// The tenant to act as (phone number id, key id, organization login).
    pub tenant: Option<String>,
    /// The customer's WhatsApp number.
    pub from: Option<String>,
    /// An inbound message's text.
    pub text: Option<String>,
    /// The order or link reference.
    pub reference: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
}

/// Credentials for one call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
    Header(&'a str, &'a str),
}

/// Makes the calls of a trigger against this sandbox, over loopback.
#[derive(Debug)]
pub(crate) struct Caller {
    base: String,
    http: reqwest::Client,
}

impl Caller {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// One call; a non-2xx answer is an error that names the step and quotes the answer.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> Result<Value, AdminError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, secret) => request.basic_auth(user, Some(secret)),
            Auth::Header(name, value) => request.header(name, value),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AdminError::conflict(format!("{method} {path} could not be sent: {e}")))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 300 {
            return Err(AdminError::conflict(format!(
                "{method} {path} answered {status}: {value}"
            )));
        }
        Ok(value)
    }
}
