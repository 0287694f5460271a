//! `http`: the sandbox against a minimal hyper server, over loopback.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use axum::body::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::QONTO_AUTH;
use crate::load::{Workload, closed_loop, connect, open_loop, send};
use crate::servers::{start_baseline, start_checking, start_sandbox, startup_ms};

/// Throughput and latency of each workload against the baseline, then start-up and idle memory.
pub(crate) async fn http(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 5 });
    let connections = 16;
    let baseline = start_baseline().await?;
    let sandbox = start_sandbox(&[]).await?;
    seed_qonto_links(sandbox.addr).await?;
    println!(
        "\nHTTP over loopback: {connections} keep-alive connections, {}s per measurement; latency at a fixed 1,000 req/s",
        duration.as_secs()
    );
    println!(
        "  {:<44} {:>9} {:>7} {:>7} {:>6} | {:>7} {:>7}",
        "workload", "req/s", "p50 ms", "p99 ms", "ratio", "p50@1k", "p99@1k"
    );
    let counter = Arc::new(AtomicU64::new(1));
    let base = closed_loop(
        baseline.addr,
        Workload::ValidOrder,
        connections,
        duration,
        counter.clone(),
    )
    .await?;
    let base_1k = open_loop(
        baseline.addr,
        Workload::ValidOrder,
        1000,
        connections,
        duration,
        counter.clone(),
    )
    .await?;
    println!(
        "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6} | {:>7.2} {:>7.2}",
        "baseline: minimal hyper server, fixed JSON",
        base.rps,
        base.p50_ms,
        base.p99_ms,
        "1.00",
        base_1k.p50_ms,
        base_1k.p99_ms
    );
    reference(base.rps, connections, duration, counter.clone()).await?;
    for w in Workload::ALL {
        let f = closed_loop(sandbox.addr, w, connections, duration, counter.clone()).await?;
        let f1k = open_loop(
            sandbox.addr,
            w,
            1000,
            connections,
            duration,
            counter.clone(),
        )
        .await?;
        println!(
            "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6.2} | {:>7.2} {:>7.2}{}",
            w.name(),
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.rps / base.rps,
            f1k.p50_ms,
            f1k.p99_ms,
            if f.errors + f1k.errors > 0 {
                format!("  ({} unexpected answers)", f.errors + f1k.errors)
            } else {
                String::new()
            }
        );
    }
    drop(sandbox);
    drop(baseline);
    startup().await
}

/// The second reference: a plain hyper server that parses and schema-checks each send, as a
/// ratio to the fixed-answer baseline's `base_rps`.
async fn reference(
    base_rps: f64,
    connections: usize,
    duration: Duration,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let checking = start_checking().await?;
    let check = closed_loop(
        checking.addr,
        Workload::ValidOrder,
        connections,
        duration,
        counter,
    )
    .await?;
    drop(checking);
    println!(
        "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6.2} |{}",
        "reference: hyper, parse + schema check only",
        check.rps,
        check.p50_ms,
        check.p99_ms,
        check.rps / base_rps,
        if check.errors > 0 {
            format!("  ({} unexpected answers)", check.errors)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Qonto's list workload needs 100 links to list.
async fn seed_qonto_links(addr: SocketAddr) -> anyhow::Result<()> {
    let mut sender = connect(addr).await?;
    for i in 0..100 {
        let body = format!(
            r#"{{"payment_link":{{"invoice_id":"550e8400-e29b-41d4-a716-446655440001","invoice_number":"INV-{i}","debitor_name":"Bench","amount":{{"value":"{}.00","currency":"EUR"}},"potential_payment_methods":["credit_card"]}}}}"#,
            10 + i
        );
        let req = Request::builder()
            .method("POST")
            .uri("/qonto/v2/payment_links")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .header("authorization", QONTO_AUTH)
            .body(Full::new(Bytes::from(body)))?;
        anyhow::ensure!(
            send(&mut sender, req).await? == 201,
            "seeding Qonto links failed"
        );
    }
    Ok(())
}

/// Start-up time and idle memory, the sandbox against the baseline.
async fn startup() -> anyhow::Result<()> {
    let (base_start, base_rss) = startup_ms(true).await?;
    let (start, rss) = startup_ms(false).await?;
    println!("\nstart-up to the first accepted request, and resident memory when idle");
    println!(
        "  {:<44} {:>9.1} ms {:>9.1} MB",
        "baseline: minimal hyper server",
        base_start,
        base_rss as f64 / 1024.0
    );
    println!(
        "  {:<44} {:>9.1} ms {:>9.1} MB   (ratio {:.1}x, {:.1}x)",
        "paylink-sandbox",
        start,
        rss as f64 / 1024.0,
        start / base_start,
        rss as f64 / base_rss.max(1) as f64
    );
    Ok(())
}
