//! In-memory Qonto state, partitioned by organization: its connection to the provider, its
//! payment links and their payments (bounded), its webhook subscriptions and its idempotency
//! cache. Each change that a webhook reports is one method here.

use std::collections::HashMap;

use super::error::{self, QErr, QError};
use super::idempotency::{Claim, Keys};
use super::model::{
    Connection, ConnectionStatus, LinkStatus, Method, Payment, PaymentLink, PaymentStatus,
    Subscription,
};
use super::rules::{ConnectionDraft, LinkDraft, SubscriptionDraft};
use crate::bounded::BoundedMap;
use crate::clock::Millis;
use super::config::{QontoConfig, QontoOrganization, StartConnection};
use crate::ids::Ids;

#[derive(Debug)]
pub(super) struct Org {
    pub config: QontoOrganization,
    pub connection: Option<Connection>,
    pub links: BoundedMap<String, PaymentLink>,
    pub subscriptions: Vec<Subscription>,
    pub(super) idempotency: Keys,
    /// Made since the last hand-over to the data dir.
    fresh: bool,
    /// Its settings' row as last handed over.
    header_row: Option<String>,
}

impl Org {
    pub(super) fn connection_enabled(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.status == ConnectionStatus::Enabled)
    }
}

/// Who is calling: the organization, and the OAuth scopes (`None` for an API key, which the
/// sandbox lets reach every payment-link route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Caller {
    pub login: String,
    pub scopes: Option<Vec<String>>,
}

impl Caller {
    pub(super) fn require(&self, scope: &str) -> Result<(), QError> {
        match &self.scopes {
            Some(s) if !s.iter().any(|x| x == scope) => Err(QError::missing_scope(scope)),
            _ => Ok(()),
        }
    }
}

/// A payment made from the checkout page, the admin API or a scenario.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayAttempt {
    pub method: Method,
    /// The status the payment ends in (or moves to).
    pub status: PaymentStatus,
    pub debitor_email: Option<String>,
    /// Move an existing payment instead of creating one.
    pub payment_id: Option<String>,
}

