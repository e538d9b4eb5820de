//! `Idempotency-Key` on the POST routes: a retried request (same key, same method, path and body)
//! gets the first answer again instead of a second effect.
//!
//! | situation | answer |
//! |---|---|
//! | no key | the request runs normally |
//! | first use of the key | runs; a success is recorded for replay |
//! | retry after a success | the recorded answer, with `Idempotent-Replayed: true` |
//! | retry while the first is still running | 409 `request-in-flight` |
//! | same key, different request | 422 `idempotency-key-reused` |
//! | the first attempt failed | the key is released, so a retry runs again |
//!
//! Only successes are recorded: an error says nothing happened, so a retry may try again. A use
//! case that fails on storage may nonetheless have committed (the answer was lost, not the write);
//! the key is released then too, as the retry will meet the state as it is. A request cut off by
//! the request timeout can neither record nor release: its key stays in flight (409) until the
//! idempotency record expires.

use std::future::Future;

use axum::response::{IntoResponse, Response};
use biz::idempotency::{Admission, Fingerprint, Idempotency, IdempotencyError, IdempotencyKey};

use super::reply::Reply;
use crate::problem::{ApiError, ProblemKind};

/// Runs `work` at most once per `key` (or always, without a key) and answers with its outcome.
pub async fn run_once(
    idempotency: &dyn Idempotency,
    key: Option<IdempotencyKey>,
    fingerprint: &Fingerprint,
    work: impl Future<Output = Result<Reply, ApiError>>,
) -> Response {
    let Some(key) = key else {
        return work.await.into_response();
    };
    match idempotency.begin(&key, fingerprint).await {
        Ok(Admission::Proceed) => {}
        Ok(Admission::Replay(recorded)) => return Reply::replay(recorded).into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    }
    match work.await {
        Ok(reply) => {
            if let Err(error) = idempotency
                .complete(&key, fingerprint, &reply.record())
                .await
            {
                // The client still gets its answer; its retries get 409 until the key expires.
                tracing::warn!(key = key.as_str(), error = %crate::problem::error_chain(&error), "recording an idempotent response failed");
            }
            reply.into_response()
        }
        Err(problem) => {
            if let Err(error) = idempotency.release(&key).await {
                tracing::warn!(key = key.as_str(), error = %crate::problem::error_chain(&error), "releasing an idempotency key failed");
            }
            problem.into_response()
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(error: IdempotencyError) -> Self {
        match error {
            IdempotencyError::KeyReused => {
                ApiError::new(ProblemKind::IdempotencyKeyReused, error.to_string())
            }
            IdempotencyError::InFlight => ApiError::new(
                ProblemKind::RequestInFlight,
                format!("{error}; retry once it has finished"),
            ),
            IdempotencyError::Unavailable(_) => ApiError::server(
                ProblemKind::Unavailable,
                "idempotency storage failed",
                &error,
            ),
        }
    }
}
