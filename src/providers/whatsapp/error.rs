//! Graph API errors: one enum, rendered as Graph's envelope
//! `{"error": {message, type, code, error_subcode?, error_data?, fbtrace_id}}` with the HTTP
//! status Graph uses for that code. Message texts are constants so tests can assert on them.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::BodyProblem;
use crate::schema::{Violation, ViolationKind};

pub(super) const MSG_TOKEN_REQUIRED: &str = "An access token is required to request this resource.";
pub(super) const MSG_TOKEN_INVALID: &str = "Invalid OAuth access token - Cannot parse access token";
pub(super) const MSG_APP_TOKEN_REQUIRED: &str =
    "(#15) This method must be called with an app access_token.";
pub(super) const MSG_APPSECRET_PROOF: &str = "Invalid appsecret_proof provided in the API argument";
pub(super) const MSG_MESSAGING_PRODUCT_REQUIRED: &str =
    "(#100) The parameter messaging_product is required.";
pub(super) const TITLE_INVALID_PARAMETER: &str = "Invalid parameter";
pub(super) const TITLE_MISSING: &str = "Required parameter is missing";
pub(super) const TITLE_INVALID_VALUE: &str = "Parameter value is not valid";
pub(super) const TITLE_RATE_LIMIT: &str = "Rate limit hit";
pub(super) const TITLE_SOMETHING_WRONG: &str = "Something went wrong";
pub(super) const TITLE_UNAVAILABLE: &str = "Service unavailable";

/// The Graph docs link carried in webhook error objects.
pub(super) const ERROR_CODES_HREF: &str = "/documentation/business-messaging/whatsapp/support/error-codes";

#[derive(Debug, Clone, PartialEq)]
pub(super) enum GraphError {
    /// No token in the header, query or form (code 104).
    MissingToken,
    /// A token the sandbox does not know, or a malformed `Authorization` header (code 190).
    InvalidToken,
    /// `appsecret_proof` does not match the token and app secret (code 100).
    BadAppSecretProof,
    /// A business token on a call only the app may make (code 15).
    AppTokenRequired,
    /// The object in the path does not exist or the token may not act on it (code 100/33).
    UnknownObject { id: String, method: String },
    /// A path Graph has no route for (code 2500).
    UnknownPath { path: String },
    /// The body could not be read or parsed (code 100).
    Body(BodyProblem),
    /// Schema and rule violations; the code follows the kinds present.
    Validation(Vec<Violation>),
    /// An error chosen by a scenario rule or a fault (rate limits, server errors).
    Scripted {
        code: i64,
        status: StatusCode,
        title: String,
        details: String,
    },
}

impl GraphError {
    /// The WhatsApp error code.
    pub(super) fn code(&self) -> i64 {
        match self {
            Self::MissingToken => 104,
            Self::AppTokenRequired => 15,
            Self::InvalidToken => 190,
            Self::BadAppSecretProof | Self::UnknownObject { .. } | Self::Body(_) => 100,
            Self::UnknownPath { .. } => 2500,
            Self::Validation(v) => validation_code(v),
            Self::Scripted { code, .. } => *code,
        }
    }

