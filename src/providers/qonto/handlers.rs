//! HTTP handlers: `/qonto/v2/...` and the hosted pages (`/qonto/pay/{id}`, `/qonto/connect/{token}`).

use axum::{
    body::{Body, Bytes},
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde_json::{Value, json};

use super::auth::QontoAuth;
use super::error::{QErr, QError};
use super::model::{LinkStatus, METHODS};
use super::rules;
use super::store::{Caller, Claim, PayAttempt};
use super::webhooks;
use crate::app::AppState;
use crate::config::IdempotencyReuse;
use crate::http;
use crate::scenario::Facts;
use crate::webhook::Provider;

const READ: &str = "payment_link.read";
const WRITE: &str = "payment_link.write";
const WEBHOOK: &str = "webhook";

/// A success: status and body (`None` for 204). A body is JSON, either as a value or already
/// written out (large lists are written straight from the store).
type Answer<B> = Result<(StatusCode, Option<B>), QError>;

/// A JSON body already written out.
pub struct Written(Bytes);

/// Anything a handler may answer with, written out.
pub trait IntoJson {
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

fn render(
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
    Html(crate::ui::page(
        "OneLogin",
        "<div class=\"card\"><h1>OneLogin</h1><p>Sign in to continue.</p><p class=\"muted\">This request reached the Qonto sandbox without the expected X-Qonto-Staging-Token header.</p></div>",
    ))
    .into_response()
}

/// One call to a Qonto API route: the credentials the provider layer resolved, the request line
/// and headers, and the body (read only by the routes that take one).
pub struct QontoCall {
    app: AppState,
    auth: QontoAuth,
    /// `POST /v2/payment_links`: the scope of an idempotency key.
    route: String,
    headers: HeaderMap,
    body: Body,
}

impl axum::extract::FromRequest<AppState> for QontoCall {
    type Rejection = std::convert::Infallible;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
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
enum Keyed {
    /// A read: the header means nothing.
    No,
    /// A write: the first successful answer is replayed for the same key.
    Yes,
}

impl QontoCall {
    /// Runs an API handler: staging token, scope, idempotency, then `f` with the body's bytes;
    /// renders the answer or Qonto's error envelope with `X-Tyk-Trace-Id`.
    async fn run<F, B>(self, scope: &'static str, keyed: Keyed, f: F) -> Response
    where
        F: AsyncFnOnce(&AppState, &Caller, &HeaderMap, Bytes) -> Answer<B>,
        B: IntoJson,
    {
        let Self {
            app,
            auth,
            route,
            headers,
            body,
        } = self;
        let trace = app.ids.hex_lower(32);
        if !auth.staging_ok {
            return onelogin_page();
        }
        let caller = match auth.caller.and_then(|c| c.require(scope).map(|()| c)) {
            Ok(c) => c,
            Err(e) => return error(e, &trace),
        };
        let bytes = match http::read_body(body, app.config.server.body_limit).await {
            Ok(b) => b,
            Err(e) => return error(QError::body(e), &trace),
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
                Err(e) => error(e, &trace),
            };
        };
        let fingerprint: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
        let replay_reused = app.config.qonto.idempotency_reuse == IdempotencyReuse::Replay;
        // Claim the key, or wait for the request that holds it; at most a minute of waiting.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let done = loop {
            let claim = app.qonto.store.lock().claim_key(
                &caller.login,
                &route,
                &key,
                fingerprint,
                app.clock.now_ms(),
                replay_reused,
            );
            match claim {
                Claim::Mine(done) => break done,
                Claim::Replay(cached) => {
                    let status = StatusCode::from_u16(cached.status).unwrap_or(StatusCode::OK);
                    return render(status, cached.body, &trace, None);
                }
                Claim::Reused => return error(QError::key_reused(), &trace),
                Claim::Wait(mut running) => {
                    // The holder drops its sender when it finishes: `changed` then fails.
                    if tokio::time::timeout_at(deadline, running.changed())
                        .await
                        .is_err()
                    {
                        return error(QError::key_in_use(), &trace);
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
            Err(e) => error(e, &trace),
        }
    }
}

/// A claimed idempotency key. Finishing it keeps the answer; dropping it unfinished (an error, or
/// a client that went away mid-request) frees the key. Either way the waiters wake after the
/// store changed, because the sender is dropped last.
struct KeyClaim {
    app: AppState,
    login: String,
    route: String,
    key: String,
    done: Option<tokio::sync::watch::Sender<()>>,
}

impl KeyClaim {
    fn finish(&mut self, status: u16, body: Option<Bytes>) {
        let now = self.app.clock.now_ms();
        self.app.qonto.store.lock().finish_key(
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
                .qonto
                .store
                .lock()
                .release_key(&self.login, &self.route, &self.key);
        }
    }
}

fn error(e: QError, trace: &str) -> Response {
    let body = e.to_value(trace).into_json();
    render(e.status, Some(body), trace, e.retry_after)
}

fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, QError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    Ok(http::json_body(headers, bytes)?)
}

#[derive(serde::Serialize)]
struct ListBody<'a> {
    payment_links: Vec<super::model::LinkView<'a>>,
    meta: Value,
}

/// `page` and `per_page`, and the `meta` object of a list.
struct Page {
    page: usize,
    per_page: usize,
}

impl Page {
    fn parse(pairs: &[(String, String)], errors: &mut Vec<QErr>) -> Self {
        let mut p = Page {
            page: 1,
            per_page: 100,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "page" => match v.parse::<usize>() {
                    Ok(n) if n >= 1 => p.page = n,
                    _ => errors.push(QErr::param(
                        "page",
                        "invalid",
                        "page must be an integer greater than or equal to 1",
                    )),
                },
                "per_page" => match v.parse::<usize>() {
                    Ok(n) if (1..=100).contains(&n) => p.per_page = n,
                    _ => errors.push(QErr::param(
                        "per_page",
                        "invalid",
                        "per_page must be an integer between 1 and 100",
                    )),
                },
                _ => {}
            }
        }
        p
    }

    fn slice<T: Clone>(&self, all: &[T]) -> (Vec<T>, Value) {
        let total = all.len();
        let total_pages = total.div_ceil(self.per_page).max(1);
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        let end = (start + self.per_page).min(total);
        let meta = json!({
            "current_page": self.page,
            "next_page": if self.page < total_pages { json!(self.page + 1) } else { Value::Null },
            "prev_page": if self.page > 1 { json!(self.page - 1) } else { Value::Null },
            "total_pages": total_pages,
            "total_count": total,
            "per_page": self.per_page,
        });
        (all[start..end].to_vec(), meta)
    }
}

/// `status[]` as repeated parameters or one comma-joined value, checked against `allowed`.
fn statuses(
    pairs: &[(String, String)],
    allowed: &[&str],
    errors: &mut Vec<QErr>,
) -> Option<Vec<String>> {
    let values: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "status[]" || k == "status")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    for v in &values {
        if !allowed.contains(&v.as_str()) {
            errors.push(QErr::param(
                "status[]",
                "not_in_list",
                format!("status must be one of: {}", allowed.join(", ")),
            ));
        }
    }
    (!values.is_empty()).then_some(values)
}

fn sort_by<'a>(
    pairs: &'a [(String, String)],
    allowed: &[&str],
    errors: &mut Vec<QErr>,
) -> Option<&'a str> {
    let v = http::pair(pairs, "sort_by")?;
    if !allowed.contains(&v) {
        errors.push(QErr::param(
            "sort_by",
            "not_in_list",
            format!("sort_by must be one of: {}", allowed.join(", ")),
        ));
    }
    Some(v)
}

