//! The emulated APIs. Each is a folder with the same files in the same roles, plugged in by one
//! line of the `providers!` list at the bottom of this file; shared code only ever iterates over
//! what that list builds.
//!
//! # Adding a provider
//!
//! Say a `stripe` emulation, mounted at `/stripe`:
//!
//! 1. Copy a folder, `src/providers/razorpay/` say, to `src/providers/stripe/`. Its files:
//!    - `mod.rs`: the fidelity notes (real API version, choices, known deviations), the route
//!      tables, `pub(crate) struct Stripe` holding `Arc<Context>`, the configuration section
//!      and the store, `pub(crate) fn new(ctx, section) -> Arc<dyn Provider>`, the
//!      [`Provider`](crate::provider::Provider) implementation, and `pub(crate) const SCENARIO:
//!      RuleChecks` (what its scenario rules may say);
//!    - `config.rs`: `Section` (its `[stripe]` configuration, with defaults that work with no
//!      file) implementing [`Section`](crate::provider::Section), and `Flags` (its command-line
//!      flags, each also a `PAYLINK_SANDBOX_*` variable) with `apply`;
//!    - `auth.rs`: the extractor that resolves credentials once (`Provider::authenticate` puts
//!      its outcome in the request's extensions) and the tenant it belongs to;
//!    - `error.rs`: one error enum whose `IntoResponse` renders the vendor's envelope and
//!      attaches a [`Rejection`](crate::journal::Rejection) for the journal;
//!    - `handlers.rs`, `model.rs`, `rules.rs` (the checks a schema cannot express), `store.rs`,
//!      `webhooks.rs` (bodies, its [`Sign`](crate::webhook::Sign) implementation, its timeline
//!      jobs), `admin.rs` (its part of `/__sandbox/stripe`, and `links_panel`, what
//!      `Provider::links_panel` gives the dashboard's "Payment links" page) and `pages.rs` (its
//!      hosted pages).
//! 2. Put its request schemas in `schemas/stripe/`; they are embedded, and each is compiled the
//!    first time a request needs it (`schema::tests` compiles them all).
//! 3. Add `stripe,` to `providers!` below.
//!
//! Nothing else changes: the router mounts it, the provider layer authenticates and journals its
//! requests, the admin API nests its routes and resets it, the OpenAPI document and the route
//! count list its routes, the timeline runs its jobs, the configuration file reads `[stripe]`,
//! the command line takes its flags, fault and scenario rules may name it, the dashboard's
//! "Payment links" page shows its panel, and the banner prints its credentials. (The dashboard's
//! chat page is WhatsApp's conversation view: a second chat surface would need a page of its
//! own.)

use std::sync::Arc;

use crate::context::Context;
use crate::provider::{OfflineReport, Provider, Section as _};
use crate::scenario::RuleChecks;
use crate::schema::Schemas;

/// Builds, from one list of provider modules, everything shared code needs of the providers.
macro_rules! providers {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The providers' names, in the order they are mounted, listed and asked.
        pub(crate) const NAMES: &[&str] = &[$(stringify!($module)),+];

        /// What each provider's scenario rules may say.
        pub(crate) const RULE_CHECKS: &[RuleChecks] = &[$($module::SCENARIO),+];

        /// Each provider's section of the configuration file, under its name.
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Sections {
            $(pub $module: $module::config::Section,)+
        }

        /// Each provider's command-line flags.
        #[derive(Debug, Default, clap::Args)]
        #[group(skip)]
        pub struct Flags {
            $(
                #[command(flatten)]
                pub $module: $module::config::Flags,
            )+
        }

        impl Flags {
            /// Lays the flags over the sections.
            pub(crate) fn apply(&self, sections: &mut Sections) {
                $(self.$module.apply(&mut sections.$module);)+
            }
        }

        impl Sections {
            /// Adds every problem of every section.
            pub(crate) fn validate(&self, problems: &mut Vec<String>) {
                $(self.$module.validate(problems);)+
            }

            /// Applies the fast test profile to every section.
            pub(crate) fn fast(&mut self) {
                $(self.$module.fast();)+
            }
        }

        /// Every webhook URL the sections configure.
        pub(crate) fn webhook_urls(sections: &Sections) -> Vec<String> {
            let mut urls = Vec::new();
            $(urls.extend(sections.$module.webhook_urls());)+
            urls
        }

        /// The start-up lines of every provider.
        pub(crate) fn banner(sections: &Sections, base: &str) -> String {
            let mut out = String::new();
            $(out.push_str(&sections.$module.banner(base));)+
            out
        }

        /// The first provider's offline check of a request body (the `validate` subcommand).
        pub(crate) fn check_offline(
            sections: &Sections,
            schemas: &Schemas,
            body: &mut serde_json::Value,
            now_secs: i64,
        ) -> Option<OfflineReport> {
            None$(.or_else(|| sections.$module.check_offline(schemas, body, now_secs)))+
        }

        /// Every provider, built on the shared context.
        pub(crate) fn all(ctx: &Arc<Context>, sections: &Sections) -> Vec<Arc<dyn Provider>> {
            vec![$($module::new(ctx, &sections.$module)),+]
        }
    };
}

providers! {
    whatsapp,
    razorpay,
    qonto,
}
