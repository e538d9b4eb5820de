//! The application as `main` runs it, on free ports, over a module of mocks: it serves the
//! probes, and on the stop signal it lets requests in flight finish, but no longer than
//! `shutdown_timeout_ms`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::Adapters;
use inventory::Application;
use service::ReadinessCheck;
use tokio::sync::{Notify, oneshot};

/// A readiness check that answers `verdict`, after `delay`; it signals `entered` when called, so
/// a test knows a request is in flight.
struct SlowReadiness {
    delay: Duration,
    verdict: Result<(), String>,
    entered: Arc<Notify>,
}

#[async_trait]
impl ReadinessCheck for SlowReadiness {
    async fn check(&self) -> Result<(), String> {
        self.entered.notify_one();
        tokio::time::sleep(self.delay).await;
        self.verdict.clone()
    }
}

struct Running {
    url: String,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
    entered: Arc<Notify>,
}

impl Running {
    /// Sends the stop signal and waits until the application has stopped.
    async fn stop(self) -> anyhow::Result<()> {
        self.stop.send(()).expect("the application is running");
        tokio::task::spawn_blocking(move || self.thread.join().expect("the application thread"))
            .await
            .unwrap()
    }
}

/// Starts the application as `main` does: on a runtime of its own, which ends when the
/// application returns, dropping every connection left (as the process exiting would).
async fn start(delay: Duration, verdict: Result<(), String>, shutdown_timeout_ms: &str) -> Running {
    let settings = common::settings(&[
        ("APP__HTTP__PORT", "0"),
        ("APP__SHUTDOWN_TIMEOUT_MS", shutdown_timeout_ms),
    ]);
    let entered = Arc::new(Notify::new());
    let readiness = Arc::new(SlowReadiness {
        delay,
        verdict,
        entered: entered.clone(),
    });
    let (bound, ports) = oneshot::channel();
    let (stop, stop_signal) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async move {
            let application =
                Application::with_module(settings, Adapters::default().module(), readiness).await?;
            let _ = bound.send(application.port());
            application
                .run_until(async {
                    let _ = stop_signal.await;
                })
                .await
        })
    });
    let port = ports.await.expect("the application starts");
    Running {
        url: format!("http://127.0.0.1:{port}"),
        stop,
        thread,
        entered,
    }
}

#[tokio::test]
async fn serves_liveness_and_readiness() {
    let running = start(Duration::ZERO, Ok(()), "5000").await;
    let client = reqwest::Client::new();
    let live = client
        .get(format!("{}/healthz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = client
        .get(format!("{}/readyz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_unready_sidecar_makes_readiness_fail_but_not_liveness() {
    let running = start(Duration::ZERO, Err("sidecar down".into()), "5000").await;
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{}/readyz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    assert!(
        !ready.text().await.unwrap().contains("sidecar down"),
        "reasons are logged, not shown"
    );
    let live = client
        .get(format!("{}/healthz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn stopping_lets_the_requests_in_flight_finish_and_refuses_new_ones() {
    let running = start(Duration::from_millis(300), Ok(()), "5000").await;
    let in_flight = tokio::spawn(reqwest::get(format!("{}/readyz", running.url)));
    running.entered.notified().await;
    let url = running.url.clone();
    let stopped = tokio::spawn(running.stop());
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    stopped.await.unwrap().expect("a clean stop");
    assert!(
        reqwest::get(format!("{url}/healthz")).await.is_err(),
        "still accepting after the stop"
    );
}

#[tokio::test]
async fn the_drain_is_bounded_by_the_shutdown_timeout() {
    let running = start(Duration::from_secs(60), Ok(()), "200").await;
    let in_flight = tokio::spawn(reqwest::get(format!("{}/readyz", running.url)));
    running.entered.notified().await;
    let stopping = Instant::now();
    running
        .stop()
        .await
        .expect("a timed-out drain is still a stop");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "took {:?}",
        stopping.elapsed()
    );
    assert!(
        in_flight.await.unwrap().is_err(),
        "the request still in flight is dropped"
    );
}
