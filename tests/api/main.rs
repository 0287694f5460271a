//! The integration tests: one binary that starts the real server on port 0 for each test and
//! talks HTTP to it, with a real webhook receiver. `helpers` holds the `TestApp` and its
//! helpers, named after the endpoints they call; `receiver` the webhook receiver.

mod helpers;
mod receiver;

mod cli;
mod clock;
mod connections;
mod control_plane;
mod customer_window;
mod dashboard;
mod dashboard_browser;
mod data_dir;
mod determinism;
mod faults;
mod hostile_input;
mod openapi;
mod qonto_checkout;
mod qonto_idempotency;
mod qonto_links;
mod qonto_oauth;
mod qonto_webhooks;
mod razorpay_capture;
mod razorpay_checkout;
mod razorpay_links;
mod razorpay_refunds;
mod real_sdks;
mod safety;
mod snapshots;
mod terminal;
mod triggers;
mod validators_prop;
mod waits;
mod whatsapp_fixtures;
mod whatsapp_media;
mod whatsapp_messages;
mod whatsapp_nodes;
mod whatsapp_orders;
mod whatsapp_payments;
mod whatsapp_templates;
mod whatsapp_webhooks;
