//! The Graph routes around webhooks that SDKs call: the app's subscription
//! (`/{app_id}/subscriptions`), a WABA's `subscribed_apps` with its callback override, and the
//! app access token. Subscribing performs Meta's verification handshake before it answers.

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::Wa;
use super::auth::{GraphAuth, Principal};
use super::error::GraphError;
use super::graph::{GraphRequest, graph, version_of};
use super::store::Subscription;
use crate::http;
use crate::schema::Violation;

fn fields_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => vec!["messages".to_string()],
    }
}

/// `POST`, `GET` and `DELETE /{version}/{app_id}/subscriptions`: the app-level webhook
/// subscription. A POST performs the verification handshake before it answers, as Graph does.
pub(super) async fn subscriptions(
    State(app): State<Wa>,
    auth: GraphAuth,
    method: Method,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, node: &str| {
        let principal = auth.principal.clone()?;
        if node != app.config.app_id {
            return Err(GraphError::UnknownObject {
                id: node.to_string(),
                method: method.as_str().to_ascii_lowercase(),
            });
        }
        // Changing the app's subscription redirects every business's webhooks that have no
        // override of their own, so only the app itself may do it, as Graph requires.
        if method != Method::GET && principal != Principal::App {
            return Err(GraphError::AppTokenRequired);
        }
        let request = GraphRequest::read(app, query.as_deref(), &headers, body).await?;
        match method {
            Method::GET => Ok(app_subscription(app)),
            Method::DELETE => {
                let removed = app.store.lock().app_subscription.take();
                if let Some(s) = removed {
                    app.ctx.webhooks.forget_verification(&s.callback_url);
                }
                Ok(json!({"success": true}))
            }
            _ => subscribe_app(app, &request).await,
        }
    })
    .await
}

