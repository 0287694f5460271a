//! Everything that happens later, on the sandbox clock: message statuses falling due, webhook
//! attempts and retries, link expiries, scripted payments.
//!
//! Jobs wait in one queue ordered by (due time, insertion order). A single task runs every job
//! that has fallen due, in that order, then sleeps until the next one is due, a new job arrives,
//! or the clock jumps. A clock advance takes the queue over for its window and runs the jobs
//! itself, step by step (see `crate::advance`). Jobs are quick (they record state and hand
//! deliveries to the webhook engine), so nothing here blocks on the network.
//!
//! The timeline knows no provider: a job names its owner (provider and tenant, so a reset can
//! drop a tenant's jobs) and carries either a webhook delivery or a payload only its provider
//! reads.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use crate::clock::{Clock, Millis};
use crate::ids::ProviderId;

/// Most due jobs run in one go before the runner yields its worker thread (a status webhook
/// costs a few microseconds, so a batch well under a millisecond).
const BATCH: usize = 64;

/// What a provider schedules for itself: any value it can read back when the job falls due.
pub(crate) trait Payload: Any + Send + Sync + std::fmt::Debug {}

impl<T: Any + Send + Sync + std::fmt::Debug> Payload for T {}

/// What a job does when it falls due.
#[derive(Debug)]
pub(crate) enum Task {
    /// Attempt (or retry) a webhook delivery.
    Deliver(String),
    /// Something the provider scheduled (a status reached, a link expiring).
    Provider(Box<dyn Payload>),
}

/// Something to do at a given sandbox time, and whose it is.
#[derive(Debug)]
pub(crate) struct Job {
    pub provider: ProviderId,
    pub tenant: String,
    pub task: Task,
}

impl Job {
    /// A provider's own job for `tenant`.
    pub(crate) fn provider(
        provider: ProviderId,
        tenant: impl Into<String>,
        payload: impl Payload,
    ) -> Self {
        Self {
            provider,
            tenant: tenant.into(),
            task: Task::Provider(Box::new(payload)),
        }
    }
}

pub(crate) struct Timeline {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Jobs run since start-up.
    jobs_run: AtomicU64,
    /// Whoever runs due jobs holds this: the background runner for one pass at a time, a clock
    /// advance for its whole window (the runner stands aside meanwhile, so the advance alone
    /// decides what runs when).
    running: tokio::sync::Mutex<()>,
    /// Where due jobs go, set by the runner while it runs (cleared when it stops, since the
    /// dispatcher holds the context that holds this timeline).
    dispatch: Mutex<Option<Arc<Dispatch>>>,
}

/// Hands one due job to its owner: a delivery to the webhook engine, the rest to the provider.
pub(crate) type Dispatch = Box<dyn Fn(Job) + Send + Sync>;

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("pending", &self.pending())
            .field("jobs_run", &self.jobs_run())
            .finish_non_exhaustive()
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(false)
    }
}

impl Timeline {
    /// An empty timeline; `tracked` keeps the provider jobs that come and go for the data dir.
    pub(crate) fn new(tracked: bool) -> Self {
        Self {
            queue: Mutex::new(Queue {
                changed: tracked.then(Default::default),
                ..Queue::default()
            }),
            wake: Notify::new(),
            jobs_run: AtomicU64::new(0),
            running: tokio::sync::Mutex::new(()),
            dispatch: Mutex::new(None),
        }
    }
}

#[derive(Debug)]
struct Queue {
    jobs: BTreeMap<(Millis, u64), Job>,
    /// The waiting jobs that belong to an object (a link), by the object's key, so they go when
    /// it goes (see [`Timeline::cancel`]).
    owners: HashMap<String, Vec<(Millis, u64)>>,
    owner_of: HashMap<(Millis, u64), String>,
    seq: u64,
    /// The sandbox time the runner will next wake at by itself (`Millis::MAX` when it waits for
    /// a job). A new job due later than this needs no wake-up.
    armed: Millis,
    /// With a data dir: the provider jobs added or gone since the last hand-over (delivery jobs
    /// are not kept: the delivery log schedules them again).
    changed: Option<crate::bounded::Changed<(Millis, u64)>>,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            jobs: BTreeMap::new(),
            owners: HashMap::new(),
            owner_of: HashMap::new(),
            seq: 0,
            armed: Millis::MIN,
            changed: None,
        }
    }
}

impl Queue {
    /// Notes that the provider job at `key` came or went.
    fn mark(&mut self, key: (Millis, u64), job: &Job) {
        if let Some(changed) = &mut self.changed
            && matches!(job.task, Task::Provider(_))
        {
            changed.mark(&key);
        }
    }

    /// Forgets that job `key` (gone from the queue) belonged to an object.
    fn unown(&mut self, key: (Millis, u64)) {
        // Most jobs belong to no object: no key to hash then.
        if self.owner_of.is_empty() {
            return;
        }
        if let Some(owner) = self.owner_of.remove(&key)
            && let Some(keys) = self.owners.get_mut(&owner)
        {
            keys.retain(|k| *k != key);
            if keys.is_empty() {
                self.owners.remove(&owner);
            }
        }
    }
}

