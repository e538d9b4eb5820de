//! Medians over rounds, ratios against the floor, and the rows of the results table.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use dapr_harness::measure::median;

use crate::load::{Run, RunResult, SERVICE, Scenario};
use crate::service::Memory;

/// Throughput the service must reach, as a fraction of the floor's.
const MIN_THROUGHPUT_RATIO: f64 = 0.9;
/// How much higher than the floor's the service's p99 may be, in ms.
const MAX_P99_EXCESS_MS: f64 = 1.0;
/// Highest resident size of the service under load, in MB (10^6 bytes).
const MAX_RESIDENT_MB: f64 = 30.0;

/// A service scenario and the floor scenario it is compared with, by load.lua mode.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    /// As printed: `GET`, `PUT`.
    pub what: &'static str,
    /// Mode of the service scenario.
    pub service: &'static str,
    /// Mode of its floor.
    pub floor: &'static str,
}

/// Every measured run, by scenario, in round order.
#[derive(Debug)]
pub struct Report {
    connections: usize,
    seconds: u64,
    scenarios: Vec<(Scenario, Vec<RunResult>)>,
    cpu: Vec<(Scenario, Vec<Run>)>,
}

impl Report {
    /// An empty report of runs with `connections` connections lasting `seconds` each.
    pub fn new(connections: usize, seconds: u64) -> Self {
        Self {
            connections,
            seconds,
            scenarios: Vec::new(),
            cpu: Vec::new(),
        }
    }

    /// Records one run.
    pub fn add(&mut self, scenario: &Scenario, run: Run) {
        match self.scenarios.iter_mut().find(|(known, _)| known.mode == scenario.mode) {
            Some((_, runs)) => runs.push(run.result.clone()),
            None => self.scenarios.push((*scenario, vec![run.result.clone()])),
        }
        match self.cpu.iter_mut().find(|(known, _)| known.mode == scenario.mode) {
            Some((_, runs)) => runs.push(run),
            None => self.cpu.push((*scenario, vec![run])),
        }
    }

    /// CPU time per operation by process (median over rounds), as a markdown table: on a machine
    /// whose cores every process of the request path shares, this is what throughput is made of.
    pub fn cpu_table(&self) -> String {
        const COLUMNS: [(&str, &str); 5] = [
            (SERVICE, "service"),
            ("daprd", "daprd"),
            ("redis-server", "redis"),
            ("placement", "placement"),
            ("scheduler", "scheduler"),
        ];
        let mut table = String::from(
            "| scenario | service | daprd | redis | placement + scheduler | rest of the machine (wrk, other users) | machine busy |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (scenario, runs) in &self.cpu {
            let per_op = |name: &str| {
                median_or_nan(
                    runs.iter()
                        .map(|run| run.cpu.by_process.get(name).copied().unwrap_or(0.0) * 1e6 / run.result.ops as f64),
                )
            };
            let rest = median_or_nan(runs.iter().map(|run| {
                let ours: f64 = COLUMNS
                    .iter()
                    .filter_map(|(name, _)| run.cpu.by_process.get(*name))
                    .sum();
                (run.cpu.machine_busy - ours).max(0.0) * 1e6 / run.result.ops as f64
            }));
            let busy = median_or_nan(runs.iter().map(|run| run.cpu.machine_busy_percent()));
            let _ = writeln!(
                table,
                "| {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {rest:.0} µs | {busy:.0} % |",
                scenario.name,
                per_op(SERVICE),
                per_op("daprd"),
                per_op("redis-server"),
                per_op("placement") + per_op("scheduler"),
            );
        }
        table
    }

    /// Whether no run saw a failed request.
    pub fn clean(&self) -> bool {
        self.scenarios
            .iter()
            .flat_map(|(_, runs)| runs)
            .all(|run| run.errors + run.socket_errors == 0)
    }

    fn runs(&self, mode: &str) -> &[RunResult] {
        self.scenarios
            .iter()
            .find(|(scenario, _)| scenario.mode == mode)
            .map(|(_, runs)| runs.as_slice())
            .unwrap_or_default()
    }

    fn name<'a>(&'a self, mode: &'a str) -> &'a str {
        self.scenarios
            .iter()
            .find(|(scenario, _)| scenario.mode == mode)
            .map_or(mode, |(s, _)| s.name)
    }

    /// Median over rounds of `figure`.
    fn median_of(&self, mode: &str, figure: impl Fn(&RunResult) -> f64) -> f64 {
        median_or_nan(self.runs(mode).iter().map(figure))
    }

    /// Median over rounds of `figure(service run, floor run)`, runs of one round paired.
    fn paired(&self, comparison: &Comparison, figure: impl Fn(&RunResult, &RunResult) -> f64) -> f64 {
        let pairs = self.runs(comparison.service).iter().zip(self.runs(comparison.floor));
        median_or_nan(pairs.map(|(service, floor)| figure(service, floor)))
    }

