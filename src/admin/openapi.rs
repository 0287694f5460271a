//! `GET /__sandbox/openapi.json`: an OpenAPI 3.1 document of every emulated route and every
//! admin route, built from the same route tables the routers are built from, with the request
//! schemas the sandbox validates with.

use axum::{Json, extract::State, response::IntoResponse};
use serde_json::{Map, Value, json};

use super::AdminState;
use crate::provider::Route;

fn component_name(schema_id: &str) -> String {
    schema_id.replace('/', ".")
}

fn add(paths: &mut Map<String, Value>, mount: &str, tag: &str, routes: &[Route]) {
    for route in routes {
        let full = format!("{mount}{}", route.path);
        let params: Vec<Value> = full
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "tags": [tag],
            "operationId": format!("{}{}", route.method.to_lowercase(), full.replace(['/', '{', '}', '.'], "_")),
            "summary": format!("{} {full}", route.method),
            "parameters": params,
            "responses": {"default": {"description": "The vendor's answer (or the admin API's JSON)"}},
        });
        if let Some(id) = route.schema {
            op["requestBody"] = json!({"content": {"application/json": {"schema":
                {"$ref": format!("#/components/schemas/{}", component_name(id))}}}});
        }
        let item = paths.entry(full).or_insert_with(|| json!({}));
        item[route.method.to_lowercase()] = op;
    }
}

pub(crate) async fn document(State(admin): State<AdminState>) -> impl IntoResponse {
    let ctx = &admin.ctx;
    let mut paths = Map::new();
    for p in admin.providers.iter() {
        let name = p.id().as_str();
        add(&mut paths, &format!("/{name}"), name, p.routes());
    }
    add(&mut paths, "/__sandbox", "admin", super::ROUTES);
    for p in admin.providers.iter() {
        let name = p.id().as_str();
        add(
            &mut paths,
            &format!("/__sandbox/{name}"),
            &format!("admin: {name}"),
            p.admin_routes(),
        );
    }
    add(&mut paths, "", "dashboard", crate::ui::ROUTES);
    let mut schemas = Map::new();
    for id in ctx.schemas.ids() {
        if let Some(s) = ctx.schemas.source(id) {
            schemas.insert(component_name(id), s.clone());
        }
    }
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
        "components": {"schemas": Value::Object(schemas)},
    }))
}
