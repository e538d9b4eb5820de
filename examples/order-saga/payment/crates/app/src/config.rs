//! Typed configuration. Read, lowest precedence first, from:
//! 1. the TOML file `config/default.toml` (another one with `APP_CONFIG=path`);
//! 2. environment variables `APP__<SECTION>__<KEY>`, e.g. `APP__HTTP__PORT=9000` or
//!    `APP__SHUTDOWN_TIMEOUT_MS=5000`;
//! 3. the variables Dapr itself sets, which describe the sidecar actually running:
//!    `DAPR_GRPC_ENDPOINT` or `DAPR_GRPC_PORT`, `DAPR_HTTP_ENDPOINT` or `DAPR_HTTP_PORT`,
//!    `DAPR_API_TOKEN`, `APP_API_TOKEN`, and `APP_PORT` (the port `dapr run` tells the sidecar
//!    to call the app on). The two tokens are read from these variables only, never from a file.
//!
//! Every error names the key at fault.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use data::sidecar::DaprSettings;
use serde::Deserialize;

use crate::telemetry::{self, TelemetryError, TelemetrySettings};

/// Where the configuration file is read from unless `APP_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_FILE: &str = "config/default.toml";
/// The variable naming another configuration file.
pub const CONFIG_FILE_VARIABLE: &str = "APP_CONFIG";
/// Prefix of the variables that override single keys.
pub const ENV_PREFIX: &str = "APP";
/// Separates the prefix, sections and keys in those variables.
pub const ENV_SEPARATOR: &str = "__";

/// Where the sidecar listens when a variable gives only its port: beside the app.
const SIDECAR_HOST: &str = "127.0.0.1";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server: the REST API, the probes, and the routes the sidecar calls.
    pub http: HttpSettings,
    /// The Dapr sidecar.
    pub dapr: DaprSection,
    /// Logs.
    pub telemetry: TelemetrySettings,
    /// How long a graceful shutdown may take before in-flight work is dropped, in milliseconds.
    pub shutdown_timeout_ms: u64,
    /// How long start-up waits for the sidecar to become healthy, in milliseconds.
    pub sidecar_wait_ms: u64,
}

/// The `[http]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on (`0.0.0.0` in a container).
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take, in milliseconds.
    pub request_timeout_ms: u64,
}

/// The `[dapr]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DaprSection {
    /// Where the sidecar is, the token the app presents to it (`DAPR_API_TOKEN`, never in the
    /// file), and the components the adapters use.
    #[serde(flatten)]
    pub sidecar: DaprSettings,
    /// The pub/sub component events are published and delivered through.
    pub pubsub: String,
    /// The token the sidecar presents to the app (`APP_API_TOKEN`); none leaves the routes the
    /// sidecar calls open, for local development only.
    #[serde(default)]
    pub app_api_token: Option<Secret>,
}

