//! In-memory WhatsApp state, partitioned by business phone number: the messages each business
//! sent and received, and its orders by `reference_id` with their status and payment history.
//!
//! [`Store::accept`] applies the rules that need state (reference_id uniqueness, known orders,
//! status transitions) and records the message in one step, so a refused request changes nothing.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::model::{
    Direction, JsonText, Message, MessageStatus, Order, OrderEvent, OrderStatus, Region, StatusEntry,
    TransitionError, check_transition,
};
use super::checked::{Checked, Intent, OrderDraft, PARAMS, Recipient, StatusDraft};
use crate::bounded::BoundedMap;
use super::config::{BusinessConfig, WhatsAppConfig};
use crate::ids::Ids;
use crate::schema::Violation;

#[derive(Debug)]
pub(super) struct Business {
    pub config: BusinessConfig,
    pub messages: BoundedMap<String, Message>,
    pub orders: BoundedMap<String, Order>,
    /// This business's own webhook URL and verify token (config, or a WABA `subscribed_apps`
    /// override), ahead of the app-level subscription.
    pub callback_override: Option<(String, String)>,
    /// When each customer (`wa_id`) last wrote, in sandbox Unix seconds: the start of their
    /// 24-hour customer-service window.
    pub last_inbound: BoundedMap<String, i64>,
    /// The WABA's message templates.
    pub templates: Vec<super::config::Template>,
    /// Uploaded media, newest kept.
    pub media: BoundedMap<String, super::media::Media>,
    /// Made since the last hand-over to the data dir.
    fresh: bool,
    /// Its settings' row as last handed over.
    header_row: Option<String>,
}

/// The customer-service window, in seconds.
pub(super) const WINDOW_SECS: i64 = 24 * 3600;

impl Business {
    /// When `wa_id`'s customer-service window closes (or closed); `None` if they never wrote.
    pub(super) fn window_closes(&self, wa_id: &str) -> Option<i64> {
        self.last_inbound.get(wa_id).map(|t| t + WINDOW_SECS)
    }

    /// Whether `recipient` has not written in the last 24 hours at `now`. A message to a
    /// business-scoped user id with no phone number is not judged.
    fn outside_window(&self, recipient: &Recipient, now: i64) -> bool {
        recipient.wa_id.as_deref().is_some_and(|wa_id| {
            self.window_closes(wa_id)
                .is_none_or(|closes| now >= closes)
        })
    }

    fn new(
        config: BusinessConfig,
        (history_limit, store_limit, tracked): (usize, usize, bool),
        templates: &[super::config::Template],
    ) -> Self {
        let templates = templates
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if t.id.is_empty() {
                    // Derived, not drawn: start-up never moves the seeded id stream.
                    let mac = crate::webhook::sign::hmac_sha256_hex(
                        config.waba_id.as_bytes(),
                        &[t.name.as_bytes(), t.language.as_bytes()],
                    );
                    t.id = mac
                        .bytes()
                        .map(|b| char::from(b'0' + b % 10))
                        .take(15)
                        .collect();
                }
                t
            })
            .collect();
        Self {
            templates,
            media: BoundedMap::new(super::media::KEPT).tracked(tracked),
            callback_override: config
                .callback_url
                .clone()
                .map(|u| (u, config.verify_token.clone())),
            config,
            messages: BoundedMap::new(history_limit).tracked(tracked),
            orders: BoundedMap::new(store_limit).tracked(tracked),
            last_inbound: BoundedMap::new(store_limit).tracked(tracked),
            fresh: true,
            header_row: None,
        }
    }

    pub(super) fn configuration_names(&self) -> Vec<String> {
        self.config
            .payment_configurations
            .iter()
            .map(|p| p.configuration_name.clone())
            .collect()
    }
}

/// A refused `order_status` update, reported later as a `failed` status of its message.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub error: TransitionError,
    pub from: OrderStatus,
    pub to: OrderStatus,
}

