//! Graph's node reads around a send: `GET /{phone_number_id}` (the business phone number's
//! fields), `GET /{waba_id}` and `GET /{waba_id}/payment_configurations`. A node id the token
//! cannot see, or that does not exist, answers Graph's 100/33 ("does not exist, cannot be loaded
//! due to missing permissions, or does not support this operation").
//!
//! Choices where Meta is silent: `display_phone_number` is the configured value as written (Meta
//! formats it, `+1 555-078-3881`); the quality is `GREEN`, the throughput `STANDARD`, the name
//! status `APPROVED`; each payment configuration is `Active` with fixed merchant and purpose codes.

use std::collections::HashMap;

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde_json::{Map, Value, json};

use super::Wa;
use super::auth::{GraphAuth, Principal};
use super::config::BusinessConfig;
use super::error::GraphError;
use super::graph::graph;

/// `GET /{node}`: a phone number the token acts for, or its WABA.
pub(super) async fn node(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
) -> Response {
    // Unversioned, `/{node}/{edge}` lands here with the node read as a version: it is a node
    // id, and one that does not exist.
    if let Some(v) = path.get("version")
        && !super::config::is_graph_version(v)
    {
        let err = auth.principal.clone().err().unwrap_or(GraphError::UnknownObject {
            id: v.clone(),
            method: "get".into(),
        });
        return super::graph::graph_error(&app, &app.config.api_version, &err);
    }
    graph(app, auth.usage(), path, async move |app: &Wa, node: &str| {
        if let Some((phone_number_id, media)) = super::media::find(app, &auth, node) {
            return Ok(super::media::metadata(app, &phone_number_id, &media));
        }
        let business = business_of(app, &auth, node)?;
        let fields = crate::http::query_pairs(query.as_deref().unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "fields")
            .map(|(_, v)| v);
        let all = if node == business.phone_number_id {
            phone_number(&business)
        } else {
            json!({
                "id": business.waba_id,
                "name": "paylink-sandbox",
                "timezone_id": "1",
                "message_template_namespace": format!("paylink_sandbox_{}", business.waba_id),
            })
        };
        Ok(select(all, fields.as_deref()))
    })
    .await
}

/// `DELETE /{node}`: an uploaded media file (the only node the sandbox lets a token delete).
pub(super) async fn delete(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, node: &str| {
        match super::media::find(app, &auth, node) {
            Some((phone_number_id, _)) => Ok(super::media::delete(app, &phone_number_id, node)),
            None => Err(auth.principal.clone().err().unwrap_or(GraphError::UnknownObject {
                id: node.to_string(),
                method: "delete".into(),
            })),
        }
    })
    .await
}

/// `GET /{waba_id}/payment_configurations`: the business's configured payment configurations.
pub(super) async fn payment_configurations(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, node: &str| {
        let business = business_of(app, &auth, node)?;
        if node != business.waba_id {
            return Err(GraphError::UnknownPath {
                path: "/payment_configurations".into(),
            });
        }
        let created = app.ctx.clock.now_secs();
        let configurations: Vec<Value> = business
            .payment_configurations
            .iter()
            .map(|c| {
                let mut v = json!({
                    "configuration_name": c.configuration_name,
                    "merchant_category_code": {"code": "0000", "description": "Test merchant"},
                    "purpose_code": {"code": "00", "description": "Default"},
                    "status": "Active",
                    "provider_name": c.provider_name,
                    "created_timestamp": created,
                    "updated_timestamp": created,
                });
                if c.provider_name == "upi_vpa" {
                    v["merchant_vpa"] = json!("merchant@upi");
                } else {
                    v["provider_mid"] = json!(format!("mid_{}", c.configuration_name));
                }
                v
            })
            .collect();
        Ok(json!({"data": [{"payment_configurations": configurations}]}))
    })
    .await
}

/// The business behind `node` (its phone number id or its WABA id), when the token acts for it.
fn business_of(app: &Wa, auth: &GraphAuth, node: &str) -> Result<BusinessConfig, GraphError> {
    let missing = || GraphError::UnknownObject {
        id: node.to_string(),
        method: "get".into(),
    };
    let phone_number_id = match auth.principal.as_ref().map_err(Clone::clone)? {
        Principal::Business {
            phone_number_id,
            waba_id,
            ..
        } if phone_number_id == node || waba_id == node => phone_number_id.clone(),
        _ => return Err(missing()),
    };
    app.store
        .lock()
        .business(&phone_number_id)
        .map(|b| b.config.clone())
        .ok_or_else(missing)
}

fn phone_number(b: &BusinessConfig) -> Value {
    json!({
        "verified_name": "paylink-sandbox",
        "code_verification_status": "VERIFIED",
        "display_phone_number": b.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "name_status": "APPROVED",
        "id": b.phone_number_id,
    })
}

/// Only the fields asked for (plus `id`, which Graph always returns), or Graph's default set.
fn select(all: Value, fields: Option<&str>) -> Value {
    let (Some(fields), Value::Object(all)) = (fields, &all) else {
        return all;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    let picked: Map<String, Value> = all
        .iter()
        .filter(|(k, _)| *k == "id" || wanted.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(picked)
}
