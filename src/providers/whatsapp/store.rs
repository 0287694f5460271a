//! In-memory WhatsApp state, partitioned by business phone number: the messages each business
//! sent and received, and its orders by `reference_id` with their status and payment history.
//!
//! [`Store::accept`] applies the rules that need state (reference_id uniqueness, known orders,
//! status transitions) and records the message in one step, so a refused request changes nothing.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::model::{
    Direction, Message, Order, OrderEvent, OrderStatus, PaymentStatus, Region, StatusEntry,
    Transaction, TransitionError, check_transition,
};
use super::rules::{Checked, Intent, PARAMS, Recipient};
use crate::bounded::BoundedMap;
use crate::config::{BusinessConfig, WhatsAppConfig};
use crate::ids::Ids;
use crate::schema::Violation;

#[derive(Debug)]
pub struct Business {
    pub config: BusinessConfig,
    pub messages: BoundedMap<String, Message>,
    pub orders: BoundedMap<String, Order>,
    /// This business's own webhook URL and verify token (config, or a WABA `subscribed_apps`
    /// override), ahead of the app-level subscription.
    pub callback_override: Option<(String, String)>,
}

impl Business {
    fn new(config: BusinessConfig, history_limit: usize, store_limit: usize) -> Self {
        Self {
            callback_override: config
                .callback_url
                .clone()
                .map(|u| (u, config.verify_token.clone())),
            config,
            messages: BoundedMap::new(history_limit),
            orders: BoundedMap::new(store_limit),
        }
    }

    pub fn configuration_names(&self) -> Vec<String> {
        self.config
            .payment_configurations
            .iter()
            .map(|p| p.configuration_name.clone())
            .collect()
    }
}

/// A value as JSON text.
pub fn raw_json(value: &Value) -> Box<str> {
    value.to_string().into_boxed_str()
}

/// A refused `order_status` update, reported later as a `failed` status of its message.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: TransitionError,
    pub from: OrderStatus,
    pub to: OrderStatus,
}

impl Refusal {
    /// The `errors[]` entry of the `failed` status webhook.
    pub fn webhook_error(&self) -> Value {
        super::error::webhook_error(
            self.error.code(),
            self.error.title(),
            &self.error.details(self.from, self.to),
        )
    }
}

/// What an accepted request changed.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub message_id: Option<String>,
    pub recipient: Recipient,
    pub refusal: Option<Refusal>,
}

/// The app's webhook subscription, made through `POST /{app_id}/subscriptions`.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub object: String,
    pub callback_url: String,
    #[serde(skip)]
    pub verify_token: String,
    pub fields: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug)]
pub struct Store {
    businesses: HashMap<String, Business>,
    by_token: HashMap<String, String>,
    history_limit: usize,
    store_limit: usize,
    pub app_subscription: Option<Subscription>,
}

impl Store {
    pub fn new(config: &WhatsAppConfig, history_limit: usize, store_limit: usize) -> Self {
        let mut store = Self {
            businesses: HashMap::new(),
            by_token: HashMap::new(),
            history_limit,
            store_limit,
            app_subscription: None,
        };
        for b in &config.businesses {
            store.add_business(b.clone());
        }
        store
    }

    pub fn add_business(&mut self, config: BusinessConfig) {
        self.by_token
            .insert(config.access_token.clone(), config.phone_number_id.clone());
        self.businesses.insert(
            config.phone_number_id.clone(),
            Business::new(config, self.history_limit, self.store_limit),
        );
    }

    /// Forgets a business (its messages, orders and token).
    pub fn remove_business(&mut self, phone_number_id: &str) -> bool {
        match self.businesses.remove(phone_number_id) {
            Some(b) => {
                self.by_token.remove(&b.config.access_token);
                true
            }
            None => false,
        }
    }

    pub fn business(&self, phone_number_id: &str) -> Option<&Business> {
        self.businesses.get(phone_number_id)
    }

    pub fn business_mut(&mut self, phone_number_id: &str) -> Option<&mut Business> {
        self.businesses.get_mut(phone_number_id)
    }

    pub fn businesses(&self) -> impl Iterator<Item = &Business> {
        self.businesses.values()
    }

    /// The business a token acts for.
    pub fn business_of_token(&self, token: &str) -> Option<&Business> {
        self.businesses.get(self.by_token.get(token)?)
    }

