//! A stand-in for `dapr run -f`: runs the apps of a Dapr multi-app run file (`dapr.yaml`) next to
//! real sidecars, the way the Dapr CLI 1.18 does, for machines where the CLI cannot be installed.
//!
//! It is not the CLI. It reads the keys listed in [`SUPPORTED_KEYS`] with the CLI's semantics
//! (paths relative to the file or to `appDirPath`, the CLI's precedence rules for resources and
//! configuration, the environment the CLI gives apps, the daprd flags it passes) and refuses every
//! other key by name, where the CLI would silently ignore a misspelt one. What differs from the
//! CLI is listed in `docs/HARNESS.md` ("dapr.yaml without the Dapr CLI").
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use dapr_harness::{MultiAppRun, RunFile, RunOptions};
//!
//! let file = RunFile::load("path/to/service".as_ref())?; // a directory holding dapr.yaml, or the file
//! let run = MultiAppRun::start(&file, RunOptions::default()).await?;
//! for app in run.apps() {
//!     println!("{}: sidecar HTTP {}", app.app_id(), app.dapr_http_port());
//! }
//! let report = run.stop().await?; // fails unless every app and sidecar exited with status 0
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::control_plane::{Placement, Scheduler};
use crate::daprd::{API_TOKEN_HEADER, Daprd};
use crate::http_probe::{answers_2xx, probe_client};
use crate::process::{ManagedProcess, PROBE_INTERVAL, log_tail_of};
use crate::redis::{Redis, answers_ping};
use crate::runtime::{DaprRuntime, dapr_home};

/// The file `dapr run -f DIR` looks for in `DIR`.
pub const RUN_FILE_NAME: &str = "dapr.yaml";

/// Where `dapr init` puts redis, and where the components of a generated service expect it.
pub const LOCAL_REDIS_PORT: u16 = 6379;
/// `dapr init`'s placement: gRPC port and health port.
pub const LOCAL_PLACEMENT_PORTS: (u16, u16) = (50005, 58080);
/// `dapr init`'s scheduler: gRPC port and health port.
pub const LOCAL_SCHEDULER_PORTS: (u16, u16) = (50006, 58081);

/// Every key this runner reads, by section. Any other key is an error naming it.
pub const SUPPORTED_KEYS: &[(&str, &[&str])] = &[
    ("top level", &["version", "name", "common", "apps"]),
    ("common and apps[]", SHARED_KEYS),
    (
        "apps[] only",
        &[
            "appID",
            "appDirPath",
            "appPort",
            "command",
            "daprHTTPPort",
            "daprGRPCPort",
        ],
    ),
];

const SHARED_KEYS: &[&str] = &[
    "resourcesPath",
    "resourcesPaths",
    "configFilePath",
    "appProtocol",
    "env",
    "appLogDestination",
    "daprdLogDestination",
    "enableAppHealthCheck",
    "appHealthCheckPath",
    "appHealthProbeInterval",
    "appHealthProbeTimeout",
    "appHealthThreshold",
    "logLevel",
    "enableApiLogging",
    "appMaxConcurrency",
    "maxBodySize",
    "readBufferSize",
    "placementHostAddress",
    "schedulerHostAddress",
];

/// Keys the Dapr CLI 1.18 knows and this runner does not support, with the reason.
const CLI_KEYS_NOT_SUPPORTED: &[(&str, &str)] = &[
    ("unixDomainSocket", "the sidecar listens on loopback TCP ports only"),
    (
        "daprInternalGRPCPort",
        "the internal gRPC port is always a free loopback port",
    ),
    (
        "metricsPort",
        "metrics are off (daprd --enable-metrics=false), so no DAPR_METRICS_PORT either",
    ),
    ("enableProfiling", "profiling is not offered"),
    ("profilePort", "profiling is not offered"),
    ("apiListenAddresses", "the sidecar's APIs listen on 127.0.0.1 only"),
    ("appChannelAddress", "the sidecar always reaches the app at 127.0.0.1"),
    ("appSSL", "deprecated in the CLI; use appProtocol: https or grpcs"),
    (
        "runtimePath",
        "the runtime is always the pinned one in $DAPR_HOME/bin (default ~/.dapr/bin)",
    ),
    ("containerImage", "Kubernetes (`dapr run -k -f`) only"),
    ("containerImagePullPolicy", "Kubernetes (`dapr run -k -f`) only"),
    ("createService", "Kubernetes (`dapr run -k -f`) only"),
];

/// Where a process's output goes (`appLogDestination`, `daprdLogDestination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LogDestination {
    /// The terminal only (this runner also keeps a file, for failure reports).
    #[serde(rename = "console")]
    Console,
    /// `<appDirPath>/.dapr/logs/<appID>_<app|daprd>_<timestamp>.log`.
    #[serde(rename = "file")]
    File,
    /// Both.
    #[serde(rename = "fileAndConsole")]
    FileAndConsole,
}

impl LogDestination {
    fn shows_on_console(self) -> bool {
        self != LogDestination::File
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written.

/// One scalar of an `env:` map; YAML `true` or `3` are taken as the text `"true"`, `"3"`, as the
/// CLI (Go's yaml.v2 decoding into strings) takes them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum EnvValue {
    Text(String),
    Bool(bool),
    Integer(i64),
    Float(f64),
}

impl fmt::Display for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvValue::Text(text) => f.write_str(text),
            EnvValue::Bool(value) => write!(f, "{value}"),
            EnvValue::Integer(value) => write!(f, "{value}"),
            EnvValue::Float(value) => write!(f, "{value}"),
        }
    }
}

