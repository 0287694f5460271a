//! The sandbox's benchmark: every figure is measured against a baseline in the same run, on the
//! same machine, with the same load generator, and reported as a ratio.
//!
//! ```text
//! cargo bench                          # everything (about ten minutes)
//! cargo bench -- --quick               # a few seconds, to prove it still works
//! cargo bench -- http webhooks flow memory
//! ```
//!
//! - `http`: the release binary and a minimal hyper server answering a fixed JSON body, each in
//!   its own process, driven over loopback by the same generator (keep-alive HTTP/1.1
//!   connections): throughput with 16 connections, and latency at a fixed 1,000 requests per
//!   second. Workloads: a valid India `order_details` with a payment link (schema, rules, store,
//!   statuses scheduled), an invalid one (every violation reported), a gateway link create, and a
//!   Qonto list of 100 links. A second reference, a hyper server that parses each send and
//!   checks it against the sandbox's JSON Schemas (`--serve-checking`), shows what that alone
//!   costs. Also start-up time to the first accepted request and idle memory.
//! - `webhooks`: the delivery engine, in process: deliveries per second to a local receiver
//!   (baseline: a bare HTTP client posting the same bodies) and the lateness of scheduled
//!   deliveries (baseline: tokio timers due at the same instants).
//! - `flow`: the README's test recipe (order, pay, order_status, each step waited for) timed end
//!   to end on the embedded defaults (the baseline) and on `--fast`.
//! - `outage`: the validated send with every webhook going to a receiver that answers at once
//!   (the baseline), then to one that refuses every connection for the whole run; with the
//!   deliveries left waiting and dropped (`webhooks.max_waiting`).
//! - `state`: each of the validated send, a gateway create, a Qonto create, a Qonto list of 100
//!   and health on a fresh sandbox (the baseline), then after 100,000 writes of each kind and
//!   10,000 tenants.
//! - `mixed`, `sockets`, `slow` (see `wide.rs`): the three providers' writes over 16 and then
//!   200 connections; the validated send while 500 sockets sit idle, and how soon they are
//!   closed; a slow webhook receiver's backlog, its order, and another URL's events meanwhile.
//! - `memory`: resident memory of the binary over 1,000,000 mixed requests (orders, gateway
//!   links, Qonto links) with the default limits (skipped by `--quick`).

#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "counts, rates and durations here are small and never negative"
)]

mod durable;
mod flow;
mod http;
mod load;
mod outage;
mod servers;
mod state;
mod webhooks;
mod wide;

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use load::{Workload, closed_loop};
use servers::start_sandbox;

pub(crate) const TOKEN: &str = "EAAPaylinkSandboxTestAccessToken0000";
pub(crate) const PHONE: &str = "106540352242922";
pub(crate) const RZP_AUTH: &str =
    "Basic cnpwX3Rlc3RfUGF5bGlua1NhbmRib3gwMTpwYXlsaW5rU2FuZGJveEtleVNlY3JldDAx";
pub(crate) const QONTO_AUTH: &str = "paylink-sandbox-org-7132:paylinkSandboxQontoSecretKey0001";
pub(crate) const VALID_ORDER: &str =
    include_str!("../../fixtures/whatsapp/valid/order_details-in-payment_link.json");
pub(crate) const INVALID_ORDER: &str =
    include_str!("../../fixtures/whatsapp/invalid/several-violations-at-once.json");

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
            // `cargo bench` adds this to every benchmark's arguments.
            "--bench" => {}
            "--serve-baseline" => servers::serve_baseline(false),
            "--serve-checking" => servers::serve_baseline(true),
            "--load" => load(),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [http] [webhooks] [flow] [outage] [state] [durable] [mixed] [sockets] [slow] [memory]"
                );
                std::process::exit(0);
            }
            other => workloads.push(other.to_string()),
        }
    }
    if workloads.is_empty() {
        workloads = vec![
            "http".into(),
            "webhooks".into(),
            "flow".into(),
            "outage".into(),
            "state".into(),
            "durable".into(),
            "mixed".into(),
            "sockets".into(),
            "slow".into(),
            "memory".into(),
        ];
    }
    Args { quick, workloads }
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        println!(
            "paylink-sandbox benchmark ({} cores, {})",
            std::thread::available_parallelism()
                .map(std::num::NonZero::get)
                .unwrap_or(1),
            if cfg!(debug_assertions) {
                "debug build: figures are not meaningful"
            } else {
                "release build"
            }
        );
        for w in &args.workloads {
            match w.as_str() {
                "http" => http::http(args.quick).await?,
                "webhooks" => webhooks::webhooks(args.quick).await?,
                "flow" => flow::flow(args.quick).await?,
                "outage" => outage::outage(args.quick).await?,
                "state" => state::state(args.quick).await?,
                "durable" => durable::durable(args.quick).await?,
                "mixed" => wide::mixed(args.quick).await?,
                "sockets" => wide::sockets(args.quick).await?,
                "slow" => wide::slow(args.quick).await?,
                "memory" if args.quick => println!("\nmemory: skipped with --quick"),
                "memory" => memory().await?,
                other => {
                    anyhow::bail!(
                        "unknown workload {other:?} (expected http, webhooks, flow, outage, state, durable, mixed, sockets, slow, memory)"
                    )
                }
            }
        }
        Ok(())
    })
}

/// `bench --load ADDR SECONDS [WORKLOAD]`: drives an already running sandbox (for profiling it).
fn load() -> ! {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let addr: SocketAddr = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .expect("--load ADDR SECONDS [valid|invalid|gateway|qonto|qonto-create|mixed]");
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let w = match args.get(4).map(String::as_str) {
        Some("invalid") => Workload::InvalidOrder,
        Some("gateway") => Workload::RazorpayCreate,
        Some("qonto") => Workload::QontoList,
        Some("qonto-create") => Workload::QontoCreate,
        Some("mixed") => Workload::Mixed,
        _ => Workload::ValidOrder,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let f = rt
        .block_on(closed_loop(
            addr,
            w,
            16,
            Duration::from_secs(secs),
            Arc::new(AtomicU64::new(1)),
        ))
        .expect("load");
    println!(
        "{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} unexpected",
        w.name(),
        f.rps,
        f.p50_ms,
        f.p99_ms,
        f.errors
    );
    std::process::exit(0)
}

/// Resident memory over 1,000,000 mixed requests (valid orders with their status webhooks,
/// gateway links and Qonto links in turn): the default limits bound it.
async fn memory() -> anyhow::Result<()> {
    let sandbox = start_sandbox(&[]).await?;
    let idle = {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sandbox.rss_kb()
    };
    let total: u64 = 1_000_000;
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut checkpoints = Vec::new();
    let mut done = 0;
    for step in [100_000u64, 200_000, 300_000, 500_000, 750_000, 1_000_000] {
        state::drive(sandbox.addr, Workload::Mixed, step - done, &counter).await?;
        done = step;
        checkpoints.push((done, sandbox.rss_kb()));
    }
    let elapsed = started.elapsed();
    println!(
        "\nresident memory with the default limits ({total} mixed requests: order, gateway link, Qonto link in turn; {:.0} req/s)",
        done as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  {:<44} {:>9.1} MB",
        "idle after start-up",
        idle as f64 / 1024.0
    );
    let at_100k = checkpoints.first().map_or(1, |c| c.1.max(1));
    for (n, rss) in checkpoints {
        println!(
            "  {:<44} {:>9.1} MB   ({:.2}× the figure at 100,000)",
            format!("after {n} requests"),
            rss as f64 / 1024.0,
            rss as f64 / at_100k as f64
        );
    }
    Ok(())
}
