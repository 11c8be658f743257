//! Conditional writes as data: what the lifecycle wants changed on one worker item, and the
//! condition that must hold for the change to apply. The shell renders these as a DynamoDB
//! `UpdateItem`; tests apply them to items in memory.

use std::collections::BTreeMap;

use crate::item::{AttributeValue, Item, attr};

/// A condition on the item as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The attribute holds exactly this value.
    Equals(&'static str, AttributeValue),
    /// The attribute is absent (as it is on an absent item: a write under this condition
    /// alone creates the item, as DynamoDB's `UpdateItem` does).
    Missing(&'static str),
    /// Every condition holds.
    All(Vec<Condition>),
    /// The condition does not hold (on an absent item, it holds: combine it with one that
    /// requires the item).
    Not(Box<Condition>),
}

impl Condition {
    /// The attribute equals `value`, or is absent when `value` is `None`.
    pub fn equals_or_missing(name: &'static str, value: Option<AttributeValue>) -> Condition {
        match value {
            Some(value) => Condition::Equals(name, value),
            None => Condition::Missing(name),
        }
    }

    /// Whether the condition holds on `item` (`None`: no item).
    pub fn holds(&self, item: Option<&Item>) -> bool {
        match self {
            Condition::Equals(name, value) => item.and_then(|i| i.get(*name)) == Some(value),
            // As DynamoDB's `attribute_not_exists`: on an absent item, every attribute is.
            Condition::Missing(name) => item.is_none_or(|i| !i.contains_key(*name)),
            Condition::All(all) => all.iter().all(|c| c.holds(item)),
            Condition::Not(inner) => !inner.holds(item),
        }
    }
}

/// One attribute's change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set it to this value.
    Set(AttributeValue),
    /// Set it only if it is absent (`if_not_exists`).
    SetIfMissing(AttributeValue),
    /// Remove it.
    Remove,
}

/// A conditional update of the worker item `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The worker's id (the key).
    pub id: String,
    /// Attribute changes, by name.
    pub changes: BTreeMap<&'static str, Change>,
    /// What must hold for the update to apply.
    pub condition: Condition,
}

impl Update {
    /// An update of `id` that applies only when `condition` holds.
    pub fn new(id: &str, condition: Condition) -> Self {
        Update {
            id: id.to_owned(),
            changes: BTreeMap::new(),
            condition,
        }
    }

    /// Sets `name` to `value`.
    pub fn set(mut self, name: &'static str, value: AttributeValue) -> Self {
        self.changes.insert(name, Change::Set(value));
        self
    }

    /// Sets `name` to `value` unless the item already has it.
    pub fn set_if_missing(mut self, name: &'static str, value: AttributeValue) -> Self {
        self.changes.insert(name, Change::SetIfMissing(value));
        self
    }

    /// Removes `name`.
    pub fn remove(mut self, name: &'static str) -> Self {
        self.changes.insert(name, Change::Remove);
        self
    }

    /// The value this update sets `name` to, if it sets it.
    pub fn value(&self, name: &str) -> Option<&AttributeValue> {
        match self.changes.get(name)? {
            Change::Set(value) | Change::SetIfMissing(value) => Some(value),
            Change::Remove => None,
        }
    }

    /// What DynamoDB would store after this update, or `None` when the condition fails.
    pub fn apply(&self, item: Option<&Item>) -> Option<Item> {
        if !self.condition.holds(item) {
            return None;
        }
        let mut next = item.cloned().unwrap_or_default();
        next.insert(attr::ID.into(), AttributeValue::S(self.id.clone()));
        for (name, change) in &self.changes {
            match change {
                Change::Set(value) => {
                    next.insert((*name).into(), value.clone());
                }
                Change::SetIfMissing(value) => {
                    next.entry((*name).into()).or_insert_with(|| value.clone());
                }
                Change::Remove => {
                    next.remove(*name);
                }
            }
        }
        Some(next)
    }
}

/// A string value.
pub fn s(text: impl ToString) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

/// A number value.
pub fn n(number: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(number.into().to_string())
}

/// A boolean value.
pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}
