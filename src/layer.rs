//! The middleware around the routes.
//!
//! - [`guard`]: every request, before routing: the guard's host, loop and cross-site checks, and
//!   the security headers of every answer. A refused provider request is answered in that
//!   provider's envelope, anything else in the admin envelope.
//! - [`provider`]: every request to an emulated API: reads the body once (at most the server's
//!   limit, through `http_body_util::Limited`, the primitive tower-http's body limit uses, so the
//!   provider can refuse an oversized body in its own words), lets the provider resolve the
//!   credentials once, applies the fault rules, and journals the request, its answer and the
//!   violations the provider's error attached.

use std::sync::Arc;
use std::time::Instant;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;

use crate::context::Context;
use crate::journal::{EXCERPT_BYTES, Entry, Rejection, redact_headers, redact_query};
use crate::provider::{Problem, Provider};
use crate::reply::AdminError;

/// Answers bigger than this are passed through but journaled only in part.
const RESPONSE_BUFFER: usize = 8 * 1024 * 1024;

/// The state of [`guard`]: the context and every provider, to answer in the right envelope.
#[derive(Clone)]
pub(crate) struct Guarded {
    pub ctx: Arc<Context>,
    pub providers: Arc<[Arc<dyn Provider>]>,
}

/// The state of [`provider`]: the context and the provider whose routes it wraps.
#[derive(Clone)]
pub(crate) struct Mounted {
    pub ctx: Arc<Context>,
    pub provider: Arc<dyn Provider>,
    /// The data dir, when the state is kept in one: every answer waits for its commit.
    pub persist: Option<Arc<crate::persist::Persist>>,
}

pub(crate) async fn guard(State(g): State<Guarded>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let mut refusal = g.ctx.guard.check_request(request.headers()).err();
    if refusal.is_none() && path.starts_with("/__sandbox/") {
        let toml_ok = request.method() == Method::PUT
            && matches!(path, "/__sandbox/scenario" | "/__sandbox/faults");
        refusal = g
            .ctx
            .guard
            .check_admin(request.method(), request.headers(), toml_ok)
            .err();
    }
    let mut response = match refusal {
        None => next.run(request).await,
        Some(r) => {
            let mount = path.trim_start_matches('/').split('/').next().unwrap_or("");
            match g.providers.iter().find(|p| p.id().as_str() == mount) {
                Some(p) => p.answer(Problem::Refused {
                    status: r.status(),
                    message: r.message(),
                }),
                None => AdminError::new(r.status(), r.code(), r.message()).into_response(),
            }
        }
    };
    crate::guard::secure_headers(response.headers_mut());
    response
}

/// The request body, its size as the journal reports it, and the provider's answer when there is
/// no request to serve.
async fn read_body(
    body: Body,
    limit: usize,
    provider: &dyn Provider,
) -> (Bytes, usize, Option<Response>) {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let total = bytes.len();
            // Copied once, here, to a buffer of its own: as read it is often a slice of the
            // connection's whole read buffer, which a store keeping the body would pin. This one
            // copy is what the handler reads and, when short enough, what the journal keeps.
            let bytes = Bytes::copy_from_slice(&bytes);
            (bytes, total, None)
        }
        // Too large, or the connection failed mid-body: either way there is no request to serve.
        Err(_) => (
            Bytes::new(),
            limit + 1,
            Some(provider.answer(Problem::TooLarge { limit })),
        ),
    }
}

/// With `--accept-any-credentials`, marks `tenant` as used; one tenant too many and the one
/// unused longest goes, with what it left waiting (`server.max_tenants`).
fn keep_tenants_bounded(
    ctx: &crate::context::Context,
    provider: &dyn crate::provider::Provider,
    tenant: &str,
) {
    if !ctx.limits.accept_any_credentials || provider.configured(tenant) {
        return;
    }
    let Some(old) = ctx.tenants.touch(provider.id(), tenant) else {
        return;
    };
    let id = provider.id();
    crate::provider::forget(
        &ctx.timeline,
        &ctx.webhooks,
        [provider],
        Some(id),
        Some(&old),
    );
    tracing::info!(provider = id.as_str(), tenant = %old, "least recently used tenant forgotten (server.max_tenants)");
}

