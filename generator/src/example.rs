//! `daprgen example NAME DIR`: a complete example system, made the way a user would make it —
//! `daprgen new` for each service, `daprgen add` for what they share — plus a thin overlay of
//! example business logic that no command could guess (`generator/overlays/NAME/`).
//!
//! The overlay goes in through the same engine as `daprgen add`: new files, and blocks inserted
//! right before the services' `daprgen:anchor` lines. So the example stays a generated service a
//! user can go on extending with `daprgen add`, and a test regenerates the committed copy
//! (`examples/`) and fails on any difference.

mod order_saga;
mod overlay;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::bail_input;
use crate::cli;

/// The examples `daprgen example` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExampleName {
    /// Order fulfilment across order, inventory and payment: a saga on Dapr Workflow whose
    /// completed steps are compensated in reverse order when a later one fails.
    OrderSaga,
}

/// One step of making an example, printed as it runs.
enum Step {
    /// `daprgen ARGS...`, run in-process exactly as on the command line.
    Command(Vec<String>),
    /// The overlay `overlay` (a directory of `generator/overlays/<example>/`) applied to the
    /// service `service`, rendered with `values`.
    Overlay {
        service: &'static str,
        overlay: &'static str,
        values: Vec<(&'static str, &'static str)>,
    },
    /// A file of the example's root directory, from the overlay's `root/` directory.
    RootFile(&'static str),
}

/// Makes example `name` in `dir`, which must not exist or be empty. On failure, removes what it
/// made, so a bad run leaves nothing behind.
pub fn run(name: ExampleName, dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let existed = dir.exists();
    if existed {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail_input!(
                "{} is not empty: give a new directory, e.g. {}",
                dir.display(),
                dir.join("order-saga").display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = make(name, dir, out);
    if result.is_err() {
        // Best effort: the error being reported matters more than one about cleaning up.
        if existed {
            clear(dir);
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn make(name: ExampleName, dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let (slug, steps) = match name {
        ExampleName::OrderSaga => ("order-saga", order_saga::steps()),
    };
    let total = steps.len();
    for (number, step) in steps.into_iter().enumerate() {
        let started = Instant::now();
        let what = match &step {
            Step::Command(args) => format!("daprgen {}", args.join(" ").replace("{dir}", &dir.to_string_lossy())),
            Step::Overlay { service, overlay, .. } => format!("overlay {overlay} -> {service}"),
            Step::RootFile(file) => format!("write {file}"),
        };
        write!(out, "[{}/{total}] {what} ... ", number + 1)?;
        out.flush()?;
        match step {
            Step::Command(args) => command(dir, &args)?,
            Step::Overlay {
                service,
                overlay,
                values,
            } => overlay::apply(slug, overlay, &dir.join(service), &values)?,
            Step::RootFile(file) => overlay::write_root_file(slug, file, dir)?,
        }
        writeln!(out, "done in {:.1} s", started.elapsed().as_secs_f64())?;
    }
    writeln!(out, "example {slug} is in {}", dir.display())?;
    Ok(())
}

/// Runs `daprgen ARGS...` in-process; `{dir}` in an argument stands for the example's directory.
fn command(dir: &Path, args: &[String]) -> anyhow::Result<()> {
    let dir = dir.to_string_lossy();
    let argv: Vec<String> = std::iter::once("daprgen".to_owned())
        .chain(args.iter().map(|arg| arg.replace("{dir}", &dir)))
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(argv, &mut out, &mut err, false);
    if code != cli::EXIT_DONE {
        anyhow::bail!(
            "`daprgen {}` failed (exit {code}): {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        );
    }
    Ok(())
}

/// Removes everything inside `dir`, leaving `dir` itself (it was there, empty, before).
fn clear(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}
