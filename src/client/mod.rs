//! The subcommands that drive a running sandbox through its admin API, for demos and shell
//! scripts: `pay`, `clock`, `webhooks`, `reset`. They print readable tables, or JSON with
//! `--json`. Exit status: 0 on success, 1 when the sandbox refused, 2 when it cannot be reached.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{
    ClientArgs, ClockAction, PayArgs, ResetArgs, SnapshotAction, TriggerArgs, WebhooksArgs,
};

pub mod listen;

struct Client {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug)]
enum Failure {
    /// The sandbox answered with an error.
    Refused(String),
    /// The sandbox could not be reached.
    Unreachable(String),
}

impl Client {
    fn new(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Failure> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.map_err(|e| {
            Failure::Unreachable(format!("cannot reach the sandbox at {}: {e}", self.base))
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// A PUT of a JSON file as it is.
    async fn put_bytes(&self, path: &str, body: Vec<u8>) -> Result<(u16, Value), Failure> {
        let response = self
            .http
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Failure::Unreachable(format!("cannot reach the sandbox at {}: {e}", self.base))
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// A call that must succeed.
    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let (status, value) = self.call(method, path, body).await?;
        if status >= 400 {
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            return Err(Failure::Refused(format!("HTTP {status}: {message}")));
        }
        Ok(value)
    }
}

/// Column-aligned text.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(
        headers
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
    );
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn finish(result: Result<String, Failure>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(m)) => {
            eprintln!("paylink-sandbox: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(m)) => {
            eprintln!("paylink-sandbox: {m}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // Invariant: a current-thread runtime builds on every supported platform.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `pay TARGET`: the sandbox works out whose link or order the target names.
async fn pay(client: &Client, args: &PayArgs, as_json: bool) -> Result<String, Failure> {
    let mut body = json!({"target": args.target});
    if let Some(o) = &args.outcome {
        body["outcome"] = json!(o);
    }
    if let Some(m) = &args.method {
        body["method"] = json!(m);
    }
    if let Some(a) = args.amount {
        body["amount"] = json!(a);
    }
    let answer = client
        .ok(reqwest::Method::POST, "/__sandbox/pay", Some(body))
        .await?;
    if as_json {
        return Ok(format!(
            "{}\n",
            json!({"provider": answer["provider"], "result": answer["result"]})
        ));
    }
    let row = ["provider", "paid", "payment", "status", "now"]
        .iter()
        .map(|k| s(&answer[*k]))
        .collect();
    Ok(table(
        &["PROVIDER", "LINK/ORDER", "PAYMENT", "RESULT", "STATUS"],
        &[row],
    ))
}

async fn clock(
    client: &Client,
    action: &Option<ClockAction>,
    as_json: bool,
) -> Result<String, Failure> {
    let v = match action {
        None => {
            client
                .ok(reqwest::Method::GET, "/__sandbox/clock", None)
                .await?
        }
        Some(ClockAction::Advance { duration }) => {
            if crate::clock::parse_duration(duration).is_none() {
                return Err(Failure::Refused(format!(
                    "{duration:?} is not a duration such as 90s, 15m or 1h30m"
                )));
            }
            client
                .ok(
                    reqwest::Method::POST,
                    "/__sandbox/clock/advance",
                    Some(json!({"duration": duration})),
                )
                .await?
        }
    };
    if as_json {
        return Ok(format!("{v}\n"));
    }
    let mut out = table(
        &["NOW", "FROZEN", "OFFSET", "PENDING JOBS", "NEXT DUE"],
        &[vec![
            s(&v["now"]),
            s(&v["frozen"]),
            format!("{}s", v["offset_ms"].as_i64().unwrap_or(0) / 1000),
            s(&v["pending_jobs"]),
            s(&v["next_due"]),
        ]],
    );
    if let Some(ran) = v.get("ran") {
        let d = &ran["deliveries"];
        out.push_str(&format!(
            "ran {} jobs in {} steps; webhook attempts: {} delivered, {} to retry, {} failed\n",
            s(&ran["jobs_run"]),
            s(&ran["steps"]),
            s(&d["delivered"]),
            s(&d["retrying"]),
            s(&d["failed"]),
        ));
        if ran["complete"] == false {
            out.push_str(&format!(
                "not complete: {}; the rest runs in the background\n",
                s(&ran["incomplete_reason"])
            ));
        }
    }
    Ok(out)
}

async fn webhooks(client: &Client, args: &WebhooksArgs, as_json: bool) -> Result<String, Failure> {
    let mut query = Vec::new();
    if args.failed {
        query.push("status=failed".to_string());
    }
    if let Some(p) = &args.provider {
        query.push(format!("provider={}", crate::http::percent_encode(p)));
    }
    if let Some(l) = args.limit {
        query.push(format!("limit={l}"));
    }
    let path = format!("/__sandbox/webhooks?{}", query.join("&"));
    let v = client.ok(reqwest::Method::GET, &path, None).await?;
    if as_json {
        return Ok(format!("{v}\n"));
    }
    let rows: Vec<Vec<String>> = v["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            vec![
                s(&d["id"]),
                s(&d["provider"]),
                s(&d["event"]),
                s(&d["status"]),
                s(&d["attempt_count"]),
                s(&d["last_attempt"]["status_code"]),
                s(&d["url"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        return Ok("no webhook deliveries\n".into());
    }
    Ok(table(
        &[
            "ID", "PROVIDER", "EVENT", "STATUS", "ATTEMPTS", "LAST", "URL",
        ],
        &rows,
    ))
}

async fn reset(client: &Client, args: &ResetArgs, as_json: bool) -> Result<String, Failure> {
    let mut query = Vec::new();
    if let Some(p) = &args.provider {
        query.push(format!("provider={}", crate::http::percent_encode(p)));
    }
    if let Some(t) = &args.tenant {
        query.push(format!("tenant={}", crate::http::percent_encode(t)));
    }
    let v = client
        .ok(
            reqwest::Method::POST,
            &format!("/__sandbox/reset?{}", query.join("&")),
            None,
        )
        .await?;
    if as_json {
        return Ok(format!("{v}\n"));
    }
    let scope = match (&args.provider, &args.tenant) {
        (None, None) => "everything".to_string(),
        (Some(p), None) => p.clone(),
        (None, Some(t)) => format!("tenant {t}"),
        (Some(p), Some(t)) => format!("{p} tenant {t}"),
    };
    Ok(format!("reset {scope}\n"))
}

/// `trigger PROVIDER EVENT` (or `--list`).
async fn trigger(client: &Client, args: &TriggerArgs, as_json: bool) -> Result<String, Failure> {
    if args.list {
        let v = client
            .ok(reqwest::Method::GET, "/__sandbox/trigger", None)
            .await?;
        if as_json {
            return Ok(format!("{v}\n"));
        }
        let rows: Vec<Vec<String>> = v["triggers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| vec![s(&t["provider"]), s(&t["event"]), s(&t["about"])])
            .collect();
        return Ok(table(&["PROVIDER", "EVENT", "WHAT IT DOES"], &rows));
    }
    let mut body = json!({
        "provider": args.provider.clone().unwrap_or_default(),
        "event": args.event.clone().unwrap_or_default(),
    });
    for (key, value) in [
        ("tenant", &args.tenant),
        ("from", &args.from),
        ("text", &args.text),
        ("reference", &args.reference),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    if let Some(a) = args.amount {
        body["amount"] = json!(a);
    }
    let v = client
        .ok(reqwest::Method::POST, "/__sandbox/trigger", Some(body))
        .await?;
    if as_json {
        return Ok(format!("{v}\n"));
    }
    let did = &v["did"];
    let what = ["payment_link", "reference_id", "from", "short_url", "url"]
        .iter()
        .filter_map(|k| {
            did.get(*k)
                .filter(|x| !x.is_null())
                .map(|x| format!("{k} {}", s(x)))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "triggered {} {} as {}{}\n",
        s(&v["provider"]),
        s(&v["event"]),
        s(&did["tenant"]),
        if what.is_empty() {
            String::new()
        } else {
            format!(": {what}")
        }
    ))
}

/// `snapshot save FILE` and `snapshot load FILE`.
async fn snapshot(
    client: &Client,
    action: &SnapshotAction,
    as_json: bool,
) -> Result<String, Failure> {
    match action {
        SnapshotAction::Save { file } => {
            let v = client
                .ok(reqwest::Method::GET, "/__sandbox/snapshot", None)
                .await?;
            let text = format!("{v}\n");
            if file == "-" {
                return Ok(text);
            }
            std::fs::write(file, &text)
                .map_err(|e| Failure::Refused(format!("cannot write {file}: {e}")))?;
            Ok(if as_json {
                format!("{}\n", json!({"saved": file, "bytes": text.len()}))
            } else {
                format!(
                    "saved the sandbox's state to {file} ({} bytes)\n",
                    text.len()
                )
            })
        }
        SnapshotAction::Load { file } => {
            let text = std::fs::read(file)
                .map_err(|e| Failure::Refused(format!("cannot read {file}: {e}")))?;
            let (status, v) = client.put_bytes("/__sandbox/snapshot", text).await?;
            if status >= 400 {
                let mut message = format!("HTTP {status}: {}", s(&v["error"]["message"]));
                for d in v["error"]["details"].as_array().into_iter().flatten() {
                    message.push_str(&format!("\n  - {}", s(d)));
                }
                return Err(Failure::Refused(message));
            }
            if as_json {
                return Ok(format!("{v}\n"));
            }
            Ok(format!("loaded {file}: {}\n", v["state"]["providers"]))
        }
    }
}

/// The client for a command, or the exit code after saying why there is none.
fn connect(args: &ClientArgs, command: &str) -> Result<Client, ExitCode> {
    args.base_url(command).map(Client::new).map_err(|m| {
        eprintln!("paylink-sandbox: {m}");
        ExitCode::from(2)
    })
}

pub fn run_pay(client: &ClientArgs, args: &PayArgs) -> ExitCode {
    match connect(client, "pay") {
        Ok(c) => finish(runtime().block_on(pay(&c, args, client.json))),
        Err(code) => code,
    }
}

pub fn run_clock(client: &ClientArgs, action: &Option<ClockAction>) -> ExitCode {
    match connect(client, "clock") {
        Ok(c) => finish(runtime().block_on(clock(&c, action, client.json))),
        Err(code) => code,
    }
}

pub fn run_webhooks(client: &ClientArgs, args: &WebhooksArgs) -> ExitCode {
    match connect(client, "webhooks") {
        Ok(c) => finish(runtime().block_on(webhooks(&c, args, client.json))),
        Err(code) => code,
    }
}

pub fn run_reset(client: &ClientArgs, args: &ResetArgs) -> ExitCode {
    match connect(client, "reset") {
        Ok(c) => finish(runtime().block_on(reset(&c, args, client.json))),
        Err(code) => code,
    }
}

pub fn run_trigger(client: &ClientArgs, args: &TriggerArgs) -> ExitCode {
    match connect(client, "trigger") {
        Ok(c) => finish(runtime().block_on(trigger(&c, args, client.json))),
        Err(code) => code,
    }
}

pub fn run_snapshot(client: &ClientArgs, action: &SnapshotAction) -> ExitCode {
    match connect(client, "snapshot") {
        Ok(c) => finish(runtime().block_on(snapshot(&c, action, client.json))),
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let t = table(
            &["A", "LONG HEADER"],
            &[vec!["wide cell".into(), "x".into()]],
        );
        assert_eq!(t, "A          LONG HEADER\nwide cell  x\n");
    }
}