impl Refusal {
    /// The `errors[]` entry of the `failed` status webhook.
    pub(super) fn webhook_error(&self) -> Value {
        super::error::webhook_error(
            self.error.code(),
            self.error.title(),
            &self.error.details(self.from, self.to),
        )
    }
}

/// What an accepted request changed.
#[derive(Debug, Clone)]
pub(super) struct Accepted {
    pub message_id: Option<String>,
    pub recipient: Recipient,
    pub refusal: Option<Refusal>,
    /// The recipient has not written in the last 24 hours (judged while the store is at hand;
    /// whether it matters is the sender's call).
    pub outside_window: bool,
}

/// The app's webhook subscription, made through `POST /{app_id}/subscriptions`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Subscription {
    pub object: String,
    pub callback_url: String,
    #[serde(skip)]
    pub verify_token: String,
    pub fields: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug)]
pub(super) struct Store {
    businesses: BoundedMap<String, Business>,
    by_token: HashMap<String, String>,
    history_limit: usize,
    store_limit: usize,
    /// With a data dir: hand everything over at the next call (the store was replaced), and
    /// the app subscription's row as last handed over.
    tracked: bool,
    rewrite: bool,
    app_row: Option<String>,
    /// The templates each business starts with.
    templates: Vec<super::config::Template>,
    pub app_subscription: Option<Subscription>,
}

impl Store {
    pub(super) fn new(config: &WhatsAppConfig, limits: &crate::context::Limits) -> Self {
        let mut store = Self {
            businesses: BoundedMap::new(usize::MAX).tracked(limits.persistent),
            by_token: HashMap::new(),
            history_limit: limits.history_limit,
            store_limit: limits.store_limit,
            tracked: limits.persistent,
            rewrite: limits.persistent,
            app_row: None,
            templates: config.templates.clone(),
            app_subscription: None,
        };
        for b in &config.businesses {
            store.add_business(b.clone());
        }
        store
    }

    pub(super) fn add_business(&mut self, config: BusinessConfig) {
        self.by_token
            .insert(config.access_token.clone(), config.phone_number_id.clone());
        self.businesses.insert(
            config.phone_number_id.clone(),
            Business::new(
                config,
                (self.history_limit, self.store_limit, self.tracked),
                &self.templates,
            ),
        );
    }

    /// Forgets a business (its messages, orders and token).
    pub(super) fn remove_business(&mut self, phone_number_id: &str) -> bool {
        match self.businesses.remove(phone_number_id) {
            Some(b) => {
                self.by_token.remove(&b.config.access_token);
                true
            }
            None => false,
        }
    }

    pub(super) fn business(&self, phone_number_id: &str) -> Option<&Business> {
        self.businesses.get(phone_number_id)
    }

    pub(super) fn business_mut(&mut self, phone_number_id: &str) -> Option<&mut Business> {
        self.businesses.get_mut(phone_number_id)
    }

    pub(super) fn businesses(&self) -> impl Iterator<Item = &Business> {
        self.businesses.values()
    }

    /// The business a token acts for.
    pub(super) fn business_of_token(&self, token: &str) -> Option<&Business> {
        self.businesses.get(self.by_token.get(token)?)
    }

