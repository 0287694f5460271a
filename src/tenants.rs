//! Tenants made on the fly by `--accept-any-credentials`, per provider, least recently used
//! first: past `server.max_tenants` the one unused longest is forgotten (its state, its waiting
//! jobs and deliveries), and counted. Configured tenants are never tracked, so never forgotten.
//! Each request of a tracked tenant costs O(log n).

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::ids::ProviderId;

#[derive(Debug, Default)]
struct Lru {
    last: HashMap<String, u64>,
    by_age: BTreeMap<u64, String>,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    providers: HashMap<ProviderId, Lru>,
    evicted: u64,
    /// With a data dir: the tenants touched or forgotten since the last hand-over.
    changed: Option<crate::bounded::Changed<(ProviderId, String)>>,
}

/// The tracked tenants in a saved state.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedTenants {
    /// Per provider, least recently used first.
    pub providers: BTreeMap<String, Vec<String>>,
    pub evicted: u64,
}

#[derive(Debug)]
pub(crate) struct Tenants {
    limit: usize,
    inner: Mutex<Inner>,
}

impl Tenants {
    /// At most `limit` tenants per provider; `tracked` keeps what changed for the data dir.
    pub(crate) fn new(limit: usize, tracked: bool) -> Self {
        Self {
            limit: limit.max(1),
            inner: Mutex::new(Inner {
                changed: tracked.then(Default::default),
                ..Inner::default()
            }),
        }
    }

    /// Tenants forgotten to make room so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.inner.lock().evicted
    }

    /// Hands the tenants touched or forgotten since the last call to the data dir: each
    /// tracked tenant is a row holding when it was last used.
    pub(crate) fn changes(&self, out: &mut crate::records::Changes) {
        let mut inner = self.inner.lock();
        let Some(changed) = inner.changed.as_mut().map(crate::bounded::Changed::take) else {
            return;
        };
        for (p, tenant) in changed {
            let key = crate::records::sub_key(p.as_str(), &tenant);
            match inner
                .providers
                .get(&p)
                .and_then(|lru| lru.last.get(&tenant))
            {
                Some(seq) => out.put("tenant", key, seq),
                None => out.delete("tenant", key),
            }
        }
    }

    /// Drops what changed without handing it over.
    pub(crate) fn forget_changes(&self) {
        if let Some(changed) = &mut self.inner.lock().changed {
            changed.take();
        }
    }

    /// Marks `tenant` of `provider` as just used; returns the tenant to forget when that makes
    /// one too many.
    pub(crate) fn touch(&self, provider: ProviderId, tenant: &str) -> Option<String> {
        let mut inner = self.inner.lock();
        inner.seq += 1;
        let seq = inner.seq;
        if let Some(changed) = &mut inner.changed {
            changed.mark(&(provider, tenant.to_string()));
        }
        let lru = inner.providers.entry(provider).or_default();
        if let Some(old) = lru.last.insert(tenant.to_string(), seq) {
            lru.by_age.remove(&old);
        }
        lru.by_age.insert(seq, tenant.to_string());
        if lru.last.len() <= self.limit {
            return None;
        }
        let (_, oldest) = lru.by_age.pop_first()?;
        lru.last.remove(&oldest);
        inner.evicted += 1;
        if let Some(changed) = &mut inner.changed {
            changed.mark(&(provider, oldest.clone()));
        }
        Some(oldest)
    }

    /// Forgets the tracking of `tenant` (or of every tenant of `provider`, or of all) after a
    /// reset.
    pub(crate) fn clear(&self, provider: Option<ProviderId>, tenant: Option<&str>) {
        let mut inner = self.inner.lock();
        let Inner {
            providers, changed, ..
        } = &mut *inner;
        for (p, lru) in providers.iter_mut() {
            if provider.is_some_and(|want| want != *p) {
                continue;
            }
            let gone: Vec<String> = match tenant {
                None => std::mem::take(lru).last.into_keys().collect(),
                Some(t) => lru
                    .last
                    .remove(t)
                    .map(|seq| {
                        lru.by_age.remove(&seq);
                        t.to_string()
                    })
                    .into_iter()
                    .collect(),
            };
            if let Some(changed) = changed {
                for t in gone {
                    changed.mark(&(*p, t));
                }
            }
        }
    }

    /// Every tracked tenant per provider, least recently used first, and how many were
    /// forgotten, for a saved state.
    pub(crate) fn saved(&self) -> SavedTenants {
        let inner = self.inner.lock();
        let mut providers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (p, lru) in &inner.providers {
            providers.insert(
                p.as_str().to_string(),
                lru.by_age.values().cloned().collect(),
            );
        }
        SavedTenants {
            providers,
            evicted: inner.evicted,
        }
    }

    /// Replaces the tracking with a saved state's (each list least recently used first).
    pub(crate) fn restore(&self, saved: Vec<(ProviderId, Vec<String>)>, evicted: u64) {
        let mut inner = self.inner.lock();
        let mut changed = inner.changed.take();
        if let Some(changed) = &mut changed {
            for (p, lru) in &inner.providers {
                for t in lru.last.keys() {
                    changed.mark(&(*p, t.clone()));
                }
            }
        }
        *inner = Inner {
            changed,
            ..Inner::default()
        };
        inner.evicted = evicted;
        for (p, tenants) in saved {
            for tenant in tenants {
                inner.seq += 1;
                let seq = inner.seq;
                if let Some(changed) = &mut inner.changed {
                    changed.mark(&(p, tenant.clone()));
                }
                let lru = inner.providers.entry(p).or_default();
                if let Some(old) = lru.last.insert(tenant.clone(), seq) {
                    lru.by_age.remove(&old);
                }
                lru.by_age.insert(seq, tenant);
            }
        }
    }

    /// For the health endpoint: tenants tracked per provider, the limit, and how many were
    /// forgotten.
    pub(crate) fn counts(&self) -> Value {
        let inner = self.inner.lock();
        let active: serde_json::Map<String, Value> = inner
            .providers
            .iter()
            .map(|(p, lru)| (p.as_str().to_string(), json!(lru.last.len())))
            .collect();
        json!({"dynamic": active, "limit": self.limit, "evicted": inner.evicted})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_tenant_goes_first() {
        let t = Tenants::new(2, false);
        let p = ProviderId::new("razorpay");
        assert_eq!(t.touch(p, "a"), None);
        assert_eq!(t.touch(p, "b"), None);
        assert_eq!(t.touch(p, "a"), None);
        assert_eq!(t.touch(p, "c").as_deref(), Some("b"));
        assert_eq!(t.touch(p, "a"), None);
        assert_eq!(t.counts()["evicted"], 1);
        // Another provider's tenants are counted on their own.
        assert_eq!(t.touch(ProviderId::new("qonto"), "x"), None);
    }
}
