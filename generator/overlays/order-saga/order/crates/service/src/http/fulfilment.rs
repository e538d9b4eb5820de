//! The order service's part in the `order_fulfilment` saga (the order-saga example):
//! `POST /confirm-order` (the saga's last step) and `POST /cancel-order` (its compensation), both
//! called by the saga through Dapr service invocation, and `GET /fulfilments/{saga_id}`, where an
//! order stands.
//!
//! The two operations answer what the saga needs to decide: 200 done (again on a retry), 409 a
//! confirm after the cancel (refused, not retried), 503 try again (storage, a lost race, an
//! injected failure). They are routed with the sidecar-facing routes (see `subscription`), so they
//! require the sidecar's `dapr-api-token` when one is configured.

use std::sync::Arc;

use api::fulfilment::{FulfilmentDto, FulfilmentStateDto};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use biz::failure_injection::RequestedFailures;
use biz::fulfilment::{Fulfilment, FulfilmentState};
use biz::fulfilment_usecase::FulfilmentError;
use serde::Deserialize;

use super::extract::JsonBody;
use super::reply::Reply;
use super::saga::SagaPathId;
use super::saga_operation::admit_operation;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// The body of an operation: the saga's input. Only `failures` matters here; the other fields
/// (sku, quantity, account, amount) are for the other services, and ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct OperationBody {
    #[serde(default)]
    failures: Option<RequestedFailures>,
}

/// `POST /confirm-order`: confirms the order of the saga named by the `Idempotency-Key`.
pub(crate) async fn confirm(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<OperationBody>,
) -> Result<Reply, ApiError> {
    let key = admit_operation(&state, &headers, "confirm_order", body.failures.as_ref())?;
    let fulfilment = state.fulfilments.confirm(key.saga_id()).await?;
    Reply::json(StatusCode::OK, &dto(fulfilment))
}

/// `POST /cancel-order`: cancels the order of the saga named by the `Idempotency-Key`, confirmed or
/// not (a cancel that arrives first leaves a record that refuses the late confirm).
pub(crate) async fn cancel(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<OperationBody>,
) -> Result<Reply, ApiError> {
    let key = admit_operation(&state, &headers, "cancel_order", body.failures.as_ref())?;
    let fulfilment = state.fulfilments.cancel(key.saga_id()).await?;
    Reply::json(StatusCode::OK, &dto(fulfilment))
}

/// `GET /fulfilments/{saga_id}`: where the order of a saga stands.
pub(super) async fn get(
    State(state): State<Arc<HttpState>>,
    SagaPathId(saga_id): SagaPathId,
) -> Result<Reply, ApiError> {
    let fulfilment = state.fulfilments.get(&saga_id).await?;
    Reply::json(StatusCode::OK, &dto(fulfilment))
}

fn dto(fulfilment: Fulfilment) -> FulfilmentDto {
    FulfilmentDto {
        saga_id: fulfilment.saga_id,
        state: match fulfilment.state {
            FulfilmentState::Confirmed => FulfilmentStateDto::Confirmed,
            FulfilmentState::Cancelled => FulfilmentStateDto::Cancelled,
        },
    }
}

