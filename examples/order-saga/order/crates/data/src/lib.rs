//! The data layer of order: the business layer's ports implemented on a Dapr sidecar.
//!
//! Every adapter is a shaku component that takes a [`sidecar::DaprSidecar`] as its parameter; the
//! app creates the sidecar handle first, then builds its module with these components. Nothing
//! here decides business rules: adapters translate ports into Dapr calls, and Dapr's failures
//! into [`biz::error::RepoError`].

pub mod dapr_idempotency_store;
pub mod dapr_order_repo;
pub mod dapr_workflow;
mod local_lock;
pub mod optimistic;
pub mod sidecar;
mod state;
// Saga operations as Dapr service invocations (daprgen add saga).
pub mod dapr_invocation;
// The order_fulfilment saga on Dapr Workflow (daprgen add saga).
pub mod dapr_order_fulfilment_saga;
// The order-saga example: fulfilments in the Dapr state store.
pub mod dapr_fulfilment_repo;
// daprgen:anchor data-modules