    fn rows(&self, comparisons: &[Comparison]) -> String {
        let mut rows = String::new();
        let load = format!(
            "{}, {} rounds of {} s",
            connections(self.connections),
            self.rounds(),
            self.seconds
        );
        for comparison in comparisons {
            let (service, floor) = (comparison.service, comparison.floor);
            let ratio = self.paired(comparison, |s, f| s.throughput() / f.throughput());
            let p99_excess = self.paired(comparison, |s, f| (s.p99_us - f.p99_us) / 1e3);
            let p50_excess = self.paired(comparison, |s, f| (s.p50_us - f.p50_us) / 1e3);
            let _ = writeln!(
                rows,
                "| HTTP {} throughput ({load}) | {:.0} ops/s | {:.0} ops/s ({}) | {ratio:.2}x | >= {MIN_THROUGHPUT_RATIO}x | {} |",
                comparison.what,
                self.median_of(service, RunResult::throughput),
                self.median_of(floor, RunResult::throughput),
                self.name(floor),
                verdict(ratio >= MIN_THROUGHPUT_RATIO),
            );
            let _ = writeln!(
                rows,
                "| HTTP {} latency p50 / p99 | {:.2} / {:.2} ms | {:.2} / {:.2} ms | p50 {p50_excess:+.2} ms, p99 {p99_excess:+.2} ms | p99 <= +{MAX_P99_EXCESS_MS} ms | {} |",
                comparison.what,
                self.median_of(service, |r| r.p50_us / 1e3),
                self.median_of(service, |r| r.p99_us / 1e3),
                self.median_of(floor, |r| r.p50_us / 1e3),
                self.median_of(floor, |r| r.p99_us / 1e3),
                verdict(p99_excess <= MAX_P99_EXCESS_MS),
            );
        }
        let compared: Vec<&str> = comparisons.iter().flat_map(|c| [c.service, c.floor]).collect();
        for (scenario, _) in self.scenarios.iter().filter(|(s, _)| !compared.contains(&s.mode)) {
            let _ = writeln!(
                rows,
                "| {} (for reference) | - | {:.0} ops/s, p50 / p99 {:.2} / {:.2} ms | - | - | - |",
                scenario.name,
                self.median_of(scenario.mode, RunResult::throughput),
                self.median_of(scenario.mode, |r| r.p50_us / 1e3),
                self.median_of(scenario.mode, |r| r.p99_us / 1e3),
            );
        }
        rows
    }

    fn rounds(&self) -> usize {
        self.scenarios.iter().map(|(_, runs)| runs.len()).max().unwrap_or(0)
    }

    /// Prints the medians of every scenario, then the compared rows.
    pub fn print(&self, comparisons: &[Comparison]) {
        println!(
            "\n{}, medians over {} rounds:",
            connections(self.connections),
            self.rounds()
        );
        for (scenario, _) in &self.scenarios {
            println!(
                "  {:<42} {:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
                scenario.name,
                self.median_of(scenario.mode, RunResult::throughput),
                self.median_of(scenario.mode, |r| r.p50_us / 1e3),
                self.median_of(scenario.mode, |r| r.p99_us / 1e3),
            );
        }
        println!("\nCPU time per operation (median over rounds):\n{}", self.cpu_table());
        println!("{}", self.rows(comparisons));
    }

    /// Appends the rows to the markdown file at `path`.
    pub fn append_rows(&self, path: &Path, comparisons: &[Comparison]) -> anyhow::Result<()> {
        append(path, &self.rows(comparisons))
    }
}

/// The memory row: the highest resident size of the service over the whole run (`VmHWM` at the
/// end; the load is what makes it highest), never below what the samples under load saw.
pub fn memory_row(idle: Memory, sampled: Memory, end: Memory) -> String {
    let peak = mb(end.hwm_kib.max(sampled.rss_kib));
    format!(
        "| service resident memory under that load | {peak:.1} MB (VmHWM; VmRSS sampled under load up to {:.1} MB, idle {:.1} MB) | - | - | <= {MAX_RESIDENT_MB} MB | {} |\n",
        mb(sampled.rss_kib),
        mb(idle.rss_kib),
        verdict(peak <= MAX_RESIDENT_MB),
    )
}

/// Appends `text` to the file at `path`.
pub fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// "1 connection", "16 connections".
pub fn connections(count: usize) -> String {
    if count == 1 {
        "1 connection".to_owned()
    } else {
        format!("{count} connections")
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// The median of `values` ([`median`]); NaN, printed as such, when there are none.
fn median_or_nan(values: impl IntoIterator<Item = f64>) -> f64 {
    median(values).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_values_have_a_nan_median() {
        assert_eq!(median_or_nan([3.0, 1.0, 2.0]), 2.0);
        assert!(median_or_nan([]).is_nan());
    }

    #[test]
    fn memory_row_takes_the_highest_of_the_peak_readings() {
        let idle = Memory {
            rss_kib: 10_000,
            hwm_kib: 10_000,
        };
        let sampled = Memory {
            rss_kib: 20_000,
            hwm_kib: 0,
        };
        let row = memory_row(
            idle,
            sampled,
            Memory {
                rss_kib: 12_000,
                hwm_kib: 25_000,
            },
        );
        assert!(row.contains("| 25.6 MB (VmHWM"), "{row}");
        assert!(row.ends_with("| met |\n"), "{row}");
        let over = memory_row(
            idle,
            Memory {
                rss_kib: 40_000,
                hwm_kib: 0,
            },
            idle,
        );
        assert!(
            over.contains("| 41.0 MB (VmHWM") && over.contains("**missed**"),
            "{over}"
        );
    }
}
