//! The running sandbox: the context and the providers built from a [`Config`], the router, and
//! [`run`], which serves a pre-bound listener until `shutdown` resolves. `main` and the
//! integration tests both go through `run`.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::admin::{self, Admin};
use crate::config::Config;
use crate::context::{Context, Limits, Setup};
use crate::ids::Ids;
use crate::layer::{self, Guarded, Mounted};
use crate::provider::Provider;
use crate::providers;
use crate::timeline::{self, Job, Task};

/// The context and the providers of one sandbox.
pub(crate) struct Sandbox {
    pub ctx: Arc<Context>,
    pub providers: Arc<[Arc<dyn Provider>]>,
    /// The data dir's database, with `--data-dir`.
    pub persist: Option<Arc<crate::persist::Persist>>,
    /// Origins whose pages may call the emulated APIs (CORS).
    cors_origins: Vec<String>,
}

impl Sandbox {
    /// Builds the sandbox reachable at `addr`.
    pub(crate) fn new(mut config: Config, addr: SocketAddr) -> anyhow::Result<Self> {
        config.apply_fast_profile();
        let base = base_url(&config, addr);
        let setup = Setup {
            seed: config.seed.unwrap_or_else(Ids::random_seed),
            addr,
            base_url: base,
            allowed_hosts: config.server.allowed_hosts.clone(),
            limits: Limits {
                body_limit: config.server.body_limit,
                request_timeout: config.server.request_timeout.0,
                history_limit: config.server.history_limit,
                store_limit: config.server.store_limit,
                accept_any_credentials: config.server.accept_any_credentials,
                max_tenants: config.server.max_tenants,
                persistent: config.server.data_dir.is_some(),
            },
            clock_start: config.clock_start_ms(),
            frozen: config.clock.frozen,
            fast: config.clock.fast,
            retry_schedule: config.webhooks.retry_schedule.iter().map(|s| s.0).collect(),
            webhook_timeout: config.webhooks.timeout.0,
            max_waiting: config.webhooks.max_waiting,
            in_flight_per_url: config.webhooks.in_flight_per_url,
            scenario: config.scenario.clone(),
            faults: config.faults.clone(),
            providers: providers::NAMES,
            rule_checks: providers::RULE_CHECKS,
        };
        let ctx = Context::new(setup)?;
        let problems: Vec<String> = providers::webhook_urls(&config.providers)
            .into_iter()
            .filter_map(|url| ctx.guard.check_webhook_url(&url).err())
            .collect();
        if !problems.is_empty() {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "));
        }
        let providers = providers::all(&ctx, &config.providers).into();
        let persist = match &config.server.data_dir {
            Some(dir) => Some(crate::persist::Persist::open(dir)?),
            None => None,
        };
        Ok(Self {
            ctx,
            providers,
            persist,
            cors_origins: config.server.cors_origins,
        })
    }

    /// Starts the task that runs timeline jobs: webhook attempts go to the engine, the rest to
    /// the provider that scheduled them.
    pub(crate) fn start_background(&self) -> tokio::task::JoinHandle<()> {
        for p in self.providers.iter() {
            p.started();
        }
        let ctx = self.ctx.clone();
        let providers = self.providers.clone();
        let dispatch: timeline::Dispatch = Box::new(move |job: Job| {
            match job.task {
                Task::Deliver(id) => ctx.webhooks.dispatch(&id),
                Task::Provider(payload) => {
                    if let Some(p) = providers.iter().find(|p| p.id() == job.provider) {
                        p.run(&job.tenant, payload);
                    }
                }
            }
            ctx.events.changed();
        });
        tokio::spawn(timeline::run(
            self.ctx.timeline.clone(),
            self.ctx.clock.clone(),
            self.ctx.shutdown_signal(),
            dispatch,
        ))
    }

    /// Every route: each provider under its name (in its layer), the admin API, the dashboard.
    pub(crate) fn router(&self) -> Router {
        let mut router = Router::new();
        for p in self.providers.iter() {
            let mounted = Mounted {
                ctx: self.ctx.clone(),
                provider: p.clone(),
                persist: self.persist.clone(),
            };
            let api = p
                .clone()
                .router()
                .layer(axum::middleware::from_fn_with_state(
                    mounted,
                    layer::provider,
                ));
            let api = match cors(&self.cors_origins) {
                Some(cors) => api.layer(cors),
                None => api,
            };
            router = router.nest(&format!("/{}", p.id()), api);
        }
        let admin = Arc::new(Admin {
            ctx: self.ctx.clone(),
            providers: self.providers.clone(),
            persist: self.persist.clone(),
        });
        let names = self.ctx.providers;
        let router = router
            .nest("/__sandbox", admin::router(&admin))
            .merge(crate::ui::router())
            .fallback(move |uri: Uri| not_found(uri, names))
            .layer(axum::middleware::from_fn_with_state(
                Guarded {
                    ctx: self.ctx.clone(),
                    providers: self.providers.clone(),
                },
                layer::guard,
            ));
        // A span and two events per request cost a few per cent of throughput even when nothing
        // prints them, so the trace layer is there only when debug logging is on.
        if tracing::level_filters::LevelFilter::current() >= tracing::Level::DEBUG {
            router.layer(tower_http::trace::TraceLayer::new_for_http())
        } else {
            router
        }
    }
}

