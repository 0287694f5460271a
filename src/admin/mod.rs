//! The control API under the reserved prefix `/__sandbox/`: health, the clock, the scenario,
//! the webhook delivery log, and each provider's reads and customer actions.
//!
//! Admin answers are plain JSON; errors are `{"error": {"code": "...", "message": "..."}}` with
//! a fitting HTTP status, never a vendor envelope (this API is the sandbox's own).

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::app::AppState;
use crate::providers::whatsapp;

pub mod control;
pub mod openapi;
pub mod webhooks;

/// Admin routes of the sandbox itself (provider admin routes are listed by each provider).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/clock"),
    ("POST", "/clock/advance"),
    ("GET", "/scenario"),
    ("PUT", "/scenario"),
    ("GET", "/webhooks"),
    ("GET", "/webhooks/{id}"),
    ("POST", "/webhooks/{id}/redeliver"),
    ("POST", "/reset"),
    ("GET", "/requests"),
    ("DELETE", "/requests"),
    ("GET", "/faults"),
    ("PUT", "/faults"),
    ("GET", "/openapi.json"),
    ("GET", "/events"),
];

pub fn router() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route("/health", get(health))
        .route("/clock", get(control::clock))
        .route("/clock/advance", post(control::advance))
        .route(
            "/scenario",
            get(control::get_scenario).put(control::put_scenario),
        )
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/{id}", get(webhooks::get))
        .route("/webhooks/{id}/redeliver", post(webhooks::redeliver))
        .route("/reset", post(control::reset))
        .route(
            "/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .route("/faults", get(control::get_faults).put(control::put_faults))
        .route("/openapi.json", get(control::openapi))
        .route("/events", get(crate::events::stream))
        .nest("/whatsapp", whatsapp::admin_router())
        .nest("/razorpay", crate::providers::razorpay::admin_router())
        .nest("/qonto", crate::providers::qonto::admin_router())
        .fallback(unknown)
        .method_not_allowed_fallback(wrong_method)
}

/// Tells open dashboards about every admin call that may have changed something (all but reads).
/// Also refuses, in the admin envelope, a path whose parameters are not text.
pub async fn notify_changes(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !crate::http::path_is_utf8(request.uri().path()) {
        return AdminError::bad_request("the path does not percent-decode to UTF-8 text")
            .into_response();
    }
    let read = request.method() == axum::http::Method::GET;
    let response = next.run(request).await;
    if !read {
        app.events.changed();
    }
    response
}

async fn health(State(app): State<AppState>) -> Response {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "base_url": app.base_url,
        "seed": app.ids.seed(),
        "clock": {"now_ms": app.clock.now_ms(), "frozen": app.clock.is_frozen()},
        "providers": crate::app::PROVIDERS,
        "schemas": app.schemas.len(),
        "routes": crate::app::route_count(),
        "webhooks": app.webhooks.counts(),
        "pending_jobs": app.timeline.pending(),
        "dashboards": app.events.listeners(),
    }))
    .into_response()
}

async fn unknown(uri: Uri) -> AdminError {
    AdminError::not_found(format!("no admin route {}", uri.path()))
}

async fn wrong_method(method: axum::http::Method, uri: Uri) -> AdminError {
    AdminError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not a method of {}", uri.path()),
        details: Vec::new(),
    }
}

/// The most an admin body may hold.
pub const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// Reads an admin body: at most `limit` bytes, typed when it is not empty (a body without a
/// content type is refused rather than guessed at).
pub async fn read_admin_body(
    request: axum::extract::Request,
    limit: usize,
) -> Result<(axum::http::HeaderMap, axum::body::Bytes), AdminError> {
    let (parts, body) = request.into_parts();
    let bytes = crate::http::read_body(body, limit)
        .await
        .map_err(AdminError::from_body)?;
    if !bytes.iter().all(u8::is_ascii_whitespace)
        && crate::http::media_type(&parts.headers).is_none()
    {
        return Err(AdminError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "send the body with Content-Type: application/json".into(),
            details: Vec::new(),
        });
    }
    Ok((parts.headers, bytes))
}

/// A JSON body for the admin API: an empty body reads as `{}`, and a bad one is refused in the
/// admin envelope rather than as plain text.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for AdminJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: axum::extract::Request, _state: &S) -> Result<Self, AdminError> {
        let (_, bytes) = read_admin_body(req, ADMIN_BODY_LIMIT).await?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(AdminJson)
            .map_err(|e| AdminError::bad_request(format!("invalid request body: {e}")))
    }
}

/// Query parameters for the admin API, refused in the admin envelope when they do not parse.
#[derive(Debug)]
pub struct AdminQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for AdminQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AdminError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| AdminQuery(v))
            .map_err(|e| AdminError::bad_request(e.body_text()))
    }
}

/// An error of the admin API.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl AdminError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A body that could not be read: 413 when it is too large.
    pub fn from_body(problem: crate::http::BodyProblem) -> Self {
        match problem {
            crate::http::BodyProblem::TooLarge { .. } => Self {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: problem.to_string(),
                details: Vec::new(),
            },
            other => Self::bad_request(other.to_string()),
        }
    }

    /// Adds the individual problems behind the error.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