/// `POST /v2/payment_links/connections`.
pub async fn connect(call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let accounts = app
                .qonto
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.bank_account_ids.clone())
                .unwrap_or_default();
            let draft = rules::check_connection(&app.schemas, &value, &accounts)
                .map_err(QError::unprocessable)?;
            let connection =
                app.qonto
                    .store
                    .lock()
                    .connect(&caller.login, draft, &app.ids, &app.base_url)?;
            Ok((StatusCode::CREATED, Some(connection.to_json())))
        },
    )
    .await
}

/// `GET /v2/payment_links/connections`: 404 when the organization never connected.
pub async fn connection(call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let store = app.qonto.store.lock();
            let connection = store
                .org(&caller.login)
                .and_then(|o| o.connection.clone())
                .ok_or_else(|| {
                    QError::new(
                        StatusCode::NOT_FOUND,
                        vec![QErr::new(
                            "not_found",
                            super::error::MSG_NO_CONNECTION,
                            None,
                        )],
                    )
                })?;
            Ok((StatusCode::OK, Some(connection.to_json())))
        },
    )
    .await
}

/// `POST /v2/payment_links`.
pub async fn create(call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let methods = app
                .qonto
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.enabled_methods.clone())
                .unwrap_or_default();
            let draft =
                rules::check_link(&app.schemas, &value, &methods).map_err(QError::unprocessable)?;
            let rule = app.scenario.matching(
                Provider::Qonto,
                &Facts {
                    to: draft.debitor_name.as_deref(),
                    reference_id: draft.invoice_number.as_deref(),
                    kind: Some(draft.resource_type),
                    payment_types: draft.methods.clone(),
                    currency: Some("EUR"),
                    amount: Some(draft.amount),
                    body: Some(&value),
                },
            );
            if let Some(reject) = rule.as_ref().and_then(|r| r.then.reject.as_ref()) {
                let status = reject
                    .http_status
                    .or(u16::try_from(reject.code).ok())
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                let mut e = QError::new(
                    status,
                    vec![QErr::new(
                        if status == StatusCode::TOO_MANY_REQUESTS {
                            "too_many_requests"
                        } else {
                            "scripted"
                        },
                        reject
                            .details
                            .clone()
                            .or(reject.title.clone())
                            .unwrap_or_else(|| "refused by the sandbox scenario".into()),
                        None,
                    )],
                );
                if status == StatusCode::TOO_MANY_REQUESTS {
                    e.retry_after = Some(1);
                }
                return Err(e);
            }
            let now = app.clock.now_ms();
            let link = app.qonto.store.lock().create_link(
                &caller.login,
                draft,
                now,
                app.config.qonto.link_lifetime.as_ms(),
                &app.ids,
                &app.base_url,
            )?;
            app.timeline.at(
                link.expiration,
                crate::timeline::Job::Qonto(webhooks::Job::Expire {
                    login: caller.login.clone(),
                    link_id: link.id.clone(),
                    expiration: link.expiration,
                }),
            );
            if let Some(pay) = rule.as_ref().and_then(|r| r.then.pay.as_ref()) {
                app.timeline.at(
                    now + pay.after.map(|a| a.as_ms()).unwrap_or(0),
                    crate::timeline::Job::Qonto(webhooks::Job::Pay {
                        login: caller.login.clone(),
                        link_id: link.id.clone(),
                        attempt: PayAttempt {
                            method: pay
                                .method
                                .clone()
                                .unwrap_or_else(|| link.potential_payment_methods[0].clone()),
                            status: pay.outcome.clone().unwrap_or_else(|| "paid".into()),
                            debitor_email: None,
                            payment_id: None,
                        },
                    }),
                );
            }
            webhooks::link_event(app, &caller.login, "created", &link);
            Ok((
                StatusCode::CREATED,
                Some(json!({"payment_link": link.to_json()})),
            ))
        },
    )
    .await
}

