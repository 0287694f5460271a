//! Who a Graph request acts as, decided once per request before any handler touches the store.
//!
//! Graph reads its access token from `Authorization: Bearer …` (or the older `OAuth …`), from the
//! `access_token` query parameter, or from an `access_token` field of a form body, and an optional
//! `appsecret_proof` from the query or the form. [`resolve`] turns those into a [`Principal`]:
//! the app (`<app_id>|<app_secret>`), or one business (its system-user token), or the error Graph
//! answers. It takes the store lock once, briefly, and returns owned data, so no handler ever
//! checks a token while it holds the store.
//!
//! With `--accept-any-credentials`, an unknown token on a numeric node becomes a fresh business
//! first (see [`ensure_tenant`]); a known token or node is never taken over.

use axum::http::{HeaderMap, header};
use hmac::{KeyInit, Mac};

use super::error::GraphError;
use super::WhatsApp;
use super::config::BusinessConfig;

/// The identity behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Principal {
    /// The app access token: it manages the app-level webhook subscription and nothing that
    /// belongs to one business.
    App,
    /// A business token: it acts for one phone number and the WABA that holds it.
    Business {
        phone_number_id: String,
        waba_id: String,
        app_secret: String,
    },
}

/// The outcome of authenticating one request, kept in the request's extensions.
#[derive(Debug, Clone)]
pub(super) struct GraphAuth {
    pub principal: Result<Principal, GraphError>,
}

impl GraphAuth {
    /// The tenant the request is journaled under: the business the token acts for.
    pub(super) fn tenant(&self) -> Option<String> {
        match &self.principal {
            Ok(Principal::Business {
                phone_number_id, ..
            }) => Some(phone_number_id.clone()),
            _ => None,
        }
    }

    /// The phone number and WABA of the token's business, for Graph's usage header.
    pub(super) fn usage(&self) -> Option<(String, String)> {
        match &self.principal {
            Ok(Principal::Business {
                phone_number_id,
                waba_id,
                ..
            }) => Some((phone_number_id.clone(), waba_id.clone())),
            _ => None,
        }
    }

    /// The business the request may act on: the token's own, and only when `phone_number_id` is
    /// it. Any other token sees the object as missing, as Graph words it.
    pub(super) fn business(&self, phone_number_id: &str, method: &str) -> Result<&Principal, GraphError> {
        let principal = self.principal.as_ref().map_err(Clone::clone)?;
        match principal {
            Principal::Business {
                phone_number_id: own,
                ..
            } if own == phone_number_id => Ok(principal),
            _ => Err(GraphError::UnknownObject {
                id: phone_number_id.to_string(),
                method: method.to_string(),
            }),
        }
    }

    /// For the WABA-level calls: the phone number id of the token's business, when its WABA is
    /// `waba_id`.
    pub(super) fn waba(&self, waba_id: &str, method: &str) -> Result<&str, GraphError> {
        let principal = self.principal.as_ref().map_err(Clone::clone)?;
        match principal {
            Principal::Business {
                waba_id: own,
                phone_number_id,
                ..
            } if own == waba_id => Ok(phone_number_id),
            _ => Err(GraphError::UnknownObject {
                id: waba_id.to_string(),
                method: method.to_string(),
            }),
        }
    }
}

impl axum::extract::FromRequestParts<super::Wa> for GraphAuth {
    type Rejection = std::convert::Infallible;

    /// The provider layer resolved the request's credentials (form body included) before the
    /// handler ran; outside it, the header and query are read here.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::Wa,
    ) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.extensions.get::<GraphAuth>() {
            return Ok(auth.clone());
        }
        let query = crate::http::query_pairs(parts.uri.query().unwrap_or(""));
        Ok(match Credentials::read(&parts.headers, &query, &[]) {
            Ok(credentials) => resolve(state, &credentials),
            Err(e) => GraphAuth { principal: Err(e) },
        })
    }
}

/// The token and proof of a request, wherever Graph would read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Credentials {
    pub token: Option<String>,
    pub proof: Option<String>,
}

