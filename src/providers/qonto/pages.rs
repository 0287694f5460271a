//! Qonto's hosted pages: the test-mode checkout behind each payment link's `url`
//! (`/qonto/pay/{id}`, in the style of Mollie's: pick a method, then the status the payment ends
//! in) and the provider's onboarding page behind `connection_location`
//! (`/qonto/connect/{token}`). Every form carries a token bound to its page.

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::model::{Connection, ConnectionStatus, LinkStatus, Method, PaymentLink, PaymentStatus};
use super::store::{Org, PayAttempt};
use super::webhooks;
use super::{Q, Qonto};
use crate::http;
use crate::ui::{icon, merchant_header, money, page, page_with};

fn html_page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn missing() -> Response {
    html_page(
        StatusCode::NOT_FOUND,
        crate::ui::missing("Not found", "Nothing here in this sandbox."),
    )
}

fn forged() -> Response {
    html_page(StatusCode::FORBIDDEN, crate::ui::forged())
}

/// Reads a posted form, refusing it unless it came from the page `scope` names.
async fn read_form(
    app: &Qonto,
    scope: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<(String, String)>, Response> {
    let bytes = http::read_body(body, 64 * 1024).await.map_err(|e| {
        html_page(
            StatusCode::BAD_REQUEST,
            page("Checkout", &html! { p.card { (e.to_string()) } }),
        )
    })?;
    let form = http::query_pairs(std::str::from_utf8(&bytes).unwrap_or(""));
    if app
        .ctx
        .guard
        .form_allowed(scope, http::pair(&form, "form_token"), headers)
    {
        Ok(form)
    } else {
        Err(forged())
    }
}

/// `GET /qonto/pay/{id}`: the test-mode checkout (method choice, then outcome choice).
pub(super) async fn checkout(
    State(app): State<Q>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = http::query_pairs(query.as_deref().unwrap_or(""));
    let method = http::pair(&pairs, "method").and_then(Method::parse);
    let done = http::pair(&pairs, "done").map(str::to_string);
    let store = app.store.lock();
    let Some(login) = store.owner(&id) else {
        return missing();
    };
    let Ok(link) = store.link(&login, &id) else {
        return missing();
    };
    let merchant = store
        .org(&login)
        .map(|o| o.config.display_name.clone())
        .unwrap_or_default();
    let form_token = app.ctx.guard.form_token(&format!("qonto:checkout:{id}"));
    let markup = checkout_page(link, &merchant, method, done.as_deref(), &form_token);
    html_page(StatusCode::OK, markup)
}

/// `POST /qonto/pay/{id}`: the chosen outcome. Redirects to the link's `redirect_url` (except for
/// `expired`, which ends on the completed page, as Mollie's test mode does).
pub(super) async fn checkout_submit(
    State(app): State<Q>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let form = match read_form(&app, &format!("qonto:checkout:{id}"), &headers, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let get = |k: &str| http::pair(&form, k).map(|v| v.trim().to_string());
    let Some(login) = app.store.lock().owner(&id) else {
        return missing();
    };
    let method_text = get("method").unwrap_or_default();
    let status_text = get("status").unwrap_or_default();
    let back = |detail: &str| {
        Redirect::to(&format!(
            "/qonto/pay/{id}?method={}&done={}",
            http::percent_encode(&method_text),
            http::percent_encode(detail)
        ))
        .into_response()
    };
    let chosen = Method::parse(&method_text).zip(PaymentStatus::parse(&status_text));
    let Some((method, status)) = chosen.filter(|(m, s)| m.outcomes().contains(s)) else {
        return back("error:choose one of the offered outcomes");
    };
    let result = app.store.lock().pay(
        &login,
        &id,
        PayAttempt {
            method,
            status,
            debitor_email: get("email").filter(|e| !e.is_empty()),
            payment_id: None,
        },
        app.ctx.clock.now_ms(),
        &app.ctx.ids,
    );
    match result {
        Err(e) => back(&format!("error:{e}")),
        Ok(r) => {
            webhooks::after_payment(&app, &login, &r);
            match &r.link.redirect_url {
                Some(url) if status != PaymentStatus::Expired => Redirect::to(url).into_response(),
                _ => back(status.as_str()),
            }
        }
    }
}

/// `GET /qonto/connect/{token}`: the provider's onboarding page.
pub(super) async fn onboarding(State(app): State<Q>, Path(token): Path<String>) -> Response {
    let store = app.store.lock();
    match store.onboarding_org(&token) {
        Some(org) => {
            let form_token = app.ctx.guard.form_token(&format!("qonto:connect:{token}"));
            html_page(StatusCode::OK, onboarding_page(org, &token, &form_token))
        }
        None => missing(),
    }
}

/// `POST /qonto/connect/{token}`: the user's decision. Updates the connection, sends the
/// connection webhook and returns the user to the partner.
pub(super) async fn onboarding_submit(
    State(app): State<Q>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let form = match read_form(&app, &format!("qonto:connect:{token}"), &headers, body).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let decision = http::pair(&form, "decision").unwrap_or_default().to_string();
    let Some(login) = app.store.lock().login_of_onboarding(&token) else {
        return missing();
    };
    match decide(&app, &login, &decision) {
        Err(e) => html_page(
            StatusCode::BAD_REQUEST,
            page("Connection", &html! { p.card { (e) } }),
        ),
        Ok(connection) if !connection.partner_callback_url.is_empty() => {
            Redirect::to(&connection.partner_callback_url).into_response()
        }
        Ok(_) => Redirect::to(&format!("/qonto/connect/{token}")).into_response(),
    }
}

/// Applies an onboarding decision and sends the webhook it calls for.
pub(super) fn decide(app: &Qonto, login: &str, decision: &str) -> Result<Connection, String> {
    let (connection, changed) = app.store.lock().decide(login, decision)?;
    if changed {
        match connection.status {
            ConnectionStatus::Enabled => {
                webhooks::connection_event(app, login, "connection_enabled");
            }
            ConnectionStatus::Disabled => {
                webhooks::connection_event(app, login, "connection_revoked");
            }
            _ => {}
        }
    }
    Ok(connection)
}

impl LinkStatus {
    /// Whether the checkout still takes a payment.
    pub(super) fn payable(self) -> bool {
        self == LinkStatus::Open
    }
}

/// The link's merchant, amount and status, and its items for a basket.
fn summary(link: &PaymentLink, merchant: &str) -> Markup {
    let kind = if link.resource_type == super::model::ResourceType::Invoice {
        "Invoice payment"
    } else {
        "Basket payment"
    };
    html! {
        section.card aria-labelledby="merchant" {
            (merchant_header(merchant, kind))
            p.amount aria-label="Amount" { (money(link.amount, &link.currency)) }
            dl {
                dt { "Status" } dd.status data-status=(link.status.as_str()) { (link.status.as_str()) }
                @if let (Some(n), Some(d)) = (&link.invoice_number, &link.debitor_name) {
                    dt { "Invoice" } dd { (n) }
                    dt { "Debitor" } dd { (d) }
                }
            }
            @if let Some(items) = &link.items {
                table {
                    caption.muted { "Items (VAT included in the total)" }
                    thead { tr { th { "Item" } th.num { "Qty" } th.num { "Unit price" } th.num { "VAT" } } }
                    tbody {
                        @for i in items {
                            tr {
                                td { (i.title) }
                                td.num { (i.quantity) }
                                td.num { (money(i.unit_price, &i.currency)) }
                                td.num { (i.vat_rate) "%" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn method_icon(m: Method) -> &'static str {
    match m {
        Method::CreditCard => "card",
        Method::ApplePay => "phone",
        Method::Paypal => "paypal",
        Method::Ideal => "bank",
    }
}

/// After a test payment ended as `chosen`: what the link's real state says now. A paid payment
/// leaves the link `processing` until it settles; the page reloads itself until then.
fn result(link: &PaymentLink, chosen: &str) -> Markup {
    let (kind, glyph, title, text) = match (chosen, link.status) {
        ("paid", LinkStatus::Processing) => ("ok", "clock", "Payment received",
            "The payment is processing; this page updates when it settles."),
        ("paid", LinkStatus::Paid) => ("ok", "ok", "Paid", "The payment has settled. Thank you!"),
        ("paid", _) => ("ok", "ok", "Payment received", "The payment was accepted."),
        ("open" | "pending", _) => ("bad", "clock", "Payment not finished",
            "The payment is still waiting; the link stays open."),
        ("expired", _) => ("bad", "fail", "Payment expired", "The payment expired before it was completed."),
        ("canceled", _) => ("bad", "fail", "Payment canceled", "The payment was canceled; you can try again."),
        _ => ("bad", "fail", "Payment failed", "The payment failed; you can try again."),
    };
    html! {
        div.card.result.(kind) role="status" data-link-status=(link.status.as_str()) {
            (icon(glyph))
            div {
                p { strong { (title) } }
                p.muted { (text) " Test status chosen: " code { (chosen) } "; link status " code { (link.status.as_str()) } "." }
            }
        }
    }
}

fn closed_reason(status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Paid => "This payment link has been paid.",
        LinkStatus::Processing => "A payment on this link is being processed.",
        LinkStatus::Expired => "This payment link has expired.",
        LinkStatus::Canceled => "This payment link was deactivated.",
        LinkStatus::Open => "",
    }
}

/// The checkout: without `method`, the method choice; with it, the test-mode status chooser.
/// `done` is the status just chosen (or `error:<text>`).
fn checkout_page(
    link: &PaymentLink,
    merchant: &str,
    method: Option<Method>,
    done: Option<&str>,
    form_token: &str,
) -> Markup {
    let title = format!("Pay {} · {merchant}", money(link.amount, &link.currency));
    let method = method.filter(|m| link.potential_payment_methods.contains(m));
    let body = html! {
        (summary(link, merchant))
        @match done {
            Some(d) if d.starts_with("error:") => div.card.result.bad role="alert" { (icon("fail")) p { (&d["error:".len()..]) } },
            Some(d) => (result(link, d)),
            None => {},
        }
        @if !link.status.payable() {
            p.card { (closed_reason(link.status)) }
        } @else if let Some(m) = method {
            form.card method="post" action={ "/qonto/pay/" (link.id) } {
                input type="hidden" name="form_token" value=(form_token);
                input type="hidden" name="method" value=(m.as_str());
                fieldset.tiles {
                    legend { "Test mode: " (m.label()) " — choose the payment status" }
                    @for (i, o) in m.outcomes().iter().enumerate() {
                        label.tile.(if *o == PaymentStatus::Paid { "ok" } else { "bad" }) {
                            input type="radio" name="status" value=(o.as_str()) checked[i == 0];
                            (icon(if *o == PaymentStatus::Paid { "ok" } else { "clock" }))
                            span { (o.as_str()) }
                        }
                    }
                }
                label for="email" { "Payer email (optional)" }
                input #email name="email" type="text" inputmode="email" autocomplete="email";
                p {}
                button type="submit" name="submit" { "Continue" }
            }
        } @else {
            nav.card aria-labelledby="methods" {
                h1 #methods { "Select a payment method" }
                div.tiles {
                    @for m in &link.potential_payment_methods {
                        a.tile href={ "/qonto/pay/" (link.id) "?resource_id=" (link.resource_id) "&method=" (m.as_str()) } {
                            (icon(method_icon(*m))) span { (m.label()) }
                        }
                    }
                }
            }
        }
    };
    // Processing settles on the server's clock: reload until it has.
    let waiting = done.is_some() && link.status == LinkStatus::Processing;
    page_with(&title, &body, waiting.then_some(2))
}

/// The provider's onboarding page: finish, leave pending, or refuse.
fn onboarding_page(org: &Org, token: &str, form_token: &str) -> Markup {
    let status = org
        .connection
        .as_ref()
        .map_or("not_connected", |c| c.status.as_str());
    let account = org
        .connection
        .as_ref()
        .map_or("", |c| c.bank_account_id.as_str());
    let login = &org.config.login;
    let body = html! {
        section.card aria-labelledby="title" {
            h1 #title { "Connect " (login) " to payment links" }
            p.muted { "The payment links provider needs a few details before " (login) " can accept payments." }
            dl {
                dt { "Connection" } dd.status data-status=(status) { (status) }
                dt { "Bank account" } dd { (account) }
            }
        }
        form.card method="post" action={ "/qonto/connect/" (token) } {
            input type="hidden" name="form_token" value=(form_token);
            fieldset {
                legend { "Finish onboarding" }
                label.choice { input type="radio" name="decision" value="enable" checked; " Complete onboarding (connection enabled)" }
                label.choice { input type="radio" name="decision" value="pending"; " Leave it for later (connection pending)" }
                label.choice { input type="radio" name="decision" value="refuse"; " Refuse (connection disabled)" }
            }
            button type="submit" { "Continue" }
        }
    };
    page("Payment links onboarding", &body)
}
