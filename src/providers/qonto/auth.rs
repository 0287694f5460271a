//! Who a Qonto request acts as, decided once per request before any handler touches the store:
//! `Authorization: <login>:<secret-key>` (an API key, which reaches every payment-link route) or
//! `Authorization: Bearer <token>` (an OAuth token, limited to its scopes), and, when the sandbox
//! is configured with one, the `X-Qonto-Staging-Token` Qonto's sandbox requires.
//!
//! With `--accept-any-credentials`, unknown credentials become a fresh organization first (see
//! [`ensure_tenant`]); a known login with the wrong secret still fails.

use axum::http::{HeaderMap, header};

use super::error::QError;
use super::store::{Caller, Store};
use super::Qonto;
use super::config::{QontoOrganization, QontoToken};

/// The outcome of authenticating one request, kept in the request's extensions.
#[derive(Debug, Clone)]
pub(super) struct QontoAuth {
    /// Whether the staging token (when one is configured) came with the request.
    pub staging_ok: bool,
    pub caller: Result<Caller, QError>,
}

impl QontoAuth {
    /// The tenant the request is journaled under.
    pub(super) fn tenant(&self) -> Option<String> {
        self.caller.as_ref().ok().map(|c| c.login.clone())
    }
}

impl axum::extract::FromRequestParts<super::Q> for QontoAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::Q,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<QontoAuth>() {
            Some(auth) => auth.clone(),
            None => resolve(state, &parts.headers),
        })
    }
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The token of a `Bearer` header, whatever the case of the scheme word.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Checks the credentials against the organizations. One short lock on the store.
pub(super) fn resolve(q: &Qonto, headers: &HeaderMap) -> QontoAuth {
    let staging_ok = q
        .config
        .staging_token
        .as_ref()
        .is_none_or(|expected| {
            headers
                .get("x-qonto-staging-token")
                .and_then(|v| v.to_str().ok())
                == Some(expected.as_str())
        });
    let caller = check(&q.store.lock(), authorization(headers), q.ctx.clock.now_ms());
    QontoAuth { staging_ok, caller }
}

/// `<login>:<secret-key>` or `Bearer <token>` against `store`.
pub(super) fn check(
    store: &Store,
    header: Option<&str>,
    now: crate::clock::Millis,
) -> Result<Caller, QError> {
    let header = header.ok_or_else(QError::unauthorized)?;
    if let Some(token) = bearer(header) {
        let (login, scopes) = store.token(token, now).ok_or_else(QError::unauthorized)?;
        return Ok(Caller {
            login: login.to_string(),
            scopes: Some(scopes.to_vec()),
        });
    }
    let (login, secret) = header.split_once(':').ok_or_else(QError::unauthorized)?;
    match store.org(login) {
        Some(o) if o.config.secret_key == secret => Ok(Caller {
            login: login.to_string(),
            scopes: None,
        }),
        _ => Err(QError::unauthorized()),
    }
}

/// With `--accept-any-credentials`: an unknown API key or bearer token becomes a new
/// organization, connected and with every scope.
pub(super) fn ensure_tenant(q: &Qonto, headers: &HeaderMap) {
    let Some(header) = authorization(headers) else {
        return;
    };
    let digest =
        |seed: &str| crate::webhook::sign::hmac_sha256_hex(b"qonto-tenant", &[seed.as_bytes()]);
    let uuid = |h: &str| {
        let mut digest = [0u8; 32];
        // Invariant: `h` is the 64-digit hex of an HMAC-SHA256.
        hex::decode_to_slice(h, &mut digest).expect("an HMAC in hex");
        crate::ids::uuid_from_digest(&digest)
    };
    let mut store = q.store.lock();
    let org = if let Some(token) = bearer(header) {
        if token.is_empty()
            || token.starts_with("qonto_oauth_")
            || store.token(token, q.ctx.clock.now_ms()).is_some()
        {
            return;
        }
        let login = format!("tenant-{}", &digest(token)[..16]);
        if store.org(&login).is_some() {
            return;
        }
        let h = digest(&login);
        QontoOrganization {
            login,
            secret_key: h[..32].to_string(),
            organization_id: uuid(&h),
            membership_id: uuid(&digest(&h)),
            tokens: vec![QontoToken {
                token: token.to_string(),
                scopes: vec![
                    "payment_link.read".into(),
                    "payment_link.write".into(),
                    "webhook".into(),
                ],
            }],
            ..QontoOrganization::default()
        }
    } else if let Some((login, secret)) = header.split_once(':') {
        if login.is_empty()
            || secret.is_empty()
            || login.contains(char::is_whitespace)
            || store.org(login).is_some()
        {
            return;
        }
        let h = digest(login);
        QontoOrganization {
            login: login.to_string(),
            secret_key: secret.to_string(),
            organization_id: uuid(&h),
            membership_id: uuid(&digest(&h)),
            tokens: Vec::new(),
            ..QontoOrganization::default()
        }
    } else {
        return;
    };
    store.add_org(org, &q.ctx.base_url, &q.ctx.ids);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Ids;

    fn store() -> Store {
        Store::new(
            &crate::providers::qonto::config::QontoConfig::default(),
            (10, false),
            "http://x",
            &Ids::new(1),
        )
    }

    #[test]
    fn api_keys_and_bearer_tokens_authenticate() {
        let s = store();
        let org = QontoOrganization::default();
        let caller = check(&s, Some(&format!("{}:{}", org.login, org.secret_key)), 0).unwrap();
        assert_eq!(caller.scopes, None);
        let caller = check(&s, Some("Bearer qonto_sandbox_readonly_token_0001"), 0).unwrap();
        assert!(caller.require("payment_link.read").is_ok());
        assert_eq!(
            caller.require("payment_link.write").unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        let lower = check(&s, Some("bearer qonto_sandbox_readonly_token_0001"), 0).unwrap();
        assert_eq!(lower, caller);
        assert!(check(&s, Some("Bearer nope"), 0).is_err());
        assert!(check(&s, Some(&format!("{}:wrong", org.login)), 0).is_err());
        assert!(check(&s, None, 0).is_err());
        assert!(check(&s, Some("Basic abc"), 0).is_err());
    }
}
