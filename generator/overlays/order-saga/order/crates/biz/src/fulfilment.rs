//! The fulfilment of an order, as the `order_fulfilment` saga settles it: `confirm_order` (its
//! last step) confirms it, `cancel_order` (that step's compensation) cancels it. One record per
//! saga, `fulfilment/<saga id>`, is both the outcome and the idempotency record of the two
//! operations.
//!
//! The rules, in [`decide`]: cancel always wins, since it is the compensation; a confirm arriving
//! after a cancel (a late retry of the action) is refused, never applied; asking again for the
//! state a record is in changes nothing.

use serde::{Deserialize, Serialize};

/// Where a fulfilment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentState {
    /// The order is confirmed: the saga's last step took effect.
    Confirmed,
    /// The order is cancelled: the compensation ran, maybe before any confirm arrived.
    Cancelled,
}

impl FulfilmentState {
    /// The CloudEvent `type` published when a fulfilment enters this state.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Confirmed => "order.confirmed",
            Self::Cancelled => "order.cancelled",
        }
    }
}

/// The fulfilment of the order of one saga, as stored and as published in its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfilment {
    /// The saga that settled it.
    pub saga_id: String,
    /// Where it stands.
    pub state: FulfilmentState,
}

/// What a saga asks of a fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilmentCommand {
    /// `confirm_order`.
    Confirm,
    /// `cancel_order`.
    Cancel,
}

impl FulfilmentCommand {
    /// The state the command leads to.
    pub fn target(self) -> FulfilmentState {
        match self {
            Self::Confirm => FulfilmentState::Confirmed,
            Self::Cancel => FulfilmentState::Cancelled,
        }
    }
}

/// What to do about a command, given the record as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write the command's target state (and publish its event).
    Write,
    /// Nothing to do: the record is in the target state already (a retry).
    Unchanged,
    /// Refuse: a confirm after a cancel must not take effect.
    Refused,
}

/// Decides `command` against the `current` state (`None`: no record yet). A cancel with no record
/// still writes one, a tombstone, so that a confirm arriving late is refused instead of applied.
pub fn decide(current: Option<FulfilmentState>, command: FulfilmentCommand) -> Decision {
    use FulfilmentCommand::{Cancel, Confirm};
    use FulfilmentState::{Cancelled, Confirmed};
    match (current, command) {
        (None, _) => Decision::Write,
        (Some(Confirmed), Confirm) | (Some(Cancelled), Cancel) => Decision::Unchanged,
        (Some(Confirmed), Cancel) => Decision::Write,
        (Some(Cancelled), Confirm) => Decision::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FulfilmentCommand::{Cancel, Confirm};
    use FulfilmentState::{Cancelled, Confirmed};

    #[test]
    fn every_state_and_command_has_its_decision() {
        for (current, command, expected) in [
            (None, Confirm, Decision::Write),
            (None, Cancel, Decision::Write),
            (Some(Confirmed), Confirm, Decision::Unchanged),
            (Some(Confirmed), Cancel, Decision::Write),
            (Some(Cancelled), Cancel, Decision::Unchanged),
            (Some(Cancelled), Confirm, Decision::Refused),
        ] {
            assert_eq!(
                decide(current, command),
                expected,
                "{current:?} {command:?}"
            );
        }
    }

    #[test]
    fn states_read_as_snake_case_and_name_their_events() {
        let confirmed = Fulfilment {
            saga_id: "s-1".into(),
            state: Confirmed,
        };
        assert_eq!(
            serde_json::to_value(&confirmed).unwrap(),
            serde_json::json!({"saga_id": "s-1", "state": "confirmed"})
        );
        assert_eq!(Confirmed.event_type(), "order.confirmed");
        assert_eq!(Cancelled.event_type(), "order.cancelled");
    }
}
