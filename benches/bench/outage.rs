//! `outage`: the validated send's throughput while every webhook goes to a receiver that answers
//! at once (the baseline) and while the receiver refuses every connection for the whole run, with
//! the deliveries left waiting and dropped afterwards.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use crate::load::{Workload, closed_loop};
use crate::servers::{start_baseline, start_sandbox};

pub(crate) async fn outage(quick: bool) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if quick { 1 } else { 10 });
    let connections = 16;
    let receiver = start_baseline().await?;
    let up = format!("http://{}/whatsapp", receiver.addr);
    let down = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        drop(l);
        format!("http://{addr}/whatsapp")
    };
    println!(
        "\nreceiver outage: valid order_details (3 status webhooks each, statuses at once), {connections} connections, {}s each",
        duration.as_secs()
    );
    println!(
        "  {:<44} {:>9} {:>7} {:>7} {:>6} | {:>8} {:>8}",
        "receiver", "req/s", "p50 ms", "p99 ms", "ratio", "waiting", "dropped"
    );
    let mut base = None;
    for (name, url) in [
        ("up: answers 200 at once (baseline)", &up),
        ("down: refuses every connection", &down),
    ] {
        let sandbox = start_sandbox(&["--fast", "--whatsapp-callback-url", url]).await?;
        let f = closed_loop(
            sandbox.addr,
            Workload::ValidOrder,
            connections,
            duration,
            Arc::new(AtomicU64::new(1)),
        )
        .await?;
        let health: serde_json::Value =
            reqwest::get(format!("http://{}/__sandbox/health", sandbox.addr))
                .await?
                .json()
                .await?;
        let w = &health["webhooks"];
        let waiting: u64 = ["scheduled", "retrying", "in_flight"]
            .iter()
            .map(|s| w[*s].as_u64().unwrap_or(0))
            .sum();
        let base_rps = *base.get_or_insert(f.rps);
        println!(
            "  {:<44} {:>9.0} {:>7.2} {:>7.2} {:>6.2} | {:>8} {:>8}",
            name,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.rps / base_rps,
            waiting,
            w["dropped"].as_u64().unwrap_or(0)
        );
    }
    Ok(())
}
