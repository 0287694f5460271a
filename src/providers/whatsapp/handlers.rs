//! HTTP handlers for the Graph routes under `/whatsapp`: messages, the India payment lookup, the
//! webhook subscription calls SDKs make, and the app access token.

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::auth::{GraphAuth, Principal};
use super::error::GraphError;
use super::model::PaymentStatus;
use super::rules::{self, Context};
use super::store::Subscription;
use super::webhooks;
use crate::app::AppState;
use crate::config::is_graph_version;
use crate::http::{self, BodyProblem};
use crate::scenario::{ErrorSpec, Facts};
use crate::schema::Violation;

/// What Graph reads from any request besides its credentials (which the provider layer resolved
/// before the handler ran): the query and the body.
struct GraphRequest {
    query: Vec<(String, String)>,
    body: Result<Value, BodyProblem>,
    /// The JSON body as sent, when it came as JSON.
    raw: Option<Box<str>>,
}

impl GraphRequest {
    async fn read(
        app: &AppState,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Self, GraphError> {
        let bytes = http::read_body(body, app.config.server.body_limit)
            .await
            .map_err(GraphError::Body)?;
        let query = http::query_pairs(query.unwrap_or(""));
        let is_form =
            http::media_type(headers).as_deref() == Some("application/x-www-form-urlencoded");
        let mut body = if bytes.is_empty() && http::media_type(headers).is_none() {
            Ok(Value::Object(Default::default()))
        } else if is_form {
            http::form_as_json(&bytes)
        } else {
            http::json_body(headers, &bytes)
        };
        // Graph takes its own parameters from the query or a form body, never from JSON; they
        // were read with the credentials and are not message fields.
        if is_form && let Ok(Value::Object(fields)) = body.as_mut() {
            fields.remove("access_token");
            fields.remove("appsecret_proof");
        }
        // The bytes parsed as JSON, so they are valid UTF-8 JSON text.
        let raw = (!is_form && body.is_ok())
            .then(|| std::str::from_utf8(&bytes).ok())
            .flatten()
            .map(|text| text.trim().into());
        Ok(Self { query, body, raw })
    }

    fn param(&self, name: &str) -> Option<&str> {
        crate::http::pair(&self.query, name)
    }
}

/// The path's Graph version, or the configured default for unversioned calls.
fn version_of(app: &AppState, path: &HashMap<String, String>) -> Result<String, String> {
    match path.get("version") {
        Some(v) if !is_graph_version(v) => Err(format!("/{v}")),
        Some(v) => Ok(v.clone()),
        None => Ok(app.config.whatsapp.api_version.clone()),
    }
}

/// Runs a Graph handler body and renders its answer or error with Graph's headers.
async fn graph<F>(app: AppState, path: HashMap<String, String>, f: F) -> Response
where
    F: AsyncFnOnce(&AppState, &str) -> Result<Value, GraphError>,
{
    let version = match version_of(&app, &path) {
        Ok(v) => v,
        Err(bad) => {
            let version = app.config.whatsapp.api_version.clone();
            return graph_error(&app, &version, GraphError::UnknownPath { path: bad });
        }
    };
    let node = path.get("node").cloned().unwrap_or_default();
    match f(&app, &node).await {
        Ok(answer) => graph_ok(&app, &version, &node, &answer),
        Err(err) => graph_error(&app, &version, err),
    }
}

/// `POST /{version}/{phone_number_id}/messages` and `POST /{phone_number_id}/messages`.
pub async fn send_message(
    State(app): State<AppState>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(
        app,
        path,
        async move |app: &AppState, phone_number_id: &str| {
            auth.business(phone_number_id, "post")?;
            let request = GraphRequest::read(app, query.as_deref(), &headers, body).await?;
            send(app, phone_number_id, request.body, request.raw).await
        },
    )
    .await
}

async fn send(
    app: &AppState,
    phone_number_id: &str,
    body: Result<Value, BodyProblem>,
    raw: Option<Box<str>>,
) -> Result<Value, GraphError> {
    let configuration_names = app
        .whatsapp
        .store
        .lock()
        .business(phone_number_id)
        .map(|b| b.configuration_names())
        .unwrap_or_default();
    let mut message = body.map_err(GraphError::Body)?;
    let now_ms = app.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let ctx = Context {
        now_secs: now,
        require_messaging_product: app.config.whatsapp.require_messaging_product,
        configuration_names: Some(&configuration_names),
    };
    let mut checked = rules::check(&app.schemas, &mut message, &ctx);
    if let Some(order) = &checked.order
        && let Some(uri) = &order.payment_link
    {
        checked.warnings.extend(sandbox_link_warnings(
            app,
            uri,
            order.total_amount,
            &order.currency,
        ));
    }
    let mark_read = matches!(checked.intent, rules::Intent::MarkRead { .. });
    let plan = (!mark_read && checked.violations.is_empty()).then(|| {
        let order = checked.order.as_ref();
        app.scenario.whatsapp_plan(&Facts {
            to: checked.recipient.input.as_deref(),
            reference_id: order
                .map(|o| o.reference_id.as_str())
                .or(checked.status.as_ref().map(|s| s.reference_id.as_str())),
            kind: Some(&checked.kind),
            payment_types: order.map(|o| o.payment_types.clone()).unwrap_or_default(),
            currency: order.map(|o| o.currency.as_str()),
            amount: order.map(|o| o.total_amount),
            body: Some(&message),
        })
    });
    if let Some(reject) = plan.as_ref().and_then(|p| p.reject.clone()) {
        return Err(scripted_rejection(&reject));
    }
    let raw = match raw {
        Some(r) => r,
        None => super::store::raw_json(&message),
    };
    let accepted = app
        .whatsapp
        .store
        .lock()
        .accept(phone_number_id, checked, &message, raw, now, &app.ids)
        .map_err(GraphError::Validation)?;

    if mark_read {
        return Ok(json!({"success": true}));
    }
    let message_id = accepted.message_id.clone().unwrap_or_default();
    match (&accepted.refusal, plan) {
        (Some(refusal), _) => {
            app.timeline.at(
                now_ms,
                crate::timeline::Job::WhatsApp(webhooks::Job::Status {
                    phone_number_id: phone_number_id.to_string(),
                    message_id: message_id.clone(),
                    status: "failed".into(),
                    errors: vec![refusal.webhook_error()],
                }),
            );
        }
        (None, Some(plan)) => webhooks::schedule(app, phone_number_id, &message_id, &plan, now_ms),
        (None, None) => {}
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
        "messages": [{"id": message_id}],
    }))
}

