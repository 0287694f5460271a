//! The sandbox's benchmark: every figure is measured against a baseline in the same run, on the
//! same machine, with the same load generator, and reported as a ratio.
//!
//! ```text
//! cargo run --release --bin bench                 # everything (about three minutes)
//! cargo run --release --bin bench -- --quick      # a few seconds, to prove it still works
//! cargo run --release --bin bench -- http webhooks memory
//! ```
//!
//! - `http`: the release binary and a minimal hyper server answering a fixed JSON body, each in
//!   its own process, driven over loopback by the same generator (keep-alive HTTP/1.1
//!   connections): throughput with 16 connections, and latency at a fixed 1,000 requests per
//!   second. Workloads: a valid India `order_details` with a payment link (schema, rules, store,
//!   statuses scheduled), an invalid one (every violation reported), a gateway link create, and a
//!   Qonto list of 100 links. Also start-up time to the first accepted request and idle memory.
//! - `webhooks`: the delivery engine, in process: deliveries per second to a local receiver
//!   (baseline: a bare HTTP client posting the same bodies) and the lateness of scheduled
//!   deliveries (baseline: tokio timers due at the same instants).
//! - `memory`: resident memory of the binary after 1,000,000 validated `order_details` with the
//!   default history limit (skipped by `--quick`).

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Incoming};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use paylink_sandbox::{
    app::{self, Sandbox},
    config::Config,
    webhook::{NewDelivery, Provider, Signer, Target},
};
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "EAAPaylinkSandboxTestAccessToken0000";
const PHONE: &str = "106540352242922";
const RZP_AUTH: &str = "Basic cnpwX3Rlc3RfUGF5bGlua1NhbmRib3gwMTpwYXlsaW5rU2FuZGJveEtleVNlY3JldDAx";
const QONTO_AUTH: &str = "paylink-sandbox-org-7132:paylinkSandboxQontoSecretKey0001";
const VALID_ORDER: &str =
    include_str!("../../fixtures/whatsapp/valid/order_details-in-payment_link.json");
const INVALID_ORDER: &str =
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
            "--serve-baseline" => serve_baseline(),
            "--load" => load(),
            "-h" | "--help" => {
                println!("usage: bench [--quick] [http] [webhooks] [memory]");
                std::process::exit(0);
            }
            other => workloads.push(other.to_string()),
        }
    }
    if workloads.is_empty() {
        workloads = vec!["http".into(), "webhooks".into(), "memory".into()];
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
                .map(|n| n.get())
                .unwrap_or(1),
            if cfg!(debug_assertions) {
                "debug build: figures are not meaningful"
            } else {
                "release build"
            }
        );
        for w in &args.workloads {
            match w.as_str() {
                "http" => http(args.quick).await?,
                "webhooks" => webhooks(args.quick).await?,
                "memory" if args.quick => println!("\nmemory: skipped with --quick"),
                "memory" => memory().await?,
                other => {
                    anyhow::bail!("unknown workload {other:?} (expected http, webhooks, memory)")
                }
            }
        }
        Ok(())
    })
}

/// `bench --load ADDR SECONDS [WORKLOAD]`: drives an already running sandbox (for profiling it).
fn load() -> ! {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .expect("--load ADDR SECONDS [valid|invalid|gateway|qonto]");
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let w = match args.get(4).map(String::as_str) {
        Some("invalid") => Workload::InvalidOrder,
        Some("gateway") => Workload::RazorpayCreate,
        Some("qonto") => Workload::QontoList,
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

// ---------------------------------------------------------------------------------------------
// Processes: the baseline and the sandbox.

/// `bench --serve-baseline`: a minimal hyper server answering every request with a fixed JSON
/// body, after reading the request body (as any server must). Prints its address and serves.
fn serve_baseline() -> ! {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("listening on http://{}", listener.local_addr().expect("addr"));
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(
                                br#"{"messaging_product":"whatsapp","contacts":[{"input":"+91 98765 43210","wa_id":"919876543210"}],"messages":[{"id":"wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQzI2RTcxRUNBN0IwMDRDQjYwAA=="}]}"#,
                            )))
                            .expect("response"),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// The sandbox binary next to this one, built if missing.
fn sandbox_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name("paylink-sandbox");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bin", "paylink-sandbox"]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        anyhow::ensure!(cmd.status()?.success(), "building paylink-sandbox failed");
    }
    Ok(path)
}

