//! Every JSON Schema the sandbox validates against, each compiled once, when first needed.
//!
//! The files live in `schemas/<provider>/` and are embedded by `build.rs`. A file's id is its path
//! without `.json` (for example `whatsapp/interactive.order_details.in.request`). Files whose id
//! ends in `.request` are compiled into validators; the others (such as `whatsapp/common`) hold
//! shared `$defs` that the request schemas reference by their URI
//! (`https://paylink-sandbox.local/schemas/<id>.json`).
//!
//! Validation returns every violation, not only the first, each with a JSON pointer into the
//! instance and a short sentence in plain English. Providers turn them into their own envelopes.

use std::{collections::BTreeMap, sync::OnceLock};

use jsonschema::{Keyword, Registry, ValidationError, Validator, error::ValidationErrorKind};
use serde::Serialize;
use serde_json::Value;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/schemas.rs"));
}

/// The URI prefix under which schema files are registered.
pub(crate) const BASE_URI: &str = "https://paylink-sandbox.local/schemas/";

/// The keyword added beside every `"type": "integer"`: JSON Schema counts `5000.0` and `5e3` as
/// integers, but the vendors' parsers do not, and a client that sends them has a bug worth
/// hearing about. See [`strict_integers`].
const STRICT_INTEGER: &str = "x-strict-integer";

/// The message of a number that is not written as a whole number in `i64` range.
pub(crate) const MSG_NOT_INTEGER: &str = "must be an integer";
pub(crate) const MSG_OUT_OF_RANGE: &str = "is out of range";

/// Accepts numbers written as integers that fit an `i64`, and anything that is not a number
/// (the `type` keyword beside it judges those).
struct StrictInteger;

impl StrictInteger {
    fn problem(instance: &Value) -> Option<&'static str> {
        let Value::Number(n) = instance else {
            return None;
        };
        if n.is_i64() {
            None
        } else if n.is_u64() {
            Some(MSG_OUT_OF_RANGE)
        } else {
            // `1.5` already fails `type`; only whole numbers written as decimals get here.
            n.as_f64()
                .is_some_and(|f| f.fract() == 0.0)
                .then_some(MSG_NOT_INTEGER)
        }
    }
}

impl<'i> Keyword<'i> for StrictInteger {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        match Self::problem(instance) {
            None => Ok(()),
            Some(message) => Err(ValidationError::custom(message)),
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        Self::problem(instance).is_none()
    }
}

/// Adds [`STRICT_INTEGER`] to every subschema whose `type` allows integers but not numbers.
fn strict_integers(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let integer = match map.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(ts)) => {
                    ts.iter().any(|t| t == "integer") && !ts.iter().any(|t| t == "number")
                }
                _ => false,
            };
            if integer {
                map.insert(STRICT_INTEGER.into(), Value::Bool(true));
            }
            for value in map.values_mut() {
                strict_integers(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict_integers),
        _ => {}
    }
}

/// What kind of mistake a violation is; providers map these to their own error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ViolationKind {
    /// A required field is absent.
    Missing,
    /// A field the API does not know was sent.
    Unknown,
    /// A field is present but its value breaks a rule.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Violation {
    pub pointer: String,
    pub kind: ViolationKind,
    pub message: String,
}

impl Violation {
    pub(crate) fn missing(pointer: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            kind: ViolationKind::Missing,
            message: "required parameter is missing".into(),
        }
    }

    pub(crate) fn unknown(pointer: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            kind: ViolationKind::Unknown,
            message: "unknown parameter".into(),
        }
    }

    pub(crate) fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            kind: ViolationKind::Invalid,
            message: message.into(),
        }
    }

    /// The same violation, found inside a sub-document that sits at `prefix` in the request.
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Escapes one JSON pointer reference token (RFC 6901).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A validator compiled on first use, or why it would not compile.
type Slot = OnceLock<Result<Validator, String>>;

