//! The gateway's errors: one enum rendered as
//! `{"error": {code, description, source, step, reason, metadata, field?}}` with its HTTP status.
//! Message texts are constants so tests can assert on them.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::http::BodyProblem;
use crate::schema::{Violation, ViolationKind};

pub(super) const MSG_NO_KEY: &str = "Please provide your api key for authentication purposes.";
pub(super) const MSG_BAD_KEY: &str = "The api key provided is invalid";
pub(super) const MSG_NOT_FOUND: &str = "The id provided does not exist";
/// A `notes` value longer than 255 characters, in the gateway's words.
pub(super) const MSG_NOTE_TOO_LONG: &str = "value: the length must not be greater than 255.";
pub(super) const MSG_URL_NOT_FOUND: &str = "The requested URL was not found on the server.";
pub(super) const MSG_WRONG_FIELDS: &str = "wrong input fields sent.";
pub(super) const MSG_DUPLICATE_REFERENCE: &str =
    "payment link creation with reference ID already attempted";
pub(super) const MSG_EXPIRE_TOO_SOON: &str = "timestamp must be atleast 15 minutes in future";
pub(super) const MSG_EXPIRE_TOO_LATE: &str = "timestamp must not be more than 6 months in future";
pub(super) const MSG_UPI_TEST_MODE: &str =
    "UPI Payment Links is not supported in Test Mode. Please experience the product in Live Mode.";
pub(super) const MSG_UPI_CURRENCY: &str = "upi is currently supported only in indian currency";
pub(super) const MSG_UPI_PARTIAL: &str = "partial payment not supported in upi link";
pub(super) const MSG_UPDATE_STATE: &str = "update can only be made in created or partially paid state";
pub(super) const MSG_CANCEL_PAID: &str = "cannot cancel or expire an already paid/partially paid link";
pub(super) const MSG_CANCEL_EXPIRED: &str = "cannot cancel or expire an expired link";
pub(super) const MSG_NOTIFY_MEDIUM: &str = "not a valid notification medium";
pub(super) const MSG_CALLBACK_METHOD: &str =
    "The callback method field is required when callback url is present.";
pub(super) const MSG_CALLBACK_URL: &str =
    "The callback url field is required when callback method is present.";

/// One problem with a request, in the gateway's words, at a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub pointer: String,
    pub description: String,
}

impl Problem {
    pub(super) fn new(pointer: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            description: description.into(),
        }
    }

    /// A schema violation rephrased the way the gateway's validator words them.
    pub(super) fn from_violation(v: &Violation) -> Self {
        let attr = attribute(&v.pointer);
        // The gateway's own sentence for a note value over its limit.
        if v.pointer.starts_with("/notes/") && v.message.starts_with("must be at most") {
            return Self::new(v.pointer.clone(), MSG_NOTE_TOO_LONG);
        }
        let description = match v.kind {
            ViolationKind::Missing => format!("The {} field is required.", attr.replace('_', " ")),
            ViolationKind::Unknown => MSG_WRONG_FIELDS.to_string(),
            ViolationKind::Invalid => format!("The {attr} {}.", v.message),
        };
        Self::new(v.pointer.clone(), description)
    }

    /// The dotted field name the gateway puts in `error.field`.
    pub(super) fn field(&self) -> String {
        attribute(&self.pointer)
    }
}

