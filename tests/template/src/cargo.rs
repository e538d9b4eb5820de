//! Running cargo in rendered services, the way the template matrix and the `daprgen add` tests do:
//! one shared target directory, a timeout per step, logs kept, and digests of what went wrong.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prints a progress line.
pub fn progress(line: std::fmt::Arguments<'_>) {
    // Straight to the process's stderr: libtest captures `eprintln!`, not this.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `1.5s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The duration in seconds that the environment variable `name` holds, else `default` seconds.
pub fn env_duration(name: &str, default: u64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number of seconds"))
        })
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// The shared `CARGO_TARGET_DIR` of the rendered services: `TEMPLATE_MATRIX_TARGET`, or
/// `template-matrix` beside `target_tmpdir` (a test's `CARGO_TARGET_TMPDIR`).
pub fn shared_target(target_tmpdir: &str) -> PathBuf {
    match std::env::var_os("TEMPLATE_MATRIX_TARGET") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(target_tmpdir)
            .parent()
            .expect("CARGO_TARGET_TMPDIR is inside the target directory")
            .join("template-matrix"),
    }
}

/// Where the services are rendered: outside this repository (whose rustfmt.toml rustfmt would
/// otherwise pick up), at a path that stays the same from run to run for a given target directory,
/// so the shared target directory reuses (overwrites) the services' own artifacts instead of
/// piling up a new set on every run.
pub fn work_dir(target: &Path, purpose: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    target.hash(&mut hasher);
    std::env::temp_dir().join(format!("daprgen-{purpose}-{:016x}", hasher.finish()))
}

/// Environment variables the outer `cargo test` sets for this test, which must not leak into the
/// cargo commands run in the rendered service.
pub fn set_by_outer_cargo(name: &str) -> bool {
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

/// How one cargo command ended.
pub struct StepResult {
    /// It succeeded.
    pub ok: bool,
    /// Its exit status, or why it could not run.
    pub summary: String,
    /// How long it took.
    pub duration: Duration,
}

/// Runs `cargo <args>` in `dir`, output (stdout and stderr interleaved) into `log`.
pub fn cargo(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    target: &Path,
    log: &Path,
    timeout: Duration,
) -> StepResult {
    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("CARGO_TARGET_DIR", target)
        // Fresh sources every run: incremental state would only grow the shared directory.
        .env("CARGO_INCREMENTAL", "0")
        // Smaller test binaries, faster links; backtraces keep their line numbers.
        .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
        .env("CARGO_TERM_COLOR", "never")
        .envs(env.iter().copied());
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|n| set_by_outer_cargo(n)) {
            command.env_remove(name);
        }
    }
    let output = match fs::File::create(log).and_then(|f| Ok((f.try_clone()?, f))) {
        Ok(files) => files,
        Err(e) => {
            return StepResult {
                ok: false,
                summary: format!("cannot create {}: {e}", log.display()),
                duration: started.elapsed(),
            };
        }
    };
    command.stdout(output.0).stderr(output.1);
    #[cfg(unix)]
    {
        // Its own process group, so a timeout stops rustc and test binaries too, not only cargo.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return StepResult {
                ok: false,
                summary: format!("cannot start cargo: {e}"),
                duration: started.elapsed(),
            };
        }
    };
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(timeout) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            kill_process_group(pid);
            true
        } else {
            false
        }
    });
    let status = child.wait();
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let duration = started.elapsed();
    match status {
        _ if timed_out => StepResult {
            ok: false,
            summary: format!(
                "killed after the {} timeout (TEMPLATE_MATRIX_STEP_TIMEOUT)",
                seconds(timeout)
            ),
            duration,
        },
        Ok(status) => StepResult {
            ok: status.success(),
            summary: status.to_string(),
            duration,
        },
        Err(e) => StepResult {
            ok: false,
            summary: format!("cannot wait for cargo: {e}"),
            duration,
        },
    }
}

#[cfg(unix)]
fn kill_process_group(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
}

#[cfg(not(unix))]
fn kill_process_group(_pid: u32) {}

/// The last `lines` lines of `log`.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    let all: Vec<&str> = text.lines().collect();
    let skipped = all.len().saturating_sub(lines);
    let mut out = String::new();
    if skipped > 0 {
        let _ = writeln!(out, "    [... {skipped} earlier lines in {}]", log.display());
    }
    for line in &all[skipped..] {
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// The lines of a cargo log that say what went wrong, at most `max`: compiler errors with their
/// location, failed tests and panics, rustfmt's complaints.
pub fn digest(log: &Path, max: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut picked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let telling = line.starts_with("error")
            || line.contains("panicked at")
            || (line.starts_with("test ") && line.ends_with("FAILED"))
            || line.starts_with("Diff in ")
            || line.starts_with("Error writing files");
        if telling {
            picked.push(*line);
            if let Some(next) = lines.get(i + 1).filter(|l| l.trim_start().starts_with("-->")) {
                picked.push(next);
            }
        }
    }
    let mut out = String::new();
    for line in picked.iter().take(max) {
        let _ = writeln!(out, "    | {line}");
    }
    if picked.len() > max {
        let _ = writeln!(out, "    | [... {} more]", picked.len() - max);
    }
    out
}