/// The request schemas, each compiled the first time a request needs it. Nothing is parsed at
/// start-up: an idle sandbox does not hold the schema trees, the registry or the validators
/// (about 3.5 MB of heap and 2.5 MB of code paged in), and a send read typed never needs them.
/// The embedded files cannot change after the build, and a unit test compiles every one, so a
/// broken schema still fails the test suite rather than a user's request.
pub(crate) struct Schemas {
    /// Request schema id → its file's text and its validator once compiled.
    validators: BTreeMap<&'static str, (&'static str, Slot)>,
    /// Every schema file, parsed and marked for strict integers, so `$ref`s across files resolve.
    registry: OnceLock<Result<Registry<'static>, String>>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("validators", &self.validators.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Schemas {
    /// Lists the embedded request schemas; each is compiled on first use.
    pub(crate) fn load() -> Self {
        let validators = embedded::EMBEDDED
            .iter()
            .filter(|(id, _)| id.ends_with(".request"))
            .map(|(id, text)| (*id, (*text, OnceLock::new())))
            .collect();
        Self {
            validators,
            registry: OnceLock::new(),
        }
    }

    /// Compiles every request schema now; the first error is returned.
    #[cfg(test)]
    fn compile_all(&self) -> Result<(), String> {
        for id in self.validators.keys() {
            self.validator(id)?;
        }
        Ok(())
    }

    fn registry(&self) -> Result<&Registry<'static>, String> {
        self.registry
            .get_or_init(build_registry)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// How many request schemas there are.
    pub(crate) fn len(&self) -> usize {
        self.validators.len()
    }

    /// Every embedded schema file (requests, responses, webhooks, shared definitions).
    pub(crate) fn ids(&self) -> impl Iterator<Item = &'static str> {
        embedded::EMBEDDED.iter().map(|(id, _)| *id)
    }

    /// The schema document as written, for the OpenAPI document and `GET /__sandbox/schemas`.
    pub(crate) fn source(&self, id: &str) -> Option<Value> {
        let (_, text) = embedded::EMBEDDED.iter().find(|(i, _)| *i == id)?;
        serde_json::from_str(text).ok()
    }

    /// The validator of request schema `id`, compiled now if this is its first use.
    fn validator(&self, id: &str) -> Result<&Validator, String> {
        let Some((id, (text, slot))) = self.validators.get_key_value(id) else {
            return Err(format!("no schema named {id}"));
        };
        if let Some(done) = slot.get() {
            return done.as_ref().map_err(Clone::clone);
        }
        // The registry is built before the validator's slot is entered: one initialiser at a time.
        let registry = self.registry()?;
        slot.get_or_init(|| compile(registry, id, text))
            .as_ref()
            .map_err(|message| format!("schema {id} does not compile: {message}"))
    }

    /// Every violation of schema `id` in `instance`. An unknown id is a programming error and is
    /// reported as a single violation rather than a panic.
    pub(crate) fn validate(&self, id: &str, instance: &Value) -> Vec<Violation> {
        let validator = match self.validator(id) {
            Ok(validator) => validator,
            Err(message) => return vec![Violation::invalid("", message)],
        };
        // Most requests are valid: a yes/no check allocates nothing and stops early.
        if validator.is_valid(instance) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(instance) {
            let base = error.instance_path().as_str().to_string();
            describe(&base, error.kind(), &error.to_string(), &mut out);
        }
        out.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        out.dedup();
        out
    }
}

/// Schema file `id` parsed and marked for strict integers.
fn document(id: &str, text: &str) -> Result<Value, String> {
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| format!("schema {id} is not valid JSON: {e}"))?;
    strict_integers(&mut value);
    Ok(value)
}

