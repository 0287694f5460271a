//! The webhook delivery engine every provider uses: queue → delay → sign → POST → record → retry.
//!
//! A provider hands over a finished body (the exact bytes to send), the signing scheme, the target
//! and the sandbox time it is due. The engine:
//! - records the delivery in a bounded log (a delivery still waiting is never evicted);
//! - schedules it on the [`Timeline`](crate::timeline::Timeline), so delays and retries follow
//!   the sandbox clock and an advance fires whatever fell due, in time order;
//! - sends deliveries to the same URL one at a time, in the order they fell due (different URLs
//!   proceed in parallel, so a slow receiver only delays itself);
//! - before the first delivery to a Meta callback URL, performs the verification handshake and
//!   delivers only once the challenge is echoed;
//! - signs every attempt, POSTs it with a timeout, and records the time, status code, latency and
//!   an excerpt of the answer;
//! - retries failures on the configured schedule, keeping the event id, and leaves a delivery that
//!   exhausted its retries in the log as `failed`, where it can be redelivered.

pub mod json;
pub mod sign;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::app::Sandbox;
use crate::clock::Millis;
use crate::timeline::Job;
pub use sign::Signer;

/// Which API a delivery belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Whatsapp,
    Razorpay,
    Qonto,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Whatsapp => "whatsapp",
            Provider::Razorpay => "razorpay",
            Provider::Qonto => "qonto",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp" => Some(Provider::Whatsapp),
            "razorpay" => Some(Provider::Razorpay),
            "qonto" => Some(Provider::Qonto),
            _ => None,
        }
    }
}

/// Where a delivery goes and how it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub signer: Signer,
    /// Meta's `hub.verify_token`, when the URL must pass the verification handshake first.
    pub verify_token: Option<String>,
}

/// A webhook a provider wants sent.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The event id, kept across retries and redeliveries.
    pub id: String,
    pub provider: Provider,
    /// The tenant the event belongs to (phone number id, key id, organisation).
    pub tenant: String,
    /// A short event name, such as `statuses.delivered` or `payment_link.paid`.
    pub event: String,
    /// What the event is about (reference id, link id, message id), for filtering.
    pub reference: Option<String>,
    pub body: Vec<u8>,
    pub target: Option<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its due time.
    Scheduled,
    /// Being sent now.
    InFlight,
    Delivered,
    /// An attempt failed; another is scheduled.
    Retrying,
    /// Every retry failed; kept for inspection and redelivery.
    Failed,
    /// No webhook target was configured when the event happened.
    NoTarget,
}

impl Status {
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::NoTarget)
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptKind {
    /// Meta's `hub.challenge` verification GET.
    Handshake,
    Delivery,
    /// The second copy of an event a fault rule duplicates.
    Duplicate,
    /// An attempt a fault rule lost before it reached the receiver.
    Dropped,
}

/// One try at reaching the receiver.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub number: usize,
    pub kind: AttemptKind,
    /// Sandbox time the attempt started, in milliseconds.
    pub at: Millis,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub response_excerpt: String,
    /// The signature and event headers sent.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub provider: Provider,
    pub tenant: String,
    pub event: String,
    pub reference: Option<String>,
    pub body: Bytes,
    pub target: Option<Target>,
    pub status: Status,
    pub created_at: Millis,
    pub due_at: Millis,
    pub next_attempt_at: Option<Millis>,
    pub attempts: Vec<Attempt>,
    /// Index in `attempts` where the current series (first try or redelivery) began.
    series_start: usize,
    pub redeliveries: u32,
    /// Fault injection: lose the first attempt (it is retried), and send a success twice.
    drop_first: bool,
    duplicate: bool,
}

impl Delivery {
    /// The delivery as the admin API shows it; `full` adds the body and every attempt.
    pub fn to_json(&self, full: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "provider": self.provider,
            "tenant": self.tenant,
            "event": self.event,
            "reference": self.reference,
            "url": self.target.as_ref().map(|t| t.url.clone()),
            "status": self.status,
            "created_at": self.created_at,
            "due_at": self.due_at,
            "next_attempt_at": self.next_attempt_at,
            "attempt_count": self.attempts.len(),
            "redeliveries": self.redeliveries,
        });
        if let Some(last) = self.attempts.last() {
            v["last_attempt"] = json!({
                "at": last.at, "kind": last.kind, "status_code": last.status_code,
                "ok": last.ok, "error": last.error, "latency_ms": last.latency_ms,
            });
        }
        if full {
            v["attempts"] = serde_json::to_value(&self.attempts).unwrap_or(Value::Null);
            v["body"] = serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()));
            v["body_raw"] = Value::String(String::from_utf8_lossy(&self.body).into());
        }
        v
    }
}

