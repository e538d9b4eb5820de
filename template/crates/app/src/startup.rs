//! Start-up and serving: wait for the sidecar, build the module, bind the listeners, serve until
//! told to stop, then drain within `shutdown_timeout_ms`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
{%- if with_workflow %}
use biz::error::RepoError;
use data::dapr_workflow::{RestockWorker, WorkflowActivities, start_restock_worker};
{%- endif %}
use data::sidecar::DaprSidecar;
{%- if grpc %}
use service::grpc::{{Resource}}Grpc;
{%- endif %}
use service::{HttpLimits, HttpState, ReadinessCheck};
use shaku::HasComponent;
use tokio::net::TcpListener;
{%- if grpc %}
use tonic::service::Routes;
{%- endif %}
use tokio::task::{JoinError, JoinSet};
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
{%- if grpc %}
    grpc: TcpListener,
    grpc_routes: Routes,
{%- endif %}
{%- if with_workflow %}
    workflow_worker: Option<WorkflowWorkerSetup>,
{%- endif %}
    shutdown_timeout: Duration,
}
{%- if with_workflow %}

/// What the workflow worker needs. It is started once the servers run: the sidecar registers a
/// worker only after it has reached the app on its port.
struct WorkflowWorkerSetup {
    sidecar: DaprSidecar,
    activities: WorkflowActivities,
}
{%- endif %}

