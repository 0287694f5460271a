//! The gateway's hosted checkout, `/razorpay/i/{code}`: what the customer sees when they open a
//! link's `short_url`. In the sandbox the customer also picks the outcome. The form carries a
//! token bound to the page, so no other site can pay on the customer's behalf; a successful
//! payment redirects to the link's `callback_url` with the signed parameters.

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{Gw, Razorpay};
use super::model::{LinkStatus, Method, PaymentLink};
use super::store::{PayAttempt, PayResult};
use super::webhooks;
use crate::http;
use crate::ui::{icon, merchant_header, minor_digits, money, page as shell};

/// `GET /razorpay/i/{code}`: the hosted checkout page.
pub(super) async fn page(
    State(app): State<Gw>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
    let note = http::pair(&pairs, "result").map(str::to_string);
    let detail = http::pair(&pairs, "detail").map(str::to_string);
    let store = app.store.lock();
    match store.by_code(&code) {
        Some((key_id, link)) => {
            let merchant = store
                .account(key_id)
                .map(|a| a.config.merchant_name.clone())
                .unwrap_or_default();
            let form_token = app.ctx.guard.form_token(&form_scope(&code));
            Html(
                checkout(
                    link,
                    &merchant,
                    note.as_deref(),
                    detail.as_deref(),
                    &form_token,
                )
                .into_string(),
            )
            .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Html(
                crate::ui::missing(
                    "Payment link not found",
                    "This link does not exist in this sandbox.",
                )
                .into_string(),
            ),
        )
            .into_response(),
    }
}

/// The redirect to a link's callback URL after a successful payment, with the signed
/// `razorpay_*` parameters appended to its query.
fn callback_redirect(app: &Razorpay, key_id: &str, result: &PayResult) -> Response {
    let params = webhooks::callback_params(app, key_id, result);
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", http::percent_encode(v)))
        .collect();
    let sep = if result.link.callback_url.contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!(
        "{}{sep}{}",
        result.link.callback_url,
        query.join("&")
    ))
    .into_response()
}

/// `POST /razorpay/i/{code}/pay`: the checkout form. Redirects to the callback URL after a
/// successful payment when the link has one, otherwise back to the page with the result.
pub(super) async fn pay(
    State(app): State<Gw>,
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
    if !app.ctx.guard.form_allowed(
        &form_scope(&code),
        http::pair(&form, "form_token"),
        &headers,
    ) {
        return (StatusCode::FORBIDDEN, Html(crate::ui::forged().into_string())).into_response();
    }
    let back = |result: &str, detail: &str| {
        Redirect::to(&format!(
            "/razorpay/i/{code}?result={result}&detail={}",
            http::percent_encode(detail)
        ))
        .into_response()
    };
    let Some((key_id, link)) = app
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
    let Some(method) = Method::parse(&get("method").unwrap_or_else(|| "upi".into())) else {
        return back("error", "choose a payment method");
    };
    let success = get("outcome").as_deref() != Some("failure");
    let amount = match get("amount").filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => match parse_major(&text, minor_digits(&link.currency)) {
            Some(a) => Some(a),
            None => return back("error", &format!("{text:?} is not an amount")),
        },
    };
    let now = app.ctx.clock.now_secs();
    let paid = app.store.lock().pay(
        &key_id,
        &link.id,
        PayAttempt {
            method,
            success,
            amount,
        },
        now,
        &app.ctx.ids,
    );
    match paid {
        Err(e) => back("error", &e.to_string()),
        Ok(result) => {
            webhooks::payment_events(&app, &key_id, &result);
            if !success {
                return back("failed", &result.payment.id);
            }
            if !result.link.callback_url.is_empty() {
                return callback_redirect(&app, &key_id, &result);
            }
            if result.payment.status == super::model::PaymentStatus::Authorized {
                return back("authorized", &result.payment.id);
            }
            back("paid", &result.payment.id)
        }
    }
}

/// A short HTML page saying what went wrong with a checkout post.
fn page_problem(status: StatusCode, text: &str) -> Response {
    let body = html! {
        div.card {
            h1 { "Checkout" }
            p.muted { (text) }
        }
    };
    (status, Html(shell("Checkout", &body).into_string())).into_response()
}

/// What a checkout page's form token is bound to.
fn form_scope(code: &str) -> String {
    format!("razorpay:checkout:{code}")
}

/// An amount in major units, written with its currency's decimals (`1499.00`).
fn major(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = digits as usize
    )
}

