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
//! - `POST`/`GET /v1/payment_links/` (with the trailing slash the gateway's examples use) are
//!   the same as without. `currency` must be one of the gateway's supported currencies
//!   (`rules::SUPPORTED_CURRENCIES`); another answers "The selected currency is invalid.", the
//!   sandbox's choice of sentence.
//! - `GET /v1/payments/{id}`, `GET /v1/orders/{id}` and `GET /v1/orders/{id}/payments` read the
//!   links' payments (every attempt, captured or failed, newest first in the order's list), so a
//!   server can confirm a payment after the callback; refunds are in `payments.rs`.
//! - `notes` values may be 255 characters (the table says 256, the gateway's error sentence
//!   "value: the length must not be greater than 255." says 255; the sentence wins). A field
//!   gets one sentence: an amount under ₹1 is "The amount must be at least INR 1.00" alone.
//! - Events for one payment go out as `payment.authorized` (the payment `authorized`, `captured:
//!   false`, no fee yet), `payment.captured`, then `order.paid` (when the link is fully paid), then
//!   `payment_link.paid` or `payment_link.partially_paid`; a failed payment sends
//!   `payment.failed` only. `X-Razorpay-Event-Id` is
//!   `evt_` and 14 characters; User-Agent is `Razorpay-Webhook/v1`. Any 2xx within
//!   `razorpay.webhook_timeout` (5 s, as Razorpay documents) acknowledges.
//! - An account with `auto_capture = false` (the Dashboard's capture setting; the Payment Links
//!   API has no per-link switch) stops after `payment.authorized`: the payment stays
//!   `authorized` and the link unpaid until `POST /v1/payments/{id}/capture` with the
//!   authorized `amount` and `currency`, which sends the rest. The paid link's order says
//!   `payment_capture: false`. "This payment has already been captured" is the gateway's
//!   sentence; the others are the sandbox's choice.
//! - Scenario rules may refuse a create (`reject`; `code` is the HTTP status) or pay a link
//!   automatically (`pay = { method, outcome, after, amount }`).
//!
//! # Known deviations
//! - Uncaptured payments stay authorized for ever; the gateway refunds them after a few days.
//! - No real notifications are sent; `notify_by` only answers `{"success": true}`. Reminders stay
//!   `[]`. `options` is accepted and stored but changes nothing on the page.
//! - The webhook URL is set in the config file or through `PUT /__sandbox/razorpay/webhook`
//!   (the real gateway sets it in its dashboard); there is no 24-hour disabling of failing hooks.

mod admin;
mod auth;
pub mod config;
mod error;
mod handlers;
mod model;
mod pages;
mod payments;
mod rules;
mod store;
mod trigger;
mod webhooks;

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    http::request::Parts,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use parking_lot::Mutex;

use crate::reply::AdminError;
use crate::context::{Context, IssuedLink, LinkIssuer};
use crate::ids::ProviderId;
use serde_json::json;
use crate::provider::{Answer, ApiDoc, LinksPanel, Match, PayOptions, Paid, Problem, Provider, Route};
use crate::scenario::{Rule, RuleChecks};
use crate::timeline::Payload;
use crate::webhook::Target;
use config::RazorpayConfig;
use store::Store;

/// The name the gateway is mounted under.
pub(crate) const ID: ProviderId = ProviderId::new("razorpay");

/// The gateway: its configuration and its store of accounts and links.
pub(crate) struct Razorpay {
    ctx: Arc<Context>,
    config: RazorpayConfig,
    store: Mutex<Store>,
}

/// The state of the gateway's handlers.
type Gw = Arc<Razorpay>;

pub(crate) fn new(ctx: &Arc<Context>, config: &RazorpayConfig) -> Arc<dyn Provider> {
    let gateway = Arc::new(Razorpay {
        store: Mutex::new(Store::new(
            config,
            ctx.limits.store_limit,
            ctx.limits.persistent,
        )),
        ctx: ctx.clone(),
        config: config.clone(),
    });
    // Other providers may check a payment link this gateway issued (WhatsApp orders carry one).
    let issuer: std::sync::Weak<dyn LinkIssuer> = Arc::downgrade(&gateway) as _;
    ctx.register_link_issuer(issuer);
    gateway
}

/// What gateway scenario rules may say: a rejection (`code` is the HTTP status) or a payment
/// (`pay = { method, outcome, after, amount }`); no statuses.
pub(crate) const SCENARIO: RuleChecks = RuleChecks {
    provider: ID.as_str(),
    check_rule,
    check_sequence: None,
    default_sequence: None,
};

