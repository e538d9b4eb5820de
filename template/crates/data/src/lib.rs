//! The data layer of {{project-name}}: the business layer's ports implemented on a Dapr sidecar.
//!
//! Every adapter is a shaku component that takes a [`sidecar::DaprSidecar`] as its parameter; the
//! app creates the sidecar handle first, then builds its module with these components. Nothing
//! here decides business rules: adapters translate ports into Dapr calls, and Dapr's failures
//! into [`biz::error::RepoError`].

pub mod dapr_idempotency_store;
{%- if with_lock %}
pub mod dapr_lock;
{%- endif %}
{%- if with_workflow %}
pub mod dapr_workflow;
{%- endif %}
pub mod dapr_{{resource}}_repo;
mod local_lock;
pub mod optimistic;
pub mod sidecar;
mod state;
// daprgen:anchor data-modules
