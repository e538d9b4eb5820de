//! What the routes of saga operations share (`POST /reserve-stock` and the like, called by the
//! order service's saga through Dapr service invocation): the `Idempotency-Key` they require, and
//! the failure injection of the order-saga example.
//!
//! The saga reads the status of each answer: 2xx is done, 408/425/429/5xx is retried, any other
//! 4xx is a refusal it compensates. So an injected failure is a 503, and a request that cannot be
//! right (no key, failures asked while injection is off) a 4xx.

use axum::http::HeaderMap;
use biz::failure_injection::{InjectedFailure, RequestedFailures};
use biz::operation_key::{OperationKey, OperationKeyError};

use super::IDEMPOTENCY_KEY;
use crate::problem::{ApiError, ProblemKind};
use crate::router::HttpState;

/// Admits one attempt of saga operation `operation` (snake case, e.g. `reserve_stock`): checks its
/// required `Idempotency-Key` (`<saga id>:<operation>`), then applies failure injection with the
/// `failures` of the request's body. Call it first in the handler, before any effect; every call
/// counts one attempt.
pub(super) fn admit_operation(
    state: &HttpState,
    headers: &HeaderMap,
    operation: &str,
    failures: Option<&RequestedFailures>,
) -> Result<OperationKey, ApiError> {
    let key = operation_key(headers, operation)?;
    state
        .failure_injection
        .admit(key.as_str(), operation, failures)?;
    Ok(key)
}

/// The `Idempotency-Key` of `operation`, required: without it a retry could take effect twice.
fn operation_key(headers: &HeaderMap, operation: &str) -> Result<OperationKey, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value,
        (None, _) => {
            return Err(ApiError::new(
                ProblemKind::BadRequest,
                format!("the Idempotency-Key header is required: <saga id>:{operation}"),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ProblemKind::BadRequest,
                "the Idempotency-Key header is repeated",
            ));
        }
    };
    let text = value.to_str().map_err(|_| {
        ApiError::new(
            ProblemKind::BadRequest,
            "the Idempotency-Key header is not visible ASCII",
        )
    })?;
    Ok(OperationKey::parse(text, operation)?)
}

impl From<OperationKeyError> for ApiError {
    fn from(error: OperationKeyError) -> Self {
        ApiError::new(ProblemKind::BadRequest, error.to_string())
    }
}

impl From<InjectedFailure> for ApiError {
    fn from(failure: InjectedFailure) -> Self {
        let kind = match failure {
            InjectedFailure::Off => ProblemKind::BadRequest,
            InjectedFailure::Invalid(_) => ProblemKind::Validation,
            InjectedFailure::Unavailable { .. } => {
                tracing::info!(%failure, "failure injected");
                ProblemKind::Unavailable
            }
        };
        // Not `ApiError::server`: the detail is the point of an injected failure, not a leak.
        ApiError::new(kind, failure.to_string())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};
    use biz::failure_injection::{FailureInjection, FailureInjectionSettings};

    use super::*;

    fn headers(keys: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for key in keys {
            headers.append(IDEMPOTENCY_KEY, HeaderValue::from_str(key).unwrap());
        }
        headers
    }

    fn failures(operation: &str, count: u32) -> RequestedFailures {
        RequestedFailures([(operation.to_owned(), count)].into_iter().collect())
    }

    #[test]
    fn the_key_is_required_once_and_must_name_the_operation() {
        let key = operation_key(&headers(&["saga-1:confirm_order"]), "confirm_order").unwrap();
        assert_eq!(key.saga_id(), "saga-1");
        for given in [
            &[][..],
            &["saga-1:confirm_order", "saga-1:confirm_order"][..],
            &["saga-1:cancel_order"][..],
            &["confirm_order"][..],
        ] {
            let refused = operation_key(&headers(given), "confirm_order").unwrap_err();
            assert_eq!(refused.kind, ProblemKind::BadRequest, "{given:?}");
        }
    }

    #[test]
    fn injected_failures_are_503_and_refusals_4xx() {
        let on = FailureInjection::on(FailureInjectionSettings::default());
        let asked = failures("confirm_order", 1);
        let failed = ApiError::from(
            on.admit("s:confirm_order", "confirm_order", Some(&asked))
                .unwrap_err(),
        );
        assert_eq!(failed.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            failed.detail.contains("injected failure 1 of 1"),
            "{failed:?}"
        );
        let off = FailureInjection::off();
        let refused = ApiError::from(
            off.admit("s:confirm_order", "confirm_order", Some(&asked))
                .unwrap_err(),
        );
        assert_eq!(refused.kind.status(), StatusCode::BAD_REQUEST);
        assert!(
            refused.detail.contains("failure injection is off"),
            "{refused:?}"
        );
        let unknown = failures("confirm", 1);
        let invalid = ApiError::from(
            on.admit("s:confirm_order", "confirm_order", Some(&unknown))
                .unwrap_err(),
        );
        assert_eq!(invalid.kind, ProblemKind::Validation);
    }
}