/// `GET /v2/payment_links`.
pub async fn list(RawQuery(query): RawQuery, call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
            let mut errors = Vec::new();
            let page = Page::parse(&pairs, &mut errors);
            let wanted = statuses(
                &pairs,
                &["open", "expired", "canceled", "paid", "processing"],
                &mut errors,
            );
            let sort = sort_by(
                &pairs,
                &[
                    "amount:asc",
                    "amount:desc",
                    "expiration_date:asc",
                    "expiration_date:desc",
                ],
                &mut errors,
            );
            if !errors.is_empty() {
                return Err(QError::unprocessable(errors));
            }
            // Filter, sort and write the page from the store itself: no copies of the links.
            let store = app.qonto.store.lock();
            let mut links: Vec<&super::model::PaymentLink> = store
                .org(&caller.login)
                .map(|o| o.links.values().rev().collect())
                .unwrap_or_default();
            if let Some(w) = &wanted {
                links.retain(|l| w.iter().any(|s| s == l.status.as_str()));
            }
            match sort {
                Some("amount:asc") => links.sort_by_key(|l| l.amount),
                Some("amount:desc") => links.sort_by_key(|l| std::cmp::Reverse(l.amount)),
                Some("expiration_date:asc") => links.sort_by_key(|l| l.expiration),
                Some("expiration_date:desc") => {
                    links.sort_by_key(|l| std::cmp::Reverse(l.expiration))
                }
                _ => {}
            }
            let (page_links, meta) = page.slice(&links);
            let views: Vec<_> = page_links.iter().map(|l| l.view()).collect();
            let body = Written(Bytes::from(crate::webhook::json::to_vec(&ListBody {
                payment_links: views,
                meta,
            })));
            Ok((StatusCode::OK, Some(body)))
        },
    )
    .await
}

