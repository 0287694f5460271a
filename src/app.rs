//! The running sandbox: its shared state, its router, and `run`, which serves a pre-bound
//! listener until `shutdown` resolves. `main` and the integration tests both go through `run`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Json, Router,
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    admin,
    clock::Clock,
    config::Config,
    faults::Faults,
    ids::Ids,
    journal::Journal,
    providers::{qonto, razorpay, whatsapp},
    scenario::Scenario,
    schema::Schemas,
    timeline::{self, Job, Timeline},
    webhook,
};

/// The providers this build serves, as mounted under `/<name>`.
pub const PROVIDERS: &[&str] = &["whatsapp", "razorpay", "qonto"];

/// Everything a request handler may touch.
#[derive(Debug)]
pub struct Sandbox {
    pub config: Config,
    pub clock: Clock,
    pub ids: Ids,
    pub schemas: Schemas,
    pub timeline: Timeline,
    pub webhooks: webhook::Engine,
    pub scenario: Scenario,
    pub faults: Faults,
    pub journal: Journal,
    /// Tells open dashboards that something changed.
    pub events: crate::events::Events,
    pub whatsapp: whatsapp::WhatsApp,
    pub razorpay: razorpay::Razorpay,
    pub qonto: qonto::Qonto,
    /// The sandbox's own base URL, as written into links it hands out.
    pub base_url: String,
    /// Host, cross-site, form and loop checks.
    pub guard: crate::guard::Guard,
    pub started: Instant,
    shutdown: tokio::sync::watch::Sender<bool>,
}

pub type AppState = Arc<Sandbox>;

impl Sandbox {
    /// Builds the state for a sandbox reachable at `addr`.
    pub fn new(config: Config, addr: SocketAddr) -> anyhow::Result<Self> {
        let schemas = Schemas::load()?;
        let seed = config.seed.unwrap_or_else(Ids::random_seed);
        let base_url = base_url(&config, addr);
        let guard = crate::guard::Guard::new(addr, &base_url, &config.server.allowed_hosts);
        check_configured_webhooks(&config, &guard)?;
        let webhooks = webhook::Engine::new(webhook::Settings {
            retry_schedule: config.webhooks.retry_schedule.iter().map(|s| s.0).collect(),
            timeout: config.webhooks.timeout.0,
            history_limit: config.server.history_limit,
            loop_token: guard.loop_token().to_string(),
        });
        let ids = Ids::new(seed);
        let qonto = qonto::Qonto::new(&config, &base_url, &ids);
        Ok(Self {
            clock: Clock::new(config.clock_start_ms(), config.clock.frozen),
            ids,
            qonto,
            schemas,
            timeline: Timeline::default(),
            webhooks,
            scenario: Scenario::new(config.scenario.clone()),
            faults: Faults::new(config.faults.clone()),
            journal: Journal::new(config.server.history_limit),
            events: Default::default(),
            whatsapp: whatsapp::WhatsApp::new(&config),
            razorpay: razorpay::Razorpay::new(&config),
            base_url,
            guard,
            config,
            started: Instant::now(),
            shutdown: tokio::sync::watch::channel(false).0,
        })
    }

    /// Resolves when the sandbox shuts down (background tasks stop on it).
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops the background tasks.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// The webhook target a provider would use for a delivery now (for redelivering one that
    /// had none).
    pub fn current_target(&self, d: &webhook::Delivery) -> Option<webhook::Target> {
        match d.provider {
            webhook::Provider::Whatsapp => whatsapp::webhooks::target(self, &d.tenant),
            webhook::Provider::Razorpay => razorpay::webhooks::target(self, &d.tenant),
            _ => None,
        }
    }

    /// Which provider and tenant a waiting provider job belongs to (deliveries are looked up in
    /// the delivery log, before the timeline is locked).
    fn job_owner(job: &Job) -> Option<(webhook::Provider, &str)> {
        use webhook::Provider as P;
        Some(match job {
            Job::Deliver { .. } => return None,
            Job::WhatsApp(whatsapp::webhooks::Job::Status {
                phone_number_id, ..
            }) => (P::Whatsapp, phone_number_id.as_str()),
            Job::Razorpay(
                razorpay::webhooks::Job::Expire { key_id, .. }
                | razorpay::webhooks::Job::Pay { key_id, .. },
            ) => (P::Razorpay, key_id.as_str()),
            Job::Qonto(
                qonto::webhooks::Job::Settle { login, .. }
                | qonto::webhooks::Job::Expire { login, .. }
                | qonto::webhooks::Job::Pay { login, .. },
            ) => (P::Qonto, login.as_str()),
        })
    }

