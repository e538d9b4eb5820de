//! Start-up and serving: wait for the sidecar, build the module, bind the listeners, serve until
//! told to stop, then drain within `shutdown_timeout_ms`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use biz::error::RepoError;
use data::dapr_workflow::{RestockWorker, WorkflowActivities, start_restock_worker};
use data::sidecar::DaprSidecar;
use service::{HttpLimits, HttpState, ReadinessCheck};
use shaku::HasComponent;
use tokio::net::TcpListener;
use tokio::task::{JoinError, JoinSet};
// The order-saga example: failure injection, read from the environment at start-up.
pub(crate) mod failure_injection;
// The order-saga example: crash_after, aborting right after a saga operation succeeded.
pub(crate) mod crash_after;
// daprgen:anchor startup-imports

use crate::config::Settings;
use crate::module::{self, AppModule};
use crate::shutdown::{self, Shutdown};
use crate::telemetry;

/// [`ReadinessCheck`] over the sidecar: ready while it is healthy and has this service's
/// components loaded.
pub struct SidecarReadiness(pub DaprSidecar);

#[async_trait]
impl ReadinessCheck for SidecarReadiness {
    async fn check(&self) -> Result<(), String> {
        self.0.readiness().await.map_err(|error| error.to_string())
    }
}

/// The service, built and bound, not yet serving.
pub struct Application {
    http: TcpListener,
    router: axum::Router,
    workflow_worker: Option<WorkflowWorkerSetup>,
    shutdown_timeout: Duration,
}

/// What the workflow worker needs. It is started once the servers run: the sidecar registers a
/// worker only after it has reached the app on its port.
struct WorkflowWorkerSetup {
    sidecar: DaprSidecar,
    activities: WorkflowActivities,
}

