//! `daprgen doctor`: is this machine ready to build, test and run a generated service?
//!
//! Each check reports ok, warn or FAIL, and says how to fix what it found. A FAIL is something a
//! generated service cannot do without (a Rust toolchain too old for it, no `daprd`, no redis for
//! the default components); a warning is something only some services or some ways of running
//! them need (the Dapr CLI, placement and scheduler for workflows). The CLI exits 1 when any
//! check fails.
//!
//! Every address and directory a check looks at is a field of [`DoctorOptions`], so tests point
//! the checks at processes they started themselves.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The pin file shared with `make dapr` and the test harness: the one place versions are pinned.
const VERSIONS_ENV: &str = include_str!("../../tools/dapr/versions.env");
/// The template's manifest: its `rust-version` is the oldest toolchain a generated service builds with.
const TEMPLATE_MANIFEST: &str = include_str!("../../template/Cargo.toml");

/// Where `dapr init` and the generated components expect redis.
pub const DEFAULT_REDIS: &str = "localhost:6379";
/// Where daprd looks for placement in self-hosted mode (`dapr init` and `dapr run` use it).
pub const DEFAULT_PLACEMENT: &str = "localhost:50005";
/// Where `dapr init` runs the scheduler and `dapr run` points daprd at it.
pub const DEFAULT_SCHEDULER: &str = "localhost:50006";
/// Long enough for any local service, short enough that a closed port costs little.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The names checks are reported under, in report order.
pub mod check_names {
    pub const RUSTC: &str = "rustc";
    pub const CARGO: &str = "cargo";
    pub const DAPR_CLI: &str = "dapr CLI";
    pub const DAPRD: &str = "daprd";
    pub const CONTROL_PLANE_BINARIES: &str = "control plane";
    pub const REDIS: &str = "redis";
    pub const PLACEMENT: &str = "placement";
    pub const SCHEDULER: &str = "scheduler";
}
use check_names as names;

/// What `daprgen doctor` looks at.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// redis, `host:port`.
    pub redis: String,
    /// The placement service, `host:port`.
    pub placement: String,
    /// The scheduler service, `host:port`.
    pub scheduler: String,
    /// Where the Dapr runtime binaries are: `$DAPR_HOME/bin`, default `~/.dapr/bin`; `None` when
    /// neither `DAPR_HOME` nor `HOME` is set.
    pub dapr_bin_dir: Option<PathBuf>,
    /// The directories `rustc`, `cargo` and `dapr` are looked for in, as `$PATH` lists them.
    pub search_path: Option<OsString>,
    /// How long a connection, or redis's answer to PING, may take.
    pub timeout: Duration,
}