impl Timeline {
    /// Schedules `job` at sandbox time `due`.
    pub(crate) fn at(&self, due: Millis, job: Job) {
        let wake = {
            let mut q = self.queue.lock();
            q.seq += 1;
            let seq = q.seq;
            q.mark((due, seq), &job);
            q.jobs.insert((due, seq), job);
            due < q.armed
        };
        // Waking the runner for a job behind the one it already waits for only costs a context
        // switch; it will see this one when it wakes.
        if wake {
            self.wake.notify_one();
        }
    }

    /// Schedules `job` at sandbox time `due` on behalf of the object `owner` (for example
    /// `qonto:<login>:<link id>`): [`Timeline::cancel`] of that key drops it.
    pub(crate) fn at_for(&self, due: Millis, job: Job, owner: String) {
        let wake = {
            let mut q = self.queue.lock();
            q.seq += 1;
            let key = (due, q.seq);
            q.mark(key, &job);
            q.jobs.insert(key, job);
            q.owners.entry(owner.clone()).or_default().push(key);
            q.owner_of.insert(key, owner);
            due < q.armed
        };
        if wake {
            self.wake.notify_one();
        }
    }

    /// Drops every waiting job of object `owner` (it was evicted or deleted); how many.
    pub(crate) fn cancel(&self, owner: &str) -> usize {
        let mut q = self.queue.lock();
        let keys = q.owners.remove(owner).unwrap_or_default();
        for key in &keys {
            if let Some(job) = q.jobs.remove(key) {
                q.mark(*key, &job);
            }
            q.owner_of.remove(key);
        }
        keys.len()
    }

    /// Jobs waiting, for the health endpoint and tests.
    pub(crate) fn pending(&self) -> usize {
        self.queue.lock().jobs.len()
    }

    /// The due time of the earliest waiting job.
    pub(crate) fn next_due(&self) -> Option<Millis> {
        self.queue.lock().jobs.keys().next().map(|(due, _)| *due)
    }

    /// Takes over running due jobs from the background runner until the guard is dropped (then
    /// [`Timeline::resume`] hands them back). Waits for the runner's current pass, or another
    /// advance, to finish first.
    pub(crate) async fn take_over(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.running.lock().await
    }

    /// Wakes the background runner after a take-over, so it re-plans from the queue as left.
    pub(crate) fn resume(&self) {
        self.wake.notify_one();
    }

    /// Jobs run since start-up.
    pub(crate) fn jobs_run(&self) -> u64 {
        self.jobs_run.load(Ordering::Relaxed)
    }

    /// Runs the jobs due at or before `now`, in order, at most `limit` of them; the caller holds
    /// the `running` guard. Returns how many ran.
    fn run_due(
        &self,
        now: Millis,
        limit: usize,
        _running: &tokio::sync::MutexGuard<'_, ()>,
    ) -> usize {
        let due = self.take_due(now, limit);
        let n = due.len();
        self.jobs_run.fetch_add(n as u64, Ordering::Relaxed);
        let dispatch = self.dispatch.lock().clone();
        if let Some(dispatch) = dispatch {
            for job in due {
                dispatch(job);
            }
        }
        n
    }

