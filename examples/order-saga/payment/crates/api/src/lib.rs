//! The contracts of payment, as clients see them: the bodies of the HTTP API. Nothing here
//! holds a business rule; the `service` crate maps these types to and from the business layer.

pub mod http;
// The order-saga example: bodies of the saga operations on charges.
pub mod charge;
// daprgen:anchor api-exports
