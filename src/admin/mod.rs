//! The control API under the reserved prefix `/__sandbox/`: health, the clock, the scenario and
//! fault rules, reset, the request journal, the webhook delivery log, the dashboard's change
//! stream, paying anything by id, and each provider's own part (nested under its name, from
//! `providers::all()`).
//!
//! Admin answers are plain JSON; errors are `{"error": {"code": "...", "message": "..."}}` with
//! a fitting HTTP status (see [`reply`]), never a vendor envelope: this API is the sandbox's own.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json, Router,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::context::Context;
use crate::provider::{Answer, Provider, Route};
use crate::reply::AdminError;

pub(crate) mod control;
pub(crate) mod listen;
pub(crate) mod openapi;
pub(crate) mod snapshot;
pub(crate) mod webhooks;

/// What the admin routes read and act on: the shared context and every provider.
pub(crate) struct Admin {
    pub ctx: Arc<Context>,
    pub providers: Arc<[Arc<dyn Provider>]>,
    /// The data dir, when the state is kept in one.
    pub persist: Option<Arc<crate::persist::Persist>>,
}

impl Admin {
    /// The provider named `name`.
    pub(crate) fn provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.iter().find(|p| p.id().as_str() == name)
    }
}

pub(crate) type AdminState = Arc<Admin>;

/// Admin routes of the sandbox itself (each provider lists its own).
pub(crate) const ROUTES: &[Route] = &[
    Route::new("GET", "/health").json("sandbox/responses.json#/$defs/health"),
    Route::new("GET", "/clock").json("sandbox/responses.json#/$defs/clock"),
    Route::new("POST", "/clock/advance").json("sandbox/responses.json#/$defs/advance"),
    Route::new("GET", "/scenario").json("sandbox/responses.json#/$defs/object"),
    Route::new("PUT", "/scenario").json("sandbox/responses.json#/$defs/object"),
    Route::new("GET", "/webhooks").json("sandbox/responses.json#/$defs/deliveries"),
    Route::new("GET", "/webhooks/{id}").json("sandbox/responses.json#/$defs/delivery"),
    Route::new("POST", "/webhooks/{id}/redeliver").json("sandbox/responses.json#/$defs/object"),
    Route::new("POST", "/reset").json("sandbox/responses.json#/$defs/reset"),
    Route::new("GET", "/requests").json("sandbox/responses.json#/$defs/requests"),
    Route::new("DELETE", "/requests").json("sandbox/responses.json#/$defs/object"),
    Route::new("GET", "/faults").json("sandbox/responses.json#/$defs/faults"),
    Route::new("PUT", "/faults").json("sandbox/responses.json#/$defs/faults"),
    Route::new("POST", "/pay").json("sandbox/responses.json#/$defs/paid"),
    Route::new("GET", "/trigger").json("sandbox/responses.json#/$defs/triggers"),
    Route::new("POST", "/trigger").json("sandbox/responses.json#/$defs/object"),
    Route::new("GET", "/openapi.json").json("sandbox/responses.json#/$defs/object"),
    Route::new("GET", "/events").answers(Answer::Events),
    Route::new("GET", "/listen").answers(Answer::Events),
    Route::new("GET", "/dashboard/links").json("sandbox/responses.json#/$defs/panels"),
    Route::new("GET", "/snapshot").json("sandbox/snapshot.json"),
    Route::with_schema("PUT", "/snapshot", "sandbox/snapshot")
        .json("sandbox/responses.json#/$defs/loaded"),
];