pub(crate) async fn provider(State(m): State<Mounted>, request: Request, next: Next) -> Response {
    let (ctx, provider, persist) = (m.ctx, m.provider, m.persist);
    let started = Instant::now();
    let at = ctx.clock.now_ms();
    let (mut parts, body) = request.into_parts();
    // Inside `nest`, the URI has lost its `/<provider>` prefix; the journal and fault rules see
    // the path as sent.
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path().to_string(), |u| u.path().to_string());
    let method = parts.method.to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let headers = redact_headers(&parts.headers);
    let (bytes, total, response) = read_body(body, ctx.limits.body_limit, &*provider).await;
    let tenant = provider.authenticate(&mut parts, &bytes);
    if let Some(t) = tenant.as_deref() {
        keep_tenants_bounded(&ctx, &*provider, t);
    }
    let decision = ctx.faults.for_request(
        provider.id().as_str(),
        &method,
        &path,
        tenant.as_deref(),
        &ctx.ids,
    );
    let answer = async {
        if let Some(latency) = decision.latency {
            tokio::time::sleep(latency).await;
        }
        match (response, decision.error) {
            (Some(refused), _) => refused,
            // A path whose parameters are not text is no route of the vendor's.
            _ if !crate::http::path_is_utf8(&path) => provider.answer(Problem::NotFound),
            (None, Some(kind)) => provider.answer(Problem::Fault(kind)),
            (None, None) => {
                next.run(Request::from_parts(parts, Body::from(bytes.clone())))
                    .await
            }
        }
    };
    // The deadline is kept here rather than by tower-http's `TimeoutLayer`, whose answer is an
    // empty 408: a stalled vendor answers with its own "unavailable" envelope, and the journal
    // below must see that answer.
    let timeout = ctx.limits.request_timeout;
    let (response, timed_out) = match tokio::time::timeout(timeout, answer).await {
        Ok(response) => (response, false),
        Err(_) => (
            provider.answer(Problem::Fault(crate::faults::FaultError::Unavailable)),
            true,
        ),
    };
    let fault = fault_label(&decision, timed_out.then_some(timeout));
    let (mut response_parts, response_body) = response.into_parts();
    let rejection = response_parts.extensions.remove::<Rejection>();
    let response_bytes = axum::body::to_bytes(response_body, RESPONSE_BUFFER)
        .await
        .unwrap_or_default();
    let entry = Entry {
        id: 0,
        at,
        provider: provider.id(),
        tenant,
        method,
        path,
        query: redact_query(&query),
        headers,
        body: request_excerpt(bytes, total),
        body_bytes: total,
        status: response_parts.status.as_u16(),
        response: excerpt(&response_bytes),
        latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        fault,
        rejection,
    };
    announce(&ctx, &entry);
    ctx.journal.record(entry);
    ctx.events.changed();
    durable(
        persist.as_deref(),
        &*provider,
        Response::from_parts(response_parts, Body::from(response_bytes)),
    )
    .await
}

/// What the journal says was done to a request: the injected fault, and a deadline it ran out.
fn fault_label(
    decision: &crate::faults::RequestDecision,
    timed_out: Option<std::time::Duration>,
) -> Option<String> {
    let fault = decision.label();
    match timed_out {
        Some(after) => {
            let note = format!("timed out after {}ms", after.as_millis());
            Some(fault.map_or_else(|| note.clone(), |f| format!("{f}, {note}")))
        }
        None => fault,
    }
}

/// Acknowledged means durable: with a data dir, `response` waits until the request's effects
/// (and its journal entry) are written; when they cannot be, the vendor's "unavailable" goes
/// out instead.
async fn durable(
    persist: Option<&crate::persist::Persist>,
    provider: &dyn crate::provider::Provider,
    response: Response,
) -> Response {
    match persist {
        Some(persist) => match persist.commit().await {
            Ok(()) => response,
            Err(why) => {
                tracing::error!("{why}");
                provider.answer(Problem::Fault(crate::faults::FaultError::Unavailable))
            }
        },
        None => response,
    }
}

/// Tells the terminal and `listen` about a request: one log line at `info` under the
/// `paylink_sandbox::request` target (silence it with
/// `--log-level info,paylink_sandbox::request=warn`), and a feed item when someone listens.
fn announce(ctx: &Context, e: &Entry) {
    let violations = e.rejection.as_ref().map_or(0, |r| r.violations.len());
    let latency_ms = e.latency_us as f64 / 1000.0;
    tracing::info!(
        target: "paylink_sandbox::request",
        method = %e.method,
        path = %e.path,
        status = e.status,
        latency_ms,
        tenant = %e.tenant.as_deref().unwrap_or("-"),
        violations,
    );
    ctx.feed.publish(|| crate::feed::Item::Request {
        at: e.at,
        provider: e.provider,
        tenant: e.tenant.clone(),
        method: e.method.clone(),
        path: e.path.clone(),
        status: e.status,
        latency_ms,
        violations,
    });
}

/// The journal's copy of a request body: the copy [`read_body`] made, when short enough to keep
/// whole, else a copy of its start.
fn request_excerpt(bytes: Bytes, total: usize) -> Bytes {
    if total <= EXCERPT_BYTES {
        bytes
    } else {
        excerpt(&bytes)
    }
}

/// The journal's copy of the start of a body, so the journal never keeps more than
/// `EXCERPT_BYTES` of it alive.
fn excerpt(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(&bytes[..bytes.len().min(EXCERPT_BYTES)])
}
