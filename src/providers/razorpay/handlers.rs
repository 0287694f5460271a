//! HTTP handlers: `/razorpay/v1/payment_links` and the hosted checkout page `/razorpay/i/{code}`.

use axum::{
    Json,
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::auth::KeyAuth;
use super::error::RzError;
use super::rules;
use super::store::{ListFilter, PayAttempt};
use super::webhooks;
use super::model::Method;
use super::{Gw, ID, Razorpay};
use crate::timeline::Job;
use crate::http;
use crate::scenario::{ErrorSpec, Facts};

pub(super) async fn json_body(app: &Razorpay, headers: &HeaderMap, body: Body) -> Result<Value, RzError> {
    let bytes = http::read_body(body, app.ctx.limits.body_limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    Ok(http::json_body(headers, &bytes)?)
}

pub(super) fn answer(result: Result<Value, RzError>) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A scenario's refusal in the gateway's envelope: `code` is the HTTP status unless
/// `http_status` says otherwise.
fn scripted(spec: &ErrorSpec) -> RzError {
    let status = spec
        .http_status
        .or(u16::try_from(spec.code)
            .ok()
            .filter(|c| (400..600).contains(c)))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let code = match status.as_u16() {
        502 | 504 => "GATEWAY_ERROR",
        s if s >= 500 => "SERVER_ERROR",
        _ => "BAD_REQUEST_ERROR",
    };
    RzError::Scripted {
        status,
        code: code.into(),
        description: spec
            .details
            .clone()
            .or(spec.title.clone())
            .unwrap_or_else(|| "The request was refused by the sandbox scenario".into()),
    }
}

/// The key a link's expiry job is scheduled under.
fn expiry_owner(key_id: &str, link_id: &str) -> String {
    format!("razorpay:{key_id}:{link_id}")
}

/// Schedules what a new or edited link has coming: its expiry and any scripted payment.
fn schedule(
    app: &Razorpay,
    key_id: &str,
    link: &super::model::PaymentLink,
    pay: Option<&crate::scenario::PayScript>,
) {
    if link.expire_by > 0 {
        app.ctx.timeline.at_for(
            link.expire_by * 1000,
            Job::provider(
                ID,
                key_id,
                webhooks::Job::Expire {
                    key_id: key_id.to_string(),
                    link_id: link.id.clone(),
                    expire_by: link.expire_by,
                },
            ),
            expiry_owner(key_id, &link.id),
        );
    }
    if let Some(pay) = pay {
        let after = pay.after.map(crate::clock::Span::as_ms).unwrap_or(0);
        app.ctx.timeline.at(
            app.ctx.clock.now_ms() + after,
            Job::provider(
                ID,
                key_id,
                webhooks::Job::Pay {
                    key_id: key_id.to_string(),
                    link_id: link.id.clone(),
                    attempt: PayAttempt {
                        // Invariant: the scenario was checked, so a method given is a method.
                        method: pay
                            .method
                            .as_deref()
                            .and_then(Method::parse)
                            .unwrap_or_default(),
                        success: pay.outcome.as_deref() != Some("failure"),
                        amount: pay.amount,
                    },
                },
            ),
        );
    }
}

/// `POST /v1/payment_links`.
pub(super) async fn create(
    State(app): State<Gw>,
    auth: KeyAuth,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(
        async {
            let key_id = auth.key_id.clone()?;
            let value = json_body(&app, &headers, body).await?;
            let now = app.ctx.clock.now_secs();
            let draft = rules::check_create(
                &app.ctx.schemas,
                &value,
                now,
                key_id.starts_with("rzp_test_"),
                app.config.upi_links_in_test_mode,
            )
            .map_err(RzError::Invalid)?;
            let variant = if draft.upi_link {
                "upi_link"
            } else {
                "standard"
            };
            let rule = app.ctx.scenario.matching(
                ID.as_str(),
                &Facts {
                    to: draft.customer.get("contact").and_then(Value::as_str),
                    reference_id: Some(draft.reference_id.as_str()),
                    kind: Some("payment_link"),
                    payment_types: vec![variant.to_string()],
                    currency: Some(draft.currency.as_str()),
                    amount: Some(draft.amount),
                    body: Some(&value),
                    text: None,
                },
            );
            if let Some(reject) = rule.as_ref().and_then(|r| r.then.reject.as_ref()) {
                return Err(scripted(reject));
            }
            let (link, evicted) =
                app.store
                    .lock()
                    .create(&key_id, draft, now, &app.ctx.ids, &app.ctx.base_url)?;
            // A link pushed out of the store takes its waiting expiry with it.
            if let Some(old) = evicted {
                app.ctx.timeline.cancel(&expiry_owner(&key_id, &old));
            }
            schedule(
                &app,
                &key_id,
                &link,
                rule.as_ref().and_then(|r| r.then.pay.as_ref()),
            );
            Ok(link.to_json(true))
        }
        .await,
    )
}

/// `GET /v1/payment_links/{id}`.
pub(super) async fn fetch(State(app): State<Gw>, auth: KeyAuth, Path(id): Path<String>) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        Ok(app.store.lock().get(&key_id, &id)?.to_json(true))
    })())
}

