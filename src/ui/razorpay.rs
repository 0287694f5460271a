//! The gateway's hosted checkout page: what the customer sees when they open a link's
//! `short_url`. In the sandbox the customer also picks the outcome.

use super::{esc, money, page};
use crate::providers::razorpay::model::{LinkStatus, PaymentLink};

fn major(minor: i64, currency: &str) -> String {
    let digits = super::minor_digits(currency);
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
pub fn checkout(
    link: &PaymentLink,
    merchant: &str,
    result: Option<&str>,
    detail: Option<&str>,
    form_token: &str,
) -> String {
    let cur = &link.currency;
    let mut body = String::new();
    body.push_str(&format!(
        r#"<section class="card" aria-labelledby="merchant">
<h1 id="merchant">{merchant}</h1>
<p class="muted">{description}</p>
<p class="amount" aria-label="Amount">{amount}</p>
<dl>
<dt>Status</dt><dd class="status" data-status="{status}">{status}</dd>
<dt>Paid</dt><dd>{paid}</dd>
<dt>Due</dt><dd>{due}</dd>
{reference}{customer}</dl>
</section>
"#,
        merchant = esc(merchant),
        description = esc(if link.description.is_empty() {
            "Payment request"
        } else {
            &link.description
        }),
        amount = esc(&money(link.amount, cur)),
        status = link.status.as_str(),
        paid = esc(&money(link.amount_paid, cur)),
        due = esc(&money(link.amount_due(), cur)),
        reference = if link.reference_id.is_empty() {
            String::new()
        } else {
            format!("<dt>Reference</dt><dd>{}</dd>\n", esc(&link.reference_id))
        },
        customer = ["name", "email", "contact"]
            .iter()
            .filter_map(|k| link
                .customer
                .get(*k)
                .and_then(|v| v.as_str())
                .map(|v| (k, v)))
            .map(|(k, v)| format!(
                "<dt>{}</dt><dd>{}</dd>\n",
                esc(&k[..1].to_uppercase()) + &k[1..],
                esc(v)
            ))
            .collect::<String>(),
    ));
    match result {
        Some("paid") => body.push_str(&format!(
            "<p class=\"card status ok\" role=\"status\">Payment successful: {}</p>\n",
            esc(detail.unwrap_or(""))
        )),
        Some("failed") => body.push_str(&format!(
            "<p class=\"card status bad\" role=\"status\">Payment failed: {}. You can try again.</p>\n",
            esc(detail.unwrap_or(""))
        )),
        Some("error") => body.push_str(&format!(
            "<p class=\"card status bad\" role=\"alert\">{}</p>\n",
            esc(detail.unwrap_or("Something went wrong"))
        )),
        _ => {}
    }
    if link.status.is_open() {
        let partial = if link.accept_partial {
            let min = if link.amount_paid == 0 && link.first_min_partial_amount > 0 {
                link.first_min_partial_amount.min(link.amount_due())
            } else {
                1
            };
            format!(
                r#"<label for="amount">Amount to pay ({cur}, partial payments accepted; at least {min})</label>
<input id="amount" name="amount" type="text" inputmode="decimal" value="{due}" aria-describedby="amount-hint">
<p id="amount-hint" class="muted">Up to {due_fmt} is due.</p>
"#,
                cur = esc(cur),
                min = esc(&money(min, cur)),
                due = major(link.amount_due(), cur),
                due_fmt = esc(&money(link.amount_due(), cur)),
            )
        } else {
            String::new()
        };
        let methods = [("upi", "UPI"), ("card", "Card"), ("netbanking", "Netbanking"), ("wallet", "Wallet")]
            .iter()
            .enumerate()
            .map(|(i, (value, label))| {
                format!(
                    "<label class=\"choice\"><input type=\"radio\" name=\"method\" value=\"{value}\"{}> {label}</label>\n",
                    if i == 0 { " checked" } else { "" }
                )
            })
            .collect::<String>();
        body.push_str(&format!(
            r#"<form class="card" method="post" action="/razorpay/i/{code}/pay">
<input type="hidden" name="form_token" value="{form_token}">
<fieldset><legend>Payment method</legend>
{methods}</fieldset>
<fieldset><legend>Sandbox outcome</legend>
<label class="choice"><input type="radio" name="outcome" value="success" checked> Success</label>
<label class="choice"><input type="radio" name="outcome" value="failure"> Failure</label>
</fieldset>
{partial}<button type="submit">Pay {due_fmt}</button>
</form>
"#,
            code = esc(&link.short_code),
            due_fmt = esc(&money(link.amount_due(), cur)),
            form_token = esc(form_token),
        ));
    } else {
        let why = match link.status {
            LinkStatus::Paid => "This payment link has been paid. Thank you!",
            LinkStatus::Cancelled => "This payment link was cancelled by the merchant.",
            LinkStatus::Expired => "This payment link has expired.",
            _ => "",
        };
        body.push_str(&format!("<p class=\"card\">{why}</p>\n"));
    }
    let captured: Vec<_> = link.captured().collect();
    if !captured.is_empty() {
        body.push_str("<section class=\"card\" aria-labelledby=\"payments\"><h1 id=\"payments\">Payments</h1><table><thead><tr><th>Payment</th><th>Method</th><th class=\"num\">Amount</th></tr></thead><tbody>\n");
        for p in captured {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&p.id),
                esc(&p.method),
                esc(&money(p.amount, cur))
            ));
        }
        body.push_str("</tbody></table></section>\n");
    }
    page(
        &format!("Pay {} · {}", money(link.amount, cur), merchant),
        &body,
    )
}
