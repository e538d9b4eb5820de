//! One order at a time: each way an order can end, and what it leaves behind.

use anyhow::{Context, ensure};
use order_saga::{Ledger, Order, OrderResult, OrderStatus, SagaClient, outcome_table, progress};

use crate::{SAGA_TIMEOUT, expect_status};

const ACTIONS: [&str; 3] = ["reserve_stock", "charge_payment", "confirm_order"];

/// Places `order`, prints its row, checks the ledger afterwards.
async fn place(client: &SagaClient, ledger: &Ledger, order: Order) -> anyhow::Result<OrderResult> {
    let result = client.run_order(order, SAGA_TIMEOUT).await?;
    progress(format_args!(
        "after {} ms:\n{}",
        result.latency.as_millis(),
        outcome_table(std::slice::from_ref(&result))
    ));
    ledger
        .check(client, std::slice::from_ref(&result))
        .await?
        .into_result()?;
    Ok(result)
}

/// Enough stock and money: every step done, stock and balance down by the order.
pub async fn happy_path(client: &SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(client, "happy-sku", 10).await?;
    let alice = ledger.seed_account(client, "happy-alice", 10_000).await?;
    let order = Order::new((&sku, "happy-sku"), 2, (&alice, "happy-alice"), 1500);
    let result = place(client, &ledger, order).await?;
    expect_status(&result, OrderStatus::Completed)?;
    ensure!(result.saga.done == ACTIONS, "steps done: {:?}", result.saga.done);
    ensure!(
        result.saga.compensated.is_empty(),
        "compensated: {:?}",
        result.saga.compensated
    );
    ensure!(client.stock(&sku).await? == 8, "stock after the order");
    ensure!(client.balance(&alice).await? == 8500, "balance after the order");
    Ok(())
}

/// Payment refuses (insufficient funds; over the injected limit): the reserved stock is released,
/// no money moves.
pub async fn declined_payment(client: &SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(client, "declined-sku", 10).await?;
    let poor = ledger.seed_account(client, "declined-poor", 1000).await?;
    let rich = ledger.seed_account(client, "declined-rich", 100_000).await?;
    let cases = [
        (
            Order::new((&sku, "declined-sku"), 1, (&poor, "declined-poor"), 3000),
            "insufficient funds",
        ),
        (
            Order::new((&sku, "declined-sku"), 1, (&rich, "declined-rich"), 6000),
            "over the limit",
        ),
    ];
    for (order, reason) in cases {
        let result = place(client, &ledger, order).await?;
        expect_status(&result, OrderStatus::Cancelled)?;
        let failure = result
            .saga
            .failure
            .as_ref()
            .context("a cancelled saga names its failure")?;
        ensure!(
            failure.operation == "charge_payment" && failure.refused && failure.reason.contains(reason),
            "failure {failure:?}, expected charge_payment refused for {reason:?}"
        );
        ensure!(
            result.saga.done == ["reserve_stock"],
            "steps done: {:?}",
            result.saga.done
        );
        ensure!(
            result.saga.compensated == ["release_stock"],
            "compensated: {:?}",
            result.saga.compensated
        );
    }
    ensure!(client.stock(&sku).await? == 10, "stock after the declines");
    Ok(())
}

/// Less stock than asked: refused at the first step, nothing to undo.
pub async fn short_stock(client: &SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(client, "short-sku", 1).await?;
    let alice = ledger.seed_account(client, "short-alice", 10_000).await?;
    let order = Order::new((&sku, "short-sku"), 2, (&alice, "short-alice"), 1000);
    let result = place(client, &ledger, order).await?;
    expect_status(&result, OrderStatus::Cancelled)?;
    let failure = result
        .saga
        .failure
        .as_ref()
        .context("a cancelled saga names its failure")?;
    ensure!(
        failure.operation == "reserve_stock" && failure.refused && failure.reason.contains("short stock"),
        "failure {failure:?}, expected reserve_stock refused for short stock"
    );
    ensure!(
        result.saga.done.is_empty() && result.saga.compensated.is_empty(),
        "nothing done, nothing undone: {:?}",
        result.saga
    );
    ensure!(client.stock(&sku).await? == 1, "stock after the refusal");
    Ok(())
}

/// Payment answers 503 twice: the workflow retries, and the money is taken once.
pub async fn transient_failure(client: &SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(client, "transient-sku", 10).await?;
    let alice = ledger.seed_account(client, "transient-alice", 10_000).await?;
    let order = Order::new((&sku, "transient-sku"), 1, (&alice, "transient-alice"), 1200).failing("charge_payment", 2);
    let result = place(client, &ledger, order).await?;
    expect_status(&result, OrderStatus::Completed)?;
    ensure!(result.saga.done == ACTIONS, "steps done: {:?}", result.saga.done);
    ensure!(client.balance(&alice).await? == 8800, "charged exactly once");
    Ok(())
}

/// Payment refuses, and inventory stays unavailable for the release through every retry of the
/// compensation: the saga ends `compensation_failed`, naming the release, and the reservation is
/// left in place for a person to look at — never reported as cancelled. Takes the compensation's
/// whole retry budget (about a minute and a half), so the test runs it beside the other scenarios.
pub async fn compensation_fails(client: SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(&client, "stuck-sku", 10).await?;
    let rich = ledger.seed_account(&client, "stuck-rich", 100_000).await?;
    let order = Order::new((&sku, "stuck-sku"), 3, (&rich, "stuck-rich"), 6000).failing("release_stock", 100);
    let result = client.run_order(order, SAGA_TIMEOUT).await?;
    progress(format_args!(
        "after {} ms:\n{}",
        result.latency.as_millis(),
        outcome_table(std::slice::from_ref(&result))
    ));
    expect_status(&result, OrderStatus::CompensationFailed)?;
    let failed: Vec<&str> = result
        .saga
        .compensation_failures
        .iter()
        .map(|failure| failure.operation.as_str())
        .collect();
    ensure!(failed == ["release_stock"], "failed compensations: {failed:?}");
    ensure!(
        result.saga.done == ["reserve_stock"] && result.saga.compensated.is_empty(),
        "done {:?}, compensated {:?}",
        result.saga.done,
        result.saga.compensated
    );
    let reservation = client
        .reservation(&result.saga.id)
        .await?
        .context("the reservation is still there")?;
    ensure!(reservation.state == "reserved", "reservation {reservation:?}");
    ensure!(client.stock(&sku).await? == 7, "the reserved stock stays taken");
    ensure!(client.balance(&rich).await? == 100_000, "no money moved");
    Ok(())
}
