//! The network side of the engine: one lane per URL with up to `webhooks.in_flight_per_url`
//! attempts at once, each object's events (deliveries with the same reference) still one after
//! another in order; the signed POST, Meta's verification handshake, and what each attempt
//! decides next (delivered, a retry on the schedule, or failed). No lock is held across a
//! request.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::{Semaphore, mpsc};

use super::{Attempt, AttemptKind, Engine, Status, Target};
use crate::clock::Millis;

pub(super) async fn lane(
    engine: Weak<Engine>,
    mut rx: mpsc::UnboundedReceiver<String>,
    in_flight: usize,
) {
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    // The attempt last started for each object: the next one of that object waits for it.
    let mut last: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut handled = 0u32;
    while let Some(id) = rx.recv().await {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let key = engine
            .log
            .lock()
            .get(&id)
            .and_then(|d| d.reference.clone())
            .unwrap_or_else(|| id.clone());
        let before = last.remove(&key).filter(|t| !t.is_finished());
        // A free object takes its slot here, so the lane reads no further than its slots allow.
        // An object's next event takes a slot only once the one before it is done: a slot held
        // while waiting would idle where another object could use it. (Those waiting are bounded
        // by the deliveries waiting, `webhooks.max_waiting`.)
        let slot = match before {
            None => match permits.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return,
            },
            Some(_) => None,
        };
        let permits = permits.clone();
        let task = tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            // The semaphore is never closed; were it, the delivery would stay waiting.
            let slot = match slot {
                Some(p) => Some(p),
                None => permits.acquire_owned().await.ok(),
            };
            if let Some(slot) = slot {
                engine.attempt(&id).await;
                drop(slot);
            }
            engine.busy.send_modify(|n| *n = n.saturating_sub(1));
        });
        last.insert(key, task);
        handled = handled.wrapping_add(1);
        if handled.is_multiple_of(256) {
            last.retain(|_, t| !t.is_finished());
        }
    }
}

impl Engine {
    /// One attempt (handshake first when the URL needs one), then success, retry or failure.
    async fn attempt(&self, id: &str) {
        let (target, body, number, drop) = {
            let mut log = self.log.lock();
            let Some(mut d) = log.get_mut(id) else { return };
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
                at: self.deps.clock.now_ms(),
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
            return self.record(id, attempt);
        }

        if let Some(token) = &target.verify_token {
            let key = (target.url.clone(), token.clone());
            if !self.verified.lock().contains(&key) {
                let attempt = self.handshake(&target.url, token, number).await;
                let ok = attempt.ok;
                self.record(id, attempt);
                if !ok {
                    return;
                }
                self.verified.lock().insert(key);
                return self.deliver(id, &target, body, number + 1).await;
            }
        }
        self.deliver(id, &target, body, number).await;
    }

    /// Posts the body; on success, posts it once more if a fault rule duplicates it.
    async fn deliver(&self, id: &str, target: &Target, body: Bytes, number: usize) {
        let attempt = self
            .post(id, target, body.clone(), number, AttemptKind::Delivery)
            .await;
        let delivered = attempt.ok;
        self.record(id, attempt);
        let duplicate = delivered
            && self
                .log
                .lock()
                .get_mut(id)
                .is_some_and(|mut d| std::mem::take(&mut d.duplicate));
        if duplicate {
            let again = self
                .post(id, target, body, number + 1, AttemptKind::Duplicate)
                .await;
            self.publish(id, &again);
            if let Some(mut d) = self.log.lock().get_mut(id) {
                d.attempts.push(again);
            }
            self.deps.events.changed();
        }
    }

