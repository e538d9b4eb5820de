//! The business layer of {{project-name}}: what a {{resource}} is, what may happen to it, and the
//! ports (traits) through which it is stored and announced. Adapters live in the `data` crate;
//! transports in the `service` crate. Nothing here knows about HTTP, gRPC or Dapr, so every rule
//! is tested with mocks, in milliseconds.

pub mod error;
pub mod idempotency;
{%- if with_lock %}
pub mod lock;
{%- endif %}
pub mod page;
pub mod {{resource}};
pub mod {{resource}}_adjustment;
pub mod {{resource}}_repo;
{%- if with_lock %}
pub mod {{resource}}_transfer;
{%- endif %}
pub mod {{resource}}_usecase;
{%- if with_workflow %}
pub mod workflow;
{%- endif %}
// daprgen:anchor biz-modules
