//! The connection to the Dapr sidecar, shared by every adapter of this crate.
//!
//! The app creates one [`DaprSidecar`] before it builds the shaku module and hands a clone to each
//! adapter as a component parameter. Adapters talk gRPC through the raw tonic client the `dapr`
//! crate re-exports: the high-level `dapr::Client` has no state transactions, no delete with an
//! ETag and no lock, and its error type hides the gRPC status that tells a conflict from an outage.
//! The sidecar's HTTP port serves only the health and metadata probes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dapr::client::ApiTokenInterceptor;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use serde::Deserialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The raw gRPC client of the Dapr API, sending `dapr-api-token` when a token is configured.
pub type RawDaprClient = DaprClient<InterceptedService<Channel, ApiTokenInterceptor>>;

/// The sidecar's gRPC port when `DAPR_GRPC_PORT` is not set (the Dapr default).
pub const DEFAULT_GRPC_PORT: u16 = 50001;
/// The sidecar's HTTP port when `DAPR_HTTP_PORT` is not set (the Dapr default).
pub const DEFAULT_HTTP_PORT: u16 = 3500;
/// How long idempotency records live by default: a day covers every sensible client retry.
pub const DEFAULT_IDEMPOTENCY_TTL_SECONDS: u32 = 86_400;

/// Longest a single call to the sidecar may take: a hung sidecar fails requests instead of
/// holding them forever. The sidecar's own resiliency policies retry well within it.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one health or metadata probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between two probes while waiting for the sidecar.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Header carrying the API token.
const API_TOKEN_HEADER: &str = "dapr-api-token";

/// Where the sidecar is and which of its components to use.
///
/// Deserializable, so the app's configuration can embed it; every field has a default, taken
/// from the variables `dapr run` sets for the app where there is one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DaprSettings {
    /// The sidecar's gRPC API, e.g. `http://127.0.0.1:50001`. Default: `DAPR_GRPC_ENDPOINT`, else
    /// `DAPR_GRPC_PORT` (else 50001) on 127.0.0.1.
    pub grpc_endpoint: String,
    /// The sidecar's HTTP API, for health and metadata. Default: `DAPR_HTTP_ENDPOINT`, else
    /// `DAPR_HTTP_PORT` (else 3500) on 127.0.0.1.
    pub http_endpoint: String,
    /// The token the sidecar requires (`DAPR_API_TOKEN`); none when it requires none.
    pub api_token: Option<String>,
    /// The state store component: accounts, their index and idempotency records.
    pub state_store: String,
    /// The lock component (`lock.redis`).
    pub lock_store: String,
    /// How long an idempotency record is kept, in seconds.
    pub idempotency_ttl_seconds: u32,
    // daprgen:anchor dapr-settings-fields
}

impl DaprSettings {
    /// The defaults, reading the Dapr variables through `variable` (the environment, or a test's map).
    fn from_variables(variable: impl Fn(&str) -> Option<String>) -> Self {
        let endpoint = |endpoint_variable: &str, port_variable: &str, default_port: u16| {
            variable(endpoint_variable)
                .filter(|endpoint| !endpoint.is_empty())
                .unwrap_or_else(|| {
                    let port = variable(port_variable).unwrap_or_else(|| default_port.to_string());
                    // A malformed port is kept as given: `DaprSidecar::new` then names it in its error.
                    format!("http://127.0.0.1:{port}")
                })
        };
        Self {
            grpc_endpoint: endpoint("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT", DEFAULT_GRPC_PORT),
            http_endpoint: endpoint("DAPR_HTTP_ENDPOINT", "DAPR_HTTP_PORT", DEFAULT_HTTP_PORT),
            api_token: variable("DAPR_API_TOKEN").filter(|token| !token.is_empty()),
            state_store: "statestore".into(),
            lock_store: "lockstore".into(),
            idempotency_ttl_seconds: DEFAULT_IDEMPOTENCY_TTL_SECONDS,
            // daprgen:anchor dapr-settings-defaults
        }
    }
}

impl Default for DaprSettings {
    fn default() -> Self {
        Self::from_variables(|name| std::env::var(name).ok())
    }
}

// By hand, so that the token never reaches a log line.
impl fmt::Debug for DaprSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("DaprSettings");
        debug
            .field("grpc_endpoint", &self.grpc_endpoint)
            .field("http_endpoint", &self.http_endpoint)
            .field("api_token", &self.api_token.as_ref().map(|_| "***"))
            .field("state_store", &self.state_store);
        debug.field("lock_store", &self.lock_store);
        // daprgen:anchor dapr-settings-debug
        debug
            .field("idempotency_ttl_seconds", &self.idempotency_ttl_seconds)
            .finish()
    }
}