    /// One signed POST of the body, measured.
    async fn post(
        &self,
        id: &str,
        target: &Target,
        body: Bytes,
        number: usize,
        kind: AttemptKind,
    ) -> Attempt {
        let at = self.deps.clock.now_ms();
        let timeout = target.timeout.unwrap_or(self.settings.timeout);
        let headers = target.signer.headers(&body, at.div_euclid(1000), id);
        let mut request = self
            .client
            .post(&target.url)
            .timeout(timeout)
            .header(super::LOOP_HEADER, &self.settings.loop_token)
            .body(body);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let started = Instant::now();
        let (status_code, error, excerpt) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let excerpt = read_excerpt(response, timeout).await;
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
            latency_ms: millis(started),
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

    /// Meta's verification: `GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`, passed
    /// when the receiver answers 200 with the challenge.
    pub(super) async fn handshake(&self, url: &str, token: &str, number: usize) -> Attempt {
        let at = self.deps.clock.now_ms();
        // Derived rather than drawn, so background attempts never disturb the seeded stream
        // that request handling draws ids from.
        let mac = super::sign::hmac_sha256_hex(
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
            .header(super::LOOP_HEADER, &self.settings.loop_token)
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
                let body = read_excerpt(r, self.settings.timeout).await;
                (Some(status), body, None)
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
            latency_ms: millis(started),
            ok,
            error,
            response_excerpt: body,
            headers: vec![("hub.challenge".into(), challenge)],
        }
    }

    /// Stores an attempt and decides what comes next.
    fn record(&self, id: &str, attempt: Attempt) {
        log_attempt(id, &attempt);
        self.publish(id, &attempt);
        let ok = attempt.ok;
        let is_handshake = attempt.kind == AttemptKind::Handshake;
        let now = self.deps.clock.now_ms();
        let retry = {
            let mut log = self.log.lock();
            let Some(mut d) = log.get_mut(id) else { return };
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
                        let at = now + Millis::try_from(delay.as_millis()).unwrap_or(Millis::MAX);
                        d.status = Status::Retrying;
                        d.next_attempt_at = Some(at);
                        Some((d.provider, d.tenant.clone(), at))
                    }
                    None => {
                        d.status = Status::Failed;
                        None
                    }
                }
            }
        };
        if !is_handshake || !ok {
            let mut tally = self.tally.lock();
            match (ok, retry.is_some()) {
                (true, _) => tally.delivered += 1,
                (false, true) => tally.retrying += 1,
                (false, false) => tally.failed += 1,
            }
        }
        self.deps.events.changed();
        if let Some((provider, tenant, at)) = retry {
            self.schedule(provider, tenant, id, at);
        }
    }
}

impl Engine {
    /// Tells `listen` about an attempt (nothing is built when nobody listens).
    fn publish(&self, id: &str, attempt: &Attempt) {
        self.deps.feed.publish(|| {
            let log = self.log.lock();
            let d = log.get(id);
            crate::feed::Item::Webhook {
                at: attempt.at,
                delivery: id.to_string(),
                provider: d.map_or(crate::ids::ProviderId::new("unknown"), |d| d.provider),
                tenant: d.map(|d| d.tenant.clone()).unwrap_or_default(),
                event: d.map(|d| d.event.clone()).unwrap_or_default(),
                url: Some(attempt.url.clone()),
                attempt: Some(attempt.number),
                kind: serde_json::to_value(attempt.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                status_code: attempt.status_code,
                ok: attempt.ok,
                error: attempt.error.clone(),
                headers: attempt.headers.clone(),
                body: d
                    .map(|d| String::from_utf8_lossy(&d.body).into_owned())
                    .unwrap_or_default(),
            }
        });
    }
}

/// The delivery log on the terminal: one line per attempt at `info` under the
/// `paylink_sandbox::webhook` target.
fn log_attempt(id: &str, attempt: &Attempt) {
    let signed = attempt
        .headers
        .iter()
        .any(|(name, _)| name.contains("signature"));
    tracing::info!(
        target: "paylink_sandbox::webhook",
        delivery = %id,
        url = %attempt.url,
        attempt = attempt.number,
        kind = ?attempt.kind,
        status = attempt.status_code.map_or(0, |s| s),
        ok = attempt.ok,
        signed,
        latency_ms = attempt.latency_ms,
        error = %attempt.error.as_deref().unwrap_or("-"),
    );
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
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
