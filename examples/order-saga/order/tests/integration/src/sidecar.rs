//! daprd, started the way `dapr run -f .` starts it for this service: the service's own
//! `components/` directory and `components/config.yaml`, its app id, and API tokens both ways.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};
use dapr::client::ApiTokenInterceptor;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use tempfile::TempDir;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::process::{
    ManagedProcess, PROBE_INTERVAL, StartError, answers_2xx, free_port, probe_client,
};
use crate::runtime::{DaprRuntime, service_root};

/// The service's Dapr resources, as `dapr.yaml` loads them (`resourcesPath`).
const COMPONENTS_DIR: &str = "components";
/// The sidecar configuration inside it, as `dapr.yaml` names it (`configFilePath`).
const CONFIG_FILE: &str = "config.yaml";
/// The redis address the components are written for (the `dapr init` default); replaced by the
/// address of the test's own redis.
const LOCAL_REDIS_ADDRESS: &str = "localhost:6379";
/// How long daprd may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Header carrying the API tokens, in both directions.
pub const API_TOKEN_HEADER: &str = "dapr-api-token";

/// The raw gRPC client of the Dapr API, sending the sidecar's API token.
pub type DaprGrpcClient = DaprClient<InterceptedService<Channel, ApiTokenInterceptor>>;

/// Whether this service's components need a redis server (any of them names `localhost:6379`).
pub fn components_use_redis() -> anyhow::Result<bool> {
    Ok(component_files()?
        .iter()
        .any(|(_, yaml)| yaml.contains(LOCAL_REDIS_ADDRESS)))
}

/// Every YAML file of `components/`, by file name.
fn component_files() -> anyhow::Result<Vec<(String, String)>> {
    let dir = service_root().join(COMPONENTS_DIR);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|ext| ext.to_str()),
            Some("yaml" | "yml")
        ) {
            let name = path
                .file_name()
                .expect("a directory entry has a name")
                .to_string_lossy()
                .into_owned();
            let yaml = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push((name, yaml));
        }
    }
    Ok(files)
}

/// The ports a sidecar listens on, chosen before it starts: the app's configuration must name
/// them before the app is built, and the app must be bound before the sidecar starts.
#[derive(Debug, Clone, Copy)]
pub struct SidecarPorts {
    /// The Dapr HTTP API (`DAPR_HTTP_PORT`).
    pub http: u16,
    /// The Dapr gRPC API (`DAPR_GRPC_PORT`).
    pub grpc: u16,
    /// Sidecar-to-sidecar traffic.
    pub internal_grpc: u16,
}

impl SidecarPorts {
    /// Three free loopback ports.
    pub fn pick() -> anyhow::Result<Self> {
        Ok(Self {
            http: free_port()?,
            grpc: free_port()?,
            internal_grpc: free_port()?,
        })
    }
}

/// What the sidecar is started with besides the service's components.
#[derive(Debug, Clone)]
pub struct SidecarOptions {
    /// The app id (the service's name, as in `dapr.yaml`).
    pub app_id: String,
    /// The port the app serves its HTTP routes on: subscriptions, events, health.
    pub app_port: u16,
    /// Required from callers of the sidecar (`DAPR_API_TOKEN`); `None` leaves its API open.
    pub api_token: Option<String>,
    /// Presented by the sidecar to the app (`APP_API_TOKEN`).
    pub app_api_token: String,
    /// Where `localhost:6379` in the components is redirected to.
    pub redis_address: Option<String>,
    /// Placement's address, for workflows.
    pub placement_address: Option<String>,
    /// Scheduler's address, for workflows.
    pub scheduler_address: Option<String>,
}

/// A running daprd. Dropping it stops the process (and prints its log tail if a test panicked).
#[derive(Debug)]
pub struct Sidecar {
    ports: SidecarPorts,
    api_token: Option<String>,
    process: ManagedProcess,
    dir: TempDir,
}

impl Sidecar {
    /// Starts daprd on `ports` and waits until its own APIs answer (`/v1.0/healthz/outbound`);
    /// the app channel is awaited separately ([`Sidecar::wait_for_app`]).
    pub async fn start(options: &SidecarOptions, ports: SidecarPorts) -> Result<Self, StartError> {
        let program = DaprRuntime::locate()?.binary("daprd")?;
        let dir = TempDir::with_prefix(format!("it-daprd-{}-", options.app_id))
            .map_err(anyhow::Error::from)?;
        write_resources(dir.path(), options.redis_address.as_deref())?;

        let mut command = Command::new(program);
        // The working directory is the temporary one, so a SQLite state store's relative
        // `connectionString` lands there and disappears with the test.
        command.current_dir(dir.path()).args([
            "--app-id",
            &options.app_id,
            "--app-port",
            &options.app_port.to_string(),
            "--app-channel-address",
            "127.0.0.1",
            "--app-protocol",
            "http",
            "--dapr-http-port",
            &ports.http.to_string(),
            "--dapr-grpc-port",
            &ports.grpc.to_string(),
            "--dapr-internal-grpc-port",
            &ports.internal_grpc.to_string(),
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
            "--dapr-listen-addresses",
            "127.0.0.1",
            "--enable-metrics=false",
            "--resources-path",
            COMPONENTS_DIR,
            "--config",
            &format!("{COMPONENTS_DIR}/{CONFIG_FILE}"),
        ]);
        if let Some(address) = &options.placement_address {
            command.args(["--placement-host-address", address]);
        }
        if let Some(address) = &options.scheduler_address {
            command.args(["--scheduler-host-address", address]);
        }
        // Tokens go through the environment, as `dapr run` and Kubernetes pass them.
        command
            .env_remove("DAPR_API_TOKEN")
            .env("APP_API_TOKEN", &options.app_api_token);
        if let Some(token) = &options.api_token {
            command.env("DAPR_API_TOKEN", token);
        }

        let mut process = ManagedProcess::spawn(
            format!("daprd[{}]", options.app_id),
            command,
            &dir.path().join("daprd.log"),
        )?;
        let outbound = format!("http://127.0.0.1:{}/v1.0/healthz/outbound", ports.http);
        process
            .wait_until_ready(START_TIMEOUT, || answers_2xx(&outbound))
            .await?;
        Ok(Self {
            ports,
            api_token: options.api_token.clone(),
            process,
            dir,
        })
    }

