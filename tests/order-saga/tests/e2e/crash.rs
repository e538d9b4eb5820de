//! The order app dies right after the first step of a saga, and comes back.

use std::time::Duration;

use anyhow::ensure;
use order_saga::{Ledger, Order, OrderResult, OrderStatus, SagaStack, outcome_table, progress};

use crate::SAGA_TIMEOUT;

/// How long the crash may take to happen after the order is placed.
const CRASH_TIMEOUT: Duration = Duration::from_secs(60);

/// The order app runs with `crash_after=reserve_stock`: it aborts as soon as the first step of the
/// saga has succeeded, its sidecar staying up. Restarted without failure injection, the workflow
/// engine resumes the saga from its history, which must then finish (completed or compensated)
/// with stock and money adding up: the stock reserved before the crash is either sold or
/// released, never lost nor taken twice.
pub async fn order_app_crash(stack: &mut SagaStack) -> anyhow::Result<()> {
    let client = stack.client().clone();
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(&client, "crash-sku", 10).await?;
    let alice = ledger.seed_account(&client, "crash-alice", 10_000).await?;
    stack.restart_order_app(Some("on,crash_after=reserve_stock")).await?;
    let order = Order::new((&sku, "crash-sku"), 3, (&alice, "crash-alice"), 2500);
    let started = std::time::Instant::now();
    let id = client.place_order(&order).await?;
    let status = stack.wait_for_order_app_exit(CRASH_TIMEOUT).await?;
    ensure!(
        !status.success(),
        "the order app was to crash, yet it exited with {status}"
    );
    progress(format_args!(
        "the order app crashed ({status}) {} ms after the order; restarting it without failure injection",
        started.elapsed().as_millis()
    ));
    stack.restart_order_app(None).await?;
    let saga = client.wait_for_saga(&id, SAGA_TIMEOUT).await?;
    let result = OrderResult {
        order,
        saga,
        latency: started.elapsed(),
    };
    progress(format_args!(
        "after the restart, in {} ms:\n{}",
        result.latency.as_millis(),
        outcome_table(std::slice::from_ref(&result))
    ));
    ensure!(
        matches!(result.status(), OrderStatus::Completed | OrderStatus::Cancelled),
        "the saga ended {}",
        result.status()
    );
    ensure!(
        result.saga.done.first().map(String::as_str) == Some("reserve_stock"),
        "the step done before the crash counts: {:?}",
        result.saga.done
    );
    let check = ledger.check(&client, std::slice::from_ref(&result)).await?;
    progress(format_args!("{}", check.summary.join("; ")));
    check.into_result()
}
