//! Test doubles and request helpers shared by the handler tests: the router over mocked use cases,
//! driven in-process with `tower::ServiceExt::oneshot` (no socket, no sidecar).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use biz::idempotency::MockIdempotency;
use biz::order_adjustment::MockOrderAdjustments;
use biz::order_usecase::MockOrderUsecase;
use biz::workflow::MockRestocks;
// The order_fulfilment saga (daprgen add saga).
use biz::order_fulfilment_saga::MockOrderFulfilmentSagas;
// The order-saga example: failure injection.
use biz::failure_injection::FailureInjection;
// The order-saga example: the fulfilment of an order.
use biz::fulfilment_usecase::MockFulfilments;
// daprgen:anchor test-mock-imports
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::health::{MockReadinessCheck, ReadinessCheck};
use crate::router::{HttpLimits, HttpState, router};
use crate::subscription::DEFAULT_PUBSUB_NAME;

/// The mocked dependencies of the router. A mock without expectations fails the test if called.
pub struct Mocks {
    pub orders: MockOrderUsecase,
    pub idempotency: MockIdempotency,
    pub restocks: MockRestocks,
    pub order_fulfilment_sagas: MockOrderFulfilmentSagas,
    pub failure_injection: FailureInjection,
    pub fulfilments: MockFulfilments,
    // daprgen:anchor test-mock-fields
    pub adjustments: MockOrderAdjustments,
    pub readiness: Option<Arc<dyn ReadinessCheck>>,
    pub app_api_token: Option<String>,
    pub limits: HttpLimits,
}

impl Mocks {
    pub fn new() -> Self {
        Self {
            orders: MockOrderUsecase::new(),
            idempotency: MockIdempotency::new(),
            restocks: MockRestocks::new(),
            order_fulfilment_sagas: MockOrderFulfilmentSagas::new(),
            failure_injection: FailureInjection::off(),
            fulfilments: MockFulfilments::new(),
            // daprgen:anchor test-mock-new
            adjustments: MockOrderAdjustments::new(),
            readiness: None,
            app_api_token: None,
            limits: HttpLimits::default(),
        }
    }

    pub fn router(self) -> Router {
        router(HttpState {
            orders: Arc::new(self.orders),
            idempotency: Arc::new(self.idempotency),
            restocks: Arc::new(self.restocks),
            order_fulfilment_sagas: Arc::new(self.order_fulfilment_sagas),
            failure_injection: Arc::new(self.failure_injection),
            fulfilments: Arc::new(self.fulfilments),
            // daprgen:anchor test-mock-state
            adjustments: Arc::new(self.adjustments),
            readiness: self
                .readiness
                .unwrap_or_else(|| Arc::new(MockReadinessCheck::new())),
            app_api_token: self.app_api_token,
            pubsub_name: DEFAULT_PUBSUB_NAME.to_owned(),
            limits: self.limits,
        })
    }
}

/// What the router answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is text"))
    }

    /// Asserts a problem details answer of `status` and `problem_type` (the slug); returns its body.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, slug: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(
            problem["type"],
            format!("urn:problem-type:{slug}"),
            "problem: {problem}"
        );
        assert_eq!(problem["status"], status.as_u16());
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "problem: {problem}"
        );
        problem
    }
}

/// Sends `request` to `router`.
pub async fn call(router: Router, request: Request<Body>) -> Answer {
    let response = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("the body is readable")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A request without body.
pub fn empty(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request")
}

/// A request with a JSON body.
pub fn json(method: &str, uri: &str, body: impl Into<String>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .expect("valid request")
}
