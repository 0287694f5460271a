//! In-memory Qonto state, partitioned by organization: its connection to the provider, its
//! payment links and their payments (bounded), its webhook subscriptions and its idempotency
//! cache. Each change that a webhook reports is one method here.

use std::collections::HashMap;

use super::error::{self, QErr, QError};
use super::model::{Connection, ConnectionStatus, LinkStatus, Payment, PaymentLink, Subscription};
use super::rules::{ConnectionDraft, LinkDraft, SubscriptionDraft};
use crate::bounded::BoundedMap;
use crate::clock::Millis;
use crate::config::{QontoConfig, QontoOrganization};
use crate::ids::Ids;

/// How long a successful answer is replayed for the same `X-Qonto-Idempotency-Key`.
pub const IDEMPOTENCY_WINDOW_MS: Millis = 30 * 60 * 1000;

/// A cached successful answer, and the body of the request that produced it.
#[derive(Debug, Clone)]
pub struct Cached {
    pub fingerprint: [u8; 32],
    pub status: u16,
    pub body: Option<axum::body::Bytes>,
    pub expires_at: Millis,
}

/// Where an idempotency key stands within one organization and route.
#[derive(Debug)]
enum Slot {
    /// The first request with the key is being handled; the same request again waits for it.
    Running {
        fingerprint: [u8; 32],
        done: tokio::sync::watch::Receiver<()>,
    },
    Done(Cached),
}

/// What a request with an idempotency key does.
#[derive(Debug)]
pub enum Claim {
    /// Nobody answered this key yet: this request does the work, then calls
    /// [`Store::finish_key`] or [`Store::release_key`]. Dropping the sender wakes the waiters.
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

#[derive(Debug)]
pub struct Org {
    pub config: QontoOrganization,
    pub connection: Option<Connection>,
    pub links: BoundedMap<String, PaymentLink>,
    pub subscriptions: Vec<Subscription>,
    idempotency: HashMap<KeySlot, Slot>,
}

impl Org {
    pub fn connection_enabled(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.status == ConnectionStatus::Enabled)
    }
}

/// Who is calling: the organization, and the OAuth scopes (`None` for an API key, which the
/// sandbox lets reach every payment-link route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub login: String,
    pub scopes: Option<Vec<String>>,
}

impl Caller {
    pub fn require(&self, scope: &str) -> Result<(), QError> {
        match &self.scopes {
            Some(s) if !s.iter().any(|x| x == scope) => Err(QError::missing_scope(scope)),
            _ => Ok(()),
        }
    }
}

/// A payment made from the checkout page, the admin API or a scenario.
#[derive(Debug, Clone)]
pub struct PayAttempt {
    pub method: String,
    /// A payment status: `paid`, `open`, `pending`, `authorized`, `failed`, `canceled`,
    /// `expired`.
    pub status: String,
    pub debitor_email: Option<String>,
    /// Move an existing payment instead of creating one.
    pub payment_id: Option<String>,
}

