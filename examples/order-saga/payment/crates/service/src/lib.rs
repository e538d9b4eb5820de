//! The transports of payment: they turn requests into use case calls and business errors
//! into answers, and hold no business rule themselves.
//!
//! - [`router()`]: every HTTP route:
//!   - the public API, with its OpenAPI document ([`http`]);
//!   - the routes the Dapr sidecar calls: subscriptions and events ([`subscription`]);
//!   - the `/healthz` and `/readyz` probes ([`health`]).
//!
//! HTTP errors are RFC 9457 problem details ([`problem`]); bad input is always a 4xx, never a
//! 5xx or a panic.

pub mod health;
pub mod http;
pub mod problem;
mod router;
pub mod subscription;
#[cfg(test)]
mod test_support;

pub use health::ReadinessCheck;
pub use router::{
    DEFAULT_BODY_LIMIT_BYTES, DEFAULT_REQUEST_TIMEOUT, HttpLimits, HttpState, router,
};
