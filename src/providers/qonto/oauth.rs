//! Qonto's OAuth 2.0 flow, on the sandbox clock: `GET /qonto/oauth2/auth` (the consent step,
//! approved at once in the sandbox: it redirects to `redirect_uri` with a `code` and the `state`)
//! and `POST /qonto/oauth2/token` with the `authorization_code` and `refresh_token` grants
//! (form-encoded; client credentials in the form or as HTTP Basic). Access tokens live 1 hour,
//! refresh tokens 90 days, codes 10 minutes and once; a refresh rotates the refresh token (the old
//! one stops working). An expired access token gets Qonto's 401 on the API. The statically
//! configured tokens (`[[qonto.organizations.tokens]]`) keep working and never expire.
//!
//! Choices: the consent is given at once for the organization named by the `login` parameter (a
//! sandbox extension) or the first configured one; a client with no `redirect_uris` accepts any
//! http(s) URL; error bodies are OAuth 2.0's `{"error", "error_description"}`.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Q;
use crate::clock::Millis;

const HOUR_MS: Millis = 3_600_000;
const ACCESS_MS: Millis = HOUR_MS;
const REFRESH_MS: Millis = 90 * 24 * HOUR_MS;
const CODE_MS: Millis = 10 * 60_000;
pub(crate) const SCOPES: &[&str] = &[
    "payment_link.read",
    "payment_link.write",
    "webhook",
    "offline_access",
    "openid",
];

/// An OAuth client registered with the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// Allowed redirect URIs; empty accepts any http(s) URL.
    pub redirect_uris: Vec<String>,
}

impl Default for OAuthClient {
    fn default() -> Self {
        Self {
            client_id: "paylink-sandbox-oauth-client".into(),
            client_secret: "paylinkSandboxOAuthSecret01".into(),
            redirect_uris: Vec::new(),
        }
    }
}

/// What a code, an access token or a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Grant {
    pub login: String,
    pub scopes: Vec<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub expires_at: Millis,
}

/// Issued codes and tokens (saved whole in a snapshot).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Grants {
    #[serde(serialize_with = "crate::snapshot::sorted")]
    codes: HashMap<String, Grant>,
    #[serde(serialize_with = "crate::snapshot::sorted")]
    access: HashMap<String, Grant>,
    #[serde(serialize_with = "crate::snapshot::sorted")]
    refresh: HashMap<String, Grant>,
}

impl Grants {
    /// The organization and scopes of an access token still valid at `now`.
    pub(super) fn access(&self, token: &str, now: Millis) -> Option<(&str, &[String])> {
        self.access
            .get(token)
            .filter(|g| now < g.expires_at)
            .map(|g| (g.login.as_str(), g.scopes.as_slice()))
    }

    /// Forgets everything of `login`'s (a reset).
    pub(super) fn forget(&mut self, login: &str) {
        self.codes.retain(|_, g| g.login != login);
        self.access.retain(|_, g| g.login != login);
        self.refresh.retain(|_, g| g.login != login);
    }

    /// Drops what expired before `now`, so the maps stay as small as what is live.
    fn sweep(&mut self, now: Millis) {
        self.codes.retain(|_, g| now < g.expires_at);
        self.access.retain(|_, g| now < g.expires_at);
        self.refresh.retain(|_, g| now < g.expires_at);
    }
}

