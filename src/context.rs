//! What every provider shares and no provider owns: the clock, ids, schemas, the timeline, the
//! webhook engine, the scenario and fault rules, the journal, change events, the guard, the base
//! URL and the server's limits. The context knows no provider type; the one thing providers ask
//! of each other (whether a payment link was issued by this sandbox) goes through the narrow
//! [`LinkIssuer`] interface.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::clock::{Clock, Millis};
use crate::events::Events;
use crate::faults::{FaultConfig, Faults};
use crate::feed::Feed;
use crate::guard::Guard;
use crate::ids::Ids;
use crate::journal::Journal;
use crate::scenario::{RuleChecks, Scenario, ScenarioConfig};
use crate::schema::Schemas;
use crate::timeline::Timeline;
use crate::webhook::{self, Engine};

/// What the providers need of the server's settings.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Longest a request to an emulated API may take before the vendor's "unavailable" answer.
    pub request_timeout: std::time::Duration,
    /// Entries each history keeps (messages, requests, deliveries).
    pub history_limit: usize,
    /// Objects each tenant keeps (orders, links).
    pub store_limit: usize,
    /// Unknown credentials become a fresh tenant instead of being refused.
    pub accept_any_credentials: bool,
    /// Tenants made on the fly kept per provider.
    pub max_tenants: usize,
    /// The state is kept in a data dir: every store keeps track of what it changes.
    pub persistent: bool,
}

/// Everything a context is built from, drawn from the configuration by the app.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub seed: u64,
    pub addr: SocketAddr,
    pub base_url: String,
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    pub clock_start: Option<Millis>,
    pub frozen: bool,
    /// The fast test profile (`clock.fast`).
    pub fast: bool,
    pub retry_schedule: Vec<Duration>,
    pub webhook_timeout: Duration,
    /// Most webhook deliveries kept waiting for their receivers.
    pub max_waiting: usize,
    /// Webhook attempts in flight at once to one URL.
    pub in_flight_per_url: usize,
    pub scenario: ScenarioConfig,
    pub faults: FaultConfig,
    /// The providers' names, for rules and filters that name one.
    pub providers: &'static [&'static str],
    /// What each provider's scenario rules may say.
    pub rule_checks: &'static [RuleChecks],
}

/// A payment link one provider issued, as another provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedLink {
    pub id: String,
    pub status: String,
    /// Whether the link still takes payments.
    pub payable: bool,
    pub amount: i64,
    pub currency: String,
}

/// A provider that issues payment links at URLs of this sandbox.
pub(crate) trait LinkIssuer: Send + Sync {
    /// The link behind `url` when the URL is one of this issuer's (`Some(None)` when it points
    /// at no link); `None` when the URL is not this issuer's at all.
    fn issued(&self, url: &str) -> Option<Option<IssuedLink>>;
}

pub(crate) struct Context {
    pub clock: Arc<Clock>,
    pub ids: Arc<Ids>,
    pub schemas: Schemas,
    pub timeline: Arc<Timeline>,
    pub webhooks: Arc<Engine>,
    pub scenario: Scenario,
    pub faults: Arc<Faults>,
    pub journal: Journal,
    pub events: Arc<Events>,
    pub feed: Arc<Feed>,
    pub guard: Guard,
    /// Tenants made on the fly, least recently used first.
    pub tenants: crate::tenants::Tenants,
    /// The sandbox's own base URL, as written into links it hands out.
    pub base_url: String,
    /// This process over loopback, for calls the sandbox makes to itself (triggers).
    pub local_url: String,
    pub limits: Limits,
    pub providers: &'static [&'static str],
    pub rule_checks: &'static [RuleChecks],
    issuers: RwLock<Vec<Weak<dyn LinkIssuer>>>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("base_url", &self.base_url)
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(setup: Setup) -> anyhow::Result<Arc<Self>> {
        let schemas = Schemas::load();
        let clock = Arc::new(Clock::new(setup.clock_start, setup.frozen));
        let ids = Arc::new(Ids::new(setup.seed));
        let faults = Arc::new(Faults::new(setup.faults));
        let timeline = Arc::new(Timeline::new(setup.limits.persistent));
        let events = Arc::new(Events::default());
        let feed = Arc::new(Feed::default());
        let guard = Guard::new(setup.addr, &setup.base_url, &setup.allowed_hosts);
        let webhooks = Engine::new(
            webhook::Settings {
                retry_schedule: setup.retry_schedule,
                timeout: setup.webhook_timeout,
                history_limit: setup.limits.history_limit,
                max_waiting: setup.max_waiting,
                in_flight_per_url: setup.in_flight_per_url,
                persistent: setup.limits.persistent,
                loop_token: guard.loop_token().to_string(),
            },
            webhook::Deps {
                clock: clock.clone(),
                ids: ids.clone(),
                faults: faults.clone(),
                timeline: timeline.clone(),
                events: events.clone(),
                feed: feed.clone(),
            },
        );
        Ok(Arc::new(Self {
            clock,
            ids,
            schemas,
            timeline,
            webhooks,
            scenario: Scenario::new(setup.scenario, setup.rule_checks, setup.fast),
            faults,
            journal: Journal::new(setup.limits.history_limit, setup.limits.persistent),
            events,
            feed,
            guard,
            tenants: crate::tenants::Tenants::new(
                setup.limits.max_tenants,
                setup.limits.persistent,
            ),
            local_url: local_url(setup.addr),
            base_url: setup.base_url,
            limits: setup.limits,
            providers: setup.providers,
            rule_checks: setup.rule_checks,
            issuers: RwLock::new(Vec::new()),
            shutdown: watch::channel(false).0,
        }))
    }

    /// Registers a provider that issues payment links, for the others to check links against.
    pub(crate) fn register_link_issuer(&self, issuer: Weak<dyn LinkIssuer>) {
        self.issuers.write().push(issuer);
    }

    /// The link behind `url`, as its issuer describes it (see [`LinkIssuer::issued`]).
    pub(crate) fn issued_link(&self, url: &str) -> Option<Option<IssuedLink>> {
        let issuers: Vec<Arc<dyn LinkIssuer>> = self
            .issuers
            .read()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        issuers.iter().find_map(|i| i.issued(url))
    }

    /// Resolves when the sandbox shuts down (background tasks and streams stop on it).
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops the background tasks.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }
}

/// `http://` and the bound address, with loopback in place of an unspecified one.
fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