/// When an order's `payment_link.uri` is one of the sandbox's own gateway links, checks the link
/// exists, still takes payments and asks for the order's total in its currency. Real WhatsApp
/// cannot know this, so mismatches are warnings on the message, not refusals.
fn sandbox_link_warnings(app: &AppState, uri: &str, total: i64, currency: &str) -> Vec<String> {
    let Some(code) = uri
        .strip_prefix(&app.base_url)
        .and_then(|rest| rest.strip_prefix("/razorpay/i/"))
        .map(|rest| rest.split(['?', '#', '/']).next().unwrap_or(""))
    else {
        return Vec::new();
    };
    let at = format!("{}/payment_settings/0/payment_link/uri", rules::PARAMS);
    let store = app.razorpay.store.lock();
    let Some((_, link)) = store.by_code(code) else {
        return vec![format!(
            "{at}: {uri} is not a payment link of this sandbox; the customer will find nothing to pay"
        )];
    };
    let mut warnings = Vec::new();
    if link.status.as_str() != "created" {
        warnings.push(format!(
            "{at}: payment link {} is {}, not created; the customer cannot pay it",
            link.id,
            link.status.as_str()
        ));
    }
    if link.amount != total || link.currency != currency {
        warnings.push(format!(
            "{at}: payment link {} asks for {} {} but total_amount is {} {}",
            link.id, link.amount, link.currency, total, currency
        ));
    }
    warnings
}

/// A scenario's synchronous rejection in Graph's words.
fn scripted_rejection(spec: &ErrorSpec) -> GraphError {
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| webhooks::error_title(spec.code).to_string());
    let default_status = match spec.code {
        0 | 104 | 190 => StatusCode::UNAUTHORIZED,
        10 | 200..=299 | 131005 | 131031 | 368 | 130497 => StatusCode::FORBIDDEN,
        131000 | 131057 | 3 => StatusCode::INTERNAL_SERVER_ERROR,
        2 | 131016 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    GraphError::Scripted {
        code: spec.code,
        status: spec
            .http_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(default_status),
        details: spec
            .details
            .clone()
            .unwrap_or_else(|| format!("{title} (scripted by the sandbox scenario)")),
        title,
    }
}