/// `GET /v2/payment_links/{id}`.
pub async fn show(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let link = app.qonto.store.lock().link(&caller.login, &id)?.to_json();
            let body = if app.config.qonto.wrap_single_link {
                json!({"payment_link": link})
            } else {
                link
            };
            Ok((StatusCode::OK, Some(body)))
        },
    )
    .await
}

/// `PATCH /v2/payment_links/{id}/deactivate`.
pub async fn deactivate(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let link = app
                .qonto
                .store
                .lock()
                .deactivate(&caller.login, &id, app.clock.now_ms())?;
            webhooks::link_event(app, &caller.login, "updated", &link);
            Ok((
                StatusCode::OK,
                Some(json!({"payment_link": link.to_json()})),
            ))
        },
    )
    .await
}

/// `GET /v2/payment_links/{id}/payments`.
pub async fn payments(
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    call: QontoCall,
) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
            let mut errors = Vec::new();
            let page = Page::parse(&pairs, &mut errors);
            let wanted = statuses(&pairs, super::model::PAYMENT_STATUSES, &mut errors);
            let sort = sort_by(
                &pairs,
                &["creation_date:asc", "creation_date:desc"],
                &mut errors,
            );
            let mut payments = app
                .qonto
                .store
                .lock()
                .link(&caller.login, &id)?
                .payments
                .clone();
            if !errors.is_empty() {
                return Err(QError::unprocessable(errors));
            }
            if let Some(w) = &wanted {
                payments.retain(|p| w.contains(&p.status));
            }
            if sort == Some("creation_date:desc") {
                payments.reverse();
            }
            let (page_payments, meta) = page.slice(&payments);
            let items: Vec<Value> = page_payments.iter().map(|p| p.to_json()).collect();
            Ok((
                StatusCode::OK,
                Some(json!({"payments": items, "meta": meta})),
            ))
        },
    )
    .await
}

/// `GET /v2/payment_links/payment_methods`.
pub async fn payment_methods(call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let enabled = app
                .qonto
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.enabled_methods.clone())
                .unwrap_or_default();
            let methods: Vec<Value> = METHODS
                .iter()
                .map(|m| json!({"name": m, "enabled": enabled.iter().any(|e| e == m)}))
                .collect();
            Ok((
                StatusCode::OK,
                Some(json!({"payment_link_payment_methods": methods})),
            ))
        },
    )
    .await
}

/// A subscription's callback may not point at the sandbox itself.
fn check_callback(app: &AppState, url: Option<&str>) -> Result<(), QError> {
    match url.map(|u| app.guard.check_webhook_url(u)) {
        Some(Err(why)) => Err(QError::unprocessable(vec![QErr::at(
            "/callback_url",
            "invalid",
            why,
        )])),
        _ => Ok(()),
    }
}

fn org_ids(app: &AppState, login: &str) -> (String, String) {
    app.qonto
        .store
        .lock()
        .org(login)
        .map(|o| {
            (
                o.config.organization_id.clone(),
                o.config.membership_id.clone(),
            )
        })
        .unwrap_or_default()
}

/// `POST /v2/webhook_subscriptions`.
pub async fn subscribe(call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let draft = rules::check_subscription(&app.schemas, &value, false)
                .map_err(QError::unprocessable)?;
            check_callback(app, draft.callback_url.as_deref())?;
            let s = app.qonto.store.lock().add_subscription(
                &caller.login,
                draft,
                app.clock.now_ms(),
                &app.ids,
            )?;
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::CREATED, Some(s.to_json(&org, &member, true))))
        },
    )
    .await
}

