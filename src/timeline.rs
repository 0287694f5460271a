//! Everything that happens later, on the sandbox clock: message statuses falling due, webhook
//! retries, link expiries, scripted payments.
//!
//! Jobs wait in one queue ordered by (due time, insertion order). A single task runs every job
//! that has fallen due, in that order, then sleeps until the next one is due, a new job arrives,
//! or the clock jumps. Advancing the clock therefore fires everything that fell due at once, in
//! time order. Jobs are quick (they record state and hand deliveries to the webhook engine), so
//! nothing here blocks on the network.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::app::Sandbox;
use crate::clock::Millis;

/// Something to do at a given sandbox time.
#[derive(Debug, Clone)]
pub enum Job {
    /// Attempt (or retry) a webhook delivery.
    Deliver { delivery_id: String },
    /// A WhatsApp happening (a status reached, a refusal reported).
    WhatsApp(crate::providers::whatsapp::webhooks::Job),
    /// A gateway happening (a link expiring, a scripted payment).
    Razorpay(crate::providers::razorpay::webhooks::Job),
    /// A Qonto happening (a settlement, an expiry, a scripted payment).
    Qonto(crate::providers::qonto::webhooks::Job),
}

#[derive(Debug, Default)]
pub struct Timeline {
    queue: Mutex<Queue>,
    wake: Notify,
}

#[derive(Debug)]
struct Queue {
    jobs: BTreeMap<(Millis, u64), Job>,
    seq: u64,
    /// The sandbox time the runner will next wake at by itself (`Millis::MAX` when it waits for
    /// a job). A new job due later than this needs no wake-up.
    armed: Millis,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            jobs: BTreeMap::new(),
            seq: 0,
            armed: Millis::MIN,
        }
    }
}

impl Timeline {
    /// Schedules `job` at sandbox time `due`.
    pub fn at(&self, due: Millis, job: Job) {
        let wake = {
            let mut q = self.queue.lock();
            q.seq += 1;
            let seq = q.seq;
            q.jobs.insert((due, seq), job);
            due < q.armed
        };
        // Waking the runner for a job behind the one it already waits for only costs a context
        // switch; it will see this one when it wakes.
        if wake {
            self.wake.notify_one();
        }
    }

    /// Jobs waiting, for the health endpoint and tests.
    pub fn pending(&self) -> usize {
        self.queue.lock().jobs.len()
    }

    /// Drops every waiting job (reset).
    pub fn clear(&self) {
        self.queue.lock().jobs.clear();
    }

    /// Keeps only the waiting jobs `keep` accepts.
    pub fn retain(&self, mut keep: impl FnMut(&Job) -> bool) {
        self.queue.lock().jobs.retain(|_, job| keep(job));
    }

    /// Removes and returns every job due at or before `now`, in order.
    fn take_due(&self, now: Millis) -> Vec<Job> {
        let mut q = self.queue.lock();
        let later = q.jobs.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut q.jobs, later);
        due.into_values().collect()
    }

    /// The next due time, recorded as the time the runner wakes at by itself.
    fn arm(&self) -> Option<Millis> {
        let mut q = self.queue.lock();
        let next = q.jobs.keys().next().map(|(due, _)| *due);
        q.armed = next.unwrap_or(Millis::MAX);
        next
    }

    /// Marks the runner busy, so every new job wakes it again.
    fn disarm(&self) {
        self.queue.lock().armed = Millis::MIN;
    }
}

/// Runs due jobs until the sandbox shuts down.
pub async fn run(sandbox: Weak<Sandbox>) {
    let (mut clock_changes, mut shutdown) = match sandbox.upgrade() {
        Some(s) => (s.clock.subscribe(), s.shutdown_signal()),
        None => return,
    };
    loop {
        let Some(s): Option<Arc<Sandbox>> = sandbox.upgrade() else {
            return;
        };
        // `notify_one` leaves a permit when nobody waits, so a job scheduled while the due jobs
        // run still wakes the next wait.
        s.timeline.disarm();
        let now = s.clock.now_ms();
        for job in s.timeline.take_due(now) {
            s.run_job(job);
        }
        let wait = s
            .timeline
            .arm()
            .and_then(|due| s.clock.real_wait_until(due));
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = sleep => {},
            () = s.timeline.wake.notified() => {},
            r = clock_changes.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}