impl Default for DoctorOptions {
    /// The defaults of a self-hosted Dapr install, and this process's `PATH`.
    fn default() -> Self {
        Self {
            redis: DEFAULT_REDIS.to_owned(),
            placement: DEFAULT_PLACEMENT.to_owned(),
            scheduler: DEFAULT_SCHEDULER.to_owned(),
            dapr_bin_dir: default_dapr_bin_dir(),
            search_path: std::env::var_os("PATH"),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// `$DAPR_HOME/bin`, or `~/.dapr/bin`: where `dapr init`, `make dapr` and `dapr run` keep the runtime.
pub fn default_dapr_bin_dir() -> Option<PathBuf> {
    let home = match std::env::var_os("DAPR_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".dapr"),
    };
    Some(home.join("bin"))
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Only some services, or some ways of running them, need this.
    Warn,
    /// A generated service cannot be built, tested or run without this.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }

    /// Green, yellow, bold red.
    fn ansi(self) -> &'static str {
        match self {
            Status::Ok => "\x1b[32m",
            Status::Warn => "\x1b[33m",
            Status::Fail => "\x1b[1;31m",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it; `None` when there is nothing to fix.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Every check, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// No check failed (warnings allowed). The CLI exits 1 otherwise.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The check called `name` (see [`check_names`]).
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as text: one line per check, its fix indented below it, a summary last.
    /// `color` wraps the status labels in ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for check in &self.checks {
            let label = format!("{:<4}", check.status.label());
            let label = if color {
                format!("{}{label}\x1b[0m", check.status.ansi())
            } else {
                label
            };
            let _ = writeln!(out, "{label}  {:<width$}  {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                let indent = 4 + 2 + width + 2;
                let width = FIX_WIDTH.saturating_sub(indent + "fix: ".len());
                for (i, line) in wrap(&format!("fix: {fix}"), width).iter().enumerate() {
                    // Continuation lines line up with the text after `fix: `.
                    let extra = if i == 0 { 0 } else { "fix: ".len() };
                    let _ = writeln!(out, "{:pad$}{line}", "", pad = indent + extra);
                }
            }
        }
        let count = |status| self.checks.iter().filter(|c| c.status == status).count();
        let (failed, warned, ok) = (count(Status::Fail), count(Status::Warn), count(Status::Ok));
        let warnings = plural(warned, "warning", "warnings");
        let _ = if failed == 0 {
            writeln!(out, "\nready: {ok} ok, {warnings}")
        } else {
            let checks = plural(failed, "check", "checks");
            writeln!(out, "\nnot ready: {checks} failed, {warnings}, {ok} ok")
        };
        out
    }
}

/// Where fixes are wrapped: they are sentences, often with a command in them.
const FIX_WIDTH: usize = 110;

/// Splits `text` into lines of at most `width` characters at spaces; a longer word (a URL, a
/// path) gets a line of its own rather than being cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(40);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs every check, concurrently (a closed port costs one timeout, not one per service).
pub fn run(options: &DoctorOptions) -> DoctorReport {
    let search_path = options.search_path.as_deref();
    let bin_dir = options.dapr_bin_dir.as_deref();
    let timeout = options.timeout;
    let checks = std::thread::scope(|scope| {
        [
            scope.spawn(|| check_rust_tool(names::RUSTC, search_path)),
            scope.spawn(|| check_rust_tool(names::CARGO, search_path)),
            scope.spawn(|| check_dapr_cli(search_path, bin_dir)),
            scope.spawn(|| check_daprd(bin_dir)),
            scope.spawn(|| check_control_plane_binaries(bin_dir)),
            scope.spawn(|| check_redis(&options.redis, timeout)),
            scope.spawn(|| check_placement(&options.placement, bin_dir, timeout)),
            scope.spawn(|| check_scheduler(&options.scheduler, bin_dir, timeout)),
        ]
        .into_iter()
        .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        .collect()
    });
    DoctorReport { checks }
}

/// A `major.minor.patch` version; a missing patch is 0, a pre-release or build suffix is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// `1.88`, `1.18.2`, `v1.18.2`, `1.90.0-nightly`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let number = |part: Option<&str>| -> Option<u64> {
            let part = part?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = match parts.next() {
            Some(p) => number(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Version { major, minor, patch })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A `KEY=VALUE` of `tools/dapr/versions.env`.
///
/// # Panics
/// If the pin file lacks the key (a test checks both keys are there).
pub fn pinned(key: &str) -> &'static str {
    pinned_in(VERSIONS_ENV, key).unwrap_or_else(|| panic!("tools/dapr/versions.env defines {key}"))
}

fn pinned_in<'a>(env_file: &'a str, key: &str) -> Option<&'a str> {
    env_file.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// The template's `rust-version`: the oldest Rust a generated service builds with.
///
/// # Panics
/// If `template/Cargo.toml` has no parsable `rust-version` (a test checks it has).
pub fn template_rust_version() -> (&'static str, Version) {
    let text = rust_version_in(TEMPLATE_MANIFEST).expect("template/Cargo.toml sets rust-version");
    let version = Version::parse(text).expect("template/Cargo.toml's rust-version is a version");
    (text, version)
}

/// `rust-version = "…"` of `[workspace.package]` or `[package]`. Read as lines rather than parsed
/// as TOML: the template's manifest is Liquid, not necessarily TOML, before it is rendered.
fn rust_version_in(manifest: &str) -> Option<&str> {
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[workspace.package]" || section == "[package]" {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key.trim() == "rust-version" {
                return Some(value.trim().trim_matches('"'));
            }
        }
    }
    None
}

