//! Qonto's API routes under `/qonto/v2`: connections, links, payments, payment methods and
//! webhook subscriptions, each run through [`QontoCall`](super::call::QontoCall).

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::call::{Keyed, QontoCall, Written, error, parse_json};
use super::error::{QErr, QError};
use super::model::{Method, PaymentLink, PaymentStatus};
use super::rules;
use super::store::{Caller, PayAttempt};
use super::webhooks;
use super::{ID, Q, Qonto};
use crate::http;
use crate::provider::Problem;
use crate::scenario::Facts;
use crate::timeline::Job;

const READ: &str = "payment_link.read";
const WRITE: &str = "payment_link.write";

#[derive(serde::Serialize)]
struct ListBody<'a> {
    payment_links: Vec<super::model::LinkView<'a>>,
    meta: Value,
}

/// `page` and `per_page`, and the `meta` object of a list.
pub(super) struct Page {
    page: usize,
    per_page: usize,
}

impl Page {
    pub(super) fn parse(pairs: &[(String, String)], errors: &mut Vec<QErr>) -> Self {
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

    pub(super) fn slice<T: Clone>(&self, all: &[T]) -> (Vec<T>, Value) {
        let (start, end) = self.bounds(all.len());
        (all[start..end].to_vec(), self.meta(all.len()))
    }

    /// The page's first and past-the-end positions among `total` items.
    fn bounds(&self, total: usize) -> (usize, usize) {
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        (start, (start + self.per_page).min(total))
    }

    /// The page of an iterator of `total` items, taking only what the page shows (after
    /// skipping what comes before it): no copy of the whole list.
    pub(super) fn take<T>(&self, items: impl Iterator<Item = T>, total: usize) -> (Vec<T>, Value) {
        let (start, end) = self.bounds(total);
        (items.skip(start).take(end - start).collect(), self.meta(total))
    }

    fn meta(&self, total: usize) -> Value {
        let total_pages = total.div_ceil(self.per_page).max(1);
        json!({
            "current_page": self.page,
            "next_page": if self.page < total_pages { json!(self.page + 1) } else { Value::Null },
            "prev_page": if self.page > 1 { json!(self.page - 1) } else { Value::Null },
            "total_pages": total_pages,
            "total_count": total,
            "per_page": self.per_page,
        })
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
pub(super) async fn connect(call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let accounts = app
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.bank_account_ids.clone())
                .unwrap_or_default();
            let draft = rules::check_connection(&app.ctx.schemas, &value, &accounts)
                .map_err(QError::unprocessable)?;
            let connection =
                app
                .store
                    .lock()
                    .connect(&caller.login, draft, &app.ctx.ids, &app.ctx.base_url)?;
            Ok((StatusCode::CREATED, Some(connection.to_json())))
        },
    )
    .await
}

