//! The service's life: probes that tell the truth about the sidecar, and a clean stop.

use reqwest::StatusCode;

use crate::service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn readiness_follows_the_sidecar_and_liveness_does_not() {
    let mut service = service().await;
    let status = |path: &'static str| {
        let request = service.http().get(service.url(path));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status("/healthz").await, StatusCode::OK);
    assert_eq!(status("/readyz").await, StatusCode::OK);

    service.stop_sidecar();
    let readyz = service
        .http()
        .get(service.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        readyz.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready without a sidecar"
    );
    assert_eq!(
        readyz
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/problem+json")
    );
    let healthz = service
        .http()
        .get(service.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        healthz.status(),
        StatusCode::OK,
        "alive without a sidecar: no restart would help"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dapr_integration),
    ignore = "needs a Dapr runtime: run with DAPR_INTEGRATION=1 (tests/integration/README.md)"
)]
async fn the_service_stops_cleanly_when_asked() {
    let service = service().await;
    let healthz = service.url("/healthz");
    let http = service.http().clone();

    service
        .stop()
        .await
        .expect("run_until returns Ok after the stop signal");

    let after = http.get(&healthz).send().await;
    assert!(
        after.is_err(),
        "the HTTP server still answers after the stop: {after:?}"
    );
}
