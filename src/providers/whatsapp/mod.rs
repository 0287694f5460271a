//! WhatsApp Business Cloud API (Graph), the payments-messaging surface.
//!
//! # Real API emulated
//! `https://graph.facebook.com/{version}/{phone_number_id}/messages` as of Graph **v23.0**
//! (any `vN.M` in the path is accepted and echoed in `facebook-api-version`; unversioned paths
//! answer with the configured default). Mounted at `/whatsapp`, so an SDK's base URL becomes
//! `http://127.0.0.1:5080/whatsapp`.
//!
//! Supported: text, media (by `link`, shape only; by `id`, checked against uploads: see
//! `media.rs` for `POST /{phone_number_id}/media`, `GET`/`DELETE /{media_id}` and downloads), template (checked against the WABA's templates), interactive `button`, `list`,
//! `cta_url`, `order_details` (India: `payment_gateway`, `upi_intent_link`, `payment_link`, legacy
//! `payment_configuration`; Brazil: `pix_dynamic_code`, `payment_link`, `boleto`,
//! `offsite_card_pay`, and the simplified message without `order`), `order_status` (India and
//! Brazil, with the Brazil `payment` object), and marking inbound messages read. Around a send:
//! `GET /{phone_number_id}` (with `fields`), `GET /{waba_id}` and
//! `GET /{waba_id}/payment_configurations` (see `nodes.rs` for the values Meta leaves open).
//!
//! # The customer-service window
//! Each customer's last inbound message (from the dashboard, the admin route or `trigger`) opens
//! 24 hours on the sandbox clock. A non-template message to a customer outside it is accepted
//! (200, a wamid) and then reported `failed` with 131047 "Re-engagement message", at the time its
//! first status would have come; templates go at any time. `whatsapp.customer_service_window =
//! false` turns this off. A message to a business-scoped user id with no phone number is not
//! judged (the sandbox cannot tell which customer it is).
//!
//! # Choices where the reference is uncertain
//! - Auth: a missing token is code 104 and a wrong one code 190, both HTTP 401. A token that
//!   belongs to another business sees the phone number id as missing (code 100, subcode 33).
//! - Validation errors are HTTP 400 in Graph's envelope. The code follows the kinds of violation
//!   present: an unknown parameter or a wrong type gives 100 (Graph's parameter layer refuses
//!   those first) with Graph's own sentence for the first of them
//!   (`(#100) Unexpected key "colour" on param "interactive['action']".`,
//!   `(#100) Param interactive['header']['text'] must be a string.`; an unknown top-level key is
//!   said to be on param `"message"`, the sandbox's choice), else a missing one gives 131008,
//!   else 131009. `error_data.details` lists **every** violation as `<JSON pointer>: <reason>`,
//!   joined by `; `.
//! - A missing `messaging_product` answers Graph's own
//!   `(#100) The parameter messaging_product is required.` with no `error_data`, as Graph does
//!   (`whatsapp.require_messaging_product` can relax this for Meta's Brazil samples, which omit
//!   it).
//! - A duplicate `reference_id` in `order_details` and an `order_status` for an unknown
//!   `reference_id` are refused synchronously with 131009. A forbidden status transition is
//!   accepted (200) and reported as a `failed` status of that message with error 2046 (bad
//!   transition) or 2047 (cancel after payment); the order keeps its status.
//! - `expiration.timestamp` must be at least 300 s ahead of the sandbox clock.
//! - An India order without `catalog_id` must give `country_of_origin`, `importer_name` and
//!   `importer_address` for every item, as Meta's table says.
//! - An unknown `configuration_name` or an amount over the ₹5,00,000 UPI cap is not refused (the
//!   real API accepts the send; the customer cannot pay); it is recorded as a warning on the message.
//! - An order whose `payment_link.uri` is one of this sandbox's own gateway links
//!   (`<base>/razorpay/i/<code>`) is checked against that link: a link that does not exist, is not
//!   `created`, or whose amount or currency differs from `total_amount` is recorded as a warning
//!   on the message (visible in `GET /__sandbox/whatsapp/messages` and the dashboard). It is not a
//!   refusal, because real WhatsApp never sees the gateway's state.
//! - `action.parameters` may be sent as a JSON string holding the object, as Meta's pages describe.
//! - Bodies: `application/json` (or no content type), or a Graph-style form post whose object
//!   fields are JSON strings. Bodies over the 1 MiB limit get HTTP 413 with code 100.
//! - `wa_id` is the digits of `to`; the sandbox does not prepend the business's country code to
//!   numbers sent without `+`.
//!
//! # Webhooks
//! - Every accepted message reports `sent`, `delivered` and `read` by default (after 200 ms,
//!   600 ms and 1.5 s of sandbox time); scenario rules change the sequence, the delays, or end it
//!   with `failed` and a chosen error code. A refused `order_status` transition reports only
//!   `failed` with error 2046 or 2047, on the `order_status` message's wamid.
//! - Bodies are compact JSON with non-ASCII escaped as lowercase `\uXXXX` (surrogate pairs above
//!   the BMP; `/` is not escaped), signed `X-Hub-Signature-256: sha256=<hex>` with the app secret
//!   over exactly the bytes sent. `X-Hub-Signature` (SHA-1) is not sent. User-Agent is
//!   `facebookexternalua`. Only HTTP 200 counts as received.
//! - `conversation` is included with `sent` and the first of `delivered`/`read` while
//!   `whatsapp.api_version` is below v24.0 and left out from v24.0, as Meta dropped it there; the
//!   webhook shape follows the app's configured version (as Meta's webhook version is an app
//!   setting), not the version in each send's path. `pricing` is always there (`PMP`;
//!   `service`/`free_customer_service` for session messages, `utility`/`regular` for templates).
//! - `failed` statuses carry `contacts` like the others: pywa reads `value["contacts"][0]` for
//!   every status and fails without it.
//! - The India payment status webhook's `statuses[].id` is the wamid of the `order_details`
//!   message (the reference marks this uncertain); timestamps inside `payment` are integers.
//! - Targets, most specific first: a business's `callback_url` (or a WABA `subscribed_apps`
//!   override), the app subscription made with `POST /{app_id}/subscriptions`, the configured
//!   `whatsapp.callback_url`. The subscription call performs the verification handshake before
//!   answering and fails with code 2200 if the challenge is not echoed; a configured URL is
//!   verified when the sandbox starts (as Meta verifies one when it is saved), and again before
//!   its first delivery if that failed (say, the receiver was not up yet). The app access token is `<app_id>|<app_secret>`.
//! - Who may change where webhooks go: the app-level subscription (`/{app_id}/subscriptions`)
//!   only with the app token (a business token gets Graph's `(#15) This method must be called
//!   with an app access_token.`, reading it is open to both); a WABA's `subscribed_apps` and its
//!   `override_callback_uri` only with that WABA's own business token (any other token, the app
//!   token included, sees the WABA as missing, code 100/33). With `--accept-any-credentials` every
//!   tenant can form the app token, so parallel tests that want their own webhooks set an
//!   override.
//! - Credentials are read once per request, before any handler runs: the `access_token`
//!   parameter (query or form body) wins over the `Authorization` header, as at Graph (pywa sends
//!   the app token as a parameter on a session whose header carries the business token).
//! - Amounts, quantities and timestamps must be written as integers: `21000.0` or `2.1e4` is
//!   refused naming the field (100 with `Param … must be an integer.` where the schema's type
//!   catches it, 131009 `must be an integer` where a rule does), never read as 21000.
//! - Events with no target are logged as `no_target` and can be redelivered once one exists.
//!
//! # How a send is read
//! A valid India `order_details` in its common shape (`typed.rs`) is read into typed structs and
//! checked with the same rules, without building a JSON tree or running the schema validator;
//! every other body, and any body that reading does not cover or finds wrong, is read as a tree
//! and checked in full, which is where every error comes from. The two cannot disagree on what
//! they both accept: `typed_diff.rs` compares them over every fixture and about 55,000 variants.
//!
//! # Known deviations
//! - Templates live in a registry per WABA (see `templates.rs`); new ones are approved at once.
//! - Media sent by `link` is never fetched. Uploads are bounded by `server.body_limit` (1 MiB by
//!   default) as well as Meta's per-type limits, and each business keeps its newest 200 files.
//! - Rate limits and throughput caps are not enforced unless a fault rule asks for them.

