//! The business layer of payment: what a account is, what may happen to it, and the
//! ports (traits) through which it is stored and announced. Adapters live in the `data` crate;
//! transports in the `service` crate. Nothing here knows about HTTP, gRPC or Dapr, so every rule
//! is tested with mocks, in milliseconds.

pub mod account;
pub mod account_adjustment;
pub mod account_repo;
pub mod account_transfer;
pub mod account_usecase;
pub mod error;
pub mod idempotency;
pub mod lock;
pub mod page;
// The order-saga example: saga operation keys and failure injection.
pub mod failure_injection;
pub mod operation_key;
// The order-saga example: charges of accounts by sagas.
pub mod charge;
pub mod charge_repo;
pub mod charge_usecase;
// daprgen:anchor biz-modules
