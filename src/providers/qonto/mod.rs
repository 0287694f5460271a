//! Qonto Business API `/v2/payment_links` (payment links backed by Mollie) and its webhooks.
//!
//! # Real API emulated
//! `https://thirdparty.qonto.com/v2/...` as documented on docs.qonto.com in 2026 (OpenAPI
//! `info.version: v2`): connections, basket and invoice links, payments, payment methods and
//! webhook subscriptions. Mounted at `/qonto`, so a client's base URL becomes
//! `http://127.0.0.1:5080/qonto` (or `.../qonto/v2` for clients whose base includes `/v2`).
//! Links' `url` opens the sandbox's own test-mode checkout (`/qonto/pay/<id>?resource_id=...`), in
//! the style of Mollie's: pick a method, then the status the payment ends in. It names the
//! merchant by the organization's `display_name`, and its result follows the link's real state
//! (`processing`, then `paid` once settled; the page reloads itself until then).
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
//!   host. A subscription's `secret` is shown only when it is created; afterwards the key is
//!   there with `null` (Qonto's clients require the key).
//! - A receiver gets `qonto.webhook_timeout` (1 s, as Qonto documents) to answer; a later answer
//!   counts as a failure and the event is sent again (same event id), even if the receiver
//!   processed it, as at Qonto. The `t` of `X-Qonto-Signature` is wall-clock time, not the
//!   sandbox clock, so receivers enforcing the 5-minute freshness rule accept it after a clock
//!   advance.
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
//! - OAuth: `GET /qonto/oauth2/auth` and `POST /qonto/oauth2/token` (see `oauth.rs`): 1-hour
//!   access tokens and 90-day refresh tokens on the sandbox clock, rotation on refresh, scopes
//!   carried into the token; the OAuth base URL is `<base>/qonto` like the API's.
//!
//! # Known deviations
//! - Rate limits (1,000 requests per 10 s per IP) are not enforced unless a fault rule asks.
//! - Only payment-link webhook types are ever sent; other `types` are accepted and stay silent.

mod admin;
mod auth;
mod call;
pub mod config;
mod error;
mod handlers;
mod idempotency;
mod model;
mod oauth;
mod pages;
mod rules;
mod store;
mod subscriptions;
mod trigger;
mod webhooks;

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    http::request::Parts,
    response::Response,
    routing::{get, patch, post},
};
use parking_lot::Mutex;

use crate::reply::AdminError;
use crate::context::Context;
use crate::ids::ProviderId;
use serde_json::{Value, json};
use crate::provider::{Answer, ApiDoc, LinksPanel, Match, PayOptions, Paid, Problem, Provider, Route};
use crate::scenario::{Rule, RuleChecks};
use crate::timeline::Payload;
use crate::webhook::Target;
use config::QontoConfig;
use store::Store;

/// The name Qonto is mounted under.
pub(crate) const ID: ProviderId = ProviderId::new("qonto");

/// Qonto: its configuration and its store of organizations, links and subscriptions.
pub(crate) struct Qonto {
    ctx: Arc<Context>,
    config: QontoConfig,
    store: Mutex<Store>,
}

/// The state of Qonto's handlers.
type Q = Arc<Qonto>;

pub(crate) fn new(ctx: &Arc<Context>, config: &QontoConfig) -> Arc<dyn Provider> {
    Arc::new(Qonto {
        store: Mutex::new(Store::new(
            config,
            (ctx.limits.store_limit, ctx.limits.persistent),
            &ctx.base_url,
            &ctx.ids,
        )),
        ctx: ctx.clone(),
        config: config.clone(),
    })
}

/// What Qonto scenario rules may say: a rejection (`code` is the HTTP status) or a payment
/// (`pay = { method, outcome, after }`, the outcome a payment status); no statuses.
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
                "{at}.then.pay.method {m:?} is not credit_card, apple_pay, paypal or ideal"
            ));
        }
        if let Some(o) = &pay.outcome
            && model::PaymentStatus::parse(o).is_none()
        {
            problems.push(format!("{at}.then.pay.outcome {o:?} is not a payment status"));
        }
    }
}

/// Every emulated route, relative to `/qonto`.
const ROUTES: &[Route] = &[
    Route::new("GET", "/oauth2/auth")
        .answers(Answer::Redirect(303))
        .public(),
    Route::new("POST", "/oauth2/token")
        .json("qonto/responses.json#/$defs/token")
        .public(),
    Route::with_schema(
        "POST",
        "/v2/payment_links/connections",
        "qonto/connection.create.request",
    )
    .answers(Answer::Json(201, CONNECTION)),
    Route::new("GET", "/v2/payment_links/connections").json(CONNECTION),
    Route::with_schema(
        "POST",
        "/v2/payment_links",
        "qonto/payment_link-basket.create.request",
    )
    .answers(Answer::Json(201, LINK)),
    Route::new("GET", "/v2/payment_links").json("qonto/responses.json#/$defs/links"),
    Route::new("GET", "/v2/payment_links/payment_methods")
        .json("qonto/responses.json#/$defs/methods"),
    Route::new("GET", "/v2/payment_links/{id}").json(LINK),
    Route::new("PATCH", "/v2/payment_links/{id}/deactivate").json(LINK),
    Route::new("GET", "/v2/payment_links/{id}/payments")
        .json("qonto/responses.json#/$defs/payments"),
    Route::with_schema(
        "POST",
        "/v2/webhook_subscriptions",
        "qonto/webhook_subscription.create.request",
    )
    .answers(Answer::Json(201, SUBSCRIPTION)),
    Route::new("GET", "/v2/webhook_subscriptions")
        .json("qonto/responses.json#/$defs/subscriptions"),
    Route::new("GET", "/v2/webhook_subscriptions/{id}").json(SUBSCRIPTION),
    Route::with_schema(
        "PUT",
        "/v2/webhook_subscriptions/{id}",
        "qonto/webhook_subscription.update.request",
    )
    .json(SUBSCRIPTION),
    Route::new("DELETE", "/v2/webhook_subscriptions/{id}").answers(Answer::Empty(204)),
    Route::new("GET", "/pay/{id}").answers(Answer::Page).public(),
    Route::new("POST", "/pay/{id}")
        .answers(Answer::Redirect(303))
        .public(),
    Route::new("GET", "/connect/{token}")
        .answers(Answer::Page)
        .public(),
    Route::new("POST", "/connect/{token}")
        .answers(Answer::Redirect(303))
        .public(),
];

