//! `saga-bench`, the `saga` section of `make bench`: sagas per second and latency of the order-saga
//! example, happy and compensating path, against a floor measured side by side in the same run.
//!
//! It builds the example (cached, as for `make demo`), starts it once with failure injection
//! `on,decline_over=5000`, seeds 20 stock records and 20 accounts (so that concurrent sagas rarely
//! queue for one record's lock), then, after an unrecorded warm-up, runs in each round and for each
//! path first the floor, then the sagas:
//!
//! - **saga**: `POST /sagas/order-fulfilment` to the order app, then `GET` of the saga with
//!   `?wait_ms=5000`, which the order app answers as soon as the saga has finished (the sidecar
//!   tells it; no polling), again while it still runs. The latency runs from the start request
//!   until that answer; the throughput is sagas finished per second of wall time. With
//!   `BENCH_SAGA_POLL_MS` set, the client polls instead (plain `GET`s that often), for comparison.
//! - **floor**: the same operations with the same idempotency keys (`<id>:<operation>`) and bodies,
//!   POSTed by this client one after the other through the order app's sidecar
//!   (`/v1.0/invoke/<app>/method/<method>`, the way the saga's activities call them), with no
//!   workflow: reserve, charge, confirm; on the compensating path reserve, charge (refused, 402),
//!   release.
//!
//! Happy path: 1 unit for 1.00; compensating path: 1 unit for 60.00, over the injected limit, so
//! payment declines and the reservation is released. Every saga must end as its path says and
//! every floor call must answer as expected, or the benchmark fails.
//!
//! Output: the rows of `make bench`'s results table on stdout (markdown, no header), progress on
//! stderr, and every figure as JSON to the file named by the first argument or `BENCH_SAGA_OUT`.
//! Settings (environment): `BENCH_SAGAS` (per path, kind and round; default 200),
//! `BENCH_SAGA_CONCURRENCY` (20), `BENCH_ROUNDS` (3), `BENCH_SAGA_POLL_MS` (unset), and the crate's
//! `ORDER_SAGA_DIR` and `ORDER_SAGA_TARGET_DIR`. The stack is stopped at the end in every case,
//! Ctrl-C included.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use dapr_harness::measure::{CpuClock, median, pids_named};
use order_saga::{
    DirectCalls, Ledger, LoadFixture, LoadStats, OrderInput, SagaClient, SagaPath, SagaStack, Settings, env_number,
    outcome_table, progress, run_concurrently, run_example, run_jobs,
};
use serde_json::{Value, json};

/// Failure injection: on, and payment declines any charge above 50.00 (the compensating path).
const INJECTION: &str = "on,decline_over=5000";
/// The amount of a happy-path order, in cents: under the limit, far under the balances.
const HAPPY_AMOUNT: i64 = 100;
/// The amount of a compensating-path order: over the injected limit, so the charge is declined.
const COMPENSATING_AMOUNT: i64 = 6000;
/// Stock records and accounts the orders are spread over, one pair per slot.
const SLOTS: usize = 20;
/// Units of each stock record and cents of each account: more than any run takes.
const PLENTY: i64 = 1_000_000_000;
/// How long one saga may take before the run is failed.
const SAGA_TIMEOUT: Duration = Duration::from_secs(120);
/// Sagas per second the happy path must reach (issue 6).
const TARGET_PER_SECOND: f64 = 50.0;
/// The apps' ports in the example's `dapr.yaml`: busy while another stack (`make demo`, the
/// end-to-end tests) runs, which this one could not start beside and should not be measured beside.
const APP_PORTS: [u16; 3] = [8081, 8082, 8083];