/// `GET /v2/webhook_subscriptions`.
pub async fn subscriptions(RawQuery(query): RawQuery, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
            let mut errors = Vec::new();
            let page = Page::parse(&pairs, &mut errors);
            if !errors.is_empty() {
                return Err(QError::unprocessable(errors));
            }
            let subs = app
                .qonto
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.subscriptions.clone())
                .unwrap_or_default();
            let (org, member) = org_ids(app, &caller.login);
            let (subs, meta) = page.slice(&subs);
            let items: Vec<Value> = subs
                .iter()
                .map(|s| s.to_json(&org, &member, false))
                .collect();
            Ok((
                StatusCode::OK,
                Some(json!({"subscriptions": items, "meta": meta})),
            ))
        },
    )
    .await
}

/// `GET /v2/webhook_subscriptions/{id}`.
pub async fn subscription(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::No,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let s = app
                .qonto
                .store
                .lock()
                .subscription(&caller.login, &id)?
                .clone();
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::OK, Some(s.to_json(&org, &member, false))))
        },
    )
    .await
}

/// `PUT /v2/webhook_subscriptions/{id}`.
pub async fn update_subscription(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            app.qonto.store.lock().subscription(&caller.login, &id)?;
            let draft = rules::check_subscription(&app.schemas, &value, true)
                .map_err(QError::unprocessable)?;
            check_callback(app, draft.callback_url.as_deref())?;
            let s = app.qonto.store.lock().update_subscription(
                &caller.login,
                &id,
                draft,
                app.clock.now_ms(),
            )?;
            let (org, member) = org_ids(app, &caller.login);
            Ok((StatusCode::OK, Some(s.to_json(&org, &member, false))))
        },
    )
    .await
}

/// `DELETE /v2/webhook_subscriptions/{id}`: 204.
pub async fn delete_subscription(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WEBHOOK,
        Keyed::Yes,
        async move |app: &AppState, caller: &Caller, _: &HeaderMap, _: Bytes| {
            app.qonto
                .store
                .lock()
                .delete_subscription(&caller.login, &id)?;
            Ok((StatusCode::NO_CONTENT, None::<Value>))
        },
    )
    .await
}

/// Qonto's answer to an injected fault: 429 with `Retry-After`, 500 or 503.
pub fn fault_response(app: &AppState, kind: crate::faults::FaultError) -> Response {
    use crate::faults::FaultError;
    let trace = app.ids.hex_lower(32);
    let (status, code, detail, retry) = match kind {
        FaultError::RateLimit => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests, please retry later",
            Some(1),
        ),
        FaultError::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal server error",
            None,
        ),
        FaultError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service temporarily unavailable",
            Some(1),
        ),
    };
    let mut e = QError::new(status, vec![QErr::new(code, detail, None)]);
    e.retry_after = retry;
    error(e, &trace)
}

/// A request the sandbox refused before routing (a foreign host, a webhook loop).
pub fn refusal_response(app: &AppState, status: StatusCode, message: &str) -> Response {
    let trace = app.ids.hex_lower(32);
    let code = if status == StatusCode::FORBIDDEN {
        "forbidden"
    } else {
        "loop_detected"
    };
    error(
        QError::new(status, vec![QErr::new(code, message, None)]),
        &trace,
    )
}

/// Any other path under `/qonto`.
pub async fn unknown(State(app): State<AppState>) -> Response {
    let trace = app.ids.hex_lower(32);
    error(QError::not_found(None), &trace)
}