mod admin;
mod auth;
mod checked;
pub mod config;
mod error;
mod graph;
mod handlers;
mod media;
mod model;
mod nodes;
mod order;
mod pay;
mod rules;
mod scenario;
mod store;
mod subscriptions;
mod templates;
mod trigger;
mod typed;
#[cfg(test)]
mod typed_diff;
mod webhooks;

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    http::request::Parts,
    response::Response,
    routing::{get, post},
};
use parking_lot::Mutex;

use crate::reply::AdminError;
use crate::context::Context;
use crate::ids::ProviderId;
use serde_json::json;
use crate::provider::{Answer, ApiDoc, Match, PayOptions, Paid, Problem, Provider, Route};
use crate::scenario::RuleChecks;
use crate::timeline::Payload;
use crate::webhook::Target;
use config::WhatsAppConfig;
use store::Store;

/// The name WhatsApp is mounted under.
pub(crate) const ID: ProviderId = ProviderId::new("whatsapp");

/// The WhatsApp provider: its configuration and its store of businesses, messages and orders.
pub(crate) struct WhatsApp {
    ctx: Arc<Context>,
    config: WhatsAppConfig,
    store: Mutex<Store>,
}

/// The state of the WhatsApp handlers.
type Wa = Arc<WhatsApp>;

