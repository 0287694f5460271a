//! In-memory gateway state, partitioned by API key: each account's payment links (bounded), its
//! reference ids, its webhook setting, and the short codes of the hosted pages.
//!
//! Every mutation that matters to a webhook (create, update, cancel, pay, expire) is one method
//! here, so the link and its history cannot drift apart.

use std::collections::HashMap;

use serde_json::Value;

use super::error::{self, Problem, RzError};
use super::model::{LinkStatus, Method, Payment, PaymentLink, PaymentStatus, Refund, RefundStatus};
use super::rules::{CreateDraft, UpdateDraft};
use crate::bounded::BoundedMap;
use crate::compact::Compact;
use super::config::{RazorpayAccount, RazorpayConfig};
use crate::ids::Ids;

#[derive(Debug)]
pub(super) struct Account {
    pub config: RazorpayAccount,
    pub links: BoundedMap<String, PaymentLink>,
    references: HashMap<String, String>,
    /// Payment id → link id, and order id → link id, for `GET /v1/payments/{id}` and
    /// `/v1/orders/{id}` without scanning the links.
    payments: BoundedMap<String, String>,
    orders: BoundedMap<String, String>,
    refunds: BoundedMap<String, String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    /// Made since the last hand-over to the data dir (what an account by its key held before
    /// is gone).
    fresh: bool,
    /// Its settings' row as last handed over.
    header_row: Option<String>,
}

impl Account {
    /// The link that holds payment `id`, and the payment.
    pub(super) fn payment(&self, id: &str) -> Option<(&PaymentLink, &Payment)> {
        let link = self.links.get(self.payments.get(id)?)?;
        Some((link, link.attempts.iter().find(|p| p.id == id)?))
    }

    /// The link that holds refund `id`, and the refund.
    pub(super) fn refund(&self, id: &str) -> Option<(&PaymentLink, &Refund)> {
        let link = self.links.get(self.refunds.get(id)?)?;
        Some((link, link.refunds.iter().find(|r| r.id == id)?))
    }

    /// Refunds `amount` (all that is left when `None`) of captured payment `payment_id`; the
    /// refund is `processed`, or `failed` when `fail` (which refunds nothing).
    pub(super) fn refund_payment(
        &mut self,
        payment_id: &str,
        request: RefundRequest,
        now: i64,
        ids: &Ids,
    ) -> Result<(PaymentLink, Refund), RzError> {
        let plink = self.payments.get(payment_id).ok_or(RzError::NotFound)?.clone();
        let link = self.links.get_mut(&plink).ok_or(RzError::NotFound)?;
        let payment = link
            .attempts
            .iter()
            .find(|p| p.id == payment_id)
            .ok_or(RzError::NotFound)?
            .clone();
        if payment.status != PaymentStatus::Captured {
            return Err(RzError::State("Only captured payments can be refunded"));
        }
        let left = payment.amount - link.refunded(payment_id);
        if left <= 0 {
            return Err(RzError::State("The payment has been fully refunded already"));
        }
        let amount = request.amount.unwrap_or(left);
        if amount > left {
            return Err(RzError::Invalid(vec![Problem::new(
                "/amount",
                "The refund amount provided is greater than the unrefunded amount.",
            )]));
        }
        let refund = Refund {
            id: ids.prefixed("rfnd"),
            payment_id: payment_id.to_string(),
            amount,
            currency: payment.currency.clone(),
            notes: request.notes,
            receipt: request.receipt,
            status: if request.fail {
                RefundStatus::Failed
            } else {
                RefundStatus::Processed
            },
            speed_requested: request.speed,
            created_at: now,
        };
        link.refunds.push(refund.clone());
        let snapshot = link.clone();
        self.refunds.insert(refund.id.clone(), plink);
        Ok((snapshot, refund))
    }

    /// The link behind order `id`.
    pub(super) fn order(&self, id: &str) -> Option<&PaymentLink> {
        self.links.get(self.orders.get(id)?)
    }

