//! HTTP handlers: `/razorpay/v1/payment_links` and the hosted checkout page `/razorpay/i/{code}`.

use axum::{
    Json,
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde_json::{Value, json};

use super::auth::KeyAuth;
use super::error::RzError;
use super::rules;
use super::store::{ListFilter, PayAttempt};
use super::webhooks;
use crate::app::AppState;
use crate::http;
use crate::scenario::{ErrorSpec, Facts};
use crate::webhook::Provider;

async fn json_body(app: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, RzError> {
    let bytes = http::read_body(body, app.config.server.body_limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    Ok(http::json_body(headers, &bytes)?)
}

fn answer(result: Result<Value, RzError>) -> Response {
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

/// Schedules what a new or edited link has coming: its expiry and any scripted payment.
fn schedule(
    app: &AppState,
    key_id: &str,
    link: &super::model::PaymentLink,
    pay: Option<&crate::scenario::PayScript>,
) {
    if link.expire_by > 0 {
        app.timeline.at(
            link.expire_by * 1000,
            crate::timeline::Job::Razorpay(webhooks::Job::Expire {
                key_id: key_id.to_string(),
                link_id: link.id.clone(),
                expire_by: link.expire_by,
            }),
        );
    }
    if let Some(pay) = pay {
        let after = pay.after.map(|a| a.as_ms()).unwrap_or(0);
        app.timeline.at(
            app.clock.now_ms() + after,
            crate::timeline::Job::Razorpay(webhooks::Job::Pay {
                key_id: key_id.to_string(),
                link_id: link.id.clone(),
                attempt: PayAttempt {
                    method: pay.method.clone().unwrap_or_else(|| "upi".into()),
                    success: pay.outcome.as_deref() != Some("failure"),
                    amount: pay.amount,
                },
            }),
        );
    }
}

/// `POST /v1/payment_links`.
pub async fn create(
    State(app): State<AppState>,
    auth: KeyAuth,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(
        async {
            let key_id = auth.key_id.clone()?;
            let value = json_body(&app, &headers, body).await?;
            let now = app.clock.now_secs();
            let draft = rules::check_create(
                &app.schemas,
                &value,
                now,
                key_id.starts_with("rzp_test_"),
                app.config.razorpay.upi_links_in_test_mode,
            )
            .map_err(RzError::Invalid)?;
            let variant = if draft.upi_link {
                "upi_link"
            } else {
                "standard"
            };
            let rule = app.scenario.matching(
                Provider::Razorpay,
                &Facts {
                    to: draft.customer.get("contact").and_then(Value::as_str),
                    reference_id: Some(draft.reference_id.as_str()),
                    kind: Some("payment_link"),
                    payment_types: vec![variant.to_string()],
                    currency: Some(draft.currency.as_str()),
                    amount: Some(draft.amount),
                    body: Some(&value),
                },
            );
            if let Some(reject) = rule.as_ref().and_then(|r| r.then.reject.as_ref()) {
                return Err(scripted(reject));
            }
            let link =
                app.razorpay
                    .store
                    .lock()
                    .create(&key_id, draft, now, &app.ids, &app.base_url)?;
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
pub async fn fetch(State(app): State<AppState>, auth: KeyAuth, Path(id): Path<String>) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        Ok(app.razorpay.store.lock().get(&key_id, &id)?.to_json(true))
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
            "skip" => f.skip = int(&mut problems).map(|n| n as usize),
            "count" => {
                f.count = int(&mut problems).map(|n| n as usize);
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
pub async fn list(
    State(app): State<AppState>,
    auth: KeyAuth,
    RawQuery(query): RawQuery,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        let filter = parse_list(query.as_deref())?;
        let links = app.razorpay.store.lock().list(&key_id, &filter)?;
        Ok(json!({ "payment_links": links }))
    })())
}

/// `PATCH /v1/payment_links/{id}`.
pub async fn update(
    State(app): State<AppState>,
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
            let now = app.clock.now_secs();
            let draft = rules::check_update(&app.schemas, &value, now).map_err(RzError::Invalid)?;
            let new_expiry = draft.expire_by.is_some();
            let link = app.razorpay.store.lock().update(&key_id, &id, draft, now)?;
            if new_expiry {
                schedule(&app, &key_id, &link, None);
            }
            Ok(link.to_json(true))
        }
        .await,
    )
}

/// `POST /v1/payment_links/{id}/cancel`.
pub async fn cancel(
    State(app): State<AppState>,
    auth: KeyAuth,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        let link = app
            .razorpay
            .store
            .lock()
            .cancel(&key_id, &id, app.clock.now_secs())?;
        webhooks::link_event(&app, &key_id, "payment_link.cancelled", &link);
        Ok(link.to_json(true))
    })())
}

/// `POST /v1/payment_links/{id}/notify_by/{medium}`.
pub async fn notify_by(
    State(app): State<AppState>,
    auth: KeyAuth,
    Path((id, medium)): Path<(String, String)>,
) -> Response {
    answer((|| {
        let key_id = auth.key_id.clone()?;
        app.razorpay.store.lock().get(&key_id, &id)?;
        if medium != "sms" && medium != "email" {
            return Err(RzError::State(super::error::MSG_NOTIFY_MEDIUM));
        }
        Ok(json!({"success": true}))
    })())
}

