//! The sandbox's configuration: embedded defaults, overlaid by an optional TOML file, overlaid by
//! command-line flags (each of which is also a `PAYLINK_SANDBOX_*` environment variable).
//!
//! This file holds the sections every sandbox has (`seed`, `[server]`, `[clock]`, `[webhooks]`,
//! `[scenario]`, `[faults]`); each provider's section (`[whatsapp]`, `[razorpay]`, `[qonto]`)
//! is its own type, in its folder, composed here through `providers::Sections`.
//!
//! Every default is chosen so that `cargo run --release` with no file serves all providers with
//! working test credentials. [`Config::validate`] reports every problem in a file at once, and
//! unknown keys are errors, so a typo never goes unnoticed.

use std::{net::IpAddr, path::Path};

use serde::{Deserialize, Serialize};

use crate::clock::Span;
use crate::faults::FaultConfig;
use crate::http::is_http_url;
use crate::providers::Sections;
use crate::scenario::ScenarioConfig;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Config {
    /// Seeds every id and random choice; `None` draws one at start-up and prints it.
    pub seed: Option<u64>,
    pub server: ServerConfig,
    pub clock: ClockConfig,
    pub webhooks: WebhooksConfig,
    pub scenario: ScenarioConfig,
    pub faults: FaultConfig,
    /// Each provider's own section, under its name.
    #[serde(flatten)]
    pub providers: Sections,
}

/// The sections every sandbox has, read on their own so that unknown keys are refused.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Shared {
    seed: Option<u64>,
    server: ServerConfig,
    clock: ClockConfig,
    webhooks: WebhooksConfig,
    scenario: ScenarioConfig,
    faults: FaultConfig,
}

impl<'de> Deserialize<'de> for Config {
    /// A provider's section goes to the provider's type and the rest to the shared sections,
    /// each refusing keys it does not know.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let mut sections = toml::Table::new();
        for name in crate::providers::NAMES {
            if let Some(section) = table.remove(*name) {
                sections.insert((*name).to_string(), section);
            }
        }
        let shared = Shared::deserialize(toml::Value::Table(table)).map_err(|e| {
            D::Error::custom(format!(
                "{e} (or a provider section: {})",
                crate::providers::NAMES.join(", ")
            ))
        })?;
        let providers =
            Sections::deserialize(toml::Value::Table(sections)).map_err(D::Error::custom)?;
        Ok(Self {
            seed: shared.seed,
            server: shared.server,
            clock: shared.clock,
            webhooks: shared.webhooks,
            scenario: shared.scenario,
            faults: shared.faults,
            providers,
        })
    }
}

