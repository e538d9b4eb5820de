//! `daprgen`: scaffolds Kratos-style Rust microservices whose infrastructure layer is a Dapr
//! sidecar. The binary is a thin shell over these modules, so tests drive the same code.

mod input;
pub mod new;
mod template;
