//! `/sagas/order-fulfilment`: the `order_fulfilment` sagas.
//!
//! Starting one answers 202 at once with its `Location`; the saga goes on in the workflow engine,
//! surviving restarts, and `GET` tells where it stands: the operations done, and how it ended.

use std::sync::Arc;

use api::http::{Problem, SagaDto};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::order_fulfilment_saga::OrderFulfilmentSagaInput;
use biz::saga::{SagaReport, SagaStatus};
use serde_json::{Map, Value};

use super::extract::Idempotent;
use super::idempotent::run_once;
use super::reply::Reply;
use super::saga::{SagaPathId, SagaWait, saga_dto};
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// Starts a new `order_fulfilment` saga on the body, a JSON object passed to each of its operations.
#[utoipa::path(
    post,
    path = "/sagas/order-fulfilment",
    tag = "sagas",
    operation_id = "start_order_fulfilment_saga",
    request_body(content = Object, description = "The saga's input: a JSON object, passed to each of its operations."),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second saga."),
    ),
    responses(
        (status = 202, description = "Started; poll its Location.", body = SagaDto, headers(
            ("Location" = String, description = "Path of the saga."),
        )),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a JSON object, or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Workflow engine unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn start(
    State(state): State<Arc<HttpState>>,
    request: Idempotent<Map<String, Value>>,
) -> Response {
    let Idempotent {
        key,
        fingerprint,
        body,
    } = request;
    let input: OrderFulfilmentSagaInput = match serde_json::from_value(Value::Object(body)) {
        Ok(input) => input,
        Err(error) => {
            return ApiError::new(ProblemKind::InvalidBody, error.to_string()).into_response();
        }
    };
    let work = async {
        let id = state.order_fulfilment_sagas.start(None, input).await?;
        let location =
            HeaderValue::try_from(format!("/sagas/order-fulfilment/{id}")).map_err(|error| {
                ApiError::server(ProblemKind::Internal, "the saga got an unusable id", &error)
            })?;
        let started = saga_dto(id, SagaStatus::Running(SagaReport::default()));
        Ok(Reply::json(StatusCode::ACCEPTED, &started)?.header(header::LOCATION, location))
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}

/// Reads where one `order_fulfilment` saga stands: the operations done, and how it ended.
///
/// With `wait_ms`, a running saga is waited for, up to that long, and answered as soon as it ends.
#[utoipa::path(
    get,
    path = "/sagas/order-fulfilment/{id}",
    tag = "sagas",
    operation_id = "get_order_fulfilment_saga",
    params(
        ("id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "Id of the saga, from the Location of its start."),
        ("wait_ms" = Option<u64>, Query, minimum = 0, maximum = 5000,
            description = "If the saga is still running, wait up to this many milliseconds for it to finish before answering (default 0: answer at once). Use it instead of polling."),
    ),
    responses(
        (status = 200, description = "The saga: finished, or still running after the wait.", body = SagaDto),
        (status = 400, description = "Malformed id or wait_ms.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such saga.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Workflow engine unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn status(
    State(state): State<Arc<HttpState>>,
    SagaPathId(id): SagaPathId,
    wait: SagaWait,
) -> Result<Reply, ApiError> {
    let sagas = &state.order_fulfilment_sagas;
    let status = match wait.timeout() {
        None => sagas.status(&id).await?,
        Some(timeout) => sagas.wait(&id, timeout).await?,
    };
    Reply::json(StatusCode::OK, &saga_dto(id, status))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::StatusCode;
    use biz::error::RepoError;
    use biz::saga::{OperationFailure, SagaError, SagaOutcome, SagaReport, SagaStatus, StepError};
    use serde_json::json;

    use crate::test_support::{Mocks, call, empty, json};

    #[tokio::test]
    async fn start_answers_202_with_the_location_of_the_saga() {
        let mut mocks = Mocks::new();
        mocks
            .order_fulfilment_sagas
            .expect_start()
            .withf(|saga_id, input| saga_id.is_none() && input.0.get("ref") == Some(&json!("A-1")))
            .times(1)
            .returning(|_, _| Ok("saga-1".into()));
        let answer = call(
            mocks.router(),
            json("POST", "/sagas/order-fulfilment", r#"{"ref": "A-1"}"#),
        )
        .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        assert_eq!(
            answer.header("location"),
            Some("/sagas/order-fulfilment/saga-1")
        );
        assert_eq!(
            answer.json(),
            json!({ "id": "saga-1", "status": "running", "done": [], "compensated": [] })
        );
    }

    #[tokio::test]
    async fn a_body_that_is_no_json_object_is_422_and_an_engine_failure_503() {
        for body in [r#"[1, 2]"#, r#""text""#] {
            let answer = call(
                Mocks::new().router(),
                json("POST", "/sagas/order-fulfilment", body),
            )
            .await;
            answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
        }
        let mut mocks = Mocks::new();
        mocks
            .order_fulfilment_sagas
            .expect_start()
            .returning(|_, _| {
                Err(SagaError::Unavailable(RepoError::Unavailable(
                    "scheduler down".into(),
                )))
            });
        let answer = call(
            mocks.router(),
            json("POST", "/sagas/order-fulfilment", "{}"),
        )
        .await;
        answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }

    #[tokio::test]
    async fn status_answers_where_the_saga_stands() {
        let report = SagaReport {
            done: vec!["reserve_stock".into()],
            compensated: vec!["release_stock".into()],
        };
        let failure = OperationFailure {
            operation: "confirm_order".into(),
            error: StepError::Refused("declined".into()),
        };
        let cases = [
            (
                SagaStatus::Running(SagaReport {
                    done: vec!["reserve_stock".into()],
                    compensated: vec![],
                }),
                json!({ "id": "saga-1", "status": "running", "done": ["reserve_stock"], "compensated": [] }),
            ),
            (
                SagaStatus::Finished(SagaOutcome::Compensated {
                    failure: failure.clone(),
                    report: report.clone(),
                }),
                json!({
                    "id": "saga-1", "status": "compensated", "done": ["reserve_stock"], "compensated": ["release_stock"],
                    "failure": { "operation": "confirm_order", "refused": true, "reason": "declined" },
                }),
            ),
            (
                SagaStatus::Finished(SagaOutcome::CompensationFailed {
                    failure,
                    compensation_failures: vec![OperationFailure {
                        operation: "release_stock".into(),
                        error: StepError::Unavailable("unreachable".into()),
                    }],
                    report: SagaReport {
                        done: vec!["reserve_stock".into()],
                        compensated: vec![],
                    },
                }),
                json!({
                    "id": "saga-1", "status": "compensation_failed", "done": ["reserve_stock"], "compensated": [],
                    "failure": { "operation": "confirm_order", "refused": true, "reason": "declined" },
                    "compensation_failures": [{ "operation": "release_stock", "refused": false, "reason": "unreachable" }],
                }),
            ),
            (
                SagaStatus::Failed("stopped by an operator".into()),
                json!({ "id": "saga-1", "status": "failed", "done": [], "compensated": [], "error": "stopped by an operator" }),
            ),
        ];
        for (status, expected) in cases {
            let mut mocks = Mocks::new();
            mocks
                .order_fulfilment_sagas
                .expect_status()
                .withf(|id| id == "saga-1")
                .times(1)
                .return_once(move |_| Ok(status));
            let answer = call(
                mocks.router(),
                empty("GET", "/sagas/order-fulfilment/saga-1"),
            )
            .await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.json(), expected);
        }
    }

    #[tokio::test]
    async fn an_unknown_saga_is_404_and_a_malformed_id_400() {
        let mut mocks = Mocks::new();
        mocks
            .order_fulfilment_sagas
            .expect_status()
            .returning(|id| Err(SagaError::NotFound(id.to_owned())));
        let answer = call(
            mocks.router(),
            empty("GET", "/sagas/order-fulfilment/saga-2"),
        )
        .await;
        answer.assert_problem(StatusCode::NOT_FOUND, "not-found");
        let answer = call(
            Mocks::new().router(),
            empty("GET", "/sagas/order-fulfilment/a%20b"),
        )
        .await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
    }

    #[tokio::test]
    async fn wait_ms_waits_for_the_end_of_the_saga_up_to_its_limit() {
        let mut mocks = Mocks::new();
        mocks
            .order_fulfilment_sagas
            .expect_wait()
            .withf(|id, timeout| id == "saga-1" && *timeout == Duration::from_millis(1500))
            .times(1)
            .returning(|_, _| {
                let report = SagaReport {
                    done: vec!["reserve_stock".into()],
                    compensated: vec![],
                };
                Ok(SagaStatus::Finished(SagaOutcome::Completed { report }))
            });
        // 0 is "answer at once": a plain status read.
        mocks
            .order_fulfilment_sagas
            .expect_status()
            .times(1)
            .returning(|_| Ok(SagaStatus::Running(SagaReport::default())));
        let router = mocks.router();
        let answer = call(
            router.clone(),
            empty("GET", "/sagas/order-fulfilment/saga-1?wait_ms=1500"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["status"], "completed");
        let answer = call(
            router.clone(),
            empty("GET", "/sagas/order-fulfilment/saga-1?wait_ms=0"),
        )
        .await;
        assert_eq!(answer.json()["status"], "running");
        // Over the limit, or not a number: refused before the engine is asked.
        for query in ["wait_ms=5001", "wait_ms=soon", "wait_ms=-1"] {
            let answer = call(
                router.clone(),
                empty("GET", &format!("/sagas/order-fulfilment/saga-1?{query}")),
            )
            .await;
            answer.assert_problem(StatusCode::BAD_REQUEST, "bad-request");
        }
    }
}
