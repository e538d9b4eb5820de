//! The command line of `daprgen`: parsing, dispatch, what is printed and the exit code. It writes
//! to the streams it is given, so tests run it in-process and see exactly what a user sees.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::add::engine::{self, Mode, Plan};
use crate::add::service::Service;
use crate::add::templates::Templates;
use crate::add::{component, consumer, entity, saga};
use crate::doctor::{self, DoctorOptions};
use crate::error::is_bad_input;
use crate::output::{self, Palette};
use crate::{example, new};

/// Exit code: done, or nothing to do.
pub const EXIT_DONE: u8 = 0;
/// Exit code: the command failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or bad input (clap's own code for usage errors).
pub const EXIT_BAD_USAGE: u8 = 2;

/// Scaffolds Rust microservices (api / service / biz / data) whose infrastructure is a Dapr sidecar.
#[derive(Debug, Parser)]
#[command(
    name = "daprgen",
    version,
    after_help = "Exit codes: 0 done (or nothing to do), 1 failed, 2 bad usage or bad input.\n\
                  daprgen never prompts; colours only on a terminal, never with NO_COLOR set."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a new service from the embedded template (the same output as `cargo generate --path template`).
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
    /// Adds to a service made by `daprgen new`: code goes into new files and at the anchors
    /// (`// daprgen:anchor NAME`) of existing ones. Running the same command twice changes nothing.
    Add(AddCommand),
    /// Checks this machine for what a generated service needs: the Rust toolchain, the Dapr CLI
    /// and runtime (against the pinned versions), redis, placement and scheduler. Prints each check
    /// with its fix; fails (exit 1) when a required one fails.
    Doctor {
        /// The redis a service's components use.
        #[arg(long, value_name = "HOST:PORT", default_value = doctor::DEFAULT_REDIS)]
        redis: String,
        /// Dapr's placement service (actors, workflows).
        #[arg(long, value_name = "HOST:PORT", default_value = doctor::DEFAULT_PLACEMENT)]
        placement: String,
        /// Dapr's scheduler service (workflows, jobs).
        #[arg(long, value_name = "HOST:PORT", default_value = doctor::DEFAULT_SCHEDULER)]
        scheduler: String,
    },
    /// Makes a complete example system in DIR (which must not exist or be empty) the way a user
    /// would — `daprgen new` for each service, `daprgen add` for what they share — plus a thin
    /// overlay of example business logic. Its README.md lists the commands.
    Example {
        /// Which example.
        #[arg(value_enum)]
        name: example::ExampleName,
        /// The directory to make it in.
        dir: PathBuf,
    },
    /// Lists the templates `daprgen add` renders; a service overrides one by putting a file of the
    /// same name under `.daprgen/templates/`.
    Templates {
        /// The service whose overrides to show (default: the one the current directory is in).
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct AddCommand {
    #[command(flatten)]
    target: AddTarget,
    #[command(subcommand)]
    what: AddWhat,
}

/// Which service to change, and whether to change it.
#[derive(Debug, Args)]
struct AddTarget {
    /// The service's directory (default: the service the current directory is in).
    #[arg(long, global = true)]
    path: Option<PathBuf>,
    /// Print the unified diff of what would change, and write nothing.
    #[arg(long, global = true)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum AddWhat {
    /// A new resource through every layer: proto and gRPC methods, HTTP DTOs and routes, biz
    /// entity, port, use case and errors, Dapr state adapter with ETag, shaku wiring, unit tests
    /// with mocks, an integration test.
    Entity(entity::EntityArgs),
    /// A consumer of an event topic: idempotent handler answering SUCCESS / RETRY / DROP, its
    /// subscription with a dead-letter topic, a unit test.
    Consumer(consumer::ConsumerArgs),
    /// A saga: its definition in biz (compensations in reverse order), a Dapr Workflow adapter
    /// with one activity per action and compensation, and unit tests of every failure point.
    Saga(saga::SagaArgs),
    /// A Dapr component from daprgen's catalogue, copied into components/ and wired into config.
    Component(component::ComponentArgs),
}

/// Runs `daprgen` with `args` (the first one is the program name), printing to `out` and `err`
/// (colours only when `colors` is set). Returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    colors: bool,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = if colors {
                error.render().ansi().to_string()
            } else {
                error.render().to_string()
            };
            let _ = if error.use_stderr() {
                write!(err, "{text}")
            } else {
                write!(out, "{text}")
            };
            return if error.use_stderr() { EXIT_BAD_USAGE } else { EXIT_DONE };
        }
    };
    let palette = Palette::new(colors);
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
        .and_then(|dir| Ok(writeln!(out, "created {}", dir.display())?)),
        Command::Add(add) => run_add(&add.target, out, palette, |service, templates| match &add.what {
            AddWhat::Entity(args) => entity::plan(service, templates, args),
            AddWhat::Consumer(args) => consumer::plan(service, templates, args),
            AddWhat::Saga(args) => saga::plan(service, templates, args),
            AddWhat::Component(args) => component::plan(service, templates, args),
        }),
        Command::Doctor {
            redis,
            placement,
            scheduler,
        } => {
            let report = doctor::run(&DoctorOptions {
                redis,
                placement,
                scheduler,
                ..DoctorOptions::default()
            });
            if let Err(error) = write!(out, "{}", report.render(colors)) {
                let _ = writeln!(err, "daprgen: error: {error}");
                return EXIT_FAILED;
            }
            return if report.passed() { EXIT_DONE } else { EXIT_FAILED };
        }
        Command::Templates { path } => list_templates(path.as_deref(), out),
        Command::Example { name, dir } => example::run(name, &dir, out),
    };
    match outcome {
        Ok(()) => EXIT_DONE,
        Err(error) => {
            let _ = writeln!(err, "daprgen: error: {error:#}");
            if is_bad_input(&error) {
                EXIT_BAD_USAGE
            } else {
                EXIT_FAILED
            }
        }
    }
}

/// Finds the service, plans the change with its templates, and applies or shows it.
fn run_add(
    target: &AddTarget,
    out: &mut dyn Write,
    palette: Palette,
    plan: impl FnOnce(&Service, &Templates) -> anyhow::Result<Plan>,
) -> anyhow::Result<()> {
    let service = locate(target.path.as_deref())?;
    let templates = Templates::load(&service)?;
    let plan = plan(&service, &templates)?;
    let mode = if target.dry_run { Mode::DryRun } else { Mode::Write };
    let outcome = engine::apply(&service, &plan, mode)?;
    write!(
        out,
        "{}",
        output::report(&plan.summary, &outcome, target.dry_run, palette)
    )?;
    Ok(())
}

fn locate(path: Option<&Path>) -> anyhow::Result<Service> {
    match path {
        Some(path) => Service::locate(path),
        None => Service::locate(&std::env::current_dir()?),
    }
}

fn list_templates(path: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let templates = match path {
        Some(path) => Templates::load(&Service::locate(path)?)?,
        None => match Service::locate(&std::env::current_dir()?) {
            Ok(service) => Templates::load(&service)?,
            Err(_) => Templates::builtin()?,
        },
    };
    for name in templates.names() {
        let overridden = if templates.overridden().contains(&name) {
            "  (overridden by the service)"
        } else {
            ""
        };
        writeln!(out, "{name}{overridden}")?;
    }
    Ok(())
}