/// Starts a server process and waits for the address it prints.
async fn spawn(program: PathBuf, args: &[&str]) -> anyhow::Result<Server> {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(tokio::process::ChildStdout::from_std(stdout)?).lines();
    let first = lines
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("server printed nothing"))?;
    // Keep draining what it prints so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let at = first
        .find("http://")
        .ok_or_else(|| anyhow::anyhow!("no address in {first:?}"))?;
    let addr = first[at + 7..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .parse()?;
    Ok(Server { child, addr })
}

async fn start_sandbox(extra: &[&str]) -> anyhow::Result<Server> {
    let mut args = vec!["--port", "0", "--seed", "1", "--log-level", "warn"];
    args.extend_from_slice(extra);
    spawn(sandbox_binary()?, &args).await
}

async fn start_baseline() -> anyhow::Result<Server> {
    spawn(std::env::current_exe()?, &["--serve-baseline"]).await
}

// ---------------------------------------------------------------------------------------------
// The load generator.

#[derive(Clone, Copy)]
enum Workload {
    ValidOrder,
    InvalidOrder,
    RazorpayCreate,
    QontoList,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Self::ValidOrder => "order_details, valid (webhooks scheduled)",
            Self::InvalidOrder => "order_details, invalid (5 violations)",
            Self::RazorpayCreate => "gateway: create payment link",
            Self::QontoList => "qonto: list 100 links",
        }
    }

    /// The `n`th request. Valid orders need a fresh reference id each time.
    fn request(self, addr: SocketAddr, n: u64) -> Request<Full<Bytes>> {
        let host = addr.to_string();
        let (method, path, auth, body): (&str, String, &str, Bytes) = match self {
            Self::ValidOrder => (
                "POST",
                format!("/whatsapp/v23.0/{PHONE}/messages"),
                "bearer",
                Bytes::from(VALID_ORDER.replace("IN-LINK-1003", &format!("BENCH-{n}"))),
            ),
            Self::InvalidOrder => (
                "POST",
                format!("/whatsapp/v23.0/{PHONE}/messages"),
                "bearer",
                Bytes::from_static(INVALID_ORDER.as_bytes()),
            ),
            Self::RazorpayCreate => (
                "POST",
                "/razorpay/v1/payment_links".into(),
                RZP_AUTH,
                Bytes::from(format!(
                    r#"{{"amount":{},"currency":"INR","description":"Bench order","customer":{{"name":"Asha","email":"asha@example.com"}},"notes":{{"n":"{n}"}}}}"#,
                    1000 + n % 1000
                )),
            ),
            Self::QontoList => (
                "GET",
                "/qonto/v2/payment_links?per_page=100".into(),
                QONTO_AUTH,
                Bytes::new(),
            ),
        };
        let auth = if auth == "bearer" {
            format!("Bearer {TOKEN}")
        } else {
            auth.to_string()
        };
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("content-type", "application/json")
            .header("authorization", auth)
            .body(Full::new(body))
            .expect("request")
    }

    fn expected(self) -> u16 {
        match self {
            Self::InvalidOrder => 400,
            _ => 200,
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one request and returns its status.
async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> anyhow::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(req).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn figures(mut lat_us: Vec<u64>, elapsed: Duration, errors: usize) -> Figures {
    lat_us.sort_unstable();
    Figures {
        rps: lat_us.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&lat_us, 0.5),
        p99_ms: percentile(&lat_us, 0.99),
        errors,
    }
}

/// As fast as `connections` keep-alive connections go, for `duration`.
async fn closed_loop(
    addr: SocketAddr,
    w: Workload,
    connections: usize,
    duration: Duration,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Figures> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let status = send(&mut sender, w.request(addr, n)).await?;
                lat.push(t.elapsed().as_micros() as u64);
                if status != w.expected() {
                    errors += 1;
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    gather(tasks, started).await
}

type Connection = tokio::task::JoinHandle<anyhow::Result<(Vec<u64>, usize)>>;

/// Joins the connections' latencies (µs) and error counts into one set of figures.
async fn gather(tasks: Vec<Connection>, started: Instant) -> anyhow::Result<Figures> {
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await??;
        all.extend(lat);
        errors += e;
    }
    Ok(figures(all, started.elapsed(), errors))
}

/// A fixed `rate` of requests per second, spread over `connections`, for `duration`. Latency is
/// measured from when each request was due, so a stall counts against the server.
async fn open_loop(
    addr: SocketAddr,
    w: Workload,
    rate: u64,
    connections: usize,
    duration: Duration,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Figures> {
    let total = (rate as f64 * duration.as_secs_f64()) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let origin = tokio::time::Instant::now() + Duration::from_millis(20);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections as u64 {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut i = c;
            while i < total {
                let due = origin + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let status = send(&mut sender, w.request(addr, n)).await?;
                lat.push(tokio::time::Instant::now().duration_since(due).as_micros() as u64);
                if status != w.expected() {
                    errors += 1;
                }
                i += connections as u64;
            }
            anyhow::Ok((lat, errors))
        }));
    }
    gather(tasks, started).await
}