    /// Returns the sandbox, one provider, or one tenant to its start state: stores as
    /// configured, journal, delivery log and waiting jobs emptied. A whole reset also rewinds the
    /// clock, the scenario, the fault rules and the id stream.
    pub fn reset(&self, provider: Option<webhook::Provider>, tenant: Option<&str>) {
        use webhook::Provider as P;
        // The deliveries to forget are read first: the timeline's lock is never held while
        // another is taken.
        let deliveries = self.webhooks.ids_of(provider, tenant);
        self.timeline.retain(|job| match job {
            Job::Deliver { delivery_id } => !deliveries.contains(delivery_id),
            other => Self::job_owner(other).is_some_and(|(p, t)| {
                let hit = provider.is_none_or(|x| x == p) && tenant.is_none_or(|x| x == t);
                !hit
            }),
        });
        let wants = |p: P| provider.is_none_or(|x| x == p);
        let cfg = &self.config;
        if wants(P::Whatsapp) {
            let mut store = self.whatsapp.store.lock();
            match tenant {
                None => {
                    *store = whatsapp::store::Store::new(
                        &cfg.whatsapp,
                        cfg.server.history_limit,
                        cfg.server.store_limit,
                    )
                }
                Some(t) => {
                    if store.remove_business(t)
                        && let Some(b) = cfg
                            .whatsapp
                            .businesses
                            .iter()
                            .find(|b| b.phone_number_id == t)
                    {
                        store.add_business(b.clone());
                    }
                }
            }
        }
        if wants(P::Razorpay) {
            let mut store = self.razorpay.store.lock();
            match tenant {
                None => *store = razorpay::store::Store::new(&cfg.razorpay, cfg.server.store_limit),
                Some(t) => {
                    if store.remove_account(t)
                        && let Some(a) = cfg.razorpay.accounts.iter().find(|a| a.key_id == t)
                    {
                        store.add_account(a.clone());
                    }
                }
            }
        }
        if provider.is_none() && tenant.is_none() {
            self.ids.reset();
        }
        if wants(P::Qonto) {
            let mut store = self.qonto.store.lock();
            match tenant {
                None => {
                    *store = qonto::store::Store::new(
                        &cfg.qonto,
                        cfg.server.store_limit,
                        &self.base_url,
                        &self.ids,
                    )
                }
                Some(t) => {
                    if store.remove_org(t)
                        && let Some(o) = cfg.qonto.organizations.iter().find(|o| o.login == t)
                    {
                        store.add_org(o.clone(), &self.base_url, &self.ids);
                    }
                }
            }
        }
        self.webhooks.clear(provider, tenant);
        self.journal.clear(&crate::journal::Filter {
            provider: provider.map(|p| p.as_str().to_string()),
            tenant: tenant.map(str::to_string),
            ..Default::default()
        });
        if provider.is_none() && tenant.is_none() {
            self.clock.reset();
            self.scenario.reset();
            self.faults.reset();
        }
    }

    /// Runs a job that fell due on the timeline.
    pub fn run_job(self: &Arc<Self>, job: Job) {
        match job {
            Job::Deliver { delivery_id } => self.webhooks.dispatch(self, &delivery_id),
            Job::WhatsApp(job) => whatsapp::webhooks::run(self, job),
            Job::Razorpay(job) => razorpay::webhooks::run(self, job),
            Job::Qonto(job) => qonto::webhooks::run(self, job),
        }
        self.events.changed();
    }
}

/// The base URL links use: `--public-url`, else the bound address, or for a sandbox bound to every
/// interface the address other machines reach it at (`0.0.0.0` is no address to hand out).
pub fn base_url(config: &Config, addr: SocketAddr) -> String {
    if let Some(url) = &config.server.public_url {
        return url.clone();
    }
    let ip = if addr.ip().is_unspecified() {
        crate::guard::reachable_address().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Webhook URLs from the configuration must not point at the sandbox itself.
fn check_configured_webhooks(config: &Config, guard: &crate::guard::Guard) -> anyhow::Result<()> {
    let urls = config
        .whatsapp
        .callback_url
        .iter()
        .chain(
            config
                .whatsapp
                .businesses
                .iter()
                .filter_map(|b| b.callback_url.as_ref()),
        )
        .chain(
            config
                .razorpay
                .accounts
                .iter()
                .filter_map(|a| a.webhook_url.as_ref()),
        );
    let problems: Vec<String> = urls
        .filter_map(|u| guard.check_webhook_url(u).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
    }
}

/// How many routes the sandbox serves (emulated and admin).
pub fn route_count() -> usize {
    whatsapp::ROUTES.len()
        + whatsapp::ADMIN_ROUTES.len()
        + razorpay::ROUTES.len()
        + razorpay::ADMIN_ROUTES.len()
        + qonto::ROUTES.len()
        + qonto::ADMIN_ROUTES.len()
        + admin::ROUTES.len()
        + crate::ui::ROUTES.len()
}

pub fn router(state: AppState) -> Router {
    let providers = Router::new()
        .nest("/whatsapp", whatsapp::router())
        .nest("/razorpay", razorpay::router())
        .nest("/qonto", qonto::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::layer::provider_layer,
        ));
    let providers = match cors(&state.config.server.cors_origins) {
        Some(cors) => providers.layer(cors),
        None => providers,
    };
    Router::new()
        .merge(providers)
        .nest(
            "/__sandbox",
            admin::router().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                admin::notify_changes,
            )),
        )
        .merge(crate::ui::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::layer::guard_layer,
        ))
        .with_state(state)
}

