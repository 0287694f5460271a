//! The delivery log: every delivery by id, in the order they were made, bounded twice. Past the
//! history limit the oldest *finished* deliveries are forgotten; past the waiting limit (a
//! receiver that has been down for a long time) the oldest *waiting* ones are dropped, counted
//! and logged, never silently. Every operation costs O(log n) in the number stored: the order,
//! the finished and the waiting deliveries are ordered sets of sequence numbers, and the counts
//! by status are kept as they change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};

use serde_json::{Value, json};

use super::{Delivery, Filter, Status};
use crate::ids::ProviderId;

#[derive(Debug, Default)]
struct Books {
    /// Every stored delivery's sequence number, to its id: the log's order.
    order: BTreeMap<u64, String>,
    finished: BTreeSet<u64>,
    waiting: BTreeSet<u64>,
    counts: HashMap<Status, usize>,
}

impl Books {
    fn enter(&mut self, seq: u64, status: Status) {
        *self.counts.entry(status).or_default() += 1;
        if status.is_finished() {
            self.finished.insert(seq);
        } else {
            self.waiting.insert(seq);
        }
    }

    fn leave(&mut self, seq: u64, status: Status) {
        if let Some(n) = self.counts.get_mut(&status) {
            *n = n.saturating_sub(1);
        }
        self.finished.remove(&seq);
        self.waiting.remove(&seq);
    }
}

#[derive(Debug)]
pub(super) struct Log {
    limit: usize,
    max_waiting: usize,
    /// Boxed, so the table's spare slots cost a pointer each rather than a whole delivery.
    map: HashMap<String, (u64, Box<Delivery>)>,
    books: Books,
    next: u64,
    dropped: u64,
    /// With a data dir: the deliveries made, changed or forgotten since the last hand-over.
    changed: Option<crate::bounded::Changed<String>>,
}

/// A delivery borrowed for change; the log's books follow its status when it is dropped.
pub(super) struct EntryMut<'a> {
    seq: u64,
    before: Status,
    delivery: &'a mut Delivery,
    books: &'a mut Books,
}

impl Deref for EntryMut<'_> {
    type Target = Delivery;
    fn deref(&self) -> &Delivery {
        self.delivery
    }
}

impl DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Delivery {
        self.delivery
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        if self.delivery.status != self.before {
            self.books.leave(self.seq, self.before);
            self.books.enter(self.seq, self.delivery.status);
        }
    }
}

impl Log {
    pub(super) fn new(limit: usize, max_waiting: usize, tracked: bool) -> Self {
        Self {
            limit,
            max_waiting: max_waiting.max(1),
            map: HashMap::new(),
            books: Books::default(),
            next: 0,
            dropped: 0,
            changed: tracked.then(Default::default),
        }
    }

    /// The ids of the deliveries made, changed or forgotten since the last call.
    pub(super) fn take_changed(&mut self) -> Vec<String> {
        self.changed
            .as_mut()
            .map(crate::bounded::Changed::take)
            .unwrap_or_default()
    }

    pub(super) fn get(&self, id: &str) -> Option<&Delivery> {
        self.map.get(id).map(|(_, d)| &**d)
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<EntryMut<'_>> {
        let (seq, delivery) = self.map.get_mut(id)?;
        if let Some(changed) = &mut self.changed {
            changed.mark(&delivery.id);
        }
        Some(EntryMut {
            seq: *seq,
            before: delivery.status,
            delivery,
            books: &mut self.books,
        })
    }

    /// How many waiting deliveries were dropped to stay within the waiting limit.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sets the count of dropped deliveries (a restored state brings its own).
    pub(super) fn set_dropped(&mut self, dropped: u64) {
        self.dropped = dropped;
    }

    /// Every stored delivery, oldest first.
    pub(super) fn in_order(&self) -> impl Iterator<Item = &Delivery> {
        self.books.order.values().filter_map(|id| self.get(id))
    }

    fn remove(&mut self, seq: u64) -> Option<Delivery> {
        let id = self.books.order.remove(&seq)?;
        if let Some(changed) = &mut self.changed {
            changed.mark(&id);
        }
        let (_, d) = self.map.remove(&id)?;
        self.books.leave(seq, d.status);
        Some(*d)
    }

    pub(super) fn insert(&mut self, delivery: Delivery) {
        if let Some((seq, _)) = self.map.get(&delivery.id) {
            let seq = *seq;
            self.remove(seq);
        }
        let seq = self.next;
        self.next += 1;
        if let Some(changed) = &mut self.changed {
            changed.mark(&delivery.id);
        }
        self.books.order.insert(seq, delivery.id.clone());
        self.books.enter(seq, delivery.status);
        self.map
            .insert(delivery.id.clone(), (seq, Box::new(delivery)));
        // Past the history limit, forget the oldest finished deliveries.
        while self.map.len() > self.limit {
            let Some(&oldest) = self.books.finished.first() else {
                break;
            };
            self.remove(oldest);
        }
        // Past the waiting limit, drop the oldest waiting ones, and say so.
        while self.books.waiting.len() > self.max_waiting {
            let Some(&oldest) = self.books.waiting.first() else {
                break;
            };
            if let Some(d) = self.remove(oldest) {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    tracing::warn!(
                        target: "paylink_sandbox::webhook",
                        dropped = self.dropped,
                        delivery = %d.id,
                        event = %d.event,
                        limit = self.max_waiting,
                        "webhook deliveries dropped: more than webhooks.max_waiting were waiting for their receivers"
                    );
                }
            }
        }
    }

    /// The URL of a delivery that still waits for an attempt.
    pub(super) fn waiting_url(&self, id: &str) -> Option<String> {
        match self.get(id) {
            Some(d) if !d.status.is_finished() => d.target.as_ref().map(|t| t.url.clone()),
            _ => None,
        }
    }

    pub(super) fn list(&self, filter: &Filter) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .books
            .order
            .values()
            .filter_map(|id| self.get(id))
            .filter(|d| {
                filter
                    .provider
                    .as_deref()
                    .is_none_or(|p| d.provider.as_str() == p)
                    && filter.status.is_none_or(|s| d.status == s)
                    && filter
                        .reference
                        .as_deref()
                        .is_none_or(|r| d.reference.as_deref() == Some(r))
                    && filter.tenant.as_deref().is_none_or(|t| d.tenant == t)
                    && filter.event.as_deref().is_none_or(|e| {
                        d.event == e || d.event.strip_prefix(e).is_some_and(|r| r.starts_with('.'))
                    })
                    && filter.since.is_none_or(|t| d.created_at >= t)
                    && filter.code.as_deref().is_none_or(|c| {
                        d.attempts
                            .last()
                            .and_then(|a| a.status_code)
                            .is_some_and(|s| crate::http::status_matches(s, c))
                    })
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

    pub(super) fn clear(&mut self, provider: Option<ProviderId>, tenant: Option<&str>) {
        let gone: Vec<u64> = self
            .map
            .values()
            .filter(|(_, d)| {
                provider.is_none_or(|p| d.provider == p) && tenant.is_none_or(|t| d.tenant == t)
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in gone {
            self.remove(seq);
        }
    }

    /// Deliveries by status, and how many were dropped, if any.
    pub(super) fn counts(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (status, n) in &self.books.counts {
            if *n == 0 {
                continue;
            }
            if let Ok(Value::String(name)) = serde_json::to_value(status) {
                out.insert(name, json!(n));
            }
        }
        if self.dropped > 0 {
            out.insert("dropped".into(), json!(self.dropped));
        }
        Value::Object(out)
    }
}