const LINK: &str = "qonto/responses.json#/$defs/link";
const CONNECTION: &str = "qonto/responses.json#/$defs/connection";
const SUBSCRIPTION: &str = "qonto/responses.json#/$defs/subscription";

/// Admin routes, relative to `/__sandbox/qonto`.
const ADMIN_ROUTES: &[Route] = &[
    Route::new("GET", "/payment_links").json("qonto/responses.json#/$defs/adminLinks"),
    Route::new("POST", "/payment_links/{id}/pay").json("sandbox/responses.json#/$defs/paid"),
    Route::new("GET", "/connections").json("qonto/responses.json#/$defs/adminConnections"),
    Route::new("POST", "/connection").json("sandbox/responses.json#/$defs/object"),
];

impl Provider for Qonto {
    fn configured(&self, tenant: &str) -> bool {
        self.config.organizations.iter().any(|o| o.login == tenant)
    }

    fn api_doc(&self, base: &str) -> ApiDoc {
        let scopes: serde_json::Map<String, Value> = oauth::SCOPES
            .iter()
            .map(|s| ((*s).to_string(), json!(format!("the {s} scope"))))
            .collect();
        ApiDoc {
            error: "qonto/responses.json#/$defs/error",
            schemes: json!({
                "qontoSecretKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`<organization login>:<secret key>`."
                },
                "qontoOAuth": {
                    "type": "oauth2",
                    "flows": {"authorizationCode": {
                        "authorizationUrl": format!("{base}/qonto/oauth2/auth"),
                        "tokenUrl": format!("{base}/qonto/oauth2/token"),
                        "refreshUrl": format!("{base}/qonto/oauth2/token"),
                        "scopes": scopes,
                    }}
                }
            }),
            security: json!([{"qontoSecretKey": []}, {"qontoOAuth": []}]),
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
            .route("/oauth2/auth", get(oauth::authorize).fallback(h::unknown))
            .route("/oauth2/token", post(oauth::token).fallback(h::unknown))
            .route(
                "/v2/webhook_subscriptions",
                post(subscriptions::subscribe)
                    .get(subscriptions::list)
                    .fallback(h::unknown),
            )
            .route(
                "/v2/webhook_subscriptions/{id}",
                get(subscriptions::show)
                    .put(subscriptions::update)
                    .delete(subscriptions::delete)
                    .fallback(h::unknown),
            )
            .route(
                "/pay/{id}",
                get(pages::checkout)
                    .post(pages::checkout_submit)
                    .fallback(h::unknown),
            )
            .route(
                "/connect/{token}",
                get(pages::onboarding)
                    .post(pages::onboarding_submit)
                    .fallback(h::unknown),
            )
            .fallback(h::unknown)
            .with_state(self)
    }

    fn admin_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/payment_links", get(admin::links))
            .route("/payment_links/{id}/pay", post(admin::pay))
            .route("/connections", get(admin::connections))
            .route("/connection", post(admin::decide))
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
        handlers::problem_response(self, problem)
    }

    fn reset(&self, tenant: Option<&str>) {
        let mut store = self.store.lock();
        match tenant {
            None => {
                *store = Store::new(
                    &self.config,
                    (self.ctx.limits.store_limit, self.ctx.limits.persistent),
                    &self.ctx.base_url,
                    &self.ctx.ids,
                );
            }
            Some(t) => {
                if store.remove_org(t)
                    && let Some(o) = self.config.organizations.iter().find(|o| o.login == t)
                {
                    store.add_org(o.clone(), &self.ctx.base_url, &self.ctx.ids);
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
        let (organizations, links) = self.store.lock().counts();
        serde_json::json!({"organizations": organizations, "links": links})
    }

    fn save_job(&self, payload: &dyn Payload) -> Option<serde_json::Value> {
        crate::snapshot::save_job_as::<webhooks::Job>(payload)
    }

    fn load_job(&self, saved: serde_json::Value) -> Result<Box<dyn Payload>, String> {
        crate::snapshot::load_job_as::<webhooks::Job>(saved)
    }

    fn signer(&self, secret: String) -> Arc<dyn crate::webhook::Sign> {
        Arc::new(webhooks::QontoSigner { secret })
    }

    /// Qonto's webhooks go to each matching subscription, which a delivery already names.
    fn webhook_target(&self, _tenant: &str) -> Option<Target> {
        None
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
