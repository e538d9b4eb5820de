//! The business layer of order: what a order is, what may happen to it, and the
//! ports (traits) through which it is stored and announced. Adapters live in the `data` crate;
//! transports in the `service` crate. Nothing here knows about HTTP, gRPC or Dapr, so every rule
//! is tested with mocks, in milliseconds.

pub mod error;
pub mod idempotency;
pub mod order;
pub mod order_adjustment;
pub mod order_repo;
pub mod order_usecase;
pub mod page;
pub mod workflow;
// What every saga shares: the runner and its outcomes (daprgen add saga).
pub mod saga;
// The order_fulfilment saga (daprgen add saga).
pub mod order_fulfilment_saga;
// The order-saga example: saga operation keys and failure injection.
pub mod failure_injection;
pub mod operation_key;
// The order-saga example: the fulfilment of an order (confirm_order, cancel_order).
pub mod fulfilment;
pub mod fulfilment_repo;
pub mod fulfilment_usecase;
// daprgen:anchor biz-modules