/// Cross-origin access to the emulated APIs, only for the origins configured.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| axum::http::HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(Any)
            .allow_headers(Any)
            .expose_headers(Any),
    )
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": {
                "code": "not_found",
                "message": format!("no route {}; providers are mounted at {}", uri.path(),
                    PROVIDERS.iter().map(|p| format!("/{p}")).collect::<Vec<_>>().join(", ")),
            }
        })),
    )
        .into_response()
}

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let state = Arc::new(Sandbox::new(config, addr)?);
    tracing::info!(
        %addr,
        routes = route_count(),
        schemas = state.schemas.len(),
        seed = state.ids.seed(),
        "paylink-sandbox ready"
    );
    #[cfg(debug_assertions)]
    watch_for_deadlocks();
    let background = start_background(&state);
    // Tell long-lived streams (open dashboards) to end as soon as shutdown starts; graceful
    // shutdown waits for every open connection.
    let stopping = state.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.shut_down();
    };
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    state.shut_down();
    let _ = background.await;
    served?;
    Ok(())
}

/// In debug and test builds, a thread that checks for threads deadlocked on a lock every 100 ms
/// and aborts the process with their backtraces: a lock taken twice fails loudly instead of
/// hanging the server (and CI) for good.
#[cfg(debug_assertions)]
pub fn watch_for_deadlocks() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("deadlock-watch".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    let deadlocks = parking_lot::deadlock::check_deadlock();
                    if deadlocks.is_empty() {
                        continue;
                    }
                    eprintln!("paylink-sandbox: {} deadlock(s) detected", deadlocks.len());
                    for (i, threads) in deadlocks.iter().enumerate() {
                        for t in threads {
                            eprintln!(
                                "deadlock {i}, thread {:?}:\n{:?}",
                                t.thread_id(),
                                t.backtrace()
                            );
                        }
                    }
                    std::process::abort();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("deadlock watch not started: {e}");
        }
    });
}

/// Starts the task that runs timeline jobs (due statuses, webhook attempts, expiries).
pub fn start_background(state: &Arc<Sandbox>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(timeline::run(Arc::downgrade(state)))
}

/// The lines printed at start-up: where each provider lives and the credentials to use.
pub fn banner(config: &Config, addr: SocketAddr, seed: u64) -> String {
    let base = base_url(config, addr);
    let mut out = format!(
        "paylink-sandbox {} listening on http://{addr} (seed {seed})\n",
        env!("CARGO_PKG_VERSION")
    );
    if !addr.ip().is_loopback() {
        out.push_str(&format!(
            "  WARNING: bound to {}, not loopback: anyone who can reach this machine can drive the\n  \
             admin API (reset, pay links, move the clock) and read every request. Links use {base};\n  \
             set --public-url if that is not how others reach it.\n",
            addr.ip()
        ));
    }
    let wa = &config.whatsapp;
    out.push_str(&format!(
        "  whatsapp  {base}/whatsapp  (Graph base URL; POST {base}/whatsapp/{}/<phone_number_id>/messages)\n",
        wa.api_version
    ));
    for b in &wa.businesses {
        out.push_str(&format!(
            "            access token {}  phone number id {}  WABA id {}  app secret {}  verify token {}\n",
            b.access_token, b.phone_number_id, b.waba_id, b.app_secret, b.verify_token
        ));
    }
    for a in &config.razorpay.accounts {
        out.push_str(&format!(
            "  razorpay  {base}/razorpay  (payment links; SDK base_url)  key_id {}  key_secret {}  webhook secret {}\n",
            a.key_id, a.key_secret, a.webhook_secret
        ));
    }
    for o in &config.qonto.organizations {
        let token = o.tokens.first().map(|t| t.token.as_str()).unwrap_or("");
        out.push_str(&format!(
            "  qonto     {base}/qonto/v2  (payment links)  Authorization: {}:{}  or  Bearer {token}\n",
            o.login, o.secret_key
        ));
    }
    out.push_str(&format!(
        "  dashboard {base}/  (chats, payment links, timeline; play the customer)\n"
    ));
    out.push_str(&format!("  admin     {base}/__sandbox/health\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_bound_beyond_loopback_warns_and_hands_out_a_reachable_address() {
        let config = Config::default();
        let text = banner(&config, "0.0.0.0:5080".parse().unwrap(), 1);
        assert!(text.contains("WARNING: bound to 0.0.0.0"), "{text}");
        let links: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("/__sandbox/health") || l.contains("/whatsapp "))
            .collect();
        assert!(!links.is_empty());
        assert!(
            links.iter().all(|l| !l.contains("http://0.0.0.0")),
            "{links:?}"
        );
        let quiet = banner(&config, "127.0.0.1:5080".parse().unwrap(), 1);
        assert!(!quiet.contains("WARNING"));
    }
}
