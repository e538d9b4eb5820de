//! The account entity, its identity, the input that creates or replaces it, and the domain
//! events its changes publish.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// How many applied adjustment ids a account remembers to recognise redeliveries. Pub/sub
/// redelivers within minutes; a window of the last 64 covers that with room to spare.
pub const REMEMBERED_ADJUSTMENTS: usize = 64;

/// Identity of a account: a UUID, so ids never collide across replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(Uuid);

impl AccountId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses an id given by a client.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| ValidationError::new("id", format!("{text:?} is not a UUID")))
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An opaque version tag of a stored record (the state store's ETag).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(pub String);

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value together with the ETag it was stored under.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    /// The value.
    pub value: T,
    /// Its version in the store; give it back to write over exactly this version.
    pub etag: Etag,
}

/// Input that fails a business rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it, in words a client can act on.
    pub reason: String,
}

impl ValidationError {
    /// A validation error of `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What a client gives to create or replace a account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInput {
    /// Display name, 1 to [`MAX_NAME_CHARS`] characters after trimming.
    pub name: String,
    /// Quantity on hand, never negative.
    pub quantity: i64,
}

impl AccountInput {
    /// Checks the business rules; returns the input with its name trimmed.
    pub fn validate(self) -> Result<Self, ValidationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if self.quantity < 0 {
            return Err(ValidationError::new("quantity", "must not be negative"));
        }
        Ok(Self {
            name,
            quantity: self.quantity,
        })
    }
}

/// A account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its identity.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Quantity on hand, never negative.
    pub quantity: i64,
    /// Incremented by every change: orders the domain events of one account.
    pub version: u64,
    /// Ids of the most recent adjustments applied, newest last: a redelivered adjustment is
    /// recognised here and not applied twice. Kept in the record itself so that the check and the
    /// change are one atomic, ETag-guarded write on any state store.
    #[serde(default)]
    pub applied_adjustments: VecDeque<String>,
}

impl Account {
    /// A new account from validated input.
    pub fn create(id: AccountId, input: AccountInput) -> Self {
        Self {
            id,
            name: input.name,
            quantity: input.quantity,
            version: 1,
            applied_adjustments: VecDeque::new(),
        }
    }

    /// Replaces the client-editable fields.
    pub fn replace(&mut self, input: AccountInput) {
        self.name = input.name;
        self.quantity = input.quantity;
        self.version += 1;
    }

    /// Whether adjustment `adjustment_id` was already applied.
    pub fn has_applied(&self, adjustment_id: &str) -> bool {
        self.applied_adjustments
            .iter()
            .any(|applied| applied == adjustment_id)
    }

    /// Adds `delta` to the quantity, remembering `adjustment_id`. Refuses to go below zero.
    pub fn adjust(&mut self, adjustment_id: &str, delta: i64) -> Result<(), ValidationError> {
        let quantity = self
            .quantity
            .checked_add(delta)
            .filter(|quantity| *quantity >= 0)
            .ok_or_else(|| {
                ValidationError::new(
                    "delta",
                    format!("{delta} would take quantity {} below zero", self.quantity),
                )
            })?;
        self.quantity = quantity;
        self.version += 1;
        self.applied_adjustments.push_back(adjustment_id.to_owned());
        while self.applied_adjustments.len() > REMEMBERED_ADJUSTMENTS {
            self.applied_adjustments.pop_front();
        }
        Ok(())
    }
}

/// What happened to a account: published for every committed change, through the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountEvent {
    /// It was created.
    Created {
        /// The account as created.
        account: AccountSnapshot,
    },
    /// It was replaced by an update.
    Updated {
        /// The account after the update.
        account: AccountSnapshot,
    },
    /// Its quantity was adjusted.
    Adjusted {
        /// The account after the adjustment.
        account: AccountSnapshot,
        /// The change applied.
        delta: i64,
    },
    /// It was deleted.
    Deleted {
        /// Its id.
        id: AccountId,
        /// The version it had when deleted.
        version: u64,
    },
}

impl AccountEvent {
    /// The CloudEvent `type` of this event, e.g. `account.created`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "account.created",
            Self::Updated { .. } => "account.updated",
            Self::Adjusted { .. } => "account.adjusted",
            Self::Deleted { .. } => "account.deleted",
        }
    }
}

/// The public fields of a account, as events carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    /// Its identity.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Quantity on hand.
    pub quantity: i64,
    /// Version after the change.
    pub version: u64,
}

impl From<&Account> for AccountSnapshot {
    fn from(account: &Account) -> Self {
        Self {
            id: account.id,
            name: account.name.clone(),
            quantity: account.quantity,
            version: account.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(quantity: i64) -> Account {
        Account::create(
            AccountId::new(),
            AccountInput {
                name: "n".into(),
                quantity,
            },
        )
    }

    #[test]
    fn ids_parse_only_uuids() {
        let id = AccountId::new();
        assert_eq!(AccountId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(AccountId::parse("42").unwrap_err().field, "id");
    }

    #[test]
    fn adjust_never_goes_below_zero_or_overflows() {
        let mut item = account(3);
        assert!(item.adjust("a", -4).is_err());
        assert_eq!(
            (item.quantity, item.version),
            (3, 1),
            "a refused adjustment changes nothing"
        );
        item.quantity = i64::MAX;
        assert!(item.adjust("b", 1).is_err());
    }

    #[test]
    fn only_the_most_recent_adjustments_are_remembered() {
        let mut item = account(0);
        for n in 0..=REMEMBERED_ADJUSTMENTS {
            item.adjust(&format!("adj-{n}"), 1).unwrap();
        }
        assert!(!item.has_applied("adj-0"));
        assert!(item.has_applied(&format!("adj-{REMEMBERED_ADJUSTMENTS}")));
        assert_eq!(item.applied_adjustments.len(), REMEMBERED_ADJUSTMENTS);
    }

    #[test]
    fn events_name_their_type() {
        let item = account(1);
        let created = AccountEvent::Created {
            account: (&item).into(),
        };
        assert_eq!(created.event_type(), "account.created");
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["type"], "created");
        assert_eq!(json["account"]["id"], item.id.to_string());
    }
}