/// Every embedded schema file, registered under its URI.
fn build_registry() -> Result<Registry<'static>, String> {
    let documents = embedded::EMBEDDED
        .iter()
        .map(|(id, text)| Ok((format!("{BASE_URI}{id}.json"), document(id, text)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Registry::new()
        .extend(documents)
        .and_then(jsonschema::RegistryBuilder::prepare)
        .map_err(|e| e.to_string())
}

/// Compiles request schema `id`, of file text `text`, against the registry.
fn compile(registry: &Registry<'static>, id: &str, text: &str) -> Result<Validator, String> {
    jsonschema::options()
        .with_keyword(STRICT_INTEGER, |_, _, _| Ok(Box::new(StrictInteger)))
        .with_registry(registry)
        .with_base_uri(format!("{BASE_URI}{id}.json"))
        .should_validate_formats(true)
        .build(&document(id, text)?)
        .map_err(|e| e.to_string())
}

fn describe(base: &str, kind: &ValidationErrorKind, fallback: &str, out: &mut Vec<Violation>) {
    use ValidationErrorKind as K;
    let message = match kind {
        K::Required { property } => {
            let name = property
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| property.to_string());
            out.push(Violation::missing(format!(
                "{base}/{}",
                escape_token(&name)
            )));
            return;
        }
        K::AdditionalProperties { unexpected } | K::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                out.push(Violation::unknown(format!("{base}/{}", escape_token(name))));
            }
            return;
        }
        K::FalseSchema => "is not allowed here".to_string(),
        K::Type { kind } => format!("must be of type {}", type_name(kind, fallback)),
        K::Enum { options } => match options.as_array() {
            Some(values) => format!("must be one of: {}", join_values(values)),
            None => fallback.to_string(),
        },
        K::Constant { expected_value } => format!("must be {expected_value}"),
        K::MaxLength { limit } => format!("must be at most {limit} characters"),
        K::MinLength { limit: 1 } => "must not be empty".to_string(),
        K::MinLength { limit } => format!("must be at least {limit} characters"),
        K::Pattern { pattern } => format!("must match the pattern {pattern}"),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        K::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        K::MinItems { limit } => format!("must have at least {limit} item(s)"),
        K::MaxItems { limit } => format!("must have at most {limit} item(s)"),
        K::MinProperties { limit } => format!("must have at least {limit} key(s)"),
        K::MaxProperties { limit } => format!("must have at most {limit} key(s)"),
        K::UniqueItems => "must not contain duplicate items".to_string(),
        K::Format { format } => format!("must be a valid {format}"),
        K::OneOfNotValid { .. } | K::AnyOf { .. } => {
            "does not match any of the accepted forms".to_string()
        }
        K::OneOfMultipleValid { .. } => "matches more than one accepted form".to_string(),
        K::Custom { message, .. } => message.clone(),
        _ => fallback.to_string(),
    };
    out.push(Violation::invalid(base.to_string(), message));
}

fn type_name(kind: &jsonschema::error::TypeKind, fallback: &str) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(_) => fallback
            .rsplit_once(" is not of types ")
            .map(|(_, t)| t.replace('"', ""))
            .unwrap_or_else(|| "an accepted type".into()),
    }
}

fn join_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_embedded_schema_compiles() {
        let schemas = Schemas::load();
        schemas.compile_all().expect("schemas compile");
        assert!(schemas.len() >= 8, "only {} schemas", schemas.len());
    }

    #[test]
    fn pointers_name_missing_and_unknown_fields_themselves() {
        let schemas = Schemas::load();
        let v = schemas.validate(
            "whatsapp/text.send.request",
            &json!({"preview_url": "yes", "bogus/x": 1}),
        );
        let pointers: Vec<_> = v.iter().map(|v| (v.pointer.as_str(), v.kind)).collect();
        assert!(
            pointers.contains(&("/body", ViolationKind::Missing)),
            "{v:?}"
        );
        assert!(
            pointers.contains(&("/bogus~1x", ViolationKind::Unknown)),
            "{v:?}"
        );
        assert!(
            pointers.contains(&("/preview_url", ViolationKind::Invalid)),
            "{v:?}"
        );
    }

    #[test]
    fn integers_must_be_written_as_integers() {
        let schemas = Schemas::load();
        let id = "razorpay/payment_link.create.request";
        assert!(schemas.validate(id, &json!({"amount": 5000})).is_empty());
        for (amount, message) in [
            (json!(5000.0), MSG_NOT_INTEGER),
            (json!(5e3), MSG_NOT_INTEGER),
            (json!(1e10), MSG_NOT_INTEGER),
            (json!(u64::MAX), MSG_OUT_OF_RANGE),
        ] {
            let v = schemas.validate(id, &json!({ "amount": amount }));
            assert!(
                v.iter()
                    .any(|v| v.pointer == "/amount" && v.message == message),
                "{amount}: {v:?}"
            );
        }
        // Through a `$ref` into another file too.
        let v = schemas.validate(
            "whatsapp/order_details-in.send.request",
            &json!({"type": "order_details", "action": {"name": "review_and_pay", "parameters":
                {"total_amount": {"value": 100.0, "offset": 100}}}}),
        );
        assert!(
            v.iter().any(|v| v.pointer.ends_with("/total_amount/value")
                && v.message == MSG_NOT_INTEGER),
            "{v:?}"
        );
    }

    #[test]
    fn unknown_schema_ids_do_not_panic() {
        let schemas = Schemas::load();
        assert_eq!(schemas.validate("nope", &json!({})).len(), 1);
    }
}
