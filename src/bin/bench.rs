//! Benchmarks of the sandbox, each against a baseline measured in the same run on the same
//! machine, reported as ratios.
//!
//! `cargo run --release --bin bench -- webhooks` measures the webhook engine: deliveries per
//! second to a local receiver (baseline: a bare HTTP client posting the same bodies) and the
//! lateness of scheduled deliveries against their due time (baseline: tokio timers due at the
//! same times). `--quick` runs a few seconds' worth, for CI.

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
use paylink_sandbox::{
    app::{self, Sandbox},
    config::Config,
    webhook::{NewDelivery, Provider, Signer, Target},
};

struct Args {
    quick: bool,
    workloads: Vec<String>,
}

fn args() -> Args {
    let mut quick = false;
    let mut workloads = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!("usage: bench [--quick] [webhooks]...");
                std::process::exit(0);
            }
            other => workloads.push(other.to_string()),
        }
    }
    if workloads.is_empty() {
        workloads.push("webhooks".into());
    }
    Args { quick, workloads }
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        for w in &args.workloads {
            match w.as_str() {
                "webhooks" => webhooks(args.quick).await?,
                other => anyhow::bail!("unknown workload {other:?} (expected webhooks)"),
            }
        }
        Ok(())
    })
}

/// What the receiver saw: how many bodies, and for timed ones, how late each arrived.
#[derive(Default)]
struct Seen {
    count: AtomicUsize,
    lateness_ms: Mutex<Vec<i64>>,
    sandbox: Mutex<Option<Arc<Sandbox>>>,
}

async fn receive(State(seen): State<Arc<Seen>>, body: Bytes) -> &'static str {
    if let Some(due) = std::str::from_utf8(&body)
        .ok()
        .and_then(|b| b.strip_prefix("{\"due\":"))
        .and_then(|b| b.strip_suffix('}'))
        .and_then(|d| d.parse::<i64>().ok())
        && let Some(s) = seen.sandbox.lock().as_ref()
    {
        seen.lateness_ms.lock().push(s.clock.now_ms() - due);
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

async fn wait_count(seen: &Seen, n: usize) {
    while seen.count.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn delivery(sandbox: &Sandbox, url: String, body: Vec<u8>) -> NewDelivery {
    NewDelivery {
        id: format!("bench_{}", sandbox.ids.alnum(12)),
        provider: Provider::Razorpay,
        tenant: "bench".into(),
        event: "bench".into(),
        reference: None,
        body,
        target: Some(Target {
            url,
            signer: Signer::Razorpay {
                secret: "bench-secret".into(),
            },
            verify_token: None,
        }),
    }
}

async fn webhooks(quick: bool) -> anyhow::Result<()> {
    let n = if quick { 2_000 } else { 20_000 };
    let lanes = 8;
    let body = br#"{"event":"payment_link.paid","payload":{"payment_link":{"entity":{"id":"plink_Bench"}}}}"#;
    let (addr, seen) = receiver().await?;

    // Baseline: a bare client posting the same body, one at a time and `lanes` at a time.
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/w/0");
    let start = Instant::now();
    for _ in 0..n {
        client
            .post(&url)
            .body(&body[..])
            .send()
            .await?
            .bytes()
            .await?;
    }
    let base_serial = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let client = client.clone();
        let url = format!("http://{addr}/w/{lane}");
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / lanes {
                let _ = client.post(&url).body(&body[..]).send().await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let base_parallel = n as f64 / start.elapsed().as_secs_f64();

    // The engine: schedule n deliveries due now to one URL, then spread over `lanes` URLs.
    let mut config = Config {
        seed: Some(1),
        ..Config::default()
    };
    config.server.history_limit = n * 3;
    let sandbox = Arc::new(Sandbox::new(config, addr)?);
    let _timeline = app::start_background(&sandbox);
    *seen.sandbox.lock() = Some(sandbox.clone());
    let mut rates = Vec::new();
    for spread in [1, lanes] {
        seen.count.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let now = sandbox.clock.now_ms();
        for i in 0..n {
            let url = format!("http://{addr}/w/{}", i % spread);
            sandbox
                .webhooks
                .enqueue(&sandbox, delivery(&sandbox, url, body.to_vec()), now);
        }
        wait_count(&seen, n).await;
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }

    // Lateness: m deliveries due at times spread over two seconds, against tokio timers due at
    // the same instants.
    let m = if quick { 1_000 } else { 5_000 };
    let window_ms = 2_000i64;
    let mut timer_lateness: Vec<f64> = {
        let origin = Instant::now() + Duration::from_millis(50);
        let results = Arc::new(Mutex::new(Vec::with_capacity(m)));
        let mut tasks = Vec::new();
        for i in 0..m {
            let due = origin + Duration::from_millis((i as i64 * window_ms / m as i64) as u64);
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
    let origin = sandbox.clock.now_ms() + 50;
    for i in 0..m {
        let due = origin + i as i64 * window_ms / m as i64;
        let url = format!("http://{addr}/w/{}", i % lanes);
        let body = format!("{{\"due\":{due}}}").into_bytes();
        sandbox
            .webhooks
            .enqueue(&sandbox, delivery(&sandbox, url, body), due);
    }
    wait_count(&seen, m).await;
    let mut engine_lateness: Vec<f64> = seen.lateness_ms.lock().iter().map(|l| *l as f64).collect();
    engine_lateness.sort_by(f64::total_cmp);
    timer_lateness.sort_by(f64::total_cmp);
    sandbox.shut_down();

    println!(
        "webhook engine ({n} deliveries, {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
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
    println!("scheduled deliveries ({m} due over {window_ms} ms): lateness against due time, ms");
    println!("  {:<44} {:>8} {:>8}", "", "p50", "p99");
    println!(
        "  {:<44} {:>8.2} {:>8.2}",
        "baseline: tokio timers",
        percentile(&timer_lateness, 0.5),
        percentile(&timer_lateness, 0.99)
    );
    println!(
        "  {:<44} {:>8.2} {:>8.2}",
        "engine: due -> received",
        percentile(&engine_lateness, 0.5),
        percentile(&engine_lateness, 0.99)
    );
    Ok(())
}
