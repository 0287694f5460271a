//! Tenants: which partition of state a request belongs to (a WhatsApp business phone number, a
//! gateway key id, a Qonto organization), and, with `--accept-any-credentials`, a fresh empty
//! tenant for credentials the sandbox has never seen, so parallel tests never share state.

use axum::http::{HeaderMap, header};

use crate::app::Sandbox;
use crate::config::{BusinessConfig, QontoOrganization, QontoToken, RazorpayAccount};
use crate::providers::razorpay::store::Store as RazorpayStore;
use crate::webhook::Provider;

fn auth_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The object id a Graph path acts on: `/whatsapp/v23.0/<node>/...` or `/whatsapp/<node>/...`.
fn graph_node(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    let first = segments.next()?;
    if crate::config::is_graph_version(first) {
        segments.next()
    } else {
        Some(first)
    }
}

fn bearer(headers: &HeaderMap, query: &str) -> Option<String> {
    auth_header(headers)
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")
        })
        .map(|(_, t)| t.trim().to_string())
        .or_else(|| {
            crate::http::pair(&crate::http::query_pairs(query), "access_token").map(str::to_string)
        })
        .filter(|t| !t.is_empty())
}

/// Which tenant a request belongs to, if it names one the sandbox knows.
pub fn tenant_of(
    app: &Sandbox,
    provider: Provider,
    path: &str,
    headers: &HeaderMap,
) -> Option<String> {
    match provider {
        Provider::Whatsapp => {
            let node = graph_node(path)?;
            // Message sends name their phone number id: no need to look it up.
            if path.ends_with("/messages") || path.contains("/payments/") {
                return Some(node.to_string());
            }
            let store = app.whatsapp.store.lock();
            if store.business(node).is_some() {
                return Some(node.to_string());
            }
            store
                .businesses()
                .find(|b| b.config.waba_id == node)
                .map(|b| b.config.phone_number_id.clone())
        }
        Provider::Razorpay => RazorpayStore::credentials(auth_header(headers))
            .ok()
            .map(|(k, _)| k),
        Provider::Qonto => {
            let header = auth_header(headers)?;
            match header.strip_prefix("Bearer ") {
                Some(_) => app
                    .qonto
                    .store
                    .lock()
                    .authenticate(Some(header))
                    .ok()
                    .map(|c| c.login),
                None => header.split_once(':').map(|(login, _)| login.to_string()),
            }
        }
    }
}

/// With `--accept-any-credentials`, creates an empty tenant for credentials the sandbox does not
/// know yet. Known credentials are never taken over: a known key with the wrong secret still fails.
pub fn ensure(app: &Sandbox, provider: Provider, path: &str, headers: &HeaderMap, query: &str) {
    match provider {
        Provider::Whatsapp => {
            let (Some(node), Some(token)) = (graph_node(path), bearer(headers, query)) else {
                return;
            };
            if node.len() < 5
                || !node.bytes().all(|c| c.is_ascii_digit())
                || node == app.config.whatsapp.app_id
                || !token
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
            {
                return;
            }
            let mut store = app.whatsapp.store.lock();
            if store.business(node).is_some()
                || store.knows_token(&token)
                || store.businesses().any(|b| b.config.waba_id == node)
            {
                return;
            }
            let tail: String = node
                .chars()
                .rev()
                .take(7)
                .collect::<String>()
                .chars()
                .rev()
                .collect();
            store.add_business(BusinessConfig {
                phone_number_id: node.to_string(),
                display_phone_number: format!("1555{tail:0>7}"),
                waba_id: format!("9{node}"),
                access_token: token,
                app_secret: app.config.whatsapp.app_secret.clone(),
                ..BusinessConfig::default()
            });
        }
        Provider::Razorpay => {
            let Ok((key_id, secret)) = RazorpayStore::credentials(auth_header(headers)) else {
                return;
            };
            if !(key_id.starts_with("rzp_test_") || key_id.starts_with("rzp_live_"))
                || secret.is_empty()
            {
                return;
            }
            let mut store = app.razorpay.store.lock();
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
        Provider::Qonto => {
            let Some(header) = auth_header(headers).map(str::trim) else {
                return;
            };
            let digest = |seed: &str| {
                crate::webhook::sign::hmac_sha256_hex(b"qonto-tenant", &[seed.as_bytes()])
            };
            let uuid = |h: &str| {
                format!(
                    "{}-{}-7{}-8{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[13..16],
                    &h[17..20],
                    &h[20..32]
                )
            };
            let mut store = app.qonto.store.lock();
            let org = if let Some(token) = header.strip_prefix("Bearer ").map(str::trim) {
                if token.is_empty() || store.authenticate(Some(header)).is_ok() {
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
            store.add_org(org, &app.base_url, &app.ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_nodes_are_found_with_and_without_version() {
        assert_eq!(graph_node("/whatsapp/v23.0/123/messages"), Some("123"));
        assert_eq!(graph_node("/whatsapp/123/messages"), Some("123"));
        assert_eq!(graph_node("/whatsapp"), None);
    }
}
