//! [`TestService`]: payment itself, in this test process, next to a daprd of its own.

use std::collections::HashMap;
use std::time::Duration;

use crate::client::AccountClient;
use crate::events::EventStream;
use crate::process::{StartError, answers_2xx, free_port, start_with_retries};
use crate::redis::Redis;
use crate::runtime::service_root;
use crate::sidecar::{Sidecar, SidecarOptions, SidecarPorts, components_use_redis};
use anyhow::{Context, anyhow};
use payment::{Application, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The pub/sub component of `components/` the service publishes and subscribes through.
pub const PUBSUB_NAME: &str = "pubsub";
/// The topic the state store's outbox publishes every domain event to.
pub const DOMAIN_EVENTS_TOPIC: &str = "domain-events";
/// The topic the service takes adjustment requests from.
pub const ADJUSTMENTS_TOPIC: &str = "accounts-adjustments";
/// Where the sidecar puts adjustment requests the service answered with DROP.
pub const ADJUSTMENTS_DEAD_LETTER_TOPIC: &str = "accounts-adjustments-dead";
/// The app id, as in `dapr.yaml`.
const APP_ID: &str = "payment";
/// The configuration file the service is started with, as `cargo run` reads it.
const CONFIG_FILE: &str = "config/default.toml";
/// How long the service may take to become ready once its sidecar runs.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`TestService::stop`] waits for the service to return.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// payment running in this process on free ports, with its own sidecar (and redis). Everything stops when it is dropped.
pub struct TestService {
    http: reqwest::Client,
    http_url: String,
    app_api_token: String,
    stop: Option<oneshot::Sender<()>>,
    app: Option<JoinHandle<anyhow::Result<()>>>,
    sidecar: Option<Sidecar>,
    _redis: Option<Redis>,
}

impl std::fmt::Debug for TestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestService")
            .field("http_url", &self.http_url)
            .finish_non_exhaustive()
    }
}