    fn new(config: RazorpayAccount, store_limit: usize, tracked: bool) -> Self {
        Self {
            webhook_url: config.webhook_url.clone(),
            webhook_secret: config.webhook_secret.clone(),
            config,
            fresh: true,
            header_row: None,
            links: BoundedMap::new(store_limit).tracked(tracked),
            references: HashMap::new(),
            payments: BoundedMap::new(store_limit.saturating_mul(4)),
            orders: BoundedMap::new(store_limit),
            refunds: BoundedMap::new(store_limit.saturating_mul(4)),
        }
    }
}

/// The amount an attempt pays on `link` (what is still due unless `asked`), or why it may not.
/// Credits a captured `amount` to `link`; whether that completes it.
fn credit(link: &mut PaymentLink, amount: i64, now: i64) -> bool {
    link.amount_paid += amount;
    let completed = link.amount_paid == link.amount;
    link.status = if completed {
        LinkStatus::Paid
    } else {
        LinkStatus::PartiallyPaid
    };
    link.updated_at = now;
    completed
}

fn payable_amount(link: &PaymentLink, asked: Option<i64>) -> Result<i64, PayError> {
    if !link.status.is_open() {
        return Err(PayError::Closed(link.status.as_str()));
    }
    let due = link.amount_due();
    let amount = asked.unwrap_or(due);
    if amount <= 0 || amount > due {
        return Err(PayError::Amount(format!(
            "amount must be between 1 and the {due} still due"
        )));
    }
    if !link.accept_partial && amount != due {
        return Err(PayError::Amount(format!(
            "this link does not accept partial payments; pay the full {due}"
        )));
    }
    if link.accept_partial
        && link.amount_paid == 0
        && link.first_min_partial_amount > 0
        && amount < link.first_min_partial_amount
        && amount != due
    {
        return Err(PayError::Amount(format!(
            "the first payment must be at least {}",
            link.first_min_partial_amount
        )));
    }
    Ok(amount)
}

/// What a refund request asks for (`amount` in paise; all that is left when `None`).
#[derive(Debug, Clone)]
pub(super) struct RefundRequest {
    pub amount: Option<i64>,
    pub speed: String,
    pub notes: Value,
    pub receipt: Option<String>,
    /// Simulate a refund the bank refuses (admin route only).
    pub fail: bool,
}

/// A payment attempt on a link (from the hosted page, the admin API or a scenario).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayAttempt {
    pub method: Method,
    pub success: bool,
    /// Defaults to what is still due.
    pub amount: Option<i64>,
}

