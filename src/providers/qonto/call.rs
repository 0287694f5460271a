//! The one way a Qonto API route runs: [`QontoCall`] gathers what the provider layer resolved
//! (credentials, staging token) and the request, and [`QontoCall::run`] checks the scope, claims
//! the idempotency key of a write, runs the route, and renders its answer or Qonto's error
//! envelope, always with `X-Tyk-Trace-Id`.

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::{Value, json};

use super::auth::QontoAuth;
use super::config::IdempotencyReuse;
use super::error::QError;
use super::idempotency::Claim;
use super::store::Caller;
use super::Q;
use crate::http;

/// A success: status and body (`None` for 204). A body is JSON, either as a value or already
/// written out (large lists are written straight from the store).
pub(super) type Answer<B> = Result<(StatusCode, Option<B>), QError>;

/// A JSON body already written out.
pub(super) struct Written(pub(super) Bytes);

/// Anything a handler may answer with, written out.
pub(super) trait IntoJson {
    fn into_json(self) -> Bytes;
}

impl IntoJson for Value {
    fn into_json(self) -> Bytes {
        Bytes::from(crate::webhook::json::to_vec(&self))
    }
}

impl IntoJson for Written {
    fn into_json(self) -> Bytes {
        self.0
    }
}

pub(super) fn render(
    status: StatusCode,
    body: Option<Bytes>,
    trace: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut response = match body {
        Some(b) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            b,
        )
            .into_response(),
        None => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(trace) {
        response.headers_mut().insert("x-tyk-trace-id", v);
    }
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// What Qonto's sandbox answers a request without the right `X-Qonto-Staging-Token`: its
/// OneLogin sign-in page, with status 200.
fn onelogin_page() -> Response {
    let body = maud::html! {
        div.card {
            h1 { "OneLogin" }
            p { "Sign in to continue." }
            p.muted { "This request reached the Qonto sandbox without the expected X-Qonto-Staging-Token header." }
        }
    };
    Html(crate::ui::page("OneLogin", &body).into_string()).into_response()
}

/// One call to a Qonto API route: the credentials the provider layer resolved, the request line
/// and headers, and the body (read only by the routes that take one).
pub(super) struct QontoCall {
    app: Q,
    auth: QontoAuth,
    /// `POST /v2/payment_links`: the scope of an idempotency key.
    route: String,
    headers: HeaderMap,
    body: Body,
}

impl axum::extract::FromRequest<Q> for QontoCall {
    type Rejection = std::convert::Infallible;

    async fn from_request(
        request: axum::extract::Request,
        state: &Q,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let auth = {
            use axum::extract::FromRequestParts;
            QontoAuth::from_request_parts(&mut parts, state).await?
        };
        Ok(Self {
            app: state.clone(),
            auth,
            route: format!("{} {}", parts.method, parts.uri.path()),
            headers: parts.headers,
            body,
        })
    }
}

/// How a route treats `X-Qonto-Idempotency-Key`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyed {
    /// A read: the header means nothing.
    No,
    /// A write: the first successful answer is replayed for the same key.
    Yes,
}

impl QontoCall {
    /// Runs an API handler: staging token, scope, idempotency, then `f` with the body's bytes;
    /// renders the answer or Qonto's error envelope with `X-Tyk-Trace-Id`.
    pub(super) async fn run<F, B>(self, scope: &'static str, keyed: Keyed, f: F) -> Response
    where
        F: AsyncFnOnce(&Q, &Caller, &HeaderMap, Bytes) -> Answer<B>,
        B: IntoJson,
    {
        let Self {
            app,
            auth,
            route,
            headers,
            body,
        } = self;
        let trace = app.ctx.ids.hex_lower(32);
        if !auth.staging_ok {
            return onelogin_page();
        }
        let caller = match auth.caller.and_then(|c| c.require(scope).map(|()| c)) {
            Ok(c) => c,
            Err(e) => return error(&e, &trace),
        };
        let bytes = match http::read_body(body, app.ctx.limits.body_limit).await {
            Ok(b) => b,
            Err(e) => return error(&QError::body(&e), &trace),
        };
        let key = (keyed == Keyed::Yes)
            .then(|| {
                headers
                    .get("x-qonto-idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
            })
            .flatten();
        let Some(key) = key else {
            return match f(&app, &caller, &headers, bytes).await {
                Ok((status, body)) => render(status, body.map(IntoJson::into_json), &trace, None),
                Err(e) => error(&e, &trace),
            };
        };
        let fingerprint: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
        let replay_reused = app.config.idempotency_reuse == IdempotencyReuse::Replay;
        // Claim the key, or wait for the request that holds it; at most a minute of waiting.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let done = loop {
            let claim = app.store.lock().claim_key(
                &caller.login,
                &route,
                &key,
                fingerprint,
                app.ctx.clock.now_ms(),
                replay_reused,
            );
            match claim {
                Claim::Mine(done) => break done,
                Claim::Replay(cached) => {
                    let status = StatusCode::from_u16(cached.status).unwrap_or(StatusCode::OK);
                    return render(status, cached.body, &trace, None);
                }
                Claim::Reused => return error(&QError::key_reused(), &trace),
                Claim::Wait(mut running) => {
                    // The holder drops its sender when it finishes: `changed` then fails.
                    if tokio::time::timeout_at(deadline, running.changed())
                        .await
                        .is_err()
                    {
                        return error(&QError::key_in_use(), &trace);
                    }
                }
            }
        };
        let mut claim = KeyClaim {
            app: app.clone(),
            login: caller.login.clone(),
            route,
            key,
            done: Some(done),
        };
        match f(&app, &caller, &headers, bytes).await {
            Ok((status, body)) => {
                let body = body.map(IntoJson::into_json);
                claim.finish(status.as_u16(), body.clone());
                render(status, body, &trace, None)
            }
            Err(e) => error(&e, &trace),
        }
    }
}

/// A claimed idempotency key. Finishing it keeps the answer; dropping it unfinished (an error, or
/// a client that went away mid-request) frees the key. Either way the waiters wake after the
/// store changed, because the sender is dropped last.
struct KeyClaim {
    app: Q,
    login: String,
    route: String,
    key: String,
    done: Option<tokio::sync::watch::Sender<()>>,
}

impl KeyClaim {
    fn finish(&mut self, status: u16, body: Option<Bytes>) {
        let now = self.app.ctx.clock.now_ms();
        self.app.store.lock().finish_key(
            &self.login,
            &self.route,
            &self.key,
            status,
            body,
            now,
        );
        self.done = None;
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        if self.done.take().is_some() {
            self.app
                .store
                .lock()
                .release_key(&self.login, &self.route, &self.key);
        }
    }
}

pub(super) fn error(e: &QError, trace: &str) -> Response {
    let body = e.to_value(trace).into_json();
    let mut response = render(e.status, Some(body), trace, e.retry_after);
    e.rejection().attach(&mut response);
    response
}

pub(super) fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, QError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    Ok(http::json_body(headers, bytes)?)
}
