//! The wide scenarios: many connections, idle sockets and a slow webhook receiver.
//!
//! - `mixed`: the three providers' writes in turn (a valid order with its status webhooks, a
//!   gateway link, a Qonto link) over 16 connections (the baseline), then over 200.
//! - `sockets`: the validated send alone (the baseline), then again while 500 sockets sit idle
//!   (half never send a byte, half sent one request and keep the connection open); then how long
//!   the server takes to close all 500, against its header-read timeout.
//! - `slow`: webhooks to a receiver that takes its time to answer: how long a backlog of ordered
//!   WhatsApp statuses takes with several attempts in flight (against one at a time, computed),
//!   whether each message's statuses still arrived in order, and how long another URL's events
//!   take while the backlog drains (against the same events with no backlog).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    routing::post,
};
use parking_lot::Mutex;
use tokio::io::AsyncReadExt;

use crate::load::{Workload, closed_loop};
use crate::servers::{ConfigFile, start_sandbox};
use crate::{RZP_AUTH, state::drive};

pub(crate) async fn mixed(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 5 });
    let sandbox = start_sandbox(&[]).await?;
    let counter = Arc::new(AtomicU64::new(0));
    println!(
        "\nmixed load: {}, {}s per measurement",
        Workload::Mixed.name(),
        duration.as_secs()
    );
    println!(
        "  {:<44} {:>9} {:>7} {:>7} {:>6} {:>6}",
        "connections", "req/s", "p50 ms", "p99 ms", "ratio", "errors"
    );
    let mut base = None;
    for connections in [16, 200] {
        let f = closed_loop(
            sandbox.addr,
            Workload::Mixed,
            connections,
            duration,
            counter.clone(),
        )
        .await?;
        let base_rps = *base.get_or_insert(f.rps);
        println!(
            "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6.2} {:>6}",
            format!("{connections} keep-alive connections"),
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.rps / base_rps,
            f.errors
        );
    }
    Ok(())
}

pub(crate) async fn sockets(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 4 });
    let timeout_s = if quick { 1 } else { 3 };
    let idle = if quick { 100 } else { 500 };
    let config = ConfigFile::new(
        "sockets",
        &format!("[server]\nheader_read_timeout = \"{timeout_s}s\"\n"),
    )?;
    let sandbox = start_sandbox(&["--config", config.path()]).await?;
    let counter = Arc::new(AtomicU64::new(1));
    let before = closed_loop(
        sandbox.addr,
        Workload::ValidOrder,
        16,
        duration,
        counter.clone(),
    )
    .await?;
    let opened = Instant::now();
    let mut held = Vec::new();
    for i in 0..idle {
        let mut stream = tokio::net::TcpStream::connect(sandbox.addr).await?;
        let at = Instant::now();
        if i % 2 == 1 {
            // One answered request, then silence on a kept-alive connection.
            tokio::io::AsyncWriteExt::write_all(
                &mut stream,
                b"GET /__sandbox/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
            )
            .await?;
        }
        held.push((stream, at));
    }
    let opening = opened.elapsed();
    // Watched from now on, so a close during the measurement is timed when it happens.
    let watching = watch_closes(held, opened + Duration::from_secs(timeout_s * 3 + 5));
    let during = closed_loop(sandbox.addr, Workload::ValidOrder, 16, duration, counter).await?;
    let mut closed = Vec::new();
    for w in watching {
        if let Some(at) = w.await? {
            closed.push(at);
        }
    }
    let last = closed.iter().max().copied().unwrap_or_default();
    println!(
        "\nidle sockets: {idle} held open (half silent, half idle after one answer), header-read timeout {timeout_s}s"
    );
    println!(
        "  {:<44} {:>9} {:>7} {:>7} {:>6}",
        "valid order_details, 16 connections", "req/s", "p50 ms", "p99 ms", "ratio"
    );
    for (name, f) in [
        ("alone (baseline)", before),
        ("while the idle sockets are held", during),
    ] {
        println!(
            "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6.2}",
            name,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.rps / before.rps
        );
    }
    println!(
        "  closed by the server: {} of {idle}; the longest-lived {:.1}s after it opened ({:.2}× the timeout; opening all took {:.1}s)",
        closed.len(),
        last.as_secs_f64(),
        last.as_secs_f64() / timeout_s as f64,
        opening.as_secs_f64()
    );
    Ok(())
}

/// Watches each socket until the server closes it: how long after its own opening that was, or
/// `None` for one still open at `deadline`. Each socket reads until the close (its one answer
/// first, for the kept-alive half).
fn watch_closes(
    held: Vec<(tokio::net::TcpStream, Instant)>,
    deadline: Instant,
) -> Vec<tokio::task::JoinHandle<Option<Duration>>> {
    held.into_iter()
        .map(|(mut stream, opened)| {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => return Some(opened.elapsed()),
                        Ok(Ok(_)) => {}
                        Err(_) => return None,
                    }
                }
            })
        })
        .collect()
}

/// What the receiver saw: each message's statuses in arrival order, and when each gateway event
/// arrived.
#[derive(Default)]
struct Seen {
    statuses: HashMap<String, Vec<String>>,
    slow_total: usize,
    fast: Vec<Instant>,
}

