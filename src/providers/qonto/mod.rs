//! Qonto Business API `/v2/payment_links` (payment links backed by Mollie) and its webhooks.
//!
//! # Real API emulated
//! `https://thirdparty.qonto.com/v2/...` as documented on docs.qonto.com in 2026 (OpenAPI
//! `info.version: v2`): connections, basket and invoice links, payments, payment methods and
//! webhook subscriptions. Mounted at `/qonto`, so a client's base URL becomes
//! `http://127.0.0.1:5080/qonto` (or `.../qonto/v2` for clients whose base includes `/v2`).
//! Links' `url` opens the sandbox's own test-mode checkout (`/qonto/pay/<id>?resource_id=...`), in
//! the style of Mollie's: pick a method, then the status the payment ends in.
//!
//! # Choices where the reference is uncertain
//! - `GET /v2/payment_links/{id}` answers `{"payment_link": {...}}`, like create and deactivate and
//!   what clients parse; `qonto.wrap_single_link = false` answers the bare object some doc
//!   revisions show.
//! - API keys (`<login>:<secret-key>`) reach every payment-link and webhook route; OAuth tokens
//!   need the route's scope (`payment_link.read`, `payment_link.write`, `webhook`) or get 403
//!   `missing required oauth scope: ...`. Bad credentials are 401.
//! - With `qonto.staging_token` set, a request without the right `X-Qonto-Staging-Token` gets the
//!   OneLogin sign-in page with status 200, as Qonto's sandbox answers.
//! - Validation errors are 422 with one entry per problem: `required`, `unpermitted_parameter`,
//!   `not_in_list` or `invalid`, each with `source.pointer` (body) or `source.parameter` (query).
//!   Unknown ids are 404 `not_found`; unknown paths are 404. Every answer carries
//!   `X-Tyk-Trace-Id`, equal to the error body's `trace_id`.
//! - Amounts are decimal strings with at most two decimals, parsed exactly; `vat_rate` is a
//!   percent string (`"21.0"`); a basket's amount is Σ quantity × unit price × (1 + VAT/100),
//!   rounded half up to the cent once over the basket. Currency is EUR.
//! - The variant follows the fields sent: any of `invoice_id`, `invoice_number`, `debitor_name`,
//!   `amount` makes an invoice link (and its required fields apply), else a basket link.
//! - `potential_payment_methods` must be among the organization's enabled methods.
//! - Creating a link without an enabled connection is 422 `connection_required`. A second
//!   connection while one is enabled is 422 `already_connected`. `GET /connections` is 404 when
//!   the organization never connected. The default organization starts connected (like Qonto's
//!   "Abacate" sandbox organization); set `connection = "not_connected"` to walk the flow.
//! - Onboarding decisions: enable → `enabled` + `connection_enabled` webhook; leave pending →
//!   `pending` (no webhook); refuse (or revoke) → `disabled` + `connection_revoked`. The user is
//!   then sent to `partner_callback_url` unchanged.
//! - State machines: a payment ends in the status chosen at checkout. A link is `processing` while
//!   a payment is `pending`/`authorized` or paid but not yet settled (`qonto.settlement_delay`,
//!   default 1 s), then `paid` (single-use) or `open` again (reusable); failed, canceled, expired
//!   and open payments leave it `open`. Deactivation moves `open` to `canceled` (anything else is
//!   422). Links expire `qonto.link_lifetime` (default 30 days) after creation on the sandbox clock.
//! - Webhooks: `v1/payment-links` with `data.event` `created` on creation and `updated` on every
//!   status change; one delivery per subscription whose `types` include the event type; no
//!   subscription means no event. `callback_url` must be https, except plain http to a loopback
//!   host. A subscription's `secret` is shown only when it is created.
//! - `X-Qonto-Idempotency-Key` is scoped to the organization and the route (`POST
//!   /v2/payment_links` and `POST /v2/webhook_subscriptions` never share an answer). The key is
//!   claimed before the work, so of concurrent requests with one key exactly one does it and the
//!   others wait and get its answer; the first successful answer is replayed for 30 minutes of
//!   sandbox time; a failed request frees its key. A key sent again with a **different body** is
//!   refused with 422 `idempotency_key_reused` (source parameter `X-Qonto-Idempotency-Key`).
//!   Qonto's documentation says production replays the first answer "even if the request body
//!   differs"; that hides a client bug, so the sandbox reports it by default and
//!   `qonto.idempotency_reuse = "replay"` restores the documented behaviour.
//!
//! # Known deviations
//! - Rate limits (1,000 requests per 10 s per IP) are not enforced unless a fault rule asks.
//! - Only payment-link webhook types are ever sent; other `types` are accepted and stay silent.

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
    routing::{get, patch, post},
};
use parking_lot::Mutex;