impl TestService {
    /// Starts everything and returns once the service is ready: the sidecar has found the app and
    /// loaded its subscriptions, and `/readyz` answers 200.
    ///
    /// The sidecar starts first, told which port the app will listen on; the app then starts with
    /// `config/default.toml` and the variables `dapr run` would give it (sidecar ports, API
    /// tokens, `APP_PORT`). It waits for the sidecar itself, as it does in production.
    pub async fn start() -> anyhow::Result<Self> {
        init_logging();
        let redis = match components_use_redis()? {
            true => Some(Redis::start().await?),
            false => None,
        };
        let options = SidecarOptions {
            app_id: APP_ID.to_owned(),
            // Chosen afresh on every attempt below.
            app_port: 0,
            api_token: Some(random_token()),
            app_api_token: random_token(),
            redis_address: redis.as_ref().map(Redis::address),
            placement_address: None,
            scheduler_address: None,
        };
        let started = start_with_retries("payment and its sidecar", || {
            let mut options = options.clone();
            async move {
                options.app_port = free_port()?;
                let sidecar = Sidecar::start(&options, SidecarPorts::pick()?).await?;
                let application = Application::build(settings(&options, &sidecar)?)
                    .await
                    .map_err(|error| match is_address_in_use(&error) {
                        true => StartError::PortTaken,
                        false => StartError::Failed(error.context(format!(
                            "building the application; last lines of daprd's log:\n{}",
                            sidecar.log_tail()
                        ))),
                    })?;
                Ok((sidecar, application))
            }
        })
        .await?;
        let (sidecar, application) = started;

        let http_url = format!("http://127.0.0.1:{}", application.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = tokio::spawn(application.run_until(async {
            // A dropped sender stops the service too.
            let _ = stopped.await;
        }));
        let mut service = Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            http_url,
            app_api_token: options.app_api_token,
            stop: Some(stop),
            app: Some(app),
            sidecar: Some(sidecar),
            _redis: redis,
        };
        service.wait_until_ready().await?;
        Ok(service)
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let sidecar = self
            .sidecar
            .as_mut()
            .expect("the sidecar runs while starting");
        sidecar.wait_for_app().await?;
        sidecar
            .wait_for_metadata(
                &format!("the subscription to {ADJUSTMENTS_TOPIC}"),
                READY_TIMEOUT,
                |metadata| {
                    metadata["subscriptions"]
                        .as_array()
                        .is_some_and(|subscriptions| {
                            subscriptions
                                .iter()
                                .any(|s| s["topic"] == ADJUSTMENTS_TOPIC)
                        })
                },
            )
            .await?;
        let readyz = self.url("/readyz");
        let started = std::time::Instant::now();
        while !answers_2xx(&readyz).await {
            if let Some(app) = &self.app
                && app.is_finished()
            {
                let outcome = self.app.take().expect("checked above").await;
                return Err(anyhow!("the service stopped while starting: {outcome:?}"));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(anyhow!(
                    "{readyz} did not answer 200 within {READY_TIMEOUT:?}; last lines of daprd's log:\n{}",
                    self.sidecar().log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The URL of `path` on the service's HTTP server, e.g. `service.url("/healthz")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http_url)
    }

    /// A plain HTTP client (no default headers), for calling the service.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The typed client of the account API (HTTP).
    pub async fn client(&self) -> anyhow::Result<AccountClient> {
        Ok(AccountClient::new(self.http.clone(), self.http_url.clone()))
    }

    /// The token the sidecar presents to the service (`APP_API_TOKEN`, header `dapr-api-token`).
    pub fn app_api_token(&self) -> &str {
        &self.app_api_token
    }

    /// The service's sidecar.
    pub fn sidecar(&self) -> &Sidecar {
        self.sidecar
            .as_ref()
            .expect("the sidecar was stopped by stop_sidecar")
    }

    /// Subscribes to `topic` through the service's sidecar; see [`EventStream`].
    pub async fn subscribe(&self, topic: &str) -> anyhow::Result<EventStream> {
        EventStream::subscribe(self.sidecar(), PUBSUB_NAME, topic).await
    }

    /// Subscribes to the domain events the service publishes ([`DOMAIN_EVENTS_TOPIC`]). Subscribe
    /// before acting: only events published afterwards are received.
    pub async fn domain_events(&self) -> anyhow::Result<EventStream> {
        self.subscribe(DOMAIN_EVENTS_TOPIC).await
    }

    /// Publishes `data` to `topic` as CloudEvent `event_id`, as another service would.
    pub async fn publish(
        &self,
        topic: &str,
        event_id: &str,
        data: &serde_json::Value,
    ) -> anyhow::Result<()> {
        self.sidecar()
            .publish(PUBSUB_NAME, topic, event_id, data)
            .await
    }

    /// Stops the sidecar, leaving the service running without it.
    pub fn stop_sidecar(&mut self) {
        self.sidecar = None;
    }

    /// Asks the service to stop, as SIGTERM does, and returns what `run_until` returned: `Ok`
    /// when every server drained within the shutdown timeout.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let app = self
            .app
            .take()
            .ok_or_else(|| anyhow!("the service had already stopped"))?;
        tokio::time::timeout(STOP_TIMEOUT, app)
            .await
            .map_err(|_| anyhow!("the service did not stop within {STOP_TIMEOUT:?}"))?
            .context("the service task panicked")?
    }
}

/// The service's configuration: `config/default.toml` plus the variables `dapr run` sets.
fn settings(options: &SidecarOptions, sidecar: &Sidecar) -> anyhow::Result<Settings> {
    let ports = sidecar.ports();
    let mut variables = HashMap::from([
        ("APP_PORT".to_owned(), options.app_port.to_string()),
        ("DAPR_HTTP_PORT".to_owned(), ports.http.to_string()),
        ("DAPR_GRPC_PORT".to_owned(), ports.grpc.to_string()),
        ("APP_API_TOKEN".to_owned(), options.app_api_token.clone()),
    ]);
    variables.extend(
        options
            .api_token
            .clone()
            .map(|token| ("DAPR_API_TOKEN".to_owned(), token)),
    );
    Settings::load_from(&service_root().join(CONFIG_FILE), variables)
        .context("loading config/default.toml")
}

/// Whether `error` comes from binding a port someone else holds.
fn is_address_in_use(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    })
}

/// A fresh secret for one test's API tokens.
fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Sends the service's logs to the test output (shown for failing tests), at the level in
/// `TEST_LOG` (`tracing_subscriber::EnvFilter` syntax; default `warn`).
fn init_logging() {
    let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}