type Shared = Arc<(Mutex<Seen>, Duration)>;

async fn slow_hook(State(seen): State<Shared>, body: Bytes) -> &'static str {
    tokio::time::sleep(seen.1).await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(s) = v.pointer("/entry/0/changes/0/value/statuses/0") {
        let id = s["id"].as_str().unwrap_or_default().to_string();
        let status = s["status"].as_str().unwrap_or_default().to_string();
        let mut seen = seen.0.lock();
        seen.statuses.entry(id).or_default().push(status);
        seen.slow_total += 1;
    }
    "ok"
}

/// Meta's verification handshake: echo `hub.challenge`.
async fn verify(Query(q): Query<HashMap<String, String>>) -> String {
    q.get("hub.challenge").cloned().unwrap_or_default()
}

async fn fast_hook(State(seen): State<Shared>, body: Bytes) -> &'static str {
    if body.windows(17).any(|w| w == b"payment_link.paid") {
        seen.0.lock().fast.push(Instant::now());
    }
    "ok"
}

async fn receiver(delay: Duration) -> anyhow::Result<(SocketAddr, Shared)> {
    let shared: Shared = Arc::new((Mutex::new(Seen::default()), delay));
    let app = Router::new()
        .route("/slow", post(slow_hook).get(verify))
        .route("/fast", post(fast_hook))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, shared))
}

/// Creates `n` gateway links, pays each through the admin API and waits until `n`
/// `payment_link.paid` events reached the fast receiver; the time from the first payment.
async fn paid_events(sandbox: SocketAddr, seen: &Shared, n: usize) -> anyhow::Result<Duration> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let link: serde_json::Value = client
            .post(format!("http://{sandbox}/razorpay/v1/payment_links"))
            .header("authorization", RZP_AUTH)
            .json(&serde_json::json!({"amount": 1000 + i, "currency": "INR", "description": "slow bench"}))
            .send()
            .await?
            .json()
            .await?;
        ids.push(link["id"].as_str().unwrap_or_default().to_string());
    }
    let already = seen.0.lock().fast.len();
    let started = Instant::now();
    for id in ids {
        let paid = client
            .post(format!(
                "http://{sandbox}/__sandbox/razorpay/payment_links/{id}/pay"
            ))
            .json(&serde_json::json!({"outcome": "success"}))
            .send()
            .await?;
        anyhow::ensure!(paid.status().is_success(), "paying {id}: {}", paid.status());
    }
    loop {
        if seen.0.lock().fast.len() >= already + n {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway's events never arrived"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub(crate) async fn slow(quick: bool) -> anyhow::Result<()> {
    let delay = Duration::from_millis(if quick { 100 } else { 500 });
    let orders: u64 = if quick { 16 } else { 32 };
    let gateway_events = 10;
    let (rx, seen) = receiver(delay).await?;
    let config = ConfigFile::new("slow", "[webhooks]\nin_flight_per_url = 8\n")?;
    let sandbox = start_sandbox(&[
        "--fast",
        "--config",
        config.path(),
        "--whatsapp-callback-url",
        &format!("http://{rx}/slow"),
        "--razorpay-webhook-url",
        &format!("http://{rx}/fast"),
    ])
    .await?;
    let alone = paid_events(sandbox.addr, &seen, gateway_events).await?;
    let started = Instant::now();
    drive(
        sandbox.addr,
        Workload::ValidOrder,
        orders,
        &Arc::new(AtomicU64::new(1)),
    )
    .await?;
    let behind_backlog = paid_events(sandbox.addr, &seen, gateway_events).await?;
    let expected = orders as usize / 16 * 16 * 3;
    loop {
        if seen.0.lock().slow_total >= expected {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < delay * expected as u32 + Duration::from_secs(30),
            "the slow receiver's statuses never all arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = started.elapsed();
    let serial = delay * expected as u32;
    let seen = seen.0.lock();
    let in_order = seen
        .statuses
        .values()
        .filter(|s| s.as_slice() == ["sent", "delivered", "read"])
        .count();
    println!(
        "\nslow receiver: WhatsApp statuses to a receiver answering after {} ms (8 attempts in flight per URL); gateway events to another URL",
        delay.as_millis()
    );
    println!(
        "  {expected} statuses of {} messages drained in {:.2}s; one at a time would take {:.1}s (ratio {:.2})",
        seen.statuses.len(),
        drained.as_secs_f64(),
        serial.as_secs_f64(),
        drained.as_secs_f64() / serial.as_secs_f64()
    );
    println!(
        "  messages whose statuses arrived as sent, delivered, read: {in_order} of {}",
        seen.statuses.len()
    );
    println!(
        "  {gateway_events} payment_link.paid to the other URL: {:.1} ms alone (baseline), {:.1} ms behind the backlog (ratio {:.2})",
        alone.as_secs_f64() * 1000.0,
        behind_backlog.as_secs_f64() * 1000.0,
        behind_backlog.as_secs_f64() / alone.as_secs_f64()
    );
    Ok(())
}
