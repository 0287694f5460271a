//! The sandbox-wide controls: the clock (`/clock`, `/clock/advance`), the scenario and fault
//! rules (`GET`/`PUT /scenario`, `/faults`), reset, the request journal (`/requests`) and the
//! OpenAPI document, all under `/__sandbox`.

use std::time::Duration;

use axum::{
    Json,
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, AdminJson};
use crate::app::AppState;
use crate::clock::{parse_duration, rfc3339};
use crate::scenario::ScenarioConfig;
use crate::webhook::Provider;

fn clock_json(app: &AppState) -> Value {
    let now = app.clock.now_ms();
    json!({
        "now_ms": now,
        "now": rfc3339(now),
        "unix": now.div_euclid(1000),
        "frozen": app.clock.is_frozen(),
        "offset_ms": app.clock.offset_ms(),
        "pending_jobs": app.timeline.pending(),
    })
}

pub async fn clock(State(app): State<AppState>) -> Response {
    Json(clock_json(&app)).into_response()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    pub seconds: Option<f64>,
    pub ms: Option<u64>,
    /// Human form: `15m`, `1h30m`, `250ms`.
    pub duration: Option<String>,
}

/// Moves the sandbox clock forward; whatever fell due fires at once, in time order.
pub async fn advance(
    State(app): State<AppState>,
    AdminJson(a): AdminJson<Advance>,
) -> Result<Response, AdminError> {
    let given = [a.seconds.is_some(), a.ms.is_some(), a.duration.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 1 {
        return Err(AdminError::bad_request(
            "give exactly one of seconds, ms or duration",
        ));
    }
    let by = match (a.seconds, a.ms, a.duration.as_deref()) {
        (Some(s), _, _) if (0.0..1e12).contains(&s) => Duration::from_secs_f64(s),
        (Some(_), _, _) => {
            return Err(AdminError::bad_request(
                "seconds must be a non-negative number",
            ));
        }
        (_, Some(ms), _) => Duration::from_millis(ms),
        (_, _, Some(text)) => parse_duration(text).ok_or_else(|| {
            AdminError::bad_request(format!("duration {text:?} is not like 90s, 15m or 1h30m"))
        })?,
        _ => unreachable!("exactly one field is present"),
    };
    app.clock.advance(by);
    // Let the timeline run what fell due before answering, so a caller sees its effects.
    tokio::task::yield_now().await;
    Ok(Json(clock_json(&app)).into_response())
}

/// Reads a rule set sent as JSON, or as a TOML file with `Content-Type: application/toml`.
async fn json_or_toml<T: serde::de::DeserializeOwned>(
    app: &AppState,
    request: Request,
    from_toml: fn(&str) -> Result<T, String>,
    what: &str,
) -> Result<T, AdminError> {
    let (headers, bytes) = super::read_admin_body(
        request,
        app.config.server.body_limit.max(super::ADMIN_BODY_LIMIT),
    )
    .await?;
    let media = crate::http::media_type(&headers).unwrap_or_default();
    if media.contains("toml") {
        let text =
            std::str::from_utf8(&bytes).map_err(|e| AdminError::bad_request(e.to_string()))?;
        from_toml(text).map_err(AdminError::bad_request)
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| AdminError::bad_request(format!("not a {what}: {e}")))
    }
}

pub async fn get_scenario(State(app): State<AppState>) -> Response {
    Json(app.scenario.get()).into_response()
}

/// Replaces the scenario. JSON by default; `Content-Type: application/toml` reads a scenario file.
pub async fn put_scenario(
    State(app): State<AppState>,
    request: Request,
) -> Result<Response, AdminError> {
    let scenario = json_or_toml(&app, request, ScenarioConfig::from_toml, "scenario").await?;
    app.scenario.replace(scenario).map_err(|problems| {
        AdminError::bad_request("the scenario is not valid").with_details(problems)
    })?;
    Ok(Json(app.scenario.get()).into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct ResetQuery {
    pub provider: Option<String>,
    pub tenant: Option<String>,
}

/// `POST /__sandbox/reset`: everything (or one provider, or one tenant) back to its start state.
pub async fn reset(
    State(app): State<AppState>,
    super::AdminQuery(q): super::AdminQuery<ResetQuery>,
) -> Result<Response, AdminError> {
    let provider = match q.provider.as_deref() {
        None => None,
        Some(p) => Some(Provider::parse(p).ok_or_else(|| {
            AdminError::bad_request(format!("provider {p:?} is not whatsapp, razorpay or qonto"))
        })?),
    };
    app.reset(provider, q.tenant.as_deref());
    Ok(Json(json!({"reset": true, "provider": q.provider, "tenant": q.tenant})).into_response())
}

/// `GET /__sandbox/requests`: the journal, oldest first.
pub async fn requests(
    State(app): State<AppState>,
    super::AdminQuery(f): super::AdminQuery<crate::journal::Filter>,
) -> Result<Response, AdminError> {
    f.check().map_err(AdminError::bad_request)?;
    Ok(Json(json!({ "requests": app.journal.list(&f) })).into_response())
}

/// `DELETE /__sandbox/requests`: forgets the matching journal entries.
pub async fn clear_requests(
    State(app): State<AppState>,
    super::AdminQuery(f): super::AdminQuery<crate::journal::Filter>,
) -> Result<Response, AdminError> {
    f.check().map_err(AdminError::bad_request)?;
    Ok(Json(json!({ "deleted": app.journal.clear(&f) })).into_response())
}

pub async fn get_faults(State(app): State<AppState>) -> Response {
    Json(app.faults.get()).into_response()
}

/// Replaces the fault rules. JSON by default; `Content-Type: application/toml` reads a file.
pub async fn put_faults(
    State(app): State<AppState>,
    request: Request,
) -> Result<Response, AdminError> {
    let faults = json_or_toml(
        &app,
        request,
        crate::faults::FaultConfig::from_toml,
        "fault set",
    )
    .await?;
    app.faults.replace(faults).map_err(|problems| {
        AdminError::bad_request("the fault rules are not valid").with_details(problems)
    })?;
    Ok(Json(app.faults.get()).into_response())
}

pub async fn openapi(State(app): State<AppState>) -> Response {
    Json(super::openapi::document(&app)).into_response()
}
