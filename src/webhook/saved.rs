//! The delivery log in a saved state (see `crate::snapshot`): every delivery kept, in the order
//! they were made, with its attempts, its target and the secret its signer is keyed with, and the
//! callback URLs that passed Meta's handshake.
//!
//! A restored delivery that was still waiting is scheduled again at its next attempt time; one
//! that was in flight when the state was saved is sent again at once, with the same event id
//! (at least once, as the vendors promise; receivers deduplicate by event id).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Attempt, Delivery, Engine, Sign, Status, Target};
use crate::clock::Millis;
use crate::ids::ProviderId;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedWebhooks {
    /// Waiting deliveries dropped to stay within the waiting limit, so far.
    pub dropped: u64,
    /// Callback URLs (and verify tokens) that passed the handshake.
    pub verified: Vec<(String, String)>,
    pub deliveries: Vec<SavedDelivery>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedDelivery {
    id: String,
    provider: String,
    tenant: String,
    event: String,
    reference: Option<String>,
    /// The exact body sent (every provider's bodies are UTF-8 JSON).
    body: String,
    target: Option<SavedTarget>,
    status: Status,
    created_at: Millis,
    due_at: Millis,
    next_attempt_at: Option<Millis>,
    attempts: Vec<Attempt>,
    series_start: usize,
    redeliveries: u32,
    drop_first: bool,
    duplicate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTarget {
    url: String,
    /// What the signer is keyed with.
    secret: String,
    verify_token: Option<String>,
    timeout_ms: Option<u64>,
}

impl From<&Delivery> for SavedDelivery {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.clone(),
            provider: d.provider.as_str().to_string(),
            tenant: d.tenant.clone(),
            event: d.event.clone(),
            reference: d.reference.clone(),
            body: String::from_utf8_lossy(&d.body).into_owned(),
            target: d.target.as_ref().map(|t| SavedTarget {
                url: t.url.clone(),
                secret: t.signer.secret().to_string(),
                verify_token: t.verify_token.clone(),
                timeout_ms: t
                    .timeout
                    .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            }),
            status: d.status,
            created_at: d.created_at,
            due_at: d.due_at,
            next_attempt_at: d.next_attempt_at,
            attempts: d.attempts.clone(),
            series_start: d.series_start,
            redeliveries: d.redeliveries,
            drop_first: d.drop_first,
            duplicate: d.duplicate,
        }
    }
}

/// Makes a provider's signer from its secret.
pub(crate) type MakeSigner<'a> = &'a dyn Fn(ProviderId, String) -> Arc<dyn Sign>;

impl SavedDelivery {
    /// The delivery back, if it names one of `providers`; `signer` makes its signer.
    pub(crate) fn delivery(
        self,
        providers: &[&'static str],
        signer: MakeSigner<'_>,
    ) -> Result<Delivery, String> {
        let provider = ProviderId::known(&self.provider, providers).ok_or_else(|| {
            format!(
                "webhook delivery {} names provider {:?}, not one of {}",
                self.id,
                self.provider,
                providers.join(", ")
            )
        })?;
        if self.series_start > self.attempts.len() {
            return Err(format!(
                "webhook delivery {}: series_start {} is past its {} attempts",
                self.id,
                self.series_start,
                self.attempts.len()
            ));
        }
        Ok(Delivery {
            target: self.target.map(|t| Target {
                url: t.url,
                signer: signer(provider, t.secret),
                verify_token: t.verify_token,
                timeout: t.timeout_ms.map(std::time::Duration::from_millis),
            }),
            id: self.id,
            provider,
            tenant: self.tenant,
            event: self.event,
            reference: self.reference,
            body: self.body.into(),
            status: self.status,
            created_at: self.created_at,
            due_at: self.due_at,
            next_attempt_at: self.next_attempt_at,
            attempts: self.attempts,
            series_start: self.series_start,
            redeliveries: self.redeliveries,
            drop_first: self.drop_first,
            duplicate: self.duplicate,
        })
    }
}

impl Engine {
    /// The delivery log as saved: every delivery, oldest first.
    pub(crate) fn saved(&self) -> SavedWebhooks {
        let (dropped, deliveries) = {
            let log = self.log.lock();
            (
                log.dropped(),
                log.in_order().map(SavedDelivery::from).collect(),
            )
        };
        let mut verified: Vec<(String, String)> = self.verified.lock().iter().cloned().collect();
        verified.sort();
        SavedWebhooks {
            dropped,
            verified,
            deliveries,
        }
    }

    /// Hands the deliveries made, changed or forgotten since the last call to the data dir.
    pub(crate) fn changes(&self, out: &mut crate::records::Changes) {
        let mut log = self.log.lock();
        for id in log.take_changed() {
            match log.get(&id) {
                Some(d) => out.put("delivery", id, &SavedDelivery::from(d)),
                None => out.delete("delivery", id),
            }
        }
    }

    /// Drops what changed without handing it over.
    pub(crate) fn forget_changes(&self) {
        self.log.lock().take_changed();
    }

    /// What the log holds besides its deliveries: how many were dropped, and the callback
    /// URLs that passed the handshake.
    pub(crate) fn saved_meta(&self) -> serde_json::Value {
        let dropped = self.log.lock().dropped();
        let mut verified: Vec<(String, String)> = self.verified.lock().iter().cloned().collect();
        verified.sort();
        serde_json::json!({"dropped": dropped, "verified": verified})
    }

    /// Replaces the delivery log with restored deliveries and schedules each waiting one: at
    /// its next attempt time, or at `now` when it was in flight.
    pub(crate) fn restore(
        &self,
        deliveries: Vec<Delivery>,
        verified: Vec<(String, String)>,
        dropped: u64,
        now: Millis,
    ) {
        let mut due = Vec::new();
        {
            let mut log = self.log.lock();
            log.clear(None, None);
            log.set_dropped(dropped);
            for mut d in deliveries {
                match d.status {
                    Status::InFlight => {
                        d.status = Status::Retrying;
                        d.next_attempt_at = Some(now);
                    }
                    Status::Scheduled | Status::Retrying if d.target.is_none() => {
                        d.status = Status::NoTarget;
                        d.next_attempt_at = None;
                    }
                    _ => {}
                }
                if matches!(d.status, Status::Scheduled | Status::Retrying) {
                    let at = d.next_attempt_at.unwrap_or(now);
                    d.next_attempt_at = Some(at);
                    due.push((d.provider, d.tenant.clone(), d.id.clone(), at));
                }
                log.insert(d);
            }
        }
        *self.verified.lock() = verified.into_iter().collect();
        for (provider, tenant, id, at) in due {
            self.schedule(provider, tenant, &id, at);
        }
    }
}
