//! The saga operations on charges: `POST /charge-payment` and `POST /refund-payment`,
//! which the order service's saga calls through Dapr service invocation with the `Idempotency-Key`
//! `<saga id>:<operation>`, and `GET /charges/{saga_id}`.
//!
//! Statuses are chosen for the saga, which retries 408/425/429/5xx and treats any other 4xx as a
//! refusal to compensate: a busy lock or a concurrent writer is 503 (retry), never 409; what the
//! account cannot give is 402 `declined`; an action arriving after its
//! compensation is 409 `already-refunded`.
//!
//! The POST routes are the saga's, not clients': they are served with the sidecar's routes (see
//! `crate::subscription`), behind its `dapr-api-token`, and are not in the public OpenAPI
//! document. The GET route is public.

use std::sync::Arc;

use api::charge::ChargeBody;
use api::charge::ChargeDto;
use api::http::Problem;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::account::AccountId;
use biz::account::ValidationError;
use biz::charge::Charge;
use biz::charge::ChargeRequest;
use biz::charge::SagaId;
use biz::charge_usecase::ChargeError;
use biz::error::RepoError;
use biz::failure_injection::RequestedFailures;

use super::IDEMPOTENT_REPLAYED;
use super::extract::JsonBody;
use super::reply::Reply;
use super::saga_operation::admit_operation;
use crate::problem::{self, ApiError, PROBLEM_JSON, ProblemKind};
use crate::router::HttpState;

/// The answer of a saga operation: the charge, or why not.
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

/// `POST /charge-payment`: takes what the saga asks from the account, once per saga.
pub async fn charge_payment(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ChargeBody>,
) -> Answer {
    let (saga_id, request) = admit(&state, &headers, "charge_payment", body)?;
    // The limit failure injection sets on new charges: `decline_over`.
    let limit: Option<u64> = state.failure_injection.decline_over();
    let limit = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let outcome = state
        .charges
        .charge_payment(saga_id, request, limit)
        .await
        .map_err(refusal)?;
    reply(&outcome.charge, outcome.replayed)
}

/// `POST /refund-payment`: gives back what the saga took, once; answers 200 also when
/// nothing had been taken.
pub async fn refund_payment(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ChargeBody>,
) -> Answer {
    let (saga_id, request) = admit(&state, &headers, "refund_payment", body)?;
    let outcome = state
        .charges
        .refund_payment(saga_id, request)
        .await
        .map_err(refusal)?;
    reply(&outcome.charge, outcome.replayed)
}

/// `GET /charges/{saga_id}`: the charge of one saga.
pub async fn get(
    State(state): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let Path(saga_id) = path
        .map_err(|rejection| problem::from_rejection(rejection.status(), rejection.body_text()))?;
    let saga_id = SagaId::parse(&saga_id)
        .map_err(|invalid| ApiError::new(ProblemKind::BadRequest, invalid.to_string()))?;
    let charge = state.charges.get(saga_id).await.map_err(refusal)?;
    reply(&charge, false)
}

/// Admits one attempt of `operation` (key required, failure injection) and reads its request.
fn admit(
    state: &HttpState,
    headers: &HeaderMap,
    operation: &str,
    body: ChargeBody,
) -> Result<(SagaId, ChargeRequest), Failure> {
    let failures = body.failures.map(RequestedFailures);
    let key = admit_operation(state, headers, operation, failures.as_ref())?;
    let invalid =
        |error: ValidationError| ApiError::new(ProblemKind::Validation, error.to_string());
    let saga_id = SagaId::parse(key.saga_id()).map_err(invalid)?;
    let account = AccountId::parse(&body.account).map_err(|_| {
        let reason = format!("{:?} is not a valid account id (a UUID)", body.account);
        invalid(ValidationError::new("account", reason))
    })?;
    let request = ChargeRequest {
        account,
        amount: body.amount,
    };
    Ok((saga_id, request))
}

/// The charge as answered, marked when an earlier attempt had already done the work.
fn reply(charge: &Charge, replayed: bool) -> Answer {
    let dto = ChargeDto {
        account: charge.account.to_string(),
        amount: charge.amount,
        state: charge.state.as_str().to_owned(),
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
fn refusal(error: ChargeError) -> Failure {
    let detail = error.to_string();
    let api_error = match &error {
        ChargeError::Short { .. } | ChargeError::OverLimit { .. } => {
            return problem(StatusCode::PAYMENT_REQUIRED, "declined", "Declined", detail);
        }
        ChargeError::AlreadyRefunded(_) => {
            return problem(
                StatusCode::CONFLICT,
                "already-refunded",
                "Already refunded",
                detail,
            );
        }
        ChargeError::Invalid(_) | ChargeError::Mismatch(..) => {
            ApiError::new(ProblemKind::Validation, detail)
        }
        ChargeError::AccountNotFound(_) | ChargeError::NotFound(_) => {
            ApiError::new(ProblemKind::NotFound, detail)
        }
        // Not `Contended` (409): the saga would take it for a refusal and compensate.
        ChargeError::Busy(_) => ApiError::new(ProblemKind::Unavailable, detail),
        ChargeError::Unavailable(RepoError::Corrupt(_)) => ApiError::server(
            ProblemKind::Internal,
            "charge storage holds corrupt data",
            &error,
        ),
        ChargeError::Unavailable(_) => ApiError::server(
            ProblemKind::Unavailable,
            "charge storage or lock failed",
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
