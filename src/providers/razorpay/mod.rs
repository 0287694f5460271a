//! A payment gateway that issues payment links, in the shape of Razorpay's Payment Links API.
//!
//! # Real API emulated
//! `https://api.razorpay.com/v1/payment_links` (create, fetch, list, edit, cancel, notify), as
//! documented in Razorpay's docs repository in 2026 and called by razorpay-python 2.0.x and
//! razorpay-node 2.9.x. Mounted at `/razorpay`, so an SDK's base URL becomes
//! `http://127.0.0.1:5080/razorpay` (razorpay-python: `Client(auth=..., base_url=...)`).
//!
//! Links point at the sandbox's own hosted checkout page, `/razorpay/i/<code>`, where the
//! customer picks a method and an outcome. Payments update the link (`amount_paid`, `payments`,
//! `order_id`, `status`) and send the webhooks; a `callback_url` receives the redirect with the
//! five documented parameters and `razorpay_signature`.
//!
//! # Choices where the reference is uncertain
//! - Every success is HTTP 200 (create too). An unknown but well-formed id is 400 "The id provided
//!   does not exist"; a malformed one is 400 `invalid input [strippedId] = [...]`. Missing
//!   credentials are 401 "Please provide your api key for authentication purposes."; wrong ones
//!   401 "The api key provided is invalid". Unknown paths are 404.
//! - Validation errors list every problem: one problem reads exactly as the gateway words it,
//!   with `field`; several are joined as `<JSON pointer>: <description>; ...` and `field` names
//!   the first. Unknown fields are "wrong input fields sent.".
//! - Integers are integers: `amount`, `first_min_partial_amount` and `expire_by` written as
//!   `5000.0`, `5e3` or beyond the 64-bit range are refused with "The amount must be an integer."
//!   (the gateway's validator wording), never rounded or read as 0.
//! - Minimum amount is 100 minor units ("The amount must be at least INR 1.00"); `expire_by` must
//!   be 15 minutes to 180 days ahead of the sandbox clock; notes hold at most 15 keys of at most
//!   256 characters; `reference_id` at most 40 characters, unique per account (cancelled and
//!   expired links keep theirs).
//! - UPI links are refused with `rzp_test_` keys, as the real API does, unless
//!   `razorpay.upi_links_in_test_mode` is set; use an `rzp_live_` key id to create them.
//! - The create response has `payments: null`, `notes: null` when none were given, `reminders:
//!   []`, `customer: {}` when none was given, and `whatsapp_link: false`. Webhook payloads carry
//!   the link without `payments`. The order entity follows the `order.paid` sample.
//! - Lists are newest first and honour `count` (default 10, 1 to 100), `skip`, `from`, `to`,
//!   `reference_id` and `payment_id`.
//! - Failed payments are not listed in the link's `payments` (only captured ones are) but are
//!   found by the `payment_id` filter and sent as `payment.failed`.
//! - Events for one payment go out as `payment.captured`, then `order.paid` (when the link is fully
//!   paid), then `payment_link.paid` or `payment_link.partially_paid`. `X-Razorpay-Event-Id` is
//!   `evt_` and 14 characters; User-Agent is `Razorpay-Webhook/v1`. Any 2xx acknowledges.
//! - Scenario rules may refuse a create (`reject`; `code` is the HTTP status) or pay a link
//!   automatically (`pay = { method, outcome, after, amount }`).
//!
//! # Known deviations
//! - No real notifications are sent; `notify_by` only answers `{"success": true}`. Reminders stay
//!   `[]`. `options` is accepted and stored but changes nothing on the page.
//! - The webhook URL is set in the config file or through `PUT /__sandbox/razorpay/webhook`
//!   (the real gateway sets it in its dashboard); there is no 24-hour disabling of failing hooks.

pub mod admin;
pub mod auth;
pub mod error;
pub mod handlers;
pub mod model;
pub mod rules;
pub mod store;
pub mod webhooks;

use axum::{
    Router,
    routing::{get, post},
};
use parking_lot::Mutex;

use crate::app::AppState;
use crate::config::Config;

#[derive(Debug)]
pub struct Razorpay {
    pub store: Mutex<store::Store>,
}

impl Razorpay {
    pub fn new(config: &Config) -> Self {
        Self {
            store: Mutex::new(store::Store::new(
                &config.razorpay,
                config.server.store_limit,
            )),
        }
    }
}

/// Every emulated route, as `(method, path under /razorpay)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/payment_links"),
    ("GET", "/v1/payment_links"),
    ("GET", "/v1/payment_links/{id}"),
    ("PATCH", "/v1/payment_links/{id}"),
    ("POST", "/v1/payment_links/{id}/cancel"),
    ("POST", "/v1/payment_links/{id}/notify_by/{medium}"),
    ("GET", "/i/{code}"),
    ("POST", "/i/{code}/pay"),
];

/// Admin routes under `/__sandbox/razorpay`.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/payment_links"),
    ("POST", "/payment_links/{id}/pay"),
    ("GET", "/webhook"),
    ("PUT", "/webhook"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/payment_links",
            post(handlers::create)
                .get(handlers::list)
                .fallback(handlers::unknown),
        )
        .route(
            "/v1/payment_links/{id}",
            get(handlers::fetch)
                .patch(handlers::update)
                .fallback(handlers::unknown),
        )
        .route(
            "/v1/payment_links/{id}/cancel",
            post(handlers::cancel).fallback(handlers::unknown),
        )
        .route(
            "/v1/payment_links/{id}/notify_by/{medium}",
            post(handlers::notify_by).fallback(handlers::unknown),
        )
        .route("/i/{code}", get(handlers::page).fallback(handlers::unknown))
        .route(
            "/i/{code}/pay",
            post(handlers::page_pay).fallback(handlers::unknown),
        )
        .fallback(handlers::unknown)
}

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/payment_links", get(admin::links))
        .route("/payment_links/{id}/pay", post(admin::pay))
        .route("/webhook", get(admin::webhooks).put(admin::set_webhook))
}
