//! `daprgen`: scaffolds Kratos-style Rust microservices on a Dapr sidecar.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use daprgen::new;

/// Scaffolds Rust microservices (api / service / biz / data) whose infrastructure is a Dapr sidecar.
///
/// Exit codes: 0 done, 1 failed, 2 bad usage.
#[derive(Debug, Parser)]
#[command(name = "daprgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a new service from the embedded template.
    New {
        /// The service name (a valid crate name: letters, digits, `-` or `_`, not starting with a digit).
        name: String,
        /// A template value, `KEY=VALUE` (resource, transport, state_store, pubsub, with_lock, with_workflow).
        #[arg(long, short, value_name = "KEY=VALUE")]
        define: Vec<String>,
        /// Where to create the service's directory (default: the current directory).
        #[arg(long)]
        destination: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::New {
            name,
            define,
            destination,
        } => new::run(new::NewService {
            name,
            defines: define,
            destination,
        })
        .map(|dir| println!("created {}", dir.display())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("daprgen: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