impl Credentials {
    /// Reads the `access_token` parameter of the query or the form body, else the header. A
    /// parameter wins over the header, as at Graph: SDKs send the app token as a parameter on a
    /// session whose header carries the business token (pywa's `set_app_callback_url`).
    pub(super) fn read(
        headers: &HeaderMap,
        query: &[(String, String)],
        form: &[(String, String)],
    ) -> Result<Self, GraphError> {
        let from = |pairs: &[(String, String)], name: &str| {
            crate::http::pair(pairs, name)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let token = match from(query, "access_token").or_else(|| from(form, "access_token")) {
            Some(token) => Some(token),
            None => bearer_token(headers)?,
        };
        let proof = from(query, "appsecret_proof").or_else(|| from(form, "appsecret_proof"));
        Ok(Self { token, proof })
    }
}

/// Decides who `credentials` act as. One short lock on the store; no network, no await.
pub(super) fn resolve(wa: &WhatsApp, credentials: &Credentials) -> GraphAuth {
    let principal = (|| {
        let token = credentials
            .token
            .as_deref()
            .ok_or(GraphError::MissingToken)?;
        let app = &wa.config;
        let (principal, secret) = if is_app_token(token, &app.app_id, &app.app_secret) {
            (Principal::App, app.app_secret.clone())
        } else {
            let store = wa.store.lock();
            let business = store
                .business_of_token(token)
                .ok_or(GraphError::InvalidToken)?;
            let secret = business.config.app_secret.clone();
            (
                Principal::Business {
                    phone_number_id: business.config.phone_number_id.clone(),
                    waba_id: business.config.waba_id.clone(),
                    app_secret: secret.clone(),
                },
                secret,
            )
        };
        if let Some(proof) = &credentials.proof
            && !appsecret_proof_matches(&secret, token, proof)
        {
            return Err(GraphError::BadAppSecretProof);
        }
        Ok(principal)
    })();
    GraphAuth { principal }
}

fn is_app_token(token: &str, app_id: &str, app_secret: &str) -> bool {
    token
        .split_once('|')
        .is_some_and(|(id, secret)| id == app_id && secret == app_secret)
}

/// With `--accept-any-credentials`: an unknown token acting on a numeric node the sandbox does
/// not know becomes a new business with that phone number id.
pub(super) fn ensure_tenant(wa: &WhatsApp, node: Option<&str>, credentials: &Credentials) {
    let (Some(node), Some(token)) = (node, credentials.token.as_deref()) else {
        return;
    };
    let app = &wa.config;
    if node.len() < 5
        || !node.bytes().all(|c| c.is_ascii_digit())
        || node == app.app_id
        || is_app_token(token, &app.app_id, &app.app_secret)
        || !token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
    {
        return;
    }
    let mut store = wa.store.lock();
    if store.business(node).is_some()
        || store.business_of_token(token).is_some()
        || store.businesses().any(|b| b.config.waba_id == node)
    {
        return;
    }
    let tail = &node[node.len().saturating_sub(7)..];
    store.add_business(BusinessConfig {
        phone_number_id: node.to_string(),
        display_phone_number: format!("1555{tail:0>7}"),
        waba_id: format!("9{node}"),
        access_token: token.to_string(),
        app_secret: app.app_secret.clone(),
        ..BusinessConfig::default()
    });
}

/// Reads and resolves a request's credentials, form body included (the provider layer calls
/// this once, before any handler).
pub(super) fn authenticate(
    wa: &WhatsApp,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> GraphAuth {
    let query = crate::http::query_pairs(parts.uri.query().unwrap_or(""));
    let form = if crate::http::media_type(&parts.headers).as_deref()
        == Some("application/x-www-form-urlencoded")
    {
        crate::http::query_pairs(std::str::from_utf8(body).unwrap_or(""))
    } else {
        Vec::new()
    };
    match Credentials::read(&parts.headers, &query, &form) {
        Ok(credentials) => {
            if wa.ctx.limits.accept_any_credentials {
                let path = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(parts.uri.path(), |u| u.path());
                ensure_tenant(wa, graph_node(path), &credentials);
            }
            resolve(wa, &credentials)
        }
        Err(e) => GraphAuth { principal: Err(e) },
    }
}

/// The object id a Graph path acts on: `/whatsapp/v23.0/<node>/...` or `/whatsapp/<node>/...`.
pub(super) fn graph_node(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    let first = segments.next()?;
    if super::config::is_graph_version(first) {
        segments.next()
    } else {
        Some(first)
    }
}

/// The token from `Authorization: Bearer …` (or Graph's older `OAuth …`). A header in any other
/// form is a token Graph cannot parse.
pub(super) fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, GraphError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| GraphError::InvalidToken)?.trim();
    let (scheme, token) = value
        .split_once(char::is_whitespace)
        .ok_or(GraphError::InvalidToken)?;
    let token = token.trim();
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        || token.is_empty()
    {
        return Err(GraphError::InvalidToken);
    }
    Ok(Some(token.to_string()))
}

/// `appsecret_proof` is the hex HMAC-SHA256 of the token keyed with the app secret.
fn appsecret_proof_matches(secret: &str, token: &str, proof: &str) -> bool {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(token.as_bytes());
    hex::decode(proof.trim()).is_ok_and(|p| mac.verify_slice(&p).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_parse_strictly() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), Ok(None));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Ok(Some("abc".into())));
        h.insert(header::AUTHORIZATION, "bearer   abc ".parse().unwrap());
        assert_eq!(bearer_token(&h), Ok(Some("abc".into())));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Err(GraphError::InvalidToken));
        h.insert(header::AUTHORIZATION, "Bearer".parse().unwrap());
        assert_eq!(bearer_token(&h), Err(GraphError::InvalidToken));
    }

    #[test]
    fn appsecret_proofs_are_checked() {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"token");
        let proof = hex::encode(mac.finalize().into_bytes());
        assert!(appsecret_proof_matches("secret", "token", &proof));
        assert!(!appsecret_proof_matches("secret", "other", &proof));
        assert!(!appsecret_proof_matches("secret", "token", "zz"));
    }

    #[test]
    fn graph_nodes_are_found_with_and_without_version() {
        assert_eq!(graph_node("/whatsapp/v23.0/123/messages"), Some("123"));
        assert_eq!(graph_node("/whatsapp/123/messages"), Some("123"));
        assert_eq!(graph_node("/whatsapp"), None);
    }

    #[test]
    fn only_the_exact_app_token_is_the_app() {
        assert!(is_app_token("1|s", "1", "s"));
        assert!(!is_app_token("1|s2", "1", "s"));
        assert!(!is_app_token("1s", "1", "s"));
    }
}
