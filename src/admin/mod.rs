//! The control API under the reserved prefix `/__sandbox/`: health, and each provider's reads.
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

/// Admin routes of the sandbox itself (provider admin routes are listed by each provider).
pub const ROUTES: &[(&str, &str)] = &[("GET", "/health")];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .nest("/whatsapp", whatsapp::admin_router())
        .fallback(unknown)
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
    }))
    .into_response()
}

async fn unknown(uri: Uri) -> AdminError {
    AdminError::not_found(format!("no admin route {}", uri.path()))
}

/// An error of the admin API.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}
