//! The webhook delivery engine every provider uses: queue → delay → sign → POST → record → retry.
//!
//! A provider hands over a finished body (the exact bytes to send), its signer, the target and
//! the sandbox time it is due. The engine:
//! - records the delivery in a bounded log (a delivery still waiting is never evicted);
//! - schedules it on the [`Timeline`], so delays and retries follow the sandbox clock and an
//!   advance fires whatever fell due, in time order;
//! - sends deliveries to the same URL one at a time, in the order they fell due (different URLs
//!   proceed in parallel, so a slow receiver only delays itself);
//! - before the first delivery to a Meta-style callback URL, performs the verification handshake
//!   and delivers only once the challenge is echoed;
//! - signs every attempt, POSTs it with a timeout, and records the time, status code, latency and
//!   an excerpt of the answer;
//! - retries failures on the configured schedule, keeping the event id, and leaves a delivery that
//!   exhausted its retries in the log as `failed`, where it can be redelivered.
//!
//! The engine takes only what it uses (clock, ids, fault rules, timeline, change events) and
//! knows no provider: signers come with each delivery's target.

pub(crate) mod json;
mod log;
pub(crate) mod saved;
mod send;
pub(crate) mod sign;

/// The header every outgoing webhook carries, holding this process's loop token, so the guard
/// can refuse a webhook that comes back to the sandbox.
pub(crate) const LOOP_HEADER: &str = "x-paylink-sandbox-loop";

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::clock::{Clock, Millis};
use crate::events::Events;
use crate::faults::Faults;
use crate::ids::{Ids, ProviderId};
use crate::timeline::{Job, Task, Timeline};
use log::Log;
pub(crate) use sign::Sign;

/// Where a delivery goes and how it is signed.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: String,
    pub signer: Arc<dyn Sign>,
    /// Meta's `hub.verify_token`, when the URL must pass the verification handshake first.
    pub verify_token: Option<String>,
    /// How long the vendor waits for this receiver's answer; `None` for the engine's default
    /// (`webhooks.timeout`).
    pub timeout: Option<Duration>,
}

