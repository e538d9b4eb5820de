//! Builds, runs and drives the order-saga example (`examples/order-saga`): three generated
//! services (order, inventory, payment), each beside a real Dapr sidecar, where the order service
//! orchestrates the `order_fulfilment` saga over the other two.
//!
//! - [`build`] builds the three services one after the other into one target directory and copies
//!   their binaries out;
//! - [`SagaStack`] runs the example's `dapr.yaml` with those binaries (the harness's stand-in for
//!   `dapr run -f`), optionally with failure injection, and can crash and restart the order app;
//! - [`SagaClient`] seeds stock and accounts, places orders and reads how each ended;
//! - [`outcome_table`], [`LoadStats`] and [`Ledger`] say what happened: per order, in numbers, and
//!   whether stock and money add up.
//!
//! `make demo` runs the `demo` binary; `tests/e2e.rs` is the end-to-end test suite.

mod build;
mod client;
mod ledger;
mod load;
mod order;
mod rng;
mod settings;
mod stack;
mod table;

pub use build::{Binaries, SERVICES, build};
pub use client::{Record, SagaClient};
pub use ledger::{Ledger, LedgerCheck};
pub use load::{LoadStats, run_concurrently};
pub use order::{Failure, Order, OrderInput, OrderResult, OrderStatus, SagaView};
pub use rng::SplitMix64;
pub use settings::Settings;
pub use stack::SagaStack;
pub use table::outcome_table;

/// Prints a progress line to stderr, where it shows also under `cargo test` (with `--nocapture`)
/// and does not mix with a report printed to stdout.
pub fn progress(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "order-saga: {line}");
}
