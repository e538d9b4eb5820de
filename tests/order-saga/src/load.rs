//! Many orders at once, and what that measured.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::SagaClient;
use crate::order::{Order, OrderResult};

/// Places `orders` with at most `concurrency` sagas in flight, each waited for at most
/// `timeout`; returns the results in the orders' order, and the throughput and latencies.
pub async fn run_concurrently(
    client: &SagaClient,
    orders: Vec<Order>,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<(Vec<OrderResult>, LoadStats)> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let count = orders.len();
    for (index, order) in orders.into_iter().enumerate() {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            anyhow::Ok((index, client.run_order(order, timeout).await?))
        });
    }
    let mut results: Vec<Option<OrderResult>> = vec![None; count];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined??;
        results[index] = Some(result);
    }
    let wall = started.elapsed();
    let results: Vec<OrderResult> = results.into_iter().flatten().collect();
    let stats = LoadStats::of(&results, concurrency, wall);
    Ok((results, stats))
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
        let mut latencies: Vec<Duration> = results.iter().map(|result| result.latency).collect();
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
