//! Bodies of the saga operations `reserve_stock` and `release_stock`, which the order service's
//! saga POSTs through Dapr service invocation (`/reserve-stock`, `/release-stock`),
//! and of `GET /reservations/{saga_id}`.
//!
//! The request body is the whole saga input, shared by every operation of the saga: fields this
//! service does not use are ignored (no `deny_unknown_fields` here, unlike the public bodies).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What `reserve_stock` and `release_stock` read from the saga input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationBody {
    /// Id of the stock (a UUID).
    pub sku: String,
    /// How much to hold, positive.
    pub quantity: i64,
    /// Failure injection, for demonstrations and tests: operation name -> how many attempts to
    /// answer 503 first. Refused unless failure injection is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<BTreeMap<String, u32>>,
}

/// The reservation of one saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationDto {
    /// Id of the stock.
    pub sku: String,
    /// How much is held (or was, once released).
    pub quantity: i64,
    /// `reserved`, or `released` (given back, or refused before anything was taken).
    pub state: String,
}