/// Engine settings, from the `[webhooks]` section of the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Delay before each retry; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    pub history_limit: usize,
    /// Sent in `x-paylink-sandbox-loop` with every request, so the sandbox can refuse its own
    /// webhooks should a receiver's host name resolve back to it.
    pub loop_token: String,
}

#[derive(Debug, Default)]
struct Log {
    map: HashMap<String, Delivery>,
    order: VecDeque<String>,
}

/// Filters for listing deliveries.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    pub provider: Option<String>,
    pub status: Option<String>,
    pub reference: Option<String>,
    pub tenant: Option<String>,
    pub event: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedeliverError {
    #[error("no webhook delivery with id {0:?}")]
    NotFound(String),
    #[error("delivery {0:?} is being sent right now; try again when it settles")]
    InFlight(String),
    #[error("delivery {0:?} has no webhook target; configure one and try again")]
    NoTarget(String),
}

#[derive(Debug)]
pub struct Engine {
    settings: Settings,
    log: Mutex<Log>,
    lanes: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
    verified: Mutex<HashSet<(String, String)>>,
    client: reqwest::Client,
}

impl Engine {
    pub fn new(settings: Settings) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Invariant: the builder has no TLS or proxy settings that could fail.
            .expect("an HTTP client without TLS builds");
        Self {
            settings,
            log: Mutex::new(Log::default()),
            lanes: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashSet::new()),
            client,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records a delivery and schedules its first attempt at sandbox time `due`.
    pub fn enqueue(&self, sandbox: &Sandbox, new: NewDelivery, due: Millis) -> String {
        let now = sandbox.clock.now_ms();
        let fault = if new.target.is_some() {
            sandbox
                .faults
                .for_webhook(new.provider, &new.event, &new.tenant, &sandbox.ids)
        } else {
            crate::faults::WebhookDecision::default()
        };
        let due = due + fault.extra_delay_ms;
        let status = if new.target.is_some() {
            Status::Scheduled
        } else {
            Status::NoTarget
        };
        let id = new.id.clone();
        let delivery = Delivery {
            id: new.id,
            provider: new.provider,
            tenant: new.tenant,
            event: new.event,
            reference: new.reference,
            body: Bytes::from(new.body),
            target: new.target,
            status,
            created_at: now,
            due_at: due,
            next_attempt_at: (status == Status::Scheduled).then_some(due),
            attempts: Vec::new(),
            series_start: 0,
            redeliveries: 0,
            drop_first: fault.drop_first,
            duplicate: fault.duplicate,
        };
        self.insert(delivery);
        if status == Status::Scheduled {
            sandbox.timeline.at(
                due,
                Job::Deliver {
                    delivery_id: id.clone(),
                },
            );
        }
        id
    }

