//! Message templates: a registry per WABA, filled from the configuration (and embedded defaults)
//! and through Graph's own management endpoints (`GET`/`POST /{waba_id}/message_templates`), and
//! the checks a template send gets against it, answered synchronously in Graph's envelope:
//! - unknown name, or a language the name has no translation in: 132001;
//! - a template not `APPROVED`: `PAUSED` 132015, `DISABLED` 132016, `PENDING` or `REJECTED`
//!   132001 (Meta does not find unapproved translations; the sandbox's choice of code);
//! - a component's parameter count different from its `{{n}}` placeholders: 132000;
//! - a header parameter whose type differs from the header's format (an `IMAGE` header given
//!   text): 132012.
//!
//! Choices where Meta is silent: a template created through the API is `APPROVED` at once (Meta
//! reviews it, usually within minutes), so a test can send it right away; ids are numeric
//! strings from the seeded stream.

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::Wa;
use super::auth::GraphAuth;
use super::config::Template;
#[cfg(test)]
use super::config::default_templates as defaults;
use super::error::GraphError;
use super::graph::{GraphRequest, graph};

/// How many `{{n}}` placeholders a component's text holds.
fn placeholders(text: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Ok(n) = after[..end].trim().parse::<u32>() {
            seen.insert(n);
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

fn component<'a>(template: &'a Template, kind: &str) -> Option<&'a Value> {
    template
        .components
        .iter()
        .find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
}

fn refusal(code: i64, title: &str, details: String) -> GraphError {
    GraphError::Scripted {
        code,
        status: StatusCode::BAD_REQUEST,
        title: title.into(),
        details,
    }
}

