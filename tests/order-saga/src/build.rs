//! Builds the three services of the example into one shared target directory.
//!
//! Each service is a cargo workspace of its own whose path crates have the same names (`api`,
//! `biz`, `data`, `service`) and the same paths relative to their workspace. Cargo tells path
//! packages apart by that relative path, so in a shared target directory the second service would
//! reuse the first one's artifacts of those crates. Hence the builds run one after the other, each
//! after `cargo clean -p` of those four crates, and each service's binary is copied out before the
//! next build. The registry dependencies are the same for all three, so only the first build of a
//! fresh target directory is slow. A service whose sources have not changed since its last build
//! is not built again: its binary is kept, by a hash of its sources, beside the target directory.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::progress;
use crate::settings::Settings;

/// The services of the example: directory, app id and binary name alike.
pub const SERVICES: [&str; 3] = ["order", "inventory", "payment"];

/// The path crates every generated service has, named alike in all three.
const SHARED_CRATE_NAMES: [&str; 4] = ["api", "biz", "data", "service"];

/// How often a long build says it is still going.
const BUILD_PROGRESS_INTERVAL: Duration = Duration::from_secs(30);

/// The three binaries, copied out of the target directory into a directory of their own, which
/// is deleted when this is dropped.
#[derive(Debug)]
pub struct Binaries {
    _dir: TempDir,
    paths: BTreeMap<String, PathBuf>,
}

impl Binaries {
    /// The binary of service `name`, if it was built.
    pub fn path(&self, name: &str) -> Option<&Path> {
        self.paths.get(name).map(PathBuf::as_path)
    }
}

/// Builds the three services (release), one after the other, and returns their binaries.
pub async fn build(settings: &Settings) -> anyhow::Result<Binaries> {
    std::fs::create_dir_all(&settings.target_dir)
        .with_context(|| format!("creating {}", settings.target_dir.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("order-saga-bin-")
        .tempdir_in(&settings.target_dir)?;
    let mut paths = BTreeMap::new();
    let started = Instant::now();
    for name in SERVICES {
        let service_dir = settings.example_dir.join(name);
        let step = Instant::now();
        let copy = dir.path().join(name);
        let cached = settings
            .target_dir
            .join("order-saga-bin-cache")
            .join(format!("{name}-{:016x}", fingerprint(&service_dir)?));
        if cached.is_file() {
            std::fs::copy(&cached, &copy).with_context(|| format!("copying {}", cached.display()))?;
            progress(format_args!(
                "{name}: sources unchanged since the last build, using {}",
                cached.display()
            ));
            paths.insert(name.to_owned(), copy);
            continue;
        }
        progress(format_args!("building {name} ({}) ...", service_dir.display()));
        let log = settings.target_dir.join(format!("order-saga-build-{name}.log"));
        let mut clean = cargo(&service_dir, settings, &log)?;
        clean.args(["clean", "--release"]);
        for package in SHARED_CRATE_NAMES {
            clean.args(["-p", package]);
        }
        run(clean, &log, &format!("cargo clean of {name}'s own crates")).await?;
        let mut compile = cargo(&service_dir, settings, &log)?;
        compile.args(["build", "--release"]);
        run(compile, &log, &format!("cargo build of {name}")).await?;
        let built = settings.target_dir.join("release").join(name);
        std::fs::copy(&built, &copy).with_context(|| format!("copying {} out", built.display()))?;
        remember(&copy, &cached)?;
        paths.insert(name.to_owned(), copy);
        progress(format_args!(
            "building {name} ... done in {:.0}s",
            step.elapsed().as_secs_f64()
        ));
    }
    progress(format_args!(
        "built all three in {:.0}s; binaries in {}",
        started.elapsed().as_secs_f64(),
        dir.path().display()
    ));
    Ok(Binaries { _dir: dir, paths })
}

/// A hash of every source file of the service in `dir` (paths and contents; build output, logs
/// and lock files left out), so that an unchanged service is not built again.
fn fingerprint(dir: &Path) -> anyhow::Result<u64> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if ["target", ".dapr", ".git", "Cargo.lock"].contains(&name.as_ref()) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.strip_prefix(dir).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file)
            .with_context(|| format!("reading {}", file.display()))?
            .hash(&mut hasher);
    }
    Ok(hasher.finish())
}

/// Keeps a copy of `binary` at `cached`, replacing the older copies of the same service.
fn remember(binary: &Path, cached: &Path) -> anyhow::Result<()> {
    let cache = cached.parent().context("the cache has a directory")?;
    std::fs::create_dir_all(cache)?;
    let service = binary.file_name().unwrap_or_default().to_string_lossy().into_owned();
    for entry in std::fs::read_dir(cache)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(&format!("{service}-")))
        {
            std::fs::remove_file(&path)?;
        }
    }
    // Copied under another name, then renamed: a run that stops half-way leaves no broken binary.
    let partial = cached.with_extension("partial");
    std::fs::copy(binary, &partial)?;
    std::fs::rename(&partial, cached)?;
    Ok(())
}

/// A cargo command in `service_dir`, building into the shared target directory, its output
/// appended to `log`. The variables an outer `cargo run` or `cargo test` sets for this process
/// are removed: they describe this crate, not the service.
fn cargo(service_dir: &Path, settings: &Settings, log: &Path) -> anyhow::Result<tokio::process::Command> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut command = tokio::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|name| set_by_outer_cargo(name)) {
            command.env_remove(name);
        }
    }
    command
        .current_dir(service_dir)
        .env("CARGO_TARGET_DIR", &settings.target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        // Ctrl-C or an error elsewhere drops the build: it must not go on alone.
        .kill_on_drop(true);
    Ok(command)
}

/// Variables cargo sets for the crate it runs or tests.
fn set_by_outer_cargo(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

/// Runs `command`, saying every [`BUILD_PROGRESS_INTERVAL`] what cargo is at; fails with the end
/// of `log` when it fails.
async fn run(mut command: tokio::process::Command, log: &Path, what: &str) -> anyhow::Result<()> {
    let mut child = command.spawn().with_context(|| format!("starting {what}"))?;
    let started = Instant::now();
    loop {
        match tokio::time::timeout(BUILD_PROGRESS_INTERVAL, child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!(
                        "{what} failed ({status}); end of its log ({}):\n{}",
                        log.display(),
                        tail(log, 30)
                    );
                }
                return Ok(());
            }
            Err(_) => progress(format_args!(
                "  {what}: {:.0}s so far, at: {}",
                started.elapsed().as_secs_f64(),
                tail(log, 1).trim()
            )),
        }
    }
}

/// The last `lines` lines of `log`.
fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