/// The version in `rustc 1.95.0 (59807616e 2026-04-14)` or `cargo 1.95.0 (f2d3ce0bd 2026-03-21)`.
pub fn parse_tool_version(output: &str, tool: &str) -> Option<Version> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(tool)?.strip_prefix(' ')?;
        Version::parse(rest.split_whitespace().next()?)
    })
}

/// What `daprd --version` prints: the version alone (`1.18.2`). `None` for anything else, such
/// as `edge`, which a daprd built without a version stamp reports.
pub fn parse_daprd_version(output: &str) -> Option<&str> {
    let line = output.lines().map(str::trim).find(|l| !l.is_empty())?;
    Version::parse(line).map(|_| line)
}

/// The CLI's own version in what `dapr --version` prints:
/// `CLI version: 1.18.0 \nRuntime version: 1.18.2`.
pub fn parse_dapr_cli_version(output: &str) -> Option<&str> {
    output.lines().find_map(|line| {
        let version = line.trim().strip_prefix("CLI version:")?.trim();
        Version::parse(version).map(|_| version)
    })
}

/// How far an installed runtime is from the pinned one: the same release is fine, another patch
/// of the same minor works but is not what the project is tested with, another minor is not.
pub fn judge_runtime_version(installed: &str, pinned: &str) -> Status {
    if installed == pinned {
        return Status::Ok;
    }
    match (Version::parse(installed), Version::parse(pinned)) {
        (Some(i), Some(p)) if (i.major, i.minor) == (p.major, p.minor) => Status::Warn,
        _ => Status::Fail,
    }
}

/// The first executable `name` in the directories of `search_path`.
pub fn find_in_path(name: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(search_path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = path.metadata() else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

/// Runs `program --version` (or other `args`); stdout on success, a one-line reason otherwise.
fn output_of(program: &Path, args: &[&str]) -> Result<String, String> {
    let command_line = format!("`{} {}`", program.display(), args.join(" "));
    match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message");
            Err(format!("{command_line} failed ({}): {why}", output.status))
        }
        Err(error) => Err(format!("{command_line} could not run: {error}")),
    }
}

fn check_rust_tool(tool: &'static str, search_path: Option<&OsStr>) -> Check {
    let (minimum_text, minimum) = template_rust_version();
    const INSTALL: &str =
        "install Rust with rustup (https://rustup.rs), then open a new shell so ~/.cargo/bin is on PATH";
    let Some(path) = find_in_path(tool, search_path) else {
        return Check::fail(tool, format!("`{tool}` not found on PATH"), INSTALL);
    };
    let output = match output_of(&path, &["--version"]) {
        Ok(output) => output,
        Err(why) => {
            return Check::fail(
                tool,
                why,
                "`rustup default stable` (a rustup proxy with no default toolchain fails like this), or reinstall Rust",
            );
        }
    };
    let Some(version) = parse_tool_version(&output, tool) else {
        return Check::fail(
            tool,
            format!("{} printed {:?}: no version in it", path.display(), output.trim()),
            INSTALL,
        );
    };
    if version < minimum {
        return Check::fail(
            tool,
            format!("{tool} {version} is older than {minimum_text}, the rust-version of generated services"),
            "`rustup update stable` (and `rustup default stable` if an older toolchain is the default or pinned by a rust-toolchain file)",
        );
    }
    Check::ok(
        tool,
        format!("{tool} {version} (generated services need {minimum_text} or newer)"),
    )
}

fn install_runtime_fix(bin_dir: &Path) -> String {
    let pinned = pinned("DAPR_RUNTIME_VERSION");
    format!(
        "in a daprgen checkout, `make dapr` builds Dapr {pinned} into {}; elsewhere `dapr init --runtime-version {pinned}` \
         (`dapr init --slim --runtime-version {pinned}` without Docker)",
        bin_dir.display()
    )
}