/// `GET /v2/payment_links/connections`: 404 when the organization never connected.
pub(super) async fn connection(call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let store = app.store.lock();
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
pub(super) async fn create(call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, headers: &HeaderMap, body: Bytes| {
            let value = parse_json(headers, &body)?;
            let methods = app
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.enabled_methods.clone())
                .unwrap_or_default();
            let draft =
                rules::check_link(&app.ctx.schemas, &value, &methods).map_err(QError::unprocessable)?;
            let rule = app.ctx.scenario.matching(
                ID.as_str(),
                &Facts {
                    to: draft.debitor_name.as_deref(),
                    reference_id: draft.invoice_number.as_deref(),
                    kind: Some(draft.resource_type),
                    payment_types: draft.methods.iter().map(|m| m.as_str().to_string()).collect(),
                    currency: Some("EUR"),
                    amount: Some(draft.amount),
                    body: Some(&value),
                    text: None,
                },
            );
            if let Some(reject) = rule.as_ref().and_then(|r| r.then.reject.as_ref()) {
                return Err(scripted_refusal(reject));
            }
            let now = app.ctx.clock.now_ms();
            let (link, evicted) = app.store.lock().create_link(
                &caller.login,
                draft,
                now,
                app.config.link_lifetime.as_ms(),
                &app.ctx.ids,
                &app.ctx.base_url,
            )?;
            // A link pushed out of the store takes its waiting jobs with it.
            if let Some(old) = evicted {
                app.ctx.timeline.cancel(&job_owner(&caller.login, &old));
            }
            app.ctx.timeline.at_for(
                link.expiration,
                Job::provider(
                    ID,
                    caller.login.clone(),
                    webhooks::Job::Expire {
                        login: caller.login.clone(),
                        link_id: link.id.clone(),
                        expiration: link.expiration,
                    },
                ),
                job_owner(&caller.login, &link.id),
            );
            if let Some(pay) = rule.as_ref().and_then(|r| r.then.pay.as_ref()) {
                schedule_scripted_pay(app, &caller.login, &link, pay, now);
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

/// The error a scenario rule's `reject` makes of a create: its status (422 unless it names a
/// 4xx or 5xx), `too_many_requests` with `Retry-After` for a 429, `scripted` otherwise.
fn scripted_refusal(reject: &crate::scenario::ErrorSpec) -> QError {
    let status = reject
        .http_status
        .or(u16::try_from(reject.code).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    let detail = reject
        .details
        .clone()
        .or(reject.title.clone())
        .unwrap_or_else(|| "refused by the sandbox scenario".into());
    let code = if limited { "too_many_requests" } else { "scripted" };
    let mut e = QError::new(status, vec![QErr::new(code, detail, None)]);
    if limited {
        e.retry_after = Some(1);
    }
    e
}

/// A scenario rule's `pay`: the link is paid on the timeline, `after` from now.
fn schedule_scripted_pay(
    app: &Qonto,
    login: &str,
    link: &PaymentLink,
    pay: &crate::scenario::PayScript,
    now: crate::clock::Millis,
) {
    // Invariant: the scenario was checked, so a method or outcome given parses.
    let method = pay
        .method
        .as_deref()
        .and_then(Method::parse)
        .or(link.potential_payment_methods.first().copied())
        .unwrap_or(Method::CreditCard);
    let status = pay
        .outcome
        .as_deref()
        .and_then(PaymentStatus::parse)
        .unwrap_or(PaymentStatus::Paid);
    app.ctx.timeline.at(
        now + pay.after.map(crate::clock::Span::as_ms).unwrap_or(0),
        Job::provider(
            ID,
            login.to_string(),
            webhooks::Job::Pay {
                login: login.to_string(),
                link_id: link.id.clone(),
                attempt: PayAttempt {
                    method,
                    status,
                    debitor_email: None,
                    payment_id: None,
                },
            },
        ),
    );
}

/// The key a link's timeline jobs are scheduled under.
pub(super) fn job_owner(login: &str, link_id: &str) -> String {
    format!("qonto:{login}:{link_id}")
}

/// `GET /v2/payment_links`.
pub(super) async fn list(RawQuery(query): RawQuery, call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
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
            let store = app.store.lock();
            let org = store.org(&caller.login);
            if wanted.is_none() && sort.is_none() {
                // Newest first, as stored: only the page is read.
                let total = org.map_or(0, |o| o.links.len());
                let all = org.into_iter().flat_map(|o| o.links.values().rev());
                let (page_links, meta) = page.take(all, total);
                let views: Vec<_> = page_links.iter().map(|l| l.view()).collect();
                let body = Written(Bytes::from(crate::webhook::json::to_vec(&ListBody {
                    payment_links: views,
                    meta,
                })));
                return Ok((StatusCode::OK, Some(body)));
            }
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
                    links.sort_by_key(|l| std::cmp::Reverse(l.expiration));
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
pub(super) async fn show(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let link = app.store.lock().link(&caller.login, &id)?.to_json();
            let body = if app.config.wrap_single_link {
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
pub(super) async fn deactivate(Path(id): Path<String>, call: QontoCall) -> Response {
    call.run(
        WRITE,
        Keyed::Yes,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let link = app
                .store
                .lock()
                .deactivate(&caller.login, &id, app.ctx.clock.now_ms())?;
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
pub(super) async fn payments(
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    call: QontoCall,
) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
            let mut errors = Vec::new();
            let page = Page::parse(&pairs, &mut errors);
            let names = PaymentStatus::ALL.map(PaymentStatus::as_str);
            let wanted = statuses(&pairs, &names, &mut errors);
            let sort = sort_by(
                &pairs,
                &["creation_date:asc", "creation_date:desc"],
                &mut errors,
            );
            let mut payments = app
                .store
                .lock()
                .link(&caller.login, &id)?
                .payments
                .clone();
            if !errors.is_empty() {
                return Err(QError::unprocessable(errors));
            }
            if let Some(w) = &wanted {
                payments.retain(|p| w.iter().any(|s| s == p.status.as_str()));
            }
            if sort == Some("creation_date:desc") {
                payments.reverse();
            }
            let (page_payments, meta) = page.slice(&payments);
            let items: Vec<Value> = page_payments.iter().map(super::model::Payment::to_json).collect();
            Ok((
                StatusCode::OK,
                Some(json!({"payments": items, "meta": meta})),
            ))
        },
    )
    .await
}

/// `GET /v2/payment_links/payment_methods`.
pub(super) async fn payment_methods(call: QontoCall) -> Response {
    call.run(
        READ,
        Keyed::No,
        async move |app: &Q, caller: &Caller, _: &HeaderMap, _: Bytes| {
            let enabled = app
                .store
                .lock()
                .org(&caller.login)
                .map(|o| o.config.enabled_methods.clone())
                .unwrap_or_default();
            let methods: Vec<Value> = Method::ALL
                .iter()
                .map(|m| json!({"name": m.as_str(), "enabled": enabled.contains(m)}))
                .collect();
            Ok((
                StatusCode::OK,
                Some(json!({"payment_link_payment_methods": methods})),
            ))
        },
    )
    .await
}

/// Any other path under `/qonto`.
pub(super) async fn unknown(State(app): State<Q>) -> Response {
    problem_response(&app, Problem::NotFound)
}

/// Qonto's answers on the sandbox's behalf: an injected fault is 429 with `Retry-After`, 500 or
/// 503; an unknown path is 404; a refusal keeps its status; an oversized body is 413.
pub(super) fn problem_response(app: &Qonto, problem: Problem) -> Response {
    use crate::faults::FaultError;
    let trace = app.ctx.ids.hex_lower(32);
    let e = match problem {
        Problem::Fault(kind) => {
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
            e
        }
        Problem::NotFound => QError::not_found(None),
        Problem::Refused { status, message } => {
            let code = if status == StatusCode::FORBIDDEN {
                "forbidden"
            } else {
                "loop_detected"
            };
            QError::new(status, vec![QErr::new(code, message, None)])
        }
        Problem::TooLarge { limit } => QError::body(&crate::http::BodyProblem::TooLarge { limit }),
    };
    error(&e, &trace)
}
