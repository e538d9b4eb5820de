//! Many orders at once, and what that measured.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::SagaClient;
use crate::ledger::Ledger;
use crate::order::{Order, OrderResult};

/// Places `orders` with at most `concurrency` sagas in flight, each waited for at most
/// `timeout`; returns the results in the orders' order, and the throughput and latencies.
pub async fn run_concurrently(
    client: &SagaClient,
    orders: Vec<Order>,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<(Vec<OrderResult>, LoadStats)> {
    let client = client.clone();
    let (results, wall) = run_jobs(orders, concurrency, move |order| {
        let client = client.clone();
        async move { client.run_order(order, timeout).await }
    })
    .await?;
    let latencies = results.iter().map(|result| result.latency).collect();
    let stats = LoadStats::of_latencies(latencies, concurrency, wall);
    Ok((results, stats))
}

/// Runs `job` on every one of `jobs` with at most `concurrency` running at once; returns their
/// results in the jobs' order and the wall time from the first start to the last finish. The first
/// job that fails fails the whole batch (the others are dropped).
pub async fn run_jobs<T, R, F, Fut>(jobs: Vec<T>, concurrency: usize, job: F) -> anyhow::Result<(Vec<R>, Duration)>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<R>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let count = jobs.len();
    for (index, input) in jobs.into_iter().enumerate() {
        let (job, permits) = (job.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            anyhow::Ok((index, job(input).await?))
        });
    }
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined??;
        results[index] = Some(result);
    }
    let wall = started.elapsed();
    Ok((results.into_iter().flatten().collect(), wall))
}

/// Stock records and accounts to spread load over: one pair per slot, so that concurrent sagas
/// work on different records. Inventory and payment serialise the changes of one record under a
/// lock, so a single hot record would measure that lock, not the saga.
#[derive(Debug, Clone)]
pub struct LoadFixture {
    /// Per slot: (stock id, its name, account id, its name).
    pairs: Vec<(String, String, String, String)>,
}

impl LoadFixture {
    /// Creates `slots` stock records named `<prefix>-sku-<slot>` with `stock` units each and as
    /// many accounts `<prefix>-account-<slot>` with `balance` cents each, remembered in `ledger`.
    pub async fn seed(
        client: &SagaClient,
        ledger: &mut Ledger,
        prefix: &str,
        slots: usize,
        stock: i64,
        balance: i64,
    ) -> anyhow::Result<LoadFixture> {
        let mut pairs = Vec::with_capacity(slots);
        for slot in 0..slots.max(1) {
            let (sku_name, account_name) = (format!("{prefix}-sku-{slot}"), format!("{prefix}-account-{slot}"));
            let sku = ledger.seed_stock(client, &sku_name, stock).await?;
            let account = ledger.seed_account(client, &account_name, balance).await?;
            pairs.push((sku, sku_name, account, account_name));
        }
        Ok(LoadFixture { pairs })
    }

    /// `count` orders of one unit for `amount` cents each, taking the slots in turn.
    pub fn orders(&self, count: usize, amount: i64) -> Vec<Order> {
        (0..count)
            .map(|index| {
                let (sku, sku_name, account, account_name) = &self.pairs[index % self.pairs.len()];
                Order::new((sku, sku_name), 1, (account, account_name), amount)
            })
            .collect()
    }
}

/// The number in environment variable `name`, or `default` when it is not set; an error when it
/// is set to something else than a number (a typo must not silently measure something else).
pub fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name}={value:?} is not a whole number")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(error) => Err(error).with_context(|| format!("reading {name}")),
    }
}

/// Throughput and latency of a batch of sagas.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadStats {
    /// Sagas run.
    pub count: usize,
    /// Most in flight at once.
    pub concurrency: usize,
    /// From the first start to the last finish.
    pub wall: Duration,
    /// Median latency (start request to finish seen).
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Longest latency.
    pub max: Duration,
}

impl LoadStats {
    /// The statistics of `results`, run with `concurrency` in `wall`.
    pub fn of(results: &[OrderResult], concurrency: usize, wall: Duration) -> LoadStats {
        LoadStats::of_latencies(results.iter().map(|result| result.latency).collect(), concurrency, wall)
    }

    /// The statistics of a batch whose items took `latencies` each, run with `concurrency` in
    /// `wall`.
    pub fn of_latencies(mut latencies: Vec<Duration>, concurrency: usize, wall: Duration) -> LoadStats {
        latencies.sort();
        LoadStats {
            count: latencies.len(),
            concurrency,
            wall,
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }

    /// Sagas finished per second.
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }
}

/// The nearest-rank `percent`th percentile of `sorted` (zero when empty).
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

impl fmt::Display for LoadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sagas at concurrency {} in {:.1}s: {:.1} sagas/s; latency p50 {} ms, p99 {} ms, max {} ms",
            self.count,
            self.concurrency,
            self.wall.as_secs_f64(),
            self.per_second(),
            self.p50.as_millis(),
            self.p99.as_millis(),
            self.max.as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted[..1], 99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
