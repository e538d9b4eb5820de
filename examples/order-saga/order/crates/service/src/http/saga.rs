//! What the routes of every saga share: a saga as clients see it, saga errors as problems, the
//! `{id}` of a saga's path and the `wait_ms` of its query.

use std::time::Duration;

use api::http::{SagaDto, SagaFailureDto, SagaState};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use biz::saga::{
    OperationFailure, SagaError, SagaOutcome, SagaReport, SagaStatus, StepError, check_saga_id,
};
use serde::Deserialize;

use crate::problem::{self, ApiError, ProblemKind};

impl From<SagaError> for ApiError {
    fn from(error: SagaError) -> Self {
        match &error {
            SagaError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            SagaError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            SagaError::Unavailable(_) => ApiError::server(
                ProblemKind::Unavailable,
                "the workflow engine failed",
                &error,
            ),
        }
    }
}

/// The body of saga `id`.
pub(super) fn saga_dto(id: String, status: SagaStatus) -> SagaDto {
    let dto = |status, report: SagaReport| SagaDto {
        id: id.clone(),
        status,
        done: report.done,
        compensated: report.compensated,
        failure: None,
        compensation_failures: Vec::new(),
        error: None,
    };
    match status {
        SagaStatus::Running(report) => dto(SagaState::Running, report),
        SagaStatus::Finished(SagaOutcome::Completed { report }) => {
            dto(SagaState::Completed, report)
        }
        SagaStatus::Finished(SagaOutcome::Compensated { failure, report }) => SagaDto {
            failure: Some(failure_dto(failure)),
            ..dto(SagaState::Compensated, report)
        },
        SagaStatus::Finished(SagaOutcome::CompensationFailed {
            failure,
            compensation_failures,
            report,
        }) => SagaDto {
            failure: Some(failure_dto(failure)),
            compensation_failures: compensation_failures.into_iter().map(failure_dto).collect(),
            ..dto(SagaState::CompensationFailed, report)
        },
        SagaStatus::Failed(error) => SagaDto {
            error: Some(error),
            ..dto(SagaState::Failed, SagaReport::default())
        },
    }
}

fn failure_dto(failure: OperationFailure) -> SagaFailureDto {
    let (refused, reason) = match failure.error {
        StepError::Refused(reason) => (true, reason),
        StepError::Unavailable(reason) => (false, reason),
    };
    SagaFailureDto {
        operation: failure.operation,
        refused,
        reason,
    }
}

/// The `{id}` of a saga's path. Checked here so that an odd id is refused as bad input instead of
/// reaching the workflow engine, which reports it as a failure.
pub struct SagaPathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SagaPathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                problem::from_rejection(rejection.status(), rejection.body_text())
            })?;
        check_saga_id(&text).map_err(|reason| ApiError::new(ProblemKind::BadRequest, reason))?;
        Ok(Self(text))
    }
}

/// The longest `wait_ms` a client may ask for. Below the default `http.request_timeout_ms`
/// (10 s), so that a wait ends with the saga's status rather than a timeout; a client that needs
/// longer asks again. The `maximum` of `wait_ms` in the routes' OpenAPI attributes repeats it.
pub const MAX_SAGA_WAIT_MS: u64 = 5_000;

/// The query of a saga's `GET`: how long to wait, if the saga is still running, for it to finish
/// before answering. One waiting request replaces a client's polling loop, and answers as soon as
/// the saga finishes.
#[derive(Debug, Default, Deserialize)]
pub struct SagaWait {
    /// Milliseconds, 0 to [`MAX_SAGA_WAIT_MS`]; absent or 0: answer at once.
    pub wait_ms: Option<u64>,
}

impl SagaWait {
    /// How long to wait; `None` to answer at once.
    pub fn timeout(&self) -> Option<Duration> {
        self.wait_ms.filter(|ms| *ms > 0).map(Duration::from_millis)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SagaWait {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(wait) = Query::<Self>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                problem::from_rejection(rejection.status(), rejection.body_text())
            })?;
        match wait.wait_ms {
            Some(ms) if ms > MAX_SAGA_WAIT_MS => Err(ApiError::new(
                ProblemKind::BadRequest,
                format!("wait_ms is {ms}; at most {MAX_SAGA_WAIT_MS} (ask again to wait longer)"),
            )),
            _ => Ok(wait),
        }
    }
}
