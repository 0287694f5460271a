//! What the sandbox serves to browsers besides its providers' pages: the dashboard at `/` (one
//! small script that reads the admin API and redraws on the server-sent events of
//! `/__sandbox/events`), and the shell, stylesheet and money formatting every hosted page uses.
//! Everything is embedded in the binary: no CDN, no external fonts, nothing fetched from anywhere
//! but the sandbox itself. Pages are written with `maud`, so every value is escaped by
//! construction.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::provider::{Answer, Route};

/// The dashboard's own routes, mounted at the root.
pub(crate) const ROUTES: &[Route] = &[
    Route::new("GET", "/").answers(Answer::Page),
    Route::new("GET", "/ui/app.js").answers(Answer::Text("text/javascript")),
    Route::new("GET", "/ui/app.css").answers(Answer::Text("text/css")),
    Route::new("GET", "/favicon.ico").answers(Answer::Text("image/svg+xml")),
];

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
/// A small inline SVG (a speech bubble with a check), so browsers stop asking for a favicon.
const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#2f855a" d="M4 4h24a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H12l-6 5v-5H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/><path fill="none" stroke="#fff" stroke-width="3" d="M9 14l5 5 9-10"/></svg>"##;

pub(crate) fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset(FAVICON, "image/svg+xml") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The assets change only with the binary; revalidate so an upgrade shows at once.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                     connect-src 'self'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Digits after the decimal point for a currency's minor unit.
pub(crate) fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "INR" => "₹",
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "BRL" => "R$",
        "JPY" => "¥",
        _ => return None,
    })
}

/// An amount in minor units, written in its currency with the right decimals: `₹1,23,456.50`
/// (Indian grouping for INR), `€1,234.50`, `R$ 50.00`, `KWD 1.250`.
pub(crate) fn money(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10i64.pow(digits);
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    let whole = abs / scale;
    let frac = abs % scale;
    let grouped = group(whole, currency == "INR");
    let number = if digits == 0 {
        grouped
    } else {
        format!("{grouped}.{frac:0width$}", width = digits as usize)
    };
    let sign = if negative { "-" } else { "" };
    match symbol(currency) {
        Some(s) if s.len() > 1 && s.ends_with('$') => format!("{sign}{s} {number}"),
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{currency} {number}"),
    }
}

fn group(n: u64, indian: bool) -> String {
    let s = n.to_string();
    if s.len() <= 3 {
        return s;
    }
    let (head, last3) = s.split_at(s.len() - 3);
    let size = if indian { 2 } else { 3 };
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = head;
    while rest.len() > size {
        let (a, b) = rest.split_at(rest.len() - size);
        parts.push(b);
        rest = a;
    }
    parts.push(rest);
    parts.reverse();
    format!("{},{last3}", parts.join(","))
}

/// The answer to a form post that did not come from the page that carries the form: a stale
/// page (the sandbox restarted) or another site posting on the user's behalf.
pub(crate) fn forged() -> Markup {
    page(
        "Form expired",
        &html! {
            div.card {
                h1 { "This form has expired" }
                p.muted { "The request did not come from this sandbox's own page (or the sandbox restarted since it was opened). Nothing was changed. Reload the page and try again." }
            }
        },
    )
}

/// A short page saying something is not there.
pub(crate) fn missing(title: &str, text: &str) -> Markup {
    page(
        title,
        &html! {
            div.card {
                h1 { (title) }
                p.muted { (text) }
            }
        },
    )
}

/// The shared page shell: a title, the sandbox banner and the page's own markup.
pub(crate) fn page(title: &str, body: &Markup) -> Markup {
    page_with(title, body, None)
}

