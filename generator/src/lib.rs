//! `daprgen`: scaffolds Kratos-style Rust microservices whose infrastructure layer is a Dapr
//! sidecar. The binary is a thin shell over these modules, so tests drive the same code.

pub mod add;
pub mod cli;
pub mod doctor;
pub mod error;
pub mod example;
mod input;
pub mod new;
pub mod output;
mod template;