/// What a payment attempt did.
#[derive(Debug, Clone)]
pub(super) struct PayResult {
    pub link: PaymentLink,
    pub payment: Payment,
    /// Whether this payment completed the link (and its order).
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum PayError {
    #[error("no payment link {0:?}")]
    NotFound(String),
    #[error("this payment link is {0} and takes no more payments")]
    Closed(&'static str),
    #[error("{0}")]
    Amount(String),
}

#[derive(Debug, Default, Clone)]
pub(super) struct ListFilter {
    pub reference_id: Option<String>,
    pub payment_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub count: Option<usize>,
    pub skip: Option<usize>,
}

#[derive(Debug)]
pub(super) struct Store {
    accounts: BoundedMap<String, Account>,
    codes: HashMap<String, (String, String)>,
    store_limit: usize,
    /// With a data dir: hand everything over at the next call (the store was replaced).
    tracked: bool,
    rewrite: bool,
}

/// A well-formed link id: `plink_` and 14 alphanumerics.
pub(super) fn check_id(id: &str) -> Result<(), RzError> {
    check_prefixed(id, "plink_")
}

/// Checks that `id` is `prefix` and 14 letters or digits, as the gateway's ids are (`plink_`,
/// `pay_`, `order_`, `rfnd_`); otherwise the gateway's `invalid input [strippedId]` error.
pub(super) fn check_prefixed(id: &str, prefix: &str) -> Result<(), RzError> {
    let stripped = id.strip_prefix(prefix).unwrap_or(id);
    if id.starts_with(prefix)
        && stripped.len() == 14
        && stripped.bytes().all(|c| c.is_ascii_alphanumeric())
    {
        Ok(())
    } else {
        Err(RzError::MalformedId(stripped.to_string()))
    }
}

impl Store {
    pub(super) fn new(config: &RazorpayConfig, store_limit: usize, tracked: bool) -> Self {
        let mut store = Self {
            accounts: BoundedMap::new(usize::MAX).tracked(tracked),
            codes: HashMap::new(),
            store_limit,
            tracked,
            rewrite: tracked,
        };
        for a in &config.accounts {
            store.add_account(a.clone());
        }
        store
    }

    pub(super) fn add_account(&mut self, config: RazorpayAccount) {
        self.accounts.insert(
            config.key_id.clone(),
            Account::new(config, self.store_limit, self.tracked),
        );
    }

    /// Forgets an account and its links.
    pub(super) fn remove_account(&mut self, key_id: &str) -> bool {
        self.codes.retain(|_, (k, _)| k != key_id);
        self.accounts.remove(key_id).is_some()
    }

    pub(super) fn account(&self, key_id: &str) -> Option<&Account> {
        self.accounts.get(key_id)
    }

    pub(super) fn account_mut(&mut self, key_id: &str) -> Option<&mut Account> {
        self.accounts.get_mut(key_id)
    }

    pub(super) fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    fn account_of(&self, key_id: &str) -> Result<&Account, RzError> {
        self.accounts.get(key_id).ok_or(RzError::InvalidKey)
    }

    pub(super) fn create(
        &mut self,
        key_id: &str,
        draft: CreateDraft,
        now: i64,
        ids: &Ids,
        base_url: &str,
    ) -> Result<(PaymentLink, Option<String>), RzError> {
        let account = self.accounts.get_mut(key_id).ok_or(RzError::InvalidKey)?;
        if !draft.reference_id.is_empty() && account.references.contains_key(&draft.reference_id) {
            return Err(RzError::Invalid(vec![Problem::new(
                "/reference_id",
                error::MSG_DUPLICATE_REFERENCE,
            )]));
        }
        let id = ids.prefixed("plink");
        let code = ids.alnum(9);
        let link = PaymentLink {
            id: id.clone(),
            short_url: format!("{base_url}/razorpay/i/{code}"),
            short_code: code.clone(),
            accept_partial: draft.accept_partial,
            amount: draft.amount,
            amount_paid: 0,
            callback_method: draft.callback_method,
            callback_url: draft.callback_url,
            cancelled_at: 0,
            created_at: now,
            currency: draft.currency,
            customer: Compact::object(&draft.customer),
            description: draft.description,
            expire_by: draft.expire_by,
            expired_at: 0,
            first_min_partial_amount: draft.first_min_partial_amount,
            notes: Compact::new(&draft.notes),
            notify: Compact::object(&draft.notify),
            order_id: None,
            reference_id: draft.reference_id,
            reminder_enable: draft.reminder_enable,
            status: LinkStatus::Created,
            updated_at: now,
            upi_link: draft.upi_link,
            options: Compact::new(&draft.options),
            attempts: Vec::new(),
            refunds: Vec::new(),
            order_attempts: 0,
        };
        if !link.reference_id.is_empty() {
            account
                .references
                .insert(link.reference_id.clone(), id.clone());
        }
        let mut evicted = None;
        if let Some((old_id, old)) = account.links.insert(id.clone(), link.clone()) {
            account.references.remove(&old.reference_id);
            self.codes.remove(&old.short_code);
            evicted = Some(old_id);
        }
        self.codes.insert(code, (key_id.to_string(), id));
        Ok((link, evicted))
    }

    pub(super) fn get(&self, key_id: &str, id: &str) -> Result<&PaymentLink, RzError> {
        check_id(id)?;
        self.account_of(key_id)?
            .links
            .get(&id.to_string())
            .ok_or(RzError::NotFound)
    }

    /// Links of an account, newest first, filtered and paginated like the gateway's lists.
    pub(super) fn list(&self, key_id: &str, f: &ListFilter) -> Result<Vec<Value>, RzError> {
        let account = self.account_of(key_id)?;
        let skip = f.skip.unwrap_or(0);
        let count = f.count.unwrap_or(10);
        Ok(account
            .links
            .values()
            .rev()
            .filter(|l| {
                f.reference_id
                    .as_deref()
                    .is_none_or(|r| l.reference_id == r)
                    && f.payment_id
                        .as_deref()
                        .is_none_or(|p| l.attempts.iter().any(|a| a.id == p))
                    && f.from.is_none_or(|from| l.created_at >= from)
                    && f.to.is_none_or(|to| l.created_at <= to)
            })
            .skip(skip)
            .take(count)
            .map(|l| l.to_json(true))
            .collect())
    }

    pub(super) fn update(
        &mut self,
        key_id: &str,
        id: &str,
        draft: UpdateDraft,
        now: i64,
    ) -> Result<PaymentLink, RzError> {
        check_id(id)?;
        let account = self.accounts.get_mut(key_id).ok_or(RzError::InvalidKey)?;
        let link = account
            .links
            .get(&id.to_string())
            .ok_or(RzError::NotFound)?;
        if !link.status.is_open() {
            return Err(RzError::State(error::MSG_UPDATE_STATE));
        }
        let mut problems = Vec::new();
        if draft.accept_partial == Some(true) && link.upi_link {
            problems.push(Problem::new("/accept_partial", error::MSG_UPI_PARTIAL));
        }
        if let Some(r) = &draft.reference_id
            && !r.is_empty()
            && *r != link.reference_id
            && account.references.contains_key(r)
        {
            problems.push(Problem::new(
                "/reference_id",
                error::MSG_DUPLICATE_REFERENCE,
            ));
        }
        if !problems.is_empty() {
            return Err(RzError::Invalid(problems));
        }
        let old_reference = link.reference_id.clone();
        // Invariant: looked up just above, under the same borrow of the account.
        let link = account.links.get_mut(&id.to_string()).expect("link exists");
        if let Some(v) = draft.accept_partial {
            link.accept_partial = v;
        }
        if let Some(v) = draft.expire_by {
            link.expire_by = v;
        }
        if let Some(v) = draft.notes {
            link.notes = Compact::new(&v);
        }
        if let Some(v) = draft.reminder_enable {
            link.reminder_enable = v;
        }
        if let Some(r) = draft.reference_id {
            link.reference_id = r;
        }
        link.updated_at = now;
        let link = link.clone();
        if link.reference_id != old_reference {
            account.references.remove(&old_reference);
            if !link.reference_id.is_empty() {
                account
                    .references
                    .insert(link.reference_id.clone(), link.id.clone());
            }
        }
        Ok(link)
    }

    pub(super) fn cancel(&mut self, key_id: &str, id: &str, now: i64) -> Result<PaymentLink, RzError> {
        check_id(id)?;
        let account = self.accounts.get_mut(key_id).ok_or(RzError::InvalidKey)?;
        let link = account
            .links
            .get_mut(&id.to_string())
            .ok_or(RzError::NotFound)?;
        match link.status {
            LinkStatus::Created => {}
            LinkStatus::Paid | LinkStatus::PartiallyPaid => {
                return Err(RzError::State(error::MSG_CANCEL_PAID));
            }
            LinkStatus::Expired | LinkStatus::Cancelled => {
                return Err(RzError::State(error::MSG_CANCEL_EXPIRED));
            }
        }
        link.status = LinkStatus::Cancelled;
        link.cancelled_at = now;
        link.updated_at = now;
        Ok(link.clone())
    }

    /// Expires a link whose `expire_by` is still `expire_by` (a later edit makes older expiry
    /// jobs stale) and which still takes payments.
    pub(super) fn expire(
        &mut self,
        key_id: &str,
        id: &str,
        expire_by: i64,
        now: i64,
    ) -> Option<PaymentLink> {
        let link = self
            .accounts
            .get_mut(key_id)?
            .links
            .get_mut(&id.to_string())?;
        if link.expire_by != expire_by || !link.status.is_open() {
            return None;
        }
        // The link expired at its deadline, even when the clock jumped past it.
        link.status = LinkStatus::Expired;
        link.expired_at = expire_by;
        link.updated_at = now;
        Some(link.clone())
    }

    /// Finds a link by its hosted-page short code: `(key_id, link)`.
    pub(super) fn by_code(&self, code: &str) -> Option<(&str, &PaymentLink)> {
        let (key_id, id) = self.codes.get(code)?;
        let link = self.accounts.get(key_id)?.links.get(id)?;
        Some((key_id.as_str(), link))
    }

    /// Which account owns link `id`.
    pub(super) fn owner(&self, id: &str) -> Option<String> {
        self.accounts
            .iter()
            .find(|(_, a)| a.links.contains_key(&id.to_string()))
            .map(|(k, _)| k.clone())
    }

    /// A customer pays (or fails to pay) a link.
    pub(super) fn pay(
        &mut self,
        key_id: &str,
        id: &str,
        attempt: PayAttempt,
        now: i64,
        ids: &Ids,
    ) -> Result<PayResult, PayError> {
        let account = self
            .accounts
            .get_mut(key_id)
            .ok_or_else(|| PayError::NotFound(id.to_string()))?;
        let link = account
            .links
            .get_mut(&id.to_string())
            .ok_or_else(|| PayError::NotFound(id.to_string()))?;
        let amount = payable_amount(link, attempt.amount)?;
        let auto_capture = account.config.auto_capture;
        let order_id = link
            .order_id
            .get_or_insert_with(|| ids.prefixed("order"))
            .clone();
        link.order_attempts += 1;
        let [email, contact] = link.customer.strings(["email", "contact"]);
        let payment = Payment {
            id: ids.prefixed("pay"),
            order_id,
            amount,
            currency: link.currency.clone(),
            method: attempt.method,
            status: match (attempt.success, auto_capture) {
                (false, _) => PaymentStatus::Failed,
                (true, true) => PaymentStatus::Captured,
                (true, false) => PaymentStatus::Authorized,
            },
            created_at: now,
            email,
            contact,
            plink_id: link.id.clone(),
        };
        link.attempts.push(payment.clone());
        account
            .payments
            .insert(payment.id.clone(), link.id.clone());
        account
            .orders
            .insert(payment.order_id.clone(), link.id.clone());
        let completed = payment.status == PaymentStatus::Captured && credit(link, amount, now);
        Ok(PayResult {
            link: link.clone(),
            payment,
            completed,
        })
    }

    /// Captures authorized payment `payment_id` of account `key_id`: `amount` and `currency` must
    /// be the authorized ones. The link is credited as an auto-captured payment would have been.
    pub(super) fn capture(
        &mut self,
        key_id: &str,
        payment_id: &str,
        amount: i64,
        currency: &str,
        now: i64,
    ) -> Result<PayResult, RzError> {
        let account = self.accounts.get_mut(key_id).ok_or(RzError::NotFound)?;
        let plink = account.payments.get(payment_id).ok_or(RzError::NotFound)?.clone();
        let link = account.links.get_mut(&plink).ok_or(RzError::NotFound)?;
        let payment = link
            .attempts
            .iter_mut()
            .find(|p| p.id == payment_id)
            .ok_or(RzError::NotFound)?;
        match payment.status {
            PaymentStatus::Authorized => {}
            PaymentStatus::Captured => {
                return Err(RzError::State("This payment has already been captured"));
            }
            PaymentStatus::Failed => {
                return Err(RzError::State(
                    "Only payments which have been authorized and not yet captured can be captured",
                ));
            }
        }
        let mut problems = Vec::new();
        if amount != payment.amount {
            problems.push(Problem::new(
                "/amount",
                "Capture amount must be equal to the amount authorized",
            ));
        }
        if currency != payment.currency {
            problems.push(Problem::new(
                "/currency",
                "Currency should be same as that of the payment",
            ));
        }
        if !problems.is_empty() {
            return Err(RzError::Invalid(problems));
        }
        payment.status = PaymentStatus::Captured;
        let payment = payment.clone();
        let completed = credit(link, payment.amount, now);
        Ok(PayResult {
            link: link.clone(),
            payment,
            completed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_for_shape() {
        assert!(check_id("plink_ExjpAUN3gVHrPJ").is_ok());
        assert_eq!(
            check_id("plink_short"),
            Err(RzError::MalformedId("short".into()))
        );
        assert_eq!(
            check_id("pay_ExjpAUN3gVHrPJ"),
            Err(RzError::MalformedId("pay_ExjpAUN3gVHrPJ".into()))
        );
    }
}

/// The gateway's state as saved: every account with its webhook setting and its links (each
/// with its payments and refunds), oldest link first. The indexes (references, payment, order
/// and refund ids, short codes) are rebuilt from the links.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    accounts: Vec<SavedAccount>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedAccount {
    config: RazorpayAccount,
    webhook_url: Option<String>,
    webhook_secret: String,
    links: Vec<PaymentLink>,
}

impl Account {
    /// Makes `link` findable by its reference, payments, orders and refunds.
    fn index(&mut self, link: &PaymentLink) {
        if !link.reference_id.is_empty() {
            self.references
                .insert(link.reference_id.clone(), link.id.clone());
        }
        for p in &link.attempts {
            self.payments.insert(p.id.clone(), link.id.clone());
            self.orders.insert(p.order_id.clone(), link.id.clone());
        }
        for r in &link.refunds {
            self.refunds.insert(r.id.clone(), link.id.clone());
        }
    }
}

impl crate::records::Saves for Store {
    type Saved = Saved;

    /// Every account, by key id.
    fn saved(&self) -> Saved {
        let mut accounts: Vec<SavedAccount> = self
            .accounts
            .values()
            .map(|a| SavedAccount {
                config: a.config.clone(),
                webhook_url: a.webhook_url.clone(),
                webhook_secret: a.webhook_secret.clone(),
                links: a.links.iter().map(|(_, l)| l.clone()).collect(),
            })
            .collect();
        accounts.sort_by(|a, b| a.config.key_id.cmp(&b.config.key_id));
        Saved { accounts }
    }

    /// Replaces every account with the saved ones.
    fn restore(&mut self, saved: Saved) {
        self.accounts.clear();
        self.codes.clear();
        self.rewrite = self.tracked;
        for a in saved.accounts {
            let key_id = a.config.key_id.clone();
            // Filled untracked: `rewrite` writes everything when it must, and a store read
            // back from its rows is unchanged.
            let mut account = Account::new(a.config, self.store_limit, false);
            account.webhook_url = a.webhook_url;
            account.webhook_secret = a.webhook_secret;
            account.links.reserve(a.links.len());
            self.codes.reserve(a.links.len());
            for link in a.links {
                account.index(&link);
                self.codes
                    .insert(link.short_code.clone(), (key_id.clone(), link.id.clone()));
                account.links.insert(link.id.clone(), link);
            }
            account.links.track(self.tracked);
            self.accounts.insert(key_id, account);
        }
    }

    fn changes(&mut self, out: &mut crate::records::Changes) {
        let force = self.rewrite;
        let keys: Vec<String> = if self.rewrite {
            out.delete_kinds("razorpay.");
            self.rewrite = false;
            self.accounts.take_changed();
            self.accounts.iter().map(|(k, _)| k.clone()).collect()
        } else {
            self.accounts.take_changed()
        };
        for key in keys {
            let Some(account) = self.accounts.get_mut(&key) else {
                out.delete(ACCOUNT, &key);
                out.delete_tenant(LINK, &key);
                continue;
            };
            let all = std::mem::take(&mut account.fresh);
            let header = account.header();
            out.put_changed(ACCOUNT, &key, &header, &mut account.header_row, force || all);
            crate::records::map_changes(out, LINK, &key, &mut account.links, all);
        }
        // Lending the accounts out above marked them again.
        self.accounts.take_changed();
    }

    fn forget_changes(&mut self) {
        self.rewrite = false;
        for key in self.accounts.take_changed() {
            if let Some(account) = self.accounts.get_mut(&key) {
                account.fresh = false;
                account.links.take_changed();
            }
        }
        self.accounts.take_changed();
    }

    fn rewrite(&mut self) {
        self.rewrite = self.tracked;
    }

    fn assemble(stored: &mut crate::records::Stored, out: &mut String) {
        use crate::records::{push_array, push_objects};
        let mut links = stored.by_tenant(LINK);
        out.push_str("{\"accounts\":");
        push_objects(out, stored.take(ACCOUNT), |account, key| {
            push_array(account.field("links"), links.remove(key).unwrap_or_default());
        });
        out.push('}');
    }
}

/// The data dir's kinds of rows: an account's settings, and each of its links.
const ACCOUNT: &str = "razorpay.account";
const LINK: &str = "razorpay.link";

impl Account {
    /// The account's row: a saved account without its links.
    fn header(&self) -> serde_json::Value {
        serde_json::json!({
            "config": self.config,
            "webhook_url": self.webhook_url,
            "webhook_secret": self.webhook_secret,
        })
    }
}
