//! A reservation: what one saga took from one stock, and whether it was given back.
//!
//! The record `reservation/<saga id>` is the idempotency record of the saga's `reserve_stock` and
//! `release_stock` operations: however often the orchestrator retries them, a saga takes once
//! and gives back once. A `reserve_stock` that arrives after its `release_stock` (a retry
//! overtaken by the compensation) finds the record released and is refused: the saga has moved
//! on, and what it took now would never be given back.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::operation_key::MAX_SAGA_ID_LEN;
use crate::stock::StockId;
use crate::stock::ValidationError;

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
pub struct ReservationRequest {
    /// The stock to take from.
    pub sku: StockId,
    /// How much to take.
    pub quantity: i64,
}

impl ReservationRequest {
    /// Checks the business rules: something positive is asked.
    pub fn validate(self) -> Result<Self, ValidationError> {
        if self.quantity <= 0 {
            return Err(ValidationError::new("quantity", "must be positive"));
        }
        Ok(self)
    }
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Taken from the stock.
    Reserved,
    /// Given back, or never taken (a tombstone): the saga's `reserve_stock` is refused from now on.
    Released,
}

impl ReservationState {
    /// Its name in records and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Released => "released",
        }
    }
}

/// The record of one saga's reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The saga it belongs to.
    pub saga_id: SagaId,
    /// The stock taken from.
    pub sku: StockId,
    /// How much was taken (for a tombstone: how much the compensation named).
    pub quantity: i64,
    /// Whether it is held or released.
    pub state: ReservationState,
}

impl Reservation {
    /// A reservation of `request`, in state `state`.
    pub fn new(saga_id: SagaId, request: &ReservationRequest, state: ReservationState) -> Self {
        Self {
            saga_id,
            sku: request.sku,
            quantity: request.quantity,
            state,
        }
    }

    /// Whether this is the reservation `request` asks for (a retry, not another request under the
    /// same saga id).
    pub fn matches(&self, request: &ReservationRequest) -> bool {
        self.sku == request.sku && self.quantity == request.quantity
    }

    /// The id under which its change of the stock is remembered (see
    /// [`crate::stock::Stock::adjust`]).
    pub fn adjustment_id(&self) -> String {
        format!("reservation/{}/{}", self.saga_id, self.state.as_str())
    }
}

/// What happened to a reservation: published through the outbox, with the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReservationEvent {
    /// Taken from the stock.
    Reserved {
        /// The record as stored.
        reservation: Reservation,
    },
    /// Given back by the compensation.
    Released {
        /// The record as stored.
        reservation: Reservation,
        /// `false` for a tombstone: nothing had been taken, so nothing was given back.
        returned: bool,
    },
}

impl ReservationEvent {
    /// The CloudEvent `type` of this event, e.g. `reservation.reserved`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Reserved { .. } => "reservation.reserved",
            Self::Released { .. } => "reservation.released",
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
        let request = |quantity| ReservationRequest {
            sku: StockId::new(),
            quantity,
        };
        assert!(request(1).validate().is_ok());
        assert_eq!(request(0).validate().unwrap_err().field, "quantity");
        assert!(request(-3).validate().is_err());
    }

    #[test]
    fn records_and_events_name_their_state() {
        let request = ReservationRequest {
            sku: StockId::new(),
            quantity: 2,
        };
        let record = Reservation::new(
            SagaId::parse("s").unwrap(),
            &request,
            ReservationState::Reserved,
        );
        assert!(record.matches(&request));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["state"], "reserved");
        assert_eq!(json["saga_id"], "s");
        let event = ReservationEvent::Released {
            reservation: record,
            returned: true,
        };
        assert_eq!(event.event_type(), "reservation.released");
        assert_eq!(serde_json::to_value(&event).unwrap()["type"], "released");
    }
}