pub(crate) fn new(ctx: &Arc<Context>, config: &WhatsAppConfig) -> Arc<dyn Provider> {
    Arc::new(WhatsApp {
        store: Mutex::new(Store::new(config, &ctx.limits)),
        ctx: ctx.clone(),
        config: config.clone(),
    })
}

/// What WhatsApp scenario rules may say: statuses (`failed` last) with delays and an error, or a
/// synchronous rejection; no payments.
pub(crate) const SCENARIO: RuleChecks = RuleChecks {
    provider: ID.as_str(),
    check_rule: scenario::check_rule,
    check_sequence: Some(scenario::check_sequence),
    default_sequence: Some(scenario::default_sequence),
};

/// Every emulated route, relative to `/whatsapp`. Each versioned path is also served without its
/// `/{version}` prefix.
const ROUTES: &[Route] = &[
    Route::with_schema(
        "POST",
        "/{version}/{phone_number_id}/messages",
        "whatsapp/message.send.request",
    )
    .json("whatsapp/responses.json#/$defs/sent"),
    Route::new(
        "GET",
        "/{version}/{phone_number_id}/payments/{configuration}/{reference_id}",
    )
    .json("whatsapp/responses.json#/$defs/payment"),
    Route::new("POST", "/{version}/{app_id}/subscriptions").json(SUCCESS),
    Route::new("GET", "/{version}/{app_id}/subscriptions").json(DATA),
    Route::new("DELETE", "/{version}/{app_id}/subscriptions").json(SUCCESS),
    Route::new("POST", "/{version}/{waba_id}/subscribed_apps").json(SUCCESS),
    Route::new("GET", "/{version}/{waba_id}/subscribed_apps").json(DATA),
    Route::new("GET", "/{version}/oauth/access_token")
        .json("whatsapp/responses.json#/$defs/token")
        .public(),
    Route::new("GET", "/{version}/{node_id}").json("whatsapp/responses.json#/$defs/node"),
    Route::new("DELETE", "/{version}/{node_id}").json(SUCCESS),
    Route::new("POST", "/{version}/{phone_number_id}/media")
        .json("whatsapp/responses.json#/$defs/uploaded"),
    Route::new("GET", "/attachments/{media_id}").answers(Answer::File),
    Route::new("GET", "/{version}/{waba_id}/payment_configurations").json(DATA),
    Route::new("GET", "/{version}/{waba_id}/message_templates").json(DATA),
    Route::new("POST", "/{version}/{waba_id}/message_templates")
        .json("whatsapp/responses.json#/$defs/template"),
];

const SUCCESS: &str = "whatsapp/responses.json#/$defs/success";
const DATA: &str = "whatsapp/responses.json#/$defs/data";
const ADMIN: &str = "sandbox/responses.json#/$defs/object";

/// Admin routes, relative to `/__sandbox/whatsapp`.
const ADMIN_ROUTES: &[Route] = &[
    Route::new("GET", "/messages").json("whatsapp/responses.json#/$defs/adminMessages"),
    Route::new("GET", "/orders").json("whatsapp/responses.json#/$defs/adminOrders"),
    Route::new("GET", "/orders/{reference_id}").json(ADMIN),
    Route::new("POST", "/orders/{reference_id}/pay").json("sandbox/responses.json#/$defs/paid"),
    Route::new("POST", "/users/{wa_id}/messages").json(ADMIN),
    Route::new("GET", "/windows").json("whatsapp/responses.json#/$defs/adminWindows"),
    Route::new("GET", "/media/{media_id}").answers(Answer::File),
];

impl Provider for WhatsApp {
    fn configured(&self, tenant: &str) -> bool {
        self.config.businesses.iter().any(|b| b.phone_number_id == tenant)
    }