    pub(super) fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Body(BodyProblem::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Scripted { status, .. } => *status,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `error` object without `fbtrace_id`, in Graph's key order.
    pub(super) fn to_value(&self, fbtrace_id: &str) -> Value {
        let code = self.code();
        let (message, kind, subcode, details): (String, &str, Option<i64>, Option<String>) =
            match self {
                Self::MissingToken => (MSG_TOKEN_REQUIRED.into(), "OAuthException", None, None),
                Self::InvalidToken => (MSG_TOKEN_INVALID.into(), "OAuthException", None, None),
                Self::AppTokenRequired => {
                    (MSG_APP_TOKEN_REQUIRED.into(), "OAuthException", None, None)
                }
                Self::BadAppSecretProof => (
                    MSG_APPSECRET_PROOF.into(),
                    "GraphMethodException",
                    None,
                    None,
                ),
                Self::UnknownObject { id, method } => (
                    unknown_object_message(id, method),
                    "GraphMethodException",
                    Some(33),
                    None,
                ),
                Self::UnknownPath { path } => (
                    format!("Unknown path components: {path}"),
                    "OAuthException",
                    None,
                    None,
                ),
                Self::Body(problem) => (
                    format!("(#100) {TITLE_INVALID_PARAMETER}"),
                    "OAuthException",
                    None,
                    Some(capitalise(&problem.to_string())),
                ),
                Self::Validation(violations) => {
                    let (message, details) = validation_message(code, violations);
                    (message, "OAuthException", None, details)
                }
                Self::Scripted { title, details, .. } => (
                    format!("(#{code}) {title}"),
                    "OAuthException",
                    None,
                    Some(details.clone()),
                ),
            };
        let mut error = serde_json::Map::new();
        error.insert("message".into(), Value::String(message));
        error.insert("type".into(), Value::String(kind.into()));
        error.insert("code".into(), json!(code));
        if let Some(details) = details {
            error.insert(
                "error_data".into(),
                json!({"messaging_product": "whatsapp", "details": details}),
            );
        }
        if let Some(subcode) = subcode {
            error.insert("error_subcode".into(), json!(subcode));
        }
        error.insert("fbtrace_id".into(), Value::String(fbtrace_id.into()));
        json!({ "error": error })
    }
}

impl GraphError {
    /// What the journal records of this error: the code and every violated field.
    pub(super) fn rejection(&self, trace: &str) -> crate::journal::Rejection {
        let violations = match self {
            Self::Validation(v) => v.clone(),
            other => {
                let value = other.to_value(trace);
                let message = value["error"]["error_data"]["details"]
                    .as_str()
                    .or(value["error"]["message"].as_str())
                    .unwrap_or_default()
                    .to_string();
                vec![Violation::invalid("", message)]
            }
        };
        crate::journal::Rejection {
            code: json!(self.code()),
            violations,
        }
    }
}

fn unknown_object_message(id: &str, method: &str) -> String {
    format!(
        "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    )
}

/// Graph answers a missing or wrong `messaging_product` with its own (#100) sentence, whatever
/// else is wrong with the message.
fn messaging_product_message(violations: &[Violation]) -> Option<String> {
    let v = violations
        .iter()
        .find(|v| v.pointer == "/messaging_product")?;
    Some(match v.kind {
        ViolationKind::Missing => MSG_MESSAGING_PRODUCT_REQUIRED.to_string(),
        _ => "(#100) Param messaging_product must be one of {WHATSAPP}".to_string(),
    })
}

/// The message and `error_data.details` of a validation error.
fn validation_message(code: i64, violations: &[Violation]) -> (String, Option<String>) {
    if let Some(message) = messaging_product_message(violations) {
        // Graph sends no error_data with a missing one; other problems keep theirs.
        let others: Vec<Violation> = violations
            .iter()
            .filter(|v| v.pointer != "/messaging_product" || v.kind != ViolationKind::Missing)
            .cloned()
            .collect();
        return (message, (!others.is_empty()).then(|| details_text(&others)));
    }
    let message = param_sentence(violations).unwrap_or_else(|| {
        let title = match code {
            131008 => TITLE_MISSING,
            131009 => TITLE_INVALID_VALUE,
            _ => TITLE_INVALID_PARAMETER,
        };
        format!("(#{code}) {title}")
    });
    (message, Some(details_text(violations)))
}

/// Graph's parameter layer names the first problem it meets in its own words: an unknown key as
/// `(#100) Unexpected key "foo" on param "interactive['action']".` (on `"message"` at the top
/// level, the sandbox's choice), a wrong type as `(#100) Param interactive['header']['text']
/// must be a string.`.
fn param_sentence(violations: &[Violation]) -> Option<String> {
    if let Some(v) = violations.iter().find(|v| v.kind == ViolationKind::Unknown) {
        let (parent, key) = v.pointer.rsplit_once('/').unwrap_or(("", &v.pointer));
        let parent = if parent.is_empty() {
            "message".to_string()
        } else {
            graph_param(parent)
        };
        return Some(format!(
            "(#100) Unexpected key \"{}\" on param \"{parent}\".",
            unescape(key)
        ));
    }
    let v = violations
        .iter()
        .find(|v| v.message.starts_with("must be of type "))?;
    let ty = v.message.trim_start_matches("must be of type ");
    let article = match ty {
        "integer" | "object" | "array" => "an",
        _ => "a",
    };
    let ty = if ty == "object" { "a JSON object" } else { ty };
    let phrase = if ty.starts_with("a JSON") {
        ty.to_string()
    } else {
        format!("{article} {ty}")
    };
    Some(format!(
        "(#100) Param {} must be {phrase}.",
        graph_param(&v.pointer)
    ))
}

/// A JSON pointer in Graph's bracket form: `/interactive/header/text` is
/// `interactive['header']['text']`, array indexes `[0]`.
fn graph_param(pointer: &str) -> String {
    let mut parts = pointer.trim_start_matches('/').split('/').map(unescape);
    let mut out = parts.next().unwrap_or_default();
    for p in parts {
        if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() {
            out.push_str(&format!("[{p}]"));
        } else {
            out.push_str(&format!("['{p}']"));
        }
    }
    out
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Unknown parameters are refused by Graph's parameter layer (100) before WhatsApp's own checks;
/// then a missing field (131008) wins over a bad value (131009).
fn validation_code(violations: &[Violation]) -> i64 {
    if violations.iter().any(|v| v.pointer == "/messaging_product") {
        return 100;
    }
    let type_error = |v: &Violation| v.message.starts_with("must be of type ");
    if violations
        .iter()
        .any(|v| v.kind == ViolationKind::Unknown || type_error(v))
    {
        100
    } else if violations.iter().any(|v| v.kind == ViolationKind::Missing) {
        131008
    } else {
        131009
    }
}

/// Every violation, pointer first, in one line: Graph's `details` is a single string.
pub(super) fn details_text(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

/// The error object carried inside webhooks (`statuses[].errors[]`), which uses `title` and
/// `href` where the synchronous one has `type`.
pub(super) fn webhook_error(code: i64, title: &str, details: &str) -> Value {
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_CODES_HREF,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_kinds_of_violation() {
        let missing = Violation::missing("/to");
        let unknown = Violation::unknown("/foo");
        let invalid = Violation::invalid("/text/body", "must not be empty");
        assert_eq!(GraphError::Validation(vec![invalid.clone()]).code(), 131009);
        assert_eq!(
            GraphError::Validation(vec![invalid.clone(), missing.clone()]).code(),
            131008
        );
        assert_eq!(
            GraphError::Validation(vec![missing, unknown, invalid]).code(),
            100
        );
    }

    #[test]
    fn the_envelope_has_graph_keys_in_graph_order() {
        let v = GraphError::Validation(vec![
            Violation::invalid("/a", "bad"),
            Violation::missing("/b"),
        ])
        .to_value("TRACE");
        let keys: Vec<_> = v["error"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["message", "type", "code", "error_data", "fbtrace_id"]
        );
        assert_eq!(
            v["error"]["message"],
            "(#131008) Required parameter is missing"
        );
        assert_eq!(
            v["error"]["error_data"]["details"],
            "/a: bad; /b: required parameter is missing"
        );
    }

    #[test]
    fn a_missing_messaging_product_uses_graphs_own_sentence() {
        let v =
            GraphError::Validation(vec![Violation::missing("/messaging_product")]).to_value("T");
        assert_eq!(v["error"]["message"], MSG_MESSAGING_PRODUCT_REQUIRED);
        assert_eq!(v["error"]["code"], 100);
        assert!(
            v["error"].get("error_data").is_none(),
            "Graph sends none with this one: {v}"
        );
    }

    #[test]
    fn type_errors_and_unknown_keys_use_graphs_sentences() {
        let ty = Violation::invalid("/interactive/header/text", "must be of type string");
        let v = GraphError::Validation(vec![ty.clone()]).to_value("T");
        assert_eq!(v["error"]["code"], 100);
        assert_eq!(
            v["error"]["message"],
            "(#100) Param interactive['header']['text'] must be a string."
        );
        assert_eq!(
            v["error"]["error_data"]["details"],
            "/interactive/header/text: must be of type string"
        );
        let unknown = Violation::unknown("/interactive/action/colour");
        let v = GraphError::Validation(vec![ty, unknown]).to_value("T");
        assert_eq!(
            v["error"]["message"],
            "(#100) Unexpected key \"colour\" on param \"interactive['action']\"."
        );
        let top = GraphError::Validation(vec![Violation::unknown("/foo")]).to_value("T");
        assert_eq!(
            top["error"]["message"],
            "(#100) Unexpected key \"foo\" on param \"message\"."
        );
        let item = Violation::invalid("/interactive/action/sections/0/title", "must be of type string");
        let v = GraphError::Validation(vec![item]).to_value("T");
        assert_eq!(
            v["error"]["message"],
            "(#100) Param interactive['action']['sections'][0]['title'] must be a string."
        );
    }

    #[test]
    fn auth_errors_are_401() {
        assert_eq!(GraphError::MissingToken.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(GraphError::InvalidToken.status(), StatusCode::UNAUTHORIZED);
        let v = GraphError::UnknownObject {
            id: "1".into(),
            method: "post".into(),
        }
        .to_value("T");
        assert_eq!(v["error"]["error_subcode"], 33);
        assert_eq!(v["error"]["code"], 100);
    }
}
