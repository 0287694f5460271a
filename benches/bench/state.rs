//! `state`: whether cost stays flat as state grows. Each workload's throughput on a fresh
//! sandbox (the baseline), then again after 100,000 of each kind of write (orders with their
//! status webhooks, gateway links, Qonto links) and 10,000 tenants made by new credentials, as a
//! ratio. The stores and histories are bounded by their default limits, so what is measured is
//! the cost of full stores.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::load::{Workload, closed_loop, connect, send};
use crate::servers::start_sandbox;

const MEASURED: [Workload; 5] = [
    Workload::ValidOrder,
    Workload::RazorpayCreate,
    Workload::QontoCreate,
    Workload::QontoList,
    Workload::Health,
];

pub(crate) async fn state(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 3 });
    let writes: u64 = if quick { 2_000 } else { 100_000 };
    let connections = 16;
    let tenants: u64 = if quick { 1_000 } else { 10_000 };
    let config = crate::servers::ConfigFile::new(
        "state",
        &format!("[server]\naccept_any_credentials = true\nmax_tenants = {tenants}\n"),
    )?;
    let sandbox = start_sandbox(&["--config", config.path()]).await?;
    let counter = Arc::new(AtomicU64::new(1));
    // A hundred Qonto links, so the list has a full page from the start.
    drive(sandbox.addr, Workload::QontoCreate, 100, &counter).await?;
    let mut empty = Vec::new();
    for w in MEASURED {
        empty.push(closed_loop(sandbox.addr, w, connections, duration, counter.clone()).await?);
    }
    for w in [
        Workload::ValidOrder,
        Workload::RazorpayCreate,
        Workload::QontoCreate,
    ] {
        drive(sandbox.addr, w, writes, &counter).await?;
    }
    drive(sandbox.addr, Workload::NewTenant, tenants, &counter).await?;
    let health: serde_json::Value =
        reqwest::get(format!("http://{}/__sandbox/health", sandbox.addr))
            .await?
            .json()
            .await?;
    println!(
        "\nstate size: each workload on a fresh sandbox, then after {writes} orders, {writes} gateway links, {writes} Qonto links and {} tenants ({}s each; {} jobs pending, rss {:.1} MB)",
        health["tenants"]["dynamic"]["razorpay"],
        duration.as_secs(),
        health["pending_jobs"],
        sandbox.rss_kb() as f64 / 1024.0
    );
    println!(
        "  {:<44} {:>9} {:>9} {:>6} {:>8}",
        "workload", "empty", "full", "ratio", "p99 full"
    );
    for (w, before) in MEASURED.into_iter().zip(empty) {
        let after = closed_loop(sandbox.addr, w, connections, duration, counter.clone()).await?;
        println!(
            "  {:<44} {:>9.0} {:>9.0} {:>6.2} {:>8.2}",
            w.name(),
            before.rps,
            after.rps,
            after.rps / before.rps,
            after.p99_ms
        );
    }
    Ok(())
}

/// Sends `total` requests of `w` over 16 connections, each answered as expected.
pub(crate) async fn drive(
    addr: std::net::SocketAddr,
    w: Workload,
    total: u64,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let connections = 16;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            for _ in 0..total / connections {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let status = send(&mut sender, w.request(addr, n)).await?;
                anyhow::ensure!(status == w.expected(n), "{} answered {status}", w.name());
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
