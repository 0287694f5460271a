//! `flow`: the README's test recipe timed end to end (order_details, wait for `read`, the customer
//! pays, wait for the payment webhook, two order_status updates, wait for both to be read), each
//! step waited for with the admin API's `wait`, never slept. Baseline: the embedded defaults;
//! measured against it: the same flow on `--fast`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::servers::start_sandbox;
use crate::{PHONE, TOKEN};

const ORDER: &str =
    include_str!("../../fixtures/whatsapp/valid/order_details-in-payment_gateway.json");

pub(crate) async fn flow(quick: bool) -> anyhow::Result<()> {
    let runs = if quick { 1 } else { 5 };
    println!(
        "\ntest flow with waits (order, read, pay, payment webhook, two order_status), {runs} runs"
    );
    println!("  {:<44} {:>10} {:>9}", "", "ms / flow", "ratio");
    let mut baseline = 0.0;
    for (label, extra) in [
        ("baseline: embedded defaults", &[][..]),
        ("--fast", &["--fast"][..]),
    ] {
        let server = start_sandbox(extra).await?;
        let http = reqwest::Client::new();
        let started = Instant::now();
        for n in 0..runs {
            one_flow(&http, server.addr, &format!("FLOW-{n}"), n + 1).await?;
        }
        let per_flow = started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs as u32);
        if baseline == 0.0 {
            baseline = per_flow;
        }
        println!(
            "  {label:<44} {per_flow:>10.1} {:>9.3}",
            per_flow / baseline
        );
    }
    Ok(())
}

async fn one_flow(
    http: &reqwest::Client,
    addr: SocketAddr,
    reference: &str,
    nth: usize,
) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    let mut order: Value = serde_json::from_str(ORDER)?;
    order["interactive"]["action"]["parameters"]["reference_id"] = json!(reference);
    let send = |body: Value| {
        http.post(format!("{base}/whatsapp/v23.0/{PHONE}/messages"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    ok(send(order).await?).await?;
    wait(
        http,
        &base,
        &format!("whatsapp/messages?reference_id={reference}&status=read"),
    )
    .await?;
    ok(http
        .post(format!("{base}/__sandbox/whatsapp/orders/{reference}/pay"))
        .json(&json!({"outcome": "captured", "method": "upi"}))
        .send()
        .await?)
    .await?;
    wait(
        http,
        &base,
        &format!("webhooks?event=payment.captured&count={nth}"),
    )
    .await?;
    for status in ["processing", "completed"] {
        let update = json!({"messaging_product": "whatsapp", "to": "919876543210",
            "type": "interactive", "interactive": {"type": "order_status", "body": {"text": "Update"},
            "action": {"name": "review_order", "parameters": {"reference_id": reference,
            "order": {"status": status}}}}});
        ok(send(update).await?).await?;
    }
    wait(
        http,
        &base,
        &format!(
            "whatsapp/messages?reference_id={reference}&kind=order_status&status=read&count=2"
        ),
    )
    .await
}

async fn ok(response: reqwest::Response) -> anyhow::Result<()> {
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

async fn wait(http: &reqwest::Client, base: &str, what: &str) -> anyhow::Result<()> {
    let sep = if what.contains('?') { '&' } else { '?' };
    let r = http
        .get(format!("{base}/__sandbox/{what}{sep}wait=10s"))
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    ok(r).await
}
