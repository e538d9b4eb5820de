//! Bodies of the saga operations `charge_payment` and `refund_payment`, which the order service's
//! saga POSTs through Dapr service invocation (`/charge-payment`, `/refund-payment`),
//! and of `GET /charges/{saga_id}`.
//!
//! The request body is the whole saga input, shared by every operation of the saga: fields this
//! service does not use are ignored (no `deny_unknown_fields` here, unlike the public bodies).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What `charge_payment` and `refund_payment` read from the saga input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeBody {
    /// Id of the account (a UUID).
    pub account: String,
    /// How much to hold, positive.
    pub amount: i64,
    /// Failure injection, for demonstrations and tests: operation name -> how many attempts to
    /// answer 503 first. Refused unless failure injection is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<BTreeMap<String, u32>>,
}

/// The charge of one saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeDto {
    /// Id of the account.
    pub account: String,
    /// How much is held (or was, once refunded).
    pub amount: i64,
    /// `captured`, or `refunded` (given back, or refused before anything was taken).
    pub state: String,
}