fn check_rule(rule: &Rule, at: &str, problems: &mut Vec<String>) {
    if rule.then.statuses.is_some() || rule.then.error.is_some() {
        problems.push(format!("{at}.then.statuses and error apply to whatsapp rules only"));
    }
    if let Some(pay) = &rule.then.pay {
        if let Some(m) = &pay.method
            && model::Method::parse(m).is_none()
        {
            problems.push(format!(
                "{at}.then.pay.method {m:?} is not one of upi, card, netbanking, wallet"
            ));
        }
        if let Some(o) = &pay.outcome
            && !["success", "failure"].contains(&o.as_str())
        {
            problems.push(format!("{at}.then.pay.outcome {o:?} is not success or failure"));
        }
    }
}

/// Every emulated route, relative to `/razorpay`.
const ROUTES: &[Route] = &[
    Route::with_schema(
        "POST",
        "/v1/payment_links",
        "razorpay/payment_link.create.request",
    )
    .json(LINK),
    Route::new("GET", "/v1/payment_links").json(LINKS),
    Route::with_schema(
        "POST",
        "/v1/payment_links/",
        "razorpay/payment_link.create.request",
    )
    .json(LINK),
    Route::new("GET", "/v1/payment_links/").json(LINKS),
    Route::new("GET", "/v1/payment_links/{id}").json(LINK),
    Route::new("GET", "/v1/payments/{id}").json(PAYMENT),
    Route::new("GET", "/v1/orders/{id}").json(ORDER),
    Route::new("GET", "/v1/orders/{id}/payments").json(PAYMENTS),
    Route::with_schema(
        "POST",
        "/v1/payments/{id}/refund",
        "razorpay/refund.create.request",
    )
    .json(REFUND),
    Route::with_schema(
        "POST",
        "/v1/payments/{id}/capture",
        "razorpay/payment.capture.request",
    )
    .json(PAYMENT),
    Route::new("GET", "/v1/payments/{id}/refunds").json(REFUNDS),
    Route::new("GET", "/v1/refunds/{id}").json(REFUND),
    Route::with_schema(
        "PATCH",
        "/v1/payment_links/{id}",
        "razorpay/payment_link.update.request",
    )
    .json(LINK),
    Route::new("POST", "/v1/payment_links/{id}/cancel").json(LINK),
    Route::new("POST", "/v1/payment_links/{id}/notify_by/{medium}")
        .json("razorpay/responses.json#/$defs/success"),
    Route::new("GET", "/i/{code}").answers(Answer::Page).public(),
    Route::new("POST", "/i/{code}/pay")
        .answers(Answer::Redirect(303))
        .public(),
];

const LINK: &str = "razorpay/responses.json#/$defs/paymentLink";
const LINKS: &str = "razorpay/responses.json#/$defs/paymentLinks";
const PAYMENT: &str = "razorpay/webhooks/event.json#/$defs/payment";
const PAYMENTS: &str = "razorpay/responses.json#/$defs/payments";
const ORDER: &str = "razorpay/webhooks/event.json#/$defs/order";
const REFUND: &str = "razorpay/webhooks/event.json#/$defs/refund";
const REFUNDS: &str = "razorpay/responses.json#/$defs/refunds";

/// Admin routes, relative to `/__sandbox/razorpay`.
const ADMIN_ROUTES: &[Route] = &[
    Route::new("POST", "/payments/{id}/refund").json(REFUND),
    Route::new("GET", "/payment_links").json("razorpay/responses.json#/$defs/adminLinks"),
    Route::new("POST", "/payment_links/{id}/pay").json("sandbox/responses.json#/$defs/paid"),
    Route::new("GET", "/webhook").json("razorpay/responses.json#/$defs/webhooks"),
    Route::new("PUT", "/webhook").json("razorpay/responses.json#/$defs/webhook"),
];

impl Provider for Razorpay {
    fn configured(&self, tenant: &str) -> bool {
        self.config.accounts.iter().any(|a| a.key_id == tenant)
    }

    fn api_doc(&self, _base: &str) -> ApiDoc {
        ApiDoc {
            error: "razorpay/responses.json#/$defs/error",
            schemes: json!({"razorpayKey": {
                "type": "http",
                "scheme": "basic",
                "description": "The key id as user name and the key secret as password."
            }}),
            security: json!([{"razorpayKey": []}]),
        }
    }

