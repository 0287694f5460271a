//! The delivery log: `GET /__sandbox/webhooks`, `GET /__sandbox/webhooks/{id}` and
//! `POST /__sandbox/webhooks/{id}/redeliver`.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AdminState;
use crate::reply::{AdminError, AdminPath, AdminQuery};
use crate::wait::{self, WaitQuery};
use crate::webhook::{Filter, RedeliverError};

/// `GET /__sandbox/webhooks`: deliveries oldest first; `wait` and `count` hold the call until
/// enough deliveries match (see `crate::wait`).
pub(crate) async fn list(
    State(admin): State<AdminState>,
    AdminQuery(mut filter): AdminQuery<Filter>,
    AdminQuery(w): AdminQuery<WaitQuery>,
) -> Result<Response, AdminError> {
    if let Some(p) = filter.provider.as_deref()
        && admin.provider(p).is_none()
    {
        return Err(AdminError::bad_request(format!(
            "provider {p:?} is not one of {}",
            admin.ctx.providers.join(", ")
        )));
    }
    filter.check().map_err(AdminError::bad_request)?;
    let limit = filter.limit.take();
    // Deliveries dropped to stay within `webhooks.max_waiting` are gone from the list; the count
    // says so.
    let dropped = serde_json::json!({"dropped": admin.ctx.webhooks.dropped()});
    wait::answer_with(&admin.ctx, &w, "deliveries", limit, &dropped, || {
        admin.ctx.webhooks.list(&filter)
    })
    .await
}

pub(crate) async fn get(
    State(admin): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Response, AdminError> {
    let d = admin
        .ctx
        .webhooks
        .get(&id)
        .ok_or_else(|| AdminError::not_found(format!("no webhook delivery with id {id:?}")))?;
    Ok(Json(d.to_json(true)).into_response())
}

/// Sends a delivery again; one that had no target goes where its provider sends now.
pub(crate) async fn redeliver(
    State(admin): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Response, AdminError> {
    let target = match admin.ctx.webhooks.get(&id) {
        Some(d) if d.target.is_none() => admin
            .provider(d.provider.as_str())
            .and_then(|p| p.webhook_target(&d.tenant)),
        _ => None,
    };
    admin
        .ctx
        .webhooks
        .redeliver(&id, target)
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
