//! daprd, the sidecar itself, configured the way a test needs it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::{Context, bail};
use dapr::client::ApiTokenInterceptor;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use tempfile::TempDir;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::control_plane::{Placement, Scheduler};
use crate::http_probe::answers_2xx;
use crate::ports::free_port;
use crate::process::{ManagedProcess, PROBE_INTERVAL, StartError, start_with_retries};
use crate::redis::Redis;
use crate::runtime::{DaprRuntime, catalogue_dir};

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The redis address the catalogue's components use (the `dapr init` default); replaced by the
/// address of the harness's own redis when the sidecar is given one.
const CATALOGUE_REDIS_ADDRESS: &str = "localhost:6379";
/// Header carrying the API token, both directions.
pub const API_TOKEN_HEADER: &str = "dapr-api-token";

/// The raw gRPC client of the Dapr API, with the API-token interceptor: it exposes what the
/// high-level `dapr::Client` lacks (locks, transactions, the gRPC status of a failure).
pub type RawDaprClient = DaprClient<InterceptedService<Channel, ApiTokenInterceptor>>;

/// What a sidecar should be started with. Build one with [`Daprd::builder`].
#[derive(Debug, Clone)]
pub struct DaprdBuilder {
    app_id: String,
    app_port: Option<u16>,
    resources: Vec<(String, String)>,
    resources_dirs: Vec<PathBuf>,
    config: Option<ConfigSource>,
    redis_address: Option<String>,
    placement_address: Option<String>,
    scheduler_address: Option<String>,
    api_token: Option<String>,
    app_api_token: Option<String>,
    secrets: Option<serde_json::Value>,
    wait_for_app: bool,
    app_protocol: Option<String>,
    app_health_check_path: Option<String>,
    app_health_check: bool,
    http_port: Option<u16>,
    grpc_port: Option<u16>,
    extra_args: Vec<String>,
    env: Vec<(String, Option<String>)>,
    working_dir: Option<PathBuf>,
    log_file: Option<PathBuf>,
    own_process_group: bool,
}

/// Where the sidecar's Configuration comes from.
#[derive(Debug, Clone)]
enum ConfigSource {
    /// YAML text, written into the sidecar's own directory.
    Yaml(String),
    /// A file given by the caller, used where it is.
    File(PathBuf),
}

impl DaprdBuilder {
    /// The port of the app this sidecar fronts (HTTP). Without one, the sidecar runs app-less.
    pub fn app_port(mut self, port: u16) -> Self {
        self.app_port = Some(port);
        self
    }

    /// Waits for the app channel too (`/v1.0/healthz`), not only for the sidecar's outbound side.
    pub fn wait_for_app(mut self) -> Self {
        self.wait_for_app = true;
        self
    }