fn attribute(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum RzError {
    /// No `Authorization: Basic` header (401).
    MissingKey,
    /// Unknown key id, wrong secret or a malformed header (401).
    InvalidKey,
    /// Request problems (400); every one is listed.
    Invalid(Vec<Problem>),
    /// A well-formed id that does not exist (400, as the gateway answers).
    NotFound,
    /// An id that is not `plink_` and 14 characters (400).
    MalformedId(String),
    /// A request the link's state does not allow (400).
    State(&'static str),
    UrlNotFound,
    Body(BodyProblem),
    /// An error chosen by a fault rule.
    Scripted {
        status: StatusCode,
        code: String,
        description: String,
    },
}

impl RzError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::InvalidKey => StatusCode::UNAUTHORIZED,
            Self::UrlNotFound => StatusCode::NOT_FOUND,
            Self::Body(BodyProblem::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Scripted { status, .. } => *status,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(super) fn to_value(&self) -> Value {
        let (code, description, business, field): (String, String, bool, Option<String>) =
            match self {
                Self::MissingKey => ("BAD_REQUEST_ERROR".into(), MSG_NO_KEY.into(), false, None),
                Self::InvalidKey => ("BAD_REQUEST_ERROR".into(), MSG_BAD_KEY.into(), false, None),
                Self::Invalid(problems) => {
                    let description = match problems.as_slice() {
                        [one] => one.description.clone(),
                        many => many
                            .iter()
                            .map(|p| format!("{}: {}", p.pointer, p.description))
                            .collect::<Vec<_>>()
                            .join("; "),
                    };
                    (
                        "BAD_REQUEST_ERROR".into(),
                        description,
                        true,
                        problems.first().map(Problem::field),
                    )
                }
                Self::NotFound => (
                    "BAD_REQUEST_ERROR".into(),
                    MSG_NOT_FOUND.into(),
                    true,
                    Some("id".into()),
                ),
                Self::MalformedId(stripped) => (
                    "BAD_REQUEST_ERROR".into(),
                    format!("invalid input [strippedId] = [{stripped}]"),
                    true,
                    Some("id".into()),
                ),
                Self::State(message) => ("BAD_REQUEST_ERROR".into(), (*message).into(), true, None),
                Self::UrlNotFound => (
                    "BAD_REQUEST_ERROR".into(),
                    MSG_URL_NOT_FOUND.into(),
                    false,
                    None,
                ),
                Self::Body(problem) => {
                    let mut text = problem.to_string();
                    if let Some(first) = text.get_mut(0..1) {
                        first.make_ascii_uppercase();
                    }
                    ("BAD_REQUEST_ERROR".into(), text, false, None)
                }
                Self::Scripted {
                    code, description, ..
                } => (code.clone(), description.clone(), false, None),
            };
        let (source, step, reason) = if business {
            ("business", "payment_initiation", "input_validation_failed")
        } else {
            ("NA", "NA", "NA")
        };
        let mut error = Map::new();
        error.insert("code".into(), json!(code));
        error.insert("description".into(), json!(description));
        error.insert("source".into(), json!(source));
        error.insert("step".into(), json!(step));
        error.insert("reason".into(), json!(reason));
        error.insert("metadata".into(), json!({}));
        if let Some(field) = field {
            error.insert("field".into(), json!(field));
        }
        json!({ "error": error })
    }
}

impl RzError {
    /// What the journal records of this error: the code and every violated field.
    fn rejection(&self) -> crate::journal::Rejection {
        let violations = match self {
            Self::Invalid(problems) => problems
                .iter()
                .map(|p| Violation::invalid(p.pointer.clone(), p.description.clone()))
                .collect(),
            other => {
                let value = other.to_value();
                let field = value["error"]["field"]
                    .as_str()
                    .map(|f| format!("/{}", f.replace('.', "/")))
                    .unwrap_or_default();
                let description = value["error"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                vec![Violation::invalid(field, description)]
            }
        };
        crate::journal::Rejection {
            code: json!(self.code()),
            violations,
        }
    }

    fn code(&self) -> String {
        match self {
            Self::Scripted { code, .. } => code.clone(),
            _ => "BAD_REQUEST_ERROR".into(),
        }
    }
}

impl IntoResponse for RzError {
    fn into_response(self) -> Response {
        let rejection = self.rejection();
        let mut response = (self.status(), Json(self.to_value())).into_response();
        rejection.attach(&mut response);
        response
    }
}

/// The gateway's answers on the sandbox's behalf: an injected fault is 429, 500 or 503; an
/// unknown path is the gateway's 404; a refusal keeps its status; an oversized body is 413.
impl From<crate::provider::Problem> for RzError {
    fn from(problem: crate::provider::Problem) -> Self {
        use crate::faults::FaultError;
        use crate::provider::Problem;
        let scripted = |status, code: &str, description: &str| RzError::Scripted {
            status,
            code: code.into(),
            description: description.into(),
        };
        match problem {
            Problem::Fault(FaultError::RateLimit) => scripted(
                StatusCode::TOO_MANY_REQUESTS,
                "BAD_REQUEST_ERROR",
                "Too many requests",
            ),
            Problem::Fault(FaultError::ServerError) => scripted(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SERVER_ERROR",
                "The server encountered an error. The incident has been reported to admins",
            ),
            Problem::Fault(FaultError::Unavailable) => scripted(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_ERROR",
                "The service is temporarily unavailable",
            ),
            Problem::NotFound => RzError::UrlNotFound,
            Problem::Refused { status, message } => {
                scripted(status, "BAD_REQUEST_ERROR", &message)
            }
            Problem::TooLarge { limit } => RzError::Body(BodyProblem::TooLarge { limit }),
        }
    }
}

impl From<BodyProblem> for RzError {
    fn from(p: BodyProblem) -> Self {
        RzError::Body(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_problem_reads_like_the_gateway() {
        let v = RzError::Invalid(vec![Problem::new(
            "/amount",
            "The amount must be at least INR 1.00",
        )])
        .to_value();
        assert_eq!(
            v,
            json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "The amount must be at least INR 1.00",
                "source": "business", "step": "payment_initiation", "reason": "input_validation_failed",
                "metadata": {}, "field": "amount"}})
        );
    }

    #[test]
    fn several_problems_are_all_named_by_pointer() {
        let v = RzError::Invalid(vec![
            Problem::new("/amount", "a"),
            Problem::new("/customer/email", "b"),
        ])
        .to_value();
        assert_eq!(v["error"]["description"], "/amount: a; /customer/email: b");
        assert_eq!(v["error"]["field"], "amount");
    }

    #[test]
    fn auth_errors_are_401_with_na_sources() {
        assert_eq!(RzError::InvalidKey.status(), StatusCode::UNAUTHORIZED);
        let v = RzError::InvalidKey.to_value();
        assert_eq!(v["error"]["source"], "NA");
        assert_eq!(v["error"]["description"], MSG_BAD_KEY);
        assert!(v["error"].get("field").is_none());
    }

    #[test]
    fn schema_violations_are_rephrased() {
        let p = Problem::from_violation(&Violation::missing("/reference_id"));
        assert_eq!(p.description, "The reference id field is required.");
        let p = Problem::from_violation(&Violation::invalid(
            "/customer/email",
            "must be a valid email",
        ));
        assert_eq!(p.description, "The customer.email must be a valid email.");
        assert_eq!(p.field(), "customer.email");
    }
}
