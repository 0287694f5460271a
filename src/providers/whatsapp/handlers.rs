//! HTTP handlers: the Graph routes under `/whatsapp` and the WhatsApp reads of the admin API.

use std::collections::HashMap;

use axum::{
    Json,
    body::Body,
    extract::{Path, Query, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::GraphError;
use super::rules::{self, Context};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::config::is_graph_version;
use crate::http::{self, BodyProblem};

/// `POST /{version}/{phone_number_id}/messages` and `POST /{phone_number_id}/messages`.
pub async fn send_message(
    State(app): State<AppState>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let version = match path.get("version") {
        Some(v) if !is_graph_version(v) => {
            let err = GraphError::UnknownPath {
                path: format!("/{v}"),
            };
            return graph_error(&app, &app.config.whatsapp.api_version, err);
        }
        Some(v) => v.clone(),
        None => app.config.whatsapp.api_version.clone(),
    };
    let phone_number_id = path.get("phone_number_id").cloned().unwrap_or_default();
    match send(&app, &phone_number_id, query.as_deref(), &headers, body).await {
        Ok(answer) => graph_ok(&app, &version, &phone_number_id, &answer),
        Err(err) => graph_error(&app, &version, err),
    }
}

async fn send(
    app: &AppState,
    phone_number_id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, GraphError> {
    let bytes = http::read_body(body, app.config.server.body_limit)
        .await
        .map_err(GraphError::Body)?;
    let query = http::query_pairs(query.unwrap_or(""));
    let is_form = http::media_type(headers).as_deref() == Some("application/x-www-form-urlencoded");
    let mut parsed = if is_form {
        http::form_as_json(&bytes)
    } else {
        http::json_body(headers, &bytes)
    };
    // Graph reads its own parameters from the query or a form body, never from JSON.
    let mut form_param = |name: &str| -> Option<String> {
        if !is_form {
            return None;
        }
        let obj = parsed.as_mut().ok()?.as_object_mut()?;
        obj.remove(name)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let form_token = form_param("access_token");
    let form_proof = form_param("appsecret_proof");
    let query_param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };

    let token = bearer_token(headers)?
        .or_else(|| query_param("access_token"))
        .or(form_token)
        .ok_or(GraphError::MissingToken)?;
    let configuration_names = {
        let store = app.whatsapp.store.lock();
        store.authorize(&token, phone_number_id, "post")?;
        if let Some(proof) = query_param("appsecret_proof").or(form_proof) {
            let secret = store
                .business(phone_number_id)
                .map(|b| b.config.app_secret.clone())
                .unwrap_or_default();
            if !appsecret_proof_matches(&secret, &token, &proof) {
                return Err(GraphError::BadAppSecretProof);
            }
        }
        store
            .business(phone_number_id)
            .map(|b| b.configuration_names())
            .unwrap_or_default()
    };

    let mut message = parsed.map_err(GraphError::Body)?;
    let now = app.clock.now_secs();
    let ctx = Context {
        now_secs: now,
        require_messaging_product: app.config.whatsapp.require_messaging_product,
        configuration_names: Some(&configuration_names),
    };
    let checked = rules::check(&app.schemas, &mut message, &ctx);
    let mark_read = matches!(checked.intent, rules::Intent::MarkRead { .. });
    let accepted = app
        .whatsapp
        .store
        .lock()
        .accept(phone_number_id, checked, message, now, &app.ids)
        .map_err(GraphError::Validation)?;

    if mark_read {
        return Ok(json!({"success": true}));
    }
    let recipient = accepted.recipient;
    let mut contact = serde_json::Map::new();
    contact.insert("input".into(), json!(recipient.input.unwrap_or_default()));
    if let Some(wa_id) = recipient.wa_id {
        contact.insert("wa_id".into(), json!(wa_id));
    }
    if let Some(user_id) = recipient.user_id {
        contact.insert("user_id".into(), json!(user_id));
    }
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [contact],
        "messages": [{"id": accepted.message_id.unwrap_or_default()}],
    }))
}

