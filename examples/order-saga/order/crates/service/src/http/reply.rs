//! Successful answers as plain data, so that an idempotent request's answer can be recorded and
//! replayed byte for byte.

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use biz::idempotency::RecordedResponse;
use biz::order::Etag;
use serde::Serialize;

use super::extract::etag_header;
use crate::problem::{ApiError, ProblemKind};

/// Header set on a replayed answer, so that clients (and their logs) can tell it was not redone.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// A successful answer: status, headers and body.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Reply {
    /// `value` as a JSON body.
    pub fn json(status: StatusCode, value: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(|error| {
            ApiError::server(
                ProblemKind::Internal,
                "cannot serialize a response body",
                &error,
            )
        })?;
        let content_type = HeaderValue::from_static("application/json");
        Ok(Self {
            status,
            headers: vec![(header::CONTENT_TYPE, content_type)],
            body: body.into(),
        })
    }

    /// Adds the `ETag` header of `etag`.
    pub fn etag(self, etag: &Etag) -> Self {
        match etag_header(etag) {
            Some(value) => self.header(header::ETAG, value),
            None => self,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The answer as the idempotency store keeps it.
    pub fn record(&self) -> RecordedResponse {
        RecordedResponse {
            status: self.status.as_u16(),
            headers: self
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.to_string(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: self.body.to_vec(),
        }
    }

    /// A recorded answer, marked as replayed.
    pub fn replay(recorded: RecordedResponse) -> Result<Self, ApiError> {
        let corrupt = || {
            let error = std::io::Error::other(format!(
                "unusable recorded response (status {})",
                recorded.status
            ));
            ApiError::server(
                ProblemKind::Internal,
                "cannot replay an idempotent response",
                &error,
            )
        };
        let status = StatusCode::from_u16(recorded.status).map_err(|_| corrupt())?;
        let mut headers = Vec::with_capacity(recorded.headers.len() + 1);
        for (name, value) in &recorded.headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|_| corrupt())?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|_| corrupt())?;
            headers.push((name, value));
        }
        headers.push((
            HeaderName::from_static(IDEMPOTENT_REPLAYED),
            HeaderValue::from_static("true"),
        ));
        Ok(Self {
            status,
            headers,
            body: recorded.body.into(),
        })
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, Body::from(self.body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}
