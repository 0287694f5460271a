//! `X-Qonto-Idempotency-Key`: per organization and route, the key's state, claimed atomically
//! under the store's lock so that of concurrent requests with one key exactly one does the work.

use std::collections::HashMap;

use crate::clock::Millis;

/// How long a successful answer is replayed for the same `X-Qonto-Idempotency-Key`.
pub(super) const IDEMPOTENCY_WINDOW_MS: Millis = 30 * 60 * 1000;

/// A cached successful answer, and the body of the request that produced it.
#[derive(Debug, Clone)]
pub(super) struct Cached {
    pub fingerprint: [u8; 32],
    pub status: u16,
    pub body: Option<axum::body::Bytes>,
    pub expires_at: Millis,
}

/// Where an idempotency key stands within one organization and route.
#[derive(Debug)]
pub(super) enum Slot {
    /// The first request with the key is being handled; the same request again waits for it.
    Running {
        fingerprint: [u8; 32],
        done: tokio::sync::watch::Receiver<()>,
    },
    Done(Cached),
}

/// What a request with an idempotency key does.
#[derive(Debug)]
pub(super) enum Claim {
    /// Nobody answered this key yet: this request does the work, then calls
    /// [`Keys::finish`] or [`Keys::release`]. Dropping the sender wakes the waiters.
    Mine(tokio::sync::watch::Sender<()>),
    /// The answer to send again.
    Replay(Cached),
    /// The same request is being handled right now: wait for the receiver to close, then claim
    /// again.
    Wait(tokio::sync::watch::Receiver<()>),
    /// The key was first used with another body.
    Reused,
}

/// An idempotency key is scoped to its organization and to the route it was sent to
/// (`POST /v2/payment_links`), so one key on two routes is two keys.
type KeySlot = (String, String);

/// An organization's idempotency keys; with a data dir, also the keys changed since the last
/// hand-over.
#[derive(Debug, Default)]
pub(super) struct Keys(
    HashMap<KeySlot, Slot>,
    Option<crate::bounded::Changed<KeySlot>>,
);

impl Keys {
    /// Claims `key` for a request to `route` whose body hashes to `fingerprint`. The caller holds
    /// the store's lock, so of many concurrent requests with one key exactly one does the work.
    /// With `replay_reused`, a key sent with another body replays the first answer (what Qonto
    /// documents); otherwise it is [`Claim::Reused`].
    pub(super) fn claim(
        &mut self,
        route: &str,
        key: &str,
        fingerprint: [u8; 32],
        now: Millis,
        replay_reused: bool,
    ) -> Claim {
        if self.0.len() > 10_000 {
            let Self(slots, changed) = self;
            slots.retain(|k, slot| {
                let expired = matches!(slot, Slot::Done(c) if c.expires_at <= now);
                if expired && let Some(changed) = changed {
                    changed.mark(k);
                }
                !expired
            });
        }
        let slot_key = (route.to_string(), key.to_string());
        if let Some(changed) = &mut self.1 {
            changed.mark(&slot_key);
        }
        match self.0.get(&slot_key) {
            Some(Slot::Done(c)) if c.expires_at > now => {
                if c.fingerprint == fingerprint || replay_reused {
                    Claim::Replay(c.clone())
                } else {
                    Claim::Reused
                }
            }
            Some(Slot::Running {
                fingerprint: first,
                done,
            }) => {
                if *first == fingerprint || replay_reused {
                    Claim::Wait(done.clone())
                } else {
                    Claim::Reused
                }
            }
            _ => {
                let (tx, rx) = tokio::sync::watch::channel(());
                self.0.insert(
                    slot_key,
                    Slot::Running {
                        fingerprint,
                        done: rx,
                    },
                );
                Claim::Mine(tx)
            }
        }
    }

    /// Keeps the successful answer to a claimed key for [`IDEMPOTENCY_WINDOW_MS`].
    pub(super) fn finish(
        &mut self,
        route: &str,
        key: &str,
        status: u16,
        body: Option<axum::body::Bytes>,
        now: Millis,
    ) {
        let slot_key = (route.to_string(), key.to_string());
        if let Some(Slot::Running { fingerprint, .. }) = self.0.get(&slot_key) {
            let fingerprint = *fingerprint;
            if let Some(changed) = &mut self.1 {
                changed.mark(&slot_key);
            }
            self.0.insert(
                slot_key,
                Slot::Done(Cached {
                    fingerprint,
                    status,
                    body,
                    expires_at: now + IDEMPOTENCY_WINDOW_MS,
                }),
            );
        }
    }

    /// Frees a claimed key whose request failed (only successes are replayed).
    pub(super) fn release(&mut self, route: &str, key: &str) {
        let slot_key = (route.to_string(), key.to_string());
        if matches!(self.0.get(&slot_key), Some(Slot::Running { .. })) {
            self.0.remove(&slot_key);
            if let Some(changed) = &mut self.1 {
                changed.mark(&slot_key);
            }
        }
    }
}