/// What to run, from the environment and the arguments.
#[derive(Debug)]
struct Config {
    sagas: usize,
    concurrency: usize,
    rounds: usize,
    /// `Some`: poll every that long instead of waiting in the service.
    poll: Option<Duration>,
    out: Option<PathBuf>,
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let config = Config {
            sagas: env_number("BENCH_SAGAS", 200)? as usize,
            concurrency: env_number("BENCH_SAGA_CONCURRENCY", 20)? as usize,
            rounds: env_number("BENCH_ROUNDS", 3)? as usize,
            poll: match std::env::var_os("BENCH_SAGA_POLL_MS") {
                Some(_) => Some(Duration::from_millis(env_number("BENCH_SAGA_POLL_MS", 0)?)),
                None => None,
            },
            out: std::env::args_os()
                .nth(1)
                .or_else(|| std::env::var_os("BENCH_SAGA_OUT"))
                .map(PathBuf::from),
        };
        if config.sagas == 0
            || config.concurrency == 0
            || config.rounds == 0
            || config.poll.is_some_and(|poll| poll.is_zero())
        {
            bail!("BENCH_SAGAS, BENCH_SAGA_CONCURRENCY, BENCH_ROUNDS and BENCH_SAGA_POLL_MS must be above 0");
        }
        Ok(config)
    }

    /// How the client learns that a saga has finished, in words.
    fn status_reads(&self) -> String {
        match self.poll {
            Some(every) => format!("polled every {} ms", every.as_millis()),
            None => "waited for with ?wait_ms=5000".to_owned(),
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    order_saga::exit_code("saga-bench", run().await)
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let settings = Settings::from_env()?;
    let busy: Vec<u16> = APP_PORTS.into_iter().filter(|port| listening(*port)).collect();
    if !busy.is_empty() {
        bail!(
            "port(s) {busy:?} are in use: another order-saga stack (make demo, cargo test -p order-saga) seems to \
             run; wait until it has finished"
        );
    }
    let measured = run_example(&settings, Some(INJECTION), async |stack| measure(stack, &config).await).await?;
    progress(format_args!("CPU time per saga, by process:\n{}", measured.cpu_table()));
    print!("{}", measured.rows(&config));
    let json = measured.json(&config);
    if let Some(out) = &config.out {
        std::fs::write(out, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
        let cpu_out = out.with_extension("cpu.md");
        std::fs::write(&cpu_out, measured.cpu_table()).with_context(|| format!("writing {}", cpu_out.display()))?;
        progress(format_args!(
            "results written to {} and {}",
            out.display(),
            cpu_out.display()
        ));
    }
    Ok(())
}

/// Whether something accepts connections on `port` of the loopback interface.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}

/// One measured batch: its throughput and latencies, and the CPU seconds each process used meanwhile.
#[derive(Debug, Clone)]
struct Batch {
    stats: LoadStats,
    /// CPU seconds by [`CPU_COLUMNS`] name, the whole machine's under `machine`.
    cpu: BTreeMap<String, f64>,
}

impl Batch {
    /// Runs `batch` (not started before it is awaited), reading the CPU clocks of `processes`
    /// around it, and reports it as `what`.
    async fn measure(
        processes: &[(String, u32)],
        what: std::fmt::Arguments<'_>,
        batch: impl Future<Output = anyhow::Result<LoadStats>>,
    ) -> anyhow::Result<Batch> {
        let before = CpuClock::of_processes(processes);
        let stats = batch.await?;
        let used = before.until(&CpuClock::of_processes(processes));
        let mut cpu = used.by_process;
        cpu.insert("machine".to_owned(), used.machine_busy);
        progress(format_args!("{what}: {stats}"));
        Ok(Batch { stats, cpu })
    }
}

/// The columns of the CPU table: process names as [`stack_processes`] gives them, and headers.
const CPU_COLUMNS: [(&str, &str); 9] = [
    ("order", "order app"),
    ("order daprd", "order daprd"),
    ("inventory", "inventory app"),
    ("inventory daprd", "inventory daprd"),
    ("payment", "payment app"),
    ("payment daprd", "payment daprd"),
    ("redis + placement + scheduler", "redis + placement + scheduler"),
    ("driver", "this driver"),
    ("machine", "whole machine"),
];

/// The processes whose CPU time is read around each batch: each app and its sidecar, the redis,
/// placement and scheduler the stack uses (found by name: they may be shared), and this driver.
fn stack_processes(stack: &SagaStack) -> Vec<(String, u32)> {
    let mut processes = vec![("driver".to_owned(), std::process::id())];
    for app in stack.run().apps() {
        if let Some(pid) = app.app_pid() {
            processes.push((app.app_id().to_owned(), pid));
        }
        processes.push((format!("{} daprd", app.app_id()), app.daprd().pid()));
    }
    for name in ["redis-server", "placement", "scheduler"] {
        for pid in pids_named(name) {
            processes.push(("redis + placement + scheduler".to_owned(), pid));
        }
    }
    processes
}

/// Every measured batch, by path, in round order.
#[derive(Debug, Default)]
struct Measured {
    /// Per path: (the sagas' batches, the floor's batches).
    paths: Vec<(SagaPath, Vec<Batch>, Vec<Batch>)>,
    /// Status reads per saga, over every measured saga.
    reads_per_saga: f64,
}

/// Warms up, then measures both paths, floor first, in every round.
async fn measure(stack: &SagaStack, config: &Config) -> anyhow::Result<Measured> {
    let client = match config.poll {
        Some(every) => stack.client().clone().with_poll_interval(every),
        None => stack.client().clone(),
    };
    let direct = DirectCalls::new(stack.sidecar_url("order")?)?;
    // A tag of this run in every name and id: the store outlives the run.
    let tag = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let mut ledger = Ledger::new();
    let fixture = LoadFixture::seed(&client, &mut ledger, &format!("bench-{tag}"), SLOTS, PLENTY, PLENTY).await?;
    progress(format_args!(
        "{SLOTS} stock records and accounts seeded; {} sagas per batch at concurrency {}, {} round(s), {}",
        config.sagas,
        config.concurrency,
        config.rounds,
        config.status_reads()
    ));
    let amount = |path| match path {
        SagaPath::Happy => HAPPY_AMOUNT,
        SagaPath::Compensating => COMPENSATING_AMOUNT,
    };
    // Warm-up, not recorded: connection pools, the workflow engine's actors, the stores' keys.
    for path in SagaPath::ALL {
        let label = format!("{tag}-warm-{}", path.key());
        floor(
            &direct,
            &fixture,
            path,
            amount(path),
            config.concurrency,
            config.concurrency,
            &label,
        )
        .await?;
        sagas(
            &client,
            &fixture,
            path,
            amount(path),
            config.concurrency,
            config.concurrency,
        )
        .await?;
    }
    progress(format_args!("warmed up"));
    let processes = stack_processes(stack);
    let mut measured = Measured::default();
    let mut saga_count = 0;
    let reads_before = client.saga_reads();
    for round in 1..=config.rounds {
        for path in SagaPath::ALL {
            let label = format!("{tag}-{round}-{}", path.key());
            let floor_stats = Batch::measure(
                &processes,
                format_args!("round {round}, {}, floor", path.name()),
                floor(
                    &direct,
                    &fixture,
                    path,
                    amount(path),
                    config.sagas,
                    config.concurrency,
                    &label,
                ),
            )
            .await?;
            let saga_stats = Batch::measure(
                &processes,
                format_args!("round {round}, {}, sagas", path.name()),
                sagas(&client, &fixture, path, amount(path), config.sagas, config.concurrency),
            )
            .await?;
            saga_count += saga_stats.stats.count;
            match measured.paths.iter_mut().find(|(known, ..)| *known == path) {
                Some((_, saga_runs, floor_runs)) => {
                    saga_runs.push(saga_stats);
                    floor_runs.push(floor_stats);
                }
                None => measured.paths.push((path, vec![saga_stats], vec![floor_stats])),
            }
        }
    }
    measured.reads_per_saga = (client.saga_reads() - reads_before) as f64 / saga_count.max(1) as f64;
    Ok(measured)
}

/// Runs `count` sagas of `path` for `amount` cents each, `concurrency` at once; fails unless every
/// one ends as `path` says.
async fn sagas(
    client: &SagaClient,
    fixture: &LoadFixture,
    path: SagaPath,
    amount: i64,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<LoadStats> {
    let (results, stats) = run_concurrently(client, fixture.orders(count, amount), concurrency, SAGA_TIMEOUT).await?;
    let odd: Vec<_> = results
        .iter()
        .filter(|result| result.status() != path.expected_status())
        .cloned()
        .collect();
    if !odd.is_empty() {
        bail!(
            "{}: {} of {count} sagas did not end {}:\n{}",
            path.name(),
            odd.len(),
            path.expected_status(),
            outcome_table(&odd)
        );
    }
    Ok(stats)
}

/// Makes the calls of `count` sagas of `path` directly, `concurrency` sagas at once, with ids
/// `floor-<label>-<index>`.
async fn floor(
    direct: &DirectCalls,
    fixture: &LoadFixture,
    path: SagaPath,
    amount: i64,
    count: usize,
    concurrency: usize,
    label: &str,
) -> anyhow::Result<LoadStats> {
    let jobs: Vec<(String, OrderInput)> = fixture
        .orders(count, amount)
        .into_iter()
        .enumerate()
        .map(|(index, order)| (format!("floor-{label}-{index}"), order.input))
        .collect();
    let direct = direct.clone();
    let (latencies, wall) = run_jobs(jobs, concurrency, move |(id, input)| {
        let direct = direct.clone();
        async move { direct.run(&id, &input, path).await }
    })
    .await?;
    Ok(LoadStats::of_latencies(latencies, concurrency, wall))
}

/// The median of `values` ([`median`]); zero when there are none.
fn median_or_zero(values: impl IntoIterator<Item = f64>) -> f64 {
    median(values).unwrap_or(0.0)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Medians over rounds of one kind of batch.
#[derive(Debug, Clone, Copy)]
struct Medians {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Medians {
    fn of(runs: &[Batch]) -> Medians {
        Medians {
            per_second: median_or_zero(runs.iter().map(|run| run.stats.per_second())),
            p50_ms: median_or_zero(runs.iter().map(|run| ms(run.stats.p50))),
            p99_ms: median_or_zero(runs.iter().map(|run| ms(run.stats.p99))),
        }
    }
}

/// The median over rounds of the sagas' throughput as a fraction of the floor's in the same round.
fn throughput_ratio(sagas: &[Batch], floors: &[Batch]) -> f64 {
    median_or_zero(
        sagas
            .iter()
            .zip(floors)
            .map(|(saga, floor)| saga.stats.per_second() / floor.stats.per_second().max(f64::EPSILON)),
    )
}

/// CPU ms per saga used by process `name` (median over `runs`).
fn cpu_ms_per_saga(runs: &[Batch], name: &str) -> f64 {
    median_or_zero(
        runs.iter()
            .map(|run| run.cpu.get(name).copied().unwrap_or(0.0) * 1000.0 / run.stats.count.max(1) as f64),
    )
}

impl Measured {
    /// The rows of `make bench`'s results table: throughput, then latency, per path.
    fn rows(&self, config: &Config) -> String {
        let mut rows = String::new();
        let mut row = |cells: [String; 6]| rows.push_str(&format!("| {} |\n", cells.join(" | ")));
        for (path, sagas, floors) in &self.paths {
            let (saga, floor) = (Medians::of(sagas), Medians::of(floors));
            let ratio = throughput_ratio(sagas, floors);
            let (target, verdict) = match path {
                SagaPath::Happy => (
                    format!(">= {TARGET_PER_SECOND:.0} sagas/s"),
                    if saga.per_second >= TARGET_PER_SECOND {
                        "met"
                    } else {
                        "**missed**"
                    }
                    .to_owned(),
                ),
                SagaPath::Compensating => ("reported".to_owned(), "-".to_owned()),
            };
            row([
                format!(
                    "saga throughput, {} ({} sagas at concurrency {}, {} rounds)",
                    path.name(),
                    config.sagas,
                    config.concurrency,
                    config.rounds
                ),
                format!("{:.1} sagas/s", saga.per_second),
                format!(
                    "{:.1} sagas/s (the same {} calls through the order app's sidecar, no workflow)",
                    floor.per_second,
                    path.operations().len()
                ),
                format!("{ratio:.2}x"),
                target,
                verdict,
            ]);
            row([
                format!(
                    "saga latency p50 / p99, {} (start until the final status is seen; {}, {:.1} status reads a \
                     saga)",
                    path.name(),
                    config.status_reads(),
                    self.reads_per_saga
                ),
                format!("{:.0} / {:.0} ms", saga.p50_ms, saga.p99_ms),
                format!("{:.1} / {:.1} ms", floor.p50_ms, floor.p99_ms),
                format!(
                    "p50 +{:.0} ms, p99 +{:.0} ms",
                    saga.p50_ms - floor.p50_ms,
                    saga.p99_ms - floor.p99_ms
                ),
                "reported".to_owned(),
                "-".to_owned(),
            ]);
        }
        rows
    }

    /// CPU ms per saga by process, median over rounds, as a markdown table (header included).
    fn cpu_table(&self) -> String {
        let mut table = format!(
            "| CPU ms per saga | {} |\n|---|{}\n",
            CPU_COLUMNS.map(|(_, header)| header).join(" | "),
            "---|".repeat(CPU_COLUMNS.len())
        );
        for (path, sagas, floors) in &self.paths {
            for (kind, runs) in [("saga", sagas), ("floor", floors)] {
                let cells: Vec<String> = CPU_COLUMNS
                    .iter()
                    .map(|(name, _)| format!("{:.2}", cpu_ms_per_saga(runs, name)))
                    .collect();
                table.push_str(&format!("| {}, {kind} | {} |\n", path.name(), cells.join(" | ")));
            }
        }
        table
    }

    /// Every batch and the medians, as JSON.
    fn json(&self, config: &Config) -> Value {
        let batch = |batch: &Batch| {
            let stats = &batch.stats;
            json!({
                "count": stats.count,
                "concurrency": stats.concurrency,
                "wall_s": stats.wall.as_secs_f64(),
                "per_second": stats.per_second(),
                "p50_ms": ms(stats.p50),
                "p99_ms": ms(stats.p99),
                "max_ms": ms(stats.max),
                "cpu_seconds": batch.cpu,
            })
        };
        let medians = |medians: Medians| json!({"per_second": medians.per_second, "p50_ms": medians.p50_ms, "p99_ms": medians.p99_ms});
        let mut paths = serde_json::Map::new();
        for (path, sagas, floors) in &self.paths {
            let (saga, floor) = (Medians::of(sagas), Medians::of(floors));
            let cpu = |runs: &[Batch]| {
                CPU_COLUMNS
                    .iter()
                    .map(|(name, _)| ((*name).to_owned(), json!(cpu_ms_per_saga(runs, name))))
                    .collect::<serde_json::Map<_, _>>()
            };
            let mut entry = json!({
                "cpu_ms_per_saga": {"saga": cpu(sagas), "floor": cpu(floors)},
                "saga": {"rounds": sagas.iter().map(batch).collect::<Vec<_>>(), "median": medians(saga)},
                "floor": {"rounds": floors.iter().map(batch).collect::<Vec<_>>(), "median": medians(floor)},
                "throughput_ratio": throughput_ratio(sagas, floors),
                "p50_excess_ms": saga.p50_ms - floor.p50_ms,
                "p99_excess_ms": saga.p99_ms - floor.p99_ms,
            });
            if *path == SagaPath::Happy {
                entry["target_per_second"] = json!(TARGET_PER_SECOND);
                entry["met"] = json!(saga.per_second >= TARGET_PER_SECOND);
            }
            paths.insert(path.key().to_owned(), entry);
        }
        json!({
            "sagas_per_batch": config.sagas,
            "concurrency": config.concurrency,
            "rounds": config.rounds,
            "poll_interval_ms": config.poll.map(|poll| poll.as_millis() as u64),
            "status_reads_per_saga": self.reads_per_saga,
            "paths": paths,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::median_or_zero;

    #[test]
    fn no_values_have_a_zero_median() {
        assert_eq!(median_or_zero([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_or_zero([]), 0.0);
    }
}