/// The page for `link`. `result` is the outcome of the last form post (`paid`, `failed`,
/// `error`) and `detail` its payment id or error text; `form_token` proves a post came from it.
fn checkout(
    link: &PaymentLink,
    merchant: &str,
    result: Option<&str>,
    detail: Option<&str>,
    form_token: &str,
) -> Markup {
    let cur = &link.currency;
    let description = if link.description.is_empty() {
        "Payment request"
    } else {
        &link.description
    };
    let customer: Vec<(&str, String)> = ["Name", "Email", "Contact"]
        .into_iter()
        .zip(link.customer.strings(["name", "email", "contact"]))
        .filter_map(|(label, v)| Some((label, v?)))
        .collect();
    let body = html! {
        section.card aria-labelledby="merchant" {
            (merchant_header(merchant, description))
            p.amount aria-label="Amount" { (money(link.amount, cur)) }
            dl {
                dt { "Status" } dd.status data-status=(link.status.as_str()) { (link.status.as_str()) }
                dt { "Paid" } dd { (money(link.amount_paid, cur)) }
                dt { "Due" } dd { (money(link.amount_due(), cur)) }
                @if !link.reference_id.is_empty() {
                    dt { "Reference" } dd { (link.reference_id) }
                }
                @for (k, v) in &customer {
                    dt { (k) } dd { (v) }
                }
            }
        }
        (outcome(link, result, detail))
        @if link.status.is_open() {
            (pay_form(link, form_token))
        } @else {
            p.card { (closed_reason(link.status)) }
        }
        @let captured: Vec<_> = link.captured().collect();
        @if !captured.is_empty() {
            section.card aria-labelledby="payments" {
                h1 #payments { "Payments" }
                table {
                    thead { tr { th { "Payment" } th { "Method" } th.num { "Amount" } } }
                    tbody {
                        @for p in &captured {
                            tr { td { (p.id) } td { (p.method.as_str()) } td.num { (money(p.amount, cur)) } }
                        }
                    }
                }
            }
        }
    };
    shell(&format!("Pay {} · {merchant}", money(link.amount, cur)), &body)
}

/// What the last form post did: paid, authorized, failed (with the error the webhook carries)
/// or refused.
fn outcome(link: &PaymentLink, result: Option<&str>, detail: Option<&str>) -> Markup {
    let id = detail.unwrap_or("");
    let failure = (result == Some("failed"))
        .then(|| link.attempts.iter().find(|p| p.id == id))
        .flatten()
        .map(|p| webhooks::payment_entity(link, p));
    let text = |v: &Option<serde_json::Value>, k: &str| {
        v.as_ref()
            .and_then(|e| e[k].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    html! {
        @match result {
            Some("paid") => div.card.result.ok role="status" {
                (icon("ok"))
                div { p { strong { "Payment successful" } } p.muted { "Payment " code { (id) } } }
            },
            Some("authorized") => div.card.result.ok role="status" {
                (icon("clock"))
                div {
                    p { strong { "Payment authorized" } }
                    p.muted { "Payment " code { (id) } " waits for the merchant to capture it (POST /v1/payments/{id}/capture)." }
                }
            },
            Some("failed") => div.card.result.bad role="status" data-error-code=(text(&failure, "error_code")) {
                (icon("fail"))
                div {
                    p { strong { "Payment failed" } }
                    p { code { (text(&failure, "error_code")) } " · " (text(&failure, "error_description")) }
                    p.muted {
                        "Reason " code { (text(&failure, "error_reason")) } ", source " (text(&failure, "error_source"))
                        ", step " (text(&failure, "error_step")) ". Payment " code { (id) } "."
                    }
                    a.again href={ "/razorpay/i/" (link.short_code) } { "Try again" }
                }
            },
            Some("error") => div.card.result.bad role="alert" { (icon("fail")) p { (detail.unwrap_or("Something went wrong")) } },
            _ => {},
        }
    }
}

fn method_icon(m: Method) -> &'static str {
    match m {
        Method::Upi => "upi",
        Method::Card => "card",
        Method::Netbanking => "bank",
        Method::Wallet => "wallet",
    }
}

fn closed_reason(status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Paid => "This payment link has been paid. Thank you!",
        LinkStatus::Cancelled => "This payment link was cancelled by the merchant.",
        LinkStatus::Expired => "This payment link has expired.",
        _ => "",
    }
}

/// The method, the sandbox outcome and, for links that accept it, a partial amount.
fn pay_form(link: &PaymentLink, form_token: &str) -> Markup {
    let cur = &link.currency;
    let due = link.amount_due();
    let min = if link.amount_paid == 0 && link.first_min_partial_amount > 0 {
        link.first_min_partial_amount.min(due)
    } else {
        1
    };
    html! {
        form.card method="post" action={ "/razorpay/i/" (link.short_code) "/pay" } {
            input type="hidden" name="form_token" value=(form_token);
            fieldset.tiles {
                legend { "Payment method" }
                @for (i, m) in Method::ALL.iter().enumerate() {
                    label.tile {
                        input type="radio" name="method" value=(m.as_str()) checked[i == 0];
                        (icon(method_icon(*m)))
                        span { (m.label()) }
                    }
                }
            }
            fieldset.tiles {
                legend { "Test outcome (the sandbox's own choice; a real checkout has none)" }
                label.tile.ok { input type="radio" name="outcome" value="success" checked; (icon("ok")) span { "Success" } }
                label.tile.bad { input type="radio" name="outcome" value="failure"; (icon("fail")) span { "Failure" } }
            }
            @if link.accept_partial {
                label for="amount" { "Amount to pay (" (cur) ", partial payments accepted; at least " (money(min, cur)) ")" }
                input #amount name="amount" type="text" inputmode="decimal" value=(major(due, cur)) aria-describedby="amount-hint";
                p #amount-hint .muted { "Up to " (money(due, cur)) " is due." }
            }
            button type="submit" data-pay-label data-currency=(cur) { "Pay " (money(due, cur)) }
        }
    }
}

/// Parses a decimal amount in major units (`"500"`, `"500.5"`, `"500.50"`) into minor units,
/// exactly.
pub(super) fn parse_major(text: &str, digits: u32) -> Option<i64> {
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
