//! `GET /__sandbox/openapi.json`: a self-contained OpenAPI 3.1 document of every emulated route
//! and every admin route, built from the same route tables the routers are built from.
//!
//! Every file under `schemas/` becomes a component named after its path (`razorpay/common.json`
//! is `razorpay.common`) and each of its `$defs` a component of its own
//! (`razorpay.common.notes`); every `$ref` is rewritten to point at those components, so the
//! document resolves without the files. Each operation carries its request schema (required),
//! its path parameters (required), the answer its route table declares, the provider's error
//! envelope for `4XX` and `5XX`, and the provider's security schemes unless the route is public.

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::{Map, Value, json};

use super::AdminState;
use crate::provider::{Answer, ApiDoc, Route};

/// The component name of schema file `id` (`razorpay/webhooks/event`).
fn component_name(id: &str) -> String {
    id.replace('/', ".")
}

/// `dir/file` with `.` and `..` segments folded, without the `.json` suffix.
fn join(dir: &str, file: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for segment in file.trim_end_matches(".json").split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// A `$ref` written in the schema file `from` (or, for `from == ""`, relative to `schemas/`),
/// as a reference into this document's components.
pub(crate) fn component_ref(from: &str, reference: &str) -> String {
    let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let target = if file.is_empty() {
        from.to_string()
    } else {
        join(from.rsplit_once('/').map_or("", |(dir, _)| dir), file)
    };
    let base = component_name(&target);
    match pointer.strip_prefix("/$defs/") {
        Some(rest) => {
            let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!("/{tail}")
            };
            format!("#/components/schemas/{base}.{name}{tail}")
        }
        None => format!("#/components/schemas/{base}{pointer}"),
    }
}

fn rewrite_refs(from: &str, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => *r = component_ref(from, r),
                    _ => rewrite_refs(from, v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(from, v)),
        _ => {}
    }
}

/// Every schema file as components: the file without `$defs`, and each definition.
fn components(sources: impl Iterator<Item = (String, Value)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (id, mut schema) in sources {
        rewrite_refs(&id, &mut schema);
        let name = component_name(&id);
        if let Value::Object(map) = &mut schema {
            map.remove("$schema");
            map.remove("$id");
            if let Some(Value::Object(defs)) = map.remove("$defs") {
                for (def, body) in defs {
                    out.insert(format!("{name}.{def}"), body);
                }
            }
        }
        out.insert(name, schema);
    }
    out
}

fn schema_of(reference: &str) -> Value {
    json!({"$ref": component_ref("", reference)})
}

/// The `responses` object of a route: what it answers when it succeeds, and `error` (a schema
/// reference) for `4XX`/`5XX`; pages also answer their errors as HTML.
fn responses(route: &Route, error: &str) -> Value {
    let html = json!({"text/html": {"schema": {"type": "string"}}});
    let mut out = Map::new();
    let mut error_content = json!({"application/json": {"schema": schema_of(error)}});
    match route.answer {
        Answer::Json(status, schema) => {
            out.insert(
                status.to_string(),
                json!({"description": "Success", "content": {"application/json": {"schema": schema_of(schema)}}}),
            );
        }
        Answer::Empty(status) => {
            out.insert(status.to_string(), json!({"description": "Done; no body"}));
        }
        Answer::Page => {
            out.insert(
                "200".into(),
                json!({"description": "An HTML page", "content": html}),
            );
            error_content["text/html"] = html["text/html"].clone();
        }
        Answer::Redirect(status) => {
            out.insert(
                status.to_string(),
                json!({"description": "Redirects the browser on",
                    "headers": {"Location": {"required": true, "schema": {"type": "string"}}}}),
            );
            out.insert(
                "200".into(),
                json!({"description": "The page again, when there is nowhere to send the browser", "content": html}),
            );
            error_content["text/html"] = html["text/html"].clone();
        }
        Answer::File => {
            out.insert(
                "200".into(),
                json!({"description": "The stored file, with its own media type",
                    "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}),
            );
        }
        Answer::Text(media) => {
            out.insert(
                "200".into(),
                json!({"description": "A static asset", "content": {media: {"schema": {"type": "string"}}}}),
            );
        }
        Answer::Events => {
            out.insert(
                "200".into(),
                json!({"description": "Server-sent events, until the client goes away",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
            );
        }
        Answer::Undeclared => {
            out.insert("default".into(), json!({"description": "Undeclared"}));
        }
    }
    let error = json!({"description": "The error envelope, naming what is wrong", "content": error_content});
    out.insert("4XX".into(), error.clone());
    out.insert("5XX".into(), error);
    Value::Object(out)
}

/// One section of the document: `routes` mounted at `mount`, under `tag`, answering errors with
/// `api.error` and requiring `api.security` unless public.
struct Section<'a> {
    mount: &'a str,
    tag: &'a str,
    api: Option<&'a ApiDoc>,
}

fn add(paths: &mut Map<String, Value>, section: &Section<'_>, routes: &[Route]) {
    let error = section
        .api
        .map_or("sandbox/responses.json#/$defs/error", |a| a.error);
    for route in routes {
        let full = format!("{}{}", section.mount, route.path);
        let params: Vec<Value> = full
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "tags": [section.tag],
            "operationId": format!("{}{}", route.method.to_lowercase(), full.replace(['/', '{', '}', '.'], "_")),
            "summary": format!("{} {full}", route.method),
            "parameters": params,
            "responses": responses(route, error),
        });
        if let Some(id) = route.schema {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema":
                {"$ref": format!("#/components/schemas/{}", component_name(id))}}}});
        }
        match (section.api, route.public) {
            (Some(api), false) => op["security"] = api.security.clone(),
            _ => op["security"] = json!([]),
        }
        let item = paths.entry(full).or_insert_with(|| json!({}));
        item[route.method.to_lowercase()] = op;
    }
}

