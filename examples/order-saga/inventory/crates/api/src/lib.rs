//! The contracts of inventory, as clients see them: the bodies of the HTTP API. Nothing here
//! holds a business rule; the `service` crate maps these types to and from the business layer.

pub mod http;
// The order-saga example: bodies of the saga operations on reservations.
pub mod reservation;
// daprgen:anchor api-exports
