//! A stand-in for `dapr run -f` where the Dapr CLI cannot be installed:
//!
//! ```text
//! cargo run -p dapr-harness --example run_file -- path/to/dapr.yaml   # or the directory holding it
//! ```
//!
//! Starts every app of the run file next to a real sidecar (and redis, placement and scheduler
//! where `dapr init` would have them, unless they already run there), prints each app's ports,
//! and runs until Ctrl-C or SIGTERM, or until an app or sidecar exits by itself. Then it stops
//! the apps (SIGTERM, waiting for their exit status), their sidecars, and what it started, and
//! exits non-zero unless every one of them exited with status 0.
//!
//! Options: `--ready-timeout SECONDS` (default 1800: a first `cargo run --release` builds for
//! minutes), `--stop-timeout SECONDS` (default 30). What is supported and how it differs from the
//! CLI: docs/HARNESS.md, "dapr.yaml without the Dapr CLI".

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use dapr_harness::{MultiAppRun, RunFile, RunOptions};
use tokio::signal::unix::{SignalKind, signal};

struct Args {
    run_file: PathBuf,
    ready_timeout: Duration,
    stop_timeout: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut run_file = None;
    let mut ready_timeout = Duration::from_secs(1800);
    let mut stop_timeout = Duration::from_secs(30);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut seconds = |name: &str| -> anyhow::Result<Duration> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number of seconds"))?;
            Ok(Duration::from_secs(value.parse().with_context(|| {
                format!("{name} {value:?} is not a number of seconds")
            })?))
        };
        match arg.as_str() {
            "--ready-timeout" => ready_timeout = seconds("--ready-timeout")?,
            "--stop-timeout" => stop_timeout = seconds("--stop-timeout")?,
            "-h" | "--help" => {
                println!(
                    "usage: run_file [--ready-timeout SECONDS] [--stop-timeout SECONDS] PATH\n\
                     PATH: a Dapr run file, or a directory holding dapr.yaml"
                );
                std::process::exit(0);
            }
            _ if arg.starts_with('-') => bail!("unknown option {arg:?} (see --help)"),
            _ if run_file.is_some() => bail!("one run file only, got {arg:?} too"),
            _ => run_file = Some(PathBuf::from(arg)),
        }
    }
    Ok(Args {
        run_file: run_file.unwrap_or_else(|| PathBuf::from(".")),
        ready_timeout,
        stop_timeout,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let file = RunFile::load(&args.run_file)?;
    // Installed before anything starts, so that a Ctrl-C during start-up is not lost.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let options = RunOptions::default()
        .app_ready_timeout(args.ready_timeout)
        .stop_timeout(args.stop_timeout);
    let mut run = tokio::select! {
        run = MultiAppRun::start(&file, options) => run?,
        // Dropping the start kills whatever it had started.
        _ = interrupt.recv() => bail!("interrupted during start-up"),
        _ = terminate.recv() => bail!("terminated during start-up"),
    };

    println!("\nYou're up and running (Ctrl-C stops everything):");
    for app in run.apps() {
        println!(
            "  {}: app port {}, sidecar HTTP {} (DAPR_HTTP_PORT), gRPC {} (DAPR_GRPC_PORT), ready in {:.1}s",
            app.app_id(),
            app.app_port().map_or("none".to_owned(), |port| port.to_string()),
            app.dapr_http_port(),
            app.dapr_grpc_port(),
            app.ready_after().as_secs_f64()
        );
        println!(
            "    logs: {}{}",
            app.app_log_path()
                .map(|path| format!("{}, ", path.display()))
                .unwrap_or_default(),
            app.daprd_log_path().display()
        );
    }
    let reason = tokio::select! {
        _ = interrupt.recv() => "interrupted (SIGINT)".to_owned(),
        _ = terminate.recv() => "terminated (SIGTERM)".to_owned(),
        exited = run.wait_for_exit() => exited?,
    };
    println!("\n{reason}: stopping the apps, then their sidecars");
    let report = run.stop().await?;
    print!("{report}");
    println!("Everything stopped cleanly.");
    Ok(())
}
