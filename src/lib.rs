//! paylink-sandbox: one binary that emulates, on localhost, the APIs a merchant wires together to
//! get paid through chat: the WhatsApp Business Cloud API's payment messages, a payment gateway
//! that issues payment links, and Qonto's payment links.
//!
//! # Layout
//! ```text
//! src/main.rs         thin: parse the CLI, build the Config, init tracing, bind, app::run
//! src/cli.rs          clap definitions; every serve flag is also a PAYLINK_SANDBOX_* variable;
//!                     client subcommands take only their own flags
//! src/config.rs       Config: the shared sections, composing each provider's own section
//! src/app.rs          builds the context and the providers, the router, run(), the banner
//! src/context.rs      Context: what providers share (clock, ids, schemas, timeline, webhook
//!                     engine, scenario, faults, journal, events, guard, base URL); no provider
//! src/provider.rs     the Provider trait and its Route, Problem and pay types
//! src/layer.rs        the middleware: the guard around everything, and around each provider
//!                     its body limit, credentials, faults, deadline and journal
//! kernel (no provider names, no shared state):
//!   src/clock.rs      the sandbox clock (running or frozen, advanceable), durations, RFC 3339
//!   src/ids.rs        provider ids; seeded ids: wamids, trace ids, entity ids, UUIDs
//!   src/bounded.rs    insertion-ordered maps that forget their oldest entries past a limit
//!   src/http.rs       bounded body reading, content types, JSON, form and query decoding
//!   src/schema.rs     every schema in schemas/ compiled once; validate(id, value) -> violations
//!   src/timeline.rs   jobs due at sandbox times, each owned by a provider and tenant
//! cross-cutting (no provider names):
//!   src/journal.rs    the bounded request journal, with the violations providers attach
//!   src/faults.rs     injected latency, vendor errors, duplicated/reordered/dropped webhooks
//!   src/scenario.rs   scripted outcomes: status sequences and matching rules
//!   src/events.rs     change notifications for open dashboards and waiting admin calls
//!   src/feed.rs       the live feed of requests and webhook attempts behind `listen`
//!   src/advance.rs    a clock advance as a simulation step, due time by due time
//!   src/wait.rs       `wait`/`count` long polls for the admin lists
//!   src/trigger.rs    named events fired end to end through the public APIs (over loopback)
//!   src/guard.rs      host, cross-site, form-token and webhook-loop checks
//!   src/snapshot.rs   the whole state as one versioned document (each provider saves its
//!                     own part), checked in full before it replaces anything
//!   src/webhook/      delivery engine: queue, sign (each provider's Sign), POST, record, retry
//! src/reply.rs        the sandbox's own JSON error envelope and extractors, for admin routes
//! src/admin/          the control API under /__sandbox/, built from providers::all()
//! src/ui/             the dashboard (ui/assets/, served at /) and the page shell
//! src/providers/      one folder per emulated API, plugged in by one line in mod.rs:
//!   whatsapp/ razorpay/ qonto/   mod.rs (impl Provider, fidelity notes), config.rs, auth.rs,
//!                     error.rs, handlers.rs, model.rs, rules.rs, store.rs, webhooks.rs,
//!                     admin.rs, pages.rs (hosted pages), trigger.rs, and what their size calls for
//!                     (WhatsApp: graph.rs, order.rs, pay.rs, scenario.rs, subscriptions.rs;
//!                     Qonto: call.rs, idempotency.rs, subscriptions.rs)
//! src/validate.rs     the `validate` subcommand: offline checks of payload files
//! src/client/         the pay/clock/webhooks/reset/trigger subcommands, driving a running
//!                     sandbox, and listen.rs (`listen`, with `--forward-to`)
//! schemas/<provider>/ JSON Schemas, embedded at build time
//! fixtures/<provider>/ valid and invalid example requests
//! benches/bench/      the benchmark (`cargo bench`): every figure a ratio against a baseline
//!                     measured in the same run
//! tests/api/          one integration binary: a TestApp with helpers named after endpoints,
//!                     a real webhook receiver; tests/sdk/ (real SDKs) and tests/browser/
//!                     (headless Chromium) are driven from it
//! ```
//!
//! # Locks
//! Each provider's store has one lock, and no code holds two store locks at once: credentials
//! are resolved (one short lock) before a handler runs, and a function that holds a store passes
//! it down rather than locking again. Below the stores are leaf locks (ids, journal, delivery
//! log, timeline) that take no other lock while held. The one async lock, the timeline's
//! `running` guard, is held by a clock advance across its webhook attempts, by the runner for
//! one pass, and by a snapshot load while it swaps the state; none takes a store lock across an
//! await. Debug and test builds run parking_lot's deadlock detector.

mod admin;
mod advance;
mod app;
mod bounded;
pub mod cli;
pub mod client;
pub mod clock;
mod compact;
pub mod config;
mod context;
mod events;
pub mod faults;
mod feed;
mod guard;
mod http;
mod ids;
mod journal;
mod layer;
mod persist;
mod provider;
pub mod providers;
mod records;
mod reply;
pub mod scenario;
mod schema;
mod serve;
mod snapshot;
mod tenants;
mod timeline;
mod trigger;
mod ui;
pub mod validate;
mod wait;
mod webhook;

pub use app::{banner, run};

#[doc(hidden)]
pub mod bench;

/// A seed drawn from the operating system, for runs without `--seed`.
pub fn random_seed() -> u64 {
    ids::Ids::random_seed()
}