const NO_BIN_DIR: &str = "neither DAPR_HOME nor HOME is set: no Dapr directory to look in";
const NO_BIN_DIR_FIX: &str = "set DAPR_HOME to the directory whose bin/ holds daprd (default ~/.dapr)";

fn check_dapr_cli(search_path: Option<&OsStr>, bin_dir: Option<&Path>) -> Check {
    let pinned = pinned("DAPR_CLI_VERSION");
    let install = format!(
        "optional: tests start daprd directly, `dapr run -f .` needs the CLI. Install CLI {pinned}: in a daprgen checkout \
         `make dapr` builds it when the Go module proxy serves github.com/dapr/cli; otherwise see \
         https://docs.dapr.io/getting-started/install-dapr-cli/ (DAPR_INSTALL_VERSION={pinned})"
    );
    let on_path = find_in_path("dapr", search_path);
    let in_bin_dir = bin_dir.map(|dir| dir.join("dapr")).filter(|p| is_executable(p));
    let Some(path) = on_path.clone().or(in_bin_dir) else {
        let place = match bin_dir {
            Some(dir) => format!("on PATH nor in {}", dir.display()),
            None => "on PATH".to_owned(),
        };
        return Check::warn(names::DAPR_CLI, format!("`dapr` not found {place}"), install);
    };
    let output = match output_of(&path, &["--version"]) {
        Ok(output) => output,
        Err(why) => return Check::warn(names::DAPR_CLI, why, install),
    };
    let Some(version) = parse_dapr_cli_version(&output) else {
        return Check::warn(
            names::DAPR_CLI,
            format!("no `CLI version:` in what `{} --version` printed", path.display()),
            install,
        );
    };
    if version != pinned {
        return Check::warn(
            names::DAPR_CLI,
            format!("CLI {version} at {}, this project pins {pinned}", path.display()),
            install,
        );
    }
    if on_path.is_none() {
        let dir = path.parent().unwrap_or(Path::new("."));
        return Check::warn(
            names::DAPR_CLI,
            format!("CLI {version} in {}, which is not on PATH", dir.display()),
            format!("export PATH=\"{}:$PATH\"", dir.display()),
        );
    }
    Check::ok(names::DAPR_CLI, format!("CLI {version} at {}", path.display()))
}

fn check_daprd(bin_dir: Option<&Path>) -> Check {
    let Some(bin_dir) = bin_dir else {
        return Check::fail(names::DAPRD, NO_BIN_DIR, NO_BIN_DIR_FIX);
    };
    let pinned = pinned("DAPR_RUNTIME_VERSION");
    let daprd = bin_dir.join("daprd");
    if !is_executable(&daprd) {
        return Check::fail(
            names::DAPRD,
            format!("{} is missing (or not executable)", daprd.display()),
            install_runtime_fix(bin_dir),
        );
    }
    let output = match output_of(&daprd, &["--version"]) {
        Ok(output) => output,
        Err(why) => return Check::fail(names::DAPRD, why, install_runtime_fix(bin_dir)),
    };
    let Some(installed) = parse_daprd_version(&output) else {
        return Check::fail(
            names::DAPRD,
            format!(
                "{} reports version {:?}, not a release (a build without a version stamp?)",
                daprd.display(),
                output.trim()
            ),
            install_runtime_fix(bin_dir),
        );
    };
    match judge_runtime_version(installed, pinned) {
        Status::Ok => Check::ok(
            names::DAPRD,
            format!("{installed} at {} (pinned {pinned})", daprd.display()),
        ),
        Status::Warn => Check::warn(
            names::DAPRD,
            format!(
                "{installed} at {}: this project is tested with {pinned} (same minor release, should work)",
                daprd.display()
            ),
            install_runtime_fix(bin_dir),
        ),
        Status::Fail => Check::fail(
            names::DAPRD,
            format!("{installed} at {}, but this project pins {pinned}", daprd.display()),
            install_runtime_fix(bin_dir),
        ),
    }
}