/// A credential: kept out of `Debug` output, so it never reaches a log line.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable, or a value has the wrong type (the message names the key).
    #[error("cannot load the configuration from {path} and the APP__* variables")]
    Load {
        /// The file read.
        path: PathBuf,
        /// What went wrong, naming the key where it is about one.
        #[source]
        source: Box<config::ConfigError>,
    },
    /// A value has the right type but is out of range, or a Dapr variable is malformed.
    #[error("invalid configuration value for `{key}`: {reason}")]
    Invalid {
        /// The key, as `section.key`, or the variable.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Settings {
    /// Loads the configuration the process was started with: the file named by `APP_CONFIG` (or
    /// [`DEFAULT_CONFIG_FILE`], relative to the working directory) and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var_os(CONFIG_FILE_VARIABLE)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        Self::load_from(&path, std::env::vars().collect())
    }

    /// Loads the configuration from `file` and the variables `env`; tests pass their own.
    pub fn load_from(file: &Path, env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let load_error = |source| ConfigError::Load {
            path: file.to_owned(),
            source: Box::new(source),
        };
        let mut builder = config::Config::builder()
            .add_source(
                config::File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(true),
            )
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    // Numbers as numbers: the flattened `[dapr]` keys get no string conversion.
                    .try_parsing(true)
                    .source(Some(env.clone())),
            );
        for (key, value) in dapr_overrides(&env)? {
            builder = builder.set_override(key, value).map_err(load_error)?;
        }
        let config = builder.build().map_err(load_error)?;
        // The [dapr] keys are flattened into `Settings`, where a type error would only name the
        // section; read them on their own first, so that it names the key.
        #[derive(Deserialize)]
        struct SidecarKeys {
            #[expect(dead_code, reason = "deserialized for its errors only")]
            dapr: DaprSettings,
        }
        config
            .clone()
            .try_deserialize::<SidecarKeys>()
            .map_err(load_error)?;
        let settings: Self = config.try_deserialize().map_err(load_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Range checks serde cannot express.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.http.body_limit_bytes == 0 {
            return invalid("http.body_limit_bytes", "must be at least 1");
        }
        if self.http.request_timeout_ms == 0 {
            return invalid("http.request_timeout_ms", "must be at least 1");
        }
        if self.shutdown_timeout_ms == 0 {
            return invalid("shutdown_timeout_ms", "must be at least 1");
        }
        if self.sidecar_wait_ms == 0 {
            return invalid("sidecar_wait_ms", "must be at least 1");
        }
        for (key, endpoint) in [
            ("dapr.grpc_endpoint", &self.dapr.sidecar.grpc_endpoint),
            ("dapr.http_endpoint", &self.dapr.sidecar.http_endpoint),
        ] {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return invalid(key, "must be an http:// or https:// URL");
            }
        }
        for (key, name) in [
            ("dapr.state_store", &self.dapr.sidecar.state_store),
            ("dapr.lock_store", &self.dapr.sidecar.lock_store),
            ("dapr.pubsub", &self.dapr.pubsub),
            // daprgen:anchor dapr-component-checks
        ] {
            if name.trim().is_empty() {
                return invalid(key, "must name a Dapr component");
            }
        }
        if self.dapr.sidecar.idempotency_ttl_seconds == 0 {
            return invalid("dapr.idempotency_ttl_seconds", "must be at least 1");
        }
        if let Err(TelemetryError::InvalidLevel(reason)) =
            telemetry::level_filter(&self.telemetry.level)
        {
            return Err(ConfigError::Invalid {
                key: "telemetry.level",
                reason,
            });
        }
        Ok(())
    }

    /// [`Settings::shutdown_timeout_ms`] as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// [`Settings::sidecar_wait_ms`] as a duration.
    pub fn sidecar_wait(&self) -> Duration {
        Duration::from_millis(self.sidecar_wait_ms)
    }
}

/// The keys the variables Dapr sets override. A variable giving a port is checked here, so that
/// its error names the variable; `DAPR_*_ENDPOINT` wins over `DAPR_*_PORT`, as in Dapr's SDKs.
fn dapr_overrides(
    env: &HashMap<String, String>,
) -> Result<Vec<(&'static str, config::Value)>, ConfigError> {
    let variable = |name: &str| env.get(name).filter(|value| !value.is_empty());
    let port = |name: &'static str| -> Result<Option<u16>, ConfigError> {
        variable(name)
            .map(|value| {
                value.parse::<u16>().map_err(|_| ConfigError::Invalid {
                    key: name,
                    reason: format!("{value:?} is not a port"),
                })
            })
            .transpose()
    };
    let mut overrides = Vec::new();
    for (key, endpoint_variable, port_variable) in [
        ("dapr.grpc_endpoint", "DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"),
        ("dapr.http_endpoint", "DAPR_HTTP_ENDPOINT", "DAPR_HTTP_PORT"),
    ] {
        let from_port = port(port_variable)?.map(|port| format!("http://{SIDECAR_HOST}:{port}"));
        if let Some(endpoint) = variable(endpoint_variable).cloned().or(from_port) {
            overrides.push((key, config::Value::from(endpoint)));
        }
    }
    if let Some(port) = port("APP_PORT")? {
        overrides.push(("http.port", config::Value::from(port)));
    }
    // Set even when absent, so that nothing else (a file, a default) can supply a token.
    for (key, name) in [
        ("dapr.api_token", "DAPR_API_TOKEN"),
        ("dapr.app_api_token", "APP_API_TOKEN"),
    ] {
        overrides.push((key, config::Value::from(variable(name).cloned())));
    }
    Ok(overrides)
}

impl HttpSettings {
    /// [`HttpSettings::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}