/// A replayable answer in a saved state (running claims are not saved: their requests were
/// never answered).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SavedKey {
    route: String,
    key: String,
    /// SHA-256 of the first request's body, in hex.
    fingerprint: String,
    status: u16,
    body: Option<String>,
    expires_at: Millis,
}

impl Keys {
    /// Keys that keep what changed, for the data dir.
    pub(super) fn tracked(on: bool) -> Self {
        Self(HashMap::new(), on.then(Default::default))
    }

    /// The replayable answers, for a saved state.
    pub(super) fn saved(&self) -> Vec<SavedKey> {
        let mut out: Vec<SavedKey> = self
            .0
            .iter()
            .filter_map(|((route, key), slot)| saved_key(route, key, slot))
            .collect();
        out.sort_by(|a, b| (&a.route, &a.key).cmp(&(&b.route, &b.key)));
        out
    }

    /// Hands the keys answered, replaced or forgotten since the last call to the data dir, as
    /// rows of `kind` under `tenant`.
    pub(super) fn changes(
        &mut self,
        out: &mut crate::records::Changes,
        kind: &'static str,
        tenant: &str,
        all: bool,
    ) {
        let Some(changed) = self.1.as_mut().map(crate::bounded::Changed::take) else {
            return;
        };
        let row = |(route, key): &KeySlot| crate::records::sub_key(tenant, &format!("{route}\u{1f}{key}"));
        if all {
            out.delete_tenant(kind, tenant);
            for (k, slot) in &self.0 {
                if let Some(saved) = saved_key(&k.0, &k.1, slot) {
                    out.put(kind, row(k), &saved);
                }
            }
            return;
        }
        for k in changed {
            match self.0.get(&k).and_then(|slot| saved_key(&k.0, &k.1, slot)) {
                Some(saved) => out.put(kind, row(&k), &saved),
                None => out.delete(kind, row(&k)),
            }
        }
    }

    /// Drops what changed without handing it over.
    pub(super) fn forget_changes(&mut self) {
        if let Some(changed) = &mut self.1 {
            changed.take();
        }
    }

    /// The keys of a saved state (kept track of when `tracked`), or why one is not valid.
    pub(super) fn restored(saved: Vec<SavedKey>, tracked: bool) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for k in saved {
            let fingerprint: [u8; 32] = hex::decode(&k.fingerprint)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| {
                    format!("idempotency key {:?}: fingerprint is not 64 hex digits", k.key)
                })?;
            keys.insert(
                (k.route, k.key),
                Slot::Done(Cached {
                    fingerprint,
                    status: k.status,
                    body: k.body.map(Into::into),
                    expires_at: k.expires_at,
                }),
            );
        }
        Ok(Self(keys, tracked.then(Default::default)))
    }
}

/// A replayable answer as saved; `None` for a key whose request is still running.
fn saved_key(route: &str, key: &str, slot: &Slot) -> Option<SavedKey> {
    match slot {
        Slot::Done(c) => Some(SavedKey {
            route: route.to_string(),
            key: key.to_string(),
            fingerprint: hex::encode(c.fingerprint),
            status: c.status,
            body: c
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            expires_at: c.expires_at,
        }),
        Slot::Running { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_answers_expire_after_thirty_minutes() {
        let mut s = Keys::default();
        let route = "POST /v2/payment_links";
        let Claim::Mine(_done) = s.claim(route, "k", [1; 32], 0, false) else {
            panic!("the first request claims the key");
        };
        assert!(matches!(
            s.claim(route, "k", [1; 32], 0, false),
            Claim::Wait(_)
        ));
        assert!(matches!(
            s.claim(route, "k", [2; 32], 0, false),
            Claim::Reused
        ));
        s.finish(route, "k", 201, None, 0);
        let at = IDEMPOTENCY_WINDOW_MS - 1;
        assert!(matches!(
            s.claim(route, "k", [1; 32], at, false),
            Claim::Replay(_)
        ));
        assert!(matches!(
            s.claim(route, "k", [2; 32], at, true),
            Claim::Replay(_)
        ));
        assert!(matches!(
            s.claim("POST /v2/webhook_subscriptions",
                "k",
                [2; 32],
                at,
                false
            ),
            Claim::Mine(_)
        ));
        assert!(matches!(
            s.claim(route, "k", [2; 32], IDEMPOTENCY_WINDOW_MS, false),
            Claim::Mine(_)
        ));
    }

    #[test]
    fn a_failed_request_frees_its_key() {
        let mut s = Keys::default();
        let route = "POST /v2/payment_links";
        assert!(matches!(
            s.claim(route, "k", [1; 32], 0, false),
            Claim::Mine(_)
        ));
        s.release(route, "k");
        assert!(matches!(
            s.claim(route, "k", [2; 32], 0, false),
            Claim::Mine(_)
        ));
    }
}