    /// Runs every job due at or before `now`, [`BATCH`] at a time, letting the worker thread
    /// serve other tasks between batches; the caller holds the `running` guard. A backlog of
    /// due jobs (a busy minute's statuses, a long clock advance) so never holds a thread for
    /// more than one batch. Jobs still queued between batches stay subject to a reset.
    pub(crate) async fn run_all_due(
        &self,
        now: Millis,
        running: &tokio::sync::MutexGuard<'_, ()>,
    ) -> usize {
        let mut total = 0;
        loop {
            let n = self.run_due(now, BATCH, running);
            total += n;
            if n < BATCH {
                return total;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Drops the waiting jobs of `provider` and `tenant` (all of them when `None`) for which
    /// `also` holds. `also` runs under the queue's lock and must take no lock itself.
    pub(crate) fn forget(
        &self,
        provider: Option<ProviderId>,
        tenant: Option<&str>,
        also: impl Fn(&Job) -> bool,
    ) {
        let mut q = self.queue.lock();
        let mut gone = Vec::new();
        let Queue { jobs, changed, .. } = &mut *q;
        jobs.retain(|key, job| {
            let owned = provider.is_none_or(|p| p == job.provider)
                && tenant.is_none_or(|t| t == job.tenant);
            let drop = owned && also(job);
            if drop {
                gone.push(*key);
                if let Some(changed) = changed
                    && matches!(job.task, Task::Provider(_))
                {
                    changed.mark(key);
                }
            }
            !drop
        });
        for key in gone {
            q.unown(key);
        }
    }

    /// Every waiting job `encode` keeps, in due order, with its due time and the object that
    /// owns it, for a saved state. `encode` runs under the queue's lock and must take no lock.
    pub(crate) fn saved<T>(
        &self,
        encode: impl Fn(&Job) -> Option<T>,
    ) -> Vec<(Millis, Option<String>, T)> {
        let q = self.queue.lock();
        q.jobs
            .iter()
            .filter_map(|(key, job)| Some((key.0, q.owner_of.get(key).cloned(), encode(job)?)))
            .collect()
    }

    /// Hands the provider jobs added or gone since the last call to the data dir: each waiting
    /// one as a row (`due`, `provider`, `tenant`, `owner` and what `encode` makes of it), keyed
    /// by due time and sequence. `encode` runs under the queue's lock and must take no lock.
    pub(crate) fn changes(
        &self,
        out: &mut crate::records::Changes,
        encode: impl Fn(&Job) -> Option<serde_json::Value>,
    ) {
        let mut q = self.queue.lock();
        let Some(keys) = q.changed.as_mut().map(crate::bounded::Changed::take) else {
            return;
        };
        for key in keys {
            let name = format!("{:020}.{:020}", key.0, key.1);
            let row = q.jobs.get(&key).and_then(|job| {
                Some(serde_json::json!({
                    "due": key.0,
                    "provider": job.provider,
                    "tenant": job.tenant,
                    "owner": q.owner_of.get(&key),
                    "job": encode(job)?,
                }))
            });
            match row {
                Some(mut row) => {
                    if row["owner"].is_null() {
                        row.as_object_mut().map(|r| r.remove("owner"));
                    }
                    out.put("job", name, &row);
                }
                None => out.delete("job", name),
            }
        }
    }

    /// Drops what changed without handing it over.
    pub(crate) fn forget_changes(&self) {
        if let Some(changed) = &mut self.queue.lock().changed {
            changed.take();
        }
    }

    /// Removes and returns the jobs due at or before `now`, in order, at most `limit` of them.
    fn take_due(&self, now: Millis, limit: usize) -> Vec<Job> {
        let mut q = self.queue.lock();
        let mut due = Vec::new();
        while due.len() < limit {
            let Some(entry) = q.jobs.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let (key, job) = entry.remove_entry();
            q.unown(key);
            q.mark(key, &job);
            due.push(job);
        }
        due
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

/// Runs due jobs through `dispatch` until `shutdown` turns true.
pub(crate) async fn run(
    timeline: Arc<Timeline>,
    clock: Arc<Clock>,
    mut shutdown: watch::Receiver<bool>,
    dispatch: Dispatch,
) {
    *timeline.dispatch.lock() = Some(Arc::new(dispatch));
    runner(&timeline, &clock, &mut shutdown).await;
    timeline.dispatch.lock().take();
}

async fn runner(timeline: &Timeline, clock: &Clock, shutdown: &mut watch::Receiver<bool>) {
    let mut clock_changes = clock.subscribe();
    loop {
        // `notify_one` leaves a permit when nobody waits, so a job scheduled while the due jobs
        // run still wakes the next wait.
        timeline.disarm();
        // While a clock advance holds the guard it runs the jobs itself; it wakes this loop when
        // it lets go.
        let Ok(running) = timeline.running.try_lock() else {
            tokio::select! {
                () = timeline.wake.notified() => continue,
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        };
        timeline.run_all_due(clock.now_ms(), &running).await;
        drop(running);
        let wait = timeline.arm().and_then(|due| clock.real_wait_until(due));
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = sleep => {},
            () = timeline.wake.notified() => {},
            r = clock_changes.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backlog of due jobs runs in order, a batch at a time, with other tasks served between
    /// batches instead of after the whole backlog.
    #[tokio::test(flavor = "current_thread")]
    async fn a_backlog_runs_in_order_and_lets_other_tasks_in_between_batches() {
        let timeline = Arc::new(Timeline::new(false));
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let log = seen.clone();
        *timeline.dispatch.lock() = Some(Arc::new(Box::new(move |job: Job| {
            if let Task::Provider(payload) = job.task
                && let Some(n) = (payload.as_ref() as &dyn Any).downcast_ref::<usize>()
            {
                log.lock().push(n.to_string());
            }
        })));
        let jobs = BATCH * 3 + 5;
        for n in 0..jobs {
            timeline.at(10, Job::provider(ProviderId::new("test"), "t", n));
        }
        timeline.at(11, Job::provider(ProviderId::new("test"), "t", jobs));
        let other = seen.clone();
        let served = tokio::spawn(async move { other.lock().push("other".into()) });
        let running = timeline.take_over().await;
        let ran = timeline.run_all_due(10, &running).await;
        drop(running);
        served.await.unwrap();

        assert_eq!(ran, jobs, "every job due at 10 and none due later");
        assert_eq!(timeline.pending(), 1);
        let seen = seen.lock().clone();
        let at = seen.iter().position(|s| s == "other").unwrap();
        assert_eq!(
            at, BATCH,
            "the other task ran right after the first batch: {seen:?}"
        );
        let order: Vec<usize> = seen
            .iter()
            .filter(|s| *s != "other")
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(order, (0..jobs).collect::<Vec<_>>());
    }
}
