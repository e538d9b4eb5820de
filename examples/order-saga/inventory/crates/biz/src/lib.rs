//! The business layer of inventory: what a stock is, what may happen to it, and the
//! ports (traits) through which it is stored and announced. Adapters live in the `data` crate;
//! transports in the `service` crate. Nothing here knows about HTTP, gRPC or Dapr, so every rule
//! is tested with mocks, in milliseconds.

pub mod error;
pub mod idempotency;
pub mod lock;
pub mod page;
pub mod stock;
pub mod stock_adjustment;
pub mod stock_repo;
pub mod stock_transfer;
pub mod stock_usecase;
// The order-saga example: saga operation keys and failure injection.
pub mod failure_injection;
pub mod operation_key;
// The order-saga example: reservations of stocks by sagas.
pub mod reservation;
pub mod reservation_repo;
pub mod reservation_usecase;
// daprgen:anchor biz-modules
