//! Many orders at once: random ones, whose totals must add up, and uniform ones, measured.

use std::collections::BTreeMap;

use anyhow::ensure;
use order_saga::{
    Ledger, LoadFixture, Order, OrderStatus, SagaClient, SplitMix64, env_number, outcome_table, progress,
    run_concurrently,
};

use crate::SAGA_TIMEOUT;

/// Orders placed at once by [`random_orders`].
const RANDOM_ORDERS: usize = 100;
/// Sagas in flight at once while measuring throughput.
const LOAD_CONCURRENCY: usize = 20;
/// Operations a random order may ask to fail transiently (never more often than their retries).
const FAILING: [&str; 5] = [
    "reserve_stock",
    "charge_payment",
    "confirm_order",
    "release_stock",
    "refund_payment",
];

/// 100 orders at once, drawn from a seeded generator over scarce stock and money: some complete,
/// some are declined (over the limit, insufficient funds), some run short of stock, a quarter
/// meet transient failures. Every order must end completed or cancelled, and the totals add up.
/// Contention is part of it: 100 sagas on 3 SKUs and 4 accounts queue for their records' locks,
/// and a step that finds its record busy through all its retries cancels the order ("busy").
pub async fn random_orders(client: &SagaClient) -> anyhow::Result<()> {
    let seed = env_number("ORDER_SAGA_SEED", 5)?;
    progress(format_args!("random orders: seed {seed} (ORDER_SAGA_SEED)"));
    let mut rng = SplitMix64::new(seed);
    let mut ledger = Ledger::new();
    let mut skus = Vec::new();
    for name in ["rnd-sku-a", "rnd-sku-b", "rnd-sku-c"] {
        skus.push((ledger.seed_stock(client, name, 40).await?, name));
    }
    let mut accounts = Vec::new();
    for (name, balance) in [
        ("rnd-ann", 40_000),
        ("rnd-ben", 20_000),
        ("rnd-cy", 5000),
        ("rnd-dee", 2000),
    ] {
        accounts.push((ledger.seed_account(client, name, balance).await?, name));
    }
    let orders: Vec<Order> = (0..RANDOM_ORDERS)
        .map(|_| {
            let (sku, sku_name) = rng.pick(&skus);
            let (account, account_name) = rng.pick(&accounts);
            let amount = match rng.between(0, 99) {
                0..=14 => rng.between(5001, 7000), // over the limit: declined
                _ => rng.between(100, 4000),
            } as i64;
            let order = Order::new(
                (sku, sku_name),
                rng.between(1, 3) as i64,
                (account, account_name),
                amount,
            );
            if rng.chance(25) {
                let operation = *rng.pick(&FAILING);
                order.failing(operation, rng.between(1, 2) as u32)
            } else {
                order
            }
        })
        .collect();
    let (results, stats) = run_concurrently(client, orders, RANDOM_ORDERS, SAGA_TIMEOUT).await?;
    progress(format_args!("random orders: {stats}"));
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for result in &results {
        let kind = match (&result.status(), &result.saga.failure) {
            (OrderStatus::Cancelled, Some(failure)) => {
                let reason = ["over the limit", "insufficient funds", "short stock", "busy"]
                    .into_iter()
                    .find(|reason| failure.reason.contains(reason))
                    .unwrap_or("other");
                format!("CANCELLED ({reason})")
            }
            (status, _) => status.to_string(),
        };
        *by_kind.entry(kind).or_default() += 1;
    }
    progress(format_args!("random orders: {by_kind:?}"));
    let odd: Vec<_> = results
        .iter()
        .filter(|result| !matches!(result.status(), OrderStatus::Completed | OrderStatus::Cancelled))
        .cloned()
        .collect();
    ensure!(
        odd.is_empty(),
        "orders neither completed nor cancelled:\n{}",
        outcome_table(&odd)
    );
    ensure!(
        by_kind.contains_key("COMPLETED") && by_kind.len() > 2,
        "the mix should hold completions and several kinds of cancellation: {by_kind:?}"
    );
    let check = ledger.check(client, &results).await?;
    progress(format_args!("random orders: {}", check.summary.join("; ")));
    check.into_result()
}

/// Sagas per second and latency, for the happy path (every step done) and the compensating path
/// (stock reserved, payment declined, stock released), at [`LOAD_CONCURRENCY`].
pub async fn throughput(client: &SagaClient) -> anyhow::Result<()> {
    let count = env_number("ORDER_SAGA_LOAD_ORDERS", 60)? as usize;
    // One SKU and one account per saga in flight (see LoadFixture), with enough stock for all.
    let mut ledger = Ledger::new();
    let fixture = LoadFixture::seed(
        client,
        &mut ledger,
        "load",
        LOAD_CONCURRENCY,
        count as i64,
        1_000_000_000,
    )
    .await?;
    let paths = [
        ("happy path", 100, OrderStatus::Completed),
        ("compensating path", 6000, OrderStatus::Cancelled),
    ];
    let mut all = Vec::new();
    for (path, amount, expected) in paths {
        let orders = fixture.orders(count, amount);
        let (results, stats) = run_concurrently(client, orders, LOAD_CONCURRENCY, SAGA_TIMEOUT).await?;
        println!("order-saga throughput, {path}: {stats}");
        let odd: Vec<_> = results
            .iter()
            .filter(|result| result.status() != expected)
            .cloned()
            .collect();
        ensure!(
            odd.is_empty(),
            "{path}: orders not {expected}:\n{}",
            outcome_table(&odd)
        );
        all.extend(results);
    }
    ledger.check(client, &all).await?.into_result()
}