    /// Applies the stateful rules and, if nothing is wrong, records the message (and its order or
    /// status update). On any violation nothing changes and every violation is returned,
    /// including the stateless ones found before.
    pub fn accept(
        &mut self,
        phone_number_id: &str,
        checked: Checked,
        body: &Value,
        raw: Box<str>,
        now_secs: i64,
        ids: &Ids,
    ) -> Result<Accepted, Vec<Violation>> {
        let Some(business) = self.businesses.get_mut(phone_number_id) else {
            return Err(vec![Violation::invalid("", "unknown business")]);
        };
        let mut violations = checked.violations;

        if let Intent::MarkRead { message_id } = &checked.intent {
            let known = business
                .messages
                .get(message_id)
                .is_some_and(|m| m.direction == Direction::Inbound);
            if !known {
                violations.push(Violation::invalid(
                    "/message_id",
                    "does not match a message this business received",
                ));
            }
            if !violations.is_empty() {
                return Err(violations);
            }
            if let Some(m) = business.messages.get_mut(message_id)
                && m.status() != "read"
            {
                m.statuses.push(StatusEntry {
                    status: "read".into(),
                    timestamp: now_secs,
                    errors: Vec::new(),
                });
            }
            return Ok(Accepted {
                message_id: None,
                recipient: checked.recipient,
                refusal: None,
            });
        }

        if let Some(order) = &checked.order
            && business.orders.contains_key(&order.reference_id)
        {
            violations.push(Violation::invalid(
                format!("{PARAMS}/reference_id"),
                format!(
                    "{:?} was already used by an order_details message of this business; reference_id must be unique (add a sequence number to resend)",
                    order.reference_id
                ),
            ));
        }
        let mut target_region = None;
        if let Some(status) = &checked.status {
            match business.orders.get(&status.reference_id) {
                None => violations.push(Violation::invalid(
                    format!("{PARAMS}/reference_id"),
                    format!(
                        "{:?} does not match any order_details message this business sent",
                        status.reference_id
                    ),
                )),
                Some(order) => {
                    target_region = Some(order.region);
                    if order.region == Region::India {
                        if body.pointer(&format!("{PARAMS}/payment")).is_some() {
                            violations.push(Violation {
                                message:
                                    "unknown parameter (payment is only sent for Brazil orders)"
                                        .into(),
                                ..Violation::unknown(format!("{PARAMS}/payment"))
                            });
                        }
                        if body.pointer(&format!("{PARAMS}/order")).is_none()
                            && !violations
                                .iter()
                                .any(|v| v.pointer == format!("{PARAMS}/order"))
                        {
                            violations.push(Violation::missing(format!("{PARAMS}/order")));
                        }
                    }
                }
            }
        }
        if !violations.is_empty() {
            violations.sort_by(|a, b| a.pointer.cmp(&b.pointer));
            return Err(violations);
        }

        let seed_digits = checked
            .recipient
            .wa_id
            .clone()
            .or_else(|| checked.recipient.input.clone())
            .unwrap_or_default();
        let message_id = ids.wamid(&seed_digits, true);
        let reference_id = checked
            .order
            .as_ref()
            .map(|o| o.reference_id.clone())
            .or_else(|| checked.status.as_ref().map(|s| s.reference_id.clone()));
        let message = Message {
            id: message_id.clone(),
            direction: Direction::Outbound,
            phone_number_id: phone_number_id.to_string(),
            input: checked.recipient.input.clone(),
            wa_id: checked.recipient.wa_id.clone(),
            user_id: checked.recipient.user_id.clone(),
            kind: checked.kind.clone(),
            reference_id,
            biz_opaque_callback_data: body
                .get("biz_opaque_callback_data")
                .and_then(Value::as_str)
                .map(str::to_string),
            body: raw,
            timestamp: now_secs,
            statuses: vec![StatusEntry {
                status: "accepted".into(),
                timestamp: now_secs,
                errors: Vec::new(),
            }],
            warnings: checked.warnings,
        };

        if let Some(draft) = checked.order {
            business.orders.insert(
                draft.reference_id.clone(),
                Order {
                    reference_id: draft.reference_id,
                    region: draft.region,
                    phone_number_id: phone_number_id.to_string(),
                    wa_id: checked.recipient.wa_id.clone(),
                    message_id: message_id.clone(),
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
                        &message_id,
                        Some(OrderStatus::Pending),
                        None,
                        None,
                    )],
                    transactions: Vec::new(),
                    pg_type: draft.pg_type,
                    pg_extras: draft.pg_extras,
                    offsite_card: draft.offsite_card,
                },
            );
        }

        let mut refusal = None;
        if let Some(update) = checked.status
            && let Some(order) = business.orders.get_mut(&update.reference_id)
        {
            debug_assert!(target_region.is_some());
            if let Some(p) = update.payment_status {
                order.payment_status = Some(p);
                order.history.push(OrderEvent::applied(
                    now_secs,
                    &message_id,
                    None,
                    Some(p),
                    None,
                ));
            }
            if let Some(to) = update.order_status {
                let from = order.status;
                match check_transition(from, to, order.payment_blocks_cancel()) {
                    Ok(()) => {
                        order.status = to;
                        order.history.push(OrderEvent::applied(
                            now_secs,
                            &message_id,
                            Some(to),
                            None,
                            update.description.clone(),
                        ));
                    }
                    Err(error) => {
                        let details = error.details(from, to);
                        order.history.push(OrderEvent::refused(
                            now_secs,
                            &message_id,
                            to,
                            update.description.clone(),
                            error.code(),
                            details,
                        ));
                        refusal = Some(Refusal { error, from, to });
                    }
                }
            }
        }

        business.messages.insert(message_id.clone(), message);
        Ok(Accepted {
            message_id: Some(message_id),
            recipient: checked.recipient,
            refusal,
        })
    }
}

