//! The processes a measurement drives: the baseline server and the sandbox binary.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::load::{Workload, connect, send};

/// The fixed answer of both reference servers: Graph's answer to a send.
const SENT: &[u8] = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+91 98765 43210","wa_id":"919876543210"}],"messages":[{"id":"wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQzI2RTcxRUNBN0IwMDRDQjYwAA=="}]}"#;

/// `bench --serve-baseline`: a minimal hyper server answering every request with a fixed JSON
/// body, after reading the request body (as any server must). With `checking`
/// (`bench --serve-checking`), it also parses the body and validates it against the sandbox's
/// JSON Schemas, answering 400 when anything is wrong: a plain server that only checks a send.
/// Prints its address and serves.
pub(crate) fn serve_baseline(checking: bool) -> ! {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let schemas = Arc::new(checking.then(paylink_sandbox::bench::SchemaCheck::load));
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("addr")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let schemas = schemas.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let schemas = schemas.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            answer(req, schemas.as_ref().as_ref()).await,
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn answer(
    req: Request<Incoming>,
    schemas: Option<&paylink_sandbox::bench::SchemaCheck>,
) -> hyper::Response<Full<Bytes>> {
    // As a webhook receiver (the `outage` workload): pass Meta's handshake.
    let challenge = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("hub.challenge="))
            .map(str::to_string)
    });
    if let Some(challenge) = challenge {
        return hyper::Response::new(Full::new(Bytes::from(challenge)));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let valid = schemas.is_none_or(|s| s.check(&body) == Some(0));
    hyper::Response::builder()
        .status(if valid { 200 } else { 400 })
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(SENT)))
        .expect("response")
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn rss_kb(&self) -> u64 {
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

/// The sandbox binary of this build (`cargo bench` runs from `target/release/deps`), built if
/// missing.
fn sandbox_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().unwrap_or(std::path::Path::new("."));
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let path = dir.join("paylink-sandbox");
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

/// The sandbox binary, with the fixtures' customer (`+91 98765 43210`) having written in, so
/// the orders the workloads send fall inside the 24-hour customer-service window, as a real
/// merchant's do.
pub(crate) async fn start_sandbox(extra: &[&str]) -> anyhow::Result<Server> {
    let mut args = vec!["--port", "0", "--seed", "1", "--log-level", "warn"];
    args.extend_from_slice(extra);
    let server = spawn(sandbox_binary()?, &args).await?;
    let opened = reqwest::Client::new()
        .post(format!(
            "http://{}/__sandbox/whatsapp/users/919876543210/messages",
            server.addr
        ))
        .json(&serde_json::json!({"text": "Hi, I would like to order"}))
        .send()
        .await?;
    anyhow::ensure!(
        opened.status().is_success(),
        "the customer could not write in: {}",
        opened.status()
    );
    Ok(server)
}

pub(crate) async fn start_baseline() -> anyhow::Result<Server> {
    spawn(std::env::current_exe()?, &["--serve-baseline"]).await
}

/// The second reference: a plain hyper server that parses and schema-checks each send.
pub(crate) async fn start_checking() -> anyhow::Result<Server> {
    spawn(std::env::current_exe()?, &["--serve-checking"]).await
}

/// From spawning the sandbox to its first accepted `order_details`.
pub(crate) async fn startup_ms(baseline: bool) -> anyhow::Result<(f64, u64)> {
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

/// A config file in the temporary directory, removed when dropped.
pub(crate) struct ConfigFile(std::path::PathBuf);

impl ConfigFile {
    pub(crate) fn new(name: &str, toml: &str) -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("paylink-bench-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, toml)?;
        Ok(Self(path))
    }

    pub(crate) fn path(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