pub(crate) fn router(admin: &AdminState) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/clock", get(control::clock))
        .route("/clock/advance", post(control::advance))
        .route(
            "/scenario",
            get(control::get_scenario).put(control::put_scenario),
        )
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/{id}", get(webhooks::get))
        .route("/webhooks/{id}/redeliver", post(webhooks::redeliver))
        .route("/reset", post(control::reset))
        .route(
            "/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .route("/faults", get(control::get_faults).put(control::put_faults))
        .route("/pay", post(control::pay))
        .route(
            "/trigger",
            get(control::list_triggers).post(control::trigger),
        )
        .route("/openapi.json", get(openapi::document))
        .route("/events", get(events))
        .route("/listen", get(listen::listen))
        .route("/dashboard/links", get(links_panels))
        .route("/snapshot", get(snapshot::get).put(snapshot::put))
        .with_state(admin.clone());
    for p in admin.providers.iter() {
        router = router.nest(&format!("/{}", p.id()), p.clone().admin_router());
    }
    router
        .fallback(unknown)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            notify_changes,
        ))
}

/// `GET /__sandbox/dashboard/links`: what each provider that issues links shows on the
/// dashboard's "Payment links" page.
async fn links_panels(State(admin): State<AdminState>) -> Json<Value> {
    let panels: Vec<_> = admin
        .providers
        .iter()
        .filter_map(|p| p.links_panel())
        .collect();
    Json(json!({ "panels": panels }))
}

/// Tells open dashboards about every admin call that may have changed something (all but reads),
/// and refuses, in the admin envelope, a path whose parameters are not text.
async fn notify_changes(
    State(admin): State<AdminState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !crate::http::path_is_utf8(request.uri().path()) {
        return AdminError::bad_request("the path does not percent-decode to UTF-8 text")
            .into_response();
    }
    let read = request.method() == Method::GET;
    let response = next.run(request).await;
    if !read {
        admin.ctx.events.changed();
        // A change made through the admin API is written before it is acknowledged, as one
        // made through an emulated API is.
        if let Some(persist) = &admin.persist
            && let Err(why) = persist.commit().await
        {
            return AdminError::new(StatusCode::SERVICE_UNAVAILABLE, "not_persisted", why)
                .into_response();
        }
    }
    response
}

/// How many routes the sandbox serves (emulated, admin and dashboard).
pub(crate) fn route_count(providers: &[Arc<dyn Provider>]) -> usize {
    ROUTES.len()
        + crate::ui::ROUTES.len()
        + providers
            .iter()
            .map(|p| p.routes().len() + p.admin_routes().len())
            .sum::<usize>()
}

async fn health(State(admin): State<AdminState>) -> Response {
    let ctx = &admin.ctx;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "base_url": ctx.base_url,
        "seed": ctx.ids.seed(),
        "clock": {"now_ms": ctx.clock.now_ms(), "frozen": ctx.clock.is_frozen()},
        "providers": ctx.providers,
        "schemas": ctx.schemas.len(),
        "routes": route_count(&admin.providers),
        "webhooks": ctx.webhooks.counts(),
        "pending_jobs": ctx.timeline.pending(),
        "tenants": ctx.tenants.counts(),
        "dashboards": ctx.events.dashboards(),
        "state": match &admin.persist {
            Some(p) => json!({"persistent": true, "data_dir": p.dir().display().to_string()}),
            None => json!({"persistent": false, "data_dir": null}),
        },
    }))
    .into_response()
}

/// How long the change stream gathers changes before it sends one event.
const COALESCE: Duration = Duration::from_millis(100);

/// `GET /__sandbox/events`: `event: change` with the generation as data, once on connect and
/// then after each burst of changes (at most ten a second); a comment every 15 s keeps proxies
/// from closing it.
async fn events(
    State(admin): State<AdminState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let (rx, dashboard) = admin.ctx.events.open_dashboard();
    let shutdown = admin.ctx.shutdown_signal();
    let stream = futures_util::stream::unfold(
        (rx, shutdown, true, dashboard),
        |(mut rx, mut shutdown, first, dashboard)| async move {
            if !first {
                tokio::select! {
                    changed = rx.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
                tokio::time::sleep(COALESCE).await;
            }
            let generation = *rx.borrow_and_update();
            let event = Event::default()
                .event("change")
                .data(generation.to_string());
            Some((Ok(event), (rx, shutdown, false, dashboard)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn unknown(uri: Uri) -> AdminError {
    AdminError::not_found(format!("no admin route {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not a method of {}", uri.path()),
    )
}
