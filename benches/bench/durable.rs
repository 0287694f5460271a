//! `durable`: what `--data-dir` costs. The validated send and link creation on an in-memory
//! sandbox (the baseline), then on one keeping its state in a data dir, as ratios; and how long
//! a sandbox takes to start again from a data dir holding 100,000 stored objects.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use crate::load::{Workload, closed_loop};
use crate::servers::start_sandbox;

const MEASURED: [Workload; 3] = [
    Workload::ValidOrder,
    Workload::RazorpayCreate,
    Workload::QontoCreate,
];

pub(crate) async fn durable(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 3 });
    let stored: u64 = if quick { 2_000 } else { 100_000 };
    let connections = 16;
    let dir = std::env::temp_dir().join(format!("paylink-bench-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data_dir = dir.to_string_lossy().to_string();
    println!(
        "\ndurable: each workload in memory, then with --data-dir ({}s each, {connections} connections)",
        duration.as_secs()
    );
    println!(
        "  {:<44} {:>9} {:>9} {:>6} {:>8} {:>8}",
        "workload", "memory", "data dir", "ratio", "p99 mem", "p99 dir"
    );
    let counter = Arc::new(AtomicU64::new(1));
    for w in MEASURED {
        let memory = start_sandbox(&[]).await?;
        let baseline = closed_loop(memory.addr, w, connections, duration, counter.clone()).await?;
        drop(memory);
        let durable = start_sandbox(&["--data-dir", &data_dir]).await?;
        let figures = closed_loop(durable.addr, w, connections, duration, counter.clone()).await?;
        drop(durable);
        println!(
            "  {:<44} {:>9.0} {:>9.0} {:>6.2} {:>8.2} {:>8.2}",
            w.name(),
            baseline.rps,
            figures.rps,
            figures.rps / baseline.rps,
            baseline.p99_ms,
            figures.p99_ms
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    restart(&dir, stored).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Fills a data dir with `stored` gateway links (and the journal's default 10,000 entries),
/// kills the sandbox, and times the start from it against the start from an empty one.
async fn restart(dir: &std::path::Path, stored: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("limits.toml");
    std::fs::write(&config, format!("[server]\nstore_limit = {stored}\n"))?;
    let data = dir.join("data");
    let (config, data) = (
        config.to_string_lossy().to_string(),
        data.to_string_lossy().to_string(),
    );
    let args = ["--config", config.as_str(), "--data-dir", data.as_str()];
    let empty_started = Instant::now();
    let sandbox = start_sandbox(&args).await?;
    let empty = empty_started.elapsed();
    crate::state::drive(
        sandbox.addr,
        Workload::RazorpayCreate,
        stored,
        &Arc::new(AtomicU64::new(1)),
    )
    .await?;
    // SIGKILL: the start below reads what was committed, as after a crash.
    drop(sandbox);
    let started = Instant::now();
    let again = start_sandbox(&args).await?;
    let full = started.elapsed();
    let health: serde_json::Value = reqwest::get(format!("http://{}/__sandbox/health", again.addr))
        .await?
        .json()
        .await?;
    println!(
        "  start from an empty data dir: {:.0} ms; from one holding {stored} links and the journal: {:.0} ms ({:.1}x); rss {:.1} MB",
        empty.as_secs_f64() * 1000.0,
        full.as_secs_f64() * 1000.0,
        full.as_secs_f64() / empty.as_secs_f64(),
        again.rss_kb() as f64 / 1024.0
    );
    anyhow::ensure!(
        health["status"] == "ok",
        "the restarted sandbox is not healthy: {health}"
    );
    Ok(())
}