use crate::app::AppState;
use crate::config::Config;
use crate::ids::Ids;

#[derive(Debug)]
pub struct Qonto {
    pub store: Mutex<store::Store>,
}

impl Qonto {
    pub fn new(config: &Config, base_url: &str, ids: &Ids) -> Self {
        Self {
            store: Mutex::new(store::Store::new(
                &config.qonto,
                config.server.store_limit,
                base_url,
                ids,
            )),
        }
    }
}

/// Every emulated route, as `(method, path under /qonto)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v2/payment_links/connections"),
    ("GET", "/v2/payment_links/connections"),
    ("POST", "/v2/payment_links"),
    ("GET", "/v2/payment_links"),
    ("GET", "/v2/payment_links/payment_methods"),
    ("GET", "/v2/payment_links/{id}"),
    ("PATCH", "/v2/payment_links/{id}/deactivate"),
    ("GET", "/v2/payment_links/{id}/payments"),
    ("POST", "/v2/webhook_subscriptions"),
    ("GET", "/v2/webhook_subscriptions"),
    ("GET", "/v2/webhook_subscriptions/{id}"),
    ("PUT", "/v2/webhook_subscriptions/{id}"),
    ("DELETE", "/v2/webhook_subscriptions/{id}"),
    ("GET", "/pay/{id}"),
    ("POST", "/pay/{id}"),
    ("GET", "/connect/{token}"),
    ("POST", "/connect/{token}"),
];

/// Admin routes under `/__sandbox/qonto`.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/payment_links"),
    ("POST", "/payment_links/{id}/pay"),
    ("GET", "/connections"),
    ("POST", "/connection"),
];

pub fn router() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route(
            "/v2/payment_links/connections",
            post(h::connect).get(h::connection).fallback(h::unknown),
        )
        .route(
            "/v2/payment_links",
            post(h::create).get(h::list).fallback(h::unknown),
        )
        .route(
            "/v2/payment_links/payment_methods",
            get(h::payment_methods).fallback(h::unknown),
        )
        .route("/v2/payment_links/{id}", get(h::show).fallback(h::unknown))
        .route(
            "/v2/payment_links/{id}/deactivate",
            patch(h::deactivate).fallback(h::unknown),
        )
        .route(
            "/v2/payment_links/{id}/payments",
            get(h::payments).fallback(h::unknown),
        )
        .route(
            "/v2/webhook_subscriptions",
            post(h::subscribe)
                .get(h::subscriptions)
                .fallback(h::unknown),
        )
        .route(
            "/v2/webhook_subscriptions/{id}",
            get(h::subscription)
                .put(h::update_subscription)
                .delete(h::delete_subscription)
                .fallback(h::unknown),
        )
        .route(
            "/pay/{id}",
            get(h::checkout)
                .post(h::checkout_submit)
                .fallback(h::unknown),
        )
        .route(
            "/connect/{token}",
            get(h::onboarding)
                .post(h::onboarding_submit)
                .fallback(h::unknown),
        )
        .fallback(h::unknown)
}

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/payment_links", get(admin::links))
        .route("/payment_links/{id}/pay", post(admin::pay))
        .route("/connections", get(admin::connections))
        .route("/connection", post(admin::decide))
}