/// The base URL links use: `--public-url`, else the bound address, or for a sandbox bound to every
/// interface the address other machines reach it at (`0.0.0.0` is no address to hand out).
pub(crate) fn base_url(config: &Config, addr: SocketAddr) -> String {
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

async fn not_found(uri: Uri, providers: &'static [&'static str]) -> Response {
    let mounts: Vec<String> = providers.iter().map(|p| format!("/{p}")).collect();
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": {
                "code": "not_found",
                "message": format!("no route {}; providers are mounted at {}", uri.path(), mounts.join(", ")),
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
    let config_limits = (
        config.server.header_read_timeout.0,
        config.server.max_connections,
    );
    let snapshot = config.server.snapshot.clone();
    let sandbox = Sandbox::new(config, addr)?;
    let ctx = sandbox.ctx.clone();
    let resumed = match &sandbox.persist {
        Some(persist) => resume(&sandbox, persist).await?,
        None => false,
    };
    match snapshot {
        Some(path) if resumed => tracing::info!(
            file = %path.display(),
            "the data dir holds state, so the snapshot file is not loaded (PUT /__sandbox/snapshot replaces it)"
        ),
        Some(path) => load_snapshot(&sandbox, &path).await?,
        None => {}
    }
    tracing::info!(
        %addr,
        routes = admin::route_count(&sandbox.providers),
        schemas = ctx.schemas.len(),
        seed = ctx.ids.seed(),
        "paylink-sandbox ready"
    );
    #[cfg(debug_assertions)]
    watch_for_deadlocks();
    let background = sandbox.start_background();
    // Tell long-lived streams (open dashboards) to end as soon as shutdown starts; graceful
    // shutdown waits for every open connection.
    let stopping = ctx.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.shut_down();
    };
    let limits = crate::serve::Limits {
        header_read_timeout: config_limits.0,
        max_connections: config_limits.1,
    };
    let writer = sandbox.persist.clone().map(|persist| {
        crate::persist::start_writer(persist, ctx.clone(), sandbox.providers.clone())
    });
    crate::serve::serve(listener, sandbox.router(), limits, shutdown).await;
    ctx.shut_down();
    let _ = background.await;
    if let Some(writer) = writer {
        // The writer's last pass writes whatever the last requests and jobs changed.
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
    Ok(())
}

/// Reads the state kept in the data dir back, if there is any; whether there was. A data dir
/// whose rows do not make a valid state stops the start, and is left as it is.
async fn resume(sandbox: &Sandbox, persist: &crate::persist::Persist) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    let dir = persist.dir().display().to_string();
    let stored = persist
        .read()
        .map_err(|e| anyhow::anyhow!("cannot read the data dir {dir}: {e}"))?;
    let Some((document, rows)) =
        crate::persist::as_snapshot(stored, &sandbox.ctx, &sandbox.providers).map_err(|why| {
            anyhow::anyhow!("the data dir {dir} does not hold a valid state: {why}")
        })?
    else {
        tracing::info!(data_dir = %dir, "empty data dir: starting from the configured state");
        return Ok(false);
    };
    let loaded = crate::snapshot::load(&sandbox.ctx, &sandbox.providers, document.as_bytes())
        .await
        .map_err(|problems| {
            anyhow::anyhow!(
                "the data dir {dir} does not hold a valid state:\n  - {}",
                problems.join("\n  - ")
            )
        })?;
    crate::persist::forget_changes(&sandbox.ctx, &sandbox.providers);
    tracing::info!(
        data_dir = %dir,
        rows,
        providers = %serde_json::to_value(&loaded.providers).unwrap_or_default(),
        deliveries = loaded.deliveries,
        jobs = loaded.jobs,
        journal = loaded.journal,
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "state loaded from the data dir"
    );
    Ok(true)
}

/// Replaces the configured start state with the snapshot at `path`, saying what it loaded and
/// how long that took; a file that is not a valid snapshot stops the start.
async fn load_snapshot(sandbox: &Sandbox, path: &std::path::Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the snapshot {}: {e}", path.display()))?;
    let loaded = crate::snapshot::load(&sandbox.ctx, &sandbox.providers, &bytes)
        .await
        .map_err(|problems| {
            anyhow::anyhow!(
                "{} is not a snapshot this sandbox can load:\n  - {}",
                path.display(),
                problems.join("\n  - ")
            )
        })?;
    tracing::info!(
        file = %path.display(),
        providers = %serde_json::to_value(&loaded.providers).unwrap_or_default(),
        deliveries = loaded.deliveries,
        jobs = loaded.jobs,
        journal = loaded.journal,
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "snapshot loaded"
    );
    Ok(())
}

/// In debug and test builds, a thread that checks for threads deadlocked on a lock every 100 ms
/// and aborts the process with their backtraces: a lock taken twice fails loudly instead of
/// hanging the server (and CI) for good.
#[cfg(debug_assertions)]
fn watch_for_deadlocks() {
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
    out.push_str(&providers::banner(&config.providers, &base));
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