/// How a simulated customer payment on a WhatsApp order turns out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayOutcome {
    /// The gateway captured the payment.
    Captured,
    /// The attempt failed; the order's payment stays `pending` with a failed transaction.
    Failed,
    /// The attempt is still in progress.
    Pending,
}

/// A simulated customer payment attempt.
#[derive(Debug, Clone)]
pub struct PayAttempt {
    pub outcome: PayOutcome,
    /// `upi`, `card`, `wallet` or `netbanking`.
    pub method: String,
    /// The gateway error of a failed attempt.
    pub error: Option<Value>,
}

/// What a simulated customer payment produced.
#[derive(Debug, Clone)]
pub enum Paid {
    /// An India payment-gateway order: a payment status webhook follows.
    Gateway(Box<Order>),
    /// A Brazil one-click order: the customer confirmed; an inbound `payment_method` message
    /// follows.
    OneClick(Box<Message>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("no order with reference_id {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

impl Store {
    /// Records a message a (simulated) customer sent to the business.
    pub fn record_inbound(
        &mut self,
        phone_number_id: &str,
        wa_id: &str,
        body: Value,
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
            body: raw_json(&body),
            timestamp: now_secs,
            statuses: Vec::new(),
            warnings: Vec::new(),
            biz_opaque_callback_data: None,
        };
        business.messages.insert(id, message.clone());
        Some(message)
    }

    /// A customer pays (or tries to pay) an order from the chat.
    pub fn pay(
        &mut self,
        phone_number_id: &str,
        reference_id: &str,
        attempt: PayAttempt,
        now_secs: i64,
        ids: &Ids,
    ) -> Result<Paid, PayError> {
        let PayAttempt {
            outcome,
            method,
            error,
        } = attempt;
        let business = self
            .businesses
            .get_mut(phone_number_id)
            .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
        let order = business
            .orders
            .get_mut(&reference_id.to_string())
            .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
        if order.status.is_terminal() {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is {}; it cannot be paid",
                order.status.as_str()
            )));
        }
        if order.payment_types.iter().any(|t| t == "offsite_card_pay") {
            let card = order.offsite_card.clone().unwrap_or(Value::Null);
            let wa_id = order.wa_id.clone().unwrap_or_default();
            let body = serde_json::json!({
                "from_logical_id": ids.digits(14),
                "type": "interactive",
                "interactive": {"type": "payment_method", "payment_method": {
                    "payment_method": "offsite_card_pay",
                    "payment_timestamp": now_secs,
                    "reference_id": reference_id,
                    "last_four_digits": card.get("last_four_digits").cloned().unwrap_or(Value::Null),
                    "credential_id": card.get("credential_id").cloned().unwrap_or(Value::Null),
                }}
            });
            let message = self
                .record_inbound(
                    phone_number_id,
                    &wa_id,
                    body,
                    "interactive.payment_method",
                    now_secs,
                    ids,
                )
                .ok_or_else(|| PayError::NotFound(reference_id.to_string()))?;
            return Ok(Paid::OneClick(Box::new(message)));
        }
        let gateway = order
            .payment_types
            .iter()
            .any(|t| t == "payment_gateway" || t == "payment_configuration");
        if !gateway {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is paid through {}; WhatsApp sends no payment webhook for it (the merchant hears from its payment provider and sends order_status)",
                order.payment_types.join(", ")
            )));
        }
        if order.payment_status == Some(PaymentStatus::Captured) {
            return Err(PayError::Conflict(format!(
                "order {reference_id:?} is already paid"
            )));
        }
        let (status, payment_status) = match outcome {
            PayOutcome::Captured => ("success", PaymentStatus::Captured),
            PayOutcome::Failed => ("failed", PaymentStatus::Pending),
            PayOutcome::Pending => ("pending", PaymentStatus::Pending),
        };
        let error = (outcome == PayOutcome::Failed).then(|| {
            error.unwrap_or_else(
                || serde_json::json!({"code": "BAD_REQUEST_ERROR", "reason": "payment_failed"}),
            )
        });
        let pg_order_id = order
            .transactions
            .first()
            .map(|t| t.id.clone())
            .unwrap_or_else(|| ids.prefixed("order"));
        order.transactions.push(Transaction {
            id: pg_order_id,
            pg_transaction_id: Some(ids.prefixed("pay")),
            status: status.to_string(),
            method: method.clone(),
            amount: order.total_amount,
            created_timestamp: now_secs,
            updated_timestamp: now_secs,
            error,
        });
        order.payment_status = Some(payment_status);
        order.history.push(OrderEvent::applied(
            now_secs,
            &order.message_id.clone(),
            None,
            Some(payment_status),
            Some(format!("customer payment attempt: {status} by {method}")),
        ));
        Ok(Paid::Gateway(Box::new(order.clone())))
    }
}