/// Declares a section of the run file: the keys `common` and every app share (see [`Shared`]),
/// plus the section's own.
macro_rules! run_file_section {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            #[serde(rename = "resourcesPath")]
            resources_path: Option<String>,
            #[serde(rename = "resourcesPaths")]
            resources_paths: Option<Vec<String>>,
            #[serde(rename = "configFilePath")]
            config_file_path: Option<String>,
            #[serde(rename = "appProtocol")]
            app_protocol: Option<String>,
            #[serde(rename = "env")]
            env: Option<BTreeMap<String, Option<EnvValue>>>,
            #[serde(rename = "appLogDestination")]
            app_log_destination: Option<LogDestination>,
            #[serde(rename = "daprdLogDestination")]
            daprd_log_destination: Option<LogDestination>,
            #[serde(rename = "enableAppHealthCheck")]
            enable_app_health_check: Option<bool>,
            #[serde(rename = "appHealthCheckPath")]
            app_health_check_path: Option<String>,
            #[serde(rename = "appHealthProbeInterval")]
            app_health_probe_interval: Option<u32>,
            #[serde(rename = "appHealthProbeTimeout")]
            app_health_probe_timeout: Option<u32>,
            #[serde(rename = "appHealthThreshold")]
            app_health_threshold: Option<u32>,
            #[serde(rename = "logLevel")]
            log_level: Option<String>,
            #[serde(rename = "enableApiLogging")]
            enable_api_logging: Option<bool>,
            #[serde(rename = "appMaxConcurrency")]
            app_max_concurrency: Option<i64>,
            #[serde(rename = "maxBodySize")]
            max_body_size: Option<String>,
            #[serde(rename = "readBufferSize")]
            read_buffer_size: Option<String>,
            #[serde(rename = "placementHostAddress")]
            placement_host_address: Option<String>,
            #[serde(rename = "schedulerHostAddress")]
            scheduler_host_address: Option<String>,
            $($(#[$field_meta])* $field: $ty,)*
        }

        impl $name {
            /// The keys every section has, except the paths (which resolve differently).
            fn shared(&self) -> Shared {
                Shared {
                    app_protocol: self.app_protocol.clone(),
                    app_log_destination: self.app_log_destination,
                    daprd_log_destination: self.daprd_log_destination,
                    enable_app_health_check: self.enable_app_health_check,
                    app_health_check_path: self.app_health_check_path.clone(),
                    app_health_probe_interval: self.app_health_probe_interval,
                    app_health_probe_timeout: self.app_health_probe_timeout,
                    app_health_threshold: self.app_health_threshold,
                    log_level: self.log_level.clone(),
                    enable_api_logging: self.enable_api_logging,
                    app_max_concurrency: self.app_max_concurrency,
                    max_body_size: self.max_body_size.clone(),
                    read_buffer_size: self.read_buffer_size.clone(),
                    placement_host_address: self.placement_host_address.clone(),
                    scheduler_host_address: self.scheduler_host_address.clone(),
                }
            }

            /// `env`, values as text (a key with no value is the empty string, as in Go).
            fn env_text(&self) -> BTreeMap<String, String> {
                self.env
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.clone(), value.as_ref().map(ToString::to_string).unwrap_or_default()))
                    .collect()
            }
        }
    };
}

run_file_section! {
    /// `common:`, shared by every app.
    struct RawCommon {}
}

