//! The HTTP router: the public API, the routes the Dapr sidecar calls, and the
//! probes, with the limits every request is held to.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use biz::idempotency::Idempotency;
use biz::order_adjustment::OrderAdjustments;
use biz::order_usecase::OrderUsecase;
use biz::workflow::Restocks;
// The order_fulfilment saga (daprgen add saga).
use biz::order_fulfilment_saga::OrderFulfilmentSagas;
// The order-saga example: failure injection.
use biz::failure_injection::FailureInjection;
// The order-saga example: the fulfilment of an order.
use biz::fulfilment_usecase::Fulfilments;
// daprgen:anchor http-state-imports

use crate::health::{self, ReadinessCheck};
use crate::problem::{self, ApiError, ProblemKind};
use crate::subscription;

/// Largest request body accepted unless configured otherwise: 64 KiB.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 64 * 1024;
/// Longest a request may take unless configured otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Bounds on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body, in bytes; larger ones are answered 413.
    pub body_limit_bytes: usize,
    /// Longest a request may take; slower ones are answered 503.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// What the HTTP handlers work with: the use cases (built by the app's shaku module) and settings.
#[derive(Clone)]
pub struct HttpState {
    /// The order use cases.
    pub orders: Arc<dyn OrderUsecase>,
    /// The `Idempotency-Key` rules of the POST routes.
    pub idempotency: Arc<dyn Idempotency>,
    /// Restock runs.
    pub restocks: Arc<dyn Restocks>,
    /// The order_fulfilment sagas.
    pub order_fulfilment_sagas: Arc<dyn OrderFulfilmentSagas>,
    /// Failure injection (order-saga example): off unless the process was started with it.
    pub failure_injection: Arc<FailureInjection>,
    /// Confirming and cancelling orders (order-saga example).
    pub fulfilments: Arc<dyn Fulfilments>,
    // daprgen:anchor http-state-fields
    /// Handles the adjustment requests the sidecar delivers.
    pub adjustments: Arc<dyn OrderAdjustments>,
    /// Decides `/readyz`.
    pub readiness: Arc<dyn ReadinessCheck>,
    /// The token the sidecar must present on the routes it calls (`APP_API_TOKEN`); `None`
    /// leaves them open, for local development only.
    pub app_api_token: Option<String>,
    /// The Dapr pub/sub component to subscribe through ([`subscription::DEFAULT_PUBSUB_NAME`]).
    pub pubsub_name: String,
    /// Body size and time limits.
    pub limits: HttpLimits,
}

/// Every HTTP route of the service: the public API (`/orders`…, `/openapi.json`), the
/// sidecar's (`/dapr/subscribe`, `/events/…`), and the probes (`/healthz`, `/readyz`). Every
/// error, the framework's own included, is answered as problem details.
pub fn router(state: HttpState) -> Router {
    let limits = state.limits;
    let state = Arc::new(state);
    Router::new()
        .merge(crate::http::routes())
        .merge(subscription::routes(state.clone()))
        .route("/healthz", get(health::liveness))
        .route("/readyz", get(health::readiness))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            time_limit,
        ))
        .with_state(state)
}

/// Answers 503 problem details when a request outlives `timeout`. The handler is dropped at that
/// point, so a use case must leave no half-done work behind when its future is dropped (the
/// Dapr state writes are single calls, committed or not).
async fn time_limit(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ProblemKind::Timeout,
            format!(
                "the request took longer than {} ms; retry later",
                timeout.as_millis()
            ),
        )
        .into_response(),
    }
}
