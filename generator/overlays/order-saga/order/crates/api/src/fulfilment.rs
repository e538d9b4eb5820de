//! The fulfilment of an order, as `POST /confirm-order`, `POST /cancel-order` and
//! `GET /fulfilments/{saga_id}` answer it (the order-saga example).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where the order of one saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStateDto {
    /// Confirmed: the saga's last step took effect.
    Confirmed,
    /// Cancelled: the saga was compensated; a later confirm is refused.
    Cancelled,
}

/// The fulfilment of the order of one saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FulfilmentDto {
    /// The saga.
    pub saga_id: String,
    /// Where its order stands.
    pub state: FulfilmentStateDto,
}
