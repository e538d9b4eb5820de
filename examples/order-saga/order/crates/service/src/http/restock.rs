//! `/restocks`: durable restock runs. Starting one answers 202 at once with the run's `Location`;
//! the run goes on in the workflow engine, surviving restarts, and `GET` tells where it stands.

use std::sync::Arc;

use api::http::{Problem, RestockBody, RestockDto, RestockState};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::order::{OrderId, ValidationError};
use biz::workflow::{RestockError, RestockLine, RestockRequest, RestockStatus};

use super::extract::{Idempotent, RestockPathId};
use super::idempotent::run_once;
use super::reply::Reply;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

impl From<RestockError> for ApiError {
    fn from(error: RestockError) -> Self {
        match &error {
            RestockError::Invalid(_) => ApiError::new(ProblemKind::Validation, error.to_string()),
            RestockError::NotFound(_) => ApiError::new(ProblemKind::NotFound, error.to_string()),
            RestockError::Unavailable(_) => ApiError::server(
                ProblemKind::Unavailable,
                "the workflow engine failed",
                &error,
            ),
        }
    }
}

/// The body of a run.
fn dto(id: String, status: RestockStatus) -> RestockDto {
    let running = RestockDto {
        id,
        status: RestockState::Running,
        lines_applied: None,
        quantity_added: None,
        error: None,
    };
    match status {
        RestockStatus::Running => running,
        RestockStatus::Completed(report) => RestockDto {
            status: RestockState::Completed,
            lines_applied: Some(report.lines_applied as u64),
            quantity_added: Some(report.quantity_added),
            ..running
        },
        RestockStatus::Failed(error) => RestockDto {
            status: RestockState::Failed,
            error: Some(error),
            ..running
        },
    }
}

/// Starts a restock run.
#[utoipa::path(
    post,
    path = "/restocks",
    tag = "restocks",
    operation_id = "start_restock",
    request_body = RestockBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
            description = "Names this request (e.g. a UUID): a retry with the same key and body gets the first answer again, not a second run."),
    ),
    responses(
        (status = 202, description = "Started; poll its Location.", body = RestockDto, headers(
            ("Location" = String, description = "Path of the run."),
        )),
        (status = 400, description = "Malformed JSON or Idempotency-Key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines, or Idempotency-Key used with another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Workflow engine unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn start(
    State(state): State<Arc<HttpState>>,
    request: Idempotent<RestockBody>,
) -> Response {
    let Idempotent {
        key,
        fingerprint,
        body,
    } = request;
    let mut lines = Vec::with_capacity(body.lines.len());
    for line in body.lines {
        let Ok(order_id) = OrderId::parse(&line.order_id) else {
            let reason = format!("{:?} is not a valid order id (a UUID)", line.order_id);
            return ApiError::new(
                ProblemKind::Validation,
                ValidationError::new("order_id", reason).to_string(),
            )
            .into_response();
        };
        lines.push(RestockLine {
            order_id,
            quantity: line.quantity,
        });
    }
    let work = async {
        let id = state.restocks.start(RestockRequest { lines }).await?;
        let location = HeaderValue::try_from(format!("/restocks/{id}")).map_err(|error| {
            ApiError::server(
                ProblemKind::Internal,
                "the workflow engine made an unusable instance id",
                &error,
            )
        })?;
        Ok(
            Reply::json(StatusCode::ACCEPTED, &dto(id, RestockStatus::Running))?
                .header(header::LOCATION, location),
        )
    };
    run_once(state.idempotency.as_ref(), key, &fingerprint, work).await
}

/// Reads where a restock run stands.
#[utoipa::path(
    get,
    path = "/restocks/{id}",
    tag = "restocks",
    operation_id = "get_restock",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "Id of the run, from the Location of its start.")),
    responses(
        (status = 200, description = "The run.", body = RestockDto),
        (status = 400, description = "Malformed id.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Workflow engine unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn status(
    State(state): State<Arc<HttpState>>,
    RestockPathId(id): RestockPathId,
) -> Result<Reply, ApiError> {
    let status = state.restocks.status(&id).await?;
    Reply::json(StatusCode::OK, &dto(id, status))
}