/// How the delivery engine retries and how long it waits for a receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Delay before each retry after a failed attempt; the list's length is the number of
    /// retries. Meta retries immediately, then less and less often over days; the default keeps
    /// that shape, compressed into about two and a half hours.
    pub retry_schedule: Vec<Span>,
    /// How long one attempt may take before it counts as failed.
    pub timeout: Span,
    /// Most deliveries kept waiting for their receivers (scheduled, retrying or in flight). Past
    /// it the oldest waiting ones are dropped; health, the delivery log and the terminal say how
    /// many.
    pub max_waiting: usize,
    /// Attempts in flight at once to one receiver URL; each object's events (a message's
    /// statuses, a link's payment events) still go one after another, in order.
    pub in_flight_per_url: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        let s = |secs| Span(std::time::Duration::from_secs(secs));
        Self {
            retry_schedule: vec![s(0), s(10), s(60), s(300), s(1800), s(7200)],
            timeout: s(5),
            max_waiting: 10_000,
            in_flight_per_url: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: IpAddr,
    pub port: u16,
    /// The base URL the sandbox uses in links it hands out (hosted pages, short URLs). Defaults to
    /// `http://<bind>:<port>` with the port actually bound.
    pub public_url: Option<String>,
    /// How many requests, messages and deliveries each history keeps before dropping the oldest.
    pub history_limit: usize,
    /// How many orders or links each tenant keeps before dropping the oldest.
    pub store_limit: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a request to an emulated API may take, injected latency included, before it is
    /// answered with the vendor's "service unavailable" (the journal marks it `timed out`).
    pub request_timeout: Span,
    /// How long a client may take to send a request's headers, counted from when the connection
    /// is ready for them: just opened, or kept alive after its last answer. So it is also how
    /// long an idle kept-alive connection stays open. Past it the connection is closed.
    pub header_read_timeout: Span,
    /// How many connections are served at once; further clients wait in the listen backlog
    /// until one closes.
    pub max_connections: usize,
    pub log_level: String,
    /// `text` (one readable line per event; colours only on a terminal) or `json` (one JSON
    /// object per line).
    pub log_format: LogFormat,
    /// Treat unknown credentials as a new, empty tenant instead of refusing them, so parallel
    /// tests can each use their own and never see each other's state.
    pub accept_any_credentials: bool,
    /// With `accept_any_credentials`, how many tenants each provider keeps besides the
    /// configured ones; past it the least recently used is forgotten (and counted in health).
    pub max_tenants: usize,
    /// Host names the sandbox answers to besides loopback, the bound address and the public
    /// URL's host (for containers and tunnels); `"*"` answers to any.
    pub allowed_hosts: Vec<String>,
    /// Origins whose pages may call the emulated APIs from a browser (CORS); `"*"` for any. The
    /// admin API is never opened to other origins.
    pub cors_origins: Vec<String>,
    /// A snapshot file (`GET /__sandbox/snapshot`) to start from instead of the configured
    /// start state: a prepared demo, or a fixture a test suite loads.
    pub snapshot: Option<std::path::PathBuf>,
    /// Keep the whole state in an SQLite database in this folder, so a restart or a crash loses
    /// nothing acknowledged; without it nothing touches the disk.
    pub data_dir: Option<std::path::PathBuf>,
}

/// How the terminal log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 5080,
            public_url: None,
            history_limit: 10_000,
            store_limit: 10_000,
            body_limit: 1024 * 1024,
            request_timeout: Span(std::time::Duration::from_secs(90)),
            header_read_timeout: Span(std::time::Duration::from_secs(10)),
            max_connections: 1024,
            log_level: "info".into(),
            log_format: LogFormat::Text,
            accept_any_credentials: false,
            max_tenants: 1000,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            snapshot: None,
            data_dir: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Start time as Unix seconds or RFC 3339; defaults to the wall clock at start-up.
    pub start: Option<String>,
    /// When true, time moves only through `POST /__sandbox/clock/advance`.
    pub frozen: bool,
    /// The fast test profile: no real-time delay the user did not ask for. Message statuses
    /// follow each other at once (in order), Qonto settles at once, and retries come after 0,
    /// 50 ms, 100 ms, 200 ms, 400 ms and 800 ms. Delays set explicitly (in the file, a scenario
    /// rule or a flag) are kept.
    pub fast: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid configuration: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// The retry schedule of the fast test profile.
pub const FAST_RETRY_SCHEDULE: [u64; 6] = [0, 50, 100, 200, 400, 800];

impl Config {
    /// Applies the fast test profile (see [`ClockConfig::fast`]) to every delay still at its
    /// default; a no-op unless `clock.fast` is set.
    pub(crate) fn apply_fast_profile(&mut self) {
        if !self.clock.fast {
            return;
        }
        if self.webhooks.retry_schedule == WebhooksConfig::default().retry_schedule {
            self.webhooks.retry_schedule = FAST_RETRY_SCHEDULE
                .iter()
                .map(|ms| Span(std::time::Duration::from_millis(*ms)))
                .collect();
        }
        self.providers.fast();
    }

