//! `GET` and `PUT /__sandbox/snapshot`: the whole state as one file, and back (see
//! `crate::snapshot` for what the file holds and how a load is checked).

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AdminState;
use crate::reply::{AdminError, read_admin_body};
use crate::snapshot;

/// Largest snapshot `PUT` takes: 1 GiB, far above what the default store limits can hold.
const SNAPSHOT_LIMIT: usize = 1 << 30;

/// `GET /__sandbox/snapshot`: the state now, as a download.
pub(crate) async fn get(State(admin): State<AdminState>) -> Response {
    let saved = snapshot::save(&admin.ctx, &admin.providers);
    let name = format!(
        "attachment; filename=\"paylink-sandbox-{}.json\"",
        saved.saved_at.replace(':', "-")
    );
    let mut response = Json(saved).into_response();
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `PUT /__sandbox/snapshot`: replaces the whole state with the snapshot sent, or refuses it
/// (422, every problem listed) and changes nothing.
pub(crate) async fn put(
    State(admin): State<AdminState>,
    request: Request,
) -> Result<Response, AdminError> {
    let (_, bytes) = read_admin_body(request, SNAPSHOT_LIMIT).await?;
    let loaded = snapshot::load(&admin.ctx, &admin.providers, &bytes)
        .await
        .map_err(|problems| {
            AdminError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_snapshot",
                "the snapshot was not loaded; nothing changed",
            )
            .with_details(problems)
        })?;
    tracing::info!(
        deliveries = loaded.deliveries,
        journal = loaded.journal,
        jobs = loaded.jobs,
        "snapshot loaded"
    );
    Ok(Json(json!({"loaded": true, "state": loaded})).into_response())
}
