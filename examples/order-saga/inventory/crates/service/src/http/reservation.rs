//! The saga operations on reservations: `POST /reserve-stock` and `POST /release-stock`,
//! which the order service's saga calls through Dapr service invocation with the `Idempotency-Key`
//! `<saga id>:<operation>`, and `GET /reservations/{saga_id}`.
//!
//! Statuses are chosen for the saga, which retries 408/425/429/5xx and treats any other 4xx as a
//! refusal to compensate: a busy lock or a concurrent writer is 503 (retry), never 409; what the
//! stock cannot give is 409 `short-stock`; an action arriving after its
//! compensation is 409 `already-released`.
//!
//! The POST routes are the saga's, not clients': they are served with the sidecar's routes (see
//! `crate::subscription`), behind its `dapr-api-token`, and are not in the public OpenAPI
//! document. The GET route is public.

use std::sync::Arc;

use api::http::Problem;
use api::reservation::ReservationBody;
use api::reservation::ReservationDto;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::error::RepoError;
use biz::failure_injection::RequestedFailures;
use biz::reservation::Reservation;
use biz::reservation::ReservationRequest;
use biz::reservation::SagaId;
use biz::reservation_usecase::ReservationError;
use biz::stock::StockId;
use biz::stock::ValidationError;

use super::IDEMPOTENT_REPLAYED;
use super::extract::JsonBody;
use super::reply::Reply;
use super::saga_operation::admit_operation;
use crate::problem::{self, ApiError, PROBLEM_JSON, ProblemKind};
use crate::router::HttpState;

/// The answer of a saga operation: the reservation, or why not.
type Answer = Result<Reply, Failure>;

/// An error answer: problem details, of a [`ProblemKind`] or of the kinds only these routes have.
#[derive(Debug)]
pub struct Failure(Problem);

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self(error.problem())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// `POST /reserve-stock`: takes what the saga asks from the stock, once per saga.
pub async fn reserve_stock(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ReservationBody>,
) -> Answer {
    let (saga_id, request) = admit(&state, &headers, "reserve_stock", body)?;
    // The limit failure injection sets on new reservations: none (`decline_over` limits charges only).
    let limit: Option<u64> = None;
    let limit = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let outcome = state
        .reservations
        .reserve_stock(saga_id, request, limit)
        .await
        .map_err(refusal)?;
    reply(&outcome.reservation, outcome.replayed)
}

/// `POST /release-stock`: gives back what the saga took, once; answers 200 also when
/// nothing had been taken.
pub async fn release_stock(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ReservationBody>,
) -> Answer {
    let (saga_id, request) = admit(&state, &headers, "release_stock", body)?;
    let outcome = state
        .reservations
        .release_stock(saga_id, request)
        .await
        .map_err(refusal)?;
    reply(&outcome.reservation, outcome.replayed)
}

/// `GET /reservations/{saga_id}`: the reservation of one saga.
pub async fn get(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let Path(saga_id) = path
        .map_err(|rejection| problem::from_rejection(rejection.status(), rejection.body_text()))?;
    let saga_id = SagaId::parse(&saga_id)
        .map_err(|invalid| ApiError::new(ProblemKind::BadRequest, invalid.to_string()))?;
    let reservation = state.reservations.get(saga_id).await.map_err(refusal)?;
    reply(&reservation, false)
}

/// Admits one attempt of `operation` (key required, failure injection) and reads its request.
fn admit(
    state: &HttpState,
    headers: &HeaderMap,
    operation: &str,
    body: ReservationBody,
) -> Result<(SagaId, ReservationRequest), Failure> {
    let failures = body.failures.map(RequestedFailures);
    let key = admit_operation(state, headers, operation, failures.as_ref())?;
    let invalid =
        |error: ValidationError| ApiError::new(ProblemKind::Validation, error.to_string());
    let saga_id = SagaId::parse(key.saga_id()).map_err(invalid)?;
    let sku = StockId::parse(&body.sku).map_err(|_| {
        let reason = format!("{:?} is not a valid stock id (a UUID)", body.sku);
        invalid(ValidationError::new("sku", reason))
    })?;
    let request = ReservationRequest {
        sku,
        quantity: body.quantity,
    };
    Ok((saga_id, request))
}

/// The reservation as answered, marked when an earlier attempt had already done the work.
fn reply(reservation: &Reservation, replayed: bool) -> Answer {
    let dto = ReservationDto {
        sku: reservation.sku.to_string(),
        quantity: reservation.quantity,
        state: reservation.state.as_str().to_owned(),
    };
    let reply = Reply::json(StatusCode::OK, &dto)?;
    Ok(match replayed {
        true => reply.header(
            HeaderName::from_static(IDEMPOTENT_REPLAYED),
            HeaderValue::from_static("true"),
        ),
        false => reply,
    })
}

/// Why an operation did not take effect, as the saga reads it (see the module documentation).
fn refusal(error: ReservationError) -> Failure {
    let detail = error.to_string();
    let api_error = match &error {
        ReservationError::Short { .. } | ReservationError::OverLimit { .. } => {
            return problem(StatusCode::CONFLICT, "short-stock", "Short stock", detail);
        }
        ReservationError::AlreadyReleased(_) => {
            return problem(
                StatusCode::CONFLICT,
                "already-released",
                "Already released",
                detail,
            );
        }
        ReservationError::Invalid(_) | ReservationError::Mismatch(..) => {
            ApiError::new(ProblemKind::Validation, detail)
        }
        ReservationError::StockNotFound(_) | ReservationError::NotFound(_) => {
            ApiError::new(ProblemKind::NotFound, detail)
        }
        // Not `Contended` (409): the saga would take it for a refusal and compensate.
        ReservationError::Busy(_) => ApiError::new(ProblemKind::Unavailable, detail),
        ReservationError::Unavailable(RepoError::Corrupt(_)) => ApiError::server(
            ProblemKind::Internal,
            "reservation storage holds corrupt data",
            &error,
        ),
        ReservationError::Unavailable(_) => ApiError::server(
            ProblemKind::Unavailable,
            "reservation storage or lock failed",
            &error,
        ),
    };
    api_error.into()
}

/// Problem details of a kind [`ProblemKind`] does not have.
fn problem(status: StatusCode, slug: &str, title: &str, detail: String) -> Failure {
    Failure(Problem {
        problem_type: format!("urn:problem-type:{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
    })
}

#[cfg(test)]
mod tests;