    /// Waits until the sidecar has found the app and is fully healthy (`/v1.0/healthz`).
    pub async fn wait_for_app(&mut self) -> anyhow::Result<()> {
        let url = format!("{}/v1.0/healthz", self.http_url());
        self.process
            .wait_until_ready(START_TIMEOUT, || answers_2xx(&url))
            .await
            .map_err(|error| match error {
                StartError::Failed(error) => error,
                StartError::PortTaken => anyhow::anyhow!("daprd stopped: a port was taken"),
            })
    }

    /// Waits until `condition` holds for the metadata API's answer (`GET /v1.0/metadata`):
    /// subscriptions loaded, scheduler connected, workflow actors registered…
    pub async fn wait_for_metadata(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        loop {
            if let Ok(metadata) = self.metadata().await
                && condition(&metadata)
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!(
                    "daprd did not report {what} within {timeout:?}; metadata: {}\nlast lines of its log:\n{}",
                    self.metadata().await.unwrap_or_default(),
                    self.process.log_tail()
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// The metadata API's answer: loaded components, subscriptions, actors, scheduler.
    pub async fn metadata(&self) -> anyhow::Result<serde_json::Value> {
        let response = self
            .with_token(probe_client().get(format!("{}/v1.0/metadata", self.http_url())))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            bail!("GET /v1.0/metadata answered {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Publishes `data` (JSON) to `topic` on pub/sub component `pubsub` as a CloudEvent with id
    /// `event_id`, through the sidecar's publish API: what another service's sidecar would do.
    /// Publishing twice with one id is how a redelivery looks to the subscriber.
    pub async fn publish(
        &self,
        pubsub: &str,
        topic: &str,
        event_id: &str,
        data: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let request = api_client()
            .post(format!("{}/v1.0/publish/{pubsub}/{topic}", self.http_url()))
            .query(&[("metadata.cloudevent.id", event_id)])
            .json(data);
        let response = self.with_token(request).send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "publishing to {pubsub}/{topic} answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// The raw gRPC client of the sidecar, with its API token.
    pub async fn grpc_client(&self) -> anyhow::Result<DaprGrpcClient> {
        let url = format!("http://127.0.0.1:{}", self.ports.grpc);
        let channel = Channel::from_shared(url.clone())?
            .connect()
            .await
            .with_context(|| format!("connecting to daprd at {url}"))?;
        Ok(DaprClient::with_interceptor(
            channel,
            ApiTokenInterceptor::new(self.api_token.clone()),
        ))
    }

    /// `request` with the sidecar's API token, when it has one.
    fn with_token(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_token {
            Some(token) => request.header(API_TOKEN_HEADER, token),
            None => request,
        }
    }

    /// The sidecar's HTTP API, e.g. `http://127.0.0.1:41234`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    /// The ports the sidecar listens on.
    pub fn ports(&self) -> SidecarPorts {
        self.ports
    }

    /// The directory daprd runs in (its resources, its log, a SQLite store's file).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything daprd has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The last lines of daprd's log, for failure reports.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

/// The client for calls to the sidecar's API that do work (probes have shorter timeouts).
fn api_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a reqwest client with a timeout builds")
    })
}

/// Copies the service's components into `dir`, pointing redis components at `redis_address`.
fn write_resources(dir: &Path, redis_address: Option<&str>) -> anyhow::Result<()> {
    let resources = dir.join(COMPONENTS_DIR);
    std::fs::create_dir_all(&resources)?;
    for (file_name, yaml) in component_files()? {
        let yaml = match (redis_address, yaml.contains(LOCAL_REDIS_ADDRESS)) {
            (Some(address), true) => yaml.replace(LOCAL_REDIS_ADDRESS, address),
            (None, true) => {
                bail!("components/{file_name} uses redis, but no redis was started for it")
            }
            (_, false) => yaml,
        };
        std::fs::write(resources.join(file_name), yaml)?;
    }
    Ok(())
}
