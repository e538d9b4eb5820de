//! The example running: its `dapr.yaml`, started by the harness's stand-in for `dapr run -f`
//! with the prebuilt binaries instead of `cargo run`, and the failure injection asked for.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dapr_harness::{MultiAppRun, RunFile, RunOptions, StopReport};

use crate::build::{Binaries, build};
use crate::client::SagaClient;
use crate::progress;
use crate::settings::Settings;

/// The variable that enables failure injection in the three services (see the example's README).
pub const FAILURE_INJECTION_VAR: &str = "ORDER_SAGA_FAILURE_INJECTION";
/// The app that orchestrates the sagas.
const ORDER_APP: &str = "order";
/// The topic the services' outboxes publish to (a redis stream on `dapr init`'s redis).
const EVENTS_STREAM: &str = "domain-events";
/// How long the outbox must stay quiet before the stack is stopped (see [`SagaStack::stop`]).
const OUTBOX_QUIET: Duration = Duration::from_millis(1500);
/// The longest wait for the outbox to go quiet.
const OUTBOX_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The three services and their sidecars, running. Dropping it kills every process it started;
/// [`SagaStack::stop`] stops them gracefully.
#[derive(Debug)]
pub struct SagaStack {
    run: MultiAppRun,
    client: SagaClient,
}

impl SagaStack {
    /// Runs the example's `dapr.yaml` with `binaries` as the apps' commands and, when `injection`
    /// is given, `ORDER_SAGA_FAILURE_INJECTION=<injection>` for the three apps (never for their
    /// sidecars). Logs go to files (`<service>/.dapr/logs`), progress to stderr. Returns once every
    /// app and sidecar is ready.
    pub async fn start(settings: &Settings, binaries: &Binaries, injection: Option<&str>) -> anyhow::Result<SagaStack> {
        let mut file = RunFile::load(&settings.example_dir)?;
        for app in file.apps_mut() {
            let binary = binaries
                .path(&app.app_id)
                .with_context(|| format!("no binary was built for app {}", app.app_id))?;
            app.command = vec![binary.to_string_lossy().into_owned()];
            if let Some(injection) = injection {
                app.env.insert(FAILURE_INJECTION_VAR.to_owned(), injection.to_owned());
            }
        }
        let options = RunOptions::default()
            // Only what this stack asks for: not a variable the caller's shell happens to export.
            .env_remove(FAILURE_INJECTION_VAR)
            .console(false)
            // The binaries are built already: a minute is plenty.
            .app_ready_timeout(Duration::from_secs(60))
            .reporter(|line| progress(format_args!("stack: {line}")));
        let started = Instant::now();
        let run = MultiAppRun::start(&file, options).await?;
        let url = |id: &str| {
            run.app(id)
                .and_then(|app| app.app_url())
                .with_context(|| format!("dapr.yaml has no app {id} with an appPort"))
        };
        let client = SagaClient::new(url(ORDER_APP)?, url("inventory")?, url("payment")?)?;
        progress(format_args!(
            "stack ready in {:.1}s (failure injection: {}); logs in <service>/.dapr/logs",
            started.elapsed().as_secs_f64(),
            injection.unwrap_or("off")
        ));
        Ok(SagaStack { run, client })
    }

    /// A client of the three services.
    pub fn client(&self) -> &SagaClient {
        &self.client
    }

    /// The base URL of the HTTP API of app `app_id`'s sidecar, e.g. `http://127.0.0.1:3500`.
    pub fn sidecar_url(&self, app_id: &str) -> anyhow::Result<String> {
        let app = self
            .run
            .app(app_id)
            .with_context(|| format!("dapr.yaml has no app {app_id}"))?;
        Ok(format!("http://127.0.0.1:{}", app.dapr_http_port()))
    }

    /// The harness's run, e.g. for the apps' ports and log files.
    pub fn run(&self) -> &MultiAppRun {
        &self.run
    }

    /// Kills the order app's process (SIGKILL); its sidecar keeps running.
    pub fn kill_order_app(&mut self) -> anyhow::Result<ExitStatus> {
        self.run.kill_app(ORDER_APP)
    }

    /// Waits up to `timeout` for the order app to exit by itself (a `crash_after` injection).
    pub async fn wait_for_order_app_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.run.wait_for_app_exit(ORDER_APP, timeout).await
    }

    /// Starts the order app again next to its sidecar, killing it first if it still runs, with
    /// failure injection set to `injection` (`None`: off), and waits until it is ready.
    pub async fn restart_order_app(&mut self, injection: Option<&str>) -> anyhow::Result<()> {
        self.run
            .restart_app(ORDER_APP, &[(FAILURE_INJECTION_VAR, injection)])
            .await
    }

    /// Stops everything gracefully: the apps, then the sidecars, then what the run started.
    ///
    /// It first waits until the outbox has been quiet for a moment: daprd 1.18 stopped within about
    /// a second of an outbox transaction waits out its whole shutdown budget and exits 1
    /// (docs/HARNESS.md), which would make a clean run look broken.
    pub async fn stop(self) -> anyhow::Result<StopReport> {
        if let Err(error) = outbox_settled().await {
            progress(format_args!("the outbox did not settle before the stop: {error:#}"));
        }
        drop(self.client);
        self.run.stop().await
    }
}

/// Builds the example ([`build()`]), starts it with failure injection `injection` (see
/// [`SagaStack::start`]) and runs `work` on it; then stops it gracefully whatever `work` returned,
/// reporting how the stop went as progress, and returns what `work` returned. Ctrl-C interrupts any
/// step; the stack, once started, is stopped all the same. What `make demo` and `saga-bench` do.
pub async fn run_example<T>(
    settings: &Settings,
    injection: Option<&str>,
    work: impl AsyncFnOnce(&SagaStack) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let binaries = tokio::select! {
        built = build(settings) => built?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted during the build"),
    };
    let stack = tokio::select! {
        started = SagaStack::start(settings, &binaries, injection) => started?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted during the start"),
    };
    // Whatever happens now, the stack is stopped before the outcome is reported.
    let outcome = tokio::select! {
        outcome = work(&stack) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    progress(format_args!("stopping the stack"));
    match stack.stop().await {
        Ok(report) => progress(format_args!("stopped cleanly:\n{report}")),
        Err(error) => progress(format_args!("the stop was not clean: {error:#}")),
    }
    outcome
}

/// Waits until the `domain-events` stream has not changed for [`OUTBOX_QUIET`]. The outbox
/// publishes about a second after each commit, and there is no other signal that it is done.
async fn outbox_settled() -> anyhow::Result<()> {
    let read = || dapr_harness::redis_stream_entries(dapr_harness::LOCAL_REDIS_PORT, EVENTS_STREAM);
    let started = Instant::now();
    let (mut last, mut since) = (read().await?, Instant::now());
    while since.elapsed() < OUTBOX_QUIET {
        if started.elapsed() > OUTBOX_SETTLE_TIMEOUT {
            bail!("events were still being published after {OUTBOX_SETTLE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = read().await?;
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    Ok(())
}
