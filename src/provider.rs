//! The plug-in point: what every emulated API brings to the sandbox, behind one trait.
//!
//! Shared code (the router, the provider layer, the admin API, the timeline, reset, the OpenAPI
//! document, the start-up banner) iterates over `providers::all()` and asks each provider through
//! [`Provider`]; it never names one. A provider owns its routes and hosted pages, its credentials
//! and tenants, its state and its reset, its webhooks and their signer, its timeline jobs, its
//! envelope for every error the sandbox answers on its behalf. What must be known before a
//! server exists (its configuration section and flags, what its scenario rules may say, its
//! offline validator) is in the static table `providers/mod.rs` builds; that file walks through
//! adding a provider.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    http::{StatusCode, request::Parts},
    response::Response,
};
use serde_json::Value;

use crate::faults::FaultError;
use crate::ids::ProviderId;
use crate::reply::AdminError;
use crate::schema::{Schemas, Violation};
use crate::timeline::Payload;
use crate::trigger::{Caller, Options as TriggerOptions, Trigger};
use crate::webhook::{Sign, Target};
use futures_util::future::BoxFuture;

/// One route: its method, its path under the provider's mount (or under
/// `/__sandbox/<provider>` for admin routes), the request schema its body is validated with, what
/// it answers when it succeeds, and whether it needs the provider's credentials. The OpenAPI
/// document is built from these tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub schema: Option<&'static str>,
    pub answer: Answer,
    /// Reached without the provider's credentials (hosted pages, OAuth endpoints).
    pub public: bool,
}

/// What a route answers when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Not declared: a route table test refuses it.
    Undeclared,
    /// JSON with this status, described by a schema reference written as in the schema files
    /// (`razorpay/responses.json#/$defs/paymentLink`).
    Json(u16, &'static str),
    /// No body, with this status.
    Empty(u16),
    /// An HTML page (200).
    Page,
    /// A redirect with this status and a `Location`.
    Redirect(u16),
    /// Bytes of whatever media type the stored file has (200).
    File,
    /// Static text of this media type (200).
    Text(&'static str),
    /// A `text/event-stream` (200).
    Events,
}

impl Route {
    pub(crate) const fn new(method: &'static str, path: &'static str) -> Self {
        Self {
            method,
            path,
            schema: None,
            answer: Answer::Undeclared,
            public: false,
        }
    }

    /// A route whose body is validated against schema `id`.
    pub(crate) const fn with_schema(
        method: &'static str,
        path: &'static str,
        id: &'static str,
    ) -> Self {
        Self {
            schema: Some(id),
            ..Self::new(method, path)
        }
    }

    /// What the route answers when it succeeds.
    pub(crate) const fn answers(self, answer: Answer) -> Self {
        Self { answer, ..self }
    }

    /// JSON with status 200 described by `schema`.
    pub(crate) const fn json(self, schema: &'static str) -> Self {
        self.answers(Answer::Json(200, schema))
    }

    /// Reached without credentials.
    pub(crate) const fn public(self) -> Self {
        Self {
            public: true,
            ..self
        }
    }
}

/// How a provider's API is described in the OpenAPI document: its error envelope and its
/// security schemes.
#[derive(Debug, Clone)]
pub(crate) struct ApiDoc {
    /// Schema reference of the error envelope (every 4xx and 5xx answer).
    pub error: &'static str,
    /// `components.securitySchemes` entries, by name.
    pub schemes: Value,
    /// The security requirement of a non-public route (alternatives, as OpenAPI writes them).
    pub security: Value,
}

/// An answer the sandbox gives on a provider's behalf, before or instead of its handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A fault rule chose this error for the request.
    Fault(FaultError),
    /// No route of the vendor's (a path that is not text, an unknown path).
    NotFound,
    /// The guard refused the request (a foreign host, a webhook come back).
    Refused { status: StatusCode, message: String },
    /// The body is larger than the server's limit.
    TooLarge { limit: usize },
}

/// How `paylink-sandbox pay` (and `POST /__sandbox/pay`) asks for a payment.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayOptions {
    /// A link id, link URL, or order or link reference.
    pub target: String,
    /// `success` or `failure`, or a provider's own status (`pending`, `paid`, `open`, ...).
    pub outcome: Option<String>,
    pub method: Option<String>,
    /// Minor units, for partial payments.
    pub amount: Option<i64>,
}