/// From spawning the sandbox to its first accepted `order_details`.
async fn startup_ms(baseline: bool) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let server = if baseline {
        start_baseline().await?
    } else {
        start_sandbox(&[]).await?
    };
    let mut sender = loop {
        if let Ok(s) = connect(server.addr).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    loop {
        if send(&mut sender, Workload::ValidOrder.request(server.addr, 0)).await? == 200 {
            break;
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok((ms, server.rss_kb()))
}

async fn http(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 5 });
    let connections = 16;
    let baseline = start_baseline().await?;
    let sandbox = start_sandbox(&[]).await?;
    // Qonto's list needs 100 links to list.
    let mut sender = connect(sandbox.addr).await?;
    for i in 0..100 {
        let body = format!(
            r#"{{"payment_link":{{"invoice_id":"550e8400-e29b-41d4-a716-446655440001","invoice_number":"INV-{i}","debitor_name":"Bench","amount":{{"value":"{}.00","currency":"EUR"}},"potential_payment_methods":["credit_card"]}}}}"#,
            10 + i
        );
        let req = Request::builder()
            .method("POST")
            .uri("/qonto/v2/payment_links")
            .header("host", sandbox.addr.to_string())
            .header("content-type", "application/json")
            .header("authorization", QONTO_AUTH)
            .body(Full::new(Bytes::from(body)))?;
        anyhow::ensure!(
            send(&mut sender, req).await? == 201,
            "seeding Qonto links failed"
        );
    }

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
    for w in [
        Workload::ValidOrder,
        Workload::InvalidOrder,
        Workload::RazorpayCreate,
        Workload::QontoList,
    ] {
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

/// Resident memory after 1,000,000 validated orders (the default history limit bounds it).
async fn memory() -> anyhow::Result<()> {
    let sandbox = start_sandbox(&[]).await?;
    let idle = {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sandbox.rss_kb()
    };
    let total: u64 = 1_000_000;
    let connections = 16u64;
    let counter = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let mut checkpoints = Vec::new();
    let mut done = 0;
    for step in [100_000u64, 200_000, 300_000, 500_000, 1_000_000] {
        let mut tasks = Vec::new();
        let per = (step - done) / connections;
        for _ in 0..connections {
            let counter = counter.clone();
            let addr = sandbox.addr;
            tasks.push(tokio::spawn(async move {
                let mut sender = connect(addr).await?;
                for _ in 0..per {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    anyhow::ensure!(
                        send(&mut sender, Workload::ValidOrder.request(addr, n)).await? == 200,
                        "a valid order was refused"
                    );
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        done += per * connections;
        checkpoints.push((done, sandbox.rss_kb()));
    }
    let elapsed = started.elapsed();
    println!(
        "\nresident memory with the default history limit ({total} valid order_details, {:.0} req/s)",
        done as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  {:<44} {:>9.1} MB",
        "idle after start-up",
        idle as f64 / 1024.0
    );
    for (n, rss) in checkpoints {
        println!(
            "  {:<44} {:>9.1} MB",
            format!("after {n} requests"),
            rss as f64 / 1024.0
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The webhook engine, in process.

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

fn ms_percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn webhooks(quick: bool) -> anyhow::Result<()> {
    let n = if quick { 2_000 } else { 20_000 };
    let lanes = 8;
    let body = br#"{"event":"payment_link.paid","payload":{"payment_link":{"entity":{"id":"plink_Bench"}}}}"#;
    let (addr, seen) = receiver().await?;

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