    /// Reads a TOML file over the embedded defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem with the configuration, not only the first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let server = &self.server;
        if server.history_limit == 0 {
            problems.push("server.history_limit must be at least 1".to_string());
        }
        if server.store_limit == 0 {
            problems.push("server.store_limit must be at least 1".to_string());
        }
        if server.body_limit < 1024 {
            problems.push("server.body_limit must be at least 1024 bytes".to_string());
        }
        if let Some(url) = &server.public_url
            && !is_http_url(url)
        {
            problems.push(format!(
                "server.public_url must start with http:// or https:// (got {url:?})"
            ));
        }
        for origin in &server.cors_origins {
            if origin != "*"
                && (!is_http_url(origin) || origin.trim_end_matches('/').matches('/').count() > 2)
            {
                problems.push(format!(
                    "server.cors_origins: {origin:?} is not an origin like https://app.example or *"
                ));
            }
        }
        for host in &server.allowed_hosts {
            if host.is_empty() || host.contains(['/', ' ', ':']) && host != "*" {
                problems.push(format!(
                    "server.allowed_hosts: {host:?} is not a host name (no scheme, port or path)"
                ));
            }
        }
        if let Some(start) = &self.clock.start
            && crate::clock::parse_instant(start).is_none()
        {
            problems.push(format!(
                "clock.start must be Unix seconds or RFC 3339 (got {start:?})"
            ));
        }
        if self.webhooks.in_flight_per_url == 0 {
            problems.push("webhooks.in_flight_per_url must be at least 1".to_string());
        }
        if self.server.header_read_timeout.0.is_zero() {
            problems.push("server.header_read_timeout must be more than zero".to_string());
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1".to_string());
        }
        if self.server.request_timeout.0.is_zero() {
            problems.push("server.request_timeout must be more than zero".to_string());
        }
        if self.webhooks.timeout.0.is_zero() {
            problems.push("webhooks.timeout must be more than zero".to_string());
        }
        if let Err(faults) = self.faults.validate(crate::providers::NAMES) {
            problems.extend(faults.into_iter().map(|p| format!("faults.{p}")));
        }
        if let Err(scenario) = self.scenario.validate(crate::providers::RULE_CHECKS) {
            problems.extend(scenario.into_iter().map(|p| format!("scenario.{p}")));
        }
        self.providers.validate(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The start of the sandbox clock in milliseconds, if configured.
    pub fn clock_start_ms(&self) -> Option<i64> {
        self.clock
            .start
            .as_deref()
            .and_then(crate::clock::parse_instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_profile_drops_only_default_delays() {
        let mut config = Config::default();
        config.clock.fast = true;
        config.apply_fast_profile();
        let ms: Vec<i64> = config
            .webhooks
            .retry_schedule
            .iter()
            .map(|s| s.as_ms())
            .collect();
        assert_eq!(ms, [0, 50, 100, 200, 400, 800]);
        assert_eq!(config.providers.qonto.settlement_delay.as_ms(), 0);

        let mut chosen = Config::default();
        chosen.clock.fast = true;
        chosen.webhooks.retry_schedule = vec![Span(std::time::Duration::from_secs(3))];
        chosen.providers.qonto.settlement_delay = Span(std::time::Duration::from_secs(2));
        chosen.apply_fast_profile();
        assert_eq!(chosen.webhooks.retry_schedule[0].as_ms(), 3000, "kept");
        assert_eq!(
            chosen.providers.qonto.settlement_delay.as_ms(),
            2000,
            "kept"
        );

        let mut off = Config::default();
        off.apply_fast_profile();
        assert_eq!(off, Config::default(), "nothing changes without clock.fast");
    }

    #[test]
    fn the_embedded_defaults_are_valid() {
        Config::default().validate().expect("defaults validate");
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let cfg = Config::from_toml(
            r#"
            seed = 42
            [server]
            port = 6000
            [[whatsapp.businesses]]
            phone_number_id = "111"
            access_token = "tok-a"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.seed, Some(42));
        assert_eq!(cfg.server.port, 6000);
        assert_eq!(cfg.server.history_limit, 10_000);
        let businesses = &cfg.providers.whatsapp.businesses;
        assert_eq!(businesses.len(), 1);
        assert_eq!(businesses[0].phone_number_id, "111");
        assert_eq!(businesses[0].waba_id, "102290129340398");
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::from_toml("[server]\nprot = 1\n").unwrap_err();
        assert!(err.contains("prot"), "{err}");
        let err = Config::from_toml("[whatsap]\napi_version = \"v1\"\n").unwrap_err();
        assert!(err.contains("whatsap"), "{err}");
        let err = Config::from_toml("[qonto]\nstaging = \"x\"\n").unwrap_err();
        assert!(err.contains("staging"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut cfg = Config::default();
        cfg.server.history_limit = 0;
        cfg.providers.whatsapp.api_version = "23".into();
        let first = cfg.providers.whatsapp.businesses[0].clone();
        cfg.providers.whatsapp.businesses.push(first);
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }
}
