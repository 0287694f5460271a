//! `paylink-sandbox listen`: prints every request and webhook of a running sandbox as it happens,
//! from `GET /__sandbox/listen`, and with `--forward-to URL` posts each webhook body to a local
//! URL with the headers it was sent with, so a developer can leave the sandbox's webhook settings
//! empty and still receive everything.
//!
//! Each webhook is forwarded once: at its first delivery attempt (or its duplicate, when a fault
//! rule sends one), or when it was produced with no target. The latter carry no signature (with
//! no target there is no secret to sign with) and an `x-paylink-sandbox-unsigned` header saying
//! so. Retries and handshakes are shown, not forwarded.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{ClientArgs, ListenArgs};

/// Runs until the sandbox stops or Ctrl-C.
pub fn run(client: &ClientArgs, args: &ListenArgs) -> ExitCode {
    let base = match client.base_url("listen") {
        Ok(b) => b.trim_end_matches('/').to_string(),
        Err(m) => {
            eprintln!("paylink-sandbox: {m}");
            return ExitCode::from(2);
        }
    };
    let result = super::runtime().block_on(async {
        tokio::select! {
            r = listen(&base, client.json, args) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => {
            eprintln!("paylink-sandbox: {m}");
            ExitCode::from(2)
        }
    }
}

async fn listen(base: &str, as_json: bool, args: &ListenArgs) -> Result<(), String> {
    let mut query = Vec::new();
    if let Some(p) = &args.provider {
        query.push(format!("provider={}", crate::http::percent_encode(p)));
    }
    if let Some(t) = &args.tenant {
        query.push(format!("tenant={}", crate::http::percent_encode(t)));
    }
    let url = format!("{base}/__sandbox/listen?{}", query.join("&"));
    let http = reqwest::Client::new();
    let mut response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot reach the sandbox at {base}: {e}"))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("HTTP {status}: {text}"));
    }
    let forward = Forwarder::new(args.forward_to.clone());
    let mut forwarded = HashSet::new();
    let mut buffer = String::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| format!("the stream from {base} broke: {e}"))?;
        let Some(chunk) = chunk else {
            return Err(format!("the sandbox at {base} closed the stream"));
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (event, data) = parse_event(&block);
            match event.as_str() {
                "ready" => {
                    let to = args
                        .forward_to
                        .as_deref()
                        .map(|u| format!(", forwarding webhooks to {u}"))
                        .unwrap_or_default();
                    eprintln!("Ready: listening to {base}{to} (Ctrl-C to stop)");
                }
                "request" | "webhook" => {
                    let item: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    println!("{}", if as_json { data.clone() } else { line(&item) });
                    if let Some(note) = forward.maybe(&item, &mut forwarded).await
                        && !as_json
                    {
                        println!("    {note}");
                    }
                }
                "lagged" => eprintln!("paylink-sandbox: fell behind; missed {data}"),
                _ => {}
            }
        }
    }
}

/// The event name and data of one SSE block.
fn parse_event(block: &str) -> (String, String) {
    let mut event = String::from("message");
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
        }
    }
    (event, data.join("\n"))
}

/// `HH:MM:SS.mmm` of a sandbox time in milliseconds, UTC.
fn time_of(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One readable line for a request or a webhook.
fn line(item: &Value) -> String {
    let at = time_of(item["at"].as_i64().unwrap_or(0));
    let provider = text(&item["provider"]);
    if item["type"] == "request" {
        let violations = item["violations"].as_u64().unwrap_or(0);
        let problems = if violations > 0 {
            format!(
                "  {violations} violation{}",
                if violations == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        return format!(
            "{at}  {provider:<8}  {} {}  {}  {:.1}ms  tenant={}{problems}",
            text(&item["method"]),
            text(&item["path"]),
            text(&item["status"]),
            item["latency_ms"].as_f64().unwrap_or(0.0),
            text(&item["tenant"]),
        );
    }
    let signed = item["headers"]
        .as_array()
        .is_some_and(|h| h.iter().any(|p| text(&p[0]).contains("signature")));
    let outcome = match (&item["url"], &item["status_code"]) {
        (Value::Null, _) => "no target".to_string(),
        (_, Value::Null) => text(&item["error"]),
        (_, code) => text(code),
    };
    format!(
        "{at}  {provider:<8}  --> {}  [{} #{}]  {outcome}  {}  {}",
        text(&item["event"]),
        text(&item["kind"]),
        text(&item["attempt"]),
        if signed { "signed" } else { "unsigned" },
        text(&item["url"]),
    )
}

struct Forwarder {
    to: Option<String>,
    http: reqwest::Client,
}

impl Forwarder {
    fn new(to: Option<String>) -> Self {
        Self {
            to,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Posts a webhook item to the forward URL if it is one to forward; says how it went.
    async fn maybe(&self, item: &Value, seen: &mut HashSet<(String, String)>) -> Option<String> {
        let to = self.to.as_deref()?;
        if item["type"] != "webhook" {
            return None;
        }
        let kind = item["kind"].as_str().unwrap_or("produced").to_string();
        if !["delivery", "duplicate", "produced"].contains(&kind.as_str()) {
            return None;
        }
        let delivery = item["delivery"].as_str().unwrap_or_default().to_string();
        if !seen.insert((delivery, kind)) {
            return None;
        }
        let mut request = self
            .http
            .post(to)
            .header("content-type", "application/json")
            .body(item["body"].as_str().unwrap_or_default().to_string());
        let headers = item["headers"].as_array().cloned().unwrap_or_default();
        for pair in &headers {
            if let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) {
                request = request.header(name, value);
            }
        }
        if item["url"].is_null() {
            request = request.header(
                "x-paylink-sandbox-unsigned",
                "no webhook target was configured, so there was no secret to sign with",
            );
        }
        Some(match request.send().await {
            Ok(r) => format!("forwarded to {to}: {}", r.status().as_u16()),
            Err(e) => format!("forwarding to {to} failed: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_and_times_read_back() {
        let (event, data) = parse_event("event: webhook\ndata: {\"a\":1}\n\n");
        assert_eq!(event, "webhook");
        assert_eq!(data, "{\"a\":1}");
        assert_eq!(time_of(1_767_225_601_250), "00:00:01.250");
    }
}
