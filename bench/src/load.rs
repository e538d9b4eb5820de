//! wrk runs of bench/wrk/load.lua and what they measured.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use dapr_harness::measure::{CpuClock, CpuUse};
use serde::Deserialize;

use crate::service::{Memory, ServiceProcess};

/// How often the service's memory is read while it is under load.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// The name the service's CPU time is reported under.
pub const SERVICE: &str = "service";

/// Who answers a scenario's requests.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The generated service.
    Service,
    /// daprd's own HTTP API: the floor.
    Sidecar,
}

/// One kind of load: a mode of load.lua against a target.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// As printed.
    pub name: &'static str,
    /// `BENCH_MODE` of load.lua.
    pub mode: &'static str,
    /// Who is loaded.
    pub target: Target,
}

/// What load.lua's `done()` reports for one run.
#[derive(Debug, Clone, Deserialize)]
pub struct RunResult {
    /// Complete operations.
    pub ops: u64,
    /// Length of the run.
    pub seconds: f64,
    /// HTTP requests sent (an operation may take two).
    pub requests: u64,
    /// Answers with an unexpected status.
    pub errors: u64,
    /// Socket errors (connect, read, write, timeout).
    pub socket_errors: u64,
    /// Median operation latency, µs.
    pub p50_us: f64,
    /// 99th percentile operation latency, µs.
    pub p99_us: f64,
    /// Slowest operation, µs.
    pub max_us: f64,
    /// Unexpected statuses and how often each came.
    pub statuses: serde_json::Map<String, serde_json::Value>,
}

/// One wrk run: what load.lua measured, and what the processes used meanwhile.
#[derive(Debug, Clone)]
pub struct Run {
    /// load.lua's figures.
    pub result: RunResult,
    /// The service's highest resident size seen while the load ran, when sampled.
    pub peak: Option<Memory>,
    /// CPU used during the run.
    pub cpu: CpuUse,
}

impl RunResult {
    /// Operations per second.
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    /// One line for the progress output.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.1} ms  ({} ops, {} requests)",
            self.throughput(),
            self.p50_us / 1e3,
            self.p99_us / 1e3,
            self.max_us / 1e3,
            self.ops,
            self.requests
        );
        if self.errors + self.socket_errors > 0 {
            line += &format!(
                "  FAILED REQUESTS: {} bad statuses {:?}, {} socket errors",
                self.errors, self.statuses, self.socket_errors
            );
        }
        line
    }
}

/// Everything a wrk run needs to know.
#[derive(Debug)]
pub struct Load {
    /// bench/wrk/load.lua.
    pub script: PathBuf,
    /// One record id per line, one line per connection.
    pub ids_file: PathBuf,
    /// Connections, and wrk threads (one connection each).
    pub connections: usize,
    /// The resource, singular (state keys are `RESOURCE/{id}`).
    pub resource: String,
    /// The service's base URL.
    pub service_url: String,
    /// The collection path on the service, `/items`.
    pub api_path: String,
    /// daprd's HTTP API.
    pub sidecar_url: String,
    /// The state store's path on daprd, `/v1.0/state/statestore`.
    pub state_path: String,
    /// Where wrk's output and the raw results go.
    pub work_dir: PathBuf,
}

impl Load {
    /// Runs `scenario` for `seconds`, sampling the service's memory meanwhile when it is the
    /// target.
    pub async fn run(
        &self,
        scenario: &Scenario,
        seconds: u64,
        label: &str,
        service: &ServiceProcess,
    ) -> anyhow::Result<Run> {
        let sampled = matches!(scenario.target, Target::Service).then_some(service);
        let result_file = self.work_dir.join(format!("{label}-{}.jsonl", scenario.mode));
        let _ = std::fs::remove_file(&result_file);
        let log_path = self.work_dir.join("wrk.log");
        let log = OpenOptions::new().create(true).append(true).open(&log_path)?;
        let url = match scenario.target {
            // wrk needs a URL; load.lua builds every request's path itself.
            Target::Service => format!("{}/healthz", self.service_url),
            Target::Sidecar => format!("{}/v1.0/healthz", self.sidecar_url),
        };
        let threads = self.connections.to_string();
        let cpu_before = cpu_clock(service.pid());
        let mut wrk = tokio::process::Command::new("wrk")
            .args([
                "-t",
                &threads,
                "-c",
                &threads,
                "-d",
                &format!("{seconds}s"),
                "--timeout",
                "10s",
                "-s",
            ])
            .arg(&self.script)
            .arg(&url)
            .env("BENCH_MODE", scenario.mode)
            .env("BENCH_RESOURCE", &self.resource)
            .env("BENCH_IDS", &self.ids_file)
            .env("BENCH_API", &self.api_path)
            .env("BENCH_STATE", &self.state_path)
            .env("BENCH_RESULT", &result_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting wrk (`apt-get install wrk`; bench/run.sh installs it)")?;
        let mut peak: Option<Memory> = None;
        let status = loop {
            if let Some(service) = sampled {
                let now = service.memory()?;
                let highest = peak.get_or_insert(now);
                highest.rss_kib = highest.rss_kib.max(now.rss_kib);
                highest.hwm_kib = highest.hwm_kib.max(now.hwm_kib);
            }
            tokio::select! {
                status = wrk.wait() => break status?,
                () = tokio::time::sleep(MEMORY_SAMPLE_INTERVAL) => {}
            }
        };
        let cpu = cpu_before.until(&cpu_clock(service.pid()));
        if !status.success() {
            bail!("wrk {} failed ({status}); see {}", scenario.mode, log_path.display());
        }
        let text = std::fs::read_to_string(&result_file)
            .with_context(|| format!("wrk wrote no result for {} (see {})", scenario.mode, log_path.display()))?;
        let result: RunResult =
            serde_json::from_str(text.trim()).with_context(|| format!("parsing {}: {text}", result_file.display()))?;
        if result.ops == 0 {
            bail!(
                "{}: no operation completed ({}); see {}",
                scenario.name,
                result.summary(),
                log_path.display()
            );
        }
        Ok(Run { result, peak, cpu })
    }
}

/// Reads the CPU clocks of this process's children (the stack, daprd; each under its command
/// name) and of the service (under [`SERVICE`]).
fn cpu_clock(service_pid: u32) -> CpuClock {
    let own = std::process::id();
    CpuClock::of_every_process(|process| {
        if process.pid == service_pid {
            Some(SERVICE.to_owned())
        } else if process.parent == own {
            Some(process.name.clone())
        } else {
            None
        }
    })
}
