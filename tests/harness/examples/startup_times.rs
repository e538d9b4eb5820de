//! How long the harness takes to give a test a ready sidecar, measured side by side:
//! daprd alone (next to an already running redis) and the full stack
//! (redis + placement + scheduler + daprd, waiting for the scheduler connection).
//!
//! `cargo run --release -p dapr-harness --example startup_times [ROUNDS]` (default 10 rounds).

use std::time::{Duration, Instant};

use dapr_harness::{Daprd, Redis, Stack};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(10);
    let redis = Redis::start().await?;
    let (mut alone, mut full) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        let daprd = Daprd::builder("startup")
            .redis(&redis)
            .component("state/redis.yaml")
            .start()
            .await?;
        alone.push(started.elapsed());
        drop(daprd);

        let started = Instant::now();
        let stack = Stack::start().await?;
        let daprd = stack.daprd("startup").component("state/redis.yaml").start().await?;
        full.push(started.elapsed());
        drop((daprd, stack));
    }
    report("daprd alone", &mut alone);
    report("full stack ", &mut full);
    Ok(())
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: median {:>4} ms, p90 {:>4} ms, min {:>4} ms, max {:>4} ms ({} rounds)",
        at(0.5).as_millis(),
        at(0.9).as_millis(),
        samples[0].as_millis(),
        samples[samples.len() - 1].as_millis(),
        samples.len()
    );
}
