//! The data layer of payment: the business layer's ports implemented on a Dapr sidecar.
//!
//! Every adapter is a shaku component that takes a [`sidecar::DaprSidecar`] as its parameter; the
//! app creates the sidecar handle first, then builds its module with these components. Nothing
//! here decides business rules: adapters translate ports into Dapr calls, and Dapr's failures
//! into [`biz::error::RepoError`].

pub mod dapr_account_repo;
pub mod dapr_idempotency_store;
pub mod dapr_lock;
mod local_lock;
pub mod optimistic;
pub mod sidecar;
mod state;
// The order-saga example: charges on the Dapr state store.
pub mod dapr_charge_repo;
// daprgen:anchor data-modules