/// The token from `Authorization: Bearer …` (or Graph's older `OAuth …`). A header in any other
/// form is a token Graph cannot parse.
fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, GraphError> {
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

fn graph_headers(app: &AppState, version: &str, response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(version) {
        h.insert("facebook-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&app.ids.alnum(11)) {
        h.insert("x-fb-trace-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&app.ids.alnum(23)) {
        h.insert("x-fb-request-id", v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Sat, 01 Jan 2000 00:00:00 GMT"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

fn graph_ok(app: &AppState, version: &str, phone_number_id: &str, body: &Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    graph_headers(app, version, &mut response);
    let waba = app
        .whatsapp
        .store
        .lock()
        .business(phone_number_id)
        .map(|b| b.config.waba_id.clone());
    if let Some(waba) = waba {
        let usage = json!({ waba: [{"type": "whatsapp", "call_count": 1, "total_cputime": 1, "total_time": 1, "estimated_time_to_regain_access": 0}] });
        if let Ok(v) = HeaderValue::from_str(&usage.to_string()) {
            response
                .headers_mut()
                .insert("x-business-use-case-usage", v);
        }
    }
    response
}

/// Renders any Graph error with a fresh `fbtrace_id` and Graph's headers.
pub fn graph_error(app: &AppState, version: &str, err: GraphError) -> Response {
    let trace = app.ids.fbtrace_id();
    let mut response = (err.status(), err.to_value(&trace).to_string()).into_response();
    graph_headers(app, version, &mut response);
    response
}

/// Any path under `/whatsapp` that Graph would not route.
pub async fn unknown_path(State(app): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    let err = if method != Method::POST && path.ends_with("/messages") {
        let id = if is_graph_version(first) {
            segments.next().unwrap_or("")
        } else {
            first
        };
        GraphError::UnknownObject {
            id: id.to_string(),
            method: method.as_str().to_ascii_lowercase(),
        }
    } else {
        GraphError::UnknownPath { path }
    };
    graph_error(&app, &app.config.whatsapp.api_version, err)
}

#[derive(Debug, Deserialize, Default)]
pub struct MessageFilter {
    pub phone_number_id: Option<String>,
    pub to: Option<String>,
    pub reference_id: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub limit: Option<usize>,
}

/// `GET /__sandbox/whatsapp/messages`: messages oldest first; `limit` keeps the newest N.
pub async fn admin_messages(
    State(app): State<AppState>,
    Query(f): Query<MessageFilter>,
) -> Response {
    let store = app.whatsapp.store.lock();
    let to_digits =
        f.to.as_deref()
            .map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>());
    let mut out: Vec<Value> = Vec::new();
    for business in store.businesses() {
        if f.phone_number_id
            .as_deref()
            .is_some_and(|p| p != business.config.phone_number_id)
        {
            continue;
        }
        for m in business.messages.values() {
            let keep = to_digits
                .as_deref()
                .is_none_or(|d| m.wa_id.as_deref() == Some(d))
                && f.reference_id
                    .as_deref()
                    .is_none_or(|r| m.reference_id.as_deref() == Some(r))
                && f.kind
                    .as_deref()
                    .is_none_or(|k| m.kind == k || m.kind.ends_with(&format!(".{k}")))
                && f.direction.as_deref().is_none_or(|d| {
                    serde_json::to_value(m.direction)
                        .ok()
                        .and_then(|v| v.as_str().map(|s| s == d))
                        .unwrap_or(false)
                });
            if keep {
                out.push(serde_json::to_value(m).unwrap_or(Value::Null));
            }
        }
    }
    drop(store);
    out.sort_by_key(|m| m["timestamp"].as_i64().unwrap_or(0));
    if let Some(limit) = f.limit
        && out.len() > limit
    {
        out.drain(..out.len() - limit);
    }
    Json(json!({ "messages": out })).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct OrderFilter {
    pub phone_number_id: Option<String>,
}

/// `GET /__sandbox/whatsapp/orders`.
pub async fn admin_orders(State(app): State<AppState>, Query(f): Query<OrderFilter>) -> Response {
    let store = app.whatsapp.store.lock();
    let orders: Vec<Value> = store
        .businesses()
        .filter(|b| {
            f.phone_number_id
                .as_deref()
                .is_none_or(|p| p == b.config.phone_number_id)
        })
        .flat_map(|b| b.orders.values())
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
        .collect();
    Json(json!({ "orders": orders })).into_response()
}

/// `GET /__sandbox/whatsapp/orders/{reference_id}`: the order and every message about it.
pub async fn admin_order(
    State(app): State<AppState>,
    Path(reference_id): Path<String>,
    Query(f): Query<OrderFilter>,
) -> Result<Response, AdminError> {
    let store = app.whatsapp.store.lock();
    let found: Vec<_> = store
        .businesses()
        .filter(|b| {
            f.phone_number_id
                .as_deref()
                .is_none_or(|p| p == b.config.phone_number_id)
        })
        .filter_map(|b| b.orders.get(&reference_id).map(|o| (b, o)))
        .collect();
    match found.as_slice() {
        [] => Err(AdminError::not_found(format!(
            "no order with reference_id {reference_id:?}"
        ))),
        [(business, order)] => {
            let messages: Vec<Value> = business
                .messages
                .values()
                .filter(|m| m.reference_id.as_deref() == Some(reference_id.as_str()))
                .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
                .collect();
            let mut v = serde_json::to_value(order).unwrap_or(Value::Null);
            v["messages"] = Value::Array(messages);
            Ok(Json(v).into_response())
        }
        _ => Err(AdminError::bad_request(format!(
            "reference_id {reference_id:?} exists for several businesses; add ?phone_number_id="
        ))),
    }
}

impl From<BodyProblem> for GraphError {
    fn from(p: BodyProblem) -> Self {
        GraphError::Body(p)
    }
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
}
