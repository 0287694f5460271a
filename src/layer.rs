//! The middleware around every provider's routes. For each request it resolves the tenant
//! (creating one for unknown credentials when asked to), applies the fault rules (latency, a
//! vendor error instead of the real answer), and records the request and its answer in the
//! journal.

use std::time::Instant;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use crate::app::AppState;
use crate::faults::FaultError;
use crate::journal::{EXCERPT_BYTES, Entry, redact_headers, redact_query};
use crate::webhook::Provider;

/// Answers bigger than this are passed through but journaled only in part.
const RESPONSE_BUFFER: usize = 8 * 1024 * 1024;

pub async fn provider_layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let provider = match path.trim_start_matches('/').split('/').next() {
        Some("whatsapp") => Provider::Whatsapp,
        Some("razorpay") => Provider::Razorpay,
        Some("qonto") => Provider::Qonto,
        _ => return next.run(request).await,
    };
    let started = Instant::now();
    let at = app.clock.now_ms();
    let (parts, body) = request.into_parts();
    let method = parts.method.to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let limit = app.config.server.body_limit;
    // Read the body once; an oversized one is replaced by one just over the limit, so the
    // provider still refuses it in its own words.
    let (bytes, total) = match axum::body::to_bytes(body, limit).await {
        Ok(b) => {
            let n = b.len();
            (b, n)
        }
        Err(_) => (Bytes::from(vec![b' '; limit + 1]), limit + 1),
    };
    if app.config.server.accept_any_credentials {
        crate::tenants::ensure(&app, provider, &path, &parts.headers, &query);
    }
    let tenant = crate::tenants::tenant_of(&app, provider, &path, &parts.headers);
    let decision = app
        .faults
        .for_request(provider, &method, &path, tenant.as_deref(), &app.ids);
    if let Some(latency) = decision.latency {
        tokio::time::sleep(latency).await;
    }
    let headers = redact_headers(&parts.headers);
    let response = match decision.error {
        Some(kind) => fault_response(&app, provider, kind),
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes.clone())))
                .await
        }
    };
    let (response_parts, response_body) = response.into_parts();
    let response_bytes = axum::body::to_bytes(response_body, RESPONSE_BUFFER)
        .await
        .unwrap_or_default();
    app.journal.record(Entry {
        id: 0,
        at,
        provider,
        tenant,
        method,
        path,
        query: redact_query(&query),
        headers,
        body: excerpt(&bytes),
        body_bytes: total,
        status: response_parts.status.as_u16(),
        response: excerpt(&response_bytes),
        latency_us: started.elapsed().as_micros() as u64,
        fault: decision.label(),
    });
    app.events.changed();
    Response::from_parts(response_parts, Body::from(response_bytes))
}

/// The journal's copy of (the start of) a body. Always a copy: a request body is often a slice
/// of the connection's whole read buffer, which a shared handle would keep alive.
fn excerpt(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(&bytes[..bytes.len().min(EXCERPT_BYTES)])
}

fn fault_response(app: &AppState, provider: Provider, kind: FaultError) -> Response {
    match provider {
        Provider::Whatsapp => crate::providers::whatsapp::handlers::fault_response(app, kind),
        Provider::Razorpay => crate::providers::razorpay::handlers::fault_response(kind),
        Provider::Qonto => crate::providers::qonto::handlers::fault_response(app, kind),
    }
}