/// `GET /{app_id}/subscriptions`: the app's subscription, if any, in Graph's list shape.
fn app_subscription(app: &Wa) -> Value {
    let version = version_of(app, &HashMap::new()).unwrap_or_default();
    let store = app.store.lock();
    let data: Vec<Value> = store
        .app_subscription
        .iter()
        .map(|s| {
            json!({
                "object": s.object,
                "callback_url": s.callback_url,
                "active": true,
                "fields": s.fields.iter().map(|f| json!({"name": f, "version": version})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "data": data })
}

/// `POST /{app_id}/subscriptions`: checks the parameters (from the body or the query), performs
/// the verification handshake, then records the subscription.
async fn subscribe_app(app: &Wa, request: &GraphRequest) -> Result<Value, GraphError> {
    let params = request.body().map_err(GraphError::Body)?;
    let param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| request.param(name).map(str::to_string))
    };
    let mut violations = Vec::new();
    let object = param("object").unwrap_or_default();
    if object.is_empty() {
        violations.push(Violation::missing("/object"));
    } else if object != "whatsapp_business_account" {
        violations.push(Violation::invalid("/object", "must be whatsapp_business_account"));
    }
    let callback_url = param("callback_url").unwrap_or_default();
    if callback_url.is_empty() {
        violations.push(Violation::missing("/callback_url"));
    } else if !crate::http::is_http_url(&callback_url) {
        violations.push(Violation::invalid("/callback_url", "must be an http:// or https:// URL"));
    } else if let Err(why) = app.ctx.guard.check_webhook_url(&callback_url) {
        violations.push(Violation::invalid("/callback_url", why));
    }
    let verify_token = param("verify_token").unwrap_or_default();
    if verify_token.is_empty() {
        violations.push(Violation::missing("/verify_token"));
    }
    if !violations.is_empty() {
        return Err(GraphError::Validation(violations));
    }
    let fields = fields_of(params.get("fields").or(params.get("fields[]")))
        .into_iter()
        .chain(request.param("fields").map(|f| fields_of(Some(&json!(f)))).unwrap_or_default())
        .fold(Vec::<String>::new(), |mut acc, f| {
            if !acc.contains(&f) {
                acc.push(f);
            }
            acc
        });
    app.ctx.webhooks
        .verify_now(&callback_url, &verify_token)
        .await
        .map_err(|reason| GraphError::Scripted {
            code: 2200,
            status: StatusCode::BAD_REQUEST,
            title: "Callback verification failed with the following errors".into(),
            details: format!("{reason} (callback {callback_url})"),
        })?;
    app.store.lock().app_subscription = Some(Subscription {
        object,
        callback_url,
        verify_token,
        fields,
        created_at: app.ctx.clock.now_secs(),
    });
    Ok(json!({"success": true}))
}

/// `POST` and `GET /{version}/{waba_id}/subscribed_apps`: subscribes the app to a WABA, with an
/// optional per-WABA callback override (`override_callback_uri` + `verify_token`).
pub(super) async fn subscribed_apps(
    State(app): State<Wa>,
    auth: GraphAuth,
    method: Method,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, waba_id: &str| {
        // Only the WABA's own business token may read or change its subscription: another
        // business's token, or the app token every tenant can form, sees no such object.
        let method_name = method.as_str().to_ascii_lowercase();
        let phone_number_id = auth.waba(waba_id, &method_name)?.to_string();
        let request = GraphRequest::read(app, query.as_deref(), &headers, body).await?;
        let phone_ids: Vec<String> = {
            let store = app.store.lock();
            store
                .businesses()
                .filter(|b| b.config.waba_id == waba_id)
                .map(|b| b.config.phone_number_id.clone())
                .collect()
        };
        if !phone_ids.contains(&phone_number_id) {
            return Err(GraphError::UnknownObject {
                id: waba_id.to_string(),
                method: method_name,
            });
        }
        if method == Method::GET {
            let store = app.store.lock();
            let over = store
                .business(&phone_number_id)
                .and_then(|b| b.callback_override.clone());
            let mut data = json!({"whatsapp_business_api_data": {"id": app.config.app_id, "name": "paylink-sandbox"}});
            if let Some((url, _)) = over {
                data["override_callback_uri"] = json!(url);
            }
            return Ok(json!({ "data": [data] }));
        }
        let params = request.body().map_err(GraphError::Body)?;
        let override_uri = params
            .get("override_callback_uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| request.param("override_callback_uri").map(str::to_string));
        if let Some(url) = override_uri {
            let token = params
                .get("verify_token")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| request.param("verify_token").map(str::to_string))
                .ok_or_else(|| GraphError::Validation(vec![Violation::missing("/verify_token")]))?;
            if !crate::http::is_http_url(&url) {
                return Err(GraphError::Validation(vec![Violation::invalid(
                    "/override_callback_uri",
                    "must be an http:// or https:// URL",
                )]));
            }
            if let Err(why) = app.ctx.guard.check_webhook_url(&url) {
                return Err(GraphError::Validation(vec![Violation::invalid(
                    "/override_callback_uri",
                    why,
                )]));
            }
            app.ctx.webhooks.verify_now(&url, &token).await.map_err(|reason| GraphError::Scripted {
                code: 2200,
                status: StatusCode::BAD_REQUEST,
                title: "Callback verification failed with the following errors".into(),
                details: format!("{reason} (callback {url})"),
            })?;
            let mut store = app.store.lock();
            for p in &phone_ids {
                if let Some(b) = store.business_mut(p) {
                    b.callback_override = Some((url.clone(), token.clone()));
                }
            }
        }
        Ok(json!({"success": true}))
    })
    .await
}

/// `GET /oauth/access_token?client_id=&client_secret=&grant_type=client_credentials`: the app
/// access token real SDKs fetch before subscribing.
pub(super) async fn app_access_token(
    State(app): State<Wa>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
) -> Response {
    graph(app, None, path, async move |app: &Wa, _node: &str| {
        let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let wa = &app.config;
        if get("client_id") != Some(wa.app_id.as_str()) || get("client_secret") != Some(wa.app_secret.as_str()) {
            return Err(GraphError::Scripted {
                code: 1,
                status: StatusCode::BAD_REQUEST,
                title: "Error validating client secret.".into(),
                details: "client_id and client_secret must be the sandbox app's id and secret".into(),
            });
        }
        Ok(json!({"access_token": format!("{}|{}", wa.app_id, wa.app_secret), "token_type": "bearer"}))
    })
    .await
}

