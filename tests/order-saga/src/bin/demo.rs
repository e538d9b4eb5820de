//! `make demo`: builds the order-saga example, runs it (three services, three real Dapr sidecars),
//! places a handful of orders that end in every way an order can end, and shows how each ended and
//! what that did to stock and money. Exits non-zero when an order ends otherwise than expected, an
//! invariant breaks, or anything fails; stops everything it started in every case, Ctrl-C included.
//!
//! Settings (environment): `ORDER_SAGA_DIR` (the example, default `examples/order-saga`),
//! `ORDER_SAGA_TARGET_DIR` (where the services are built, default `~/.cache/daprgen/order-saga-target`).

use std::time::{Duration, Instant};

use anyhow::bail;
use order_saga::{Ledger, Order, OrderResult, OrderStatus, SagaClient, Settings, outcome_table, progress, run_example};

/// Failure injection for the demo: on, and payment declines any charge above 50.00.
const INJECTION: &str = "on,decline_over=5000";
/// How long one order may take (a transient failure costs a few seconds of retries).
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    order_saga::exit_code("demo", run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    run_example(&settings, Some(INJECTION), async |stack| orders(stack.client()).await).await
}

/// Seeds stock and accounts, places the orders one after the other (so that each one's outcome
/// is predictable), prints the outcome table and the final stock and balances.
async fn orders(client: &SagaClient) -> anyhow::Result<()> {
    let mut ledger = Ledger::new();
    let sku = ledger.seed_stock(client, "SKU-1", 5).await?;
    let alice = ledger.seed_account(client, "alice", 10_000).await?;
    let bob = ledger.seed_account(client, "bob", 500).await?;
    let (sku, alice, bob) = (
        (sku.as_str(), "SKU-1"),
        (alice.as_str(), "alice"),
        (bob.as_str(), "bob"),
    );
    let plan = [
        (Order::new(sku, 2, alice, 1500), OrderStatus::Completed),
        // Over the injected limit of 50.00: payment declines, the stock is released.
        (Order::new(sku, 1, alice, 6000), OrderStatus::Cancelled),
        // Bob has 5.00: insufficient funds.
        (Order::new(sku, 1, bob, 900), OrderStatus::Cancelled),
        // 3 left, 5 asked: short stock, nothing to undo.
        (Order::new(sku, 5, alice, 2000), OrderStatus::Cancelled),
        // Payment answers 503 twice; the workflow retries and the charge is taken once.
        (
            Order::new(sku, 1, alice, 1200).failing("charge_payment", 2),
            OrderStatus::Completed,
        ),
        (Order::new(sku, 1, bob, 400), OrderStatus::Completed),
    ];
    let mut results: Vec<OrderResult> = Vec::new();
    let mut unexpected = Vec::new();
    for (order, expected) in plan {
        let started = Instant::now();
        progress(format_args!("placing: {}", order.label));
        let result = client.run_order(order, ORDER_TIMEOUT).await?;
        progress(format_args!(
            "  {} after {:.1}s",
            result.status(),
            started.elapsed().as_secs_f64()
        ));
        if result.status() != expected {
            unexpected.push(format!(
                "{} ended {} instead of {expected}",
                result.order.label,
                result.status()
            ));
        }
        results.push(result);
    }
    println!("\n{}", outcome_table(&results));
    let check = ledger.check(client, &results).await?;
    for line in &check.summary {
        println!("{line}");
    }
    println!();
    let mut problems: Vec<String> = unexpected.iter().map(|line| format!("unexpected: {line}")).collect();
    problems.extend(check.violations.iter().map(|line| format!("broken invariant: {line}")));
    if !problems.is_empty() {
        bail!("{} problem(s):\n  {}", problems.len(), problems.join("\n  "));
    }
    println!("Every order ended as expected; stock and balances add up.");
    Ok(())
}