impl From<FulfilmentError> for ApiError {
    fn from(error: FulfilmentError) -> Self {
        match &error {
            FulfilmentError::InvalidSagaId(_) => {
                ApiError::new(ProblemKind::BadRequest, error.to_string())
            }
            // 409: the saga must not retry it; the cancel was a concurrent change that won.
            FulfilmentError::Cancelled(_) => {
                ApiError::new(ProblemKind::Contended, error.to_string())
            }
            FulfilmentError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            // 503, not 409: a race lost is worth retrying, and the saga retries only 5xx.
            FulfilmentError::Busy(_) => ApiError::new(ProblemKind::Unavailable, error.to_string()),
            FulfilmentError::Unavailable(_) => ApiError::server(
                ProblemKind::Unavailable,
                "fulfilment storage failed",
                &error,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use biz::error::RepoError;
    use biz::failure_injection::{FailureInjection, FailureInjectionSettings};
    use biz::fulfilment::{Fulfilment, FulfilmentState};
    use biz::fulfilment_usecase::FulfilmentError;
    use serde_json::json;

    use crate::test_support::{Mocks, call, empty};

    fn fulfilment(state: FulfilmentState) -> Fulfilment {
        Fulfilment {
            saga_id: "saga-1".into(),
            state,
        }
    }

    /// A saga operation as the saga sends it: POST, JSON input, `Idempotency-Key` if given.
    fn operation(path: &str, key: Option<&str>, body: &str) -> Request<Body> {
        let mut request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request
            .body(Body::from(body.to_owned()))
            .expect("valid request")
    }

    const INPUT: &str = r#"{"sku": "s", "quantity": 2, "account": "a", "amount": 300}"#;

    #[tokio::test]
    async fn confirm_and_cancel_settle_the_saga_named_by_the_key() {
        let mut mocks = Mocks::new();
        mocks
            .fulfilments
            .expect_confirm()
            .withf(|saga_id| saga_id == "saga-1")
            .times(1)
            .returning(|_| Ok(fulfilment(FulfilmentState::Confirmed)));
        mocks
            .fulfilments
            .expect_cancel()
            .withf(|saga_id| saga_id == "saga-1")
            .times(1)
            .returning(|_| Ok(fulfilment(FulfilmentState::Cancelled)));
        let router = mocks.router();
        let confirmed = call(
            router.clone(),
            operation("/confirm-order", Some("saga-1:confirm_order"), INPUT),
        )
        .await;
        assert_eq!(confirmed.status, StatusCode::OK);
        assert_eq!(
            confirmed.json(),
            json!({"saga_id": "saga-1", "state": "confirmed"})
        );
        let cancelled = call(
            router,
            operation("/cancel-order", Some("saga-1:cancel_order"), INPUT),
        )
        .await;
        assert_eq!(cancelled.status, StatusCode::OK);
        assert_eq!(
            cancelled.json(),
            json!({"saga_id": "saga-1", "state": "cancelled"})
        );
    }

    #[tokio::test]
    async fn a_missing_or_foreign_key_is_400_before_any_effect() {
        for key in [None, Some("saga-1:cancel_order"), Some("saga-1")] {
            let answer = call(
                Mocks::new().router(),
                operation("/confirm-order", key, INPUT),
            )
            .await;
            answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        }
    }

    #[tokio::test]
    async fn use_case_errors_get_the_statuses_the_saga_acts_on() {
        let cases = [
            (
                FulfilmentError::Cancelled("saga-1".into()),
                StatusCode::CONFLICT,
                "contended",
            ),
            (
                FulfilmentError::Busy("saga-1".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                FulfilmentError::Unavailable(RepoError::Unavailable("down".into())),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
        ];
        for (error, status, slug) in cases {
            let mut mocks = Mocks::new();
            mocks
                .fulfilments
                .expect_confirm()
                .return_once(move |_| Err(error));
            let answer = call(
                mocks.router(),
                operation("/confirm-order", Some("saga-1:confirm_order"), INPUT),
            )
            .await;
            answer.assert_problem(status, slug);
        }
    }

    #[tokio::test]
    async fn failures_are_injected_only_when_injection_is_on() {
        let body = r#"{"failures": {"confirm_order": 1}}"#;
        // Off: refused, and the use case never runs.
        let answer = call(
            Mocks::new().router(),
            operation("/confirm-order", Some("saga-1:confirm_order"), body),
        )
        .await;
        let problem = answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("failure injection is off")
        );

        // On: the first attempt fails with 503, the second proceeds.
        let mut mocks = Mocks::new();
        mocks.failure_injection = FailureInjection::on(FailureInjectionSettings::default());
        mocks
            .fulfilments
            .expect_confirm()
            .times(1)
            .returning(|_| Ok(fulfilment(FulfilmentState::Confirmed)));
        let router = mocks.router();
        let first = call(
            router.clone(),
            operation("/confirm-order", Some("saga-1:confirm_order"), body),
        )
        .await;
        first.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        let second = call(
            router,
            operation("/confirm-order", Some("saga-1:confirm_order"), body),
        )
        .await;
        assert_eq!(second.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn with_an_app_token_only_the_sidecar_may_call_the_operations() {
        let mut mocks = Mocks::new();
        mocks.app_api_token = Some("sidecar-secret".into());
        let answer = call(
            mocks.router(),
            operation("/cancel-order", Some("saga-1:cancel_order"), INPUT),
        )
        .await;
        answer.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }

    #[tokio::test]
    async fn get_answers_where_the_order_stands() {
        let mut mocks = Mocks::new();
        mocks
            .fulfilments
            .expect_get()
            .withf(|saga_id| saga_id == "saga-1")
            .returning(|_| Ok(fulfilment(FulfilmentState::Cancelled)));
        mocks
            .fulfilments
            .expect_get()
            .withf(|saga_id| saga_id == "saga-2")
            .returning(|saga_id| Err(FulfilmentError::NotFound(saga_id.to_owned())));
        let router = mocks.router();
        let found = call(router.clone(), empty("GET", "/fulfilments/saga-1")).await;
        assert_eq!(found.status, StatusCode::OK);
        assert_eq!(
            found.json(),
            json!({"saga_id": "saga-1", "state": "cancelled"})
        );
        let missing = call(router.clone(), empty("GET", "/fulfilments/saga-2")).await;
        missing.assert_problem(StatusCode::NOT_FOUND, "not-found");
        let malformed = call(router, empty("GET", "/fulfilments/a%20b")).await;
        malformed.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
}