/// Why the sidecar cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// An endpoint is not a URL.
    #[error("invalid Dapr endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The API token cannot be sent as a gRPC header (it must be visible ASCII).
    #[error("the Dapr API token is not a valid header value")]
    InvalidApiToken,
    /// The sidecar is not reachable, not healthy, or lacks a component this service needs.
    #[error("Dapr sidecar not ready: {0}")]
    NotReady(String),
}

/// A cheap-to-clone handle on the sidecar: its gRPC client, an HTTP client for the probes, and
/// the settings.
#[derive(Clone)]
pub struct DaprSidecar {
    grpc: RawDaprClient,
    http: reqwest::Client,
    settings: Arc<DaprSettings>,
}

impl fmt::Debug for DaprSidecar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaprSidecar")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DaprSidecar {
    /// A handle on the sidecar `settings` describe. Connects lazily, so it succeeds while the
    /// sidecar is still starting (see [`DaprSidecar::wait_until_ready`]); call it inside the
    /// Tokio runtime.
    pub fn new(settings: DaprSettings) -> Result<Self, SidecarError> {
        validate_endpoint(&settings.grpc_endpoint)?;
        validate_endpoint(&settings.http_endpoint)?;
        let channel = Endpoint::from_shared(settings.grpc_endpoint.clone())
            .map_err(|error| invalid_endpoint(&settings.grpc_endpoint, error.to_string()))?
            .timeout(CALL_TIMEOUT)
            .connect_lazy();
        let interceptor = ApiTokenInterceptor::try_new(settings.api_token.clone())
            .map_err(|_| SidecarError::InvalidApiToken)?;
        let http = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .build()
            .map_err(|error| invalid_endpoint(&settings.http_endpoint, error.to_string()))?;
        Ok(Self {
            grpc: DaprClient::with_interceptor(channel, interceptor),
            http,
            settings: Arc::new(settings),
        })
    }

    /// The settings this handle was created with.
    pub fn settings(&self) -> &DaprSettings {
        &self.settings
    }

    /// A gRPC client on the shared connection (its calls take `&mut self`, so each caller gets
    /// its own clone; clones share the connection).
    pub(crate) fn grpc(&self) -> RawDaprClient {
        self.grpc.clone()
    }

    /// Waits until the sidecar answers its outbound health check (its components are loaded and
    /// it can serve this app's calls), for at most `timeout`.
    pub async fn wait_until_ready(&self, timeout: Duration) -> Result<(), SidecarError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let outcome = self.outbound_health().await;
            match outcome {
                Ok(()) => return Ok(()),
                Err(reason) if tokio::time::Instant::now() + PROBE_INTERVAL >= deadline => {
                    return Err(SidecarError::NotReady(format!(
                        "still not healthy after {timeout:?}: {reason}"
                    )));
                }
                Err(_) => tokio::time::sleep(PROBE_INTERVAL).await,
            }
        }
    }

    /// Whether the sidecar can serve this service now: healthy, and the components this service
    /// uses are loaded. For the app's readiness probe.
    pub async fn readiness(&self) -> Result<(), SidecarError> {
        self.outbound_health()
            .await
            .map_err(SidecarError::NotReady)?;
        let metadata = self.metadata().await.map_err(SidecarError::NotReady)?;
        let loaded: Vec<&str> = metadata["components"]
            .as_array()
            .map(|components| {
                components
                    .iter()
                    .filter_map(|component| component["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let required = [
            self.settings.state_store.as_str(),
            self.settings.lock_store.as_str(),
        ];
        match required.into_iter().find(|name| !loaded.contains(name)) {
            Some(missing) => Err(SidecarError::NotReady(format!(
                "component {missing:?} is not loaded (loaded: {loaded:?})"
            ))),
            None => Ok(()),
        }
    }

    /// `GET /v1.0/healthz/outbound`: 2xx once the sidecar's components are initialised.
    async fn outbound_health(&self) -> Result<(), String> {
        let url = format!("{}/v1.0/healthz/outbound", self.settings.http_endpoint);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("{url}: {error}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {}", response.status()))
        }
    }

    /// `GET /v1.0/metadata`: the app id, the loaded components, the registered actor types.
    pub(crate) async fn metadata(&self) -> Result<serde_json::Value, String> {
        let url = format!("{}/v1.0/metadata", self.settings.http_endpoint);
        let mut request = self.http.get(&url);
        if let Some(token) = &self.settings.api_token {
            request = request.header(API_TOKEN_HEADER, token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("{url}: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        response
            .json()
            .await
            .map_err(|error| format!("{url}: {error}"))
    }
}

fn invalid_endpoint(endpoint: &str, reason: impl Into<String>) -> SidecarError {
    SidecarError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.into(),
    }
}

/// Checks that `endpoint` is an `http(s)://host:port` URL, so that a typo fails at start-up
/// with its name rather than later as "connection refused".
fn validate_endpoint(endpoint: &str) -> Result<(), SidecarError> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|error| invalid_endpoint(endpoint, error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid_endpoint(
            endpoint,
            "expected http://host:port or https://host:port",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings_from(variables: &[(&str, &str)]) -> DaprSettings {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        DaprSettings::from_variables(|name| variables.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_dapr_defaults() {
        let settings = settings_from(&[]);
        assert_eq!(settings.grpc_endpoint, "http://127.0.0.1:50001");
        assert_eq!(settings.http_endpoint, "http://127.0.0.1:3500");
        assert_eq!(settings.api_token, None);
        assert_eq!(settings.state_store, "statestore");
        assert_eq!(settings.lock_store, "lockstore");
        assert_eq!(settings.idempotency_ttl_seconds, 86_400);
    }

    #[test]
    fn ports_and_token_come_from_the_variables_dapr_run_sets() {
        let settings = settings_from(&[
            ("DAPR_GRPC_PORT", "50123"),
            ("DAPR_HTTP_PORT", "3600"),
            ("DAPR_API_TOKEN", "secret"),
        ]);
        assert_eq!(settings.grpc_endpoint, "http://127.0.0.1:50123");
        assert_eq!(settings.http_endpoint, "http://127.0.0.1:3600");
        assert_eq!(settings.api_token.as_deref(), Some("secret"));
    }

    #[test]
    fn an_endpoint_variable_wins_over_a_port_and_an_empty_token_is_none() {
        let settings = settings_from(&[
            ("DAPR_GRPC_ENDPOINT", "http://sidecar:5000"),
            ("DAPR_GRPC_PORT", "50123"),
            ("DAPR_API_TOKEN", ""),
        ]);
        assert_eq!(settings.grpc_endpoint, "http://sidecar:5000");
        assert_eq!(settings.api_token, None);
    }

    #[test]
    fn deserializes_partially_with_the_rest_defaulted() {
        let settings: DaprSettings =
            serde_json::from_str(r#"{"state_store": "orders-state"}"#).unwrap();
        assert_eq!(settings.state_store, "orders-state");
        assert_eq!(
            settings.idempotency_ttl_seconds,
            DEFAULT_IDEMPOTENCY_TTL_SECONDS
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let settings = settings_from(&[("DAPR_API_TOKEN", "hunter2")]);
        let printed = format!("{settings:?}");
        assert!(
            !printed.contains("hunter2") && printed.contains("***"),
            "{printed}"
        );
    }

    #[tokio::test]
    async fn a_malformed_endpoint_is_named_in_the_error() {
        let settings = settings_from(&[("DAPR_GRPC_PORT", "notaport")]);
        match DaprSidecar::new(settings) {
            Err(SidecarError::InvalidEndpoint { endpoint, .. }) => {
                assert_eq!(endpoint, "http://127.0.0.1:notaport")
            }
            other => panic!("expected InvalidEndpoint, got {other:?}"),
        }
        for bad in ["127.0.0.1:3500", "sidecar:3500", "ftp://sidecar:3500"] {
            let settings = DaprSettings {
                http_endpoint: bad.into(),
                ..settings_from(&[])
            };
            assert!(
                matches!(
                    DaprSidecar::new(settings),
                    Err(SidecarError::InvalidEndpoint { .. })
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_that_is_no_header_value_is_refused() {
        let settings = DaprSettings {
            api_token: Some("line\nbreak".into()),
            ..settings_from(&[])
        };
        assert!(matches!(
            DaprSidecar::new(settings),
            Err(SidecarError::InvalidApiToken)
        ));
    }

    #[tokio::test]
    async fn waiting_for_an_absent_sidecar_gives_up_after_the_timeout() {
        // Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
        let settings = DaprSettings {
            http_endpoint: "http://127.0.0.1:9".into(),
            ..settings_from(&[])
        };
        let sidecar = DaprSidecar::new(settings).unwrap();
        let started = std::time::Instant::now();
        let error = sidecar
            .wait_until_ready(Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(error, SidecarError::NotReady(_)), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
}