/// What a payment did to its link.
#[derive(Debug, Clone)]
pub struct PayResult {
    pub link: PaymentLink,
    pub payment: super::model::Payment,
    /// Whether the link's status changed (an `updated` webhook is due).
    pub link_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("no payment link {0:?}")]
    NotFound(String),
    #[error("this payment link is {0} and takes no payment")]
    Closed(&'static str),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug)]
pub struct Store {
    orgs: HashMap<String, Org>,
    tokens: HashMap<String, (String, Vec<String>)>,
    onboarding: HashMap<String, String>,
    store_limit: usize,
}

impl Store {
    pub fn new(config: &QontoConfig, store_limit: usize, base_url: &str, ids: &Ids) -> Self {
        let mut store = Self {
            orgs: HashMap::new(),
            tokens: HashMap::new(),
            onboarding: HashMap::new(),
            store_limit,
        };
        for o in &config.organizations {
            store.add_org(o.clone(), base_url, ids);
        }
        store
    }

    pub fn add_org(&mut self, config: QontoOrganization, base_url: &str, ids: &Ids) {
        for t in &config.tokens {
            self.tokens
                .insert(t.token.clone(), (config.login.clone(), t.scopes.clone()));
        }
        let connection = (config.connection == "enabled").then(|| {
            let token = ids.alnum(24);
            self.onboarding.insert(token.clone(), config.login.clone());
            Connection {
                status: ConnectionStatus::Enabled,
                connection_location: format!("{base_url}/qonto/connect/{token}"),
                bank_account_id: config.bank_account_ids.first().cloned().unwrap_or_default(),
                partner_callback_url: String::new(),
                token,
                business_description: None,
            }
        });
        self.orgs.insert(
            config.login.clone(),
            Org {
                connection,
                links: BoundedMap::new(self.store_limit),
                subscriptions: Vec::new(),
                idempotency: HashMap::new(),
                config,
            },
        );
    }

    /// Forgets an organization, its links, subscriptions and tokens.
    pub fn remove_org(&mut self, login: &str) -> bool {
        self.tokens.retain(|_, (l, _)| l != login);
        self.onboarding.retain(|_, l| l != login);
        self.orgs.remove(login).is_some()
    }

    pub fn org(&self, login: &str) -> Option<&Org> {
        self.orgs.get(login)
    }

    pub fn org_mut(&mut self, login: &str) -> Option<&mut Org> {
        self.orgs.get_mut(login)
    }

    pub fn orgs(&self) -> impl Iterator<Item = &Org> {
        self.orgs.values()
    }

    /// The organization and scopes of an OAuth token.
    pub fn token(&self, token: &str) -> Option<(&str, &[String])> {
        self.tokens
            .get(token)
            .map(|(login, scopes)| (login.as_str(), scopes.as_slice()))
    }

    /// Claims `key` for a request to `route` whose body hashes to `fingerprint`. Checking and
    /// claiming happen under one lock, so of many concurrent requests with one key exactly one
    /// does the work. With `replay_reused`, a key sent with another body replays the first answer
    /// (what Qonto documents); otherwise it is [`Claim::Reused`].
    pub fn claim_key(
        &mut self,
        login: &str,
        route: &str,
        key: &str,
        fingerprint: [u8; 32],
        now: Millis,
        replay_reused: bool,
    ) -> Claim {
        let Some(org) = self.orgs.get_mut(login) else {
            // The organization went away (a reset): nothing to deduplicate against.
            return Claim::Mine(tokio::sync::watch::channel(()).0);
        };
        if org.idempotency.len() > 10_000 {
            org.idempotency
                .retain(|_, slot| !matches!(slot, Slot::Done(c) if c.expires_at <= now));
        }
        let slot_key = (route.to_string(), key.to_string());
        match org.idempotency.get(&slot_key) {
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
                org.idempotency.insert(
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
    pub fn finish_key(
        &mut self,
        login: &str,
        route: &str,
        key: &str,
        status: u16,
        body: Option<axum::body::Bytes>,
        now: Millis,
    ) {
        let Some(org) = self.orgs.get_mut(login) else {
            return;
        };
        let slot_key = (route.to_string(), key.to_string());
        if let Some(Slot::Running { fingerprint, .. }) = org.idempotency.get(&slot_key) {
            let fingerprint = *fingerprint;
            org.idempotency.insert(
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
    pub fn release_key(&mut self, login: &str, route: &str, key: &str) {
        if let Some(org) = self.orgs.get_mut(login) {
            let slot_key = (route.to_string(), key.to_string());
            if matches!(org.idempotency.get(&slot_key), Some(Slot::Running { .. })) {
                org.idempotency.remove(&slot_key);
            }
        }
    }

    /// Starts (or restarts) onboarding. Only one active connection per user.
    pub fn connect(
        &mut self,
        login: &str,
        draft: ConnectionDraft,
        ids: &Ids,
        base_url: &str,
    ) -> Result<Connection, QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        if org.connection_enabled() {
            return Err(QError::unprocessable(vec![QErr::new(
                "already_connected",
                error::MSG_ALREADY_CONNECTED,
                None,
            )]));
        }
        if let Some(old) = &org.connection {
            self.onboarding.remove(&old.token);
        }
        let token = ids.alnum(24);
        let connection = Connection {
            status: ConnectionStatus::NotConnected,
            connection_location: format!("{base_url}/qonto/connect/{token}"),
            bank_account_id: draft.bank_account_id,
            partner_callback_url: draft.partner_callback_url,
            token: token.clone(),
            business_description: draft.business_description,
        };
        self.onboarding.insert(token, login.to_string());
        org.connection = Some(connection.clone());
        Ok(connection)
    }

    /// The organization an onboarding page belongs to.
    pub fn onboarding_org(&self, token: &str) -> Option<&Org> {
        self.orgs.get(self.onboarding.get(token)?)
    }

    /// Finishes (or abandons) onboarding: `enable`, `pending` or `refuse`; `revoke` turns an
    /// enabled connection off. Returns the login, the connection and whether its status changed.
    pub fn decide(&mut self, login: &str, decision: &str) -> Result<(Connection, bool), String> {
        let org = self.orgs.get_mut(login).ok_or("no such organization")?;
        let connection = org
            .connection
            .as_mut()
            .ok_or("this organization has no connection; create one with POST /v2/payment_links/connections")?;
        let status = match decision {
            "enable" => ConnectionStatus::Enabled,
            "pending" => ConnectionStatus::Pending,
            "refuse" | "revoke" => ConnectionStatus::Disabled,
            other => {
                return Err(format!(
                    "decision {other:?} is not enable, pending, refuse or revoke"
                ));
            }
        };
        let changed = connection.status != status;
        connection.status = status;
        Ok((connection.clone(), changed))
    }

    pub fn login_of_onboarding(&self, token: &str) -> Option<String> {
        self.onboarding.get(token).cloned()
    }

    pub fn create_link(
        &mut self,
        login: &str,
        draft: LinkDraft,
        now: Millis,
        lifetime: Millis,
        ids: &Ids,
        base_url: &str,
    ) -> Result<PaymentLink, QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        if !org.connection_enabled() {
            return Err(QError::unprocessable(vec![QErr::at(
                "/payment_link",
                "connection_required",
                error::MSG_CONNECTION_REQUIRED,
            )]));
        }
        let id = ids.uuid_v7(now);
        let resource_id = draft.invoice_id.clone().unwrap_or_else(|| ids.uuid_v7(now));
        let link = PaymentLink {
            url: format!("{base_url}/qonto/pay/{id}?resource_id={resource_id}"),
            id: id.clone(),
            resource_id,
            status: LinkStatus::Open,
            expiration: now + lifetime,
            potential_payment_methods: draft.methods,
            amount: draft.amount,
            currency: "EUR".into(),
            resource_type: draft.resource_type,
            reusable: draft.reusable,
            created_at: now,
            updated_at: now,
            items: draft.items,
            invoice_id: draft.invoice_id,
            invoice_number: draft.invoice_number,
            debitor_name: draft.debitor_name,
            redirect_url: draft.redirect_url,
            payments: Vec::new(),
            latest_payment_method_used: None,
        };
        org.links.insert(id, link.clone());
        Ok(link)
    }

    pub fn link(&self, login: &str, id: &str) -> Result<&PaymentLink, QError> {
        self.orgs
            .get(login)
            .and_then(|o| o.links.get(&id.to_string()))
            .ok_or_else(|| QError::not_found(Some("id")))
    }

    /// Which organization owns link `id`.
    pub fn owner(&self, id: &str) -> Option<String> {
        self.orgs
            .iter()
            .find(|(_, o)| o.links.contains_key(&id.to_string()))
            .map(|(l, _)| l.clone())
    }

    pub fn deactivate(
        &mut self,
        login: &str,
        id: &str,
        now: Millis,
    ) -> Result<PaymentLink, QError> {
        let link = self
            .orgs
            .get_mut(login)
            .and_then(|o| o.links.get_mut(&id.to_string()))
            .ok_or_else(|| QError::not_found(Some("id")))?;
        if link.status != LinkStatus::Open {
            return Err(QError::unprocessable(vec![QErr::new(
                "invalid_status",
                format!(
                    "payment link is {} and cannot be deactivated",
                    link.status.as_str()
                ),
                None,
            )]));
        }
        link.status = LinkStatus::Canceled;
        link.updated_at = now;
        Ok(link.clone())
    }

    /// Expires a link still open at its expiration date.
    pub fn expire(
        &mut self,
        login: &str,
        id: &str,
        expiration: Millis,
        now: Millis,
    ) -> Option<PaymentLink> {
        let link = self.orgs.get_mut(login)?.links.get_mut(&id.to_string())?;
        if link.expiration != expiration || link.status != LinkStatus::Open {
            return None;
        }
        link.status = LinkStatus::Expired;
        link.updated_at = now;
        Some(link.clone())
    }

    /// A payment attempt (or an update of one) on a link.
    pub fn pay(
        &mut self,
        login: &str,
        id: &str,
        attempt: PayAttempt,
        now: Millis,
        ids: &Ids,
    ) -> Result<PayResult, PayError> {
        let link = self
            .orgs
            .get_mut(login)
            .and_then(|o| o.links.get_mut(&id.to_string()))
            .ok_or_else(|| PayError::NotFound(id.to_string()))?;
        if !super::model::PAYMENT_STATUSES.contains(&attempt.status.as_str()) {
            return Err(PayError::Invalid(format!(
                "status {:?} is not one of {}",
                attempt.status,
                super::model::PAYMENT_STATUSES.join(", ")
            )));
        }
        let before = link.status;
        let payment = if let Some(pid) = &attempt.payment_id {
            let p = link
                .payments
                .iter_mut()
                .find(|p| &p.id == pid)
                .ok_or_else(|| PayError::NotFound(pid.clone()))?;
            if matches!(
                p.status.as_str(),
                "paid" | "failed" | "canceled" | "expired"
            ) {
                return Err(PayError::Invalid(format!(
                    "payment {pid} is {} already",
                    p.status
                )));
            }
            p.status = attempt.status.clone();
            if p.status == "paid" {
                p.paid_at = Some(now);
                p.settling = true;
            }
            p.clone()
        } else {
            if !matches!(link.status, LinkStatus::Open) {
                return Err(PayError::Closed(link.status.as_str()));
            }
            if !link.potential_payment_methods.contains(&attempt.method) {
                return Err(PayError::Invalid(format!(
                    "method {} is not offered by this link ({})",
                    attempt.method,
                    link.potential_payment_methods.join(", ")
                )));
            }
            let paid = attempt.status == "paid";
            let p = Payment {
                id: ids.uuid_v7(now),
                amount: link.amount,
                currency: link.currency.clone(),
                status: attempt.status.clone(),
                created_at: now,
                payment_method: attempt.method.clone(),
                paid_at: paid.then_some(now),
                debitor_email: attempt
                    .debitor_email
                    .clone()
                    .unwrap_or_else(|| "customer@example.com".into()),
                settling: paid,
            };
            link.payments.push(p.clone());
            link.latest_payment_method_used = Some(attempt.method.clone());
            p
        };
        link.status = link.derived_status();
        link.updated_at = now;
        Ok(PayResult {
            link_changed: link.status != before,
            link: link.clone(),
            payment,
        })
    }

    /// A paid payment settles: the link leaves `processing`.
    pub fn settle(
        &mut self,
        login: &str,
        id: &str,
        payment_id: &str,
        now: Millis,
    ) -> Option<PaymentLink> {
        let link = self.orgs.get_mut(login)?.links.get_mut(&id.to_string())?;
        let p = link.payments.iter_mut().find(|p| p.id == payment_id)?;
        if !p.settling {
            return None;
        }
        p.settling = false;
        let before = link.status;
        if matches!(link.status, LinkStatus::Processing | LinkStatus::Open) {
            link.status = link.derived_status();
        }
        link.updated_at = now;
        (link.status != before).then(|| link.clone())
    }

    pub fn add_subscription(
        &mut self,
        login: &str,
        draft: SubscriptionDraft,
        now: Millis,
        ids: &Ids,
    ) -> Result<Subscription, QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        let secret = draft.secret.unwrap_or_else(|| {
            let mut raw = [0u8; 32];
            for b in raw.iter_mut() {
                *b = ids.between(0, 255) as u8;
            }
            use base64::Engine as _;
            format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        });
        let s = Subscription {
            id: ids.uuid_v4(),
            callback_url: draft.callback_url.unwrap_or_default(),
            types: draft.types.unwrap_or_default(),
            description: draft.description,
            secret,
            created_at: now,
            updated_at: now,
        };
        org.subscriptions.push(s.clone());
        Ok(s)
    }

    pub fn subscription(&self, login: &str, id: &str) -> Result<&Subscription, QError> {
        self.orgs
            .get(login)
            .and_then(|o| o.subscriptions.iter().find(|s| s.id == id))
            .ok_or_else(|| QError::not_found(Some("id")))
    }

    pub fn update_subscription(
        &mut self,
        login: &str,
        id: &str,
        draft: SubscriptionDraft,
        now: Millis,
    ) -> Result<Subscription, QError> {
        let s = self
            .orgs
            .get_mut(login)
            .and_then(|o| o.subscriptions.iter_mut().find(|s| s.id == id))
            .ok_or_else(|| QError::not_found(Some("id")))?;
        if let Some(v) = draft.callback_url {
            s.callback_url = v;
        }
        if let Some(v) = draft.types {
            s.types = v;
        }
        if let Some(v) = draft.secret {
            s.secret = v;
        }
        if let Some(v) = draft.description {
            s.description = Some(v);
        }
        s.updated_at = now;
        Ok(s.clone())
    }

    pub fn delete_subscription(&mut self, login: &str, id: &str) -> Result<(), QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        let before = org.subscriptions.len();
        org.subscriptions.retain(|s| s.id != id);
        if org.subscriptions.len() == before {
            return Err(QError::not_found(Some("id")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(&QontoConfig::default(), 10, "http://x", &Ids::new(1))
    }

    #[test]
    fn idempotent_answers_expire_after_thirty_minutes() {
        let mut s = store();
        let login = QontoOrganization::default().login;
        let route = "POST /v2/payment_links";
        let Claim::Mine(_done) = s.claim_key(&login, route, "k", [1; 32], 0, false) else {
            panic!("the first request claims the key");
        };
        assert!(matches!(
            s.claim_key(&login, route, "k", [1; 32], 0, false),
            Claim::Wait(_)
        ));
        assert!(matches!(
            s.claim_key(&login, route, "k", [2; 32], 0, false),
            Claim::Reused
        ));
        s.finish_key(&login, route, "k", 201, None, 0);
        let at = IDEMPOTENCY_WINDOW_MS - 1;
        assert!(matches!(
            s.claim_key(&login, route, "k", [1; 32], at, false),
            Claim::Replay(_)
        ));
        assert!(matches!(
            s.claim_key(&login, route, "k", [2; 32], at, true),
            Claim::Replay(_)
        ));
        assert!(matches!(
            s.claim_key(
                &login,
                "POST /v2/webhook_subscriptions",
                "k",
                [2; 32],
                at,
                false
            ),
            Claim::Mine(_)
        ));
        assert!(matches!(
            s.claim_key(&login, route, "k", [2; 32], IDEMPOTENCY_WINDOW_MS, false),
            Claim::Mine(_)
        ));
    }

    #[test]
    fn a_failed_request_frees_its_key() {
        let mut s = store();
        let login = QontoOrganization::default().login;
        let route = "POST /v2/payment_links";
        assert!(matches!(
            s.claim_key(&login, route, "k", [1; 32], 0, false),
            Claim::Mine(_)
        ));
        s.release_key(&login, route, "k");
        assert!(matches!(
            s.claim_key(&login, route, "k", [2; 32], 0, false),
            Claim::Mine(_)
        ));
    }
}
