//! Errors as RFC 9457 problem details (`application/problem+json`). Every error the HTTP side
//! answers goes through [`ApiError`], so clients always get the same shape, and a server-side
//! failure is logged here with its cause while the client only learns that it happened.

use std::error::Error;

use api::http::Problem;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The kinds of problem this service reports; each has a stable `type` URI clients switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The request is malformed: a bad header, path or query parameter, or JSON syntax.
    BadRequest,
    /// The JSON body is well-formed but does not have the expected fields and types.
    InvalidBody,
    /// The request breaks a business rule.
    Validation,
    /// The body's media type is not JSON.
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The Dapr-facing routes were called without the right `dapr-api-token`.
    Unauthorized,
    /// Nothing is served at this path.
    NotFound,
    /// The path exists, not with this method.
    MethodNotAllowed,
    /// The `If-Match` version is not the current one.
    StaleVersion,
    /// The request must name the version it changes (`If-Match`).
    VersionRequired,
    /// Concurrent writers or holders got in the way; trying again may succeed.
    Contended,
    /// The `Idempotency-Key` was used before with a different request.
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still being processed.
    RequestInFlight,
    /// The request took longer than the configured timeout.
    Timeout,
    /// A dependency (the sidecar, the store) failed; trying again later may succeed.
    Unavailable,
    /// The service is not ready to serve (readiness probe).
    NotReady,
    /// A bug or corrupt data on the server side.
    Internal,
}

impl ProblemKind {
    /// The HTTP status this kind is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::InvalidBody | Self::Validation | Self::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::StaleVersion => StatusCode::PRECONDITION_FAILED,
            Self::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Contended | Self::RequestInFlight => StatusCode::CONFLICT,
            Self::Timeout | Self::Unavailable | Self::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of its `type` URI.
    fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidBody => "invalid-body",
            Self::Validation => "validation",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge => "payload-too-large",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::StaleVersion => "stale-version",
            Self::VersionRequired => "version-required",
            Self::Contended => "contended",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::RequestInFlight => "request-in-flight",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::NotReady => "not-ready",
            Self::Internal => "internal",
        }
    }

    /// Its `type` URI, e.g. `urn:problem-type:stale-version`.
    pub fn type_uri(self) -> String {
        format!("urn:problem-type:{}", self.slug())
    }

    /// Its short, fixed summary.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Malformed request",
            Self::InvalidBody => "Request body does not match the schema",
            Self::Validation => "Invalid request",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Request body too large",
            Self::Unauthorized => "Missing or wrong dapr-api-token",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::StaleVersion => "Version is not current",
            Self::VersionRequired => "Version required",
            Self::Contended => "Changed concurrently",
            Self::IdempotencyKeyReused => "Idempotency-Key reused",
            Self::RequestInFlight => "Request still in progress",
            Self::Timeout => "Request timed out",
            Self::Unavailable => "Service unavailable",
            Self::NotReady => "Not ready",
            Self::Internal => "Internal error",
        }
    }
}

/// An error answered as problem details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What went wrong with this request; for 5xx, only what the client may know.
    pub detail: String,
}

impl ApiError {
    /// A problem of `kind` explained by `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// A server-side failure of kind `kind` (5xx): logs `error` with its causes, tells the client
    /// only that it happened, so no internal detail (addresses, keys, stack) leaks out.
    pub fn server(kind: ProblemKind, context: &str, error: &(dyn Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(error), "{context}");
        let detail = match kind {
            ProblemKind::Internal => "the server failed to process the request",
            _ => "a dependency of the service is unavailable; retry later",
        };
        Self::new(kind, detail)
    }

    /// The body clients receive.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: self.kind.type_uri(),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: Some(self.detail.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.kind.status(), Json(self.problem())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// `error` and its sources, outermost first, for logs.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps one of axum's own extractor rejections (path, query, body) to a problem with the same
/// status, so that even the framework's refusals reach clients as problem details.
pub fn from_rejection(status: StatusCode, detail: String) -> ApiError {
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ProblemKind::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemKind::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemKind::InvalidBody,
        status if status.is_server_error() => {
            // A route declared with parameters its extractor does not match: a bug, not bad input.
            tracing::error!(%status, detail, "extractor failed on the server side");
            return ApiError::new(
                ProblemKind::Internal,
                "the server failed to process the request",
            );
        }
        _ => ProblemKind::BadRequest,
    };
    ApiError::new(kind, detail)
}

/// Answers paths that no route serves.
pub async fn not_found() -> ApiError {
    ApiError::new(ProblemKind::NotFound, "no resource is served at this path")
}

/// Answers known paths called with a method they do not support.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ProblemKind::MethodNotAllowed,
        "this path does not support this method",
    )
}
