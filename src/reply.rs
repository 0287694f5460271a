//! The admin API's own envelope, `{"error": {"code", "message", "details"?}}`, and the
//! extractors that refuse bad bodies, queries and paths in it rather than as plain text.

use axum::{
    Json,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::http::BodyProblem;

/// The most an admin body may hold.
pub(crate) const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// An error of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl AdminError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// A body that could not be read: 413 when it is too large.
    pub(crate) fn from_body(problem: BodyProblem) -> Self {
        match problem {
            BodyProblem::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                problem.to_string(),
            ),
            other => Self::bad_request(other.to_string()),
        }
    }

    /// Adds the individual problems behind the error.
    pub(crate) fn with_details(mut self, details: Vec<String>) -> Self {
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

/// Reads an admin body: at most `limit` bytes, typed when it is not empty (a body without a
/// content type is refused rather than guessed at).
pub(crate) async fn read_admin_body(
    request: Request,
    limit: usize,
) -> Result<(HeaderMap, axum::body::Bytes), AdminError> {
    let (parts, body) = request.into_parts();
    let bytes = crate::http::read_body(body, limit)
        .await
        .map_err(AdminError::from_body)?;
    if !bytes.iter().all(u8::is_ascii_whitespace)
        && crate::http::media_type(&parts.headers).is_none()
    {
        return Err(AdminError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body with Content-Type: application/json",
        ));
    }
    Ok((parts.headers, bytes))
}

/// A JSON body for the admin API: an empty body reads as `{}`.
#[derive(Debug)]
pub(crate) struct AdminJson<T>(pub T);

impl<S, T> FromRequest<S> for AdminJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AdminError> {
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

/// Query parameters for the admin API.
#[derive(Debug)]
pub(crate) struct AdminQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AdminQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| AdminQuery(v))
            .map_err(|e| AdminError::bad_request(e.body_text()))
    }
}

/// Path parameters for the admin API.
#[derive(Debug)]
pub(crate) struct AdminPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AdminPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| AdminPath(v))
            .map_err(|e| AdminError::bad_request(e.body_text()))
    }
}