impl Application {
    /// Waits for the sidecar (at most `sidecar_wait_ms`), wires the module over it and binds the
    /// listeners. Fails with a message naming the sidecar's address when it does not come up.
{%- if with_workflow %}
    /// The workflow worker starts later, in [`Application::run_until`].
{%- endif %}
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let sidecar = DaprSidecar::new(settings.dapr.sidecar.clone()).context("invalid [dapr] configuration")?;
        sidecar.wait_until_ready(settings.sidecar_wait()).await.with_context(|| {
            format!(
                "the Dapr sidecar at {} did not become healthy within sidecar_wait_ms = {} ms; is it running \
                 (`dapr run -f .`), and do DAPR_HTTP_PORT / DAPR_GRPC_PORT point at it?",
                settings.dapr.sidecar.http_endpoint, settings.sidecar_wait_ms
            )
        })?;
        tracing::info!(sidecar = %settings.dapr.sidecar.grpc_endpoint, "Dapr sidecar is healthy");
        let module = Arc::new(module::builder(&sidecar).build());
{%- if with_workflow %}
        let workflow_worker = WorkflowWorkerSetup {
            sidecar: sidecar.clone(),
            activities: WorkflowActivities {
                {{resources}}: module.resolve(),
                // daprgen:anchor workflow-activities-resolve
            },
        };
        let mut application = Self::with_module(settings, module, Arc::new(SidecarReadiness(sidecar))).await?;
        application.workflow_worker = Some(workflow_worker);
        Ok(application)
{%- else %}
        Self::with_module(settings, module, Arc::new(SidecarReadiness(sidecar))).await
{%- endif %}
    }

    /// Binds the listeners and wires the transports over an already built module: [`Application::build`]
    /// uses it, and tests call it with a module whose adapters are replaced by test doubles
    /// (no sidecar needed{% if with_workflow %}; no workflow worker is started{% endif %}).
    pub async fn with_module(
        settings: Settings,
        module: Arc<AppModule>,
        readiness: Arc<dyn ReadinessCheck>,
    ) -> anyhow::Result<Self> {
        let http_address = SocketAddr::new(settings.http.host, settings.http.port);
        let http = TcpListener::bind(http_address)
            .await
            .with_context(|| format!("cannot listen for HTTP on {http_address} (http.host, http.port)"))?;
{%- if grpc %}
        let grpc_address = SocketAddr::new(settings.grpc.host, settings.grpc.port);
        let grpc = TcpListener::bind(grpc_address)
            .await
            .with_context(|| format!("cannot listen for gRPC on {grpc_address} (grpc.host, grpc.port)"))?;
{%- endif %}
        let state = HttpState {
{%- if http %}
            {{resources}}: module.resolve(),
            idempotency: module.resolve(),
{%- if with_lock %}
            transfers: module.resolve(),
{%- endif %}
{%- if with_workflow %}
            restocks: module.resolve(),
{%- endif %}
{%- endif %}
            // daprgen:anchor http-state-resolve
            adjustments: module.resolve(),
            readiness,
            app_api_token: settings.dapr.app_api_token.as_ref().map(|token| token.expose().to_owned()),
            pubsub_name: settings.dapr.pubsub.clone(),
            limits: HttpLimits {
                body_limit_bytes: settings.http.body_limit_bytes,
                request_timeout: settings.http.request_timeout(),
            },
        };
        if state.app_api_token.is_none() {
            tracing::warn!("APP_API_TOKEN is not set: anyone who can reach the app may deliver events to it");
        }
        let router = service::router(state).layer(telemetry::http_trace_layer());
{%- if grpc %}
        let grpc_routes = Routes::new(
            {{Resource}}Grpc::new(
                module.resolve(),
{%- if with_lock %}
                module.resolve(),
{%- endif %}
{%- if with_workflow %}
                module.resolve(),
{%- endif %}
            )
            .into_server(),
        );
        // daprgen:anchor grpc-services
{%- endif %}
        Ok(Self {
            http,
            router,
{%- if grpc %}
            grpc,
            grpc_routes,
{%- endif %}
{%- if with_workflow %}
            workflow_worker: None,
{%- endif %}
            shutdown_timeout: settings.shutdown_timeout(),
        })
    }

    /// The HTTP port bound (the one asked for, or the one the system picked for port 0).
    pub fn port(&self) -> u16 {
        local_port(&self.http)
    }
{%- if grpc %}

    /// The gRPC port bound.
    pub fn grpc_port(&self) -> u16 {
        local_port(&self.grpc)
    }
{%- endif %}

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown::signal()).await
    }

    /// Serves until `stop` completes, then stops accepting connections and lets the requests in
    /// flight finish, for at most `shutdown_timeout_ms`; what is left then is dropped. Returns an
    /// error if a server failed on its own.
{%- if with_workflow %}
    ///
    /// The workflow worker starts once the servers run (the sidecar registers a worker only after
    /// it has reached the app), and stops during the drain; a worker that cannot start stops the
    /// application with an error.
{%- endif %}
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        let mut servers = JoinSet::new();
        let http_port = self.port();
        let http = axum::serve(self.http, self.router).with_graceful_shutdown(shutdown.triggered());
        servers.spawn(async move { ("HTTP", http.await.map_err(anyhow::Error::from)) });
{%- if grpc %}
        let grpc_port = local_port(&self.grpc);
        let grpc = tonic::transport::Server::builder()
            .layer(telemetry::grpc_trace_layer())
            .add_routes(self.grpc_routes)
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(self.grpc), shutdown.triggered());
        servers.spawn(async move { ("gRPC", grpc.await.map_err(anyhow::Error::from)) });
        tracing::info!(http_port, grpc_port, "serving");
{%- else %}
        tracing::info!(http_port, "serving");
{%- endif %}
{%- if with_workflow %}
        let workflow_worker = self.workflow_worker;
        let mut worker_start = tokio::spawn(async move {
            match workflow_worker {
                Some(setup) => start_restock_worker(&setup.sidecar, setup.activities).await.map(Some),
                None => Ok(None),
            }
        });
        let mut worker_starting = true;
        let mut worker = None;
{%- endif %}

        let mut stop = std::pin::pin!(stop);
        let mut failures: Vec<anyhow::Error> = Vec::new();
{%- if with_workflow %}
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
{%- else %}
        tokio::select! {
            () = &mut stop => {}
            Some(ended) = servers.join_next() => failures.extend(server_failure(ended, true)),
        }
{%- endif %}
        shutdown.trigger();
{%- if with_workflow %}
        if worker_starting {
            // Dropping a half-started worker stops it.
            worker_start.abort();
        }
{%- endif %}
        let servers_drained = async {
            while let Some(ended) = servers.join_next().await {
                failures.extend(server_failure(ended, false));
            }
        };
{%- if with_workflow %}
        let worker_stopped = async {
            if let Some(worker) = worker
                && let Err(error) = worker.shutdown().await
            {
                tracing::warn!(%error, "the workflow worker did not stop cleanly");
            }
        };
        let drain = async { tokio::join!(servers_drained, worker_stopped) };
{%- else %}
        let drain = servers_drained;
{%- endif %}
        if tokio::time::timeout(self.shutdown_timeout, drain).await.is_err() {
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
    listener.local_addr().map(|address| address.port()).unwrap_or_default()
}

/// The error a server ended with, if any. Ending without an error is one too if it happened
/// `early`, before the shutdown was triggered.
fn server_failure(ended: Result<(&'static str, anyhow::Result<()>), JoinError>, early: bool) -> Option<anyhow::Error> {
    match ended {
        Ok((name, Ok(()))) => early.then(|| anyhow::anyhow!("the {name} server stopped before it was asked to")),
        Ok((name, Err(error))) => Some(error.context(format!("the {name} server failed"))),
        Err(error) => Some(anyhow::Error::from(error).context("a server task panicked")),
    }
}
{%- if with_workflow %}

/// The workflow worker, once its start task has ended; an error if it could not start.
fn worker_started(
    started: Result<Result<Option<RestockWorker>, RepoError>, JoinError>,
) -> anyhow::Result<Option<RestockWorker>> {
    match started {
        Ok(started) => started.context("the workflow worker did not start (placement and scheduler reachable?)"),
        Err(panicked) => Err(anyhow::Error::from(panicked).context("starting the workflow worker panicked")),
    }
}
{%- endif %}