/// An OAuth 2.0 error: status, `error` and `error_description`.
struct OAuthError(StatusCode, &'static str, &'static str);

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// `GET /qonto/oauth2/auth`.
pub(super) async fn authorize(State(q): State<Q>, RawQuery(query): RawQuery) -> Response {
    let pairs = crate::http::query_pairs(query.as_deref().unwrap_or(""));
    let get = |k: &str| crate::http::pair(&pairs, k).map(str::to_string);
    let Some(client) = get("client_id")
        .and_then(|id| q.config.oauth_clients.iter().find(|c| c.client_id == id))
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client_id");
    };
    let Some(redirect) = get("redirect_uri").filter(|u| {
        crate::http::is_http_url(u)
            && (client.redirect_uris.is_empty() || client.redirect_uris.contains(u))
    }) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is missing or not registered for this client",
        );
    };
    let state = get("state").unwrap_or_default();
    let back = |params: &[(&str, &str)]| {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::http::percent_encode(v)))
            .collect();
        Redirect::to(&format!("{redirect}{sep}{}", query.join("&"))).into_response()
    };
    if get("response_type").as_deref() != Some("code") {
        return back(&[("error", "unsupported_response_type"), ("state", &state)]);
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return back(&[("error", "invalid_scope"), ("state", &state)]);
    }
    let login = get("login").or_else(|| q.config.organizations.first().map(|o| o.login.clone()));
    let now = q.ctx.clock.now_ms();
    let code = q.ctx.ids.alnum(32);
    {
        let mut store = q.store.lock();
        let Some(login) = login.filter(|l| store.org(l).is_some()) else {
            return back(&[("error", "access_denied"), ("state", &state)]);
        };
        let grants = store.grants_mut();
        grants.sweep(now);
        grants.codes.insert(
            code.clone(),
            Grant {
                login,
                scopes: scopes.clone(),
                client_id: client.client_id.clone(),
                redirect_uri: redirect.clone(),
                expires_at: now + CODE_MS,
            },
        );
    }
    back(&[("code", &code), ("scope", &scopes.join(" ")), ("state", &state)])
}

/// The client a token request authenticates as (form fields or HTTP Basic).
fn client_of<'a>(
    q: &'a Q,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<&'a OAuthClient> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::http::basic_credentials);
    let (id, secret) = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    })?;
    q.config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == id && c.client_secret == secret)
}

/// `POST /qonto/oauth2/token`.
pub(super) async fn token(State(q): State<Q>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let Some(client) = client_of(&q, &headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let now = q.ctx.clock.now_ms();
    let mut store = q.store.lock();
    let grants = store.grants_mut();
    grants.sweep(now);
    let grant = match redeem(grants, &form, client) {
        Ok(g) => g,
        Err(OAuthError(status, error, description)) => {
            return oauth_error(status, error, description);
        }
    };
    let access = format!("qonto_oauth_{}", q.ctx.ids.alnum(40));
    let refresh = format!("qonto_refresh_{}", q.ctx.ids.alnum(40));
    let scope = grant.scopes.join(" ");
    grants.access.insert(
        access.clone(),
        Grant {
            expires_at: now + ACCESS_MS,
            ..grant.clone()
        },
    );
    grants.refresh.insert(
        refresh.clone(),
        Grant {
            expires_at: now + REFRESH_MS,
            ..grant
        },
    );
    drop(store);
    let mut r = axum::Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_MS / 1000,
        "refresh_token": refresh,
        "scope": scope,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// The grant a token request redeems (its code or refresh token, used up), or OAuth's error.
fn redeem(
    grants: &mut Grants,
    form: &HashMap<String, String>,
    client: &OAuthClient,
) -> Result<Grant, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else {
                return Err(OAuthError(StatusCode::BAD_REQUEST, "invalid_request", "code is required"));
            };
            match grants.codes.remove(code) {
                Some(g)
                    if g.client_id == client.client_id
                        && form.get("redirect_uri") == Some(&g.redirect_uri) =>
                {
                    Ok(g)
                }
                _ => {
                    Err(OAuthError(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "the code is unknown, expired, already used, or was issued to another client or redirect_uri",
                    ))
                }
            }
        }
        Some("refresh_token") => {
            let Some(refresh) = form.get("refresh_token") else {
                return Err(OAuthError(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                ));
            };
            match grants.refresh.remove(refresh) {
                Some(g) if g.client_id == client.client_id => Ok(g),
                _ => {
                    Err(OAuthError(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "the refresh token is unknown, expired, or was already used",
                    ))
                }
            }
        }
        _ => {
            Err(OAuthError(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ))
        }
    }
}