    /// Loads a component (or resiliency, or subscription) from the repository catalogue, given by
    /// its path under `components/`, e.g. `"state/redis.yaml"`.
    pub fn component(mut self, catalogue_path: &str) -> Self {
        let path = catalogue_dir().join(catalogue_path);
        let yaml = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("catalogue component {}: {error}", path.display()));
        self.resources.push((catalogue_path.replace('/', "-"), yaml));
        self
    }

    /// Loads a resource given as YAML text (a subscription, a test-specific component).
    pub fn resource_yaml(mut self, file_name: &str, yaml: impl Into<String>) -> Self {
        self.resources.push((file_name.to_owned(), yaml.into()));
        self
    }

    /// Uses a Configuration from the catalogue, e.g. `"configuration/tracing.yaml"`.
    pub fn config(mut self, catalogue_path: &str) -> Self {
        let path = catalogue_dir().join(catalogue_path);
        self.config = Some(ConfigSource::Yaml(
            std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("catalogue configuration {}: {error}", path.display())),
        ));
        self
    }

    /// Uses the Configuration file at `path` where it is (`--config PATH`), instead of
    /// [`DaprdBuilder::config`].
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(ConfigSource::File(path.into()));
        self
    }

    /// Loads every resource of the directory `dir` where it is (`--resources-path DIR`; may be
    /// given several times). Without [`DaprdBuilder::component`] or
    /// [`DaprdBuilder::resource_yaml`], only these directories are loaded.
    pub fn resources_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resources_dirs.push(dir.into());
        self
    }

    /// The protocol the sidecar speaks to the app (`--app-protocol`: http, grpc, https, grpcs, h2c).
    pub fn app_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.app_protocol = Some(protocol.into());
        self
    }

    /// Makes the sidecar probe the app's health (`--enable-app-health-check`), at `path`
    /// (`--app-health-check-path`) when given, else at daprd's default `/healthz`.
    pub fn app_health_check(mut self, path: Option<String>) -> Self {
        self.app_health_check = true;
        self.app_health_check_path = path;
        self
    }

    /// Listens for the Dapr HTTP API on `port` instead of a free one (a taken port fails).
    pub fn dapr_http_port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// Listens for the Dapr gRPC API on `port` instead of a free one (a taken port fails).
    pub fn dapr_grpc_port(mut self, port: u16) -> Self {
        self.grpc_port = Some(port);
        self
    }

    /// Connects to placement at `address` (`host:port`), e.g. `localhost:50005`.
    pub fn placement_host_address(mut self, address: impl Into<String>) -> Self {
        self.placement_address = Some(address.into());
        self
    }

    /// Connects to scheduler at `address` (`host:port`), e.g. `localhost:50006`; start-up then
    /// also waits until the connection is up.
    pub fn scheduler_host_address(mut self, address: impl Into<String>) -> Self {
        self.scheduler_address = Some(address.into());
        self
    }

    /// Further daprd flags, passed as given after the ones the builder sets.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for daprd (on top of this process's environment). The API
    /// tokens have their own options: [`DaprdBuilder::api_token`], [`DaprdBuilder::app_api_token`].
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable of this process from daprd's environment.
    pub fn env_remove(mut self, name: impl Into<String>) -> Self {
        self.env.push((name.into(), None));
        self
    }

    /// Runs daprd in `dir` (default: its own temporary directory).
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Writes daprd's output to `path` (default: `daprd.log` in its own temporary directory).
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// Starts daprd in a process group of its own, so that a terminal's Ctrl-C reaches only the
    /// process that started it, which can then stop its apps before their sidecars.
    pub fn own_process_group(mut self) -> Self {
        self.own_process_group = true;
        self
    }

    /// Points the catalogue's redis components at this redis.
    pub fn redis(mut self, redis: &Redis) -> Self {
        self.redis_address = Some(redis.address());
        self
    }

    /// Connects the sidecar to placement (actors, workflows).
    pub fn placement(mut self, placement: &Placement) -> Self {
        self.placement_address = Some(placement.address());
        self
    }

    /// Connects the sidecar to scheduler (workflows, jobs, reminders).
    pub fn scheduler(mut self, scheduler: &Scheduler) -> Self {
        self.scheduler_address = Some(scheduler.address());
        self
    }

    /// Requires `dapr-api-token: TOKEN` on every call to the sidecar (`DAPR_API_TOKEN`).
    pub fn api_token(mut self, token: impl Into<String>) -> Self {
        self.api_token = Some(token.into());
        self
    }

    /// Makes the sidecar send `dapr-api-token: TOKEN` on every call to the app (`APP_API_TOKEN`).
    pub fn app_api_token(mut self, token: impl Into<String>) -> Self {
        self.app_api_token = Some(token.into());
        self
    }

    /// Writes `secrets.json` for the catalogue's local-file secret store.
    pub fn secrets(mut self, secrets: serde_json::Value) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Starts daprd on free ports and waits until it is healthy.
    pub async fn start(self) -> anyhow::Result<Daprd> {
        let runtime = DaprRuntime::locate()?;
        let what = format!("daprd for app {:?}", self.app_id);
        start_with_retries(&what, || self.try_start(runtime)).await
    }

    fn write_resources(&self, dir: &Path) -> anyhow::Result<()> {
        let resources = dir.join("resources");
        std::fs::create_dir_all(&resources)?;
        for (file_name, yaml) in &self.resources {
            let yaml = match (&self.redis_address, yaml.contains(CATALOGUE_REDIS_ADDRESS)) {
                (Some(address), true) => yaml.replace(CATALOGUE_REDIS_ADDRESS, address),
                (None, true) => bail!("{file_name} needs redis: give the sidecar one with `.redis(&redis)`"),
                (_, false) => yaml.clone(),
            };
            std::fs::write(resources.join(file_name), yaml)?;
        }
        if let Some(ConfigSource::Yaml(config)) = &self.config {
            std::fs::write(dir.join("config.yaml"), config)?;
        }
        if let Some(secrets) = &self.secrets {
            std::fs::write(dir.join("secrets.json"), serde_json::to_vec_pretty(secrets)?)?;
        }
        Ok(())
    }

    async fn try_start(&self, runtime: &DaprRuntime) -> Result<Daprd, StartError> {
        let dir = TempDir::with_prefix(format!("harness-daprd-{}-", self.app_id)).map_err(anyhow::Error::from)?;
        self.write_resources(dir.path())?;
        let http_port = match self.http_port {
            Some(port) => port,
            None => free_port()?,
        };
        let grpc_port = match self.grpc_port {
            Some(port) => port,
            None => free_port()?,
        };
        let internal_grpc_port = free_port()?;
        let mut command = Command::new(runtime.binary("daprd"));
        command
            .current_dir(self.working_dir.as_deref().unwrap_or(dir.path()))
            .args([
                "--app-id",
                &self.app_id,
                "--dapr-http-port",
                &http_port.to_string(),
                "--dapr-grpc-port",
                &grpc_port.to_string(),
                "--dapr-internal-grpc-port",
                &internal_grpc_port.to_string(),
                "--dapr-internal-grpc-listen-address",
                "127.0.0.1",
                "--dapr-listen-addresses",
                "127.0.0.1",
                "--enable-metrics=false",
            ]);
        if !self.resources.is_empty() || self.resources_dirs.is_empty() {
            command.arg("--resources-path").arg(dir.path().join("resources"));
        }
        for resources in &self.resources_dirs {
            command.arg("--resources-path").arg(resources);
        }
        if let Some(port) = self.app_port {
            command.args(["--app-port", &port.to_string(), "--app-channel-address", "127.0.0.1"]);
        }
        if let Some(protocol) = &self.app_protocol {
            command.args(["--app-protocol", protocol]);
        }
        if self.app_health_check {
            command.arg("--enable-app-health-check");
            if let Some(path) = &self.app_health_check_path {
                command.args(["--app-health-check-path", path]);
            }
        }
        match &self.config {
            Some(ConfigSource::Yaml(_)) => {
                command.arg("--config").arg(dir.path().join("config.yaml"));
            }
            Some(ConfigSource::File(path)) => {
                command.arg("--config").arg(path);
            }
            None => {}
        }
        if let Some(address) = &self.placement_address {
            command.args(["--placement-host-address", address]);
        }
        if let Some(address) = &self.scheduler_address {
            command.args(["--scheduler-host-address", address]);
        }
        command.args(&self.extra_args);
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        // Tokens go through the environment, as they do in production.
        command.env_remove("DAPR_API_TOKEN").env_remove("APP_API_TOKEN");
        if let Some(token) = &self.api_token {
            command.env("DAPR_API_TOKEN", token);
        }
        if let Some(token) = &self.app_api_token {
            command.env("APP_API_TOKEN", token);
        }

        let name = format!("daprd[{}]", self.app_id);
        let log_file = self.log_file.clone().unwrap_or_else(|| dir.path().join("daprd.log"));
        let mut process = if self.own_process_group {
            ManagedProcess::spawn_in_own_group(name, command, &log_file)?
        } else {
            ManagedProcess::spawn(name, command, &log_file)?
        };
        let health = if self.wait_for_app {
            "/v1.0/healthz"
        } else {
            "/v1.0/healthz/outbound"
        };
        let url = format!("http://127.0.0.1:{http_port}{health}");
        process.wait_until_ready(START_TIMEOUT, || answers_2xx(&url)).await?;
        if self.scheduler_address.is_some() {
            // The health endpoints do not cover the scheduler connection, which comes up 0.1-0.8 s
            // later; workflow and job calls made before it wait or fail.
            let metadata_url = format!("http://127.0.0.1:{http_port}/v1.0/metadata");
            let token = self.api_token.clone();
            process
                .wait_until_ready(START_TIMEOUT, || {
                    metadata_shows(&metadata_url, token.as_deref(), |metadata| {
                        metadata["scheduler"]["connected_addresses"]
                            .as_array()
                            .is_some_and(|addresses| !addresses.is_empty())
                    })
                })
                .await?;
        }
        Ok(Daprd {
            app_id: self.app_id.clone(),
            http_port,
            grpc_port,
            api_token: self.api_token.clone(),
            process,
            _dir: dir,
        })
    }
}