/// A checked template send as the customer reads it: the header, body and footer texts with
/// each `{{n}}` replaced by the n-th parameter given for that component.
pub(super) fn render(registry: &[Template], message: &Value) -> Option<String> {
    let sent = &message["template"];
    let template = registry.iter().find(|t| {
        Some(t.name.as_str()) == sent["name"].as_str()
            && Some(t.language.as_str()) == sent["language"]["code"].as_str()
    })?;
    let mut lines = Vec::new();
    for kind in ["header", "body", "footer"] {
        let Some(text) = component(template, kind).and_then(|c| c["text"].as_str()) else {
            continue;
        };
        let params: Vec<String> = sent["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
            .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
            .map(|p| match p["type"].as_str() {
                Some("currency") => p["currency"]["fallback_value"].as_str().unwrap_or_default().to_string(),
                Some("date_time") => p["date_time"]["fallback_value"].as_str().unwrap_or_default().to_string(),
                _ => p["text"].as_str().unwrap_or_default().to_string(),
            })
            .collect();
        let mut line = text.to_string();
        for (i, value) in params.iter().enumerate() {
            line = line.replace(&format!("{{{{{}}}}}", i + 1), value);
        }
        lines.push(line);
    }
    Some(lines.join("\n"))
}

/// Checks a template send (`message["template"]`) against the registry.
pub(super) fn check(registry: &[Template], message: &Value) -> Result<(), GraphError> {
    let sent = &message["template"];
    let name = sent["name"].as_str().unwrap_or_default();
    let language = sent["language"]["code"].as_str().unwrap_or_default();
    let missing = || {
        refusal(
            132_001,
            "Template name does not exist in the translation",
            format!("/template/name: template name ({name}) does not exist in {language}"),
        )
    };
    let template = registry
        .iter()
        .find(|t| t.name == name && t.language == language)
        .ok_or_else(missing)?;
    match template.status.as_str() {
        "APPROVED" => {}
        "PAUSED" => {
            return Err(refusal(
                132_015,
                "Template is Paused",
                format!("/template/name: template ({name}) is paused because of low quality"),
            ));
        }
        "DISABLED" => {
            return Err(refusal(
                132_016,
                "Template is disabled",
                format!("/template/name: template ({name}) was disabled because of low quality"),
            ));
        }
        _ => return Err(missing()),
    }
    check_parameters(template, sent)
}

/// Each component's parameters against its placeholders and, for a media header, its format.
fn check_parameters(template: &Template, sent: &Value) -> Result<(), GraphError> {
    // Each component sent, by type: its index in `components` and its parameters.
    let given: HashMap<String, (usize, &Vec<Value>)> = sent["components"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, c)| {
            Some((
                c["type"].as_str()?.to_ascii_lowercase(),
                (i, c["parameters"].as_array()?),
            ))
        })
        .collect();
    for kind in ["header", "body"] {
        let Some(c) = component(template, kind) else {
            continue;
        };
        let format = c["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase();
        let expected = if format == "TEXT" {
            placeholders(c["text"].as_str().unwrap_or_default())
        } else {
            1
        };
        let (at, params) = match given.get(kind) {
            Some((i, p)) => (format!("/template/components/{i}/parameters"), p.as_slice()),
            None => ("/template/components".to_string(), &[][..]),
        };
        if params.len() != expected {
            return Err(refusal(
                132_000,
                "Number of parameters does not match the expected number of params",
                format!(
                    "{at}: {kind}: number of localizable_params ({}) does not match the expected number of params ({expected})",
                    params.len()
                ),
            ));
        }
        if kind == "header" && format != "TEXT" {
            let got = params[0]["type"].as_str().unwrap_or_default();
            if !got.eq_ignore_ascii_case(&format) {
                return Err(refusal(
                    132_012,
                    "Parameter format does not match format in the created template",
                    format!(
                        "{at}/0/type: header: format mismatch, expected {format}, received {}",
                        got.to_ascii_uppercase()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `GET`/`POST /{waba_id}/message_templates`: the WABA's templates, or a new one.
pub(super) async fn message_templates(
    State(app): State<Wa>,
    auth: GraphAuth,
    method: Method,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request_body: Body,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, waba_id: &str| {
        let method_name = method.as_str().to_ascii_lowercase();
        let phone_number_id = auth.waba(waba_id, &method_name)?.to_string();
        let request = GraphRequest::read(app, query.as_deref(), &headers, request_body).await?;
        if method == Method::GET {
            let name = request.param("name").map(str::to_string);
            let status = request.param("status").map(str::to_ascii_uppercase);
            let store = app.store.lock();
            let data: Vec<Value> = store
                .business(&phone_number_id)
                .map(|b| b.templates.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|t| name.as_deref().is_none_or(|n| t.name == n))
                .filter(|t| status.as_deref().is_none_or(|s| t.status == s))
                .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
                .collect();
            return Ok(json!({"data": data, "paging": {"cursors": {"before": "MAA==", "after": "MjQZD"}}}));
        }
        let params = request.body().map_err(GraphError::Body)?;
        let template = created(app, &params)?;
        let answer = json!({"id": template.id, "status": template.status, "category": template.category});
        let mut store = app.store.lock();
        if let Some(b) = store.business_mut(&phone_number_id) {
            if b.templates.iter().any(|t| t.name == template.name && t.language == template.language) {
                return Err(refusal(
                    100,
                    "Invalid parameter",
                    format!(
                        "Content in this language already exists for template {}",
                        template.name
                    ),
                ));
            }
            b.templates.push(template);
        }
        Ok(answer)
    })
    .await
}

/// A template from a creation request, or Graph's error naming what is wrong.
fn created(app: &Wa, params: &Value) -> Result<Template, GraphError> {
    let text = |key: &str| params[key].as_str().map(str::to_string);
    let mut problems = Vec::new();
    let name = text("name").unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        problems.push("/name: must be lowercase letters, digits and underscores".to_string());
    }
    let category = text("category").unwrap_or_default().to_ascii_uppercase();
    if !["UTILITY", "MARKETING", "AUTHENTICATION"].contains(&category.as_str()) {
        problems.push("/category: must be UTILITY, MARKETING or AUTHENTICATION".to_string());
    }
    let language = text("language").unwrap_or_default();
    if language.is_empty() {
        problems.push("/language: required parameter is missing".to_string());
    }
    let components = params["components"].as_array().cloned().unwrap_or_default();
    if component_of(&components, "body").is_none() {
        problems.push("/components: a BODY component is required".to_string());
    }
    if !problems.is_empty() {
        return Err(refusal(100, "Invalid parameter", problems.join("; ")));
    }
    Ok(Template {
        name,
        language,
        category,
        status: "APPROVED".into(),
        components,
        id: app.ctx.ids.digits(15),
    })
}

fn component_of<'a>(components: &'a [Value], kind: &str) -> Option<&'a Value> {
    components
        .iter()
        .find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(placeholders("Hi {{1}}, order {{2}} ({{1}})"), 2);
        assert_eq!(placeholders("no params"), 0);
        assert_eq!(placeholders("broken {{1"), 0);
    }

    #[test]
    fn sends_are_checked_against_the_registry() {
        let registry = defaults();
        let send = |name: &str, lang: &str, components: Value| {
            check(
                &registry,
                &json!({"template": {"name": name, "language": {"code": lang}, "components": components}}),
            )
            .map_err(|e| e.code())
        };
        assert_eq!(send("hello_world", "en_US", json!([])), Ok(()));
        assert_eq!(send("hello_wrld", "en_US", json!([])), Err(132_001));
        assert_eq!(send("hello_world", "pt_BR", json!([])), Err(132_001));
        let one = json!([{"type": "body", "parameters": [{"type": "text", "text": "A"}]}]);
        assert_eq!(send("order_reminder", "en_US", one.clone()), Err(132_000));
        assert_eq!(send("order_confirmation", "en_US", one.clone()), Ok(()));
        let text_header = json!([{"type": "header", "parameters": [{"type": "text", "text": "x"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "A"}]}]);
        assert_eq!(send("order_shipped", "en_US", text_header), Err(132_012));
    }
}
