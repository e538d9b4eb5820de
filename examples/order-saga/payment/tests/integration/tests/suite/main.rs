//! The integration tests of payment: the real service next to a real Dapr sidecar, one
//! module per area. One test binary for all of them: one link instead of one per file, and one
//! pool of test threads sharing the machine.
//!
//! Every test is ignored unless this crate is built with `DAPR_INTEGRATION=1` (see README.md).

mod events;
mod http_api;
mod lifecycle;
mod transfers;
// The order-saga example: the saga operations on charges.
mod charges;
// daprgen:anchor suite-modules

use std::time::Duration;

use support::TestService;

/// Starts the service and its sidecar, failing the test with the reason when they do not come up.
async fn service() -> TestService {
    TestService::start()
        .await
        .expect("the service and its sidecar start")
}

/// What a well-behaved client does after a conflict: wait a random while, up to twice as long
/// after each conflict in a row (at most about a second), so that contending writers spread out
/// instead of all re-reading at once, every one of them but the winner for nothing. Without it,
/// 64 writers on one SQLite-backed record spend minutes refusing each other.
async fn back_off(conflicts_in_a_row: u32) {
    let ceiling_ms = 1u64 << conflicts_in_a_row.min(10);
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=ceiling_ms))).await;
}