/// A webhook a provider wants sent.
#[derive(Debug, Clone)]
pub(crate) struct NewDelivery {
    /// The event id, kept across retries and redeliveries.
    pub id: String,
    pub provider: ProviderId,
    /// The tenant the event belongs to (phone number id, key id, organisation).
    pub tenant: String,
    /// A short event name, such as `statuses.delivered` or `payment_link.paid`.
    pub event: String,
    /// What the event is about (reference id, link id, message id), for filtering.
    pub reference: Option<String>,
    pub body: Vec<u8>,
    pub target: Option<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
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
    pub(crate) fn is_finished(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::NoTarget)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttemptKind {
    /// Meta's `hub.challenge` verification GET.
    Handshake,
    Delivery,
    /// The second copy of an event a fault rule duplicates.
    Duplicate,
    /// An attempt a fault rule lost before it reached the receiver.
    Dropped,
}

/// One try at reaching the receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Attempt {
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
pub(crate) struct Delivery {
    pub id: String,
    pub provider: ProviderId,
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
    pub(crate) fn to_json(&self, full: bool) -> Value {
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
pub(crate) struct Settings {
    /// Delay before each retry; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    pub history_limit: usize,
    /// Most deliveries kept waiting for their receivers; past it the oldest are dropped.
    pub max_waiting: usize,
    /// Attempts in flight at once to one URL (each object's events still go one at a time).
    pub in_flight_per_url: usize,
    /// The state is kept in a data dir: the log keeps track of what changes.
    pub persistent: bool,
    /// Sent in `x-paylink-sandbox-loop` with every request, so the sandbox can refuse its own
    /// webhooks should a receiver's host name resolve back to it.
    pub loop_token: String,
}

/// What the engine uses of the rest of the sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Deps {
    pub clock: Arc<Clock>,
    pub ids: Arc<Ids>,
    pub faults: Arc<Faults>,
    pub timeline: Arc<Timeline>,
    pub events: Arc<Events>,
    pub feed: Arc<crate::feed::Feed>,
}

/// Filters for listing deliveries.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    pub provider: Option<String>,
    pub status: Option<Status>,
    pub reference: Option<String>,
    pub tenant: Option<String>,
    pub event: Option<String>,
    /// The last attempt's HTTP status, exact (`200`) or a class (`5xx`).
    pub code: Option<String>,
    /// Sandbox time in milliseconds: only deliveries created at or after it.
    pub since: Option<Millis>,
    pub limit: Option<usize>,
}

impl Filter {
    /// Whether `code` reads as a status or a class; the admin API refuses it by name otherwise.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self.code.as_deref() {
            Some(c) if !crate::http::is_status_or_class(c) => Err(format!(
                "code {c:?} is not a status code or a class such as 5xx"
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RedeliverError {
    #[error("no webhook delivery with id {0:?}")]
    NotFound(String),
    #[error("delivery {0:?} is being sent right now; try again when it settles")]
    InFlight(String),
    #[error("delivery {0:?} has no webhook target; configure one and try again")]
    NoTarget(String),
}

/// Attempts made since start-up, by what they led to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    /// The receiver accepted the delivery.
    pub delivered: u64,
    /// The attempt failed and a retry is scheduled.
    pub retrying: u64,
    /// The attempt failed and no retry is left.
    pub failed: u64,
}

impl Tally {
    /// What happened between `earlier` and `self`.
    pub(crate) fn since(self, earlier: Tally) -> Tally {
        Tally {
            delivered: self.delivered.saturating_sub(earlier.delivered),
            retrying: self.retrying.saturating_sub(earlier.retrying),
            failed: self.failed.saturating_sub(earlier.failed),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Engine {
    settings: Settings,
    deps: Deps,
    log: Mutex<Log>,
    /// Deliveries handed to a lane whose attempt has not finished yet.
    busy: tokio::sync::watch::Sender<usize>,
    tally: Mutex<Tally>,
    lanes: Mutex<std::collections::HashMap<String, mpsc::UnboundedSender<String>>>,
    verified: Mutex<HashSet<(String, String)>>,
    client: reqwest::Client,
}

impl Engine {
    pub(crate) fn new(settings: Settings, deps: Deps) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Invariant: the builder has no TLS or proxy settings that could fail.
            .expect("an HTTP client without TLS builds");
        Arc::new(Self {
            log: Mutex::new(Log::new(
                settings.history_limit,
                settings.max_waiting,
                settings.persistent,
            )),
            settings,
            deps,
            lanes: Mutex::default(),
            verified: Mutex::default(),
            busy: tokio::sync::watch::channel(0).0,
            tally: Mutex::default(),
            client,
        })
    }

    /// Records a delivery and schedules its first attempt at sandbox time `due`.
    pub(crate) fn enqueue(&self, new: NewDelivery, due: Millis) -> String {
        let now = self.deps.clock.now_ms();
        let fault = if new.target.is_some() {
            self.deps.faults.for_webhook(
                new.provider.as_str(),
                &new.event,
                &new.tenant,
                &self.deps.ids,
            )
        } else {
            crate::faults::WebhookDecision::default()
        };
        let due = due + fault.extra_delay_ms;
        let status = if new.target.is_some() {
            Status::Scheduled
        } else {
            Status::NoTarget
        };
        let (id, provider, tenant) = (new.id.clone(), new.provider, new.tenant.clone());
        // The log keeps the body for as long as the delivery is remembered: without the spare
        // capacity a serialiser leaves (up to half of it).
        let mut body = new.body;
        body.shrink_to_fit();
        if status == Status::NoTarget {
            self.deps.feed.publish(|| crate::feed::Item::Webhook {
                at: now,
                delivery: new.id.clone(),
                provider: new.provider,
                tenant: new.tenant.clone(),
                event: new.event.clone(),
                url: None,
                attempt: None,
                kind: None,
                status_code: None,
                ok: false,
                error: Some("no webhook target was configured".into()),
                headers: Vec::new(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        self.log.lock().insert(Delivery {
            id: new.id,
            provider: new.provider,
            tenant: new.tenant,
            event: new.event,
            reference: new.reference,
            body: Bytes::from(body),
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
        });
        if status == Status::Scheduled {
            self.schedule(provider, tenant, &id, due);
        }
        id
    }

    fn schedule(&self, provider: ProviderId, tenant: String, id: &str, at: Millis) {
        self.deps.timeline.at(
            at,
            Job {
                provider,
                tenant,
                task: Task::Deliver(id.to_string()),
            },
        );
    }

    /// Routes a due delivery to the lane of its URL (called by the timeline).
    pub(crate) fn dispatch(self: &Arc<Self>, id: &str) {
        let Some(url) = self.log.lock().waiting_url(id) else {
            return;
        };
        let mut lanes = self.lanes.lock();
        let sender = lanes.entry(url).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(send::lane(
                Arc::downgrade(self),
                rx,
                self.settings.in_flight_per_url,
            ));
            tx
        });
        self.busy.send_modify(|n| *n += 1);
        if sender.send(id.to_string()).is_err() {
            self.busy.send_modify(|n| *n -= 1);
            tracing::warn!(
                delivery = id,
                "webhook lane closed; delivery left scheduled"
            );
        }
    }

    /// Waits until every delivery handed to a lane has made its attempt (each attempt ends by
    /// the per-attempt timeout), or `patience` runs out. Returns whether the lanes settled.
    pub(crate) async fn settle(&self, patience: Duration) -> bool {
        let mut busy = self.busy.subscribe();
        tokio::time::timeout(patience, busy.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Attempts since start-up, by outcome.
    pub(crate) fn tally(&self) -> Tally {
        *self.tally.lock()
    }

    /// The per-attempt timeout.
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Sends a delivery again, keeping its id and its past attempts. `target` replaces the
    /// recorded one (used when a delivery had none).
    pub(crate) fn redeliver(&self, id: &str, target: Option<Target>) -> Result<(), RedeliverError> {
        let now = self.deps.clock.now_ms();
        let (provider, tenant) = {
            let mut log = self.log.lock();
            let mut d = log
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
            (d.provider, d.tenant.clone())
        };
        self.schedule(provider, tenant, id, now);
        Ok(())
    }

    pub(crate) fn get(&self, id: &str) -> Option<Delivery> {
        self.log.lock().get(id).cloned()
    }

    /// Deliveries matching `filter`, oldest first; `limit` keeps the newest N.
    pub(crate) fn list(&self, filter: &Filter) -> Vec<Value> {
        self.log.lock().list(filter)
    }

    /// Forgets deliveries of `provider` and `tenant` (all when `None`). Waiting ones are
    /// forgotten too: a reset means starting over.
    pub(crate) fn clear(&self, provider: Option<ProviderId>, tenant: Option<&str>) {
        self.log.lock().clear(provider, tenant);
        if provider.is_none() && tenant.is_none() {
            self.verified.lock().clear();
        }
    }

    /// Forgets which callback URLs passed the handshake (after a subscription change).
    pub(crate) fn forget_verification(&self, url: &str) {
        self.verified.lock().retain(|(u, _)| u != url);
    }

    /// How many waiting deliveries were dropped to stay within the waiting limit.
    pub(crate) fn dropped(&self) -> u64 {
        self.log.lock().dropped()
    }

    /// Counts by status, for the health endpoint.
    pub(crate) fn counts(&self) -> Value {
        self.log.lock().counts()
    }

    /// Performs Meta's verification handshake right away (the subscription call does this before
    /// it answers). Returns the error text when the receiver does not pass.
    pub(crate) async fn verify_now(&self, url: &str, token: &str) -> Result<(), String> {
        let attempt = self.handshake(url, token, 1).await;
        if attempt.ok {
            self.verified
                .lock()
                .insert((url.to_string(), token.to_string()));
            Ok(())
        } else {
            Err(attempt
                .error
                .unwrap_or_else(|| "verification failed".into()))
        }
    }
}