/// A payment made through [`Provider::pay`], in the shape the command line prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Paid {
    pub provider: ProviderId,
    /// The link id or order reference paid.
    pub paid: String,
    /// The payment, message or transaction it produced.
    pub payment: String,
    pub status: String,
    /// The link's or order's status after the payment.
    pub now: String,
    /// The provider's own admin answer.
    pub result: Value,
}

/// How strongly a pay target names an object: first every provider is asked for ids and URLs,
/// then for references, so an id never loses to a reference that happens to equal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// Link ids and URLs.
    Exact,
    /// Reference ids and invoice numbers.
    Reference,
}

/// What a provider shows on the dashboard's "Payment links" page: a titled table of its links
/// (newest first), lines above it (its tenants' connection states, say), and a hint when there
/// is nothing yet. The dashboard renders it as given; it knows no provider.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct LinksPanel {
    pub provider: ProviderId,
    pub title: &'static str,
    pub lines: Vec<Vec<Piece>>,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// Shown instead of the table when there are no rows.
    pub empty: Vec<Piece>,
}

/// A table column: its heading, and whether it holds amounts (right-aligned).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Column {
    pub title: &'static str,
    pub numeric: bool,
}

impl Column {
    pub(crate) const fn text(title: &'static str) -> Self {
        Self {
            title,
            numeric: false,
        }
    }

    pub(crate) const fn amount(title: &'static str) -> Self {
        Self {
            title,
            numeric: true,
        }
    }
}

/// One link: a key the dashboard keeps focus and open state by, and its cells.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Row {
    pub key: String,
    pub cells: Vec<Vec<Piece>>,
}

/// A piece of a cell or line. Text is always text: the dashboard never reads it as markup.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Piece {
    Text {
        text: String,
    },
    Code {
        text: String,
    },
    Strong {
        text: String,
    },
    /// A status, drawn as a badge coloured by what it means.
    Status {
        text: String,
    },
    /// Opens in a new tab.
    Link {
        text: String,
        href: String,
    },
    Break,
}

impl Piece {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    pub(crate) fn code(text: impl Into<String>) -> Self {
        Self::Code { text: text.into() }
    }

    pub(crate) fn strong(text: impl Into<String>) -> Self {
        Self::Strong { text: text.into() }
    }

    pub(crate) fn status(text: impl Into<String>) -> Self {
        Self::Status { text: text.into() }
    }

    pub(crate) fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Self::Link {
            text: text.into(),
            href: href.into(),
        }
    }
}

/// A provider's section of the configuration: what the sandbox needs of it before any server
/// exists (at start-up, in the banner, in the `validate` subcommand).
pub(crate) trait Section {
    /// Adds every problem of the section, each naming its key (`whatsapp.businesses[0].waba_id`).
    fn validate(&self, problems: &mut Vec<String>);

    /// Every webhook URL the section configures (none may point at the sandbox itself).
    fn webhook_urls(&self) -> Vec<String>;

    /// The start-up lines: where the API lives and the test credentials.
    fn banner(&self, base: &str) -> String;

    /// The fast test profile (`--fast`): drop the section's own real-time delays that are still
    /// at their defaults (a delay the user chose is kept).
    fn fast(&mut self) {}

    /// Checks a request body offline with the provider's schemas and stateless rules, when the
    /// body is one of this provider's; `None` otherwise.
    fn check_offline(
        &self,
        _schemas: &Schemas,
        _body: &mut Value,
        _now_secs: i64,
    ) -> Option<OfflineReport> {
        None
    }
}

/// What an offline check of one request body found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OfflineReport {
    /// What the body is (`whatsapp interactive.order_details`).
    pub kind: String,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
    /// The vendor error code the server would answer with, when invalid.
    pub code: Option<String>,
}