    fn id(&self) -> ProviderId {
        ID
    }

    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    fn admin_routes(&self) -> &'static [Route] {
        ADMIN_ROUTES
    }

    fn router(self: Arc<Self>) -> Router {
        use handlers as h;
        Router::new()
            .route(
                "/v1/payment_links",
                post(h::create).get(h::list).fallback(h::unknown),
            )
            // The gateway's own examples write the collection with a trailing slash.
            .route(
                "/v1/payment_links/",
                post(h::create).get(h::list).fallback(h::unknown),
            )
            .route(
                "/v1/payment_links/{id}",
                get(h::fetch).patch(h::update).fallback(h::unknown),
            )
            .route(
                "/v1/payment_links/{id}/cancel",
                post(h::cancel).fallback(h::unknown),
            )
            .route(
                "/v1/payment_links/{id}/notify_by/{medium}",
                post(h::notify_by).fallback(h::unknown),
            )
            .route(
                "/v1/payments/{id}",
                get(payments::payment).fallback(h::unknown),
            )
            .route("/v1/orders/{id}", get(payments::order).fallback(h::unknown))
            .route(
                "/v1/payments/{id}/refund",
                post(payments::refund).fallback(h::unknown),
            )
            .route(
                "/v1/payments/{id}/capture",
                post(payments::capture).fallback(h::unknown),
            )
            .route(
                "/v1/payments/{id}/refunds",
                get(payments::payment_refunds).fallback(h::unknown),
            )
            .route(
                "/v1/refunds/{id}",
                get(payments::refund_by_id).fallback(h::unknown),
            )
            .route(
                "/v1/orders/{id}/payments",
                get(payments::order_payments).fallback(h::unknown),
            )
            .route("/i/{code}", get(pages::page).fallback(h::unknown))
            .route("/i/{code}/pay", post(pages::pay).fallback(h::unknown))
            .fallback(h::unknown)
            .with_state(self)
    }

    fn admin_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/payment_links", get(admin::links))
            .route("/payment_links/{id}/pay", post(admin::pay))
            .route("/payments/{id}/refund", post(admin::refund))
            .route("/webhook", get(admin::webhooks).put(admin::set_webhook))
            .with_state(self)
    }

    fn authenticate(&self, parts: &mut Parts, _body: &Bytes) -> Option<String> {
        if self.ctx.limits.accept_any_credentials {
            auth::ensure_tenant(self, &parts.headers);
        }
        let auth = auth::resolve(self, &parts.headers);
        let tenant = auth.tenant();
        parts.extensions.insert(auth);
        tenant
    }

    fn answer(&self, problem: Problem) -> Response {
        error::RzError::from(problem).into_response()
    }

    fn reset(&self, tenant: Option<&str>) {
        let mut store = self.store.lock();
        match tenant {
            None => {
                *store = Store::new(
                    &self.config,
                    self.ctx.limits.store_limit,
                    self.ctx.limits.persistent,
                );
            }
            Some(t) => {
                if store.remove_account(t)
                    && let Some(a) = self.config.accounts.iter().find(|a| a.key_id == t)
                {
                    store.add_account(a.clone());
                }
            }
        }
    }

    fn run(&self, _tenant: &str, job: Box<dyn Payload>) {
        let job: Box<dyn std::any::Any + Send + Sync> = job;
        if let Ok(job) = job.downcast::<webhooks::Job>() {
            webhooks::run(self, *job);
        }
    }

    fn state(&self) -> &dyn crate::records::Stateful {
        &self.store
    }

    fn counts(&self) -> serde_json::Value {
        let store = self.store.lock();
        let links: usize = store.accounts().map(|a| a.links.len()).sum();
        json!({"accounts": store.accounts().count(), "links": links})
    }

    fn save_job(&self, payload: &dyn Payload) -> Option<serde_json::Value> {
        crate::snapshot::save_job_as::<webhooks::Job>(payload)
    }

    fn load_job(&self, saved: serde_json::Value) -> Result<Box<dyn Payload>, String> {
        crate::snapshot::load_job_as::<webhooks::Job>(saved)
    }

    fn signer(&self, secret: String) -> Arc<dyn crate::webhook::Sign> {
        Arc::new(webhooks::RazorpaySigner { secret })
    }

    fn webhook_target(&self, tenant: &str) -> Option<Target> {
        webhooks::target(self, tenant)
    }

    fn triggers(&self) -> &'static [crate::trigger::Trigger] {
        trigger::TRIGGERS
    }

    fn trigger<'a>(
        &'a self,
        options: &'a crate::trigger::Options,
        caller: &'a crate::trigger::Caller,
    ) -> futures_util::future::BoxFuture<'a, Result<serde_json::Value, AdminError>> {
        Box::pin(trigger::fire(self, options, caller))
    }

    fn pay(&self, options: &PayOptions, matching: Match) -> Option<Result<Paid, AdminError>> {
        admin::pay_target(self, options, matching)
    }

    fn links_panel(&self) -> Option<LinksPanel> {
        Some(admin::links_panel(self))
    }
}

impl LinkIssuer for Razorpay {
    /// A short URL of this sandbox's checkout (`<base>/razorpay/i/<code>`).
    fn issued(&self, url: &str) -> Option<Option<IssuedLink>> {
        let code = url
            .strip_prefix(&self.ctx.base_url)?
            .strip_prefix("/razorpay/i/")?
            .split(['?', '#', '/'])
            .next()
            .unwrap_or("");
        let store = self.store.lock();
        Some(store.by_code(code).map(|(_, link)| IssuedLink {
            id: link.id.clone(),
            status: link.status.as_str().to_string(),
            payable: link.status.is_open(),
            amount: link.amount,
            currency: link.currency.clone(),
        }))
    }
}
