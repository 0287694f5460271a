//! In-memory WhatsApp state, partitioned by business phone number: the messages each business
//! sent and received, and its orders by `reference_id` with their status and payment history.
//!
//! [`Store::accept`] applies the rules that need state (reference_id uniqueness, known orders,
//! status transitions) and records the message in one step, so a refused request changes nothing.

use std::collections::HashMap;

use serde_json::Value;

use super::error::GraphError;
use super::model::{
    Direction, Message, Order, OrderEvent, OrderStatus, Region, StatusEntry, TransitionError,
    check_transition,
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
}

impl Business {
    fn new(config: BusinessConfig, history_limit: usize, store_limit: usize) -> Self {
        Self {
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

/// A refused `order_status` update, reported later as a `failed` status of its message.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: TransitionError,
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// What an accepted request changed.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub message_id: Option<String>,
    pub recipient: Recipient,
    pub refusal: Option<Refusal>,
}

#[derive(Debug)]
pub struct Store {
    businesses: HashMap<String, Business>,
    by_token: HashMap<String, String>,
    history_limit: usize,
    store_limit: usize,
}

impl Store {
    pub fn new(config: &WhatsAppConfig, history_limit: usize, store_limit: usize) -> Self {
        let mut store = Self {
            businesses: HashMap::new(),
            by_token: HashMap::new(),
            history_limit,
            store_limit,
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

    pub fn business(&self, phone_number_id: &str) -> Option<&Business> {
        self.businesses.get(phone_number_id)
    }

    pub fn business_mut(&mut self, phone_number_id: &str) -> Option<&mut Business> {
        self.businesses.get_mut(phone_number_id)
    }

    pub fn businesses(&self) -> impl Iterator<Item = &Business> {
        self.businesses.values()
    }

    /// Checks that `token` may act on `phone_number_id`. A token that acts for another business
    /// sees the object as missing, as Graph words it.
    pub fn authorize(
        &self,
        token: &str,
        phone_number_id: &str,
        method: &str,
    ) -> Result<(), GraphError> {
        let Some(owner) = self.by_token.get(token) else {
            return Err(GraphError::InvalidToken);
        };
        if owner != phone_number_id || !self.businesses.contains_key(phone_number_id) {
            return Err(GraphError::UnknownObject {
                id: phone_number_id.to_string(),
                method: method.to_string(),
            });
        }
        Ok(())
    }

    /// Whether a token belongs to any business.
    pub fn knows_token(&self, token: &str) -> bool {
        self.by_token.contains_key(token)
    }

    /// Applies the stateful rules and, if nothing is wrong, records the message (and its order or
    /// status update). On any violation nothing changes and every violation is returned,
    /// including the stateless ones found before.
    pub fn accept(
        &mut self,
        phone_number_id: &str,
        checked: Checked,
        body: Value,
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
        let mut message = Message {
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
            body,
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
                    parameters: draft.parameters,
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
                            details.clone(),
                        ));
                        message.statuses.push(StatusEntry {
                            status: "failed".into(),
                            timestamp: now_secs,
                            errors: vec![super::error::webhook_error(
                                error.code(),
                                error.title(),
                                &details,
                            )],
                        });
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