    /// Applies the stateful rules and, if nothing is wrong, records the message (and its order or
    /// status update). On any violation nothing changes and every violation is returned,
    /// including the stateless ones found before.
    pub(super) fn accept(
        &mut self,
        phone_number_id: &str,
        checked: Checked,
        body: &Value,
        raw: JsonText,
        now_secs: i64,
        ids: &Ids,
    ) -> Result<Accepted, Vec<Violation>> {
        let Some(business) = self.businesses.get_mut(phone_number_id) else {
            return Err(vec![Violation::invalid("", "unknown business")]);
        };
        let Checked {
            intent,
            kind,
            recipient,
            order,
            status,
            mut violations,
            warnings,
            rendered: checked_rendered,
            callback_data,
        } = checked;
        if let Intent::MarkRead { message_id } = intent {
            business.check_read(&message_id, &mut violations);
            if !violations.is_empty() {
                return Err(violations);
            }
            business.mark_read(&message_id, now_secs);
            return Ok(Accepted {
                message_id: None,
                recipient,
                refusal: None,
                outside_window: false,
            });
        }
        business.check_order(order.as_ref(), &mut violations);
        business.check_status(status.as_ref(), body, &mut violations);
        if !violations.is_empty() {
            violations.sort_by(|a, b| a.pointer.cmp(&b.pointer));
            return Err(violations);
        }

        let seed_digits = recipient
            .wa_id
            .as_deref()
            .or(recipient.input.as_deref())
            .unwrap_or_default();
        let message_id = ids.wamid(seed_digits, true);
        let reference_id = order
            .as_ref()
            .map(|o| o.reference_id.clone())
            .or_else(|| status.as_ref().map(|s| s.reference_id.clone()));
        let message = Message {
            id: message_id.clone(),
            direction: Direction::Outbound,
            phone_number_id: phone_number_id.to_string(),
            input: recipient.input.clone(),
            wa_id: recipient.wa_id.clone(),
            user_id: recipient.user_id.clone(),
            kind,
            reference_id,
            biz_opaque_callback_data: callback_data,
            rendered: checked_rendered,
            body: raw,
            timestamp: now_secs,
            statuses: vec![StatusEntry {
                status: MessageStatus::Accepted,
                timestamp: now_secs,
                errors: Vec::new(),
            }],
            warnings,
        };
        if let Some(draft) = order {
            business.record_order(draft, recipient.wa_id.clone(), &message_id, now_secs);
        }
        let refusal = status.and_then(|update| business.apply_status(update, &message_id, now_secs));
        business.messages.insert(message_id.clone(), message);
        let outside_window = business.outside_window(&recipient, now_secs);
        Ok(Accepted {
            message_id: Some(message_id),
            recipient,
            refusal,
            outside_window,
        })
    }
}

impl Business {
    /// `status: read` names a message this business received.
    fn check_read(&self, message_id: &str, violations: &mut Vec<Violation>) {
        let known = self
            .messages
            .get(message_id)
            .is_some_and(|m| m.direction == Direction::Inbound);
        if !known {
            violations.push(Violation::invalid(
                "/message_id",
                "does not match a message this business received",
            ));
        }
    }

    fn mark_read(&mut self, message_id: &str, now_secs: i64) {
        if let Some(m) = self.messages.get_mut(message_id)
            && m.status() != MessageStatus::Read
        {
            m.statuses.push(StatusEntry {
                status: MessageStatus::Read,
                timestamp: now_secs,
                errors: Vec::new(),
            });
        }
    }

    /// An `order_details` reference_id is unique per business.
    fn check_order(&self, order: Option<&OrderDraft>, violations: &mut Vec<Violation>) {
        if let Some(order) = order
            && self.orders.contains_key(&order.reference_id)
        {
            violations.push(Violation::invalid(
                format!("{PARAMS}/reference_id"),
                format!(
                    "{:?} was already used by an order_details message of this business; reference_id must be unique (add a sequence number to resend)",
                    order.reference_id
                ),
            ));
        }
    }

    /// An `order_status` names an order this business sent, in the shape its region takes.
    fn check_status(
        &self,
        status: Option<&StatusDraft>,
        body: &Value,
        violations: &mut Vec<Violation>,
    ) {
        let Some(status) = status else {
            return;
        };
        let Some(order) = self.orders.get(&status.reference_id) else {
            violations.push(Violation::invalid(
                format!("{PARAMS}/reference_id"),
                format!(
                    "{:?} does not match any order_details message this business sent",
                    status.reference_id
                ),
            ));
            return;
        };
        if order.region != Region::India {
            return;
        }
        if body.pointer(&format!("{PARAMS}/payment")).is_some() {
            violations.push(Violation {
                message: "unknown parameter (payment is only sent for Brazil orders)".into(),
                ..Violation::unknown(format!("{PARAMS}/payment"))
            });
        }
        let order_pointer = format!("{PARAMS}/order");
        if body.pointer(&order_pointer).is_none()
            && !violations.iter().any(|v| v.pointer == order_pointer)
        {
            violations.push(Violation::missing(order_pointer));
        }
    }

