//! A clock advance as a simulation step.
//!
//! `POST /__sandbox/clock/advance` does not just move the clock and hope: it walks the window job
//! by job. At each step the clock moves to the earliest waiting due time (never beyond the end of
//! the window), the timeline runs every job due by then, and the step waits until every webhook
//! attempt handed to a lane has finished (delivered, refused, or timed out) before looking for the
//! next due time. Whatever a job schedules inside the window (a retry after a failed attempt, the
//! next message status, an expiry, a settlement) is therefore run in the same advance, in due-time
//! order, and stamped with its own due time rather than the end of the window.
//!
//! One advance runs at a time. A step that cannot finish (a lane still busy after the attempt
//! timeout and a margin, or the whole advance reaching its budget) moves the clock to the end of
//! the window anyway and reports `complete: false`; the timeline then runs the rest in the
//! background, as it would without an advance.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::Millis;
use crate::context::Context;
use crate::webhook::Tally;

/// What one advance ran.
#[derive(Debug, Serialize)]
pub(crate) struct Advanced {
    /// Sandbox time before and after.
    pub from_ms: Millis,
    pub to_ms: Millis,
    /// Distinct due times the clock stopped at.
    pub steps: u64,
    /// Timeline jobs run (statuses, expiries, settlements and webhook attempts alike).
    pub jobs_run: u64,
    /// Webhook attempts made, by what they led to.
    pub deliveries: Tally,
    /// False when the advance stopped early (see the module doc) and left work to the
    /// background runner.
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
}

/// Most steps one advance takes; a window with more due times than this finishes in the
/// background.
const MAX_STEPS: u64 = 1_000_000;

impl Context {
    /// Moves the clock forward by `by`, running everything that falls due on the way.
    pub(crate) async fn advance(&self, by: Duration) -> Advanced {
        let running = self.timeline.take_over().await;
        let started = Instant::now();
        // The advance must answer before the request deadline cuts it off mid-window.
        let budget = self.limits.request_timeout.mul_f64(0.8);
        let patience = self.webhooks.attempt_timeout() * 2 + Duration::from_secs(1);
        let from = self.clock.now_ms();
        let to = from.saturating_add(Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX / 4));
        let (jobs_before, tally_before) = (self.timeline.jobs_run(), self.webhooks.tally());
        let mut steps = 0;
        let mut stopped = None;
        while let Some(due) = self.timeline.next_due().filter(|due| *due <= to) {
            if steps >= MAX_STEPS {
                stopped = Some(format!("stopped after {MAX_STEPS} steps"));
                break;
            }
            if started.elapsed() > budget {
                stopped = Some(format!(
                    "stopped after {} ms of real time, before the request deadline",
                    started.elapsed().as_millis()
                ));
                break;
            }
            steps += 1;
            let now = self.clock.advance_to(due);
            self.timeline.run_all_due(now, &running).await;
            if !self.webhooks.settle(patience).await {
                stopped = Some(format!(
                    "a webhook lane was still busy after {} ms",
                    patience.as_millis()
                ));
                break;
            }
        }
        self.clock.advance_to(to);
        drop(running);
        self.timeline.resume();
        Advanced {
            from_ms: from,
            to_ms: self.clock.now_ms(),
            steps,
            jobs_run: self.timeline.jobs_run() - jobs_before,
            deliveries: self.webhooks.tally().since(tally_before),
            complete: stopped.is_none(),
            incomplete_reason: stopped,
        }
    }
}
