//! The middleware around every provider's routes. For each request it resolves the tenant
//! (creating one for unknown credentials when asked to), applies the fault rules (latency, a
//! vendor error instead of the real answer), and records the request and its answer in the
//! journal.

use std::time::Instant;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::app::AppState;
use crate::faults::FaultError;
use crate::journal::{EXCERPT_BYTES, Entry, redact_headers, redact_query};
use crate::webhook::Provider;

/// Answers bigger than this are passed through but journaled only in part.
const RESPONSE_BUFFER: usize = 8 * 1024 * 1024;

/// The provider a path is mounted under.
fn provider_of(path: &str) -> Option<Provider> {
    match path.trim_start_matches('/').split('/').next() {
        Some("whatsapp") => Some(Provider::Whatsapp),
        Some("razorpay") => Some(Provider::Razorpay),
        Some("qonto") => Some(Provider::Qonto),
        _ => None,
    }
}

/// Checks every request before routing (its host, whether it is one of the sandbox's own
/// webhooks come back, cross-site writes to the admin API) and adds the security headers to
/// every answer. A refused provider request is answered in that provider's envelope.
pub async fn guard_layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let mut refusal = app.guard.check_request(request.headers()).err();
    if refusal.is_none() && path.starts_with("/__sandbox/") {
        let toml_ok = request.method() == axum::http::Method::PUT
            && matches!(path, "/__sandbox/scenario" | "/__sandbox/faults");
        refusal = app
            .guard
            .check_admin(request.method(), request.headers(), toml_ok)
            .err();
    }
    let mut response = match refusal {
        None => next.run(request).await,
        Some(r) => match provider_of(path) {
            Some(p) => refusal_response(&app, p, r.status(), &r.message()),
            None => crate::admin::AdminError {
                status: r.status(),
                code: r.code(),
                message: r.message(),
                details: Vec::new(),
            }
            .into_response(),
        },
    };
    crate::guard::secure_headers(response.headers_mut());
    response
}

pub async fn provider_layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(provider) = provider_of(&path) else {
        return next.run(request).await;
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
    let mut parts = parts;
    let tenant = authenticate(&app, provider, &path, &query, &mut parts, &bytes);
    let decision = app
        .faults
        .for_request(provider, &method, &path, tenant.as_deref(), &app.ids);
    if let Some(latency) = decision.latency {
        tokio::time::sleep(latency).await;
    }
    let headers = redact_headers(&parts.headers);
    let response = match decision.error {
        // A path whose parameters are not text is no route of the vendor's.
        _ if !crate::http::path_is_utf8(&path) => not_found(&app, provider).await,
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

/// Resolves the request's credentials once, before any handler runs: the outcome goes into the
/// request's extensions for the handler, and its tenant into the journal. With
/// `--accept-any-credentials`, unknown credentials first become a fresh tenant.
fn authenticate(
    app: &AppState,
    provider: Provider,
    path: &str,
    query: &str,
    parts: &mut axum::http::request::Parts,
    body: &Bytes,
) -> Option<String> {
    use crate::providers::{qonto, razorpay, whatsapp};
    let any = app.config.server.accept_any_credentials;
    match provider {
        Provider::Whatsapp => {
            let query = crate::http::query_pairs(query);
            let form = if crate::http::media_type(&parts.headers).as_deref()
                == Some("application/x-www-form-urlencoded")
            {
                crate::http::query_pairs(std::str::from_utf8(body).unwrap_or(""))
            } else {
                Vec::new()
            };
            let auth = match whatsapp::auth::Credentials::read(&parts.headers, &query, &form) {
                Ok(credentials) => {
                    if any {
                        whatsapp::auth::ensure_tenant(
                            app,
                            whatsapp::auth::graph_node(path),
                            &credentials,
                        );
                    }
                    whatsapp::auth::resolve(app, &credentials)
                }
                Err(e) => whatsapp::auth::GraphAuth { principal: Err(e) },
            };
            let tenant = auth.tenant();
            parts.extensions.insert(auth);
            tenant
        }
        Provider::Razorpay => {
            if any {
                razorpay::auth::ensure_tenant(app, &parts.headers);
            }
            let auth = razorpay::auth::resolve(app, &parts.headers);
            let tenant = auth.tenant();
            parts.extensions.insert(auth);
            tenant
        }
        Provider::Qonto => {
            if any {
                qonto::auth::ensure_tenant(app, &parts.headers);
            }
            let auth = qonto::auth::resolve(app, &parts.headers);
            let tenant = auth.tenant();
            parts.extensions.insert(auth);
            tenant
        }
    }
}

/// The journal's copy of (the start of) a body. Always a copy: a request body is often a slice
/// of the connection's whole read buffer, which a shared handle would keep alive.
fn excerpt(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(&bytes[..bytes.len().min(EXCERPT_BYTES)])
}

/// A provider's answer to a path it has no route for.
async fn not_found(app: &AppState, provider: Provider) -> Response {
    use crate::providers::{qonto, razorpay, whatsapp};
    match provider {
        Provider::Whatsapp => whatsapp::handlers::unknown_path_response(app, "/"),
        Provider::Razorpay => razorpay::handlers::unknown().await,
        Provider::Qonto => qonto::handlers::unknown(State(app.clone())).await,
    }
}

/// A provider's answer to a request the guard refused.
fn refusal_response(
    app: &AppState,
    provider: Provider,
    status: axum::http::StatusCode,
    message: &str,
) -> Response {
    use crate::providers::{qonto, razorpay, whatsapp};
    match provider {
        Provider::Whatsapp => whatsapp::handlers::refusal_response(app, status, message),
        Provider::Razorpay => razorpay::handlers::refusal_response(status, message),
        Provider::Qonto => qonto::handlers::refusal_response(app, status, message),
    }
}

fn fault_response(app: &AppState, provider: Provider, kind: FaultError) -> Response {
    match provider {
        Provider::Whatsapp => crate::providers::whatsapp::handlers::fault_response(app, kind),
        Provider::Razorpay => crate::providers::razorpay::handlers::fault_response(kind),
        Provider::Qonto => crate::providers::qonto::handlers::fault_response(app, kind),
    }
}