/// Everything provider-specific, for shared code to iterate over.
pub(crate) trait Provider: Send + Sync + 'static {
    /// The name the provider is mounted under and known by.
    fn id(&self) -> ProviderId;

    /// Every emulated route, relative to `/<id>`.
    fn routes(&self) -> &'static [Route];

    /// Every admin route, relative to `/__sandbox/<id>`.
    fn admin_routes(&self) -> &'static [Route];

    /// The emulated API and its hosted pages, with the provider's state applied.
    fn router(self: Arc<Self>) -> Router;

    /// The provider's part of the admin API (reads for the dashboard, the customer's actions).
    fn admin_router(self: Arc<Self>) -> Router;

    /// Resolves the request's credentials once, before any handler runs (creating a tenant for
    /// unknown ones when the sandbox accepts any), puts the outcome in the request's extensions
    /// for the handler, and returns the tenant the request belongs to.
    fn authenticate(&self, parts: &mut Parts, body: &Bytes) -> Option<String>;

    /// The vendor's answer to `problem`, in its envelope.
    fn answer(&self, problem: Problem) -> Response;

    /// Returns every tenant (or one) to its configured start state.
    fn reset(&self, tenant: Option<&str>);

    /// Runs one of the provider's timeline jobs for `tenant` (a status falling due, an expiry).
    fn run(&self, tenant: &str, job: Box<dyn Payload>);

    /// Called once when the sandbox starts serving, inside the runtime (for work a vendor does
    /// when a setting is saved, such as verifying a configured callback URL).
    fn started(&self) {}

    /// Its state (stores, tenants, webhook settings and subscriptions), for snapshots and the
    /// data dir (see `crate::snapshot`).
    fn state(&self) -> &dyn crate::records::Stateful;

    /// How many of each kind of object its state holds (`{"accounts": 1, "links": 42}`), for
    /// the start-up line and the answer to a snapshot load.
    fn counts(&self) -> Value;

    /// One of its timeline jobs as JSON, for a saved state; `None` when `payload` is not its.
    fn save_job(&self, payload: &dyn Payload) -> Option<Value>;

    /// A saved job of its own, back as the payload it scheduled.
    fn load_job(&self, saved: Value) -> Result<Box<dyn Payload>, String>;

    /// Its webhook signer, keyed with `secret` (a saved delivery's).
    fn signer(&self, secret: String) -> Arc<dyn Sign>;

    /// Where `tenant`'s webhooks go now, for redelivering one that had no target.
    fn webhook_target(&self, tenant: &str) -> Option<Target>;

    /// Pays what `options.target` names, if it is this provider's: `None` when it is not.
    fn pay(&self, options: &PayOptions, matching: Match) -> Option<Result<Paid, AdminError>>;

    /// The named events `paylink-sandbox trigger` can fire for this provider.
    fn triggers(&self) -> &'static [Trigger] {
        &[]
    }

    /// Fires `options.event`, one of [`Provider::triggers`], through the public API (see
    /// [`crate::trigger`]); answers what it created.
    fn trigger<'a>(
        &'a self,
        options: &'a TriggerOptions,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Value, AdminError>> {
        let _ = caller;
        Box::pin(async move {
            Err(AdminError::not_found(format!(
                "{} has no trigger {:?}",
                self.id(),
                options.event
            )))
        })
    }

    /// Its part of the dashboard's "Payment links" page, if it issues links.
    /// Whether `tenant` comes from the configuration (never forgotten to make room).
    fn configured(&self, tenant: &str) -> bool;

    /// Its error envelope and security schemes, for the OpenAPI document served at `base`.
    fn api_doc(&self, base: &str) -> ApiDoc;

    fn links_panel(&self) -> Option<LinksPanel> {
        None
    }
}

/// Forgets what the sandbox holds for `tenant` (every tenant when `None`) of each of `providers`
/// that is `id` (all of them when `None`): the jobs scheduled for it, its stores and its webhook
/// deliveries. The admin reset and the eviction of the least recently used tenant both come here.
pub(crate) fn forget<'a>(
    timeline: &crate::timeline::Timeline,
    webhooks: &crate::webhook::Engine,
    providers: impl IntoIterator<Item = &'a dyn Provider>,
    id: Option<ProviderId>,
    tenant: Option<&str>,
) {
    timeline.forget(id, tenant, |_| true);
    for p in providers {
        if id.is_none_or(|id| id == p.id()) {
            p.reset(tenant);
        }
    }
    webhooks.clear(id, tenant);
}
