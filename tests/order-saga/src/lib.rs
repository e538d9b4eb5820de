//! Builds, runs and drives the order-saga example (`examples/order-saga`): three generated
//! services (order, inventory, payment), each beside a real Dapr sidecar, where the order service
//! orchestrates the `order_fulfilment` saga over the other two.
//!
//! - [`build()`] builds the three services one after the other into one target directory and copies
//!   their binaries out;
//! - [`SagaStack`] runs the example's `dapr.yaml` with those binaries (the harness's stand-in for
//!   `dapr run -f`), optionally with failure injection, and can crash and restart the order app;
//! - [`run_example`] builds, starts, uses and stops it, Ctrl-C included, and [`exit_code`] turns the
//!   outcome into a binary's exit code: the frame of the `demo` and `saga-bench` binaries;
//! - [`SagaClient`] seeds stock and accounts, places orders and reads how each ended;
//! - [`outcome_table`], [`LoadStats`] and [`Ledger`] say what happened: per order, in numbers, and
//!   whether stock and money add up;
//! - [`DirectCalls`] makes a saga's calls itself, through a sidecar, with no workflow: the floor
//!   the `saga-bench` binary measures sagas against.
//!
//! `make demo` runs the `demo` binary; `make bench` runs `saga-bench` (its `saga` section);
//! `tests/e2e.rs` is the end-to-end test suite.

mod build;
mod client;
mod floor;
mod ledger;
mod load;
mod order;
mod rng;
mod settings;
mod stack;
mod table;

pub use build::{Binaries, SERVICES, build};
pub use client::{Record, SagaClient};
pub use floor::{DirectCalls, Operation, SagaPath};
pub use ledger::{Ledger, LedgerCheck};
pub use load::{LoadFixture, LoadStats, env_number, run_concurrently, run_jobs};
pub use order::{Failure, Order, OrderInput, OrderResult, OrderStatus, SagaView};
pub use rng::SplitMix64;
pub use settings::Settings;
pub use stack::{SagaStack, run_example};
pub use table::outcome_table;

/// Prints a progress line to stderr, where it shows also under `cargo test` (with `--nocapture`)
/// and does not mix with a report printed to stdout.
pub fn progress(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "order-saga: {line}");
}

/// The exit code of binary `name` that ran to `result`: success, or failure after printing
/// `<name> failed: <error with its causes>` to stderr.
pub fn exit_code(name: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name} failed: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::ExitCode;

    use super::exit_code;

    #[test]
    fn exit_codes_say_whether_the_run_failed() {
        assert_eq!(exit_code("test", Ok(())), ExitCode::SUCCESS);
        assert_eq!(exit_code("test", Err(anyhow::anyhow!("broken"))), ExitCode::FAILURE);
    }
}
