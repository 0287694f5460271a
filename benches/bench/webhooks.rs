//! `webhooks`: the delivery engine, in process, against a bare HTTP client posting the same
//! bodies, and its lateness against tokio timers due at the same instants.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use parking_lot::Mutex;
use paylink_sandbox::{bench::Engine, config::Config};

#[derive(Default)]
struct Seen {
    count: AtomicUsize,
    lateness_ms: Mutex<Vec<i64>>,
    engine: Mutex<Option<Arc<Engine>>>,
}

async fn receive(State(seen): State<Arc<Seen>>, body: Bytes) -> &'static str {
    if let Some(due) = std::str::from_utf8(&body)
        .ok()
        .and_then(|b| b.strip_prefix("{\"due\":"))
        .and_then(|b| b.strip_suffix('}'))
        .and_then(|d| d.parse::<i64>().ok())
        && let Some(engine) = seen.engine.lock().as_ref()
    {
        seen.lateness_ms.lock().push(engine.now_ms() - due);
    }
    seen.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn receiver() -> anyhow::Result<(SocketAddr, Arc<Seen>)> {
    let seen = Arc::new(Seen::default());
    let router = Router::new()
        .route("/w/{lane}", post(receive))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, seen))
}

/// Waits until the receiver has seen `n` deliveries; an error after a minute, not a hang.
async fn wait_count(seen: &Seen, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    while seen.count.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "only {} of {n} deliveries arrived",
            seen.count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

fn ms_percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[crate::load::index(sorted.len(), p)]
}

/// Deliveries per second to one and to eight URLs, then lateness of scheduled deliveries.
pub(crate) async fn webhooks(quick: bool) -> anyhow::Result<()> {
    let n = if quick { 2_000 } else { 20_000 };
    let lanes = 8;
    let (addr, seen) = receiver().await?;
    let (base_serial, base_parallel) = client_rates(addr, n, lanes).await?;

    let mut config = Config {
        seed: Some(1),
        ..Config::default()
    };
    config.server.history_limit = n * 3;
    // All `n` are enqueued at once: none may be dropped as too many waiting.
    config.webhooks.max_waiting = n * 2;
    let engine = Arc::new(Engine::start(config, addr)?);
    *seen.engine.lock() = Some(engine.clone());
    let mut rates = Vec::new();
    for spread in [1, lanes] {
        seen.count.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let now = engine.now_ms();
        for i in 0..n {
            let url = format!("http://{addr}/w/{}", i % spread);
            engine.enqueue(url, BODY.to_vec(), now);
        }
        wait_count(&seen, n).await?;
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }

    println!("\nwebhook engine, in process ({n} deliveries to a local receiver)");
    println!("  {:<44} {:>12} {:>10}", "", "per second", "ratio");
    println!(
        "  {:<44} {:>12.0} {:>10}",
        "baseline: bare client, 1 connection", base_serial, "1.00"
    );
    println!(
        "  {:<44} {:>12.0} {:>10.2}",
        "engine: 1 URL (in-order lane)",
        rates[0],
        rates[0] / base_serial
    );
    println!(
        "  {:<44} {:>12.0} {:>10}",
        format!("baseline: bare client, {lanes} connections"),
        base_parallel,
        "1.00"
    );
    println!(
        "  {:<44} {:>12.0} {:>10.2}",
        format!("engine: {lanes} URLs"),
        rates[1],
        rates[1] / base_parallel
    );
    lateness(
        &engine,
        &seen,
        addr,
        if quick { 1_000 } else { 5_000 },
        lanes,
    )
    .await?;
    engine.shut_down();
    Ok(())
}

const BODY: &[u8] =
    br#"{"event":"payment_link.paid","payload":{"payment_link":{"entity":{"id":"plink_Bench"}}}}"#;

/// The baseline: a bare client posting `n` bodies over one connection, then over `lanes`.
async fn client_rates(addr: SocketAddr, n: usize, lanes: usize) -> anyhow::Result<(f64, f64)> {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/w/0");
    let start = Instant::now();
    for _ in 0..n {
        client.post(&url).body(BODY).send().await?.bytes().await?;
    }
    let serial = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let client = client.clone();
        let url = format!("http://{addr}/w/{lane}");
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / lanes {
                let _ = client.post(&url).body(BODY).send().await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok((serial, n as f64 / start.elapsed().as_secs_f64()))
}

/// `m` deliveries due over two seconds: how late each arrives, against tokio timers due at the
/// same instants.
async fn lateness(
    engine: &Engine,
    seen: &Seen,
    addr: SocketAddr,
    m: usize,
    lanes: usize,
) -> anyhow::Result<()> {
    let window_ms = 2_000i64;
    let step = |i: usize| i as i64 * window_ms / m as i64;
    let mut timer_lateness: Vec<f64> = {
        let origin = Instant::now() + Duration::from_millis(50);
        let results = Arc::new(Mutex::new(Vec::with_capacity(m)));
        let mut tasks = Vec::new();
        for i in 0..m {
            let due = origin + Duration::from_millis(step(i) as u64);
            let results = results.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                results
                    .lock()
                    .push(Instant::now().duration_since(due).as_secs_f64() * 1000.0);
            }));
        }
        for t in tasks {
            t.await?;
        }
        results.lock().clone()
    };
    seen.count.store(0, Ordering::Relaxed);
    seen.lateness_ms.lock().clear();
    let origin = engine.now_ms() + 50;
    for i in 0..m {
        let due = origin + step(i);
        let url = format!("http://{addr}/w/{}", i % lanes);
        let body = format!("{{\"due\":{due}}}").into_bytes();
        engine.enqueue(url, body, due);
    }
    wait_count(seen, m).await?;
    let mut engine_lateness: Vec<f64> = seen.lateness_ms.lock().iter().map(|l| *l as f64).collect();
    engine_lateness.sort_by(f64::total_cmp);
    timer_lateness.sort_by(f64::total_cmp);
    println!("scheduled deliveries ({m} due over {window_ms} ms): lateness against due time, ms");
    println!("  {:<44} {:>8} {:>8}", "", "p50", "p99");
    println!(
        "  {:<44} {:>8.2} {:>8.2}",
        "baseline: tokio timers",
        ms_percentile(&timer_lateness, 0.5),
        ms_percentile(&timer_lateness, 0.99)
    );
    println!(
        "  {:<44} {:>8.2} {:>8.2}",
        "engine: due -> received",
        ms_percentile(&engine_lateness, 0.5),
        ms_percentile(&engine_lateness, 0.99)
    );
    Ok(())
}
