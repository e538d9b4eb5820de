//! Start-up and serving: wait for the sidecar, build the module, bind the listeners, serve until
//! told to stop, then drain within `shutdown_timeout_ms`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use data::sidecar::DaprSidecar;
use service::{HttpLimits, HttpState, ReadinessCheck};
use shaku::HasComponent;
use tokio::net::TcpListener;
use tokio::task::{JoinError, JoinSet};
// The order-saga example: failure injection, read from the environment at start-up.
pub(crate) mod failure_injection;
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
    shutdown_timeout: Duration,
}

impl Application {
    /// Waits for the sidecar (at most `sidecar_wait_ms`), wires the module over it and binds the
    /// listeners. Fails with a message naming the sidecar's address when it does not come up.
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
        Self::with_module(settings, module, Arc::new(SidecarReadiness(sidecar))).await
    }

    /// Binds the listeners and wires the transports over an already built module: [`Application::build`]
    /// uses it, and tests call it with a module whose adapters are replaced by test doubles
    /// (no sidecar needed).
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
            accounts: module.resolve(),
            idempotency: module.resolve(),
            transfers: module.resolve(),
            failure_injection: failure_injection::at_start_up()?,
            charges: module.resolve(),
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
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let shutdown = Shutdown::new();
        let mut servers = JoinSet::new();
        let http_port = self.port();
        let http = axum::serve(self.http, self.router).with_graceful_shutdown(shutdown.triggered());
        servers.spawn(async move { ("HTTP", http.await.map_err(anyhow::Error::from)) });
        tracing::info!(http_port, "serving");

        let mut stop = std::pin::pin!(stop);
        let mut failures: Vec<anyhow::Error> = Vec::new();
        tokio::select! {
            () = &mut stop => {}
            Some(ended) = servers.join_next() => failures.extend(server_failure(ended, true)),
        }
        shutdown.trigger();
        let servers_drained = async {
            while let Some(ended) = servers.join_next().await {
                failures.extend(server_failure(ended, false));
            }
        };
        let drain = servers_drained;
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