    fn insert(&self, delivery: Delivery) {
        let mut log = self.log.lock();
        let id = delivery.id.clone();
        if log.map.insert(id.clone(), delivery).is_none() {
            log.order.push_back(id);
        }
        // Past the limit, forget the oldest *finished* deliveries; a waiting one is never dropped.
        let mut excess = log.map.len().saturating_sub(self.settings.history_limit);
        let mut i = 0;
        while excess > 0 && i < log.order.len() {
            let finished = log
                .map
                .get(&log.order[i])
                .is_none_or(|d| d.status.is_finished());
            if finished {
                if let Some(old) = log.order.remove(i) {
                    log.map.remove(&old);
                }
                excess -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// Routes a due delivery to the lane of its URL (called by the timeline).
    pub fn dispatch(&self, sandbox: &Arc<Sandbox>, id: &str) {
        let url = {
            let log = self.log.lock();
            match log.map.get(id) {
                Some(d) if !d.status.is_finished() => d.target.as_ref().map(|t| t.url.clone()),
                _ => None,
            }
        };
        let Some(url) = url else { return };
        let mut lanes = self.lanes.lock();
        let sender = lanes.entry(url).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(lane(Arc::downgrade(sandbox), rx));
            tx
        });
        if sender.send(id.to_string()).is_err() {
            tracing::warn!(
                delivery = id,
                "webhook lane closed; delivery left scheduled"
            );
        }
    }

    /// One attempt (handshake first when the URL needs one), then success, retry or failure.
    async fn attempt(&self, sandbox: &Arc<Sandbox>, id: &str) {
        let (target, body, number, drop) = {
            let mut log = self.log.lock();
            let Some(d) = log.map.get_mut(id) else { return };
            if d.status.is_finished() {
                return;
            }
            let Some(target) = d.target.clone() else {
                return;
            };
            d.status = Status::InFlight;
            d.next_attempt_at = None;
            let drop = std::mem::take(&mut d.drop_first);
            (target, d.body.clone(), d.attempts.len() + 1, drop)
        };
        if drop {
            let attempt = Attempt {
                number,
                kind: AttemptKind::Dropped,
                at: sandbox.clock.now_ms(),
                url: target.url.clone(),
                status_code: None,
                latency_ms: 0,
                ok: false,
                error: Some(
                    "dropped by fault injection: the receiver never saw this attempt".into(),
                ),
                response_excerpt: String::new(),
                headers: Vec::new(),
            };
            return self.record(sandbox, id, attempt, &target);
        }

        if let Some(token) = &target.verify_token {
            let key = (target.url.clone(), token.clone());
            if !self.verified.lock().contains(&key) {
                let attempt = self.handshake(sandbox, &target.url, token, number).await;
                let ok = attempt.ok;
                self.record(sandbox, id, attempt, &target);
                if !ok {
                    return;
                }
                self.verified.lock().insert(key);
                return self.deliver(sandbox, id, &target, body, number + 1).await;
            }
        }
        self.deliver(sandbox, id, &target, body, number).await;
    }

    /// Posts the body; on success, posts it once more if a fault rule duplicates it.
    async fn deliver(
        &self,
        sandbox: &Arc<Sandbox>,
        id: &str,
        target: &Target,
        body: Bytes,
        number: usize,
    ) {
        let attempt = self
            .post(
                sandbox,
                id,
                target,
                body.clone(),
                number,
                AttemptKind::Delivery,
            )
            .await;
        let delivered = attempt.ok;
        self.record(sandbox, id, attempt, target);
        let duplicate = delivered && {
            let mut log = self.log.lock();
            log.map
                .get_mut(id)
                .is_some_and(|d| std::mem::take(&mut d.duplicate))
        };
        if duplicate {
            let again = self
                .post(
                    sandbox,
                    id,
                    target,
                    body,
                    number + 1,
                    AttemptKind::Duplicate,
                )
                .await;
            if let Some(d) = self.log.lock().map.get_mut(id) {
                d.attempts.push(again);
            }
            sandbox.events.changed();
        }
    }

    /// One signed POST of the body, measured.
    async fn post(
        &self,
        sandbox: &Arc<Sandbox>,
        id: &str,
        target: &Target,
        body: Bytes,
        number: usize,
        kind: AttemptKind,
    ) -> Attempt {
        let at = sandbox.clock.now_ms();
        let headers = target.signer.headers(&body, at.div_euclid(1000), id);
        let mut request = self
            .client
            .post(&target.url)
            .timeout(self.settings.timeout)
            .header(crate::guard::LOOP_HEADER, &self.settings.loop_token)
            .body(body);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let started = Instant::now();
        let outcome = request.send().await;
        let (status_code, error, excerpt) = match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                let excerpt = read_excerpt(response, self.settings.timeout).await;
                (Some(status), None, excerpt)
            }
            Err(e) => (None, Some(describe(&e)), String::new()),
        };
        let ok = status_code.is_some_and(|s| target.signer.accepts(s));
        let error = error.or_else(|| {
            (!ok).then(|| {
                format!(
                    "receiver answered HTTP {}",
                    status_code.map(|s| s.to_string()).unwrap_or_default()
                )
            })
        });
        Attempt {
            number,
            kind,
            at,
            url: target.url.clone(),
            status_code,
            latency_ms: started.elapsed().as_millis() as u64,
            ok,
            error,
            response_excerpt: excerpt,
            headers: headers
                .into_iter()
                .filter(|(k, _)| *k != "content-type")
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    async fn handshake(
        &self,
        sandbox: &Arc<Sandbox>,
        url: &str,
        token: &str,
        number: usize,
    ) -> Attempt {
        let at = sandbox.clock.now_ms();
        // Derived rather than drawn, so background attempts never disturb the seeded stream
        // that request handling draws ids from.
        let mac = sign::hmac_sha256_hex(
            url.as_bytes(),
            &[token.as_bytes(), &number.to_le_bytes(), &at.to_le_bytes()],
        );
        let challenge: String = mac
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .take(10)
            .collect();
        let started = Instant::now();
        let outcome = self
            .client
            .get(url)
            .header(crate::guard::LOOP_HEADER, &self.settings.loop_token)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.challenge", challenge.as_str()),
                ("hub.verify_token", token),
            ])
            .timeout(self.settings.timeout)
            .send()
            .await;
        let (status_code, body, error) = match outcome {
            Ok(r) => {
                let status = r.status().as_u16();
                (
                    Some(status),
                    read_excerpt(r, self.settings.timeout).await,
                    None,
                )
            }
            Err(e) => (None, String::new(), Some(describe(&e))),
        };
        let ok = status_code == Some(200) && body.trim() == challenge;
        let error = error.or_else(|| {
            (!ok).then(|| match status_code {
                Some(200) => format!(
                    "verification failed: the receiver did not echo hub.challenge {challenge:?}"
                ),
                Some(s) => format!("verification failed: the receiver answered HTTP {s}"),
                None => "verification failed".to_string(),
            })
        });
        Attempt {
            number,
            kind: AttemptKind::Handshake,
            at,
            url: url.to_string(),
            status_code,
            latency_ms: started.elapsed().as_millis() as u64,
            ok,
            error,
            response_excerpt: body,
            headers: vec![("hub.challenge".into(), challenge)],
        }
    }

    /// Stores an attempt and decides what comes next.
    fn record(&self, sandbox: &Arc<Sandbox>, id: &str, attempt: Attempt, target: &Target) {
        let ok = attempt.ok;
        let is_handshake = attempt.kind == AttemptKind::Handshake;
        let now = sandbox.clock.now_ms();
        let retry_at = {
            let mut log = self.log.lock();
            let Some(d) = log.map.get_mut(id) else { return };
            d.attempts.push(attempt);
            if ok && !is_handshake {
                d.status = Status::Delivered;
                None
            } else if ok {
                None
            } else {
                let failures = d.attempts[d.series_start..]
                    .iter()
                    .filter(|a| !a.ok)
                    .count();
                match self.settings.retry_schedule.get(failures - 1) {
                    Some(delay) => {
                        let at = now + delay.as_millis() as Millis;
                        d.status = Status::Retrying;
                        d.next_attempt_at = Some(at);
                        Some(at)
                    }
                    None => {
                        d.status = Status::Failed;
                        None
                    }
                }
            }
        };
        sandbox.events.changed();
        if !ok {
            tracing::debug!(delivery = id, url = %target.url, "webhook attempt failed");
        }
        if let Some(at) = retry_at {
            sandbox.timeline.at(
                at,
                Job::Deliver {
                    delivery_id: id.to_string(),
                },
            );
        }
    }

    /// Sends a delivery again, keeping its id and its past attempts. `target` replaces the
    /// recorded one (used when a delivery had none).
    pub fn redeliver(
        &self,
        sandbox: &Sandbox,
        id: &str,
        target: Option<Target>,
    ) -> Result<(), RedeliverError> {
        let now = sandbox.clock.now_ms();
        {
            let mut log = self.log.lock();
            let d = log
                .map
                .get_mut(id)
                .ok_or_else(|| RedeliverError::NotFound(id.to_string()))?;
            if d.status == Status::InFlight {
                return Err(RedeliverError::InFlight(id.to_string()));
            }
            if let Some(t) = target {
                d.target = Some(t);
            }
            if d.target.is_none() {
                return Err(RedeliverError::NoTarget(id.to_string()));
            }
            d.status = Status::Scheduled;
            d.series_start = d.attempts.len();
            d.redeliveries += 1;
            d.next_attempt_at = Some(now);
        }
        sandbox.timeline.at(
            now,
            Job::Deliver {
                delivery_id: id.to_string(),
            },
        );
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Delivery> {
        self.log.lock().map.get(id).cloned()
    }

    /// Deliveries matching `filter`, oldest first; `limit` keeps the newest N.
    pub fn list(&self, filter: &Filter) -> Vec<Value> {
        let log = self.log.lock();
        let mut out: Vec<Value> = log
            .order
            .iter()
            .filter_map(|id| log.map.get(id))
            .filter(|d| {
                filter
                    .provider
                    .as_deref()
                    .is_none_or(|p| d.provider.as_str() == p)
                    && filter.status.as_deref().is_none_or(|s| {
                        serde_json::to_value(d.status)
                            .ok()
                            .and_then(|v| v.as_str().map(|v| v == s))
                            .unwrap_or(false)
                    })
                    && filter
                        .reference
                        .as_deref()
                        .is_none_or(|r| d.reference.as_deref() == Some(r))
                    && filter.tenant.as_deref().is_none_or(|t| d.tenant == t)
                    && filter
                        .event
                        .as_deref()
                        .is_none_or(|e| d.event == e || d.event.starts_with(&format!("{e}.")))
            })
            .map(|d| d.to_json(false))
            .collect();
        if let Some(limit) = filter.limit
            && out.len() > limit
        {
            out.drain(..out.len() - limit);
        }
        out
    }

    /// Forgets deliveries, for `provider` only when given. Waiting ones are forgotten too: a reset
    /// means starting over.
    pub fn clear(&self, provider: Option<Provider>, tenant: Option<&str>) {
        {
            let mut log = self.log.lock();
            let Log { map, order } = &mut *log;
            map.retain(|_, d| {
                let hit = provider.is_none_or(|p| d.provider == p)
                    && tenant.is_none_or(|t| d.tenant == t);
                !hit
            });
            order.retain(|id| map.contains_key(id));
        }
        if provider.is_none() && tenant.is_none() {
            self.verified.lock().clear();
        }
    }

    /// The ids of the deliveries of `provider` and `tenant` (all of them when `None`).
    pub fn ids_of(&self, provider: Option<Provider>, tenant: Option<&str>) -> HashSet<String> {
        let log = self.log.lock();
        log.map
            .values()
            .filter(|d| {
                provider.is_none_or(|p| d.provider == p) && tenant.is_none_or(|t| d.tenant == t)
            })
            .map(|d| d.id.clone())
            .collect()
    }

    /// The provider and tenant of a delivery, for filtering timeline jobs.
    pub fn owner(&self, id: &str) -> Option<(Provider, String)> {
        self.log
            .lock()
            .map
            .get(id)
            .map(|d| (d.provider, d.tenant.clone()))
    }

    /// Forgets which callback URLs passed the handshake (after a subscription change).
    pub fn forget_verification(&self, url: &str) {
        self.verified.lock().retain(|(u, _)| u != url);
    }

    /// Marks a URL and token as verified (a subscription call performed the handshake).
    pub fn mark_verified(&self, url: &str, token: &str) {
        self.verified
            .lock()
            .insert((url.to_string(), token.to_string()));
    }

    /// Counts by status, for the health endpoint.
    pub fn counts(&self) -> Value {
        let log = self.log.lock();
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        for d in log.map.values() {
            let key = match d.status {
                Status::Scheduled => "scheduled",
                Status::InFlight => "in_flight",
                Status::Delivered => "delivered",
                Status::Retrying => "retrying",
                Status::Failed => "failed",
                Status::NoTarget => "no_target",
            };
            *counts.entry(key).or_default() += 1;
        }
        json!(counts)
    }

    /// Performs Meta's verification handshake right away (the subscription call does this before
    /// it answers). Returns the error text when the receiver does not pass.
    pub async fn verify_now(
        &self,
        sandbox: &Arc<Sandbox>,
        url: &str,
        token: &str,
    ) -> Result<(), String> {
        let attempt = self.handshake(sandbox, url, token, 1).await;
        if attempt.ok {
            self.mark_verified(url, token);
            Ok(())
        } else {
            Err(attempt
                .error
                .unwrap_or_else(|| "verification failed".into()))
        }
    }
}

async fn lane(sandbox: Weak<Sandbox>, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(id) = rx.recv().await {
        let Some(s) = sandbox.upgrade() else { return };
        s.webhooks.attempt(&s, &id).await;
    }
}

/// Up to 512 characters of the answer, without waiting past `timeout` for a slow body.
async fn read_excerpt(response: reqwest::Response, timeout: Duration) -> String {
    let mut response = response;
    let mut buf: Vec<u8> = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            buf.extend_from_slice(&chunk);
            if buf.len() >= 2048 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read).await;
    crate::http::excerpt(&buf, 512)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out waiting for the receiver".to_string()
    } else if e.is_connect() {
        "could not connect to the receiver".to_string()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}
