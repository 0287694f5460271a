//! Qonto's error envelope: `{"errors": [{code, detail, source: {pointer | parameter}}],
//! "trace_id"}` with the `X-Tyk-Trace-Id` header, and the statuses Qonto uses (401, 403, 404, 409,
//! 422, 429). Message texts are constants so tests can assert on them.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::http::BodyProblem;
use crate::schema::{Violation, ViolationKind};

pub(super) const MSG_UNAUTHORIZED: &str = "Invalid or missing credentials";
pub(super) const MSG_NOT_FOUND: &str = "Resource not found";
pub(super) const MSG_CONNECTION_REQUIRED: &str = "Payment links are not enabled for this organization: connect to the payment links provider first (POST /v2/payment_links/connections)";
pub(super) const MSG_ALREADY_CONNECTED: &str =
    "An active connection to the payment links provider already exists for this user";
pub(super) const MSG_KEY_REUSED: &str = "This idempotency key was already used with a different request body; use a new key for a new request";
pub(super) const MSG_KEY_IN_USE: &str =
    "A request with this idempotency key is still being processed; retry once it has finished";
pub(super) const MSG_NO_CONNECTION: &str = "No connection to the payment links provider exists";

/// Where in the request an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// A body field, as a JSON pointer.
    Pointer(String),
    /// A query or path parameter.
    Parameter(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QErr {
    pub code: String,
    pub detail: String,
    pub source: Option<Source>,
}

impl QErr {
    pub(super) fn new(code: &str, detail: impl Into<String>, source: Option<Source>) -> Self {
        Self {
            code: code.into(),
            detail: detail.into(),
            source,
        }
    }

    pub(super) fn at(pointer: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self::new(code, detail, Some(Source::Pointer(pointer.into())))
    }

    pub(super) fn param(name: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self::new(code, detail, Some(Source::Parameter(name.into())))
    }

    /// A schema violation in Qonto's words: `required`, `unpermitted_parameter`, `not_in_list` or
    /// `invalid`.
    pub(super) fn from_violation(v: &Violation) -> Self {
        let field = v.pointer.rsplit('/').next().unwrap_or("");
        let (code, detail) = match v.kind {
            ViolationKind::Missing => ("required", format!("{field} is required")),
            ViolationKind::Unknown => (
                "unpermitted_parameter",
                format!("{field} is not a permitted parameter"),
            ),
            ViolationKind::Invalid if v.message.starts_with("must be one of") => {
                ("not_in_list", format!("{field} {}", v.message))
            }
            ViolationKind::Invalid => ("invalid", format!("{field} {}", v.message)),
        };
        Self::at(v.pointer.clone(), code, detail)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct QError {
    pub status: StatusCode,
    pub errors: Vec<QErr>,
    /// `Retry-After` seconds, for 429.
    pub retry_after: Option<u64>,
}

impl QError {
    pub(super) fn new(status: StatusCode, errors: Vec<QErr>) -> Self {
        Self {
            status,
            errors,
            retry_after: None,
        }
    }

    pub(super) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            vec![QErr::new("unauthorized", MSG_UNAUTHORIZED, None)],
        )
    }

    pub(super) fn missing_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            vec![QErr::new(
                "forbidden",
                format!("missing required oauth scope: {scope}"),
                None,
            )],
        )
    }

    pub(super) fn not_found(parameter: Option<&str>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            vec![QErr::new(
                "not_found",
                MSG_NOT_FOUND,
                parameter.map(|p| Source::Parameter(p.into())),
            )],
        )
    }

    /// An idempotency key sent again with another body (see `qonto.idempotency_reuse`).
    pub(super) fn key_reused() -> Self {
        Self::unprocessable(vec![QErr::new(
            "idempotency_key_reused",
            MSG_KEY_REUSED,
            Some(Source::Parameter("X-Qonto-Idempotency-Key".into())),
        )])
    }

    /// An idempotency key whose first request has not finished within a minute.
    pub(super) fn key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            vec![QErr::new(
                "conflict",
                MSG_KEY_IN_USE,
                Some(Source::Parameter("X-Qonto-Idempotency-Key".into())),
            )],
        )
    }

    pub(super) fn unprocessable(errors: Vec<QErr>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, errors)
    }

    pub(super) fn body(problem: &BodyProblem) -> Self {
        let status = match problem {
            BodyProblem::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut detail = problem.to_string();
        if let Some(first) = detail.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self::new(status, vec![QErr::new("bad_request", detail, None)])
    }

    /// What the journal records of this error: the code and every violated field (a body field
    /// by JSON pointer, a query or path parameter by name).
    pub(super) fn rejection(&self) -> crate::journal::Rejection {
        let violations = self
            .errors
            .iter()
            .map(|e| {
                let at = match &e.source {
                    Some(Source::Pointer(p) | Source::Parameter(p)) => p.clone(),
                    None => String::new(),
                };
                Violation::invalid(at, e.detail.clone())
            })
            .collect();
        crate::journal::Rejection {
            code: json!(self.errors.first().map(|e| e.code.as_str())),
            violations,
        }
    }

    pub(super) fn to_value(&self, trace_id: &str) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("code".into(), json!(e.code));
                m.insert("detail".into(), json!(e.detail));
                match &e.source {
                    Some(Source::Pointer(p)) => {
                        m.insert("source".into(), json!({"pointer": p}));
                    }
                    Some(Source::Parameter(p)) => {
                        m.insert("source".into(), json!({"parameter": p}));
                    }
                    None => {}
                }
                Value::Object(m)
            })
            .collect();
        json!({"errors": errors, "trace_id": trace_id})
    }
}

impl From<BodyProblem> for QError {
    fn from(p: BodyProblem) -> Self {
        QError::body(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_qonto_codes_with_pointers() {
        let e = QErr::from_violation(&Violation::missing("/payment_link/items"));
        assert_eq!(
            (e.code.as_str(), e.detail.as_str()),
            ("required", "items is required")
        );
        assert_eq!(
            e.source,
            Some(Source::Pointer("/payment_link/items".into()))
        );
        let e = QErr::from_violation(&Violation::invalid(
            "/x/type",
            "must be one of: good, service",
        ));
        assert_eq!(e.code, "not_in_list");
    }

    #[test]
    fn the_envelope_carries_the_trace_id() {
        let v = QError::not_found(Some("id")).to_value("abc");
        assert_eq!(
            v,
            json!({"errors": [{"code": "not_found", "detail": MSG_NOT_FOUND, "source": {"parameter": "id"}}], "trace_id": "abc"})
        );
    }
}