/// `GET /qonto/pay/{id}`: the test-mode checkout (method choice, then outcome choice).
pub async fn checkout(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
    let method = http::pair(&pairs, "method").map(str::to_string);
    let done = http::pair(&pairs, "done").map(str::to_string);
    let store = app.qonto.store.lock();
    let Some(login) = store.owner(&id) else {
        return (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response();
    };
    let Ok(link) = store.link(&login, &id) else {
        return (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response();
    };
    let merchant = store
        .org(&login)
        .map(|o| o.config.login.clone())
        .unwrap_or_default();
    let form_token = app.guard.form_token(&format!("qonto:checkout:{id}"));
    Html(crate::ui::qonto::checkout(
        link,
        &merchant,
        method.as_deref(),
        done.as_deref(),
        &form_token,
    ))
    .into_response()
}

/// `POST /qonto/pay/{id}`: the chosen outcome. Redirects to the link's `redirect_url` (except for
/// `expired`, which ends on the completed page, as Mollie's test mode does).
pub async fn checkout_submit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match http::read_body(body, 64 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            let body = format!("<p class=\"card\">{}</p>", crate::ui::esc(&e.to_string()));
            return (
                StatusCode::BAD_REQUEST,
                Html(crate::ui::page("Checkout", &body)),
            )
                .into_response();
        }
    };
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let scope = format!("qonto:checkout:{id}");
    if !app
        .guard
        .form_allowed(&scope, http::pair(&form, "form_token"), &headers)
    {
        return (StatusCode::FORBIDDEN, Html(crate::ui::forged())).into_response();
    }
    let Some(login) = app.qonto.store.lock().owner(&id) else {
        return (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response();
    };
    let method = get("method").unwrap_or_default();
    let status = get("status").unwrap_or_default();
    let back = |detail: &str| {
        Redirect::to(&format!(
            "/qonto/pay/{id}?method={}&done={}",
            http::percent_encode(&method),
            http::percent_encode(detail)
        ))
        .into_response()
    };
    if !super::model::outcomes(&method).contains(&status.as_str()) {
        return back("error:choose one of the offered outcomes");
    }
    let result = app.qonto.store.lock().pay(
        &login,
        &id,
        PayAttempt {
            method: method.clone(),
            status: status.clone(),
            debitor_email: get("email").filter(|e| !e.is_empty()),
            payment_id: None,
        },
        app.clock.now_ms(),
        &app.ids,
    );
    match result {
        Err(e) => back(&format!("error:{e}")),
        Ok(r) => {
            webhooks::after_payment(&app, &login, &r);
            match (&r.link.redirect_url, status.as_str()) {
                (Some(url), s) if s != "expired" => Redirect::to(url).into_response(),
                _ => back(&status),
            }
        }
    }
}

/// `GET /qonto/connect/{token}`: the provider's onboarding page.
pub async fn onboarding(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let store = app.qonto.store.lock();
    match store.onboarding_org(&token) {
        Some(org) => {
            let form_token = app.guard.form_token(&format!("qonto:connect:{token}"));
            Html(crate::ui::qonto::onboarding(org, &token, &form_token)).into_response()
        }
        None => (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response(),
    }
}

/// `POST /qonto/connect/{token}`: the user's decision. Updates the connection, sends the
/// connection webhook and returns the user to the partner.
pub async fn onboarding_submit(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = http::read_body(body, 16 * 1024).await.unwrap_or_default();
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
    let scope = format!("qonto:connect:{token}");
    if !app
        .guard
        .form_allowed(&scope, http::pair(&form, "form_token"), &headers)
    {
        return (StatusCode::FORBIDDEN, Html(crate::ui::forged())).into_response();
    }
    let decision = http::pair(&form, "decision")
        .unwrap_or_default()
        .to_string();
    let Some(login) = app.qonto.store.lock().login_of_onboarding(&token) else {
        return (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response();
    };
    match decide(&app, &login, &decision) {
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(crate::ui::page(
                "Connection",
                &format!("<p class=\"card\">{}</p>", crate::ui::esc(&e)),
            )),
        )
            .into_response(),
        Ok(connection) if !connection.partner_callback_url.is_empty() => {
            Redirect::to(&connection.partner_callback_url).into_response()
        }
        Ok(_) => Redirect::to(&format!("/qonto/connect/{token}")).into_response(),
    }
}

/// Applies an onboarding decision and sends the webhook it calls for.
pub fn decide(
    app: &AppState,
    login: &str,
    decision: &str,
) -> Result<super::model::Connection, String> {
    let (connection, changed) = app.qonto.store.lock().decide(login, decision)?;
    if changed {
        match connection.status {
            super::model::ConnectionStatus::Enabled => {
                webhooks::connection_event(app, login, "connection_enabled");
            }
            super::model::ConnectionStatus::Disabled => {
                webhooks::connection_event(app, login, "connection_revoked");
            }
            _ => {}
        }
    }
    Ok(connection)
}

impl LinkStatus {
    /// Whether the checkout still takes a payment.
    pub fn payable(self) -> bool {
        self == LinkStatus::Open
    }
}
