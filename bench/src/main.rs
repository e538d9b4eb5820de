//! `service-load`: the runtime part of `make bench` (bench/run.sh runs it; docs/BENCHMARKS.md
//! explains the figures).
//!
//! Starts redis, placement and scheduler (through `dapr-harness`), a daprd loaded with the
//! generated service's own `components/` and configuration, then the service's release binary as
//! a process of its own, with the variables `dapr run -f .` would give it. Creates one record per
//! connection, then runs wrk (`bench/wrk/load.lua`) against the service and against daprd's state
//! API doing the same state work, interleaved, for several rounds, and reports medians and
//! ratios. The service's resident memory is sampled from `/proc` while it is under load.
//!
//! Everything it starts is killed when it returns, fails, or gets SIGINT/SIGTERM/SIGHUP.

mod load;
mod report;
mod service;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use dapr_harness::{Daprd, Stack, catalogue_dir, free_port};
use tokio::signal::unix::{SignalKind, signal};

use crate::load::{Load, Scenario, Target};
use crate::report::{Comparison, Report, append, connections as connection_count, memory_row};
use crate::service::{Memory, ServiceProcess};

/// Runs a generated service under load next to a real daprd, against daprd's own state API.
#[derive(Debug, Parser)]
#[command(name = "service-load")]
struct Args {
    /// The generated service's directory (its components/ and config/default.toml are used).
    #[arg(long)]
    service_dir: PathBuf,
    /// The service's release binary.
    #[arg(long)]
    binary: PathBuf,
    /// The Dapr app id: the service's name, as in its dapr.yaml.
    #[arg(long)]
    app_id: String,
    /// The service's first resource, singular (state keys are `RESOURCE/{id}`).
    #[arg(long)]
    resource: String,
    /// The HTTP collection path of that resource (`/RESOURCES_PATH/{id}`).
    #[arg(long)]
    resources_path: String,
    /// Concurrent connections, one level after the other, e.g. `1,16` (one wrk thread per
    /// connection; each connection has its own record).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    connections: Vec<usize>,
    /// Length of one measured wrk run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Measured rounds; each round runs every scenario once, service and floor back to back.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Length of the unrecorded warm-up run of each scenario, in seconds.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// The wrk script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/wrk/load.lua"))]
    script: PathBuf,
    /// Where logs and raw results go (created if missing).
    #[arg(long)]
    work_dir: PathBuf,
    /// A markdown file the result rows are appended to (bench/run.sh prints them in its table).
    #[arg(long)]
    results: Option<PathBuf>,
}

/// What is measured, in the order of each round. A saga benchmark (issue 5) is a section of its
/// own in bench/run.sh, with its own load, not a scenario here.
const SCENARIOS: [Scenario; 5] = [
    Scenario {
        name: "GET service",
        mode: "get",
        target: Target::Service,
    },
    Scenario {
        name: "GET daprd state API",
        mode: "raw-get",
        target: Target::Sidecar,
    },
    Scenario {
        name: "PUT service",
        mode: "put",
        target: Target::Service,
    },
    Scenario {
        name: "PUT daprd outbox transaction + read",
        mode: "raw-put",
        target: Target::Sidecar,
    },
    Scenario {
        name: "PUT daprd plain save + read (no event)",
        mode: "raw-save",
        target: Target::Sidecar,
    },
];

/// The pairs the targets are about: the service, and the floor doing the same state work.
const COMPARISONS: [Comparison; 2] = [
    Comparison {
        what: "GET",
        service: "get",
        floor: "raw-get",
    },
    Comparison {
        what: "PUT",
        service: "put",
        floor: "raw-put",
    },
];

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = tokio::select! {
        outcome = run(args) => outcome,
        signal = stop_signal() => Err(anyhow::anyhow!("stopped by {signal}: everything started was killed")),
    };
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(3),
        Err(error) => {
            eprintln!("service-load: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on the first SIGINT, SIGTERM or SIGHUP; the caller then drops (kills) everything.
async fn stop_signal() -> &'static str {
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
        _ = hangup.recv() => "SIGHUP",
    }
}