/// `GET /{version}/{phone_number_id}/payments/{payment_configuration}/{reference_id}`: the
/// India payment lookup, answered from the same state as the payment webhooks.
pub async fn payment_lookup(
    State(app): State<AppState>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    let configuration = path.get("configuration").cloned().unwrap_or_default();
    let reference_id = path.get("reference_id").cloned().unwrap_or_default();
    graph(app, path, async move |app: &AppState, phone_number_id: &str| {
        auth.business(phone_number_id, "get")?;
        let store = app.whatsapp.store.lock();
        let order = store
            .business(phone_number_id)
            .and_then(|b| b.orders.get(&reference_id))
            .filter(|o| {
                o.configuration_name.as_deref() == Some(configuration.as_str())
                    && o.payment_types
                        .iter()
                        .any(|t| t == "payment_gateway" || t == "payment_configuration")
            })
            .ok_or_else(|| {
                GraphError::Validation(vec![Violation::invalid(
                    "/reference_id",
                    format!(
                        "no payment-gateway order {reference_id:?} uses payment configuration {configuration:?}"
                    ),
                )])
            })?;
        let mut payment = serde_json::Map::new();
        payment.insert("reference_id".into(), json!(order.reference_id));
        payment.insert(
            "status".into(),
            json!(if order.payment_status == Some(PaymentStatus::Captured) { "captured" } else { "pending" }),
        );
        payment.insert("currency".into(), json!(order.currency));
        payment.insert("amount".into(), json!({"offset": 100, "value": order.total_amount}));
        if !order.transactions.is_empty() {
            let transactions: Vec<Value> = order
                .transactions
                .iter()
                .map(|t| {
                    let mut v = webhooks::transaction_value(order, t);
                    v["order_amount"] = json!({"offset": 100, "value": order.total_amount});
                    v
                })
                .collect();
            payment.insert("transactions".into(), Value::Array(transactions));
        }
        webhooks::pg_extras(order, &mut payment);
        Ok(json!({ "payments": [Value::Object(payment)] }))
    })
    .await
}

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
pub async fn subscriptions(
    State(app): State<AppState>,
    auth: GraphAuth,
    method: Method,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(app, path, async move |app: &AppState, node: &str| {
        let principal = auth.principal.clone()?;
        if node != app.config.whatsapp.app_id {
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
        let version = version_of(app, &HashMap::new()).unwrap_or_default();
        if method == Method::GET {
            let store = app.whatsapp.store.lock();
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
            return Ok(json!({ "data": data }));
        }
        if method == Method::DELETE {
            let removed = app.whatsapp.store.lock().app_subscription.take();
            if let Some(s) = removed {
                app.webhooks.forget_verification(&s.callback_url);
            }
            return Ok(json!({"success": true}));
        }
        let params = request.body.clone().map_err(GraphError::Body)?;
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
        } else if !crate::config::is_http_url(&callback_url) {
            violations.push(Violation::invalid("/callback_url", "must be an http:// or https:// URL"));
        } else if let Err(why) = app.guard.check_webhook_url(&callback_url) {
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
        app.webhooks
            .verify_now(app, &callback_url, &verify_token)
            .await
            .map_err(|reason| GraphError::Scripted {
                code: 2200,
                status: StatusCode::BAD_REQUEST,
                title: "Callback verification failed with the following errors".into(),
                details: format!("{reason} (callback {callback_url})"),
            })?;
        app.whatsapp.store.lock().app_subscription = Some(Subscription {
            object,
            callback_url,
            verify_token,
            fields,
            created_at: app.clock.now_secs(),
        });
        Ok(json!({"success": true}))
    })
    .await
}

/// `POST` and `GET /{version}/{waba_id}/subscribed_apps`: subscribes the app to a WABA, with an
/// optional per-WABA callback override (`override_callback_uri` + `verify_token`).
pub async fn subscribed_apps(
    State(app): State<AppState>,
    auth: GraphAuth,
    method: Method,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    graph(app, path, async move |app: &AppState, waba_id: &str| {
        // Only the WABA's own business token may read or change its subscription: another
        // business's token, or the app token every tenant can form, sees no such object.
        let method_name = method.as_str().to_ascii_lowercase();
        let phone_number_id = auth.waba(waba_id, &method_name)?.to_string();
        let request = GraphRequest::read(app, query.as_deref(), &headers, body).await?;
        let phone_ids: Vec<String> = {
            let store = app.whatsapp.store.lock();
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
            let store = app.whatsapp.store.lock();
            let over = store
                .business(&phone_number_id)
                .and_then(|b| b.callback_override.clone());
            let mut data = json!({"whatsapp_business_api_data": {"id": app.config.whatsapp.app_id, "name": "paylink-sandbox"}});
            if let Some((url, _)) = over {
                data["override_callback_uri"] = json!(url);
            }
            return Ok(json!({ "data": [data] }));
        }
        let params = request.body.clone().map_err(GraphError::Body)?;
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
            if !crate::config::is_http_url(&url) {
                return Err(GraphError::Validation(vec![Violation::invalid(
                    "/override_callback_uri",
                    "must be an http:// or https:// URL",
                )]));
            }
            if let Err(why) = app.guard.check_webhook_url(&url) {
                return Err(GraphError::Validation(vec![Violation::invalid(
                    "/override_callback_uri",
                    why,
                )]));
            }
            app.webhooks.verify_now(app, &url, &token).await.map_err(|reason| GraphError::Scripted {
                code: 2200,
                status: StatusCode::BAD_REQUEST,
                title: "Callback verification failed with the following errors".into(),
                details: format!("{reason} (callback {url})"),
            })?;
            let mut store = app.whatsapp.store.lock();
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
pub async fn app_access_token(
    State(app): State<AppState>,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
) -> Response {
    graph(app, path, async move |app: &AppState, _node: &str| {
        let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let wa = &app.config.whatsapp;
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
        let usage = format!(
            r#"{{"{waba}":[{{"type":"whatsapp","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}}]}}"#
        );
        if let Ok(v) = HeaderValue::from_str(&usage) {
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

/// The Graph error an injected fault answers with: 130429 (rate limit, HTTP 400), 131000 (500)
/// or 131016 (503).
pub fn fault_response(app: &AppState, kind: crate::faults::FaultError) -> Response {
    use crate::faults::FaultError;
    let (code, status, title, details) = match kind {
        FaultError::RateLimit => (
            130429,
            StatusCode::BAD_REQUEST,
            super::error::TITLE_RATE_LIMIT,
            "Cloud API message throughput has been reached.",
        ),
        FaultError::ServerError => (
            131000,
            StatusCode::INTERNAL_SERVER_ERROR,
            super::error::TITLE_SOMETHING_WRONG,
            "Something went wrong. Please try again later.",
        ),
        FaultError::Unavailable => (
            131016,
            StatusCode::SERVICE_UNAVAILABLE,
            super::error::TITLE_UNAVAILABLE,
            "A service is temporarily unavailable.",
        ),
    };
    let err = GraphError::Scripted {
        code,
        status,
        title: title.into(),
        details: details.into(),
    };
    graph_error(app, &app.config.whatsapp.api_version, err)
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

/// The Graph error for a path that is not text (`%ff` in a segment): no route of Graph's.
pub fn unknown_path_response(app: &AppState, path: &str) -> Response {
    let err = GraphError::UnknownPath {
        path: path.to_string(),
    };
    graph_error(app, &app.config.whatsapp.api_version, err)
}

/// A request the sandbox refused before routing (a foreign host, a webhook loop), in Graph's
/// envelope: code 10 (permission) for a refusal, code 1 otherwise.
pub fn refusal_response(app: &AppState, status: StatusCode, message: &str) -> Response {
    let (code, title) = if status == StatusCode::FORBIDDEN {
        (10, "Application does not have permission for this action")
    } else {
        (1, "An unknown error occurred")
    };
    let err = GraphError::Scripted {
        code,
        status,
        title: title.into(),
        details: message.into(),
    };
    graph_error(app, &app.config.whatsapp.api_version, err)
}

impl From<BodyProblem> for GraphError {
    fn from(p: BodyProblem) -> Self {
        GraphError::Body(p)
    }
}