fn check_control_plane_binaries(bin_dir: Option<&Path>) -> Check {
    let name = names::CONTROL_PLANE_BINARIES;
    let Some(bin_dir) = bin_dir else {
        return Check::warn(name, NO_BIN_DIR, NO_BIN_DIR_FIX);
    };
    let missing: Vec<_> = ["placement", "scheduler"]
        .into_iter()
        .filter(|binary| !is_executable(&bin_dir.join(binary)))
        .collect();
    if missing.is_empty() {
        return Check::ok(name, format!("placement and scheduler in {}", bin_dir.display()));
    }
    Check::warn(
        name,
        format!(
            "{} missing from {}: needed to run workflows and actors yourself (tests start them from there)",
            missing.join(" and "),
            bin_dir.display()
        ),
        format!(
            "{} (`dapr init` with Docker runs them in containers instead)",
            install_runtime_fix(bin_dir)
        ),
    )
}

/// Connects to the first address `address` resolves to that accepts, within `timeout` each.
fn connect(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    let resolved: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {address} (HOST:PORT expected): {error}"))?
        .collect();
    let mut last_error = format!("{address} resolves to no address");
    for socket_address in resolved {
        match TcpStream::connect_timeout(&socket_address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                last_error = match error.kind() {
                    std::io::ErrorKind::ConnectionRefused => format!("nothing listens on {address} ({socket_address})"),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                        format!(
                            "no answer from {address} ({socket_address}) within {} ms",
                            timeout.as_millis()
                        )
                    }
                    _ => format!("cannot connect to {address} ({socket_address}): {error}"),
                }
            }
        }
    }
    Err(last_error)
}

/// What redis's answer to PING means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingReply {
    Pong,
    /// redis, asking for a password.
    AuthRequired,
    /// Something that does not talk RESP, or a redis error: the first line of it.
    Other(String),
}

/// Reads the first line of a reply to `PING`.
pub fn judge_ping_reply(reply: &[u8]) -> PingReply {
    let text = String::from_utf8_lossy(reply);
    let line = text.split("\r\n").next().unwrap_or_default();
    if line == "+PONG" {
        PingReply::Pong
    } else if line.starts_with("-NOAUTH") || line.starts_with("-WRONGPASS") {
        PingReply::AuthRequired
    } else {
        PingReply::Other(line.chars().take(80).collect())
    }
}

fn ping(address: &str, timeout: Duration) -> Result<PingReply, String> {
    let mut stream = connect(address, timeout)?;
    let io_error = |error: std::io::Error| format!("{address} accepted a connection but {error}");
    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").map_err(io_error)?;
    let mut reply = Vec::new();
    let mut buffer = [0u8; 128];
    // A reply line is short: read until its end, a closed connection or the timeout.
    while !reply.windows(2).any(|w| w == b"\r\n") && reply.len() < 512 {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "{address} accepted a connection but did not answer PING within {} ms: is it redis?",
                    timeout.as_millis()
                ));
            }
            Err(error) => return Err(io_error(error)),
        }
    }
    Ok(judge_ping_reply(&reply))
}

fn check_redis(address: &str, timeout: Duration) -> Check {
    let fix = "start redis: `redis-server --daemonize yes` (Debian's redis-server package, which `make dapr` installs), \
               or `dapr init` (Docker); or point doctor at yours with --redis HOST:PORT. Services created with \
               state_store=sqlite, pubsub=in-memory and with_lock=false do not use redis";
    match ping(address, timeout) {
        Ok(PingReply::Pong) => Check::ok(names::REDIS, format!("{address} answers PING")),
        Ok(PingReply::AuthRequired) => Check::warn(
            names::REDIS,
            format!("{address} is redis but wants a password"),
            "set redisPassword in the service's redis components (components/*.yaml), or use a redis without auth locally",
        ),
        Ok(PingReply::Other(line)) => Check::fail(
            names::REDIS,
            format!("{address} answered PING with {line:?}: not a usable redis"),
            fix,
        ),
        Err(why) => Check::fail(names::REDIS, why, fix),
    }
}

