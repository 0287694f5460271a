//! The sandbox-wide controls under `/__sandbox`: the clock (`/clock`, `/clock/advance`), the
//! scenario and fault rules (`GET`/`PUT /scenario`, `/faults`), reset, the request journal
//! (`/requests`), and paying anything the sandbox knows by id (`/pay`).

use std::time::Duration;

use axum::{
    Json,
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminState;
use crate::clock::{parse_duration, rfc3339};
use crate::context::Context;
use crate::faults::FaultConfig;
use crate::journal::Filter;
use crate::provider::{Match, PayOptions};
use crate::reply::{AdminError, AdminJson, AdminQuery, read_admin_body};
use crate::scenario::ScenarioConfig;
use crate::wait::{self, WaitQuery};

fn clock_json(ctx: &Context) -> Value {
    let now = ctx.clock.now_ms();
    json!({
        "now_ms": now,
        "now": rfc3339(now),
        "unix": now.div_euclid(1000),
        "frozen": ctx.clock.is_frozen(),
        "offset_ms": ctx.clock.offset_ms(),
        "pending_jobs": ctx.timeline.pending(),
        "next_due_ms": ctx.timeline.next_due(),
        "next_due": ctx.timeline.next_due().map(rfc3339),
    })
}

pub(crate) async fn clock(State(admin): State<AdminState>) -> Response {
    Json(clock_json(&admin.ctx)).into_response()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    pub seconds: Option<f64>,
    pub ms: Option<u64>,
    /// Human form: `15m`, `1h30m`, `250ms`.
    pub duration: Option<String>,
}

/// Moves the sandbox clock forward as a simulation step (see [`crate::advance`]): answers once
/// everything due in the window, and everything that scheduled inside it, has run.
pub(crate) async fn advance(
    State(admin): State<AdminState>,
    AdminJson(a): AdminJson<Advance>,
) -> Result<Response, AdminError> {
    let by = match (a.seconds, a.ms, a.duration.as_deref()) {
        (Some(s), None, None) if (0.0..1e12).contains(&s) => Duration::from_secs_f64(s),
        (Some(_), None, None) => {
            return Err(AdminError::bad_request(
                "seconds must be a non-negative number",
            ));
        }
        (None, Some(ms), None) => Duration::from_millis(ms),
        (None, None, Some(text)) => parse_duration(text).ok_or_else(|| {
            AdminError::bad_request(format!("duration {text:?} is not like 90s, 15m or 1h30m"))
        })?,
        _ => {
            return Err(AdminError::bad_request(
                "give exactly one of seconds, ms or duration",
            ));
        }
    };
    let ran = admin.ctx.advance(by).await;
    let mut body = clock_json(&admin.ctx);
    body["ran"] = serde_json::to_value(&ran).unwrap_or(Value::Null);
    Ok(Json(body).into_response())
}

/// Reads a rule set sent as JSON, or as a TOML file with `Content-Type: application/toml`.
async fn json_or_toml<T: serde::de::DeserializeOwned>(
    ctx: &Context,
    request: Request,
    from_toml: fn(&str) -> Result<T, String>,
    what: &str,
) -> Result<T, AdminError> {
    let limit = ctx.limits.body_limit.max(crate::reply::ADMIN_BODY_LIMIT);
    let (headers, bytes) = read_admin_body(request, limit).await?;
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

pub(crate) async fn get_scenario(State(admin): State<AdminState>) -> Response {
    Json(admin.ctx.scenario.get()).into_response()
}

/// Replaces the scenario. JSON by default; `Content-Type: application/toml` reads a scenario file.
pub(crate) async fn put_scenario(
    State(admin): State<AdminState>,
    request: Request,
) -> Result<Response, AdminError> {
    let ctx = &admin.ctx;
    let scenario = json_or_toml(ctx, request, ScenarioConfig::from_toml, "scenario").await?;
    scenario.validate(ctx.rule_checks).map_err(|problems| {
        AdminError::bad_request("the scenario is not valid").with_details(problems)
    })?;
    ctx.scenario.replace(scenario);
    Ok(Json(ctx.scenario.get()).into_response())
}

pub(crate) async fn get_faults(State(admin): State<AdminState>) -> Response {
    Json(admin.ctx.faults.get()).into_response()
}

/// Replaces the fault rules. JSON by default; `Content-Type: application/toml` reads a file.
pub(crate) async fn put_faults(
    State(admin): State<AdminState>,
    request: Request,
) -> Result<Response, AdminError> {
    let ctx = &admin.ctx;
    let faults = json_or_toml(ctx, request, FaultConfig::from_toml, "fault set").await?;
    ctx.faults
        .replace(faults, ctx.providers)
        .map_err(|problems| {
            AdminError::bad_request("the fault rules are not valid").with_details(problems)
        })?;
    Ok(Json(ctx.faults.get()).into_response())
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ResetQuery {
    pub provider: Option<String>,
    pub tenant: Option<String>,
}

/// `POST /__sandbox/reset`: everything (or one provider, or one tenant) back to its start state:
/// stores as configured, journal, delivery log and waiting jobs emptied. A whole reset also
/// rewinds the clock, the scenario, the fault rules and the id stream.
pub(crate) async fn reset(
    State(admin): State<AdminState>,
    AdminQuery(q): AdminQuery<ResetQuery>,
) -> Result<Response, AdminError> {
    let ctx = &admin.ctx;
    let provider = match q.provider.as_deref() {
        None => None,
        Some(p) => Some(admin.provider(p).map(|p| p.id()).ok_or_else(|| {
            AdminError::bad_request(format!(
                "provider {p:?} is not one of {}",
                ctx.providers.join(", ")
            ))
        })?),
    };
    let tenant = q.tenant.as_deref();
    let everything = provider.is_none() && tenant.is_none();
    // The id stream restarts before the providers rebuild their stores, which draw from it, as
    // they did at start-up.
    if everything {
        ctx.ids.reset();
    }
    crate::provider::forget(
        &ctx.timeline,
        &ctx.webhooks,
        admin.providers.iter().map(|p| &**p),
        provider,
        tenant,
    );
    ctx.tenants.clear(provider, tenant);
    ctx.journal.clear(&Filter {
        provider: provider.map(|p| p.as_str().to_string()),
        tenant: tenant.map(str::to_string),
        ..Default::default()
    });
    if everything {
        ctx.clock.reset();
        ctx.scenario.reset();
        ctx.faults.reset();
    }
    Ok(Json(json!({"reset": true, "provider": q.provider, "tenant": q.tenant})).into_response())
}

/// `GET /__sandbox/requests`: the journal, oldest first; `wait` and `count` hold the call until
/// enough requests match (see `crate::wait`).
pub(crate) async fn requests(
    State(admin): State<AdminState>,
    AdminQuery(mut f): AdminQuery<Filter>,
    AdminQuery(w): AdminQuery<WaitQuery>,
) -> Result<Response, AdminError> {
    f.check(admin.ctx.providers)
        .map_err(AdminError::bad_request)?;
    let limit = f.limit.take();
    wait::answer(&admin.ctx, &w, "requests", limit, || {
        admin.ctx.journal.list(&f)
    })
    .await
}

/// `DELETE /__sandbox/requests`: forgets the matching journal entries.
pub(crate) async fn clear_requests(
    State(admin): State<AdminState>,
    AdminQuery(f): AdminQuery<Filter>,
) -> Result<Response, AdminError> {
    f.check(admin.ctx.providers)
        .map_err(AdminError::bad_request)?;
    Ok(Json(json!({ "deleted": admin.ctx.journal.clear(&f) })).into_response())
}

/// `POST /__sandbox/pay`: pays whatever `target` names (a link id or URL first, then an order or
/// link reference), whichever provider it belongs to.
pub(crate) async fn pay(
    State(admin): State<AdminState>,
    AdminJson(options): AdminJson<PayOptions>,
) -> Result<Response, AdminError> {
    for matching in [Match::Exact, Match::Reference] {
        for p in admin.providers.iter() {
            if let Some(result) = p.pay(&options, matching) {
                return Ok(Json(result?).into_response());
            }
        }
    }
    Err(AdminError::not_found(format!(
        "{:?} is not a payment link id, link URL or order reference this sandbox knows",
        options.target
    )))
}

/// `GET /__sandbox/trigger`: every named event each provider can fire.
pub(crate) async fn list_triggers(State(admin): State<AdminState>) -> Json<Value> {
    let triggers: Vec<Value> = admin
        .providers
        .iter()
        .flat_map(|p| {
            p.triggers()
                .iter()
                .map(move |t| json!({"provider": p.id(), "event": t.name, "about": t.about}))
        })
        .collect();
    Json(json!({ "triggers": triggers }))
}

/// `POST /__sandbox/trigger`: fires one named event end to end (see `crate::trigger`).
pub(crate) async fn trigger(
    State(admin): State<AdminState>,
    AdminJson(options): AdminJson<crate::trigger::Options>,
) -> Result<Response, AdminError> {
    let provider = admin.provider(&options.provider).ok_or_else(|| {
        AdminError::bad_request(format!(
            "provider {:?} is not one of {}",
            options.provider,
            admin.ctx.providers.join(", ")
        ))
    })?;
    if !provider.triggers().iter().any(|t| t.name == options.event) {
        let names: Vec<&str> = provider.triggers().iter().map(|t| t.name).collect();
        return Err(AdminError::not_found(format!(
            "{} has no trigger {:?}; it has {}",
            options.provider,
            options.event,
            names.join(", ")
        )));
    }
    let caller = crate::trigger::Caller::new(&admin.ctx.local_url);
    let result = provider.trigger(&options, &caller).await?;
    Ok(
        Json(json!({"provider": options.provider, "event": options.event, "did": result}))
            .into_response(),
    )
}