    fn api_doc(&self, _base: &str) -> ApiDoc {
        ApiDoc {
            error: "whatsapp/responses.json#/$defs/error",
            schemes: json!({"whatsappToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The system-user or app access token; Graph also takes it as an `access_token` query parameter or form field."
            }}),
            security: json!([{"whatsappToken": []}]),
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
        let mut router = Router::new();
        // Graph answers the same routes with and without a version prefix.
        for prefix in ["/{version}", ""] {
            router = router
                .route(
                    &format!("{prefix}/{{node}}/messages"),
                    post(handlers::send_message).fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/{{node}}/payments/{{configuration}}/{{reference_id}}"),
                    get(handlers::payment_lookup).fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/{{node}}/subscriptions"),
                    post(subscriptions::subscriptions)
                        .get(subscriptions::subscriptions)
                        .delete(subscriptions::subscriptions)
                        .fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/{{node}}/subscribed_apps"),
                    post(subscriptions::subscribed_apps)
                        .get(subscriptions::subscribed_apps)
                        .fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/oauth/access_token"),
                    get(subscriptions::app_access_token).fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/{{node}}/message_templates"),
                    get(templates::message_templates)
                        .post(templates::message_templates)
                        .fallback(graph::unknown_path),
                )
                .route(
                    &format!("{prefix}/{{node}}/payment_configurations"),
                    get(nodes::payment_configurations).fallback(graph::unknown_path),
                );
            router = router.route(
                &format!("{prefix}/{{node}}/media"),
                post(media::upload).fallback(graph::unknown_path),
            );
            if !prefix.is_empty() {
                router = router.route(
                    &format!("{prefix}/{{node}}"),
                    get(nodes::node)
                        .delete(nodes::delete)
                        .fallback(graph::unknown_path),
                );
            }
        }
        router
            .route(
                "/attachments/{media_id}",
                get(media::download).fallback(graph::unknown_path),
            )
            .fallback(graph::unknown_path)
            .with_state(self)
    }

    fn admin_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/messages", get(admin::admin_messages))
            .route("/orders", get(admin::admin_orders))
            .route("/orders/{reference_id}", get(admin::admin_order))
            .route("/orders/{reference_id}/pay", post(admin::pay_order))
            .route("/users/{wa_id}/messages", post(admin::user_message))
            .route("/windows", get(admin::windows))
            .route("/media/{media_id}", get(admin::media_file))
            .with_state(self)
    }

    fn authenticate(&self, parts: &mut Parts, body: &Bytes) -> Option<String> {
        let auth = auth::authenticate(self, parts, body);
        let tenant = auth.tenant();
        parts.extensions.insert(auth);
        tenant
    }

    fn answer(&self, problem: Problem) -> Response {
        graph::problem_response(self, problem)
    }

    fn reset(&self, tenant: Option<&str>) {
        let mut store = self.store.lock();
        match tenant {
            None => *store = Store::new(&self.config, &self.ctx.limits),
            Some(t) => {
                if store.remove_business(t)
                    && let Some(b) = self.config.businesses.iter().find(|b| b.phone_number_id == t)
                {
                    store.add_business(b.clone());
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
        let (businesses, messages, orders) = self.store.lock().counts();
        serde_json::json!({"businesses": businesses, "messages": messages, "orders": orders})
    }

    fn save_job(&self, payload: &dyn Payload) -> Option<serde_json::Value> {
        crate::snapshot::save_job_as::<webhooks::Job>(payload)
    }

    fn load_job(&self, saved: serde_json::Value) -> Result<Box<dyn Payload>, String> {
        crate::snapshot::load_job_as::<webhooks::Job>(saved)
    }

    fn signer(&self, secret: String) -> Arc<dyn crate::webhook::Sign> {
        Arc::new(webhooks::MetaSigner { app_secret: secret })
    }

    fn webhook_target(&self, tenant: &str) -> Option<Target> {
        webhooks::target(self, tenant)
    }

    /// Meta verifies a callback URL when it is saved; a configured one is verified as the
    /// sandbox starts. If the receiver is not up yet, the first delivery verifies it instead.
    fn started(&self) {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = self
            .config
            .businesses
            .iter()
            .map(|b| b.phone_number_id.clone())
            .collect();
        for id in ids {
            let Some(target) = webhooks::target(self, &id) else {
                continue;
            };
            let Some(token) = target.verify_token.clone() else {
                continue;
            };
            if !seen.insert((target.url.clone(), token.clone())) {
                continue;
            }
            let engine = self.ctx.webhooks.clone();
            tokio::spawn(async move {
                if let Err(why) = engine.verify_now(&target.url, &token).await {
                    tracing::warn!(url = %target.url, "callback not verified at start-up ({why}); the first delivery will try again");
                }
            });
        }
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
        (matching == Match::Reference)
            .then(|| admin::pay_reference(self, options))
            .flatten()
    }
}