/// Runs everything; `Ok(false)` when a run saw failed requests (the figures are then suspect).
async fn run(args: Args) -> anyhow::Result<bool> {
    std::fs::create_dir_all(&args.work_dir).with_context(|| format!("creating {}", args.work_dir.display()))?;
    if !args.binary.is_file() {
        bail!(
            "{} is not a file: build the service with `cargo build --release` first",
            args.binary.display()
        );
    }
    let service_dir = args.service_dir.canonicalize().context("the service directory")?;

    progress("starting redis, placement and scheduler");
    let stack = Stack::start().await?;
    let app_port = free_port()?;
    let app_api_token = format!("bench-{}", std::process::id());
    progress("starting daprd with the service's components");
    let sidecar = sidecar(&stack, &args.app_id, &service_dir, app_port, &app_api_token).await?;
    progress("starting the service");
    let mut service = ServiceProcess::start(
        &args.binary,
        &service_dir,
        &sidecar,
        app_port,
        &app_api_token,
        &args.work_dir.join("service.log"),
    )?;
    service.wait_until_ready(&sidecar, Duration::from_secs(60)).await?;
    let idle = service.memory()?;

    let most = args.connections.iter().copied().max().unwrap_or(1);
    let ids = service.create_records(&args.resources_path, most).await?;
    let ids_file = args.work_dir.join("ids.txt");
    std::fs::write(&ids_file, ids.join("\n") + "\n")?;

    let mut clean = true;
    let mut peak = Memory::default();
    let mut cpu_tables = String::new();
    for &connections in &args.connections {
        let load = Load {
            script: args.script.canonicalize().context("the wrk script")?,
            ids_file: ids_file.clone(),
            connections,
            resource: args.resource.clone(),
            service_url: service.url(),
            api_path: format!("/{}", args.resources_path),
            sidecar_url: sidecar.http_url(),
            state_path: "/v1.0/state/statestore".to_owned(),
            work_dir: args.work_dir.clone(),
        };
        let report = measure(&load, &args, &service, &mut peak).await?;
        report.print(&COMPARISONS);
        if let Some(path) = &args.results {
            report.append_rows(path, &COMPARISONS)?;
        }
        cpu_tables += &format!("\n{}:\n\n{}", connection_count(connections), report.cpu_table());
        clean &= report.clean();
    }
    let end = service.memory()?;
    let memory = memory_row(idle, peak, end);
    println!("{memory}");
    if let Some(path) = &args.results {
        append(path, &memory)?;
    }
    std::fs::write(args.work_dir.join("cpu.md"), cpu_tables)?;
    drop(service);
    drop(sidecar);
    drop(stack);
    Ok(clean)
}

/// Runs every scenario at `load`'s concurrency: one unrecorded warm-up run each, then the
/// rounds. Raises `peak` to the highest resident size of the service seen meanwhile.
async fn measure(load: &Load, args: &Args, service: &ServiceProcess, peak: &mut Memory) -> anyhow::Result<Report> {
    let connections = load.connections;
    progress(&format!(
        "{}: warming up, each scenario once for {} s",
        connection_count(connections),
        args.warmup_seconds
    ));
    for scenario in &SCENARIOS {
        load.run(
            scenario,
            args.warmup_seconds,
            &format!("c{connections}-warmup"),
            service,
        )
        .await?;
    }
    let mut report = Report::new(connections, args.seconds);
    for round in 1..=args.rounds {
        for scenario in &SCENARIOS {
            progress(&format!(
                "{}, round {round}/{}: {} for {} s",
                connection_count(connections),
                args.rounds,
                scenario.name,
                args.seconds
            ));
            let run = load
                .run(scenario, args.seconds, &format!("c{connections}-round{round}"), service)
                .await?;
            println!("    {}", run.result.summary());
            if let Some(seen) = run.peak {
                peak.rss_kib = peak.rss_kib.max(seen.rss_kib);
            }
            report.add(scenario, run);
        }
    }
    Ok(report)
}

/// daprd with the service's own components/ (redis addresses pointed at the stack's redis) and
/// its tracing configuration, fronting the app on `app_port`, as `dapr run -f .` would start it.
async fn sidecar(
    stack: &Stack,
    app_id: &str,
    service_dir: &std::path::Path,
    app_port: u16,
    app_api_token: &str,
) -> anyhow::Result<Daprd> {
    let components = service_dir.join("components");
    // The workflow client of the `dapr` crate sends no API token, so the generated service's
    // sidecar runs without one (as its dapr.yaml says); the app token is set.
    let mut builder = stack.daprd(app_id).app_port(app_port).app_api_token(app_api_token);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&components)
        .with_context(|| format!("reading {}", components.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let yaml = std::fs::read_to_string(&path)?;
        if name == "config.yaml" {
            builder = builder.config(&catalogue_twin(&yaml)?);
        } else {
            builder = builder.resource_yaml(&name, yaml);
        }
    }
    builder.start().await
}

/// The catalogue path of the configuration the service's components/config.yaml is a copy of (the
/// harness loads configurations from the catalogue; the template keeps them byte-identical).
fn catalogue_twin(yaml: &str) -> anyhow::Result<String> {
    let dir = catalogue_dir().join("configuration");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if std::fs::read_to_string(&path).is_ok_and(|text| text == yaml) {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            return Ok(format!("configuration/{name}"));
        }
    }
    bail!(
        "components/config.yaml of the service is not a copy of any file in {}",
        dir.display()
    )
}

/// One line of progress on stderr (stdout carries the results).
fn progress(message: &str) {
    eprintln!("  .. {message}");
}
