//! The load generator: keep-alive HTTP/1.1 connections driven closed-loop (as fast as they go)
//! or open-loop (at a fixed rate, latency counted from when each request was due).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::{INVALID_ORDER, PHONE, QONTO_AUTH, RZP_AUTH, TOKEN, VALID_ORDER};

#[derive(Clone, Copy)]
pub(crate) enum Workload {
    ValidOrder,
    InvalidOrder,
    RazorpayCreate,
    QontoList,
    /// A Qonto invoice link (the `state` workload).
    QontoCreate,
    /// `GET /__sandbox/health` (the `state` workload).
    Health,
    /// The three providers' writes in turn: a valid order, a gateway link, a Qonto link.
    Mixed,
    /// A gateway link created with the credentials of tenant `n` (with
    /// `accept_any_credentials`, each new key id makes a tenant).
    NewTenant,
}

impl Workload {
    pub(crate) const ALL: [Workload; 4] = [
        Self::ValidOrder,
        Self::InvalidOrder,
        Self::RazorpayCreate,
        Self::QontoList,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ValidOrder => "order_details, valid (webhooks scheduled)",
            Self::InvalidOrder => "order_details, invalid (5 violations)",
            Self::RazorpayCreate => "gateway: create payment link",
            Self::QontoList => "qonto: list 100 links",
            Self::QontoCreate => "qonto: create an invoice link",
            Self::Health => "GET /__sandbox/health",
            Self::Mixed => "mixed: order, gateway link, Qonto link in turn",
            Self::NewTenant => "gateway: create a link as a new tenant",
        }
    }

    /// What the `n`th request of this workload is.
    fn at(self, n: u64) -> Workload {
        match (self, n % 3) {
            (Self::Mixed, 0) => Self::ValidOrder,
            (Self::Mixed, 1) => Self::RazorpayCreate,
            (Self::Mixed, _) => Self::QontoCreate,
            (w, _) => w,
        }
    }

    /// The `n`th request. Valid orders need a fresh reference id each time.
    pub(crate) fn request(self, addr: SocketAddr, n: u64) -> Request<Full<Bytes>> {
        let host = addr.to_string();
        let tenant_auth;
        let (method, path, auth, body): (&str, String, &str, Bytes) = match self.at(n) {
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
            w @ (Self::RazorpayCreate | Self::NewTenant) => (
                "POST",
                "/razorpay/v1/payment_links".into(),
                if matches!(w, Self::NewTenant) {
                    tenant_auth = format!(
                        "Basic {}",
                        base64::Engine::encode(
                            &base64::engine::general_purpose::STANDARD,
                            format!("rzp_test_T{n:013}:secret{n}")
                        )
                    );
                    &tenant_auth
                } else {
                    RZP_AUTH
                },
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
            Self::QontoCreate => (
                "POST",
                "/qonto/v2/payment_links".into(),
                QONTO_AUTH,
                Bytes::from(format!(
                    r#"{{"payment_link":{{"invoice_id":"550e8400-e29b-41d4-a716-446655440001","invoice_number":"INV-{n}","debitor_name":"Bench","amount":{{"value":"{}.00","currency":"EUR"}},"potential_payment_methods":["credit_card"]}}}}"#,
                    10 + n % 1000
                )),
            ),
            Self::Health => ("GET", "/__sandbox/health".into(), "", Bytes::new()),
            Self::Mixed => unreachable!("a mixed request is one of the others"),
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

    /// The status the `n`th request is answered with.
    pub(crate) fn expected(self, n: u64) -> u16 {
        match self.at(n) {
            Self::InvalidOrder => 400,
            Self::QontoCreate => 201,
            _ => 200,
        }
    }
}

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one request and returns its status.
pub(crate) async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> anyhow::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(req).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Figures {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: usize,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[index(sorted.len(), p)] as f64 / 1000.0
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
pub(crate) async fn closed_loop(
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
                if status != w.expected(n) {
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
/// measured from when each request was due when the connection was still busy with the one
/// before (so a stall counts against the server), and from when it was sent otherwise: a timer
/// that wakes the client late (tokio's have a 1 ms granularity) is the client's delay, not the
/// server's.
pub(crate) async fn open_loop(
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
            let mut free_since = origin;
            while i < total {
                let due = origin + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let start = if free_since <= due {
                    tokio::time::Instant::now()
                } else {
                    due
                };
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let status = send(&mut sender, w.request(addr, n)).await?;
                free_since = tokio::time::Instant::now();
                lat.push(free_since.duration_since(start).as_micros() as u64);
                if status != w.expected(n) {
                    errors += 1;
                }
                i += connections as u64;
            }
            anyhow::Ok((lat, errors))
        }));
    }
    gather(tasks, started).await
}

/// The index of the `p` quantile in a sorted list of `len` values.
pub(crate) fn index(len: usize, p: f64) -> usize {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a rounded fraction of a list's length fits its index type"
    )]
    let i = ((len - 1) as f64 * p).round() as usize;
    i.min(len - 1)
}