pub(crate) async fn document(State(admin): State<AdminState>) -> impl IntoResponse {
    let ctx = &admin.ctx;
    let docs: Vec<ApiDoc> = admin
        .providers
        .iter()
        .map(|p| p.api_doc(&ctx.base_url))
        .collect();
    let mut paths = Map::new();
    let mut schemes = Map::new();
    for (p, api) in admin.providers.iter().zip(&docs) {
        let name = p.id().as_str();
        let section = Section {
            mount: &format!("/{name}"),
            tag: name,
            api: Some(api),
        };
        add(&mut paths, &section, p.routes());
        if let Value::Object(s) = &api.schemes {
            schemes.extend(s.clone());
        }
    }
    let admin_section = Section {
        mount: "/__sandbox",
        tag: "admin",
        api: None,
    };
    add(&mut paths, &admin_section, super::ROUTES);
    for p in admin.providers.iter() {
        let name = p.id().as_str();
        let section = Section {
            mount: &format!("/__sandbox/{name}"),
            tag: &format!("admin: {name}"),
            api: None,
        };
        add(&mut paths, &section, p.admin_routes());
    }
    add(
        &mut paths,
        &Section {
            mount: "",
            tag: "dashboard",
            api: None,
        },
        crate::ui::ROUTES,
    );
    let sources = ctx
        .schemas
        .ids()
        .filter_map(|id| ctx.schemas.source(id).map(|s| (id.to_string(), s)));
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "paylink-sandbox",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Local emulation of {} on one server, plus the sandbox's control API under /__sandbox.",
                ctx.providers.join(", ")),
        },
        "servers": [{"url": ctx.base_url}],
        "paths": Value::Object(paths),
        "components": {"schemas": Value::Object(components(sources)), "securitySchemes": Value::Object(schemes)},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_point_into_components() {
        assert_eq!(
            component_ref(
                "razorpay/payment_link.create.request",
                "common.json#/$defs/notes"
            ),
            "#/components/schemas/razorpay.common.notes"
        );
        assert_eq!(
            component_ref("qonto/webhooks/event", "#/$defs/uuid"),
            "#/components/schemas/qonto.webhooks.event.uuid"
        );
        assert_eq!(
            component_ref(
                "qonto/webhooks/event",
                "../common.json#/$defs/x/properties/y"
            ),
            "#/components/schemas/qonto.common.x/properties/y"
        );
        assert_eq!(
            component_ref(
                "qonto/webhook_subscription.update.request",
                "webhook_subscription.create.request.json#/properties/types"
            ),
            "#/components/schemas/qonto.webhook_subscription.create.request/properties/types"
        );
        assert_eq!(
            component_ref("", "razorpay/webhooks/event.json#/$defs/payment"),
            "#/components/schemas/razorpay.webhooks.event.payment"
        );
    }
}
