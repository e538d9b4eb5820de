//! The contracts of order, as clients see them: the bodies of the HTTP API. Nothing here
//! holds a business rule; the `service` crate maps these types to and from the business layer.

pub mod http;
// The order-saga example: the fulfilment of an order.
pub mod fulfilment;
// daprgen:anchor api-exports
