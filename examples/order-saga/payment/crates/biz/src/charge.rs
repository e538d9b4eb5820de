//! A charge: what one saga took from one account, and whether it was given back.
//!
//! The record `charge/<saga id>` is the idempotency record of the saga's `charge_payment` and
//! `refund_payment` operations: however often the orchestrator retries them, a saga takes once
//! and gives back once. A `charge_payment` that arrives after its `refund_payment` (a retry
//! overtaken by the compensation) finds the record refunded and is refused: the saga has moved
//! on, and what it took now would never be given back.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::account::AccountId;
use crate::account::ValidationError;
use crate::operation_key::MAX_SAGA_ID_LEN;

/// The instance id of a saga, as the orchestrator names it in the operation's `Idempotency-Key`
/// (see [`crate::operation_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaId(String);

impl SagaId {
    /// Accepts what an operation key accepts as its saga id: 1 to [`MAX_SAGA_ID_LEN`] ASCII
    /// letters, digits, `-` or `_` (it becomes part of a state key and of a lock name).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let valid = !text.is_empty()
            && text.len() <= MAX_SAGA_ID_LEN
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(ValidationError::new(
                "saga id",
                format!("must be 1 to {MAX_SAGA_ID_LEN} ASCII letters, digits, '-' or '_'"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SagaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a saga asks to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The account to take from.
    pub account: AccountId,
    /// How much to take.
    pub amount: i64,
}

impl ChargeRequest {
    /// Checks the business rules: something positive is asked.
    pub fn validate(self) -> Result<Self, ValidationError> {
        if self.amount <= 0 {
            return Err(ValidationError::new("amount", "must be positive"));
        }
        Ok(self)
    }
}

/// Where a charge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeState {
    /// Taken from the account.
    Captured,
    /// Given back, or never taken (a tombstone): the saga's `charge_payment` is refused from now on.
    Refunded,
}

impl ChargeState {
    /// Its name in records and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captured => "captured",
            Self::Refunded => "refunded",
        }
    }
}

/// The record of one saga's charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The saga it belongs to.
    pub saga_id: SagaId,
    /// The account taken from.
    pub account: AccountId,
    /// How much was taken (for a tombstone: how much the compensation named).
    pub amount: i64,
    /// Whether it is held or refunded.
    pub state: ChargeState,
}

impl Charge {
    /// A charge of `request`, in state `state`.
    pub fn new(saga_id: SagaId, request: &ChargeRequest, state: ChargeState) -> Self {
        Self {
            saga_id,
            account: request.account,
            amount: request.amount,
            state,
        }
    }

    /// Whether this is the charge `request` asks for (a retry, not another request under the
    /// same saga id).
    pub fn matches(&self, request: &ChargeRequest) -> bool {
        self.account == request.account && self.amount == request.amount
    }

    /// The id under which its change of the account is remembered (see
    /// [`crate::account::Account::adjust`]).
    pub fn adjustment_id(&self) -> String {
        format!("charge/{}/{}", self.saga_id, self.state.as_str())
    }
}

/// What happened to a charge: published through the outbox, with the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChargeEvent {
    /// Taken from the account.
    Captured {
        /// The record as stored.
        charge: Charge,
    },
    /// Given back by the compensation.
    Refunded {
        /// The record as stored.
        charge: Charge,
        /// `false` for a tombstone: nothing had been taken, so nothing was given back.
        returned: bool,
    },
}

impl ChargeEvent {
    /// The CloudEvent `type` of this event, e.g. `charge.captured`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Captured { .. } => "charge.captured",
            Self::Refunded { .. } => "charge.refunded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_ids_are_what_operation_keys_accept() {
        assert_eq!(SagaId::parse("saga-1").unwrap().as_str(), "saga-1");
        assert!(SagaId::parse(&"x".repeat(MAX_SAGA_ID_LEN)).is_ok());
        for bad in [
            "",
            "with space",
            "a:b",
            "é",
            &"x".repeat(MAX_SAGA_ID_LEN + 1),
        ] {
            assert!(SagaId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_positive_amounts_are_asked() {
        let request = |amount| ChargeRequest {
            account: AccountId::new(),
            amount,
        };
        assert!(request(1).validate().is_ok());
        assert_eq!(request(0).validate().unwrap_err().field, "amount");
        assert!(request(-3).validate().is_err());
    }

    #[test]
    fn records_and_events_name_their_state() {
        let request = ChargeRequest {
            account: AccountId::new(),
            amount: 2,
        };
        let record = Charge::new(SagaId::parse("s").unwrap(), &request, ChargeState::Captured);
        assert!(record.matches(&request));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["state"], "captured");
        assert_eq!(json["saga_id"], "s");
        let event = ChargeEvent::Refunded {
            charge: record,
            returned: true,
        };
        assert_eq!(event.event_type(), "charge.refunded");
        assert_eq!(serde_json::to_value(&event).unwrap()["type"], "refunded");
    }
}