    fn record_order(
        &mut self,
        draft: OrderDraft,
        wa_id: Option<String>,
        message_id: &str,
        now_secs: i64,
    ) {
        let order = Order {
            reference_id: draft.reference_id.clone(),
            region: draft.region,
            phone_number_id: self.config.phone_number_id.clone(),
            wa_id,
            message_id: message_id.to_string(),
            created_at: now_secs,
            status: OrderStatus::Pending,
            payment_status: None,
            currency: draft.currency,
            total_amount: draft.total_amount,
            payment_types: draft.payment_types,
            configuration_name: draft.configuration_name,
            payment_link: draft.payment_link,
            expires_at: draft.expires_at,
            history: vec![OrderEvent::applied(
                now_secs,
                message_id,
                Some(OrderStatus::Pending),
                None,
                None,
            )],
            transactions: Vec::new(),
            pg_type: draft.pg_type,
            pg_extras: draft.pg_extras,
            offsite_card: draft.offsite_card,
        };
        self.orders.insert(draft.reference_id, order);
    }

    /// Applies an `order_status` update to its (known) order. A transition the order's state
    /// machine refuses is recorded in its history and returned, to become a `failed` status.
    fn apply_status(
        &mut self,
        update: StatusDraft,
        message_id: &str,
        now_secs: i64,
    ) -> Option<Refusal> {
        let order = self.orders.get_mut(&update.reference_id)?;
        if let Some(p) = update.payment_status {
            order.payment_status = Some(p);
            order
                .history
                .push(OrderEvent::applied(now_secs, message_id, None, Some(p), None));
        }
        let to = update.order_status?;
        let from = order.status;
        match check_transition(from, to, order.payment_blocks_cancel()) {
            Ok(()) => {
                order.status = to;
                order.history.push(OrderEvent::applied(
                    now_secs,
                    message_id,
                    Some(to),
                    None,
                    update.description,
                ));
                None
            }
            Err(error) => {
                let details = error.details(from, to);
                order.history.push(OrderEvent::refused(
                    now_secs,
                    message_id,
                    to,
                    update.description,
                    error.code(),
                    details,
                ));
                Some(Refusal { error, from, to })
            }
        }
    }
}