fn parse_list(query: Option<&str>) -> Result<ListFilter, RzError> {
    let mut f = ListFilter::default();
    let mut problems = Vec::new();
    for (k, v) in http::query_pairs(query.unwrap_or("")) {
        let int = |problems: &mut Vec<super::error::Problem>| -> Option<i64> {
            match v.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    problems.push(super::error::Problem::new(
                        format!("/{k}"),
                        format!("The {k} must be an integer."),
                    ));
                    None
                }
            }
        };
        match k.as_str() {
            "reference_id" => f.reference_id = Some(v.clone()),
            "payment_id" => f.payment_id = Some(v.clone()),
            "from" => f.from = int(&mut problems),
            "to" => f.to = int(&mut problems),
            "skip" => f.skip = int(&mut problems).and_then(|n| usize::try_from(n).ok()),
            "count" => {
                f.count = int(&mut problems).and_then(|n| usize::try_from(n).ok());
                if f.count.is_some_and(|c| !(1..=100).contains(&c)) {
                    problems.push(super::error::Problem::new(
                        "/count",
                        "The count must be between 1 and 100.",
                    ));
                }
            }
            "expand[]" | "expand" => {}
            _ => problems.push(super::error::Problem::new(
                format!("/{k}"),
                super::error::MSG_WRONG_FIELDS,
            )),
        }
    }
    if problems.is_empty() {
        Ok(f)
    } else {
        Err(RzError::Invalid(problems))
    }
}

/// `GET /v1/payment_links`: `{"payment_links": [...]}`, newest first.
pub(super) async fn list(
    State(app): State<Gw>,
    auth: KeyAuth,
    RawQuery(query): RawQuery,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        let filter = parse_list(query.as_deref())?;
        let links = app.store.lock().list(&key_id, &filter)?;
        Ok(json!({ "payment_links": links }))
    })())
}

/// `PATCH /v1/payment_links/{id}`.
pub(super) async fn update(
    State(app): State<Gw>,
    auth: KeyAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    answer(
        async {
            let key_id = auth.key_id.clone()?;
            let value = json_body(&app, &headers, body).await?;
            super::store::check_id(&id)?;
            let now = app.ctx.clock.now_secs();
            let draft = rules::check_update(&app.ctx.schemas, &value, now).map_err(RzError::Invalid)?;
            let new_expiry = draft.expire_by.is_some();
            let link = app.store.lock().update(&key_id, &id, draft, now)?;
            if new_expiry {
                app.ctx.timeline.cancel(&expiry_owner(&key_id, &link.id));
                schedule(&app, &key_id, &link, None);
            }
            Ok(link.to_json(true))
        }
        .await,
    )
}

/// `POST /v1/payment_links/{id}/cancel`.
pub(super) async fn cancel(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        let link = app
        .store
            .lock()
            .cancel(&key_id, &id, app.ctx.clock.now_secs())?;
        webhooks::link_event(&app, &key_id, "payment_link.cancelled", &link);
        Ok(link.to_json(true))
    })())
}

/// `POST /v1/payment_links/{id}/notify_by/{medium}`.
pub(super) async fn notify_by(
    State(app): State<Gw>,
    auth: KeyAuth,
    Path((id, medium)): Path<(String, String)>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        app.store.lock().get(&key_id, &id)?;
        if medium != "sms" && medium != "email" {
            return Err(RzError::State(super::error::MSG_NOTIFY_MEDIUM));
        }
        Ok(json!({"success": true}))
    })())
}

/// Any other path under `/razorpay`.
pub(super) async fn unknown() -> Response {
    RzError::UrlNotFound.into_response()
}
