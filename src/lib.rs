//! paylink-sandbox: one binary that emulates, on localhost, the APIs a merchant wires together to
//! get paid through chat: the WhatsApp Business Cloud API's payment messages, a payment gateway
//! that issues payment links, and Qonto's payment links.
//!
//! # Layout
//! ```text
//! src/main.rs         thin: parse the CLI, build the Config, init tracing, bind, app::run
//! src/cli.rs          clap definitions; every serve flag is also a PAYLINK_SANDBOX_* variable
//! src/config.rs       Config: embedded defaults + TOML file + flags, validated
//! src/app.rs          Sandbox state, router(state), run(listener, config, shutdown), banner
//! src/http.rs         bounded body reading, content types, JSON and form parsing
//! src/schema.rs       every schema in schemas/ compiled once; validate(id, value) -> violations
//! src/clock.rs        the sandbox clock (running or frozen, advanceable)
//! src/ids.rs          seeded ids: wamids, fbtrace ids, entity ids, UUIDs
//! src/bounded.rs      insertion-ordered maps that forget their oldest entries past a limit
//! src/timeline.rs     jobs due at sandbox times (statuses, retries, expiries), run in order
//! src/scenario.rs     scripted outcomes: default status sequences and matching rules
//! src/webhook/        delivery engine: queue, sign, POST, record, retry; the delivery log
//! src/journal.rs      the bounded request journal
//! src/events.rs       change notifications and the /__sandbox/events stream for dashboards
//! src/faults.rs       injected latency, vendor errors, duplicated/reordered/dropped webhooks
//! src/layer.rs        the middleware around every provider: credentials and tenants (through
//!                     each provider's auth.rs), faults, journal
//! src/validate.rs     the `validate` subcommand: offline checks of payload files
//! src/client.rs       the pay/clock/webhooks/reset subcommands, driving a running sandbox
//! src/providers/whatsapp/
//!                     mod.rs (router, fidelity notes), handlers.rs, model.rs, store.rs,
//!                     error.rs (Graph envelope), rules.rs (checks a schema cannot express)
//! src/providers/razorpay/
//!                     the payment-links gateway: same files, plus admin.rs and webhooks.rs
//! src/providers/qonto/
//!                     Qonto payment links: same files, plus the connection flow
//! src/ui/             the dashboard (ui/assets/, served at /) and the hosted checkout and
//!                     onboarding pages, all embedded in the binary
//! src/admin/          the control API under /__sandbox/
//! schemas/<provider>/ JSON Schemas, embedded at build time
//! fixtures/<provider>/ valid and invalid example requests
//! tests/              integration tests that start the real server on port 0; tests/sdk/
//!                     (real SDKs) and tests/browser/ (headless Chromium) are driven from them
//! ```

pub mod admin;
pub mod app;
pub mod bounded;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod events;
pub mod faults;
pub mod guard;
pub mod http;
pub mod ids;
pub mod journal;
pub mod layer;
pub mod providers;
pub mod scenario;
pub mod schema;
pub mod timeline;
pub mod ui;
pub mod validate;
pub mod webhook;
