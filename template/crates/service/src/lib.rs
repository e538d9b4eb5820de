//! The transports of {{project-name}}: they turn requests into use case calls and business errors
//! into answers, and hold no business rule themselves.
//!
//! - [`router()`]: every HTTP route:
{%- if http %}
//!   - the public API, with its OpenAPI document ([`http`]);
{%- endif %}
//!   - the routes the Dapr sidecar calls: subscriptions and events ([`subscription`]);
//!   - the `/healthz` and `/readyz` probes ([`health`]).
{%- if grpc %}
//! - [`grpc::{{Resource}}Grpc`]: the gRPC API, to serve with `tonic::transport::Server`.
{%- endif %}
//!
//! HTTP errors are RFC 9457 problem details ([`problem`]); bad input is always a 4xx, never a
//! 5xx or a panic.

{% if grpc -%}
pub mod grpc;
{% endif -%}
pub mod health;
{% if http -%}
pub mod http;
{% endif -%}
pub mod problem;
{% if with_workflow -%}
pub mod restock_id;
{% endif -%}
mod router;
pub mod subscription;
#[cfg(test)]
mod test_support;

pub use health::ReadinessCheck;
pub use router::{DEFAULT_BODY_LIMIT_BYTES, DEFAULT_REQUEST_TIMEOUT, HttpLimits, HttpState, router};