/// The shell, reloading itself every `refresh` seconds when given (a page waiting for a state
/// that changes on the server, without a script).
pub(crate) fn page_with(title: &str, body: &Markup, refresh: Option<u32>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                @if let Some(secs) = refresh {
                    meta http-equiv="refresh" content=(secs);
                }
                style { (PreEscaped(PAGE_CSS)) }
                script { (PreEscaped(PAGE_JS)) }
            }
            body {
                p.sandbox-banner role="note" { "Sandbox — no real money moves." }
                main { (body) }
            }
        }
    }
}

/// The pages' one script, inline and allowed by its hash: a Pay button labelled
/// `data-pay-label` follows the amount typed in `#amount` (formatted in `data-currency`).
pub(crate) const PAGE_JS: &str = r#"
document.addEventListener("DOMContentLoaded", () => {
  const amount = document.getElementById("amount");
  const button = document.querySelector("[data-pay-label]");
  if (!amount || !button) return;
  const cur = button.dataset.currency;
  const format = new Intl.NumberFormat(cur === "INR" ? "en-IN" : "en", { style: "currency", currency: cur });
  const update = () => {
    const n = Number(amount.value.trim());
    button.textContent = amount.value.trim() !== "" && Number.isFinite(n) && n > 0 ? `Pay ${format.format(n)}` : "Pay";
  };
  amount.addEventListener("input", update);
  update();
});
"#;

/// An inline SVG icon (24×24 strokes in `currentColor`), so no glyph depends on a font.
pub(crate) fn icon(name: &str) -> Markup {
    let d = match name {
        "upi" => "M7 4l5 16 5-16M4 12h16",
        "card" => "M3 6h18v12H3zM3 10h18M7 15h4",
        "bank" => "M3 10l9-6 9 6M5 10v8M9.5 10v8M14.5 10v8M19 10v8M3 20h18",
        "wallet" => "M3 7h15a2 2 0 0 1 2 2v9H3zM3 7l12-3v3M16 13h1",
        "paypal" => "M7 20l3-16h6a4 4 0 0 1 0 8h-5",
        "phone" => "M8 2h8a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zM11 19h2",
        "ok" => "M5 12.5l4.5 4.5L19 7.5",
        "fail" => "M6 6l12 12M18 6L6 18",
        "clock" => "M12 7v5l3 2M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0z",
        _ => "M12 12h.01",
    };
    html! {
        svg.icon viewBox="0 0 24 24" aria-hidden="true" { path d=(d) {} }
    }
}

/// A hosted page's header: a logo placeholder with the merchant's initials, its name, and a
/// test-mode badge.
pub(crate) fn merchant_header(name: &str, subtitle: &str) -> Markup {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase();
    html! {
        header.merchant {
            span.logo aria-hidden="true" { (initials) }
            span.who {
                h1 #merchant { (name) }
                span.muted { (subtitle) }
            }
            span.test-badge { "Test mode" }
        }
    }
}