/// A running sidecar. Dropping it stops the process (and prints its log tail if a test panicked).
#[derive(Debug)]
pub struct Daprd {
    app_id: String,
    http_port: u16,
    grpc_port: u16,
    api_token: Option<String>,
    process: ManagedProcess,
    _dir: TempDir,
}

impl Daprd {
    /// A builder for a sidecar of app `app_id`, with nothing loaded.
    pub fn builder(app_id: impl Into<String>) -> DaprdBuilder {
        DaprdBuilder {
            app_id: app_id.into(),
            app_port: None,
            resources: Vec::new(),
            resources_dirs: Vec::new(),
            config: None,
            redis_address: None,
            placement_address: None,
            scheduler_address: None,
            api_token: None,
            app_api_token: None,
            secrets: None,
            wait_for_app: false,
            app_protocol: None,
            app_health_check_path: None,
            app_health_check: false,
            http_port: None,
            grpc_port: None,
            extra_args: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            log_file: None,
            own_process_group: false,
        }
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The sidecar's HTTP API, e.g. `http://127.0.0.1:41234`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The sidecar's gRPC API as an endpoint URL.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The HTTP port (what an app reads from `DAPR_HTTP_PORT`).
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The gRPC port (what an app reads from `DAPR_GRPC_PORT`).
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// An HTTP client that sends the sidecar's API token, when it has one.
    pub fn http_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &self.api_token {
            headers.insert(API_TOKEN_HEADER, token.parse().expect("API tokens are ASCII"));
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a reqwest client builds")
    }

    /// The raw gRPC client, sending the sidecar's API token when it has one.
    pub async fn grpc_client(&self) -> anyhow::Result<RawDaprClient> {
        let channel = Channel::from_shared(self.grpc_url())?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.grpc_url()))?;
        Ok(DaprClient::with_interceptor(
            channel,
            ApiTokenInterceptor::new(self.api_token.clone()),
        ))
    }

    /// The metadata API's answer (`GET /v1.0/metadata`): loaded components, subscriptions, …
    pub async fn metadata(&self) -> anyhow::Result<serde_json::Value> {
        let response = self
            .http_client()
            .get(format!("{}/v1.0/metadata", self.http_url()))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            bail!("GET /v1.0/metadata answered {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Waits until a workflow worker has connected to this sidecar and its workflow actor types
    /// are registered. Scheduling an instance before that works, but costs a steady 2 s inside
    /// daprd (it retries a missing built-in actor, then times out waiting for in-flight claims).
    pub async fn wait_for_workflow_worker(&self, timeout: Duration) -> anyhow::Result<()> {
        let workflow_actor = format!("dapr.internal.default.{}.workflow", self.app_id);
        let url = format!("{}/v1.0/metadata", self.http_url());
        let started = std::time::Instant::now();
        while !metadata_shows(&url, self.api_token.as_deref(), |metadata| {
            metadata["actorRuntime"]["activeActors"]
                .as_array()
                .is_some_and(|actors| actors.iter().any(|actor| actor["type"] == workflow_actor))
        })
        .await
        {
            if started.elapsed() > timeout {
                bail!(
                    "no workflow worker registered {workflow_actor} with daprd[{}] within {timeout:?}; metadata: {}",
                    self.app_id,
                    self.metadata().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        Ok(())
    }

    /// Everything daprd has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The last lines of daprd's log, for failure reports.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Where daprd's log is.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// daprd's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// daprd's exit status, if it has exited.
    pub fn try_exit_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.process.try_exit_status()
    }

    /// Stops daprd gracefully: SIGTERM, then waits up to `timeout` for it to exit and returns its
    /// exit status (killed and an error after `timeout`). Dropping the handle instead kills it.
    ///
    /// Drop the clients of [`Daprd::http_client`] first: a pooled connection that was opened but
    /// never used holds daprd's HTTP server for up to 5 s, its whole graceful-shutdown budget,
    /// and daprd then exits with status 1 (docs/HARNESS.md).
    pub async fn stop(mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.process.terminate(timeout).await
    }
}

/// True when the metadata API at `url` answers and `condition` holds for its document.
async fn metadata_shows(url: &str, token: Option<&str>, condition: impl Fn(&serde_json::Value) -> bool) -> bool {
    let mut request = crate::http_probe::probe_client().get(url);
    if let Some(token) = token {
        request = request.header(API_TOKEN_HEADER, token);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => response
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|metadata| condition(&metadata)),
        _ => false,
    }
}