/// The gateway's answer to an injected fault: 429, 500 or 503.
pub fn fault_response(kind: crate::faults::FaultError) -> Response {
    use crate::faults::FaultError;
    let (status, code, description) = match kind {
        FaultError::RateLimit => (
            StatusCode::TOO_MANY_REQUESTS,
            "BAD_REQUEST_ERROR",
            "Too many requests",
        ),
        FaultError::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "SERVER_ERROR",
            "The server encountered an error. The incident has been reported to admins",
        ),
        FaultError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_ERROR",
            "The service is temporarily unavailable",
        ),
    };
    RzError::Scripted {
        status,
        code: code.into(),
        description: description.into(),
    }
    .into_response()
}

/// A request the sandbox refused before routing (a foreign host, a webhook loop).
pub fn refusal_response(status: StatusCode, message: &str) -> Response {
    RzError::Scripted {
        status,
        code: "BAD_REQUEST_ERROR".into(),
        description: message.into(),
    }
    .into_response()
}

/// Any other path under `/razorpay`.
pub async fn unknown() -> Response {
    RzError::UrlNotFound.into_response()
}

/// `GET /razorpay/i/{code}`: the hosted checkout page.
pub async fn page(
    State(app): State<AppState>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
    let note = http::pair(&pairs, "result").map(str::to_string);
    let detail = http::pair(&pairs, "detail").map(str::to_string);
    let store = app.razorpay.store.lock();
    match store.by_code(&code) {
        Some((key_id, link)) => {
            let merchant = store
                .account(key_id)
                .map(|a| a.config.merchant_name.clone())
                .unwrap_or_default();
            let form_token = app.guard.form_token(&form_scope(&code));
            Html(crate::ui::razorpay::checkout(
                link,
                &merchant,
                note.as_deref(),
                detail.as_deref(),
                &form_token,
            ))
            .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Html(crate::ui::page(
                "Payment link not found",
                "<div class=\"card\"><h1>Payment link not found</h1><p class=\"muted\">This link does not exist in this sandbox.</p></div>",
            )),
        )
            .into_response(),
    }
}

/// `POST /razorpay/i/{code}/pay`: the checkout form. Redirects to the callback URL after a
/// successful payment when the link has one, otherwise back to the page with the result.
pub async fn page_pay(
    State(app): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match http::read_body(body, 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return page_problem(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    if !app.guard.form_allowed(
        &form_scope(&code),
        http::pair(&form, "form_token"),
        &headers,
    ) {
        return (StatusCode::FORBIDDEN, Html(crate::ui::forged())).into_response();
    }
    let back = |result: &str, detail: &str| {
        Redirect::to(&format!(
            "/razorpay/i/{code}?result={result}&detail={}",
            http::percent_encode(detail)
        ))
        .into_response()
    };
    let Some((key_id, link)) = app
        .razorpay
        .store
        .lock()
        .by_code(&code)
        .map(|(k, l)| (k.to_string(), l.clone()))
    else {
        return page_problem(
            StatusCode::NOT_FOUND,
            "This payment link does not exist in this sandbox.",
        );
    };
    let method = get("method").unwrap_or_else(|| "upi".into());
    if !super::model::METHODS.contains(&method.as_str()) {
        return back("error", "choose a payment method");
    }
    let success = get("outcome").as_deref() != Some("failure");
    let amount = match get("amount").filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => match parse_major(&text, crate::ui::minor_digits(&link.currency)) {
            Some(a) => Some(a),
            None => return back("error", &format!("{text:?} is not an amount")),
        },
    };
    let now = app.clock.now_secs();
    let paid = app.razorpay.store.lock().pay(
        &key_id,
        &link.id,
        PayAttempt {
            method,
            success,
            amount,
        },
        now,
        &app.ids,
    );
    match paid {
        Err(e) => back("error", &e.to_string()),
        Ok(result) => {
            webhooks::payment_events(&app, &key_id, &result);
            if !success {
                return back("failed", &result.payment.id);
            }
            if !result.link.callback_url.is_empty() {
                let params = webhooks::callback_params(&app, &key_id, &result);
                let query: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", http::percent_encode(v)))
                    .collect();
                let sep = if result.link.callback_url.contains('?') {
                    '&'
                } else {
                    '?'
                };
                return Redirect::to(&format!(
                    "{}{sep}{}",
                    result.link.callback_url,
                    query.join("&")
                ))
                .into_response();
            }
            back("paid", &result.payment.id)
        }
    }
}

/// A short HTML page saying what went wrong with a checkout post.
fn page_problem(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<div class=\"card\"><h1>Checkout</h1><p class=\"muted\">{}</p></div>",
        crate::ui::esc(text)
    );
    (status, Html(crate::ui::page("Checkout", &body))).into_response()
}

/// What a checkout page's form token is bound to.
fn form_scope(code: &str) -> String {
    format!("razorpay:checkout:{code}")
}

/// Parses a decimal amount in major units (`"500"`, `"500.5"`, `"500.50"`) into minor units,
/// exactly.
pub fn parse_major(text: &str, digits: u32) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || frac.len() > digits as usize
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = digits as usize)
            .parse()
            .ok()?
    };
    whole
        .checked_mul(10i64.pow(digits))?
        .checked_add(frac_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_amounts_parse_exactly() {
        assert_eq!(parse_major("500", 2), Some(50000));
        assert_eq!(parse_major("500.5", 2), Some(50050));
        assert_eq!(parse_major("0.01", 2), Some(1));
        assert_eq!(parse_major(".5", 2), Some(50));
        assert_eq!(parse_major("1.005", 2), None);
        assert_eq!(parse_major("-1", 2), None);
        assert_eq!(parse_major("abc", 2), None);
        assert_eq!(parse_major("", 2), None);
    }
}