impl Store {
    /// Records a message a (simulated) customer sent to the business.
    pub(super) fn record_inbound(
        &mut self,
        phone_number_id: &str,
        wa_id: &str,
        body: &Value,
        kind: &str,
        now_secs: i64,
        ids: &Ids,
    ) -> Option<Message> {
        let business = self.businesses.get_mut(phone_number_id)?;
        let id = ids.wamid(wa_id, false);
        let message = Message {
            id: id.clone(),
            direction: Direction::Inbound,
            phone_number_id: phone_number_id.to_string(),
            input: Some(wa_id.to_string()),
            wa_id: Some(wa_id.to_string()),
            user_id: None,
            kind: kind.to_string(),
            reference_id: body
                .pointer("/interactive/payment_method/reference_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            body: JsonText::of(body),
            timestamp: now_secs,
            statuses: Vec::new(),
            warnings: Vec::new(),
            biz_opaque_callback_data: None,
            rendered: None,
        };
        business.messages.insert(id, message.clone());
        business.last_inbound.insert(wa_id.to_string(), now_secs);
        Some(message)
    }
}

/// WhatsApp's state as saved: every business with its messages, orders, customer-service
/// windows, templates, uploaded media and callback override, and the app's subscription (with
/// its verify token, which the API never shows).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    businesses: Vec<SavedBusiness>,
    app_subscription: Option<(Subscription, String)>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedBusiness {
    config: BusinessConfig,
    /// Oldest first, as in every list below.
    messages: Vec<Message>,
    orders: Vec<Order>,
    callback_override: Option<(String, String)>,
    last_inbound: Vec<(String, i64)>,
    templates: Vec<super::config::Template>,
    media: Vec<SavedMedia>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedMedia {
    id: String,
    mime_type: String,
    sha256: String,
    /// The file, in standard base64.
    base64: String,
}

impl crate::records::Saves for Store {
    type Saved = Saved;

    /// Every business, by phone number id.
    fn saved(&self) -> Saved {
        let mut businesses: Vec<SavedBusiness> = self
            .businesses
            .values()
            .map(|b| SavedBusiness {
                config: b.config.clone(),
                messages: b.messages.iter().map(|(_, m)| m.clone()).collect(),
                orders: b.orders.iter().map(|(_, o)| o.clone()).collect(),
                callback_override: b.callback_override.clone(),
                last_inbound: b
                    .last_inbound
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
                templates: b.templates.clone(),
                media: b.media.values().map(SavedMedia::from).collect(),
            })
            .collect();
        businesses.sort_by(|a, b| a.config.phone_number_id.cmp(&b.config.phone_number_id));
        Saved {
            businesses,
            app_subscription: self
                .app_subscription
                .clone()
                .map(|s| (s.clone(), s.verify_token)),
        }
    }

    /// Media is base64.
    fn check(saved: &Saved) -> Result<(), String> {
        use base64::Engine as _;
        for b in &saved.businesses {
            for m in &b.media {
                base64::engine::general_purpose::STANDARD
                    .decode(&m.base64)
                    .map_err(|e| format!("media {}: not base64: {e}", m.id))?;
            }
        }
        Ok(())
    }

    /// Replaces every business with the saved ones.
    fn restore(&mut self, saved: Saved) {
        use base64::Engine as _;
        self.businesses.clear();
        self.by_token.clear();
        self.rewrite = self.tracked;
        for s in saved.businesses {
            let id = s.config.phone_number_id.clone();
            self.add_business(s.config);
            let Some(b) = self.businesses.get_mut(&id) else {
                continue;
            };
            // Filled untracked (see the gateway's restore).
            let tracked = self.tracked;
            b.messages.track(false);
            b.orders.track(false);
            b.last_inbound.track(false);
            b.media.track(false);
            b.messages.reserve(s.messages.len());
            for m in s.messages {
                b.messages.insert(m.id.clone(), m);
            }
            for o in s.orders {
                b.orders.insert(o.reference_id.clone(), o);
            }
            for (wa_id, at) in s.last_inbound {
                b.last_inbound.insert(wa_id, at);
            }
            b.callback_override = s.callback_override;
            b.templates = s.templates;
            for m in s.media {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&m.base64)
                    .unwrap_or_default();
                b.media.insert(
                    m.id.clone(),
                    super::media::Media {
                        id: m.id,
                        mime_type: m.mime_type,
                        sha256: m.sha256,
                        bytes: bytes.into(),
                    },
                );
            }
            b.messages.track(tracked);
            b.orders.track(tracked);
            b.last_inbound.track(tracked);
            b.media.track(tracked);
        }
        self.app_subscription = saved
            .app_subscription
            .map(|(s, verify_token)| Subscription { verify_token, ..s });
    }

    fn changes(&mut self, out: &mut crate::records::Changes) {
        let force = self.rewrite;
        let keys: Vec<String> = if self.rewrite {
            out.delete_kinds("whatsapp.");
            self.rewrite = false;
            self.app_row = None;
            self.businesses.take_changed();
            self.businesses.iter().map(|(k, _)| k.clone()).collect()
        } else {
            self.businesses.take_changed()
        };
        for key in keys {
            let Some(b) = self.businesses.get_mut(&key) else {
                out.delete(BUSINESS, &key);
                for kind in [MESSAGE, ORDER, INBOUND, MEDIA] {
                    out.delete_tenant(kind, &key);
                }
                continue;
            };
            let all = std::mem::take(&mut b.fresh);
            let header = b.header();
            out.put_changed(BUSINESS, &key, &header, &mut b.header_row, force || all);
            crate::records::map_changes(out, MESSAGE, &key, &mut b.messages, all);
            crate::records::map_changes(out, ORDER, &key, &mut b.orders, all);
            crate::records::map_rows(out, INBOUND, &key, &mut b.last_inbound, all, |wa_id, at| {
                serde_json::json!([wa_id, at])
            });
            crate::records::map_rows(out, MEDIA, &key, &mut b.media, all, |_, m| {
                serde_json::to_value(SavedMedia::from(m)).unwrap_or_default()
            });
        }
        // Lending the businesses out above marked them again.
        self.businesses.take_changed();
        let app = self
            .app_subscription
            .as_ref()
            .map(|s| (s, s.verify_token.as_str()));
        let row = serde_json::to_string(&app).unwrap_or_default();
        if self.app_row.as_ref() != Some(&row) {
            out.put(APP, "subscription", &app);
            self.app_row = Some(row);
        }
    }

    fn forget_changes(&mut self) {
        self.rewrite = false;
        for key in self.businesses.take_changed() {
            if let Some(b) = self.businesses.get_mut(&key) {
                b.fresh = false;
                b.messages.take_changed();
                b.orders.take_changed();
                b.last_inbound.take_changed();
                b.media.take_changed();
            }
        }
        self.businesses.take_changed();
        let app = self
            .app_subscription
            .as_ref()
            .map(|s| (s, s.verify_token.as_str()));
        self.app_row = serde_json::to_string(&app).ok();
    }

    fn rewrite(&mut self) {
        self.rewrite = self.tracked;
    }

    fn assemble(stored: &mut crate::records::Stored, out: &mut String) {
        use crate::records::{push_array, push_objects};
        let mut messages = stored.by_tenant(MESSAGE);
        let mut orders = stored.by_tenant(ORDER);
        let mut inbound = stored.by_tenant(INBOUND);
        let mut media = stored.by_tenant(MEDIA);
        out.push_str("{\"businesses\":");
        push_objects(out, stored.take(BUSINESS), |b, key| {
            for (name, rows) in [
                ("messages", &mut messages),
                ("orders", &mut orders),
                ("last_inbound", &mut inbound),
                ("media", &mut media),
            ] {
                push_array(b.field(name), rows.remove(key).unwrap_or_default());
            }
        });
        out.push_str(",\"app_subscription\":");
        out.push_str(&stored.one(APP, "subscription").unwrap_or_else(|| "null".to_string()));
        out.push('}');
    }

}

/// The data dir's kinds of rows: a business's settings, each of its messages, orders, customer
/// windows and media, and the app's subscription.
const BUSINESS: &str = "whatsapp.business";
const MESSAGE: &str = "whatsapp.message";
const ORDER: &str = "whatsapp.order";
const INBOUND: &str = "whatsapp.inbound";
const MEDIA: &str = "whatsapp.media";
const APP: &str = "whatsapp.app";

impl Business {
    /// The business's row: a saved business without its messages, orders, windows and media.
    fn header(&self) -> serde_json::Value {
        serde_json::json!({
            "config": self.config,
            "callback_override": self.callback_override,
            "templates": self.templates,
        })
    }
}

impl From<&super::media::Media> for SavedMedia {
    fn from(m: &super::media::Media) -> Self {
        use base64::Engine as _;
        Self {
            id: m.id.clone(),
            mime_type: m.mime_type.clone(),
            sha256: m.sha256.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(&m.bytes),
        }
    }
}

impl Store {
    /// Businesses, messages and orders held.
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        self.businesses.values().fold(
            (self.businesses.len(), 0, 0),
            |(b, m, o), x| (b, m + x.messages.len(), o + x.orders.len()),
        )
    }
}
