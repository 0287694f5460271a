//! Graph's side of every WhatsApp answer: reading a request's query and body the way Graph does,
//! the path's version, Graph's headers, and every error in Graph's envelope (the sandbox's own
//! answers too: faults, unknown paths, refusals, oversized bodies).

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::Wa;
use super::WhatsApp;
use super::config::is_graph_version;
use super::error::GraphError;
use crate::http::{self, BodyProblem};
use crate::provider::Problem;

/// What Graph reads from any request besides its credentials (which the provider layer resolved
/// before the handler ran): the query and the body, parsed when a handler asks for it.
pub(super) struct GraphRequest {
    query: Vec<(String, String)>,
    bytes: axum::body::Bytes,
    media_type: Option<String>,
}

impl GraphRequest {
    pub(super) async fn read(
        app: &WhatsApp,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Self, GraphError> {
        let bytes = http::read_body(body, app.ctx.limits.body_limit)
            .await
            .map_err(GraphError::Body)?;
        Ok(Self {
            query: http::query_pairs(query.unwrap_or("")),
            bytes,
            media_type: http::media_type(headers),
        })
    }

    fn is_form(&self) -> bool {
        self.media_type.as_deref() == Some("application/x-www-form-urlencoded")
    }

    /// The body as a JSON tree: a JSON body, a form body (fields holding JSON decoded), or an
    /// empty object for an empty body without a content type.
    pub(super) fn body(&self) -> Result<Value, BodyProblem> {
        if self.bytes.is_empty() && self.media_type.is_none() {
            return Ok(Value::Object(Default::default()));
        }
        if !self.is_form() {
            return http::json_body_of(self.media_type.as_deref(), &self.bytes);
        }
        let mut body = http::form_as_json(&self.bytes);
        // Graph takes its own parameters from the query or a form body, never from JSON; they
        // were read with the credentials and are not message fields.
        if let Ok(Value::Object(fields)) = body.as_mut() {
            fields.remove("access_token");
            fields.remove("appsecret_proof");
        }
        body
    }

    /// The bytes of a body sent as JSON (by its content type), before they are parsed.
    pub(super) fn json_bytes(&self) -> Option<&[u8]> {
        (!self.bytes.is_empty() && http::json_media_type(self.media_type.as_deref()).is_ok())
            .then_some(&self.bytes[..])
    }

    /// The JSON body as sent (surrounding whitespace trimmed), when it came as JSON text; what
    /// it holds is known to be JSON only once [`Self::body`] or a typed read has parsed it.
    pub(super) fn raw(&self) -> Option<super::model::JsonText> {
        if self.is_form() {
            return None;
        }
        // JSON allows only ASCII whitespace around a value.
        let text = self.bytes.trim_ascii();
        if text.is_empty() {
            return None;
        }
        super::model::JsonText::from_bytes(self.bytes.slice_ref(text))
    }

    pub(super) fn param(&self, name: &str) -> Option<&str> {
        crate::http::pair(&self.query, name)
    }
}

/// The path's Graph version, or the configured default for unversioned calls.
pub(super) fn version_of(app: &WhatsApp, path: &HashMap<String, String>) -> Result<String, String> {
    match path.get("version") {
        Some(v) if !is_graph_version(v) => Err(format!("/{v}")),
        Some(v) => Ok(v.clone()),
        None => Ok(app.config.api_version.clone()),
    }
}

/// A handler's successful answer: a JSON tree, or JSON text it wrote itself (a message send,
/// the most frequent answer, is written straight from its type).
pub(super) enum GraphAnswer {
    Tree(Value),
    Text(String),
}

impl From<Value> for GraphAnswer {
    fn from(tree: Value) -> Self {
        Self::Tree(tree)
    }
}

/// Runs a Graph handler body and renders its answer or error with Graph's headers. `usage` is
/// the token's business as [`super::auth::GraphAuth::usage`] gives it.
pub(super) async fn graph<F, A>(
    app: Wa,
    usage: Option<(String, String)>,
    path: HashMap<String, String>,
    f: F,
) -> Response
where
    F: AsyncFnOnce(&Wa, &str) -> Result<A, GraphError>,
    A: Into<GraphAnswer>,
{
    let version = match version_of(&app, &path) {
        Ok(v) => v,
        Err(bad) => {
            let version = app.config.api_version.clone();
            return graph_error(&app, &version, &GraphError::UnknownPath { path: bad });
        }
    };
    let node = path.get("node").cloned().unwrap_or_default();
    match f(&app, &node).await {
        Ok(answer) => graph_ok(&app, &version, &node, usage, answer.into()),
        Err(err) => graph_error(&app, &version, &err),
    }
}

const FACEBOOK_API_VERSION: HeaderName = HeaderName::from_static("facebook-api-version");
const X_FB_TRACE_ID: HeaderName = HeaderName::from_static("x-fb-trace-id");
const X_FB_REQUEST_ID: HeaderName = HeaderName::from_static("x-fb-request-id");
const X_BUSINESS_USE_CASE_USAGE: HeaderName =
    HeaderName::from_static("x-business-use-case-usage");

fn graph_headers(app: &WhatsApp, version: &str, response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(version) {
        h.insert(FACEBOOK_API_VERSION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&app.ctx.ids.alnum(11)) {
        h.insert(X_FB_TRACE_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&app.ctx.ids.alnum(23)) {
        h.insert(X_FB_REQUEST_ID, v);
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

/// A Graph answer. `x-business-use-case-usage` names the WABA of the phone number the call was
/// on: the token's own when the node is its phone number (no lock needed), else the store's.
fn graph_ok(
    app: &WhatsApp,
    version: &str,
    phone_number_id: &str,
    usage: Option<(String, String)>,
    body: GraphAnswer,
) -> Response {
    let text = match body {
        GraphAnswer::Tree(tree) => tree.to_string(),
        GraphAnswer::Text(text) => text,
    };
    let mut response = (StatusCode::OK, text).into_response();
    graph_headers(app, version, &mut response);
    let waba = match usage {
        Some((own, waba)) if own == phone_number_id => Some(waba),
        _ => app
            .store
            .lock()
            .business(phone_number_id)
            .map(|b| b.config.waba_id.clone()),
    };
    if let Some(waba) = waba {
        let usage = format!(
            r#"{{"{waba}":[{{"type":"whatsapp","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}}]}}"#
        );
        if let Ok(v) = HeaderValue::from_str(&usage) {
            response
                .headers_mut()
                .insert(X_BUSINESS_USE_CASE_USAGE, v);
        }
    }
    response
}

/// Renders any Graph error with a fresh `fbtrace_id` and Graph's headers.
pub(super) fn graph_error(app: &WhatsApp, version: &str, err: &GraphError) -> Response {
    let trace = app.ctx.ids.fbtrace_id();
    let mut response = (err.status(), err.to_value(&trace).to_string()).into_response();
    graph_headers(app, version, &mut response);
    err.rejection(&trace).attach(&mut response);
    response
}

/// Any path under `/whatsapp` that Graph would not route. Graph reads the node first: a node id
/// the token cannot see (or that does not exist) is 100/33, as is a method the node's edge does
/// not take (`GET /{phone_number_id}/messages`); an unknown edge of a visible node is 2500.
pub(super) async fn unknown_path(
    State(app): State<Wa>,
    auth: super::auth::GraphAuth,
    method: Method,
    uri: Uri,
) -> Response {
    let path = uri.path().to_string();
    let mut segments = path.trim_start_matches('/').split('/').peekable();
    if segments.peek().is_some_and(|first| is_graph_version(first)) {
        segments.next();
    }
    let node = segments.next().unwrap_or("").to_string();
    let method_name = method.as_str().to_ascii_lowercase();
    let visible = match &auth.principal {
        Ok(super::auth::Principal::Business {
            phone_number_id,
            waba_id,
            ..
        }) => node == *phone_number_id || node == *waba_id,
        Ok(super::auth::Principal::App) => node == app.config.app_id,
        Err(_) => false,
    };
    let err = if !node.is_empty() && (!visible || path.ends_with("/messages")) {
        match &auth.principal {
            // Without a valid token Graph answers the token error first.
            Err(e) if !node.is_empty() => e.clone(),
            _ => GraphError::UnknownObject {
                id: node,
                method: method_name,
            },
        }
    } else {
        GraphError::UnknownPath { path }
    };
    graph_error(&app, &app.config.api_version, &err)
}

/// The sandbox's own answers on Graph's behalf, in Graph's envelope: an injected fault is 130429
/// (rate limit, HTTP 400), 131000 (500) or 131016 (503); a path that is not text is an unknown
/// path; a refusal is code 10 (permission) when forbidden, else code 1; an oversized body is
/// code 100 with HTTP 413.
pub(super) fn problem_response(app: &WhatsApp, problem: Problem) -> Response {
    use crate::faults::FaultError;
    let err = match problem {
        Problem::Fault(kind) => {
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
            GraphError::Scripted {
                code,
                status,
                title: title.into(),
                details: details.into(),
            }
        }
        Problem::NotFound => GraphError::UnknownPath { path: "/".into() },
        Problem::Refused { status, message } => {
            let (code, title) = if status == StatusCode::FORBIDDEN {
                (10, "Application does not have permission for this action")
            } else {
                (1, "An unknown error occurred")
            };
            GraphError::Scripted {
                code,
                status,
                title: title.into(),
                details: message,
            }
        }
        Problem::TooLarge { limit } => GraphError::Body(BodyProblem::TooLarge { limit }),
    };
    graph_error(app, &app.config.api_version, &err)
}

impl From<BodyProblem> for GraphError {
    fn from(p: BodyProblem) -> Self {
        GraphError::Body(p)
    }
}