/// What a payment did to its link.
#[derive(Debug, Clone)]
pub(super) struct PayResult {
    pub link: PaymentLink,
    pub payment: super::model::Payment,
    /// Whether the link's status changed (an `updated` webhook is due).
    pub link_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum PayError {
    #[error("no payment link {0:?}")]
    NotFound(String),
    #[error("this payment link is {0} and takes no payment")]
    Closed(&'static str),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug)]
pub(super) struct Store {
    pub(super) orgs: BoundedMap<String, Org>,
    tokens: HashMap<String, (String, Vec<String>)>,
    /// OAuth codes and tokens issued through `/qonto/oauth2`.
    grants: super::oauth::Grants,
    onboarding: HashMap<String, String>,
    store_limit: usize,
    /// With a data dir: hand everything over at the next call (the store was replaced), and
    /// whether the OAuth grants were lent out for change since the last hand-over.
    tracked: bool,
    rewrite: bool,
    grants_changed: bool,
}

impl Store {
    /// Claims an idempotency key of `login`'s (see [`Keys::claim`]). An organization that went
    /// away (a reset) has nothing to deduplicate against.
    pub(super) fn claim_key(
        &mut self,
        login: &str,
        route: &str,
        key: &str,
        fingerprint: [u8; 32],
        now: Millis,
        replay_reused: bool,
    ) -> Claim {
        match self.orgs.get_mut(login) {
            Some(org) => org
                .idempotency
                .claim(route, key, fingerprint, now, replay_reused),
            None => Claim::Mine(tokio::sync::watch::channel(()).0),
        }
    }

    /// Keeps the answer to a claimed key (see [`Keys::finish`]).
    pub(super) fn finish_key(
        &mut self,
        login: &str,
        route: &str,
        key: &str,
        status: u16,
        body: Option<axum::body::Bytes>,
        now: Millis,
    ) {
        if let Some(org) = self.orgs.get_mut(login) {
            org.idempotency.finish(route, key, status, body, now);
        }
    }

    /// Frees a claimed key whose request failed (see [`Keys::release`]).
    pub(super) fn release_key(&mut self, login: &str, route: &str, key: &str) {
        if let Some(org) = self.orgs.get_mut(login) {
            org.idempotency.release(route, key);
        }
    }

    pub(super) fn new(
        config: &QontoConfig,
        (store_limit, tracked): (usize, bool),
        base_url: &str,
        ids: &Ids,
    ) -> Self {
        let mut store = Self {
            orgs: BoundedMap::new(usize::MAX).tracked(tracked),
            tokens: HashMap::new(),
            grants: super::oauth::Grants::default(),
            onboarding: HashMap::new(),
            store_limit,
            tracked,
            rewrite: tracked,
            grants_changed: tracked,
        };
        for o in &config.organizations {
            store.add_org(o.clone(), base_url, ids);
        }
        store
    }

    pub(super) fn add_org(&mut self, config: QontoOrganization, base_url: &str, ids: &Ids) {
        for t in &config.tokens {
            self.tokens
                .insert(t.token.clone(), (config.login.clone(), t.scopes.clone()));
        }
        let connection = (config.connection == StartConnection::Enabled).then(|| {
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
                links: BoundedMap::new(self.store_limit).tracked(self.tracked),
                subscriptions: Vec::new(),
                idempotency: Keys::tracked(self.tracked),
                fresh: true,
                header_row: None,
                config,
            },
        );
    }

    /// Forgets an organization, its links, subscriptions and tokens.
    pub(super) fn remove_org(&mut self, login: &str) -> bool {
        self.tokens.retain(|_, (l, _)| l != login);
        self.grants.forget(login);
        self.onboarding.retain(|_, l| l != login);
        self.orgs.remove(login).is_some()
    }

    pub(super) fn org(&self, login: &str) -> Option<&Org> {
        self.orgs.get(login)
    }

    pub(super) fn orgs(&self) -> impl Iterator<Item = &Org> {
        self.orgs.values()
    }

    /// The organization and scopes of an OAuth token: a configured one (never expires) or one
    /// issued through `/qonto/oauth2` and still valid at `now`.
    pub(super) fn token(&self, token: &str, now: crate::clock::Millis) -> Option<(&str, &[String])> {
        self.tokens
            .get(token)
            .map(|(login, scopes)| (login.as_str(), scopes.as_slice()))
            .or_else(|| self.grants.access(token, now))
    }

    pub(super) fn grants_mut(&mut self) -> &mut super::oauth::Grants {
        self.grants_changed = self.tracked;
        &mut self.grants
    }

    /// Starts (or restarts) onboarding. Only one active connection per user.
    pub(super) fn connect(
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
    pub(super) fn onboarding_org(&self, token: &str) -> Option<&Org> {
        self.orgs.get(self.onboarding.get(token)?)
    }

    /// Finishes (or abandons) onboarding: `enable`, `pending` or `refuse`; `revoke` turns an
    /// enabled connection off. Returns the login, the connection and whether its status changed.
    pub(super) fn decide(&mut self, login: &str, decision: &str) -> Result<(Connection, bool), String> {
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

    pub(super) fn login_of_onboarding(&self, token: &str) -> Option<String> {
        self.onboarding.get(token).cloned()
    }

    pub(super) fn create_link(
        &mut self,
        login: &str,
        draft: LinkDraft,
        now: Millis,
        lifetime: Millis,
        ids: &Ids,
        base_url: &str,
    ) -> Result<(PaymentLink, Option<String>), QError> {
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
            resource_type: super::model::ResourceType::named(draft.resource_type),
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
        let evicted = org.links.insert(id, link.clone()).map(|(old, _)| old);
        Ok((link, evicted))
    }

    pub(super) fn link(&self, login: &str, id: &str) -> Result<&PaymentLink, QError> {
        self.orgs
            .get(login)
            .and_then(|o| o.links.get(&id.to_string()))
            .ok_or_else(|| QError::not_found(Some("id")))
    }

    /// Which organization owns link `id`.
    pub(super) fn owner(&self, id: &str) -> Option<String> {
        self.orgs
            .iter()
            .find(|(_, o)| o.links.contains_key(&id.to_string()))
            .map(|(l, _)| l.clone())
    }

    pub(super) fn deactivate(
        &mut self,
        login: &str,
        id: &str,
        now: Millis,
    ) -> Result<PaymentLink, QError> {
        let link = self
            .orgs
            .get_mut(login)
            .and_then(|o| o.links.get_mut(id))
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
    pub(super) fn expire(
        &mut self,
        login: &str,
        id: &str,
        expiration: Millis,
        now: Millis,
    ) -> Option<PaymentLink> {
        let link = self.orgs.get_mut(login)?.links.get_mut(id)?;
        if link.expiration != expiration || link.status != LinkStatus::Open {
            return None;
        }
        link.status = LinkStatus::Expired;
        link.updated_at = now;
        Some(link.clone())
    }

    /// A payment attempt (or an update of one) on a link.
    pub(super) fn pay(
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
            .and_then(|o| o.links.get_mut(id))
            .ok_or_else(|| PayError::NotFound(id.to_string()))?;
        let before = link.status;
        let payment = if let Some(pid) = &attempt.payment_id {
            let p = link
                .payments
                .iter_mut()
                .find(|p| &p.id == pid)
                .ok_or_else(|| PayError::NotFound(pid.clone()))?;
            if p.status.is_final() {
                return Err(PayError::Invalid(format!(
                    "payment {pid} is {} already",
                    p.status.as_str()
                )));
            }
            p.status = attempt.status;
            if p.status == PaymentStatus::Paid {
                p.paid_at = Some(now);
                p.settling = true;
            }
            p.clone()
        } else {
            if !matches!(link.status, LinkStatus::Open) {
                return Err(PayError::Closed(link.status.as_str()));
            }
            if !link.potential_payment_methods.contains(&attempt.method) {
                let offered: Vec<&str> = link
                    .potential_payment_methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect();
                return Err(PayError::Invalid(format!(
                    "method {} is not offered by this link ({})",
                    attempt.method.as_str(),
                    offered.join(", ")
                )));
            }
            let paid = attempt.status == PaymentStatus::Paid;
            let p = Payment {
                id: ids.uuid_v7(now),
                amount: link.amount,
                currency: link.currency.clone(),
                status: attempt.status,
                created_at: now,
                payment_method: attempt.method,
                paid_at: paid.then_some(now),
                debitor_email: attempt
                    .debitor_email
                    .unwrap_or_else(|| "customer@example.com".into()),
                settling: paid,
            };
            link.payments.push(p.clone());
            link.latest_payment_method_used = Some(attempt.method);
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
    pub(super) fn settle(
        &mut self,
        login: &str,
        id: &str,
        payment_id: &str,
        now: Millis,
    ) -> Option<PaymentLink> {
        let link = self.orgs.get_mut(login)?.links.get_mut(id)?;
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

    pub(super) fn add_subscription(
        &mut self,
        login: &str,
        draft: SubscriptionDraft,
        now: Millis,
        ids: &Ids,
    ) -> Result<Subscription, QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        let secret = draft.secret.unwrap_or_else(|| {
            let mut raw = [0u8; 32];
            for b in &mut raw {
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

    pub(super) fn subscription(&self, login: &str, id: &str) -> Result<&Subscription, QError> {
        self.orgs
            .get(login)
            .and_then(|o| o.subscriptions.iter().find(|s| s.id == id))
            .ok_or_else(|| QError::not_found(Some("id")))
    }

    pub(super) fn update_subscription(
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

    pub(super) fn delete_subscription(&mut self, login: &str, id: &str) -> Result<(), QError> {
        let org = self.orgs.get_mut(login).ok_or_else(QError::unauthorized)?;
        let before = org.subscriptions.len();
        org.subscriptions.retain(|s| s.id != id);
        if org.subscriptions.len() == before {
            return Err(QError::not_found(Some("id")));
        }
        Ok(())
    }
}

/// Qonto's state as saved: every organization with its connection, links (oldest first, each
/// with its payments), webhook subscriptions (with their secrets) and replayable idempotent
/// answers, and the OAuth codes and tokens issued. Configured tokens come from each
/// organization's configuration; onboarding pages from its connection.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    organizations: Vec<SavedOrg>,
    grants: super::oauth::Grants,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedOrg {
    config: QontoOrganization,
    connection: Option<Connection>,
    links: Vec<PaymentLink>,
    subscriptions: Vec<Subscription>,
    idempotency: Vec<super::idempotency::SavedKey>,
}

impl crate::records::Saves for Store {
    type Saved = Saved;

    /// Every organization, by login.
    fn saved(&self) -> Saved {
        let mut organizations: Vec<SavedOrg> = self
            .orgs
            .values()
            .map(|o| SavedOrg {
                config: o.config.clone(),
                connection: o.connection.clone(),
                links: o.links.iter().map(|(_, l)| l.clone()).collect(),
                subscriptions: o.subscriptions.clone(),
                idempotency: o.idempotency.saved(),
            })
            .collect();
        organizations.sort_by(|a, b| a.config.login.cmp(&b.config.login));
        Saved {
            organizations,
            grants: self.grants.clone(),
        }
    }

    /// Idempotency fingerprints are hex digests.
    fn check(saved: &Saved) -> Result<(), String> {
        for o in &saved.organizations {
            Keys::restored(o.idempotency.clone(), false)
                .map_err(|why| format!("organization {:?}: {why}", o.config.login))?;
        }
        Ok(())
    }

    /// Replaces every organization with the saved ones.
    fn restore(&mut self, saved: Saved) {
        self.orgs.clear();
        self.tokens.clear();
        self.onboarding.clear();
        self.grants = saved.grants;
        self.rewrite = self.tracked;
        for o in saved.organizations {
            let login = o.config.login.clone();
            for t in &o.config.tokens {
                self.tokens
                    .insert(t.token.clone(), (login.clone(), t.scopes.clone()));
            }
            if let Some(c) = &o.connection {
                self.onboarding.insert(c.token.clone(), login.clone());
            }
            // Filled untracked (see the gateway's restore).
            let mut links = BoundedMap::new(self.store_limit);
            links.reserve(o.links.len());
            for link in o.links {
                links.insert(link.id.clone(), link);
            }
            links.track(self.tracked);
            self.orgs.insert(
                login,
                Org {
                    config: o.config,
                    connection: o.connection,
                    links,
                    subscriptions: o.subscriptions,
                    idempotency: Keys::restored(o.idempotency, self.tracked)
                        .unwrap_or_else(|_| Keys::tracked(self.tracked)),
                    fresh: true,
                    header_row: None,
                },
            );
        }
    }


    fn changes(&mut self, out: &mut crate::records::Changes) {
        let force = self.rewrite;
        let keys: Vec<String> = if self.rewrite {
            out.delete_kinds("qonto.");
            self.rewrite = false;
            self.grants_changed = true;
            self.orgs.take_changed();
            self.orgs.iter().map(|(k, _)| k.clone()).collect()
        } else {
            self.orgs.take_changed()
        };
        for key in keys {
            let Some(org) = self.orgs.get_mut(&key) else {
                out.delete(ORG, &key);
                out.delete_tenant(LINK, &key);
                out.delete_tenant(KEY, &key);
                continue;
            };
            let all = std::mem::take(&mut org.fresh);
            let header = org.header();
            out.put_changed(ORG, &key, &header, &mut org.header_row, force || all);
            crate::records::map_changes(out, LINK, &key, &mut org.links, all);
            org.idempotency.changes(out, KEY, &key, all);
        }
        // Lending the organizations out above marked them again.
        self.orgs.take_changed();
        if std::mem::take(&mut self.grants_changed) {
            out.put(GRANTS, "grants", &self.grants);
        }
    }

    fn forget_changes(&mut self) {
        self.rewrite = false;
        self.grants_changed = false;
        for key in self.orgs.take_changed() {
            if let Some(org) = self.orgs.get_mut(&key) {
                org.fresh = false;
                org.links.take_changed();
                org.idempotency.forget_changes();
            }
        }
        self.orgs.take_changed();
    }

    fn rewrite(&mut self) {
        self.rewrite = self.tracked;
    }

    fn assemble(stored: &mut crate::records::Stored, out: &mut String) {
        use crate::records::{push_array, push_objects};
        let mut links = stored.by_tenant(LINK);
        let mut keys = stored.by_tenant(KEY);
        out.push_str("{\"organizations\":");
        push_objects(out, stored.take(ORG), |org, key| {
            push_array(org.field("links"), links.remove(key).unwrap_or_default());
            push_array(org.field("idempotency"), keys.remove(key).unwrap_or_default());
        });
        out.push_str(",\"grants\":");
        let grants = stored.one(GRANTS, "grants").unwrap_or_else(|| {
            serde_json::to_string(&super::oauth::Grants::default()).unwrap_or_default()
        });
        out.push_str(&grants);
        out.push('}');
    }
}

/// The data dir's kinds of rows: an organization's settings (configuration, connection,
/// subscriptions), each of its links and replayable idempotent answers, and the OAuth grants.
const ORG: &str = "qonto.org";
const LINK: &str = "qonto.link";
const KEY: &str = "qonto.key";
const GRANTS: &str = "qonto.grants";

impl Org {
    /// The organization's row: a saved organization without its links and idempotency keys.
    fn header(&self) -> serde_json::Value {
        serde_json::json!({
            "config": self.config,
            "connection": self.connection,
            "subscriptions": self.subscriptions,
        })
    }
}

impl Store {
    /// Organizations and links held.
    pub(super) fn counts(&self) -> (usize, usize) {
        (
            self.orgs.len(),
            self.orgs.values().map(|o| o.links.len()).sum(),
        )
    }
}