impl Application {
    /// Waits for the sidecar (at most `sidecar_wait_ms`), wires the module over it and binds the
    /// listeners. Fails with a message naming the sidecar's address when it does not come up.
    /// The workflow worker starts later, in [`Application::run_until`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let sidecar = DaprSidecar::new(settings.dapr.sidecar.clone())
            .context("invalid [dapr] configuration")?;
        sidecar.wait_until_ready(settings.sidecar_wait()).await.with_context(|| {
            format!(
                "the Dapr sidecar at {} did not become healthy within sidecar_wait_ms = {} ms; is it running \
                 (`dapr run -f .`), and do DAPR_HTTP_PORT / DAPR_GRPC_PORT point at it?",
                settings.dapr.sidecar.http_endpoint, settings.sidecar_wait_ms
            )
        })?;
        tracing::info!(sidecar = %settings.dapr.sidecar.grpc_endpoint, "Dapr sidecar is healthy");
        let module = Arc::new(module::builder(&sidecar).build());
        let workflow_worker = WorkflowWorkerSetup {
            sidecar: sidecar.clone(),
            activities: WorkflowActivities {
                orders: module.resolve(),
                order_fulfilment_saga_steps: module.resolve(),
                // daprgen:anchor workflow-activities-resolve
            },
        };
        let mut application =
            Self::with_module(settings, module, Arc::new(SidecarReadiness(sidecar))).await?;
        application.workflow_worker = Some(workflow_worker);
        Ok(application)
    }

    /// Binds the listeners and wires the transports over an already built module: [`Application::build`]
    /// uses it, and tests call it with a module whose adapters are replaced by test doubles
    /// (no sidecar needed; no workflow worker is started).
    pub async fn with_module(
        settings: Settings,
        module: Arc<AppModule>,
        readiness: Arc<dyn ReadinessCheck>,
    ) -> anyhow::Result<Self> {
        let http_address = SocketAddr::new(settings.http.host, settings.http.port);
        let http = TcpListener::bind(http_address).await.with_context(|| {
            format!("cannot listen for HTTP on {http_address} (http.host, http.port)")
        })?;
        let state = HttpState {
            orders: module.resolve(),
            idempotency: module.resolve(),
            restocks: module.resolve(),
            order_fulfilment_sagas: module.resolve(),
            failure_injection: failure_injection::at_start_up()?,
            fulfilments: module.resolve(),
            // daprgen:anchor http-state-resolve
            adjustments: module.resolve(),
            readiness,
            app_api_token: settings
                .dapr
                .app_api_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
            pubsub_name: settings.dapr.pubsub.clone(),
            limits: HttpLimits {
                body_limit_bytes: settings.http.body_limit_bytes,
                request_timeout: settings.http.request_timeout(),
            },
        };
        if state.app_api_token.is_none() {
            tracing::warn!(
                "APP_API_TOKEN is not set: anyone who can reach the app may deliver events to it"
            );
        }
        let router = service::router(state).layer(telemetry::http_trace_layer());
        Ok(Self {
            http,
            router,
            workflow_worker: None,
            shutdown_timeout: settings.shutdown_timeout(),
        })
    }

    /// The HTTP port bound (the one asked for, or the one the system picked for port 0).
    pub fn port(&self) -> u16 {
        local_port(&self.http)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown::signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections and lets the requests in
    /// flight finish, for at most `shutdown_timeout_ms`; what is left then is dropped. Returns an
    /// error if a server failed on its own.
    ///
    /// The workflow worker starts once the servers run (the sidecar registers a worker only after
    /// it has reached the app), and stops during the drain; a worker that cannot start stops the
    /// application with an error.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        let mut servers = JoinSet::new();
        let http_port = self.port();
        let http = axum::serve(self.http, self.router).with_graceful_shutdown(shutdown.triggered());
        servers.spawn(async move { ("HTTP", http.await.map_err(anyhow::Error::from)) });
        tracing::info!(http_port, "serving");
        let workflow_worker = self.workflow_worker;
        let mut worker_start = tokio::spawn(async move {
            match workflow_worker {
                Some(setup) => start_restock_worker(&setup.sidecar, setup.activities)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        });
        let mut worker_starting = true;
        let mut worker = None;

        let mut stop = std::pin::pin!(stop);
        let mut failures: Vec<anyhow::Error> = Vec::new();
        loop {
            tokio::select! {
                () = &mut stop => break,
                Some(ended) = servers.join_next() => {
                    failures.extend(server_failure(ended, true));
                    break;
                }
                started = &mut worker_start, if worker_starting => {
                    worker_starting = false;
                    match worker_started(started) {
                        Ok(started) => worker = started,
                        Err(error) => {
                            failures.push(error);
                            break;
                        }
                    }
                }
            }
        }
        shutdown.trigger();
        if worker_starting {
            // Dropping a half-started worker stops it.
            worker_start.abort();
        }
        let servers_drained = async {
            while let Some(ended) = servers.join_next().await {
                failures.extend(server_failure(ended, false));
            }
        };
        let worker_stopped = async {
            if let Some(worker) = worker
                && let Err(error) = worker.shutdown().await
            {
                tracing::warn!(%error, "the workflow worker did not stop cleanly");
            }
        };
        let drain = async { tokio::join!(servers_drained, worker_stopped) };
        if tokio::time::timeout(self.shutdown_timeout, drain)
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_ms = self.shutdown_timeout.as_millis(),
                "graceful shutdown took longer than shutdown_timeout_ms; dropping the requests still in flight"
            );
            servers.abort_all();
        }
        match failures.into_iter().next() {
            Some(failure) => Err(failure),
            None => {
                tracing::info!("stopped");
                Ok(())
            }
        }
    }
}

fn local_port(listener: &TcpListener) -> u16 {
    listener
        .local_addr()
        .map(|address| address.port())
        .unwrap_or_default()
}

/// The error a server ended with, if any. Ending without an error is one too if it happened
/// `early`, before the shutdown was triggered.
fn server_failure(
    ended: Result<(&'static str, anyhow::Result<()>), JoinError>,
    early: bool,
) -> Option<anyhow::Error> {
    match ended {
        Ok((name, Ok(()))) => {
            early.then(|| anyhow::anyhow!("the {name} server stopped before it was asked to"))
        }
        Ok((name, Err(error))) => Some(error.context(format!("the {name} server failed"))),
        Err(error) => Some(anyhow::Error::from(error).context("a server task panicked")),
    }
}

/// The workflow worker, once its start task has ended; an error if it could not start.
fn worker_started(
    started: Result<Result<Option<RestockWorker>, RepoError>, JoinError>,
) -> anyhow::Result<Option<RestockWorker>> {
    match started {
        Ok(started) => started
            .context("the workflow worker did not start (placement and scheduler reachable?)"),
        Err(panicked) => {
            Err(anyhow::Error::from(panicked).context("starting the workflow worker panicked"))
        }
    }
}
