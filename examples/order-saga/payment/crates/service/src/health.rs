//! Liveness and readiness probes. `/healthz` says the process answers at all (restart it if
//! not); `/readyz` says it can do its work now (send it traffic only if so), which for a Dapr
//! service mostly means that its sidecar is up with its components loaded.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use shaku::Interface;

use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// Whether the service's dependencies are ready. The app implements it over the sidecar.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ReadinessCheck: Interface {
    /// `Ok` when ready; otherwise why not (logged, not shown to callers).
    async fn check(&self) -> Result<(), String>;
}

/// `GET /healthz`: the process is alive. Never consults a dependency, so a sidecar outage does
/// not get healthy replicas restarted.
pub async fn liveness() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /readyz`: 200 when [`ReadinessCheck::check`] passes, 503 problem details otherwise.
pub async fn readiness(State(state): State<Arc<HttpState>>) -> Result<Json<Value>, ApiError> {
    match state.readiness.check().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(reason) => {
            tracing::warn!(reason, "not ready");
            Err(ApiError::new(
                ProblemKind::NotReady,
                "the service is not ready to serve requests yet",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use axum::http::StatusCode;

    use super::{MockReadinessCheck, ReadinessCheck};
    use crate::router::HttpLimits;
    use crate::test_support::{Mocks, call, empty};

    fn with_readiness(readiness: impl ReadinessCheck) -> Mocks {
        let mut mocks = Mocks::new();
        mocks.readiness = Some(Arc::new(readiness));
        mocks
    }

    #[tokio::test]
    async fn liveness_answers_without_consulting_anything() {
        let answer = call(Mocks::new().router(), empty("GET", "/healthz")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["status"], "alive");
    }

    #[tokio::test]
    async fn readiness_is_200_when_the_check_passes() {
        let mut readiness = MockReadinessCheck::new();
        readiness.expect_check().times(1).returning(|| Ok(()));
        let answer = call(with_readiness(readiness).router(), empty("GET", "/readyz")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["status"], "ready");
    }

    #[tokio::test]
    async fn readiness_is_503_problem_without_the_reason() {
        let mut readiness = MockReadinessCheck::new();
        readiness
            .expect_check()
            .returning(|| Err("sidecar at 127.0.0.1:3500 refused".into()));
        let answer = call(with_readiness(readiness).router(), empty("GET", "/readyz")).await;
        let problem = answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "not-ready");
        assert!(
            !problem.to_string().contains("127.0.0.1"),
            "leaked: {problem}"
        );
    }

    /// A check slower than any test's patience.
    struct Hanging;

    #[async_trait]
    impl ReadinessCheck for Hanging {
        async fn check(&self) -> Result<(), String> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_503_problem() {
        let mut mocks = with_readiness(Hanging);
        mocks.limits = HttpLimits {
            request_timeout: Duration::from_millis(20),
            ..HttpLimits::default()
        };
        let answer = call(mocks.router(), empty("GET", "/readyz")).await;
        answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "timeout");
    }

    #[tokio::test]
    async fn unknown_paths_are_404_problem() {
        let answer = call(Mocks::new().router(), empty("GET", "/no/such/path")).await;
        answer.assert_problem(StatusCode::NOT_FOUND, "not-found");
    }

    #[tokio::test]
    async fn unsupported_methods_are_405_problem() {
        let answer = call(Mocks::new().router(), empty("DELETE", "/healthz")).await;
        answer.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
        assert_eq!(answer.header("allow"), Some("GET,HEAD"));
    }
}