run_file_section! {
    /// One entry of `apps:`.
    struct RawApp {
        #[serde(rename = "appID")]
        app_id: Option<String>,
        #[serde(rename = "appDirPath")]
        app_dir_path: Option<String>,
        #[serde(rename = "appPort")]
        app_port: Option<u16>,
        #[serde(rename = "command")]
        command: Option<Vec<String>>,
        #[serde(rename = "daprHTTPPort")]
        dapr_http_port: Option<u16>,
        #[serde(rename = "daprGRPCPort")]
        dapr_grpc_port: Option<u16>,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunFile {
    version: u32,
    name: Option<String>,
    #[serde(default)]
    common: RawCommon,
    #[serde(default)]
    apps: Vec<RawApp>,
}

/// The shared keys of one section.
#[derive(Debug, Clone, Default)]
struct Shared {
    app_protocol: Option<String>,
    app_log_destination: Option<LogDestination>,
    daprd_log_destination: Option<LogDestination>,
    enable_app_health_check: Option<bool>,
    app_health_check_path: Option<String>,
    app_health_probe_interval: Option<u32>,
    app_health_probe_timeout: Option<u32>,
    app_health_threshold: Option<u32>,
    log_level: Option<String>,
    enable_api_logging: Option<bool>,
    app_max_concurrency: Option<i64>,
    max_body_size: Option<String>,
    read_buffer_size: Option<String>,
    placement_host_address: Option<String>,
    scheduler_host_address: Option<String>,
}

impl Shared {
    /// The CLI's merge: every key the app leaves at its zero value (absent, `""`, `0`, `false`)
    /// takes `common`'s value. So `common: {enableAppHealthCheck: true}` cannot be switched off
    /// per app, exactly as with the CLI. The addresses are the exception: an empty string there
    /// means "disabled", so only an absent one takes `common`'s.
    fn merge(app: Shared, common: &Shared) -> Shared {
        fn text(app: Option<String>, common: &Option<String>) -> Option<String> {
            app.filter(|value| !value.is_empty()).or_else(|| common.clone())
        }
        fn flag(app: Option<bool>, common: Option<bool>) -> Option<bool> {
            app.filter(|value| *value).or(common)
        }
        fn number<T: Copy + Default + PartialEq>(app: Option<T>, common: Option<T>) -> Option<T> {
            app.filter(|value| *value != T::default()).or(common)
        }
        Shared {
            app_protocol: text(app.app_protocol, &common.app_protocol),
            app_log_destination: app.app_log_destination.or(common.app_log_destination),
            daprd_log_destination: app.daprd_log_destination.or(common.daprd_log_destination),
            enable_app_health_check: flag(app.enable_app_health_check, common.enable_app_health_check),
            app_health_check_path: text(app.app_health_check_path, &common.app_health_check_path),
            app_health_probe_interval: number(app.app_health_probe_interval, common.app_health_probe_interval),
            app_health_probe_timeout: number(app.app_health_probe_timeout, common.app_health_probe_timeout),
            app_health_threshold: number(app.app_health_threshold, common.app_health_threshold),
            log_level: text(app.log_level, &common.log_level),
            enable_api_logging: flag(app.enable_api_logging, common.enable_api_logging),
            app_max_concurrency: number(app.app_max_concurrency, common.app_max_concurrency),
            max_body_size: text(app.max_body_size, &common.max_body_size),
            read_buffer_size: text(app.read_buffer_size, &common.read_buffer_size),
            placement_host_address: app
                .placement_host_address
                .or_else(|| common.placement_host_address.clone()),
            scheduler_host_address: app
                .scheduler_host_address
                .or_else(|| common.scheduler_host_address.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file as the CLI understands it.

/// A parsed and resolved run file: every path absolute and checked, `common` merged into each app.
#[derive(Debug, Clone)]
pub struct RunFile {
    path: PathBuf,
    name: Option<String>,
    apps: Vec<AppConfig>,
}

/// One app of a run file, after the CLI's resolution rules.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `appID` (default: the name of `appDirPath`, as in the CLI).
    pub app_id: String,
    /// `appDirPath`, absolute: the working directory of the app and of its sidecar.
    pub app_dir: PathBuf,
    /// `appPort`.
    pub app_port: Option<u16>,
    /// `appProtocol`, lower case (default `http`).
    pub app_protocol: String,
    /// `command`: the app's program and arguments (empty: a sidecar without an app process).
    pub command: Vec<String>,
    /// `common.env` with the app's `env` over it: given to the app only, not to its sidecar.
    pub env: BTreeMap<String, String>,
    /// Resources directories, by the CLI's precedence: the app's `resourcesPath(s)`, else
    /// `<appDirPath>/.dapr/resources`, else `common.resourcesPath(s)`, else `$DAPR_HOME/components`.
    pub resources_paths: Vec<PathBuf>,
    /// Configuration file, by the same precedence (`.dapr/config.yaml`, `$DAPR_HOME/config.yaml`);
    /// none when the last fallback does not exist.
    pub config_file: Option<PathBuf>,
    /// `enableAppHealthCheck`.
    pub app_health_check: bool,
    /// `appHealthCheckPath` (daprd's default is `/healthz`).
    pub app_health_check_path: Option<String>,
    /// `appLogDestination` (default `fileAndConsole`).
    pub app_log: LogDestination,
    /// `daprdLogDestination` (default `file`).
    pub daprd_log: LogDestination,
    /// `daprHTTPPort` (default: a free port).
    pub dapr_http_port: Option<u16>,
    /// `daprGRPCPort` (default: a free port).
    pub dapr_grpc_port: Option<u16>,
    /// Placement, `host:port` (default `localhost:50005`; `None` when set to an empty string).
    pub placement_host_address: Option<String>,
    /// Scheduler, `host:port` (default `localhost:50006`; `None` when set to an empty string).
    pub scheduler_host_address: Option<String>,
    /// Further daprd flags the CLI derives from the file (log level, health probe tuning, ...).
    pub daprd_flags: Vec<String>,
}

impl AppConfig {
    /// Where the CLI writes this app's logs: `<appDirPath>/.dapr/logs`.
    pub fn logs_dir(&self) -> PathBuf {
        self.app_dir.join(".dapr").join("logs")
    }

    /// The health endpoint the sidecar (and this runner) probes, when the check is enabled.
    pub fn health_check_path(&self) -> Option<&str> {
        self.app_health_check
            .then(|| self.app_health_check_path.as_deref().unwrap_or("/healthz"))
    }
}

impl RunFile {
    /// Reads `path`: a run file, or a directory holding `dapr.yaml` (as `dapr run -f` takes both).
    /// Defaults that live in the Dapr home directory come from `$DAPR_HOME` (default `~/.dapr`).
    pub fn load(path: &Path) -> anyhow::Result<RunFile> {
        Self::load_with_dapr_home(path, &dapr_home()?)
    }

    /// [`RunFile::load`], with the Dapr home directory given.
    pub fn load_with_dapr_home(path: &Path, dapr_home: &Path) -> anyhow::Result<RunFile> {
        let path = if path.is_dir() {
            path.join(RUN_FILE_NAME)
        } else {
            path.to_owned()
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("reading the run file {}", path.display()))?;
        let path = std::path::absolute(&path)?;
        Self::parse(&text, &path, dapr_home).with_context(|| format!("run file {}", path.display()))
    }

    /// Parses `text` as the run file at `path`, whose directory relative paths of `common` are
    /// resolved against; `dapr_home` holds the last-resort `components/` and `config.yaml`.
    pub fn parse(text: &str, path: &Path, dapr_home: &Path) -> anyhow::Result<RunFile> {
        let raw: RawRunFile = serde_norway::from_str(text).map_err(explain_parse_error)?;
        if raw.version != 1 {
            bail!(
                "version: {} is not a run file version this runner knows (only version: 1 exists)",
                raw.version
            );
        }
        if raw.apps.is_empty() {
            bail!("apps: no apps to run");
        }
        let base_dir = path.parent().context("the run file has no directory")?;
        let common = ResolvedPaths::of(
            raw.common.resources_paths.as_deref(),
            raw.common.resources_path.as_deref(),
            raw.common.config_file_path.as_deref(),
            base_dir,
        )
        .context("common")?;
        let mut apps: Vec<AppConfig> = Vec::with_capacity(raw.apps.len());
        for (index, app) in raw.apps.iter().enumerate() {
            let config = resolve_app(app, &raw.common, &common, base_dir, dapr_home).with_context(|| {
                let id = app.app_id.as_ref().map(|id| format!(" ({id})")).unwrap_or_default();
                format!("apps[{index}]{id}")
            })?;
            if apps.iter().any(|other| other.app_id == config.app_id) {
                bail!("apps[{index}]: appID {:?} is used twice", config.app_id);
            }
            apps.push(config);
        }
        Ok(RunFile {
            path: path.to_owned(),
            name: raw.name,
            apps,
        })
    }

    /// The run file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name`, if the file gives one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The apps, in the file's order.
    pub fn apps(&self) -> &[AppConfig] {
        &self.apps
    }

    /// The apps, to change before a run: e.g. a test that builds the apps itself replaces each
    /// `command` with the binary it built, or adds to `env` what only that run should have.
    pub fn apps_mut(&mut self) -> &mut [AppConfig] {
        &mut self.apps
    }
}

/// Adds to serde's "unknown field" error whether the key is one of the CLI's that this runner
/// does not support (and why), or no key of the run file at all.
fn explain_parse_error(error: serde_norway::Error) -> anyhow::Error {
    let message = error.to_string();
    let Some(field) = message
        .split_once("unknown field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(field, _)| field)
    else {
        return anyhow!("{message}");
    };
    let hint = match CLI_KEYS_NOT_SUPPORTED.iter().find(|(key, _)| *key == field) {
        Some((_, reason)) => {
            format!(
                "`{field}` is a key of the Dapr CLI that this stand-in for `dapr run -f` does not support: {reason}"
            )
        }
        None => format!(
            "`{field}` is not a key of the Dapr run file (the CLI would silently ignore it; keys are case-sensitive)"
        ),
    };
    anyhow!("{hint} ({message})")
}

/// The paths of one section, absolute and checked.
struct ResolvedPaths {
    resources_paths: Vec<PathBuf>,
    config_file: Option<PathBuf>,
}

impl ResolvedPaths {
    fn of(
        resources_paths: Option<&[String]>,
        resources_path: Option<&str>,
        config_file: Option<&str>,
        base_dir: &Path,
    ) -> anyhow::Result<ResolvedPaths> {
        // As the CLI: `resourcesPaths` first, then the older single `resourcesPath`.
        let mut resources = Vec::new();
        for (key, path) in resources_paths
            .unwrap_or_default()
            .iter()
            .map(|path| ("resourcesPaths", path.as_str()))
            .chain(resources_path.map(|path| ("resourcesPath", path)))
        {
            if let Some(path) = existing_path(key, path, base_dir)? {
                resources.push(path);
            }
        }
        let config_file = match config_file {
            Some(path) => existing_path("configFilePath", path, base_dir)?,
            None => None,
        };
        Ok(ResolvedPaths {
            resources_paths: resources,
            config_file,
        })
    }
}

/// `path` made absolute against `base_dir` (`~/` is the home directory) and checked to exist; an
/// empty string is no path, as in the CLI.
fn existing_path(key: &str, path: &str, base_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let trimmed = path.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let expanded = match trimmed.strip_prefix("~/") {
        Some(rest) => {
            PathBuf::from(std::env::var_os("HOME").context("HOME is not set, so ~/ cannot be resolved")?).join(rest)
        }
        None => PathBuf::from(trimmed),
    };
    let absolute = normalize(&base_dir.join(expanded));
    if !absolute.exists() {
        bail!(
            "{key}: {path:?} does not exist (resolved against {} to {})",
            base_dir.display(),
            absolute.display()
        );
    }
    Ok(Some(absolute))
}

/// Removes `.` and `..` components without asking the file system, like Go's filepath.Clean.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `host` gets the default port; an empty address is no address (the service is disabled).
fn host_address(address: Option<&str>, default_port: u16) -> Option<String> {
    match address.map(str::trim) {
        None => Some(format!("localhost:{default_port}")),
        Some("") => None,
        Some(address) if address.contains(':') => Some(address.to_owned()),
        Some(host) => Some(format!("{host}:{default_port}")),
    }
}

fn resolve_app(
    app: &RawApp,
    raw_common: &RawCommon,
    common: &ResolvedPaths,
    base_dir: &Path,
    dapr_home: &Path,
) -> anyhow::Result<AppConfig> {
    let app_dir = match app.app_dir_path.as_deref().map(str::trim) {
        None | Some("") => bail!("appDirPath is required"),
        Some(path) => existing_path("appDirPath", path, base_dir)?.context("appDirPath is required")?,
    };
    if !app_dir.is_dir() {
        bail!("appDirPath: {} is not a directory", app_dir.display());
    }
    // The app's own paths resolve against its appDirPath, not against the run file.
    let own = ResolvedPaths::of(
        app.resources_paths.as_deref(),
        app.resources_path.as_deref(),
        app.config_file_path.as_deref(),
        &app_dir,
    )?;
    let app_id = match app.app_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => app_dir
            .file_name()
            .context("appDirPath has no name to take the appID from")?
            .to_string_lossy()
            .into_owned(),
    };
    if app_id.contains('.') {
        bail!("appID {app_id:?}: an app id cannot contain dots");
    }

    let local_dapr_dir = app_dir.join(".dapr");
    let resources_paths = if !own.resources_paths.is_empty() {
        own.resources_paths
    } else if local_dapr_dir.join("resources").is_dir() {
        vec![local_dapr_dir.join("resources")]
    } else if !common.resources_paths.is_empty() {
        common.resources_paths.clone()
    } else {
        let default = dapr_home.join("components");
        if !default.is_dir() {
            bail!(
                "no resourcesPath is given, there is no {}, and the default {} does not exist",
                local_dapr_dir.join("resources").display(),
                default.display()
            );
        }
        vec![default]
    };
    let config_file = match own.config_file {
        Some(file) => Some(file),
        None if local_dapr_dir.join("config.yaml").is_file() => Some(local_dapr_dir.join("config.yaml")),
        None => match &common.config_file {
            Some(file) => Some(file.clone()),
            None => Some(dapr_home.join("config.yaml")).filter(|file| file.is_file()),
        },
    };

    let shared = Shared::merge(app.shared(), &raw_common.shared());
    let app_protocol = shared.app_protocol.as_deref().unwrap_or("http").to_lowercase();
    if !["http", "grpc", "https", "grpcs", "h2c"].contains(&app_protocol.as_str()) {
        bail!("appProtocol {app_protocol:?}: must be one of http, grpc, https, grpcs, h2c");
    }
    let command = app.command.clone().unwrap_or_default();
    if command.first().is_some_and(|program| program.trim().is_empty()) {
        bail!("command: the program (its first element) is empty");
    }
    let mut env = raw_common.env_text();
    env.extend(app.env_text());

    let mut daprd_flags = Vec::new();
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            daprd_flags.push(format!("--{name}"));
            daprd_flags.push(value);
        }
    };
    flag("log-level", shared.log_level.clone());
    flag("app-max-concurrency", shared.app_max_concurrency.map(|n| n.to_string()));
    flag("max-body-size", shared.max_body_size.clone());
    flag("read-buffer-size", shared.read_buffer_size.clone());
    flag(
        "app-health-probe-interval",
        shared.app_health_probe_interval.map(|n| n.to_string()),
    );
    flag(
        "app-health-probe-timeout",
        shared.app_health_probe_timeout.map(|n| n.to_string()),
    );
    flag(
        "app-health-threshold",
        shared.app_health_threshold.map(|n| n.to_string()),
    );
    if shared.enable_api_logging == Some(true) {
        daprd_flags.push("--enable-api-logging".into());
    }

    Ok(AppConfig {
        app_port: app.app_port.filter(|port| *port > 0),
        app_protocol,
        command,
        env,
        resources_paths,
        config_file,
        app_health_check: shared.enable_app_health_check == Some(true),
        app_health_check_path: shared.app_health_check_path,
        app_log: shared.app_log_destination.unwrap_or(LogDestination::FileAndConsole),
        daprd_log: shared.daprd_log_destination.unwrap_or(LogDestination::File),
        dapr_http_port: app.dapr_http_port.filter(|port| *port > 0),
        dapr_grpc_port: app.dapr_grpc_port.filter(|port| *port > 0),
        placement_host_address: host_address(shared.placement_host_address.as_deref(), LOCAL_PLACEMENT_PORTS.0),
        scheduler_host_address: host_address(shared.scheduler_host_address.as_deref(), LOCAL_SCHEDULER_PORTS.0),
        daprd_flags,
        app_id,
        app_dir,
    })
}

// ---------------------------------------------------------------------------------------------
// Running it.

/// Receives the runner's progress lines.
type Reporter = Arc<dyn Fn(&str) + Send + Sync>;

/// How to run a run file.
#[derive(Clone)]
pub struct RunOptions {
    env: Vec<(String, Option<String>)>,
    console: bool,
    app_ready_timeout: Duration,
    sidecar_ready_timeout: Duration,
    stop_timeout: Duration,
    progress_interval: Duration,
    reporter: Reporter,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            console: true,
            // The CLI waits for ever; a first `cargo run --release` of a service takes minutes.
            app_ready_timeout: Duration::from_secs(30 * 60),
            sidecar_ready_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(30),
            progress_interval: Duration::from_secs(30),
            reporter: Arc::new(|line| {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }),
        }
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("env", &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("console", &self.console)
            .field("app_ready_timeout", &self.app_ready_timeout)
            .field("sidecar_ready_timeout", &self.sidecar_ready_timeout)
            .field("stop_timeout", &self.stop_timeout)
            .field("progress_interval", &self.progress_interval)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Sets a variable in the runner's own environment, as `export NAME=VALUE` in the shell before
    /// `dapr run -f` would: every sidecar and every app gets it (the run file's `env:` reaches the
    /// apps only). This is how `APP_API_TOKEN` and `DAPR_API_TOKEN` are given.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), Some(value.into())));
        self
    }

    /// Removes a variable from the runner's own environment (`unset NAME`).
    pub fn env_remove(mut self, name: impl Into<String>) -> Self {
        self.env.push((name.into(), None));
        self
    }

    /// Whether `console` and `fileAndConsole` log destinations print to this process's stdout
    /// (default true). Off, every log goes to its file only.
    pub fn console(mut self, console: bool) -> Self {
        self.console = console;
        self
    }

    /// How long an app may take to become ready, its command's build included (default 30 min).
    pub fn app_ready_timeout(mut self, timeout: Duration) -> Self {
        self.app_ready_timeout = timeout;
        self
    }

    /// How long an app, then its sidecar, may take to exit after SIGTERM (default 30 s each).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// How often a wait for an app reports progress (default 30 s).
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = interval;
        self
    }

    /// Where progress lines go (default: this process's stderr).
    pub fn reporter(mut self, reporter: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.reporter = Arc::new(reporter);
        self
    }

    fn report(&self, line: &str) {
        (self.reporter)(line);
    }

    /// A variable of the runner's environment (an empty one counts as unset).
    fn lookup(&self, name: &str) -> Option<String> {
        let value = match self.env.iter().rev().find(|(set, _)| set == name) {
            Some((_, value)) => value.clone(),
            None => std::env::var(name).ok(),
        };
        value.filter(|value| !value.is_empty())
    }
}

/// The apps of a run file, running next to their sidecars. Dropping it kills everything it
/// started; [`MultiAppRun::stop`] stops it gracefully and checks that it stopped cleanly.
#[derive(Debug)]
pub struct MultiAppRun {
    apps: Vec<RunningApp>,
    services: LocalServices,
    options: RunOptions,
}

/// One app of a [`MultiAppRun`]: its sidecar, and its process if the file gives a `command`.
#[derive(Debug)]
pub struct RunningApp {
    config: AppConfig,
    daprd: Option<Daprd>,
    app: Option<ManagedProcess>,
    app_api_token: Option<String>,
    /// Variables a restart removed from the app's environment ([`MultiAppRun::restart_app`]).
    unset_env: Vec<String>,
    followers: Vec<Follower>,
    started: Instant,
    ready_after: Duration,
}

impl RunningApp {
    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.config.app_id
    }

    /// The app as the run file describes it, resolved.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The sidecar.
    pub fn daprd(&self) -> &Daprd {
        self.daprd.as_ref().expect("the sidecar runs until the stop")
    }

    /// The sidecar's HTTP port (the app's `DAPR_HTTP_PORT`).
    pub fn dapr_http_port(&self) -> u16 {
        self.daprd().http_port()
    }

    /// The sidecar's gRPC port (the app's `DAPR_GRPC_PORT`).
    pub fn dapr_grpc_port(&self) -> u16 {
        self.daprd().grpc_port()
    }

    /// `appPort`.
    pub fn app_port(&self) -> Option<u16> {
        self.config.app_port
    }

    /// `http://127.0.0.1:<appPort>`, if the app has a port.
    pub fn app_url(&self) -> Option<String> {
        self.config.app_port.map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// The app process's id (none without a `command`).
    pub fn app_pid(&self) -> Option<u32> {
        self.app.as_ref().map(ManagedProcess::id)
    }

    /// The app's log file (none without a `command`).
    pub fn app_log_path(&self) -> Option<&Path> {
        self.app.as_ref().map(ManagedProcess::log_path)
    }

    /// The sidecar's log file.
    pub fn daprd_log_path(&self) -> &Path {
        self.daprd().log_path()
    }

    /// The app's log so far (empty without a `command`).
    pub fn app_log(&self) -> String {
        self.app.as_ref().map(ManagedProcess::log).unwrap_or_default()
    }

    /// From the start of its sidecar until the app answered its probe and the sidecar reported
    /// it healthy; after [`MultiAppRun::restart_app`], from the restart.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// How the app's readiness is probed, in words.
    fn readiness(&self) -> String {
        match (self.config.app_port, self.config.health_check_path()) {
            (Some(port), Some(path)) if self.http_health_check() => {
                format!("GET http://127.0.0.1:{port}{path} answering 2xx")
            }
            (Some(port), _) => format!("a listener on port {port}"),
            (None, _) => "its process running".to_owned(),
        }
    }

    fn http_health_check(&self) -> bool {
        self.config.app_protocol == "http" && self.config.health_check_path().is_some()
    }

    /// The app's own readiness: its health endpoint (sent the app token, as daprd sends it) when
    /// the file enables the check over HTTP, else its port accepting connections.
    async fn app_answers(&self) -> bool {
        let Some(port) = self.config.app_port else {
            return true;
        };
        match self.config.health_check_path() {
            Some(path) if self.http_health_check() => {
                let mut request = probe_client().get(format!("http://127.0.0.1:{port}{path}"));
                if let Some(token) = &self.app_api_token {
                    request = request.header(API_TOKEN_HEADER, token);
                }
                matches!(request.send().await, Ok(response) if response.status().is_success())
            }
            _ => tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok(),
        }
    }
}

impl MultiAppRun {
    /// Starts every app of `file` the way `dapr run -f` does, and waits until each is ready: its
    /// sidecar healthy, its app answering (see [`RunningApp::ready_after`]). Redis, placement and
    /// scheduler are taken where `dapr init` puts them (localhost:6379, :50005, :50006) when
    /// something healthy answers there, else started there for the duration of the run.
    pub async fn start(file: &RunFile, options: RunOptions) -> anyhow::Result<MultiAppRun> {
        let runtime = DaprRuntime::locate()?;
        options.report(&format!(
            "Running {} ({} app{}) with daprd {} from {} (a stand-in for `dapr run -f`, see docs/HARNESS.md)",
            file.path().display(),
            file.apps().len(),
            if file.apps().len() == 1 { "" } else { "s" },
            crate::runtime::pinned_runtime_version(),
            runtime.binary("daprd").parent().unwrap_or(Path::new("")).display(),
        ));
        let services = LocalServices::ensure(file, &options).await?;
        let timestamp = log_timestamp();
        let mut apps = Vec::with_capacity(file.apps().len());
        for config in file.apps() {
            apps.push(start_app(config, &options, &timestamp).await?);
        }
        for app in &mut apps {
            wait_until_ready(app, &options).await?;
            options.report(&format!(
                "app {}: ready in {:.1}s; app port {}, sidecar HTTP {}, gRPC {}",
                app.app_id(),
                app.ready_after.as_secs_f64(),
                app.app_port().map_or("none".to_owned(), |port| port.to_string()),
                app.dapr_http_port(),
                app.dapr_grpc_port()
            ));
        }
        Ok(MultiAppRun {
            apps,
            services,
            options,
        })
    }

    /// The running apps, in the file's order.
    pub fn apps(&self) -> &[RunningApp] {
        &self.apps
    }

    /// The app with id `app_id`.
    pub fn app(&self, app_id: &str) -> Option<&RunningApp> {
        self.apps.iter().find(|app| app.app_id() == app_id)
    }

    /// What the run uses for redis, placement and scheduler, in words.
    pub fn local_services(&self) -> &[String] {
        &self.services.notes
    }

    /// The running app `app_id` with a `command`, for the crash and restart methods below.
    fn app_with_process(&mut self, app_id: &str) -> anyhow::Result<&mut RunningApp> {
        let app = self
            .apps
            .iter_mut()
            .find(|app| app.config.app_id == app_id)
            .with_context(|| format!("the run has no app {app_id:?}"))?;
        if app.config.command.is_empty() {
            bail!("app {app_id} has no command, so no process of its own");
        }
        Ok(app)
    }

    /// Kills the process of app `app_id` at once (SIGKILL to its process group), as a crash
    /// would, and returns its exit status; its sidecar keeps running. See [`MultiAppRun::restart_app`].
    pub fn kill_app(&mut self, app_id: &str) -> anyhow::Result<ExitStatus> {
        let app = self.app_with_process(app_id)?;
        app.app
            .as_mut()
            .context("each app with a command has a process")?
            .kill()
    }

    /// Waits up to `timeout` for the process of app `app_id` to exit by itself (e.g. a crash the
    /// test provoked), and returns its exit status; its sidecar keeps running.
    pub async fn wait_for_app_exit(&mut self, app_id: &str, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let app = self.app_with_process(app_id)?;
        let process = app.app.as_mut().context("each app with a command has a process")?;
        let started = Instant::now();
        loop {
            if let Some(status) = process.try_exit_status()? {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                bail!("app {app_id} still runs {timeout:?} after the wait for its exit began");
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Starts the command of app `app_id` again, next to its sidecar (which kept running), and
    /// waits until it is ready, as at the start. A process still running is killed first
    /// ([`MultiAppRun::kill_app`]). `env` changes the app's environment from now on, over the
    /// file's `env:`: `Some` sets a variable, `None` removes it (also one of the runner's own).
    /// This is what `dapr run -f` cannot do, and what a test of "the app crashed and came back"
    /// needs. The new process logs to a new file; [`RunningApp::ready_after`] then counts from the
    /// restart.
    pub async fn restart_app(&mut self, app_id: &str, env: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
        let options = self.options.clone();
        let app = self.app_with_process(app_id)?;
        if let Some(process) = &mut app.app {
            process.kill()?;
        }
        for (name, value) in env {
            app.unset_env.retain(|unset| unset != name);
            match value {
                Some(value) => {
                    app.config.env.insert((*name).to_owned(), (*value).to_owned());
                }
                None => {
                    app.config.env.remove(*name);
                    app.unset_env.push((*name).to_owned());
                }
            }
        }
        if let Some(port) = app.config.app_port {
            ensure_free(port).with_context(|| format!("app {app_id}: appPort {port}, for the restart"))?;
        }
        app.started = Instant::now();
        let daprd = app.daprd.as_ref().context("the sidecar runs until the stop")?;
        let (process, follower) = spawn_app(&app.config, &app.unset_env, &options, daprd, &log_timestamp())?;
        app.app = Some(process);
        app.followers.extend(follower);
        wait_until_ready(app, &options).await?;
        options.report(&format!(
            "app {app_id}: restarted, ready in {:.1}s",
            app.ready_after.as_secs_f64()
        ));
        Ok(())
    }

    /// Waits until an app or a sidecar exits by itself, and says which and how.
    pub async fn wait_for_exit(&mut self) -> anyhow::Result<String> {
        loop {
            for app in &mut self.apps {
                let id = app.config.app_id.clone();
                if let Some(process) = &mut app.app
                    && let Some(status) = process.try_exit_status()?
                {
                    return Ok(format!("app {id} exited ({status})"));
                }
                if let Some(daprd) = &mut app.daprd
                    && let Some(status) = daprd.try_exit_status()?
                {
                    return Ok(format!("the sidecar of app {id} exited ({status})"));
                }
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Stops everything gracefully: SIGTERM to each app (its whole process group), waiting for
    /// its exit status; then SIGTERM to each sidecar, likewise; then the redis, placement and
    /// scheduler this run started (those it found running stay). Fails, after stopping everything,
    /// unless every app and sidecar exited with status 0 within the stop timeout, naming each
    /// that did not and showing its log tail.
    pub async fn stop(mut self) -> anyhow::Result<StopReport> {
        let timeout = self.options.stop_timeout;
        let mut problems = Vec::new();
        let mut report = StopReport { apps: Vec::new() };
        // Apps first, while their sidecars still serve them (the CLI 1.18 kills the sidecar first).
        for app in self.apps.iter_mut().rev() {
            let mut stopped = AppStopped {
                app_id: app.config.app_id.clone(),
                app_exit: None,
                app_exited_before_stop: false,
                app_stop: Duration::ZERO,
                daprd_exit: None,
                daprd_stop: Duration::ZERO,
            };
            if let Some(process) = &mut app.app {
                let started = Instant::now();
                stopped.app_exited_before_stop = process.try_exit_status()?.is_some();
                match process.terminate(timeout).await {
                    Ok(status) => {
                        stopped.app_exit = Some(status);
                        if !status.success() {
                            let when = if stopped.app_exited_before_stop {
                                "had already exited before the stop"
                            } else {
                                "exited after SIGTERM"
                            };
                            problems.push(format!(
                                "app {} {when} with {status}; last lines of its log ({}):\n{}",
                                stopped.app_id,
                                process.log_path().display(),
                                process.log_tail()
                            ));
                        }
                    }
                    // The error names the app already ("app <id> did not exit within ...").
                    Err(error) => problems.push(format!("{error:#}")),
                }
                stopped.app_stop = started.elapsed();
            }
            report.apps.insert(0, stopped);
        }
        for (app, stopped) in self.apps.iter_mut().zip(&mut report.apps) {
            let daprd = app.daprd.take().expect("each sidecar is stopped once");
            let log_path = daprd.log_path().to_owned();
            let started = Instant::now();
            match daprd.stop(timeout).await {
                Ok(status) => {
                    stopped.daprd_exit = Some(status);
                    if !status.success() {
                        let tail = log_tail_of(&log_path);
                        let hint = if tail.contains("Graceful shutdown timeout exceeded") {
                            "\n(daprd's own graceful shutdown timed out. daprd 1.18.2 does that when it is stopped \
                             within about a second of an outbox transaction: see docs/HARNESS.md, \
                             \"dapr.yaml without the Dapr CLI\".)"
                        } else {
                            ""
                        };
                        problems.push(format!(
                            "the sidecar of app {} exited with {status} after SIGTERM; last lines of its log ({}):\n{tail}{hint}",
                            stopped.app_id,
                            log_path.display(),
                        ));
                    }
                }
                Err(error) => problems.push(format!("the sidecar of app {}: {error:#}", stopped.app_id)),
            }
            stopped.daprd_stop = started.elapsed();
            for follower in app.followers.drain(..) {
                follower.finish().await;
            }
        }
        drop(std::mem::take(&mut self.services));
        if problems.is_empty() {
            Ok(report)
        } else {
            bail!("the run did not stop cleanly:\n{}", problems.join("\n\n"))
        }
    }
}

/// How each app and its sidecar stopped.
#[derive(Debug, Clone)]
pub struct StopReport {
    /// One entry per app, in the file's order.
    pub apps: Vec<AppStopped>,
}

/// How one app and its sidecar stopped.
#[derive(Debug, Clone)]
pub struct AppStopped {
    /// The app id.
    pub app_id: String,
    /// The app process's exit status (none without a `command`).
    pub app_exit: Option<ExitStatus>,
    /// The app had exited by itself before the stop.
    pub app_exited_before_stop: bool,
    /// From SIGTERM to the app's exit.
    pub app_stop: Duration,
    /// The sidecar's exit status.
    pub daprd_exit: Option<ExitStatus>,
    /// From SIGTERM to the sidecar's exit.
    pub daprd_stop: Duration,
}

impl fmt::Display for StopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for app in &self.apps {
            match app.app_exit {
                Some(status) => write!(f, "app {}: {status} in {:.2}s", app.app_id, app.app_stop.as_secs_f64())?,
                None => write!(f, "app {}: no app process", app.app_id)?,
            }
            match app.daprd_exit {
                Some(status) => writeln!(f, "; sidecar: {status} in {:.2}s", app.daprd_stop.as_secs_f64())?,
                None => writeln!(f, "; sidecar: not stopped")?,
            }
        }
        Ok(())
    }
}

/// Starts one app's sidecar, then its command, as `dapr run -f` does (the sidecar first; the
/// app right after, without waiting for it: the sidecar's app channel waits for the app).
async fn start_app(config: &AppConfig, options: &RunOptions, timestamp: &str) -> anyhow::Result<RunningApp> {
    let id = &config.app_id;
    let started = Instant::now();
    let logs = config.logs_dir();
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    if !config.command.is_empty()
        && let Some(port) = config.app_port
    {
        ensure_free(port).with_context(|| format!("app {id}: appPort {port} (the app would listen there)"))?;
    }
    for (key, port) in [
        ("daprHTTPPort", config.dapr_http_port),
        ("daprGRPCPort", config.dapr_grpc_port),
    ] {
        if let Some(port) = port {
            ensure_free(port).with_context(|| format!("app {id}: {key} {port}"))?;
        }
    }
    let app_api_token = options.lookup("APP_API_TOKEN");

    let daprd_log = logs.join(format!("{id}_daprd_{timestamp}.log"));
    let mut builder = Daprd::builder(id.clone())
        .working_dir(&config.app_dir)
        .log_file(&daprd_log)
        .own_process_group()
        .app_protocol(&config.app_protocol)
        .args(config.daprd_flags.iter().cloned());
    for dir in &config.resources_paths {
        builder = builder.resources_dir(dir);
    }
    if let Some(file) = &config.config_file {
        builder = builder.config_file(file);
    }
    if let Some(port) = config.app_port {
        builder = builder.app_port(port);
    }
    if config.app_health_check {
        builder = builder.app_health_check(config.app_health_check_path.clone());
    }
    if let Some(port) = config.dapr_http_port {
        builder = builder.dapr_http_port(port);
    }
    if let Some(port) = config.dapr_grpc_port {
        builder = builder.dapr_grpc_port(port);
    }
    if let Some(address) = &config.placement_host_address {
        builder = builder.placement_host_address(address);
    }
    if let Some(address) = &config.scheduler_host_address {
        builder = builder.scheduler_host_address(address);
    }
    for (name, value) in &options.env {
        builder = match value {
            Some(value) => builder.env(name, value),
            None => builder.env_remove(name),
        };
    }
    if options.lookup("DAPR_HOST_IP").is_none() {
        builder = builder.env("DAPR_HOST_IP", "127.0.0.1");
    }
    if let Some(token) = options.lookup("DAPR_API_TOKEN") {
        builder = builder.api_token(token);
    }
    if let Some(token) = &app_api_token {
        builder = builder.app_api_token(token);
    }
    options.report(&format!("app {id}: starting its sidecar (log {})", daprd_log.display()));
    let daprd = builder
        .start()
        .await
        .with_context(|| format!("app {id}: starting its sidecar"))?;
    let mut followers = Vec::new();
    if options.console && config.daprd_log.shows_on_console() {
        followers.push(Follower::start(
            daprd.log_path().to_owned(),
            format!("== DAPRD - {id} == "),
        ));
    }

    let app = if config.command.is_empty() {
        options.report(&format!("app {id}: no command, so the sidecar runs alone"));
        None
    } else {
        let (process, follower) = spawn_app(config, &[], options, &daprd, timestamp)?;
        followers.extend(follower);
        Some(process)
    };
    Ok(RunningApp {
        config: config.clone(),
        daprd: Some(daprd),
        app,
        app_api_token,
        unset_env: Vec::new(),
        followers,
        started,
        ready_after: Duration::ZERO,
    })
}

/// Starts the command of app `config` in its directory, next to its running sidecar `daprd`, with
/// the environment the CLI gives it (the runner's own, the CLI's variables, then the file's `env:`
/// over them), without the variables named in `unset_env`. Also returns the follower that copies
/// its log to the console, when the file asks for that.
fn spawn_app(
    config: &AppConfig,
    unset_env: &[String],
    options: &RunOptions,
    daprd: &Daprd,
    timestamp: &str,
) -> anyhow::Result<(ManagedProcess, Option<Follower>)> {
    let id = &config.app_id;
    let logs = config.logs_dir();
    let mut app_log = logs.join(format!("{id}_app_{timestamp}.log"));
    // A restart within the same second as the start must not overwrite the first log.
    for attempt in 2.. {
        if !app_log.exists() {
            break;
        }
        app_log = logs.join(format!("{id}_app_{timestamp}_{attempt}.log"));
    }
    let mut command = Command::new(&config.command[0]);
    command.args(&config.command[1..]).current_dir(&config.app_dir);
    for (name, value) in &options.env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    // What the CLI adds to its own environment for the app, then the file's env: over it.
    command
        .env("APP_ID", id)
        .env("DAPR_HTTP_PORT", daprd.http_port().to_string())
        .env("DAPR_GRPC_PORT", daprd.grpc_port().to_string())
        .env("APP_PROTOCOL", &config.app_protocol);
    if let Some(port) = config.app_port {
        command.env("APP_PORT", port.to_string());
    }
    command.envs(&config.env);
    for name in unset_env {
        command.env_remove(name);
    }
    options.report(&format!(
        "app {id}: starting `{}` in {} (log {})",
        config.command.join(" "),
        config.app_dir.display(),
        app_log.display()
    ));
    let process = ManagedProcess::spawn_in_own_group(format!("app {id}"), command, &app_log)
        .with_context(|| format!("app {id}: starting its command {:?}", config.command))?;
    let follower = (options.console && config.app_log.shows_on_console())
        .then(|| Follower::start(app_log, format!("== APP - {id} == ")));
    Ok((process, follower))
}

/// Waits until the app answers (see [`RunningApp::app_answers`]) and its sidecar reports healthy
/// with the app channel up (`/v1.0/healthz`), failing early when either process exits.
async fn wait_until_ready(app: &mut RunningApp, options: &RunOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let id = app.config.app_id.clone();
    let readiness = app.readiness();
    let mut next_progress = options.progress_interval;
    loop {
        check_alive(app)?;
        if app.app_answers().await {
            break;
        }
        let waited = started.elapsed();
        if waited > options.app_ready_timeout {
            let (path, tail) = app
                .app
                .as_ref()
                .map(|process| (process.log_path().display().to_string(), process.log_tail()))
                .unwrap_or_default();
            bail!(
                "app {id} was not ready after {:?} (waiting for {readiness}); last lines of its log ({path}):\n{tail}",
                options.app_ready_timeout
            );
        }
        if waited >= next_progress {
            let last = app
                .app_log()
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("")
                .to_owned();
            options.report(&format!(
                "app {id}: waiting for {readiness} ({:.0}s so far); its log says: {}",
                waited.as_secs_f64(),
                last.trim()
            ));
            next_progress += options.progress_interval;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    let url = format!("{}/v1.0/healthz", app.daprd().http_url());
    let sidecar_started = Instant::now();
    while !answers_2xx(&url).await {
        check_alive(app)?;
        if sidecar_started.elapsed() > options.sidecar_ready_timeout {
            bail!(
                "the sidecar of app {id} did not report healthy ({url}) within {:?} of the app being ready; last lines of its log ({}):\n{}",
                options.sidecar_ready_timeout,
                app.daprd().log_path().display(),
                app.daprd().log_tail()
            );
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    app.ready_after = app.started.elapsed();
    Ok(())
}

/// Fails when the app or its sidecar has exited, with its log tail.
fn check_alive(app: &mut RunningApp) -> anyhow::Result<()> {
    let id = &app.config.app_id;
    if let Some(process) = &mut app.app
        && let Some(status) = process.try_exit_status()?
    {
        bail!(
            "app {id} exited during start-up ({status}); last lines of its log ({}):\n{}",
            process.log_path().display(),
            process.log_tail()
        );
    }
    if let Some(daprd) = &mut app.daprd
        && let Some(status) = daprd.try_exit_status()?
    {
        bail!(
            "the sidecar of app {id} exited during start-up ({status}); last lines of its log ({}):\n{}",
            daprd.log_path().display(),
            daprd.log_tail()
        );
    }
    Ok(())
}

/// Fails when something already listens on loopback port `port`.
fn ensure_free(port: u16) -> anyhow::Result<()> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(drop)
        .with_context(|| format!("port {port} is already in use by another process"))
}

async fn accepts_connections(port: u16) -> bool {
    tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_ok()
}

/// The redis, placement and scheduler of `dapr init`'s defaults that this run started itself.
#[derive(Debug, Default)]
struct LocalServices {
    _redis: Option<Redis>,
    _placement: Option<Placement>,
    _scheduler: Option<Scheduler>,
    notes: Vec<String>,
}

impl LocalServices {
    /// Makes sure redis answers on localhost:6379, and placement and scheduler on their `dapr
    /// init` ports when an app uses them there: what answers healthy is used, nothing there is
    /// started, anything else there is an error.
    async fn ensure(file: &RunFile, options: &RunOptions) -> anyhow::Result<LocalServices> {
        let mut services = LocalServices::default();
        let uses = |address: fn(&AppConfig) -> Option<&String>, port: u16| {
            file.apps()
                .iter()
                .filter_map(address)
                .any(|address| [format!("localhost:{port}"), format!("127.0.0.1:{port}")].contains(address))
        };
        let placement = uses(|app| app.placement_host_address.as_ref(), LOCAL_PLACEMENT_PORTS.0);
        let scheduler = uses(|app| app.scheduler_host_address.as_ref(), LOCAL_SCHEDULER_PORTS.0);
        let (redis, placement, scheduler) = tokio::try_join!(
            ensure_redis(),
            async {
                if placement {
                    ensure_control_plane("placement", LOCAL_PLACEMENT_PORTS, |port, healthz| {
                        Placement::start_on(port, healthz)
                    })
                    .await
                } else {
                    Ok((None, "placement: not used at localhost:50005 by any app".to_owned()))
                }
            },
            async {
                if scheduler {
                    ensure_control_plane("scheduler", LOCAL_SCHEDULER_PORTS, |port, healthz| {
                        Scheduler::start_on(port, healthz)
                    })
                    .await
                } else {
                    Ok((None, "scheduler: not used at localhost:50006 by any app".to_owned()))
                }
            },
        )?;
        (services._redis, services._placement, services._scheduler) = (redis.0, placement.0, scheduler.0);
        services.notes = vec![redis.1, placement.1, scheduler.1];
        for note in &services.notes {
            options.report(note);
        }
        Ok(services)
    }
}

async fn ensure_redis() -> anyhow::Result<(Option<Redis>, String)> {
    let port = LOCAL_REDIS_PORT;
    if answers_ping(port).await {
        return Ok((None, format!("redis: using the one answering PING on localhost:{port}")));
    }
    if accepts_connections(port).await {
        bail!(
            "something listens on localhost:{port}, where the components expect `dapr init`'s redis, but it does \
             not answer PING with PONG (a redis with a password? another program?)"
        );
    }
    match Redis::start_on(port).await {
        Ok(redis) => Ok((
            Some(redis),
            format!("redis: nothing on localhost:{port}, so started redis-server there (stopped with the run)"),
        )),
        // Someone else started one in the meantime: use it.
        Err(_) if answers_ping(port).await => {
            Ok((None, format!("redis: using the one answering PING on localhost:{port}")))
        }
        Err(error) => Err(error),
    }
}

async fn ensure_control_plane<T, F, Fut>(
    name: &str,
    (port, healthz): (u16, u16),
    start: F,
) -> anyhow::Result<(Option<T>, String)>
where
    F: FnOnce(u16, u16) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let url = format!("http://127.0.0.1:{healthz}/healthz");
    let healthy = || async { accepts_connections(port).await && answers_2xx(&url).await };
    let reused = format!("{name}: using the one on localhost:{port} ({url} answers)");
    if healthy().await {
        return Ok((None, reused));
    }
    if accepts_connections(port).await {
        bail!(
            "something listens on localhost:{port}, where `dapr init` puts {name}, but {url} (its health endpoint \
             there) does not answer 2xx"
        );
    }
    match start(port, healthz).await {
        Ok(service) => Ok((
            Some(service),
            format!(
                "{name}: nothing on localhost:{port}, so started it there, healthz on {healthz} (stopped with the run)"
            ),
        )),
        Err(_) if healthy().await => Ok((None, reused)),
        Err(error) => Err(error),
    }
}

/// Copies the lines a process appends to its log file to this process's stdout, prefixed, the
/// way the CLI shows `console` log destinations.
#[derive(Debug)]
struct Follower {
    finish: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
}

impl Follower {
    fn start(path: PathBuf, prefix: String) -> Follower {
        let finish = Arc::new(AtomicBool::new(false));
        let finishing = finish.clone();
        let task = tokio::spawn(async move {
            let (mut offset, mut pending) = (0u64, Vec::new());
            loop {
                // Read the flag first: a final pass after it is set sees everything written before.
                let last_pass = finishing.load(Ordering::SeqCst);
                if let Ok(mut file) = std::fs::File::open(&path) {
                    if file.metadata().is_ok_and(|metadata| metadata.len() < offset) {
                        // The file was created anew (a retried start): follow the new one.
                        offset = 0;
                    }
                    if file.seek(SeekFrom::Start(offset)).is_ok() {
                        let mut fresh = Vec::new();
                        if let Ok(read) = file.read_to_end(&mut fresh) {
                            offset += read as u64;
                            pending.extend_from_slice(&fresh);
                        }
                    }
                }
                {
                    let mut out = std::io::stdout().lock();
                    while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let _ = writeln!(out, "{prefix}{}", String::from_utf8_lossy(&line).trim_end());
                    }
                    if last_pass {
                        if !pending.is_empty() {
                            let _ = writeln!(out, "{prefix}{}", String::from_utf8_lossy(&pending).trim_end());
                        }
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Follower {
            finish,
            task: Some(task),
        }
    }

    /// Prints what is left, then stops.
    async fn finish(mut self) {
        self.finish.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// `YYYYMMDDhhmmss` (UTC), for log file names as the CLI names them.
fn log_timestamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days as i64);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (the proleptic "days from civil" inverse).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}
