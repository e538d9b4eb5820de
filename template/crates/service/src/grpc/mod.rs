//! The gRPC API (tonic): the `{{service_snake}}.v1.{{Resource}}Service` of `crates/api/proto`, over the same
//! use cases as the HTTP API.
//!
//! Business errors map to status codes as follows (messages of server-side failures are logged,
//! never sent):
//!
//! | business error | status |
//! |---|---|
//! | invalid input, malformed id | `INVALID_ARGUMENT` |
//! | unknown {{resource}} or run | `NOT_FOUND` |
//! | stale etag (the version changed since it was read) | `ABORTED`: read again, then retry (AIP-154) |
//! | update without etag | `FAILED_PRECONDITION`: the request must name the version it replaces |
//! | contended (other writers{% if with_lock %}, a busy transfer lock{% endif %}) | `ABORTED`: retry |
//! | storage{% if with_workflow %} or workflow engine{% endif %} failure | `UNAVAILABLE`: retry later |
//! | corrupt stored data | `INTERNAL` |

#[cfg(test)]
mod tests;
mod {{resource}};
// daprgen:anchor grpc-modules

pub use {{resource}}::{MAX_MESSAGE_BYTES, {{Resource}}Grpc};
// daprgen:anchor grpc-exports
