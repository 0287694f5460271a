//! HTTP handlers: `/qonto/v2/...` and the hosted pages (`/qonto/pay/{id}`, `/qonto/connect/{token}`).

use axum::{
    body::{Body, Bytes},
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde_json::{Value, json};

use super::error::{QErr, QError};
use super::model::{LinkStatus, METHODS};
use super::rules;
use super::store::{Caller, PayAttempt};
use super::webhooks;
use crate::app::AppState;
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

/// Runs an API handler: staging token, credentials, scope, idempotent replay, then `f`; renders
/// the answer or Qonto's error envelope with `X-Tyk-Trace-Id`.
async fn qonto<F, B>(
    app: AppState,
    headers: HeaderMap,
    scope: &'static str,
    write: bool,
    f: F,
) -> Response
where
    F: AsyncFnOnce(&AppState, &Caller) -> Answer<B>,
    B: IntoJson,
{
    let trace = app.ids.hex_lower(32);
    if let Some(expected) = &app.config.qonto.staging_token
        && headers
            .get("x-qonto-staging-token")
            .and_then(|v| v.to_str().ok())
            != Some(expected.as_str())
    {
        return onelogin_page();
    }
    let caller = {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let authenticated = app.qonto.store.lock().authenticate(header);
        match authenticated.and_then(|c| c.require(scope).map(|()| c)) {
            Ok(c) => c,
            Err(e) => return error(e, &trace),
        }
    };
    let key = write
        .then(|| {
            headers
                .get("x-qonto-idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .flatten();
    let now = app.clock.now_ms();
    if let Some(key) = &key
        && let Some(cached) = app.qonto.store.lock().replay(&caller.login, key, now)
    {
        let status = StatusCode::from_u16(cached.status).unwrap_or(StatusCode::OK);
        return render(status, cached.body, &trace, None);
    }
    match f(&app, &caller).await {
        Ok((status, body)) => {
            let body = body.map(IntoJson::into_json);
            if let Some(key) = &key {
                app.qonto.store.lock().remember(
                    &caller.login,
                    key,
                    status.as_u16(),
                    body.clone(),
                    now,
                );
            }
            render(status, body, &trace, None)
        }
        Err(e) => error(e, &trace),
    }
}

fn error(e: QError, trace: &str) -> Response {
    let body = e.to_value(trace).into_json();
    render(e.status, Some(body), trace, e.retry_after)
}

async fn read_json(app: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, QError> {
    let bytes = http::read_body(body, app.config.server.body_limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    Ok(http::json_body(headers, &bytes)?)
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
pub async fn connect(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let h = headers.clone();
    qonto(
        app,
        headers,
        WRITE,
        true,
        async move |app: &AppState, caller: &Caller| {
            let value = read_json(app, &h, body).await?;
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
pub async fn connection(State(app): State<AppState>, headers: HeaderMap) -> Response {
    qonto(
        app,
        headers,
        READ,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn create(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let h = headers.clone();
    qonto(
        app,
        headers,
        WRITE,
        true,
        async move |app: &AppState, caller: &Caller| {
            let value = read_json(app, &h, body).await?;
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
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    qonto(
        app,
        headers,
        READ,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    qonto(
        app,
        headers,
        READ,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn deactivate(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    qonto(
        app,
        headers,
        WRITE,
        true,
        async move |app: &AppState, caller: &Caller| {
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
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    qonto(
        app,
        headers,
        READ,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn payment_methods(State(app): State<AppState>, headers: HeaderMap) -> Response {
    qonto(
        app,
        headers,
        READ,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn subscribe(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let h = headers.clone();
    qonto(
        app,
        headers,
        WEBHOOK,
        true,
        async move |app: &AppState, caller: &Caller| {
            let value = read_json(app, &h, body).await?;
            let draft = rules::check_subscription(&app.schemas, &value, false)
                .map_err(QError::unprocessable)?;
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
pub async fn subscriptions(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    qonto(
        app,
        headers,
        WEBHOOK,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn subscription(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    qonto(
        app,
        headers,
        WEBHOOK,
        false,
        async move |app: &AppState, caller: &Caller| {
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
pub async fn update_subscription(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let h = headers.clone();
    qonto(
        app,
        headers,
        WEBHOOK,
        true,
        async move |app: &AppState, caller: &Caller| {
            let value = read_json(app, &h, body).await?;
            app.qonto.store.lock().subscription(&caller.login, &id)?;
            let draft = rules::check_subscription(&app.schemas, &value, true)
                .map_err(QError::unprocessable)?;
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
pub async fn delete_subscription(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    qonto(
        app,
        headers,
        WEBHOOK,
        true,
        async move |app: &AppState, caller: &Caller| {
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
    Html(crate::ui::qonto::checkout(
        link,
        &merchant,
        method.as_deref(),
        done.as_deref(),
    ))
    .into_response()
}

/// `POST /qonto/pay/{id}`: the chosen outcome. Redirects to the link's `redirect_url` (except for
/// `expired`, which ends on the completed page, as Mollie's test mode does).
pub async fn checkout_submit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let bytes = match http::read_body(body, 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
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
        Some(org) => Html(crate::ui::qonto::onboarding(org, &token)).into_response(),
        None => (StatusCode::NOT_FOUND, Html(crate::ui::qonto::missing())).into_response(),
    }
}

/// `POST /qonto/connect/{token}`: the user's decision. Updates the connection, sends the
/// connection webhook and returns the user to the partner.
pub async fn onboarding_submit(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Body,
) -> Response {
    let bytes = http::read_body(body, 16 * 1024).await.unwrap_or_default();
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
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