fn check_reachable(name: &'static str, address: &str, timeout: Duration, needed_for: &str, fix: String) -> Check {
    match connect(address, timeout) {
        Ok(_) => Check::ok(name, format!("{address} accepts connections")),
        Err(why) => Check::warn(name, format!("{why}; needed for {needed_for}"), fix),
    }
}

fn check_placement(address: &str, bin_dir: Option<&Path>, timeout: Duration) -> Check {
    let binary = bin_dir.map_or_else(|| PathBuf::from("placement"), |dir| dir.join("placement"));
    let fix = format!(
        "start it: `{}` (port 50005; its healthz and metrics ports default to 8080 and 9090, move them with \
         --healthz-port and --metrics-port), or `dapr init`; or point doctor at yours with --placement HOST:PORT",
        binary.display()
    );
    check_reachable(names::PLACEMENT, address, timeout, "workflows and actors", fix)
}

fn check_scheduler(address: &str, bin_dir: Option<&Path>, timeout: Duration) -> Check {
    let binary = bin_dir.map_or_else(|| PathBuf::from("scheduler"), |dir| dir.join("scheduler"));
    let fix = format!(
        "start it: `{} --etcd-data-dir ~/.dapr/scheduler` (port 50006; healthz 8080, metrics 9090 and etcd 2379/2380 \
         by default), or `dapr init`; or point doctor at yours with --scheduler HOST:PORT",
        binary.display()
    );
    check_reachable(
        names::SCHEDULER,
        address,
        timeout,
        "workflows, jobs and actor reminders",
        fix,
    )
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Instant;

    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text:?} parses"))
    }

    #[test]
    fn versions_parse_with_or_without_patch_prefix_and_suffix() {
        assert_eq!(
            v("1.88"),
            Version {
                major: 1,
                minor: 88,
                patch: 0
            }
        );
        assert_eq!(v("1.18.2"), v("v1.18.2"));
        assert_eq!(v(" 1.90.0-nightly "), v("1.90.0"));
        assert_eq!(v("1.18.0-rc.1+build"), v("1.18.0"));
        for bad in ["", "1", "1.", "1.x", "edge", "1.2.3.4", "1..2", "a1.2", "-1.2"] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(v("1.88") <= v("1.88.0"));
        assert!(v("1.87.9") < v("1.88"));
        assert!(v("1.100.0") > v("1.99.9"));
        assert!(v("2.0") > v("1.999.999"));
    }

    #[test]
    fn rustc_and_cargo_versions_are_read_from_their_output() {
        assert_eq!(
            parse_tool_version("rustc 1.95.0 (59807616e 2026-04-14)\n", "rustc"),
            Some(v("1.95.0"))
        );
        assert_eq!(
            parse_tool_version("cargo 1.95.0 (f2d3ce0bd 2026-03-21)", "cargo"),
            Some(v("1.95.0"))
        );
        assert_eq!(
            parse_tool_version("rustc 1.91.0-nightly (abcdef012 2025-08-01)", "rustc"),
            Some(v("1.91.0"))
        );
        assert_eq!(parse_tool_version("rustc-wrapper 1.2.3", "rustc"), None);
        assert_eq!(parse_tool_version("cargo 1.95.0", "rustc"), None);
    }

    #[test]
    fn daprd_version_is_its_first_line_when_it_is_a_version() {
        assert_eq!(parse_daprd_version("1.18.2\n"), Some("1.18.2"));
        assert_eq!(parse_daprd_version("\n 1.18.0-rc.2 \n"), Some("1.18.0-rc.2"));
        assert_eq!(parse_daprd_version("edge\n"), None);
        assert_eq!(parse_daprd_version(""), None);
        assert_eq!(parse_daprd_version("unknown flag: --version"), None);
    }

    #[test]
    fn dapr_cli_version_is_read_from_its_line() {
        let output = "CLI version: 1.18.0 \nRuntime version: 1.18.2\n";
        assert_eq!(parse_dapr_cli_version(output), Some("1.18.0"));
        assert_eq!(parse_dapr_cli_version("CLI version: edge\nRuntime version: n/a"), None);
        assert_eq!(parse_dapr_cli_version("Runtime version: 1.18.2"), None);
    }

    #[test]
    fn runtime_versions_are_judged_against_the_pin() {
        assert_eq!(judge_runtime_version("1.18.2", "1.18.2"), Status::Ok);
        assert_eq!(judge_runtime_version("1.18.3", "1.18.2"), Status::Warn);
        assert_eq!(judge_runtime_version("1.18.2-rc.1", "1.18.2"), Status::Warn);
        assert_eq!(judge_runtime_version("1.17.9", "1.18.2"), Status::Fail);
        assert_eq!(judge_runtime_version("2.18.2", "1.18.2"), Status::Fail);
        assert_eq!(judge_runtime_version("edge", "1.18.2"), Status::Fail);
    }

    #[test]
    fn pins_come_from_the_versions_file() {
        let file = "# comment\nDAPR_RUNTIME_VERSION=1.18.2\n  DAPR_CLI_VERSION = \"1.18.0\" \n";
        assert_eq!(pinned_in(file, "DAPR_RUNTIME_VERSION"), Some("1.18.2"));
        assert_eq!(pinned_in(file, "DAPR_CLI_VERSION"), Some("1.18.0"));
        assert_eq!(pinned_in(file, "DAPR"), None);
        // The real file: both pins are there and are versions.
        for key in ["DAPR_RUNTIME_VERSION", "DAPR_CLI_VERSION"] {
            assert!(Version::parse(pinned(key)).is_some(), "{key} = {:?}", pinned(key));
        }
    }

    #[test]
    fn the_minimum_rust_is_the_template_rust_version() {
        let manifest =
            "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2024\"\nrust-version = \"1.88\"\n";
        assert_eq!(rust_version_in(manifest), Some("1.88"));
        assert_eq!(
            rust_version_in("[package]\nrust-version = \"1.80.1\"\n"),
            Some("1.80.1")
        );
        assert_eq!(rust_version_in("[dependencies]\nrust-version = \"1\"\n"), None);
        let (text, version) = template_rust_version();
        assert_eq!(Version::parse(text), Some(version));
        assert!(
            version >= v("1.85"),
            "edition 2024 needs 1.85; the template says {text}"
        );
    }

    #[test]
    fn ping_replies_are_told_apart() {
        assert_eq!(judge_ping_reply(b"+PONG\r\n"), PingReply::Pong);
        assert_eq!(
            judge_ping_reply(b"-NOAUTH Authentication required.\r\n"),
            PingReply::AuthRequired
        );
        assert_eq!(
            judge_ping_reply(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
            PingReply::Other("HTTP/1.1 400 Bad Request".into())
        );
        assert_eq!(judge_ping_reply(b""), PingReply::Other(String::new()));
    }

    fn sample_report() -> DoctorReport {
        DoctorReport {
            checks: vec![
                Check::ok("rustc", "rustc 1.95.0"),
                Check::warn("dapr CLI", "`dapr` not found", "install it"),
                Check::fail("redis", "nothing on localhost:6379", "start redis"),
            ],
        }
    }

    #[test]
    fn a_report_renders_one_line_per_check_with_its_fix() {
        let expected = "\
ok    rustc     rustc 1.95.0
warn  dapr CLI  `dapr` not found
                fix: install it
FAIL  redis     nothing on localhost:6379
                fix: start redis

not ready: 1 check failed, 1 warning, 1 ok
";
        assert_eq!(sample_report().render(false), expected);
    }

    #[test]
    fn a_report_without_failures_says_ready() {
        let mut report = sample_report();
        report.checks.pop();
        assert!(report.passed());
        assert!(report.render(false).ends_with("\nready: 1 ok, 1 warning\n"));
        report.checks.remove(1);
        assert!(report.render(false).ends_with("\nready: 1 ok, 0 warnings\n"));
        assert!(!sample_report().passed());
    }

    #[test]
    fn long_fixes_are_wrapped_under_their_check() {
        let fix = format!("{} https://example.com/{}", "word ".repeat(40).trim(), "x".repeat(150));
        let report = DoctorReport {
            checks: vec![Check::fail("redis", "down", fix.clone())],
        };
        let text = report.render(false);
        let lines: Vec<&str> = text.lines().collect();
        // Under the detail: past the label (4), the name column ("redis") and two gaps of two.
        assert!(
            lines[1].starts_with(&format!("{}fix: word word", " ".repeat(13))),
            "{text}"
        );
        assert!(lines[2].starts_with(&format!("{}word", " ".repeat(18))), "{text}");
        let url = lines.iter().find(|l| l.contains("https://")).unwrap();
        assert_eq!(
            url.trim(),
            format!("https://example.com/{}", "x".repeat(150)),
            "long words are kept whole"
        );
        for line in &lines[1..lines.len() - 2] {
            assert!(
                line.len() <= FIX_WIDTH || line.contains("https://"),
                "{line:?} is too long"
            );
        }
        let rejoined: Vec<&str> = lines[1..].iter().flat_map(|l| l.split_whitespace()).collect();
        let full = format!("fix: {fix}");
        let words: Vec<&str> = full.split_whitespace().collect();
        assert_eq!(&rejoined[..words.len()], &words[..], "no word lost");
    }

    #[test]
    fn colour_wraps_the_labels_only() {
        let colored = sample_report().render(true);
        assert!(colored.contains("\x1b[32mok  \x1b[0m  rustc"), "{colored}");
        assert!(colored.contains("\x1b[33mwarn\x1b[0m  dapr CLI"), "{colored}");
        assert!(colored.contains("\x1b[1;31mFAIL\x1b[0m  redis"), "{colored}");
        let plain = sample_report().render(false);
        assert!(!plain.contains('\x1b'), "{plain}");
        let stripped = colored
            .replace("\x1b[32m", "")
            .replace("\x1b[33m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn executables_are_found_in_the_search_path_in_order() {
        use std::os::unix::fs::PermissionsExt;
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let write = |dir: &Path, mode: u32| {
            let path = dir.join("tool");
            std::fs::write(&path, "").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        write(first.path(), 0o644);
        let executable = write(second.path(), 0o755);
        let path = std::env::join_paths([first.path(), second.path()]).unwrap();
        assert_eq!(find_in_path("tool", Some(&path)), Some(executable.clone()));
        assert_eq!(find_in_path("other", Some(&path)), None);
        assert_eq!(find_in_path("tool", None), None);
        let reversed = std::env::join_paths([second.path(), first.path()]).unwrap();
        assert_eq!(find_in_path("tool", Some(&reversed)), Some(executable));
    }

    #[test]
    fn a_listener_that_never_answers_ping_fails_within_the_timeout() {
        // Accepted by the kernel's backlog, never read: a port held by something that is not redis.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let started = Instant::now();
        let check = check_redis(&address, Duration::from_millis(200));
        let elapsed = started.elapsed();
        assert_eq!(check.status, Status::Fail, "{check:?}");
        assert!(check.detail.contains("did not answer PING within 200 ms"), "{check:?}");
        assert!(
            check.fix.as_deref().unwrap_or_default().contains("redis-server"),
            "{check:?}"
        );
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
        drop(listener);
    }

    #[test]
    fn an_address_without_a_port_says_what_is_expected() {
        let check = check_redis("localhost", Duration::from_millis(200));
        assert_eq!(check.status, Status::Fail);
        assert!(
            check
                .detail
                .starts_with("cannot resolve localhost (HOST:PORT expected)"),
            "{check:?}"
        );
    }

    #[test]
    fn without_a_dapr_directory_the_runtime_checks_say_what_to_set() {
        let daprd = check_daprd(None);
        assert_eq!(daprd.status, Status::Fail);
        assert!(daprd.fix.as_deref().unwrap_or_default().contains("DAPR_HOME"));
        assert_eq!(check_control_plane_binaries(None).status, Status::Warn);
    }
}
