//! The delivery log: `GET /__sandbox/webhooks`, `GET /__sandbox/webhooks/{id}` and
//! `POST /__sandbox/webhooks/{id}/redeliver`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{AdminError, AdminQuery};
use crate::app::AppState;
use crate::webhook::{Filter, Provider, RedeliverError, Status};

pub async fn list(
    State(app): State<AppState>,
    AdminQuery(filter): AdminQuery<Filter>,
) -> Result<Response, AdminError> {
    if let Some(p) = filter.provider.as_deref()
        && Provider::parse(p).is_none()
    {
        return Err(AdminError::bad_request(format!(
            "provider {p:?} is not whatsapp, razorpay or qonto"
        )));
    }
    if let Some(s) = filter.status.as_deref()
        && Status::parse(s).is_none()
    {
        return Err(AdminError::bad_request(format!(
            "status {s:?} is not one of scheduled, in_flight, delivered, retrying, failed, no_target"
        )));
    }
    Ok(Json(json!({ "deliveries": app.webhooks.list(&filter) })).into_response())
}

pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let d = app
        .webhooks
        .get(&id)
        .ok_or_else(|| AdminError::not_found(format!("no webhook delivery with id {id:?}")))?;
    Ok(Json(d.to_json(true)).into_response())
}

pub async fn redeliver(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let target = match app.webhooks.get(&id) {
        Some(d) if d.target.is_none() => app.current_target(&d),
        _ => None,
    };
    app.webhooks
        .redeliver(&app, &id, target)
        .map_err(|e| match e {
            RedeliverError::NotFound(_) => AdminError::not_found(e.to_string()),
            RedeliverError::InFlight(_) | RedeliverError::NoTarget(_) => {
                AdminError::conflict(e.to_string())
            }
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "status": "scheduled"})),
    )
        .into_response())
}
