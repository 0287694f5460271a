//! The emulated APIs. Every provider folder has the same files with the same roles: `mod.rs`
//! (router and the fidelity notes), `handlers.rs`, `model.rs`, `store.rs`, `error.rs` and
//! `rules.rs` (the checks a schema cannot express).

pub mod qonto;
pub mod razorpay;
pub mod whatsapp;
