//! The delivery log: every delivery by id, in the order they were made, bounded by the history
//! limit. Only finished deliveries are forgotten; one still waiting is kept until it finishes.

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

use super::{Delivery, Filter, Status};
use crate::ids::ProviderId;

#[derive(Debug)]
pub(super) struct Log {
    limit: usize,
    map: HashMap<String, Delivery>,
    order: VecDeque<String>,
}

impl Log {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(super) fn get(&self, id: &str) -> Option<&Delivery> {
        self.map.get(id)
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Delivery> {
        self.map.get_mut(id)
    }

    pub(super) fn insert(&mut self, delivery: Delivery) {
        let id = delivery.id.clone();
        if self.map.insert(id.clone(), delivery).is_none() {
            self.order.push_back(id);
        }
        // Past the limit, forget the oldest *finished* deliveries; a waiting one is never dropped.
        let mut excess = self.map.len().saturating_sub(self.limit);
        let mut i = 0;
        while excess > 0 && i < self.order.len() {
            let finished = self
                .map
                .get(&self.order[i])
                .is_none_or(|d| d.status.is_finished());
            if finished {
                if let Some(old) = self.order.remove(i) {
                    self.map.remove(&old);
                }
                excess -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// The URL of a delivery that still waits for an attempt.
    pub(super) fn waiting_url(&self, id: &str) -> Option<String> {
        match self.map.get(id) {
            Some(d) if !d.status.is_finished() => d.target.as_ref().map(|t| t.url.clone()),
            _ => None,
        }
    }

    pub(super) fn list(&self, filter: &Filter) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .order
            .iter()
            .filter_map(|id| self.map.get(id))
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
        self.map.retain(|_, d| {
            let hit =
                provider.is_none_or(|p| d.provider == p) && tenant.is_none_or(|t| d.tenant == t);
            !hit
        });
        let map = &self.map;
        self.order.retain(|id| map.contains_key(id));
    }

    pub(super) fn counts(&self) -> Value {
        let mut counts: HashMap<Status, usize> = HashMap::new();
        for d in self.map.values() {
            *counts.entry(d.status).or_default() += 1;
        }
        let mut out = serde_json::Map::new();
        for (status, n) in counts {
            if let Ok(Value::String(name)) = serde_json::to_value(status) {
                out.insert(name, json!(n));
            }
        }
        Value::Object(out)
    }
}