/// The pages' one stylesheet, inline; the content security policy allows it by its hash.
pub(crate) const PAGE_CSS: &str = r#"
:root { color-scheme: light dark; --accent: #2b6cb0; --ok: #2f855a; --bad: #c53030; --muted: #666;
  --card: #fff; --bg: #f3f4f6; --line: #d9dce1; }
@media (prefers-color-scheme: dark) { :root { --card: #1e2228; --bg: #121418; --line: #333a44; --muted: #a0a6ae; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); }
.sandbox-banner { margin: 0; padding: .4rem 1rem; background: #fde68a; color: #5b4300; text-align: center; font-size: .875rem; }
main { max-width: 30rem; margin: 1.5rem auto; padding: 0 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1.25rem; margin-bottom: 1rem; }
h1 { font-size: 1.125rem; margin: 0 0 .25rem; }
.amount { font-size: 2rem; font-weight: 700; margin: .25rem 0; }
.muted { color: var(--muted); font-size: .9rem; }
fieldset { border: 1px solid var(--line); border-radius: .5rem; margin: 0 0 1rem; padding: .5rem .75rem; }
legend { font-weight: 600; padding: 0 .25rem; }
label.choice { display: flex; gap: .5rem; align-items: center; padding: .35rem 0; cursor: pointer; }
input[type=number], input[type=text] { width: 100%; padding: .5rem; font: inherit; border: 1px solid var(--line); border-radius: .4rem; background: transparent; color: inherit; }
button { width: 100%; padding: .75rem; font: inherit; font-weight: 600; border: 0; border-radius: .5rem; background: var(--accent); color: #fff; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid #f6ad55; outline-offset: 2px; }
.status { font-weight: 600; }
.status.ok { color: var(--ok); } .status.bad { color: var(--bad); }
dl { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; margin: .5rem 0 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: .3rem .2rem; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; }
.icon { width: 1.4em; height: 1.4em; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; flex: none; }
.merchant { display: flex; gap: .75rem; align-items: center; margin-bottom: .5rem; }
.merchant .logo { width: 2.75rem; height: 2.75rem; border-radius: .6rem; display: grid; place-items: center; background: var(--accent); color: #fff; font-weight: 700; flex: none; }
.merchant .who { min-width: 0; flex: 1; overflow-wrap: anywhere; } .merchant h1 { margin: 0; }
.test-badge { font-size: .75rem; font-weight: 700; color: #5b4300; background: #fde68a; border-radius: 1rem; padding: .1rem .55rem; flex: none; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(6.5rem, 1fr)); gap: .5rem; border: 0; padding: 0; margin: 0 0 1rem; }
.tiles legend { margin-bottom: .4rem; padding: 0; }
.tile { display: flex; flex-direction: column; align-items: center; gap: .3rem; padding: .7rem .4rem; border: 1px solid var(--line); border-radius: .6rem; cursor: pointer; text-align: center; color: inherit; text-decoration: none; background: var(--card); }
.tile input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.tile:has(input:checked) { border-color: var(--accent); box-shadow: 0 0 0 2px var(--accent) inset; }
.tile:has(input:focus-visible) { outline: 3px solid #f6ad55; outline-offset: 2px; }
a.tile:hover { border-color: var(--accent); }
.tile.ok:has(input:checked) { border-color: var(--ok); box-shadow: 0 0 0 2px var(--ok) inset; }
.tile.bad:has(input:checked) { border-color: var(--bad); box-shadow: 0 0 0 2px var(--bad) inset; }
.result { display: flex; gap: .75rem; align-items: flex-start; }
.result.ok { border-color: var(--ok); } .result.bad { border-color: var(--bad); }
.result .icon { margin-top: .1rem; } .result.ok .icon { color: var(--ok); } .result.bad .icon { color: var(--bad); }
.result p { margin: .2rem 0; } .result code { overflow-wrap: anywhere; }
a.again { display: inline-block; margin-top: .4rem; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_their_currency_and_decimals() {
        assert_eq!(money(12345650, "INR"), "₹1,23,456.50");
        assert_eq!(money(100, "INR"), "₹1.00");
        assert_eq!(money(123450, "EUR"), "€1,234.50");
        assert_eq!(money(5000, "BRL"), "R$ 50.00");
        assert_eq!(money(1250, "KWD"), "KWD 1.250");
        assert_eq!(money(500, "JPY"), "¥500");
        assert_eq!(money(99, "CHF"), "CHF 0.99");
        assert_eq!(money(-150, "USD"), "-$1.50");
    }

    #[test]
    fn page_text_is_escaped() {
        let html = page("<t>", &html! { p { "<a href=\"x\">&" } }).into_string();
        assert!(html.contains("<title>&lt;t&gt;</title>"), "{html}");
        assert!(html.contains("&lt;a href=&quot;x&quot;&gt;&amp;"), "{html}");
        assert!(
            html.contains(&format!("<style>{PAGE_CSS}</style>")),
            "the stylesheet is inline and verbatim, as its hash in the policy says"
        );
    }
}
