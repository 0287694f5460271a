//! Qonto's webhooks: `v1/payment-links` (`created`, `updated`) and `v1/payment-links-connections`
//! (`connection_enabled`, `connection_revoked`), one delivery per matching subscription, in the
//! Business API envelope and signed `X-Qonto-Signature: t=<unix>,v1=<hex HMAC of "<t>.<body>">`
//! with the subscription's secret. Also the timeline jobs: settlement, expiry, scripted payments.

use std::sync::Arc;

use serde_json::{Value, json};

use super::model::PaymentLink;
use super::store::{PayAttempt, PayResult};
use super::{ID, Qonto};
use crate::clock::{Millis, rfc3339};
use crate::webhook::sign::hmac_sha256_hex;
use crate::webhook::{NewDelivery, Sign, Target, json::to_vec};

/// Qonto's signature: `X-Qonto-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
/// subscription's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QontoSigner {
    pub secret: String,
}

impl QontoSigner {
    /// `X-Qonto-Signature` for `body` at Unix time `t`: `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    fn signature(&self, body: &[u8], t: u64) -> String {
        let t = t.to_string();
        let v1 = hmac_sha256_hex(self.secret.as_bytes(), &[t.as_bytes(), b".", body]);
        format!("t={t},v1={v1}")
    }
}

impl Sign for QontoSigner {
    fn secret(&self) -> &str {
        &self.secret
    }

    /// `t` is wall-clock time, not the sandbox clock: receivers check it against their own clock
    /// (Qonto's 5-minute freshness rule), which a clock advance must not break.
    fn headers(&self, body: &[u8], _now_secs: i64, _event_id: &str) -> Vec<(&'static str, String)> {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "Qonto-Webhooks/1.0".into()),
            ("x-qonto-signature", self.signature(body, t)),
        ]
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Job {
    /// A paid payment settles; the link leaves `processing`.
    Settle {
        login: String,
        link_id: String,
        payment_id: String,
    },
    /// The link expires if it is still open with this expiration date.
    Expire {
        login: String,
        link_id: String,
        expiration: Millis,
    },
    /// A scenario pays the link.
    Pay {
        login: String,
        link_id: String,
        attempt: PayAttempt,
    },
}

pub(crate) fn run(q: &Qonto, job: Job) {
    let now = q.ctx.clock.now_ms();
    match job {
        Job::Settle {
            login,
            link_id,
            payment_id,
        } => {
            let settled = q
                .store
                .lock()
                .settle(&login, &link_id, &payment_id, now);
            if let Some(link) = settled {
                link_event(q, &login, "updated", &link);
            }
        }
        Job::Expire {
            login,
            link_id,
            expiration,
        } => {
            let expired = q
                .store
                .lock()
                .expire(&login, &link_id, expiration, now);
            if let Some(link) = expired {
                link_event(q, &login, "updated", &link);
            }
        }
        Job::Pay {
            login,
            link_id,
            attempt,
        } => {
            let paid = q
                .store
                .lock()
                .pay(&login, &link_id, attempt, now, &q.ctx.ids);
            match paid {
                Ok(result) => after_payment(q, &login, &result),
                Err(e) => tracing::info!(link = %link_id, "scripted payment skipped: {e}"),
            }
        }
    }
}

/// Sends what a payment changed and schedules its settlement.
pub(crate) fn after_payment(q: &Qonto, login: &str, result: &PayResult) {
    if result.link_changed {
        link_event(q, login, "updated", &result.link);
    }
    if result.payment.settling {
        q.ctx.timeline.at(
            q.ctx.clock.now_ms() + q.config.settlement_delay.as_ms(),
            crate::timeline::Job::provider(
                ID,
                login,
                Job::Settle {
                    login: login.to_string(),
                    link_id: result.link.id.clone(),
                    payment_id: result.payment.id.clone(),
                },
            ),
        );
    }
}

/// Queues one delivery per subscription of `login` that takes `kind`. Returns their ids.
fn send(q: &Qonto, login: &str, kind: &str, reference: &str, data: &Value) -> Vec<String> {
    let (org_id, membership_id, subs) = {
        let store = q.store.lock();
        let Some(org) = store.org(login) else {
            return Vec::new();
        };
        let subs: Vec<_> = org
            .subscriptions
            .iter()
            .filter(|s| s.types.iter().any(|t| t == kind))
            .cloned()
            .collect();
        (
            org.config.organization_id.clone(),
            org.config.membership_id.clone(),
            subs,
        )
    };
    let now = q.ctx.clock.now_ms();
    let event = data["event"].as_str().unwrap_or("").to_string();
    subs.into_iter()
        .map(|sub| {
            let id = q.ctx.ids.uuid_v4();
            let body = json!({
                "id": id,
                "subscription_id": sub.id,
                "organization_id": org_id,
                "membership_id": membership_id,
                "type": kind,
                "created_at": rfc3339(now),
                "data": data,
            });
            let delivery = NewDelivery {
                id,
                provider: ID,
                tenant: login.to_string(),
                event: format!("{kind}.{event}"),
                reference: Some(reference.to_string()),
                body: to_vec(&body),
                target: Some(Target {
                    url: sub.callback_url.clone(),
                    signer: Arc::new(QontoSigner {
                        secret: sub.secret.clone(),
                    }),
                    verify_token: None,
                    timeout: Some(q.config.webhook_timeout.0),
                }),
            };
            q.ctx.webhooks.enqueue(delivery, now)
        })
        .collect()
}

/// A `v1/payment-links` event (`created` or `updated`).
pub(crate) fn link_event(q: &Qonto, login: &str, event: &str, link: &PaymentLink) -> Vec<String> {
    let mut data = json!({
        "event": event,
        "status": link.status.as_str(),
        "payment_link_id": link.id,
        "amount": super::model::money(link.amount, &link.currency),
        "potential_payment_methods": link.potential_payment_methods,
    });
    if let Some(m) = &link.latest_payment_method_used {
        data["latest_payment_method_used"] = json!(m);
    }
    data["resource_id"] = json!(link.resource_id);
    data["resource_metadata"] = match &link.invoice_number {
        Some(n) => json!({"invoice_number": n}),
        None => json!({}),
    };
    data["resource_type"] = json!(link.resource_type.as_str());
    data["expired_at"] = json!(rfc3339(link.expiration));
    data["created_at"] = json!(rfc3339(link.created_at));
    data["updated_at"] = json!(rfc3339(link.updated_at));
    send(q, login, "v1/payment-links", &link.id, &data)
}

/// A `v1/payment-links-connections` event.
pub(crate) fn connection_event(q: &Qonto, login: &str, event: &str) -> Vec<String> {
    send(
        q,
        login,
        "v1/payment-links-connections",
        login,
        &json!({"event": event}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_qontos_official_test_vector() {
        let sig = QontoSigner {
            secret: "test-secret".into(),
        }
        .signature(br#"{"test":"data"}"#, 1_704_110_400);
        assert_eq!(
            sig,
            "t=1704110400,v1=56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"
        );
    }
}
