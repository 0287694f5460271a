//! Qonto's pages: the test-mode checkout behind each payment link's `url` (in the style of
//! Mollie's: pick a method, then the status the payment should end in) and the provider's
//! onboarding page behind `connection_location`.

use super::{esc, money, page};
use crate::providers::qonto::model::{PaymentLink, outcomes};
use crate::providers::qonto::store::Org;

fn method_label(m: &str) -> &str {
    match m {
        "credit_card" => "Card",
        "apple_pay" => "Apple Pay",
        "paypal" => "PayPal",
        "ideal" => "iDEAL",
        other => other,
    }
}

pub fn missing() -> String {
    page(
        "Payment link not found",
        "<div class=\"card\"><h1>Not found</h1><p class=\"muted\">Nothing here in this sandbox.</p></div>",
    )
}

fn summary(link: &PaymentLink, merchant: &str) -> String {
    let mut out = format!(
        r#"<section class="card" aria-labelledby="merchant">
<h1 id="merchant">{merchant}</h1>
<p class="muted">{kind}</p>
<p class="amount" aria-label="Amount">{amount}</p>
<dl><dt>Status</dt><dd class="status" data-status="{status}">{status}</dd>{invoice}</dl>
"#,
        merchant = esc(merchant),
        kind = if link.resource_type == "Invoice" {
            "Invoice payment"
        } else {
            "Basket payment"
        },
        amount = esc(&money(link.amount, &link.currency)),
        status = link.status.as_str(),
        invoice = match (&link.invoice_number, &link.debitor_name) {
            (Some(n), Some(d)) => format!(
                "<dt>Invoice</dt><dd>{}</dd><dt>Debitor</dt><dd>{}</dd>",
                esc(n),
                esc(d)
            ),
            _ => String::new(),
        }
    );
    if let Some(items) = &link.items {
        out.push_str("<table><caption class=\"muted\">Items (VAT included in the total)</caption><thead><tr><th>Item</th><th class=\"num\">Qty</th><th class=\"num\">Unit price</th><th class=\"num\">VAT</th></tr></thead><tbody>\n");
        for i in items {
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td></tr>\n",
                esc(&i.title),
                i.quantity,
                esc(&money(i.unit_price, &i.currency)),
                esc(&i.vat_rate)
            ));
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
    out
}

/// The checkout: without `method`, the method choice; with it, the test-mode status chooser.
/// `done` is the status just chosen (or `error:<text>`).
pub fn checkout(
    link: &PaymentLink,
    merchant: &str,
    method: Option<&str>,
    done: Option<&str>,
    form_token: &str,
) -> String {
    let mut body = summary(link, merchant);
    match done {
        Some(d) if d.starts_with("error:") => body.push_str(&format!(
            "<p class=\"card status bad\" role=\"alert\">{}</p>\n",
            esc(&d["error:".len()..])
        )),
        Some(d) => body.push_str(&format!(
            "<p class=\"card status {}\" role=\"status\">Test payment completed with status <strong>{}</strong>.</p>\n",
            if d == "paid" { "ok" } else { "bad" },
            esc(d)
        )),
        None => {}
    }
    if !link.status.payable() {
        let why = match link.status.as_str() {
            "paid" => "This payment link has been paid.",
            "processing" => "A payment on this link is being processed.",
            "expired" => "This payment link has expired.",
            "canceled" => "This payment link was deactivated.",
            _ => "",
        };
        body.push_str(&format!("<p class=\"card\">{why}</p>\n"));
        return page(
            &format!("{} · {merchant}", money(link.amount, &link.currency)),
            &body,
        );
    }
    match method.filter(|m| link.potential_payment_methods.iter().any(|p| p == m)) {
        None => {
            body.push_str("<nav class=\"card\" aria-labelledby=\"methods\"><h1 id=\"methods\">Select a payment method</h1><ul>\n");
            for m in &link.potential_payment_methods {
                body.push_str(&format!(
                    "<li><a href=\"/qonto/pay/{id}?resource_id={rid}&amp;method={m}\">{label}</a></li>\n",
                    id = esc(&link.id),
                    rid = esc(&link.resource_id),
                    m = esc(m),
                    label = esc(method_label(m))
                ));
            }
            body.push_str("</ul></nav>\n");
        }
        Some(m) => {
            let choices = outcomes(m)
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    format!(
                        "<label class=\"choice\"><input type=\"radio\" name=\"status\" value=\"{o}\"{}> {o}</label>\n",
                        if i == 0 { " checked" } else { "" }
                    )
                })
                .collect::<String>();
            body.push_str(&format!(
                r#"<form class="card" method="post" action="/qonto/pay/{id}">
<input type="hidden" name="form_token" value="{form_token}">
<input type="hidden" name="method" value="{m}">
<fieldset><legend>Test mode: {label} — choose the payment status</legend>
{choices}</fieldset>
<label for="email">Payer email (optional)</label>
<input id="email" name="email" type="text" inputmode="email" autocomplete="email">
<p></p>
<button type="submit" name="submit">Continue</button>
</form>
"#,
                id = esc(&link.id),
                m = esc(m),
                label = esc(method_label(m)),
                form_token = esc(form_token),
            ));
        }
    }
    page(
        &format!("Pay {} · {merchant}", money(link.amount, &link.currency)),
        &body,
    )
}

/// The provider's onboarding page: finish, leave pending, or refuse.
pub fn onboarding(org: &Org, token: &str, form_token: &str) -> String {
    let status = org
        .connection
        .as_ref()
        .map(|c| c.status.as_str())
        .unwrap_or("not_connected");
    let body = format!(
        r#"<section class="card" aria-labelledby="title">
<h1 id="title">Connect {login} to payment links</h1>
<p class="muted">The payment links provider needs a few details before {login} can accept payments.</p>
<dl><dt>Connection</dt><dd class="status" data-status="{status}">{status}</dd>
<dt>Bank account</dt><dd>{account}</dd></dl>
</section>
<form class="card" method="post" action="/qonto/connect/{token}">
<input type="hidden" name="form_token" value="{form_token}">
<fieldset><legend>Finish onboarding</legend>
<label class="choice"><input type="radio" name="decision" value="enable" checked> Complete onboarding (connection enabled)</label>
<label class="choice"><input type="radio" name="decision" value="pending"> Leave it for later (connection pending)</label>
<label class="choice"><input type="radio" name="decision" value="refuse"> Refuse (connection disabled)</label>
</fieldset>
<button type="submit">Continue</button>
</form>
"#,
        login = esc(&org.config.login),
        account = esc(org
            .connection
            .as_ref()
            .map(|c| c.bank_account_id.as_str())
            .unwrap_or("")),
        token = esc(token),
        form_token = esc(form_token),
    );
    page("Payment links onboarding", &body)
}
