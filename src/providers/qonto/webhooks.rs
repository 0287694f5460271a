//! Qonto's webhooks: `v1/payment-links` (`created`, `updated`) and `v1/payment-links-connections`
//! (`connection_enabled`, `connection_revoked`), one delivery per matching subscription, in the
//! Business API envelope and signed `X-Qonto-Signature: t=<unix>,v1=<hex HMAC of "<t>.<body>">`
//! with the subscription's secret. Also the timeline jobs: settlement, expiry, scripted payments.

use std::sync::Arc;

use serde_json::{Value, json};

use super::model::PaymentLink;
use super::store::{PayAttempt, PayResult};
use crate::app::Sandbox;
use crate::clock::{Millis, rfc3339};
use crate::webhook::{NewDelivery, Provider, Signer, Target, json::to_vec};

#[derive(Debug, Clone)]
pub enum Job {
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

pub fn run(sandbox: &Arc<Sandbox>, job: Job) {
    let now = sandbox.clock.now_ms();
    match job {
        Job::Settle {
            login,
            link_id,
            payment_id,
        } => {
            let settled = sandbox
                .qonto
                .store
                .lock()
                .settle(&login, &link_id, &payment_id, now);
            if let Some(link) = settled {
                link_event(sandbox, &login, "updated", &link);
            }
        }
        Job::Expire {
            login,
            link_id,
            expiration,
        } => {
            let expired = sandbox
                .qonto
                .store
                .lock()
                .expire(&login, &link_id, expiration, now);
            if let Some(link) = expired {
                link_event(sandbox, &login, "updated", &link);
            }
        }
        Job::Pay {
            login,
            link_id,
            attempt,
        } => {
            let paid = sandbox
                .qonto
                .store
                .lock()
                .pay(&login, &link_id, attempt, now, &sandbox.ids);
            match paid {
                Ok(result) => after_payment(sandbox, &login, &result),
                Err(e) => tracing::info!(link = %link_id, "scripted payment skipped: {e}"),
            }
        }
    }
}

/// Sends what a payment changed and schedules its settlement.
pub fn after_payment(sandbox: &Sandbox, login: &str, result: &PayResult) {
    if result.link_changed {
        link_event(sandbox, login, "updated", &result.link);
    }
    if result.payment.settling {
        sandbox.timeline.at(
            sandbox.clock.now_ms() + sandbox.config.qonto.settlement_delay.as_ms(),
            crate::timeline::Job::Qonto(Job::Settle {
                login: login.to_string(),
                link_id: result.link.id.clone(),
                payment_id: result.payment.id.clone(),
            }),
        );
    }
}

/// Queues one delivery per subscription of `login` that takes `kind`. Returns their ids.
fn send(sandbox: &Sandbox, login: &str, kind: &str, reference: &str, data: Value) -> Vec<String> {
    let (org_id, membership_id, subs) = {
        let store = sandbox.qonto.store.lock();
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
    let now = sandbox.clock.now_ms();
    let event = data["event"].as_str().unwrap_or("").to_string();
    subs.into_iter()
        .map(|sub| {
            let id = sandbox.ids.uuid_v4();
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
                provider: Provider::Qonto,
                tenant: login.to_string(),
                event: format!("{kind}.{event}"),
                reference: Some(reference.to_string()),
                body: to_vec(&body),
                target: Some(Target {
                    url: sub.callback_url.clone(),
                    signer: Signer::Qonto {
                        secret: sub.secret.clone(),
                    },
                    verify_token: None,
                }),
            };
            sandbox.webhooks.enqueue(sandbox, delivery, now)
        })
        .collect()
}

/// A `v1/payment-links` event (`created` or `updated`).
pub fn link_event(sandbox: &Sandbox, login: &str, event: &str, link: &PaymentLink) -> Vec<String> {
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
    data["resource_type"] = json!(link.resource_type);
    data["expired_at"] = json!(rfc3339(link.expiration));
    data["created_at"] = json!(rfc3339(link.created_at));
    data["updated_at"] = json!(rfc3339(link.updated_at));
    send(sandbox, login, "v1/payment-links", &link.id, data)
}

/// A `v1/payment-links-connections` event.
pub fn connection_event(sandbox: &Sandbox, login: &str, event: &str) -> Vec<String> {
    send(
        sandbox,
        login,
        "v1/payment-links-connections",
        login,
        json!({"event": event}),
    )
}
