//! Which account a gateway request acts for, decided once per request before any handler touches
//! the store: `Authorization: Basic base64(key_id:key_secret)`, with the scheme word exactly
//! `Basic`, as the gateway checks it.
//!
//! With `--accept-any-credentials`, an unknown `rzp_test_`/`rzp_live_` key with a secret becomes a
//! new, empty account first (see [`ensure_tenant`]); a known key with the wrong secret still fails.

use axum::http::{HeaderMap, header};

use super::error::RzError;
use super::Razorpay;
use super::config::RazorpayAccount;

/// The outcome of authenticating one request, kept in the request's extensions.
#[derive(Debug, Clone)]
pub(super) struct KeyAuth {
    pub key_id: Result<String, RzError>,
}

impl KeyAuth {
    /// The tenant the request is journaled under.
    pub(super) fn tenant(&self) -> Option<String> {
        self.key_id.as_ref().ok().cloned()
    }
}

impl axum::extract::FromRequestParts<super::Gw> for KeyAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::Gw,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<KeyAuth>() {
            Some(auth) => auth.clone(),
            None => resolve(state, &parts.headers),
        })
    }
}

/// Checks the key pair against the accounts. One short lock on the store.
pub(super) fn resolve(gw: &Razorpay, headers: &HeaderMap) -> KeyAuth {
    let key_id = credentials(headers).and_then(|(key_id, secret)| {
        let store = gw.store.lock();
        match store.account(&key_id) {
            Some(a) if a.config.key_secret == secret => Ok(key_id),
            _ => Err(RzError::InvalidKey),
        }
    });
    KeyAuth { key_id }
}

/// With `--accept-any-credentials`: an unknown key becomes a new account with that secret.
pub(super) fn ensure_tenant(gw: &Razorpay, headers: &HeaderMap) {
    let Ok((key_id, secret)) = credentials(headers) else {
        return;
    };
    if !(key_id.starts_with("rzp_test_") || key_id.starts_with("rzp_live_")) || secret.is_empty() {
        return;
    }
    let mut store = gw.store.lock();
    if store.account(&key_id).is_some() {
        return;
    }
    let digest = crate::webhook::sign::hmac_sha256_hex(b"account", &[key_id.as_bytes()]);
    store.add_account(RazorpayAccount {
        account_id: format!("acc_{}", &digest[..14]),
        merchant_name: format!("Sandbox tenant {key_id}"),
        key_id,
        key_secret: secret,
        ..RazorpayAccount::default()
    });
}

/// The key id and secret a request carries, whether or not an account has them.
pub(super) fn credentials(headers: &HeaderMap) -> Result<(String, String), RzError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or(RzError::MissingKey)?
        .to_str()
        .map_err(|_| RzError::InvalidKey)?;
    let (key_id, secret) = crate::http::basic_credentials(header).ok_or(RzError::InvalidKey)?;
    if key_id.is_empty() {
        return Err(RzError::MissingKey);
    }
    Ok((key_id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{pass}"))
        );
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn the_basic_scheme_must_be_exact() {
        assert_eq!(
            credentials(&basic("rzp_test_a", "s")),
            Ok(("rzp_test_a".into(), "s".into()))
        );
        assert_eq!(credentials(&HeaderMap::new()), Err(RzError::MissingKey));
        let mut lower = basic("rzp_test_a", "s");
        let text = lower[header::AUTHORIZATION]
            .to_str()
            .unwrap()
            .replacen("Basic", "basic", 1);
        lower.insert(header::AUTHORIZATION, text.parse().unwrap());
        assert_eq!(credentials(&lower), Err(RzError::InvalidKey));
        let mut bad = HeaderMap::new();
        bad.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(credentials(&bad), Err(RzError::InvalidKey));
        assert_eq!(credentials(&basic("", "s")), Err(RzError::MissingKey));
    }
}
